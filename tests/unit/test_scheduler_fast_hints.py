"""The fast path's shortcuts change no decision: `with_pod`'s hint, the per-shape caches, the
lazy scores, and `PodFacts.of` summing requests in one pass.

`Placement.with_pod` records the usage it copied and the node it changed
(`derived_from`), which `FastScheduler` uses to patch one node of its
columns; these tests bind pods along branching chains of placements, mix
pod shapes (each with its own cached room and score columns) past the
point where the caches start over, and hold every decision to the spec's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from properties.placement import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    NodeFacts,
    Placement,
    PodFacts,
    pod_requests,
)
from reference.scheduler.fast import FastScheduler
from reference.scheduler.profile import Profile
from reference.scheduler.spec import SpecScheduler

HOSTNAME = "kubernetes.io/hostname"


def _node(i: int, cpu: str = "2", pods: str = "4", **spec: Any) -> NodeFacts:
    name = f"n{i:03d}"
    return NodeFacts.of(
        {
            "metadata": {"name": name, "labels": {HOSTNAME: name}},
            "spec": spec,
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": pods}},
        }
    )


def _pod(name: str, cpu: str, **spec: Any) -> PodFacts:
    container = {"name": "c", "image": "pause", "resources": {"requests": {"cpu": cpu}}}
    return PodFacts.of(
        {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"containers": [container], **spec},
        }
    )


def _nodes() -> list[NodeFacts]:
    """120 nodes (so that not all are evaluated), some tainted, cordoned or small."""
    nodes = []
    for i in range(120):
        if i % 17 == 3:
            nodes.append(_node(i, taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]))
        elif i % 23 == 5:
            nodes.append(_node(i, unschedulable=True))
        elif i % 11 == 7:
            nodes.append(_node(i, cpu="500m", pods="1"))
        else:
            nodes.append(_node(i))
    return nodes


def test_with_pod_records_its_origin_outside_the_value() -> None:
    base = Placement.of(_nodes(), [])
    pod = _pod("p", "100m")
    grown = base.with_pod(pod, "n000")
    assert grown.derived_from is not None
    assert grown.derived_from[0] is base.usage
    assert grown.derived_from[1] == "n000"
    assert base.derived_from is None
    same = attrs.evolve(grown)
    assert same == grown and same.derived_from is None
    assert "derived_from" not in repr(grown)
    # A pod already bound to the node is counted as it is.
    bound = attrs.evolve(pod, node_name="n001")
    assert base.with_pod(bound, "n001").usage["n001"].pods[0] is bound
    assert base.with_pod(pod, "n001") == base.with_pod(bound, "n001")


def test_branching_chains_and_mixed_shapes_decide_as_the_spec() -> None:
    fast, spec = FastScheduler(), SpecScheduler()
    profile = Profile()
    placement = Placement.of(_nodes(), [])
    kept = [placement]
    start = 0
    shapes = ["100m", "700m", "100m", "1500m", "300m"]
    for k in range(260):
        pod = _pod(f"p{k}", shapes[k % len(shapes)])
        if k % 40 == 39:
            # Back to an earlier placement: its hint names a usage the fast path no longer has.
            placement = kept[k // 3]
        expected = spec.decide(pod, placement, profile, start)
        decided = fast.decide(pod, placement, profile, start)
        assert decided == expected
        assert dict(decided.scores) == dict(expected.scores)
        assert list(decided.scores) == list(expected.scores)
        assert len(decided.scores) == len(expected.scores)
        start += expected.evaluated
        if expected.node is not None:
            placement = placement.with_pod(pod, expected.node)
        kept.append(placement)


def test_scores_read_like_the_spec_dict() -> None:
    placement = Placement.of(_nodes()[:10], [])
    pod = _pod("p", "100m")
    decided = FastScheduler().decide(pod, placement, Profile())
    expected = SpecScheduler().decide(pod, placement, Profile())
    assert decided.scores == expected.scores
    assert expected.scores == decided.scores
    assert repr(decided.scores) == repr(dict(expected.scores))
    assert {n: decided.scores[n] for n in decided.scores} == expected.scores


def _spec(**extra: Any) -> Mapping[str, Any]:
    def container(name: str, resources: Mapping[str, Any], **more: Any) -> dict[str, Any]:
        return {"name": name, "image": "pause", "resources": dict(resources), **more}

    return {
        "containers": [
            container("a", {"requests": {"cpu": "200m"}}),
            container("b", {"limits": {"memory": "1Gi", "example.com/gpu": "1"}}),
            container("c", {}),
        ],
        "initContainers": [
            container("init", {"requests": {"cpu": "2", "memory": "0"}}),
            container("side", {"requests": {"memory": "64Mi"}}, restartPolicy="Always"),
            container("late", {"requests": {"cpu": "50m"}}),
        ],
        "overhead": {"cpu": "10m"},
        **extra,
    }


def test_pod_facts_sum_requests_as_pod_requests_does() -> None:
    defaults = {"cpu": DEFAULT_MILLI_CPU_REQUEST, "memory": DEFAULT_MEMORY_REQUEST}
    specs: list[Mapping[str, Any]] = [_spec(), {"containers": []}, {}, {"containers": [{}]}]
    for spec in specs:
        facts = PodFacts.of({"metadata": {"name": "p"}, "spec": spec})
        assert facts.requests == pod_requests(spec)
        nonzero = pod_requests(spec, defaults)
        assert (facts.nonzero_cpu, facts.nonzero_memory) == (
            nonzero.get("cpu", 0),
            nonzero.get("memory", 0),
        )
