"""What the workload laws know after each step: the cluster as snapshots showed it, and the faults.

A fold over the trace, one step at a time and memoised per trace, like
`properties.schedhistory`. It keeps the last two snapshots (so that a law
can compare a step's end with its start), the runtime when the target
reports one, which faults are in force (nodes down or cut off, readiness
probes told to fail, image pulls told to fail), which controllers were told
to lag, whether the step was settled, and a few running maxima: the largest
spec.replicas each ReplicaSet has had and the ReplicaSets each Deployment has
owned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PSet, pmap, pset

from properties.folds import TraceFold
from properties.folds import fresh as fresh_history
from properties.nodehistory import parse_time
from properties.trace import Exchange, Trace, Violation

__all__ = [
    "DISRUPTIVE_OPS",
    "NODE_FAULT_OPS",
    "Snapshot",
    "WorkloadHistory",
    "by_uid",
    "controller_uid",
    "deleting",
    "follow_lag",
    "follow_node_fault",
    "fresh",
    "history",
    "name_of",
    "owned_by",
    "uid_of",
    "user_taint_effects",
    "violation",
]

#: Requests after which a fall in availability is not the workload controllers' doing.
DISRUPTIVE_OPS = frozenset(
    {
        "container.exit",
        "probe.set",
        "image.fail",
        "node.down",
        "node.up",
        "node.partition",
        "node.heal",
        "node.remove",
        "kubelet.restart",
        "controller.lag",
        "controller.restart",
        "scale",
        "delete",
    }
)

Obj = Mapping[str, Any]


def controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return str(ref.get("uid"))
    return None


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def uid_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def by_uid(objects: Iterable[Obj]) -> dict[str, Obj]:
    return {uid_of(o): o for o in objects}


def violation(trace: Trace, law_id: str, message: str, *objects: Any) -> Violation:
    """A violation of `law_id` at the newest step of `trace`."""
    return Violation(law_id, message, trace.step_index, tuple(objects))


def owned_by(objects: Iterable[Obj], owner_uid: str) -> list[Obj]:
    return [o for o in objects if controller_uid(o) == owner_uid]


@attrs.frozen
class Snapshot:
    """One snapshot: its moment and its objects by kind."""

    now: float
    objects: PMap[str, tuple[Obj, ...]] = attrs.field(factory=pmap)

    def of(self, kind: str) -> tuple[Obj, ...]:
        return self.objects.get(kind, ())

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> Snapshot:
        by_kind: dict[str, list[Obj]] = {}
        for obj in answer.get("objects") or ():
            by_kind.setdefault(str(obj.get("kind")), []).append(obj)
        return cls(
            parse_time(answer.get("now")) or 0.0,
            pmap({k: tuple(v) for k, v in by_kind.items()}),
        )


@attrs.frozen
class WorkloadHistory:
    step: int = -1
    snapshot: Snapshot | None = None
    #: The snapshot of the step before (None before the second snapshot).
    previous: Snapshot | None = None
    runtime: Mapping[str, Any] | None = None
    #: Requests of the newest step, in order.
    requests: tuple[Mapping[str, Any], ...] = ()
    #: The step ended with a settle answered settled: true.
    settled: bool = False
    down: PSet[str] = attrs.field(factory=pset)
    partitioned: PSet[str] = attrs.field(factory=pset)
    #: (namespace, pod) whose readiness probe was told to fail and not told to pass since.
    unready: PSet[tuple[str, str]] = attrs.field(factory=pset)
    failing_images: PSet[str] = attrs.field(factory=pset)
    #: Controllers told to lag (seconds > 0) and not told to stop; those lagging at any
    #: point of the newest step.
    lagging: PSet[str] = attrs.field(factory=pset)
    lagged_this_step: PSet[str] = attrs.field(factory=pset)
    #: Controllers told to lag at some step so far.
    ever_lagged: PSet[str] = attrs.field(factory=pset)
    #: (namespace, pod) whose container was told to exit at some step so far.
    exited: PSet[tuple[str, str]] = attrs.field(factory=pset)
    #: The step before this one ended by letting time pass (see `caught_up`).
    previous_caught_up: bool = True
    #: A fault, pod deletion or controller lag happened at some step so far.
    disturbed: bool = False
    #: ReplicaSet uid -> the largest spec.replicas any snapshot showed.
    max_replicas: PMap[str, int] = attrs.field(factory=pmap)
    #: Pod uid -> the uid of its controller, as last seen (kept after the pod is gone).
    pod_owner: PMap[str, str] = attrs.field(factory=pmap)
    #: Deployment uid -> whether it has ever been seen with a RollingUpdate strategy.
    ever_rolling: PMap[str, bool] = attrs.field(factory=pmap)

    @property
    def caught_up(self) -> bool:
        """The step ended by letting time pass, so the controllers have seen its writes."""
        return bool(self.requests) and self.requests[-1].get("op") in ("advance", "settle")

    @property
    def faults(self) -> bool:
        """Some fault is in force now (a NoExecute taint the user put on a node evicts pods)."""
        if self.down or self.partitioned or self.unready or self.failing_images:
            return True
        nodes = self.snapshot.of("Node") if self.snapshot is not None else ()
        return any("NoExecute" in user_taint_effects(n) for n in nodes)

    def healthy_nodes(self, *, schedulable: bool = True) -> set[str]:
        """Nodes up, reachable and Ready (and, if asked, not cordoned) in the last snapshot."""
        if self.snapshot is None:
            return set()
        out = set()
        for node in self.snapshot.of("Node"):
            name = str(node["metadata"]["name"])
            if name in self.down or name in self.partitioned:
                continue
            if schedulable and (node.get("spec") or {}).get("unschedulable"):
                continue
            effects = user_taint_effects(node)
            if "NoExecute" in effects or (schedulable and "NoSchedule" in effects):
                continue
            if _ready(node):
                out.add(name)
        return out


def user_taint_effects(node: Obj) -> set[str]:
    """The effects of the taints a user put on the node (not the node.kubernetes.io/ ones that
    the node controllers keep): pods that do not tolerate them go elsewhere or are evicted."""
    return {
        str(t.get("effect"))
        for t in (node.get("spec") or {}).get("taints") or ()
        if isinstance(t, Mapping) and not str(t.get("key", "")).startswith("node.kubernetes.io/")
    }


def _ready(obj: Obj) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


#: The ops that power a node off or on, or cut it off and heal it.
NODE_FAULT_OPS = frozenset({"node.down", "node.up", "node.partition", "node.heal"})


def follow_node_fault(
    request: Mapping[str, Any], down: PSet[str], partitioned: PSet[str]
) -> tuple[PSet[str], PSet[str]]:
    """The nodes powered off and those cut off, after a node fault op that succeeded."""
    op, name = request.get("op"), str(request.get("name", ""))
    if op == "node.down":
        down = down.add(name)
    elif op == "node.up":
        down = down.discard(name)
    elif op == "node.partition":
        partitioned = partitioned.add(name)
    elif op == "node.heal":
        partitioned = partitioned.discard(name)
    return down, partitioned


def follow_lag(request: Mapping[str, Any], lagging: PSet[str]) -> PSet[str]:
    """The controllers told to lag, after a `controller.lag` that succeeded (0 s stops it)."""
    name = str(request.get("name", ""))
    return lagging.add(name) if request.get("seconds") else lagging.discard(name)


def _fold(h: WorkloadHistory, exchanges: Iterable[Exchange], step: int) -> WorkloadHistory:
    requests: list[Mapping[str, Any]] = []
    down, partitioned = h.down, h.partitioned
    unready, failing = h.unready, h.failing_images
    exited = h.exited
    lagging = h.lagging
    lagged = set(lagging)
    settled = False
    snapshot, previous, runtime = h.snapshot, h.previous, h.runtime
    disturbed = h.disturbed
    took_snapshot = False
    for ex in exchanges:
        request = ex.request
        op = ex.op
        if op not in ("snapshot", "runtime"):
            requests.append(request)
        if not ex.ok:
            continue
        if op in NODE_FAULT_OPS:
            down, partitioned = follow_node_fault(request, down, partitioned)
        elif op == "probe.set" and request.get("probe") == "readiness":
            key = (str(request.get("namespace")), str(request.get("pod")))
            unready = unready.discard(key) if request.get("passing") else unready.add(key)
        elif op == "container.exit":
            exited = exited.add((str(request.get("namespace")), str(request.get("pod"))))
        elif op == "image.fail":
            image = str(request.get("image"))
            failing = failing.add(image) if request.get("failing") else failing.discard(image)
        elif op == "controller.lag":
            lagging = follow_lag(request, lagging)
            lagged.update(lagging)
        elif op == "settle":
            settled = bool(ex.answer.get("settled"))
        elif op in ("advance", "reset"):
            settled = False
        elif op == "snapshot":
            if not took_snapshot:
                previous = snapshot
            snapshot = Snapshot.from_answer(ex.answer)
            took_snapshot = True
        elif op == "runtime":
            runtime = ex.answer
        if op in DISRUPTIVE_OPS - {"scale"} or (op == "delete" and request.get("kind") == "Pod"):
            disturbed = True
    max_replicas, pod_owner, ever_rolling = h.max_replicas, h.pod_owner, h.ever_rolling
    if snapshot is not None and took_snapshot:
        for rs in snapshot.of("ReplicaSet"):
            uid = str(rs["metadata"]["uid"])
            replicas = int((rs.get("spec") or {}).get("replicas", 1))
            if replicas > max_replicas.get(uid, -1):
                max_replicas = max_replicas.set(uid, replicas)
        for pod in snapshot.of("Pod"):
            uid = str(pod["metadata"]["uid"])
            owner = controller_uid(pod)
            if owner and pod_owner.get(uid) != owner:
                pod_owner = pod_owner.set(uid, owner)
            elif not owner and uid in pod_owner:
                pod_owner = pod_owner.remove(uid)
        for d in snapshot.of("Deployment"):
            uid = str(d["metadata"]["uid"])
            strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type")
            if strategy != "Recreate" and not ever_rolling.get(uid):
                ever_rolling = ever_rolling.set(uid, True)
    return WorkloadHistory(
        step=step,
        snapshot=snapshot,
        previous=previous,
        runtime=runtime,
        requests=tuple(requests),
        settled=settled and took_snapshot,
        down=down,
        partitioned=partitioned,
        unready=unready,
        failing_images=failing,
        lagging=lagging,
        lagged_this_step=pset(lagged | set(lagging)),
        ever_lagged=h.ever_lagged.update(lagged),
        exited=exited,
        previous_caught_up=h.caught_up or h.step < 0,
        disturbed=disturbed,
        max_replicas=max_replicas,
        pod_owner=pod_owner,
        ever_rolling=ever_rolling,
    )


def fresh(trace: Trace) -> WorkloadHistory | None:
    """The history, when the newest step took a snapshot (what a law judges)."""
    return fresh_history(history, trace)


#: The history of a trace, built from its predecessor's (memoised by identity).
history: TraceFold[WorkloadHistory] = TraceFold(WorkloadHistory, _fold)
