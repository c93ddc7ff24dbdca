"""The ReplicaSet controller inside the reference cluster, driven through `step`.

Upstream facts are SEMANTICS §3: pkg/controller/replicaset/replica_set.go
(manageReplicas, syncReplicaSet, calculateStatus in replica_set_utils.go),
pkg/controller/controller_utils.go (ActivePodsWithRanks, expectations) and
controller_ref_manager.go (adoption and release). The mutants are the
ReplicaSetController flags.
"""

from __future__ import annotations

from typing import Any

from properties.trace import Exchange, TargetInfo, Trace
from properties.workload_churn import failed_replacement_backoff, most_failed_seconds
from reference import Cluster, Components, new_cluster, step
from reference.controllers.replicaset import (
    POD_DELETION_COST,
    ReplicaSetController,
    creations_open_at,
)

Obj = dict[str, Any]

# -- helpers ---------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def cluster(*nodes: str, controller: ReplicaSetController | None = None, cpu: str = "8") -> Cluster:
    c = new_cluster(0, Components().replacing(controller or ReplicaSetController()))
    for name in nodes or ("n1",):
        c, _ = ok(c, {"op": "node.add", "name": name, "capacity": {"cpu": cpu, "memory": "16Gi"}})
    return c


def replicaset(
    replicas: int = 3,
    *,
    name: str = "web",
    probe: bool = False,
    template_labels: Obj | None = None,
    grace: int = 0,
    cpu: str | None = None,
    **spec: Any,
) -> Obj:
    container: Obj = {"name": "c", "image": "img:1"}
    if probe:
        container["readinessProbe"] = {"exec": {"command": ["ready"]}, "periodSeconds": 1}
    if cpu is not None:
        container["resources"] = {"requests": {"cpu": cpu}}
    pod_spec: Obj = {"containers": [container], "terminationGracePeriodSeconds": grace}
    pod_spec.update(spec.pop("pod_spec", {}))
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": template_labels or {"app": "web"}},
                "spec": pod_spec,
            },
            **spec,
        },
    }


def bare_pod(name: str, labels: Obj | None = None, **meta: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": labels if labels is not None else {"app": "web"},
            **meta,
        },
        "spec": {
            "containers": [{"name": "c", "image": "img:1"}],
            "terminationGracePeriodSeconds": 0,
        },
    }


def create(c: Cluster, obj: Obj) -> Cluster:
    c, _ = ok(c, {"op": "create", "object": obj})
    return c


def advance(c: Cluster, seconds: float = 0) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": seconds})
    return c


def settle(c: Cluster, seconds: float = 120) -> Cluster:
    c, answer = ok(c, {"op": "settle", "max_seconds": seconds})
    assert answer["settled"] is True, answer
    return c


def scale(c: Cluster, replicas: int, name: str = "web") -> Cluster:
    c, _ = ok(
        c,
        {
            "op": "scale",
            "kind": "ReplicaSet",
            "namespace": "default",
            "name": name,
            "replicas": replicas,
        },
    )
    return c


def patch(c: Cluster, kind: str, name: str, body: Obj) -> Cluster:
    c, _ = ok(c, {"op": "patch", "kind": kind, "namespace": "default", "name": name, "patch": body})
    return c


def get(c: Cluster, kind: str, name: str) -> Obj:
    _, answer = ok(c, {"op": "get", "kind": kind, "namespace": "default", "name": name})
    found: Obj = answer["object"]
    return found


def all_pods(c: Cluster) -> list[Obj]:
    _, answer = ok(c, {"op": "list", "kind": "Pod", "namespace": "default"})
    return sorted(answer["items"], key=lambda p: p["metadata"]["name"])


def pods(c: Cluster) -> dict[str, Obj]:
    """The pods not being deleted, by name."""
    return {
        p["metadata"]["name"]: p for p in all_pods(c) if "deletionTimestamp" not in p["metadata"]
    }


def status(c: Cluster, name: str = "web") -> Obj:
    found: Obj = get(c, "ReplicaSet", name).get("status") or {}
    return found


