"""Laws of the `workloads` level for DaemonSets and StatefulSets.

They read the same history as the Deployment laws (`properties.workhistory`).
A DaemonSet promises a pod on every node that should run one
(NodeShouldRunDaemonPod: its nodeSelector and affinity match, and no
NoSchedule or NoExecute taint goes untolerated by the template's tolerations
plus the ones the controller adds to every daemon pod); an untolerated
NoSchedule taint only stops new pods, while an untolerated NoExecute one also
removes running pods (shouldContinueRunning). A StatefulSet promises stable
identities: one pod per ordinal at a time, made and removed in order under
OrderedReady, and a rolling update that stops at the partition.

As for the Deployment laws, a law about what one controller decides is not
judged while that controller is told to lag, and liveness laws judge only
settled steps on healthy nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from properties.laws import law
from properties.nodehistory import parse_time
from properties.scheduling_terms import pod_matches_node_affinity, untolerated_taints
from properties.trace import TargetInfo, Trace, Violation
from properties.workhistory import Snapshot, WorkloadHistory, controller_uid
from properties.workhistory import by_uid as _by_uid
from properties.workhistory import deleting as _deleting
from properties.workhistory import fresh as _fresh
from properties.workhistory import name_of as _name
from properties.workhistory import uid_of as _uid
from properties.workhistory import violation as _violation
from properties.workloadterms import condition, is_ready

__all__ = ["DAEMON_TOLERATIONS", "daemon_should_run", "daemon_target_node"]

Obj = Mapping[str, Any]

_DS_KINDS = ("DaemonSet", "Pod", "Node")
_STS_KINDS = ("StatefulSet", "Pod", "Node")
_REVISION_LABEL = "controller-revision-hash"
_POD_NAME = re.compile(r"(.*)-([0-9]+)")
_NO_SCHEDULE = ("NoSchedule", "NoExecute")

#: util.AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates besides its template's,
#: so that troubled and cordoned nodes keep their daemons (network-unavailable only for
#: host-network pods).
DAEMON_TOLERATIONS: tuple[Mapping[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
_HOST_NETWORK_TOLERATION: Mapping[str, str] = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}
_STS_TESTS = (
    "[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should perform"
    " rolling updates and roll backs of template modifications [Conformance]",
    "[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should perform"
    " canary updates and phased rolling updates of template modifications [Conformance]",
    "[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] Scaling should"
    " happen in predictable order and halt if any stateful pod is unhealthy [Slow] [Conformance]",
)
_DS_TESTS = (
    "[sig-apps] Daemon set [Serial] should run and stop simple daemon [Conformance]",
    "[sig-apps] Daemon set [Serial] should run and stop complex daemon [Conformance]",
)


# -- reading objects -------------------------------------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _live(pod: Obj) -> bool:
    """Neither finished nor being deleted: a pod its controller counts."""
    return _phase(pod) not in ("Succeeded", "Failed") and not _deleting(pod)


def _node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _template_spec(owner: Obj) -> Mapping[str, Any]:
    return ((owner.get("spec") or {}).get("template") or {}).get("spec") or {}


def _image(spec: Mapping[str, Any]) -> str | None:
    containers = spec.get("containers") or ()
    return str(containers[0].get("image")) if containers else None


def _revision(pod: Obj) -> str:
    return str((_meta(pod).get("labels") or {}).get(_REVISION_LABEL) or "")


def _owned(snapshot: Snapshot, owner: Obj) -> list[Obj]:
    return [p for p in snapshot.of("Pod") if controller_uid(p) == _uid(owner)]


def _settled_on_ready_nodes(trace: Trace, *, schedulable: bool) -> WorkloadHistory | None:
    """A settled step with no fault in force, no controller lagging and every node Ready.

    Taints are left to each law, and unless `schedulable` is asked for,
    cordoned nodes count too: a DaemonSet runs on them.
    """
    h = _fresh(trace)
    if h is None or not h.settled or h.lagged_this_step:
        return None
    if h.down or h.partitioned or h.unready or h.failing_images:
        return None
    assert h.snapshot is not None
    nodes = h.snapshot.of("Node")
    if not nodes or not all(_node_ready(n) for n in nodes):
        return None
    if schedulable and any((n.get("spec") or {}).get("unschedulable") for n in nodes):
        return None
    return h


def _node_ready(node: Obj) -> bool:
    c = condition(node, "Ready")
    return c is not None and c.get("status") == "True"


def _user_deleted_pods(h: WorkloadHistory) -> bool:
    return any(r.get("op") == "delete" and r.get("kind") == "Pod" for r in h.requests)


# -- DaemonSets ------------------------------------------------------------------------------------


def daemon_tolerations(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tolerations a daemon pod of this template carries."""
    tolerations = [t for t in spec.get("tolerations") or () if isinstance(t, Mapping)]
    extra = [*DAEMON_TOLERATIONS]
    if spec.get("hostNetwork"):
        extra.append(_HOST_NETWORK_TOLERATION)
    return [*tolerations, *extra]


