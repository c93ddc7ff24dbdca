"""Validation per kind, against upstream's validation packages (Kubernetes 1.34).

Each rule has a failing example that names the field path and a fragment of the
message as upstream writes them; objects are defaulted first, as the server does.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from pyrsistent import freeze

from reference.api.defaults import apply_defaults
from reference.api.errors import Cause
from reference.api.validation import validate

Obj = dict[str, Any]


def _causes(kind: str, obj: Obj, old: Obj | None = None) -> list[Cause]:
    new = apply_defaults(kind, obj)
    previous = apply_defaults(kind, old) if old is not None else None
    return validate(kind, new, previous)


def _has(causes: list[Cause], field: str, fragment: str, reason: str | None = None) -> None:
    found = [c for c in causes if c.field == field and fragment in c.message]
    assert found, f"no cause at {field!r} containing {fragment!r}; got {causes}"
    if reason is not None:
        assert any(c.reason == reason for c in found), found


def _meta(name: str = "x", namespace: str | None = "default", **extra: Any) -> Obj:
    meta: Obj = {"name": name, **extra}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _container(**fields: Any) -> Obj:
    return {"name": "app", "image": "nginx:1.27", **fields}


def _pod(*containers: Obj, meta: Obj | None = None, **spec: Any) -> Obj:
    return {
        "metadata": meta or _meta("web-0"),
        "spec": {"containers": list(containers) or [_container()], **spec},
    }


def _workload(kind: str, **spec: Any) -> Obj:
    body: Obj = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "front"}},
            "spec": {"containers": [_container()]},
        },
    }
    if kind == "StatefulSet":
        body["serviceName"] = "web"
    body.update(spec)
    return {"metadata": _meta("web"), "spec": body}


def _service(**spec: Any) -> Obj:
    body: Obj = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"metadata": _meta("web"), "spec": body}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


VALID: dict[str, Callable[[], Obj]] = {
    "Namespace": lambda: {"metadata": {"name": "team-a"}},
    "Node": lambda: {
        "metadata": {"name": "node-1.example.com", "labels": {"kubernetes.io/hostname": "node-1"}},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
    },
    "Pod": lambda: _pod(),
    "ReplicaSet": lambda: _workload("ReplicaSet"),
    "Deployment": lambda: _workload("Deployment"),
    "DaemonSet": lambda: _workload("DaemonSet"),
    "StatefulSet": lambda: _workload("StatefulSet"),
    "ControllerRevision": lambda: {
        "metadata": _meta("web-6d4cf56db6"),
        "data": {"spec": {}},
        "revision": 1,
    },
    "Service": lambda: _service(),
    "Endpoints": lambda: {
        "metadata": _meta("web"),
        "subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80}]}],
    },
    "EndpointSlice": lambda: {
        "metadata": _meta("web-abcde"),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 80}],
    },
    "ConfigMap": lambda: {"metadata": _meta("cfg"), "data": {"app.properties": "a=b"}},
    "Secret": lambda: {"metadata": _meta("creds"), "data": {"password": _b64(b"hunter2")}},
    "Lease": lambda: {
        "metadata": _meta("node-1", "kube-node-lease"),
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
    },
    "Event": lambda: {
        "metadata": _meta("web-0.17f3a"),
        "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default"},
        "reason": "Scheduled",
        "type": "Normal",
    },
    "PriorityClass": lambda: {"metadata": {"name": "high"}, "value": 1000, "globalDefault": False},
}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_objects_pass_on_create_and_on_unchanged_update(kind: str) -> None:
    obj = VALID[kind]()
    assert _causes(kind, obj) == []
    assert _causes(kind, obj, copy.deepcopy(obj)) == []


def test_frozen_objects_are_accepted() -> None:
    pod = apply_defaults("Pod", _pod())
    assert validate("Pod", freeze(pod), freeze(pod)) == []


# --- metadata -----------------------------------------------------------------------------


def test_name_is_required() -> None:
    pod = _pod(meta={"namespace": "default"})
    _has(
        _causes("Pod", pod),
        "metadata.name",
        "Required value: name or generateName is required",
        "FieldValueRequired",
    )


def test_name_syntax_per_kind() -> None:
    _has(
        _causes("Pod", _pod(meta=_meta("Web_0"))),
        "metadata.name",
        "a lowercase RFC 1123 subdomain",
        "FieldValueInvalid",
    )
    _has(
        _causes("Namespace", {"metadata": {"name": "team.a"}}),
        "metadata.name",
        "must not contain dots",
    )
    bad_service = _service()
    bad_service["metadata"]["name"] = "1web"
    _has(
        _causes("Service", bad_service),
        "metadata.name",
        "a DNS-1035 label must consist of lower case",
    )
    assert _causes("Pod", _pod(meta=_meta("web.0"))) == []


def test_generate_name_may_end_with_a_dash() -> None:
    pod = _pod(meta=_meta("web-x7k2p", generateName="web-"))
    assert _causes("Pod", pod) == []
    bad = _pod(meta=_meta("abc", generateName="Web-"))
    _has(_causes("Pod", bad), "metadata.generateName", "RFC 1123 subdomain")


def test_namespace_rules() -> None:
    _has(_causes("Pod", _pod(meta={"name": "p"})), "metadata.namespace", "Required value")
    _has(_causes("Pod", _pod(meta=_meta("p", "Team"))), "metadata.namespace", "RFC 1123 label")
    node = {"metadata": {"name": "n", "namespace": "default"}}
    _has(
        _causes("Node", node),
        "metadata.namespace",
        "Forbidden: not allowed on this type",
        "FieldValueForbidden",
    )


def test_labels_keys_and_values() -> None:
    pod = _pod(meta=_meta("p", labels={"bad key": "v", "app": "-x", "example.com/ok": "y"}))
    causes = _causes("Pod", pod)
    _has(
        causes,
        "metadata.labels",
        'Invalid value: "bad key": name part must consist of alphanumeric',
    )
    _has(causes, "metadata.labels", 'Invalid value: "-x": a valid label must be an empty string')
    assert len(causes) == 2


def test_annotations_keys_and_total_size() -> None:
    pod = _pod(meta=_meta("p", annotations={"Example.COM/Upper": "ok", "bad/key/x": "v"}))
    causes = _causes("Pod", pod)
    _has(causes, "metadata.annotations", 'Invalid value: "bad/key/x"')
    assert len(causes) == 1
    big = _pod(meta=_meta("p", annotations={"a": "x" * (256 * 1024)}))
    _has(
        _causes("Pod", big),
        "metadata.annotations",
        "Too long: may not be more than 262144 bytes",
        "FieldValueTooLong",
    )
    just_fits = _pod(meta=_meta("p", annotations={"a": "x" * (256 * 1024 - 1)}))
    assert _causes("Pod", just_fits) == []


def test_finalizers() -> None:
    ok = _pod(meta=_meta("p", finalizers=["example.com/cleanup", "foregroundDeletion"]))
    assert _causes("Pod", ok) == []
    causes = _causes("Pod", _pod(meta=_meta("p", finalizers=["cleanup", "bad name/x"])))
    _has(
        causes,
        "metadata.finalizers[0]",
        "name is neither a standard finalizer name nor is it fully qualified",
    )
    _has(causes, "metadata.finalizers", 'Invalid value: "bad name/x"')
    both = _pod(meta=_meta("p", finalizers=["orphan", "foregroundDeletion"]))
    _has(
        _causes("Pod", both),
        "metadata.finalizers",
        "finalizer orphan and foregroundDeletion cannot be both set",
    )


def test_owner_references() -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web-1",
        "uid": "u1",
        "controller": True,
    }
    assert _causes("Pod", _pod(meta=_meta("p", ownerReferences=[owner]))) == []
    causes = _causes(
        "Pod",
        _pod(
            meta=_meta("p", ownerReferences=[{"apiVersion": "", "kind": "", "name": "", "uid": ""}])
        ),
    )
    _has(causes, "metadata.ownerReferences.apiVersion", "version must not be empty")
    _has(causes, "metadata.ownerReferences.kind", "must not be empty")
    _has(causes, "metadata.ownerReferences.name", "must not be empty")
    _has(causes, "metadata.ownerReferences.uid", "must not be empty")
    second = {**owner, "name": "web-2", "uid": "u2"}
    causes = _causes("Pod", _pod(meta=_meta("p", ownerReferences=[owner, second])))
    _has(
        causes,
        "metadata.ownerReferences",
        'Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/web-1 and ReplicaSet/web-2",
    )
    event_owner = {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"}
    _has(
        _causes("Pod", _pod(meta=_meta("p", ownerReferences=[event_owner]))),
        "metadata.ownerReferences",
        "/v1, Kind=Event is disallowed from being an owner",
    )


def test_name_and_namespace_are_immutable() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "web-1"
    _has(_causes("Pod", new, old), "metadata.name", 'Invalid value: "web-1": field is immutable')


# --- pods ---------------------------------------------------------------------------------


def test_pod_needs_a_container() -> None:
    pod = {"metadata": _meta("p"), "spec": {"containers": []}}
    _has(_causes("Pod", pod), "spec.containers", "Required value", "FieldValueRequired")


def test_container_names_are_unique_dns_labels() -> None:
    causes = _causes(
        "Pod", _pod(_container(name="Web"), _container(name="sidecar"), _container(name="sidecar"))
    )
    _has(causes, "spec.containers[0].name", "a lowercase RFC 1123 label")
    _has(causes, "spec.containers[2].name", 'Duplicate value: "sidecar"', "FieldValueDuplicate")
    init_clash = _pod(initContainers=[_container(name="app")])
    _has(_causes("Pod", init_clash), "spec.initContainers[0].name", 'Duplicate value: "app"')
    _has(_causes("Pod", _pod(_container(name=""))), "spec.containers[0].name", "Required value")


def test_image_is_required_and_trimmed() -> None:
    _has(_causes("Pod", _pod(_container(image=""))), "spec.containers[0].image", "Required value")
    _has(
        _causes("Pod", _pod(_container(image=" nginx"))),
        "spec.containers[0].image",
        "must not have leading or trailing whitespace",
    )


def test_container_ports() -> None:
    ports = [
        {"containerPort": 0},
        {"containerPort": 70000, "protocol": "HTTP"},
        {"containerPort": 80, "hostPort": 70000, "name": "Web"},
        {"containerPort": 81, "name": "web"},
        {"containerPort": 82, "name": "web"},
    ]
    causes = _causes("Pod", _pod(_container(ports=ports)))
    base = "spec.containers[0].ports"
    _has(causes, f"{base}[0].containerPort", "Required value")
    _has(
        causes,
        f"{base}[1].containerPort",
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
    )
    _has(
        causes,
        f"{base}[1].protocol",
        'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        "FieldValueNotSupported",
    )
    _has(causes, f"{base}[2].hostPort", "must be between 1 and 65535, inclusive")
    _has(
        causes,
        f"{base}[2].name",
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    )
    _has(causes, f"{base}[4].name", 'Duplicate value: "web"')


def test_host_port_conflicts() -> None:
    pod = _pod(
        _container(name="a", ports=[{"containerPort": 80, "hostPort": 8080}]),
        _container(name="b", ports=[{"containerPort": 81, "hostPort": 8080}]),
    )
    _has(
        _causes("Pod", pod), "spec.containers[1].ports[0].hostPort", 'Duplicate value: "TCP//8080"'
    )


def test_host_network_requires_matching_host_ports() -> None:
    pod = _pod(_container(ports=[{"containerPort": 80, "hostPort": 81}]), hostNetwork=True)
    _has(
        _causes("Pod", pod),
        "spec.containers[0].ports[0].hostPort",
        "must match `containerPort` when `hostNetwork` is true",
    )


def test_restart_and_dns_policies() -> None:
    _has(
        _causes("Pod", _pod(restartPolicy="Sometimes")),
        "spec.restartPolicy",
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    )
    _has(_causes("Pod", _pod(dnsPolicy="Google")), "spec.dnsPolicy", "supported values")
    _has(
        _causes("Pod", _pod(dnsPolicy="None")),
        "spec.dnsConfig",
        "must provide `dnsConfig` when `dnsPolicy` is None",
    )


def test_pull_and_termination_message_policies() -> None:
    causes = _causes(
        "Pod", _pod(_container(imagePullPolicy="Sometimes", terminationMessagePolicy="Log"))
    )
    _has(
        causes,
        "spec.containers[0].imagePullPolicy",
        'supported values: "Always", "IfNotPresent", "Never"',
    )
    _has(
        causes,
        "spec.containers[0].terminationMessagePolicy",
        'supported values: "File", "FallbackToLogsOnError"',
    )


def test_resources() -> None:
    resources = {
        "limits": {"cpu": "500m", "memory": "-1"},
        "requests": {"cpu": "1", "widgets": "1"},
    }
    causes = _causes("Pod", _pod(_container(resources=resources)))
    _has(
        causes,
        "spec.containers[0].resources.requests",
        'Invalid value: "1": must be less than or equal to cpu limit of 500m',
    )
    _has(
        causes,
        "spec.containers[0].resources.limits[memory]",
        'Invalid value: "-1": must be greater than or equal to 0',
    )
    _has(
        causes,
        "spec.containers[0].resources.requests[widgets]",
        "must be a standard resource for containers",
    )
    equal = _pod(_container(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1000m"}}))
    assert _causes("Pod", equal) == []


def test_resource_quantities_must_parse() -> None:
    pod = _pod(_container(resources={"requests": {"cpu": "lots"}}))
    _has(
        _causes("Pod", pod),
        "spec.containers[0].resources.requests[cpu]",
        "quantities must match the regular expression",
    )


def test_extended_resources_are_integers_and_not_overcommitted() -> None:
    gpu = "example.com/gpu"
    causes = _causes(
        "Pod", _pod(_container(resources={"limits": {gpu: "2"}, "requests": {gpu: "1"}}))
    )
    _has(
        causes,
        "spec.containers[0].resources.requests",
        "must be equal to example.com/gpu limit of 2",
    )
    fractional = _causes("Pod", _pod(_container(resources={"limits": {gpu: "500m"}})))
    _has(fractional, "spec.containers[0].resources.limits[example.com/gpu]", "must be an integer")
    template = _workload("Deployment")
    template["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {gpu: "1"}}
    _has(
        _causes("Deployment", template),
        "spec.template.spec.containers[0].resources.limits",
        "Limit must be set for non overcommitable resources",
    )


def test_probes() -> None:
    container = _container(
        livenessProbe={"httpGet": {"port": 80}, "successThreshold": 2},
        startupProbe={"exec": {"command": []}, "successThreshold": 3},
        readinessProbe={"tcpSocket": {"port": "http"}, "successThreshold": 3, "periodSeconds": -1},
    )
    causes = _causes("Pod", _pod(container))
    base = "spec.containers[0]"
    _has(causes, f"{base}.livenessProbe.successThreshold", "Invalid value: 2: must be 1")
    _has(causes, f"{base}.startupProbe.successThreshold", "must be 1")
    _has(causes, f"{base}.startupProbe.exec.command", "Required value")
    _has(causes, f"{base}.readinessProbe.periodSeconds", "must be greater than or equal to 0")
    assert not [c for c in causes if c.field == f"{base}.readinessProbe.successThreshold"]
    no_handler = _causes("Pod", _pod(_container(livenessProbe={"initialDelaySeconds": 5})))
    _has(no_handler, f"{base}.livenessProbe", "Required value: must specify a handler type")
    two = _causes(
        "Pod",
        _pod(_container(livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})),
    )
    _has(two, f"{base}.livenessProbe.tcpSocket", "may not specify more than 1 handler type")


def test_init_containers_without_restart_policy_may_not_have_probes() -> None:
    init = _container(name="init", livenessProbe={"exec": {"command": ["true"]}})
    _has(
        _causes("Pod", _pod(initContainers=[init])),
        "spec.initContainers[0].livenessProbe",
        "may not be set for init containers without restartPolicy=Always",
    )
    sidecar = _container(
        name="init", restartPolicy="Always", livenessProbe={"exec": {"command": ["true"]}}
    )
    assert _causes("Pod", _pod(initContainers=[sidecar])) == []
    _has(
        _causes("Pod", _pod(_container(restartPolicy="Always"))),
        "spec.containers[0].restartPolicy",
        "may not be set for non-init containers",
    )


def test_env_vars() -> None:
    env = [
        {"name": "GOOD_NAME", "value": "x"},
        {"name": "dotted.and-dashed", "value": "ok"},
        {"name": "A=B", "value": "x"},
        {"name": ""},
        {"name": "POD", "valueFrom": {}},
        {"name": "NODE", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "BAD", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}},
    ]
    causes = _causes("Pod", _pod(_container(env=env)))
    base = "spec.containers[0].env"
    _has(
        causes,
        f"{base}[2].name",
        "a valid environment variable name must consist only of printable ASCII characters "
        "other than '='",
    )
    _has(causes, f"{base}[3].name", "Required value")
    _has(
        causes,
        f"{base}[4].valueFrom",
        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
    )
    _has(causes, f"{base}[5].valueFrom", "may not be specified when `value` is not empty")
    _has(causes, f"{base}[6].valueFrom.fieldRef.fieldPath", 'Unsupported value: "spec.hostname"')
    assert not [c for c in causes if c.field.startswith((f"{base}[0]", f"{base}[1]"))]


def test_volume_mounts_must_name_volumes() -> None:
    pod = _pod(
        _container(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
        volumes=[{"name": "cache"}],
    )
    _has(_causes("Pod", pod), "spec.containers[0].volumeMounts[0].name", 'Not found: "data"')
    dup = _pod(volumes=[{"name": "cache"}, {"name": "cache"}])
    _has(_causes("Pod", dup), "spec.volumes[1].name", 'Duplicate value: "cache"')


def test_tolerations_and_gates() -> None:
    causes = _causes(
        "Pod",
        _pod(
            tolerations=[
                {"operator": "Equal", "value": "x"},
                {"key": "k", "operator": "Exists", "value": "v"},
                {"key": "k", "tolerationSeconds": 5, "effect": "NoSchedule"},
            ],
            schedulingGates=[{"name": "example.com/wait"}, {"name": "example.com/wait"}],
        ),
    )
    _has(causes, "spec.tolerations[0].operator", "operator must be Exists when `key` is empty")
    _has(causes, "spec.tolerations[1].operator", "value must be empty when `operator` is 'Exists'")
    _has(
        causes,
        "spec.tolerations[2].effect",
        "effect must be 'NoExecute' when `tolerationSeconds` is set",
    )
    _has(causes, "spec.schedulingGates[1]", 'Duplicate value: "example.com/wait"')


def test_misc_pod_spec_fields() -> None:
    causes = _causes(
        "Pod",
        _pod(
            activeDeadlineSeconds=0,
            nodeName="Node_1",
            hostname="a.b",
            priorityClassName="High",
            preemptionPolicy="Always",
        ),
    )
    _has(causes, "spec.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive")
    _has(causes, "spec.nodeName", "RFC 1123 subdomain")
    _has(causes, "spec.hostname", "must not contain dots")
    _has(causes, "spec.priorityClassName", "RFC 1123 subdomain")
    _has(causes, "spec.preemptionPolicy", 'supported values: "PreemptLowerPriority", "Never"')


def test_topology_spread_and_affinity() -> None:
    causes = _causes(
        "Pod",
        _pod(
            topologySpreadConstraints=[
                {"maxSkew": 0, "topologyKey": "", "whenUnsatisfiable": "Maybe"},
            ],
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                },
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 0, "podAffinityTerm": {"topologyKey": "zone"}}
                    ]
                },
            },
        ),
    )
    base = "spec.topologySpreadConstraints[0]"
    _has(causes, f"{base}.maxSkew", "must be greater than zero")
    _has(causes, f"{base}.topologyKey", "Required value: can not be empty")
    _has(causes, f"{base}.whenUnsatisfiable", '"DoNotSchedule", "ScheduleAnyway"')
    _has(
        causes,
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
        "must have at least one node selector term",
    )
    _has(
        causes,
        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
        "must be in the range 1-100",
    )


def test_pod_deletion_cost_annotation() -> None:
    pod = _pod(meta=_meta("p", annotations={"controller.kubernetes.io/pod-deletion-cost": "1e3"}))
    _has(
        _causes("Pod", pod),
        "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]",
        "must be a 32bit integer",
    )
    ok = _pod(meta=_meta("p", annotations={"controller.kubernetes.io/pod-deletion-cost": "-100"}))
    assert _causes("Pod", ok) == []


def test_ephemeral_containers_cannot_be_set_on_create() -> None:
    pod = _pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}])
    _has(_causes("Pod", pod), "spec.ephemeralContainers", "cannot be set on create")


# --- pod updates --------------------------------------------------------------------------


def test_pod_update_may_change_images_and_deadline() -> None:
    old = _pod(activeDeadlineSeconds=100)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["metadata"]["labels"] = {"changed": "yes"}
    assert _causes("Pod", new, old) == []


def test_pod_update_may_not_change_other_fields() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    causes = _causes("Pod", new, old)
    _has(
        causes,
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`",
        "FieldValueForbidden",
    )
    _has(causes, "spec", "`spec.tolerations` (only additions to existing tolerations)")


def test_pod_update_resources_go_through_resize_only() -> None:
    old = _pod(_container(resources={"requests": {"cpu": "100m"}}))
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "200m"
    _has(_causes("Pod", new, old), "spec", "pod updates may not change fields other than")


def test_pod_update_containers_cannot_be_added() -> None:
    old = _pod()
    new = _pod(_container(), _container(name="sidecar"))
    _has(
        _causes("Pod", new, old), "spec.containers", "pod updates may not add or remove containers"
    )


def test_pod_update_active_deadline_rules() -> None:
    old = _pod(activeDeadlineSeconds=100)
    longer = copy.deepcopy(old)
    longer["spec"]["activeDeadlineSeconds"] = 200
    _has(
        _causes("Pod", longer, old),
        "spec.activeDeadlineSeconds",
        "must be less than or equal to previous value",
    )
    unset = copy.deepcopy(old)
    del unset["spec"]["activeDeadlineSeconds"]
    _has(
        _causes("Pod", unset, old),
        "spec.activeDeadlineSeconds",
        "must not update from a positive integer to nil value",
    )


def test_pod_update_tolerations_only_additions() -> None:
    toleration = {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    old = _pod(tolerations=[toleration])
    added = copy.deepcopy(old)
    added["spec"]["tolerations"] = [
        {**toleration, "tolerationSeconds": 60},
        {"key": "other", "operator": "Exists"},
    ]
    assert _causes("Pod", added, old) == []
    removed = copy.deepcopy(old)
    removed["spec"]["tolerations"] = []
    _has(
        _causes("Pod", removed, old),
        "spec.tolerations",
        "existing toleration can not be modified except its tolerationSeconds",
    )


def test_pod_update_termination_grace_from_negative_to_one() -> None:
    old = apply_defaults("Pod", _pod(terminationGracePeriodSeconds=-1))
    new = copy.deepcopy(old)
    new["spec"]["terminationGracePeriodSeconds"] = 1
    assert validate("Pod", new, old) == []
    new["spec"]["terminationGracePeriodSeconds"] = 5
    _has(validate("Pod", new, old), "spec", "pod updates may not change fields other than")


def test_pod_update_scheduling_gates_only_removed() -> None:
    old = _pod(schedulingGates=[{"name": "example.com/a"}])
    cleared = copy.deepcopy(old)
    cleared["spec"]["schedulingGates"] = []
    cleared["spec"]["nodeSelector"] = {"zone": "a"}
    assert _causes("Pod", cleared, old) == []
    added = copy.deepcopy(old)
    added["spec"]["schedulingGates"].append({"name": "example.com/b"})
    _has(
        _causes("Pod", added, old),
        "spec.schedulingGates[1].name",
        "only deletion is allowed, but found new scheduling gate 'example.com/b'",
    )


# --- workloads ----------------------------------------------------------------------------

WORKLOADS = ("ReplicaSet", "Deployment", "DaemonSet", "StatefulSet")


@pytest.mark.parametrize("kind", WORKLOADS)
def test_selector_must_match_template_labels(kind: str) -> None:
    obj = _workload(kind)
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    _has(
        _causes(kind, obj),
        "spec.template.metadata.labels",
        "`selector` does not match template `labels`",
    )


@pytest.mark.parametrize(
    ("kind", "word"),
    [
        ("ReplicaSet", "deployment"),
        ("Deployment", "deployment"),
        ("DaemonSet", "daemonset"),
        ("StatefulSet", "statefulset"),
    ],
)
def test_empty_selector_is_invalid(kind: str, word: str) -> None:
    obj = _workload(kind, selector={})
    _has(_causes(kind, obj), "spec.selector", f"empty selector is invalid for {word}")


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "StatefulSet"])
def test_selector_is_required(kind: str) -> None:
    obj = _workload(kind)
    del obj["spec"]["selector"]
    _has(_causes(kind, obj), "spec.selector", "Required value", "FieldValueRequired")


def test_daemon_set_without_selector_fails_the_template_match() -> None:
    obj = _workload("DaemonSet")
    del obj["spec"]["selector"]
    causes = _causes("DaemonSet", obj)
    _has(causes, "spec.template.metadata.labels", "`selector` does not match template `labels`")
    assert not [c for c in causes if c.field == "spec.selector"]


@pytest.mark.parametrize("kind", WORKLOADS)
def test_selector_syntax_is_validated(kind: str) -> None:
    selector = {
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": []},
            {"key": "bad key", "operator": "Exists"},
        ]
    }
    causes = _causes(kind, _workload(kind, selector=selector))
    _has(
        causes,
        "spec.selector.matchExpressions[0].values",
        "must be specified when `operator` is 'In' or 'NotIn'",
        "FieldValueRequired",
    )
    _has(
        causes,
        "spec.selector.matchExpressions[1].key",
        "name part must consist of alphanumeric characters",
    )


def test_match_expressions_selector_matches_template() -> None:
    selector = {
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]
    }
    assert _causes("Deployment", _workload("Deployment", selector=selector)) == []


@pytest.mark.parametrize("kind", WORKLOADS)
def test_template_restart_policy_must_be_always(kind: str) -> None:
    obj = _workload(kind)
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    _has(
        _causes(kind, obj),
        "spec.template.spec.restartPolicy",
        'Unsupported value: "OnFailure": supported values: "Always"',
    )


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "StatefulSet"])
def test_replicas_must_not_be_negative(kind: str) -> None:
    _has(
        _causes(kind, _workload(kind, replicas=-1)),
        "spec.replicas",
        "Invalid value: -1: must be greater than or equal to 0",
    )


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet"])
def test_selector_is_immutable(kind: str) -> None:
    old = _workload(kind)
    new = _workload(kind, selector={"matchLabels": {"app": "web", "tier": "front"}})
    _has(
        _causes(kind, new, old),
        "spec.selector",
        'Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is immutable',
    )


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet"])
def test_template_pod_spec_is_validated(kind: str) -> None:
    obj = _workload(kind)
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    _has(_causes(kind, obj), "spec.template.spec.containers[0].image", "Required value")
    obj = _workload(kind)
    obj["spec"]["template"]["metadata"]["labels"]["bad key"] = "x"
    _has(_causes(kind, obj), "spec.template.labels", 'Invalid value: "bad key"')


def test_replica_set_scaling_is_an_ordinary_update() -> None:
    old = _workload("ReplicaSet", replicas=1)
    new = _workload("ReplicaSet", replicas=5)
    assert _causes("ReplicaSet", new, old) == []


def test_deployment_rolling_update_parameters() -> None:
    def strategy(**rolling: Any) -> Obj:
        return _workload("Deployment", strategy={"type": "RollingUpdate", "rollingUpdate": rolling})

    path = "spec.strategy.rollingUpdate"
    _has(
        _causes("Deployment", strategy(maxSurge=0, maxUnavailable=0)),
        f"{path}.maxUnavailable",
        "may not be 0 when `maxSurge` is 0",
    )
    _has(
        _causes("Deployment", strategy(maxSurge="0%", maxUnavailable="0%")),
        f"{path}.maxUnavailable",
        "may not be 0 when `maxSurge` is 0",
    )
    _has(
        _causes("Deployment", strategy(maxUnavailable="150%")),
        f"{path}.maxUnavailable",
        "must not be greater than 100%",
    )
    _has(
        _causes("Deployment", strategy(maxSurge=-1)),
        f"{path}.maxSurge",
        "must be greater than or equal to 0",
    )
    _has(
        _causes("Deployment", strategy(maxSurge="5")),
        f"{path}.maxSurge",
        "a valid percent string must be a numeric string followed by an ending '%'",
    )
    assert _causes("Deployment", strategy(maxSurge="200%", maxUnavailable=0)) == []
    assert _causes("Deployment", strategy(maxSurge=3, maxUnavailable="10%")) == []


def test_deployment_strategy_type() -> None:
    recreate = _workload(
        "Deployment", strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    )
    _has(
        _causes("Deployment", recreate),
        "spec.strategy.rollingUpdate",
        "may not be specified when strategy `type` is 'Recreate'",
    )
    odd = _workload("Deployment", strategy={"type": "BlueGreen"})
    _has(
        _causes("Deployment", odd), "spec.strategy", 'supported values: "Recreate", "RollingUpdate"'
    )


def test_deployment_numeric_fields() -> None:
    causes = _causes(
        "Deployment",
        _workload(
            "Deployment", minReadySeconds=30, progressDeadlineSeconds=30, revisionHistoryLimit=-1
        ),
    )
    _has(
        causes,
        "spec.progressDeadlineSeconds",
        "Invalid value: 30: must be greater than minReadySeconds",
    )
    _has(causes, "spec.revisionHistoryLimit", "must be greater than or equal to 0")
    _has(
        _causes("Deployment", _workload("Deployment", minReadySeconds=-5)),
        "spec.minReadySeconds",
        "must be greater than or equal to 0",
    )


def test_daemon_set_rolling_update_parameters() -> None:
    def strategy(**rolling: Any) -> Obj:
        return _workload(
            "DaemonSet", updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling}
        )

    path = "spec.updateStrategy.rollingUpdate"
    _has(
        _causes("DaemonSet", strategy(maxUnavailable=1, maxSurge=1)),
        f"{path}.maxSurge",
        "may not be set when maxUnavailable is non-zero",
    )
    _has(
        _causes("DaemonSet", strategy(maxUnavailable=0, maxSurge=0)),
        f"{path}.maxUnavailable",
        "Required value: cannot be 0 when maxSurge is 0",
    )
    _has(
        _causes("DaemonSet", strategy(maxUnavailable=0, maxSurge="101%")),
        f"{path}.maxSurge",
        "must not be greater than 100%",
    )
    assert _causes("DaemonSet", strategy(maxUnavailable=0, maxSurge="10%")) == []
    odd = _workload("DaemonSet", updateStrategy={"type": "Surge"})
    _has(
        _causes("DaemonSet", odd),
        "spec.updateStrategy",
        'supported values: "RollingUpdate", "OnDelete"',
    )


def test_stateful_set_policies() -> None:
    _has(
        _causes("StatefulSet", _workload("StatefulSet", podManagementPolicy="Random")),
        "spec.podManagementPolicy",
        "must be 'OrderedReady' or 'Parallel'",
    )
    _has(
        _causes("StatefulSet", _workload("StatefulSet", updateStrategy={"type": "Canary"})),
        "spec.updateStrategy",
        "must be 'RollingUpdate' or 'OnDelete'",
    )
    on_delete = _workload(
        "StatefulSet", updateStrategy={"type": "OnDelete", "rollingUpdate": {"partition": 1}}
    )
    _has(
        _causes("StatefulSet", on_delete),
        "spec.updateStrategy.rollingUpdate",
        "only allowed for updateStrategy 'RollingUpdate'",
    )
    negative = _workload(
        "StatefulSet", updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}
    )
    _has(
        _causes("StatefulSet", negative),
        "spec.updateStrategy.rollingUpdate.partition",
        "must be greater than or equal to 0",
    )
    retention = _workload(
        "StatefulSet", persistentVolumeClaimRetentionPolicy={"whenDeleted": "Keep"}
    )
    _has(
        _causes("StatefulSet", retention),
        "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
        'supported values: "Retain", "Delete"',
    )


def test_stateful_set_template_pod_spec_is_not_validated_upstream() -> None:
    sts = _workload("StatefulSet")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    assert _causes("StatefulSet", sts) == []


def test_stateful_set_update_allows_only_some_fields() -> None:
    old = _workload("StatefulSet")
    ok = _workload(
        "StatefulSet", replicas=3, minReadySeconds=5, updateStrategy={"type": "OnDelete"}
    )
    ok["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert _causes("StatefulSet", ok, old) == []
    renamed = _workload("StatefulSet", serviceName="other")
    _has(
        _causes("StatefulSet", renamed, old),
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
        "forbidden",
        "FieldValueForbidden",
    )
    reselected = _workload("StatefulSet", selector={"matchLabels": {"app": "web", "tier": "front"}})
    _has(
        _causes("StatefulSet", reselected, old),
        "spec",
        "updates to statefulset spec for fields other than",
    )


def test_controller_revision() -> None:
    _has(
        _causes("ControllerRevision", {"metadata": _meta("r"), "revision": 1}),
        "data",
        "Required value: data is mandatory",
    )
    _has(
        _causes("ControllerRevision", {"metadata": _meta("r"), "data": {}, "revision": -1}),
        "revision",
        "must be greater than or equal to 0",
    )
    old = VALID["ControllerRevision"]()
    changed = copy.deepcopy(old)
    changed["data"] = {"spec": {"x": 1}}
    _has(_causes("ControllerRevision", changed, old), "data", "field is immutable")
    bumped = copy.deepcopy(old)
    bumped["revision"] = 2
    assert _causes("ControllerRevision", bumped, old) == []


# --- config -------------------------------------------------------------------------------


def test_config_map_keys() -> None:
    cm = {
        "metadata": _meta("c"),
        "data": {"bad key": "v", "..hidden": "v", "ok": "v"},
        "binaryData": {"ok": _b64(b"x"), "a/b": _b64(b"y")},
    }
    causes = _causes("ConfigMap", cm)
    _has(
        causes,
        "data[bad key]",
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    )
    _has(causes, "data[..hidden]", "must not start with '..'")
    _has(causes, "data[ok]", "duplicate of key present in binaryData")
    _has(causes, "binaryData[a/b]", "a valid config key")


def test_config_map_size_limit_counts_bytes() -> None:
    at_limit = {
        "metadata": _meta("c"),
        "data": {"a": "x" * (1024 * 1024 - 3)},
        "binaryData": {"b": _b64(b"123")},
    }
    assert _causes("ConfigMap", at_limit) == []
    over = {"metadata": _meta("c"), "data": {"a": "é" * (512 * 1024 + 1)}}
    _has(
        _causes("ConfigMap", over),
        "",
        "Too long: may not be more than 1048576 bytes",
        "FieldValueTooLong",
    )


def test_secret_size_counts_decoded_bytes() -> None:
    at_limit = {"metadata": _meta("s"), "data": {"a": _b64(b"x" * (1024 * 1024))}}
    assert _causes("Secret", at_limit) == []
    over = {"metadata": _meta("s"), "data": {"a": _b64(b"x" * (1024 * 1024)), "b": _b64(b"y")}}
    _has(_causes("Secret", over), "data", "Too long: may not be more than 1048576 bytes")


def test_secret_data_must_be_base64_and_keys_valid() -> None:
    causes = _causes(
        "Secret", {"metadata": _meta("s"), "data": {"a": "not base64!", "bad key": _b64(b"x")}}
    )
    _has(causes, "data[a]", "illegal base64 data")
    _has(causes, "data[bad key]", "a valid config key")
    from_string_data = _causes("Secret", {"metadata": _meta("s"), "stringData": {"bad key": "x"}})
    _has(from_string_data, "data[bad key]", "a valid config key")


def test_typed_secrets_need_their_keys() -> None:
    tls = _causes(
        "Secret",
        {"metadata": _meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": _b64(b"c")}},
    )
    _has(tls, "data[tls.key]", "Required value")
    docker = _causes(
        "Secret",
        {
            "metadata": _meta("s"),
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": _b64(b"{")},
        },
    )
    _has(docker, "data[.dockerconfigjson]", "Invalid value")
    token = _causes(
        "Secret", {"metadata": _meta("s"), "type": "kubernetes.io/service-account-token"}
    )
    _has(token, "metadata.annotations[kubernetes.io/service-account.name]", "Required value")


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_immutable_config_objects(kind: str) -> None:
    field = "data"
    value = "v1" if kind == "ConfigMap" else _b64(b"v1")
    old = {"metadata": _meta("c"), "immutable": True, field: {"k": value}}
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"a": "b"}
    assert _causes(kind, relabelled, old) == []
    changed = copy.deepcopy(old)
    changed[field] = {"k": "v2" if kind == "ConfigMap" else _b64(b"v2")}
    _has(
        _causes(kind, changed, old),
        field,
        "Forbidden: field is immutable when `immutable` is set",
        "FieldValueForbidden",
    )
    unset = copy.deepcopy(old)
    unset["immutable"] = False
    _has(_causes(kind, unset, old), "immutable", "field is immutable when `immutable` is set")


def test_immutable_config_map_binary_data() -> None:
    old = {"metadata": _meta("c"), "immutable": True, "binaryData": {"k": _b64(b"1")}}
    new = copy.deepcopy(old)
    new["binaryData"]["k"] = _b64(b"2")
    _has(_causes("ConfigMap", new, old), "binaryData", "field is immutable when `immutable` is set")


def test_immutable_secret_string_data_counts_as_data() -> None:
    old = {"metadata": _meta("s"), "immutable": True, "data": {"k": _b64(b"v")}}
    new = {"metadata": _meta("s"), "immutable": True, "stringData": {"k": "w"}}
    _has(_causes("Secret", new, old), "data", "field is immutable when `immutable` is set")


def test_secret_type_is_immutable() -> None:
    old = {"metadata": _meta("s"), "data": {}}
    new = {
        "metadata": _meta("s"),
        "type": "kubernetes.io/basic-auth",
        "data": {"username": _b64(b"u")},
    }
    _has(
        _causes("Secret", new, old),
        "type",
        'Invalid value: "kubernetes.io/basic-auth": field is immutable',
    )


# --- services -----------------------------------------------------------------------------


def test_service_ports() -> None:
    _has(_causes("Service", _service(ports=[])), "spec.ports", "Required value")
    assert _causes("Service", _service(ports=[], clusterIP="None")) == []
    causes = _causes(
        "Service",
        _service(
            ports=[{"port": 80}, {"port": 0, "name": "b", "protocol": "HTTP", "targetPort": "Web"}]
        ),
    )
    _has(causes, "spec.ports[0].name", "Required value")
    _has(causes, "spec.ports[1].port", "must be between 1 and 65535, inclusive")
    _has(causes, "spec.ports[1].protocol", 'supported values: "SCTP", "TCP", "UDP"')
    _has(causes, "spec.ports[1].targetPort", "must contain only alpha-numeric characters")


def test_service_port_names_and_duplicates() -> None:
    causes = _causes(
        "Service", _service(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 80}])
    )
    _has(causes, "spec.ports[1].name", 'Duplicate value: "http"')
    _has(causes, "spec.ports[1]", 'Duplicate value: {"port":80,"protocol":"TCP"}')
    assert (
        _causes(
            "Service",
            _service(
                ports=[
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53},
                ]
            ),
        )
        == []
    )


def test_service_type_and_external_name() -> None:
    _has(
        _causes("Service", _service(type="Ingress")),
        "spec.type",
        'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    )
    external = {"metadata": _meta("ext"), "spec": {"type": "ExternalName"}}
    _has(_causes("Service", external), "spec.externalName", "Required value")
    external["spec"]["externalName"] = "db.example.com."
    assert _causes("Service", external) == []


def test_service_selector_and_node_ports() -> None:
    _has(
        _causes("Service", _service(selector={"app": "-bad-"})),
        "spec.selector",
        'Invalid value: "-bad-"',
    )
    _has(
        _causes("Service", _service(ports=[{"port": 80, "nodePort": 30080}])),
        "spec.ports[0].nodePort",
        "may not be used when `type` is 'ClusterIP'",
    )
    headless_lb = _service(type="LoadBalancer", clusterIP="None")
    _has(
        _causes("Service", headless_lb),
        "spec.clusterIPs[0]",
        "may not be set to 'None' for LoadBalancer services",
    )


def test_service_cluster_ips() -> None:
    mismatched = _service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.11"])
    _has(_causes("Service", mismatched), "spec.clusterIPs", "first value must match `clusterIP`")
    bad_ip = _service(clusterIP="10.96.0.300")
    _has(_causes("Service", bad_ip), "spec.clusterIPs[0]", "must be a valid IP address")
    same_family = _service(
        clusterIP="10.96.0.10",
        clusterIPs=["10.96.0.10", "10.96.0.11"],
        ipFamilyPolicy="RequireDualStack",
    )
    _has(
        _causes("Service", same_family),
        "spec.clusterIPs",
        "may specify no more than one IP for each IP family",
    )


def test_service_cluster_ip_is_immutable_once_set() -> None:
    old = _service(clusterIP="10.96.0.10")
    same = _service(clusterIP="10.96.0.10", ports=[{"port": 8080}])
    assert _causes("Service", same, old) == []
    moved = _service(clusterIP="10.96.0.11")
    _has(_causes("Service", moved, old), "spec.clusterIPs[0]", "may not change once set")
    cleared = _service()
    _has(
        _causes("Service", cleared, old), "spec.clusterIPs[0]", "primary clusterIP can not be unset"
    )
    to_external = {
        "metadata": _meta("web"),
        "spec": {"type": "ExternalName", "externalName": "example.com"},
    }
    assert _causes("Service", to_external, old) == []


def test_service_traffic_policies_and_affinity() -> None:
    causes = _causes(
        "Service",
        _service(
            externalTrafficPolicy="Local", sessionAffinity="Sticky", internalTrafficPolicy="Node"
        ),
    )
    _has(causes, "spec.externalTrafficPolicy", "may only be set for externally-accessible services")
    _has(causes, "spec.sessionAffinity", 'supported values: "ClientIP", "None"')
    _has(causes, "spec.internalTrafficPolicy", 'supported values: "Cluster", "Local"')
    timeout = _service(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}}
    )
    _has(
        _causes("Service", timeout),
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        "must be greater than 0 and less than 86400",
    )


def test_load_balancer_kubelet_port() -> None:
    lb = _service(type="LoadBalancer", ports=[{"port": 10250}])
    _has(
        _causes("Service", lb),
        "spec.ports[0]",
        "may not expose port 10250 externally since it is used by kubelet",
    )


# --- the rest -----------------------------------------------------------------------------


def test_namespace_spec_finalizers() -> None:
    ns = {"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes", "custom"]}}
    _has(
        _causes("Namespace", ns),
        "spec.finalizers",
        "name is neither a standard finalizer name nor is it fully qualified",
    )


def test_node_taints_are_reported_under_metadata() -> None:
    node = {
        "metadata": {"name": "n1"},
        "spec": {
            "taints": [
                {"key": "a", "effect": "Sometimes"},
                {"key": "b"},
                {"key": "a", "effect": "Sometimes"},
            ]
        },
    }
    causes = _causes("Node", node)
    _has(causes, "metadata.taints[0].effect", '"NoSchedule", "PreferNoSchedule", "NoExecute"')
    _has(causes, "metadata.taints[1].effect", "Required value")
    _has(causes, "metadata.taints[2]", "taints must be unique by key and effect pair")


def test_node_pod_cidrs_and_provider_id_are_set_once() -> None:
    old = {
        "metadata": {"name": "n1"},
        "spec": {"podCIDRs": ["10.244.1.0/24"], "providerID": "kind://n1"},
    }
    new = copy.deepcopy(old)
    new["spec"] = {"podCIDRs": ["10.244.2.0/24"], "providerID": "kind://n2", "unschedulable": True}
    causes = _causes("Node", new, old)
    _has(causes, "spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
    _has(
        causes, "spec.providerID", 'node updates may not change providerID except from "" to valid'
    )
    assert (
        _causes(
            "Node",
            {"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.1.0/24"]}},
            {"metadata": {"name": "n1"}},
        )
        == []
    )


def test_lease() -> None:
    lease = {"metadata": _meta("l"), "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}
    causes = _causes("Lease", lease)
    _has(causes, "spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")
    _has(causes, "spec.leaseTransitions", "must be greater than or equal to 0")


def test_event_namespace_must_match_involved_object() -> None:
    event = VALID["Event"]()
    event["involvedObject"]["namespace"] = "other"
    _has(_causes("Event", event), "involvedObject.namespace", "does not match event.namespace")


def test_priority_class() -> None:
    big = {"metadata": {"name": "huge"}, "value": 2_000_000_000}
    _has(
        _causes("PriorityClass", big),
        "value",
        "maximum allowed value of a user defined priority is 1000000000",
    )
    system = {"metadata": {"name": "system-custom"}, "value": 1}
    _has(
        _causes("PriorityClass", system),
        "metadata.name",
        "priority class names with 'system-' prefix are reserved for system use only",
    )
    known = {"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000}
    assert _causes("PriorityClass", known) == []
    _has(
        _causes("PriorityClass", {"metadata": {"name": "p"}, "value": 2**31}),
        "value",
        "must be a 32-bit integer",
    )
    _has(
        _causes(
            "PriorityClass",
            {"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "Sometimes"},
        ),
        "preemptionPolicy",
        'supported values: "PreemptLowerPriority", "Never"',
    )
    old = VALID["PriorityClass"]()
    changed = copy.deepcopy(old)
    changed["value"] = 2000
    _has(
        _causes("PriorityClass", changed, old),
        "value",
        "Forbidden: may not be changed in an update.",
    )


def test_endpoints() -> None:
    endpoints = {
        "metadata": _meta("e"),
        "subsets": [
            {"ports": [{"port": 80}]},
            {"addresses": [{"ip": "127.0.0.1"}, {"ip": "not-an-ip"}]},
        ],
    }
    causes = _causes("Endpoints", endpoints)
    _has(causes, "subsets[0]", "Required value: must specify `addresses` or `notReadyAddresses`")
    _has(
        causes,
        "subsets[1].addresses[0].ip",
        "may not be in the loopback range (127.0.0.0/8, ::1/128)",
    )
    _has(causes, "subsets[1].addresses[1].ip", "must be a valid IP address")


def test_endpoint_slice() -> None:
    missing = {"metadata": _meta("s"), "endpoints": []}
    _has(_causes("EndpointSlice", missing), "addressType", "Required value")
    too_many = {
        "metadata": _meta("s"),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"]}] * 1001,
    }
    _has(
        _causes("EndpointSlice", too_many),
        "endpoints",
        "Too many: 1001: must have at most 1000 items",
    )
    bad = {
        "metadata": _meta("s"),
        "addressType": "IPv4",
        "endpoints": [{"addresses": []}, {"addresses": ["fd00::1"]}],
    }
    causes = _causes("EndpointSlice", bad)
    _has(causes, "endpoints[0].addresses", "Required value: must contain at least 1 address")
    _has(causes, "endpoints[1].addresses[0]", "must be a valid IPv4 address")
    old = VALID["EndpointSlice"]()
    changed = copy.deepcopy(old)
    changed["addressType"] = "IPv6"
    changed["endpoints"] = []
    _has(_causes("EndpointSlice", changed, old), "addressType", "field is immutable")


def test_selector_match_labels_name_the_bad_key_or_value() -> None:
    causes = _causes(
        "Deployment",
        _workload("Deployment", selector={"matchLabels": {"app": "web", "tier": "-x"}}),
    )
    _has(
        causes,
        "spec.selector.matchLabels",
        'Invalid value: "-x": a valid label must be an empty string',
    )
    _has(causes, "spec.selector", "invalid label selector")
