"""The kube: target's pure parts: its spec, the example's namespaces, and when it calls a
cluster settled. (It is driven against `kubeprop serve` in tests/integration.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.targets import TargetSpecError, open_target, serves
from conformance.targets.kube import _time_scale, parse_kube_spec
from conformance.targets.kube_names import ExampleNamespaces, new_example_namespaces
from conformance.targets.kube_settle import fingerprint, pending

NS = ExampleNamespaces("kp-0a1b2c3d-")


@pytest.mark.parametrize(
    ("spec", "kubeconfig", "context"),
    [
        ("kube:", None, None),
        ("kube:/tmp/kc", "/tmp/kc", None),
        ("kube:/tmp/kc#ctx", "/tmp/kc", "ctx"),
        ("kube:#ctx", None, "ctx"),
    ],
)
def test_spec_names_a_kubeconfig_and_a_context(
    spec: str, kubeconfig: str | None, context: str | None
) -> None:
    parsed = parse_kube_spec(spec)
    assert (parsed.kubeconfig, parsed.context) == (kubeconfig, context)
    assert serves(spec) == {"cluster"}


def test_kube_is_not_a_store() -> None:
    with pytest.raises(TargetSpecError, match="not a store"):
        open_target("kube:/tmp/kc", kind="store")


def test_a_missing_kubeconfig_is_a_clear_fault(tmp_path: Path) -> None:
    from conformance.targets import TargetFault

    with pytest.raises(TargetFault, match="cannot load the kubeconfig"):
        open_target(f"kube:{tmp_path / 'absent'}")


def _kubeconfig(tmp_path: Path, extensions: list[dict[str, Any]]) -> Path:
    cluster: dict[str, Any] = {"server": "http://127.0.0.1:1"}
    if extensions:
        cluster["extensions"] = extensions
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_time_scale_comes_from_kubeprop_serves_extension(tmp_path: Path) -> None:
    ext = [{"name": "kubeprop.io/clock", "extension": {"timeScale": 20}}]
    assert _time_scale(str(_kubeconfig(tmp_path, ext)), None) == 20.0
    assert _time_scale(str(_kubeconfig(tmp_path, ext)), "x") == 20.0


@pytest.mark.parametrize(
    "extensions",
    [[], [{"name": "other", "extension": {"timeScale": 5}}], [{"name": "kubeprop.io/clock"}]],
)
def test_a_real_clusters_clock_runs_at_wall_speed(
    tmp_path: Path, extensions: list[dict[str, Any]]
) -> None:
    assert _time_scale(str(_kubeconfig(tmp_path, extensions)), None) == 1.0
    assert _time_scale(str(tmp_path / "absent"), None) == 1.0


# -- namespaces ------------------------------------------------------------------------------


def test_example_namespaces_are_prefixed_and_mapped_back() -> None:
    assert NS.to_cluster("default") == "kp-0a1b2c3d-default"
    assert NS.from_cluster("kp-0a1b2c3d-ns-a") == "ns-a"
    assert NS.from_cluster("kp-99999999-ns-a") is None
    assert NS.from_cluster("default") is None
    assert NS.to_cluster("kube-system") == "kube-system"
    assert NS.from_cluster("kube-system") == "kube-system"


@pytest.mark.parametrize("name", ["-dash-first", "Not_A_Name", "end-", ""])
def test_an_invalid_namespace_name_passes_unchanged_so_the_cluster_refuses_it(name: str) -> None:
    assert NS.to_cluster(name) == name


def test_a_name_too_long_once_prefixed_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too long for the kube: target"):
        NS.to_cluster("a" * 60)


def test_two_examples_never_share_namespaces() -> None:
    assert new_example_namespaces().prefix != new_example_namespaces().prefix


def test_objects_travel_with_their_namespace_mapped() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "ns-a"}}
    sent = NS.object_to_cluster(pod, namespaced=True)
    assert sent["metadata"]["namespace"] == "kp-0a1b2c3d-ns-a"
    assert pod["metadata"]["namespace"] == "ns-a", "the caller's object is not changed"
    assert NS.object_to_cluster({"kind": "Pod", "metadata": {"name": "p"}}, namespaced=True)[
        "metadata"
    ]["namespace"] == ("kp-0a1b2c3d-default")
    back = NS.object_from_cluster({**sent, "metadata": {**sent["metadata"], "managedFields": []}})
    assert back["metadata"] == {"name": "p", "namespace": "ns-a"}


def test_a_namespace_object_is_renamed_with_its_name_label() -> None:
    ns = {"kind": "Namespace", "metadata": {"name": "ns-b"}}
    sent = NS.object_to_cluster(ns, namespaced=False)
    assert sent["metadata"]["name"] == "kp-0a1b2c3d-ns-b"
    stored = {
        "kind": "Namespace",
        "metadata": {
            "name": "kp-0a1b2c3d-ns-b",
            "labels": {"kubernetes.io/metadata.name": "kp-0a1b2c3d-ns-b", "team": "x"},
        },
    }
    back = NS.object_from_cluster(stored)
    assert back["metadata"]["name"] == "ns-b"
    assert back["metadata"]["labels"] == {"kubernetes.io/metadata.name": "ns-b", "team": "x"}


def test_owner_references_to_namespaces_travel_with_the_name() -> None:
    ref = {"apiVersion": "v1", "kind": "Namespace", "name": "ns-a", "uid": "u"}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ns-a", "uid": "v"}
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "ownerReferences": [ref, other]}}
    sent = NS.object_to_cluster(obj, namespaced=True)
    assert [r["name"] for r in sent["metadata"]["ownerReferences"]] == ["kp-0a1b2c3d-ns-a", "ns-a"]
    back = NS.object_from_cluster(sent)
    assert back["metadata"]["ownerReferences"] == [ref, other]
    patch = NS.patch_to_cluster({"metadata": {"ownerReferences": [ref]}, "data": {"k": "v"}})
    assert patch["metadata"]["ownerReferences"][0]["name"] == "kp-0a1b2c3d-ns-a"
    assert patch["data"] == {"k": "v"}


def test_field_selectors_on_namespaces_are_mapped() -> None:
    assert (
        NS.field_selector_to_cluster("metadata.namespace=ns-a,metadata.name!=x", "Pod")
        == "metadata.namespace=kp-0a1b2c3d-ns-a,metadata.name!=x"
    )
    assert NS.field_selector_to_cluster("metadata.name==ns-a", "Namespace") == (
        "metadata.name==kp-0a1b2c3d-ns-a"
    )
    assert NS.field_selector_to_cluster("status.phase=Running", "Pod") == "status.phase=Running"


# -- settling --------------------------------------------------------------------------------


def _obj(kind: str, name: str = "x", **parts: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "default", "resourceVersion": "1", **parts.pop("meta", {})}
    return {"kind": kind, "metadata": meta, **parts}


def test_a_finished_rollout_owes_nothing() -> None:
    deployment = _obj(
        "Deployment",
        meta={"generation": 2},
        spec={"replicas": 2},
        status={
            "observedGeneration": 2,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
        },
    )
    replicaset = _obj(
        "ReplicaSet",
        spec={"replicas": 2},
        status={"replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
    )
    running = _obj("Pod", spec={"nodeName": "n1"}, status={"phase": "Running"})
    unschedulable = _obj("Pod", "y", spec={}, status={"phase": "Pending"})
    assert pending([deployment, replicaset, running, unschedulable]) == []


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (_obj("Deployment", meta={"generation": 3}, status={"observedGeneration": 2}), "observed"),
        (_obj("Deployment", spec={"replicas": 2}, status={"replicas": 3}), "rolling out"),
        (
            _obj("ReplicaSet", spec={"replicas": 1}, status={"replicas": 1, "readyReplicas": 1}),
            "available",
        ),
        (_obj("ReplicaSet", spec={"replicas": 2}, status={"replicas": 1}), "replicas"),
        (_obj("Pod", spec={"nodeName": "n1"}, status={"phase": "Pending"}), "starting"),
        (
            _obj("ConfigMap", meta={"ownerReferences": [{"kind": "Pod", "name": "p", "uid": "x"}]}),
            "owner that is gone",
        ),
        (_obj("Pod", meta={"deletionTimestamp": "2025-01-01T00:00:00Z"}), "terminating"),
        (_obj("StatefulSet", spec={"replicas": 2}, status={"replicas": 1}), "replicas"),
        (
            _obj("DaemonSet", status={"desiredNumberScheduled": 3, "currentNumberScheduled": 2}),
            "placed",
        ),
    ],
)
def test_work_owed_keeps_a_cluster_busy(obj: dict[str, Any], reason: str) -> None:
    found = pending([obj])
    assert len(found) == 1 and reason in found[0]


def test_pods_stuck_on_an_image_owe_nothing_and_hold_no_rollout_open() -> None:
    waiting = {"state": {"waiting": {"reason": "ImagePullBackOff"}}}
    stuck = _obj(
        "Pod", spec={"nodeName": "n1"}, status={"phase": "Pending", "containerStatuses": [waiting]}
    )
    rollout = _obj(
        "Deployment",
        spec={"replicas": 2},
        status={"replicas": 2, "updatedReplicas": 2, "availableReplicas": 0},
    )
    assert pending([stuck, rollout]) == []


def test_a_live_owner_is_no_work() -> None:
    owner = _obj("Deployment", "d", meta={"uid": "x"}, spec={"replicas": 0}, status={})
    ref = {"kind": "Deployment", "name": "d", "uid": "x"}
    owned = _obj("ReplicaSet", meta={"ownerReferences": [ref]}, spec={"replicas": 0})
    assert pending([owner, owned]) == []


def test_a_paused_deployment_owes_no_rollout() -> None:
    paused = _obj("Deployment", spec={"replicas": 2, "paused": True}, status={"replicas": 3})
    assert pending([paused]) == []


def test_an_object_held_by_a_users_finalizer_is_not_work() -> None:
    held = _obj(
        "ConfigMap",
        meta={"deletionTimestamp": "2025-01-01T00:00:00Z", "finalizers": ["example.com/hold"]},
    )
    gc = _obj(
        "ConfigMap",
        "y",
        meta={"deletionTimestamp": "2025-01-01T00:00:00Z", "finalizers": ["foregroundDeletion"]},
    )
    assert pending([held]) == []
    assert pending([gc]) != []


def test_a_terminating_namespace_is_busy_until_only_held_objects_remain() -> None:
    ns = {
        "kind": "Namespace",
        "metadata": {"name": "default", "deletionTimestamp": "2025-01-01T00:00:00Z"},
    }
    held = _obj(
        "ConfigMap",
        meta={"deletionTimestamp": "2025-01-01T00:00:00Z", "finalizers": ["example.com/hold"]},
    )
    free = _obj("Secret", "s")
    assert pending([ns]) != []
    assert pending([ns, held]) == []
    assert len(pending([ns, held, free])) == 1


def test_only_the_examples_objects_count_as_change() -> None:
    node = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "5"}}
    beat = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "6"}}
    pc = {"kind": "PriorityClass", "metadata": {"name": "theirs", "resourceVersion": "7"}}
    cm = _obj("ConfigMap")
    assert fingerprint([node, cm]) == fingerprint([beat, pc, cm])
    ns = {"kind": "Namespace", "metadata": {"name": "default", "resourceVersion": "8"}}
    assert fingerprint([ns]) != fingerprint([])
    assert fingerprint([cm]) != fingerprint([_obj("ConfigMap", meta={"resourceVersion": "2"})])
