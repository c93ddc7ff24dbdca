"""The kubelet: one pure sync of a machine against the pods bound to it.

`sync` is what a kubelet does at one instant: kill what runs for pods that
are gone, finish the termination of pods being deleted, start, probe and
restart containers per restartPolicy with the CrashLoopBackOff back-off, and
report each pod's status. It returns the machine as it is afterwards, the
API writes (none while the node is cut off from the API server), and when it
next has something to do: a back-off ending, a probe result flipping, a
grace period running out. Between those moments an idle kubelet costs
nothing.

Choices where upstream leaves time to the implementation: a container
starts in the instant the kubelet decides to start it, and a liveness or
startup kill is immediate; a pod being deleted keeps running until its
deletionTimestamp (a simulated process ignores SIGTERM) and then exits 137.
A pod being deleted with nothing running (never started, crash-looping, or
its machine rebooted) is finished at once. Its final status is upstream's
TerminatePod one (`podstatus.terminated_status`): always a terminal phase,
so the object is then deleted with grace 0, as the status manager's
`canBeDeleted` allows.

Before it runs a pod for the first time the kubelet admits it (`admit`,
upstream's predicate admit handler): the pods not admitted yet, oldest
first, each against the node as the kubelet reads it and the pods it has
admitted and not finished. A pod that does not fit is rejected: it turns
Failed with upstream's reason and message and never runs. A pod counts as
admitted once this machine holds anything of it (an address or a
container), so a kubelet restart or a reboot does not admit its pods again;
upstream admits every pod afresh then (docs/fidelity.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from properties.placement import NodeFacts, NodeUsage, Placement, PodFacts, node_ports_filter
from properties.podconfig import ConfigError, Lookup, MountError, env_for, files_for
from properties.scheduling_terms import pod_matches_node_affinity, untolerated_taints
from reference import probes
from reference.constants import TIMING_PARAMETERS
from reference.podstatus import TERMINAL, ContainerView, PodView, pod_status, rejected_status
from reference.runtime import (
    Apps,
    BackOff,
    ContainerKey,
    Instance,
    KubeletMemory,
    Machine,
    ProbeRecord,
    Termination,
)
from reference.timefmt import format_time, normalize, parse_time

__all__ = ["KubeletPolicy", "Rejection", "SyncResult", "admit", "restart_allowed", "sync"]

EXIT_KILLED = 137
#: A pod worker whose sync failed (an image pull) tries again this much later (backOffPeriod).
POD_WORKER_REQUEUE = 10.0
#: How long after a kubelet restart a probe worker that lost its results first counts a check.
RESTARTED_WORKER_DELAY = 0.001
EXIT_LOST = 255


def restart_allowed(policy: str, exit_code: int) -> bool:
    """Pod restartPolicy: Always restarts, OnFailure only after a failure, Never never."""
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


@attrs.frozen
class KubeletPolicy:
    """The kubelet's choices that mutants replace."""

    #: Whether a container may restart after exiting with a code under a restartPolicy.
    restart_allowed: Any = restart_allowed
    #: First CrashLoopBackOff delay, and its cap (None: no cap).
    backoff_initial: float = float(TIMING_PARAMETERS["crashLoopBackOffInitialSeconds"])
    backoff_max: float | None = float(TIMING_PARAMETERS["crashLoopBackOffMaxSeconds"])
    #: Probe results survive a kubelet restart (upstream forgets them, #78733).
    keep_probe_results_on_restart: bool = True
    #: After the link returns, pods missing from the relist are dropped (and their containers
    #: killed); False keeps running what was deleted meanwhile (#30972).
    relist_drops_missing: bool = True
    #: The relist asks only for pods bound to this node (False: it runs every pod it lists).
    relist_filters_by_node: bool = True
    #: A failing readiness probe makes the container not ready (False: ignored).
    readiness_counts: bool = True
    #: A failing readiness probe also kills the container, as liveness does (a mix-up).
    readiness_kills: bool = False
    #: A failing liveness probe kills the container (False: ignored).
    liveness_kills: bool = True
    #: A terminal phase is final, and a rebooted machine remembers its exited containers.
    terminal_is_final: bool = True
    #: Secret values reach env decoded from base64 (False: the base64 text itself).
    decode_secrets: bool = True
    #: Projected ConfigMap and Secret files follow the objects (False: fixed at start).
    refresh_files: bool = True
    #: restartCount survives a kubelet restart (False: counted in kubelet memory).
    restart_count_survives_restart: bool = True
    #: Resources admission leaves out of its fit check. Upstream's kubelet and scheduler share
    #: noderesources.Fits, so a resource missing from it is missing from both (a mutant).
    fit_ignores: frozenset[str] = frozenset()


