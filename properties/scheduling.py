"""Laws of the `scheduling` level: where pods land, and what preemption may take.

A binding is judged against the state it was made in when the target
streams watch events (`properties.schedhistory`); against the snapshot it
first shows in otherwise, with the filters a step cannot have disturbed.
While the scheduler is told to lag it decides on an older view, which
upstream's informers also do: then only what its own cache guarantees
(resources and host ports, which only it hands out) is held against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from properties.laws import law
from properties.placement import (
    FILTERS,
    NodeFacts,
    Placement,
    PodFacts,
    filter_failures,
    passes,
    total_scores,
)
from properties.schedhistory import Binding, SchedulingHistory, history, placement_of
from properties.trace import TargetInfo, Trace, Violation

_KINDS = ("Pod", "Node")
_CONFORMANCE_PREDICATES = (
    "[sig-scheduling] SchedulerPredicates [Serial] validates resource limits of pods that are"
    " allowed to run [Conformance]",
    "[sig-scheduling] SchedulerPredicates [Serial] validates that NodeSelector is respected if"
    " matching [Conformance]",
    "[sig-scheduling] SchedulerPredicates [Serial] validates that NodeSelector is respected if"
    " not matching [Conformance]",
    "[sig-scheduling] SchedulerPredicates [Serial] validates that there exists conflict between"
    " pods with same hostPort and protocol but one using 0.0.0.0 hostIP [Conformance]",
)
_CONFORMANCE_PREEMPTION = (
    "[sig-scheduling] SchedulerPreemption [Serial] validates basic preemption works [Conformance]",
    "[sig-scheduling] SchedulerPreemption [Serial] validates lower priority pod preemption by"
    " critical pod [Conformance]",
)
#: Filters a binding found only in a snapshot can still be judged by: the user's changes
#: come before the scheduler runs in a step, and controllers do not touch these inputs.
_SNAPSHOT_FILTERS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
)
#: What a lagging scheduler's own cache still guarantees.
_LAGGING_FILTERS = ("NodePorts", "NodeResourcesFit")
#: Taints the node lifecycle controller puts on at any moment of a step.
_CONTROLLER_TAINT_PREFIX = "node.kubernetes.io/"
_DEFAULT_SCHEDULER = "default-scheduler"


def _violation(trace: Trace, law_id: str, message: str, *objects: Any) -> Violation:
    return Violation(law_id, message, trace.step_index, tuple(objects))


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}".lstrip("/")


def _fresh(trace: Trace) -> SchedulingHistory | None:
    h = history(trace)
    return h if h.step == trace.step_index else None


def _unbound(pod: Mapping[str, Any]) -> PodFacts:
    return attrs.evolve(PodFacts.of(pod), node_name="")


def _nominated(state: Iterable[Mapping[str, Any]]) -> dict[str, list[PodFacts]]:
    found: dict[str, list[PodFacts]] = {}
    for o in state:
        if o.get("kind") != "Pod" or (o.get("spec") or {}).get("nodeName"):
            continue
        node = (o.get("status") or {}).get("nominatedNodeName")
        if node:
            found.setdefault(node, []).append(PodFacts.of(o))
    return found


def _judged(b: Binding) -> tuple[tuple[str, ...], Placement, NodeFacts | None]:
    """The filters a binding is held to, the placement it is judged in, and its node."""
    placement = placement_of(b.before, without=str(b.pod["metadata"].get("uid") or ""))
    node = placement.node(b.node)
    if b.lagging:
        return _LAGGING_FILTERS, placement, node
    if not b.exact:
        if node is not None:
            taints = tuple(
                t
                for t in node.taints
                if not str(t.get("key", "")).startswith(_CONTROLLER_TAINT_PREFIX)
            )
            node = attrs.evolve(node, taints=taints)
        return _SNAPSHOT_FILTERS, placement, node
    return tuple(FILTERS), placement, node


def _default_scheduled(pod: Mapping[str, Any]) -> bool:
    name = (pod.get("spec") or {}).get("schedulerName", _DEFAULT_SCHEDULER)
    return bool(name == _DEFAULT_SCHEDULER)


def _clear_bindings(trace: Trace) -> Iterator[Binding]:
    """The newest step's bindings by the default scheduler whose state is known exactly and
    which it made on an up-to-date view: those a law may hold to the scheduler's full cycle."""
    h = _fresh(trace)
    if h is None:
        return
    for b in h.bindings:
        if b.exact and not b.lagging and _default_scheduled(b.pod):
            yield b


