"""Node health, NoExecute taints, taint-based eviction and PodGC, driven through `step`.

The node lifecycle controller marks a silent node Unknown, taints it and
rate-limits the NoExecute taints per zone; the taint eviction controller
deletes the pods that stop tolerating them; PodGC removes the pods of a
deleted Node. Upstream facts are those of docs/upstream-checks-nodes.md
(Q5-Q9); where the reference documents a choice of its own
(reference/controllers/nodelifecycle.py: the NoExecute taint comes in the
pass that marks Unknown) the tests pin that choice.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from reference.cluster import Cluster, new_cluster, step

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
ZONE = "topology.kubernetes.io/zone"

# -- helpers ---------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def seconds(text: str) -> float:
    """Seconds since the protocol epoch of an RFC 3339 UTC timestamp."""
    assert text.endswith("Z"), text
    moment = dt.datetime.fromisoformat(text[:-1] + "+00:00")
    return (moment - dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).total_seconds()


def add_nodes(c: Cluster, *names: str, labels: Obj | None = None) -> Cluster:
    for name in names:
        request = {"op": "node.add", "name": name, "capacity": {"cpu": "4", "memory": "8Gi"}}
        if labels:
            request["labels"] = labels
        c, _ = ok(c, request)
    return c


def cluster(*names: str, labels: Obj | None = None) -> Cluster:
    return add_nodes(new_cluster(0), *(names or ("n1",)), labels=labels)


def zone_cluster(size: int) -> tuple[Cluster, list[str]]:
    names = [f"n{i:02d}" for i in range(size)]
    return cluster(*names, labels={ZONE: "z1"}), names


def advance(c: Cluster, secs: float) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": secs})
    return c


def node_op(c: Cluster, op: str, *names: str) -> Cluster:
    for name in names or ("n1",):
        c, _ = ok(c, {"op": op, "name": name})
    return c


def restart_controller(c: Cluster, name: str = "nodelifecycle") -> Cluster:
    c, _ = ok(c, {"op": "controller.restart", "name": name})
    return c


def run_pod(c: Cluster, name: str = "p", node: str = "n1", tolerations: Any = None) -> Cluster:
    spec: Obj = {"nodeName": node, "containers": [{"name": "app", "image": "img:1"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    obj = {"kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    c, _ = ok(c, {"op": "create", "object": obj})
    return advance(c, 0)


def get_pod(c: Cluster, name: str = "p") -> Obj | None:
    _, answer = step(c, {"op": "get", "kind": "Pod", "namespace": "default", "name": name})
    if not answer["ok"]:
        assert answer["status"]["code"] == 404, answer
        return None
    obj: Obj = answer["object"]
    return obj


def pod(c: Cluster, name: str = "p") -> Obj:
    found = get_pod(c, name)
    assert found is not None, f"pod {name} is gone"
    return found


def evicted(c: Cluster, name: str = "p") -> bool:
    return "deletionTimestamp" in pod(c, name)["metadata"]


def pod_condition(c: Cluster, kind: str, name: str = "p") -> Obj | None:
    for x in pod(c, name)["status"].get("conditions", ()):
        if x["type"] == kind:
            found: Obj = x
            return found
    return None


def pod_status(c: Cluster, kind: str, name: str = "p") -> str:
    """The status of one of the pod's conditions."""
    found = pod_condition(c, kind, name)
    assert found is not None, f"pod {name} has no {kind} condition"
    return str(found["status"])


def node(c: Cluster, name: str = "n1") -> Obj:
    _, answer = ok(c, {"op": "get", "kind": "Node", "name": name})
    found: Obj = answer["object"]
    return found


def node_condition(c: Cluster, kind: str = "Ready", name: str = "n1") -> Obj:
    found: Obj = next(x for x in node(c, name)["status"]["conditions"] if x["type"] == kind)
    return found


def taints(c: Cluster, name: str = "n1") -> list[Obj]:
    found: list[Obj] = node(c, name)["spec"].get("taints", [])
    return found


def no_execute(c: Cluster, name: str = "n1") -> list[Obj]:
    return [t for t in taints(c, name) if t["effect"] == "NoExecute"]


def tainted_at(c: Cluster, name: str) -> list[float]:
    return [seconds(t["timeAdded"]) for t in no_execute(c, name)]


def renew_time(c: Cluster, name: str = "n1") -> float:
    _, answer = ok(c, {"op": "get", "kind": "Lease", "namespace": "kube-node-lease", "name": name})
    return seconds(answer["object"]["spec"]["renewTime"])


def running(c: Cluster, name: str = "p", node_name: str = "n1") -> bool:
    _, answer = ok(c, {"op": "runtime"})
    return any(
        x["pod"] == name and x["state"] == "running"
        for x in answer["nodes"][node_name]["containers"]
    )


