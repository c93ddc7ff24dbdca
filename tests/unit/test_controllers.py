"""The garbage collector and the namespace controller, driven through `step`.

Upstream behaviour is docs/upstream-checks.md Q6 and Q12 (garbage collector)
and Q8 (namespaces).
"""

from __future__ import annotations

from typing import Any

import pytest

from reference import Cluster, new_cluster, step

Answer = dict[str, Any]

# -- helpers ---------------------------------------------------------------------------------


def ok(cluster: Cluster, request: dict[str, Any]) -> tuple[Cluster, Answer]:
    cluster, answer = step(cluster, request)
    assert answer["ok"] is True, answer
    return cluster, answer


def create(cluster: Cluster, obj: dict[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = ok(cluster, {"op": "create", "object": obj})
    return cluster, answer["object"]


def find(
    cluster: Cluster, kind: str, name: str, namespace: str | None = None
) -> dict[str, Any] | None:
    request: dict[str, Any] = {"op": "get", "kind": kind, "name": name}
    if namespace is not None:
        request["namespace"] = namespace
    _, answer = step(cluster, request)
    if answer["ok"]:
        return dict(answer["object"])
    assert answer["status"]["code"] == 404, answer
    return None


def advance(cluster: Cluster, seconds: float = 0) -> Cluster:
    cluster, _ = ok(cluster, {"op": "advance", "seconds": seconds})
    return cluster


def settle(cluster: Cluster) -> Cluster:
    cluster, answer = ok(cluster, {"op": "settle", "max_seconds": 60})
    assert answer["settled"] is True
    return cluster


def ref(
    owner: dict[str, Any], *, block: bool | None = None, controller: bool | None = None
) -> dict[str, Any]:
    r = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block is not None:
        r["blockOwnerDeletion"] = block
    if controller is not None:
        r["controller"] = controller
    return r


def configmap(
    name: str, namespace: str = "default", owners: tuple[dict[str, Any], ...] = (), **meta: Any
) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": namespace, **meta}
    if owners:
        m["ownerReferences"] = list(owners)
    return {"kind": "ConfigMap", "metadata": m, "data": {"k": "v"}}


def pod(
    name: str, owners: tuple[dict[str, Any], ...] = (), namespace: str = "default"
) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": "web"}}
    if owners:
        m["ownerReferences"] = list(owners)
    return {"kind": "Pod", "metadata": m, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def workload(kind: str, name: str, owners: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    if owners:
        m["ownerReferences"] = list(owners)
    return {
        "kind": kind,
        "metadata": m,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def delete(
    cluster: Cluster, kind: str, name: str, namespace: str | None = None, **options: Any
) -> Cluster:
    request: dict[str, Any] = {"op": "delete", "kind": kind, "name": name, **options}
    if namespace is not None:
        request["namespace"] = namespace
    cluster, _ = ok(cluster, request)
    return cluster


def owner_uids(obj: dict[str, Any]) -> list[str]:
    return [r["uid"] for r in obj["metadata"].get("ownerReferences") or []]


@pytest.fixture
def cluster() -> Cluster:
    return new_cluster(3)


# -- propagation -----------------------------------------------------------------------------


def test_background_delete_collects_dependents_on_the_next_advance(cluster: Cluster) -> None:
    cluster, owner = create(cluster, configmap("owner"))
    cluster, child = create(cluster, configmap("child", owners=(ref(owner),)))
    cluster, _ = create(cluster, configmap("grandchild", owners=(ref(child),)))
    cluster, _ = create(cluster, configmap("bystander"))
    cluster = delete(cluster, "ConfigMap", "owner")
    # Nothing runs between requests.
    assert find(cluster, "ConfigMap", "child") is not None
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "child") is None
    assert find(cluster, "ConfigMap", "grandchild") is None
    assert find(cluster, "ConfigMap", "bystander") is not None


def test_background_delete_through_a_workload_chain(cluster: Cluster) -> None:
    cluster, d = create(cluster, workload("Deployment", "web"))
    cluster, rs = create(
        cluster, workload("ReplicaSet", "web-1", owners=(ref(d, block=True, controller=True),))
    )
    cluster, _ = create(cluster, pod("web-1-a", owners=(ref(rs, block=True, controller=True),)))
    cluster = delete(cluster, "Deployment", "web")
    cluster = settle(cluster)
    assert find(cluster, "ReplicaSet", "web-1") is None
    assert find(cluster, "Pod", "web-1-a") is None


def test_orphan_delete_keeps_dependents_and_removes_the_reference(cluster: Cluster) -> None:
    cluster, owner = create(cluster, configmap("owner"))
    cluster, other = create(cluster, configmap("other"))
    cluster, _ = create(cluster, configmap("child", owners=(ref(owner),)))
    cluster, _ = create(cluster, configmap("shared", owners=(ref(owner), ref(other))))
    cluster = delete(cluster, "ConfigMap", "owner", propagationPolicy="Orphan")
    held = find(cluster, "ConfigMap", "owner")
    assert held is not None and held["metadata"]["finalizers"] == ["orphan"]
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "owner") is None
    child = find(cluster, "ConfigMap", "child")
    assert child is not None and owner_uids(child) == []
    shared = find(cluster, "ConfigMap", "shared")
    assert shared is not None and owner_uids(shared) == [other["metadata"]["uid"]]
    # And they stay: nothing collects them later.
    cluster = settle(cluster)
    assert find(cluster, "ConfigMap", "child") is not None


def test_orphan_delete_without_dependents_just_goes(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("lonely"))
    cluster = delete(cluster, "ConfigMap", "lonely", propagationPolicy="Orphan")
    assert find(cluster, "ConfigMap", "lonely") is not None
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "lonely") is None


def test_foreground_owner_stays_until_blocking_dependents_are_gone(cluster: Cluster) -> None:
    cluster, owner = create(cluster, configmap("owner"))
    cluster, _ = create(
        cluster,
        configmap("blocker", owners=(ref(owner, block=True),), finalizers=["example.com/hold"]),
    )
    cluster, _ = create(cluster, configmap("free", owners=(ref(owner, block=False),)))
    cluster = delete(cluster, "ConfigMap", "owner", propagationPolicy="Foreground")
    cluster = settle(cluster)
    held = find(cluster, "ConfigMap", "owner")
    assert held is not None
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert held["metadata"].get("deletionTimestamp")
    blocker = find(cluster, "ConfigMap", "blocker")
    assert blocker is not None and blocker["metadata"].get("deletionTimestamp")
    assert find(cluster, "ConfigMap", "free") is None
    cluster, _ = ok(
        cluster,
        {
            "op": "patch",
            "kind": "ConfigMap",
            "name": "blocker",
            "patch": {"metadata": {"finalizers": None}},
        },
    )
    assert find(cluster, "ConfigMap", "blocker") is None
    assert find(cluster, "ConfigMap", "owner") is not None
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "owner") is None


def test_foreground_owner_is_not_held_by_non_blocking_dependents(cluster: Cluster) -> None:
    cluster, owner = create(cluster, configmap("owner"))
    cluster, _ = create(
        cluster, configmap("free", owners=(ref(owner),), finalizers=["example.com/hold"])
    )
    cluster = delete(cluster, "ConfigMap", "owner", propagationPolicy="Foreground")
    cluster = settle(cluster)
    assert find(cluster, "ConfigMap", "owner") is None
    free = find(cluster, "ConfigMap", "free")
    assert free is not None and free["metadata"].get("deletionTimestamp")


def test_foreground_propagates_foreground_to_dependents_with_dependents(cluster: Cluster) -> None:
    """Q12: no solid owner, an owner waiting for dependents, and the item has dependents
    of its own: the GC deletes the item with Foreground too."""
    cluster, d = create(cluster, workload("Deployment", "web"))
    cluster, rs = create(cluster, workload("ReplicaSet", "web-1", owners=(ref(d, block=True),)))
    start = str(cluster.revision)
    cluster, _ = create(cluster, pod("web-1-a", owners=(ref(rs, block=True),)))
    cluster = delete(cluster, "Deployment", "web", propagationPolicy="Foreground")
    cluster = settle(cluster)
    for kind, name in (("Deployment", "web"), ("ReplicaSet", "web-1"), ("Pod", "web-1-a")):
        assert find(cluster, kind, name) is None, name
    _, watched = ok(cluster, {"op": "watch", "kind": "ReplicaSet", "resourceVersion": start})
    rs_finalizers = [
        e["object"]["metadata"].get("finalizers")
        for e in watched["events"]
        if e["type"] == "MODIFIED"
    ]
    assert ["foregroundDeletion"] in rs_finalizers


def test_an_existing_orphan_finalizer_on_a_dangling_item_orphans_its_dependents(
    cluster: Cluster,
) -> None:
    """Q12: with every owner gone, the item's own `orphan` finalizer picks the policy."""
    cluster, owner = create(cluster, configmap("owner"))
    cluster, item = create(cluster, configmap("item", owners=(ref(owner),), finalizers=["orphan"]))
    cluster, _ = create(cluster, configmap("leaf", owners=(ref(item),)))
    cluster = delete(cluster, "ConfigMap", "owner")
    cluster = settle(cluster)
    assert find(cluster, "ConfigMap", "item") is None
    leaf = find(cluster, "ConfigMap", "leaf")
    assert leaf is not None and owner_uids(leaf) == []


# -- owner resolution ------------------------------------------------------------------------


def test_a_dependent_with_another_live_owner_survives(cluster: Cluster) -> None:
    cluster, a = create(cluster, configmap("a"))
    cluster, b = create(cluster, configmap("b"))
    cluster, _ = create(cluster, configmap("child", owners=(ref(a), ref(b))))
    cluster = delete(cluster, "ConfigMap", "a")
    cluster = settle(cluster)
    child = find(cluster, "ConfigMap", "child")
    assert child is not None
    assert owner_uids(child) == [b["metadata"]["uid"]]
    cluster = delete(cluster, "ConfigMap", "b")
    cluster = settle(cluster)
    assert find(cluster, "ConfigMap", "child") is None


def test_a_solid_owner_keeps_the_dependent_and_drops_the_waiting_owners_reference(
    cluster: Cluster,
) -> None:
    """Q12: with some owner solid, the GC patches out references to owners that wait for
    their dependents (Foreground), not only dangling ones, and keeps the item."""
    cluster, a = create(cluster, configmap("a"))
    cluster, b = create(cluster, configmap("b"))
    cluster, _ = create(cluster, configmap("child", owners=(ref(a), ref(b, block=True))))
    cluster = delete(cluster, "ConfigMap", "b", propagationPolicy="Foreground")
    cluster = settle(cluster)
    child = find(cluster, "ConfigMap", "child")
    assert child is not None and owner_uids(child) == [a["metadata"]["uid"]]
    assert find(cluster, "ConfigMap", "b") is None


def test_a_namespaced_dependent_of_a_cluster_scoped_owner_is_collected(cluster: Cluster) -> None:
    cluster, owner = create(
        cluster, {"kind": "PriorityClass", "metadata": {"name": "owner"}, "value": 1}
    )
    cluster, _ = create(cluster, configmap("child", owners=(ref(owner),)))
    cluster = settle(cluster)
    assert find(cluster, "ConfigMap", "child") is not None
    cluster = delete(cluster, "PriorityClass", "owner")
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "child") is None


