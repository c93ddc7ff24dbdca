"""Cluster DNS through `step`: the records of the Kubernetes DNS specification, as CoreDNS gives."""

from __future__ import annotations

from typing import Any

import pytest

from reference import Cluster, new_cluster, step

Obj = dict[str, Any]
ZONE = "svc.cluster.local"

# -- helpers ---------------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def create(c: Cluster, obj: Obj) -> Cluster:
    c, _ = ok(c, {"op": "create", "object": obj})
    return c


def resolve(c: Cluster, name: str, record_type: str = "A") -> list[Any]:
    after, answer = ok(c, {"op": "resolve", "name": name, "type": record_type})
    assert after == c
    return list(answer["answers"])


def service(name: str, namespace: str = "default", **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def endpoint(ip: str, *, ready: bool | None = True, hostname: str | None = None) -> Obj:
    found: Obj = {"addresses": [ip]}
    if ready is not None:
        found["conditions"] = {"ready": ready}
    if hostname:
        found["hostname"] = hostname
    return found


def endpoint_slice(name: str, owner: str, *endpoints: Obj, ports: list[Obj] | None = None) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": owner},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}] if ports is None else ports,
        "endpoints": list(endpoints),
    }


@pytest.fixture
def cluster() -> Cluster:
    """`web` (ClusterIP), `db` (headless, two ready endpoints and a not-ready one), `ext`."""
    c = new_cluster(0)
    c = create(c, service("web", clusterIP="10.96.0.10"))
    ports = [
        {"name": "sql", "port": 5432, "targetPort": 5432},
        {"name": "metrics", "port": 9187, "targetPort": 9187, "protocol": "TCP"},
    ]
    c = create(c, service("db", clusterIP="None", ports=ports))
    slice_ports = [
        {"name": "sql", "port": 5432, "protocol": "TCP"},
        {"name": "metrics", "port": 9187, "protocol": "TCP"},
    ]
    c = create(
        c,
        endpoint_slice(
            "db-a",
            "db",
            endpoint("10.0.0.12", hostname="db-1"),
            endpoint("10.0.0.2", hostname="db-0"),
            endpoint("10.0.0.7", ready=False, hostname="db-2"),
            ports=slice_ports,
        ),
    )
    return create(c, service("ext", type="ExternalName", externalName="db.example.com.", ports=[]))


# -- A ---------------------------------------------------------------------------------------------


def test_a_cluster_ip_service_resolves_to_its_cluster_ip(cluster: Cluster) -> None:
    assert resolve(cluster, f"web.default.{ZONE}") == ["10.96.0.10"]


@pytest.mark.parametrize(
    "name", [f"WEB.Default.{ZONE}", f"web.default.{ZONE}.", "Web.DEFAULT.SVC.Cluster.Local."]
)
def test_names_are_case_insensitive_and_may_end_in_a_dot(cluster: Cluster, name: str) -> None:
    assert resolve(cluster, name) == ["10.96.0.10"]


def test_a_headless_service_resolves_to_its_ready_endpoints(cluster: Cluster) -> None:
    assert resolve(cluster, f"db.default.{ZONE}") == ["10.0.0.2", "10.0.0.12"]


def test_an_endpoint_with_no_ready_condition_counts_as_ready() -> None:
    c = create(new_cluster(0), service("db", clusterIP="None"))
    c = create(c, endpoint_slice("db-a", "db", endpoint("10.0.0.3", ready=None)))
    assert resolve(c, f"db.default.{ZONE}") == ["10.0.0.3"]


def test_a_headless_service_without_ready_endpoints_has_no_address() -> None:
    c = create(new_cluster(0), service("db", clusterIP="None"))
    assert resolve(c, f"db.default.{ZONE}") == []
    c = create(c, endpoint_slice("db-a", "db", endpoint("10.0.0.3", ready=False)))
    assert resolve(c, f"db.default.{ZONE}") == []


def test_publish_not_ready_addresses_makes_every_endpoint_ready() -> None:
    c = create(new_cluster(0), service("db", clusterIP="None", publishNotReadyAddresses=True))
    c = create(c, endpoint_slice("db-a", "db", endpoint("10.0.0.3", ready=False, hostname="x")))
    assert resolve(c, f"db.default.{ZONE}") == ["10.0.0.3"]
    assert resolve(c, f"x.db.default.{ZONE}") == ["10.0.0.3"]


def test_an_endpoint_resolves_by_hostname_and_by_dashed_ip(cluster: Cluster) -> None:
    assert resolve(cluster, f"db-0.db.default.{ZONE}") == ["10.0.0.2"]
    assert resolve(cluster, f"DB-1.db.default.{ZONE}") == ["10.0.0.12"]
    assert resolve(cluster, f"db-2.db.default.{ZONE}") == []  # not ready
    c = create(cluster, service("plain", clusterIP="None"))
    c = create(c, endpoint_slice("plain-a", "plain", endpoint("10.0.0.9")))
    assert resolve(c, f"10-0-0-9.plain.default.{ZONE}") == ["10.0.0.9"]


