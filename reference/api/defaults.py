"""Defaulting per kind (upstream's SetDefaults_* and strategies' PrepareForCreate).

The rules follow ``pkg/apis/core/v1/defaults.go``, ``pkg/apis/apps/v1/defaults.go``,
``pkg/apis/discovery/v1/defaults.go`` and ``pkg/apis/scheduling/v1/defaults.go`` of
Kubernetes 1.34 with its default feature gates, including the generated defaulters that
walk nested structs (``zz_generated.defaults.go``). Two upstream facts shape this module:

* ``SetDefaults_Pod`` (requests copied from limits, ``enableServiceLinks``, host ports
  under ``hostNetwork``) runs for Pods only; a workload's pod template gets only
  ``SetDefaults_PodSpec`` and the per-field defaults, so it never carries those fields.
* Some wire-level normalisation happens in conversion rather than defaulting upstream,
  yet every write goes through it: quantities in resource lists are rounded up to
  millis and written in canonical form, and a Secret's ``stringData`` is merged into
  ``data``. Both live here so that the stored object looks like a real cluster's.

Server-owned metadata and ``status`` are never touched (the one exception is the
``status.phase`` of PVC templates inside a StatefulSet, which is template content).
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from properties.quantity import QuantityError, format_quantity, parse_quantity

__all__ = ["apply_defaults"]

_Json = dict[str, Any]

_DEFAULT_MODE = 0o644  # Secret/ConfigMap/DownwardAPI/Projected volume default mode (420)
_DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600
_DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800
_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def apply_defaults(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Return `obj` with the API server's defaults filled in. Never mutates `obj`."""
    out = _plain(obj)
    if not isinstance(out, dict):
        return obj
    defaulter = _DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(out)
    return out


def _plain(value: Any) -> Any:
    """A deep copy as plain JSON (dicts and lists), accepting frozen pyrsistent input."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value  # the common leaves, without the ABC checks below (same result)
    if kind is dict:
        return {k if type(k) is str else str(k): _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


def _obj(parent: _Json, key: str) -> _Json:
    """The child object at `key`, created empty when absent or null."""
    child = parent.get(key)
    if not isinstance(child, dict):
        child = {}
        parent[key] = child
    return child


def _objects(parent: Mapping[str, Any], key: str) -> list[_Json]:
    items = parent.get(key)
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def _child(parent: Mapping[str, Any], key: str) -> _Json | None:
    child = parent.get(key)
    return child if isinstance(child, dict) else None


def _unset(parent: Mapping[str, Any], key: str) -> bool:
    """Go's zero value test for a scalar field: absent, null, empty string or 0."""
    value = parent.get(key)
    return value is None or value == "" or (value == 0 and not isinstance(value, bool))


# --- quantities ---------------------------------------------------------------------------


def _canonical_quantity(raw: Any) -> Any:
    """A quantity rounded up to millis and in canonical form; unparsable input is kept.

    Exponent forms (``1e3``) are kept as written: upstream keeps their format and this
    model has no formatter for it.
    """
    if type(raw) is str:
        return _canonical_quantity_text(raw)
    return _canonical_quantity_uncached(raw)


@functools.lru_cache(maxsize=4096)
def _canonical_quantity_text(raw: str) -> str:
    """``_canonical_quantity`` of a string, memoised: a pure function with a ``str`` result."""
    result: str = _canonical_quantity_uncached(raw)
    return result


def _canonical_quantity_uncached(raw: Any) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return raw
    if isinstance(raw, str) and ("e" in raw.lower().replace("ei", "")):
        return raw
    try:
        q = parse_quantity(raw)
    except QuantityError:
        return raw
    milli = q * 1000
    if milli.denominator != 1:
        rounded = math.ceil(milli) if milli > 0 else math.floor(milli)
        q = Fraction(rounded, 1000)
    binary = isinstance(raw, str) and raw.strip().endswith("i")
    return format_quantity(q, binary=binary)


def _default_resource_list(parent: _Json, key: str) -> None:
    resources = _child(parent, key)
    if resources is None:
        return
    for name in list(resources):
        resources[name] = _canonical_quantity(resources[name])


# --- pod spec -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _image_tag(image: str) -> str:
    """The tag of an image reference as ``parsers.ParseImageName`` sees it.

    No tag and no digest means "latest"; a reference that does not parse (empty,
    whitespace, an upper-case repository) has no tag at all, hence IfNotPresent.
    Memoised: a pure function of a string, and images recur across pods.
    """
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    repository = name[: len(name) - len(last)] + last.split(":", 1)[0]
    if not repository or any(c.isspace() or c.isupper() for c in repository):
        return ""
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if "@" in image else "latest"


