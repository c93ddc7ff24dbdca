"""Where a pod may go, and how good each place is: kube-scheduler's plugins as pure functions.

The reference scheduler composes these into its cycle, and the scheduling
laws judge every binding with the same rules, so the two cannot drift
apart. Everything works on `PodFacts` and `NodeFacts` (the fields of wire
objects the plugins read, parsed once) and on a `Placement`: the nodes and
the pods placed on them, with the per-node sums the plugins need.

Filters answer None (the node passes) or a `Failure` naming the plugin and
saying whether evicting pods could help (`resolvable`), which is what
preemption needs. Scores answer a raw number per node; each plugin's
`normalize` maps the raw numbers of the feasible nodes to 0..100. The
formulas follow Kubernetes 1.34 (`pkg/scheduler/framework/plugins`), and
docs/fidelity.md lists what is left out (volumes, ImageLocality, DRA).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from properties.labels import InvalidSelectorError, Selector, from_label_selector
from properties.quantity import QuantityError, milli_value, parse_quantity, value
from properties.scheduling_terms import (
    pod_matches_node_affinity,
    toleration_tolerates,
    untolerated_taints,
)

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "MAX_NODE_SCORE",
    "AffinityTerm",
    "Failure",
    "NodeFacts",
    "NodeUsage",
    "Placement",
    "PodFacts",
    "SpreadConstraint",
    "amount",
    "balanced_allocation_score",
    "existing_credits",
    "filter_failures",
    "first_failure",
    "incoming_credits",
    "inter_pod_affinity_scores",
    "node_affinity_score",
    "resource_score",
    "taint_toleration_score",
    "topology_spread_scores",
]

MAX_NODE_SCORE = 100
#: Scoring counts a pod without cpu or memory requests as asking for these (schedutil).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: Scoring's stand-ins for a container's absent cpu and memory requests
#: (NonMissingContainerRequests).
_SCORING_DEFAULTS = {"cpu": DEFAULT_MILLI_CPU_REQUEST, "memory": DEFAULT_MEMORY_REQUEST}
#: Resources counted in thousandths (millicores); the others in whole units.
_MILLI_RESOURCES = ("cpu",)


def amount(resource: str, quantity: Any) -> int:
    """A resource quantity in the unit the scheduler counts: millicores for cpu, else units.

    A quantity that does not parse counts as 0; validation refuses such
    objects, so only a target that stores them would make this matter.
    """
    if isinstance(quantity, str):
        return _amount_of_text(resource in _MILLI_RESOURCES, quantity)
    return _amount(resource in _MILLI_RESOURCES, quantity)


@functools.lru_cache(maxsize=4096)
def _amount_of_text(milli: bool, quantity: str) -> int:
    """`amount` of a quantity string; memoised, as a cluster spells few distinct quantities."""
    return _amount(milli, quantity)


def _amount(milli: bool, quantity: Any) -> int:
    try:
        parsed = parse_quantity(quantity)
    except (QuantityError, TypeError):
        return 0
    return milli_value(parsed) if milli else value(parsed)


def _amounts(resources: Any) -> dict[str, int]:
    if not isinstance(resources, Mapping):
        return {}
    return {str(r): amount(str(r), q) for r, q in resources.items()}


def _container_requests(
    container: Mapping[str, Any], defaults: Mapping[str, int] | None = None
) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = _amounts(resources.get("requests"))
    # API defaulting copies limits into absent requests; a target that did not is read alike.
    for r, q in _amounts(resources.get("limits")).items():
        requests.setdefault(r, q)
    for r, q in (defaults or {}).items():
        if not requests.get(r):
            requests[r] = q
    return requests


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for r, q in more.items():
        into[r] = into.get(r, 0) + q


def pod_requests(
    spec: Mapping[str, Any], defaults: Mapping[str, int] | None = None
) -> dict[str, int]:
    """What a pod asks of its node (upstream `resourcehelper.PodRequests`).

    The sum over the regular containers and the sidecars (init containers
    with restartPolicy Always), or more if an init container needs more
    while it runs beside the sidecars started before it; plus overhead.
    """
    return _pod_total(
        spec,
        [_container_requests(c, defaults) for c in spec.get("containers") or ()],
        [
            (c.get("restartPolicy") == "Always", _container_requests(c, defaults))
            for c in spec.get("initContainers") or ()
        ],
    )


def _with_defaults(requests: Mapping[str, int], defaults: Mapping[str, int]) -> dict[str, int]:
    """`_container_requests(c, defaults)` from `_container_requests(c)`: defaults fill the
    absent or zero requests."""
    result = dict(requests)
    for r, q in defaults.items():
        if not result.get(r):
            result[r] = q
    return result


def _pod_total(
    spec: Mapping[str, Any],
    regular: Sequence[Mapping[str, int]],
    init: Sequence[tuple[bool, Mapping[str, int]]],
) -> dict[str, int]:
    """`pod_requests` from its containers' requests (init ones with whether each is a sidecar),
    so that `PodFacts.of` parses each container once for both of its sums."""
    total: dict[str, int] = {}
    for requests in regular:
        _add(total, requests)
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for sidecar, requests in init:
        if sidecar:
            _add(sidecars, requests)
            _add(total, requests)
            current = dict(sidecars)
        else:
            current = dict(sidecars)
            _add(current, requests)
        for r, q in current.items():
            init_peak[r] = max(init_peak.get(r, 0), q)
    for r, q in init_peak.items():
        total[r] = max(total.get(r, 0), q)
    _add(total, _amounts(spec.get("overhead")))
    return {r: q for r, q in total.items() if q > 0}


def _selector(raw: Any) -> Selector:
    try:
        return from_label_selector(raw if isinstance(raw, Mapping) else None)
    except InvalidSelectorError:
        return Selector.nothing()


@attrs.frozen
class AffinityTerm:
    """A pod (anti-)affinity term, resolved against the namespace of the pod that states it."""

    selector: Selector
    namespaces: frozenset[str]
    #: None: only `namespaces` count; otherwise namespaces whose labels it matches count too.
    namespace_selector: Selector | None
    topology_key: str
    weight: int = 1

    @classmethod
    def parse(cls, raw: Mapping[str, Any], namespace: str, weight: int = 1) -> AffinityTerm:
        namespaces = frozenset(raw.get("namespaces") or ())
        ns_selector_raw = raw.get("namespaceSelector")
        ns_selector = None if ns_selector_raw is None else _selector(ns_selector_raw)
        if not namespaces and ns_selector_raw is None:
            namespaces = frozenset({namespace})
        return cls(
            _selector(raw.get("labelSelector")),
            namespaces,
            ns_selector,
            str(raw.get("topologyKey") or ""),
            weight,
        )

    def matches(self, pod: PodFacts, namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
        if pod.namespace not in self.namespaces and not (
            self.namespace_selector is not None
            and self.namespace_selector.matches(namespace_labels.get(pod.namespace, {}))
        ):
            return False
        return self.selector.matches(pod.labels)


@attrs.frozen
class SpreadConstraint:
    max_skew: int
    topology_key: str
    hard: bool
    selector: Selector
    min_domains: int
    honor_node_affinity: bool
    honor_node_taints: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any], labels: Mapping[str, str]) -> SpreadConstraint:
        selector = _selector(raw.get("labelSelector"))
        keys = [k for k in raw.get("matchLabelKeys") or () if k in labels]
        if keys and raw.get("labelSelector") is not None:
            extra = {"matchLabels": {k: labels[k] for k in keys}}
            merged = dict(raw["labelSelector"])
            merged["matchLabels"] = {**(merged.get("matchLabels") or {}), **extra["matchLabels"]}
            selector = _selector(merged)
        return cls(
            max_skew=int(raw.get("maxSkew") or 1),
            topology_key=str(raw.get("topologyKey") or ""),
            hard=raw.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule",
            selector=selector,
            min_domains=int(raw.get("minDomains") or 1),
            honor_node_affinity=raw.get("nodeAffinityPolicy", "Honor") == "Honor",
            honor_node_taints=raw.get("nodeTaintsPolicy", "Ignore") == "Honor",
        )


def _terms(raw: Any, namespace: str, weighted: bool) -> tuple[AffinityTerm, ...]:
    terms = []
    for item in raw or ():
        if not isinstance(item, Mapping):
            continue
        if weighted:
            term = item.get("podAffinityTerm") or {}
            terms.append(AffinityTerm.parse(term, namespace, int(item.get("weight") or 0)))
        else:
            terms.append(AffinityTerm.parse(item, namespace))
    return tuple(terms)


@attrs.frozen
class PodFacts:
    """What the scheduler reads of a pod, parsed once from its wire form."""

    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str]
    priority: int
    requests: Mapping[str, int]
    #: cpu (milli) and memory as scoring counts them: defaults stand in for absent requests.
    nonzero_cpu: int
    nonzero_memory: int
    #: (protocol, hostIP, hostPort) of every container port with a hostPort.
    host_ports: tuple[tuple[str, str, int], ...]
    node_name: str
    scheduler_name: str
    tolerations: tuple[Mapping[str, Any], ...]
    spread: tuple[SpreadConstraint, ...]
    affinity: tuple[AffinityTerm, ...]
    anti_affinity: tuple[AffinityTerm, ...]
    preferred_affinity: tuple[AffinityTerm, ...]
    preferred_anti_affinity: tuple[AffinityTerm, ...]
    preferred_node_terms: tuple[tuple[int, Mapping[str, Any]], ...]
    terminating: bool
    terminal: bool
    #: Being deleted by preemption (condition DisruptionTarget, reason PreemptionByScheduler).
    preempted: bool
    preempt: bool
    nominated_node: str
    start_time: str
    #: The pod as sent, for the rules that read wire objects directly (node affinity).
    wire: Mapping[str, Any] = attrs.field(eq=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def best_effort(self) -> bool:
        return not self.requests.get("cpu") and not self.requests.get("memory")

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> PodFacts:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        namespace = str(meta.get("namespace") or "")
        labels = dict(meta.get("labels") or {})
        # pod_requests(spec) and pod_requests(spec, _SCORING_DEFAULTS), parsing once
        regular = [_container_requests(c) for c in spec.get("containers") or ()]
        init = [
            (c.get("restartPolicy") == "Always", _container_requests(c))
            for c in spec.get("initContainers") or ()
        ]
        requests = _pod_total(spec, regular, init)
        nonzero = _pod_total(
            spec,
            [_with_defaults(r, _SCORING_DEFAULTS) for r in regular],
            [(sidecar, _with_defaults(r, _SCORING_DEFAULTS)) for sidecar, r in init],
        )
        ports = []
        for c in list(spec.get("initContainers") or ()) + list(spec.get("containers") or ()):
            for p in c.get("ports") or ():
                host_port = p.get("hostPort") or 0
                if host_port > 0:
                    ports.append((p.get("protocol") or "TCP", p.get("hostIP") or "", host_port))
        affinity = spec.get("affinity") or {}
        pod_affinity = affinity.get("podAffinity") or {}
        pod_anti = affinity.get("podAntiAffinity") or {}
        node_affinity = affinity.get("nodeAffinity") or {}
        required = "requiredDuringSchedulingIgnoredDuringExecution"
        preferred = "preferredDuringSchedulingIgnoredDuringExecution"
        return cls(
            namespace=namespace,
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            labels=labels,
            priority=int(spec.get("priority") or 0),
            requests=requests,
            nonzero_cpu=nonzero.get("cpu", 0),
            nonzero_memory=nonzero.get("memory", 0),
            host_ports=tuple(ports),
            node_name=str(spec.get("nodeName") or ""),
            scheduler_name=str(spec.get("schedulerName") or "default-scheduler"),
            tolerations=tuple(spec.get("tolerations") or ()),
            spread=tuple(
                SpreadConstraint.parse(c, labels)
                for c in spec.get("topologySpreadConstraints") or ()
            ),
            affinity=_terms(pod_affinity.get(required), namespace, False),
            anti_affinity=_terms(pod_anti.get(required), namespace, False),
            preferred_affinity=_terms(pod_affinity.get(preferred), namespace, True),
            preferred_anti_affinity=_terms(pod_anti.get(preferred), namespace, True),
            preferred_node_terms=tuple(
                (int(t.get("weight") or 0), t.get("preference") or {})
                for t in node_affinity.get(preferred) or ()
            ),
            terminating=bool(meta.get("deletionTimestamp")),
            preempted=any(
                c.get("type") == "DisruptionTarget"
                and c.get("status") == "True"
                and c.get("reason") == "PreemptionByScheduler"
                for c in status.get("conditions") or ()
            ),
            terminal=status.get("phase") in ("Succeeded", "Failed"),
            preempt=spec.get("preemptionPolicy", "PreemptLowerPriority") != "Never",
            nominated_node=str(status.get("nominatedNodeName") or ""),
            start_time=str(status.get("startTime") or meta.get("creationTimestamp") or ""),
            wire=pod,
        )


@attrs.frozen
class NodeFacts:
    name: str
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, Any], ...]
    unschedulable: bool
    allocatable: Mapping[str, int]
    wire: Mapping[str, Any] = attrs.field(eq=False, repr=False)

    @classmethod
    def of(cls, node: Mapping[str, Any]) -> NodeFacts:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        return cls(
            name=str(meta.get("name") or ""),
            labels=dict(meta.get("labels") or {}),
            taints=tuple(spec.get("taints") or ()),
            unschedulable=bool(spec.get("unschedulable")),
            allocatable=_amounts(allocatable),
            wire=node,
        )


@attrs.frozen
class NodeUsage:
    """What the pods on one node take: the sums NodeResourcesFit and the scores read."""

    pods: tuple[PodFacts, ...] = ()
    requested: Mapping[str, int] = attrs.field(factory=dict)
    nonzero_cpu: int = 0
    nonzero_memory: int = 0
    ports: tuple[tuple[str, str, int], ...] = ()

    def plus(self, pod: PodFacts) -> NodeUsage:
        requested = dict(self.requested)
        _add(requested, pod.requests)
        return NodeUsage(
            (*self.pods, pod),
            requested,
            self.nonzero_cpu + pod.nonzero_cpu,
            self.nonzero_memory + pod.nonzero_memory,
            self.ports + pod.host_ports,
        )

    def minus(self, pod: PodFacts) -> NodeUsage:
        usage = NodeUsage()
        for p in self.pods:
            if p.uid != pod.uid:
                usage = usage.plus(p)
        return usage


@attrs.frozen
class Placement:
    """The nodes and the pods on them: the scheduler's snapshot, or a law's reading of one.

    Pods on a node that is not in `nodes` are kept (inter-pod rules ignore
    them, as the scheduler's snapshot has no node to hang them on).
    """

    nodes: tuple[NodeFacts, ...]
    usage: Mapping[str, NodeUsage]
    namespace_labels: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    #: Set by `with_pod` alone: the usage mapping it copied and the one node whose usage it
    #: replaced. No part of the value (`evolve` and the constructor leave it None): a hint
    #: that lets whoever keeps per-node columns of that earlier placement (the fast
    #: scheduler) patch one node instead of comparing every usage. It holds the earlier
    #: mapping, not the earlier placement, so a chain of `with_pod` keeps no chain alive.
    derived_from: tuple[Mapping[str, NodeUsage], str] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )

    @classmethod
    def of(
        cls,
        nodes: Iterable[NodeFacts],
        pods: Iterable[PodFacts],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Placement:
        """The placement of `pods` (those bound and not finished) on `nodes`."""
        ordered = tuple(sorted(nodes, key=lambda n: n.name))
        usage: dict[str, NodeUsage] = {n.name: NodeUsage() for n in ordered}
        for pod in pods:
            if pod.node_name and not pod.terminal and pod.node_name in usage:
                usage[pod.node_name] = usage[pod.node_name].plus(pod)
        return cls(ordered, usage, dict(namespace_labels or {}))

    def node(self, name: str) -> NodeFacts | None:
        for n in self.nodes:
            if n.name == name:
                return n
        return None

    def placed(self) -> Iterator[tuple[NodeFacts, PodFacts]]:
        for node in self.nodes:
            for pod in self.usage[node.name].pods:
                yield node, pod

    def with_pod(self, pod: PodFacts, node: str) -> Placement:
        usage = dict(self.usage)
        bound = pod if pod.node_name == node else attrs.evolve(pod, node_name=node)
        usage[node] = usage[node].plus(bound)
        placement = Placement(self.nodes, usage, self.namespace_labels)
        object.__setattr__(placement, "derived_from", (self.usage, node))
        return placement

    def without(self, pods: Iterable[PodFacts]) -> Placement:
        usage = dict(self.usage)
        for pod in pods:
            if pod.node_name in usage:
                usage[pod.node_name] = usage[pod.node_name].minus(pod)
        return attrs.evolve(self, usage=usage)


@attrs.frozen
class Failure:
    plugin: str
    reason: str
    #: Evicting lower-priority pods could make the node fit (Unschedulable, not ...AndUnresolvable).
    resolvable: bool


# -- filters ---------------------------------------------------------------------------------------


def node_name_filter(pod: PodFacts, node: NodeFacts, placement: Placement) -> Failure | None:
    if pod.node_name and pod.node_name != node.name:
        return Failure("NodeName", "node(s) didn't match the requested node name", False)
    return None


_UNSCHEDULABLE_TAINT = {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}


def node_unschedulable_filter(
    pod: PodFacts, node: NodeFacts, placement: Placement
) -> Failure | None:
    if node.unschedulable and not any(
        toleration_tolerates(t, _UNSCHEDULABLE_TAINT) for t in pod.tolerations
    ):
        return Failure("NodeUnschedulable", "node(s) were unschedulable", False)
    return None


def taint_toleration_filter(pod: PodFacts, node: NodeFacts, placement: Placement) -> Failure | None:
    untolerated = untolerated_taints(pod.tolerations, node.taints, ("NoSchedule", "NoExecute"))
    if untolerated:
        taint = untolerated[0]
        return Failure(
            "TaintToleration",
            f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}",
            False,
        )
    return None


def node_affinity_filter(pod: PodFacts, node: NodeFacts, placement: Placement) -> Failure | None:
    if not pod_matches_node_affinity(pod.wire, node.wire):
        return Failure("NodeAffinity", "node(s) didn't match Pod's node affinity/selector", False)
    return None


def _ports_conflict(a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
    wildcard = ("", "0.0.0.0")
    return a[0] == b[0] and a[2] == b[2] and (a[1] in wildcard or b[1] in wildcard or a[1] == b[1])


def node_ports_filter(pod: PodFacts, node: NodeFacts, placement: Placement) -> Failure | None:
    used = placement.usage[node.name].ports
    if any(_ports_conflict(p, u) for p in pod.host_ports for u in used):
        return Failure(
            "NodePorts", "node(s) didn't have free ports for the requested pod ports", True
        )
    return None


def resources_fit_filter(pod: PodFacts, node: NodeFacts, placement: Placement) -> Failure | None:
    usage = placement.usage[node.name]
    reasons = []
    resolvable = True
    if len(usage.pods) + 1 > node.allocatable.get("pods", 0):
        reasons.append("Too many pods")
    for resource, asked in sorted(pod.requests.items()):
        allocatable = node.allocatable.get(resource, 0)
        if asked > allocatable - usage.requested.get(resource, 0):
            reasons.append(f"Insufficient {resource}")
            # More than the whole node: no eviction can help (upstream #131345).
            resolvable = resolvable and asked <= allocatable
    if reasons:
        return Failure("NodeResourcesFit", ", ".join(reasons), resolvable)
    return None


def _eligible_for_spread(pod: PodFacts, c: SpreadConstraint, node: NodeFacts) -> bool:
    if c.honor_node_affinity and not pod_matches_node_affinity(pod.wire, node.wire):
        return False
    return not (
        c.honor_node_taints
        and untolerated_taints(pod.tolerations, node.taints, ("NoSchedule", "NoExecute"))
    )


def _matching(pod: PodFacts, c: SpreadConstraint, usage: NodeUsage) -> int:
    """Pods on a node that count for `c`: same namespace, selected, not terminating (#87621)."""
    return sum(
        1
        for p in usage.pods
        if p.namespace == pod.namespace and not p.terminating and c.selector.matches(p.labels)
    )


def _spread_counts(
    pod: PodFacts, c: SpreadConstraint, placement: Placement, keys: Sequence[str]
) -> dict[str, int]:
    """Matching pods per domain of `c`, over the nodes that pass `c`'s inclusion policies
    and carry every one of `keys` (the topology keys of the constraints in play)."""
    counts: dict[str, int] = {}
    for node in placement.nodes:
        if not all(k in node.labels for k in keys) or not _eligible_for_spread(pod, c, node):
            continue
        domain = node.labels[c.topology_key]
        counts[domain] = counts.get(domain, 0) + _matching(pod, c, placement.usage[node.name])
    return counts


def topology_spread_filter(pod: PodFacts, node: NodeFacts, placement: Placement) -> Failure | None:
    hard = [c for c in pod.spread if c.hard]
    keys = [c.topology_key for c in hard]
    for c in hard:
        domain = node.labels.get(c.topology_key)
        if domain is None:
            return Failure(
                "PodTopologySpread",
                "node(s) didn't match pod topology spread constraints (missing required label)",
                False,
            )
        counts = _spread_counts(pod, c, placement, keys)
        least = min(counts.values()) if len(counts) >= c.min_domains else 0
        self_match = 1 if c.selector.matches(pod.labels) else 0
        if counts.get(domain, 0) + self_match - least > c.max_skew:
            return Failure(
                "PodTopologySpread", "node(s) didn't match pod topology spread constraints", True
            )
    return None


def _same_domain(a: NodeFacts, b: NodeFacts, key: str) -> bool:
    value_a = a.labels.get(key)
    return value_a is not None and value_a == b.labels.get(key)


def inter_pod_affinity_filter(
    pod: PodFacts, node: NodeFacts, placement: Placement
) -> Failure | None:
    ns_labels = placement.namespace_labels
    for other_node, other in placement.placed():
        for term in other.anti_affinity:
            if _same_domain(node, other_node, term.topology_key) and term.matches(pod, ns_labels):
                return Failure(
                    "InterPodAffinity",
                    "node(s) didn't satisfy existing pods anti-affinity rules",
                    True,
                )
    for term in pod.anti_affinity:
        for other_node, other in placement.placed():
            if _same_domain(node, other_node, term.topology_key) and term.matches(other, ns_labels):
                return Failure(
                    "InterPodAffinity", "node(s) didn't match pod anti-affinity rules", True
                )
    if pod.affinity:
        if any(term.topology_key not in node.labels for term in pod.affinity):
            return Failure("InterPodAffinity", "node(s) didn't match pod affinity rules", False)
        # Upstream counts only pods matching every term, per term's domain.
        matching = [
            (other_node, other)
            for other_node, other in placement.placed()
            if all(term.matches(other, ns_labels) for term in pod.affinity)
        ]
        satisfied = all(
            any(_same_domain(node, n, term.topology_key) for n, _ in matching)
            for term in pod.affinity
        )
        if not satisfied:
            anywhere = any(
                term.topology_key in n.labels for n, _ in matching for term in pod.affinity
            )
            first_of_group = not anywhere and all(
                term.matches(pod, ns_labels) for term in pod.affinity
            )
            if not first_of_group:
                return Failure("InterPodAffinity", "node(s) didn't match pod affinity rules", False)
    return None


#: The default profile's filters, in upstream's order.
FILTERS = {
    "NodeUnschedulable": node_unschedulable_filter,
    "NodeName": node_name_filter,
    "TaintToleration": taint_toleration_filter,
    "NodeAffinity": node_affinity_filter,
    "NodePorts": node_ports_filter,
    "NodeResourcesFit": resources_fit_filter,
    "PodTopologySpread": topology_spread_filter,
    "InterPodAffinity": inter_pod_affinity_filter,
}


def first_failure(
    pod: PodFacts,
    node: NodeFacts,
    placement: Placement,
    filters: Sequence[str] = tuple(FILTERS),
) -> Failure | None:
    """The first filter `node` fails for `pod`, in order; None when it passes them all."""
    for name in filters:
        failure = FILTERS[name](pod, node, placement)
        if failure is not None:
            return failure
    return None


def filter_failures(
    pod: PodFacts, node: NodeFacts, placement: Placement, filters: Sequence[str] = tuple(FILTERS)
) -> list[Failure]:
    """Every filter `node` fails for `pod` (for a law's message)."""
    return [f for name in filters if (f := FILTERS[name](pod, node, placement)) is not None]


# -- scores ----------------------------------------------------------------------------------------


@attrs.frozen
class ResourceScoring:
    """NodeResourcesFit's scoring strategy (`scoringStrategy` in the plugin's args)."""

    strategy: str = "LeastAllocated"
    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    #: RequestedToCapacityRatio: (utilization 0..100, score 0..10) points, ascending.
    shape: tuple[tuple[int, int], ...] = ((0, 0), (100, 10))


DEFAULT_RESOURCE_SCORING = ResourceScoring()


def _requested_for_scoring(pod: PodFacts, usage: NodeUsage, resource: str) -> int:
    if resource == "cpu":
        return usage.nonzero_cpu + pod.nonzero_cpu
    if resource == "memory":
        return usage.nonzero_memory + pod.nonzero_memory
    return usage.requested.get(resource, 0) + pod.requests.get(resource, 0)


def _broken_linear(shape: Sequence[tuple[int, int]], utilization: int) -> int:
    for i, (x, y) in enumerate(shape):
        if utilization <= x:
            if i == 0:
                return y
            x0, y0 = shape[i - 1]
            return y0 + int((y - y0) * (utilization - x0) / (x - x0))
    return shape[-1][1]


def _resource_score(scoring: ResourceScoring, requested: int, allocatable: int) -> int:
    if scoring.strategy == "MostAllocated":
        return min(requested, allocatable) * MAX_NODE_SCORE // allocatable
    if scoring.strategy == "RequestedToCapacityRatio":
        shape = [(x, y * (MAX_NODE_SCORE // 10)) for x, y in scoring.shape]
        if requested > allocatable:
            return _broken_linear(shape, 100)
        return _broken_linear(shape, requested * 100 // allocatable)
    if requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def resource_score(
    pod: PodFacts, node: NodeFacts, placement: Placement, scoring: ResourceScoring
) -> int:
    """NodeResourcesFit's score: the weighted mean of the per-resource scores (0..100)."""
    usage = placement.usage[node.name]
    ratio = scoring.strategy == "RequestedToCapacityRatio"
    total = weights = 0
    for resource, weight in scoring.resources:
        allocatable = node.allocatable.get(resource, 0)
        if allocatable == 0:
            continue
        requested = _requested_for_scoring(pod, usage, resource)
        score = _resource_score(scoring, requested, allocatable)
        if ratio and score <= 0:
            continue  # RequestedToCapacityRatio weighs only the resources that score
        total += score * weight
        weights += weight
    if not weights:
        return 0
    return _round_half_away(total / weights) if ratio else total // weights


def balanced_allocation_score(
    pod: PodFacts,
    node: NodeFacts,
    placement: Placement,
    resources: Sequence[str] = ("cpu", "memory"),
) -> int:
    """NodeResourcesBalancedAllocation: 100 when every resource is used in equal measure."""
    usage = placement.usage[node.name]
    fractions = []
    for resource in resources:
        allocatable = node.allocatable.get(resource, 0)
        if allocatable == 0:
            continue
        requested = usage.requested.get(resource, 0) + pod.requests.get(resource, 0)
        fractions.append(min(1.0, requested / allocatable))
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def taint_toleration_score(pod: PodFacts, node: NodeFacts, placement: Placement) -> int:
    """The number of PreferNoSchedule taints not tolerated (fewer is better: reversed later)."""
    preferring = tuple(
        t for t in pod.tolerations if t.get("effect", "") in ("", "PreferNoSchedule")
    )
    return len(untolerated_taints(preferring, node.taints, ("PreferNoSchedule",)))


def node_affinity_score(pod: PodFacts, node: NodeFacts, placement: Placement) -> int:
    from properties.scheduling_terms import node_selector_term_matches

    return sum(
        weight
        for weight, term in pod.preferred_node_terms
        if weight and node_selector_term_matches(term, node.wire)
    )


def default_normalize(scores: Mapping[str, int], reverse: bool = False) -> dict[str, int]:
    """Upstream's DefaultNormalizeScore: scale to 0..100 by the maximum, maybe reversed."""
    highest = max(scores.values(), default=0)
    if highest == 0:
        return {n: MAX_NODE_SCORE if reverse else 0 for n in scores}
    result = {}
    for name, score in scores.items():
        scaled = MAX_NODE_SCORE * score // highest
        result[name] = MAX_NODE_SCORE - scaled if reverse else scaled
    return result


def incoming_credits(
    pod: PodFacts, other: PodFacts, ns_labels: Mapping[str, Mapping[str, str]]
) -> Iterator[tuple[str, int]]:
    """(topology key, weight) of each preferred term of `pod` that the placed `other` meets:
    + for affinity, - for anti-affinity."""
    for term in pod.preferred_affinity:
        if term.matches(other, ns_labels):
            yield term.topology_key, term.weight
    for term in pod.preferred_anti_affinity:
        if term.matches(other, ns_labels):
            yield term.topology_key, -term.weight


def existing_credits(
    pod: PodFacts,
    other: PodFacts,
    ns_labels: Mapping[str, Mapping[str, str]],
    hard_weight: int,
) -> Iterator[tuple[str, int]]:
    """(topology key, weight) of each term of the placed `other` that `pod` meets (symmetry):
    its required affinity at `hard_weight`, its preferred terms at their own weights."""
    if hard_weight:
        for term in other.affinity:
            if term.matches(pod, ns_labels):
                yield term.topology_key, hard_weight
    for term in other.preferred_affinity:
        if term.matches(pod, ns_labels):
            yield term.topology_key, term.weight
    for term in other.preferred_anti_affinity:
        if term.matches(pod, ns_labels):
            yield term.topology_key, -term.weight


def inter_pod_affinity_scores(
    pod: PodFacts, nodes: Sequence[NodeFacts], placement: Placement, hard_weight: int = 1
) -> dict[str, int]:
    """InterPodAffinity's normalized scores over `nodes` (the feasible ones)."""
    ns_labels = placement.namespace_labels
    by_domain: dict[tuple[str, str], int] = {}

    def credit(node: NodeFacts, key: str, weight: int) -> None:
        value_ = node.labels.get(key)
        if value_ is not None and weight:
            by_domain[(key, value_)] = by_domain.get((key, value_), 0) + weight

    for other_node, other in placement.placed():
        for key, weight in incoming_credits(pod, other, ns_labels):
            credit(other_node, key, weight)
        for key, weight in existing_credits(pod, other, ns_labels, hard_weight):
            credit(other_node, key, weight)
    raw = {
        n.name: sum(score for (key, v), score in by_domain.items() if n.labels.get(key) == v)
        for n in nodes
    }
    if not by_domain:
        return {n.name: 0 for n in nodes}
    lowest, highest = min(raw.values()), max(raw.values())
    spread = highest - lowest
    return {
        name: int(MAX_NODE_SCORE * ((score - lowest) / spread)) if spread else 0
        for name, score in raw.items()
    }


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def topology_spread_scores(
    pod: PodFacts, nodes: Sequence[NodeFacts], placement: Placement
) -> dict[str, int]:
    """PodTopologySpread's normalized scores for the ScheduleAnyway constraints over `nodes`.

    Per constraint a node scores its domain's matching pods weighted by
    ln(domains + 2), plus maxSkew - 1; fewer is better, so normalizing
    reverses. Nodes lacking a constraint's key score 0.
    """
    soft = [c for c in pod.spread if not c.hard]
    if not soft:
        return {n.name: 0 for n in nodes}
    keys = [c.topology_key for c in soft]
    scored = [n for n in nodes if all(k in n.labels for k in keys)]
    raw = {n.name: 0.0 for n in scored}
    for c in soft:
        if c.topology_key == HOSTNAME_LABEL:
            weight = math.log(len(scored) + 2)
            for n in scored:
                raw[n.name] += _matching(pod, c, placement.usage[n.name]) * weight + c.max_skew - 1
            continue
        seen = {n.labels[c.topology_key] for n in scored}
        counts = _spread_counts(pod, c, placement, keys)
        weight = math.log(len(seen) + 2)
        for n in scored:
            raw[n.name] += counts.get(n.labels[c.topology_key], 0) * weight + c.max_skew - 1
    scores = {name: _round_half_away(value_) for name, value_ in raw.items()}
    result = {n.name: 0 for n in nodes}
    if not scores:
        return result
    lowest, highest = min(scores.values()), max(scores.values())
    for name, score in scores.items():
        if highest == 0:
            result[name] = MAX_NODE_SCORE
        else:
            result[name] = MAX_NODE_SCORE * (highest + lowest - score) // highest
    return result


#: The default profile's score plugins and weights (apis/config/v1/default_plugins.go),
#: without ImageLocality, which the reference does not model (docs/fidelity.md).
DEFAULT_SCORES: tuple[tuple[str, int], ...] = (
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("NodeResourcesBalancedAllocation", 1),
)


def plugin_scores(
    name: str,
    pod: PodFacts,
    nodes: Sequence[NodeFacts],
    placement: Placement,
    resource_scoring: ResourceScoring = DEFAULT_RESOURCE_SCORING,
    hard_pod_affinity_weight: int = 1,
) -> dict[str, int]:
    """One score plugin's normalized scores (0..100) over the feasible `nodes`."""
    if name == "NodeResourcesFit":
        return {n.name: resource_score(pod, n, placement, resource_scoring) for n in nodes}
    if name == "NodeResourcesBalancedAllocation":
        if pod.best_effort:  # upstream skips the plugin for best-effort pods
            return {n.name: 0 for n in nodes}
        return {n.name: balanced_allocation_score(pod, n, placement) for n in nodes}
    if name == "TaintToleration":
        raw = {n.name: taint_toleration_score(pod, n, placement) for n in nodes}
        return default_normalize(raw, reverse=True)
    if name == "NodeAffinity":
        return default_normalize({n.name: node_affinity_score(pod, n, placement) for n in nodes})
    if name == "InterPodAffinity":
        return inter_pod_affinity_scores(pod, nodes, placement, hard_pod_affinity_weight)
    if name == "PodTopologySpread":
        return topology_spread_scores(pod, nodes, placement)
    raise KeyError(f"no score plugin named {name}")


def total_scores(
    pod: PodFacts,
    nodes: Sequence[NodeFacts],
    placement: Placement,
    scores: Sequence[tuple[str, int]] = DEFAULT_SCORES,
    resource_scoring: ResourceScoring = DEFAULT_RESOURCE_SCORING,
    hard_pod_affinity_weight: int = 1,
) -> dict[str, int]:
    """The sum of weight * normalized score per feasible node: what selection maximizes."""
    totals = {n.name: 0 for n in nodes}
    for name, weight in scores:
        normalized = plugin_scores(
            name, pod, nodes, placement, resource_scoring, hard_pod_affinity_weight
        )
        for node, score in normalized.items():
            totals[node] += weight * score
    return totals


def with_nominated(
    placement: Placement, node: str, pod: PodFacts, nominated: Mapping[str, Sequence[PodFacts]]
) -> Placement | None:
    """The placement with the pods nominated to `node` that `pod` must leave room for:
    those of equal or higher priority (upstream's addGENominatedPods); None if there are none."""
    extra = [p for p in nominated.get(node, ()) if p.uid != pod.uid and p.priority >= pod.priority]
    if not extra:
        return None
    for p in extra:
        placement = placement.with_pod(p, node)
    return placement


def passes(
    pod: PodFacts,
    node: NodeFacts,
    placement: Placement,
    filters: Sequence[str] = tuple(FILTERS),
    nominated: Mapping[str, Sequence[PodFacts]] | None = None,
) -> Failure | None:
    """Every filter, first with the nominated pods in place and then without (upstream's
    RunFilterPluginsWithNominatedPods): the node fits only if both passes do."""
    crowded = with_nominated(placement, node.name, pod, nominated or {})
    if crowded is not None:
        failure = first_failure(pod, node, crowded, filters)
        if failure is not None:
            return failure
    return first_failure(pod, node, placement, filters)
