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
    """What changes when the example's objects change: its namespaces and what is in them.

    The cluster's own objects (Nodes with their heartbeats, other users'
    PriorityClasses) change for reasons of their own and are not the example's work.
    """
    return frozenset(
        (o.get("kind", ""), m.get("namespace", ""), m.get("name", ""), m.get("resourceVersion", ""))
        for o in objects
        for m in [o.get("metadata") or {}]
        if m.get("namespace") or o.get("kind") == "Namespace"
    )


#: Why a container waits when only a user can help: no controller acts on these again soon.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


def pending(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why the cluster is still busy, one phrase per object that shows work owed; [] if none."""
    reasons: list[str] = []
    uids = {(o.get("metadata") or {}).get("uid") for o in objects}
    for obj in objects:
        reason = _owed(obj, objects) or _dangling(obj, uids)
        if reason:
            meta = obj.get("metadata") or {}
            where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
            reasons.append(f"{obj.get('kind')} {where}{meta.get('name')} {reason}")
    return reasons


def _dangling(obj: Mapping[str, Any], uids: set[Any]) -> str:
    """An owner that is gone leaves work to the garbage collector (owners are in the same
    namespace, or are Namespaces, so a snapshot of the example shows every live one)."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return ""
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("uid") not in uids:
            return f"has an owner that is gone ({ref.get('kind')} {ref.get('name')})"
    return ""


def _stuck(pod: Mapping[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(
        ((s.get("state") or {}).get("waiting") or {}).get("reason") in STUCK_REASONS
        for s in statuses
        if isinstance(s, Mapping)
    )


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
        starting = spec.get("nodeName") and status.get("phase", "Pending") == "Pending"
        return "is starting on its node" if starting and not _stuck(obj) else ""
    if kind == "Deployment" and not spec.get("paused"):
        # Not availableReplicas: pods that can never become ready (an image no node can
        # pull) would keep a rollout "in progress" for ever; waiting pods are judged above.
        want = spec.get("replicas", 1)
        counts = (status.get(k, 0) for k in ("replicas", "updatedReplicas"))
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
