"""The garbage collector (pkg/controller/garbagecollector), as a level-triggered reducer.

It reads owner references from its view (its dependency graph, which may
lag) and confirms each owner with a live GET, as upstream does before it
deletes anything. Identity is the owner's uid at the owner's coordinates:
kind, name, and the dependent's namespace for namespaced owner kinds.
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
    view: View, dependent: Mapping[str, Any], ref: Mapping[str, Any]
) -> Resolution:
    """upstream's isDangling: the owner by kind and name, in the dependent's namespace.

    The GC's graph (its view) decides what it looks at; an owner the graph
    still holds is taken as it is there, and one the graph lacks is
    confirmed absent by a live GET before anything is deleted.
    """
    kind = KINDS.get(ref.get("kind", ""))
    if kind is None:
        return "invalid"
    namespace = meta(dependent).get("namespace", "")
    if kind.namespaced and not namespace:
        return "invalid"
    coordinates = (kind, namespace if kind.namespaced else "", ref.get("name", ""))
    for owner in (view.get(*coordinates), view.live_get(*coordinates)):
        if owner is not None and owner["metadata"]["uid"] == ref.get("uid"):
            return owner
    return "absent"


def resolve_by_uid(view: View, dependent: Mapping[str, Any], ref: Mapping[str, Any]) -> Resolution:
    """Owner lookup by uid alone, wherever the object lives (the bug of kubernetes#65200)."""
    for kv in view.live.current.values():
        obj = decode(kv.value)
        if obj["metadata"]["uid"] == ref.get("uid"):
            return obj
    return "absent"


OrphanHandler = Callable[[Mapping[str, Any], list[Mapping[str, Any]]], list[dict[str, Any]]]


def strip_owner_references(
    owner: Mapping[str, Any], dependents: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Orphan: remove the owner's uid from each dependent's ownerReferences."""
    uid = owner["metadata"]["uid"]
    return [_set_refs(d, [r for r in owner_refs(d) if r.get("uid") != uid]) for d in dependents]


@attrs.frozen
class GarbageCollector:
    name: str = "garbagecollector"
    resolve_owner: Callable[[View, Mapping[str, Any], Mapping[str, Any]], Resolution] = (
        resolve_by_coordinates
    )
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
                writes.extend(self._attempt_to_delete(view, dependent, graph))
        return Reconcile(tuple(writes))

    def _dependents(
        self, view: View, owner: Mapping[str, Any], graph: Mapping[str, list[Mapping[str, Any]]]
    ) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        uid = owner["metadata"]["uid"]
        found = []
        for dependent in graph.get(uid, []):
            for ref in owner_refs(dependent):
                if ref.get("uid") != uid:
                    continue
                resolved = self.resolve_owner(view, dependent, ref)
                if not isinstance(resolved, str) and resolved["metadata"]["uid"] == uid:
                    found.append((dependent, ref))
        return found

    def _finish_owner(
        self, view: View, owner: Mapping[str, Any], graph: Mapping[str, list[Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        fins = finalizers(owner)
        dependents = self._dependents(view, owner, graph)
        if FINALIZER_ORPHAN in fins:
            if dependents:
                return self.orphan(owner, [d for d, _ in dependents])
            return [_remove_finalizer(owner, FINALIZER_ORPHAN)]
        if FINALIZER_FOREGROUND in fins:
            blocking = [d for d, ref in dependents if ref.get("blockOwnerDeletion")]
            if not blocking or not self.wait_for_blocking_dependents:
                return [_remove_finalizer(owner, FINALIZER_FOREGROUND)]
        return []

    def _attempt_to_delete(
        self, view: View, item: Mapping[str, Any], graph: Mapping[str, list[Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        solid, dangling, waiting = [], [], []
        for ref in owner_refs(item):
            resolved = self.resolve_owner(view, item, ref)
            if resolved == "invalid":
                return []
            if resolved == "absent":
                dangling.append(ref)
            elif deleting(resolved) and FINALIZER_FOREGROUND in finalizers(resolved):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid and (self.spare_items_with_live_owners or not dangling):
            if not dangling and not waiting:
                return []
            gone = {r.get("uid") for r in dangling + waiting}
            return [_set_refs(item, [r for r in owner_refs(item) if r.get("uid") not in gone])]
        has_dependents = bool(graph.get(item["metadata"]["uid"]))
        if waiting and has_dependents:
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
