"""The API server through `reference.cluster.step`, as docs/protocol.md describes it.

Upstream references are to docs/upstream-checks.md (Q1..Q14).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from typing import Any

import attrs
import pytest

from reference import Cluster, new_cluster, step
from reference.api.server import handle

Answer = dict[str, Any]
EPOCH = "2025-01-01T00:00:00Z"

# -- helpers ---------------------------------------------------------------------------------


def ok(cluster: Cluster, request: dict[str, Any]) -> tuple[Cluster, Answer]:
    cluster, answer = step(cluster, request)
    assert answer["ok"] is True, answer
    return cluster, answer


def snap(cluster: Cluster) -> Answer:
    _, answer = step(cluster, {"op": "snapshot"})
    assert answer["ok"] is True
    return answer


def refused(
    cluster: Cluster, request: dict[str, Any], code: int, reason: str | None = None
) -> Answer:
    """Assert the request is refused with `code` and that nothing changed; return the Status."""
    before = snap(cluster)
    after_cluster, answer = step(cluster, request)
    assert answer["ok"] is False, answer
    status = answer["status"]
    assert status["code"] == code, status
    if reason is not None:
        assert status["reason"] == reason, status
    assert snap(after_cluster) == before
    assert after_cluster == cluster
    return dict(status)


def create(cluster: Cluster, obj: dict[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = ok(cluster, {"op": "create", "object": obj})
    return cluster, answer["object"]


def get(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"op": "get", "kind": kind, "name": name}
    if namespace is not None:
        request["namespace"] = namespace
    _, answer = ok(cluster, request)
    return dict(answer["object"])


def absent(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> bool:
    request: dict[str, Any] = {"op": "get", "kind": kind, "name": name}
    if namespace is not None:
        request["namespace"] = namespace
    _, answer = step(cluster, request)
    if answer["ok"]:
        return False
    assert answer["status"]["code"] == 404, answer
    return True


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def configmap(name: str, namespace: str = "default", **meta: Any) -> dict[str, Any]:
    return {
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "data": {"k": "v"},
    }


def pod(
    name: str, node: str | None = None, namespace: str = "default", **meta: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    if node is not None:
        spec["nodeName"] = node
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": spec,
    }


def deployment(name: str, replicas: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **meta},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }


def replicaset(name: str, **meta: Any) -> dict[str, Any]:
    obj = deployment(name, **meta)
    obj["kind"] = "ReplicaSet"
    return obj


def namespace(name: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name}}


@pytest.fixture
def cluster() -> Cluster:
    return new_cluster(7)


# -- create and get ----------------------------------------------------------------------------


def test_create_sets_server_owned_fields(cluster: Cluster) -> None:
    cluster, cm = create(cluster, configmap("a", labels={"x": "y"}))
    meta = cm["metadata"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", meta["uid"]
    )
    assert meta["creationTimestamp"] == EPOCH
    assert meta["resourceVersion"].isdigit()
    assert meta["namespace"] == "default"
    assert "generation" not in meta  # ConfigMaps keep no generation (Q1)
    assert cm["apiVersion"] == "v1"
    assert get(cluster, "ConfigMap", "a") == cm

    cluster, d = create(cluster, deployment("web"))
    assert d["metadata"]["generation"] == 1
    assert d["metadata"]["uid"] != meta["uid"]
    cluster, p = create(cluster, pod("p"))
    assert p["metadata"]["generation"] == 1
    assert p["status"]["phase"] == "Pending"


def test_client_sent_server_fields_are_replaced(cluster: Cluster) -> None:
    obj = configmap(
        "a",
        uid="mine",
        resourceVersion="999",
        generation=5,
        creationTimestamp="2020-01-01T00:00:00Z",
    )
    cluster, cm = create(cluster, obj)
    assert cm["metadata"]["uid"] != "mine"
    assert cm["metadata"]["creationTimestamp"] == EPOCH
    assert rv(cm) == cluster.revision
    assert "generation" not in cm["metadata"]


def test_namespace_omitted_defaults_to_default(cluster: Cluster) -> None:
    obj = configmap("a")
    del obj["metadata"]["namespace"]
    cluster, cm = create(cluster, obj)
    assert cm["metadata"]["namespace"] == "default"
    assert get(cluster, "ConfigMap", "a", "default")["metadata"]["uid"] == cm["metadata"]["uid"]


def test_duplicate_create_is_already_exists(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("a"))
    status = refused(cluster, {"op": "create", "object": configmap("a")}, 409, "AlreadyExists")
    assert "already exists" in status["message"]
    # The same name in another namespace is another object.
    cluster, _ = create(cluster, namespace("other"))
    cluster, _ = create(cluster, configmap("a", "other"))


def test_generate_name_is_deterministic_for_a_seed() -> None:
    def make(seed: int) -> tuple[str, str]:
        c = new_cluster(seed)
        obj = configmap("")
        obj["metadata"] = {"generateName": "web-"}
        c, first = create(c, obj)
        c, second = create(c, copy.deepcopy(obj))
        return first["metadata"]["name"], second["metadata"]["name"]

    a1, a2 = make(3)
    assert make(3) == (a1, a2)
    assert a1 != a2
    for name in (a1, a2):
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert make(4) != (a1, a2)


def test_get_of_a_missing_object_is_not_found(cluster: Cluster) -> None:
    status = refused(cluster, {"op": "get", "kind": "ConfigMap", "name": "nope"}, 404, "NotFound")
    assert status["message"] == 'configmaps "nope" not found'


# -- resourceVersion ---------------------------------------------------------------------------


def test_resource_version_strictly_increases_across_writes(cluster: Cluster) -> None:
    seen = [cluster.revision]
    cluster, cm = create(cluster, configmap("a"))
    seen.append(rv(cm))
    cluster, d = create(cluster, deployment("web"))
    seen.append(rv(d))
    cm["data"] = {"k": "changed"}
    cluster, answer = ok(cluster, {"op": "update", "object": cm})
    seen.append(rv(answer["object"]))
    cluster, answer = ok(
        cluster,
        {
            "op": "patch",
            "kind": "Deployment",
            "name": "web",
            "patch": {"metadata": {"labels": {"a": "b"}}},
        },
    )
    seen.append(rv(answer["object"]))
    cluster, answer = ok(
        cluster, {"op": "scale", "kind": "Deployment", "name": "web", "replicas": 4}
    )
    seen.append(rv(answer["object"]))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    assert all(a < b for a, b in itertools.pairwise(seen)), seen
    assert cluster.revision > seen[-1]
    assert int(snap(cluster)["resourceVersion"]) == cluster.revision
    _, listed = ok(cluster, {"op": "list", "kind": "Deployment"})
    assert int(listed["resourceVersion"]) == cluster.revision


_TEMPLATE = {
    "metadata": {"labels": {"app": "w"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}
_WORKLOAD_SPEC = {"selector": {"matchLabels": {"app": "w"}}, "template": _TEMPLATE}
NOOP_OBJECTS: list[dict[str, Any]] = [
    configmap("cm"),
    deployment("web"),
    pod("p", node="n1"),
    namespace("team"),
    {
        "kind": "Service",
        "metadata": {"name": "svc"},
        "spec": {"selector": {"app": "w"}, "ports": [{"port": 80}]},
    },
    {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}},
    {"kind": "DaemonSet", "metadata": {"name": "ds"}, "spec": _WORKLOAD_SPEC},
    {
        "kind": "StatefulSet",
        "metadata": {"name": "ss"},
        "spec": {**_WORKLOAD_SPEC, "serviceName": "x"},
    },
    {"kind": "ReplicaSet", "metadata": {"name": "rs"}, "spec": _WORKLOAD_SPEC},
    {"kind": "Lease", "metadata": {"name": "l"}, "spec": {"holderIdentity": "x"}},
    {"kind": "PriorityClass", "metadata": {"name": "pc"}, "value": 5},
    {"kind": "Node", "metadata": {"name": "n1"}},
    {
        "kind": "EndpointSlice",
        "metadata": {"name": "es"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"]}],
        "ports": [{"port": 80}],
    },
    {"kind": "ControllerRevision", "metadata": {"name": "cr"}, "revision": 1, "data": {"a": 1}},
]


@pytest.mark.parametrize("obj", NOOP_OBJECTS, ids=lambda o: str(o["kind"]))
def test_noop_update_keeps_the_resource_version(cluster: Cluster, obj: dict[str, Any]) -> None:
    cluster, created = create(cluster, copy.deepcopy(obj))
    revision = cluster.revision
    cluster, answer = ok(cluster, {"op": "update", "object": copy.deepcopy(created)})
    assert answer["object"] == created
    assert cluster.revision == revision
    # Without a resourceVersion too.
    unversioned = copy.deepcopy(created)
    del unversioned["metadata"]["resourceVersion"]
    cluster, answer = ok(cluster, {"op": "update", "object": unversioned})
    assert answer["object"] == created
    assert cluster.revision == revision
    # And the original request again: defaulting is idempotent, server fields come from storage.
    cluster, answer = ok(cluster, {"op": "update", "object": copy.deepcopy(obj)})
    assert cluster.revision == revision, answer


def test_noop_patch_keeps_the_resource_version(cluster: Cluster) -> None:
    cluster, cm = create(cluster, configmap("a", labels={"app": "x"}))
    revision = cluster.revision
    for patch in ({}, {"data": {"k": "v"}}, {"metadata": {"labels": {"app": "x"}}}, {"nope": None}):
        cluster, answer = ok(
            cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": patch}
        )
        assert answer["object"] == cm
        assert cluster.revision == revision


def test_stale_update_is_a_conflict_and_changes_nothing(cluster: Cluster) -> None:
    cluster, cm = create(cluster, configmap("a"))
    fresh = copy.deepcopy(cm)
    fresh["data"] = {"k": "first"}
    cluster, _ = ok(cluster, {"op": "update", "object": fresh})
    stale = copy.deepcopy(cm)
    stale["data"] = {"k": "second"}
    status = refused(cluster, {"op": "update", "object": stale}, 409, "Conflict")
    assert "the object has been modified" in status["message"]
    assert get(cluster, "ConfigMap", "a")["data"] == {"k": "first"}
    # A stale resourceVersion conflicts even when the content would be a no-op (Q3).
    current = get(cluster, "ConfigMap", "a")
    current["metadata"]["resourceVersion"] = cm["metadata"]["resourceVersion"]
    refused(cluster, {"op": "update", "object": current}, 409, "Conflict")


def test_stale_patch_precondition_is_a_conflict(cluster: Cluster) -> None:
    cluster, cm = create(cluster, configmap("a"))
    cluster, _ = ok(
        cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": {"data": {"k": "1"}}}
    )
    patch = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": {"k": "2"}}
    refused(
        cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": patch}, 409, "Conflict"
    )
    # The current resourceVersion as precondition is accepted.
    patch["metadata"]["resourceVersion"] = get(cluster, "ConfigMap", "a")["metadata"][
        "resourceVersion"
    ]
    cluster, answer = ok(cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": patch})
    assert answer["object"]["data"] == {"k": "2"}


def test_delete_with_stale_preconditions_is_a_conflict(cluster: Cluster) -> None:
    cluster, cm = create(cluster, configmap("a"))
    cluster, _ = ok(
        cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": {"data": {"k": "1"}}}
    )
    base = {"op": "delete", "kind": "ConfigMap", "name": "a"}
    refused(
        cluster,
        {**base, "preconditions": {"resourceVersion": cm["metadata"]["resourceVersion"]}},
        409,
        "Conflict",
    )
    refused(
        cluster,
        {**base, "preconditions": {"uid": "00000000-0000-4000-8000-000000000000"}},
        409,
        "Conflict",
    )
    cluster, answer = ok(cluster, {**base, "preconditions": {"uid": cm["metadata"]["uid"]}})
    assert "object" not in answer
    assert absent(cluster, "ConfigMap", "a")


def test_update_of_a_missing_object_is_not_found(cluster: Cluster) -> None:
    refused(cluster, {"op": "update", "object": configmap("nope")}, 404, "NotFound")
    refused(cluster, {"op": "patch", "kind": "ConfigMap", "name": "nope", "patch": {}}, 404)
    refused(cluster, {"op": "delete", "kind": "ConfigMap", "name": "nope"}, 404)


def test_get_after_delete_is_not_found(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("a"))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    assert "object" not in answer
    assert absent(cluster, "ConfigMap", "a")
    refused(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"}, 404)


# -- list and selectors ------------------------------------------------------------------------


def _names(answer: Answer) -> list[tuple[str, str]]:
    return [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in answer["items"]]


def test_list_is_sorted_by_namespace_then_name(cluster: Cluster) -> None:
    for ns in ("zeta", "alpha"):
        cluster, _ = create(cluster, namespace(ns))
    for ns, name in (
        ("zeta", "b"),
        ("default", "c"),
        ("alpha", "z"),
        ("zeta", "a"),
        ("alpha", "a"),
    ):
        cluster, _ = create(cluster, configmap(name, ns))
    _, answer = ok(cluster, {"op": "list", "kind": "ConfigMap"})
    assert _names(answer) == [
        ("alpha", "a"),
        ("alpha", "z"),
        ("default", "c"),
        ("zeta", "a"),
        ("zeta", "b"),
    ]
    _, answer = ok(cluster, {"op": "list", "kind": "ConfigMap", "namespace": "zeta"})
    assert _names(answer) == [("zeta", "a"), ("zeta", "b")]
    _, answer = ok(cluster, {"op": "list", "kind": "Namespace"})
    assert [n for _, n in _names(answer)] == sorted(
        ["alpha", "default", "kube-node-lease", "kube-public", "kube-system", "zeta"]
    )


def test_list_label_selectors(cluster: Cluster) -> None:
    labels = {
        "a": {"app": "web", "tier": "front"},
        "b": {"app": "web", "tier": "back", "canary": "yes"},
        "c": {"app": "db"},
        "d": {},
    }
    for name, lab in labels.items():
        cluster, _ = create(cluster, configmap(name, labels=lab))

    def select(selector: str) -> list[str]:
        _, answer = ok(cluster, {"op": "list", "kind": "ConfigMap", "labelSelector": selector})
        return [n for _, n in _names(answer)]

    assert select("app=web") == ["a", "b"]
    assert select("app==web,tier=back") == ["b"]
    assert select("app!=web") == ["c", "d"]
    assert select("tier in (front,back)") == ["a", "b"]
    assert select("tier notin (front)") == ["b", "c", "d"]
    assert select("app,!canary") == ["a", "c"]
    assert select("") == ["a", "b", "c", "d"]
    refused(cluster, {"op": "list", "kind": "ConfigMap", "labelSelector": "app in web"}, 400)


def test_list_field_selectors(cluster: Cluster) -> None:
    cluster, _ = create(cluster, namespace("other"))
    cluster, _ = create(cluster, configmap("a"))
    cluster, _ = create(cluster, configmap("b"))
    cluster, _ = create(cluster, configmap("a", "other"))
    cluster, _ = create(cluster, pod("p1", node="n1"))
    cluster, _ = create(cluster, pod("p2", node="n2"))
    cluster, _ = create(cluster, pod("p3"))

    def select(kind: str, selector: str) -> list[tuple[str, str]]:
        _, answer = ok(cluster, {"op": "list", "kind": kind, "fieldSelector": selector})
        return _names(answer)

    assert select("ConfigMap", "metadata.name=a") == [("default", "a"), ("other", "a")]
    assert select("ConfigMap", "metadata.namespace=other") == [("other", "a")]
    assert select("ConfigMap", "metadata.name!=a,metadata.namespace==default") == [("default", "b")]
    assert select("Pod", "spec.nodeName=n1") == [("default", "p1")]
    assert select("Pod", "spec.nodeName=") == [("default", "p3")]
    assert select("Pod", "spec.nodeName!=n1") == [("default", "p2"), ("default", "p3")]
    assert select("Pod", "status.phase=Pending") == [("default", f"p{i}") for i in (1, 2, 3)]
    assert select("Pod", "status.phase=Running") == []
    assert select("Namespace", "metadata.name=other") == [("", "other")]


@pytest.mark.parametrize(
    ("kind", "selector"),
    [
        ("ConfigMap", "spec.nodeName=n1"),
        ("ConfigMap", "status.phase=Active"),
        ("Deployment", "spec.replicas=1"),
        ("Pod", "spec.containers=x"),
        ("Pod", "metadata.labels=x"),
        ("Pod", "nonsense"),
    ],
)
def test_unsupported_field_selectors_are_bad_requests(
    cluster: Cluster, kind: str, selector: str
) -> None:
    refused(cluster, {"op": "list", "kind": kind, "fieldSelector": selector}, 400, "BadRequest")


# -- status, generation ------------------------------------------------------------------------


def test_status_sent_by_a_client_is_ignored(cluster: Cluster) -> None:
    obj = deployment("web")
    obj["status"] = {"replicas": 5, "readyReplicas": 5}
    cluster, d = create(cluster, obj)
    assert "status" not in d or d["status"] != obj["status"]
    before = d.get("status")
    d["status"] = {"replicas": 9}
    cluster, answer = ok(cluster, {"op": "update", "object": d})
    assert answer["object"].get("status") == before
    cluster, answer = ok(
        cluster,
        {"op": "patch", "kind": "Deployment", "name": "web", "patch": {"status": {"replicas": 3}}},
    )
    assert answer["object"].get("status") == before
    assert answer["object"]["metadata"]["generation"] == 1


def test_a_node_keeps_the_status_it_is_created_with_and_an_update_keeps_the_old(
    cluster: Cluster,
) -> None:
    """Upstream's node strategy lets every field, status included, be set on create (a
    kubelet registers its Node with its capacity); an update of the main resource keeps the
    stored status, as for every kind."""
    status = {"capacity": {"cpu": "4", "pods": "110"}, "allocatable": {"cpu": "4", "pods": "110"}}
    obj = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"}, "status": status}
    cluster, node = create(cluster, obj)
    assert node["status"] == status
    assert get(cluster, "Node", "n1")["status"] == status
    node["status"] = {"capacity": {"cpu": "1"}}
    cluster, answer = ok(cluster, {"op": "update", "object": node})
    assert answer["object"]["status"] == status


def test_a_node_created_with_capacity_only_gets_it_as_allocatable_in_canonical_form(
    cluster: Cluster,
) -> None:
    """SetDefaults_NodeStatus, and quantities written back as decoding writes them."""
    status = {"capacity": {"cpu": "4000m", "memory": "1024Mi", "pods": "10"}}
    obj = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"}, "status": status}
    cluster, node = create(cluster, obj)
    canonical = {"cpu": "4", "memory": "1Gi", "pods": "10"}
    assert node["status"] == {"capacity": canonical, "allocatable": canonical}


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"cpu": "abc"}, "status.capacity[cpu]"),
        ({"cpu": -3}, "status.capacity[cpu]"),
        ({"pods": "1.5"}, "status.capacity[pods]"),
        ({"example.com/gpu": "500m"}, "status.capacity[example.com/gpu]"),
        ({"hugepages-2Mi": "2Mi", "hugepages-1Gi": "1Gi"}, "status.capacity[hugepages-2Mi]"),
    ],
)
def test_a_node_with_invalid_status_resources_is_refused_and_nothing_changes(
    cluster: Cluster, resources: dict[str, Any], field: str
) -> None:
    """ValidateNodeResources runs on create (and on every update) since status may be set."""
    obj = {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": "n1"},
        "status": {"capacity": resources},
    }
    status = refused(cluster, {"op": "create", "object": obj}, 422, "Invalid")
    assert field in [cause["field"] for cause in status["details"]["causes"]]


def test_generation_bumps_on_spec_changes_only(cluster: Cluster) -> None:
    cluster, d = create(cluster, deployment("web"))
    assert d["metadata"]["generation"] == 1

    def patch(kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        nonlocal cluster
        cluster, answer = ok(cluster, {"op": "patch", "kind": kind, "name": name, "patch": body})
        return dict(answer["object"])

    assert (
        patch("Deployment", "web", {"metadata": {"labels": {"x": "1"}}})["metadata"]["generation"]
        == 1
    )
    assert patch("Deployment", "web", {"spec": {"replicas": 3}})["metadata"]["generation"] == 2
    assert patch("Deployment", "web", {"spec": {"replicas": 3}})["metadata"]["generation"] == 2
    # Deployments also track annotations (Q1); ReplicaSets do not.
    assert (
        patch("Deployment", "web", {"metadata": {"annotations": {"a": "1"}}})["metadata"][
            "generation"
        ]
        == 3
    )
    cluster, _ = create(cluster, replicaset("rs"))
    assert (
        patch("ReplicaSet", "rs", {"metadata": {"annotations": {"a": "1"}}})["metadata"][
            "generation"
        ]
        == 1
    )
    assert patch("ReplicaSet", "rs", {"spec": {"replicas": 2}})["metadata"]["generation"] == 2
    # A client cannot set the generation itself.
    current = get(cluster, "Deployment", "web")
    current["metadata"]["generation"] = 42
    cluster, answer = ok(cluster, {"op": "update", "object": current})
    assert answer["object"]["metadata"]["generation"] == 3


def test_setting_deletion_timestamp_bumps_generation_once(cluster: Cluster) -> None:
    cluster, _ = create(cluster, deployment("web", finalizers=["example.com/hold"]))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Deployment", "name": "web"})
    meta = answer["object"]["metadata"]
    assert meta["generation"] == 2
    assert meta["deletionTimestamp"] == EPOCH
    # Finalizer-only deletion: grace 0, not absent (Q4).
    assert meta["deletionGracePeriodSeconds"] == 0
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Deployment", "name": "web"})
    assert answer["object"]["metadata"]["generation"] == 2


# -- finalizers --------------------------------------------------------------------------------


def test_finalizer_keeps_a_deleted_object_until_it_is_removed(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("a", finalizers=["example.com/hold"]))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    assert answer["object"]["metadata"]["deletionTimestamp"] == EPOCH
    held = get(cluster, "ConfigMap", "a")
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    assert held["metadata"]["deletionTimestamp"] == EPOCH
    # Other updates are still allowed while terminating.
    cluster, _ = ok(
        cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": {"data": {"k": "2"}}}
    )
    assert not absent(cluster, "ConfigMap", "a")
    cluster, _ = ok(
        cluster,
        {
            "op": "patch",
            "kind": "ConfigMap",
            "name": "a",
            "patch": {"metadata": {"finalizers": None}},
        },
    )
    assert absent(cluster, "ConfigMap", "a")


def test_deletion_timestamp_cannot_be_changed_by_update(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("a", finalizers=["example.com/hold"]))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    held = answer["object"]
    moved = copy.deepcopy(held)
    moved["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    cluster, answer = ok(cluster, {"op": "update", "object": moved})
    assert answer["object"]["metadata"]["deletionTimestamp"] == EPOCH  # silently kept (Q7)
    # Setting it on a live object is refused.
    cluster, live = create(cluster, configmap("b"))
    live["metadata"]["deletionTimestamp"] = EPOCH
    status = refused(cluster, {"op": "update", "object": live}, 422, "Invalid")
    assert "metadata.deletionTimestamp" in [c["field"] for c in status["details"]["causes"]]


def test_adding_a_finalizer_to_a_terminating_object_is_invalid(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("a", finalizers=["example.com/hold"]))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    patch = {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
    status = refused(
        cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": patch}, 422, "Invalid"
    )
    causes = status["details"]["causes"]
    assert [c["field"] for c in causes] == ["metadata.finalizers"]
    assert "example.com/more" in causes[0]["message"]


# -- pods and graceful deletion ----------------------------------------------------------------


def test_unscheduled_pod_is_deleted_at_once(cluster: Cluster) -> None:
    cluster, p = create(cluster, pod("p"))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    assert "object" not in answer
    assert absent(cluster, "Pod", "p")
    # Upstream writes the deletion (MODIFIED, generation+1) and then deletes it (Q2).
    _, watched = ok(
        cluster, {"op": "watch", "kind": "Pod", "resourceVersion": p["metadata"]["resourceVersion"]}
    )
    assert [e["type"] for e in watched["events"]] == ["MODIFIED", "DELETED"]
    assert watched["events"][0]["object"]["metadata"]["generation"] == 2


def test_scheduled_pod_gets_a_grace_period(cluster: Cluster) -> None:
    cluster, _ = create(cluster, pod("p", node="n1"))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    meta = answer["object"]["metadata"]
    assert meta["deletionTimestamp"] == "2025-01-01T00:00:30Z"
    assert meta["deletionGracePeriodSeconds"] == 30
    assert meta["generation"] == 2
    assert get(cluster, "Pod", "p")["metadata"]["deletionGracePeriodSeconds"] == 30


def test_terminal_pod_is_deleted_at_once(cluster: Cluster) -> None:
    """Q4: a pod in phase Succeeded or Failed gets grace 0 even when scheduled."""
    cluster, p = create(cluster, pod("p", node="n1"))
    p["status"] = {**p["status"], "phase": "Succeeded"}
    # The protocol has no status writes; the kubelet's is the API server's internal `status` verb.
    api, _ = handle(cluster.api, {"op": "status", "object": p}, cluster.now, system=True)
    cluster = attrs.evolve(cluster, api=api)
    assert get(cluster, "Pod", "p")["status"]["phase"] == "Succeeded"
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    assert "object" not in answer
    assert absent(cluster, "Pod", "p")


def test_a_second_delete_may_shorten_the_grace_period_but_not_lengthen_it(cluster: Cluster) -> None:
    cluster, _ = create(cluster, pod("p", node="n1"))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    revision = cluster.revision
    cluster, answer = ok(
        cluster, {"op": "delete", "kind": "Pod", "name": "p", "gracePeriodSeconds": 60}
    )
    assert answer["object"]["metadata"]["deletionGracePeriodSeconds"] == 30
    assert cluster.revision == revision
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    assert answer["object"]["metadata"]["deletionGracePeriodSeconds"] == 30
    cluster, answer = ok(
        cluster, {"op": "delete", "kind": "Pod", "name": "p", "gracePeriodSeconds": 10}
    )
    meta = answer["object"]["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 10
    assert meta["deletionTimestamp"] == "2025-01-01T00:00:10Z"
    assert meta["generation"] == 2  # shortening does not bump (Q2)
    cluster, answer = ok(
        cluster, {"op": "delete", "kind": "Pod", "name": "p", "gracePeriodSeconds": 0}
    )
    assert "object" not in answer
    assert absent(cluster, "Pod", "p")


def test_grace_period_zero_removes_a_scheduled_pod(cluster: Cluster) -> None:
    cluster, _ = create(cluster, pod("p", node="n1"))
    cluster, answer = ok(
        cluster, {"op": "delete", "kind": "Pod", "name": "p", "gracePeriodSeconds": 0}
    )
    assert "object" not in answer
    assert absent(cluster, "Pod", "p")


def test_removing_the_last_finalizer_of_a_pod_in_its_grace_period_keeps_it(
    cluster: Cluster,
) -> None:
    cluster, _ = create(cluster, pod("p", node="n1", finalizers=["example.com/hold"]))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    cluster, _ = ok(
        cluster,
        {"op": "patch", "kind": "Pod", "name": "p", "patch": {"metadata": {"finalizers": None}}},
    )
    assert get(cluster, "Pod", "p")["metadata"]["deletionGracePeriodSeconds"] == 30  # Q5
    cluster, _ = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p", "gracePeriodSeconds": 0})
    assert absent(cluster, "Pod", "p")


def test_negative_grace_period_counts_as_one_second(cluster: Cluster) -> None:
    """Q4: BeforeDelete turns a negative gracePeriodSeconds into 1."""
    cluster, _ = create(cluster, pod("p", node="n1"))
    cluster, answer = ok(
        cluster, {"op": "delete", "kind": "Pod", "name": "p", "gracePeriodSeconds": -5}
    )
    meta = answer["object"]["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 1
    assert meta["deletionTimestamp"] == "2025-01-01T00:00:01Z"


# -- propagation policies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "finalizer"), [("Orphan", "orphan"), ("Foreground", "foregroundDeletion")]
)
def test_propagation_policy_adds_its_finalizer(
    cluster: Cluster, policy: str, finalizer: str
) -> None:
    cluster, _ = create(cluster, deployment("web"))
    cluster, answer = ok(
        cluster, {"op": "delete", "kind": "Deployment", "name": "web", "propagationPolicy": policy}
    )
    meta = answer["object"]["metadata"]
    assert meta["finalizers"] == [finalizer]
    assert meta["deletionTimestamp"] == EPOCH
    assert get(cluster, "Deployment", "web")["metadata"]["finalizers"] == [finalizer]


def test_a_second_delete_swaps_the_gc_finalizer_of_a_terminating_object(cluster: Cluster) -> None:
    """Q6: non-graceful kinds recompute the GC finalizers from the new options; the
    deletionTimestamp stays and generation is not bumped again. No policy changes nothing."""
    cluster, _ = create(cluster, deployment("web", finalizers=["example.com/hold"]))
    base = {"op": "delete", "kind": "Deployment", "name": "web"}
    cluster, first = ok(cluster, {**base, "propagationPolicy": "Foreground"})
    assert first["object"]["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 5})
    revision = cluster.revision
    cluster, same = ok(cluster, base)
    assert same["object"] == get(cluster, "Deployment", "web")
    assert cluster.revision == revision
    cluster, second = ok(cluster, {**base, "propagationPolicy": "Orphan"})
    meta = second["object"]["metadata"]
    assert meta["finalizers"] == ["example.com/hold", "orphan"]
    assert meta["deletionTimestamp"] == first["object"]["metadata"]["deletionTimestamp"]
    assert meta["generation"] == first["object"]["metadata"]["generation"] == 2


def test_shortening_a_pods_grace_period_applies_the_propagation_policy(cluster: Cluster) -> None:
    """Q6: a pending graceful delete ignores new options, except a DELETE that shortens the
    grace period: that one goes through updateForGracefulDeletionAndFinalizers, which sets
    the GC finalizers the options ask for."""
    cluster, _ = create(cluster, pod("p", node="n1"))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    cluster, ignored = ok(
        cluster, {"op": "delete", "kind": "Pod", "name": "p", "propagationPolicy": "Orphan"}
    )
    assert "finalizers" not in ignored["object"]["metadata"]
    cluster, answer = ok(
        cluster,
        {
            "op": "delete",
            "kind": "Pod",
            "name": "p",
            "gracePeriodSeconds": 10,
            "propagationPolicy": "Orphan",
        },
    )
    meta = answer["object"]["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 10
    assert meta.get("finalizers") == ["orphan"]


def test_background_propagation_deletes_at_once(cluster: Cluster) -> None:
    cluster, _ = create(cluster, deployment("web"))
    cluster, answer = ok(
        cluster,
        {"op": "delete", "kind": "Deployment", "name": "web", "propagationPolicy": "Background"},
    )
    assert "object" not in answer
    assert absent(cluster, "Deployment", "web")


def test_invalid_propagation_policy_is_invalid(cluster: Cluster) -> None:
    cluster, _ = create(cluster, deployment("web"))
    refused(
        cluster,
        {"op": "delete", "kind": "Deployment", "name": "web", "propagationPolicy": "Sideways"},
        422,
        "Invalid",
    )


# -- namespaces --------------------------------------------------------------------------------


def test_namespace_create_adds_the_kubernetes_finalizer_and_active_phase(cluster: Cluster) -> None:
    cluster, ns = create(cluster, namespace("team"))
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["status"]["phase"] == "Active"
    obj = namespace("mine")
    obj["spec"] = {"finalizers": ["example.com/x"]}
    obj["status"] = {"phase": "Terminating"}
    cluster, ns = create(cluster, obj)
    assert ns["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    assert ns["status"]["phase"] == "Active"


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_immortal_namespaces_cannot_be_deleted(cluster: Cluster, name: str) -> None:
    status = refused(cluster, {"op": "delete", "kind": "Namespace", "name": name}, 403, "Forbidden")
    assert "this namespace may not be deleted" in status["message"]


def test_kube_node_lease_may_be_deleted(cluster: Cluster) -> None:
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Namespace", "name": "kube-node-lease"})
    assert answer["object"]["status"]["phase"] == "Terminating"


def test_namespace_delete_sets_terminating(cluster: Cluster) -> None:
    cluster, _ = create(cluster, namespace("team"))
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Namespace", "name": "team"})
    ns = answer["object"]
    assert ns["status"]["phase"] == "Terminating"
    assert ns["metadata"]["deletionTimestamp"] == EPOCH
    assert "deletionGracePeriodSeconds" not in ns["metadata"]  # Q8: stays nil
    assert get(cluster, "Namespace", "team") == ns
    # A repeated delete returns it unchanged.
    revision = cluster.revision
    cluster, again = ok(cluster, {"op": "delete", "kind": "Namespace", "name": "team"})
    assert again["object"] == ns
    assert cluster.revision == revision


def test_create_in_a_terminating_namespace_is_forbidden(cluster: Cluster) -> None:
    cluster, _ = create(cluster, namespace("team"))
    cluster, _ = create(cluster, configmap("a", "team"))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "Namespace", "name": "team"})
    status = refused(cluster, {"op": "create", "object": configmap("b", "team")}, 403, "Forbidden")
    assert "being terminated" in status["message"]
    # Updates in a terminating namespace are allowed.
    cluster, _ = ok(
        cluster,
        {
            "op": "patch",
            "kind": "ConfigMap",
            "namespace": "team",
            "name": "a",
            "patch": {"data": {"k": "x"}},
        },
    )


def test_create_in_a_missing_namespace_is_not_found(cluster: Cluster) -> None:
    status = refused(
        cluster, {"op": "create", "object": configmap("a", "nowhere")}, 404, "NotFound"
    )
    assert "nowhere" in status["message"]


# -- scale -------------------------------------------------------------------------------------


def test_scale_of_a_kind_without_the_subresource_is_not_found(cluster: Cluster) -> None:
    cluster, _ = create(cluster, configmap("a"))
    refused(cluster, {"op": "scale", "kind": "ConfigMap", "name": "a", "replicas": 2}, 404)


def test_scale_to_negative_replicas_is_invalid(cluster: Cluster) -> None:
    cluster, _ = create(cluster, deployment("web"))
    status = refused(
        cluster, {"op": "scale", "kind": "Deployment", "name": "web", "replicas": -1}, 422
    )
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.replicas"]


def test_scale_of_a_missing_object_is_not_found_before_validation(cluster: Cluster) -> None:
    """ScaleREST.Update: scaleUpdatedObjectInfo answers NotFound for an absent parent
    before ValidateScale runs, so a negative replicas count on a missing object is 404."""
    refused(cluster, {"op": "scale", "kind": "Deployment", "name": "nope", "replicas": 2}, 404)
    refused(cluster, {"op": "scale", "kind": "Deployment", "name": "nope", "replicas": -1}, 404)


def test_scale_returns_an_autoscaling_v1_scale(cluster: Cluster) -> None:
    obj = deployment("web")
    obj["spec"]["selector"]["matchExpressions"] = [
        {"key": "tier", "operator": "In", "values": ["b", "a"]}
    ]
    obj["spec"]["template"]["metadata"]["labels"]["tier"] = "a"
    cluster, d = create(cluster, obj)
    cluster, answer = ok(
        cluster, {"op": "scale", "kind": "Deployment", "name": "web", "replicas": 5}
    )
    scale = answer["object"]
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["kind"] == "Scale"
    assert scale["metadata"]["name"] == "web"
    assert scale["metadata"]["uid"] == d["metadata"]["uid"]
    assert scale["spec"]["replicas"] == 5
    assert scale["status"]["selector"] == "app=web,tier in (a,b)"
    assert isinstance(scale["status"]["replicas"], int)
    after = get(cluster, "Deployment", "web")
    assert after["spec"]["replicas"] == 5
    assert after["metadata"]["generation"] == 2
    assert scale["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    # The same replicas again is a no-op.
    revision = cluster.revision
    cluster, _ = ok(cluster, {"op": "scale", "kind": "Deployment", "name": "web", "replicas": 5})
    assert cluster.revision == revision


# -- watch and compact -------------------------------------------------------------------------


def test_watch_returns_exactly_the_changes_after_a_revision(cluster: Cluster) -> None:
    start = str(cluster.revision)
    cluster, a = create(cluster, configmap("a"))
    cluster, _ = ok(
        cluster, {"op": "patch", "kind": "ConfigMap", "name": "a", "patch": {"data": {"k": "2"}}}
    )
    cluster, _ = create(cluster, deployment("web"))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    _, answer = ok(cluster, {"op": "watch", "resourceVersion": start})
    summary = [
        (e["type"], e["object"]["kind"], e["object"]["metadata"]["name"]) for e in answer["events"]
    ]
    assert summary == [
        ("ADDED", "ConfigMap", "a"),
        ("MODIFIED", "ConfigMap", "a"),
        ("ADDED", "Deployment", "web"),
        ("DELETED", "ConfigMap", "a"),
    ]
    rvs = [rv(e["object"]) for e in answer["events"]]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4
    assert rvs[-1] == cluster.revision
    assert answer["events"][1]["object"]["data"] == {"k": "2"}
    assert answer["events"][3]["object"]["metadata"]["uid"] == a["metadata"]["uid"]
    assert answer["resourceVersion"] == str(cluster.revision)
    _, later = ok(cluster, {"op": "watch", "resourceVersion": str(rvs[1])})
    assert later["events"] == answer["events"][2:]
    _, kinds = ok(cluster, {"op": "watch", "kind": "Deployment", "resourceVersion": start})
    assert [e["object"]["metadata"]["name"] for e in kinds["events"]] == ["web"]
    _, none = ok(cluster, {"op": "watch", "resourceVersion": str(cluster.revision)})
    assert none["events"] == []


def test_watch_filters_by_namespace(cluster: Cluster) -> None:
    cluster, _ = create(cluster, namespace("other"))
    start = str(cluster.revision)
    cluster, _ = create(cluster, configmap("a"))
    cluster, _ = create(cluster, configmap("b", "other"))
    _, answer = ok(cluster, {"op": "watch", "namespace": "other", "resourceVersion": start})
    assert [e["object"]["metadata"]["name"] for e in answer["events"]] == ["b"]


def test_events_are_watched_only_with_kind_event(cluster: Cluster) -> None:
    start = str(cluster.revision)
    event = {
        "kind": "Event",
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "ConfigMap", "name": "a", "namespace": "default"},
        "reason": "Test",
        "message": "hello",
    }
    cluster, _ = create(cluster, event)
    cluster, _ = create(cluster, configmap("a"))
    _, everything = ok(cluster, {"op": "watch", "resourceVersion": start})
    assert [e["object"]["kind"] for e in everything["events"]] == ["ConfigMap"]
    _, events = ok(cluster, {"op": "watch", "kind": "Event", "resourceVersion": start})
    assert [e["object"]["kind"] for e in events["events"]] == ["Event"]
    assert all(o["kind"] != "Event" for o in snap(cluster)["objects"])


def test_watch_below_the_compacted_revision_is_gone(cluster: Cluster) -> None:
    start = cluster.revision
    cluster, _ = create(cluster, configmap("a"))
    cluster, _ = create(cluster, configmap("b"))
    compact_at = cluster.revision - 1
    cluster, _ = ok(cluster, {"op": "compact", "resourceVersion": str(compact_at)})
    status = refused(cluster, {"op": "watch", "resourceVersion": str(start)}, 410)
    assert status["reason"] in ("Expired", "Gone")
    _, answer = ok(cluster, {"op": "watch", "resourceVersion": str(compact_at)})
    assert [e["object"]["metadata"]["name"] for e in answer["events"]] == ["b"]
    # Objects stay readable after compaction.
    assert get(cluster, "ConfigMap", "a")["metadata"]["name"] == "a"


# -- refusals change nothing -------------------------------------------------------------------


def _prepared() -> Cluster:
    c = new_cluster(11)
    c, _ = create(c, namespace("team"))
    c, _ = create(c, configmap("a", finalizers=["example.com/hold"]))
    c, _ = create(c, configmap("b"))
    c, _ = create(c, deployment("web"))
    c, _ = create(c, pod("p", node="n1"))
    c, _ = create(c, namespace("gone"))
    c, _ = ok(c, {"op": "delete", "kind": "ConfigMap", "name": "a"})
    c, _ = ok(c, {"op": "delete", "kind": "Namespace", "name": "gone"})
    c, _ = ok(c, {"op": "compact", "resourceVersion": "3"})
    return c


REFUSALS: list[tuple[dict[str, Any], int]] = [
    ({"op": "create", "object": configmap("b")}, 409),
    ({"op": "create", "object": configmap("x", "gone")}, 403),
    ({"op": "create", "object": configmap("x", "nowhere")}, 404),
    ({"op": "create", "object": {"kind": "ConfigMap", "metadata": {}}}, 422),
    ({"op": "create", "object": configmap("Bad_Name")}, 422),
    ({"op": "create", "object": {"kind": "Widget", "metadata": {"name": "w"}}}, 404),
    ({"op": "create", "object": {**configmap("x"), "apiVersion": "v2"}}, 400),
    ({"op": "create"}, 400),
    ({"op": "create", "object": "not an object"}, 400),
    (
        {
            "op": "update",
            "object": {**configmap("b"), "metadata": {"name": "b", "resourceVersion": "1"}},
        },
        409,
    ),
    ({"op": "update", "object": configmap("nope")}, 404),
    (
        {
            "op": "patch",
            "kind": "ConfigMap",
            "name": "b",
            "patch": {"metadata": {"resourceVersion": "2"}},
        },
        409,
    ),
    ({"op": "patch", "kind": "ConfigMap", "name": "b", "patch": "x"}, 400),
    (
        {
            "op": "patch",
            "kind": "ConfigMap",
            "name": "a",
            "patch": {"metadata": {"finalizers": ["example.com/hold", "example.com/b"]}},
        },
        422,
    ),
    ({"op": "scale", "kind": "ConfigMap", "name": "b", "replicas": 1}, 404),
    ({"op": "scale", "kind": "Deployment", "name": "web", "replicas": -3}, 422),
    ({"op": "scale", "kind": "Deployment", "name": "web", "replicas": "3"}, 400),
    ({"op": "delete", "kind": "Namespace", "name": "default"}, 403),
    (
        {
            "op": "delete",
            "kind": "ConfigMap",
            "name": "b",
            "preconditions": {"resourceVersion": "2"},
        },
        409,
    ),
    ({"op": "delete", "kind": "ConfigMap", "name": "b", "propagationPolicy": "All"}, 422),
    ({"op": "delete", "kind": "ConfigMap", "name": "nope"}, 404),
    ({"op": "get", "kind": 5, "name": "b"}, 400),
    ({"op": "get", "kind": "ConfigMap"}, 400),
    ({"op": "list", "kind": "ConfigMap", "fieldSelector": "data.k=v"}, 400),
    ({"op": "watch", "resourceVersion": "1"}, 410),
    ({"op": "watch", "resourceVersion": "abc"}, 400),
    ({"op": "compact", "resourceVersion": "2"}, 410),
    ({"op": "advance", "seconds": -1}, 400),
    ({"op": "advance", "seconds": "ten"}, 400),
    ({"op": "advance", "seconds": True}, 400),
    ({"op": "settle"}, 400),
    ({"op": "controller.restart", "name": "nope"}, 404),
    ({"op": "controller.lag", "name": "garbagecollector", "seconds": -2}, 400),
    ({"op": "hello", "protocol": 2}, 400),
    ({"op": "reset", "seed": "x"}, 400),
    (
        {
            "op": "route",
            "namespace": "default",
            "service": "s",
            "port": 80,
            "client": "1.2.3.4",
            "count": 1,
        },
        404,
    ),
    ({"op": "status", "object": configmap("b")}, 501),
    ({"op": "finalize", "object": namespace("team")}, 501),
    ({"op": "frobnicate"}, 501),
    ({"op": 7}, 400),
    ({}, 400),
]


@pytest.mark.parametrize(
    ("request_", "code"),
    REFUSALS,
    ids=lambda v: json.dumps(v)[:60] if isinstance(v, dict) else str(v),
)
def test_every_refused_request_leaves_the_cluster_unchanged(
    request_: dict[str, Any], code: int
) -> None:
    refused(_prepared(), request_, code)


# -- malformed and unknown -----------------------------------------------------------------------


@pytest.mark.parametrize("op", ["get", "list", "watch"])
def test_unknown_kind_is_not_found(cluster: Cluster, op: str) -> None:
    request: dict[str, Any] = {"op": op, "kind": "Widget", "name": "w", "resourceVersion": "1"}
    refused(cluster, request, 404, "NotFound")


@pytest.mark.parametrize("op", ["metrics.set"])
def test_ops_of_later_issues_are_not_implemented(cluster: Cluster, op: str) -> None:
    status = refused(cluster, {"op": op, "name": "n1"}, 501, "NotImplemented")
    assert op in status["message"]


@pytest.mark.parametrize("op", ["route", "resolve"])
def test_malformed_observations_are_refused_naming_the_problem(cluster: Cluster, op: str) -> None:
    refused(cluster, {"op": op, "name": "n1"}, 400, "BadRequest")


def test_hello_speaks_protocol_one_only(cluster: Cluster) -> None:
    status = refused(cluster, {"op": "hello", "protocol": 2}, 400, "BadRequest")
    assert "1" in status["message"]
    _, answer = ok(cluster, {"op": "hello", "protocol": 1})
    assert answer["protocol"] == 1
    assert isinstance(answer["name"], str) and isinstance(answer["version"], str)
    assert answer["kubernetesVersion"].startswith("1.34")
    assert {"clock", "reset", "watch", "controllers"} <= set(answer["capabilities"])
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Pod",
        "ReplicaSet",
        "Deployment",
        "Service",
        "Lease",
    } <= set(answer["kinds"])
    assert answer["parameters"] == {
        "nodeMonitorGracePeriodSeconds": 50,
        "nodeMonitorPeriodSeconds": 5,
        "nodeLeaseRenewIntervalSeconds": 10,
        "defaultTolerationSeconds": 300,
        "terminationGracePeriodSeconds": 30,
        "crashLoopBackOffInitialSeconds": 10,
        "crashLoopBackOffMaxSeconds": 300,
        "crashLoopBackOffResetSeconds": 600,
        "sessionAffinityTimeoutSeconds": 10800,
    }


def test_snapshot_holds_every_object_but_events_at_one_revision(cluster: Cluster) -> None:
    answer = snap(cluster)
    assert answer["now"] == EPOCH
    assert answer["resourceVersion"] == str(cluster.revision)
    names = sorted(o["metadata"]["name"] for o in answer["objects"] if o["kind"] == "Namespace")
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    cluster, cm = create(cluster, configmap("a"))
    assert cm in snap(cluster)["objects"]
