"""Strategic merge patch and JSON patch, the patch formats kubectl sends to `kubeprop serve`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conformance.serve.jsonpatch import JsonPatchError, json_patch
from conformance.serve.strategic import PatchError, merge_key, strategic_merge


def _deployment() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.14",
                            "ports": [{"containerPort": 80}, {"containerPort": 443}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "x", "operator": "Exists"}],
                }
            },
        },
    }


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return containers


def test_containers_merge_by_name_as_kubectl_apply_sends_them() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [{"image": "nginx:1.15", "name": "nginx"}],
                }
            }
        }
    }
    original = _deployment()
    before = copy.deepcopy(original)
    result = strategic_merge(original, patch)
    assert original == before, "the original must not change"
    nginx, sidecar = _containers(result)
    assert nginx["image"] == "nginx:1.15"
    assert nginx["env"] == before["spec"]["template"]["spec"]["containers"][0]["env"]
    assert sidecar == {"name": "sidecar", "image": "busybox"}


def test_env_ports_and_mounts_merge_by_their_keys() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                            "ports": [{"containerPort": 80, "name": "http"}],
                            "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                        }
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                }
            }
        }
    }
    result = strategic_merge(_deployment(), patch)
    nginx = _containers(result)[0]
    assert nginx["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert nginx["ports"] == [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]
    assert nginx["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert [v["name"] for v in result["spec"]["template"]["spec"]["volumes"]] == ["data", "cache"]


def test_delete_directives_and_null() -> None:
    patch = {
        "metadata": {"labels": None, "$deleteFromPrimitiveList/finalizers": ["a"]},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "sidecar", "$patch": "delete"}],
                    "tolerations": [{"key": "y", "operator": "Exists"}],
                }
            }
        },
    }
    result = strategic_merge(_deployment(), patch)
    assert "labels" not in result["metadata"]
    assert result["metadata"]["finalizers"] == []
    assert [c["name"] for c in _containers(result)] == ["nginx"]
    # a list without a merge key is replaced whole
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]


def test_replace_and_retain_keys() -> None:
    result = strategic_merge(_deployment(), {"spec": {"$patch": "replace", "replicas": 1}})
    assert result["spec"] == {"replicas": 1}
    retained = strategic_merge(
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}


def test_finalizers_merge_as_a_set_and_element_order_is_kept() -> None:
    result = strategic_merge(_deployment(), {"metadata": {"finalizers": ["b", "a"]}})
    assert result["metadata"]["finalizers"] == ["a", "b"]
    reordered = strategic_merge(
        _deployment(),
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]
                    }
                }
            }
        },
    )
    assert [c["name"] for c in _containers(reordered)] == ["sidecar", "nginx"]


def test_service_ports_merge_by_port_and_container_ports_by_container_port() -> None:
    assert merge_key(("spec", "ports")) == "port"
    assert merge_key(("spec", "template", "spec", "containers", "ports")) == "containerPort"
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    result = strategic_merge(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


@pytest.mark.parametrize(
    "patch",
    [
        [],
        {"spec": {"$patch": "explode"}},
        {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}},
        {"metadata": {"$retainKeys": "name"}},
    ],
)
def test_malformed_patches_are_refused(patch: Any) -> None:
    with pytest.raises(PatchError):
        strategic_merge(_deployment(), patch)


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x", "d~/e": 1}
    result = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "remove", "path": "/d~0~1e"},
            {"op": "copy", "from": "/c", "path": "/f"},
            {"op": "move", "from": "/f", "path": "/g"},
            {"op": "test", "path": "/g", "value": "y"},
        ],
    )
    assert result == {"a": {"b": [0, 1, 2, 3]}, "c": "y", "g": "y"}
    assert doc == {"a": {"b": [1, 2]}, "c": "x", "d~/e": 1}


@pytest.mark.parametrize(
    "operations",
    [
        {"op": "add"},
        [{"op": "test", "path": "/c", "value": "z"}],
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/a/b/9", "value": 1}],
        [{"op": "frobnicate", "path": "/c"}],
        [{"op": "add", "path": "c", "value": 1}],
    ],
)
def test_json_patch_refusals(operations: Any) -> None:
    with pytest.raises(JsonPatchError):
        json_patch({"a": {"b": [1]}, "c": "x"}, operations)
