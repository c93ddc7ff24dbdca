"""The fast scheduler: the spec's decisions (`spec.py`), computed in less time.

`FastScheduler.decide` answers exactly what `SpecScheduler.decide` answers
(the same node, failures, scores and count of nodes evaluated); the
differential test in tests/unit/test_scheduler_paths.py holds it to that.
None of the means below changes a result:

- **Per-node columns, patched by difference.** Free pods, cpu and memory,
  the scoring sums, which nodes are tainted or cordoned, and which placed
  pods carry (anti-)affinity terms are kept in lists indexed like
  `placement.nodes`, for the last placement seen. A placement that
  `Placement.with_pod` made from that one (its `derived_from`) changes the
  one node it names; another with the same nodes tuple is compared with it
  usage by usage (list equality, identity first, in chunks, then bisected)
  and only the nodes whose usage changed are recomputed. Caches over the
  columns (below) forget the changed nodes from a log of them.
- **Filters only where they can fail.** The common pod (no host ports, node
  selector, required node affinity, topology spread or pod (anti-)affinity,
  when no placed pod has anti-affinity either) is checked against the
  resource columns alone on nodes neither cordoned nor tainted
  NoSchedule/NoExecute, kept per request size as one byte a node
  (`_Snapshot.room`), so that a run of nodes with room is taken whole and
  only the others are looked at. Other pods go through every filter that can fail
  for them; what PodTopologySpread and InterPodAffinity need from the
  whole cluster (domain counts, forbidden and wanted domains) is computed
  once per decision, where the spec recounts it for each node. A node that
  fails a cheap filter gets its failure from the spec's own `first_failure`
  (or `passes`, when pods are nominated to it); one that fails the spread
  or inter-pod filter gets the spec's failure for that filter directly.
- **Scores folded or kept.** A plugin that gives every feasible node the
  same normalized score adds a constant: TaintToleration 100 when no
  feasible node has a PreferNoSchedule taint (DefaultNormalizeScore,
  reversed, of zeros), NodeAffinity 0 without preferred terms,
  PodTopologySpread 0 without ScheduleAnyway constraints, InterPodAffinity
  0 when no term credits a domain. NodeResourcesFit and
  BalancedAllocation depend only on the node and the pod's requests: they
  are computed from the columns (the spec's integer and float operations,
  in its order) and kept per pod shape until the node's usage changes.
  The constant is added only if `Decision.scores` is read (it is built
  lazily: the controller never reads it); selection does without it.
- **Ties hashed once per pod.** `spec.tie_key` is blake2b over uid, NUL and
  node name: the uid's prefix is hashed once and copied for each tied node.
  Every tied node must be hashed (the key mixes pod and node), so this is
  the floor of a decision on a uniform cluster.

The memo is an optimization only: a decision is a function of the
arguments, as the spec's is, and `FastScheduler` instances compare equal.
It holds the last placement seen (and so its pods) until the next one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import add, eq, ge
from typing import Any

import attrs

from properties.placement import (
    FILTERS,
    MAX_NODE_SCORE,
    Failure,
    NodeFacts,
    NodeUsage,
    Placement,
    PodFacts,
    _resource_score,
    _round_half_away,
    _spread_counts,
    default_normalize,
    existing_credits,
    first_failure,
    incoming_credits,
    node_affinity_score,
    node_ports_filter,
    node_unschedulable_filter,
    passes,
    taint_toleration_filter,
    taint_toleration_score,
    topology_spread_scores,
)
from properties.scheduling_terms import pod_matches_node_affinity
from reference.scheduler.profile import Profile
from reference.scheduler.spec import (
    Decision,
    SpecScheduler,
    feasible_nodes_to_find,
    nominated_node_fits,
)

__all__ = ["FastScheduler"]

_HARD_EFFECTS = ("NoSchedule", "NoExecute")
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_NO_LIMIT = float("-inf")
#: Past this share of changed nodes the snapshot is rebuilt rather than patched.
_REBUILD_SHARE = 8
#: Usages compared at a time before bisecting (list equality is identity first, in C).
_CHUNK = 256


def _effect(taint: Mapping[str, Any]) -> str:
    effect = taint.get("effect")
    return effect if isinstance(effect, str) else ""


def _has_terms(pod: PodFacts) -> bool:
    return bool(
        pod.affinity or pod.anti_affinity or pod.preferred_affinity or pod.preferred_anti_affinity
    )


class _Snapshot:
    """Per-node columns of one placement, indexed like `placement.nodes`."""

    def __init__(self, placement: Placement) -> None:
        nodes = placement.nodes
        usage = placement.usage
        self.placement = placement
        self.nodes = nodes
        self.names = [n.name for n in nodes]
        self.encoded = [name.encode() for name in self.names]
        self.keys = list(usage)
        self.values: list[NodeUsage] = list(usage.values())
        #: usage key -> its position in `keys` and `values`
        self.position = {k: i for i, k in enumerate(self.keys)}
        #: usage position -> the node indices it describes (one, names being unique)
        self.at: dict[int, int] = {self.position[name]: j for j, name in enumerate(self.names)}
        self.alloc = [n.allocatable for n in nodes]
        self.alloc_pods = [a.get("pods", 0) for a in self.alloc]
        self.alloc_cpu = [a.get("cpu", 0) for a in self.alloc]
        self.alloc_memory = [a.get("memory", 0) for a in self.alloc]
        #: Neither cordoned nor carrying a NoSchedule/NoExecute taint.
        self.plain = [
            not n.unschedulable and not any(_effect(t) in _HARD_EFFECTS for t in n.taints)
            for n in nodes
        ]
        self.prefer_taints = [
            any(_effect(t) == "PreferNoSchedule" for t in n.taints) for n in nodes
        ]
        count = len(nodes)
        self.usage: list[NodeUsage] = [usage[name] for name in self.names]
        self.free_pods = [0] * count
        self.free_cpu = [0] * count
        self.free_memory = [0] * count
        self.nonzero_cpu = [0] * count
        self.nonzero_memory = [0] * count
        self.requested_cpu = [0] * count
        self.requested_memory = [0] * count
        #: node index -> the placed pods there with (anti-)affinity terms
        self.term_pods: dict[int, tuple[PodFacts, ...]] = {}
        self.any_prefer_taints = any(self.prefer_taints)
        for j in range(count):
            self._refresh(j, self.usage[j])
        #: The nodes whose columns changed since the snapshot was built, in order: the caches
        #: below note how much of it they have seen, and forget those nodes' entries.
        self.log: list[int] = []
        #: pod shape -> [each node's resource score total (None: to compute), Nones, log seen]
        self.shapes: dict[Any, list[Any]] = {}
        #: (pods, cpu, memory) asked -> [1 where the node is plain and has that room, log seen]
        self.rooms: dict[tuple[float, float, float], list[Any]] = {}

    @staticmethod
    def fits(placement: Placement) -> bool:
        """Whether the columns can describe `placement`: unique node names, each with a usage."""
        names = [n.name for n in placement.nodes]
        return len(set(names)) == len(names) and all(name in placement.usage for name in names)

    def _refresh(self, j: int, u: NodeUsage) -> None:
        self.usage[j] = u
        requested = u.requested
        cpu = requested.get("cpu", 0)
        memory = requested.get("memory", 0)
        self.free_pods[j] = self.alloc_pods[j] - len(u.pods)
        self.free_cpu[j] = self.alloc_cpu[j] - cpu
        self.free_memory[j] = self.alloc_memory[j] - memory
        self.requested_cpu[j] = cpu
        self.requested_memory[j] = memory
        self.nonzero_cpu[j] = u.nonzero_cpu
        self.nonzero_memory[j] = u.nonzero_memory
        with_terms = tuple(p for p in u.pods if _has_terms(p))
        if with_terms:
            self.term_pods[j] = with_terms
        else:
            self.term_pods.pop(j, None)

    def follow(self, placement: Placement) -> bool:
        """Bring the columns to `placement`, which has the same nodes; False if too different."""
        usage = placement.usage
        if list(usage) != self.keys:
            return False
        values = list(usage.values())
        old = self.values
        total = len(values)
        changed: list[int] = []
        for lo in range(0, total, _CHUNK):
            hi = min(lo + _CHUNK, total)
            if values[lo:hi] != old[lo:hi] and not _differences(
                values, old, lo, hi, changed, total
            ):
                return False
        for p in changed:
            j = self.at.get(p)
            if j is not None:
                self._changed(j, values[p])
        self.values = values
        self.placement = placement
        return True

    def step(self, placement: Placement) -> bool:
        """Bring the columns to `placement` if `with_pod` made it from the placement they
        describe (one node's usage replaced, in place in the same key order); else False."""
        derived = placement.derived_from
        if derived is None or derived[0] is not self.placement.usage:
            return False
        name = derived[1]
        p = self.position[name]
        u = placement.usage[name]
        self.values[p] = u
        j = self.at.get(p)
        if j is not None:
            self._changed(j, u)
        self.placement = placement
        return True

    def _changed(self, j: int, u: NodeUsage) -> None:
        """`_refresh`, logged for the caches. Once the log is as long as there are nodes the
        caches start over (rebuilding them then costs no more than following it)."""
        self._refresh(j, u)
        log = self.log
        if len(log) >= len(self.nodes):
            log.clear()
            self.shapes.clear()
            self.rooms.clear()
        log.append(j)

    def unseen(self, entry: list[Any]) -> list[int]:
        """The nodes changed since a cache `entry` ([..., log seen]) last looked; marks them
        seen."""
        seen = entry[-1]
        log = self.log
        entry[-1] = len(log)
        return log[seen:] if seen < len(log) else []

    def room(self, pods: float, cpu: float, memory: float) -> bytearray:
        """1 for each node that is `plain` and has this many pods, cpu and memory free: where
        the common pod's filters pass without looking further."""
        key = (pods, cpu, memory)
        entry = self.rooms.get(key)
        if entry is None:
            if len(self.rooms) >= _SHAPES:
                self.rooms.clear()
            fresh = bytearray(
                map(
                    all,
                    zip(
                        self.plain,
                        map(ge, self.free_pods, repeat(pods)),
                        map(ge, self.free_cpu, repeat(cpu)),
                        map(ge, self.free_memory, repeat(memory)),
                        strict=True,
                    ),
                )
            )
            self.rooms[key] = [fresh, len(self.log)]
            return fresh
        column: bytearray = entry[0]
        for j in self.unseen(entry):
            column[j] = (
                self.plain[j]
                and self.free_pods[j] >= pods
                and self.free_cpu[j] >= cpu
                and self.free_memory[j] >= memory
            )
        return column


def _differences(
    new: list[NodeUsage], old: list[NodeUsage], lo: int, hi: int, out: list[int], total: int
) -> bool:
    """Append to `out` the positions in lo..hi where `new` and `old` differ (bisecting with
    list equality); False once more than 1/8 of `total` differ."""
    if new[lo:hi] == old[lo:hi]:
        return True
    if hi - lo == 1:
        out.append(lo)
        return len(out) * _REBUILD_SHARE <= total
    mid = (lo + hi) // 2
    return _differences(new, old, lo, mid, out, total) and _differences(
        new, old, mid, hi, out, total
    )


class _Memo:
    """The snapshot of the last placement decided on (one at a time: the controller's)."""

    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None

    def get(self, placement: Placement) -> _Snapshot | None:
        snap = self.snapshot
        if snap is not None:
            if snap.placement is placement:
                return snap
            if snap.nodes is placement.nodes and (snap.step(placement) or snap.follow(placement)):
                return snap
        if not _Snapshot.fits(placement):
            self.snapshot = None
            return None
        snap = _Snapshot(placement)
        self.snapshot = snap
        return snap


# -- filters ---------------------------------------------------------------------------------------


@attrs.frozen
class _Spread:
    """One DoNotSchedule constraint with its domain counts, for the placement without
    nominated pods (nodes with nominated pods go through the spec)."""

    key: str
    counts: Mapping[str, int]
    least: int
    self_match: int
    max_skew: int


def _hard_spread(pod: PodFacts, placement: Placement) -> list[_Spread]:
    hard = [c for c in pod.spread if c.hard]
    keys = [c.topology_key for c in hard]
    result = []
    for c in hard:
        counts = _spread_counts(pod, c, placement, keys)
        least = min(counts.values()) if len(counts) >= c.min_domains else 0
        self_match = 1 if c.selector.matches(pod.labels) else 0
        result.append(_Spread(c.topology_key, counts, least, self_match, c.max_skew))
    return result


def _placed(snap: _Snapshot) -> Iterable[tuple[int, PodFacts]]:
    for j, u in enumerate(snap.usage):
        for p in u.pods:
            yield j, p


#: The spec's failures of the two filters that read the whole placement (placement.py): the
#: fast test finds them itself, so that the spec need not recount the cluster for each node.
_SPREAD_MISSING_LABEL = Failure(
    "PodTopologySpread",
    "node(s) didn't match pod topology spread constraints (missing required label)",
    False,
)
_SPREAD_SKEW = Failure(
    "PodTopologySpread", "node(s) didn't match pod topology spread constraints", True
)
_EXISTING_ANTI_AFFINITY = Failure(
    "InterPodAffinity", "node(s) didn't satisfy existing pods anti-affinity rules", True
)
_ANTI_AFFINITY = Failure("InterPodAffinity", "node(s) didn't match pod anti-affinity rules", True)
_AFFINITY = Failure("InterPodAffinity", "node(s) didn't match pod affinity rules", False)


def _forbids(domains: Mapping[str, frozenset[Any]], labels: Mapping[str, str]) -> bool:
    """Whether `labels` put a node in one of the domains (values per topology key)."""
    for key, values in domains.items():
        value = labels.get(key)
        if value is not None and value in values:
            return True
    return False


def _domains(pairs: set[tuple[str, Any]]) -> Mapping[str, frozenset[Any]]:
    by_key: dict[str, set[Any]] = {}
    for key, value in pairs:
        by_key.setdefault(key, set()).add(value)
    return {key: frozenset(values) for key, values in by_key.items()}


@attrs.frozen
class _Affinity:
    """What InterPodAffinity's filter needs of the whole placement, once per decision."""

    #: topology key -> domains of placed pods whose anti-affinity the pod matches
    existing_anti: Mapping[str, frozenset[Any]]
    #: topology key -> domains of placed pods the pod's anti-affinity matches
    anti: Mapping[str, frozenset[Any]]
    #: per required affinity term: its topology key and the domains of the matching pods
    wanted: tuple[tuple[str, frozenset[Any]], ...]
    #: the pod may start its own group (no matching pod anywhere, and it matches itself)
    first_of_group: bool

    def failure(self, labels: Mapping[str, str]) -> Failure | None:
        """`inter_pod_affinity_filter`'s answer for a node with these labels."""
        if self.existing_anti and _forbids(self.existing_anti, labels):
            return _EXISTING_ANTI_AFFINITY
        if self.anti and _forbids(self.anti, labels):
            return _ANTI_AFFINITY
        if self.wanted:
            if any(key not in labels for key, _ in self.wanted):
                return _AFFINITY
            satisfied = all(labels[key] in domains for key, domains in self.wanted)
            if not satisfied and not self.first_of_group:
                return _AFFINITY
        return None


def _affinity(pod: PodFacts, snap: _Snapshot, placement: Placement) -> _Affinity | None:
    """InterPodAffinity's filter data; None when the filter passes every node."""
    ns_labels = placement.namespace_labels
    nodes = snap.nodes
    existing_anti: set[tuple[str, Any]] = set()
    for j, others in snap.term_pods.items():
        labels = nodes[j].labels
        for other in others:
            for term in other.anti_affinity:
                value = labels.get(term.topology_key)
                if value is not None and term.matches(pod, ns_labels):
                    existing_anti.add((term.topology_key, value))
    anti: set[tuple[str, Any]] = set()
    if pod.anti_affinity:
        for j, other in _placed(snap):
            labels = nodes[j].labels
            for term in pod.anti_affinity:
                value = labels.get(term.topology_key)
                if value is not None and term.matches(other, ns_labels):
                    anti.add((term.topology_key, value))
    wanted: tuple[tuple[str, frozenset[Any]], ...] = ()
    first_of_group = True
    if pod.affinity:
        domains: list[set[Any]] = [set() for _ in pod.affinity]
        for j, other in _placed(snap):
            if all(term.matches(other, ns_labels) for term in pod.affinity):
                labels = nodes[j].labels
                for i, term in enumerate(pod.affinity):
                    value = labels.get(term.topology_key)
                    if value is not None:
                        domains[i].add(value)
        wanted = tuple(
            (term.topology_key, frozenset(d)) for term, d in zip(pod.affinity, domains, strict=True)
        )
        anywhere = any(domains)
        first_of_group = not anywhere and all(term.matches(pod, ns_labels) for term in pod.affinity)
    if not existing_anti and not anti and not wanted:
        return None
    return _Affinity(_domains(existing_anti), _domains(anti), wanted, first_of_group)


def _node_constrained(pod: PodFacts) -> bool:
    """Whether `pod_matches_node_affinity` can answer False for some node (it reads the same)."""
    spec = pod.wire.get("spec") or {}
    if spec.get("nodeSelector") or {}:
        return True
    affinity = spec.get("affinity") or {}
    node_affinity = affinity.get("nodeAffinity") or {}
    return node_affinity.get(_REQUIRED) is not None


#: `_Check` does not know the node's failure: the spec's `first_failure` will say.
ASK = Failure("", "", False)


class _Check:
    """The profile's filters for one pod, on the placement without nominated pods.

    Called with a node index, it answers None when the node passes them all, the spec's
    failure when that is one of the filters that read the whole placement (whose data it
    computes once per decision, where the spec recounts per node), and `ASK` otherwise
    (a filter that the spec's `first_failure` checks as fast as we would).
    """

    def __init__(self, pod: PodFacts, snap: _Snapshot, placement: Placement, profile: Profile):
        enabled = set(profile.filters)
        self.filters = profile.filters
        self.pod = pod
        self.snap = snap
        self.placement = placement
        self.unschedulable = "NodeUnschedulable" in enabled
        self.taints = "TaintToleration" in enabled
        self.node_name = pod.node_name if "NodeName" in enabled else ""
        self.node_affinity = "NodeAffinity" in enabled and _node_constrained(pod)
        self.ports = "NodePorts" in enabled and bool(pod.host_ports)
        self.fit = "NodeResourcesFit" in enabled
        requests = pod.requests
        self.cpu: float = requests["cpu"] if self.fit and "cpu" in requests else _NO_LIMIT
        self.memory: float = requests["memory"] if self.fit and "memory" in requests else _NO_LIMIT
        self.pods_needed: float = 1 if self.fit else _NO_LIMIT
        self.other_requests = (
            tuple((r, q) for r, q in requests.items() if r not in ("cpu", "memory"))
            if self.fit
            else ()
        )
        self.spread = (
            _hard_spread(pod, placement)
            if "PodTopologySpread" in enabled and any(c.hard for c in pod.spread)
            else []
        )
        self.affinity = _affinity(pod, snap, placement) if "InterPodAffinity" in enabled else None
        #: The spec runs the filters in the profile's order: ours must be the same for the
        #: failures we name to be the first ones (it is, unless a profile reorders them).
        self.named = list(profile.filters) == [f for f in FILTERS if f in enabled]
        #: Nothing but the resource columns and `plain` to look at.
        self.simple = not (
            self.node_name
            or self.node_affinity
            or self.ports
            or self.other_requests
            or self.spread
            or self.affinity is not None
        )

    def __call__(self, j: int) -> Failure | None:
        snap = self.snap
        pod = self.pod
        node = snap.nodes[j]
        if not snap.plain[j]:
            if self.unschedulable and node_unschedulable_filter(pod, node, self.placement):
                return ASK
            if self.taints and taint_toleration_filter(pod, node, self.placement):
                return ASK
        if self.node_name and self.node_name != node.name:
            return ASK
        if self.node_affinity and not pod_matches_node_affinity(pod.wire, node.wire):
            return ASK
        if self.ports and node_ports_filter(pod, node, self.placement):
            return ASK
        if self.fit:
            if (
                snap.free_pods[j] < 1
                or self.cpu > snap.free_cpu[j]
                or self.memory > snap.free_memory[j]
            ):
                return ASK
            if self.other_requests:
                alloc = snap.alloc[j]
                requested = snap.usage[j].requested
                for r, q in self.other_requests:
                    if q > alloc.get(r, 0) - requested.get(r, 0):
                        return ASK
        labels = node.labels
        for s in self.spread:
            domain = labels.get(s.key)
            if domain is None:
                return _SPREAD_MISSING_LABEL if self.named else ASK
            if s.counts.get(domain, 0) + s.self_match - s.least > s.max_skew:
                return _SPREAD_SKEW if self.named else ASK
        if self.affinity is not None:
            failure = self.affinity.failure(labels)
            if failure is not None:
                return failure if self.named else ASK
        return None


def _crowded(pod: PodFacts, nominated: Mapping[str, Sequence[PodFacts]]) -> frozenset[str]:
    """Nodes with nominated pods `pod` must leave room for (`with_nominated` is not None)."""
    return frozenset(
        node
        for node, pods in nominated.items()
        if any(p.uid != pod.uid and p.priority >= pod.priority for p in pods)
    )


# -- scores ----------------------------------------------------------------------------------------


def _fit_scores(pod: PodFacts, snap: _Snapshot, feasible: list[int], profile: Profile) -> list[int]:
    """NodeResourcesFit's scores (`resource_score`), from the columns."""
    scoring = profile.resource_scoring
    strategy = scoring.strategy
    resources = scoring.resources
    if (
        strategy == "LeastAllocated"
        and len(resources) == 2
        and {r for r, _ in resources} == {"cpu", "memory"}
        and all(w > 0 for _, w in resources)
    ):
        return _least_allocated(pod, snap, feasible, dict(resources))
    ratio = strategy == "RequestedToCapacityRatio"
    columns: list[tuple[list[int], list[int], int, int]] = []
    for resource, weight in resources:
        if resource == "cpu":
            columns.append((snap.alloc_cpu, snap.nonzero_cpu, pod.nonzero_cpu, weight))
        elif resource == "memory":
            columns.append((snap.alloc_memory, snap.nonzero_memory, pod.nonzero_memory, weight))
        else:
            alloc = [a.get(resource, 0) for a in snap.alloc]
            used = [u.requested.get(resource, 0) for u in snap.usage]
            columns.append((alloc, used, pod.requests.get(resource, 0), weight))
    result = []
    for j in feasible:
        total = weights = 0
        for alloc_column, used_column, asked, weight in columns:
            allocatable = alloc_column[j]
            if allocatable == 0:
                continue
            requested = used_column[j] + asked
            if strategy == "LeastAllocated":
                score = (
                    0
                    if requested > allocatable
                    else (allocatable - requested) * MAX_NODE_SCORE // allocatable
                )
            else:
                score = _resource_score(scoring, requested, allocatable)
                if ratio and score <= 0:
                    continue
            total += score * weight
            weights += weight
        if not weights:
            result.append(0)
        elif ratio:
            result.append(_round_half_away(total / weights))
        else:
            result.append(total // weights)
    return result


def _least_allocated(
    pod: PodFacts, snap: _Snapshot, feasible: list[int], weights: Mapping[str, int]
) -> list[int]:
    """The default strategy on cpu and memory, unrolled."""
    w_cpu, w_memory = weights["cpu"], weights["memory"]
    ask_cpu, ask_memory = pod.nonzero_cpu, pod.nonzero_memory
    alloc_cpu, alloc_memory = snap.alloc_cpu, snap.alloc_memory
    used_cpu, used_memory = snap.nonzero_cpu, snap.nonzero_memory
    result = []
    for j in feasible:
        a_cpu = alloc_cpu[j]
        a_memory = alloc_memory[j]
        if a_cpu != 0 and a_memory != 0:
            r_cpu = used_cpu[j] + ask_cpu
            r_memory = used_memory[j] + ask_memory
            total = (0 if r_cpu > a_cpu else (a_cpu - r_cpu) * MAX_NODE_SCORE // a_cpu) * w_cpu + (
                0 if r_memory > a_memory else (a_memory - r_memory) * MAX_NODE_SCORE // a_memory
            ) * w_memory
            result.append(total // (w_cpu + w_memory))
        elif a_cpu != 0:
            r_cpu = used_cpu[j] + ask_cpu
            score = 0 if r_cpu > a_cpu else (a_cpu - r_cpu) * MAX_NODE_SCORE // a_cpu
            result.append(score)  # (score * w) // w
        elif a_memory != 0:
            r_memory = used_memory[j] + ask_memory
            score = 0 if r_memory > a_memory else (a_memory - r_memory) * MAX_NODE_SCORE // a_memory
            result.append(score)
        else:
            result.append(0)
    return result


def _balanced_scores(pod: PodFacts, snap: _Snapshot, feasible: list[int]) -> list[int]:
    """NodeResourcesBalancedAllocation (`balanced_allocation_score` over cpu and memory)."""
    if pod.best_effort:
        return [0] * len(feasible)
    cpu = pod.requests.get("cpu", 0)
    memory = pod.requests.get("memory", 0)
    alloc_cpu, alloc_memory = snap.alloc_cpu, snap.alloc_memory
    used_cpu, used_memory = snap.requested_cpu, snap.requested_memory
    result = []
    for j in feasible:
        a_cpu = alloc_cpu[j]
        a_memory = alloc_memory[j]
        if a_cpu != 0 and a_memory != 0:
            # min(1.0, f), as the spec writes it
            f_cpu = (used_cpu[j] + cpu) / a_cpu
            if not f_cpu < 1.0:
                f_cpu = 1.0
            f_memory = (used_memory[j] + memory) / a_memory
            if not f_memory < 1.0:
                f_memory = 1.0
            result.append(int((1 - abs(f_cpu - f_memory) / 2) * MAX_NODE_SCORE))
        else:
            result.append(MAX_NODE_SCORE)  # fewer than two fractions: std 0
    return result


def _by_name(
    snap: _Snapshot, feasible: list[int], raw: Callable[[NodeFacts], int]
) -> dict[str, int]:
    return {snap.names[j]: raw(snap.nodes[j]) for j in feasible}


def _taint_scores(
    pod: PodFacts, snap: _Snapshot, feasible: list[int], placement: Placement
) -> list[int] | int:
    """TaintToleration's normalized scores, or the one score every node gets."""
    if not snap.any_prefer_taints or not any(snap.prefer_taints[j] for j in feasible):
        return MAX_NODE_SCORE  # no PreferNoSchedule taint: all raw 0, reversed to 100
    raw = {
        snap.names[j]: (
            taint_toleration_score(pod, snap.nodes[j], placement) if snap.prefer_taints[j] else 0
        )
        for j in feasible
    }
    normalized = default_normalize(raw, reverse=True)
    return [normalized[snap.names[j]] for j in feasible]


def _node_affinity_scores(
    pod: PodFacts, snap: _Snapshot, feasible: list[int], placement: Placement
) -> list[int] | int:
    if not any(weight for weight, _ in pod.preferred_node_terms):
        return 0
    normalized = default_normalize(
        _by_name(snap, feasible, lambda n: node_affinity_score(pod, n, placement))
    )
    return [normalized[snap.names[j]] for j in feasible]


def _inter_pod_scores(
    pod: PodFacts, snap: _Snapshot, feasible: list[int], placement: Placement, hard_weight: int
) -> list[int] | int:
    """InterPodAffinity's scores (`inter_pod_affinity_scores`), visiting only the placed pods
    with terms unless the pod has preferred terms of its own."""
    ns_labels = placement.namespace_labels
    nodes = snap.nodes
    by_domain: dict[str, dict[Any, int]] = {}
    credited = False

    def credit(j: int, key: str, weight: int) -> None:
        nonlocal credited
        value = nodes[j].labels.get(key)
        if value is not None and weight:
            domains = by_domain.setdefault(key, {})
            domains[value] = domains.get(value, 0) + weight
            credited = True

    if pod.preferred_affinity or pod.preferred_anti_affinity:
        for j, other in _placed(snap):
            for key, weight in incoming_credits(pod, other, ns_labels):
                credit(j, key, weight)
    for j, others in snap.term_pods.items():
        for other in others:
            for key, weight in existing_credits(pod, other, ns_labels, hard_weight):
                credit(j, key, weight)
    if not credited:
        return 0
    raw = []
    for j in feasible:
        labels = nodes[j].labels
        score = 0
        for key, domains in by_domain.items():
            value = labels.get(key)
            if value is not None:
                score += domains.get(value, 0)
        raw.append(score)
    lowest, highest = min(raw), max(raw)
    spread = highest - lowest
    return [int(MAX_NODE_SCORE * (score - lowest) / spread) if spread else 0 for score in raw]


def _spread_scores(
    pod: PodFacts, snap: _Snapshot, feasible: list[int], placement: Placement
) -> list[int] | int:
    if all(c.hard for c in pod.spread):
        return 0
    scores = topology_spread_scores(pod, [snap.nodes[j] for j in feasible], placement)
    return [scores[snap.names[j]] for j in feasible]


_RESOURCE_PLUGINS = frozenset({"NodeResourcesFit", "NodeResourcesBalancedAllocation"})
#: Pod shapes whose resource scores a snapshot keeps (a scheduler_perf run has one or two).
_SHAPES = 8


def _resource_totals(
    pod: PodFacts,
    snap: _Snapshot,
    feasible: list[int],
    profile: Profile,
    entries: tuple[tuple[str, int], ...],
) -> list[int]:
    """The weighted sum of the resource plugins' scores (no normalization: each node's own).

    They depend only on the node's columns and the pod's requests, so they are kept per pod
    shape: computed for a node when first needed, and again as soon as its usage changes
    (`_Snapshot.log`), so that once every node has one no lookup needs checking.
    """
    key = (
        entries,
        profile.resource_scoring,
        pod.nonzero_cpu,
        pod.nonzero_memory,
        tuple(sorted(pod.requests.items())),
    )
    shape = snap.shapes.get(key)
    if shape is None:
        if len(snap.shapes) >= _SHAPES:
            snap.shapes.clear()
        # [each node's total (None: not computed yet), how many are None, log seen]
        shape = snap.shapes[key] = [[None] * len(snap.nodes), len(snap.nodes), len(snap.log)]
    scores: list[int | None] = shape[0]
    changed = snap.unseen(shape)
    if changed:
        for j, c in zip(changed, _weighted(pod, snap, changed, profile, entries), strict=True):
            if scores[j] is None:
                shape[1] -= 1
            scores[j] = c
    totals = list(map(scores.__getitem__, feasible))
    if shape[1]:
        at = _nones(totals)
        if at:
            missing = [feasible[i] for i in at]
            combined = _weighted(pod, snap, missing, profile, entries)
            for i, j, c in zip(at, missing, combined, strict=True):
                scores[j] = totals[i] = c
            shape[1] -= len(at)
    return totals  # type: ignore[return-value]  # no None left


def _weighted(
    pod: PodFacts,
    snap: _Snapshot,
    nodes: list[int],
    profile: Profile,
    entries: tuple[tuple[str, int], ...],
) -> list[int]:
    """The resource plugins' weighted sum on `nodes`, in their order."""
    combined = [0] * len(nodes)
    for name, weight in entries:
        part = (
            _fit_scores(pod, snap, nodes, profile)
            if name == "NodeResourcesFit"
            else _balanced_scores(pod, snap, nodes)
        )
        combined = [c + weight * s for c, s in zip(combined, part, strict=True)]
    return combined


def _nones(values: list[Any]) -> list[int]:
    """The positions of None in `values`, found by `list.index` (in C) rather than a loop."""
    at: list[int] = []
    i = -1
    try:
        while True:
            i = values.index(None, i + 1)
            at.append(i)
    except ValueError:
        return at


def _totals(
    pod: PodFacts, snap: _Snapshot, feasible: list[int], placement: Placement, profile: Profile
) -> tuple[list[int], int]:
    """Each feasible node's total weighted score, in the order of `feasible`, less a constant
    that every node gets (returned apart: it changes neither the best nor the ties)."""
    entries = tuple((n, w) for n, w in profile.scores if n in _RESOURCE_PLUGINS)
    totals = _resource_totals(pod, snap, feasible, profile, entries) if entries else None
    constant = 0
    for name, weight in profile.scores:
        scores: list[int] | int
        if name in _RESOURCE_PLUGINS:
            continue
        if name == "TaintToleration":
            scores = _taint_scores(pod, snap, feasible, placement)
        elif name == "NodeAffinity":
            scores = _node_affinity_scores(pod, snap, feasible, placement)
        elif name == "InterPodAffinity":
            scores = _inter_pod_scores(
                pod, snap, feasible, placement, profile.hard_pod_affinity_weight
            )
        elif name == "PodTopologySpread":
            scores = _spread_scores(pod, snap, feasible, placement)
        else:
            raise KeyError(f"no score plugin named {name}")
        if isinstance(scores, int):
            constant += weight * scores
        elif totals is None:
            totals = [weight * s for s in scores]
        else:
            totals = [t + weight * s for t, s in zip(totals, scores, strict=True)]
    if totals is None:
        return [0] * len(feasible), constant
    return totals, constant


def _select(pod: PodFacts, snap: _Snapshot, feasible: list[int], totals: list[int]) -> str:
    """`spec.select`: the best total, ties broken by the least `tie_key` (the first such in
    feasible order, the order of the spec's totals), hashing the pod's uid once and each tied
    node's name after it. `totals` may lack a constant common to all (integers: the same
    best nodes)."""
    best = max(totals)
    tied = list(compress(feasible, map(eq, totals, repeat(best))))
    if len(tied) == 1:
        return snap.names[tied[0]]
    copy = hashlib.blake2b(f"{pod.uid}\0".encode(), digest_size=8).copy
    keys = []
    for name in map(snap.encoded.__getitem__, tied):
        h = copy()
        h.update(name)
        keys.append(h.digest())
    # `index` finds the first least key, as `min` over the tied nodes in order does.
    return snap.names[tied[keys.index(min(keys))]]


class _Scores(Mapping[str, int]):
    """`Decision.scores` (node name -> total, in feasible order), built only when read: the
    controller reads only the node, and a dict of every feasible node's total costs a tenth
    of a decision."""

    __slots__ = ("_built", "_constant", "_feasible", "_names", "_totals")

    def __init__(
        self, names: list[str], feasible: list[int], totals: list[int], constant: int
    ) -> None:
        self._names = names
        self._feasible = feasible
        self._totals = totals
        self._constant = constant
        self._built: dict[str, int] | None = None

    def _dict(self) -> dict[str, int]:
        built = self._built
        if built is None:
            totals = self._totals
            if self._constant:
                totals = list(map(add, totals, repeat(self._constant)))
            built = self._built = dict(
                zip(map(self._names.__getitem__, self._feasible), totals, strict=True)
            )
        return built

    def __getitem__(self, name: str) -> int:
        return self._dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._feasible)

    def __repr__(self) -> str:
        return repr(self._dict())


# -- the cycle -------------------------------------------------------------------------------------


@attrs.frozen
class FastScheduler:
    """The scheduling cycle of `SpecScheduler`, decided in less time."""

    name: str = "fast"
    _memo: _Memo = attrs.field(factory=_Memo, init=False, eq=False, repr=False)

    def decide(
        self,
        pod: PodFacts,
        placement: Placement,
        profile: Profile,
        start: int = 0,
        nominated: Mapping[str, Sequence[PodFacts]] | None = None,
    ) -> Decision:
        nominated = nominated or {}
        nodes = placement.nodes
        count = len(nodes)
        if not count:
            return Decision(None, {}, {}, 0)
        early = nominated_node_fits(pod, placement, profile, nominated)
        if early is not None:
            return early
        snap = self._memo.get(placement)
        if snap is None or not all(f in FILTERS for f in profile.filters):
            # Duplicate node names, a node without usage, an unknown filter: the spec's own loop.
            return SpecScheduler().decide(pod, placement, profile, start, nominated)
        wanted = feasible_nodes_to_find(count, profile.percentage_of_nodes_to_score)
        check = _Check(pod, snap, placement, profile)
        crowded = _crowded(pod, nominated)
        filters = profile.filters
        names = snap.names
        feasible: list[int] = []
        failures: dict[str, Failure] = {}
        found = evaluated = 0
        first = start % count
        if check.simple and not crowded:
            # The common pod: only the resource columns and `plain` to look at, and of those
            # only the nodes without room (a run of nodes with room is taken whole).
            room = snap.room(check.pods_needed, check.cpu, check.memory)
            for lo, hi in ((first, count), (0, first)):
                j = lo
                while j < hi and found < wanted:
                    k = room.find(0, j, hi)
                    if k < 0:
                        k = hi
                    take = min(k - j, wanted - found)
                    feasible.extend(range(j, j + take))
                    found += take
                    evaluated += take
                    j += take
                    if j == k < hi and found < wanted:
                        evaluated += 1
                        failure = _roomless(check, k)
                        if failure is None:
                            feasible.append(k)
                            found += 1
                        else:
                            failures[names[k]] = failure
                        j = k + 1
        else:
            for j in chain(range(first, count), range(first)):
                if found >= wanted:
                    break
                evaluated += 1
                if names[j] in crowded:
                    failure = passes(pod, nodes[j], placement, filters, nominated)
                else:
                    failure = check(j)
                    if failure is ASK:
                        failure = first_failure(pod, nodes[j], placement, filters)
                if failure is None:
                    feasible.append(j)
                    found += 1
                else:
                    failures[names[j]] = failure
        if not feasible:
            return Decision(None, failures, {}, evaluated)
        if len(feasible) == 1:
            return Decision(names[feasible[0]], failures, {}, evaluated)
        totals, constant = _totals(pod, snap, feasible, placement, profile)
        scores = _Scores(names, feasible, totals, constant)
        return Decision(_select(pod, snap, feasible, totals), failures, scores, evaluated)


def _roomless(check: _Check, j: int) -> Failure | None:
    """The common pod's filters on a node without room in `_Snapshot.room`: not plain, or
    short of pods, cpu or memory (the spec's `first_failure` names the failure)."""
    snap = check.snap
    if (
        snap.free_pods[j] >= check.pods_needed
        and snap.free_cpu[j] >= check.cpu
        and snap.free_memory[j] >= check.memory
        and (snap.plain[j] or check(j) is None)
    ):
        return None
    return first_failure(check.pod, snap.nodes[j], check.placement, check.filters)