def test_a_dependent_whose_owner_never_existed_is_collected(cluster: Cluster) -> None:
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "ghost",
        "uid": "00000000-0000-4000-8000-000000000001",
    }
    cluster, _ = create(cluster, configmap("child", owners=(ghost,)))
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "child") is None


def test_a_same_name_owner_with_another_uid_does_not_count(cluster: Cluster) -> None:
    cluster, old = create(cluster, configmap("owner"))
    cluster = delete(cluster, "ConfigMap", "owner")
    cluster, new = create(cluster, configmap("owner"))
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    cluster, _ = create(cluster, configmap("child", owners=(ref(old),)))
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "child") is None
    assert find(cluster, "ConfigMap", "owner") is not None


def test_a_dependent_pointing_at_an_owner_in_another_namespace_is_collected(
    cluster: Cluster,
) -> None:
    for ns in ("a", "b"):
        cluster, _ = create(cluster, {"kind": "Namespace", "metadata": {"name": ns}})
    cluster, owner = create(cluster, configmap("owner", "a"))
    cluster, _ = create(cluster, configmap("local", "a", owners=(ref(owner),)))
    cluster, _ = create(cluster, configmap("remote", "b", owners=(ref(owner),)))
    cluster = settle(cluster)
    assert find(cluster, "ConfigMap", "remote", "b") is None
    assert find(cluster, "ConfigMap", "local", "a") is not None
    assert find(cluster, "ConfigMap", "owner", "a") is not None


