"""Laws of the `workloads` level: replicas kept, rollouts bounded, ownership sound.

They read the snapshots `properties.workhistory` keeps. Safety laws compare
a step's end with its start; liveness laws judge settled steps, and only
where Kubernetes promises to get there: every node up, reachable, Ready and
schedulable, no readiness probe told to fail, no image pull told to fail.
A law about what one controller decides is not judged while that controller
is told to lag: upstream's controllers act on their caches, and a stale
cache is the nemesis's point.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from properties.laws import law
from properties.nodehistory import parse_time
from properties.trace import TargetInfo, Trace, Violation
from properties.workhistory import (
    Snapshot,
    WorkloadHistory,
    controller_uid,
    owned_by,
    user_taint_effects,
)
from properties.workhistory import by_uid as _by_uid
from properties.workhistory import deleting as _deleting
from properties.workhistory import fresh as _fresh
from properties.workhistory import name_of as _name
from properties.workhistory import uid_of as _uid
from properties.workhistory import violation as _violation
from properties.workloadterms import (
    equal_ignore_hash,
    is_ready,
    is_rolling,
    max_surge,
    max_unavailable,
    replicas_of,
    revision_of,
)

_KINDS = ("Deployment", "ReplicaSet", "Pod", "Node")
_SETS = ("ReplicaSet", "Pod")
_ROLLOUT_TESTS = (
    "[sig-apps] Deployment RollingUpdateDeployment should delete old pods and create new ones"
    " [Conformance]",
    "[sig-apps] Deployment deployment should support rollover [Conformance]",
)
_SCALE_TESTS = (
    "[sig-apps] Deployment deployment should support proportional scaling [Conformance]",
    "[sig-apps] Deployment Deployment should have a working scale subresource [Conformance]",
)
_ADOPT_TEST = (
    "[sig-apps] ReplicaSet should adopt matching pods on creation and release no longer"
    " matching pods [Conformance]",
)

Obj = Mapping[str, Any]


def _key(obj: Obj) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return (str(m.get("namespace", "")), str(m.get("name", "")))


def _active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not _deleting(pod)


def _sets_of(snapshot: Snapshot, d: Obj) -> list[Obj]:
    return owned_by(snapshot.of("ReplicaSet"), _uid(d))


def _pods_of(snapshot: Snapshot, sets: Sequence[Obj]) -> list[Obj]:
    uids = {_uid(rs) for rs in sets}
    return [p for p in snapshot.of("Pod") if controller_uid(p) in uids]


def _available(pod: Obj, min_ready: int, now: float) -> bool:
    """Ready for strictly longer than minReadySeconds, and not being deleted."""
    if not _active(pod) or not is_ready(pod):
        return False
    if min_ready <= 0:
        return True
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            since = parse_time(c.get("lastTransitionTime"))
            return since is None or since + min_ready < now
    return True


def _min_ready(d: Obj) -> int:
    return int((d.get("spec") or {}).get("minReadySeconds") or 0)


def _observed(d: Obj) -> bool:
    status = d.get("status") or {}
    generation = int((d.get("metadata") or {}).get("generation") or 1)
    return int(status.get("observedGeneration") or 0) >= generation


def _deployments(h: WorkloadHistory) -> Iterator[Obj]:
    """The Deployments the controller has caught up with, unless it is told to lag."""
    assert h.snapshot is not None
    if "deployment" in h.lagged_this_step:
        return
    for d in h.snapshot.of("Deployment"):
        if not _deleting(d) and _observed(d):
            yield d


def _user_requests(h: WorkloadHistory) -> list[Mapping[str, Any]]:
    return [r for r in h.requests if r.get("op") not in ("get", "list")]


# -- rollouts --------------------------------------------------------------------------------------


@law(
    "workloads.rollout-surge-bound",
    "A rolling Deployment's ReplicaSets never grow past replicas + maxSurge in all: a step that"
    " leaves Σ spec.replicas above the bound has not raised it.",
    kinds=_KINDS,
    conformance=_ROLLOUT_TESTS + _SCALE_TESTS[:1],
    bugs=("#28145", "#22719"),
)
def rollout_surge_bound(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None:
        return
    assert h.snapshot is not None
    before = h.previous
    for d in _deployments(h):
        if not is_rolling(d):
            continue
        total = sum(replicas_of(rs) for rs in _sets_of(h.snapshot, d) if not _deleting(rs))
        bound = replicas_of(d) + max_surge(d)
        if total <= bound:
            continue
        earlier = 0
        if before is not None:
            old = _by_uid(before.of("Deployment")).get(_uid(d))
            if old is not None:
                earlier = sum(replicas_of(rs) for rs in _sets_of(before, old) if not _deleting(rs))
        if total > earlier:
            yield _violation(
                trace,
                "workloads.rollout-surge-bound",
                f"Deployment {_name(d)}'s ReplicaSets went from {earlier} to {total} replicas,"
                f" above replicas + maxSurge = {replicas_of(d)} + {max_surge(d)}",
                d,
            )


_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"


def _terminating(rs: Obj) -> int:
    return int((rs.get("status") or {}).get("terminatingReplicas") or 0)


def _scaled_by_user(snapshot: Snapshot, d: Obj) -> bool:
    """Some active ReplicaSet still records another size: the step answers a scaling event."""
    for rs in _sets_of(snapshot, d):
        if replicas_of(rs) == 0:
            continue
        noted = ((rs.get("metadata") or {}).get("annotations") or {}).get(_DESIRED_REPLICAS)
        if noted is not None and noted != str(replicas_of(d)):
            return True
    return False


_NODE_OPS = frozenset({"node.down", "node.up", "node.partition", "node.heal", "node.remove"})


def _evictions_possible(h: WorkloadHistory) -> bool:
    """Pods may start terminating within the step for a reason no Deployment controls: a node
    is (or was, during the step) down or cut off, or a user's NoExecute taint evicts."""
    if h.down or h.partitioned or any(r.get("op") in _NODE_OPS for r in h.requests):
        return True
    assert h.snapshot is not None
    return any("NoExecute" in user_taint_effects(n) for n in h.snapshot.of("Node"))


