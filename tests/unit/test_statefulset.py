"""The StatefulSet controller inside the reference cluster, driven through `step`.

Upstream behaviour is pkg/controller/statefulset (stateful_set.go,
stateful_set_control.go, stateful_set_utils.go, stateful_pod_control.go) and
pkg/controller/history; the mutants are #54368 (force-deleting the pods of
an unreachable node) and #49909 (revision names without collision
avoidance).
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from reference import Cluster, Components, new_cluster, step
from reference.api.server import handle
from reference.controllers.history import revision_hash, revision_name, template_patch
from reference.controllers.statefulset import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    TRUNCATED_HASH_CHARACTERS,
    StatefulSetController,
    parent_and_ordinal,
)

Obj = dict[str, Any]

# -- helpers ---------------------------------------------------------------------------------


def components(controller: StatefulSetController | None = None) -> Components:
    return Components().replacing(controller or StatefulSetController())


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def cluster(*nodes: str, controller: StatefulSetController | None = None) -> Cluster:
    c = new_cluster(0, components(controller))
    for name in nodes or ("n1",):
        c, _ = ok(c, {"op": "node.add", "name": name, "capacity": {"cpu": "8", "memory": "16Gi"}})
    return c


def manifest(
    replicas: int = 3,
    image: str = "img:1",
    *,
    policy: str = "OrderedReady",
    strategy: Obj | None = None,
    probe: bool = False,
    **spec: Any,
) -> Obj:
    container: Obj = {"name": "c", "image": image}
    if probe:
        container["readinessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    body: Obj = {
        "replicas": replicas,
        "serviceName": "web",
        "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
        **spec,
    }
    if strategy is not None:
        body["updateStrategy"] = strategy
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": body,
    }


def create(c: Cluster, obj: Obj) -> tuple[Cluster, Obj]:
    c, answer = ok(c, {"op": "create", "object": obj})
    return c, answer["object"]


def advance(c: Cluster, seconds: float = 0) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": seconds})
    return c


def settle(c: Cluster, seconds: float = 600) -> Cluster:
    c, answer = ok(c, {"op": "settle", "max_seconds": seconds})
    assert answer["settled"] is True, answer
    return c


def objects(c: Cluster, kind: str) -> dict[str, Obj]:
    _, answer = step(c, {"op": "snapshot"})
    return {o["metadata"]["name"]: o for o in answer["objects"] if o["kind"] == kind}


def pods(c: Cluster) -> dict[str, Obj]:
    return objects(c, "Pod")


def sts(c: Cluster) -> Obj:
    return objects(c, "StatefulSet")["web"]


def status(c: Cluster) -> Obj:
    found: Obj = sts(c).get("status") or {}
    return found


def revisions(c: Cluster) -> dict[str, Obj]:
    return objects(c, "ControllerRevision")


def terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def live(c: Cluster) -> list[str]:
    """The names of the pods not being deleted, sorted."""
    return sorted(n for n, p in pods(c).items() if not terminating(p))


def ready(pod: Obj) -> bool:
    return any(
        x["type"] == "Ready" and x["status"] == "True" for x in pod["status"].get("conditions", ())
    )


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


def revision_label(pod: Obj) -> str:
    return str(pod["metadata"]["labels"][REVISION_LABEL])


def patch_spec(c: Cluster, spec: Obj) -> Cluster:
    c, _ = ok(
        c,
        {
            "op": "patch",
            "kind": "StatefulSet",
            "namespace": "default",
            "name": "web",
            "patch": {"spec": spec},
        },
    )
    return c


def set_image(c: Cluster, image: str) -> Cluster:
    template = copy.deepcopy(sts(c)["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    return patch_spec(c, {"template": template})


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


def delete_pod(c: Cluster, name: str) -> Cluster:
    c, _ = ok(c, {"op": "delete", "kind": "Pod", "namespace": "default", "name": name})
    return c


def running_containers(c: Cluster, pod: str) -> list[str]:
    """The machines on which a container of `pod` runs, as the runtime sees them."""
    _, answer = ok(c, {"op": "runtime"})
    return sorted(
        node
        for node, machine in answer["nodes"].items()
        for x in machine["containers"]
        if x["pod"] == pod and x["state"] == "running"
    )


def fail_pod(c: Cluster, name: str) -> Cluster:
    """Mark a pod Failed as its kubelet would (the protocol gives users no status writes)."""
    pod = pods(c)[name]
    request = {
        "op": "status",
        "object": {
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": pod["metadata"]["uid"]},
            "status": {**pod["status"], "phase": "Failed"},
        },
    }
    api, answer = handle(c.api, request, c.now, c.components.api, system=True)
    assert answer["ok"], answer
    return attrs.evolve(c, api=api)


# -- identity --------------------------------------------------------------------------------


def test_parent_and_ordinal_follow_the_pod_name_pattern() -> None:
    assert parent_and_ordinal("web-3") == ("web", 3)
    assert parent_and_ordinal("my-web-12") == ("my-web", 12)
    assert parent_and_ordinal("web") == ("", -1)
    assert parent_and_ordinal("web-x") == ("", -1)
    assert parent_and_ordinal("web-99999999999") == ("web", -1)


def test_pods_get_stable_names_labels_hostname_and_subdomain() -> None:
    c = cluster()
    c, owner = create(c, manifest(3))
    c = advance(c)
    found = pods(c)
    assert sorted(found) == ["web-0", "web-1", "web-2"]
    for ordinal, name in enumerate(sorted(found)):
        pod = found[name]
        assert pod["metadata"]["labels"][POD_NAME_LABEL] == name
        assert pod["metadata"]["labels"][POD_INDEX_LABEL] == str(ordinal)
        assert pod["metadata"]["labels"]["app"] == "web"
        assert pod["spec"]["hostname"] == name
        assert pod["spec"]["subdomain"] == "web"
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref["uid"] == owner["metadata"]["uid"] and ref["controller"] is True
    (revision,) = revisions(c).values()
    assert {revision_label(p) for p in found.values()} == {revision["metadata"]["name"]}


def test_ordinals_start_shifts_the_names() -> None:
    c = cluster()
    c, _ = create(c, manifest(2, ordinals={"start": 5}))
    c = advance(c)
    assert sorted(pods(c)) == ["web-5", "web-6"]
    assert pods(c)["web-5"]["metadata"]["labels"][POD_INDEX_LABEL] == "5"


def test_a_deleted_pod_comes_back_under_the_same_name() -> None:
    c = cluster()
    c, _ = create(c, manifest(2))
    c = advance(c)
    uid = pods(c)["web-1"]["metadata"]["uid"]
    c = delete_pod(c, "web-1")
    c = advance(c, 1)
    # Still terminating: the controller waits for the name to be free.
    assert pods(c)["web-1"]["metadata"]["uid"] == uid
    c = settle(c)
    assert pods(c)["web-1"]["metadata"]["uid"] != uid
    assert live(c) == ["web-0", "web-1"]


def test_a_failed_pod_is_deleted_and_recreated() -> None:
    c = cluster()
    c, _ = create(c, manifest(2))
    c = advance(c)
    uid = pods(c)["web-0"]["metadata"]["uid"]
    c = advance(fail_pod(c, "web-0"))
    c = settle(c)
    assert pods(c)["web-0"]["metadata"]["uid"] != uid
    assert pods(c)["web-0"]["status"]["phase"] == "Running"


def test_a_pod_renamed_out_of_the_set_is_released() -> None:
    c = cluster()
    c, _ = create(c, manifest(1))
    c = advance(c)
    c, _ = ok(
        c,
        {
            "op": "patch",
            "kind": "Pod",
            "namespace": "default",
            "name": "web-0",
            "patch": {"metadata": {"labels": {"app": "other"}}},
        },
    )
    c = advance(c)
    found = pods(c)
    assert "ownerReferences" not in found["web-0"]["metadata"]
    # The name is taken, so no replacement can be made: identity is never duplicated.
    assert sorted(found) == ["web-0"]


# -- ordering --------------------------------------------------------------------------------


def test_ordered_ready_creates_one_at_a_time_waiting_for_ready() -> None:
    c = readiness(cluster(), "web-0", False)
    c, _ = create(c, manifest(3, probe=True))
    c = advance(c, 5)
    assert sorted(pods(c)) == ["web-0"]
    assert status(c)["replicas"] == 1
    c = readiness(c, "web-1", False)
    c = readiness(c, "web-0", True)
    c = advance(c, 5)
    assert sorted(pods(c)) == ["web-0", "web-1"]
    c = readiness(c, "web-1", True)
    c = settle(c)
    assert sorted(pods(c)) == ["web-0", "web-1", "web-2"]
    assert all(ready(p) for p in pods(c).values())


def test_min_ready_seconds_holds_the_next_ordinal_until_available() -> None:
    c = cluster()
    c, _ = create(c, manifest(2, minReadySeconds=10))
    c = advance(c, 5)
    assert sorted(pods(c)) == ["web-0"]
    assert status(c)["availableReplicas"] == 0
    c = advance(c, 6)
    assert sorted(pods(c)) == ["web-0", "web-1"]
    c = advance(c, 11)
    assert status(c)["availableReplicas"] == 2


def test_parallel_creates_every_pod_at_once() -> None:
    c = readiness(cluster(), "web-0", False)
    c, _ = create(c, manifest(3, policy="Parallel", probe=True))
    c = advance(c, 5)
    assert sorted(pods(c)) == ["web-0", "web-1", "web-2"]
    assert status(c)["readyReplicas"] == 2


def test_ordered_scale_down_deletes_from_the_highest_one_at_a_time() -> None:
    c = cluster()
    c, _ = create(c, manifest(4))
    c = advance(c)
    c = patch_spec(c, {"replicas": 1})
    c = advance(c, 1)
    assert [n for n, p in sorted(pods(c).items()) if terminating(p)] == ["web-3"]
    c = advance(c, 35)
    assert "web-3" not in pods(c)
    assert [n for n, p in sorted(pods(c).items()) if terminating(p)] == ["web-2"]
    c = settle(c)
    assert sorted(pods(c)) == ["web-0"]
    assert status(c)["replicas"] == 1


def test_ordered_scale_down_waits_for_an_unhealthy_replica() -> None:
    c = cluster()
    c, _ = create(c, manifest(3, probe=True))
    c = advance(c)
    c = readiness(c, "web-0", False)
    c = advance(c, 5)
    c = patch_spec(c, {"replicas": 2})
    c = advance(c, 5)
    assert not terminating(pods(c)["web-2"])
    c = readiness(c, "web-0", True)
    c = advance(c, 5)
    assert terminating(pods(c)["web-2"])


def test_parallel_scale_down_deletes_every_condemned_pod_at_once() -> None:
    c = cluster()
    c, _ = create(c, manifest(4, policy="Parallel"))
    c = advance(c)
    c = patch_spec(c, {"replicas": 1})
    c = advance(c, 1)
    assert [n for n, p in sorted(pods(c).items()) if terminating(p)] == ["web-1", "web-2", "web-3"]


# -- updates ---------------------------------------------------------------------------------


def test_rolling_update_replaces_from_the_highest_ordinal_one_at_a_time() -> None:
    c = cluster()
    c, _ = create(c, manifest(3))
    c = settle(advance(c))
    old = status(c)["currentRevision"]
    c = set_image(c, "img:2")
    c = advance(c, 1)
    new = status(c)["updateRevision"]
    assert new != old and status(c)["currentRevision"] == old
    assert [n for n, p in sorted(pods(c).items()) if terminating(p)] == ["web-2"]
    order: list[str] = []
    for _ in range(120):
        c = advance(c, 1)
        for name, pod in pods(c).items():
            if revision_label(pod) == new and name not in order:
                order.append(name)
        if len(order) == 3:
            break
    assert order == ["web-2", "web-1", "web-0"]
    c = settle(c)
    assert {image_of(p) for p in pods(c).values()} == {"img:2"}
    assert status(c)["currentRevision"] == new == status(c)["updateRevision"]
    assert status(c)["currentReplicas"] == 3 == status(c)["updatedReplicas"]


def test_partition_keeps_lower_ordinals_at_the_current_revision() -> None:
    c = cluster()
    c, _ = create(
        c, manifest(3, strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    )
    c = settle(advance(c))
    c = settle(set_image(c, "img:2"))
    assert {n: image_of(p) for n, p in pods(c).items()} == {
        "web-0": "img:1",
        "web-1": "img:1",
        "web-2": "img:2",
    }
    assert status(c)["currentReplicas"] == 2 and status(c)["updatedReplicas"] == 1
    assert status(c)["currentRevision"] != status(c)["updateRevision"]
    # Below the partition a deleted pod comes back at the current revision.
    c = settle(delete_pod(c, "web-0"))
    assert image_of(pods(c)["web-0"]) == "img:1"
    c = settle(patch_spec(c, {"updateStrategy": {"rollingUpdate": {"partition": 0}}}))
    assert {image_of(p) for p in pods(c).values()} == {"img:2"}
    assert status(c)["currentRevision"] == status(c)["updateRevision"]


def test_on_delete_updates_only_the_pods_the_user_deletes() -> None:
    c = cluster()
    c, _ = create(c, manifest(2, strategy={"type": "OnDelete"}))
    c = settle(advance(c))
    c = settle(set_image(c, "img:2"))
    assert {image_of(p) for p in pods(c).values()} == {"img:1"}
    c = settle(delete_pod(c, "web-0"))
    assert image_of(pods(c)["web-0"]) == "img:2"
    assert image_of(pods(c)["web-1"]) == "img:1"
    assert status(c)["updatedReplicas"] == 1 and status(c)["currentReplicas"] == 1


def test_ordered_ready_rollout_is_blocked_by_a_broken_pod_even_after_a_revert() -> None:
    """#67250: the broken pod blocks the update that would replace it; Parallel recovers.

    The broken template adds a readiness probe that fails for web-1; the
    good one has none.
    """
    for policy, recovers in (("OrderedReady", False), ("Parallel", True)):
        c = readiness(cluster(), "web-1", False)
        c, _ = create(c, manifest(2, policy=policy))
        c = settle(advance(c))
        good = copy.deepcopy(sts(c)["spec"]["template"])
        broken = copy.deepcopy(good)
        broken["spec"]["containers"][0]["readinessProbe"] = {
            "exec": {"command": ["true"]},
            "periodSeconds": 1,
        }
        c = advance(patch_spec(c, {"template": broken}), 120)
        assert "readinessProbe" in pods(c)["web-1"]["spec"]["containers"][0], policy
        assert not ready(pods(c)["web-1"])
        assert not terminating(pods(c)["web-0"])
        c = advance(patch_spec(c, {"template": good}), 300)
        assert ("readinessProbe" not in pods(c)["web-1"]["spec"]["containers"][0]) is recovers
        assert ready(pods(c)["web-1"]) is recovers, policy


# -- revisions and status --------------------------------------------------------------------


def test_revisions_are_numbered_and_a_rollback_renumbers_the_old_one() -> None:
    c = cluster()
    c, _ = create(c, manifest(1))
    c = settle(advance(c))
    first = status(c)["updateRevision"]
    c = settle(set_image(c, "img:2"))
    second = status(c)["updateRevision"]
    assert {n: r["revision"] for n, r in revisions(c).items()} == {first: 1, second: 2}
    c = settle(set_image(c, "img:1"))
    assert status(c)["updateRevision"] == first
    assert {n: r["revision"] for n, r in revisions(c).items()} == {first: 3, second: 2}
    rev = revisions(c)[first]
    assert rev["metadata"]["labels"]["app"] == "web"
    assert rev["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"


def test_history_is_truncated_to_the_limit_sparing_live_revisions() -> None:
    c = cluster()
    c, _ = create(c, manifest(1, revisionHistoryLimit=1))
    c = settle(advance(c))
    for i in range(2, 6):
        c = settle(set_image(c, f"img:{i}"))
    names = set(revisions(c))
    assert status(c)["updateRevision"] in names
    assert len(names) == 2


def test_a_taken_revision_name_bumps_the_collision_count() -> None:
    c = cluster()
    c, stored = create(c, manifest(1))
    taken = revision_name("web", revision_hash(template_patch(stored), 0))
    squatter = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": taken, "namespace": "default", "labels": {"other": "x"}},
        "data": {"something": "else"},
        "revision": 1,
    }
    c, _ = create(c, squatter)
    c = settle(advance(c))
    assert status(c)["collisionCount"] == 1
    assert status(c)["updateRevision"] == revision_name(
        "web", revision_hash(template_patch(stored), 1)
    )
    assert revision_label(pods(c)["web-0"]) == status(c)["updateRevision"]


def test_status_counts_and_is_written_only_when_it_changes() -> None:
    c = cluster()
    c, _ = create(c, manifest(2))
    c = settle(advance(c))
    s = status(c)
    assert s["observedGeneration"] == 1
    assert (s["replicas"], s["readyReplicas"], s["availableReplicas"]) == (2, 2, 2)
    assert (s["currentReplicas"], s["updatedReplicas"], s["collisionCount"]) == (2, 2, 0)
    version = sts(c)["metadata"]["resourceVersion"]
    c = advance(c, 100)
    assert sts(c)["metadata"]["resourceVersion"] == version
    c = settle(patch_spec(c, {"replicas": 3}))
    assert status(c)["observedGeneration"] == 2 and status(c)["replicas"] == 3


def test_a_lagging_controller_converges_without_duplicating_an_identity() -> None:
    c = cluster("n1", "n2")
    c, _ = ok(c, {"op": "controller.lag", "name": "statefulset", "seconds": 7})
    c, _ = create(c, manifest(3))
    c = advance(c, 30)
    c = advance(set_image(c, "img:2"), 3)
    c = advance(patch_spec(c, {"replicas": 2}), 3)
    c = advance(delete_pod(c, "web-0"), 3)
    c, _ = ok(c, {"op": "controller.restart", "name": "statefulset"})
    c = settle(c, 1200)
    assert live(c) == ["web-0", "web-1"]
    assert {image_of(p) for p in pods(c).values()} == {"img:2"}
    for name in ("web-0", "web-1"):
        assert len(running_containers(c, name)) == 1


# -- identity under partitions, and the mutants ----------------------------------------------


def placed(nodes: tuple[str, ...], controller: StatefulSetController | None = None) -> Cluster:
    """One replica on the first node, then the other nodes join."""
    c = cluster(nodes[0], controller=controller)
    c, _ = create(c, manifest(1))
    c = advance(c)
    assert pods(c)["web-0"]["spec"]["nodeName"] == nodes[0]
    for name in nodes[1:]:
        c, _ = ok(c, {"op": "node.add", "name": name, "capacity": {"cpu": "8", "memory": "16Gi"}})
    return c


def test_a_pod_on_a_partitioned_node_stays_until_its_kubelet_removes_it() -> None:
    c = placed(("n1", "n2"))
    uid = pods(c)["web-0"]["metadata"]["uid"]
    c, _ = ok(c, {"op": "node.partition", "name": "n1"})
    c = advance(c, 600)
    pod = pods(c)["web-0"]
    # Evicted by the NoExecute taint, but nobody can confirm it stopped: it stays.
    assert pod["metadata"]["uid"] == uid and terminating(pod)
    assert running_containers(c, "web-0") == ["n1"]
    c, _ = ok(c, {"op": "node.heal", "name": "n1"})
    c = advance(c, 120)
    assert pods(c)["web-0"]["metadata"]["uid"] != uid
    assert running_containers(c, "web-0") == ["n2"]


@pytest.mark.parametrize("mutant", [False, True])
def test_force_deletes_unreachable_mutant_runs_two_pods_of_one_identity(mutant: bool) -> None:
    c = placed(("n1", "n2"), StatefulSetController(force_deletes_unreachable=mutant))
    c, _ = ok(c, {"op": "node.partition", "name": "n1"})
    c = advance(c, 120)
    if mutant:
        assert pods(c)["web-0"]["spec"]["nodeName"] == "n2"
        assert running_containers(c, "web-0") == ["n1", "n2"]
    else:
        assert pods(c)["web-0"]["spec"]["nodeName"] == "n1"
        assert running_containers(c, "web-0") == ["n1"]


def colliding_images(stored: Obj) -> tuple[str, str]:
    """Two images whose templates share a truncated revision hash."""
    seen: dict[str, str] = {}
    for i in range(1, 1000):
        image = f"img:v{i}"
        obj = copy.deepcopy(stored)
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
        short = revision_hash(template_patch(obj), None)[:TRUNCATED_HASH_CHARACTERS]
        if short in seen:
            return seen[short], image
        seen[short] = image
    raise AssertionError("no collision found")


@pytest.mark.parametrize("mutant", [False, True])
def test_truncated_revision_names_mutant_never_rolls_out_a_colliding_template(
    mutant: bool,
) -> None:
    _, stored = create(new_cluster(0), manifest(2))
    first, second = colliding_images(stored)
    c = cluster(controller=StatefulSetController(truncated_revision_names=mutant))
    c, _ = create(c, manifest(2, image=first))
    c = settle(advance(c))
    c = settle(set_image(c, second))
    images = {image_of(p) for p in pods(c).values()}
    if mutant:
        assert images == {first}
        assert status(c)["updateRevision"] == status(c)["currentRevision"]
    else:
        assert images == {second}
