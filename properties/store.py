"""Laws of the `store` level: etcd's v3 contract, as Kubernetes relies on it.

The laws judge a trace of the store ops (docs/store-protocol.md) against a
model folded from the trace itself: every successful write the run made,
at the revision the store said it took. The model covers the keys of the
example only (each example works under a prefix of its own), and assumes no
one else writes to the store while the example runs, so revisions are judged
relative to the first one the example saw.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from properties.keyranges import in_range
from properties.laws import law
from properties.trace import Exchange, TargetInfo, Trace, Violation

__all__ = ["StoreModel", "fold_store"]

KV = dict[str, Any]


@attrs.define
class StoreModel:
    """What the example's own writes say the store holds, at every revision."""

    revision: int | None = None
    compacted: int = 0
    #: Per key, its versions: (revision, KV or None for a deletion).
    versions: dict[str, list[tuple[int, KV | None]]] = attrs.field(factory=dict)
    #: Every event, in order: (revision, "PUT" | "DELETE", key, KV | None).
    events: list[tuple[int, str, str, KV | None]] = attrs.field(factory=list)

    def at(self, revision: int) -> dict[str, KV]:
        state: dict[str, KV] = {}
        for key, versions in self.versions.items():
            live = None
            for rev, kv in versions:
                if rev > revision:
                    break
                live = kv
            if live is not None:
                state[key] = live
        return state

    def now(self) -> dict[str, KV]:
        return self.at(self.revision or 0)

    def copy(self) -> StoreModel:
        return StoreModel(
            self.revision,
            self.compacted,
            {k: list(v) for k, v in self.versions.items()},
            list(self.events),
        )

    def put(self, key: str, value: Any, revision: int) -> None:
        current = self.at(revision).get(key)
        kv = {
            "key": key,
            "value": value,
            "create_revision": current["create_revision"] if current else revision,
            "mod_revision": revision,
            "version": current["version"] + 1 if current else 1,
        }
        self.versions.setdefault(key, []).append((revision, kv))
        self.events.append((revision, "PUT", key, kv))

    def delete(self, key: str, range_end: str | None, revision: int) -> int:
        doomed = sorted(k for k in self.at(revision) if in_range(k, key, range_end))
        for k in doomed:
            self.versions[k].append((revision, None))
            self.events.append((revision, "DELETE", k, None))
        return len(doomed)

    def holds(self, compare: Mapping[str, Any]) -> bool:
        kv = self.now().get(str(compare.get("key")))
        target = compare.get("target")
        if target == "VALUE":
            if kv is None:
                return False
            actual: Any = kv["value"]
        else:
            field = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision"}
            actual = kv[field[str(target)]] if kv else 0
        operand = compare.get("value")
        result = compare.get("result")
        try:
            if result == "EQUAL":
                return bool(actual == operand)
            if result == "NOT_EQUAL":
                return bool(actual != operand)
            if result == "GREATER":
                return bool(actual > operand)
            return bool(actual < operand)
        except TypeError:
            return False

    def apply_txn(self, ops: Sequence[Mapping[str, Any]], revision: int) -> list[Any]:
        """Apply a txn branch at `revision`; what each op should answer, in order."""
        expected: list[Any] = []
        for op in ops:
            ((kind, body),) = op.items()
            if kind == "put":
                self.put(body["key"], body["value"], revision)
                expected.append({"put": {}})
            elif kind == "delete":
                n = self.delete(body["key"], body.get("range_end"), revision)
                expected.append({"delete": {"deleted": n}})
            else:
                state = self.at(revision)
                kvs = [
                    state[k]
                    for k in sorted(state)
                    if in_range(k, body["key"], body.get("range_end"))
                ]
                expected.append({"range": {"kvs": kvs}})
        return expected

    def writes(self, ops: Sequence[Mapping[str, Any]]) -> bool:
        """Whether a txn branch changes anything (a put always does; a delete of nothing not)."""
        trial = self.copy()
        revision = (self.revision or 0) + 1
        trial.apply_txn(ops, revision)
        return len(trial.events) != len(self.events)


def _apply(model: StoreModel, ex: Exchange) -> None:
    if not ex.ok:
        return
    answer, request = ex.answer, ex.request
    op = ex.op
    if op == "kv.status":
        if model.revision is None:
            model.revision = int(answer["revision"])
    elif op == "kv.put":
        model.put(request["key"], request["value"], int(answer["revision"]))
        model.revision = int(answer["revision"])
    elif op == "kv.delete":
        if answer.get("deleted"):
            model.delete(request["key"], request.get("range_end"), int(answer["revision"]))
        model.revision = int(answer["revision"])
    elif op == "kv.txn":
        branch = request.get("success" if answer.get("succeeded") else "failure") or ()
        if model.writes(branch):
            model.apply_txn(branch, int(answer["revision"]))
        model.revision = int(answer["revision"])
    elif op == "kv.compact":
        model.compacted = max(model.compacted, int(request["revision"]))