def controller_uid(pod: Obj) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref["uid"])
    return None


def readiness(c: Cluster, pod: str, passing: bool) -> Cluster:
    c, _ = ok(
        c,
        {
            "op": "probe.set",
            "namespace": "default",
            "pod": pod,
            "container": "c",
            "probe": "readiness",
            "passing": passing,
        },
    )
    return c


def is_ready(pod: Obj) -> bool:
    return any(
        x["type"] == "Ready" and x["status"] == "True"
        for x in (pod.get("status") or {}).get("conditions", ())
    )


def condition(st: Obj, kind: str) -> Obj | None:
    return next((x for x in st.get("conditions") or () if x["type"] == kind), None)


# -- creation --------------------------------------------------------------------------------


def test_creates_pods_to_spec_from_the_template() -> None:
    c = settle(create(cluster(), replicaset(3)))
    rs = get(c, "ReplicaSet", "web")
    found = pods(c)
    assert len(found) == 3
    for name, pod in found.items():
        assert name.startswith("web-") and len(name) > len("web-")
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["labels"] == {"app": "web"}
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": rs["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert pod["spec"]["containers"][0]["image"] == "img:1"
        assert pod["status"]["phase"] == "Running"
    assert rs["status"] == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 1,
    }


def test_scale_up_and_down_follow_spec_and_observed_generation() -> None:
    c = settle(create(cluster(), replicaset(2)))
    c = settle(scale(c, 5))
    assert len(pods(c)) == 5
    assert get(c, "ReplicaSet", "web")["metadata"]["generation"] == 2
    assert status(c)["observedGeneration"] == 2
    assert status(c)["replicas"] == 5
    c = settle(scale(c, 1))
    assert len(pods(c)) == 1
    assert status(c)["observedGeneration"] == 3
    assert status(c)["replicas"] == 1
    c = settle(scale(c, 0))
    assert pods(c) == {}
    assert status(c) == {"replicas": 0, "observedGeneration": 4}


def test_a_deleted_pod_is_replaced() -> None:
    c = settle(create(cluster(), replicaset(2)))
    victim = sorted(pods(c))[0]
    c, _ = ok(c, {"op": "delete", "kind": "Pod", "namespace": "default", "name": victim})
    c = settle(c)
    assert len(pods(c)) == 2
    assert victim not in pods(c)


# -- deletion ranking ------------------------------------------------------------------------


def test_scale_down_deletes_the_unassigned_pending_pod_first() -> None:
    # The pending pod's name sorts first, so deleting by name (the mutant) would miss it.
    c = cluster(cpu="4")
    big = bare_pod("a-pending")
    big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "16"}}
    for pod in (big, bare_pod("z-run1"), bare_pod("z-run2")):
        c = create(c, pod)
    c = settle(advance(c, 1))
    c = settle(create(c, replicaset(3)))
    found = pods(c)
    assert sorted(found) == ["a-pending", "z-run1", "z-run2"]
    assert found["a-pending"]["status"]["phase"] == "Pending"
    assert not found["a-pending"]["spec"].get("nodeName")
    c = settle(scale(c, 2))
    assert sorted(pods(c)) == ["z-run1", "z-run2"]


def test_scale_down_deletes_a_not_ready_pod_before_a_ready_one() -> None:
    c = settle(create(cluster(), replicaset(3, probe=True)))
    names = sorted(pods(c))
    assert all(is_ready(p) for p in pods(c).values())
    # Fail the readiness of a pod that sorts neither first nor last by name.
    target = names[1]
    c = readiness(c, target, False)
    c = advance(c, 5)
    assert [n for n, p in pods(c).items() if not is_ready(p)] == [target]
    assert status(c)["readyReplicas"] == 2
    c = settle(scale(c, 2))
    assert sorted(pods(c)) == [names[0], names[2]]


