"""Kubelet admission: a pod that does not fit its node is rejected, Failed, and never runs.

Upstream facts: pkg/kubelet/kubelet.go (HandlePodAdditions sorts by
creationTimestamp and admits each pod against the admitted pods still
alive; rejectPod writes phase Failed, the reason and "Pod was rejected: "
+ message), pkg/kubelet/lifecycle/predicate.go (Admit: the OS checks, then
generalFilter = scheduler.AdmissionCheck — NodeResourcesFit, NodeAffinity,
NodeName, NodePorts — and the node's NoExecute taints; the first failure is
the answer; OutOf<resource> for a resource, the plugin's name otherwise).
The scheduler already respects fit, so these pods bypass it with
`spec.nodeName`, or meet a node that changed while its kubelet was cut off.
"""

from __future__ import annotations

from typing import Any

import pytest

from reference.cluster import Cluster, Components, new_cluster, step
from reference.kubelet import KubeletPolicy, Rejection, admit

Obj = dict[str, Any]


def ok(c: Cluster, request: Obj) -> Cluster:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c


def cluster(capacity: Obj | None = None, **node: Any) -> Cluster:
    c = new_cluster(0)
    return ok(
        c,
        {
            "op": "node.add",
            "name": "n1",
            "capacity": capacity or {"cpu": "1", "memory": "1Gi"},
            **node,
        },
    )


def pod(name: str, *, node: str | None = "n1", requests: Obj | None = None, **spec: Any) -> Obj:
    container: Obj = {"name": "app", "image": "img:1"}
    if requests:
        container["resources"] = {"requests": requests}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    labels = spec.pop("labels", None)
    body: Obj = {"containers": [container], **spec}
    if node is not None:
        body["nodeName"] = node
    meta: Obj = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"kind": "Pod", "metadata": meta, "spec": body}


def create(c: Cluster, *pods: Obj, wait: float = 0) -> Cluster:
    for p in pods:
        c = ok(c, {"op": "create", "object": p})
    return ok(c, {"op": "advance", "seconds": wait})


def get(c: Cluster, name: str) -> Obj:
    _, answer = step(c, {"op": "get", "kind": "Pod", "namespace": "default", "name": name})
    assert answer["ok"], answer
    obj: Obj = answer["object"]
    return obj


def phase(c: Cluster, name: str) -> str:
    return str(get(c, name)["status"].get("phase"))


def running(c: Cluster, node: str = "n1") -> set[str]:
    _, answer = step(c, {"op": "runtime"})
    return {
        entry["pod"] for entry in answer["nodes"][node]["containers"] if entry["state"] == "running"
    }


def ran(c: Cluster, node: str = "n1") -> set[str]:
    _, answer = step(c, {"op": "runtime"})
    return {entry["pod"] for entry in answer["nodes"][node]["containers"]}


def rejection(c: Cluster, name: str) -> tuple[str, str]:
    status = get(c, name)["status"]
    assert status["phase"] == "Failed", status
    return status["reason"], status["message"]


# -- resources -------------------------------------------------------------------------------


def test_a_pod_asking_more_cpu_than_is_left_is_rejected_out_of_cpu() -> None:
    c = create(cluster(), pod("first", requests={"cpu": "600m"}))
    c = create(c, pod("second", requests={"cpu": "600m"}))
    assert rejection(c, "second") == (
        "OutOfcpu",
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 600, used: 600,"
        " capacity: 1000",
    )
    assert phase(c, "first") == "Running"
    assert running(c) == {"first"}


def test_memory_is_counted_in_bytes() -> None:
    c = create(cluster(), pod("big", requests={"memory": "2Gi"}))
    reason, message = rejection(c, "big")
    assert reason == "OutOfmemory"
    assert message.endswith(f"memory, requested: {2 * 2**30}, used: 0, capacity: {2**30}")


def test_the_pod_count_is_checked_first() -> None:
    c = create(cluster({"cpu": "1", "memory": "1Gi", "pods": "1"}), pod("a"))
    c = create(c, pod("b", requests={"cpu": "2"}))
    assert rejection(c, "b") == (
        "OutOfpods",
        "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 1,"
        " capacity: 1",
    )


