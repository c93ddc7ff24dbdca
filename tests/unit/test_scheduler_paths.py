"""The fast scheduler decides as the spec does; the spec computes upstream's numbers.

The differential test draws clusters (a few nodes, or 100-150 so that
percentageOfNodesToScore and the rotating start matter), placed pods and a
pending pod with random scheduling features, under three profiles (the
default, MostAllocated, RequestedToCapacityRatio), with and without
nominated pods, and asserts that `FastScheduler.decide` and
`SpecScheduler.decide` agree on every field. Each example decides a few
pods in a row on one `FastScheduler`, binding each where the spec put it,
so that its incremental snapshot is exercised as the controller uses it.

The examples pin the spec's formulas to upstream's own test cases
(pkg/scheduler/framework/plugins/...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from properties.placement import (
    FILTERS,
    Failure,
    NodeFacts,
    Placement,
    PodFacts,
    ResourceScoring,
    balanced_allocation_score,
    first_failure,
    node_ports_filter,
    resource_score,
    taint_toleration_filter,
    topology_spread_filter,
)
from reference.scheduler.fast import FastScheduler
from reference.scheduler.profile import Profile
from reference.scheduler.spec import Decision, SpecScheduler, feasible_nodes_to_find

ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
GPU = "example.com/gpu"

# -- wire objects ----------------------------------------------------------------------------------


def _node(name: str, labels: Mapping[str, str], **status: Any) -> NodeFacts:
    spec = {k: status.pop(k) for k in ("taints", "unschedulable") if k in status}
    return NodeFacts.of(
        {"metadata": {"name": name, "labels": dict(labels)}, "spec": spec, "status": status}
    )


def _pod(
    name: str,
    requests: Mapping[str, str] | None = None,
    *,
    node: str = "",
    labels: Mapping[str, str] | None = None,
    namespace: str = "default",
    **spec: Any,
) -> PodFacts:
    container: dict[str, Any] = {"name": "c", "image": "pause"}
    if requests:
        container["resources"] = {"requests": dict(requests)}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "labels": dict(labels or {}),
    }
    if spec.pop("terminating", False):
        meta["deletionTimestamp"] = "1970-01-01T00:00:00Z"
    status = {"phase": spec.pop("phase")} if "phase" in spec else {}
    if node:
        spec["nodeName"] = node
    return PodFacts.of(
        {"metadata": meta, "spec": {"containers": [container], **spec}, "status": status}
    )


# -- strategies ------------------------------------------------------------------------------------


def _one_in(n: int, draw: st.DrawFn) -> bool:
    """True about once in `n` draws; False is what shrinking goes to (a feature left out)."""
    return draw(st.integers(1, n)) == n


app_labels = st.dictionaries(
    st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b", "c"]), max_size=2
)
selectors = st.one_of(
    st.builds(lambda v: {"matchLabels": {"app": v}}, st.sampled_from(["a", "b"])),
    st.builds(
        lambda vs: {"matchExpressions": [{"key": "app", "operator": "In", "values": vs}]},
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2, unique=True),
    ),
    st.just({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
    st.just({}),
)
topology_keys = st.sampled_from([ZONE, HOSTNAME, ZONE, "rack"])
affinity_terms = st.builds(
    lambda sel, key, ns: {
        "labelSelector": sel,
        "topologyKey": key,
        **({"namespaces": ns} if ns else {}),
    },
    selectors,
    topology_keys,
    st.sampled_from([None, ["default"], ["default", "other"]]),
)
weighted_terms = st.builds(
    lambda w, t: {"weight": w, "podAffinityTerm": t}, st.integers(1, 100), affinity_terms
)


@st.composite
def pod_affinity(draw: st.DrawFn) -> dict[str, Any]:
    affinity: dict[str, Any] = {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section: dict[str, Any] = {}
        if _one_in(5, draw):
            section["requiredDuringSchedulingIgnoredDuringExecution"] = draw(
                st.lists(affinity_terms, min_size=1, max_size=2)
            )
        if _one_in(4, draw):
            section["preferredDuringSchedulingIgnoredDuringExecution"] = draw(
                st.lists(weighted_terms, min_size=1, max_size=2)
            )
        if section:
            affinity[kind] = section
    return affinity


spread_constraints = st.builds(
    lambda skew, key, hard, sel, min_domains, affinity_policy, taints_policy: {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
        "labelSelector": sel,
        **({"minDomains": min_domains} if hard and min_domains else {}),
        **({"nodeAffinityPolicy": affinity_policy} if affinity_policy else {}),
        **({"nodeTaintsPolicy": taints_policy} if taints_policy else {}),
    },
    st.integers(1, 2),
    st.sampled_from([ZONE, HOSTNAME]),
    st.booleans(),
    selectors,
    st.sampled_from([None, 2, 3]),
    st.sampled_from([None, "Honor", "Ignore"]),
    st.sampled_from([None, "Honor", "Ignore"]),
)
requests = st.builds(
    lambda cpu, memory, gpu: {
        r: q for r, q in (("cpu", cpu), ("memory", memory), (GPU, gpu)) if q is not None
    },
    st.sampled_from([None, "100m", "100m", "500m", "1", "3"]),
    st.sampled_from([None, "100Mi", "100Mi", "1Gi", "3Gi"]),
    st.sampled_from([None, None, None, None, None, "1"]),
)
host_ports = st.lists(
    st.builds(
        lambda port, protocol, ip: {
            "containerPort": 80,
            "hostPort": port,
            "protocol": protocol,
            **({"hostIP": ip} if ip is not None else {}),
        },
        st.sampled_from([8080, 8081]),
        st.sampled_from(["TCP", "UDP"]),
        st.sampled_from([None, "0.0.0.0", "10.0.0.1", "10.0.0.2"]),
    ),
    max_size=2,
)
taints = st.lists(
    st.builds(
        lambda key, value, effect: {"key": key, "value": value, "effect": effect},
        st.sampled_from(["k1", "k2", "node.kubernetes.io/unschedulable"]),
        st.sampled_from(["", "v"]),
        st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
    ),
    max_size=2,
)
tolerations = st.lists(
    st.sampled_from(
        [
            {"operator": "Exists"},
            {"key": "k1", "operator": "Exists"},
            {"key": "k1", "operator": "Exists", "effect": "PreferNoSchedule"},
            {"key": "k2", "operator": "Equal", "value": "v"},
            {"key": "k2", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            {
                "key": "node.kubernetes.io/unschedulable",
                "operator": "Exists",
                "effect": "NoSchedule",
            },
        ]
    ),
    max_size=2,
)
node_terms = st.sampled_from(
    [
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
        {"matchExpressions": [{"key": ZONE, "operator": "NotIn", "values": ["z0"]}]},
        {"matchExpressions": [{"key": "disk", "operator": "Exists"}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
    ]
)


@st.composite
def node_template(draw: st.DrawFn) -> dict[str, Any]:
    """Everything of a node but its name."""
    sizes = {
        "cpu": ["4", "4", "4", "4", "2", "1", "500m", "0", None],
        "memory": ["4Gi", "4Gi", "4Gi", "4Gi", "1Gi", "0", None],
        "pods": ["110", "110", "110", "110", "110", "3", "1", "0", None],
        GPU: [None, None, "1", "2"],
    }
    allocatable = {
        r: size for r, options in sizes.items() if (size := draw(st.sampled_from(options)))
    }
    labels = {}
    zone = draw(st.sampled_from([None, "z0", "z1", "z2"]))
    if zone:
        labels[ZONE] = zone
    if draw(st.booleans()):
        labels["disk"] = draw(st.sampled_from(["ssd", "hdd"]))
    if _one_in(4, draw):
        labels["rack"] = draw(st.sampled_from(["r0", "r1"]))
    return {
        "labels": labels,
        "hostname": draw(st.integers(0, 9)) > 0,
        "taints": draw(taints) if _one_in(4, draw) else [],
        "unschedulable": _one_in(10, draw),
        "allocatable": allocatable,
    }


PLAIN_NODE = {
    "labels": {ZONE: "z1"},
    "hostname": True,
    "taints": [],
    "unschedulable": False,
    "allocatable": {"cpu": "4", "memory": "4Gi", "pods": "110"},
}


def _build_node(i: int, template: Mapping[str, Any]) -> NodeFacts:
    name = f"n{i}"
    labels = dict(template["labels"])
    if template["hostname"]:
        labels[HOSTNAME] = name
    return NodeFacts.of(
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": template["taints"], "unschedulable": template["unschedulable"]},
            "status": {"allocatable": template["allocatable"]},
        }
    )


@st.composite
def pod_wire(draw: st.DrawFn, name: str, pending: bool) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "pause"}
    asked = draw(requests)
    if asked:
        container["resources"] = {"requests": asked}
    ports = draw(host_ports) if _one_in(4, draw) else []
    if ports:
        container["ports"] = ports
    spec: dict[str, Any] = {"containers": [container]}
    priority = draw(st.sampled_from([0, 0, 10, 100]))
    if priority:
        spec["priority"] = priority
    affinity = draw(pod_affinity()) if _one_in(3, draw) else {}
    if pending:
        if _one_in(4, draw):
            spec["tolerations"] = draw(tolerations)
        if _one_in(8, draw):
            spec["nodeSelector"] = {"disk": draw(st.sampled_from(["ssd", "hdd"]))}
        node_affinity: dict[str, Any] = {}
        if _one_in(6, draw):
            node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
                "nodeSelectorTerms": draw(st.lists(node_terms, min_size=1, max_size=2))
            }
        if _one_in(4, draw):
            node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = draw(
                st.lists(
                    st.builds(
                        lambda w, t: {"weight": w, "preference": t},
                        st.integers(1, 100),
                        node_terms,
                    ),
                    min_size=1,
                    max_size=2,
                )
            )
        if node_affinity:
            affinity["nodeAffinity"] = node_affinity
        if _one_in(3, draw):
            spec["topologySpreadConstraints"] = draw(
                st.lists(spread_constraints, min_size=1, max_size=2)
            )
        if _one_in(20, draw):
            spec["nodeName"] = draw(st.sampled_from(["n0", "n1", "n7"]))
    if affinity:
        spec["affinity"] = affinity
    meta: dict[str, Any] = {
        "name": name,
        "namespace": draw(st.sampled_from(["default", "default", "other"])),
        "uid": f"uid-{name}",
        "labels": draw(app_labels),
    }
    status: dict[str, Any] = {}
    if not pending:
        if _one_in(6, draw):
            meta["deletionTimestamp"] = "1970-01-01T00:00:00Z"
        if _one_in(10, draw):
            status["phase"] = "Succeeded"
    return {"metadata": meta, "spec": spec, "status": status}


@st.composite
def clusters(draw: st.DrawFn) -> tuple[Placement, list[PodFacts], dict[str, list[PodFacts]]]:
    """A placement, a few pending pods, and the nominations."""
    big = _one_in(6, draw)
    if big:
        # Mostly plain nodes, so that often enough are feasible to stop the search early.
        templates = [PLAIN_NODE, *draw(st.lists(node_template(), min_size=1, max_size=3))]
        picks = draw(st.lists(st.integers(0, 3 * len(templates)), min_size=100, max_size=150))
        nodes = [
            _build_node(i, templates[t] if t < len(templates) else PLAIN_NODE)
            for i, t in enumerate(picks)
        ]
    else:
        nodes = [
            _build_node(i, t)
            for i, t in enumerate(draw(st.lists(node_template(), min_size=1, max_size=8)))
        ]
    placed = []
    for k in range(draw(st.integers(0, 10 if big else 12))):
        wire = draw(pod_wire(f"placed-{k}", pending=False))
        wire["spec"]["nodeName"] = f"n{draw(st.integers(0, len(nodes) - 1))}"
        placed.append(PodFacts.of(wire))
    namespace_labels = {"default": {"team": "x"}, "other": {"team": "y"}}
    placement = Placement.of(nodes, placed, namespace_labels)
    pending = [
        PodFacts.of(draw(pod_wire(f"pending-{k}", pending=True)))
        for k in range(draw(st.integers(1, 3)))
    ]
    nominated: dict[str, list[PodFacts]] = {}
    if draw(st.booleans()):
        for k in range(draw(st.integers(1, 3))):
            node = f"n{draw(st.integers(0, len(nodes) - 1))}"
            if _one_in(4, draw):
                pod = pending[0]  # a pod is not crowded out by its own nomination
            else:
                pod = PodFacts.of(draw(pod_wire(f"nominated-{k}", pending=True)))
            nominated.setdefault(node, []).append(pod)
    return placement, pending, nominated


PROFILES = {
    "default": Profile(),
    "most-allocated": Profile(
        resource_scoring=ResourceScoring("MostAllocated", (("cpu", 1), ("memory", 2)))
    ),
    "ratio": Profile(
        resource_scoring=ResourceScoring(
            "RequestedToCapacityRatio",
            (("cpu", 2), ("memory", 1), (GPU, 3)),
            ((0, 0), (40, 7), (100, 10)),
        )
    ),
}


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    profile = PROFILES[draw(st.sampled_from(sorted(PROFILES)))]
    changes: dict[str, Any] = {}
    if _one_in(4, draw):
        changes["percentage_of_nodes_to_score"] = draw(st.sampled_from([1, 10, 50, 100]))
    if _one_in(5, draw):
        changes["hard_pod_affinity_weight"] = draw(st.sampled_from([0, 5]))
    if _one_in(6, draw):
        dropped = draw(st.sampled_from(sorted(FILTERS)))
        changes["filters"] = tuple(f for f in profile.filters if f != dropped)
    elif _one_in(6, draw):
        # Not from a configuration (which keeps upstream's order), but a Profile allows it.
        changes["filters"] = tuple(draw(st.permutations(list(FILTERS))))
    if _one_in(6, draw):
        changes["scores"] = tuple(
            (name, draw(st.integers(1, 5))) for name, _ in profile.scores if draw(st.booleans())
        )
    return Profile(**{**_fields(profile), **changes})


def _fields(profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "filters": profile.filters,
        "scores": profile.scores,
        "resource_scoring": profile.resource_scoring,
        "percentage_of_nodes_to_score": profile.percentage_of_nodes_to_score,
        "hard_pod_affinity_weight": profile.hard_pod_affinity_weight,
        "preemption": profile.preemption,
    }


def _assert_same(fast: Decision, spec: Decision) -> None:
    assert fast.node == spec.node
    assert fast.evaluated == spec.evaluated
    assert dict(fast.failures) == dict(spec.failures)
    assert dict(fast.scores) == dict(spec.scores)
    assert fast == spec


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(clusters(), profiles(), st.integers(0, 300))
def test_fast_decides_as_the_spec(
    cluster: tuple[Placement, list[PodFacts], dict[str, list[PodFacts]]],
    profile: Profile,
    start: int,
) -> None:
    placement, pending, nominated = cluster
    fast, spec = FastScheduler(), SpecScheduler()
    for pod in pending:
        expected = spec.decide(pod, placement, profile, start, nominated)
        _assert_same(fast.decide(pod, placement, profile, start, nominated), expected)
        start += expected.evaluated
        if expected.node is not None:
            # As the controller does: the next pod is decided on the grown placement.
            placement = placement.with_pod(pod, expected.node)
            for pods in nominated.values():
                pods[:] = [p for p in pods if p.uid != pod.uid]


def test_fast_follows_placements_it_has_not_seen_in_order() -> None:
    """The snapshot is patched by difference from whatever placement came last."""
    nodes = [
        _node(f"n{i}", {HOSTNAME: f"n{i}"}, allocatable={"cpu": "1", "memory": "1Gi", "pods": "2"})
        for i in range(120)
    ]
    empty = Placement.of(nodes, [])
    fast, spec = FastScheduler(), SpecScheduler()
    pods = [_pod(f"p{k}", {"cpu": "600m"}) for k in range(130)]
    placement = empty
    for k, pod in enumerate(pods):
        expected = spec.decide(pod, placement, Profile(), 7 * k)
        assert fast.decide(pod, placement, Profile(), 7 * k) == expected
        if expected.node is not None:
            placement = placement.with_pod(pod, expected.node)
    # Back to an old placement, and to one far from it.
    assert fast.decide(pods[0], empty, Profile()) == spec.decide(pods[0], empty, Profile())
    assert fast.decide(pods[0], placement, Profile()) == spec.decide(pods[0], placement, Profile())
    bound = [p for usage in placement.usage.values() for p in usage.pods]
    emptied = placement.without(bound[:60])
    assert sum(len(u.pods) for u in emptied.usage.values()) == len(bound) - 60
    assert fast.decide(pods[0], emptied, Profile()) == spec.decide(pods[0], emptied, Profile())


# -- the spec against upstream's numbers -----------------------------------------------------------


def _upstream_nodes() -> list[NodeFacts]:
    """least_allocated_test.go's "nothing scheduled, resources requested, differently sized
    nodes": 4 cpu / 10000 bytes and 6 cpu / 10000 bytes, and a pod asking 3 cpu, 5000 bytes."""
    return [
        _node("node1", {}, allocatable={"cpu": "4", "memory": "10000", "pods": "110"}),
        _node("node2", {}, allocatable={"cpu": "6", "memory": "10000", "pods": "110"}),
    ]