def daemon_should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning) of `ds` on `node`.

    Cordoning does not matter (the unschedulable taint is tolerated); an
    untolerated NoSchedule taint clears the first only, an untolerated
    NoExecute taint both.
    """
    spec = _template_spec(ds)
    if spec.get("nodeName") and spec.get("nodeName") != _name(node):
        return False, False
    if not pod_matches_node_affinity({"spec": spec}, node):
        return False, False
    tolerations = daemon_tolerations(spec)
    taints = [t for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, Mapping)]
    if not untolerated_taints(tolerations, taints, _NO_SCHEDULE):
        return True, True
    return False, not untolerated_taints(tolerations, taints, ("NoExecute",))


def daemon_target_node(pod: Obj) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, else the one name of its `metadata.name` affinity."""
    if _node_name(pod):
        return _node_name(pod)
    required = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for req in (term or {}).get("matchFields") or ():
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = req.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def _allows_surge(ds: Obj) -> bool:
    """util.AllowsSurge: a RollingUpdate whose maxSurge, scaled against 1, is positive."""
    update = (ds.get("spec") or {}).get("updateStrategy") or {}
    if update.get("type", "RollingUpdate") != "RollingUpdate":
        return False
    surge = (update.get("rollingUpdate") or {}).get("maxSurge")
    if isinstance(surge, bool) or surge is None:
        return False
    if isinstance(surge, int):
        return surge > 0
    text = str(surge)
    try:
        return int(text[:-1]) > 0 if text.endswith("%") else int(text) > 0
    except ValueError:
        return False


def _current_hash(snapshot: Snapshot, ds: Obj) -> str | None:
    """The hash of the DaemonSet's newest ControllerRevision: the one its new pods carry.

    constructHistory renumbers the revision equal to the template past every
    other, so the highest-numbered revision is the current one.
    """
    revisions = [r for r in snapshot.of("ControllerRevision") if controller_uid(r) == _uid(ds)]
    if not revisions:
        return None
    newest = max(revisions, key=lambda r: int(r.get("revision") or 0))
    found = (_meta(newest).get("labels") or {}).get(_REVISION_LABEL)
    return str(found) if found else None


def _daemon_sets(snapshot: Snapshot) -> Iterator[Obj]:
    for ds in snapshot.of("DaemonSet"):
        if not _deleting(ds):
            yield ds


