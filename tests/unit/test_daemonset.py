"""The DaemonSet controller and its ControllerRevision history, driven through `step`.

Upstream facts are pkg/controller/daemon (daemon_controller.go, update.go,
util/daemonset_util.go) and pkg/controller/history; the cluster runs the
default components plus the DaemonSet controller (or one of its mutants).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from reference.api.server import handle
from reference.cluster import Cluster, Components, new_cluster, step
from reference.controllers import history
from reference.controllers.daemonset import (
    TEMPLATE_GENERATION_LABEL,
    DaemonSetController,
    daemon_tolerations,
    node_should_run,
)

Obj = dict[str, Any]

HASH = "controller-revision-hash"
#: Pods that go at once when deleted, so that updates move without waiting for terminations.
QUICK = {"terminationGracePeriodSeconds": 0}

# -- helpers ---------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def cluster(*names: str, controller: DaemonSetController | None = None, **labels: str) -> Cluster:
    c = new_cluster(0, Components().replacing(controller or DaemonSetController()))
    for name in names:
        c = add_node(c, name, **labels)
    return c


def add_node(c: Cluster, name: str, **labels: str) -> Cluster:
    request: Obj = {"op": "node.add", "name": name, "capacity": {"cpu": "4", "memory": "8Gi"}}
    if labels:
        request["labels"] = labels
    c, _ = ok(c, request)
    return c


def daemonset(name: str = "agent", image: str = "agent:1", **spec: Any) -> Obj:
    body: Obj = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "a", "image": image}]},
        },
    }
    template_spec = spec.pop("template_spec", None)
    if template_spec:
        body["template"]["spec"].update(template_spec)
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": body,
    }


def create(c: Cluster, obj: Obj) -> Cluster:
    c, _ = ok(c, {"op": "create", "object": obj})
    return c


def advance(c: Cluster, seconds: float = 0) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": seconds})
    return c


def settle(c: Cluster, seconds: float = 120) -> Cluster:
    c, answer = ok(c, {"op": "settle", "max_seconds": seconds})
    assert answer["settled"] is True
    return c


def get(c: Cluster, kind: str, name: str, namespace: str | None = "default") -> Obj | None:
    request: Obj = {"op": "get", "kind": kind, "name": name}
    if namespace is not None:
        request["namespace"] = namespace
    _, answer = step(c, request)
    if not answer["ok"]:
        assert answer["status"]["code"] == 404, answer
        return None
    found: Obj = answer["object"]
    return found


def listing(c: Cluster, kind: str) -> list[Obj]:
    _, answer = ok(c, {"op": "list", "kind": kind, "namespace": "default"})
    items: list[Obj] = answer["items"]
    return items


def pods(c: Cluster, *, alive: bool = True) -> list[Obj]:
    """The DaemonSet's pods (not being deleted, unless alive=False), by name."""
    found = [
        p
        for p in listing(c, "Pod")
        if any(r.get("kind") == "DaemonSet" for r in p["metadata"].get("ownerReferences") or [])
        and (not alive or "deletionTimestamp" not in p["metadata"])
    ]
    return sorted(found, key=lambda p: p["metadata"]["name"])


def per_node(c: Cluster) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in pods(c):
        node = p["spec"].get("nodeName") or "<unbound>"
        counts[node] = counts.get(node, 0) + 1
    return counts


def images(c: Cluster) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in pods(c):
        out.setdefault(p["spec"].get("nodeName") or "", []).append(
            p["spec"]["containers"][0]["image"]
        )
    return {k: sorted(v) for k, v in sorted(out.items())}


def status(c: Cluster, name: str = "agent") -> Obj:
    ds = get(c, "DaemonSet", name)
    assert ds is not None
    found: Obj = ds.get("status") or {}
    return found


def patch(c: Cluster, kind: str, name: str, body: Obj, namespace: str | None = None) -> Cluster:
    request: Obj = {"op": "patch", "kind": kind, "name": name, "patch": body}
    if namespace is not None:
        request["namespace"] = namespace
    c, _ = ok(c, request)
    return c


