"""The pure side of `kubeprop serve`: paths, discovery, tables, REST verbs over a cluster value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.serve import discovery, openapi
from conformance.serve.paths import NotServed, parse_resource_path
from conformance.serve.rest import Reply, RestRequest, Transaction, handle
from conformance.serve.tables import human_duration, table
from conformance.serve.watch import watch_filter
from reference.api.kinds import KINDS
from reference.cluster import Cluster, new_cluster, step


def test_paths_name_resources_namespaces_and_subresources() -> None:
    pods = parse_resource_path("/api/v1/namespaces/web/pods")
    assert (pods.kind.name, pods.namespace, pods.name) == ("Pod", "web", None)
    scale = parse_resource_path("/apis/apps/v1/namespaces/default/deployments/web/scale")
    assert (scale.kind.name, scale.name, scale.subresource) == ("Deployment", "web", "scale")
    ns = parse_resource_path("/api/v1/namespaces/web")
    assert (ns.kind.name, ns.namespace, ns.name) == ("Namespace", None, "web")
    ns_status = parse_resource_path("/api/v1/namespaces/web/status")
    assert (ns_status.kind.name, ns_status.name, ns_status.subresource) == (
        "Namespace",
        "web",
        "status",
    )
    everywhere = parse_resource_path("/api/v1/pods")
    assert (everywhere.kind.name, everywhere.namespace) == ("Pod", None)
    node = parse_resource_path("/api/v1/nodes/node-1")
    assert (node.kind.name, node.name) == ("Node", "node-1")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/pods",
        "/apis/apps/v2/deployments",
        "/api/v1/widgets",
        "/api/v1/pods/x",
        "/api/v1/namespaces/default/configmaps/x/scale",
        "/api/v1/namespaces/default/pods/x/status/more",
        "/metrics",
    ],
)
def test_paths_not_served(path: str) -> None:
    with pytest.raises(NotServed):
        parse_resource_path(path)


def test_discovery_lists_every_kind_with_its_subresources() -> None:
    listed = set()
    for gv in [
        "v1",
        *(g["preferredVersion"]["groupVersion"] for g in discovery.api_group_list()["groups"]),
    ]:
        group, _, version = gv.rpartition("/")
        resources = discovery.api_resource_list(group, version)
        assert resources is not None
        listed |= {r["kind"] for r in resources["resources"] if "/" not in r["name"]}
        names = {r["name"]: r for r in resources["resources"]}
        if gv == "apps/v1":
            assert names["deployments"]["shortNames"] == ["deploy"]
            assert names["deployments/scale"]["kind"] == "Scale"
            assert "deployments/status" in names
    assert listed == set(KINDS)
    assert discovery.version_info()["gitVersion"] == "v1.34.0"
    doc = openapi.group_version_document("apps", "v1")
    assert doc is not None
    post = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in post[
        "parameters"
    ]
    assert set(openapi.index()["paths"]) >= {"api/v1", "apis/apps/v1"}


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (5, "5s"),
        (119, "119s"),
        (200, "3m20s"),
        (600, "10m"),
        (3 * 3600 + 120, "3h2m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400 + 5 * 86400, "3y5d"),
    ],
)
def test_human_duration(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


def _deployment(name: str = "web", image: str = "nginx:1.14") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def _cluster() -> Cluster:
    cluster = new_cluster(1)
    cluster, answer = step(
        cluster,
        {"op": "node.add", "name": "n1", "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    )
    assert answer["ok"]
    return cluster


def _call(
    tx: Transaction,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    **query: str,
) -> Reply:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    request = RestRequest(method, parse_resource_path(path), query, raw, content_type)
    return handle(tx, request)


DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def test_create_get_list_patch_scale_delete() -> None:
    tx = Transaction(_cluster())
    created = _call(tx, "POST", DEPLOYMENTS, _deployment())
    assert created.code == 201
    assert created.body["metadata"]["namespace"] == "default"
    again = _call(tx, "POST", DEPLOYMENTS, _deployment())
    assert (again.code, again.body["reason"]) == (409, "AlreadyExists")
    listed = _call(tx, "GET", DEPLOYMENTS, fieldSelector="metadata.name=web")
    assert [d["metadata"]["name"] for d in listed.body["items"]] == ["web"]
    assert listed.body["kind"] == "DeploymentList"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}}
    patched = _call(
        tx, "PATCH", f"{DEPLOYMENTS}/web", patch, "application/strategic-merge-patch+json"
    )
    assert patched.code == 200
    assert patched.body["spec"]["template"]["spec"]["containers"][0]["image"] == "v2"
    assert patched.body["metadata"]["generation"] == 2
    scaled = _call(
        tx,
        "PATCH",
        f"{DEPLOYMENTS}/web/scale",
        {"spec": {"replicas": 5}},
        "application/merge-patch+json",
    )
    assert (scaled.code, scaled.body["kind"], scaled.body["spec"]["replicas"]) == (200, "Scale", 5)
    gone = _call(tx, "DELETE", f"{DEPLOYMENTS}/web", {"propagationPolicy": "Background"})
    assert (gone.code, gone.body["status"]) == (200, "Success")
    missing = _call(tx, "GET", f"{DEPLOYMENTS}/web")
    assert (missing.code, missing.body["kind"], missing.body["reason"]) == (
        404,
        "Status",
        "NotFound",
    )


def test_update_with_a_stale_resource_version_is_a_conflict() -> None:
    tx = Transaction(_cluster())
    stored = _call(tx, "POST", DEPLOYMENTS, _deployment()).body
    stale = json.loads(json.dumps(stored))
    stored["spec"]["replicas"] = 4
    assert _call(tx, "PUT", f"{DEPLOYMENTS}/web", stored).code == 200
    stale["spec"]["replicas"] = 6
    conflict = _call(tx, "PUT", f"{DEPLOYMENTS}/web", stale)
    assert (conflict.code, conflict.body["reason"]) == (409, "Conflict")
    precondition = _call(
        tx, "DELETE", f"{DEPLOYMENTS}/web", {"preconditions": {"resourceVersion": "1"}}
    )
    assert precondition.code == 409


def test_apply_patch_creates_then_merges() -> None:
    tx = Transaction(_cluster())
    apply = "application/apply-patch+yaml"
    first = _call(tx, "PATCH", f"{DEPLOYMENTS}/web", _deployment(), apply, fieldManager="me")
    assert first.code == 201
    second = _call(
        tx, "PATCH", f"{DEPLOYMENTS}/web", _deployment(image="v3"), apply, fieldManager="me"
    )
    assert second.code == 200
    assert second.body["spec"]["template"]["spec"]["containers"] == [
        {**first.body["spec"]["template"]["spec"]["containers"][0], "image": "v3"}
    ]


def test_json_patch_as_rollout_undo_sends_it() -> None:
    tx = Transaction(_cluster())
    _call(tx, "POST", DEPLOYMENTS, _deployment())
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    reply = _call(tx, "PATCH", f"{DEPLOYMENTS}/web", ops, "application/json-patch+json")
    assert (reply.code, reply.body["spec"]["replicas"]) == (200, 1)
    failed = _call(
        tx,
        "PATCH",
        f"{DEPLOYMENTS}/web",
        [{"op": "test", "path": "/spec/replicas", "value": 7}],
        "application/json-patch+json",
    )
    assert failed.code == 422


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code"),
    [
        ("POST", DEPLOYMENTS, b"{not json", "application/json", 400),
        ("POST", DEPLOYMENTS, b"[1, 2]", "application/json", 400),
        ("POST", DEPLOYMENTS, b"", "application/json", 400),
        ("POST", DEPLOYMENTS, {**_deployment(), "kind": "ReplicaSet"}, "application/json", 400),
        ("POST", DEPLOYMENTS, {**_deployment(), "metadata": "web"}, "application/json", 400),
        (
            "POST",
            "/api/v1/namespaces/other/configmaps",
            {"metadata": {"name": "x", "namespace": "default"}},
            "application/json",
            400,
        ),
        ("PATCH", f"{DEPLOYMENTS}/web", {"spec": {}}, "text/plain", 415),
        ("PUT", f"{DEPLOYMENTS}/absent/status", _deployment("absent"), "application/json", 404),
        (
            "PATCH",
            f"{DEPLOYMENTS}/absent/status",
            {"status": {}},
            "application/merge-patch+json",
            404,
        ),
        ("DELETE", DEPLOYMENTS, None, "application/json", 405),
        ("POST", DEPLOYMENTS, b"\x0a\x02", "application/vnd.kubernetes.protobuf", 415),
    ],
)
def test_bad_requests_are_refused_with_a_status_and_change_nothing(
    method: str, path: str, body: Any, content_type: str, code: int
) -> None:
    cluster = _cluster()
    tx = Transaction(cluster)
    reply = _call(tx, method, path, body, content_type)
    assert reply.code == code
    assert reply.body["kind"] == "Status"
    assert tx.cluster.revision == cluster.revision


def test_status_writes_change_the_status_and_nothing_else() -> None:
    tx = Transaction(_cluster())
    created = _call(tx, "POST", DEPLOYMENTS, _deployment()).body
    sent = {**created, "spec": {**created["spec"], "replicas": 9}, "status": {"replicas": 4}}
    put = _call(tx, "PUT", f"{DEPLOYMENTS}/web/status", sent)
    assert put.code == 200, put.body
    assert put.body["status"]["replicas"] == 4
    assert put.body["spec"]["replicas"] == created["spec"]["replicas"], "spec is not written"
    assert put.body["metadata"]["generation"] == created["metadata"]["generation"]
    patched = _call(
        tx,
        "PATCH",
        f"{DEPLOYMENTS}/web/status",
        {"status": {"observedGeneration": 1}, "spec": {"replicas": 7}},
        "application/merge-patch+json",
    )
    assert patched.code == 200, patched.body
    assert patched.body["status"]["observedGeneration"] == 1
    assert patched.body["spec"]["replicas"] == created["spec"]["replicas"]
    stale = _call(tx, "PUT", f"{DEPLOYMENTS}/web/status", sent)
    assert stale.code == 409, "a stale resourceVersion is a conflict, as for the object"


def test_deleting_a_pod_answers_the_pod_even_when_it_is_gone_at_once() -> None:
    """Upstream's pod storage returns the deleted object (ReturnDeletedObject); the official
    client decodes the answer of delete_namespaced_pod as a Pod."""
    tx = Transaction(_cluster())
    pods = "/api/v1/namespaces/default/pods"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "registry.example/app:1"}]},
    }
    assert _call(tx, "POST", pods, pod).code == 201
    deleted = _call(tx, "DELETE", f"{pods}/p", {"gracePeriodSeconds": 0})
    assert deleted.code == 200 and deleted.body["kind"] == "Pod"
    assert _call(tx, "GET", f"{pods}/p").code == 404
    configmaps = "/api/v1/namespaces/default/configmaps"
    _call(tx, "POST", configmaps, {"metadata": {"name": "c"}})
    assert _call(tx, "DELETE", f"{configmaps}/c").body["kind"] == "Status"


def test_wrong_types_in_an_object_are_a_4xx() -> None:
    tx = Transaction(_cluster())
    bad = _deployment()
    bad["spec"]["replicas"] = "three"
    reply = _call(tx, "POST", DEPLOYMENTS, bad)
    assert 400 <= reply.code < 500, reply.body


def test_dry_run_flag_and_tables() -> None:
    tx = Transaction(_cluster())
    request = RestRequest("POST", parse_resource_path(DEPLOYMENTS), {"dryRun": "All"})
    assert request.dry_run
    body = json.dumps({"dryRun": ["All"]}).encode()
    assert RestRequest("DELETE", parse_resource_path(f"{DEPLOYMENTS}/web"), {}, body).dry_run
    assert not RestRequest("DELETE", parse_resource_path(f"{DEPLOYMENTS}/web"), {}, b"{").dry_run
    _call(tx, "POST", DEPLOYMENTS, _deployment())
    reply = handle(
        tx,
        RestRequest("GET", parse_resource_path(DEPLOYMENTS), {}, table=True),
    )
    assert reply.body["kind"] == "Table"
    assert [c["name"] for c in reply.body["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
    ]
    assert reply.body["rows"][0]["cells"][0] == "web"
    assert reply.body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    for kind in KINDS:
        empty = table(kind, [], 0.0, "1")
        names = [c["name"] for c in empty["columnDefinitions"]]
        assert names[0] == "Name" and "Age" in names


def test_watch_filter_applies_label_and_field_selectors() -> None:
    chosen = watch_filter({"labelSelector": "app=web", "fieldSelector": "metadata.name!=b"})
    assert chosen.matches({"metadata": {"name": "a", "labels": {"app": "web"}}})
    assert not chosen.matches({"metadata": {"name": "b", "labels": {"app": "web"}}})
    assert not chosen.matches({"metadata": {"name": "a", "labels": {"app": "db"}}})
