"""A strict law of the `workloads` level: ReplicaSets back off re-creating pods kubelets turn away.

A kubelet that cannot admit a pod (it does not fit the node, its node
affinity or taints rule the node out) makes it Failed at once. Upstream's
ReplicaSet controller replaces such a pod at once too, so a template that no
node will ever admit (a `spec.nodeName` that bypasses the scheduler, a node
relabelled under the pod) makes thousands of Failed pods a minute
(kubernetes#131116, #72593; PR #130411 proposed a back-off and was closed).
The reference backs off instead, with the kubelet's crash-loop numbers, and
this law holds it to that: Kubernetes promises nothing here, so the law is
strict.

What the law reads is only the latest snapshot: the Failed pods a
ReplicaSet has now. Deleting some of them can only loosen the back-off a
controller derives from them, and it loosens the bound here in the same
measure, so the law needs no memory of pods that are gone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

from properties.laws import law
from properties.nodehistory import parse_time
from properties.trace import TargetInfo, Trace, Violation
from properties.workhistory import controller_uid, deleting, fresh, name_of, uid_of, violation

__all__ = ["BACKOFF_DEFAULTS", "most_failed_seconds", "rejected_seconds"]

Obj = Mapping[str, Any]

#: (initial, cap, reset) in seconds when the target's `hello.parameters` name none: the
#: reference's, which are the kubelet's crash-loop back-off.
BACKOFF_DEFAULTS = (10.0, 300.0, 600.0)
#: `hello.parameters` keys, most specific first, for each of (initial, cap, reset).
_PARAMETERS = (
    ("replicaSetFailedPodBackOffInitialSeconds", "crashLoopBackOffInitialSeconds"),
    ("replicaSetFailedPodBackOffMaxSeconds", "crashLoopBackOffMaxSeconds"),
    ("replicaSetFailedPodBackOffResetSeconds", "crashLoopBackOffResetSeconds"),
)


def _parameters(info: TargetInfo) -> tuple[float, float, float]:
    found = []
    for keys, default in zip(_PARAMETERS, BACKOFF_DEFAULTS, strict=True):
        value = next((info.parameters[k] for k in keys if k in info.parameters), default)
        try:
            found.append(float(value))
        except (TypeError, ValueError):
            found.append(default)
    return found[0], found[1], found[2]


def most_failed_seconds(span: int, initial: float, cap: float, reset: float) -> int:
    """The most distinct whole seconds, `span` apart at most, a back-off lets a controller
    create doomed pods in.

    The controller's rule: after its n-th such second in a row, it waits
    min(initial * 2^(n-1), cap) seconds; a gap longer than `reset` starts
    the count again. Seconds being whole, a wait d means a gap of at least
    floor(d) (and at least 1); a reset is allowed from a gap of floor(reset)
    on. Both only loosen the bound. The search keeps, per number of seconds
    used, the earliest time at which each back-off level can be reached (a
    lower level reached earlier does everything a higher one can).
    """
    return _most(span, initial, cap, reset)


@functools.lru_cache(maxsize=1024)
def _most(span: int, initial: float, cap: float, reset: float) -> int:
    def wait(level: int) -> int:
        return max(1, math.floor(min(initial * 2.0 ** (level - 1), cap)))

    top = 1
    while wait(top) < wait(top + 1) and top < 64:
        top += 1
    restart = max(1, math.floor(reset))
    states = {1: 0}
    count = 1
    while True:
        later: dict[int, int] = {}
        for level, at in states.items():
            gap = wait(level)
            moves = ((at + gap, 1 if gap >= restart else min(level + 1, top)), (at + restart, 1))
            for when, nxt in moves:
                if when <= span and when < later.get(nxt, span + 1):
                    later[nxt] = when
        if not later:
            return count
        states = {
            level: at
            for level, at in later.items()
            if not any(o <= level and t <= at and (o, t) != (level, at) for o, t in later.items())
        }
        count += 1


def _never_started(pod: Obj) -> bool:
    status = pod.get("status") or {}
    for s in [
        *(status.get("containerStatuses") or ()),
        *(status.get("initContainerStatuses") or ()),
    ]:
        state, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in state or "terminated" in state or "terminated" in last:
            return False
    return True


def rejected_seconds(pods: Iterable[Obj], rs: Obj) -> list[int]:
    """The creation seconds of the ReplicaSet's pods the kubelet turned away at once, sorted.

    Its own pods (controlled by it and named after it), Failed, not being
    deleted, that never started a container and whose status.startTime (the
    kubelet's first word on the pod) falls in the second they were created:
    a pod turned away only later (its node cut off meanwhile) may have been
    created before the controller could know of the earlier failures.
    """
    prefix = f"{name_of(rs)}-"
    seconds = set()
    for pod in pods:
        if controller_uid(pod) != uid_of(rs) or not name_of(pod).startswith(prefix):
            continue
        status = pod.get("status") or {}
        if status.get("phase") != "Failed" or deleting(pod) or not _never_started(pod):
            continue
        created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
        started = parse_time(status.get("startTime"))
        if created is None or started is None:
            continue
        second = math.floor(created)
        if started < second + 1:
            seconds.add(second)
    return sorted(seconds)


@law(
    "workloads.failed-replacement-backoff",
    "A ReplicaSet backs off creating pods the kubelet turns away: the creation seconds of its"
    " pods that were rejected at once number, within any span of D seconds, no more than a"
    " back-off of crashLoopBackOffInitialSeconds doubling to crashLoopBackOffMaxSeconds"
    " (forgotten after crashLoopBackOffResetSeconds of quiet) allows in D seconds.",
    scope="strict",
    kinds=("ReplicaSet", "Pod"),
    bugs=("#131116", "#72593"),
)
def failed_replacement_backoff(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    """Judged on every snapshot, on the Failed pods each ReplicaSet has then.

    For each ReplicaSet, take the distinct creation seconds s1 < ... < sm of
    its own pods that are Failed, not being deleted, never started a
    container, and got their status.startTime within their creation second
    (the kubelet rejected them at once). For every i <= j, the j - i + 1
    seconds in [si, sj] must be at most `most_failed_seconds(sj - si)`: the
    most seconds a controller that waits min(initial * 2^(n-1), cap) after
    its n-th such second in a row, and starts counting again after `reset`
    seconds of quiet, can use in that span. The three numbers are the
    target's `replicaSetFailedPodBackOff*Seconds` parameters, else its
    crash-loop ones, else 10, 300 and 600.

    Not judged once the ReplicaSet controller has been told to lag: a view
    that has not seen a failure yet does not hold creations back for it.
    """
    h = fresh(trace)
    if h is None or "replicaset" in h.ever_lagged:
        return
    assert h.snapshot is not None
    initial, cap, reset = _parameters(info)
    pods = h.snapshot.of("Pod")
    for rs in h.snapshot.of("ReplicaSet"):
        seconds = rejected_seconds(pods, rs)
        for j in range(1, len(seconds)):
            for i in range(j):
                span = seconds[j] - seconds[i]
                allowed = most_failed_seconds(span, initial, cap, reset)
                if j - i + 1 > allowed:
                    yield violation(
                        trace,
                        "workloads.failed-replacement-backoff",
                        f"ReplicaSet {name_of(rs)} created pods that the kubelet rejected in"
                        f" {j - i + 1} different seconds within {span} s; a back-off of"
                        f" {initial:g} s doubling to {cap:g} s allows {allowed}",
                        rs,
                    )
                    return