def taint(c: Cluster, node: str, key: str, effect: str) -> Cluster:
    current = get(c, "Node", node, None)
    assert current is not None
    taints = [*current["spec"].get("taints", []), {"key": key, "effect": effect}]
    return patch(c, "Node", node, {"spec": {"taints": taints}})


def cordon(c: Cluster, node: str) -> Cluster:
    return patch(c, "Node", node, {"spec": {"unschedulable": True}})


def set_image(c: Cluster, image: str, name: str = "agent") -> Cluster:
    ds = get(c, "DaemonSet", name)
    assert ds is not None
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = image
    c, _ = ok(c, {"op": "update", "object": ds})
    return c


def fail_pod(c: Cluster, pod: Obj) -> Cluster:
    """The pod marked Failed as its kubelet would (a status write only the system may send)."""
    body = copy.deepcopy(pod)
    body["status"]["phase"] = "Failed"
    api, answer = handle(
        c.api, {"op": "status", "object": body}, c.now, c.components.api, system=True
    )
    assert answer["ok"] is True, answer
    return attrs.evolve(c, api=api)


def revisions(c: Cluster) -> list[Obj]:
    return sorted(listing(c, "ControllerRevision"), key=lambda r: r["revision"])


# -- placement -------------------------------------------------------------------------------


def test_one_pod_per_node_including_cordoned_ones() -> None:
    c = cluster("n1", "n2", "n3")
    c = cordon(c, "n3")
    c = settle(create(c, daemonset()))
    assert per_node(c) == {"n1": 1, "n2": 1, "n3": 1}
    assert all(p["status"]["phase"] == "Running" for p in pods(c))
    st = status(c)
    assert st["desiredNumberScheduled"] == 3
    assert st["currentNumberScheduled"] == 3
    assert st["numberReady"] == 3
    assert st["numberAvailable"] == 3
    assert st["updatedNumberScheduled"] == 3
    assert st["numberMisscheduled"] == 0
    assert "numberUnavailable" not in st  # omitempty: zero is not stored
    assert st["observedGeneration"] == 1


def test_daemon_pods_carry_the_node_affinity_and_the_daemon_tolerations() -> None:
    c = settle(create(cluster("n1"), daemonset(template_spec={"hostNetwork": True})))
    (pod,) = pods(c)
    required = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    ]
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/network-unavailable", "NoSchedule"),
    } <= keys
    assert pod["metadata"]["labels"][TEMPLATE_GENERATION_LABEL] == "1"
    assert pod["metadata"]["ownerReferences"][0]["controller"] is True


def test_daemon_tolerations_replace_a_matching_one_and_keep_the_rest() -> None:
    spec = {
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 30,
            },
            {"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
        ]
    }
    out = daemon_tolerations(spec)
    assert out[0] == {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
    }
    assert out[1]["key"] == "dedicated"
    assert not any(t["key"] == "node.kubernetes.io/network-unavailable" for t in out)


def test_node_selector_limits_the_nodes() -> None:
    c = cluster("n1", "n2")
    c = add_node(c, "edge1", role="edge")
    c = settle(create(c, daemonset(template_spec={"nodeSelector": {"role": "edge"}})))
    assert per_node(c) == {"edge1": 1}
    assert status(c)["desiredNumberScheduled"] == 1


def test_untolerated_noschedule_stops_new_pods_but_keeps_running_ones() -> None:
    c = cluster("n1", "n2")
    c = taint(c, "n2", "dedicated", "NoSchedule")
    c = settle(create(c, daemonset()))
    assert per_node(c) == {"n1": 1}
    running = pods(c)[0]["metadata"]["uid"]
    c = settle(taint(c, "n1", "dedicated", "NoSchedule"))
    assert [p["metadata"]["uid"] for p in pods(c)] == [running]
    st = status(c)
    assert st["desiredNumberScheduled"] == 0
    assert st["numberMisscheduled"] == 1


