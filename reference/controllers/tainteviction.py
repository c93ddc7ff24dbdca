"""Taint-based eviction (pkg/controller/tainteviction): NoExecute taints delete pods.

For each pod on a node with NoExecute taints: a taint the pod does not
tolerate deletes it now; otherwise it is deleted once the smallest
`tolerationSeconds` among the tolerations used has passed since this
controller first saw the pod so exposed (never when none sets it). The
schedule is kept while some NoExecute taint remains, so swapping
`unreachable` for `not-ready` does not restart the clock, and is cancelled
when the node has none left. A deletion first records the DisruptionTarget
condition and then deletes gracefully.

Facts checked against upstream: docs/upstream-checks-nodes.md Q8.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from properties.scheduling_terms import eviction_delay
from reference.controllers.base import Reconcile, View
from reference.timefmt import format_time, normalize

__all__ = ["TaintEvictionController"]


@attrs.frozen
class TaintEvictionController:
    name: str = "tainteviction"
    #: Wait out tolerationSeconds (False: evict as soon as a tolerated taint appears).
    honor_toleration_seconds: bool = True

    def initial_state(self) -> PMap[str, float]:
        return pmap()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        scheduled: PMap[str, float] = state if state is not None else pmap()
        tainted: dict[str, list[Mapping[str, Any]]] = {}
        for node in view.objects("Node"):
            taints = [
                t
                for t in (node.get("spec") or {}).get("taints") or ()
                if t.get("effect") == "NoExecute"
            ]
            if taints:
                tainted[node["metadata"]["name"]] = taints
        if not tainted:
            return Reconcile((), pmap(), None)
        writes: list[dict[str, Any]] = []
        kept: dict[str, float] = {}
        for pod in view.objects("Pod"):
            node = (pod.get("spec") or {}).get("nodeName")
            meta = pod["metadata"]
            if node not in tainted or meta.get("deletionTimestamp"):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            delay = eviction_delay((pod.get("spec") or {}).get("tolerations") or (), tainted[node])
            if delay is None:
                continue
            if not self.honor_toleration_seconds:
                delay = 0.0
            uid = meta["uid"]
            fire = scheduled.get(uid, normalize(now + delay))
            if delay == 0.0:
                fire = now
            if now >= fire:
                live = view.live_get("Pod", meta.get("namespace", ""), meta["name"])
                if live is not None and live["metadata"]["uid"] == uid:
                    writes.extend(_evict(live, now))
            else:
                kept[uid] = fire
        return Reconcile(tuple(writes), pmap(kept), min(kept.values()) if kept else None)


def _evict(pod: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
    meta = pod["metadata"]
    status = dict(pod.get("status") or {})
    conditions = [c for c in status.get("conditions") or () if c.get("type") != "DisruptionTarget"]
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": format_time(now),
        }
    )
    status["conditions"] = conditions
    return [
        {"op": "status", "object": {**pod, "status": status}},
        {
            "op": "delete",
            "kind": "Pod",
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "preconditions": {"uid": meta["uid"]},
        },
    ]
