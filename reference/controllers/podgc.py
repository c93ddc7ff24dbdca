"""The pod garbage collector (pkg/controller/podgc), as a level-triggered reducer.

docs/upstream-checks-nodes.md Q9. One pass runs upstream's four sweeps in
upstream's order, over the pods and nodes of the view:

1. terminated pods (phase not Pending, Running or Unknown) beyond
   `terminated_pod_threshold` are deleted, evicted pods first, then the
   oldest creationTimestamp, then the name;
2. terminating pods on a node that is not Ready and carries the
   `node.kubernetes.io/out-of-service` taint (any effect) are marked Failed
   and force-deleted;
3. pods bound to a node that is missing are quarantined by node name, and
   force-deleted with a DisruptionTarget condition once the node is still
   missing at the end of the quarantine (a live GET confirms it);
4. terminating pods that were never scheduled are marked Failed and
   force-deleted.

"Marked Failed and force-deleted" is upstream's markFailedAndDeletePod: a
pod not already Succeeded or Failed gets a status write (phase Failed, plus
the condition, if any), built on the pod as it is live; then a delete with
grace period 0. A pod the GC can no longer write (gone, or another object
under the same name) is left alone, as upstream's failing patch stops it
before the delete. The delete carries a uid precondition (upstream sends
none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from reference.constants import (
    POD_GC_CHECK_PERIOD_SECONDS,
    POD_GC_QUARANTINE_SECONDS,
    TAINT_NODE_OUT_OF_SERVICE,
    TERMINATED_POD_GC_THRESHOLD,
)
from reference.controllers.base import Reconcile, View
from reference.objects import deleting, meta
from reference.timefmt import format_whole_seconds, normalize, parse_time

__all__ = [
    "POD_GC_CHECK_PERIOD_SECONDS",
    "POD_GC_QUARANTINE_SECONDS",
    "TAINT_NODE_OUT_OF_SERVICE",
    "TERMINATED_POD_GC_THRESHOLD",
    "PodGarbageCollector",
]

#: kube-controller-manager's --terminated-pod-gc-threshold default (0 disables the sweep).
#: podgc's quarantineTime: how long a missing node's pods are spared.
#: podgc's gcCheckPeriod. The reference does not tick (see `PodGarbageCollector`).
#: v1.TaintNodeOutOfService.

_ORPHAN_CONDITION: Mapping[str, str] = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "DeletionByPodGC",
    "message": "PodGC: node no longer exists",
}
_NOT_TERMINATED = ("Pending", "Running", "Unknown")
_TERMINAL = ("Succeeded", "Failed")

Pod = Mapping[str, Any]


@attrs.frozen
class PodGarbageCollector:
    """upstream's PodGCController; its state is the orphan quarantine.

    The state maps a missing node's name to the moment the controller first
    saw a pod bound to it while the node was missing (upstream's delaying
    `nodeQueue`). An entry stays until its quarantine ends, even if the node
    comes back meanwhile, as upstream's queued item does: at the end the node
    is dropped if the view or a live GET finds it, and its pods are collected
    otherwise.

    Timing: upstream sweeps every 20 s, so it collects orphans 40 to 60 s
    after the Node object went, and the other sweeps up to 20 s after the
    pod qualifies. The reference has no tick: it sweeps whenever its view
    moves and wakes at the earliest quarantine end, so it acts exactly 40 s
    after it first saw the node missing and at once on the rest.

    It skips pods for which every write it would send is a no-op (already
    terminal and terminating with grace period 0: only a finalizer holds
    them), and quarantines no node that has only such pods, so a pod held
    by a finalizer does not wake it every 40 s forever. Upstream re-sends
    those no-op writes each pass; nothing it stores differs.
    """

    name: str = "podgc"
    #: Terminated pods kept before the oldest are deleted (0: the sweep is off).
    terminated_pod_threshold: int = TERMINATED_POD_GC_THRESHOLD
    quarantine_seconds: float = POD_GC_QUARANTINE_SECONDS

    def initial_state(self) -> PMap[str, float]:
        return pmap()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        quarantine: PMap[str, float] = state if state is not None else pmap()
        pods = list(view.objects("Pod"))
        nodes = {n["metadata"]["name"]: n for n in view.objects("Node")}
        writes: list[dict[str, Any]] = []
        done: set[str] = set()

        def collect(pod: Pod, condition: Mapping[str, str] | None = None) -> None:
            uid = meta(pod).get("uid", "")
            if uid in done:
                return
            done.add(uid)
            writes.extend(_mark_failed_and_delete(view, pod, now, condition))

        # gcTerminated
        if self.terminated_pod_threshold > 0:
            terminated = [p for p in pods if _phase(p) not in _NOT_TERMINATED]
            excess = len(terminated) - self.terminated_pod_threshold
            if excess > 0:
                for pod in sorted(terminated, key=_collection_order)[:excess]:
                    collect(pod)
        # gcTerminating
        out_of_service = [
            p for p in pods if deleting(p) and _out_of_service(nodes.get(_node_name(p)))
        ]
        for pod in sorted(out_of_service, key=_collection_order):
            collect(pod)
        # gcOrphaned: quarantine the missing nodes, collect on those still missing at the end.
        for pod in pods:
            node_name = _node_name(pod)
            missing = node_name and node_name not in nodes
            if missing and node_name not in quarantine and not _settled(pod):
                quarantine = quarantine.set(node_name, now)
        gone: set[str] = set()
        for node_name, since in list(quarantine.items()):
            if normalize(since + self.quarantine_seconds) > now:
                continue
            quarantine = quarantine.remove(node_name)
            if node_name not in nodes and view.live_get("Node", "", node_name) is None:
                gone.add(node_name)
        if gone:
            for pod in pods:
                if _node_name(pod) in gone:
                    collect(pod, _ORPHAN_CONDITION)
        # gcUnscheduledTerminating
        for pod in pods:
            if deleting(pod) and not _node_name(pod):
                collect(pod)
        wake_at = (
            min(normalize(since + self.quarantine_seconds) for since in quarantine.values())
            if quarantine
            else None
        )
        return Reconcile(tuple(writes), quarantine, wake_at)


def _phase(pod: Pod) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _node_name(pod: Pod) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _settled(pod: Pod) -> bool:
    """Whether markFailedAndDeletePod would change nothing: terminal, and deleting at grace 0."""
    return (
        _phase(pod) in _TERMINAL
        and deleting(pod)
        and not meta(pod).get("deletionGracePeriodSeconds")
    )


def _evicted(pod: Pod) -> bool:
    """eviction.PodIsEvicted: the kubelet's eviction manager failed it."""
    status = pod.get("status") or {}
    return bool(status.get("phase") == "Failed" and status.get("reason") == "Evicted")