DEFAULT_KUBELET = KubeletPolicy()


@attrs.frozen
class SyncResult:
    machine: Machine
    writes: tuple[dict[str, Any], ...]
    wake_at: float | None


def _later(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _next_backoff(
    entry: BackOff | None, now: float, finished: float, cap: float | None, initial: float
) -> BackOff:
    if entry is None or _expired(entry, finished):
        return BackOff(initial, now)
    doubled = entry.delay * 2
    return BackOff(doubled if cap is None else min(doubled, cap), now)


def _expired(entry: BackOff, finished: float) -> bool:
    return finished - entry.updated > TIMING_PARAMETERS["crashLoopBackOffResetSeconds"]


# -- admission -------------------------------------------------------------------------------------

#: The OS of every simulated machine (upstream compares with the kubelet's runtime.GOOS).
_OS = "linux"
_OS_LABEL = "kubernetes.io/os"
#: NodeResourcesFit checks these first, in this order, after the pod count; then the rest.
_FIRST_RESOURCES = ("cpu", "memory", "ephemeral-storage")


@attrs.frozen
class Rejection:
    """Why the kubelet refuses a pod: upstream's PodAdmitResult reason and message."""

    reason: str
    message: str


def _extended(resource: str) -> bool:
    """v1helper.IsExtendedResourceName: namespaced outside kubernetes.io, not a quota name."""
    return (
        "/" in resource
        and "kubernetes.io/" not in resource
        and not resource.startswith("requests.")
    )


def _predicate(name: str, reason: str) -> Rejection:
    """A PredicateFailureError: the reason is the plugin's name."""
    return Rejection(name, f"Predicate {name} failed: {reason}")


def _insufficient(resource: str, requested: int, used: int, capacity: int) -> Rejection:
    """An InsufficientResourceError: reason OutOf<resource> (OutOfcpu, OutOfpods, ...)."""
    return Rejection(
        f"OutOf{resource}",
        f"Node didn't have enough resource: {resource}, requested: {requested},"
        f" used: {used}, capacity: {capacity}",
    )


def _resources(pod: PodFacts, node: NodeFacts, usage: NodeUsage) -> Rejection | None:
    """noderesources.Fits as the kubelet calls it: the first resource that does not fit.

    Requests of extended resources the node does not have at all are
    dropped first (removeMissingExtendedResources).
    """
    allowed = node.allocatable.get("pods", 0)
    if len(usage.pods) + 1 > allowed:
        return _insufficient("pods", 1, len(usage.pods), allowed)
    rest = sorted(r for r in pod.requests if r not in _FIRST_RESOURCES)
    for resource in (*_FIRST_RESOURCES, *rest):
        asked = pod.requests.get(resource, 0)
        if asked <= 0 or (_extended(resource) and resource not in node.allocatable):
            continue
        capacity = node.allocatable.get(resource, 0)
        used = usage.requested.get(resource, 0)
        if asked > capacity - used:
            return _insufficient(resource, asked, used, capacity)
    return None


def _os_mismatch(pod: Mapping[str, Any]) -> Rejection | None:
    """The checks before generalFilter, which no preemption could help."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if _OS_LABEL in labels and labels[_OS_LABEL] != _OS:
        return Rejection(
            "PodOSSelectorNodeLabelDoesNotMatch",
            "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label",
        )
    os_name = ((pod.get("spec") or {}).get("os") or {}).get("name")
    if os_name is not None and os_name != _OS:
        return Rejection(
            "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS"
        )
    return None


def admit(
    pod: Mapping[str, Any], node: Mapping[str, Any], admitted: Sequence[Mapping[str, Any]]
) -> Rejection | None:
    """Whether the kubelet admits `pod` beside the `admitted` pods: None, or why not.

    upstream's predicate admit handler (pkg/kubelet/lifecycle/predicate.go):
    the pod's `kubernetes.io/os` label and `spec.os`, then generalFilter —
    scheduler.AdmissionCheck (NodeResourcesFit, NodeAffinity with the
    nodeSelector, NodeName, NodePorts) and the node's NoExecute taints —
    of which the first failure is the answer. The other admit handlers
    (eviction, sysctls, topology, shutdown) have nothing to refuse in a
    simulated machine, and the critical-pod preemption that may follow a
    resource failure is not modelled.
    """
    usage = NodeUsage()
    for other in admitted:
        usage = usage.plus(PodFacts.of(other))
    facts = PodFacts.of(pod)
    return _os_mismatch(pod) or _general_filter(pod, facts, node, NodeFacts.of(node), usage)


def _general_filter(
    pod: Mapping[str, Any],
    facts: PodFacts,
    node: Mapping[str, Any],
    node_facts: NodeFacts,
    usage: NodeUsage,
) -> Rejection | None:
    """generalFilter: AdmissionCheck's failures in its order, then the NoExecute taints."""
    failure = _resources(facts, node_facts, usage)
    if failure is not None:
        return failure
    if not pod_matches_node_affinity(pod, node):
        return _predicate("NodeAffinity", "node(s) didn't match Pod's node affinity/selector")
    if facts.node_name and facts.node_name != node_facts.name:
        return _predicate("NodeName", "node(s) didn't match the requested node name")
    placement = Placement((node_facts,), {node_facts.name: usage})
    ports = node_ports_filter(facts, node_facts, placement)
    if ports is not None:
        return _predicate(ports.plugin, ports.reason)
    if untolerated_taints(facts.tolerations, node_facts.taints, ("NoExecute",)):
        return _predicate("TaintToleration", "node(s) had taints that the pod didn't tolerate")
    return None


def _created(pod: Mapping[str, Any]) -> float:
    stamp = (pod.get("metadata") or {}).get("creationTimestamp")
    return parse_time(stamp) if isinstance(stamp, str) and stamp else 0.0


def _waiting(
    machine: Machine, pods: Mapping[str, Mapping[str, Any]], present: set[str]
) -> set[str]:
    """The pods up for admission: bound to this node, not finished, not being deleted
    (upstream skips a pod whose termination was requested), and nothing of them here yet."""
    return {
        uid
        for uid, pod in pods.items()
        if uid not in present
        and (pod.get("spec") or {}).get("nodeName") == machine.name
        and (pod.get("status") or {}).get("phase") not in TERMINAL
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
    }


def _admissions(
    waiting: list[Mapping[str, Any]],
    alive: list[Mapping[str, Any]],
    node: Mapping[str, Any] | None,
    now: float,
    ignored: frozenset[str] = frozenset(),
) -> dict[str, dict[str, Any]]:
    """HandlePodAdditions: the rejected pods among the `waiting` ones, with their status.

    They go oldest first (upstream sorts by creationTimestamp; ties by name
    here), each against the `alive` admitted pods and those admitted before
    it. A kubelet that cannot read its Node admits everything (upstream
    falls back to the node it registered).
    """
    if node is None:
        return {}
    node_facts = NodeFacts.of(node)
    usage = NodeUsage()
    for other in alive:
        usage = usage.plus(PodFacts.of(other))
    rejected: dict[str, dict[str, Any]] = {}
    ordered = sorted(
        waiting,
        key=lambda p: (_created(p), p["metadata"].get("namespace", ""), p["metadata"]["name"]),
    )
    for pod in ordered:
        facts = PodFacts.of(pod)
        if ignored:
            kept = {r: q for r, q in facts.requests.items() if r not in ignored}
            facts = attrs.evolve(facts, requests=kept)
        rejection = _os_mismatch(pod) or _general_filter(pod, facts, node, node_facts, usage)
        if rejection is None:
            usage = usage.plus(facts)
        else:
            rejected[pod["metadata"]["uid"]] = rejected_status(
                pod, rejection.reason, rejection.message, now
            )
    return rejected


@attrs.define
class _Sync:
    """The mutable workspace of one sync; everything in and out is immutable."""

    machine: Machine
    apps: Apps
    lookup: Lookup | None
    now: float
    policy: KubeletPolicy
    containers: dict[ContainerKey, Instance]
    memory: KubeletMemory
    images: Any
    pod_ips: PMap[str, int]
    writes: list[dict[str, Any]] = attrs.field(factory=list)
    wake_at: float | None = None

    def wake(self, at: float | None) -> None:
        if at is not None and at > self.now:
            self.wake_at = _later(self.wake_at, normalize(at))

    # -- starting containers ------------------------------------------------------------------
    def start(
        self, pod: Mapping[str, Any], spec: Mapping[str, Any], prev: Instance | None, init: bool
    ) -> Instance:
        meta = pod["metadata"]
        uid = meta["uid"]
        key = (uid, spec["name"])
        image = str(spec.get("image", ""))
        ran_before = prev is not None and (prev.state == "exited" or prev.previous is not None)
        restarts = 0
        if prev is not None:
            restarts = prev.restarts + (1 if prev.state == "exited" else 0)
        previous = prev.ended if prev is not None and prev.state == "exited" else None
        if prev is not None and prev.state == "waiting":
            previous = prev.previous
        base = Instance(
            namespace=meta.get("namespace", ""),
            pod=meta["name"],
            uid=uid,
            container=spec["name"],
            image=image,
            state="waiting",
            restarts=restarts if ran_before else 0,
            previous=previous,
        )
        if image not in self.images or spec.get("imagePullPolicy") == "Always":
            entry = self.memory.pull_backoff.get(key)
            if entry is not None and self.now < entry.updated + entry.delay:
                self.wake(entry.updated + entry.delay)
                return attrs.evolve(
                    base,
                    waiting_reason="ImagePullBackOff",
                    waiting_message=f'Back-off pulling image "{image}"',
                )
            if image in self.apps.failing_images:
                nxt = _next_backoff(entry, self.now, self.now, 300.0, 10.0)
                self.memory = attrs.evolve(
                    self.memory, pull_backoff=self.memory.pull_backoff.set(key, nxt)
                )
                self.wake(self.now + nxt.delay)
                self.wake(self.now + POD_WORKER_REQUEUE)
                return attrs.evolve(
                    base,
                    waiting_reason="ErrImagePull",
                    waiting_message=f'failed to pull image "{image}"',
                )
            self.images = self.images.add(image)
            self.memory = attrs.evolve(
                self.memory, pull_backoff=self.memory.pull_backoff.discard(key)
            )
        pod_ip = self.machine.pod_ip(self.pod_ips[uid]) if uid in self.pod_ips else ""
        lookup = self.lookup or (lambda kind, ns, name: None)
        try:
            env = env_for(
                pod,
                spec,
                lookup,
                pod_ip,
                self.machine.node_ip,
                decode_secrets=self.policy.decode_secrets,
            )
            files = files_for(pod, spec, lookup)
        except ConfigError as e:
            return attrs.evolve(
                base, waiting_reason="CreateContainerConfigError", waiting_message=str(e)
            )
        except MountError as e:
            return attrs.evolve(
                base, waiting_reason="ContainerCreating", waiting_message=f"MountVolume: {e}"
            )
        for probe in ("liveness", "readiness", "startup"):
            if probes.settings(spec, probe) is not None:
                passing, _ = self.apps.probe(
                    meta.get("namespace", ""), meta["name"], spec["name"], probe
                )
                record = probes.initial_record(probe, passing, self.now)
                self.set_probe((uid, spec["name"], probe), record)
        return attrs.evolve(
            base, state="running", started_at=self.now, env=pmap(env), files=pmap(files)
        )

    def set_probe(self, key: tuple[str, str, str], record: ProbeRecord) -> None:
        self.memory = attrs.evolve(self.memory, probes=self.memory.probes.set(key, record))

    # -- probing --------------------------------------------------------------------------------
    def probe(
        self,
        pod: Mapping[str, Any],
        spec: Mapping[str, Any],
        inst: Instance,
        kind: str,
        gate: float | None,
    ) -> bool | None:
        """The probe's result now, keeping its record current (None: no such probe, or Unknown)."""
        s = probes.settings(spec, kind)
        if s is None:
            return None
        assert inst.started_at is not None
        key = (inst.uid, inst.container, kind)
        meta = pod["metadata"]
        uid = inst.uid
        anchor = self.memory.workers.get(uid)
        if anchor is None:
            anchor = self.now
            self.memory = attrs.evolve(self.memory, workers=self.memory.workers.set(uid, anchor))
        record = self.memory.probes.get(key)
        if record is None:
            # A worker that starts on a running container (a restarted kubelet that lost its
            # results) begins from the initial result; its first check comes a period after
            # the restart (upstream: a random part of a period), never in its instant.
            record = probes.initial_record(kind, True, normalize(self.now + RESTARTED_WORKER_DELAY))
        passing, since = self.apps.probe(
            meta.get("namespace", ""), meta["name"], inst.container, kind
        )
        record = probes.with_answer(
            record, s, anchor, inst.started_at, gate, passing, max(since, record.since)
        )
        record, flip = probes.settle(record, s, anchor, inst.started_at, gate, self.now)
        self.set_probe(key, record)
        self.wake(flip)
        return record.result

    def started_gate(
        self, pod: Mapping[str, Any], spec: Mapping[str, Any], inst: Instance
    ) -> float | None:
        """When the container counted as started (None: not yet, its startup probe pending)."""
        assert inst.started_at is not None
        if probes.settings(spec, "startup") is None:
            return inst.started_at
        if self.probe(pod, spec, inst, "startup", inst.started_at) is True:
            return self.memory.probes[(inst.uid, inst.container, "startup")].since
        return None

    # -- stopping -------------------------------------------------------------------------------
    def stop(self, inst: Instance, code: int, reason: str) -> Instance:
        assert inst.started_at is not None
        ended = Termination(code, reason, inst.started_at, self.now)
        return attrs.evolve(inst, state="exited", ended=ended)

    # -- one pod --------------------------------------------------------------------------------
    def pod(self, pod: Mapping[str, Any]) -> dict[str, Any]:
        """Bring one pod's containers where they should be; the status to report."""
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        uid = meta["uid"]
        policy = spec.get("restartPolicy", "Always")
        previous_phase = (pod.get("status") or {}).get("phase")
        deleting = meta.get("deletionTimestamp")
        deadline = parse_time(deleting) if deleting else None
        if uid not in self.pod_ips and previous_phase not in TERMINAL and deadline is None:
            used = set(self.pod_ips.values())
            host = next((h for h in range(1, 255) if h not in used), None)
            if host is not None:
                self.pod_ips = self.pod_ips.set(uid, host)
        final = previous_phase in TERMINAL and self.policy.terminal_is_final
        finishing = final or (deadline is not None and self.now >= deadline)
        inits: list[ContainerView] = []
        blocked = False  # an init container before this one has not finished
        for c in spec.get("initContainers") or ():
            inits.append(self.container(pod, c, policy, True, blocked, finishing, deadline))
            blocked = blocked or not _init_done(inits[-1])
        mains = [
            self.container(pod, c, policy, False, blocked, finishing, deadline)
            for c in spec.get("containers") or ()
        ]
        views = {"init": inits, "main": mains}
        running = any(
            v.instance is not None and v.instance.state == "running"
            for v in views["init"] + views["main"]
        )
        if deadline is not None and not running:
            finishing = True
        elif deadline is not None:
            self.wake(deadline)
        view = PodView(
            containers=tuple(views["main"]),
            init_containers=tuple(views["init"]),
            restart_policy=policy,
            terminal=deadline is not None and not running,
            sandbox=uid in self.pod_ips and not finishing,
            pod_ip=self.machine.pod_ip(self.pod_ips[uid]) if uid in self.pod_ips else None,
            host_ip=self.machine.node_ip,
        )
        return pod_status(pod, view, self.now, keep_terminal=self.policy.terminal_is_final)

    def container(
        self,
        pod: Mapping[str, Any],
        spec: Mapping[str, Any],
        policy: str,
        init: bool,
        blocked: bool,
        finishing: bool,
        deadline: float | None,
    ) -> ContainerView:
        uid = pod["metadata"]["uid"]
        name = spec["name"]
        key = (uid, name)
        sidecar = init and spec.get("restartPolicy") == "Always"
        inst = self.containers.get(key)
        view = ContainerView(
            name=name, image=str(spec.get("image", "")), instance=inst, sidecar=sidecar
        )
        if finishing:
            if inst is not None and inst.state == "running":
                inst = self.stop(inst, EXIT_KILLED, "Error")
                self.containers[key] = inst
            return attrs.evolve(view, instance=inst)
        if blocked:
            return view
        terminating = deadline is not None
        if inst is not None and inst.state == "running":
            gate = self.started_gate(pod, spec, inst)
            if not terminating:
                startup = probes.settings(spec, "startup")
                if startup is not None and gate is None:
                    failed = self.memory.probes[(uid, name, "startup")].result is False
                    if failed:
                        inst = self.stop(inst, EXIT_KILLED, "Error")
                elif (
                    self.policy.liveness_kills
                    and self.probe(pod, spec, inst, "liveness", gate) is False
                ):
                    inst = self.stop(inst, EXIT_KILLED, "Error")
            readiness = self.probe(pod, spec, inst, "readiness", gate)
            failing = readiness is False and gate is not None
            if failing and self.policy.readiness_kills and not terminating:
                inst = self.stop(inst, EXIT_KILLED, "Error")
            if inst.state == "running":
                if self.lookup is not None and self.policy.refresh_files:
                    with contextlib.suppress(MountError):
                        files = files_for(pod, spec, self.lookup)
                        for mount in spec.get("volumeMounts") or ():
                            path = str(mount.get("mountPath", "")).rstrip("/")
                            if mount.get("subPath") and path in inst.files:
                                files[path] = inst.files[path]  # subPath files never refresh
                        inst = attrs.evolve(inst, files=pmap(files))
                self.containers[key] = inst
                ready = gate is not None and (
                    readiness is not False or not self.policy.readiness_counts
                )
                if init and not sidecar:
                    ready = False
                return attrs.evolve(view, instance=inst, started=gate is not None, ready=ready)
            self.containers[key] = inst
        if terminating:
            return attrs.evolve(view, instance=inst)
        if inst is not None and inst.state == "exited":
            assert inst.ended is not None
            effective = "Always" if sidecar else policy
            if init and not sidecar and inst.ended.exit_code == 0:
                return attrs.evolve(view, instance=inst)
            if not self.policy.restart_allowed(effective, inst.ended.exit_code):
                return attrs.evolve(view, instance=inst)
            entry = self.memory.backoff.get(key)
            finished = inst.ended.finished_at
            if (
                entry is not None
                and not _expired(entry, finished)
                and self.now - finished < entry.delay
            ):
                self.wake(finished + entry.delay)
                message = (
                    f"back-off {int(entry.delay)}s restarting failed container={name}"
                    f" pod={pod['metadata']['name']}_{pod['metadata'].get('namespace', '')}({uid})"
                )
                return attrs.evolve(view, instance=inst, backing_off=True, backoff_message=message)
            self.memory = attrs.evolve(
                self.memory,
                backoff=self.memory.backoff.set(
                    key,
                    _next_backoff(
                        entry,
                        self.now,
                        finished,
                        self.policy.backoff_max,
                        self.policy.backoff_initial,
                    ),
                ),
            )
        inst = self.start(pod, spec, inst, init)
        self.containers[key] = inst
        if inst.state != "running":
            return attrs.evolve(view, instance=inst)
        return self.container(pod, spec, policy, init, False, False, deadline)


def sync(
    machine: Machine,
    node: Mapping[str, Any] | None,
    lookup: Lookup | None,
    apps: Apps,
    now: float,
    policy: KubeletPolicy = DEFAULT_KUBELET,
    *,
    connected: bool = True,
) -> SyncResult:
    """One kubelet sync at `now` (see the module docstring).

    `lookup` reads the API, or the kubelet's caches when it is not `connected`
    (then it writes nothing); the pods are the
    kubelet's own list, `machine.kubelet.pods`, which the cluster keeps
    current while the node is reachable.
    """
    if not machine.up:
        return SyncResult(attrs.evolve(machine, dirty=False, wake_at=None), (), None)
    work = _Sync(
        machine=machine,
        apps=apps,
        lookup=lookup,
        now=now,
        policy=policy,
        containers=dict(machine.containers),
        memory=machine.kubelet,
        images=machine.images,
        pod_ips=machine.pod_ips,
    )
    pods = machine.kubelet.pods
    if machine.kubelet.listed:
        for key in [k for k in work.containers if k[0] not in pods]:
            del work.containers[key]
        for uid in [u for u in work.pod_ips if u not in pods]:
            work.pod_ips = work.pod_ips.discard(uid)
        workers = work.memory.workers
        for uid in [u for u in workers if u not in pods]:
            workers = workers.discard(uid)
        work.memory = attrs.evolve(work.memory, workers=workers)
    present = set(work.pod_ips) | {k[0] for k in work.containers}
    waiting = _waiting(machine, pods, present)
    ordered = sorted(
        pods.items(),
        key=lambda e: (e[1]["metadata"].get("namespace", ""), e[1]["metadata"]["name"]),
    )
    statuses: dict[str, Mapping[str, Any]] = {}
    for uid, pod in ordered:
        if uid in waiting:
            continue
        if uid not in present and (pod.get("status") or {}).get("phase") in TERMINAL:
            statuses[uid] = pod.get("status") or {}  # turned away before it ran here
        else:
            statuses[uid] = work.pod(pod)
    if waiting:
        running = {k[0] for k, i in work.containers.items() if i.state == "running"}
        alive = [
            pod
            for uid, pod in ordered
            if uid in present and (statuses[uid].get("phase") not in TERMINAL or uid in running)
        ]
        known = node if node is not None or lookup is None else lookup("Node", "", machine.name)
        rejected = _admissions([pods[u] for u in waiting], alive, known, now, policy.fit_ignores)
        for uid, pod in ordered:
            if uid in waiting:
                statuses[uid] = rejected[uid] if uid in rejected else work.pod(pod)
    for uid, pod in ordered:
        status = statuses[uid]
        if not connected or (pod.get("spec") or {}).get("nodeName") != machine.name:
            continue
        if status != pod.get("status"):
            work.writes.append({"op": "status", "object": {**pod, "status": status}})
        deleting = pod["metadata"].get("deletionTimestamp")
        if (
            deleting
            and status["phase"] in TERMINAL
            and not any(i.state == "running" for k, i in work.containers.items() if k[0] == uid)
        ):
            work.writes.append(
                {
                    "op": "delete",
                    "kind": "Pod",
                    "namespace": pod["metadata"].get("namespace", ""),
                    "name": pod["metadata"]["name"],
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": uid},
                }
            )
    if connected and node is not None and not _reports_ready(node):
        work.writes.append({"op": "status", "object": ready_node(node, machine, now)})
    new = attrs.evolve(
        machine,
        containers=pmap(work.containers),
        kubelet=work.memory,
        images=work.images,
        pod_ips=work.pod_ips,
        wake_at=work.wake_at,
        dirty=False,
    )
    return SyncResult(new, tuple(work.writes), work.wake_at)


def _init_done(view: ContainerView) -> bool:
    """An init container lets the next one start: exited 0, or (a sidecar) started."""
    inst = view.instance
    if view.sidecar:
        return view.started
    return (
        inst is not None
        and inst.state == "exited"
        and inst.ended is not None
        and inst.ended.exit_code == 0
    )


def _reports_ready(node: Mapping[str, Any]) -> bool:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


NODE_CONDITIONS = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def ready_node(node: Mapping[str, Any], machine: Machine, now: float) -> dict[str, Any]:
    """The Node with the status its kubelet posts: conditions fresh, addresses, capacity kept."""
    status = dict(node.get("status") or {})
    before = {c.get("type"): c for c in status.get("conditions") or ()}
    conditions = []
    for kind, value, reason, message in NODE_CONDITIONS:
        old = before.get(kind) or {}
        moved = old.get("status") != value
        conditions.append(
            {
                "type": kind,
                "status": value,
                "lastHeartbeatTime": format_time(now),
                "lastTransitionTime": format_time(now) if moved else old["lastTransitionTime"],
                "reason": reason,
                "message": message,
            }
        )
    status["conditions"] = conditions
    status["addresses"] = [
        {"type": "InternalIP", "address": machine.node_ip},
        {"type": "Hostname", "address": machine.name},
    ]
    return {**node, "status": status}