def _upstream_pod() -> PodFacts:
    # cpuAndMemory: two containers, 1000m/2000 and 2000m/3000
    return PodFacts.of(
        {
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "2000"}}},
                    {"name": "b", "resources": {"requests": {"cpu": "2", "memory": "3000"}}},
                ]
            },
        }
    )


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        # CPU (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50: (25+50)/2 = 37
        ("LeastAllocated", [37, 50]),
        # CPU 3000*100/4000 = 75, memory 50: (75+50)/2 = 62; node2 50 and 50
        ("MostAllocated", [62, 50]),
    ],
)
def test_resource_scores_match_upstream(strategy: str, expected: list[int]) -> None:
    nodes = _upstream_nodes()
    placement = Placement.of(nodes, [])
    scoring = ResourceScoring(strategy)
    assert [resource_score(_upstream_pod(), n, placement, scoring) for n in nodes] == expected


def test_requested_to_capacity_ratio_matches_upstream() -> None:
    """requested_to_capacity_ratio_test.go, "nothing scheduled, resources requested,
    differently sized nodes", shape {0: 10, 100: 0}: node1's cpu is 75% used (score 25) and
    its memory 50% (50), (25 + 50) / 2 rounds to 38; node2's are both 50%: 50."""
    nodes = _upstream_nodes()
    placement = Placement.of(nodes, [])
    scoring = ResourceScoring("RequestedToCapacityRatio", shape=((0, 10), (100, 0)))
    assert [resource_score(_upstream_pod(), n, placement, scoring) for n in nodes] == [38, 50]