def _costed(controller: ReplicaSetController | None = None) -> tuple[Cluster, list[str]]:
    """Three ready pods; the one whose name sorts last costs most to delete."""
    c = settle(create(cluster(controller=controller), replicaset(3)))
    names = sorted(pods(c))
    for name, cost in zip(names, ("-5", "0", "100"), strict=True):
        c = patch(c, "Pod", name, {"metadata": {"annotations": {POD_DELETION_COST: cost}}})
    return c, names


def test_pod_deletion_cost_orders_the_victims() -> None:
    c, names = _costed()
    c = settle(scale(c, 2))
    assert sorted(pods(c)) == [names[1], names[2]]
    c = settle(scale(c, 1))
    assert sorted(pods(c)) == [names[2]]


def test_mutant_without_ranking_ignores_the_deletion_cost_3948() -> None:
    c, names = _costed(ReplicaSetController(ranks_deletions=False))
    c = settle(scale(c, 2))
    # Deletes the pod whose name sorts last, though it costs most.
    assert sorted(pods(c)) == [names[0], names[1]]


def test_scale_down_deletes_the_most_recently_ready_pod_among_equals() -> None:
    c = cluster("n1")
    for name in ("z-old1", "z-old2"):
        c = create(c, bare_pod(name))
    c = advance(c, 100)
    c = create(c, bare_pod("a-young"))
    c = settle(advance(c, 10))
    c = settle(create(c, replicaset(3)))
    assert sorted(pods(c)) == ["a-young", "z-old1", "z-old2"]
    c = settle(scale(c, 2))
    assert sorted(pods(c)) == ["z-old1", "z-old2"]


def test_scale_down_prefers_the_pods_on_a_crowded_node() -> None:
    # Rule 5 beats rules 6 and 8: the lonely pod is the newest and the last Ready (and its name
    # sorts last), yet a pod sharing its node with another related pod goes first.
    c = cluster("n1", "n2")
    for i in range(2):
        p = bare_pod(f"crowd{i}")
        p["spec"]["nodeName"] = "n2"
        c = create(c, p)
    c = advance(c, 10)
    lonely = bare_pod("lonely")
    lonely["spec"]["nodeName"] = "n1"
    c = settle(advance(create(c, lonely), 1))
    c = settle(create(c, replicaset(3)))
    assert sorted(pods(c)) == ["crowd0", "crowd1", "lonely"]
    c = settle(scale(c, 2))
    remaining = sorted(pods(c))
    assert len(remaining) == 2
    assert "lonely" in remaining


# -- status ----------------------------------------------------------------------------------


def test_available_replicas_move_strictly_after_min_ready_seconds() -> None:
    c = advance(create(cluster(), replicaset(3, minReadySeconds=5)))
    assert status(c) == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "observedGeneration": 1,
    }
    c = advance(c, 5)  # ready for exactly minReadySeconds: not yet available
    assert "availableReplicas" not in status(c)
    c = advance(c, 0.001)
    assert status(c)["availableReplicas"] == 3


def test_ready_replicas_track_the_readiness_probe() -> None:
    c = settle(create(cluster(), replicaset(2, probe=True)))
    assert status(c)["readyReplicas"] == 2
    target = sorted(pods(c))[0]
    c = advance(readiness(c, target, False), 5)
    assert status(c)["readyReplicas"] == 1
    assert status(c)["availableReplicas"] == 1
    assert status(c)["replicas"] == 2
    c = advance(readiness(c, target, True), 5)
    assert status(c)["readyReplicas"] == 2


def test_fully_labeled_replicas_count_only_pods_with_every_template_label() -> None:
    c = create(cluster(), bare_pod("stray"))  # matches the selector, lacks tier=front
    c = settle(advance(c, 1))
    c = settle(create(c, replicaset(2, template_labels={"app": "web", "tier": "front"})))
    assert len(pods(c)) == 2
    assert "stray" in pods(c)
    st = status(c)
    assert st["replicas"] == 2
    assert st["fullyLabeledReplicas"] == 1