def fold_store(trace: Trace) -> Iterator[tuple[Exchange, StoreModel]]:
    """Each exchange of the newest step with the model as it stood just before it."""
    model = StoreModel()
    for ex in trace.exchanges[: trace.step_start]:
        _apply(model, ex)
    for ex in trace.last_step:
        yield ex, model
        _apply(model, ex)


def _violation(law_id: str, trace: Trace, message: str, *objects: Any) -> Violation:
    return Violation(law_id, message, trace.step_index, tuple(objects))


def _expected_range(model: StoreModel, request: Mapping[str, Any]) -> list[KV]:
    revision = int(request.get("revision") or 0) or (model.revision or 0)
    state = model.at(revision)
    return [
        state[k] for k in sorted(state) if in_range(k, request["key"], request.get("range_end"))
    ]


def _range_problem(model: StoreModel, ex: Exchange) -> str | None:
    """What is wrong with a range answer, judged by the model, or None."""
    if not ex.ok or model.revision is None:
        return None
    asked = int(ex.request.get("revision") or 0)
    if asked and asked < model.compacted:
        return None  # the compaction law judges reads below the compacted revision
    expected = _expected_range(model, ex.request)
    actual = list(ex.answer.get("kvs") or ())
    if actual != expected:
        at = f"revision {asked}" if asked else "the current revision"
        return (
            f"range {ex.request['key']!r} at {at} answered {_brief(actual)}; the writes so far"
            f" say {_brief(expected)}"
        )
    return None


def _brief(kvs: Sequence[Mapping[str, Any]]) -> str:
    return (
        "["
        + ", ".join(
            f"{kv.get('key')}={kv.get('value')}@{kv.get('mod_revision')}v{kv.get('version')}"
            for kv in kvs
        )
        + "]"
    )


