"""The Deployment controller inside the reference cluster, driven through `step`.

Upstream facts are SEMANTICS §2: pkg/controller/deployment (sync.go,
rolling.go, recreate.go, progress.go) and its util/deployment_util.go. The
ReplicaSet controller and the kubelet run too, so pods come and go as they
would; new pods are held unavailable by a failing image (`image.fail`) or by
minReadySeconds. The mutants are the DeploymentController flags.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reference import Cluster, Components, new_cluster, step
from reference.controllers.deployment import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    REVISION_HISTORY,
    DeploymentController,
    template_hash,
)

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"

# -- helpers ---------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def cluster(controller: DeploymentController | None = None, nodes: int = 3) -> Cluster:
    c = new_cluster(0, Components().replacing(controller or DeploymentController()))
    for i in range(nodes):
        c, _ = ok(
            c, {"op": "node.add", "name": f"n{i + 1}", "capacity": {"cpu": "32", "memory": "64Gi"}}
        )
    return c


def strategy(surge: Any, unavailable: Any) -> Obj:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }


def deployment(replicas: int = 10, image: str = "img:1", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": image}],
                    "terminationGracePeriodSeconds": 0,
                },
            },
            **spec,
        },
    }


def create(c: Cluster, obj: Obj) -> Cluster:
    c, _ = ok(c, {"op": "create", "object": obj})
    return c


def advance(c: Cluster, seconds: float = 0) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": seconds})
    return c


def settle(c: Cluster, seconds: float = 300) -> Cluster:
    c, answer = ok(c, {"op": "settle", "max_seconds": seconds})
    assert answer["settled"] is True, answer
    return c


def get(c: Cluster, kind: str = "Deployment", name: str = "web") -> Obj:
    _, answer = ok(c, {"op": "get", "kind": kind, "namespace": "default", "name": name})
    found: Obj = answer["object"]
    return found


def dstatus(c: Cluster) -> Obj:
    found: Obj = get(c).get("status") or {}
    return found


def update_spec(c: Cluster, **changes: Any) -> Cluster:
    d = get(c)
    d["spec"].update(changes)
    c, _ = ok(c, {"op": "update", "object": d})
    return c


def set_image(c: Cluster, image: str) -> Cluster:
    template = copy.deepcopy(get(c)["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    return update_spec(c, template=template)


def scale(c: Cluster, replicas: int) -> Cluster:
    c, _ = ok(
        c,
        {
            "op": "scale",
            "kind": "Deployment",
            "namespace": "default",
            "name": "web",
            "replicas": replicas,
        },
    )
    return c


def fail_image(c: Cluster, image: str, failing: bool = True) -> Cluster:
    c, _ = ok(c, {"op": "image.fail", "image": image, "failing": failing})
    return c


def replica_sets(c: Cluster) -> list[Obj]:
    """The ReplicaSets, oldest revision first."""
    _, answer = ok(c, {"op": "list", "kind": "ReplicaSet", "namespace": "default"})
    return sorted(answer["items"], key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))


def image_of(rs: Obj) -> str:
    return str(rs["spec"]["template"]["spec"]["containers"][0]["image"])


def sizes(c: Cluster) -> dict[str, int]:
    """spec.replicas of each ReplicaSet, by image."""
    return {image_of(rs): rs["spec"]["replicas"] for rs in replica_sets(c)}


def live_pods(c: Cluster) -> list[Obj]:
    _, answer = ok(c, {"op": "list", "kind": "Pod", "namespace": "default"})
    return [p for p in answer["items"] if "deletionTimestamp" not in p["metadata"]]


def pod_images(c: Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in live_pods(c):
        image = p["spec"]["containers"][0]["image"]
        out[image] = out.get(image, 0) + 1
    return out


Mark = tuple[int, dict[str, int]]


def mark(c: Cluster) -> Mark:
    """The store revision now, and each ReplicaSet's size then (by uid)."""
    _, answer = ok(c, {"op": "list", "kind": "ReplicaSet", "namespace": "default"})
    return int(answer["resourceVersion"]), {
        rs["metadata"]["uid"]: rs["spec"]["replicas"] for rs in answer["items"]
    }


def scale_history(c: Cluster, since: Mark) -> list[tuple[str, int]]:
    """Each ReplicaSet write after `since` that set (or created) a size: (image, replicas)."""
    revision, before = since
    _, answer = ok(
        c,
        {
            "op": "watch",
            "kind": "ReplicaSet",
            "namespace": "default",
            "resourceVersion": str(revision),
        },
    )
    out: list[tuple[str, int]] = []
    last = dict(before)
    for event in answer["events"]:
        rs = event["object"]
        uid = rs["metadata"]["uid"]
        size = rs["spec"]["replicas"]
        if event["type"] != "DELETED" and last.get(uid) != size:
            out.append((image_of(rs), size))
            last[uid] = size
    return out