def test_terminating_pods_are_counted_apart_and_replaced() -> None:
    c = settle(create(cluster(), replicaset(2, grace=30)))
    victim = sorted(pods(c))[0]
    c, _ = ok(c, {"op": "delete", "kind": "Pod", "namespace": "default", "name": victim})
    c = advance(c, 1)
    assert len(pods(c)) == 2  # a replacement, while the victim terminates
    assert victim not in pods(c)
    assert len(all_pods(c)) == 3
    st = status(c)
    assert st["replicas"] == 2
    assert st["terminatingReplicas"] == 1
    c = settle(advance(c, 40))
    assert len(all_pods(c)) == 2
    assert "terminatingReplicas" not in status(c)


def test_mutant_counting_terminating_pods_waits_to_replace_them() -> None:
    c = cluster(controller=ReplicaSetController(counts_terminating=True))
    c = settle(create(c, replicaset(2, grace=30)))
    victim = sorted(pods(c))[0]
    c, _ = ok(c, {"op": "delete", "kind": "Pod", "namespace": "default", "name": victim})
    c = advance(c, 1)
    assert len(pods(c)) == 1  # no replacement while the victim terminates
    assert status(c)["replicas"] == 2
    c = settle(advance(c, 40))
    assert len(pods(c)) == 2


def test_status_is_not_rewritten_when_nothing_changed() -> None:
    c = settle(create(cluster(), replicaset(2)))
    before = get(c, "ReplicaSet", "web")["metadata"]["resourceVersion"]
    c = settle(advance(c, 60))
    assert get(c, "ReplicaSet", "web")["metadata"]["resourceVersion"] == before


# -- adoption and release --------------------------------------------------------------------


def test_adopts_a_matching_orphan_instead_of_creating() -> None:
    c = settle(advance(create(cluster(), bare_pod("orphan"))))
    c = settle(create(c, replicaset(2)))
    rs = get(c, "ReplicaSet", "web")
    found = pods(c)
    assert len(found) == 2
    assert "orphan" in found
    assert controller_uid(found["orphan"]) == rs["metadata"]["uid"]
    assert all(controller_uid(p) == rs["metadata"]["uid"] for p in found.values())


def test_another_controllers_pod_is_left_alone() -> None:
    c = create(cluster(), {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}})
    uid = get(c, "ConfigMap", "x")["metadata"]["uid"]
    other = bare_pod("owned")
    other["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": uid, "controller": True}
    ]
    c = settle(advance(create(c, other)))
    c = settle(create(c, replicaset(1)))
    assert len(pods(c)) == 2
    assert pods(c)["owned"]["metadata"]["ownerReferences"][0]["kind"] == "ConfigMap"


def test_mutant_not_adopting_creates_beside_the_orphan() -> None:
    c = cluster(controller=ReplicaSetController(adopts=False))
    c = settle(advance(create(c, bare_pod("orphan"))))
    c = settle(create(c, replicaset(2)))
    found = pods(c)
    assert len(found) == 3
    assert controller_uid(found["orphan"]) is None


def _relabel_then_delete_rs(controller: ReplicaSetController) -> tuple[Cluster, str, str]:
    """Relabel one pod out of the selector, then delete the ReplicaSet (background)."""
    c = settle(create(cluster(controller=controller), replicaset(2)))
    target = sorted(pods(c))[0]
    c = settle(patch(c, "Pod", target, {"metadata": {"labels": {"app": "debug"}}}))
    uid = get(c, "ReplicaSet", "web")["metadata"]["uid"]
    return c, target, uid


def test_releases_a_relabelled_pod_and_replaces_it() -> None:
    c, target, uid = _relabel_then_delete_rs(ReplicaSetController())
    found = pods(c)
    assert len(found) == 3
    assert found[target]["metadata"].get("ownerReferences") in (None, [])
    assert sum(controller_uid(p) == uid for p in found.values()) == 2
    assert status(c)["replicas"] == 2
    # Released, it outlives its former owner.
    c, _ = ok(c, {"op": "delete", "kind": "ReplicaSet", "namespace": "default", "name": "web"})
    c = settle(advance(c, 1))
    assert sorted(pods(c)) == [target]