def _default_http_get(handler: _Json | None) -> None:
    if handler is None:
        return
    http = _child(handler, "httpGet")
    if http is not None:
        if _unset(http, "path"):
            http["path"] = "/"
        if _unset(http, "scheme"):
            http["scheme"] = "HTTP"


def _default_probe(probe: _Json | None) -> None:
    if probe is None:
        return
    for field, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if _unset(probe, field):
            probe[field] = value
    _default_http_get(probe)
    grpc = _child(probe, "grpc")
    if grpc is not None and grpc.get("service") is None:
        grpc["service"] = ""


def _default_field_ref(selector: _Json | None) -> None:
    if selector is not None and _unset(selector, "apiVersion"):
        selector["apiVersion"] = "v1"


def _default_container(container: _Json) -> None:
    if _unset(container, "imagePullPolicy"):
        image = container.get("image")
        tag = _image_tag(image) if isinstance(image, str) else ""
        container["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    if _unset(container, "terminationMessagePath"):
        container["terminationMessagePath"] = "/dev/termination-log"
    if _unset(container, "terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    for port in _objects(container, "ports"):
        if _unset(port, "protocol"):
            port["protocol"] = "TCP"
    for env in _objects(container, "env"):
        value_from = _child(env, "valueFrom")
        if value_from is not None:
            _default_field_ref(_child(value_from, "fieldRef"))
    resources = _child(container, "resources")
    if resources is not None:
        _default_resource_list(resources, "limits")
        _default_resource_list(resources, "requests")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(_child(container, probe))
    lifecycle = _child(container, "lifecycle")
    if lifecycle is not None:
        _default_http_get(_child(lifecycle, "postStart"))
        _default_http_get(_child(lifecycle, "preStop"))


# Every member of core/v1 VolumeSource; a volume naming none of them becomes an emptyDir.
_VOLUME_SOURCES = frozenset(
    {
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    }
)


def _default_volume(volume: _Json) -> None:
    if not any(volume.get(source) is not None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    host_path = _child(volume, "hostPath")
    if host_path is not None and host_path.get("type") is None:
        host_path["type"] = ""
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        body = _child(volume, source)
        if body is not None and body.get("defaultMode") is None:
            body["defaultMode"] = _DEFAULT_MODE
    downward = _child(volume, "downwardAPI")
    if downward is not None:
        for item in _objects(downward, "items"):
            _default_field_ref(_child(item, "fieldRef"))
    projected = _child(volume, "projected")
    if projected is not None:
        for projection in _objects(projected, "sources"):
            api = _child(projection, "downwardAPI")
            if api is not None:
                for item in _objects(api, "items"):
                    _default_field_ref(_child(item, "fieldRef"))
            token = _child(projection, "serviceAccountToken")
            if token is not None and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = _DEFAULT_TOKEN_EXPIRATION_SECONDS
    ephemeral = _child(volume, "ephemeral")
    if ephemeral is not None:
        template = _child(ephemeral, "volumeClaimTemplate")
        if template is not None:
            _default_pvc_spec(_obj(template, "spec"))


def _default_pvc_spec(spec: _Json) -> None:
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resources = _child(spec, "resources")
    if resources is not None:
        _default_resource_list(resources, "limits")
        _default_resource_list(resources, "requests")


def _default_pod_spec(spec: _Json) -> None:
    """``SetDefaults_PodSpec`` plus the generated per-field defaulters (Pods and templates)."""
    if _unset(spec, "dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if _unset(spec, "restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if _unset(spec, "schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for volume in _objects(spec, "volumes"):
        _default_volume(volume)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _objects(spec, key):
            _default_container(container)
    _default_resource_list(spec, "overhead")


def _copy_limits_to_requests(container: _Json) -> None:
    resources = _child(container, "resources")
    if resources is None:
        return
    limits = _child(resources, "limits")
    if limits is None:
        return
    requests = _obj(resources, "requests")
    for name, value in limits.items():
        if name not in requests:
            requests[name] = value


def _default_pod(pod: _Json) -> None:
    spec = _obj(pod, "spec")
    _default_pod_spec(spec)
    # SetDefaults_Pod: only for Pods, never for pod templates.
    for key in ("containers", "initContainers"):
        for container in _objects(spec, key):
            _copy_limits_to_requests(container)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for container in _objects(spec, key):
                for port in _objects(container, "ports"):
                    if _unset(port, "hostPort"):
                        port["hostPort"] = port.get("containerPort")


def _default_template(spec: _Json) -> None:
    template = _obj(spec, "template")
    _default_pod_spec(_obj(template, "spec"))


# --- workloads ----------------------------------------------------------------------------


def _default_replica_set(rs: _Json) -> None:
    spec = _obj(rs, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def _default_deployment(deployment: _Json) -> None:
    spec = _obj(deployment, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _obj(spec, "strategy")
    if _unset(strategy, "type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _obj(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


def _default_daemon_set(ds: _Json) -> None:
    spec = _obj(ds, "spec")
    strategy = _obj(spec, "updateStrategy")
    if _unset(strategy, "type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _obj(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_template(spec)


def _default_stateful_set(sts: _Json) -> None:
    spec = _obj(sts, "spec")
    if _unset(spec, "podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _obj(spec, "updateStrategy")
    if _unset(strategy, "type"):
        strategy["type"] = "RollingUpdate"
        _obj(strategy, "rollingUpdate")
    rolling = _child(strategy, "rollingUpdate")
    # MaxUnavailableStatefulSet is alpha (off) in 1.34, so maxUnavailable stays unset.
    if (
        strategy["type"] == "RollingUpdate"
        and rolling is not None
        and rolling.get("partition") is None
    ):
        rolling["partition"] = 0
    policy = _obj(spec, "persistentVolumeClaimRetentionPolicy")
    for field in ("whenDeleted", "whenScaled"):
        if _unset(policy, field):
            policy[field] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_template(spec)
    for claim in _objects(spec, "volumeClaimTemplates"):
        _default_pvc_spec(_obj(claim, "spec"))
        status = _obj(claim, "status")
        if _unset(status, "phase"):
            status["phase"] = "Pending"


# --- networking ---------------------------------------------------------------------------


def _default_service(service: _Json) -> None:
    spec = _obj(service, "spec")
    if _unset(spec, "sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = _child(spec, "sessionAffinityConfig")
        client_ip = _child(config, "clientIP") if config is not None else None
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": _DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}
            }
    if _unset(spec, "type"):
        spec["type"] = "ClusterIP"
    kind = spec["type"]
    for port in _objects(spec, "ports"):
        if _unset(port, "protocol"):
            port["protocol"] = "TCP"
        if _unset(port, "targetPort"):
            port["targetPort"] = port.get("port")
    externally_accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible and _unset(spec, "externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and kind in (
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if kind != "ExternalName":
        # The strategy's NormalizeClusterIPs on create: a lone clusterIP seeds clusterIPs.
        cluster_ip = spec.get("clusterIP")
        if isinstance(cluster_ip, str) and cluster_ip and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [cluster_ip]
        # ipFamilyPolicy and ipFamilies are the allocator's (reference/api/service_allocation.py).


def _default_endpoints(endpoints: _Json) -> None:
    for subset in _objects(endpoints, "subsets"):
        for port in _objects(subset, "ports"):
            if _unset(port, "protocol"):
                port["protocol"] = "TCP"


def _default_endpoint_slice(slice_: _Json) -> None:
    for port in _objects(slice_, "ports"):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


# --- config and the rest ------------------------------------------------------------------


def _default_secret(secret: _Json) -> None:
    if _unset(secret, "type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, Mapping) and string_data:
        data = _obj(secret, "data")
        for key, value in string_data.items():
            text = value if isinstance(value, str) else str(value)
            data[key] = base64.b64encode(text.encode("utf-8")).decode("ascii")


def _default_namespace(namespace: _Json) -> None:
    name = _obj(namespace, "metadata").get("name")
    if isinstance(name, str) and name:
        _obj(namespace["metadata"], "labels")[_NAMESPACE_NAME_LABEL] = name


def _default_priority_class(pc: _Json) -> None:
    if pc.get("preemptionPolicy") is None:
        pc["preemptionPolicy"] = "PreemptLowerPriority"


def _default_node(node: _Json) -> None:
    """SetDefaults_NodeStatus: allocatable is the capacity when only capacity is given; both
    in canonical form, as decoding writes quantities back."""
    status = _child(node, "status")
    if status is None:
        return
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
    _default_resource_list(status, "capacity")
    _default_resource_list(status, "allocatable")


def _nothing(_: _Json) -> None:
    return None


_DEFAULTERS: dict[str, Callable[[_Json], None]] = {
    "Namespace": _default_namespace,
    "Node": _default_node,
    "Pod": _default_pod,
    "ReplicaSet": _default_replica_set,
    "Deployment": _default_deployment,
    "DaemonSet": _default_daemon_set,
    "StatefulSet": _default_stateful_set,
    "ControllerRevision": _nothing,
    "Service": _default_service,
    "Endpoints": _default_endpoints,
    "EndpointSlice": _default_endpoint_slice,
    "ConfigMap": _nothing,
    "Secret": _default_secret,
    "Lease": _nothing,
    "Event": _nothing,
    "PriorityClass": _default_priority_class,
}