def test_a_rejected_pod_never_runs_and_keeps_only_the_rejection_status() -> None:
    c = create(cluster(), pod("big", requests={"cpu": "2"}), wait=60)
    status = get(c, "big")["status"]
    assert set(status) == {"phase", "reason", "message", "startTime", "qosClass"}
    assert status["startTime"] == "2025-01-01T00:00:00Z"
    assert ran(c) == set()


def test_a_finished_pod_frees_its_share_for_the_next() -> None:
    c = create(cluster(), pod("done", requests={"cpu": "600m"}, restartPolicy="Never"))
    c = ok(
        c,
        {
            "op": "container.exit",
            "namespace": "default",
            "pod": "done",
            "container": "app",
            "code": 0,
        },
    )
    c = create(c, pod("next", requests={"cpu": "600m"}))
    assert phase(c, "done") == "Succeeded"
    assert phase(c, "next") == "Running"


def test_pods_waiting_together_are_admitted_oldest_first() -> None:
    """Created while the node was cut off, both fit alone; the older one (by creationTimestamp,
    not by name) gets the room."""
    c = ok(cluster(), {"op": "node.partition", "name": "n1"})
    c = create(c, pod("z-older", requests={"cpu": "600m"}), wait=1)
    c = create(c, pod("a-newer", requests={"cpu": "600m"}))
    c = ok(c, {"op": "node.heal", "name": "n1"})
    c = ok(c, {"op": "advance", "seconds": 0})
    assert phase(c, "z-older") == "Running"
    assert rejection(c, "a-newer")[0] == "OutOfcpu"


# -- node affinity, ports, taints ------------------------------------------------------------


def test_a_node_selector_the_node_does_not_match_is_rejected() -> None:
    c = create(cluster(), pod("picky", nodeSelector={"disk": "ssd"}))
    assert rejection(c, "picky") == (
        "NodeAffinity",
        "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node"
        " affinity/selector",
    )


def relabel(c: Cluster, **labels: str) -> Cluster:
    _, answer = step(c, {"op": "get", "kind": "Node", "name": "n1"})
    node = answer["object"]
    node["metadata"]["labels"].update(labels)
    return ok(c, {"op": "update", "object": node})


def test_node_affinity_is_checked_against_the_labels_at_admission() -> None:
    """Bound while the node said ssd, admitted after it was relabelled hdd: rejected. A pod
    admitted before the change keeps running (IgnoredDuringExecution)."""
    c = create(cluster(labels={"disk": "ssd"}), pod("early", nodeSelector={"disk": "ssd"}))
    c = ok(c, {"op": "node.partition", "name": "n1"})
    c = create(c, pod("late", nodeSelector={"disk": "ssd"}))
    c = relabel(c, disk="hdd")
    c = ok(c, {"op": "node.heal", "name": "n1"})
    c = ok(c, {"op": "advance", "seconds": 30})
    assert rejection(c, "late")[0] == "NodeAffinity"
    assert phase(c, "early") == "Running"
    assert running(c) == {"early"}


def test_a_host_port_in_use_is_rejected_and_another_port_or_protocol_is_not() -> None:
    web = [{"containerPort": 80, "hostPort": 8080}]
    c = create(cluster(), pod("one", ports=web))
    c = create(
        c,
        pod("two", ports=web),
        pod("udp", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]),
        pod("other", ports=[{"containerPort": 80, "hostPort": 8081}]),
    )
    assert rejection(c, "two") == (
        "NodePorts",
        "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the"
        " requested pod ports",
    )
    assert running(c) == {"one", "udp", "other"}


DEDICATED = {"key": "dedicated", "value": "infra", "effect": "NoExecute"}


def test_an_untolerated_no_execute_taint_is_rejected_131116() -> None:
    """#131116's reproduction: pinned to a node with a NoExecute taint it does not tolerate.

    The taint manager, when it sees the pod first, evicts it instead (upstream races the
    two); lagging, it leaves the pod to the kubelet.
    """
    c = ok(
        cluster(taints=[DEDICATED]),
        {"op": "controller.lag", "name": "tainteviction", "seconds": 60},
    )
    c = create(c, pod("pinned"))
    assert rejection(c, "pinned") == (
        "TaintToleration",
        "Pod was rejected: Predicate TaintToleration failed: node(s) had taints that the pod"
        " didn't tolerate",
    )