def _collection_order(pod: Pod) -> tuple[bool, float, str, str]:
    """byEvictionAndCreationTimestamp, with the namespace to break the last ties."""
    m = meta(pod)
    created = m.get("creationTimestamp")
    return (
        not _evicted(pod),
        parse_time(created) if isinstance(created, str) and created else float("-inf"),
        str(m.get("name", "")),
        str(m.get("namespace", "")),
    )


def _ready(node: Mapping[str, Any]) -> bool:
    """nodeutil.IsNodeReady: the Ready condition is True (no condition: not ready)."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _out_of_service(node: Mapping[str, Any] | None) -> bool:
    if node is None or _ready(node):
        return False
    taints = (node.get("spec") or {}).get("taints") or []
    return any(isinstance(t, Mapping) and t.get("key") == TAINT_NODE_OUT_OF_SERVICE for t in taints)


def _mark_failed_and_delete(
    view: View, pod: Pod, now: float, condition: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """markFailedAndDeletePodWithCondition: Failed first unless terminal, then grace 0 delete."""
    if _settled(pod):
        return []
    m = meta(pod)
    namespace, name, uid = m.get("namespace", ""), m["name"], m["uid"]
    writes: list[dict[str, Any]] = []
    if _phase(pod) not in _TERMINAL:
        live = view.live_get("Pod", namespace, name)
        if live is None or live["metadata"]["uid"] != uid:
            return []  # upstream's status patch fails (not found, uid precondition): no delete
        writes.append(
            {
                "op": "status",
                "object": {
                    "kind": "Pod",
                    "metadata": {"name": name, "namespace": namespace, "uid": uid},
                    "status": _failed_status(live.get("status") or {}, now, condition),
                },
            }
        )
    writes.append(
        {
            "op": "delete",
            "kind": "Pod",
            "namespace": namespace,
            "name": name,
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": uid},
        }
    )
    return writes


def _failed_status(
    status: Mapping[str, Any], now: float, condition: Mapping[str, str] | None
) -> dict[str, Any]:
    """The live status with phase Failed and `condition` set as apipod.UpdatePodCondition does."""
    new = {**status, "phase": "Failed"}
    if condition is None:
        return new
    # metav1.Now(), stored at whole seconds (docs/upstream-checks.md Q14).
    added = {**condition, "lastTransitionTime": format_whole_seconds(now)}
    conditions = list(status.get("conditions") or [])
    for i, old in enumerate(conditions):
        if old.get("type") == condition["type"]:
            if old.get("status") == condition["status"] and "lastTransitionTime" in old:
                added["lastTransitionTime"] = old["lastTransitionTime"]
            conditions[i] = added
            break
    else:
        conditions.append(added)
    new["conditions"] = conditions
    return new