def test_balanced_allocation_matches_upstream() -> None:
    """balanced_allocation_test.go, same nodes and pod: fractions 0.75 and 0.5, std 0.125,
    score (1 - 0.125) * 100 = 87; node2 0.5 and 0.5: 100."""
    nodes = _upstream_nodes()
    placement = Placement.of(nodes, [])
    assert [balanced_allocation_score(_upstream_pod(), n, placement) for n in nodes] == [87, 100]


def test_taint_filter() -> None:
    node = _node(
        "n",
        {},
        taints=[{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}],
        allocatable={"pods": "1"},
    )
    placement = Placement.of([node], [])
    tolerating = _pod(
        "t",
        tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "user1", "effect": "NoSchedule"}
        ],
    )
    assert taint_toleration_filter(tolerating, node, placement) is None
    assert taint_toleration_filter(_pod("p"), node, placement) == Failure(
        "TaintToleration", "node(s) had untolerated taint {dedicated: user1}", False
    )
    soft = _node(
        "s", {}, taints=[{"key": "dedicated", "value": "user1", "effect": "PreferNoSchedule"}]
    )
    assert taint_toleration_filter(_pod("p"), soft, Placement.of([soft], [])) is None


@pytest.mark.parametrize(
    ("used", "asked", "conflict"),
    [
        # node_ports_test.go: a wildcard hostIP (0.0.0.0 or unset) conflicts with every IP
        (("TCP", "127.0.0.1", 8080), ("TCP", "0.0.0.0", 8080), True),
        (("TCP", "0.0.0.0", 8080), ("TCP", "127.0.0.1", 8080), True),
        (("TCP", "", 8080), ("TCP", "127.0.0.1", 8080), True),
        (("TCP", "127.0.0.1", 8080), ("TCP", "127.0.0.2", 8080), False),
        (("TCP", "127.0.0.1", 8080), ("UDP", "127.0.0.1", 8080), False),
        (("UDP", "0.0.0.0", 8080), ("TCP", "0.0.0.0", 8080), False),
        (("TCP", "0.0.0.0", 8080), ("TCP", "0.0.0.0", 8081), False),
    ],
)
def test_node_ports_wildcard_ip(
    used: tuple[str, str, int], asked: tuple[str, str, int], conflict: bool
) -> None:
    def port(p: tuple[str, str, int]) -> list[dict[str, Any]]:
        return [{"containerPort": 80, "protocol": p[0], "hostIP": p[1], "hostPort": p[2]}]

    node = _node("n", {}, allocatable={"pods": "10"})
    placement = Placement.of([node], [_pod("old", node="n", ports=port(used))])
    failure = node_ports_filter(_pod("new", ports=port(asked)), node, placement)
    assert (failure is not None) == conflict