def test_a_cluster_scoped_dependent_of_a_namespaced_owner_kind_is_left_alone(
    cluster: Cluster,
) -> None:
    cluster, owner = create(cluster, configmap("owner"))
    pc = {
        "kind": "PriorityClass",
        "metadata": {"name": "odd", "ownerReferences": [ref(owner)]},
        "value": 10,
    }
    cluster, created = create(cluster, pc)
    cluster = settle(cluster)
    kept = find(cluster, "PriorityClass", "odd")
    assert (
        kept is not None
        and kept["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    )
    cluster = delete(cluster, "ConfigMap", "owner")
    cluster = settle(cluster)
    kept = find(cluster, "PriorityClass", "odd")
    assert kept is not None and owner_uids(kept) == [owner["metadata"]["uid"]]


def test_a_cluster_scoped_dependent_of_a_cluster_scoped_owner_is_collected(
    cluster: Cluster,
) -> None:
    cluster, owner = create(
        cluster, {"kind": "PriorityClass", "metadata": {"name": "owner"}, "value": 1}
    )
    cluster, _ = create(
        cluster,
        {
            "kind": "PriorityClass",
            "metadata": {"name": "child", "ownerReferences": [ref(owner)]},
            "value": 2,
        },
    )
    cluster = delete(cluster, "PriorityClass", "owner")
    cluster = advance(cluster, 0)
    assert find(cluster, "PriorityClass", "child") is None


# -- namespaces ------------------------------------------------------------------------------


def _populated(cluster: Cluster, ns: str) -> Cluster:
    cluster, _ = create(cluster, {"kind": "Namespace", "metadata": {"name": ns}})
    cluster, _ = create(cluster, configmap("a", ns))
    cluster, _ = create(cluster, configmap("b", ns))
    cluster, _ = create(cluster, pod("p", namespace=ns))
    d = workload("Deployment", "web")
    d["metadata"]["namespace"] = ns
    cluster, _ = create(cluster, d)
    return cluster


def test_namespace_deletion_empties_and_removes_the_namespace(cluster: Cluster) -> None:
    cluster = _populated(cluster, "team")
    cluster, _ = create(cluster, configmap("keep"))
    cluster = delete(cluster, "Namespace", "team")
    ns = find(cluster, "Namespace", "team")
    assert ns is not None and ns["status"]["phase"] == "Terminating"
    cluster = settle(cluster)
    assert find(cluster, "Namespace", "team") is None
    for kind in ("ConfigMap", "Pod", "Deployment"):
        _, listed = ok(cluster, {"op": "list", "kind": kind, "namespace": "team"})
        assert listed["items"] == [], kind
    assert find(cluster, "ConfigMap", "keep") is not None
    # The name is free again.
    cluster, _ = create(cluster, {"kind": "Namespace", "metadata": {"name": "team"}})


def test_a_finalizer_inside_a_namespace_holds_the_namespace(cluster: Cluster) -> None:
    cluster, _ = create(cluster, {"kind": "Namespace", "metadata": {"name": "team"}})
    cluster, _ = create(cluster, configmap("held", "team", finalizers=["example.com/hold"]))
    cluster = delete(cluster, "Namespace", "team")
    cluster = settle(cluster)
    ns = find(cluster, "Namespace", "team")
    assert ns is not None and ns["spec"]["finalizers"] == ["kubernetes"]
    held = find(cluster, "ConfigMap", "held", "team")
    assert held is not None and held["metadata"].get("deletionTimestamp")
    cluster, _ = ok(
        cluster,
        {
            "op": "patch",
            "kind": "ConfigMap",
            "namespace": "team",
            "name": "held",
            "patch": {"metadata": {"finalizers": None}},
        },
    )
    cluster = settle(cluster)
    assert find(cluster, "Namespace", "team") is None


# -- lag and restart -------------------------------------------------------------------------


def test_a_lagging_namespace_controller_acts_only_when_the_window_passes(cluster: Cluster) -> None:
    cluster = _populated(cluster, "team")
    cluster = advance(cluster, 1)
    cluster, _ = ok(cluster, {"op": "controller.lag", "name": "namespace", "seconds": 10})
    cluster = delete(cluster, "Namespace", "team")
    cluster = advance(cluster, 5)
    assert find(cluster, "ConfigMap", "a", "team") is not None
    cluster = advance(cluster, 10)
    assert find(cluster, "ConfigMap", "a", "team") is None


def test_a_lagging_garbage_collector_acts_only_when_the_window_passes(cluster: Cluster) -> None:
    """controller.lag: the GC sees the cluster as it was `seconds` ago, so it cannot know
    yet that the owner is gone (upstream acts on graph events from its informers)."""
    cluster, owner = create(cluster, configmap("owner"))
    cluster, _ = create(cluster, configmap("child", owners=(ref(owner),)))
    cluster = advance(cluster, 1)
    cluster, _ = ok(cluster, {"op": "controller.lag", "name": "garbagecollector", "seconds": 10})
    cluster = delete(cluster, "ConfigMap", "owner")
    cluster = advance(cluster, 5)
    assert find(cluster, "ConfigMap", "child") is not None
    cluster = advance(cluster, 10)
    assert find(cluster, "ConfigMap", "child") is None


def test_ending_the_lag_lets_the_controller_catch_up(cluster: Cluster) -> None:
    cluster = _populated(cluster, "team")
    cluster = advance(cluster, 1)
    cluster, _ = ok(cluster, {"op": "controller.lag", "name": "namespace", "seconds": 100})
    cluster = delete(cluster, "Namespace", "team")
    cluster = advance(cluster, 1)
    assert find(cluster, "Namespace", "team") is not None
    cluster, _ = ok(cluster, {"op": "controller.lag", "name": "namespace", "seconds": 0})
    cluster = advance(cluster, 0)
    assert find(cluster, "Namespace", "team") is None


def test_a_restarted_garbage_collector_still_collects(cluster: Cluster) -> None:
    cluster, owner = create(cluster, configmap("owner"))
    cluster, _ = create(cluster, configmap("child", owners=(ref(owner),)))
    cluster = delete(cluster, "ConfigMap", "owner")
    cluster, _ = ok(cluster, {"op": "controller.restart", "name": "garbagecollector"})
    cluster = advance(cluster, 0)
    assert find(cluster, "ConfigMap", "child") is None
