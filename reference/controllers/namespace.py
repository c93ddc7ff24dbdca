"""The namespace controller (pkg/controller/namespace): empties a Terminating namespace.

It deletes everything in the namespace (Background), waits until nothing is
left, then removes the `kubernetes` finalizer through `/finalize`, which lets
the API server remove the namespace.
"""

from __future__ import annotations

from typing import Any

import attrs

from reference.api.kinds import KINDS
from reference.constants import FINALIZER_NAMESPACE
from reference.controllers.base import Reconcile, View
from reference.objects import deleting

__all__ = ["NamespaceController"]

_NAMESPACED = tuple(k for k in KINDS.values() if k.namespaced)


@attrs.frozen
class NamespaceController:
    name: str = "namespace"
    #: The kinds it empties a namespace of (upstream: every namespaced kind discovery lists).
    kinds: tuple[str, ...] = tuple(k.name for k in _NAMESPACED)

    def initial_state(self) -> None:
        return None

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        writes: list[dict[str, Any]] = []
        for ns in view.objects("Namespace"):
            if not deleting(ns):
                continue
            name = ns["metadata"]["name"]
            contents = [o for kind in self.kinds for o in view.objects(kind, name)]
            if contents:
                writes.extend(
                    {
                        "op": "delete",
                        "kind": o["kind"],
                        "namespace": name,
                        "name": o["metadata"]["name"],
                        "propagationPolicy": "Background",
                        "preconditions": {"uid": o["metadata"]["uid"]},
                    }
                    for o in contents
                    if not deleting(o)
                )
                continue
            spec_finalizers = list((ns.get("spec") or {}).get("finalizers") or [])
            if FINALIZER_NAMESPACE in spec_finalizers:
                writes.append(
                    {
                        "op": "finalize",
                        "object": {
                            "kind": "Namespace",
                            "metadata": {"name": name, "uid": ns["metadata"]["uid"]},
                            "spec": {
                                "finalizers": [
                                    f for f in spec_finalizers if f != FINALIZER_NAMESPACE
                                ]
                            },
                        },
                    }
                )
        return Reconcile(tuple(writes))