def test_a_tolerated_no_execute_taint_and_a_no_schedule_one_are_admitted() -> None:
    """The kubelet looks at NoExecute taints only; NoSchedule is the scheduler's business."""
    no_schedule = {**DEDICATED, "key": "other", "effect": "NoSchedule"}
    c = create(
        cluster(taints=[DEDICATED, no_schedule]),
        pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Exists"}]),
    )
    assert phase(c, "tolerant") == "Running"


def test_an_os_label_for_another_os_is_rejected() -> None:
    c = create(cluster(), pod("win", labels={"kubernetes.io/os": "windows"}))
    assert rejection(c, "win")[0] == "PodOSSelectorNodeLabelDoesNotMatch"


def test_scheduled_pods_are_never_rejected() -> None:
    c = create(cluster(), *(pod(f"p{i}", node=None, requests={"cpu": "300m"}) for i in range(4)))
    phases = sorted(phase(c, f"p{i}") for i in range(4))
    assert phases == ["Pending", "Running", "Running", "Running"]


# -- what admission does not redo ------------------------------------------------------------


@pytest.mark.parametrize("fault", ["kubelet.restart", "reboot"])
def test_admitted_pods_are_not_admitted_again_after_a_restart_or_reboot(fault: str) -> None:
    """The reference's choice (docs/fidelity.md): upstream admits every pod afresh then."""
    c = create(cluster(labels={"disk": "ssd"}), pod("stays", nodeSelector={"disk": "ssd"}))
    c = relabel(c, disk="hdd")
    if fault == "reboot":
        c = ok(c, {"op": "node.down", "name": "n1"})
        c = ok(c, {"op": "node.up", "name": "n1"})
    else:
        c = ok(c, {"op": "kubelet.restart", "name": "n1"})
    c = ok(c, {"op": "advance", "seconds": 30})
    assert phase(c, "stays") == "Running"


def test_a_rejected_pod_stays_rejected_and_its_deletion_completes() -> None:
    c = create(cluster(), pod("big", requests={"cpu": "2"}))
    before = get(c, "big")["status"]
    c = ok(c, {"op": "kubelet.restart", "name": "n1"})
    c = ok(c, {"op": "advance", "seconds": 30})
    assert get(c, "big")["status"] == before
    c = ok(c, {"op": "delete", "kind": "Pod", "namespace": "default", "name": "big"})
    c = ok(c, {"op": "advance", "seconds": 0})
    _, answer = step(c, {"op": "get", "kind": "Pod", "namespace": "default", "name": "big"})
    assert answer["status"]["code"] == 404


# -- the predicate itself --------------------------------------------------------------------


NODE: Obj = {
    "metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}},
    "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10", "example.com/gpu": "1"}},
}


def test_resources_are_reported_before_node_affinity() -> None:
    both = pod("both", requests={"cpu": "2"}, nodeSelector={"disk": "ssd"})
    assert admit(both, NODE, []) == Rejection(
        "OutOfcpu",
        "Node didn't have enough resource: cpu, requested: 2000, used: 0, capacity: 1000",
    )


def test_an_extended_resource_the_node_lacks_is_ignored_and_one_it_has_is_counted() -> None:
    lacking = pod("fpga", requests={"example.com/fpga": "1"})
    assert admit(lacking, NODE, []) is None
    greedy = pod("gpus", requests={"example.com/gpu": "2"})
    rejected = admit(greedy, NODE, [])
    assert rejected is not None and rejected.reason == "OutOfexample.com/gpu"
    assert admit(pod("gpu", requests={"example.com/gpu": "1"}), NODE, [greedy]) is not None


def test_spec_os_for_another_os_is_not_supported() -> None:
    rejected = admit(pod("win", os={"name": "windows"}), NODE, [])
    assert rejected is not None and rejected.reason == "PodOSNotSupported"


def test_the_fit_ignoring_mutant_admits_what_does_not_fit() -> None:
    """KubeletPolicy.fit_ignores: the kubelet half of a NodeResourcesFit that skips memory."""
    c = new_cluster(0, Components(kubelet=KubeletPolicy(fit_ignores=frozenset({"memory"}))))
    c = ok(c, {"op": "node.add", "name": "n1", "capacity": {"cpu": "1", "memory": "1Gi"}})
    c = create(c, pod("big", requests={"memory": "2Gi"}))
    assert phase(c, "big") == "Running"