def test_mutant_not_releasing_keeps_the_reference_on_a_relabelled_pod() -> None:
    c, target, uid = _relabel_then_delete_rs(ReplicaSetController(releases=False))
    assert controller_uid(pods(c)[target]) == uid
    assert len(pods(c)) == 3
    # Still owned, the garbage collector takes it with the ReplicaSet.
    c, _ = ok(c, {"op": "delete", "kind": "ReplicaSet", "namespace": "default", "name": "web"})
    c = settle(advance(c, 1))
    assert pods(c) == {}


# -- expectations ----------------------------------------------------------------------------


def _lagging_scale_up(controller: ReplicaSetController) -> list[int]:
    """Scale 1 → 3 while the controller's view lags 5 s; other writes keep moving the view."""
    c = settle(create(cluster(controller=controller), replicaset(1)))
    c, _ = ok(c, {"op": "controller.lag", "name": "replicaset", "seconds": 5})
    c = scale(c, 3)
    counts = []
    for i in range(10):
        c = create(c, {"kind": "ConfigMap", "metadata": {"name": f"t{i}", "namespace": "default"}})
        c = advance(c, 1)
        counts.append(len(all_pods(c)))
    return counts


def test_expectations_keep_a_lagging_view_from_creating_twice() -> None:
    counts = _lagging_scale_up(ReplicaSetController())
    assert counts == [1, 1, 1, 1, 3, 3, 3, 3, 3, 3]


def test_mutant_without_expectations_creates_twice_129795() -> None:
    counts = _lagging_scale_up(ReplicaSetController(uses_expectations=False))
    assert counts[:4] == [1, 1, 1, 1]
    assert max(counts) > 3
    assert counts[4:6] == [5, 7]


def test_a_restarted_controller_relists_and_does_not_duplicate() -> None:
    c = settle(create(cluster(), replicaset(2)))
    c, _ = ok(c, {"op": "controller.restart", "name": "replicaset"})
    c = settle(scale(c, 3))
    assert len(pods(c)) == 3


# -- ReplicaFailure --------------------------------------------------------------------------

GOLD = {
    "apiVersion": "scheduling.k8s.io/v1",
    "kind": "PriorityClass",
    "metadata": {"name": "gold"},
    "value": 1000,
}


def _refused() -> Cluster:
    """A ReplicaSet whose template names a PriorityClass that does not exist (403 on create)."""
    c = cluster()
    c = create(c, replicaset(2, pod_spec={"priorityClassName": "gold"}))
    return c


def test_the_api_refuses_a_pod_naming_a_missing_priority_class() -> None:
    pod = bare_pod("p")
    pod["spec"]["priorityClassName"] = "gold"
    _, answer = step(cluster(), {"op": "create", "object": pod})
    assert answer["ok"] is False
    assert answer["status"]["code"] == 403
    assert answer["status"]["message"] == (
        'pods "p" is forbidden: no PriorityClass with name gold was found'
    )


def test_refused_creates_are_retried_until_they_succeed() -> None:
    c = advance(_refused(), 1)
    assert pods(c) == {}
    assert status(c)["replicas"] == 0
    c = settle(create(c, GOLD), 1200)
    assert len(pods(c)) == 2
    st = status(c)
    assert st["replicas"] == 2
    assert condition(st, "ReplicaFailure") is None


def test_replica_failure_condition_is_set_while_creates_are_refused() -> None:
    c = advance(_refused(), 0.5)
    cond = condition(status(c), "ReplicaFailure")
    assert cond is not None
    assert cond["status"] == "True"
    assert cond["reason"] == "FailedCreate"
    assert "no PriorityClass with name gold was found" in cond["message"]
    c = settle(create(c, GOLD), 1200)
    assert condition(status(c), "ReplicaFailure") is None


def test_refused_creates_back_off_exponentially() -> None:
    # Upstream retries at about 5, 15, 35, 75, 155, 315, 635, 1275 ms: none in (1.0 s, 1.1 s].
    c = advance(_refused(), 1.0)
    c = advance(create(c, GOLD), 0.1)
    assert pods(c) == {}
    c = advance(c, 0.3)
    assert len(pods(c)) == 2