def condition(st: Obj, kind: str) -> Obj | None:
    return next((x for x in st.get("conditions") or () if x["type"] == kind), None)


def reason(c: Cluster, kind: str = "Progressing") -> tuple[str, str] | None:
    cond = condition(dstatus(c), kind)
    return None if cond is None else (cond["status"], cond["reason"])


def rolled_out(replicas: int = 10, image: str = "img:1", **spec: Any) -> Cluster:
    """A Deployment whose first ReplicaSet is complete and available."""
    c = settle(create(cluster(), deployment(replicas, image, **spec)))
    min_ready = spec.get("minReadySeconds", 0)
    if min_ready:
        c = settle(advance(c, min_ready + 1))
    assert sizes(c) == {image: replicas}
    return c


# -- the rolling update ----------------------------------------------------------------------


def test_worked_example_10_replicas_25_percent_each_way() -> None:
    """SEMANTICS §2.4: surge 3, unavailable 2; new pods held unavailable by minReadySeconds."""
    c = rolled_out(10, minReadySeconds=5)
    since = mark(c)
    c = advance(set_image(c, "img:2"))
    # Sync 1 creates the new RS at 3 (13 in all); the next scales the fully available old RS
    # down by 13 - 8 - 3 = 2; the next fills the surge again: the new RS at 5.
    assert scale_history(c, since) == [("img:2", 3), ("img:1", 8), ("img:2", 5)]
    assert sizes(c) == {"img:1": 8, "img:2": 5}
    c = advance(c, 5)  # the new pods are ready for exactly minReadySeconds: still unavailable
    assert sizes(c) == {"img:1": 8, "img:2": 5}
    st = dstatus(c)
    assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (13, 5, 8)
    assert st["unavailableReplicas"] == 5
    since = mark(c)
    c = advance(c, 0.01)  # 5 new pods available: 13 - 8 - 0 = 5 old ones can go, then +5 new
    assert scale_history(c, since) == [("img:1", 3), ("img:2", 10)]
    c = advance(c, 5.01)
    assert sizes(c) == {"img:1": 0, "img:2": 10}
    c = settle(c)
    assert pod_images(c) == {"img:2": 10}
    st = dstatus(c)
    assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (10, 10, 10)


def test_stuck_new_pods_hold_the_rollout_at_5_and_8() -> None:
    """The upstream comment's example: new pods that never become available."""
    c = rolled_out(10)
    c = fail_image(c, "img:2")
    c = advance(advance(set_image(c, "img:2")), 30)
    assert sizes(c) == {"img:1": 8, "img:2": 5}
    assert dstatus(c)["availableReplicas"] == 8
    assert reason(c, "Available") == ("True", "MinimumReplicasAvailable")


def test_max_surge_0_max_unavailable_1_replaces_one_at_a_time() -> None:
    c = rolled_out(3, minReadySeconds=5, strategy=strategy(0, 1))
    since = mark(c)
    c = advance(set_image(c, "img:2"))
    # The new RS is created at 0 (no surge), then the old one gives up one pod, then +1 new.
    assert scale_history(c, since) == [("img:2", 0), ("img:1", 2), ("img:2", 1)]
    assert len(live_pods(c)) == 3
    c = advance(c, 5.01)
    assert sizes(c) == {"img:1": 1, "img:2": 2}
    c = advance(c, 5.01)
    assert sizes(c) == {"img:1": 0, "img:2": 3}
    c = settle(advance(c, 5.01))
    assert pod_images(c) == {"img:2": 3}


def test_max_surge_1_max_unavailable_0_adds_before_it_removes() -> None:
    c = rolled_out(3, minReadySeconds=5, strategy=strategy(1, 0))
    since = mark(c)
    c = advance(set_image(c, "img:2"))
    assert scale_history(c, since) == [("img:2", 1)]
    assert pod_images(c) == {"img:1": 3, "img:2": 1}
    c = advance(c, 5.01)
    assert sizes(c) == {"img:1": 2, "img:2": 2}
    assert dstatus(c)["availableReplicas"] >= 3
    c = advance(c, 5.01)
    assert sizes(c) == {"img:1": 1, "img:2": 3}
    c = settle(advance(c, 5.01))
    assert sizes(c) == {"img:1": 0, "img:2": 3}