def partitioned_and_tainted() -> Cluster:
    """n1 (running pod p) cut off at 0 while n2 stays healthy; now 55, n1 just tainted."""
    c = run_pod(cluster("n1", "n2"))
    c = advance(node_op(c, "node.partition"), 55)
    assert tainted_at(c, "n1") == [55]
    return c


# -- node health -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("joined_at", "cut_at"),
    [(0, 0), (0, 17), (3, 20), (7, 41.5)],
)
def test_ready_turns_unknown_50_to_55_seconds_after_the_last_lease_renewal(
    joined_at: float, cut_at: float
) -> None:
    c = add_nodes(advance(new_cluster(0), joined_at), "n1", "n2")
    c = advance(c, cut_at - joined_at)
    c = node_op(c, "node.partition")
    renewed = renew_time(c)
    assert cut_at - 10 < renewed <= cut_at
    while node_condition(c)["status"] == "True":
        assert c.now < renewed + 60
        c = advance(c, 0.5)
    ready = node_condition(c)
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert ready["message"] == "Kubelet stopped posting node status."
    assert renewed + 50 < seconds(ready["lastTransitionTime"]) <= renewed + 55
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert node_condition(c, kind)["status"] == "Unknown"
    assert renew_time(c) == renewed
    assert node_condition(c, name="n2")["status"] == "True"


def test_a_healthy_node_stays_ready_for_a_day() -> None:
    c = advance(run_pod(cluster()), 24 * 3600)
    ready = node_condition(c)
    assert (ready["status"], ready["lastTransitionTime"]) == ("True", "2025-01-01T00:00:00Z")
    assert renew_time(c) == 24 * 3600
    assert taints(c) == []
    assert pod_status(c, "Ready") == "True"


