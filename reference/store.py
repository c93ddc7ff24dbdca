"""The etcd model: a multi-version key-value store with one global revision.

It follows etcd v3's contract, which Kubernetes builds on: every write
transaction raises the store's revision by exactly one (a failed or empty one
raises nothing); each key carries its create revision, mod revision and
version; a range can read any revision not yet compacted; the event log feeds
watches; compaction forgets history up to a revision; a snapshot restores
losslessly. Values are opaque to the store (the cluster keeps frozen objects
in it), so the same model serves the API server and the store suite.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, Literal, TypeVar

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from properties.keyranges import in_range, prefix_end

__all__ = [
    "Compacted",
    "Compare",
    "DeleteRange",
    "Event",
    "FutureRevision",
    "KeyIndex",
    "KeyValue",
    "Put",
    "Range",
    "RangeResult",
    "Store",
    "StoreError",
    "TxnResult",
    "prefix_end",
    "restore",
    "snapshot",
]


class StoreError(Exception):
    """A request the store refuses; the store is unchanged."""


class Compacted(StoreError):
    """The revision asked for is at or below the compacted revision (etcd: ErrCompacted)."""

    def __init__(self, revision: int, compact_revision: int) -> None:
        super().__init__(
            f"required revision {revision} has been compacted (compacted up to"
            f" {compact_revision}); read at a later revision or list again"
        )
        self.revision = revision
        self.compact_revision = compact_revision


class FutureRevision(StoreError):
    """The revision asked for is ahead of the store (etcd: ErrFutureRev)."""

    def __init__(self, revision: int, current: int) -> None:
        super().__init__(f"required revision {revision} is a future revision (current {current})")
        self.revision = revision
        self.current = current


@attrs.frozen
class KeyValue:
    """One version of a key. In a DELETE event only `key` and `mod_revision` are meaningful."""

    key: str
    value: Any
    create_revision: int
    mod_revision: int
    version: int
    #: `derived`'s last answer, with the function that gave it: derived, outside equality.
    _derived: tuple[Callable[[Any], Any], Any] | None = attrs.field(
        default=None, init=False, eq=False, hash=False, repr=False
    )

    def derived(self, derive: Callable[[Any], Any]) -> Any:
        """`derive(value)`, computed once and kept with this version (its value never changes).

        For readers that share what they derive (the cluster's read-only decoded objects):
        `derive` must be pure, and what it returns must not be changed by anyone.
        """
        memo = self._derived
        if memo is not None and memo[0] is derive:
            return memo[1]
        result = derive(self.value)
        object.__setattr__(self, "_derived", (derive, result))
        return result


@attrs.frozen
class Event:
    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def is_create(self) -> bool:
        return self.type == "PUT" and self.kv.create_revision == self.kv.mod_revision


@attrs.frozen
class Compare:
    """A transaction guard: `target` of `key` compared with `operand` (etcd's Compare)."""

    key: str
    target: Literal["VALUE", "VERSION", "CREATE", "MOD"]
    result: Literal["EQUAL", "NOT_EQUAL", "GREATER", "LESS"]
    operand: Any


@attrs.frozen
class Put:
    key: str
    value: Any


@attrs.frozen
class DeleteRange:
    key: str
    range_end: str | None = None


@attrs.frozen
class Range:
    key: str
    range_end: str | None = None
    revision: int = 0


Operation = Put | DeleteRange | Range


@attrs.frozen
class RangeResult:
    kvs: tuple[KeyValue, ...]
    revision: int


@attrs.frozen
class TxnResult:
    succeeded: bool
    revision: int
    responses: tuple[Any, ...]


_EMPTY_HISTORY: PVector[tuple[int, KeyValue | None]] = pvector()
_NOTHING: PMap[str, Any] = pmap()
_BY_KEY = operator.attrgetter("key")
V = TypeVar("V")


def _bucket(key: str) -> str:
    """A key's resource prefix: "/registry/pods/" of "/registry/pods/default/web" ("" if none)."""
    if key.startswith("/registry/"):
        end = key.find("/", len("/registry/"))
        if end != -1:
            return key[: end + 1]
    return ""


@attrs.frozen
class KeyIndex(Generic[V]):
    """One of a store's maps split by resource prefix ("/registry/pods/"), so that a range
    within one resource reads that resource's entries only.

    Derived: `source` is the map it was built from, by identity, and `buckets` hold its keys
    (each with a value of the caller's choosing). Every write of the store keeps the two in
    step; a store whose map was replaced by other means (`attrs.evolve`) finds its index
    stale and scans the whole map, so the index can make reads faster but never different.
    Keys outside any resource are under "".
    """

    source: PMap[str, Any]
    buckets: PMap[str, PMap[str, V]]

    @classmethod
    def of(cls, source: PMap[str, Any], value: Callable[[Any], V]) -> KeyIndex[V]:
        buckets: dict[str, dict[str, V]] = {}
        for key, v in source.items():
            buckets.setdefault(_bucket(key), {})[key] = value(v)
        return cls(source, pmap({b: pmap(entries) for b, entries in buckets.items()}))

    def follow(
        self,
        old: PMap[str, Any],
        new: PMap[str, Any],
        put: Iterable[tuple[str, V]] = (),
        removed: Iterable[str] = (),
    ) -> KeyIndex[V]:
        """The index of `new`, which is `old` with the entries `put` and the keys `removed`."""
        if self.source is not old:
            return self  # stale already; stays so (`new` is not the map it was built from)
        buckets = self.buckets
        for key, value in put:
            bucket = _bucket(key)
            buckets = buckets.set(bucket, buckets.get(bucket, _NOTHING).set(key, value))
        for key in removed:
            bucket = _bucket(key)
            left = buckets[bucket].remove(key)
            buckets = buckets.set(bucket, left) if left else buckets.remove(bucket)
        return KeyIndex(new, buckets)

    def within(
        self, source: PMap[str, Any], key: str, range_end: str
    ) -> tuple[PMap[str, Any], bool]:
        """A map holding every key of `source` in [key, range_end) (`range_end` not ""), and
        whether every key of that map is in it.

        For a range within one resource, that resource's bucket; else `source` itself.
        """
        bucket = _bucket(key)
        if self.source is source and bucket and range_end != "\0":
            end = prefix_end(bucket)
            if range_end <= end:
                return self.buckets.get(bucket, _NOTHING), key == bucket and range_end == end
        return source, False


@attrs.frozen
class Store:
    """An immutable etcd keyspace. Every method returns a new store; none mutates."""

    revision: int = 1
    compact_revision: int = 0
    current: PMap[str, KeyValue] = attrs.field(factory=pmap)
    # Per key, its versions in order; None marks a deletion (at the next entry's `revision`).
    history: PMap[str, PVector[tuple[int, KeyValue | None]]] = attrs.field(factory=pmap)
    log: PVector[Event] = attrs.field(factory=pvector)
    #: The keys of `current` and of `history` by resource, for ranges within one resource
    #: (now and at a past revision). Derived from those maps: no part of the store's equality,
    #: hash or repr, and built from them when not given.
    current_index: KeyIndex[KeyValue] = attrs.field(eq=False, repr=False)
    history_index: KeyIndex[bool] = attrs.field(eq=False, repr=False)

    @current_index.default
    def _index_current(self) -> KeyIndex[KeyValue]:
        return KeyIndex.of(self.current, lambda kv: kv)

    @history_index.default
    def _index_history(self) -> KeyIndex[bool]:
        return KeyIndex.of(self.history, lambda _: True)

    # -- reads -----------------------------------------------------------------------------
    def get(self, key: str) -> KeyValue | None:
        return self.current.get(key)

    def get_at(self, key: str, revision: int) -> KeyValue | None:
        """One key as it was at `revision` (the current version when that was compacted)."""
        if revision >= self.revision or revision < self.compact_revision:
            return self.current.get(key)
        versions = self.history.get(key)
        return _version_at(versions, revision) if versions else None

    def range(self, key: str, range_end: str | None = None, revision: int = 0) -> RangeResult:
        """Keys in [key, range_end) at `revision` (0: now), sorted by key."""
        if revision == 0 or revision == self.revision:
            if range_end is None or range_end == "":
                kv = self.current.get(key)
                return RangeResult((kv,) if kv else (), self.revision)
            entries, whole = self.current_index.within(self.current, key, range_end)
            if whole:
                kvs = sorted(entries.values(), key=_BY_KEY)
            else:
                kvs = sorted(
                    (kv for k, kv in entries.items() if in_range(k, key, range_end)), key=_BY_KEY
                )
            return RangeResult(tuple(kvs), self.revision)
        self._check_readable(revision)
        history = self.history
        if range_end is None or range_end == "":
            keys = [key] if key in history else []
        else:
            keys = _keys_in(self.history_index, history, key, range_end)
        found = []
        for k in keys:
            kv = _version_at(history[k], revision)
            if kv is not None:
                found.append(kv)
        return RangeResult(tuple(found), self.revision)

    def events_after(
        self, revision: int, key: str = "", range_end: str | None = "\0"
    ) -> tuple[Event, ...]:
        """Every event with a revision above `revision` on keys in range, in order (a watch)."""
        if revision < self.compact_revision:
            raise Compacted(revision, self.compact_revision)
        if revision > self.revision:
            raise FutureRevision(revision, self.revision)
        start = bisect.bisect_right(self.log, revision, key=lambda e: e.kv.mod_revision)
        return tuple(e for e in self.log[start:] if in_range(e.kv.key, key, range_end))

    def _check_readable(self, revision: int) -> None:
        if revision < self.compact_revision:
            raise Compacted(revision, self.compact_revision)
        if revision > self.revision:
            raise FutureRevision(revision, self.revision)

    # -- writes ----------------------------------------------------------------------------
    def put(self, key: str, value: Any) -> Store:
        store, _ = self.txn((), (Put(key, value),), ())
        return store

    def delete(self, key: str, range_end: str | None = None) -> tuple[Store, int]:
        store, result = self.txn((), (DeleteRange(key, range_end),), ())
        return store, result.responses[0]

    def txn(
        self,
        compares: Sequence[Compare],
        success: Sequence[Operation],
        failure: Sequence[Operation] = (),
    ) -> tuple[Store, TxnResult]:
        """etcd's Txn: if every compare holds run `success`, else `failure`, at one revision."""
        succeeded = all(self._holds(c) for c in compares)
        ops = success if succeeded else failure
        _check_intervals(ops)
        store = self
        next_revision = self.revision + 1
        responses: list[Any] = []
        events: list[Event] = []
        for op in ops:
            if isinstance(op, Range):
                # A read inside a write transaction sees the writes before it.
                responses.append(store.range(op.key, op.range_end, op.revision))
            elif isinstance(op, Put):
                store, event = store._apply_put(op, next_revision)
                events.append(event)
                responses.append(event.prev_kv)
            else:
                store, deleted = store._apply_delete(op, next_revision)
                events.extend(deleted)
                responses.append(len(deleted))
        if not events:
            return self, TxnResult(succeeded, self.revision, tuple(responses))
        store = attrs.evolve(store, revision=next_revision, log=store.log.extend(events))
        return store, TxnResult(succeeded, next_revision, tuple(responses))

    def _apply_put(self, op: Put, revision: int) -> tuple[Store, Event]:
        prev = self.current.get(op.key)
        kv = KeyValue(
            key=op.key,
            value=op.value,
            create_revision=prev.create_revision if prev else revision,
            mod_revision=revision,
            version=prev.version + 1 if prev else 1,
        )
        versions = self.history.get(op.key)
        current = self.current.set(op.key, kv)
        history = self.history.set(
            op.key, (_EMPTY_HISTORY if versions is None else versions).append((revision, kv))
        )
        store = attrs.evolve(
            self,
            current=current,
            history=history,
            current_index=self.current_index.follow(self.current, current, ((op.key, kv),)),
            history_index=self.history_index.follow(
                self.history, history, ((op.key, True),) if versions is None else ()
            ),
        )
        return store, Event("PUT", kv, prev)

    def _apply_delete(self, op: DeleteRange, revision: int) -> tuple[Store, list[Event]]:
        if op.range_end is None or op.range_end == "":
            keys = [op.key] if op.key in self.current else []
        else:
            keys = _keys_in(self.current_index, self.current, op.key, op.range_end)
        if not keys:
            return self, []
        current = self.current
        history = self.history
        events = []
        for k in keys:
            prev = current[k]
            current = current.remove(k)
            history = history.set(k, history[k].append((revision, None)))
            events.append(Event("DELETE", KeyValue(k, None, 0, revision, 0), prev))
        store = attrs.evolve(
            self,
            current=current,
            history=history,
            current_index=self.current_index.follow(self.current, current, removed=keys),
            history_index=self.history_index.follow(self.history, history),
        )
        return store, events

    def _holds(self, compare: Compare) -> bool:
        kv = self.current.get(compare.key)
        if compare.target == "VALUE":
            if kv is None:
                return False
            actual: Any = kv.value
        elif compare.target == "VERSION":
            actual = kv.version if kv else 0
        elif compare.target == "CREATE":
            actual = kv.create_revision if kv else 0
        else:
            actual = kv.mod_revision if kv else 0
        operand = compare.operand
        if compare.result == "EQUAL":
            return bool(actual == operand)
        if compare.result == "NOT_EQUAL":
            return bool(actual != operand)
        if compare.result == "GREATER":
            return bool(actual > operand)
        return bool(actual < operand)

    # -- maintenance -----------------------------------------------------------------------
    def image(self, encode: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
        """What `snapshot` writes (a method, so that a mutant store can lose something)."""
        return _image(self, encode)

    def compact(self, revision: int) -> Store:
        """Forget every version superseded at `revision` and every event up to it.

        Only keys written since the last compaction can have a version to forget: the
        others hold one live version, which the last compaction left. Those keys are the
        ones of the events it drops, so a compaction costs what was written since the
        last one, not the size of the store.
        """
        self._check_compactable(revision)
        cut = bisect.bisect_right(self.log, revision, key=lambda e: e.kv.mod_revision)
        evolver = self.history.evolver()
        forgotten = []
        for key in {e.kv.key for e in self.log[:cut]}:
            versions = self.history.get(key)
            if versions is None:
                continue
            kept = _compact_versions(versions, revision)
            if not kept:
                del evolver[key]
                forgotten.append(key)
            elif kept is not versions:
                evolver[key] = kept
        return self._compacted(revision, cut, evolver.persistent(), forgotten)

    def compact_by_scan(self, revision: int) -> Store:
        """`compact` by visiting every key's history: what it must equal (for tests)."""
        self._check_compactable(revision)
        cut = bisect.bisect_right(self.log, revision, key=lambda e: e.kv.mod_revision)
        history: dict[str, PVector[tuple[int, KeyValue | None]]] = {}
        forgotten = []
        for key, versions in self.history.items():
            kept = _compact_versions(versions, revision)
            if kept:
                history[key] = kept
            else:
                forgotten.append(key)
        return self._compacted(revision, cut, pmap(history), forgotten)

    def _check_compactable(self, revision: int) -> None:
        if revision <= self.compact_revision:
            raise Compacted(revision, self.compact_revision)
        if revision > self.revision:
            raise FutureRevision(revision, self.revision)

    def _compacted(
        self,
        revision: int,
        cut: int,
        history: PMap[str, PVector[tuple[int, KeyValue | None]]],
        forgotten: list[str],
    ) -> Store:
        return attrs.evolve(
            self,
            compact_revision=revision,
            history=history,
            log=self.log[cut:],
            history_index=self.history_index.follow(self.history, history, removed=forgotten),
        )


def _keys_in(index: KeyIndex[Any], source: PMap[str, Any], key: str, range_end: str) -> list[str]:
    """The keys of `source` in [key, range_end) (`range_end` not ""), sorted."""
    entries, whole = index.within(source, key, range_end)
    if whole:
        return sorted(entries)
    return sorted(k for k in entries if in_range(k, key, range_end))


def _check_intervals(ops: Sequence[Operation]) -> None:
    """etcd's checkIntervals: no key may be put twice, nor put and deleted, in one txn."""
    puts = [op.key for op in ops if isinstance(op, Put)]
    if len(set(puts)) != len(puts):
        raise StoreError("duplicate key given in txn request")
    for op in ops:
        if isinstance(op, DeleteRange) and any(in_range(k, op.key, op.range_end) for k in puts):
            raise StoreError("duplicate key given in txn request")


def _version_at(versions: PVector[tuple[int, KeyValue | None]], revision: int) -> KeyValue | None:
    if versions and versions[-1][0] <= revision:
        return versions[-1][1]  # the common case: the key has not changed since
    i = bisect.bisect_right(versions, revision, key=lambda v: v[0])
    return versions[i - 1][1] if i else None


def _compact_versions(
    versions: PVector[tuple[int, KeyValue | None]], revision: int
) -> PVector[tuple[int, KeyValue | None]]:
    i = bisect.bisect_right(versions, revision, key=lambda v: v[0])
    if i == 0:
        return versions
    kept = versions[i - 1 :]
    if kept[0][1] is None:
        kept = kept[1:]
    return kept


# -- snapshot and restore --------------------------------------------------------------------


def snapshot(store: Store, encode: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
    """A JSON-able image of the whole store, history included (etcd's `snapshot save`)."""
    return store.image(encode)


def _image(store: Store, encode: Callable[[Any], Any]) -> dict[str, Any]:

    def kv_json(kv: KeyValue) -> dict[str, Any]:
        return {
            "value": encode(kv.value),
            "create_revision": kv.create_revision,
            "mod_revision": kv.mod_revision,
            "version": kv.version,
        }

    return {
        "revision": store.revision,
        "compact_revision": store.compact_revision,
        "keys": {
            key: [[rev, kv_json(kv) if kv else None] for rev, kv in versions]
            for key, versions in sorted(store.history.items())
        },
        "log": [
            {
                "type": e.type,
                "key": e.kv.key,
                "revision": e.kv.mod_revision,
            }
            for e in store.log
        ],
    }


def restore(
    image: dict[str, Any],
    decode: Callable[[Any], Any] = lambda v: v,
    cls: type[Store] = Store,
) -> Store:
    """Rebuild the store a `snapshot` was taken of; `restore(snapshot(s)) == s`."""
    history: dict[str, PVector[tuple[int, KeyValue | None]]] = {}
    current: dict[str, KeyValue] = {}
    for key, versions in image["keys"].items():
        entries: list[tuple[int, KeyValue | None]] = []
        for rev, kv in versions:
            entries.append(
                (
                    rev,
                    KeyValue(
                        key,
                        decode(kv["value"]),
                        kv["create_revision"],
                        kv["mod_revision"],
                        kv["version"],
                    )
                    if kv
                    else None,
                )
            )
        history[key] = pvector(entries)
        if entries and entries[-1][1] is not None:
            latest = entries[-1][1]
            current[key] = latest
    log = list(_rebuild_log(image["log"], history))
    return cls(
        revision=image["revision"],
        compact_revision=image["compact_revision"],
        current=pmap(current),
        history=pmap(history),
        log=pvector(log),
    )


def _rebuild_log(
    entries: Iterable[dict[str, Any]],
    history: dict[str, PVector[tuple[int, KeyValue | None]]],
) -> Iterator[Event]:
    for entry in entries:
        versions = history[entry["key"]]
        revision = entry["revision"]
        i = next(j for j, (rev, _) in enumerate(versions) if rev == revision)
        kv = versions[i][1]
        prev = versions[i - 1][1] if i > 0 else None
        if entry["type"] == "PUT":
            assert kv is not None
            yield Event("PUT", kv, prev)
        else:
            yield Event("DELETE", KeyValue(entry["key"], None, 0, revision, 0), prev)