def test_untolerated_noexecute_removes_the_pod() -> None:
    c = settle(create(cluster("n1", "n2"), daemonset()))
    c = settle(taint(c, "n1", "dedicated", "NoExecute"))
    assert per_node(c) == {"n2": 1}
    assert status(c)["desiredNumberScheduled"] == 1


def test_tolerated_taints_keep_placing() -> None:
    toleration = {"key": "dedicated", "operator": "Exists"}
    c = cluster("n1")
    c = taint(c, "n1", "dedicated", "NoExecute")
    c = settle(create(c, daemonset(template_spec={"tolerations": [toleration]})))
    assert per_node(c) == {"n1": 1}


def test_node_added_gets_a_pod_and_node_removed_loses_it() -> None:
    c = settle(create(cluster("n1"), daemonset()))
    c = settle(add_node(c, "n2"))
    assert per_node(c) == {"n1": 1, "n2": 1}
    c, _ = ok(c, {"op": "node.remove", "name": "n2"})
    c, _ = ok(c, {"op": "delete", "kind": "Node", "name": "n2"})
    c = advance(c)
    assert status(c)["desiredNumberScheduled"] == 1
    c = settle(c)  # the pod bound to the vanished node goes with PodGC (upstream too)
    assert per_node(c) == {"n1": 1}
    assert status(c)["desiredNumberScheduled"] == 1
    assert status(c)["currentNumberScheduled"] == 1


