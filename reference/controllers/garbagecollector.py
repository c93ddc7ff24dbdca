"""The garbage collector (pkg/controller/garbagecollector), as a level-triggered reducer.

Identity is the owner's uid at the owner's coordinates: kind, name, and the
dependent's namespace for namespaced owner kinds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from reference.api.kinds import KINDS
from reference.constants import FINALIZER_FOREGROUND, FINALIZER_ORPHAN
from reference.controllers.base import Reconcile, View
from reference.objects import decode, deleting, finalizers, meta, owner_refs

__all__ = ["GarbageCollector", "Resolution", "resolve_by_coordinates", "resolve_by_uid"]

#: How an owner reference resolves: the live owner, "absent", or "invalid" (the
#: GC then leaves the dependent alone for good, like upstream's forgotten items).
Resolution = Any | Literal["absent", "invalid"]


def resolve_by_coordinates(
    view: View, dependent: Mapping[str, Any], ref: Mapping[str, Any], live: bool
) -> Resolution:
    """upstream's isDangling: the owner by kind and name, in the dependent's namespace."""
    kind = KINDS.get(ref.get("kind", ""))
    if kind is None:
        return "invalid"
    namespace = meta(dependent).get("namespace", "")
    if kind.namespaced and not namespace:
        return "invalid"
    coordinates = (kind, namespace if kind.namespaced else "", ref.get("name", ""))
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

    def initial_state(self) -> None:
        return None

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        objects = list(view.all_objects())
        graph: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for obj in objects:
            for ref in owner_refs(obj):
                graph[ref.get("uid", "")].append(obj)
        writes: list[dict[str, Any]] = []
        for owner in objects:
            if deleting(owner):
                writes.extend(self._finish_owner(view, owner, graph))
        for dependent in objects:
            if owner_refs(dependent) and not deleting(dependent):
                writes.extend(self._attempt_to_delete(view, dependent))
        return Reconcile(tuple(writes))

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

    def _attempt_to_delete(self, view: View, seen: Mapping[str, Any]) -> list[dict[str, Any]]:
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
        has_dependents = any(
            ref.get("uid") == item["metadata"]["uid"]
            for other in view.all_objects()
            for ref in owner_refs(other)
        )
        if found.waiting and has_dependents:
            policy = "Foreground"
        elif FINALIZER_ORPHAN in finalizers(item):
            policy = "Orphan"
        elif FINALIZER_FOREGROUND in finalizers(item):
            policy = "Foreground"
        else:
            policy = "Background"
        return [_delete(item, policy)]


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