# -- other mutants ---------------------------------------------------------------------------


def test_edge_triggered_mutant_does_not_replace_a_deleted_pod() -> None:
    c = cluster(controller=ReplicaSetController(level_triggered=False))
    c = settle(create(c, replicaset(2)))
    assert len(pods(c)) == 2
    victim = sorted(pods(c))[0]
    c, _ = ok(c, {"op": "delete", "kind": "Pod", "namespace": "default", "name": victim})
    c = settle(c)
    assert len(pods(c)) == 1
    assert status(c)["replicas"] == 1
    c = settle(scale(c, 3))  # a spec change is an edge it does act on
    assert len(pods(c)) == 3


# -- the back-off for pods the kubelet turns away (the reference's choice; #131116, #72593) -----


def pinned(replicas: int = 2, **pod_spec: Any) -> Obj:
    """A ReplicaSet whose pods name n1 in spec.nodeName and ask for an ssd n1 does not have:
    the scheduler never sees them and n1's kubelet rejects every one (NodeAffinity)."""
    return replicaset(
        replicas, pod_spec={"nodeName": "n1", "nodeSelector": {"disk": "ssd"}, **pod_spec}
    )


def failed(c: Cluster) -> list[Obj]:
    return [p for p in pods(c).values() if p["status"].get("phase") == "Failed"]


def failed_after(controller: ReplicaSetController, *moments: float) -> list[int]:
    c = create(cluster(controller=controller), pinned(2))
    counts, now = [], 0.0
    for moment in moments:
        c = advance(c, moment - now)
        now = moment
        counts.append(len(failed(c)))
    return counts


def test_rejected_pods_are_replaced_after_10_s_doubling_to_300_s() -> None:
    """Batches at 0, 10, 30, 70, 150, 310, 610 s: two Failed pods each."""
    assert failed_after(ReplicaSetController(), 0, 1, 60, 600, 620) == [2, 2, 6, 12, 14]


def test_mutant_without_the_back_off_replaces_them_every_second_131116() -> None:
    assert failed_after(ReplicaSetController(backs_off_failed=False), 0, 1, 60) == [2, 4, 122]


def test_rejected_pods_say_why() -> None:
    c = advance(create(cluster(), pinned(1)))
    [pod] = failed(c)
    assert pod["status"]["reason"] == "NodeAffinity"
    assert pod["status"]["message"].startswith("Pod was rejected: Predicate NodeAffinity failed")
    assert status(c)["replicas"] == 0


def test_the_back_off_is_read_from_the_pods_so_a_restart_keeps_it() -> None:
    c = advance(create(cluster(), pinned(2)), 1)
    c, _ = ok(c, {"op": "controller.restart", "name": "replicaset"})
    c = advance(c, 5)
    assert len(failed(c)) == 2
    c = advance(c, 5)
    assert len(failed(c)) == 4


def test_the_back_off_holds_creations_only() -> None:
    """Room for two pods of three: the third is rejected and retried at the back-off's pace,
    while a scale-down deletes at once."""
    c = cluster(cpu="1")
    c = advance(create(c, replicaset(3, cpu="400m", pod_spec={"nodeName": "n1"})))
    assert len(failed(c)) == 1
    assert failed(c)[0]["status"]["reason"] == "OutOfcpu"
    c = advance(c, 9)
    assert len(failed(c)) == 1
    c = advance(scale(c, 1))
    running = [p for p in pods(c).values() if p["status"].get("phase") != "Failed"]
    assert len(running) == 1
    c = advance(c, 60)
    assert len(failed(c)) == 1