def test_node_should_run_answers_as_upstream() -> None:
    ds = daemonset()
    node: Obj = {"metadata": {"name": "n1", "labels": {}}, "spec": {}}
    assert node_should_run(node, ds) == (True, True)
    tainted = {**node, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}
    assert node_should_run(tainted, ds) == (False, True)
    assert node_should_run(tainted, ds, noschedule_evicts=True) == (False, False)
    evicting = {**node, "spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}
    assert node_should_run(evicting, ds) == (False, False)
    cordoned = {
        **node,
        "spec": {
            "unschedulable": True,
            "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}],
        },
    }
    assert node_should_run(cordoned, ds) == (True, True)
    assert node_should_run(cordoned, ds, skips_cordoned=True) == (False, True)
    named = daemonset(template_spec={"nodeName": "n2"})
    assert node_should_run(node, named) == (False, False)


# -- failed and excess pods ------------------------------------------------------------------


def test_failed_pod_is_deleted_and_replaced_with_backoff() -> None:
    c = settle(create(cluster("n1"), daemonset()))
    (first,) = pods(c)
    c = advance(fail_pod(c, first))
    (second,) = pods(c)
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    # Failing again at once: the back-off (1 s) holds the next delete.
    c = advance(fail_pod(c, second))
    (held,) = pods(c)
    assert held["metadata"]["uid"] == second["metadata"]["uid"]
    c = advance(c, 1)
    (third,) = pods(c)
    assert third["metadata"]["uid"] not in (first["metadata"]["uid"], second["metadata"]["uid"])


def test_excess_pods_on_a_node_keep_the_oldest() -> None:
    c = settle(create(cluster("n1"), daemonset()))
    (original,) = pods(c)
    extra = {
        "kind": "Pod",
        "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "agent"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "agent:1"}]},
    }
    c = settle(advance(create(advance(c, 5), extra)))
    assert [p["metadata"]["uid"] for p in pods(c)] == [original["metadata"]["uid"]]


# -- rolling update --------------------------------------------------------------------------


def test_rolling_update_with_max_unavailable_replaces_one_node_at_a_time() -> None:
    c = cluster("n1", "n2", "n3")
    c = settle(create(c, daemonset(minReadySeconds=10, template_spec=QUICK)))
    c = advance(c, 11)
    c = advance(set_image(c, "agent:2"))
    assert sum(i == ["agent:2"] for i in images(c).values()) == 1
    c = advance(c, 5)
    assert sum(i == ["agent:2"] for i in images(c).values()) == 1
    assert status(c)["numberUnavailable"] == 1
    c = advance(c, 6)
    assert sum(i == ["agent:2"] for i in images(c).values()) == 2
    c = settle(c)
    c = advance(c, 11)
    assert images(c) == {"n1": ["agent:2"], "n2": ["agent:2"], "n3": ["agent:2"]}
    assert status(c)["updatedNumberScheduled"] == 3


def test_rolling_update_with_max_surge_starts_the_new_pod_first() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    c = cluster("n1", "n2")
    c = settle(
        create(c, daemonset(minReadySeconds=10, updateStrategy=strategy, template_spec=QUICK))
    )
    c = advance(c, 11)
    c = advance(set_image(c, "agent:2"))
    assert images(c) == {"n1": ["agent:1", "agent:2"], "n2": ["agent:1"]}
    c = advance(c, 5)
    assert images(c) == {"n1": ["agent:1", "agent:2"], "n2": ["agent:1"]}
    c = advance(c, 6)
    assert images(c) == {"n1": ["agent:2"], "n2": ["agent:1", "agent:2"]}
    c = advance(c, 11)
    assert images(c) == {"n1": ["agent:2"], "n2": ["agent:2"]}


def test_on_delete_updates_only_the_pods_deleted_by_hand() -> None:
    c = cluster("n1", "n2")
    c = settle(create(c, daemonset(updateStrategy={"type": "OnDelete"}, template_spec=QUICK)))
    c = settle(set_image(c, "agent:2"))
    assert images(c) == {"n1": ["agent:1"], "n2": ["agent:1"]}
    assert status(c).get("updatedNumberScheduled", 0) == 0
    victim = next(p for p in pods(c) if p["spec"]["nodeName"] == "n1")
    c, _ = ok(
        c,
        {"op": "delete", "kind": "Pod", "namespace": "default", "name": victim["metadata"]["name"]},
    )
    c = settle(c)
    assert images(c) == {"n1": ["agent:2"], "n2": ["agent:1"]}
    assert status(c)["updatedNumberScheduled"] == 1


# -- ControllerRevisions ---------------------------------------------------------------------


def test_revisions_name_hash_and_renumber_on_rollback() -> None:
    c = settle(create(cluster("n1"), daemonset()))
    (first,) = revisions(c)
    first_hash = first["metadata"]["labels"][HASH]
    assert first["metadata"]["name"] == f"agent-{first_hash}"
    assert first["revision"] == 1
    assert first["data"]["spec"]["template"]["$patch"] == "replace"
    assert pods(c)[0]["metadata"]["labels"][HASH] == first_hash
    c = settle(set_image(c, "agent:2"))
    assert [r["revision"] for r in revisions(c)] == [1, 2]
    second_hash = revisions(c)[1]["metadata"]["labels"][HASH]
    assert second_hash != first_hash
    assert pods(c)[0]["metadata"]["labels"][HASH] == second_hash
    c = settle(set_image(c, "agent:1"))
    names = {r["metadata"]["name"]: r["revision"] for r in revisions(c)}
    assert names == {f"agent-{first_hash}": 3, f"agent-{second_hash}": 2}
    assert pods(c)[0]["metadata"]["labels"][HASH] == first_hash
    assert pods(c)[0]["metadata"]["labels"][TEMPLATE_GENERATION_LABEL] == "3"


def test_revision_history_limit_truncates_unused_revisions() -> None:
    c = settle(create(cluster("n1"), daemonset(revisionHistoryLimit=1)))
    for tag in range(2, 6):
        c = settle(set_image(c, f"agent:{tag}"))
    assert [r["revision"] for r in revisions(c)] == [4, 5]
    assert (
        revisions(c)[1]["data"]["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:5"
    )


def test_hash_collision_bumps_collision_count() -> None:
    c = cluster("n1", controller=DaemonSetController())
    c, _ = ok(c, {"op": "controller.lag", "name": "daemonset", "seconds": 5})
    c = create(c, daemonset())
    ds = get(c, "DaemonSet", "agent")
    assert ds is not None
    taken = history.template_hash(ds["spec"]["template"], None)
    squatter = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": f"agent-{taken}", "namespace": "default"},
        "data": {"other": True},
        "revision": 1,
    }
    c = create(c, squatter)
    c, _ = ok(c, {"op": "controller.lag", "name": "daemonset", "seconds": 0})
    c = settle(c)
    assert status(c)["collisionCount"] == 1
    ours = [r for r in revisions(c) if r["metadata"]["name"] != f"agent-{taken}"]
    assert [r["metadata"]["name"] for r in ours] == [
        f"agent-{history.template_hash(ds['spec']['template'], 1)}"
    ]
    assert per_node(c) == {"n1": 1}


# -- status ----------------------------------------------------------------------------------


def test_status_is_not_rewritten_when_nothing_changed() -> None:
    c = settle(create(cluster("n1"), daemonset()))
    before = get(c, "DaemonSet", "agent")
    c = settle(advance(c, 30))
    after = get(c, "DaemonSet", "agent")
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_status_counts_availability_after_min_ready_seconds() -> None:
    c = advance(create(cluster("n1", "n2"), daemonset(minReadySeconds=10)))
    st = status(c)
    assert st["numberReady"] == 2
    assert st.get("numberAvailable", 0) == 0
    assert st["numberUnavailable"] == 2
    c = advance(c, 11)
    assert status(c)["numberAvailable"] == 2
    assert "numberUnavailable" not in status(c)


# -- mutants ---------------------------------------------------------------------------------


def _lagging_second_node(controller: DaemonSetController) -> Cluster:
    """A node joins while the controller's view lags; something else moves the view meanwhile."""
    c = settle(create(cluster("n1", controller=controller), daemonset()))
    c, _ = ok(c, {"op": "controller.lag", "name": "daemonset", "seconds": 5})
    c = add_node(c, "n2")
    c = advance(c, 5.5)  # the view shows n2 (not yet the pod made for it)
    c = create(c, {"kind": "ConfigMap", "metadata": {"name": "tick", "namespace": "default"}})
    c = advance(c, 3)  # the view shows the second between, still without the pod
    c = create(c, {"kind": "ConfigMap", "metadata": {"name": "tock", "namespace": "default"}})
    c = advance(c, 0.5)
    return c


def test_expectations_keep_a_lagging_view_from_creating_twice() -> None:
    c = _lagging_second_node(DaemonSetController())
    assert per_node(c) == {"n1": 1, "n2": 1}


def test_mutant_without_expectations_creates_twice_54096() -> None:
    c = _lagging_second_node(DaemonSetController(expectations=False))
    assert per_node(c)["n2"] >= 2


def test_mutant_skipping_cordoned_nodes_60163() -> None:
    c = cluster("n1", "n2", controller=DaemonSetController(skips_cordoned=True))
    c = settle(create(cordon(c, "n2"), daemonset()))
    assert per_node(c) == {"n1": 1}
    c = cluster("n1", "n2")
    c = settle(create(cordon(c, "n2"), daemonset()))
    assert per_node(c) == {"n1": 1, "n2": 1}


def test_mutant_evicting_on_noschedule_48189() -> None:
    c = cluster("n1", controller=DaemonSetController(noschedule_evicts=True))
    c = settle(create(c, daemonset()))
    c = settle(taint(c, "n1", "dedicated", "NoSchedule"))
    assert per_node(c) == {}
    c = settle(create(cluster("n1"), daemonset()))
    c = settle(taint(c, "n1", "dedicated", "NoSchedule"))
    assert per_node(c) == {"n1": 1}


# -- history helpers -------------------------------------------------------------------------


def test_fnv_hashes_match_the_published_vectors() -> None:
    assert history.fnv32(b"") == 0x811C9DC5
    assert history.fnv32a(b"a") == 0xE40C292C
    assert history.fnv32a(b"foobar") == 0xBF9CF968
    assert history.fnv32(b"foobar") == 0x31F0B262


def test_safe_encode_uses_the_vowel_free_alphabet() -> None:
    assert history.safe_encode("0123456789") == "456789bcdf"


def test_revision_name_truncates_the_prefix() -> None:
    assert history.revision_name("web", "abc") == "web-abc"
    assert len(history.revision_name("x" * 300, "abcde")) == 223 + 1 + 5


def test_template_hash_depends_on_the_collision_count_and_not_on_key_order() -> None:
    a = {"metadata": {"labels": {"x": "1", "y": "2"}}, "spec": {"containers": []}}
    b = {"spec": {"containers": []}, "metadata": {"labels": {"y": "2", "x": "1"}}}
    assert history.template_hash(a, None) == history.template_hash(b, None)
    assert history.template_hash(a, None) != history.template_hash(a, 0)
    assert history.template_hash(a, 0) != history.template_hash(a, 1)
    assert history.revision_hash({"d": 1}, None) != history.revision_hash({"d": 1}, 1)


def _rev(name: str, number: int, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}, "revision": number, "data": {"n": name}}


