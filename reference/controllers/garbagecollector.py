"""The garbage collector (pkg/controller/garbagecollector), as a level-triggered reducer.

Identity is the owner's uid at the owner's coordinates: kind, name, and the
dependent's namespace for namespaced owner kinds.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
from pyrsistent import PMap, PSet, pmap, pset

from reference.api.kinds import KINDS, Kind
from reference.constants import FINALIZER_FOREGROUND, FINALIZER_ORPHAN
from reference.controllers.base import Reconcile, View, shared
from reference.objects import decode, deleting, finalizers, meta, owner_refs
from reference.store import Event

__all__ = [
    "GarbageCollector",
    "GraphState",
    "Resolution",
    "resolve_by_coordinates",
    "resolve_by_uid",
]

#: How an owner reference resolves: the live owner, "absent", or "invalid" (the
#: GC then leaves the dependent alone for good, like upstream's forgotten items).
Resolution = Any | Literal["absent", "invalid"]


def resolve_by_coordinates(
    view: View, dependent: Mapping[str, Any], ref: Mapping[str, Any], live: bool
) -> Resolution:
    """upstream's isDangling: the owner by kind and name, in the dependent's namespace."""
    coordinates = _owner_coordinates(dependent, ref)
    if coordinates is None:
        return "invalid"
    owner = view.live_get(*coordinates) if live else view.get(*coordinates)
    if owner is None or owner["metadata"]["uid"] != ref.get("uid"):
        return "absent"
    return owner


def resolve_by_uid(
    view: View, dependent: Mapping[str, Any], ref: Mapping[str, Any], live: bool
) -> Resolution:
    """Owner lookup by uid alone, wherever the object lives (the bug of kubernetes#65200)."""
    objects = (
        (decode(kv.value) for kv in view.live.current.values()) if live else view.all_objects()
    )
    for obj in objects:
        if obj["metadata"]["uid"] == ref.get("uid"):
            return obj
    return "absent"


Resolver = Callable[[View, Mapping[str, Any], Mapping[str, Any], bool], Resolution]
OrphanHandler = Callable[[Mapping[str, Any], list[Mapping[str, Any]]], list[dict[str, Any]]]


def strip_owner_references(
    owner: Mapping[str, Any], dependents: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Orphan: remove the owner's uid from each dependent's ownerReferences."""
    uid = owner["metadata"]["uid"]
    return [_set_refs(d, [r for r in owner_refs(d) if r.get("uid") != uid]) for d in dependents]


@attrs.frozen
class _Classified:
    solid: tuple[Mapping[str, Any], ...] = ()
    dangling: tuple[Mapping[str, Any], ...] = ()
    waiting: tuple[Mapping[str, Any], ...] = ()
    invalid: bool = False


#: Where every object lives in the store (as `View.all_objects` ranges).
_ALL = ("/registry/", "\0")


def _owner_coordinates(
    dependent: Mapping[str, Any], ref: Mapping[str, Any]
) -> tuple[Kind, str, str] | None:
    """Where `ref`'s owner lives: its kind, namespace (the dependent's, for namespaced kinds)
    and name; None for an unknown kind or a namespaced owner of a cluster-scoped object."""
    kind = KINDS.get(ref.get("kind", ""))
    if kind is None:
        return None
    namespace = meta(dependent).get("namespace", "")
    if kind.namespaced and not namespace:
        return None
    return kind, namespace if kind.namespaced else "", ref.get("name", "")


def _owner_key(dependent: Mapping[str, Any], ref: Mapping[str, Any]) -> str | None:
    """The store key `resolve_by_coordinates` reads for `ref` (None: it reads none)."""
    coordinates = _owner_coordinates(dependent, ref)
    if coordinates is None:
        return None
    kind, namespace, name = coordinates
    return kind.key(namespace, name)


@attrs.frozen
class _Graph:
    """What the GC's view held at `revision`, indexed: upstream's dependency graph.

    Only what a pass needs: the objects that are being deleted or have owner
    references (`tracked`), which of them are being deleted, the owner-reference
    uids (with multiplicity), the dependents of each owner key, and the
    dependents whose owners, as the view shows them, make the GC look closer
    (`triggered`). Every other dependent's pass is a no-op, and stays one until
    an event touches it or the key of one of its owners.
    """

    revision: int
    #: The store's last event at or before `revision`, to know a later store is the same
    #: history continued (its log holds this very event), so its events tell what changed.
    anchor: Event | None
    tracked: PMap[str, Any]
    deleting: PSet[str]
    by_uid: PMap[Any, PMap[str, int]]
    by_owner_key: PMap[str, PSet[str]]
    triggered: PSet[str]


@attrs.frozen
class GraphState:
    """The GC's state: the graph of its last pass, a cache outside equality.

    Every pass decides exactly what a pass over the whole view would (the graph
    only tells which dependents cannot write and need no look), so any two
    states are equal, as the stateless GC's were: a pass never makes the GC
    restless, and a restart (an empty graph) only costs a full look.
    """

    graph: _Graph | None = attrs.field(default=None, eq=False, hash=False, repr=False)


def _last_event(view: View) -> Event | None:
    log = view.store.log
    i = bisect.bisect_right(log, view.revision, key=lambda e: e.kv.mod_revision)
    return log[i - 1] if i else None


def _tracked_at(view: View, key: str) -> Any:
    """`view.get` by store key, when the GC tracks what is there (see `_tracks`); else None."""
    at = 0 if not view.lagging else view.revision
    found = view.store.range(key, None, at).kvs
    if not found or not _may_track(found[0].value):
        return None
    obj = shared(found[0])
    return obj if _tracks(obj) else None


def _tracks(obj: Mapping[str, Any]) -> bool:
    """Whether the graph holds `obj`: it has owners, or is being deleted."""
    return bool(owner_refs(obj)) or deleting(obj)


def _may_track(value: Any) -> bool:
    """False only when the stored text cannot hold ownerReferences or a deletionTimestamp.

    Stored values are `encode`d JSON, which spells every key out as is: without
    either name in the text, the object has neither field, and needs no decoding.
    """
    return (
        not isinstance(value, str) or '"ownerReferences"' in value or '"deletionTimestamp"' in value
    )


@attrs.frozen
class GarbageCollector:
    """The view triggers, a live read decides.

    The GC's view is its dependency graph, fed by events that may lag: it
    acts on an object only when its view says an owner is gone or waiting
    for its dependents, as upstream's workers act on graph events. Before it
    writes anything it reads the objects involved live, as upstream's
    `isDangling` and `removeFinalizer` do, and decides on what it read.
    """

    name: str = "garbagecollector"
    resolve_owner: Resolver = resolve_by_coordinates
    orphan: OrphanHandler = strip_owner_references
    #: Foreground deletion waits for dependents with blockOwnerDeletion (False: it does not).
    wait_for_blocking_dependents: bool = True
    #: A dependent with a live owner is kept (False: any absent owner gets it deleted).
    spare_items_with_live_owners: bool = True

    def initial_state(self) -> GraphState:
        return GraphState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        if self.resolve_owner is not resolve_by_coordinates:
            return self._reconcile_by_scan(view)
        previous = state.graph if isinstance(state, GraphState) else None
        graph = self._advance(view, previous)
        writes: list[dict[str, Any]] = []
        for key in sorted(graph.deleting):
            owner = graph.tracked[key]
            uid = owner["metadata"]["uid"]
            writes.extend(self._finish_owner(view, owner, {uid: _dependents_of(graph, uid)}))
        for key in sorted(graph.triggered):
            writes.extend(
                self._attempt_to_delete(view, graph.tracked[key], lambda u: u in graph.by_uid)
            )
        return Reconcile(tuple(writes), GraphState(graph))

    # -- the graph -------------------------------------------------------------------------
    def _advance(self, view: View, graph: _Graph | None) -> _Graph:
        """The graph at the view's revision: `graph` moved on by the events since, or rebuilt."""
        store = view.store
        if (
            graph is None
            or graph.anchor is None
            or graph.revision > view.revision
            or graph.revision < store.compact_revision
        ):
            return self._rebuild(view)
        i = bisect.bisect_right(store.log, graph.revision, key=lambda e: e.kv.mod_revision)
        if not i or store.log[i - 1] is not graph.anchor:
            return self._rebuild(view)
        changed = {
            e.kv.key
            for e in store.events_after(graph.revision, *_ALL)
            if e.revision <= view.revision
        }
        if not changed:
            return attrs.evolve(graph, revision=view.revision, anchor=_last_event(view))
        tracked = graph.tracked.evolver()
        deleting_keys = graph.deleting
        by_uid = graph.by_uid.evolver()
        by_owner_key = graph.by_owner_key.evolver()
        for key in changed:
            old = graph.tracked.get(key)
            if old is not None:
                _unindex(key, old, by_uid, by_owner_key)
                del tracked[key]
                deleting_keys = deleting_keys.discard(key)
            new = _tracked_at(view, key)
            if new is not None:
                tracked[key] = new
                _index(key, new, by_uid, by_owner_key)
                if deleting(new):
                    deleting_keys = deleting_keys.add(key)
        now_tracked = tracked.persistent()
        now_by_owner_key = by_owner_key.persistent()
        look = set(changed)
        for key in changed:
            look.update(now_by_owner_key.get(key, ()))
        triggered = graph.triggered
        for key in look:
            if self._triggers(view, now_tracked.get(key)):
                triggered = triggered.add(key)
            else:
                triggered = triggered.discard(key)
        return _Graph(
            view.revision,
            _last_event(view),
            now_tracked,
            deleting_keys,
            by_uid.persistent(),
            now_by_owner_key,
            triggered,
        )

    def _rebuild(self, view: View) -> _Graph:
        tracked: dict[str, Any] = {}
        deleting_keys: set[str] = set()
        by_uid = _NO_UIDS.evolver()
        by_owner_key = _NO_OWNER_KEYS.evolver()
        at = 0 if not view.lagging else view.revision
        for kv in view.store.range(*_ALL, at).kvs:
            if not _may_track(kv.value):
                continue
            obj = shared(kv)
            if _tracks(obj):
                tracked[kv.key] = obj
                _index(kv.key, obj, by_uid, by_owner_key)
                if deleting(obj):
                    deleting_keys.add(kv.key)
        triggered = pset(k for k, obj in tracked.items() if self._triggers(view, obj))
        return _Graph(
            view.revision,
            _last_event(view),
            pmap(tracked),
            pset(deleting_keys),
            by_uid.persistent(),
            by_owner_key.persistent(),
            triggered,
        )

    def _triggers(self, view: View, obj: Mapping[str, Any] | None) -> bool:
        """Whether a pass over the whole view would look closer at `obj` (`_attempt_to_delete`)."""
        if obj is None or not owner_refs(obj) or deleting(obj):
            return False
        trigger = self._classify(view, obj, live=False)
        return not trigger.invalid and bool(trigger.dangling or trigger.waiting)

    # -- the stateless pass ----------------------------------------------------------------
    def _reconcile_by_scan(self, view: View) -> Reconcile:
        """The pass over the whole view, for any other way of resolving owners."""
        objects = list(view.all_objects())
        graph: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for obj in objects:
            for ref in owner_refs(obj):
                graph[ref.get("uid", "")].append(obj)
        writes: list[dict[str, Any]] = []
        for owner in objects:
            if deleting(owner):
                writes.extend(self._finish_owner(view, owner, graph))

        def has_dependents(uid: Any) -> bool:
            return any(ref.get("uid") == uid for other in objects for ref in owner_refs(other))

        for dependent in objects:
            if owner_refs(dependent) and not deleting(dependent):
                writes.extend(self._attempt_to_delete(view, dependent, has_dependents))
        return Reconcile(tuple(writes), GraphState())

    def _live(self, view: View, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The object as it is now, if it is still the same object (same uid)."""
        m = meta(obj)
        current = view.live_get(obj["kind"], m.get("namespace", ""), m["name"])
        if current is None or current["metadata"]["uid"] != m["uid"]:
            return None
        return current  # type: ignore[no-any-return]

    def _finish_owner(
        self, view: View, owner: Mapping[str, Any], graph: Mapping[str, list[Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        live_owner = self._live(view, owner)
        if live_owner is None:
            return []
        uid = owner["metadata"]["uid"]
        dependents: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        for seen in graph.get(uid, []):
            dependent = self._live(view, seen)
            if dependent is None:
                continue
            for ref in owner_refs(dependent):
                if ref.get("uid") != uid:
                    continue
                resolved = self.resolve_owner(view, dependent, ref, True)
                if not isinstance(resolved, str) and resolved["metadata"]["uid"] == uid:
                    dependents.append((dependent, ref))
        # Act on what the view saw (upstream's graph flags), decide on what is there now.
        fins = [f for f in finalizers(live_owner) if f in finalizers(owner)]
        if FINALIZER_ORPHAN in fins:
            if dependents:
                return self.orphan(live_owner, [d for d, _ in dependents])
            return [_remove_finalizer(live_owner, FINALIZER_ORPHAN)]
        if FINALIZER_FOREGROUND in fins:
            blocking = [d for d, ref in dependents if ref.get("blockOwnerDeletion")]
            if not blocking or not self.wait_for_blocking_dependents:
                return [_remove_finalizer(live_owner, FINALIZER_FOREGROUND)]
        return []

    def _classify(self, view: View, item: Mapping[str, Any], live: bool) -> _Classified:
        solid, dangling, waiting = [], [], []
        for ref in owner_refs(item):
            resolved = self.resolve_owner(view, item, ref, live)
            if resolved == "invalid":
                return _Classified(invalid=True)
            if resolved == "absent":
                dangling.append(ref)
            elif deleting(resolved) and FINALIZER_FOREGROUND in finalizers(resolved):
                waiting.append(ref)
            else:
                solid.append(ref)
        return _Classified(tuple(solid), tuple(dangling), tuple(waiting))

    def _attempt_to_delete(
        self, view: View, seen: Mapping[str, Any], has_dependents: Callable[[Any], bool]
    ) -> list[dict[str, Any]]:
        trigger = self._classify(view, seen, live=False)
        if trigger.invalid or not (trigger.dangling or trigger.waiting):
            return []
        item = self._live(view, seen)
        if item is None or deleting(item):
            return []
        found = self._classify(view, item, live=True)
        if found.invalid:
            return []
        if found.solid and (self.spare_items_with_live_owners or not found.dangling):
            if not found.dangling and not found.waiting:
                return []
            gone = {r.get("uid") for r in found.dangling + found.waiting}
            return [_set_refs(item, [r for r in owner_refs(item) if r.get("uid") not in gone])]
        if found.waiting and has_dependents(item["metadata"]["uid"]):
            policy = "Foreground"
        elif FINALIZER_ORPHAN in finalizers(item):
            policy = "Orphan"
        elif FINALIZER_FOREGROUND in finalizers(item):
            policy = "Foreground"
        else:
            policy = "Background"
        return [_delete(item, policy)]


def _dependents_of(graph: _Graph, uid: Any) -> list[Mapping[str, Any]]:
    """The objects referring to `uid`, by key, once per reference: the scan's graph entry.

    The scan files a reference without a uid under "" (`ref.get("uid", "")`).
    """
    counts: dict[str, int] = dict(graph.by_uid.get(uid, _NO_COUNTS))
    if uid == "":
        for key, n in graph.by_uid.get(None, _NO_COUNTS).items():
            counts[key] = counts.get(key, 0) + n
    return [graph.tracked[key] for key in sorted(counts) for _ in range(counts[key])]


#: A `PMap` evolver: what `_index` and `_unindex` change in place while a pass builds its graph.
Evolver = Any


def _index(key: str, obj: Mapping[str, Any], by_uid: Evolver, by_owner_key: Evolver) -> None:
    for ref in owner_refs(obj):
        uid = ref.get("uid")
        counts = _entry(by_uid, uid, _NO_COUNTS)
        by_uid[uid] = counts.set(key, counts.get(key, 0) + 1)
    for owner_key in _owner_keys(obj):
        dependents = _entry(by_owner_key, owner_key, _NO_KEYS)
        by_owner_key[owner_key] = dependents.add(key)


def _entry(evolver: Evolver, key: Any, default: Any) -> Any:
    """`evolver.get(key, default)`, which a `PMap` evolver lacks."""
    try:
        return evolver[key]
    except KeyError:
        return default


def _unindex(key: str, obj: Mapping[str, Any], by_uid: Evolver, by_owner_key: Evolver) -> None:
    for uid in {ref.get("uid") for ref in owner_refs(obj)}:
        counts = by_uid[uid].discard(key)
        if counts:
            by_uid[uid] = counts
        else:
            del by_uid[uid]
    for owner_key in _owner_keys(obj):
        dependents = by_owner_key[owner_key].discard(key)
        if dependents:
            by_owner_key[owner_key] = dependents
        else:
            del by_owner_key[owner_key]


def _owner_keys(obj: Mapping[str, Any]) -> set[str]:
    return {k for ref in owner_refs(obj) if (k := _owner_key(obj, ref)) is not None}


_NO_COUNTS: PMap[str, int] = pmap()
_NO_KEYS: PSet[str] = pset()
_NO_UIDS: PMap[Any, PMap[str, int]] = pmap()
_NO_OWNER_KEYS: PMap[str, PSet[str]] = pmap()


def _address(obj: Mapping[str, Any]) -> dict[str, Any]:
    m = meta(obj)
    address = {"kind": obj["kind"], "name": m["name"]}
    if m.get("namespace"):
        address["namespace"] = m["namespace"]
    return address


def _set_refs(obj: Mapping[str, Any], refs: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "op": "patch",
        **_address(obj),
        "patch": {
            "metadata": {
                "uid": meta(obj)["uid"],
                "ownerReferences": [dict(r) for r in refs] if refs else None,
            }
        },
    }


def _remove_finalizer(obj: Mapping[str, Any], finalizer: str) -> dict[str, Any]:
    kept = [f for f in finalizers(obj) if f != finalizer]
    return {
        "op": "patch",
        **_address(obj),
        "patch": {"metadata": {"uid": meta(obj)["uid"], "finalizers": kept or None}},
    }


def _delete(obj: Mapping[str, Any], policy: str) -> dict[str, Any]:
    return {
        "op": "delete",
        **_address(obj),
        "propagationPolicy": policy,
        "preconditions": {"uid": meta(obj)["uid"]},
    }