def test_a_pod_rejected_long_after_its_creation_is_replaced_at_once() -> None:
    """Bound while its node was cut off, relabelled meanwhile: rejected at the heal, 30 s after
    it was created, so its back-off has run out and the replacement goes to the other node."""
    c = new_cluster(0, Components())
    for name, disk in (("n1", "ssd"), ("n2", "hdd")):
        request = {
            "op": "node.add",
            "name": name,
            "capacity": {"cpu": "4", "memory": "8Gi"},
            "labels": {"disk": disk},
        }
        c, _ = ok(c, request)
    c, _ = ok(c, {"op": "node.partition", "name": "n1"})
    c = advance(create(c, replicaset(1, pod_spec={"nodeSelector": {"disk": "ssd"}})))
    [first] = pods(c).values()
    assert first["spec"]["nodeName"] == "n1"
    for name, disk in (("n1", "hdd"), ("n2", "ssd")):
        c = patch(c, "Node", name, {"metadata": {"labels": {"disk": disk}}})
    c = advance(c, 30)
    c, _ = ok(c, {"op": "node.heal", "name": "n1"})
    c = advance(c)
    assert [p["status"]["reason"] for p in failed(c)] == ["NodeAffinity"]
    [replacement] = [p for p in pods(c).values() if p["status"].get("phase") != "Failed"]
    assert replacement["spec"]["nodeName"] == "n2"
    assert replacement["metadata"]["creationTimestamp"] == "2025-01-01T00:00:30Z"


def test_creations_open_at_follows_the_crash_loop_delays() -> None:
    assert creations_open_at([]) is None
    assert creations_open_at([5, 5, 5]) == 15
    assert creations_open_at([0, 10]) == 30
    assert creations_open_at([0, 10, 30, 70, 150, 310]) == 610
    assert creations_open_at([0, 10, 30, 70, 150, 310, 610]) == 910
    assert creations_open_at([0, 600]) == 620  # 600 s of quiet is not yet more than 600
    assert creations_open_at([0, 601]) == 611


# -- the law that holds the back-off: workloads.failed-replacement-backoff -------------------


def trace_of(controller: ReplicaSetController, requests: list[Obj]) -> tuple[Trace, TargetInfo]:
    """Each request a step followed by a snapshot, as the harness records a run."""
    c = new_cluster(0, Components().replacing(controller))
    c, answer = step(c, {"op": "hello", "protocol": 1})
    info = TargetInfo.from_hello(answer)
    trace = Trace()
    for i, request in enumerate(requests):
        exchanges = []
        for sent in (request, {"op": "snapshot"}):
            c, answer = step(c, sent)
            exchanges.append(Exchange(i, str(request["op"]), sent, answer))
        trace = trace.add_step(exchanges)
    return trace, info


def violations(controller: ReplicaSetController, *waits: float) -> list[tuple[int, str]]:
    node = {"op": "node.add", "name": "n1", "capacity": {"cpu": "4", "memory": "8Gi"}}
    requests = [node, {"op": "create", "object": pinned(3)}]
    requests += [{"op": "advance", "seconds": w} for w in waits]
    trace, info = trace_of(controller, requests)
    found = []
    prefix: Trace | None = trace
    while prefix is not None and prefix.exchanges:
        found += [(v.step, v.message) for v in failed_replacement_backoff(prefix, info)]
        prefix = prefix.before
    return sorted(found)


def test_the_law_passes_the_reference_through_an_hour_of_rejections() -> None:
    assert violations(ReplicaSetController(), 1, 5, 30, 300, 900, 2400) == []


def test_the_law_catches_the_mutant_at_its_second_batch() -> None:
    found = violations(ReplicaSetController(backs_off_failed=False), 1, 5)
    assert found[0] == (
        2,
        "ReplicaSet web created pods that the kubelet rejected in 2 different seconds within"
        " 1 s; a back-off of 10 s doubling to 300 s allows 1",
    )


def test_the_law_bounds_seconds_by_the_fastest_schedule() -> None:
    """Fresh: 0, 10, 30, 70, 150, 310, then every 300 s, or a fresh start after 600 s quiet."""
    spans = {0: 1, 9: 1, 10: 2, 30: 3, 309: 5, 310: 6, 610: 7, 910: 10}
    for span, most in spans.items():
        assert most_failed_seconds(span, 10, 300, 600) == most, span