def test_both_zero_is_refused_by_validation() -> None:
    _, answer = step(cluster(), {"op": "create", "object": deployment(3, strategy=strategy(0, 0))})
    assert answer["ok"] is False
    assert answer["status"]["code"] == 422
    assert "may not be 0 when `maxSurge` is 0" in answer["status"]["message"]


def test_fence_post_makes_one_unavailable_when_both_round_to_zero() -> None:
    # maxSurge 0 and maxUnavailable 10% of 3 = 0.3, rounded down: ResolveFenceposts gives 1.
    c = rolled_out(3, minReadySeconds=5, strategy=strategy(0, "10%"))
    c = advance(set_image(c, "img:2"))
    assert sizes(c) == {"img:1": 2, "img:2": 1}
    assert len(live_pods(c)) == 3
    c = settle(advance(c, 20))
    assert sizes(c) == {"img:1": 0, "img:2": 3}


# -- Recreate --------------------------------------------------------------------------------


def test_recreate_scales_old_to_zero_and_waits_for_its_pods_to_go() -> None:
    d = deployment(3, strategy={"type": "Recreate"})
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    c = settle(create(cluster(), d))
    assert sizes(c) == {"img:1": 3}
    since = mark(c)
    c = advance(set_image(c, "img:2"))
    # The old RS goes to 0 at once; its pods take 30 s to terminate; no new RS meanwhile.
    assert scale_history(c, since) == [("img:1", 0)]
    assert sizes(c) == {"img:1": 0}
    assert len(_terminating(c)) == 3
    assert live_pods(c) == []
    assert get(c)["metadata"]["annotations"][REVISION] == "1"
    st = dstatus(c)
    assert st["terminatingReplicas"] == 3
    assert "replicas" not in st  # terminating pods are not counted
    assert reason(c, "Available") == ("False", "MinimumReplicasUnavailable")
    c = advance(c, 20)
    assert sizes(c) == {"img:1": 0}
    since = mark(c)
    c = settle(advance(c, 15))
    # Then the new RS is created at the full size in one go.
    assert scale_history(c, since) == [("img:2", 3)]
    assert pod_images(c) == {"img:2": 3}
    assert get(c)["metadata"]["annotations"][REVISION] == "2"
    assert reason(c) == ("True", "NewReplicaSetAvailable")


def _terminating(c: Cluster) -> list[Obj]:
    _, answer = ok(c, {"op": "list", "kind": "Pod", "namespace": "default"})
    return [p for p in answer["items"] if "deletionTimestamp" in p["metadata"]]


def test_mutant_recreate_not_waiting_runs_old_and_new_together() -> None:
    c = cluster(DeploymentController(recreate_waits=False))
    d = deployment(3, strategy={"type": "Recreate"})
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    c = settle(create(c, d))
    c = advance(set_image(c, "img:2"))
    assert sizes(c) == {"img:1": 0, "img:2": 3}
    assert len(_terminating(c)) == 3
    assert pod_images(c) == {"img:2": 3}


# -- proportional scaling --------------------------------------------------------------------


def _stuck_mid_rollout(controller: DeploymentController | None = None) -> Cluster:
    c = settle(create(cluster(controller), deployment(10)))
    c = fail_image(c, "img:2")
    c = advance(advance(set_image(c, "img:2")), 1)
    assert sizes(c) == {"img:1": 8, "img:2": 5}
    rs = replica_sets(c)
    assert [x["metadata"]["annotations"][MAX_REPLICAS] for x in rs] == ["13", "13"]
    return c


def test_proportional_scale_up_mid_rollout() -> None:
    """10 → 20 at 8 old / 5 new: surge 5, allowed 25, toAdd 12.

    old: round(8·25/13) - 8 = 7, new: min(round(5·25/13) - 5, 12 - 7) = 5.
    """
    c = advance(advance(scale(_stuck_mid_rollout(), 20)), 1)
    assert sizes(c) == {"img:1": 15, "img:2": 10}
    for rs in replica_sets(c):
        assert rs["metadata"]["annotations"][DESIRED_REPLICAS] == "20"
        assert rs["metadata"]["annotations"][MAX_REPLICAS] == "25"


def test_proportional_scale_down_mid_rollout() -> None:
    """10 → 5: surge 2, allowed 7, toAdd -6; old first: round(8·7/13) - 8 = -4, new -2."""
    c = advance(advance(scale(_stuck_mid_rollout(), 5)), 1)
    assert sizes(c) == {"img:1": 4, "img:2": 3}
    assert {rs["metadata"]["annotations"][MAX_REPLICAS] for rs in replica_sets(c)} == {"7"}