@law(
    "store.backup-restores-everything",
    "Restoring a backup brings back every key, every version and the revision: reads at any"
    " revision after the restore answer what they answered before it.",
    needs=("backup",),
    conformance=("etcdctl snapshot save / snapshot restore (the seed's etcd backups)",),
)
def backup_restores_everything(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    restored = False
    for ex, model in fold_store(trace):
        if ex.op == "kv.restore" and ex.ok:
            restored = True
        elif restored and ex.op == "kv.status" and ex.ok and model.revision is not None:
            if int(ex.answer["revision"]) != model.revision:
                yield _violation(
                    "store.backup-restores-everything",
                    trace,
                    f"after the restore the store is at revision {ex.answer['revision']}; it was"
                    f" at {model.revision} when the backup was taken",
                )
        elif restored and ex.op == "kv.range":
            problem = _range_problem(model, ex)
            if problem:
                yield _violation(
                    "store.backup-restores-everything", trace, "after the restore, " + problem
                )


@law(
    "store.revision-counts-writes",
    "Every write raises the store's revision by exactly one; a write that changes nothing (a"
    " failed compare without writes, a delete of nothing) raises nothing.",
    bugs=("etcd#17780",),
)
def revision_counts_writes(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    law_id = "store.revision-counts-writes"
    for ex, model in fold_store(trace):
        if not ex.ok or model.revision is None:
            continue
        if ex.op == "kv.status" and int(ex.answer["revision"]) != model.revision:
            yield _violation(
                law_id,
                trace,
                f"the store is at revision {ex.answer['revision']}, but its writes"
                f" so far end at {model.revision}",
            )
        if ex.op not in ("kv.put", "kv.delete", "kv.txn"):
            continue
        if ex.op == "kv.put":
            writes = True
        elif ex.op == "kv.delete":
            doomed = [
                k
                for k in model.now()
                if in_range(k, ex.request["key"], ex.request.get("range_end"))
            ]
            writes = bool(doomed)
            if int(ex.answer.get("deleted", 0)) != len(doomed):
                yield _violation(
                    law_id,
                    trace,
                    f"delete {ex.request['key']!r} reports"
                    f" {ex.answer.get('deleted')} deleted; {len(doomed)} keys were there",
                )
        else:
            branch = ex.request.get("success" if ex.answer.get("succeeded") else "failure") or ()
            writes = model.writes(branch)
        expected = model.revision + (1 if writes else 0)
        if int(ex.answer["revision"]) != expected:
            yield _violation(
                law_id,
                trace,
                f"{ex.op} answered revision {ex.answer['revision']}; after revision"
                f" {model.revision} a write that {'changes' if writes else 'changes nothing'}"
                f" must answer {expected}",
            )


@law(
    "store.reads-match-history",
    "A range answers exactly the keys, values, create and mod revisions and versions that the"
    " writes so far left at the revision asked for (now, or any past revision not compacted).",
)
def reads_match_history(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    for ex, model in fold_store(trace):
        if ex.op == "kv.range":
            problem = _range_problem(model, ex)
            if problem:
                yield _violation("store.reads-match-history", trace, problem)


@law(
    "store.txn-follows-compares",
    "A transaction runs its success branch exactly when all its compares hold, its failure"
    " branch otherwise, and nothing else changes.",
    bugs=("compare-and-swap under Kubernetes' optimistic concurrency",),
)
def txn_follows_compares(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    for ex, model in fold_store(trace):
        if ex.op != "kv.txn" or not ex.ok or model.revision is None:
            continue
        compares = ex.request.get("compares") or ()
        expected = all(model.holds(c) for c in compares)
        if bool(ex.answer.get("succeeded")) != expected:
            yield _violation(
                "store.txn-follows-compares",
                trace,
                f"the compares {list(compares)} {'hold' if expected else 'do not hold'}, yet the"
                f" transaction {'failed' if expected else 'succeeded'}",
            )
            continue
        trial = model.copy()
        branch = ex.request.get("success" if expected else "failure") or ()
        responses = trial.apply_txn(branch, model.revision + (1 if model.writes(branch) else 0))
        if list(ex.answer.get("responses") or ()) != responses:
            yield _violation(
                "store.txn-follows-compares",
                trace,
                f"the transaction's responses {ex.answer.get('responses')} differ from what its"
                f" branch does: {responses}",
            )


def _event_view(event: Mapping[str, Any]) -> tuple[Any, ...]:
    kv = event.get("kv") or {}
    if event.get("type") == "DELETE":
        return ("DELETE", kv.get("key"), kv.get("mod_revision"))
    return (
        "PUT",
        kv.get("key"),
        kv.get("value"),
        kv.get("create_revision"),
        kv.get("mod_revision"),
        kv.get("version"),
    )


def _expected_events(model: StoreModel, request: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    start, until = int(request["start_revision"]), int(request["until_revision"])
    found: list[tuple[Any, ...]] = []
    for rev, kind, key, kv in model.events:
        if start <= rev <= until and in_range(key, request["key"], request.get("range_end")):
            if kind == "DELETE":
                found.append(("DELETE", key, rev))
            else:
                assert kv is not None
                found.append(("PUT", key, kv["value"], kv["create_revision"], rev, kv["version"]))
    return found


@law(
    "store.watch-delivers-history",
    "A watch from revision r delivers every change on its range from r on, exactly once, in"
    " revision order, with the values written; resuming from the next revision loses nothing.",
    needs=("watch",),
    bugs=("etcd#15271", "etcd#18089", "etcd#19179"),
)
def watch_delivers_history(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    for ex, model in fold_store(trace):
        if ex.op != "kv.watch" or not ex.ok or model.revision is None:
            continue
        if int(ex.request["start_revision"]) <= model.compacted:
            # The compaction law judges watches below the compacted revision; one from exactly
            # there may miss the deletions made at it (etcd drops their tombstones).
            continue
        expected = _expected_events(model, ex.request)
        actual = [_event_view(e) for e in ex.answer.get("events") or ()]
        if actual != expected:
            yield _violation(
                "store.watch-delivers-history",
                trace,
                f"watch {ex.request['key']!r} from {ex.request['start_revision']} to"
                f" {ex.request['until_revision']} delivered {actual}; the writes were {expected}",
            )


@law(
    "store.compaction-forgets",
    "After compaction at revision c, reads and watches below c fail as compacted (410), while"
    " reads at or after c and watches after c still work; compacting at or below c again fails.",
    needs=("compact",),
)
def compaction_forgets(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    law_id = "store.compaction-forgets"
    for ex, model in fold_store(trace):
        c = model.compacted
        if ex.op == "kv.range" and ex.request.get("revision"):
            asked = int(ex.request["revision"])
            if asked < c and ex.code != 410:
                yield _violation(
                    law_id,
                    trace,
                    f"a range at {asked} answered"
                    f" {ex.code or 'ok'} after compaction at {c} (expected 410)",
                )
            elif asked >= c and ex.code == 410:
                yield _violation(
                    law_id,
                    trace,
                    f"a range at {asked} was refused as compacted;"
                    f" history was compacted only up to {c}",
                )
        elif ex.op == "kv.watch":
            start = int(ex.request["start_revision"])
            if start < c and ex.code != 410 and int(ex.request["until_revision"]) >= start:
                yield _violation(
                    law_id,
                    trace,
                    f"a watch from {start} answered"
                    f" {ex.code or 'ok'} after compaction at {c} (expected 410)",
                )
            elif start > c and ex.code == 410:
                yield _violation(
                    law_id,
                    trace,
                    f"a watch from {start} was refused as compacted;"
                    f" history was compacted only up to {c}",
                )
        elif ex.op == "kv.compact" and c and int(ex.request["revision"]) <= c and ex.ok:
            yield _violation(
                law_id,
                trace,
                f"compaction at {ex.request['revision']} succeeded"
                f" although the store was compacted at {c} already",
            )