def test_unknown_node_gets_the_unreachable_taints() -> None:
    c = partitioned_and_tainted()
    unknown_since = node_condition(c)["lastTransitionTime"]
    assert unknown_since == "2025-01-01T00:00:55Z"
    assert {"key": UNREACHABLE, "effect": "NoSchedule"} in taints(c)
    # In the same pass as Unknown: the reference's documented choice (upstream: one pass later).
    assert no_execute(c) == [
        {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": unknown_since}
    ]
    assert taints(c, "n2") == []


def test_heal_removes_the_taints_and_the_kubelet_reports_ready_again() -> None:
    c = advance(partitioned_and_tainted(), 45)
    assert pod_status(c, "Ready") == "False"
    c = advance(node_op(c, "node.heal"), 0)
    assert taints(c) == []
    ready = node_condition(c)
    assert (ready["status"], ready["lastTransitionTime"]) == ("True", "2025-01-01T00:01:40Z")
    assert pod_status(c, "Ready") == "True"
    c = advance(c, 3600)
    assert not evicted(c)
    assert taints(c) == []


def test_pods_on_an_unknown_node_are_marked_not_ready() -> None:
    c = partitioned_and_tainted()
    ready = pod_condition(c, "Ready")
    assert ready is not None
    assert (ready["status"], ready["lastTransitionTime"]) == ("False", "2025-01-01T00:00:55Z")
    # MarkPodsNotReady writes only Ready (Q6); the phase and ContainersReady stay as they were.
    assert pod_status(c, "ContainersReady") == "True"
    assert pod(c)["status"]["phase"] == "Running"


# -- default tolerations and taint eviction --------------------------------------------------


def test_default_tolerations_are_added_at_create() -> None:
    c = run_pod(cluster())
    assert pod(c)["spec"]["tolerations"] == [
        {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]


def test_a_pod_tolerating_unreachable_gets_only_the_not_ready_default() -> None:
    own = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    c = run_pod(cluster(), tolerations=[own])
    assert pod(c)["spec"]["tolerations"] == [
        own,
        {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]


def test_a_pod_on_an_unreachable_node_is_evicted_300_seconds_after_the_taint() -> None:
    c = run_pod(partitioned_and_tainted(), "other", node="n2")
    c = advance(c, 299.9)
    assert not evicted(c)
    assert pod_condition(c, "DisruptionTarget") is None
    c = advance(c, 0.1)
    meta = pod(c)["metadata"]
    assert meta["deletionTimestamp"] == "2025-01-01T00:06:25Z"  # 355 + grace 30
    assert meta["deletionGracePeriodSeconds"] == 30
    target = pod_condition(c, "DisruptionTarget")
    assert target is not None
    assert (target["status"], target["reason"]) == ("True", "DeletionByTaintManager")
    assert target["message"] == "Taint manager: deleting due to NoExecute taint"
    assert target["lastTransitionTime"] == "2025-01-01T00:05:55Z"
    assert not evicted(c, "other")


def test_an_evicted_pod_on_a_cut_off_node_stays_terminating_until_the_node_heals() -> None:
    c = advance(partitioned_and_tainted(), 3600)
    assert evicted(c)
    assert running(c)
    c = advance(node_op(c, "node.heal"), 0)
    assert get_pod(c) is None
    assert not running(c)


def test_a_pod_tolerating_unreachable_forever_is_never_evicted() -> None:
    forever = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
    c = run_pod(cluster("n1", "n2"), tolerations=forever)
    c = advance(node_op(c, "node.partition"), 3600)
    assert tainted_at(c, "n1") == [55]
    assert not evicted(c)
    assert pod_condition(c, "DisruptionTarget") is None


def test_a_pod_tolerating_unreachable_for_10_seconds_goes_10_seconds_after_the_taint() -> None:
    brief = [
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
    ]
    c = run_pod(cluster("n1", "n2"), tolerations=brief)
    c = advance(node_op(c, "node.partition"), 64.9)
    assert not evicted(c)
    c = advance(c, 0.1)
    assert pod(c)["metadata"]["deletionTimestamp"] == "2025-01-01T00:01:35Z"
    target = pod_condition(c, "DisruptionTarget")
    assert target is not None and target["reason"] == "DeletionByTaintManager"


def test_a_pod_tolerating_unreachable_for_0_seconds_goes_with_the_taint() -> None:
    # Q8: a tolerationSeconds <= 0 counts as 0, so the deletion comes in the taint's instant.
    zero = [
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}
    ]
    c = run_pod(cluster("n1", "n2"), tolerations=zero)
    c = advance(node_op(c, "node.partition"), 54.9)
    assert not evicted(c)
    c = advance(c, 0.1)
    assert evicted(c)


# -- disruption ------------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [("n1",), ("n1", "n2")])
def test_no_noexecute_taint_and_no_eviction_when_every_node_is_cut_off(
    nodes: tuple[str, ...],
) -> None:
    c = run_pod(cluster(*nodes))
    c = advance(node_op(c, "node.partition", *nodes), 3600)
    for name in nodes:
        assert node_condition(c, name=name)["status"] == "Unknown"
        assert taints(c, name) == [{"key": UNREACHABLE, "effect": "NoSchedule"}]
    assert not evicted(c)
    assert pod_status(c, "Ready") == "False"


def test_noexecute_taints_are_lifted_when_the_last_healthy_node_goes() -> None:
    c = advance(partitioned_and_tainted(), 45)
    c = advance(node_op(c, "node.partition", "n2"), 60)  # n2 Unknown at 155
    assert no_execute(c, "n1") == []
    assert no_execute(c, "n2") == []
    c = advance(c, 3600)
    assert not evicted(c)


def test_a_zone_taints_at_most_one_node_every_10_seconds() -> None:
    c, names = zone_cluster(10)
    c = advance(node_op(c, "node.partition", *names[:5]), 300)  # 50 %: Normal
    assert [tainted_at(c, name) for name in names[:5]] == [[55], [65], [75], [85], [95]]
    assert all(no_execute(c, name) == [] for name in names[5:])


@pytest.mark.parametrize(
    ("size", "down", "state"),
    [
        (3, 2, "Normal"),  # only 2 not ready: never partial
        (4, 3, "PartialDisruption"),
        (10, 6, "PartialDisruption"),
        (20, 10, "Normal"),  # 50 %
        (20, 11, "PartialDisruption"),  # 55 % exactly
    ],
)
def test_a_partially_disrupted_small_zone_stops_tainting(size: int, down: int, state: str) -> None:
    c, names = zone_cluster(size)
    c = advance(node_op(c, "node.partition", *names[:down]), 400)
    assert all(node_condition(c, name=name)["status"] == "Unknown" for name in names[:down])
    assert all({"key": UNREACHABLE, "effect": "NoSchedule"} in taints(c, n) for n in names[:down])
    added = [tainted_at(c, name) for name in names[:down]]
    if state == "Normal":
        assert added == [[55 + 10 * i] for i in range(down)]
    else:
        assert added == [[]] * down


def test_a_partially_disrupted_large_zone_taints_one_node_every_100_seconds() -> None:
    c, names = zone_cluster(60)
    c = advance(node_op(c, "node.partition", *names[:40]), 300)
    assert [tainted_at(c, name) for name in names[:4]] == [[55], [155], [255], []]
    assert all(no_execute(c, name) == [] for name in names[4:])


def test_zones_are_rate_limited_separately() -> None:
    c = cluster("a1", "a2", "a3", labels={ZONE: "a"})
    c = add_nodes(c, "b1", "b2", "b3", labels={ZONE: "b"})
    c = advance(node_op(c, "node.partition", "a1", "b1"), 60)
    assert tainted_at(c, "a1") == [55]
    assert tainted_at(c, "b1") == [55]


# -- controller restarts ---------------------------------------------------------------------


def test_restarted_node_lifecycle_still_marks_a_silent_node_and_taints_it() -> None:
    c = run_pod(cluster("n1", "n2"))
    c = advance(node_op(c, "node.partition"), 30)
    c = advance(restart_controller(c), 70)  # now 100: past a grace counted from the restart
    assert node_condition(c)["status"] == "Unknown"
    assert {"key": UNREACHABLE, "effect": "NoSchedule"} in taints(c)
    assert len(no_execute(c)) == 1
    c = advance(c, 310)
    assert evicted(c)


def test_restarted_node_lifecycle_keeps_the_taints_and_heal_still_clears_them() -> None:
    c = advance(restart_controller(advance(partitioned_and_tainted(), 45)), 5)
    assert node_condition(c)["status"] == "Unknown"
    assert [t["key"] for t in no_execute(c)] == [UNREACHABLE]
    c = advance(node_op(c, "node.heal"), 0)
    assert taints(c) == []
    assert node_condition(c)["status"] == "True"
    c = advance(c, 3600)
    assert not evicted(c)


def test_restarted_node_lifecycle_still_evicts_from_a_tainted_node() -> None:
    c = advance(restart_controller(advance(partitioned_and_tainted(), 100)), 400)
    assert evicted(c)


def test_restarted_node_lifecycle_adds_no_noexecute_taint_in_full_disruption() -> None:
    c = run_pod(cluster("n1", "n2"))
    c = advance(node_op(c, "node.partition", "n1", "n2"), 100)
    c = advance(restart_controller(c), 3600)
    assert no_execute(c, "n1") == [] and no_execute(c, "n2") == []
    assert not evicted(c)


def test_restarted_node_lifecycle_keeps_rate_limiting_a_zone() -> None:
    c, names = zone_cluster(10)
    c = advance(node_op(c, "node.partition", *names[:5]), 60)
    c = advance(restart_controller(c), 200)
    added = sorted(t for name in names[:5] for t in tainted_at(c, name))
    assert len(added) == 5
    gaps = [b - a for a, b in itertools.pairwise(added)]
    # A fresh limiter may allow one taint at once; after that one per 10 s.
    assert sum(1 for g in gaps if g < 10) <= 1


def test_restarted_node_lifecycle_gives_every_node_a_fresh_grace_period() -> None:
    c = run_pod(cluster("n1", "n2"))
    c = advance(node_op(c, "node.partition"), 30)
    c = advance(restart_controller(c), 45)  # 75: 45 s after the restart
    assert node_condition(c)["status"] == "True"


def test_restarted_node_lifecycle_taints_afresh() -> None:
    c = advance(restart_controller(advance(partitioned_and_tainted(), 45)), 0)  # restart at 100
    c = advance(c, 5)
    [taint] = no_execute(c)
    assert taint["key"] == UNREACHABLE
    assert seconds(taint["timeAdded"]) >= 100
    c = advance(c, 255)  # 360: past the first taint's 355
    assert not evicted(c)


# -- PodGC -----------------------------------------------------------------------------------


def test_pods_of_a_deleted_node_are_removed_40_seconds_later() -> None:
    c = run_pod(run_pod(cluster("n1", "n2")), "other", node="n2")
    c = advance(node_op(c, "node.remove"), 10)
    before = c.revision
    c, _ = ok(c, {"op": "delete", "kind": "Node", "name": "n1"})
    c = advance(c, 39.9)
    assert pod(c)["status"]["phase"] == "Running"
    c = advance(c, 0.1)
    assert get_pod(c) is None
    assert pod(c, "other")["status"]["phase"] == "Running"
    _, answer = ok(
        c, {"op": "watch", "kind": "Pod", "namespace": "default", "resourceVersion": str(before)}
    )
    [last] = [e["object"] for e in answer["events"] if e["type"] == "DELETED"]
    assert last["metadata"]["name"] == "p"
    assert last["status"]["phase"] == "Failed"
    target = next(x for x in last["status"]["conditions"] if x["type"] == "DisruptionTarget")
    assert (target["reason"], target["message"]) == (
        "DeletionByPodGC",
        "PodGC: node no longer exists",
    )


def test_a_removed_machine_leaves_its_node_object_and_pods_in_place() -> None:
    c = run_pod(cluster("n1", "n2"))
    c = advance(node_op(c, "node.remove"), 40)
    assert node(c)["metadata"]["name"] == "n1"
    assert pod(c)["status"]["phase"] == "Running"