def test_scaling_to_zero_mid_rollout_empties_every_rs() -> None:
    c = advance(advance(scale(_stuck_mid_rollout(), 0)), 1)
    assert sizes(c) == {"img:1": 0, "img:2": 0}
    assert live_pods(c) == []
    c = advance(advance(scale(c, 4)), 1)
    # From zero no proportions exist: the newest RS takes it all (FindActiveOrLatest).
    assert sizes(c) == {"img:1": 0, "img:2": 4}


def test_percentages_round_surge_up_and_unavailable_down() -> None:
    # D=5 at 25%/25%: surge ceil(1.25) = 2, unavailable floor(1.25) = 1.
    c = rolled_out(5, minReadySeconds=5)
    since = mark(c)
    c = advance(set_image(c, "img:2"))
    assert scale_history(c, since) == [("img:2", 2), ("img:1", 4), ("img:2", 3)]
    assert max_replicas(c) == {"7"}


def max_replicas(c: Cluster) -> set[str]:
    return {rs["metadata"]["annotations"][MAX_REPLICAS] for rs in replica_sets(c)}


def _half_and_half(controller: DeploymentController | None = None) -> Cluster:
    """D=4, maxSurge 0, maxUnavailable 2, new pods stuck: 2 old and 2 new, max-replicas 4."""
    c = settle(create(cluster(controller), deployment(4, strategy=strategy(0, 2))))
    c = fail_image(c, "img:2")
    c = advance(advance(set_image(c, "img:2")), 1)
    assert sizes(c) == {"img:1": 2, "img:2": 2}
    return c


def test_proportional_scaling_gives_the_rounding_to_the_newer_only_once() -> None:
    # 4 → 5: allowed 5, toAdd 1; each RS's share is round(2·5/4) - 2 = 1, but only 1 is left.
    c = advance(advance(scale(_half_and_half(), 5)), 1)
    assert sizes(c) == {"img:1": 2, "img:2": 3}
    assert len(live_pods(c)) == 5


def test_mutant_rounding_each_alone_overshoots_the_surge_28145() -> None:
    c = _half_and_half(DeploymentController(rounds_each_alone=True))
    c = advance(advance(scale(c, 5)), 1)
    assert sizes(c) == {"img:1": 3, "img:2": 3}
    assert len(live_pods(c)) == 6  # above replicas + maxSurge = 5


def test_scaling_a_complete_deployment_scales_its_only_rs() -> None:
    c = rolled_out(3)
    c = settle(scale(c, 6))
    assert sizes(c) == {"img:1": 6}
    (rs,) = replica_sets(c)
    assert rs["metadata"]["annotations"][DESIRED_REPLICAS] == "6"
    assert rs["metadata"]["annotations"][MAX_REPLICAS] == "8"


# -- pause -----------------------------------------------------------------------------------


def test_paused_deployment_scales_but_does_not_roll_out() -> None:
    c = rolled_out(3)
    c = settle(update_spec(c, paused=True))
    assert reason(c) == ("Unknown", "DeploymentPaused")
    c = settle(set_image(c, "img:2"))
    assert sizes(c) == {"img:1": 3}
    assert pod_images(c) == {"img:1": 3}
    c = settle(scale(c, 5))
    assert sizes(c) == {"img:1": 5}
    assert get(c)["metadata"]["annotations"][REVISION] == "1"
    c = settle(update_spec(c, paused=False))
    assert sizes(c) == {"img:1": 0, "img:2": 5}
    assert reason(c) == ("True", "NewReplicaSetAvailable")


def test_mutant_ignoring_pause_rolls_out() -> None:
    c = settle(create(cluster(DeploymentController(honours_pause=False)), deployment(3)))
    c = settle(update_spec(c, paused=True))
    c = settle(set_image(c, "img:2"))
    assert sizes(c) == {"img:1": 0, "img:2": 3}


def test_resuming_sets_deployment_resumed_before_progress() -> None:
    c = rolled_out(3)
    c = settle(update_spec(c, paused=True))
    c = fail_image(c, "img:2")
    c = set_image(c, "img:2")
    c = advance(update_spec(c, paused=False))
    assert reason(c) == ("True", "ReplicaSetUpdated")


# -- revisions, rollback, history ------------------------------------------------------------


