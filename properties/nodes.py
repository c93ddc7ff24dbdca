"""Laws of the `nodes` level: kubelets, the container runtime, node health and eviction.

They read the snapshots and `runtime` observations after every step, the
faults and workload ops the harness sent, and the timing parameters the
target reported in `hello`. Where upstream acts on a timer, a law allows
one extra period (a sync, a probe tick) beyond the exact moment, so that
what it demands also holds for a real kubelet; the reference's exact
choices are the `strict` laws.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from properties.laws import law
from properties.nodehistory import (
    INF,
    NodesHistory,
    Point,
    condition,
    history,
    is_ready,
    parse_time,
)
from properties.podconfig import MountError, files_for
from properties.scheduling_terms import eviction_delay
from properties.trace import TargetInfo, Trace, Violation

__all__: list[str] = []

_NEEDS = ("nodes", "runtime")
_FAULTS = ("nodes", "runtime", "faults")
_APPS = ("nodes", "runtime", "apps")
_TERMINAL = ("Succeeded", "Failed")
_NLC = "nodelifecycle"


def _param(info: TargetInfo, name: str, default: float) -> float:
    value = info.parameters.get(name, default)
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _violation(trace: Trace, law_id: str, message: str, *objects: Any) -> Violation:
    return Violation(law_id, message, trace.step_index, tuple(objects))


def _fresh(trace: Trace) -> tuple[NodesHistory, Point] | None:
    """The history and the newest observation, when the newest step made one."""
    h = history(trace)
    cur = h.current
    if cur is None or cur.step != trace.step_index:
        return None
    return h, cur


def _name(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _statuses(pod: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], bool]]:
    status = pod.get("status") or {}
    for s in status.get("initContainerStatuses") or ():
        yield s, True
    for s in status.get("containerStatuses") or ():
        yield s, False


def _spec_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or ()) + list(spec.get("initContainers") or ()):
        if c.get("name") == name:
            found: Mapping[str, Any] = c
            return found
    return {}


def _sidecar(pod: Mapping[str, Any], name: str) -> bool:
    for c in (pod.get("spec") or {}).get("initContainers") or ():
        if c.get("name") == name:
            return bool(c.get("restartPolicy") == "Always")
    return False


def _uses_config(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or ()) + list(spec.get("initContainers") or ()):
        if c.get("envFrom") or any(
            isinstance(e.get("valueFrom"), Mapping) for e in c.get("env") or ()
        ):
            return True
    return any(v.get("configMap") or v.get("secret") for v in spec.get("volumes") or ())


# -- restarts ----------------------------------------------------------------------------------


@law(
    "nodes.restart-policy-honoured",
    "A container restarts only as its pod's restartPolicy allows: never under Never, and not"
    " after exiting 0 under OnFailure.",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
    conformance=(
        '[sig-node] Pods should be restarted with a docker exec "cat /tmp/health" liveness probe',
    ),
)
def restart_policy_honoured(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    law_id = "nodes.restart-policy-honoured"
    for pod in cur.pods.values():
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        for s, init in _statuses(pod):
            name = s.get("name", "")
            if _sidecar(pod, name):
                continue
            if policy == "Never" and (s.get("restartCount") or 0) > 0:
                yield _violation(
                    trace,
                    law_id,
                    f"container {name} of pod {_name(pod)} (restartPolicy Never) shows"
                    f" restartCount {s.get('restartCount')}",
                    pod,
                )
                return
            last = (s.get("lastState") or {}).get("terminated") or {}
            if policy == "OnFailure" and last.get("exitCode") == 0 and not init:
                yield _violation(
                    trace,
                    law_id,
                    f"container {name} of pod {_name(pod)} (restartPolicy OnFailure) was"
                    " started again after it exited 0",
                    pod,
                )
                return
    for (uid, container), (node, entry) in cur.running().items():
        known = h.pods.get(uid)
        if known is None or _sidecar(known, container):
            continue
        pod = known
        if (pod.get("spec") or {}).get("restartPolicy") == "Never" and entry.get("restarts", 0) > 0:
            yield _violation(
                trace,
                law_id,
                f"the runtime of {node} ran container {container} of pod {_name(pod)}"
                f" (restartPolicy Never) {entry.get('restarts')} more times",
                pod,
                entry,
            )
            return


@law(
    "nodes.restart-count-never-decreases",
    "A container's restartCount, in the API and in the runtime, never goes down.",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
)
def restart_count_never_decreases(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    law_id = "nodes.restart-count-never-decreases"
    for prev in h.points[-2:-1]:
        for uid, pod in cur.pods.items():
            before = prev.pods.get(uid)
            m = h.machines.get((pod.get("spec") or {}).get("nodeName", ""))
            if before is None or (m is not None and m.added >= prev.now):
                continue  # a machine that joined since is a new machine, with a new runtime
            counts = {s.get("name"): s.get("restartCount") or 0 for s, _ in _statuses(before)}
            for s, _ in _statuses(pod):
                was = counts.get(s.get("name"), 0)
                if (s.get("restartCount") or 0) < was:
                    yield _violation(
                        trace,
                        law_id,
                        f"restartCount of container {s.get('name')} of pod {_name(pod)} went"
                        f" from {was} to {s.get('restartCount') or 0}",
                        pod,
                    )
                    return
        if prev.runtime is not None and cur.runtime is not None:
            earlier = prev.running()
            for key, (node, entry) in cur.running().items():
                joined = h.machines.get(node)
                if joined is not None and joined.added >= prev.now:
                    continue
                if key in earlier and entry.get("restarts", 0) < earlier[key][1].get("restarts", 0):
                    yield _violation(
                        trace,
                        law_id,
                        f"the runtime of {node} counts {entry.get('restarts')} restarts of"
                        f" container {key[1]} of pod {entry.get('namespace')}/{entry.get('pod')},"
                        f" {earlier[key][1].get('restarts')} before",
                        entry,
                    )
                    return


def _restart_gaps(
    h: NodesHistory, cur: Point
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any], float, float, str]]:
    """(pod, status, finished, started|now, state) for containers that restarted or wait to.

    Only where nothing but the back-off can explain the wait: the machine
    stayed up, the pod takes no configuration, its image never failed.
    """
    for pod in cur.pods.values():
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("metadata") or {}).get("deletionTimestamp") or _uses_config(pod):
            continue
        for s, _ in _statuses(pod):
            if _spec_container(pod, s.get("name", "")).get("image") in h.ever_failed_images:
                continue
            finished = parse_time(
                ((s.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
            )
            if finished is None:
                continue
            m = h.machines.get(node)
            if m is not None and m.last_kubelet_restart >= finished:
                continue  # a restarted kubelet forgets its back-off
            state = s.get("state") or {}
            if "running" in state:
                started = parse_time(state["running"].get("startedAt"))
                if started is not None and h.up_throughout(node, finished, started):
                    yield pod, s, finished, started, "running"
            elif (state.get("waiting") or {}).get(
                "reason"
            ) == "CrashLoopBackOff" and h.healthy_throughout(node, finished):
                yield pod, s, finished, cur.now, "waiting"


@law(
    "nodes.crashloop-backoff-capped",
    "A crashed container is restarted within crashLoopBackOffMaxSeconds (plus two initial"
    " back-off periods for the kubelet's sync) of its exit.",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
)
def crashloop_backoff_capped(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    cap = _param(info, "crashLoopBackOffMaxSeconds", 300)
    # Upstream restarts at the pod worker's next sync after the back-off, which requeues
    # every 10 s with up to 50% jitter: allow two initial periods.
    slack = 2 * _param(info, "crashLoopBackOffInitialSeconds", 10)
    for pod, s, finished, until, state in _restart_gaps(h, cur):
        if until - finished > cap + slack + 1e-6:
            verb = "restarted" if state == "running" else "still waits"
            yield _violation(
                trace,
                "nodes.crashloop-backoff-capped",
                f"container {s.get('name')} of pod {_name(pod)} exited at"
                f" {s['lastState']['terminated'].get('finishedAt')} and {verb}"
                f" {until - finished:g}s later; the back-off is capped at {cap:g}s",
                pod,
            )
            return


@law(
    "nodes.crashloop-backoff-sequence",
    "Restart delays follow the back-off sequence exactly: 0, then crashLoopBackOffInitialSeconds"
    " doubling up to crashLoopBackOffMaxSeconds.",
    scope="strict",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
)
def crashloop_backoff_sequence(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    cap = _param(info, "crashLoopBackOffMaxSeconds", 300)
    delay = _param(info, "crashLoopBackOffInitialSeconds", 10)
    allowed = [0.0]
    while delay < cap:
        allowed.append(delay)
        delay *= 2
    allowed.append(cap)
    for pod, s, finished, started, state in _restart_gaps(h, cur):
        gap = started - finished
        if state == "running" and not any(abs(gap - a) < 1e-3 for a in allowed):
            yield _violation(
                trace,
                "nodes.crashloop-backoff-sequence",
                f"container {s.get('name')} of pod {_name(pod)} restarted {gap:g}s after it"
                f" exited; the back-off allows {', '.join(f'{a:g}' for a in allowed)}",
                pod,
            )
            return


# -- probes ------------------------------------------------------------------------------------


def _probe_timing(container: Mapping[str, Any], field: str) -> tuple[float, float] | None:
    probe = container.get(field)
    if not isinstance(probe, Mapping):
        return None
    return float(probe.get("periodSeconds") or 10), float(probe.get("failureThreshold") or 3)


@law(
    "nodes.failing-readiness-not-ready",
    "A pod whose readiness probe keeps failing is not Ready once failureThreshold checks (and"
    " one more period) have passed.",
    needs=_APPS,
    kinds=("Pod", "Node"),
    conformance=(
        "[sig-node] Probing container with readiness probe that fails should never be ready"
        " and never restart",
    ),
)
def failing_readiness_not_ready(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    for pod in cur.pods.values():
        meta = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or not is_ready(pod):
            continue
        for c in (pod.get("spec") or {}).get("containers") or ():
            timing = _probe_timing(c, "readinessProbe")
            key = (meta.get("namespace", ""), meta.get("name", ""), c.get("name", ""), "readiness")
            passing, since = h.probes.get(key, (True, -INF))
            if timing is None or passing:
                continue
            period, threshold = timing
            if cur.now >= since + (threshold + 1) * period and h.healthy_throughout(node, since):
                yield _violation(
                    trace,
                    "nodes.failing-readiness-not-ready",
                    f"pod {_name(pod)} is Ready although the readiness probe of container"
                    f" {c.get('name')} has failed since {since:g}s ({cur.now - since:g}s ago)",
                    pod,
                )
                return


def _causes(h: NodesHistory, since: float, ns: str, pod: str, container: str, node: str) -> bool:
    """Whether anything since `since` explains a new instance of the container."""
    if h.exits.get((ns, pod, container), -INF) >= since:
        return True
    for probe in ("liveness", "startup"):
        key = (ns, pod, container, probe)
        passing, _ = h.probes.get(key, (True, -INF))
        if not passing or h.probe_failed_at.get(key, -INF) >= since:
            return True
    m = h.machines.get(node)
    return m is not None and m.last_down >= since


@law(
    "nodes.no-restart-without-cause",
    "The runtime starts a new instance of a container only after it exited, failed a liveness"
    " or startup probe, its spec changed or its machine rebooted; a failing readiness probe"
    " restarts nothing.",
    needs=_APPS,
    kinds=("Pod", "Node"),
    conformance=(
        "[sig-node] Probing container with readiness probe that fails should never be ready"
        " and never restart",
    ),
)
def no_restart_without_cause(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None or fresh[1].runtime is None:
        return
    h, cur = fresh
    prev = next((p for p in reversed(h.points[:-1]) if p.runtime is not None), None)
    if prev is None:
        return
    earlier = prev.running()
    for key, (node, entry) in cur.running().items():
        if key not in earlier:
            continue
        before = earlier[key][1]
        if (
            entry.get("restarts", 0) <= before.get("restarts", 0)
            or before.get("state") != "running"
        ):
            continue
        ns, pod = entry.get("namespace", ""), entry.get("pod", "")
        was, now_spec = prev.pods.get(key[0]), cur.pods.get(key[0])
        if (
            was is not None
            and now_spec is not None
            and _spec_container(was, key[1]) != _spec_container(now_spec, key[1])
        ):
            continue  # a changed container spec (its image) restarts the container
        if not _causes(h, prev.now, ns, pod, key[1], node):
            yield _violation(
                trace,
                "nodes.no-restart-without-cause",
                f"container {key[1]} of pod {ns}/{pod} on {node} was restarted (restarts"
                f" {before.get('restarts')} → {entry.get('restarts')}) although it did not exit,"
                " fail a liveness or startup probe, or lose its machine",
                entry,
            )
            return


@law(
    "nodes.failing-liveness-restarts",
    "A running container whose liveness probe keeps failing is killed within failureThreshold"
    " checks, one more period and its termination grace period.",
    needs=_APPS,
    kinds=("Pod", "Node"),
    conformance=(
        '[sig-node] Probing container should be restarted with a exec "cat /tmp/health"'
        " liveness probe",
    ),
)
def failing_liveness_restarts(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None or fresh[1].runtime is None:
        return
    h, cur = fresh
    running = cur.running()
    for (uid, container), (node, entry) in running.items():
        if entry.get("state") != "running":
            continue
        pod = cur.pods.get(uid)
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        spec = _spec_container(pod, container)
        timing = _probe_timing(spec, "livenessProbe")
        if timing is None or spec.get("startupProbe"):
            continue
        key = (entry.get("namespace", ""), entry.get("pod", ""), container, "liveness")
        passing, since = h.probes.get(key, (True, -INF))
        if passing:
            continue
        period, threshold = timing
        probe = spec.get("livenessProbe") or {}
        delay = float(probe.get("initialDelaySeconds") or 0)
        # The kill itself may take the grace period: SIGTERM first, SIGKILL at its end.
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        kill = float(
            grace if grace is not None else _param(info, "terminationGracePeriodSeconds", 30)
        )
        m = h.machines.get(node)
        if m is None or m.last_kubelet_restart >= since or not h.healthy_throughout(node, since):
            continue
        # The instance running now started before the answer turned failing or after it;
        # either way it had time for failureThreshold failing checks, one more period and
        # the kill's grace period.
        started = _started_at(pod, container)
        bound = delay + (threshold + 1) * period + kill
        if started is not None and cur.now - max(started, since) >= bound:
            yield _violation(
                trace,
                "nodes.failing-liveness-restarts",
                f"container {container} of pod {_name(pod)} has run {cur.now - started:g}s with a"
                f" liveness probe failing since {since:g}s and was not killed",
                pod,
                entry,
            )
            return


def _started_at(pod: Mapping[str, Any], container: str) -> float | None:
    for s, _ in _statuses(pod):
        if s.get("name") == container:
            return parse_time(((s.get("state") or {}).get("running") or {}).get("startedAt"))
    return None


# -- phases and machines ---------------------------------------------------------------------


@law(
    "nodes.terminal-phase-final",
    "A pod that reached Succeeded or Failed never changes phase again.",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
)
def terminal_phase_final(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    for prev in h.points[:-1]:
        for uid, pod in cur.pods.items():
            before = prev.pods.get(uid)
            was = ((before or {}).get("status") or {}).get("phase")
            now = (pod.get("status") or {}).get("phase")
            if was in _TERMINAL and now != was:
                yield _violation(
                    trace,
                    "nodes.terminal-phase-final",
                    f"pod {_name(pod)} went from phase {was} to {now}",
                    before,
                    pod,
                )
                return


@law(
    "nodes.pod-runs-on-one-machine",
    "The containers of a pod run on at most one machine at a time (runtime truth).",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
)
def pod_runs_on_one_machine(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    _, cur = fresh
    where: dict[str, set[str]] = {}
    for node, machine in (cur.runtime or {}).items():
        for entry in machine.get("containers") or ():
            if entry.get("state") == "running":
                where.setdefault(str(entry.get("uid", "")), set()).add(node)
    for uid, nodes in sorted(where.items()):
        if len(nodes) > 1:
            yield _violation(
                trace,
                "nodes.pod-runs-on-one-machine",
                f"pod uid {uid} runs on {len(nodes)} machines at once: {', '.join(sorted(nodes))}",
            )
            return


@law(
    "nodes.deleted-pods-stop-running",
    "Once a pod's object is gone and its machine has been up and connected for"
    " terminationGracePeriodSeconds, nothing of it runs there.",
    needs=_NEEDS,
    kinds=("Pod", "Node"),
    bugs=("kubernetes/kubernetes#30972",),
)
def deleted_pods_stop_running(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None or fresh[1].runtime is None:
        return
    h, cur = fresh
    grace = _param(info, "terminationGracePeriodSeconds", 30)
    for (uid, container), (node, entry) in cur.running().items():
        if entry.get("state") != "running" or uid not in h.gone_since:
            continue
        m = h.machines.get(node)
        if m is None or not (m.up and m.reachable):
            continue
        since = max(h.gone_since[uid], m.healthy_since)
        if cur.now >= since + grace:
            yield _violation(
                trace,
                "nodes.deleted-pods-stop-running",
                f"container {container} of deleted pod {entry.get('namespace')}/{entry.get('pod')}"
                f" still runs on {node}, {cur.now - since:g}s after the pod was gone and the"
                " machine connected",
                entry,
            )
            return


# -- node health and eviction -----------------------------------------------------------------


def _heard(node: Mapping[str, Any], lease: Mapping[str, Any] | None) -> float | None:
    times = [parse_time(condition(node, "Ready").get("lastHeartbeatTime"))]
    if lease is not None:
        times.append(parse_time((lease.get("spec") or {}).get("renewTime")))
    found = [t for t in times if t is not None]
    return max(found) if found else None


@law(
    "nodes.unknown-after-grace",
    "A node's Ready condition turns Unknown after nodeMonitorGracePeriodSeconds without a"
    " heartbeat, and no later than two monitor periods after that.",
    needs=_FAULTS,
    kinds=("Node", "Lease"),
)
def unknown_after_grace(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    grace = _param(info, "nodeMonitorGracePeriodSeconds", 50)
    period = _param(info, "nodeMonitorPeriodSeconds", 5)
    law_id = "nodes.unknown-after-grace"
    for name, node in sorted(cur.nodes.items()):
        ready = condition(node, "Ready")
        heard = _heard(node, cur.leases.get(name))
        if heard is None or not ready:
            continue
        status = ready.get("status")
        turned = parse_time(ready.get("lastTransitionTime"))
        early = turned is not None and heard < turned and turned + 1 <= heard + grace
        early = early and h.lag_clear(_NLC) <= heard
        if status == "Unknown" and early:
            yield _violation(
                trace,
                law_id,
                f"node {name} turned Unknown at {ready.get('lastTransitionTime')}, only"
                f" {(turned or 0) - heard:g}s after its last heartbeat; the grace period is"
                f" {grace:g}s",
                node,
            )
            return
        # A restarted controller gives every node a fresh grace period (upstream's probe
        # timestamp starts when it first sees the node).
        since = max(heard, h.restarted.get(_NLC, -INF))
        late = cur.now > since + grace + 2 * period + 1
        if status == "True" and late and h.lag_clear(_NLC) <= heard and name in h.machines:
            yield _violation(
                trace,
                law_id,
                f"node {name} is still Ready {cur.now - since:g}s after its last heartbeat;"
                f" it should be Unknown after {grace:g}s (+ {2 * period:g}s)",
                node,
            )
            return


def _evictions(cur: Point, prev: Point | None) -> Iterator[tuple[Mapping[str, Any], float]]:
    """Pods the taint manager began evicting since the previous observation, with when."""
    for uid, pod in cur.pods.items():
        c = condition(pod, "DisruptionTarget")
        if c.get("reason") != "DeletionByTaintManager":
            continue
        before = prev.pods.get(uid) if prev is not None else None
        if before is not None and condition(before, "DisruptionTarget").get("reason") == c.get(
            "reason"
        ):
            continue
        at = parse_time(c.get("lastTransitionTime"))
        if at is not None:
            yield pod, at


def _no_execute(node: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [
        t
        for t in ((node or {}).get("spec") or {}).get("taints") or ()
        if t.get("effect") == "NoExecute"
    ]


@law(
    "nodes.eviction-waits-for-toleration",
    "Taint-based eviction deletes a pod no earlier than tolerationSeconds after its node got"
    " the NoExecute taint.",
    needs=_FAULTS,
    kinds=("Pod", "Node"),
    conformance=(
        "[sig-node] NoExecuteTaintManager Single Pod [Serial] removing taint cancels eviction",
    ),
)
def eviction_waits_for_toleration(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    for pod, at in _evictions(cur, h.previous):
        node = (pod.get("spec") or {}).get("nodeName", "")
        taints = _no_execute(cur.nodes.get(node)) or _no_execute(
            h.previous.nodes.get(node) if h.previous else None
        )
        since = h.tainted_since.get(node)
        if not taints or since is None:
            continue
        delay = eviction_delay((pod.get("spec") or {}).get("tolerations") or (), taints)
        if delay is None:
            delay = INF
        if at + 1 < since + delay:
            yield _violation(
                trace,
                "nodes.eviction-waits-for-toleration",
                f"pod {_name(pod)} was evicted at {at:g}s, {at - since:g}s after its node {node}"
                f" was tainted; it tolerates the taint for {delay:g}s",
                pod,
                cur.nodes.get(node),
            )
            return


@law(
    "nodes.no-eviction-in-full-disruption",
    "While every node is unhealthy the control plane assumes it is the one cut off and evicts"
    " nothing.",
    needs=_FAULTS,
    kinds=("Pod", "Node"),
    bugs=("kubernetes/kubernetes#24597",),
)
def no_eviction_in_full_disruption(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    prev = h.previous
    if not cur.nodes or (prev is not None and not set(prev.nodes) <= set(cur.nodes)):
        return
    period = _param(info, "nodeMonitorPeriodSeconds", 5)
    managed = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    for pod, at in _evictions(cur, prev):
        node = (pod.get("spec") or {}).get("nodeName", "")
        if any(t.get("key") not in managed for t in _no_execute(cur.nodes.get(node))):
            continue
        # A node's Ready lastTransitionTime is its last change: unhealthy since then.
        unhealthy_since: list[float] = []
        for n in cur.nodes.values():
            ready = condition(n, "Ready")
            turned = parse_time(ready.get("lastTransitionTime"))
            healthy = ready.get("status") == "True" or turned is None
            unhealthy_since.append(INF if healthy or turned is None else turned)
        since = max(unhealthy_since)
        if since + 2 * period <= at and h.lag_clear(_NLC) + 2 * period <= at:
            yield _violation(
                trace,
                "nodes.no-eviction-in-full-disruption",
                f"pod {_name(pod)} was evicted at {at:g}s while every node had been unhealthy"
                f" since {since:g}s",
                pod,
            )
            return


@law(
    "nodes.pods-on-unknown-nodes-not-ready",
    "Pods on a node whose Ready condition has been Unknown for two monitor periods are not"
    " Ready, even when the controller restarted meanwhile.",
    needs=_FAULTS,
    kinds=("Pod", "Node"),
    bugs=("kubernetes/kubernetes#50067",),
)
def pods_on_unknown_nodes_not_ready(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    period = _param(info, "nodeMonitorPeriodSeconds", 5)
    unknown: dict[str, float] = {}
    for name, node in cur.nodes.items():
        ready = condition(node, "Ready")
        turned = parse_time(ready.get("lastTransitionTime"))
        if ready.get("status") == "Unknown" and turned is not None:
            unknown[name] = max(turned, h.lag_clear(_NLC))
    for pod in cur.pods.values():
        bound = str((pod.get("spec") or {}).get("nodeName") or "")
        if bound not in unknown or not is_ready(pod):
            continue
        if (pod.get("status") or {}).get("phase") in _TERMINAL:
            continue
        if cur.now >= unknown[bound] + 2 * period:
            yield _violation(
                trace,
                "nodes.pods-on-unknown-nodes-not-ready",
                f"pod {_name(pod)} is Ready on node {bound}, whose Ready condition has been"
                f" Unknown since {unknown[bound]:g}s",
                pod,
                cur.nodes[bound],
            )
            return


@law(
    "nodes.kubelet-restart-keeps-readiness",
    "A kubelet restart alone never turns a Ready pod not Ready.",
    scope="strict",
    needs=_FAULTS,
    kinds=("Pod", "Node"),
    bugs=("kubernetes/kubernetes#78733",),
)
def kubelet_restart_keeps_readiness(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None:
        return
    h, cur = fresh
    for uid, node in sorted(h.ready_at_kubelet_restart.items()):
        pod = cur.pods.get(uid)
        if pod is not None and not is_ready(pod):
            yield _violation(
                trace,
                "nodes.kubelet-restart-keeps-readiness",
                f"pod {_name(pod)} was Ready when the kubelet of {node} restarted and is not Ready"
                " now, with nothing else having happened to it",
                pod,
            )
            return


# -- configuration ------------------------------------------------------------------------------


def _env_sources(container: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str | None, str]]:
    """(env name, kind, object, key or None for all keys, prefix) per config-sourced variable."""
    for source in container.get("envFrom") or ():
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(field)
            if isinstance(ref, Mapping):
                yield "", kind, str(ref.get("name", "")), None, str(source.get("prefix") or "")
    for var in container.get("env") or ():
        source = var.get("valueFrom") or {}
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = source.get(field)
            if isinstance(ref, Mapping):
                yield (
                    str(var.get("name", "")),
                    kind,
                    str(ref.get("name", "")),
                    str(ref.get("key", "")),
                    "",
                )


@law(
    "nodes.env-from-config",
    "A container's environment holds values its ConfigMaps and Secrets actually had (decoded),"
    " under the names the pod asked for.",
    needs=_NEEDS,
    kinds=("Pod", "ConfigMap", "Secret"),
    conformance=(
        "[sig-node] ConfigMap should be consumable via environment variable",
        "[sig-node] Secrets should be consumable from pods in env vars",
    ),
)
def env_from_config(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None or fresh[1].runtime is None:
        return
    h, cur = fresh
    for (uid, container), (_node, entry) in sorted(cur.running().items()):
        pod = h.pods.get(uid)
        if pod is None or entry.get("state") != "running":
            continue
        env = entry.get("env") or {}
        ns = (pod.get("metadata") or {}).get("namespace", "")
        for name, kind, obj, key, prefix in _env_sources(_spec_container(pod, container)):
            if key is not None:
                seen = h.config_values.get((kind, ns, obj, key))
                if name in env and seen is not None and env[name] not in seen:
                    yield _env_violation(trace, pod, container, name, env[name], kind, obj, key)
                    return
                continue
            for (k_kind, k_ns, k_obj, k_key), seen in h.config_values.items():
                if (k_kind, k_ns, k_obj) != (kind, ns, obj):
                    continue
                var = prefix + k_key
                if var in env and env[var] not in seen:
                    yield _env_violation(trace, pod, container, var, env[var], kind, obj, k_key)
                    return


def _env_violation(
    trace: Trace, pod: Any, container: str, var: str, value: str, kind: str, obj: str, key: str
) -> Violation:
    return _violation(
        trace,
        "nodes.env-from-config",
        f"container {container} of pod {_name(pod)} has {var}={value!r}, a value key {key!r} of"
        f" {kind} {obj} never had",
        pod,
    )


@law(
    "nodes.files-follow-config",
    "Once the cluster settles, files projected from ConfigMaps and Secrets hold their current"
    " values.",
    kind="liveness",
    needs=_NEEDS,
    kinds=("Pod", "ConfigMap", "Secret"),
    conformance=("[sig-storage] ConfigMap updates should be reflected in volume",),
)
def files_follow_config(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    fresh = _fresh(trace)
    if fresh is None or fresh[1].runtime is None or not fresh[0].settled:
        return
    h, cur = fresh
    snapshot: Mapping[Any, Mapping[str, Any]] = trace.snapshot or {}

    def lookup(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return snapshot.get((kind, namespace, name))

    for (uid, container), (node, entry) in sorted(cur.running().items()):
        pod = cur.pods.get(uid)
        if pod is None or entry.get("state") != "running":
            continue
        if (pod.get("metadata") or {}).get("deletionTimestamp") or not h.healthy_throughout(
            node, cur.now
        ):
            continue
        spec = _spec_container(pod, container)
        if any(m.get("subPath") for m in spec.get("volumeMounts") or ()):
            continue
        try:
            expected = files_for(pod, spec, lookup)
        except MountError:
            continue
        if dict(entry.get("files") or {}) != expected:
            yield _violation(
                trace,
                "nodes.files-follow-config",
                f"container {container} of pod {_name(pod)} on {node} sees files"
                f" {dict(entry.get('files') or {})}, but its ConfigMaps and Secrets say {expected}",
                pod,
                entry,
            )
            return
