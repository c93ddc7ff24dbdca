"""ClusterIP and NodePort allocation for Services, through the API (reference.cluster.step).

Upstream: pkg/registry/core/service/storage/alloc.go and storage.go (the
BeginCreate/BeginUpdate hooks), ipallocator, portallocator, and the strategy's
dropTypeDependentFields.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import attrs
import pytest

from reference import Cluster, Components, new_cluster, step
from reference.api.errors import ApiError
from reference.api.server import DEFAULT_POLICY
from reference.api.service_allocation import Held, allocate_on_create

Answer = dict[str, Any]

NETWORK = ipaddress.ip_network("10.96.0.0/12")
FIRST = int(NETWORK.network_address) + 1
IP_STATIC_BAND = 256  # min(max(16, 2**20 // 16), 256)
PORT_STATIC_BAND = 86  # min(max(16, 2768 // 32), 128)


def ok(cluster: Cluster, request: dict[str, Any]) -> tuple[Cluster, Answer]:
    cluster, answer = step(cluster, request)
    assert answer["ok"] is True, answer
    return cluster, answer


def refused(cluster: Cluster, request: dict[str, Any], code: int, reason: str) -> Answer:
    """Assert the request is refused with this code and reason, and that nothing changed."""
    after, answer = step(cluster, request)
    assert answer["ok"] is False, answer
    status = answer["status"]
    assert (status["code"], status["reason"]) == (code, reason), status
    assert after == cluster
    return dict(status)


def service(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"app": name})
    spec.setdefault("ports", [{"port": 80}])
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def create(cluster: Cluster, obj: dict[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = ok(cluster, {"op": "create", "object": obj})
    return cluster, answer["object"]


def update(cluster: Cluster, obj: dict[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = ok(cluster, {"op": "update", "object": obj})
    return cluster, answer["object"]


def delete(cluster: Cluster, name: str) -> Cluster:
    cluster, _ = ok(cluster, {"op": "delete", "kind": "Service", "name": name})
    return cluster


def ip_offset(ip: str) -> int:
    return int(ipaddress.ip_address(ip)) - FIRST


def node_ports(obj: dict[str, Any]) -> list[int | None]:
    return [p.get("nodePort") for p in obj["spec"]["ports"]]


def only_cause(status: Answer) -> dict[str, str]:
    causes = status["details"]["causes"]
    assert len(causes) == 1, causes
    return dict(causes[0])


@pytest.fixture
def cluster() -> Cluster:
    return new_cluster(7)


# -- cluster IPs ------------------------------------------------------------------------------


def test_dynamic_cluster_ips_are_distinct_and_in_the_upper_band(cluster: Cluster) -> None:
    ips = []
    for i in range(30):
        cluster, svc = create(cluster, service(f"s{i}"))
        spec = svc["spec"]
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        ips.append(spec["clusterIP"])
    assert len(set(ips)) == len(ips)
    assert all(IP_STATIC_BAND <= ip_offset(ip) < NETWORK.num_addresses - 2 for ip in ips)


def test_allocation_is_a_function_of_the_seed_and_the_requests() -> None:
    def run(seed: int) -> list[Any]:
        cluster = new_cluster(seed)
        seen = []
        for name in ("a", "b", "c"):
            cluster, svc = create(cluster, service(name, type="NodePort"))
            seen.append((svc["spec"]["clusterIP"], node_ports(svc)))
        return seen

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_requested_ip_is_honoured_once(cluster: Cluster) -> None:
    cluster, first = create(cluster, service("a", clusterIP="10.96.0.10"))
    assert first["spec"]["clusterIPs"] == ["10.96.0.10"]
    status = refused(
        cluster, {"op": "create", "object": service("b", clusterIP="10.96.0.10")}, 422, "Invalid"
    )
    assert only_cause(status) == {
        "field": "spec.clusterIPs",
        "message": 'Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10:'
        " provided IP is already allocated",
        "reason": "FieldValueInvalid",
    }


def test_ips_and_node_ports_are_unique_across_namespaces(cluster: Cluster) -> None:
    cluster, _ = ok(
        cluster, {"op": "create", "object": {"kind": "Namespace", "metadata": {"name": "team"}}}
    )
    ports = [{"port": 80, "nodePort": 30010}]
    cluster, _ = create(cluster, service("a", type="NodePort", clusterIP="10.96.0.11", ports=ports))
    for spec in ({"clusterIP": "10.96.0.11"}, {"type": "NodePort", "ports": ports}):
        request = {"op": "create", "object": service("a", "team", **spec)}
        assert "already allocated" in refused(cluster, request, 422, "Invalid")["message"]


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("192.168.0.10", "the provided network does not match the current range"),
        (
            "10.96.0.0",
            "the provided IP (10.96.0.0) is not in the valid range."
            " The range of valid IPs is 10.96.0.0/12",
        ),
        (
            "10.111.255.255",
            "the provided IP (10.111.255.255) is not in the valid range."
            " The range of valid IPs is 10.96.0.0/12",
        ),
    ],
)
def test_an_ip_outside_the_range_is_refused(cluster: Cluster, ip: str, problem: str) -> None:
    status = refused(
        cluster, {"op": "create", "object": service("a", clusterIP=ip)}, 422, "Invalid"
    )
    assert only_cause(status)["message"].endswith(f"failed to allocate IP {ip}: {problem}")


def test_the_first_address_is_kept_for_the_kubernetes_service(cluster: Cluster) -> None:
    request = {"op": "create", "object": service("a", clusterIP="10.96.0.1")}
    assert "already allocated" in refused(cluster, request, 422, "Invalid")["message"]
    _, svc = create(cluster, service("kubernetes", clusterIP="10.96.0.1"))
    assert svc["spec"]["clusterIP"] == "10.96.0.1"


def test_headless_and_external_name_services_get_no_ip(cluster: Cluster) -> None:
    cluster, headless = create(cluster, service("h", clusterIP="None"))
    assert headless["spec"]["clusterIPs"] == ["None"]
    assert headless["spec"]["ipFamilies"] == ["IPv4"]
    external = service("e", type="ExternalName", externalName="db.example.com")
    del external["spec"]["ports"]
    _, svc = create(cluster, external)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(svc["spec"])


@pytest.mark.parametrize(
    ("spec", "field", "detail"),
    [
        ({"clusterIP": "fd00::10"}, "spec.clusterIPs[0]", "IPv6 is not configured on this cluster"),
        (
            {"ipFamilyPolicy": "RequireDualStack"},
            "spec.ipFamilyPolicy",
            "this cluster is not configured for dual-stack services",
        ),
        ({"ipFamilies": ["IPv6"]}, "spec.ipFamilies[0]", "not configured on this cluster"),
    ],
)
def test_a_single_stack_ipv4_cluster_refuses_ipv6(
    cluster: Cluster, spec: dict[str, Any], field: str, detail: str
) -> None:
    status = refused(cluster, {"op": "create", "object": service("a", **spec)}, 422, "Invalid")
    cause = only_cause(status)
    assert cause["field"] == field and cause["message"].endswith(detail)


def test_delete_releases_the_ip_and_the_node_port(cluster: Cluster) -> None:
    requested = service("a", type="NodePort", clusterIP="10.96.0.20")
    requested["spec"]["ports"] = [{"port": 80, "nodePort": 30020}]
    cluster, _ = create(cluster, copy.deepcopy(requested))
    requested["metadata"]["name"] = "b"
    status = refused(cluster, {"op": "create", "object": requested}, 422, "Invalid")
    assert "already allocated" in status["message"]
    cluster = delete(cluster, "a")
    _, svc = create(cluster, requested)
    assert svc["spec"]["clusterIP"] == "10.96.0.20" and node_ports(svc) == [30020]


def test_the_allocation_error_comes_before_validation(cluster: Cluster) -> None:
    """BeginCreate runs before the strategy validates (also for an invalid session affinity)."""
    cluster, _ = create(cluster, service("a", clusterIP="10.96.0.30"))
    bad = service("b", clusterIP="10.96.0.30", sessionAffinity="Sometimes")
    status = refused(cluster, {"op": "create", "object": bad}, 422, "Invalid")
    assert only_cause(status)["field"] == "spec.clusterIPs"


# -- node ports -------------------------------------------------------------------------------


def test_dynamic_node_ports_are_distinct_and_in_the_upper_band(cluster: Cluster) -> None:
    ports: list[Any] = []
    for i in range(20):
        spec_ports = [{"name": "a", "port": 80}, {"name": "b", "port": 443}]
        cluster, svc = create(cluster, service(f"s{i}", type="NodePort", ports=spec_ports))
        ports += node_ports(svc)
    assert len(set(ports)) == len(ports)
    assert all(30000 + PORT_STATIC_BAND <= p <= 32767 for p in ports)


def test_the_static_band_is_the_fallback_then_the_range_is_full() -> None:
    """Dynamic choices take the lower band only once the upper one is full (KEP-3668)."""
    upper = frozenset(range(30000 + PORT_STATIC_BAND, 32768))
    svc = allocate_on_create(service("a", type="NodePort"), Held(node_ports=upper), lambda _: 7)
    (port,) = node_ports(svc)
    assert isinstance(port, int) and 30000 <= port < 30000 + PORT_STATIC_BAND
    full = Held(node_ports=frozenset(range(30000, 32768)))
    with pytest.raises(ApiError) as refusal:
        allocate_on_create(service("a", type="NodePort"), full, lambda _: 7)
    assert (refusal.value.code, refusal.value.message) == (
        500,
        "Internal error occurred: failed to allocate a nodePort: range is full",
    )


def test_tcp_and_udp_on_one_port_number_share_a_node_port(cluster: Cluster) -> None:
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "web", "port": 80},
    ]
    _, svc = create(cluster, service("dns", type="NodePort", ports=ports))
    dns, dns_tcp, web = node_ports(svc)
    assert dns == dns_tcp != web


def test_a_requested_node_port_is_honoured_once(cluster: Cluster) -> None:
    cluster, _ = create(
        cluster, service("a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    )
    taken = service("b", type="NodePort", ports=[{"port": 81, "nodePort": 30080}])
    status = refused(cluster, {"op": "create", "object": taken}, 422, "Invalid")
    assert only_cause(status) == {
        "field": "spec.ports[0].nodePort",
        "message": "Invalid value: 30080: provided port is already allocated",
        "reason": "FieldValueInvalid",
    }
    outside = service("c", type="NodePort", ports=[{"port": 81, "nodePort": 29999}])
    status = refused(cluster, {"op": "create", "object": outside}, 422, "Invalid")
    assert only_cause(status)["message"] == (
        "Invalid value: 29999: provided port is not in the valid range."
        " The range of valid ports is 30000-32767"
    )


def test_load_balancers_get_node_ports_unless_told_not_to(cluster: Cluster) -> None:
    cluster, lb = create(cluster, service("lb", type="LoadBalancer"))
    assert all(isinstance(p, int) for p in node_ports(lb))
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30081}]
    bare = service("bare", type="LoadBalancer", allocateLoadBalancerNodePorts=False, ports=ports)
    _, svc = create(cluster, bare)
    assert node_ports(svc) == [None, 30081]


def test_a_local_load_balancer_gets_a_health_check_port(cluster: Cluster) -> None:
    local = service("lb", type="LoadBalancer", externalTrafficPolicy="Local")
    cluster, svc = create(cluster, local)
    health = svc["spec"]["healthCheckNodePort"]
    assert 30000 <= health <= 32767 and health not in node_ports(svc)
    taken = service("np", type="NodePort", ports=[{"port": 80, "nodePort": health}])
    assert (
        "already allocated"
        in refused(cluster, {"op": "create", "object": taken}, 422, "Invalid")["message"]
    )


# -- updates ----------------------------------------------------------------------------------


def test_updates_keep_what_was_allocated(cluster: Cluster) -> None:
    """patchAllocatedValues: a manifest applied again without the allocated values keeps them."""
    manifest = service("a", type="NodePort", ports=[{"name": "web", "port": 80}])
    cluster, created = create(cluster, copy.deepcopy(manifest))
    cluster, same = update(cluster, copy.deepcopy(created))
    assert same == created
    manifest["spec"]["selector"] = {"app": "other"}
    cluster, updated = update(cluster, manifest)
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert node_ports(updated) == node_ports(created)
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]


def test_the_cluster_ip_may_not_change(cluster: Cluster) -> None:
    cluster, created = create(cluster, service("a"))
    moved = copy.deepcopy(created)
    moved["spec"]["clusterIP"] = moved["spec"]["clusterIPs"][0] = "10.96.0.99"
    status = refused(cluster, {"op": "update", "object": moved}, 422, "Invalid")
    assert "may not change once set" in status["message"]


def test_leaving_node_port_releases_the_node_ports(cluster: Cluster) -> None:
    ports = [{"port": 80, "nodePort": 30090}]
    cluster, created = create(cluster, service("a", type="NodePort", ports=ports))
    back = copy.deepcopy(created)
    back["spec"]["type"] = "ClusterIP"
    cluster, updated = update(cluster, back)
    assert node_ports(updated) == [None]
    assert "externalTrafficPolicy" not in updated["spec"]
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    _, other = create(cluster, service("b", type="NodePort", ports=ports))
    assert node_ports(other) == [30090]


def test_becoming_node_port_allocates_node_ports(cluster: Cluster) -> None:
    """The draw moves the serial, so the next dynamic choice is a fresh one."""
    cluster, created = create(cluster, service("a"))
    serial = cluster.api.serial
    change = copy.deepcopy(created)
    change["spec"]["type"] = "NodePort"
    cluster, updated = update(cluster, change)
    (port,) = node_ports(updated)
    assert isinstance(port, int) and 30000 + PORT_STATIC_BAND <= port <= 32767
    assert updated["spec"]["externalTrafficPolicy"] == "Cluster"
    assert cluster.api.serial == serial + 1


def test_external_name_round_trip_releases_and_allocates_the_ip(cluster: Cluster) -> None:
    cluster, created = create(cluster, service("a", clusterIP="10.96.0.40"))
    external = copy.deepcopy(created)
    external["spec"].update(type="ExternalName", externalName="db.example.com")
    cluster, updated = update(cluster, external)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(updated["spec"])
    cluster, _ = create(cluster, service("b", clusterIP="10.96.0.40"))
    back = copy.deepcopy(updated)
    back["spec"]["type"] = "ClusterIP"
    del back["spec"]["externalName"]
    _, again = update(cluster, back)
    assert again["spec"]["clusterIP"] not in ("10.96.0.40", None)
    assert ip_offset(again["spec"]["clusterIP"]) >= IP_STATIC_BAND


def test_an_update_requesting_a_taken_node_port_changes_nothing(cluster: Cluster) -> None:
    cluster, _ = create(
        cluster, service("a", type="NodePort", ports=[{"port": 80, "nodePort": 30100}])
    )
    cluster, b = create(cluster, service("b", type="NodePort"))
    b["spec"]["ports"][0]["nodePort"] = 30100
    status = refused(cluster, {"op": "update", "object": b}, 422, "Invalid")
    assert only_cause(status)["field"] == "spec.ports[0].nodePort"


# -- the mutant ---------------------------------------------------------------------------------


def test_the_reuse_mutant_hands_out_a_port_already_held() -> None:
    policy = attrs.evolve(DEFAULT_POLICY, reuse_allocated_node_ports=True)
    cluster = new_cluster(7, Components(api=policy))
    cluster, a = create(cluster, service("a", type="NodePort"))
    _, b = create(cluster, service("b", type="NodePort"))
    assert node_ports(a) == node_ports(b)