def test_revisions_and_rollback_by_copying_an_old_template() -> None:
    c = rolled_out(2)
    first = replica_sets(c)[0]
    assert first["metadata"]["annotations"][REVISION] == "1"
    d = get(c)
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert d["metadata"]["generation"] == 1
    c = settle(set_image(c, "img:2"))
    assert get(c)["metadata"]["annotations"][REVISION] == "2"
    assert get(c)["metadata"]["generation"] == 2
    # kubectl rollout undo: copy revision 1's template without its pod-template-hash label.
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"][HASH]
    c = settle(update_spec(c, template=template))
    rs = {x["metadata"]["name"]: x for x in replica_sets(c)}
    back = rs[first["metadata"]["name"]]
    assert back["metadata"]["uid"] == first["metadata"]["uid"]  # reused, not a new RS
    assert back["metadata"]["annotations"][REVISION] == "3"
    assert back["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert back["spec"]["replicas"] == 2
    assert len(rs) == 2
    assert get(c)["metadata"]["annotations"][REVISION] == "3"
    assert get(c)["metadata"]["generation"] == 3  # the annotation itself bumped nothing
    assert pod_images(c) == {"img:1": 2}
    # And forth again: revision 2's RS becomes revision 4.
    c = settle(set_image(c, "img:2"))
    by_image = {image_of(x): x for x in replica_sets(c)}
    assert by_image["img:2"]["metadata"]["annotations"][REVISION] == "4"
    assert by_image["img:2"]["metadata"]["annotations"][REVISION_HISTORY] == "2"


def test_revision_annotation_is_written_without_a_generation_bump() -> None:
    c = settle(create(cluster(), deployment(2)))
    d = get(c)
    assert d["metadata"]["annotations"] == {REVISION: "1"}
    assert d["metadata"]["generation"] == 1
    assert d["status"]["observedGeneration"] == 1


def test_revision_history_limit_deletes_the_oldest_revisions() -> None:
    c = rolled_out(2, revisionHistoryLimit=2)
    for tag in range(2, 6):
        c = settle(set_image(c, f"img:{tag}"))
    assert [(image_of(rs), rs["metadata"]["annotations"][REVISION]) for rs in replica_sets(c)] == [
        ("img:3", "3"),
        ("img:4", "4"),
        ("img:5", "5"),
    ]
    c = settle(update_spec(c, revisionHistoryLimit=0))
    assert [image_of(rs) for rs in replica_sets(c)] == ["img:5"]


def test_history_cleanup_follows_revision_order_not_creation_order() -> None:
    c = rolled_out(2, revisionHistoryLimit=1)
    c = settle(set_image(c, "img:2"))
    first = next(rs for rs in replica_sets(c) if image_of(rs) == "img:1")
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"][HASH]
    c = settle(update_spec(c, template=template))  # rollback: img:1 is revision 3
    c = settle(set_image(c, "img:4"))
    # Old RSs: img:2 (rev 2, created second) and img:1 (rev 3, created first): rev 2 goes.
    assert [(image_of(rs), rs["metadata"]["annotations"][REVISION]) for rs in replica_sets(c)] == [
        ("img:1", "3"),
        ("img:4", "4"),
    ]


# -- hash collisions -------------------------------------------------------------------------

MODULUS = 4


def _colliding_image(c: Cluster) -> str:
    """An image whose template hashes (mod MODULUS) like the current one, but not with count 1."""
    template = get(c)["spec"]["template"]
    taken = template_hash(template, None, MODULUS)
    for tag in range(2, 200):
        other = copy.deepcopy(template)
        other["spec"]["containers"][0]["image"] = f"img:{tag}"
        if (
            template_hash(other, None, MODULUS) == taken
            and template_hash(other, 1, MODULUS) != taken
        ):
            return f"img:{tag}"
    raise AssertionError("no colliding image")


def test_hash_collision_bumps_the_collision_count() -> None:
    c = settle(create(cluster(DeploymentController(hash_modulus=MODULUS)), deployment(2)))
    (first,) = replica_sets(c)
    image = _colliding_image(c)
    c = settle(set_image(c, image))
    assert dstatus(c)["collisionCount"] == 1
    template = get(c)["spec"]["template"]
    new_hash = template_hash(template, 1, MODULUS)
    assert sizes(c) == {"img:1": 0, image: 2}
    new = next(rs for rs in replica_sets(c) if image_of(rs) == image)
    assert new["metadata"]["name"] == f"web-{new_hash}"
    assert new["metadata"]["labels"][HASH] == new_hash
    assert new["spec"]["selector"]["matchLabels"] == {"app": "web", HASH: new_hash}
    assert first["metadata"]["name"] == f"web-{template_hash(template, None, MODULUS)}"


def test_mutant_not_bumping_the_collision_count_is_stuck_29735() -> None:
    controller = DeploymentController(hash_modulus=MODULUS, bumps_collision_count=False)
    c = settle(create(cluster(controller), deployment(2)))
    image = _colliding_image(c)
    c = settle(set_image(c, image))
    assert "collisionCount" not in dstatus(c)
    assert sizes(c) == {"img:1": 2}
    assert pod_images(c) == {"img:1": 2}


# -- status and conditions -------------------------------------------------------------------


def test_status_fields_during_and_after_a_rollout() -> None:
    c = rolled_out(4, minReadySeconds=5)
    st = dstatus(c)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 4,
        "updatedReplicas": 4,
        "readyReplicas": 4,
        "availableReplicas": 4,
    }
    c = advance(set_image(c, "img:2"))  # surge 1, unavailable 1: new 2, old 3
    assert sizes(c) == {"img:1": 3, "img:2": 2}
    st = dstatus(c)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 2,
        "replicas": 5,
        "updatedReplicas": 2,
        "readyReplicas": 5,
        "availableReplicas": 3,
        "unavailableReplicas": 2,
    }
    assert reason(c, "Available") == ("True", "MinimumReplicasAvailable")


