"""When a real cluster has settled: nothing changed for a while and no work is visibly pending.

A real cluster cannot say that it has no work left, as a target with the
`settle` op does; the kube: target infers it from snapshots. Quiet alone is
not enough: a rollout waiting out minReadySeconds, or a pod in its grace
period, changes nothing for seconds and is not done. So a cluster is settled
only when its objects stop changing *and* none of them shows work that its
controllers still owe (`pending`). The cost of a wrong guess is asymmetric:
calling a busy cluster settled makes liveness laws judge too early (a false
violation), while calling a settled one busy only skips a judgement, so the
checks below lean towards "busy".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["SYSTEM_FINALIZERS", "fingerprint", "pending"]

#: Finalizers the control plane itself removes; any other holds an object until a user acts.
SYSTEM_FINALIZERS = frozenset({"kubernetes", "foregroundDeletion", "orphan"})

_WORKLOADS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})


def fingerprint(objects: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str, str, str]]:
    """What changes when any object but a Node changes (node heartbeats are not work)."""
    return frozenset(
        (o.get("kind", ""), m.get("namespace", ""), m.get("name", ""), m.get("resourceVersion", ""))
        for o in objects
        if o.get("kind") != "Node"
        for m in [o.get("metadata") or {}]
    )


def pending(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why the cluster is still busy, one phrase per object that shows work owed; [] if none."""
    reasons: list[str] = []
    for obj in objects:
        reason = _owed(obj, objects)
        if reason:
            meta = obj.get("metadata") or {}
            where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
            reasons.append(f"{obj.get('kind')} {where}{meta.get('name')} {reason}")
    return reasons


def _held(obj: Mapping[str, Any]) -> bool:
    finalizers = (obj.get("metadata") or {}).get("finalizers") or []
    return any(f not in SYSTEM_FINALIZERS for f in finalizers)


def _owed(obj: Mapping[str, Any], objects: Sequence[Mapping[str, Any]]) -> str:
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        if kind == "Namespace":
            inside = [
                o for o in objects if (o.get("metadata") or {}).get("namespace") == meta.get("name")
            ]
            done = inside and all(_held(o) for o in inside)
            return "" if done else "is being emptied"
        return "" if _held(obj) else "is terminating"
    observed = status.get("observedGeneration") or 0
    if kind in _WORKLOADS and (meta.get("generation") or 0) > observed:
        return "has a spec its controller has not observed"
    if kind == "Pod":
        started = spec.get("nodeName") and status.get("phase", "Pending") == "Pending"
        return "is starting on its node" if started else ""
    if kind == "Deployment" and not spec.get("paused"):
        want = spec.get("replicas", 1)
        counts = (status.get(k, 0) for k in ("replicas", "updatedReplicas", "availableReplicas"))
        return "is rolling out" if any(c != want for c in counts) else ""
    if kind == "ReplicaSet":
        if status.get("replicas", 0) != spec.get("replicas", 1):
            return "has not reached its replicas"
        if status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            return "waits for pods to become available"
    if kind == "StatefulSet" and status.get("replicas", 0) != spec.get("replicas", 1):
        return "has not reached its replicas"
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        if status.get("currentNumberScheduled", 0) != desired:
            return "has not placed its pods"
    return ""