@law(
    "workloads.surge-counts-terminating",
    "Under podReplacementPolicy TerminationComplete, a step in which a rolling Deployment"
    " raises one of its ReplicaSets leaves Σ spec.replicas + Σ status.terminatingReplicas within"
    " replicas + maxSurge, unless the step answers the Deployment being scaled.",
    scope="strict",
    kinds=_KINDS,
    conformance=_ROLLOUT_TESTS,
    bugs=("#95498", "KEP-3973"),
)
def surge_counts_terminating(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    """Strict: upstream's ReplicaSet controller counts the pods it deletes as terminating only on
    its next sync, so for a moment a Deployment can surge over them; the reference counts them
    in the pass that deletes them. Only the Deployment's own scale-ups are judged: not a
    scaling event, not a lagging view of either controller, and not a step in which evictions
    may start pods terminating after the scale-up."""
    h = _fresh(trace)
    if h is None or h.previous is None or h.lagged_this_step & {"deployment", "replicaset"}:
        return
    assert h.snapshot is not None
    if _evictions_possible(h):
        return
    for d in _deployments(h):
        spec = d.get("spec") or {}
        if not is_rolling(d) or spec.get("podReplacementPolicy") != "TerminationComplete":
            continue
        old = _by_uid(h.previous.of("Deployment")).get(_uid(d))
        if old is None or _scaled_by_user(h.previous, old):
            continue
        before = _by_uid(_sets_of(h.previous, old))
        sets = [rs for rs in _sets_of(h.snapshot, d) if not _deleting(rs)]
        raised = any(
            replicas_of(rs) > (replicas_of(before[_uid(rs)]) if _uid(rs) in before else 0)
            for rs in sets
        )
        total = sum(replicas_of(rs) + _terminating(rs) for rs in sets)
        bound = replicas_of(d) + max_surge(d)
        if raised and total > bound:
            yield _violation(
                trace,
                "workloads.surge-counts-terminating",
                f"Deployment {_name(d)} raised a ReplicaSet to {total} pods counting the"
                f" terminating ones, above replicas + maxSurge = {replicas_of(d)} +"
                f" {max_surge(d)}",
                d,
            )


@law(
    "workloads.rollout-availability-floor",
    "Without node faults, failing readiness probes, user deletions or scaling, a step never"
    " leaves a rolling Deployment with fewer Ready pods than replicas - maxUnavailable, or than"
    " were available before, whichever is lower (old pods go only as new ones become"
    " available).",
    kinds=_KINDS,
    conformance=_ROLLOUT_TESTS,
    bugs=("#22719", "#21810"),
)
def rollout_availability_floor(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    """Ready pods after against available pods before (SEMANTICS §2.4 I3).

    The controller counts availability through ReplicaSet status, but the
    ReplicaSet picks which pods go by its own ranking, which knows Ready and
    not available: with minReadySeconds it may delete an available pod and
    keep a Ready one that is not available yet. What upstream guarantees is
    therefore about Ready pods afterwards. Failing image pulls are allowed:
    they hold new pods unready, which is the case this law is about.
    """
    h = _fresh(trace)
    if h is None or h.previous is None or h.lagged_this_step or not h.previous_caught_up:
        return  # writes of the step before that no controller has seen yet act now
    if h.down or h.partitioned or h.unready:
        return
    disruptive = {"container.exit", "probe.set", "scale", "delete", "patch"}
    for r in _user_requests(h):
        op = r.get("op")
        if op in disruptive or str(op).startswith(("node.", "kubelet.", "controller.")):
            return
        if op == "update" and (r.get("object") or {}).get("kind") in ("Pod", "Node"):
            return
    assert h.snapshot is not None
    previous = _by_uid(h.previous.of("Deployment"))
    for d in _deployments(h):
        old = previous.get(_uid(d))
        if old is None or not is_rolling(d) or replicas_of(old) != replicas_of(d):
            continue
        floor = replicas_of(d) - max_unavailable(d)
        now_pods = _pods_of(h.snapshot, _sets_of(h.snapshot, d))
        then_pods = _pods_of(h.previous, _sets_of(h.previous, old))
        if any(_key(p) in h.exited for p in (*now_pods, *then_pods)):
            continue  # a container told to exit restarts after a back-off, unready meanwhile
        ready = sum(1 for p in now_pods if _active(p) and is_ready(p))
        then = sum(1 for p in then_pods if _available(p, _min_ready(old), h.previous.now))
        if ready < min(floor, then):
            yield _violation(
                trace,
                "workloads.rollout-availability-floor",
                f"Deployment {_name(d)} went from {then} available pods to {ready} Ready, below"
                f" min(replicas - maxUnavailable = {floor}, {then})",
                d,
            )


@law(
    "workloads.rollout-completes",
    "Once settled on healthy nodes, an unpaused Deployment has exactly one ReplicaSet with its"
    " template, holding all its replicas; the others are scaled to 0 and at most"
    " revisionHistoryLimit of them remain.",
    kind="liveness",
    kinds=_KINDS,
    conformance=(
        *_ROLLOUT_TESTS,
        "[sig-apps] Deployment deployment should delete old replica sets [Conformance]",
    ),
    bugs=("#29735",),
)
def rollout_completes(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _settled_and_healthy(trace)
    if h is None:
        return
    assert h.snapshot is not None
    for d in _deployments(h):
        if (d.get("spec") or {}).get("paused"):
            continue
        sets = [rs for rs in _sets_of(h.snapshot, d) if not _deleting(rs)]
        template = (d.get("spec") or {}).get("template") or {}
        current = [rs for rs in sets if equal_ignore_hash(_template(rs), template)]
        others = [rs for rs in sets if rs not in current]
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        problem = None
        if len(current) != 1:
            problem = f"{len(current)} ReplicaSets have its template"
        elif replicas_of(current[0]) != replicas_of(d):
            problem = (
                f"its ReplicaSet {_name(current[0])} has {replicas_of(current[0])} replicas,"
                f" not {replicas_of(d)}"
            )
        elif busy := [_name(rs) for rs in others if replicas_of(rs)]:
            problem = f"old ReplicaSets {', '.join(busy)} still have replicas"
        elif limit is not None and len(others) > int(limit):
            problem = f"{len(others)} old ReplicaSets remain, above revisionHistoryLimit {limit}"
        if problem:
            yield _violation(
                trace,
                "workloads.rollout-completes",
                f"settled Deployment {_name(d)} did not complete its rollout: {problem}",
                d,
            )


def _template(obj: Obj) -> Mapping[str, Any]:
    return (obj.get("spec") or {}).get("template") or {}


@law(
    "workloads.newest-revision-current",
    "The ReplicaSet running a Deployment's template carries its highest revision, and no two of"
    " its ReplicaSets share one: a rollback gets a new, higher number.",
    kinds=_KINDS,
    conformance=("[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]",),
)
def newest_revision_current(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None:
        return
    assert h.snapshot is not None
    for d in _deployments(h):
        if (d.get("spec") or {}).get("paused"):
            continue
        sets = [rs for rs in _sets_of(h.snapshot, d) if not _deleting(rs)]
        template = (d.get("spec") or {}).get("template") or {}
        current = [rs for rs in sets if equal_ignore_hash(_template(rs), template)]
        if not current:
            continue
        revisions = [revision_of(rs) for rs in sets]
        newest = max(revisions)
        if revision_of(current[0]) != newest or revisions.count(newest) > 1:
            yield _violation(
                trace,
                "workloads.newest-revision-current",
                f"Deployment {_name(d)}'s current ReplicaSet {_name(current[0])} has revision"
                f" {revision_of(current[0])}; its ReplicaSets have {sorted(revisions)}",
                d,
            )


@law(
    "workloads.paused-creates-nothing",
    "A Deployment that stays paused through a step gets no new ReplicaSet in it.",
    kinds=_KINDS,
)
def paused_creates_nothing(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or h.previous is None or "deployment" in h.lagged_this_step:
        return
    assert h.snapshot is not None
    previous = _by_uid(h.previous.of("Deployment"))
    for d in h.snapshot.of("Deployment"):
        old = previous.get(_uid(d))
        paused_now = (d.get("spec") or {}).get("paused")
        if old is None or not paused_now or not (old.get("spec") or {}).get("paused"):
            continue
        known = {_uid(rs) for rs in h.previous.of("ReplicaSet")}
        for rs in _sets_of(h.snapshot, d):
            if _uid(rs) not in known:
                yield _violation(
                    trace,
                    "workloads.paused-creates-nothing",
                    f"paused Deployment {_name(d)} got a new ReplicaSet {_name(rs)}",
                    d,
                    rs,
                )


@law(
    "workloads.recreate-never-overlaps",
    "A Deployment that has only ever used Recreate never has pods of two of its ReplicaSets"
    " running at once, as the machines' runtimes report them.",
    needs=("runtime",),
    kinds=_KINDS,
    conformance=(
        "[sig-apps] Deployment RecreateDeployment should delete old pods and create new ones"
        " [Conformance]",
    ),
)
def recreate_never_overlaps(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or h.runtime is None or "deployment" in h.ever_lagged:
        return  # a Deployment controller that does not see its own ReplicaSet creates another
    assert h.snapshot is not None
    running: dict[str, set[str]] = {}
    for node in (h.runtime.get("nodes") or {}).values():
        if not node.get("up", True):
            continue
        for c in node.get("containers") or ():
            if c.get("state") == "running":
                owner = h.pod_owner.get(str(c.get("uid")))
                if owner:
                    running.setdefault(owner, set()).add(str(c.get("pod")))
    sets = _by_uid(h.snapshot.of("ReplicaSet"))
    for d in h.snapshot.of("Deployment"):
        if h.ever_rolling.get(_uid(d)):
            continue
        mine = {uid for uid, rs in sets.items() if controller_uid(rs) == _uid(d)}
        overlapping = sorted(_name(sets[uid]) for uid in mine if running.get(uid))
        if len(overlapping) > 1:
            yield _violation(
                trace,
                "workloads.recreate-never-overlaps",
                f"Recreate Deployment {_name(d)} runs pods of ReplicaSets"
                f" {', '.join(overlapping)} at once",
                d,
            )


# -- ownership -------------------------------------------------------------------------------------


@law(
    "workloads.owner-selects-its-pods",
    "A pod controlled by a live ReplicaSet matches that ReplicaSet's selector: a pod"
    " relabelled out of it is released.",
    kinds=_SETS,
    conformance=_ADOPT_TEST,
)
def owner_selects_its_pods(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or not h.caught_up or "replicaset" in h.lagged_this_step:
        return
    assert h.snapshot is not None
    sets = _by_uid(h.snapshot.of("ReplicaSet"))
    for pod in h.snapshot.of("Pod"):
        rs = sets.get(controller_uid(pod) or "")
        if rs is None or _deleting(rs) or _deleting(pod):
            continue
        if not _selects(rs, pod):
            yield _violation(
                trace,
                "workloads.owner-selects-its-pods",
                f"pod {_name(pod)} is still controlled by ReplicaSet {_name(rs)}, whose"
                " selector does not match it",
                pod,
                rs,
            )


def _selects(rs: Obj, pod: Obj) -> bool:
    """matchLabels and the In/NotIn/Exists/DoesNotExist expressions of the selector."""
    selector = (rs.get("spec") or {}).get("selector") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or ():
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


@law(
    "workloads.orphans-adopted",
    "Once settled, no live pod without a controller matches the selector of a live ReplicaSet"
    " in its namespace: the ReplicaSet adopts it.",
    kind="liveness",
    kinds=_SETS,
    conformance=_ADOPT_TEST,
)
def orphans_adopted(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or not h.settled or h.lagged_this_step:
        return
    assert h.snapshot is not None
    sets = [rs for rs in h.snapshot.of("ReplicaSet") if not _deleting(rs)]
    for pod in h.snapshot.of("Pod"):
        if controller_uid(pod) is not None or not _active(pod):
            continue
        namespace = (pod.get("metadata") or {}).get("namespace")
        for rs in sets:
            if (rs.get("metadata") or {}).get("namespace") == namespace and _selects(rs, pod):
                yield _violation(
                    trace,
                    "workloads.orphans-adopted",
                    f"orphan pod {_name(pod)} matches ReplicaSet {_name(rs)} but was not adopted",
                    pod,
                    rs,
                )
                break


# -- replicas --------------------------------------------------------------------------------------


def _settled_and_healthy(trace: Trace) -> WorkloadHistory | None:
    h = _fresh(trace)
    if h is None or not h.settled or h.faults or h.lagged_this_step:
        return None
    assert h.snapshot is not None
    nodes = h.snapshot.of("Node")
    if not nodes or len(h.healthy_nodes()) != len(nodes):
        return None
    return h


def _owners(h: WorkloadHistory) -> Iterator[tuple[Obj, list[Obj]]]:
    """Each live Deployment with its ReplicaSets, and each live bare ReplicaSet alone.

    Paused Deployments are left out: one paused before its first sync has no
    ReplicaSet, and upstream creates none until it is resumed.
    """
    assert h.snapshot is not None
    for d in h.snapshot.of("Deployment"):
        if not _deleting(d) and not (d.get("spec") or {}).get("paused"):
            yield d, [rs for rs in _sets_of(h.snapshot, d) if not _deleting(rs)]
    for rs in h.snapshot.of("ReplicaSet"):
        if not _deleting(rs) and controller_uid(rs) is None:
            yield rs, [rs]


@law(
    "workloads.desired-replicas",
    "Once settled on healthy nodes, every Deployment and ReplicaSet has exactly spec.replicas"
    " live pods, all Ready, and says so in status.readyReplicas.",
    kind="liveness",
    kinds=_KINDS,
    conformance=(
        "[sig-apps] ReplicaSet should serve a basic image on each replica with a public image"
        " [Conformance]",
        *_SCALE_TESTS[1:],
    ),
)
def desired_replicas(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _settled_and_healthy(trace)
    if h is None:
        return
    assert h.snapshot is not None
    for owner, sets in _owners(h):
        pods = [p for p in _pods_of(h.snapshot, sets) if _active(p)]
        ready = sum(1 for p in pods if is_ready(p))
        want = replicas_of(owner)
        reported = int((owner.get("status") or {}).get("readyReplicas") or 0)
        if len(pods) != want or ready != want or reported != want:
            yield _violation(
                trace,
                "workloads.desired-replicas",
                f"settled {owner.get('kind')} {_name(owner)} wants {want} replicas but has"
                f" {len(pods)} live pods, {ready} Ready, status.readyReplicas {reported}",
                owner,
            )


@law(
    "workloads.self-healing",
    "Once settled after pods were deleted, crashed or lost with their node, every Deployment"
    " and ReplicaSet again has spec.replicas Ready pods on the healthy nodes (while one is"
    " left to run them).",
    kind="liveness",
    kinds=_KINDS,
    needs=("nodes",),
)
def self_healing(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or not h.settled or not h.disturbed or h.lagged_this_step:
        return
    if h.unready or h.failing_images:
        return
    healthy = h.healthy_nodes(schedulable=False)
    if not h.healthy_nodes():
        return
    assert h.snapshot is not None
    lost = bool(h.down or h.partitioned)
    for owner, sets in _owners(h):
        if lost and owner.get("kind") == "Deployment" and not is_rolling(owner):
            continue  # Recreate waits for old pods stuck terminating on a lost node, as upstream
        pods = [p for p in _pods_of(h.snapshot, sets) if _active(p)]
        placed = [p for p in pods if (p.get("spec") or {}).get("nodeName") in healthy]
        ready = sum(1 for p in placed if is_ready(p))
        want = replicas_of(owner)
        if ready < want:
            yield _violation(
                trace,
                "workloads.self-healing",
                f"settled {owner.get('kind')} {_name(owner)} wants {want} replicas but has"
                f" {ready} Ready pods on the healthy nodes {sorted(healthy)}",
                owner,
            )


@law(
    "workloads.no-overshoot",
    "A ReplicaSet never has more live pods of its own making than the most replicas it has"
    " ever asked for, however stale its controller's view (expectations).",
    kinds=_SETS,
    bugs=("#129795",),
)
def no_overshoot(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None:
        return
    assert h.snapshot is not None
    for rs in h.snapshot.of("ReplicaSet"):
        prefix = f"{_name(rs)}-"
        made = [
            p
            for p in h.snapshot.of("Pod")
            if controller_uid(p) == _uid(rs) and _active(p) and _name(p).startswith(prefix)
        ]
        most = h.max_replicas.get(_uid(rs), replicas_of(rs))
        if len(made) > most:
            yield _violation(
                trace,
                "workloads.no-overshoot",
                f"ReplicaSet {_name(rs)} has {len(made)} live pods it created, more than the"
                f" {most} replicas it ever asked for",
                rs,
            )


@law(
    "workloads.scale-down-spares-ready",
    "When a ReplicaSet is scaled down at one instant, no Ready pod is deleted while a pod of the"
    " same ReplicaSet that was not Ready survives.",
    kinds=_SETS,
    bugs=("#3948",),
)
def scale_down_spares_ready(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    """Judged on a step that scales and then lets time pass, and does nothing else.

    The controllers act on the scaling at the instant it is made, the instant
    of the step's first snapshot, before the clock moves: the readiness the
    previous snapshot shows is the readiness the ranking saw.
    """
    h = _fresh(trace)
    if h is None or h.previous is None or "replicaset" in h.lagged_this_step:
        return
    ops = [r.get("op") for r in _user_requests(h)]
    if not ops or ops[0] != "scale" or any(op not in ("scale", "advance", "settle") for op in ops):
        return
    assert h.snapshot is not None
    now = _by_uid(h.snapshot.of("Pod"))
    for rs in h.previous.of("ReplicaSet"):
        before = [p for p in h.previous.of("Pod") if controller_uid(p) == _uid(rs) and _active(p)]
        deleted = [p for p in before if _uid(p) not in now or not _active(now[_uid(p)])]
        kept_unready = [
            p for p in before if not is_ready(p) and _uid(p) in now and _active(now[_uid(p)])
        ]
        killed_ready = [p for p in deleted if is_ready(p)]
        if killed_ready and kept_unready:
            yield _violation(
                trace,
                "workloads.scale-down-spares-ready",
                f"ReplicaSet {_name(rs)} deleted Ready pod {_name(killed_ready[0])} while"
                f" not-Ready pod {_name(kept_unready[0])} stays",
                rs,
            )