def test_progressing_goes_created_updated_available() -> None:
    c = create(cluster(), deployment(2, minReadySeconds=5))
    c = settle(advance(c, 6))
    _, answer = ok(c, {"op": "watch", "kind": "Deployment", "resourceVersion": "1"})
    progressing: list[str] = []
    available: list[str] = []
    for event in answer["events"]:
        st = event["object"].get("status") or {}
        for kind, seen in (("Progressing", progressing), ("Available", available)):
            cond = condition(st, kind)
            if cond is not None and (not seen or seen[-1] != cond["reason"]):
                seen.append(cond["reason"])
    assert progressing == ["NewReplicaSetCreated", "ReplicaSetUpdated", "NewReplicaSetAvailable"]
    # maxUnavailable 25% of 2 rounds down to 0: both pods must be available.
    assert available == ["MinimumReplicasUnavailable", "MinimumReplicasAvailable"]
    cond = condition(dstatus(c), "Progressing")
    assert cond is not None
    name = replica_sets(c)[0]["metadata"]["name"]
    assert cond["status"] == "True"
    assert cond["message"] == f'ReplicaSet "{name}" has successfully progressed.'
    assert cond["lastUpdateTime"] == "2025-01-01T00:00:05Z"
    assert cond["lastTransitionTime"] == "2025-01-01T00:00:00Z"


def test_available_condition_false_below_the_floor() -> None:
    c = cluster()
    c = fail_image(c, "img:1")
    c = advance(advance(create(c, deployment(4))), 30)
    assert reason(c, "Available") == ("False", "MinimumReplicasUnavailable")
    c = settle(advance(fail_image(c, "img:1", False), 400))
    assert reason(c, "Available") == ("True", "MinimumReplicasAvailable")


def test_progress_deadline_exceeded_with_a_stuck_rollout() -> None:
    c = rolled_out(3, progressDeadlineSeconds=30)
    c = fail_image(c, "img:2")
    c = advance(set_image(c, "img:2"))
    assert reason(c) == ("True", "ReplicaSetUpdated")
    c = advance(c, 29)
    assert reason(c) == ("True", "ReplicaSetUpdated")
    c = advance(c, 3)
    assert reason(c) == ("False", "ProgressDeadlineExceeded")
    cond = condition(dstatus(c), "Progressing")
    assert cond is not None and "has timed out progressing" in cond["message"]
    # The deadline only reports: the rollout still holds its place.
    assert sizes(c) == {"img:1": 3, "img:2": 1}


def test_a_timed_out_rollout_that_recovers_completes() -> None:
    c = rolled_out(3, progressDeadlineSeconds=30)
    c = fail_image(c, "img:2")
    c = advance(advance(set_image(c, "img:2")), 40)
    assert reason(c) == ("False", "ProgressDeadlineExceeded")
    c = settle(advance(fail_image(c, "img:2", False), 400), 600)
    assert sizes(c) == {"img:1": 0, "img:2": 3}
    assert reason(c) == ("True", "NewReplicaSetAvailable")


def test_observed_generation_follows_each_spec_change() -> None:
    c = rolled_out(2)
    c = settle(scale(c, 3))
    assert get(c)["metadata"]["generation"] == 2
    assert dstatus(c)["observedGeneration"] == 2
    c = settle(set_image(c, "img:2"))
    assert get(c)["metadata"]["generation"] == 3
    assert dstatus(c)["observedGeneration"] == 3