@law(
    "scheduling.binding-never-changes",
    "Once a pod is bound to a node it stays bound to that node for as long as it exists.",
    kinds=_KINDS,
    conformance=_CONFORMANCE_PREDICATES[:1],
)
def binding_never_changes(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None:
        return
    for pod, first, later in h.moved:
        yield _violation(
            trace,
            "scheduling.binding-never-changes",
            f"pod {_name(pod)} was bound to {first} and is now bound to {later}",
            pod,
        )
        return


def _overcommitted(node: NodeFacts, placement: Placement) -> list[str]:
    usage = placement.usage[node.name]
    problems = []
    if len(usage.pods) > node.allocatable.get("pods", 0):
        problems.append(f"{len(usage.pods)} pods for {node.allocatable.get('pods', 0)} slots")
    for resource, used in sorted(usage.requested.items()):
        if used > node.allocatable.get(resource, 0):
            problems.append(f"{resource} {used} requested of {node.allocatable.get(resource, 0)}")
    return problems


@law(
    "scheduling.runtime-within-capacity",
    "What a machine's runtime actually runs fits the node: the requests of pods with running"
    " containers never exceed its allocatable resources or pod slots (pods the user"
    " force-deleted excepted, whose containers may outlive them by design).",
    needs=("runtime",),
    kinds=_KINDS,
    bugs=("#76772",),
)
def runtime_within_capacity(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    snapshot = trace.snapshot
    if h is None or h.runtime is None or snapshot is None:
        return
    nodes = {name: NodeFacts.of(o) for (kind, _, name), o in snapshot.items() if kind == "Node"}
    for name, machine in (h.runtime.get("nodes") or {}).items():
        node = nodes.get(name)
        if node is None:
            continue
        running = sorted(
            {
                c.get("uid", "")
                for c in machine.get("containers") or ()
                if c.get("state") == "running"
            }
            - set(h.force_deleted)
        )
        pods = [PodFacts.of(h.pods[uid]) for uid in running if uid in h.pods]
        usage = Placement.of(
            [node], [attrs.evolve(p, node_name=name, terminal=False) for p in pods]
        )
        problems = _overcommitted(node, usage)
        if problems:
            yield _violation(
                trace,
                "scheduling.runtime-within-capacity",
                f"the runtime of {name} runs pods {', '.join(_name(p.wire) for p in pods)}, which"
                f" overcommit it: {'; '.join(problems)}",
                node.wire,
            )
            return


@law(
    "scheduling.no-overcommit",
    "No node is asked for more than it has: the requests of the unfinished pods bound to it fit"
    " its allocatable cpu, memory, extended resources and pod slots.",
    kinds=_KINDS,
    conformance=_CONFORMANCE_PREDICATES[:1],
    bugs=("#76772", "#107679", "#10928", "#60469"),
)
def no_overcommit(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    snapshot = trace.snapshot
    if h is None or snapshot is None or trace.before is None:
        return
    if trace.snapshot is trace.before.snapshot:
        return
    placement = placement_of(snapshot)
    for node in placement.nodes:
        problems = _overcommitted(node, placement)
        if problems:
            pods = ", ".join(_name(p.wire) for p in placement.usage[node.name].pods)
            yield _violation(
                trace,
                "scheduling.no-overcommit",
                f"node {node.name} is overcommitted ({'; '.join(problems)}) by pods {pods}",
                node.wire,
            )
            return


@law(
    "scheduling.spread-skew-at-binding",
    "A pod with a DoNotSchedule topology spread constraint is bound only where the skew it"
    " makes stays within maxSkew (counted as upstream: matching, non-terminating pods per"
    " domain, against the least populated eligible domain).",
    needs=("watch",),
    kinds=_KINDS,
)
def spread_skew_at_binding(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    for b in _clear_bindings(trace):
        pod = _unbound(b.pod)
        if not any(c.hard for c in pod.spread):
            continue
        placement = placement_of(b.before, without=pod.uid)
        node = placement.node(b.node)
        if node is None:
            continue
        failures = filter_failures(pod, node, placement, ("PodTopologySpread",))
        if failures:
            yield _violation(
                trace,
                "scheduling.spread-skew-at-binding",
                f"pod {_name(b.pod)} was bound to {b.node} although {failures[0].reason}",
                b.pod,
            )
            return


@law(
    "scheduling.filters-hold-at-binding",
    "Every pod the scheduler binds passes every filter (resources, pod slots, host ports, node"
    " name, cordon, taints, node affinity, topology spread, inter-pod affinity) against the"
    " cluster as it was when it was bound.",
    kinds=_KINDS,
    conformance=_CONFORMANCE_PREDICATES,
    bugs=("#76772", "#22398"),
)
def filters_hold_at_binding(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None:
        return
    for b in h.bindings:
        if not _default_scheduled(b.pod):
            continue
        filters, placement, node = _judged(b)
        if node is None:
            continue
        failures = filter_failures(_unbound(b.pod), node, placement, filters)
        if failures:
            reasons = "; ".join(f"{f.plugin}: {f.reason}" for f in failures)
            how = "as it was" if b.exact else "in the snapshot after"
            yield _violation(
                trace,
                "scheduling.filters-hold-at-binding",
                f"pod {_name(b.pod)} was bound to {b.node}, which fails it {how}: {reasons}",
                b.pod,
                node.wire,
            )
            return


def _pending(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase")
    return (
        pod.get("kind") == "Pod"
        and not spec.get("nodeName")
        and not meta.get("deletionTimestamp")
        and phase not in ("Succeeded", "Failed")
        and not spec.get("schedulingGates")
        and _default_scheduled(pod)
    )


@law(
    "scheduling.fitting-pods-get-bound",
    "Once the cluster settles, no pod is left pending while some node passes every filter for"
    " it (leaving room for pods of equal or higher priority nominated there).",
    kind="liveness",
    kinds=_KINDS,
    conformance=_CONFORMANCE_PREDICATES[1:2],
    bugs=("#22398", "#49314"),
)
def fitting_pods_get_bound(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    snapshot = trace.snapshot
    if h is None or not h.settled or snapshot is None:
        return
    placement = placement_of(snapshot)
    nominated = _nominated(snapshot.values())
    for pod in snapshot.values():
        if not _pending(pod):
            continue
        facts = PodFacts.of(pod)
        for node in placement.nodes:
            if passes(facts, node, placement, tuple(FILTERS), nominated) is None:
                yield _violation(
                    trace,
                    "scheduling.fitting-pods-get-bound",
                    f"pod {_name(pod)} is still pending after the cluster settled, although node"
                    f" {node.name} passes every filter for it",
                    pod,
                    node.wire,
                )
                return


def _priority(pod: Mapping[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def _fits_somewhere(
    pod: PodFacts, placement: Placement, nominated: Mapping[str, Sequence[PodFacts]]
) -> str | None:
    for node in placement.nodes:
        if passes(pod, node, placement, tuple(FILTERS), nominated) is None:
            return node.name
    return None


@law(
    "scheduling.preemption-evicts-only-lower-priority",
    "A pod is preempted only for a pod of strictly higher priority nominated to (or bound on)"
    " its node, and only when that pod fit no node without evicting anyone.",
    kinds=(*_KINDS, "PriorityClass"),
    conformance=_CONFORMANCE_PREEMPTION,
    bugs=("#129136",),
)
def preemption_evicts_only_lower_priority(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = _fresh(trace)
    if h is None or not h.victims:
        return
    law_id = "scheduling.preemption-evicts-only-lower-priority"
    after: Mapping[Any, Mapping[str, Any]] = h.state if h.watching else (trace.snapshot or {})
    for v in h.victims:
        priority = _priority(v.pod)
        on_node = [pod for node, pod in h.nominations if node == v.node]
        on_node += [
            o
            for o in [*after.values(), *v.before.values()]
            if o.get("kind") == "Pod" and v.node and (o.get("spec") or {}).get("nodeName") == v.node
        ]
        preemptors = [o for o in on_node if _priority(o) > priority]
        if not preemptors:
            yield _violation(
                trace,
                law_id,
                f"pod {_name(v.pod)} (priority {priority}) on {v.node} was preempted, but no pod of"
                f" higher priority is nominated to or bound on {v.node}",
                v.pod,
            )
            return
        if not v.exact or v.lagging:
            continue
        placement = placement_of(v.before)
        nominated = _nominated(v.before.values())
        pending = [o for o in preemptors if _pending(v.before.get(("Pod", *_ns_name(o))) or {})]
        if not pending:
            continue
        fits = [(o, _fits_somewhere(PodFacts.of(o), placement, nominated)) for o in pending]
        if all(node is not None for _, node in fits):
            o, node = fits[0]
            yield _violation(
                trace,
                law_id,
                f"pod {_name(v.pod)} was preempted for {_name(o)}, which fit node {node} as it was",
                v.pod,
                o,
            )
            return


def _ns_name(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


@law(
    "scheduling.best-score-chosen",
    "The scheduler binds each pod to a feasible node of the highest total score under the"
    " reference's default profile (weights and normalization of Kubernetes 1.34's default"
    " plugins, without ImageLocality), unless it goes to the node it was nominated to.",
    scope="strict",
    needs=("watch",),
    kinds=_KINDS,
)
def best_score_chosen(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    for b in _clear_bindings(trace):
        pod = _unbound(b.pod)
        earlier = b.before.get(("Pod", *_ns_name(b.pod))) or {}
        if (earlier.get("status") or {}).get("nominatedNodeName") == b.node:
            continue  # a nominated node that fits is taken without scoring (upstream too)
        placement = placement_of(b.before, without=pod.uid)
        nominated = _nominated(b.before.values())
        feasible = [
            n
            for n in placement.nodes
            if passes(pod, n, placement, tuple(FILTERS), nominated) is None
        ]
        if len(feasible) < 2 or b.node not in {n.name for n in feasible}:
            continue
        totals = total_scores(pod, feasible, placement)
        best = max(totals.values())
        if totals[b.node] < best:
            winners = sorted(n for n, s in totals.items() if s == best)
            yield _violation(
                trace,
                "scheduling.best-score-chosen",
                f"pod {_name(b.pod)} was bound to {b.node} (score {totals[b.node]}), but"
                f" {', '.join(winners)} scored {best}",
                b.pod,
            )
            return