def test_truncate_in_the_statefulset_and_the_daemonset_ways() -> None:
    revs = [_rev("a", 1), _rev("b", 2), _rev("c", 3), _rev("d", 4)]

    def live(r: Mapping[str, Any]) -> bool:
        return bool(r["metadata"]["name"] == "a")

    names = [r["metadata"]["name"] for r in history.truncate(revs, 1, live)]
    assert names == ["b", "c"]
    names = [r["metadata"]["name"] for r in history.truncate(revs, 1, live, live_count=True)]
    assert names == ["b", "c", "d"]
    assert history.truncate(revs, 4, live) == []


def test_equal_revision_compares_parsable_hash_labels_then_data() -> None:
    a = _rev("a", 1, **{history.HASH_LABEL: "12"})
    b = {**_rev("b", 2, **{history.HASH_LABEL: "13"}), "data": a["data"]}
    assert not history.equal_revision(a, b)
    c = {**_rev("c", 2, **{history.HASH_LABEL: "zz"}), "data": a["data"]}
    assert history.equal_revision(a, c)
    assert history.find_equal_revisions([a, b, c], a) == [a, c]


@pytest.mark.parametrize("count", [None, 0, 3])
def test_revision_create_request(count: int | None) -> None:
    ds = daemonset()
    ds["metadata"].update({"uid": "u1", "annotations": {"note": "x"}})
    hash_ = history.template_hash(ds["spec"]["template"], count)
    request = history.revision_create(ds, "DaemonSet", history.template_patch(ds), 7, hash_)
    obj = request["object"]
    assert request["op"] == "create"
    assert obj["metadata"]["name"] == f"agent-{hash_}"
    assert obj["metadata"]["labels"] == {"app": "agent", HASH: hash_}
    assert obj["metadata"]["annotations"] == {"note": "x"}
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert obj["revision"] == 7


def test_unbound_pod_aimed_at_a_vanished_node_is_deleted() -> None:
    big = {
        "containers": [{"name": "a", "image": "agent:1", "resources": {"requests": {"cpu": "8"}}}]
    }
    c = settle(create(cluster("n1", "n2"), daemonset(template_spec=big)))
    assert per_node(c) == {"<unbound>": 2}
    c, _ = ok(c, {"op": "node.remove", "name": "n2"})
    c, _ = ok(c, {"op": "delete", "kind": "Node", "name": "n2"})
    c = advance(c)
    targets = [
        p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ][0]["matchFields"][0]["values"]
        for p in pods(c)
    ]
    assert targets == [["n1"]]


def test_daemon_pods_stay_on_an_unreachable_node() -> None:
    c = settle(create(cluster("n1", "n2"), daemonset()))
    before = {p["metadata"]["uid"] for p in pods(c)}
    c, _ = ok(c, {"op": "node.partition", "name": "n2"})
    c = advance(c, 400)
    node = get(c, "Node", "n2", None)
    assert node is not None
    assert any(t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints", []))
    assert {p["metadata"]["uid"] for p in pods(c)} == before
