"""Laws of the `api` level: API machinery as every Kubernetes API server must behave.

Each law judges the newest step of a trace (see `properties.laws`). Laws
that compare a snapshot with the one before need the `clock` capability:
only then does nothing happen between two requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from properties.kinds import is_namespaced
from properties.labels import InvalidSelectorError, parse_selector
from properties.laws import law
from properties.trace import (
    Exchange,
    ObjectKey,
    TargetInfo,
    Trace,
    Violation,
    key_of,
    request_key,
    rv_of,
)
from properties.validity import obvious_defects

__all__: list[str] = []

_WRITES = ("create", "update", "patch", "delete")
_READS = ("get", "list", "watch", "snapshot")
# Prefixes of the official conformance test names (research/conformance-tests-v1.30.txt).
_GC = "[sig-api-machinery] Garbage collector "
_WATCH = "[sig-api-machinery] Watchers "
_NS = "[sig-api-machinery] Namespaces [Serial] "
#: Finalizers that cluster components own; any other finalizer is the user's to remove.
SYSTEM_FINALIZERS = frozenset(
    {
        "orphan",
        "foregroundDeletion",
        "kubernetes",
        "kubernetes.io/pv-protection",
        "kubernetes.io/pvc-protection",
        "batch.kubernetes.io/job-tracking",
        "service.kubernetes.io/load-balancer-cleanup",
    }
)


# -- helpers --------------------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _uid(obj: Mapping[str, Any] | None) -> str | None:
    return _meta(obj).get("uid") if obj else None


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list(_meta(obj).get("finalizers") or [])


def _user_finalizers(obj: Mapping[str, Any]) -> list[str]:
    return [f for f in _finalizers(obj) if f not in SYSTEM_FINALIZERS]


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without its resourceVersion, to compare versions of it."""
    meta = {k: v for k, v in _meta(obj).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _answer_object(ex: Exchange) -> Mapping[str, Any] | None:
    obj = ex.answer.get("object")
    if isinstance(obj, Mapping) and obj.get("kind") not in (None, "Scale"):
        return obj
    return None


def _observed(ex: Exchange) -> Iterator[Mapping[str, Any]]:
    """Every object an answer shows as it is now (watch events are history, not the present)."""
    if not ex.ok:
        return
    obj = _answer_object(ex)
    if obj is not None:
        yield obj
    for field in ("items", "objects"):
        yield from ex.answer.get(field) or ()


def _step_snapshot(trace: Trace) -> Exchange | None:
    for ex in reversed(trace.last_step):
        if ex.op == "snapshot" and ex.ok:
            return ex
    return None


def _settled_point(trace: Trace) -> bool:
    """The newest step settled the cluster and then took a snapshot."""
    settled = False
    for ex in trace.last_step:
        if ex.op == "settle" and ex.ok:
            settled = bool(ex.answer.get("settled"))
        elif ex.op == "snapshot" and ex.ok:
            return settled
    return False


def _violation(law_id: str, trace: Trace, message: str, *objects: Any) -> Violation:
    return Violation(law_id, message, trace.step_index, tuple(objects))


def _owner_key(dependent: Mapping[str, Any], ref: Mapping[str, Any]) -> ObjectKey | None:
    """Where an owner reference points, or None when the GC may not resolve it at all."""
    kind = str(ref.get("kind", ""))
    namespace = _meta(dependent).get("namespace", "") or ""
    if is_namespaced(kind):
        if not namespace:
            return None
        return (kind, namespace, str(ref.get("name", "")))
    return (kind, "", str(ref.get("name", "")))


def _owner_alive(
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    dependent: Mapping[str, Any],
    ref: Mapping[str, Any],
) -> bool | None:
    key = _owner_key(dependent, ref)
    if key is None:
        return None
    owner = objects.get(key)
    return owner is not None and _uid(owner) == ref.get("uid")


# -- resourceVersion ------------------------------------------------------------------------------


@law(
    "api.resource-version-increases",
    "Every write gives the object a resourceVersion above every one seen before; a write that"
    " changes nothing keeps the object's resourceVersion, and reads never go back in time.",
    conformance=(_WATCH + "should be able to start watching from a specific resource version",),
)
def resource_version_increases(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None:
        return
    high = before.max_rv
    for ex in trace.last_step:
        if not ex.ok:
            continue
        obj = _answer_object(ex)
        if ex.op in _WRITES and obj is not None:
            known = before.objects.get(key_of(obj))
            same = known is not None and _uid(known) == _uid(obj)
            if same and rv_of(obj) == rv_of(known):  # type: ignore[arg-type]
                if _content(obj) != _content(known):  # type: ignore[arg-type]
                    yield _violation(
                        "api.resource-version-increases",
                        trace,
                        f"{ex.op} changed {_name(obj)} but kept resourceVersion {rv_of(obj)}",
                        known,
                        obj,
                    )
            elif rv_of(obj) <= high:
                yield _violation(
                    "api.resource-version-increases",
                    trace,
                    f"{ex.op} of {_name(obj)} answered resourceVersion {rv_of(obj)}, not above"
                    f" {high}, the highest seen before",
                    obj,
                )
            if (
                ex.op == "update"
                and same
                and ex.request.get("object") == known
                and rv_of(obj) != rv_of(known)  # type: ignore[arg-type]
            ):
                yield _violation(
                    "api.resource-version-increases",
                    trace,
                    f"an update that sent {_name(obj)} back unchanged moved its"
                    f" resourceVersion from {rv_of(known)} to {rv_of(obj)}",  # type: ignore[arg-type]
                    known,
                    obj,
                )
        if ex.op in ("list", "snapshot", "watch"):
            listed = _int(ex.answer.get("resourceVersion"))
            if listed < high:
                yield _violation(
                    "api.resource-version-increases",
                    trace,
                    f"{ex.op} answered resourceVersion {listed}, older than {high} seen before",
                )
        for seen in _observed(ex):
            high = max(high, rv_of(seen))
        if ex.op in ("list", "snapshot", "watch"):
            high = max(high, _int(ex.answer.get("resourceVersion")))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _name(obj: Mapping[str, Any]) -> str:
    kind, namespace, name = key_of(obj)
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


# -- optimistic concurrency ----------------------------------------------------------------------


def _precondition_rv(ex: Exchange) -> int | None:
    request = ex.request
    if ex.op == "update":
        given = _meta(request.get("object") or {}).get("resourceVersion")
    elif ex.op == "patch":
        given = _meta(request.get("patch") or {}).get("resourceVersion")
    elif ex.op == "delete":
        given = (request.get("preconditions") or {}).get("resourceVersion")
    else:
        return None
    return _int(given) if given not in (None, "") else None


def _gone_since(trace: Trace, known: Mapping[str, Any], info: TargetInfo) -> bool:
    """On a cluster running in real time, `known` may have been deleted (by its namespace
    or the garbage collector) since it was last seen: a 404 is then the right answer. The
    step's own snapshot tells: the object is absent from it, or is another object."""
    if "clock" in info.capabilities or _step_snapshot(trace) is None or trace.snapshot is None:
        return False
    now = trace.snapshot.get(key_of(known))
    return now is None or _uid(now) != _uid(known)


@law(
    "api.stale-precondition-conflicts",
    "An update, patch or delete whose resourceVersion or uid precondition is stale is refused"
    " with 409 Conflict.",
)
def stale_precondition_conflicts(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None:
        return
    for ex in trace.last_step:
        if ex.op not in ("update", "patch", "delete"):
            continue
        known = before.objects.get(request_key(ex.request))
        if known is None:
            continue
        given = _precondition_rv(ex)
        stale_uid = ex.op == "delete" and (ex.request.get("preconditions") or {}).get(
            "uid"
        ) not in (None, "", _uid(known))
        stale = (given is not None and given < rv_of(known)) or stale_uid
        if stale and ex.code == 404 and _gone_since(trace, known, info):
            continue
        if stale and not (ex.code == 409 and ex.reason == "Conflict"):
            yield _violation(
                "api.stale-precondition-conflicts",
                trace,
                f"{ex.op} of {_name(known)} with a stale precondition (resourceVersion"
                f" {given}, current {rv_of(known)}) was answered"
                f" {ex.code or 'ok'} instead of 409 Conflict",
                known,
            )


@law(
    "api.refusal-changes-nothing",
    "A refused request leaves the cluster exactly as it was.",
    needs=("clock",),
)
def refusal_changes_nothing(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None or before.snapshot is None:
        return
    requests = [ex for ex in trace.last_step if ex.op not in _READS]
    if not requests or any(ex.ok or ex.op not in (*_WRITES, "scale") for ex in requests):
        return  # something was written, or time was let pass
    if _step_snapshot(trace) is None or trace.snapshot is None:
        return
    if trace.snapshot_rv != before.snapshot_rv or trace.snapshot != before.snapshot:
        changed = [
            k
            for k in set(trace.snapshot) | set(before.snapshot)
            if trace.snapshot.get(k) != before.snapshot.get(k)
        ]
        yield _violation(
            "api.refusal-changes-nothing",
            trace,
            f"{requests[0].op} was refused ({requests[0].code}) yet the cluster changed:"
            f" resourceVersion {before.snapshot_rv} -> {trace.snapshot_rv}, objects"
            f" {sorted(changed)[:5]}",
        )


@law(
    "api.create-existing-conflicts",
    "Creating an object whose name is taken is refused with 409 AlreadyExists.",
    needs=("clock",),
)
def create_existing_conflicts(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None or before.snapshot is None:
        return
    for ex in trace.last_step:
        if ex.op != "create" or not _meta(ex.request.get("object") or {}).get("name"):
            continue
        key = request_key(ex.request)
        existing = before.snapshot.get(key)
        namespace = before.snapshot.get(("Namespace", "", key[1])) if key[1] else None
        if obvious_defects(ex.request["object"]) or (
            namespace is not None and _deleting(namespace)
        ):
            continue  # validation (422) and admission (403) answer before the store does
        if existing is not None and not (ex.code == 409 and ex.reason == "AlreadyExists"):
            yield _violation(
                "api.create-existing-conflicts",
                trace,
                f"create of existing {_name(existing)} was answered {ex.code or 'ok'} instead of"
                " 409 AlreadyExists",
                existing,
            )


# -- identity -------------------------------------------------------------------------------------


@law(
    "api.deleted-stays-gone",
    "Once an object is seen deleted, a get of it answers 404 until it is created again, and its"
    " uid never comes back.",
    conformance=(
        "[sig-node] Lease lease API should be available",
        "[sig-node] Pods should run through the lifecycle of Pods and PodStatus",
    ),
)
def deleted_stays_gone(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None:
        return
    for ex in trace.last_step:
        for obj in _observed(ex):
            if _uid(obj) in before.dead:
                yield _violation(
                    "api.deleted-stays-gone",
                    trace,
                    f"{ex.op} shows {_name(obj)} with uid {_uid(obj)}, which was seen deleted",
                    obj,
                )
        if ex.op == "get" and ex.ok and "clock" in info.capabilities:
            key = request_key(ex.request)
            was_deleted = any(before.uids.get(u) == key for u in before.dead)
            if was_deleted and key not in before.objects:
                yield _violation(
                    "api.deleted-stays-gone",
                    trace,
                    f"get of {key} found an object after it was deleted and not created again",
                    ex.answer.get("object"),
                )


@law(
    "api.uid-identity",
    "A uid names one object for its whole life: it never moves to another name and an object"
    " keeps its uid across every write.",
)
def uid_identity(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None:
        return
    for ex in trace.last_step:
        for obj in _observed(ex):
            uid = _uid(obj)
            if not uid:
                continue
            home = before.uids.get(uid)
            if home is not None and home != key_of(obj):
                yield _violation(
                    "api.uid-identity",
                    trace,
                    f"uid {uid} was {home} and is now {key_of(obj)}",
                    obj,
                )
            if ex.op in ("update", "patch") and ex.ok:
                known = before.objects.get(key_of(obj))
                if known is not None and _uid(known) != uid and not _deleting(known):
                    yield _violation(
                        "api.uid-identity",
                        trace,
                        f"{ex.op} of {_name(obj)} changed its uid from {_uid(known)} to {uid}",
                        known,
                        obj,
                    )


# -- generation ------------------------------------------------------------------------------------


def _without_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata"}


def _tracked_change(
    kind: str, old: Mapping[str, Any], new: Mapping[str, Any], *, annotations: bool = True
) -> bool:
    """What metadata.generation counts, per kind (each kind's PrepareForUpdate upstream).

    A Deployment's annotations count for writes to the object itself; the
    controller also writes them through /status, whose strategy keeps them
    without touching the generation, so between two observations only the
    spec is sure to have moved it (`annotations=False`).
    """
    if kind == "EndpointSlice":
        return bool(
            _without_metadata(old) != _without_metadata(new)
            or _meta(old).get("labels") != _meta(new).get("labels")
        )
    if old.get("spec") != _unbound(kind, old, new).get("spec"):
        return True
    if kind == "Deployment" and annotations:
        return (_meta(old).get("annotations") or {}) != (_meta(new).get("annotations") or {})
    return False


def _unbound(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Mapping[str, Any]:
    """`new` without the node its binding gave it: pods/binding sets spec.nodeName of an
    unassigned pod and leaves the generation alone (a pod is bound whenever a cluster has
    nodes, so a real cluster shows it between any two observations)."""
    spec = new.get("spec")
    if kind != "Pod" or not isinstance(spec, dict) or (old.get("spec") or {}).get("nodeName"):
        return new
    return {**new, "spec": {k: v for k, v in spec.items() if k != "nodeName"}}


@law(
    "api.generation-tracks-spec",
    "metadata.generation starts at 1, never decreases, and one write raises it by exactly one"
    " when it changes the spec (or starts the deletion), and leaves it alone otherwise.",
    conformance=("[sig-apps] Deployment should run the lifecycle of a Deployment",),
)
def generation_tracks_spec(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None:
        return
    law_id = "api.generation-tracks-spec"
    for ex in trace.last_step:
        if ex.op == "create" and ex.ok:
            obj = _answer_object(ex)
            if obj is not None and "generation" in _meta(obj) and _meta(obj)["generation"] != 1:
                yield _violation(
                    law_id,
                    trace,
                    f"{_name(obj)} was created with generation {_meta(obj)['generation']}",
                    obj,
                )
        for obj in _observed(ex):
            if "generation" not in _meta(obj):
                continue
            known = before.objects.get(key_of(obj))
            if known is None or _uid(known) != _uid(obj) or rv_of(obj) <= rv_of(known):
                continue
            g0, g1 = _meta(known).get("generation", 0), _meta(obj)["generation"]
            changed = _tracked_change(obj.get("kind", ""), known, obj)
            started_deleting = _deleting(obj) and not _deleting(known)
            if g1 < g0:
                yield _violation(
                    law_id, trace, f"{_name(obj)}: generation went {g0} -> {g1}", known, obj
                )
            elif g1 == g0 and _tracked_change(obj.get("kind", ""), known, obj, annotations=False):
                yield _violation(
                    law_id,
                    trace,
                    f"{_name(obj)}: the spec changed but generation stayed {g0}",
                    known,
                    obj,
                )
            single_write = (
                ex.op in ("update", "patch")
                and ex.ok
                and before.snapshot is not None
                and before.snapshot.get(key_of(obj)) == known
                and "clock" in info.capabilities
            )
            if single_write:
                expected = g0 + (1 if changed or started_deleting else 0)
                if g1 != expected:
                    yield _violation(
                        law_id,
                        trace,
                        f"{_name(obj)}: one {ex.op} moved generation {g0} -> {g1}; the spec"
                        f" {'changed' if changed else 'did not change'}, so it should be"
                        f" {expected}",
                        known,
                        obj,
                    )


@law(
    "api.observed-generation-bounded",
    "status.observedGeneration is never ahead of metadata.generation.",
)
def observed_generation_bounded(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    for ex in trace.last_step:
        for obj in _observed(ex):
            observed = (obj.get("status") or {}).get("observedGeneration")
            generation = _meta(obj).get("generation")
            if isinstance(observed, int) and isinstance(generation, int) and observed > generation:
                yield _violation(
                    "api.observed-generation-bounded",
                    trace,
                    f"{_name(obj)}: observedGeneration {observed} > generation {generation}",
                    obj,
                )


# -- finalizers ----------------------------------------------------------------------------------


@law(
    "api.finalizers-hold",
    "An object that carries a finalizer nobody in the cluster owns is never removed until that"
    " finalizer is taken off.",
    needs=("clock",),
    conformance=(_NS + "should apply a finalizer to a Namespace",),
)
def finalizers_hold(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None or before.snapshot is None or _step_snapshot(trace) is None:
        return
    now: Mapping[ObjectKey, Mapping[str, Any]] = trace.snapshot or {}
    released: set[str | None] = set()
    for ex in trace.last_step:
        obj = _answer_object(ex)
        if ex.ok and ex.op in ("update", "patch") and obj is not None:
            released.add(_uid(obj)) if not _user_finalizers(obj) else None
    for key, obj in before.snapshot.items():
        held = _user_finalizers(obj)
        if not held or _uid(obj) in released:
            continue
        current = now.get(key)
        if current is None or _uid(current) != _uid(obj):
            yield _violation(
                "api.finalizers-hold",
                trace,
                f"{_name(obj)} carried finalizer {held[0]} and was removed without it being taken"
                " off",
                obj,
            )


@law(
    "api.no-new-finalizers-while-terminating",
    "No finalizer can be added to an object that is being deleted (422 Invalid).",
)
def no_new_finalizers_while_terminating(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None:
        return
    for ex in trace.last_step:
        obj = _answer_object(ex)
        if not (ex.ok and ex.op in ("update", "patch") and obj is not None):
            continue
        known = before.objects.get(key_of(obj))
        if known is None or _uid(known) != _uid(obj) or not _deleting(known):
            continue
        added = sorted(set(_finalizers(obj)) - set(_finalizers(known)))
        if added:
            yield _violation(
                "api.no-new-finalizers-while-terminating",
                trace,
                f"{ex.op} added finalizer {added[0]} to {_name(obj)}, which is being deleted",
                known,
                obj,
            )


# -- garbage collection ---------------------------------------------------------------------------


@law(
    "api.gc-collects-dangling",
    "Once the cluster settles, no object keeps an owner reference to an owner that is gone: it"
    " is deleted when all its owners are gone, and the dangling references are removed when"
    " some owner lives.",
    kind="liveness",
    conformance=(
        _GC + "should delete RS created by deployment when not orphaning",
        _GC + "should not be blocked by dependency circle",
    ),
    bugs=("kubernetes#65200", "kubernetes#98040"),
)
def gc_collects_dangling(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    if not _settled_point(trace) or trace.snapshot is None:
        return
    objects = trace.snapshot
    for obj in objects.values():
        if _deleting(obj):
            continue
        refs = [r for r in _meta(obj).get("ownerReferences") or () if r.get("kind") in info.kinds]
        alive = [_owner_alive(objects, obj, r) for r in refs]
        if not refs or None in alive:
            continue
        if not any(alive):
            yield _violation(
                "api.gc-collects-dangling",
                trace,
                f"{_name(obj)} outlived all its owners"
                f" ({', '.join(r.get('name', '') for r in refs)})",
                obj,
            )
        elif not all(alive):
            yield _violation(
                "api.gc-collects-dangling",
                trace,
                f"{_name(obj)} keeps a reference to a deleted owner beside a live one",
                obj,
            )


def _exchanges_since_last_settle(trace: Trace) -> list[Exchange]:
    found: list[Exchange] = []
    for ex in reversed(trace.exchanges[: trace.step_start]):
        if ex.op == "settle" and ex.ok and ex.answer.get("settled"):
            break
        found.append(ex)
    found.reverse()
    return found


@law(
    "api.gc-orphan-keeps-dependents",
    "Deleting an owner with propagationPolicy Orphan leaves its dependents in place, with the"
    " reference to that owner removed.",
    kind="liveness",
    conformance=(
        _GC
        + "should orphan RS created by deployment when deleteOptions.PropagationPolicy is Orphan",
        _GC + "should orphan pods created by rc if delete options say so",
    ),
)
def gc_orphan_keeps_dependents(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    if not _settled_point(trace) or trace.snapshot is None:
        return
    window = _exchanges_since_last_settle(trace) + list(trace.last_step)
    snapshot_before: Mapping[ObjectKey, Mapping[str, Any]] = {}
    user_deleted: set[ObjectKey] = set()
    orphaned: dict[str, Mapping[str, Any]] = {}
    owners: dict[str, tuple[str, ObjectKey]] = {}
    adoptable: set[str] = set()
    for ex in window:
        if ex.op == "snapshot" and ex.ok:
            snapshot_before = {key_of(o): o for o in ex.answer.get("objects") or ()}
            continue
        if ex.op != "delete" or not ex.ok:
            continue
        target = request_key(ex.request)
        user_deleted.add(target)
        owner = _answer_object(ex)
        if ex.request.get("propagationPolicy") not in (None, "Orphan"):
            # A later delete with another policy replaces the orphan finalizer.
            for dep_uid in [d for d, (_, k) in owners.items() if k == target]:
                orphaned.pop(dep_uid)
                owners.pop(dep_uid)
            continue
        if ex.request.get("propagationPolicy") != "Orphan" or owner is None:
            continue
        if "orphan" not in _finalizers(owner):
            continue  # the policy did not take effect (e.g. a namespace already terminating)
        uid = _uid(owner) or ""
        for dep in snapshot_before.values():
            refs = tuple(_meta(dep).get("ownerReferences") or ())
            if (
                len(refs) == 1
                and refs[0].get("uid") == uid
                and _owner_key(dep, refs[0]) == key_of(owner)
                and not _deleting(dep)
            ):
                orphaned[_uid(dep) or ""] = dep
                owners[_uid(dep) or ""] = (uid, key_of(owner))
                if refs[0].get("controller") is True and owner.get("kind") in _MANAGING_KINDS:
                    adoptable.add(_uid(dep) or "")
    if not orphaned:
        return
    now_by_uid = {_uid(o): o for o in trace.snapshot.values()}
    deleting_namespaces = {
        k[2] for k, o in trace.snapshot.items() if k[0] == "Namespace" and _deleting(o)
    }
    for uid, dep in orphaned.items():
        key = key_of(dep)
        namespace = ("Namespace", "", key[1])
        if key in user_deleted or key[1] in deleting_namespaces or namespace in user_deleted:
            continue  # removed by the user, or with its namespace
        if key[1] and namespace not in trace.snapshot:
            continue
        current = now_by_uid.get(uid)
        if current is None and uid in adoptable:
            continue  # a workload controller's orphan may be adopted by a successor, scaled away
        if current is None:
            yield _violation(
                "api.gc-orphan-keeps-dependents",
                trace,
                f"{_name(dep)} was deleted after its owner was deleted with propagation Orphan",
                dep,
            )
        elif any(
            r.get("uid") == owners[uid][0] for r in _meta(current).get("ownerReferences") or ()
        ):
            yield _violation(
                "api.gc-orphan-keeps-dependents",
                trace,
                f"{_name(dep)} still references its orphaning owner after the cluster settled",
                current,
            )


@law(
    "api.gc-foreground-waits",
    "An owner deleted with propagationPolicy Foreground stays until no dependent that blocks"
    " owner deletion, and existed when the deletion began, remains.",
    needs=("clock",),
    conformance=(
        _GC
        + "should keep the rc around until all its pods are deleted if the deleteOptions says so",
    ),
    bugs=("kubernetes#88097",),
)
def gc_foreground_waits(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None or before.snapshot is None or trace.snapshot is None:
        return
    if _step_snapshot(trace) is None:
        return
    now = trace.snapshot
    now_uids = {_uid(o) for o in now.values()}
    foreground = {
        _uid(o): o
        for o in before.snapshot.values()
        if _deleting(o) and "foregroundDeletion" in _finalizers(o)
    }
    overridden = set()
    for ex in trace.last_step:
        if ex.op == "delete" and ex.ok:
            known = before.snapshot.get(request_key(ex.request))
            if known is None:
                continue
            if ex.request.get("propagationPolicy") == "Foreground":
                foreground[_uid(known)] = known
            elif ex.request.get("propagationPolicy") is not None:
                overridden.add(_uid(known))  # a later policy replaces foregroundDeletion
    for uid, owner in foreground.items():
        if uid in now_uids or uid in overridden:
            continue
        # Only dependents that existed when the deletion began: one created later may be
        # missed by a garbage collector whose graph lags, upstream too.
        earlier = _uids_when_deletion_began(trace, uid)
        for dep in now.values():
            if _uid(dep) not in earlier:
                continue
            for ref in _meta(dep).get("ownerReferences") or ():
                if (
                    ref.get("uid") == uid
                    and ref.get("blockOwnerDeletion")
                    and _owner_key(dep, ref) == key_of(owner)
                ):
                    yield _violation(
                        "api.gc-foreground-waits",
                        trace,
                        f"{_name(owner)} was removed while {_name(dep)} still blocked its"
                        " foreground deletion",
                        owner,
                        dep,
                    )


def _uids_when_deletion_began(trace: Trace, owner_uid: str | None) -> set[str | None]:
    """The uids in the first snapshot that shows the owner in foreground deletion."""
    for _, ex in trace.snapshots():
        objects = ex.answer.get("objects") or ()
        for obj in objects:
            if (
                _uid(obj) == owner_uid
                and _deleting(obj)
                and "foregroundDeletion" in _finalizers(obj)
            ):
                return {_uid(o) for o in objects}
    return set()


#: Controllers that delete the objects they control (scale-down, rollouts, history limits).
_MANAGING_KINDS = frozenset(
    {"ReplicaSet", "Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob"}
)


@law(
    "api.gc-spares-owned",
    "The garbage collector never deletes an object while one of its owners lives.",
    needs=("clock",),
    conformance=(
        _GC + "should not delete dependents that have both valid owner and owner that's waiting"
        " for dependents to be deleted",
    ),
    bugs=("kubernetes#65200", "kubernetes#98040"),
)
def gc_spares_owned(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None or before.snapshot is None or trace.snapshot is None:
        return
    if _step_snapshot(trace) is None:
        return
    now = trace.snapshot
    now_uids = {_uid(o) for o in now.values()}
    touched = {request_key(ex.request) for ex in trace.last_step if ex.op == "delete"}
    for key, obj in before.snapshot.items():
        if _uid(obj) in now_uids or key in touched or _deleting(obj):
            continue
        namespace = now.get(("Namespace", "", key[1])) if key[1] else None
        if key[1] and (namespace is None or _deleting(namespace)):
            continue
        for ref in _meta(obj).get("ownerReferences") or ():
            if ref.get("controller") is True and ref.get("kind") in _MANAGING_KINDS:
                continue  # a workload controller deletes its own dependents when it scales
            owner_key = _owner_key(obj, ref)
            if owner_key is None:
                continue
            owner_then, owner_now = before.snapshot.get(owner_key), now.get(owner_key)
            if (
                owner_then is not None
                and owner_now is not None
                and _uid(owner_now) == ref.get("uid")
                and not _deleting(owner_now)
            ):
                yield _violation(
                    "api.gc-spares-owned",
                    trace,
                    f"{_name(obj)} was deleted while its owner {_name(owner_now)} lives",
                    obj,
                    owner_now,
                )
                break


# -- namespaces -----------------------------------------------------------------------------------


@law(
    "api.namespace-deletion-empties",
    "Deleting a namespace removes everything in it and then the namespace; nothing is created in"
    " a namespace while it terminates (403 Forbidden).",
    kind="liveness",
    conformance=(
        _NS + "should ensure that all pods are removed when a namespace is deleted",
        _NS + "should ensure that all services are removed when a namespace is deleted",
    ),
)
def namespace_deletion_empties(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is not None and before.snapshot is not None and "clock" in info.capabilities:
        for ex in trace.last_step:
            if ex.op != "create":
                continue
            namespace = request_key(ex.request)[1]
            ns = before.snapshot.get(("Namespace", "", namespace)) if namespace else None
            if obvious_defects(ex.request.get("object") or {}):
                continue  # validation answers first (422), before admission
            if ns is not None and _deleting(ns) and ex.code != 403:
                yield _violation(
                    "api.namespace-deletion-empties",
                    trace,
                    f"create in terminating namespace {namespace} was answered"
                    f" {ex.code or 'ok'} instead of 403 Forbidden",
                    ns,
                )
    if not _settled_point(trace) or trace.snapshot is None:
        return
    snapshot = trace.snapshot
    namespaces = {k[2]: o for k, o in snapshot.items() if k[0] == "Namespace"}
    blocked = {k[1] for k, o in snapshot.items() if k[1] and _user_finalizers(o)}
    blocked |= {name for name, ns in namespaces.items() if _user_finalizers(ns)}
    if any(_user_finalizers(o) for o in snapshot.values()):
        # A foreground deletion waits on dependents, which a user finalizer anywhere may hold.
        blocked |= {n for n, ns in namespaces.items() if "foregroundDeletion" in _finalizers(ns)}
    for key, obj in snapshot.items():
        if key[1] and key[1] not in namespaces:
            yield _violation(
                "api.namespace-deletion-empties",
                trace,
                f"{_name(obj)} outlived its namespace {key[1]}",
                obj,
            )
    for name, ns in namespaces.items():
        if _deleting(ns) and name not in blocked:
            yield _violation(
                "api.namespace-deletion-empties",
                trace,
                f"namespace {name} is still terminating after the cluster settled, with nothing"
                " left that holds it",
                ns,
            )


# -- watch -----------------------------------------------------------------------------------------


def _apply_events(
    objects: dict[ObjectKey, Mapping[str, Any]], events: list[Mapping[str, Any]]
) -> dict[ObjectKey, Mapping[str, Any]]:
    state = dict(objects)
    for event in events:
        obj = event.get("object") or {}
        if event.get("type") == "DELETED":
            state.pop(key_of(obj), None)
        else:
            state[key_of(obj)] = obj
    return state


@law(
    "api.watch-replays-history",
    "A watch from resourceVersion r delivers every change after r exactly once, in order, and"
    " replaying those changes on the state at r gives the state now; a watch from a compacted"
    " resourceVersion answers 410 Expired while later ones still work.",
    needs=("watch",),
    conformance=(
        _WATCH + "should be able to start watching from a specific resource version",
        _WATCH + "should be able to restart watching from the last resource version observed by the"
        " previous watch",
        _WATCH + "should observe add, update, and delete watch notifications on configmaps",
    ),
    bugs=("etcd#15271",),
)
def watch_replays_history(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    law_id = "api.watch-replays-history"
    step = trace.last_step
    for i, ex in enumerate(step):
        if ex.op != "watch":
            continue
        since = _int(ex.request.get("resourceVersion"))
        kind = ex.request.get("kind")
        compacted = max(
            (
                _int(c.request.get("resourceVersion"))
                for c in trace.exchanges
                if c.op == "compact" and c.ok
            ),
            default=0,
        )
        if not ex.ok:
            if ex.code == 410 and since >= compacted:
                yield _violation(
                    law_id,
                    trace,
                    f"watch from {since} answered 410 although history was only"
                    f" compacted up to {compacted}",
                )
            continue
        if since < compacted:
            yield _violation(
                law_id,
                trace,
                f"watch from {since} succeeded although history was compacted up to {compacted}",
            )
            continue
        events = list(ex.answer.get("events") or ())
        last = since
        for event in events:
            obj = event.get("object") or {}
            rv = rv_of(obj)
            if rv <= last:
                yield _violation(
                    law_id, trace, f"watch from {since}: event at {rv} after one at {last}", obj
                )
                return
            last = rv
            if kind is None and obj.get("kind") == "Event":
                yield _violation(law_id, trace, "watch without kind delivered an Event", obj)
            if kind is not None and obj.get("kind") != kind:
                yield _violation(
                    law_id, trace, f"watch of {kind} delivered a {obj.get('kind')}", obj
                )
        start = _snapshot_at(trace, since)
        after = next((e for e in step[i + 1 :] if e.op == "snapshot" and e.ok), None)
        if start is None or after is None:
            continue
        if _int(after.answer.get("resourceVersion")) != _int(ex.answer.get("resourceVersion")):
            continue

        replayed = _of_kind(_apply_events(_of_kind(start, kind), events), kind)
        actual = _of_kind({key_of(o): o for o in after.answer.get("objects") or ()}, kind)
        if replayed != actual:
            differ = sorted(
                k for k in set(replayed) | set(actual) if replayed.get(k) != actual.get(k)
            )
            yield _violation(
                law_id,
                trace,
                f"replaying the watch from {since} on the state at {since} does not give the"
                f" state at {ex.answer.get('resourceVersion')}: {differ[:5]} differ",
            )


def _of_kind(
    objects: Mapping[ObjectKey, Mapping[str, Any]], kind: str | None
) -> dict[ObjectKey, Mapping[str, Any]]:
    return {k: v for k, v in objects.items() if kind is None or k[0] == kind}


def _snapshot_at(trace: Trace, revision: int) -> dict[ObjectKey, Mapping[str, Any]] | None:
    for _, ex in trace.snapshots():
        if _int(ex.answer.get("resourceVersion")) == revision:
            return {key_of(o): o for o in ex.answer.get("objects") or ()}
    return None


# -- validation and lists ------------------------------------------------------------------------


@law(
    "api.invalid-refused",
    "An object that breaks a validation rule every API server enforces (names, labels, negative"
    " replicas, a selector that does not select its template, ConfigMap keys) is refused with"
    " 422 Invalid, naming the field.",
    conformance=(
        "[sig-node] ConfigMap should fail to create ConfigMap with empty key",
        "[sig-node] Secrets should fail to create secret due to empty secret key",
    ),
)
def invalid_refused(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    before = trace.before
    if before is None or before.snapshot is None:
        return
    for ex in trace.last_step:
        if ex.op != "create" or not isinstance(ex.request.get("object"), Mapping):
            continue
        namespace = request_key(ex.request)[1]
        home = before.snapshot.get(("Namespace", "", namespace)) if namespace else None
        if namespace and (home is None or _deleting(home)):
            # Upstream's NamespaceLifecycle is a mutating admission plugin, which runs
            # before validation: a terminating namespace answers 403 first.
            continue
        defects = obvious_defects(ex.request["object"])
        if not defects:
            continue
        if ex.code != 422:
            yield _violation(
                "api.invalid-refused",
                trace,
                f"create with {defects[0]} was answered {ex.code or 'ok'} instead of 422 Invalid",
                ex.request["object"],
            )
        elif not ((ex.answer.get("status") or {}).get("details") or {}).get("causes"):
            yield _violation(
                "api.invalid-refused",
                trace,
                "a 422 answer has no details.causes naming the invalid field",
                ex.answer.get("status"),
            )


@law(
    "api.list-matches-state",
    "A list returns exactly the objects of that kind, namespace and selectors, sorted by"
    " namespace and name.",
    needs=("clock",),
)
def list_matches_state(trace: Trace, info: TargetInfo) -> Iterator[Violation]:
    snap = _step_snapshot(trace)
    for ex in trace.last_step:
        if ex.op != "list" or not ex.ok:
            continue
        items = list(ex.answer.get("items") or ())
        order = [(_meta(o).get("namespace", ""), _meta(o).get("name", "")) for o in items]
        if order != sorted(order):
            yield _violation("api.list-matches-state", trace, f"list items not sorted: {order}")
        if snap is None or _int(snap.answer.get("resourceVersion")) != _int(
            ex.answer.get("resourceVersion")
        ):
            continue
        try:
            selector = parse_selector(ex.request.get("labelSelector") or "")
        except InvalidSelectorError:
            continue
        kind = ex.request.get("kind")
        namespace = ex.request.get("namespace")
        expected = [
            o
            for o in snap.answer.get("objects") or ()
            if o.get("kind") == kind
            and (not namespace or _meta(o).get("namespace") == namespace)
            and selector.matches(_meta(o).get("labels") or {})
            and _field_selected(o, ex.request.get("fieldSelector") or "")
        ]
        expected.sort(key=lambda o: (_meta(o).get("namespace", ""), _meta(o).get("name", "")))
        if [_content(o) for o in expected] != [_content(o) for o in items]:
            yield _violation(
                "api.list-matches-state",
                trace,
                f"list of {kind} returned {[key_of(o) for o in items]}, the state holds"
                f" {[key_of(o) for o in expected]}",
            )


def _field_selected(obj: Mapping[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        field, _, value = term.replace("!=", "=").replace("==", "=").partition("=")
        actual = {
            "metadata.name": _meta(obj).get("name", ""),
            "metadata.namespace": _meta(obj).get("namespace", ""),
        }.get(field.strip())
        if actual is None:
            return True
        if (actual == value.strip()) == negate:
            return False
    return True