@pytest.mark.parametrize("replicas", [1, 4, 10])
def test_rollout_converges(replicas: int) -> None:
    c = rolled_out(replicas)
    c = settle(set_image(c, "img:2"))
    assert sizes(c) == {"img:1": 0, "img:2": replicas}
    assert pod_images(c) == {"img:2": replicas}


# -- more mutants ----------------------------------------------------------------------------


def test_mutant_counting_created_as_available_finishes_a_broken_rollout_22719() -> None:
    c = settle(
        create(cluster(DeploymentController(counts_created_as_available=True)), deployment(10))
    )
    c = fail_image(c, "img:2")
    c = advance(advance(set_image(c, "img:2")), 30)
    # Every old pod is gone for new ones that never become available.
    assert sizes(c) == {"img:1": 0, "img:2": 10}
    assert "availableReplicas" not in dstatus(c)
    assert reason(c, "Available") == ("False", "MinimumReplicasUnavailable")


def test_mutant_not_renumbering_on_rollback_keeps_the_old_revision() -> None:
    c = settle(create(cluster(DeploymentController(renumbers_on_rollback=False)), deployment(2)))
    first = replica_sets(c)[0]
    c = settle(set_image(c, "img:2"))
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"][HASH]
    c = settle(update_spec(c, template=template))
    back = next(rs for rs in replica_sets(c) if rs["metadata"]["uid"] == first["metadata"]["uid"])
    assert back["spec"]["replicas"] == 2
    assert back["metadata"]["annotations"][REVISION] == "1"
    assert get(c)["metadata"]["annotations"][REVISION] == "1"


def _replacing_slowly(controller: DeploymentController) -> list[tuple[int, int, dict[str, int]]]:
    """D=4, surge 1, TerminationComplete; old pods take 30 s to go: (live, terminating, sizes)."""
    d = deployment(
        4,
        strategy=strategy(1, 0),
        podReplacementPolicy="TerminationComplete",
        minReadySeconds=5,
    )
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    c = settle(advance(settle(create(cluster(controller), d)), 6))
    assert get(c)["spec"]["podReplacementPolicy"] == "TerminationComplete"
    c = advance(set_image(c, "img:2"))
    samples = []
    for _ in range(6):
        c = advance(c, 3)
        samples.append((len(live_pods(c)), len(_terminating(c)), sizes(c)))
    return samples


def test_surge_counts_terminating_pods_under_termination_complete() -> None:
    samples = _replacing_slowly(DeploymentController())
    # The old pod still terminating uses up the surge: the new RS waits at 1 while it goes.
    assert samples[1:] == [(4, 1, {"img:1": 3, "img:2": 1})] * 5


def test_mutant_surging_past_terminating_pods_95498() -> None:
    samples = _replacing_slowly(DeploymentController(surge_ignores_terminating=True))
    assert samples[1] == (5, 1, {"img:1": 3, "img:2": 2})
    assert samples[3] == (5, 2, {"img:1": 2, "img:2": 3})
    assert max(live + gone for live, gone, _ in samples) == 8  # 4 + 1 allowed


def test_the_replicaset_counts_the_pods_it_deletes_as_terminating_in_the_same_pass() -> None:
    """The reference's choice behind the strict `workloads.surge-counts-terminating`: after every
    step Σ spec.replicas + Σ terminatingReplicas stays within replicas + maxSurge."""
    d = deployment(4, strategy=strategy(1, 0), podReplacementPolicy="TerminationComplete")
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    c = settle(create(cluster(), d))
    c = set_image(c, "img:2")
    for _ in range(150):
        c = advance(c, 1)
        sets = replica_sets(c)
        gone = sum(rs.get("status", {}).get("terminatingReplicas", 0) for rs in sets)
        assert sum(rs["spec"]["replicas"] for rs in sets) + gone <= 5
        assert gone == len(_terminating(c))
    assert sizes(c) == {"img:1": 0, "img:2": 4}


def _scaled_while_the_old_rs_already_matches(controller: DeploymentController) -> Cluster:
    """A lagging controller scales the old RS 3 -> 2 (surge 0) before the new RS grows; the user
    then scales the Deployment to 2: the only active RS already has the size, its
    desired-replicas annotation still says 3 (kubernetes#138036)."""
    c = cluster(controller)
    c, _ = ok(c, {"op": "controller.lag", "name": "deployment", "seconds": 5})
    c = advance(create(c, deployment(3, strategy=strategy(0, 1))), 10)
    c = advance(set_image(c, "img:2"), 4)
    c = advance(scale(c, 2), 2)
    c, _ = ok(c, {"op": "controller.lag", "name": "deployment", "seconds": 0})
    return settle(c, 60)