def test_spread_skew() -> None:
    """Two zones, the first with two matching pods: with maxSkew 1 a third there would make
    the skew 3 - 0, so only the second zone's nodes pass (filtering_test.go's shape)."""
    nodes = [
        _node("a1", {ZONE: "zone1", HOSTNAME: "a1"}, allocatable={"pods": "10"}),
        _node("a2", {ZONE: "zone1", HOSTNAME: "a2"}, allocatable={"pods": "10"}),
        _node("b1", {ZONE: "zone2", HOSTNAME: "b1"}, allocatable={"pods": "10"}),
    ]
    placed = [
        _pod("x", node="a1", labels={"foo": ""}),
        _pod("y", node="a2", labels={"foo": ""}),
        _pod("other-ns", node="b1", labels={"foo": ""}, namespace="elsewhere"),
    ]
    placement = Placement.of(nodes, placed)
    constraint = {
        "maxSkew": 1,
        "topologyKey": ZONE,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchExpressions": [{"key": "foo", "operator": "Exists"}]},
    }
    pod = _pod("p", labels={"foo": ""}, topologySpreadConstraints=[constraint])
    passing = [n.name for n in nodes if topology_spread_filter(pod, n, placement) is None]
    assert passing == ["b1"]
    # With maxSkew 3, the skew a third pod in the first zone would make (3 - 0) is allowed.
    relaxed = _pod(
        "q", labels={"foo": ""}, topologySpreadConstraints=[{**constraint, "maxSkew": 3}]
    )
    assert all(topology_spread_filter(relaxed, n, placement) is None for n in nodes)


