"""The scheduler controller inside the reference cluster: binding, the queue, the assumed-pod
cache under a lagging view, preemption, and profiles read from KubeSchedulerConfiguration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from conformance.machines.scheduling import NEVER_PREEMPT_CLASS, NODES, pod_manifest
from reference import Cluster, Components, new_cluster, step
from reference.scheduler import ConfigError, SchedulerController, parse_config
from reference.scheduler.profile import DEFAULT_PROFILE


def send(cluster: Cluster, request: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = step(cluster, request)
    assert answer["ok"] is True, answer
    return cluster, answer


def world(*nodes: str, components: Components | None = None) -> Cluster:
    cluster = new_cluster(0, components)
    for name, value, policy in (
        ("low", 10, None),
        ("high", 1000, None),
        (NEVER_PREEMPT_CLASS, 1000, "Never"),
    ):
        obj: dict[str, Any] = {
            "kind": "PriorityClass",
            "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": name},
            "value": value,
        }
        if policy:
            obj["preemptionPolicy"] = policy
        cluster, _ = send(cluster, {"op": "create", "object": obj})
    for name in nodes:
        shape = NODES[name]
        labels = {
            "topology.kubernetes.io/zone": shape["zone"],
            "disk": shape["disk"],
            "kubernetes.io/hostname": name,
        }
        cluster, _ = send(
            cluster,
            {"op": "node.add", "name": name, "capacity": shape["capacity"], "labels": labels},
        )
    return cluster


def create(cluster: Cluster, name: str, cpu: str | None = None, **kw: Any) -> Cluster:
    manifest = pod_manifest(
        name,
        kw.pop("app", "web"),
        cpu,
        kw.pop("memory", None),
        kw.pop("gpu", 0),
        kw.pop("priority", None),
        tuple(kw.pop("constraints", ())),
    )
    cluster, _ = send(cluster, {"op": "create", "object": manifest})
    return cluster


def pods(cluster: Cluster) -> dict[str, dict[str, Any]]:
    _, answer = step(cluster, {"op": "snapshot"})
    return {o["metadata"]["name"]: o for o in answer["objects"] if o["kind"] == "Pod"}


def node_of(cluster: Cluster, name: str) -> str | None:
    pod = pods(cluster).get(name)
    return None if pod is None else pod["spec"].get("nodeName")


def settle(cluster: Cluster, seconds: float = 120) -> Cluster:
    cluster, answer = send(cluster, {"op": "settle", "max_seconds": seconds})
    assert answer["settled"] is True
    return cluster


def test_binds_a_pending_pod_and_marks_it_scheduled() -> None:
    cluster = settle(create(world("n1", "n2"), "p1", "1"))
    pod = pods(cluster)["p1"]
    assert pod["spec"]["nodeName"] in ("n1", "n2")
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled[0]["status"] == "True"


def test_least_allocated_spreads_and_bin_packing_profile_packs() -> None:
    cluster = settle(create(world("n2", "n4"), "p1", "1"))
    first = node_of(cluster, "p1")
    cluster = settle(create(cluster, "p2", "1"))
    assert node_of(cluster, "p2") not in (None, first)

    packing = parse_config(
        {
            "profiles": [
                {
                    "pluginConfig": [
                        {
                            "name": "NodeResourcesFit",
                            "args": {"scoringStrategy": {"type": "MostAllocated"}},
                        }
                    ]
                }
            ]
        }
    )
    components = Components().replacing(SchedulerController(config=packing))
    cluster = settle(create(world("n2", "n4", components=components), "p1", "1"))
    first = node_of(cluster, "p1")
    cluster = settle(create(cluster, "p2", "1"))
    assert node_of(cluster, "p2") == first


def test_unschedulable_pod_waits_with_a_reason_and_is_bound_once_room_appears() -> None:
    cluster = settle(create(world("n1"), "p1", "2"))
    cluster = settle(create(cluster, "p2", "2"))
    pod = pods(cluster)["p2"]
    assert "nodeName" not in pod["spec"]
    condition = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"] == "0/1 nodes are available: 1 Insufficient cpu."
    cluster, _ = send(
        cluster, {"op": "delete", "kind": "Pod", "namespace": "default", "name": "p1"}
    )
    cluster = settle(cluster)
    assert node_of(cluster, "p2") == "n1"


def test_higher_priority_first_when_only_one_fits() -> None:
    cluster = world("n1")
    cluster = create(cluster, "p1", "2", priority="low")
    cluster = create(cluster, "p2", "2", priority="high")
    cluster = settle(cluster)
    assert node_of(cluster, "p2") == "n1"
    assert node_of(cluster, "p1") is None


def test_lagging_view_does_not_overcommit_thanks_to_assumed_pods() -> None:
    for assume, overcommitted in ((True, False), (False, True)):
        components = Components().replacing(SchedulerController(assume=assume))
        cluster = world("n1", components=components)
        cluster, _ = send(cluster, {"op": "controller.lag", "name": "scheduler", "seconds": 30})
        cluster = create(cluster, "p1", "2")
        cluster, _ = send(cluster, {"op": "advance", "seconds": 0.5})
        cluster = create(cluster, "p2", "2")
        # p1 is bound at 30 s; at 30.5 s the view shows p2, and p1 still pending.
        cluster, _ = send(cluster, {"op": "advance", "seconds": 40})
        both = [n for n in ("p1", "p2") if node_of(cluster, n) == "n1"]
        assert (len(both) == 2) is overcommitted, both


def test_restarted_scheduler_lists_the_store_instead_of_its_lagging_view() -> None:
    cluster = world("n1")
    cluster, _ = send(cluster, {"op": "controller.lag", "name": "scheduler", "seconds": 30})
    cluster = create(cluster, "p1", "2")
    cluster, _ = send(cluster, {"op": "advance", "seconds": 40})
    assert node_of(cluster, "p1") == "n1"
    cluster, _ = send(cluster, {"op": "controller.restart", "name": "scheduler"})
    cluster = create(cluster, "p2", "2")
    cluster, _ = send(cluster, {"op": "advance", "seconds": 1})
    assert node_of(cluster, "p2") is None


def test_preemption_evicts_the_lower_priority_pod_and_nominates_the_node() -> None:
    cluster = settle(create(world("n1"), "p1", "2", priority="low"))
    cluster = create(cluster, "p2", "2", priority="high")
    cluster, _ = send(cluster, {"op": "advance", "seconds": 1})
    now = pods(cluster)
    victim = now["p1"]
    assert victim["metadata"].get("deletionTimestamp")
    disruption = next(c for c in victim["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert disruption["reason"] == "PreemptionByScheduler"
    assert disruption["message"] == (
        "default-scheduler: preempting to accommodate a higher priority pod"
    )
    assert now["p2"]["status"]["nominatedNodeName"] == "n1"
    cluster = settle(cluster)
    assert node_of(cluster, "p2") == "n1"
    assert "p1" not in pods(cluster)


def test_no_preemption_for_equal_priority_or_preemption_policy_never() -> None:
    cluster = settle(create(world("n1"), "p1", "2", priority="low"))
    cluster = settle(create(cluster, "p2", "2", priority="low"))
    cluster = settle(create(cluster, "p3", "2", priority="high", constraints=["never-preempt"]))
    now = pods(cluster)
    assert now["p1"]["spec"]["nodeName"] == "n1"
    assert not now["p1"]["metadata"].get("deletionTimestamp")
    assert "nominatedNodeName" not in now["p3"]["status"]


def test_preemption_prefers_the_node_with_the_least_important_victims() -> None:
    cluster = world("n1", "n3")
    cluster = create(cluster, "a", "2", priority="low", constraints=["ssd"])
    cluster = settle(create(cluster, "b", "2", constraints=["ssd"]))
    placed = {node_of(cluster, "a"): "a", node_of(cluster, "b"): "b"}
    assert set(placed) == {"n1", "n3"}
    cluster = settle(create(cluster, "c", "2", priority="high", constraints=["ssd"]))
    now = pods(cluster)
    assert "b" not in now, "the priority-0 pod is the victim"
    assert now["a"]["spec"]["nodeName"] and not now["a"]["metadata"].get("deletionTimestamp")


def test_filters_keep_pods_off_tainted_cordoned_and_unlabelled_nodes() -> None:
    cluster = world("n1", "n2")
    cluster, answer = send(cluster, {"op": "get", "kind": "Node", "name": "n2"})
    node = answer["object"]
    node["spec"]["unschedulable"] = True
    cluster, _ = send(cluster, {"op": "update", "object": node})
    cluster = settle(create(cluster, "p1", "250m"))
    assert node_of(cluster, "p1") == "n1"
    cluster = settle(create(cluster, "p2", "250m", constraints=["zone-b"]))
    assert node_of(cluster, "p2") is None


def test_host_ports_conflict_and_spread_constraint_skew() -> None:
    cluster = settle(create(world("n2"), "p1", constraints=["host-port"]))
    cluster = settle(create(cluster, "p2", constraints=["host-port"]))
    assert node_of(cluster, "p1") == "n2"
    assert node_of(cluster, "p2") is None

    cluster = world("n2", "n4")  # zone-a and zone-b
    cluster = settle(create(cluster, "p1", constraints=["spread"]))
    cluster = settle(create(cluster, "p2", constraints=["spread"]))
    zones = {NODES[str(node_of(cluster, p))]["zone"] for p in ("p1", "p2")}
    assert zones == {"zone-a", "zone-b"}


def test_parse_config_reads_profiles_and_refuses_what_it_does_not_model() -> None:
    config = parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": [
                {"schedulerName": "default-scheduler"},
                {
                    "schedulerName": "gpu-packer",
                    "percentageOfNodesToScore": 50,
                    "plugins": {
                        "score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}]}
                    },
                    "pluginConfig": [
                        {
                            "name": "NodeResourcesFit",
                            "args": {
                                "scoringStrategy": {
                                    "type": "RequestedToCapacityRatio",
                                    "resources": [{"name": "example.com/gpu", "weight": 3}],
                                    "requestedToCapacityRatio": {
                                        "shape": [
                                            {"utilization": 0, "score": 0},
                                            {"utilization": 100, "score": 10},
                                        ]
                                    },
                                }
                            },
                        }
                    ],
                },
            ],
        }
    )
    assert config.profile("default-scheduler") == DEFAULT_PROFILE
    packer = config.profile("gpu-packer")
    assert packer is not None
    assert packer.percentage_of_nodes_to_score == 50
    assert "NodeResourcesBalancedAllocation" not in dict(packer.scores)
    assert packer.resource_scoring.resources == (("example.com/gpu", 3),)
    for bad, words in (
        ({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]}, "must be unique"),
        ({"profiles": [{"plugins": {"reserve": {}}}]}, "reserve not modelled"),
        ({"kind": "KubeletConfiguration"}, "kind must be KubeSchedulerConfiguration"),
        (
            {
                "profiles": [
                    {
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {"scoringStrategy": {"type": "Packed"}},
                            }
                        ]
                    }
                ]
            },
            "scoringStrategy.type must be one of",
        ),
        ({"percentageOfNodesToScore": 101}, "from 0 to 100"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_config(bad)


def test_a_configured_default_profile_withdraws_the_strict_claim(tmp_path: Any) -> None:
    from conformance.reference_config import configured

    path = tmp_path / "scheduler.yaml"
    path.write_text(
        "kind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n"
        "- schedulerName: bin-packing\n"
        "  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n"
        "      scoringStrategy: {type: MostAllocated}\n"
    )
    extra = configured(Components(), path)
    assert extra.strict is True, "a second profile leaves the default one as it was"
    path.write_text("kind: KubeSchedulerConfiguration\nprofiles:\n- percentageOfNodesToScore: 30\n")
    changed = configured(Components(), path)
    assert changed.strict is False
    _, hello = step(new_cluster(0, changed), {"op": "hello", "protocol": 1})
    assert "strict" not in hello["capabilities"]
    assert attrs.evolve(changed, strict=True) != Components()


def _node(name: str, cpu: str) -> Any:
    from properties.placement import NodeFacts

    return NodeFacts.of(
        {
            "metadata": {"name": name, "labels": {}},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
        }
    )


def _pod(name: str, containers: list[dict[str, Any]], nominated: str = "") -> Any:
    from properties.placement import PodFacts

    return PodFacts.of(
        {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"containers": containers},
            "status": {"nominatedNodeName": nominated} if nominated else {},
        }
    )


def test_a_pod_goes_to_its_nominated_node_when_that_node_fits_without_scoring() -> None:
    from properties.placement import Placement
    from reference.scheduler.fast import FastScheduler
    from reference.scheduler.spec import SpecScheduler

    placement = Placement.of([_node("big", "8"), _node("small", "2")], [])
    one_cpu = [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]
    for engine in (SpecScheduler(), FastScheduler()):
        free = engine.decide(_pod("p", one_cpu), placement, DEFAULT_PROFILE)
        assert free.node == "big"
        nominated = engine.decide(_pod("p", one_cpu, "small"), placement, DEFAULT_PROFILE)
        assert (nominated.node, nominated.evaluated, nominated.scores) == ("small", 0, {})


def test_scoring_defaults_stand_in_per_container() -> None:
    facts = _pod("p", [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "500m"}}}])
    assert facts.nonzero_cpu == 600, "500m plus the 100m default of the container without one"
    assert facts.nonzero_memory == 2 * 200 * 1024 * 1024
    assert facts.requests == {"cpu": 500}
