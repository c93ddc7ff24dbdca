"""DefaultPreemption: when a pod fits nowhere, which lower-priority pods to evict, and where.

Upstream's PostFilter (framework/preemption): on each node whose failure
eviction could fix, remove every pod of lower priority; if the pod then
fits, give back as many of them as still let it fit, most important first
(the reprieve); the rest are the node's victims. Among the candidate
nodes the first best by `pickOneNodeForPreemption`'s criteria wins. The
reference has no PodDisruptionBudgets, so the PDB criterion never
separates nodes (docs/fidelity.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from properties.placement import Failure, Placement, PodFacts, passes
from reference.scheduler.profile import Profile

__all__ = ["Candidate", "eligible_to_preempt", "preemption_candidate"]

_INT32_OFFSET = 2**31


@attrs.frozen
class Candidate:
    node: str
    victims: tuple[PodFacts, ...]


def eligible_to_preempt(
    pod: PodFacts, placement: Placement, failures: Mapping[str, Failure]
) -> bool:
    """podEligibleToPreemptOthers: not with preemptionPolicy Never, and not while a
    lower-priority pod preempted from the node it is nominated to is still terminating
    (unless that node has become hopeless for it)."""
    if not pod.preempt:
        return False
    node = pod.nominated_node
    if not node or node not in placement.usage:
        return True
    failure = failures.get(node)
    if failure is not None and not failure.resolvable:
        return True
    return not any(
        p.terminating and p.preempted and p.priority < pod.priority
        for p in placement.usage[node].pods
    )


def _importance(p: PodFacts) -> tuple[int, str]:
    return (-p.priority, p.start_time)


def victims_on(
    pod: PodFacts,
    node: str,
    placement: Placement,
    profile: Profile,
    nominated: Mapping[str, Sequence[PodFacts]],
) -> tuple[PodFacts, ...] | None:
    """selectVictimsOnNode: the fewest lower-priority pods to evict so that `pod` fits."""
    facts = placement.node(node)
    assert facts is not None
    lower = [p for p in placement.usage[node].pods if p.priority < pod.priority]
    if not lower:
        return None
    state = placement.without(lower)
    if passes(pod, facts, state, profile.filters, nominated) is not None:
        return None
    victims = []
    for p in sorted(lower, key=_importance):
        back = state.with_pod(p, node)
        if passes(pod, facts, back, profile.filters, nominated) is None:
            state = back
        else:
            victims.append(p)
    return tuple(victims)


def _rank(c: Candidate) -> tuple[int, int, int, str]:
    """pickOneNodeForPreemption's order after PDB violations: smaller is better."""
    highest = max(v.priority for v in c.victims)
    total = sum(v.priority + _INT32_OFFSET for v in c.victims)
    earliest_of_highest = min(v.start_time for v in c.victims if v.priority == highest)
    return (highest, total, len(c.victims), _negated(earliest_of_highest))


def _negated(timestamp: str) -> str:
    """A key that sorts later timestamps first (RFC 3339 strings of one format sort by time)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in timestamp)


def preemption_candidate(
    pod: PodFacts,
    placement: Placement,
    profile: Profile,
    failures: Mapping[str, Failure],
    nominated: Mapping[str, Sequence[PodFacts]],
) -> Candidate | None:
    """Where `pod` should preempt and whom, or None when preemption cannot help."""
    candidates = []
    for node in placement.nodes:
        failure = failures.get(node.name)
        if failure is None or not failure.resolvable:
            continue
        victims = victims_on(pod, node.name, placement, profile, nominated)
        if victims is None:
            continue
        if not victims:
            return Candidate(node.name, ())
        candidates.append(Candidate(node.name, victims))
    if not candidates:
        return None
    return min(candidates, key=_rank)