@pytest.mark.parametrize(
    ("nodes", "percentage", "expected"),
    [
        (50, 0, 50),  # fewer than 100 nodes: all of them
        (100, 0, 100),
        (1000, 0, 420),  # adaptive: 50 - 1000/125 = 42%
        (5000, 0, 500),  # 50 - 40 = 10%
        (6000, 0, 300),  # 50 - 48 = 2%, raised to the 5% floor
        (300, 10, 100),  # 30, raised to minFeasibleNodesToFind
        (1000, 50, 500),
    ],
)
def test_feasible_nodes_to_find(nodes: int, percentage: int, expected: int) -> None:
    assert feasible_nodes_to_find(nodes, percentage) == expected


def test_single_feasible_node_is_not_scored() -> None:
    nodes = [
        _node("small", {}, allocatable={"cpu": "1", "memory": "1Gi", "pods": "10"}),
        _node("big", {}, allocatable={"cpu": "8", "memory": "8Gi", "pods": "10"}),
    ]
    placement = Placement.of(nodes, [])
    pod = _pod("p", {"cpu": "2"})
    decision = SpecScheduler().decide(pod, placement, Profile())
    assert decision.node == "big"
    assert decision.scores == {}
    assert decision.failures["small"] == first_failure(pod, nodes[0], placement)
    assert FastScheduler().decide(pod, placement, Profile()) == decision


def test_nominated_pods_take_room_first() -> None:
    """A higher-priority pod nominated to a node is counted there (the first pass), a
    lower-priority one is not."""
    nodes = [_node("n", {}, allocatable={"cpu": "1", "memory": "1Gi", "pods": "10"})]
    placement = Placement.of(nodes, [])
    pod = _pod("p", {"cpu": "600m"}, priority=5)
    for priority, fits in ((10, False), (5, False), (1, True)):
        nominated: Sequence[PodFacts] = [_pod("nom", {"cpu": "600m"}, priority=priority)]
        decision = SpecScheduler().decide(pod, placement, Profile(), 0, {"n": nominated})
        assert (decision.node == "n") == fits
        assert FastScheduler().decide(pod, placement, Profile(), 0, {"n": nominated}) == decision