def test_an_external_name_service_is_a_cname(cluster: Cluster) -> None:
    assert resolve(cluster, f"ext.default.{ZONE}") == [{"cname": "db.example.com."}]
    assert resolve(cluster, f"x.ext.default.{ZONE}") == []


def test_a_pod_name_of_dashes_resolves_to_its_ip(cluster: Cluster) -> None:
    assert resolve(cluster, "10-244-1-7.default.pod.cluster.local") == ["10.244.1.7"]
    assert resolve(cluster, "10-244-1-7.nowhere.pod.cluster.local") == []
    assert resolve(cluster, "not-an-ip.default.pod.cluster.local") == []


def test_dns_reads_the_store_as_it_is() -> None:
    c = create(new_cluster(0), service("web", clusterIP="10.96.0.10"))
    assert resolve(c, f"web.default.{ZONE}") == ["10.96.0.10"]
    c, _ = ok(c, {"op": "delete", "kind": "Service", "namespace": "default", "name": "web"})
    assert resolve(c, f"web.default.{ZONE}") == []


# -- SRV -------------------------------------------------------------------------------------------


def test_srv_of_a_cluster_ip_service_port_targets_the_service(cluster: Cluster) -> None:
    assert resolve(cluster, f"_http._tcp.web.default.{ZONE}", "SRV") == [
        {"target": f"web.default.{ZONE}", "port": 80}
    ]
    assert resolve(cluster, f"_http._udp.web.default.{ZONE}", "SRV") == []
    assert resolve(cluster, f"_https._tcp.web.default.{ZONE}", "SRV") == []


def test_srv_of_a_headless_service_names_each_ready_endpoint(cluster: Cluster) -> None:
    assert resolve(cluster, f"_sql._tcp.db.default.{ZONE}", "SRV") == [
        {"target": f"db-0.db.default.{ZONE}", "port": 5432},
        {"target": f"db-1.db.default.{ZONE}", "port": 5432},
    ]


def test_srv_without_a_port_lists_every_port(cluster: Cluster) -> None:
    assert resolve(cluster, f"db-0.db.default.{ZONE}", "SRV") == [
        {"target": f"db-0.db.default.{ZONE}", "port": 5432},
        {"target": f"db-0.db.default.{ZONE}", "port": 9187},
    ]
    ports = [{"name": "http", "port": 80}, {"name": "grpc", "port": 9000}]
    c = create(cluster, service("api", clusterIP="10.96.0.20", ports=ports))
    assert resolve(c, f"api.default.{ZONE}", "SRV") == [
        {"target": f"api.default.{ZONE}", "port": 80},
        {"target": f"api.default.{ZONE}", "port": 9000},
    ]


def test_an_external_name_service_has_no_srv(cluster: Cluster) -> None:
    assert resolve(cluster, f"ext.default.{ZONE}", "SRV") == []


def test_an_a_query_may_name_a_port(cluster: Cluster) -> None:
    assert resolve(cluster, f"_http._tcp.web.default.{ZONE}") == ["10.96.0.10"]
    assert resolve(cluster, f"_nope._tcp.web.default.{ZONE}") == []


# -- NXDOMAIN and bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        f"nope.default.{ZONE}",
        f"web.elsewhere.{ZONE}",
        f"default.{ZONE}",
        ZONE,
        "web.default.svc.example.org",
        "web.default",
        f"a.b._http._tcp.web.default.{ZONE}",
        f"web..default.{ZONE}",
        "web.default.nodes.cluster.local",
    ],
)
@pytest.mark.parametrize("record_type", ["A", "SRV"])
def test_names_without_records_answer_nothing(
    cluster: Cluster, name: str, record_type: str
) -> None:
    assert resolve(cluster, name, record_type) == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"type": "A"}, "name"),
        ({"name": "", "type": "A"}, "name"),
        ({"name": 7, "type": "A"}, "name"),
        ({"name": f"web.default.{ZONE}"}, "type"),
        ({"name": f"web.default.{ZONE}", "type": "AAAA"}, "type"),
        ({"name": f"web.default.{ZONE}", "type": "a"}, "type"),
    ],
)
def test_bad_input_is_a_bad_request_naming_the_field(
    cluster: Cluster, request_: Obj, field: str
) -> None:
    after, answer = step(cluster, {"op": "resolve", **request_})
    assert answer["ok"] is False
    assert answer["status"]["code"] == 400
    assert answer["status"]["reason"] == "BadRequest"
    assert f"`{field}`" in answer["status"]["message"]
    assert after == cluster
