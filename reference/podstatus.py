"""The status a kubelet writes for a pod: container statuses, phase and conditions.

Follows upstream's `generateAPIPodStatus` and `getPhase`
(docs/upstream-checks-nodes.md Q1, Q4, Q12): the phase comes from counting
container states; a pod being deleted ends Succeeded or Failed whatever its
restartPolicy; a terminal phase never changes; a condition's
lastTransitionTime moves only when its status does; conditions the kubelet
does not own (DisruptionTarget, readiness gates) are kept.

Once a deleted pod has nothing left running, its status is the final one of
upstream's `status_manager.TerminatePod` (Q1, Q11): containers that never
ran are reported Terminated (137, ContainerStatusUnknown) and a phase still
Pending or Running becomes Failed, so that the kubelet can delete the object.

A pod the kubelet refuses to admit gets upstream's `rejectPod` status
(`rejected_status`): Failed, with the admission's reason and message, and
nothing else the kubelet owns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from reference.runtime import Instance
from reference.timefmt import format_time

__all__ = [
    "ContainerView",
    "PodView",
    "container_status",
    "phase",
    "pod_status",
    "rejected_status",
    "terminated_status",
]

TERMINAL = ("Succeeded", "Failed")
_OWNED = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@attrs.frozen
class ContainerView:
    """One spec container with its runtime instance and what the kubelet decided about it."""

    name: str
    image: str
    instance: Instance | None
    #: Waiting out a restart back-off (the instance is exited and will restart).
    backing_off: bool = False
    backoff_message: str = ""
    started: bool = False
    ready: bool = False
    #: A restartable init container (a sidecar).
    sidecar: bool = False


@attrs.frozen
class PodView:
    containers: tuple[ContainerView, ...]
    init_containers: tuple[ContainerView, ...]
    restart_policy: str
    #: The pod is being deleted and nothing runs for it any more.
    terminal: bool
    sandbox: bool
    pod_ip: str | None
    host_ip: str


def container_status(c: ContainerView) -> dict[str, Any]:
    inst = c.instance
    status: dict[str, Any] = {
        "name": c.name,
        "image": c.image,
        "imageID": "",
        "ready": c.ready,
        "restartCount": inst.restarts if inst else 0,
        "started": c.started,
        "state": {},
        "lastState": {},
    }
    if inst is None or inst.state == "waiting":
        waiting: dict[str, Any] = {"reason": inst.waiting_reason if inst else "ContainerCreating"}
        if inst is not None and inst.waiting_message:
            waiting["message"] = inst.waiting_message
        status["state"] = {"waiting": waiting}
        if inst is not None and inst.previous is not None:
            status["lastState"] = {"terminated": inst.previous.status(_prior_id(inst))}
        return status
    status["containerID"] = inst.container_id
    status["imageID"] = f"{inst.image}@sha256:{inst.uid.replace('-', '')[:32]}"
    if inst.state == "running":
        assert inst.started_at is not None
        status["state"] = {"running": {"startedAt": format_time(inst.started_at)}}
        if inst.previous is not None:
            status["lastState"] = {"terminated": inst.previous.status(_prior_id(inst))}
        return status
    assert inst.ended is not None
    if c.backing_off:
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": c.backoff_message}}
        status["lastState"] = {"terminated": inst.ended.status(inst.container_id)}
        return status
    status["state"] = {"terminated": inst.ended.status(inst.container_id)}
    if inst.previous is not None:
        status["lastState"] = {"terminated": inst.previous.status(_prior_id(inst))}
    return status


def _prior_id(inst: Instance) -> str:
    return f"containerd://{inst.uid[:8]}-{inst.container}-{max(inst.restarts - 1, 0)}"


def _stopped(c: ContainerView) -> tuple[bool, bool]:
    """(stopped, succeeded) for getPhase: terminated, or waiting after an earlier termination."""
    inst = c.instance
    if inst is None:
        return False, False
    if inst.state == "exited" and inst.ended is not None:
        return True, inst.ended.exit_code == 0
    if inst.state == "waiting" and inst.previous is not None:
        return True, inst.previous.exit_code == 0
    return False, False


def phase(view: PodView, previous: str | None) -> str:
    """upstream getPhase, with a terminal phase kept."""
    if previous in TERMINAL:
        return previous
    pending_init = failed_init = 0
    for c in view.init_containers:
        inst = c.instance
        if c.sidecar:
            pending_init += not (inst is not None and inst.state == "running" and c.started)
            continue
        done = inst is not None and inst.state == "exited" and inst.ended is not None
        if done and inst is not None and inst.ended is not None and inst.ended.exit_code == 0:
            continue
        pending_init += 1
        last = inst.ended if done and inst is not None else (inst.previous if inst else None)
        if last is not None and last.exit_code != 0:
            failed_init += 1
    if failed_init and view.restart_policy == "Never":
        return "Failed"
    running = waiting = stopped = succeeded = 0
    for c in view.containers:
        inst = c.instance
        if inst is not None and inst.state == "running":
            running += 1
            continue
        s, ok = _stopped(c)
        if s:
            stopped += 1
            succeeded += ok
        else:
            waiting += 1
    if pending_init or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if view.terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if view.restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if view.restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(
    previous: Sequence[Mapping[str, Any]], kind: str, ok: bool, reason: str, now: float
) -> dict[str, Any]:
    status = "True" if ok else "False"
    cond: dict[str, Any] = {"type": kind, "status": status}
    before = next((c for c in previous if c.get("type") == kind), None)
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        cond["lastTransitionTime"] = before["lastTransitionTime"]
    else:
        cond["lastTransitionTime"] = format_time(now)
    cond["lastProbeTime"] = None
    if not ok and reason:
        cond["reason"] = reason
    return cond


def pod_status(
    pod: Mapping[str, Any], view: PodView, now: float, *, keep_terminal: bool = True
) -> dict[str, Any]:
    """The status the kubelet would write now."""
    previous = pod.get("status") or {}
    prev_conditions = previous.get("conditions") or ()
    new_phase = phase(view, previous.get("phase") if keep_terminal else None)
    containers_ready = all(c.ready for c in view.containers) and all(
        c.ready for c in view.init_containers if c.sidecar
    )
    gates = [g.get("conditionType") for g in (pod.get("spec") or {}).get("readinessGates") or ()]
    gates_ok = all(
        any(c.get("type") == g and c.get("status") == "True" for c in prev_conditions)
        for g in gates
    )
    terminal = new_phase in TERMINAL
    done = "PodCompleted" if new_phase == "Succeeded" else "PodFailed"
    ready_reason = done if terminal else "ContainersNotReady"
    initialized = (
        all(
            (c.sidecar and c.started)
            or (
                not c.sidecar
                and c.instance is not None
                and c.instance.state == "exited"
                and c.instance.ended is not None
                and c.instance.ended.exit_code == 0
            )
            for c in view.init_containers
        )
        or any(
            c.instance is not None and c.instance.started_at is not None for c in view.containers
        )
        or new_phase == "Succeeded"
    )
    ready = containers_ready and gates_ok and not terminal
    conditions = [
        _condition(prev_conditions, "PodReadyToStartContainers", view.sandbox, "", now),
        _condition(prev_conditions, "Initialized", initialized, "ContainersNotInitialized", now),
        _condition(
            prev_conditions,
            "Ready",
            ready,
            ready_reason if not containers_ready or terminal else "ReadinessGatesNotReady",
            now,
        ),
        _condition(
            prev_conditions, "ContainersReady", containers_ready and not terminal, ready_reason, now
        ),
        _condition(prev_conditions, "PodScheduled", True, "", now),
    ]
    conditions += [dict(c) for c in prev_conditions if c.get("type") not in _OWNED]
    status: dict[str, Any] = {
        "phase": new_phase,
        "conditions": conditions,
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}],
        "startTime": previous.get("startTime") or format_time(now),
        "containerStatuses": [container_status(c) for c in view.containers],
    }
    if view.init_containers:
        status["initContainerStatuses"] = [container_status(c) for c in view.init_containers]
    ip = view.pod_ip or previous.get("podIP")
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    for kept in ("qosClass", "nominatedNodeName"):  # fields others own: the scheduler, the API
        if previous.get(kept):
            status[kept] = previous[kept]
    if view.terminal:
        status = terminated_status(pod, status)
    return status


#: The state upstream's TerminatePod gives a container it has no terminated state for.
_UNKNOWN_TERMINATION: dict[str, Any] = {
    "exitCode": 137,
    "reason": "ContainerStatusUnknown",
    "message": "The container could not be located when the pod was terminated",
    "startedAt": None,
    "finishedAt": None,
}


def _attempted(status: Mapping[str, Any]) -> bool:
    """A container status showing a start: not waiting, or waiting after a termination."""
    return "waiting" not in (status.get("state") or {}) or bool(
        (status.get("lastState") or {}).get("terminated")
    )


def _has_initialized(pod: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """upstream hasPodInitialized: some regular container ever started, or the init chain ended."""
    inits = (pod.get("spec") or {}).get("initContainers") or ()
    if not inits:
        return True
    if any(_attempted(s) for s in status.get("containerStatuses") or ()):
        return True
    statuses = status.get("initContainerStatuses") or ()
    if not statuses or len(statuses) > len(inits):
        return False
    last, spec = statuses[-1], inits[len(statuses) - 1]
    state = last.get("state") or {}
    if spec.get("restartPolicy") == "Always":
        return "running" in state and last.get("started") is True
    for seen in (last.get("lastState") or {}, state):
        if (seen.get("terminated") or {}).get("exitCode") == 0:
            return True
    return False


def terminated_status(pod: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """upstream `status_manager.TerminatePod`: the final status of a pod whose termination finished.

    Once the pod has initialized (no init containers, or evidence of a start
    in the API's status or this one), every regular container without a
    terminated state is reported Terminated with exit code 137 and reason
    ContainerStatusUnknown (its lastState stays); so is every init container
    up to the last one that ever started (at least the first one). A phase
    still Pending or Running becomes Failed: the status manager deletes a pod
    only once its phase is terminal (`canBeDeleted`).
    """
    final = dict(status)

    def unknown(s: Mapping[str, Any]) -> dict[str, Any]:
        if "terminated" in (s.get("state") or {}):
            return dict(s)
        return {**s, "state": {"terminated": dict(_UNKNOWN_TERMINATION)}}

    previous = pod.get("status") or {}
    if _has_initialized(pod, previous) or _has_initialized(pod, status):
        final["containerStatuses"] = [unknown(s) for s in status.get("containerStatuses") or ()]
    inits = list(status.get("initContainerStatuses") or ())
    if inits:
        tried = max((i + 1 for i, s in enumerate(inits) if _attempted(s)), default=1)
        final["initContainerStatuses"] = [
            unknown(s) if i < tried else dict(s) for i, s in enumerate(inits)
        ]
    if final.get("phase") not in TERMINAL:
        final["phase"] = "Failed"
    return final


def rejected_status(
    pod: Mapping[str, Any], reason: str, message: str, now: float
) -> dict[str, Any]:
    """upstream `kubelet.rejectPod` as the status manager writes it.

    The status set is only {phase Failed, reason, "Pod was rejected: " +
    message, qosClass}; the status manager stamps startTime (the pod had
    none) and, merging with the API's status, drops the conditions the
    kubelet owns (PodScheduled among them) and keeps the others.
    """
    previous = pod.get("status") or {}
    status: dict[str, Any] = {
        "phase": "Failed",
        "reason": reason,
        "message": f"Pod was rejected: {message}",
        "startTime": previous.get("startTime") or format_time(now),
    }
    kept = [dict(c) for c in previous.get("conditions") or () if c.get("type") not in _OWNED]
    if kept:
        status["conditions"] = kept
    for field in ("qosClass", "nominatedNodeName"):
        if previous.get(field):
            status[field] = previous[field]
    return status
