"""The readable scheduler: one pod's cycle, plugin by plugin, in plain loops.

This is the specification the fast path (`fast.py`) must agree with; the
differential test in tests/unit/test_scheduler_paths.py holds them to it.
A decision is a pure function of the pod, the placement, the pods
nominated to nodes, the profile and the node to start from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import attrs

from properties.placement import (
    Failure,
    NodeFacts,
    Placement,
    PodFacts,
    passes,
    total_scores,
)
from reference.scheduler.profile import Profile

__all__ = [
    "Decision",
    "SpecScheduler",
    "feasible_nodes_to_find",
    "nominated_node_fits",
    "tie_key",
]

#: Below this many nodes every node is evaluated (minFeasibleNodesToFind).
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5


@attrs.frozen
class Decision:
    """Where a pod goes (None: nowhere), and what the cycle saw on the way."""

    node: str | None
    #: The failure of each node evaluated and found infeasible.
    failures: Mapping[str, Failure]
    #: Total weighted score of each feasible node (empty when at most one was feasible).
    scores: Mapping[str, int]
    #: Nodes looked at, for where the next cycle starts (upstream's nextStartNodeIndex).
    evaluated: int


def feasible_nodes_to_find(nodes: int, percentage: int) -> int:
    """numFeasibleNodesToFind: how many feasible nodes end the filter phase."""
    if nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return nodes
    if percentage == 0:
        percentage = max(50 - nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    found = nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)


def tie_key(pod: PodFacts, node: str) -> bytes:
    """The tie-break among equal totals: a hash of the pod's uid (itself a function of the
    cluster's seed) and the node's name, where upstream samples at random."""
    return hashlib.blake2b(f"{pod.uid}\0{node}".encode(), digest_size=8).digest()


def select(pod: PodFacts, totals: Mapping[str, int]) -> str:
    best = max(totals.values())
    return min((n for n, s in totals.items() if s == best), key=lambda n: tie_key(pod, n))


def nominated_node_fits(
    pod: PodFacts,
    placement: Placement,
    profile: Profile,
    nominated: Mapping[str, Sequence[PodFacts]],
) -> Decision | None:
    """evaluateNominatedNode: a pod nominated to a node that now passes every filter goes
    there without scoring, and the next cycle starts where this one would have."""
    node = placement.node(pod.nominated_node) if pod.nominated_node else None
    if node is None or passes(pod, node, placement, profile.filters, nominated) is not None:
        return None
    return Decision(node.name, {}, {}, 0)


@attrs.frozen
class SpecScheduler:
    """The scheduling cycle as the specification states it."""

    name: str = "spec"

    def decide(
        self,
        pod: PodFacts,
        placement: Placement,
        profile: Profile,
        start: int = 0,
        nominated: Mapping[str, Sequence[PodFacts]] | None = None,
    ) -> Decision:
        nominated = nominated or {}
        early = nominated_node_fits(pod, placement, profile, nominated)
        if early is not None:
            return early
        nodes = placement.nodes
        wanted = feasible_nodes_to_find(len(nodes), profile.percentage_of_nodes_to_score)
        feasible: list[NodeFacts] = []
        failures: dict[str, Failure] = {}
        evaluated = 0
        for i in range(len(nodes)):
            if len(feasible) >= wanted:
                break
            node = nodes[(start + i) % len(nodes)]
            evaluated += 1
            failure = passes(pod, node, placement, profile.filters, nominated)
            if failure is None:
                feasible.append(node)
            else:
                failures[node.name] = failure
        if not feasible:
            return Decision(None, failures, {}, evaluated)
        if len(feasible) == 1:
            return Decision(feasible[0].name, failures, {}, evaluated)
        totals = total_scores(
            pod,
            feasible,
            placement,
            profile.scores,
            profile.resource_scoring,
            profile.hard_pod_affinity_weight,
        )
        return Decision(select(pod, totals), failures, totals, evaluated)