def test_a_stale_desired_replicas_annotation_is_refreshed_so_the_rollout_resumes() -> None:
    c = _scaled_while_the_old_rs_already_matches(DeploymentController())
    assert sizes(c) == {"img:1": 0, "img:2": 2}


def test_mutant_leaving_the_annotation_stale_never_resumes_the_rollout_138036() -> None:
    c = _scaled_while_the_old_rs_already_matches(
        DeploymentController(refreshes_stale_annotations=False)
    )
    assert sizes(c) == {"img:1": 2, "img:2": 0}
    old = replica_sets(c)[0]
    assert old["metadata"]["annotations"][DESIRED_REPLICAS] == "3"


def test_an_unknown_pod_replacement_policy_is_refused() -> None:
    _, answer = step(
        cluster(), {"op": "create", "object": deployment(2, podReplacementPolicy="Sometimes")}
    )
    assert answer["ok"] is False
    assert answer["status"]["code"] == 422
    assert answer["status"]["details"]["causes"][0]["field"] == "spec.podReplacementPolicy"


# -- annotations, minReadySeconds, adoption --------------------------------------------------


def test_deployment_annotations_are_copied_to_the_new_rs_except_the_skipped_ones() -> None:
    d = deployment(2)
    d["metadata"]["annotations"] = {
        "team": "blue",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    c = settle(create(cluster(), d))
    (rs,) = replica_sets(c)
    assert rs["metadata"]["annotations"] == {
        "team": "blue",
        REVISION: "1",
        DESIRED_REPLICAS: "2",
        MAX_REPLICAS: "3",
    }
    assert rs["metadata"]["labels"] == {"app": "web", HASH: rs["metadata"]["labels"][HASH]}
    assert rs["metadata"]["name"] == f"web-{rs['metadata']['labels'][HASH]}"
    assert rs["spec"]["template"]["metadata"]["labels"][HASH] == rs["metadata"]["labels"][HASH]


def test_min_ready_seconds_follows_the_deployment_without_a_new_rs() -> None:
    c = rolled_out(2)
    (before,) = replica_sets(c)
    c = settle(update_spec(c, minReadySeconds=7))
    (after,) = replica_sets(c)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["minReadySeconds"] == 7
    assert after["metadata"]["annotations"][REVISION] == "1"


def test_an_orphan_rs_with_the_same_template_is_adopted_as_the_new_rs() -> None:
    c = cluster()
    d = deployment(2)
    orphan = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-orphan", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": copy.deepcopy(d["spec"]["template"]),
        },
    }
    c = settle(create(c, orphan))
    c = settle(create(c, d))
    (rs,) = replica_sets(c)
    assert rs["metadata"]["name"] == "web-orphan"
    refs = rs["metadata"]["ownerReferences"]
    assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [
        ("Deployment", get(c)["metadata"]["uid"], True)
    ]
    assert rs["spec"]["replicas"] == 2
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert len(live_pods(c)) == 2


# -- known divergences -----------------------------------------------------------------------


def test_replica_failure_is_copied_from_the_rs() -> None:
    d = deployment(2)
    d["spec"]["template"]["spec"]["priorityClassName"] = "gold"
    c = advance(advance(create(cluster(), d)), 0.5)
    cond = condition(dstatus(c), "ReplicaFailure")
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("True", "FailedCreate")


@pytest.mark.xfail(
    strict=True,
    reason="known divergence: checkPausedConditions writes Progressing=Unknown/"
    "DeploymentResumed with its own UpdateStatus upstream; the reference folds it into the"
    " sync's single status write, so it is never observable",
)
def test_resume_is_written_as_deployment_resumed() -> None:
    c = rolled_out(3)
    c = settle(update_spec(c, paused=True))
    since = mark(c)[0]
    c = settle(update_spec(c, paused=False))
    _, answer = ok(c, {"op": "watch", "kind": "Deployment", "resourceVersion": str(since)})
    reasons = [
        cond["reason"]
        for event in answer["events"]
        if (cond := condition(event["object"].get("status") or {}, "Progressing")) is not None
    ]
    assert "DeploymentResumed" in reasons
    assert reasons[-1] == "NewReplicaSetAvailable"
