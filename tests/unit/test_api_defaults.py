"""Defaulting per kind, against upstream's SetDefaults_* (Kubernetes 1.34)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from pyrsistent import freeze

from reference.api.defaults import apply_defaults


def _meta(name: str = "x", namespace: str | None = "default") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers) or [{"name": "c", "image": "nginx"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta("p"), "spec": body}


def _template_owner(kind: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        },
    }
    body.update(spec)
    return {"kind": kind, "metadata": _meta("w"), "spec": body}


# --- pods ---------------------------------------------------------------------------------


def test_pod_spec_defaults_match_upstream() -> None:
    spec = apply_defaults("Pod", _pod())["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    # Priority admission, not defaulting, sets preemptionPolicy on pods.
    assert "preemptionPolicy" not in spec
    container = spec["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry.local:5000/team/nginx", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    pod = apply_defaults("Pod", _pod({"name": "c", "image": image}))
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept() -> None:
    pod = _pod(
        {"name": "c", "image": "nginx", "imagePullPolicy": "Never"},
        restartPolicy="Never",
        terminationGracePeriodSeconds=0,
        enableServiceLinks=False,
    )
    spec = apply_defaults("Pod", pod)["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == "Never"
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["enableServiceLinks"] is False


def test_ports_probes_and_lifecycle_defaults() -> None:
    container = {
        "name": "c",
        "image": "nginx",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
        "startupProbe": {"grpc": {"port": 9000}},
        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
    }
    c = apply_defaults("Pod", _pod(container))["spec"]["containers"][0]
    assert [p["protocol"] for p in c["ports"]] == ["TCP", "UDP"]
    liveness = c["livenessProbe"]
    assert (liveness["timeoutSeconds"], liveness["periodSeconds"]) == (1, 10)
    assert (liveness["successThreshold"], liveness["failureThreshold"]) == (1, 3)
    assert liveness["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}
    assert c["readinessProbe"]["periodSeconds"] == 5
    assert c["startupProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert c["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}


def test_requests_default_to_limits_for_pods_only() -> None:
    container = {
        "name": "c",
        "image": "nginx",
        "resources": {"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
    }
    pod = apply_defaults("Pod", _pod(container))
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "250m",
        "memory": "128Mi",
    }
    deployment = _template_owner("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    template = apply_defaults("Deployment", deployment)["spec"]["template"]["spec"]
    assert "requests" not in template["containers"][0]["resources"]
    assert "enableServiceLinks" not in template


def test_init_containers_get_requests_from_limits_too() -> None:
    pod = _pod(
        initContainers=[{"name": "i", "image": "busybox", "resources": {"limits": {"cpu": "1"}}}]
    )
    init = apply_defaults("Pod", pod)["spec"]["initContainers"][0]
    assert init["resources"]["requests"] == {"cpu": "1"}
    assert init["imagePullPolicy"] == "Always"


def test_quantities_are_rounded_up_to_millis_and_canonical() -> None:
    container = {
        "name": "c",
        "image": "nginx",
        "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"cpu": "100n"}},
    }
    resources = apply_defaults("Pod", _pod(container))["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "500m", "memory": "1Gi"}
    assert resources["requests"]["cpu"] == "1m"


def test_host_network_defaults_host_ports_in_pods() -> None:
    pod = _pod(
        {"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}, hostNetwork=True
    )
    port = apply_defaults("Pod", pod)["spec"]["containers"][0]["ports"][0]
    assert port["hostPort"] == 8080


def test_volume_and_env_defaults() -> None:
    pod = _pod(
        {
            "name": "c",
            "image": "nginx",
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        },
        volumes=[
            {"name": "scratch"},
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
            {"name": "host", "hostPath": {"path": "/var/log"}},
            {
                "name": "proj",
                "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
            },
        ],
    )
    spec = apply_defaults("Pod", pod)["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["scratch"]["emptyDir"] == {}
    assert volumes["cfg"]["configMap"]["defaultMode"] == 420
    assert volumes["sec"]["secret"]["defaultMode"] == 256
    assert volumes["host"]["hostPath"]["type"] == ""
    projected = volumes["proj"]["projected"]
    assert projected["defaultMode"] == 420
    assert projected["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    field_ref = spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]
    assert field_ref == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}


def test_input_is_never_mutated_and_frozen_input_is_accepted() -> None:
    pod = _pod()
    before = copy.deepcopy(pod)
    out = apply_defaults("Pod", pod)
    assert pod == before
    assert out is not pod
    frozen_out = apply_defaults("Pod", freeze(pod))
    assert frozen_out == out
    assert isinstance(frozen_out["spec"]["containers"], list)


def test_server_owned_metadata_and_status_are_left_alone() -> None:
    for kind, obj in [
        ("Pod", _pod()),
        ("Deployment", _template_owner("Deployment")),
        ("Service", {"metadata": _meta("s"), "spec": {"ports": [{"port": 80}]}}),
    ]:
        out = apply_defaults(kind, obj)
        assert "status" not in out
        for field in ("uid", "resourceVersion", "generation", "creationTimestamp"):
            assert field not in out["metadata"]


def test_unknown_kinds_are_copied_unchanged() -> None:
    obj = {"metadata": {"name": "x"}, "spec": {"a": 1}}
    assert apply_defaults("Widget", obj) == obj


# --- workloads ----------------------------------------------------------------------------


def test_deployment_defaults() -> None:
    out = apply_defaults("Deployment", _template_owner("Deployment"))
    spec = out["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    template = spec["template"]["spec"]
    assert template["restartPolicy"] == "Always"
    assert template["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_deployment_keeps_explicit_strategy_and_zero_replicas() -> None:
    recreate = apply_defaults(
        "Deployment", _template_owner("Deployment", replicas=0, strategy={"type": "Recreate"})
    )
    assert recreate["spec"]["replicas"] == 0
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}
    partial = _template_owner("Deployment", strategy={"rollingUpdate": {"maxSurge": 0}})
    rolling = apply_defaults("Deployment", partial)["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 0, "maxUnavailable": "25%"}


def test_replica_set_defaults() -> None:
    spec = apply_defaults("ReplicaSet", _template_owner("ReplicaSet"))["spec"]
    assert spec["replicas"] == 1
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_daemon_set_defaults() -> None:
    spec = apply_defaults("DaemonSet", _template_owner("DaemonSet"))["spec"]
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert "replicas" not in spec
    on_delete = apply_defaults(
        "DaemonSet", _template_owner("DaemonSet", updateStrategy={"type": "OnDelete"})
    )
    assert on_delete["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_stateful_set_defaults() -> None:
    sts = _template_owner(
        "StatefulSet",
        serviceName="web",
        volumeClaimTemplates=[
            {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
        ],
    )
    spec = apply_defaults("StatefulSet", sts)["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    # MaxUnavailableStatefulSet is off by default in 1.34: no maxUnavailable.
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}


def test_stateful_set_explicit_rolling_update_without_body_stays_without_partition() -> None:
    sts = _template_owner("StatefulSet", updateStrategy={"type": "RollingUpdate"})
    assert apply_defaults("StatefulSet", sts)["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


# --- services and endpoints ---------------------------------------------------------------


def test_service_defaults() -> None:
    service = {
        "metadata": _meta("web"),
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}],
        },
    }
    spec = apply_defaults("Service", service)["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "ipFamilyPolicy" not in spec  # the allocator's, not defaulting's
    assert spec["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1]["targetPort"] == "dns"
    assert "clusterIP" not in spec and "clusterIPs" not in spec
    assert "externalTrafficPolicy" not in spec


def test_service_type_dependent_defaults() -> None:
    lb = apply_defaults(
        "Service",
        {"metadata": _meta("lb"), "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    )
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    node_port = apply_defaults(
        "Service", {"metadata": _meta("np"), "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    )
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    assert "allocateLoadBalancerNodePorts" not in node_port["spec"]
    external = apply_defaults(
        "Service",
        {"metadata": _meta("ext"), "spec": {"type": "ExternalName", "externalName": "example.com"}},
    )
    assert "ipFamilyPolicy" not in external["spec"]
    assert "internalTrafficPolicy" not in external["spec"]


def test_service_session_affinity_config() -> None:
    client_ip = apply_defaults(
        "Service",
        {"metadata": _meta("s"), "spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}},
    )
    assert client_ip["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    none = apply_defaults(
        "Service",
        {
            "metadata": _meta("s"),
            "spec": {
                "ports": [{"port": 80}],
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},
            },
        },
    )
    assert "sessionAffinityConfig" not in none["spec"]


def test_service_cluster_ip_seeds_cluster_ips() -> None:
    headless = apply_defaults("Service", {"metadata": _meta("h"), "spec": {"clusterIP": "None"}})
    assert headless["spec"]["clusterIPs"] == ["None"]


def test_endpoints_and_endpoint_slice_port_defaults() -> None:
    endpoints = apply_defaults(
        "Endpoints",
        {
            "metadata": _meta("e"),
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
        },
    )
    assert endpoints["subsets"][0]["ports"][0]["protocol"] == "TCP"
    slice_ = apply_defaults(
        "EndpointSlice", {"metadata": _meta("e-1"), "addressType": "IPv4", "ports": [{"port": 80}]}
    )
    assert slice_["ports"][0] == {"port": 80, "name": "", "protocol": "TCP"}


# --- config and cluster-scoped kinds ------------------------------------------------------


def test_secret_type_and_string_data_merge() -> None:
    secret = {
        "metadata": _meta("s"),
        "data": {"a": base64.b64encode(b"old").decode()},
        "stringData": {"a": "new", "b": "x"},
    }
    out = apply_defaults("Secret", secret)
    assert out["type"] == "Opaque"
    assert "stringData" not in out
    assert base64.b64decode(out["data"]["a"]) == b"new"
    assert base64.b64decode(out["data"]["b"]) == b"x"
    typed = apply_defaults("Secret", {"metadata": _meta("t"), "type": "kubernetes.io/tls"})
    assert typed["type"] == "kubernetes.io/tls"


def test_config_map_is_left_as_sent() -> None:
    cm = {"metadata": _meta("c"), "data": {"k": "v"}}
    assert apply_defaults("ConfigMap", cm) == cm


def test_priority_class_preemption_policy() -> None:
    out = apply_defaults("PriorityClass", {"metadata": _meta("high", None), "value": 1000})
    assert out["preemptionPolicy"] == "PreemptLowerPriority"
    never = apply_defaults(
        "PriorityClass", {"metadata": _meta("low", None), "value": 1, "preemptionPolicy": "Never"}
    )
    assert never["preemptionPolicy"] == "Never"


def test_namespace_gets_its_name_label_and_no_spec() -> None:
    out = apply_defaults("Namespace", {"metadata": {"name": "team-a", "labels": {"x": "y"}}})
    assert out["metadata"]["labels"] == {"x": "y", "kubernetes.io/metadata.name": "team-a"}
    assert "spec" not in out and "status" not in out


@pytest.mark.parametrize("kind", ["Node", "Lease", "Event", "ControllerRevision"])
def test_kinds_without_defaults_are_unchanged(kind: str) -> None:
    obj = {"metadata": _meta("n"), "spec": {"a": 1}}
    assert apply_defaults(kind, obj) == obj