@law(
    "workloads.daemonset-one-per-node",
    "Once settled with every node Ready, each DaemonSet has exactly one live pod on every node"
    " that should run it (nodeSelector matches, NoSchedule and NoExecute taints tolerated,"
    " cordoning ignored), at most one on a node whose untolerated taints are NoSchedule only,"
    " and none elsewhere.",
    kind="liveness",
    kinds=_DS_KINDS,
    conformance=_DS_TESTS,
    bugs=("#60163",),
)
def daemonset_one_per_node(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _settled_on_ready_nodes(trace, schedulable=False)
    if h is None:
        return
    assert h.snapshot is not None
    nodes = sorted(h.snapshot.of("Node"), key=_name)
    for ds in _daemon_sets(h.snapshot):
        placed: dict[str, list[Obj]] = {}
        for pod in _owned(h.snapshot, ds):
            target = daemon_target_node(pod)
            if _live(pod) and target is not None:
                placed.setdefault(target, []).append(pod)
        for node in nodes:
            should_run, may_stay = daemon_should_run(node, ds)
            count = len(placed.get(_name(node), ()))
            if should_run and count != 1:
                wanted = "exactly one"
            elif not should_run and may_stay and count > 1:
                wanted = "at most one"
            elif not may_stay and count:
                wanted = "none"
            else:
                continue
            yield _violation(
                trace,
                "workloads.daemonset-one-per-node",
                f"settled DaemonSet {_name(ds)} has {count} live pods on node {_name(node)},"
                f" which should have {wanted}",
                ds,
                node,
            )


@law(
    "workloads.daemonset-never-two",
    "A DaemonSet without maxSurge never has two live pods bound to one node, however stale its"
    " controller's view (expectations).",
    kinds=_DS_KINDS,
    bugs=("#54096",),
)
def daemonset_never_two(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None:
        return
    assert h.snapshot is not None
    for ds in h.snapshot.of("DaemonSet"):
        if _allows_surge(ds):
            continue
        bound: dict[str, list[str]] = {}
        for pod in _owned(h.snapshot, ds):
            if _live(pod) and _node_name(pod):
                bound.setdefault(_node_name(pod), []).append(_name(pod))
        for node, pods in sorted(bound.items()):
            if len(pods) > 1:
                yield _violation(
                    trace,
                    "workloads.daemonset-never-two",
                    f"DaemonSet {_name(ds)} has {len(pods)} live pods on node {node}:"
                    f" {', '.join(sorted(pods))}",
                    ds,
                )


@law(
    "workloads.daemonset-noschedule-keeps-pods",
    "A running daemon pod at its DaemonSet's current revision stays on a node whose only"
    " untolerated taints are NoSchedule: such a taint stops new daemon pods, it does not"
    " remove running ones.",
    kinds=(*_DS_KINDS, "ControllerRevision"),
    bugs=("#48189",),
)
def daemonset_noschedule_keeps_pods(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or h.previous is None or "daemonset" in h.lagged_this_step:
        return
    if _user_deleted_pods(h):
        return
    assert h.snapshot is not None
    nodes_now = {_name(n): n for n in h.snapshot.of("Node")}
    nodes_before = {_name(n): n for n in h.previous.of("Node")}
    pods_now = _by_uid(h.snapshot.of("Pod"))
    before = _by_uid(h.previous.of("DaemonSet"))
    for ds in _daemon_sets(h.snapshot):
        old_ds = before.get(_uid(ds))
        current = _current_hash(h.snapshot, ds)
        if old_ds is None or current is None:
            continue
        for pod in _owned(h.previous, ds):
            if _phase(pod) != "Running" or _deleting(pod) or _revision(pod) != current:
                continue
            node, node_before = nodes_now.get(_node_name(pod)), nodes_before.get(_node_name(pod))
            if node is None or node_before is None:
                continue
            should_run, may_stay = daemon_should_run(node, ds)
            if should_run or not may_stay or not daemon_should_run(node_before, old_ds)[1]:
                continue
            now = pods_now.get(_uid(pod))
            if now is not None and not _deleting(now):
                continue
            yield _violation(
                trace,
                "workloads.daemonset-noschedule-keeps-pods",
                f"DaemonSet {_name(ds)}'s running pod {_name(pod)} was deleted from node"
                f" {_name(node)}, whose untolerated taints are NoSchedule only",
                ds,
                pod,
                node,
            )


# -- StatefulSets ----------------------------------------------------------------------------------


def _ordinal(set_name: str, pod: Obj) -> int | None:
    """getParentNameAndOrdinal: the ordinal of `<set>-<n>`, or None for another name."""
    m = _POD_NAME.fullmatch(_name(pod))
    if m is None or m.group(1) != set_name:
        return None
    return int(m.group(2))


def _start(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def _replicas(sts: Obj) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _ordered(sts: Obj) -> bool:
    policy = (sts.get("spec") or {}).get("podManagementPolicy")
    return str(policy or "OrderedReady") != "Parallel"


def _partition(sts: Obj) -> int | None:
    """The RollingUpdate partition (0 by default), or None under OnDelete."""
    update = (sts.get("spec") or {}).get("updateStrategy") or {}
    if update.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return int((update.get("rollingUpdate") or {}).get("partition") or 0)


def _members(snapshot: Snapshot, sts: Obj) -> dict[int, Obj]:
    """The StatefulSet's own pods by ordinal."""
    out: dict[int, Obj] = {}
    for pod in _owned(snapshot, sts):
        ordinal = _ordinal(_name(sts), pod)
        if ordinal is not None:
            out[ordinal] = pod
    return out


def _stateful_sets(snapshot: Snapshot) -> Iterator[Obj]:
    for sts in snapshot.of("StatefulSet"):
        if not _deleting(sts):
            yield sts


@law(
    "workloads.statefulset-one-per-identity",
    "At most one pod of a StatefulSet's identity runs at a time across all machines, counting"
    " the containers of machines cut off from the API server: a pod is never replaced while"
    " it may still be running.",
    needs=("runtime",),
    kinds=_STS_KINDS,
    bugs=("#54368",),
)
def statefulset_one_per_identity(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or h.runtime is None:
        return
    assert h.snapshot is not None
    sets = {_uid(s): s for s in h.snapshot.of("StatefulSet")}
    running: dict[tuple[str, str], dict[str, str]] = {}
    for machine, node in sorted((h.runtime.get("nodes") or {}).items()):
        if not node.get("up", True):
            continue
        for c in node.get("containers") or ():
            if c.get("state") != "running":
                continue
            owner = h.pod_owner.get(str(c.get("uid")))
            if owner in sets:
                key = (str(c.get("namespace")), str(c.get("pod")))
                running.setdefault(key, {})[str(c.get("uid"))] = str(machine)
    for (namespace, pod), instances in sorted(running.items()):
        if len(instances) > 1:
            where = ", ".join(f"{uid} on {m}" for uid, m in sorted(instances.items()))
            yield _violation(
                trace,
                "workloads.statefulset-one-per-identity",
                f"{len(instances)} instances of StatefulSet pod {namespace}/{pod} run at once:"
                f" {where}",
            )


def _ready_since(pod: Obj) -> tuple[bool, float | None]:
    """The Ready condition's status and the moment it last changed."""
    c = condition(pod, "Ready")
    if c is None:
        return False, None
    return c.get("status") == "True", parse_time(c.get("lastTransitionTime"))


def _evictable(h: WorkloadHistory, pod: Obj) -> bool:
    """The pod's node had a NoExecute taint at either end of the step, or was down or cut off:
    taint eviction, not the StatefulSet controller, may have deleted the pod."""
    assert h.snapshot is not None and h.previous is not None
    node = _node_name(pod)
    if node in h.down or node in h.partitioned:
        return True
    for snapshot in (h.previous, h.snapshot):
        for n in snapshot.of("Node"):
            if _name(n) == node and any(
                isinstance(t, Mapping) and t.get("effect") == "NoExecute"
                for t in (n.get("spec") or {}).get("taints") or ()
            ):
                return True
    return False


def _any_evicting(h: WorkloadHistory) -> bool:
    """Some node was down, cut off or NoExecute-tainted at either end of the step."""
    assert h.snapshot is not None and h.previous is not None
    if h.down or h.partitioned:
        return True
    return any(
        isinstance(t, Mapping) and t.get("effect") == "NoExecute"
        for snapshot in (h.previous, h.snapshot)
        for n in snapshot.of("Node")
        for t in (n.get("spec") or {}).get("taints") or ()
    )


def _created(pod: Obj) -> float | None:
    return parse_time(_meta(pod).get("creationTimestamp"))


@law(
    "workloads.statefulset-ordered",
    "Under OrderedReady a StatefulSet creates pod <set>-i only once <set>-0 … <set>-(i-1)"
    " exist and are Ready, and scales down from the highest ordinal, one pod at a time.",
    kinds=_STS_KINDS,
    conformance=_STS_TESTS[2:],
)
def statefulset_ordered(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or h.previous is None or "statefulset" in h.lagged_this_step:
        return
    assert h.snapshot is not None
    before_sets = _by_uid(h.previous.of("StatefulSet"))
    for sts in _stateful_sets(h.snapshot):
        old = before_sets.get(_uid(sts))
        if not _ordered(sts) or (old is not None and not _ordered(old)):
            continue
        yield from _created_in_order(trace, h, sts)
        if not _user_deleted_pods(h):
            yield from _deleted_from_the_top(trace, h, sts)


def _created_in_order(trace: Trace, h: WorkloadHistory, sts: Obj) -> Iterator[Violation]:
    """Each pod new in this step had its predecessors present and Ready when it was made.

    What a predecessor was at that moment is known when it was made later
    (and was not there at the start of the step), when it is still Pending
    (a phase never returns to Pending), or when its Ready condition last
    changed before; anything else is not judged. (Timestamps cannot order
    events of one instant, and the reference starts pods instantly.)
    """
    assert h.snapshot is not None and h.previous is not None
    now, earlier = _members(h.snapshot, sts), _members(h.previous, sts)
    seen_before = {_uid(p) for p in earlier.values()}
    for ordinal, pod in sorted(now.items()):
        born = _created(pod)
        if _uid(pod) in seen_before or born is None:
            continue
        for j in range(_start(sts), ordinal):
            other = now.get(j)
            if other is None or (_created(other) or 0.0) > born:
                if j in earlier or _any_evicting(h) or (other is None and _user_deleted_pods(h)):
                    continue
                problem = "did not exist yet"
            elif _phase(other) in ("", "Pending"):
                problem = "was still Pending"
            else:
                ready, since = _ready_since(other)
                if ready or since is None or since >= born:
                    continue
                problem = "was not Ready"
            yield _violation(
                trace,
                "workloads.statefulset-ordered",
                f"OrderedReady StatefulSet {_name(sts)} created {_name(pod)} while"
                f" {_name(sts)}-{j} {problem}",
                sts,
                pod,
            )
            break


def _deleted_from_the_top(trace: Trace, h: WorkloadHistory, sts: Obj) -> Iterator[Violation]:
    """A condemned pod deleted in this step had no higher-ordinal pod still around."""
    assert h.snapshot is not None and h.previous is not None
    now, earlier = _members(h.snapshot, sts), _members(h.previous, sts)
    every = _by_uid(h.snapshot.of("Pod"))
    top = _start(sts) + _replicas(sts)
    for ordinal, pod in sorted(earlier.items()):
        if ordinal < top or _deleting(pod) or not _live(pod) or _evictable(h, pod):
            continue
        successor = every.get(_uid(pod))
        if successor is not None and not _deleting(successor):
            continue  # still there, perhaps released by a relabel
        higher = sorted(o for o in now if o > ordinal)
        if higher:
            yield _violation(
                trace,
                "workloads.statefulset-ordered",
                f"OrderedReady StatefulSet {_name(sts)} deleted {_name(pod)} while"
                f" {_name(sts)}-{higher[-1]} is still there",
                sts,
                pod,
            )


@law(
    "workloads.statefulset-partition",
    "A rolling update leaves the pods below the partition alone: a live pod whose ordinal is"
    " below the partition keeps its uid and its revision across a template change.",
    kinds=_STS_KINDS,
    conformance=_STS_TESTS[1:2],
)
def statefulset_partition(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or h.previous is None or "statefulset" in h.lagged_this_step:
        return
    if _user_deleted_pods(h):
        return
    assert h.snapshot is not None
    before_sets = _by_uid(h.previous.of("StatefulSet"))
    for sts in _stateful_sets(h.snapshot):
        old = before_sets.get(_uid(sts))
        partition, old_partition = _partition(sts), None if old is None else _partition(old)
        if old is None or partition is None or old_partition is None:
            continue
        below = _start(sts) + min(partition, old_partition, _replicas(sts), _replicas(old))
        every = _by_uid(h.snapshot.of("Pod"))
        for ordinal, pod in sorted(_members(h.previous, sts).items()):
            if ordinal >= below or not _live(pod) or _phase(pod) != "Running":
                continue
            if _evictable(h, pod):
                continue
            successor = every.get(_uid(pod))
            if successor is None or _deleting(successor):
                change = "was deleted"
            elif _revision(successor) != _revision(pod):
                change = f"moved from revision {_revision(pod)} to {_revision(successor)}"
            else:
                continue
            yield _violation(
                trace,
                "workloads.statefulset-partition",
                f"StatefulSet {_name(sts)}'s pod {_name(pod)}, below partition"
                f" {min(partition, old_partition)}, {change}",
                sts,
                pod,
            )


def _taints_in_the_way(nodes: Sequence[Obj]) -> bool:
    return any(
        t.get("effect") in _NO_SCHEDULE
        for n in nodes
        for t in (n.get("spec") or {}).get("taints") or ()
        if isinstance(t, Mapping)
    )


@law(
    "workloads.statefulset-converges",
    "Once settled on healthy untainted nodes, a StatefulSet has exactly its replicas pods,"
    " one per ordinal, all Ready; with RollingUpdate those at or above the partition run the"
    " current template and carry status.updateRevision.",
    kind="liveness",
    kinds=_STS_KINDS,
    conformance=_STS_TESTS[:1],
    bugs=("#49909",),
)
def statefulset_converges(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _settled_on_ready_nodes(trace, schedulable=True)
    if h is None:
        return
    assert h.snapshot is not None
    if _taints_in_the_way(h.snapshot.of("Node")):
        return
    for sts in _stateful_sets(h.snapshot):
        start, replicas = _start(sts), _replicas(sts)
        wanted = range(start, start + replicas)
        taken = {
            _name(p)
            for p in h.snapshot.of("Pod")
            if controller_uid(p) != _uid(sts) and _ordinal(_name(sts), p) in wanted
        }
        if taken:
            continue  # a released pod holds the name: upstream cannot create it either
        pods = {o: p for o, p in _members(h.snapshot, sts).items() if _live(p)}
        problems: list[str] = []
        missing = [o for o in wanted if o not in pods]
        extra = sorted(o for o in pods if o not in wanted)
        unready = [o for o in wanted if o in pods and not is_ready(pods[o])]
        if missing:
            problems.append(f"no pod for ordinals {missing}")
        if extra:
            problems.append(f"pods beyond the range at ordinals {extra}")
        if unready:
            problems.append(f"pods not Ready at ordinals {unready}")
        partition = _partition(sts)
        if partition is not None:
            image = _image(_template_spec(sts))
            update = str((sts.get("status") or {}).get("updateRevision") or "")
            stale = [
                o
                for o in wanted
                if o >= start + partition
                and o in pods
                and (_image(pods[o].get("spec") or {}) != image or _revision(pods[o]) != update)
            ]
            if stale:
                problems.append(
                    f"pods at ordinals {stale} not at the template (image {image}) and"
                    f" updateRevision {update!r}"
                )
        if problems:
            yield _violation(
                trace,
                "workloads.statefulset-converges",
                f"settled StatefulSet {_name(sts)} (replicas {replicas}, partition"
                f" {partition}): {'; '.join(problems)}",
                sts,
            )
