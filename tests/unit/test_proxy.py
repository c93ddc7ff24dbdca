"""The node proxy through `step`: which endpoints connections reach, in which order, and when.

Services get explicit ClusterIPs and no selector, and their EndpointSlices are
created directly, so every endpoint's IP and conditions are the test's own.
"""

from __future__ import annotations

import collections
import copy
from typing import Any

import pytest
from pyrsistent import pmap

from reference import Cluster, Components, new_cluster, step
from reference.proxy import KUBE_PROXY, KubeProxy, build_rules

Obj = dict[str, Any]
CLIENT = "10.244.9.9"

# -- helpers ---------------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def refused(c: Cluster, request: Obj, code: int) -> Obj:
    after, answer = step(c, request)
    assert answer["ok"] is False, answer
    assert answer["status"]["code"] == code, answer
    assert after == c
    return dict(answer["status"])


def advance(c: Cluster, seconds: float) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": seconds})
    return c


def service(name: str = "web", ip: str | None = "10.96.0.10", **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    if ip is not None:
        spec["clusterIP"] = ip
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def endpoint(
    last: int,
    *,
    ready: bool | None = True,
    serving: bool | None = None,
    terminating: bool | None = None,
    node: str | None = None,
) -> Obj:
    conditions = {
        k: v
        for k, v in {"ready": ready, "serving": serving, "terminating": terminating}.items()
        if v is not None
    }
    found: Obj = {
        "addresses": [f"10.0.0.{last}"],
        "conditions": conditions,
        "targetRef": {"kind": "Pod", "name": f"p{last}", "namespace": "default"},
    }
    if node:
        found["nodeName"] = node
    return found


def endpoint_slice(name: str, owner: str, *endpoints: Obj, port_name: str = "http") -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": owner},
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": 8080, "protocol": "TCP"}],
        "endpoints": list(endpoints),
    }


def serving(
    *endpoints: Obj, c: Cluster | None = None, svc: Obj | None = None, nodes: tuple[str, ...] = ()
) -> Cluster:
    """A cluster whose Service `web` has one slice of these endpoints, the proxy synced."""
    c = c or new_cluster(0)
    for node in nodes:
        c, _ = ok(c, {"op": "node.add", "name": node, "capacity": {"cpu": "4", "memory": "8Gi"}})
    c, _ = ok(c, {"op": "create", "object": svc or service()})
    c, _ = ok(c, {"op": "create", "object": endpoint_slice("web-a", "web", *endpoints)})
    return advance(c, 0)


def set_endpoints(c: Cluster, *endpoints: Obj, name: str = "web-a") -> Cluster:
    patch = {"endpoints": list(endpoints)}
    request = {"op": "patch", "kind": "EndpointSlice", "namespace": "default", "name": name}
    c, _ = ok(c, {**request, "patch": patch})
    return c


def routed(
    c: Cluster,
    count: int,
    *,
    client: str = CLIENT,
    svc: str = "web",
    port: int = 80,
    node: str | None = None,
) -> tuple[Cluster, list[str | None]]:
    request: Obj = {
        "op": "route",
        "namespace": "default",
        "service": svc,
        "port": port,
        "client": client,
        "count": count,
    }
    if node is not None:
        request["node"] = node
    c, answer = ok(c, request)
    backends = answer["backends"]
    assert len(backends) == count
    return c, [b["ip"] if b else None for b in backends]


def with_proxy(proxy: KubeProxy) -> Cluster:
    return new_cluster(0, Components().replacing(proxy))


def affinity(timeout: int) -> Obj:
    return service(
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": timeout}},
    )


# -- round robin ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(1, 5), (3, 9), (3, 10), (4, 7), (5, 23)])
def test_round_robin_spreads_connections_evenly(k: int, n: int) -> None:
    c = serving(*(endpoint(i) for i in range(1, k + 1)))
    _, ips = routed(c, n)
    counts = collections.Counter(ips)
    assert None not in counts and len(counts) == k
    assert max(counts.values()) - min(counts.values()) <= 1


def test_rotation_follows_upstreams_endpoint_order_and_continues_across_requests() -> None:
    # Upstream sorts endpoints by "ip:port" as a string: 10.0.0.10:8080 < 10.0.0.1:8080.
    c = serving(endpoint(1), endpoint(2), endpoint(10))
    c, first = routed(c, 2)
    c, second = routed(c, 4, client="10.244.0.1")
    assert first + second == [
        "10.0.0.10",
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.10",
        "10.0.0.1",
        "10.0.0.2",
    ]


def test_each_service_port_rotates_on_its_own() -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "admin", "port": 81, "targetPort": 9090},
    ]
    c = new_cluster(0)
    c, _ = ok(c, {"op": "create", "object": service(ports=ports)})
    c, _ = ok(
        c, {"op": "create", "object": endpoint_slice("web-a", "web", endpoint(1), endpoint(2))}
    )
    admin = endpoint_slice("web-b", "web", endpoint(1), endpoint(2), port_name="admin")
    c, _ = ok(c, {"op": "create", "object": admin})
    c = advance(c, 0)
    c, http = routed(c, 1)
    c, admin_ips = routed(c, 1, port=81)
    assert http == admin_ips == ["10.0.0.1"]


def test_the_answer_names_the_pod_behind_the_endpoint() -> None:
    c = serving(endpoint(1))
    _, answer = ok(
        c,
        {
            "op": "route",
            "namespace": "default",
            "service": "web",
            "port": 80,
            "client": CLIENT,
            "count": 1,
        },
    )
    assert answer["backends"] == [{"pod": "p1", "namespace": "default", "ip": "10.0.0.1"}]


def test_a_resync_that_leaves_the_usable_endpoints_keeps_the_rotation() -> None:
    c = serving(endpoint(1), endpoint(2), endpoint(3))
    c, first = routed(c, 1)
    c = advance(
        set_endpoints(c, endpoint(1), endpoint(2), endpoint(3), endpoint(4, ready=False)), 0
    )
    c, second = routed(c, 1)
    assert first + second == ["10.0.0.1", "10.0.0.2"]
    # A changed usable set starts the rotation again from the first endpoint (LoadBalancerRR).
    c = advance(set_endpoints(c, endpoint(1), endpoint(2), endpoint(3), endpoint(4)), 0)
    _, third = routed(c, 1)
    assert third == ["10.0.0.1"]


def test_endpoints_in_two_slices_are_one_backend() -> None:
    c = serving(endpoint(1), endpoint(2))
    c, _ = ok(c, {"op": "create", "object": endpoint_slice("web-b", "web", endpoint(2))})
    c = advance(c, 0)
    _, ips = routed(c, 4)
    assert ips == ["10.0.0.1", "10.0.0.2"] * 2


# -- which endpoints -------------------------------------------------------------------------------


def test_not_ready_endpoints_are_never_chosen_while_one_is_ready() -> None:
    c = serving(endpoint(1, ready=False), endpoint(2), endpoint(3, ready=False, serving=True))
    _, ips = routed(c, 12)
    assert set(ips) == {"10.0.0.2"}


def test_absent_conditions_read_as_ready_and_serving() -> None:
    c = serving(endpoint(1, ready=None))
    _, ips = routed(c, 2)
    assert ips == ["10.0.0.1", "10.0.0.1"]


def test_without_ready_endpoints_serving_terminating_ones_take_the_traffic() -> None:
    c = serving(
        endpoint(1, ready=False, serving=True, terminating=True),
        endpoint(2, ready=False, serving=False, terminating=True),
        endpoint(3, ready=False, serving=True, terminating=False),
        endpoint(4, ready=False, serving=True, terminating=True),
    )
    _, ips = routed(c, 6)
    assert ips == ["10.0.0.1", "10.0.0.4"] * 3


def test_a_ready_endpoint_takes_over_from_the_terminating_fallback() -> None:
    c = serving(endpoint(1, ready=False, serving=True, terminating=True))
    c = advance(
        set_endpoints(c, endpoint(1, ready=False, serving=True, terminating=True), endpoint(2)), 0
    )
    _, ips = routed(c, 3)
    assert ips == ["10.0.0.2"] * 3


@pytest.mark.parametrize(
    "endpoints",
    [
        (),
        (endpoint(1, ready=False),),
        (endpoint(1, ready=False, serving=False, terminating=True),),
        (endpoint(1, ready=False, serving=True, terminating=False),),
    ],
    ids=["empty", "not-ready", "terminating-not-serving", "serving-not-terminating"],
)
def test_a_connection_is_refused_when_nothing_serves(endpoints: tuple[Obj, ...]) -> None:
    c = serving(*endpoints)
    c2, ips = routed(c, 3)
    assert ips == [None, None, None]
    assert c2 == c


def test_a_service_without_endpoint_slices_refuses() -> None:
    c, _ = ok(new_cluster(0), {"op": "create", "object": service()})
    _, ips = routed(advance(c, 0), 2)
    assert ips == [None, None]


@pytest.mark.parametrize(
    "svc",
    [
        service(ip="None"),
        service(ip=None, type="ExternalName", externalName="db.example.com", ports=[{"port": 80}]),
        {
            **service(),
            "metadata": {
                "name": "web",
                "namespace": "default",
                "labels": {"service.kubernetes.io/service-proxy-name": "other"},
            },
        },
    ],
    ids=["headless", "external-name", "another-proxy"],
)
def test_services_kube_proxy_does_not_proxy_refuse_every_connection(svc: Obj) -> None:
    c = serving(endpoint(1), svc=svc)
    _, ips = routed(c, 3)
    assert ips == [None, None, None]


def test_a_service_without_a_cluster_ip_gets_no_rules() -> None:
    """ShouldSkipService; through the API every Service but a headless one gets an IP."""
    slices = [endpoint_slice("web-a", "web", endpoint(1))]
    assert build_rules([service(ip=None)], slices) == pmap()
    assert set(build_rules([service()], slices)) == {("default", "web", 80, "TCP")}


def test_an_unknown_port_refuses_and_an_unknown_service_is_not_found() -> None:
    c = serving(endpoint(1))
    _, ips = routed(c, 2, port=443)
    assert ips == [None, None]
    base = {"op": "route", "namespace": "default", "port": 80, "client": CLIENT, "count": 1}
    status = refused(c, {**base, "service": "api"}, 404)
    assert status["reason"] == "NotFound"
    refused(c, {**base, "service": "web", "namespace": "elsewhere"}, 404)


@pytest.mark.parametrize(
    "change",
    [
        {"service": None},
        {"port": "80"},
        {"port": True},
        {"client": "not-an-ip"},
        {"client": None},
        {"count": -1},
        {"count": 1.5},
        {"count": 10**6},
        {"node": 3},
    ],
    ids=lambda v: next(iter(v)) + "=" + repr(next(iter(v.values()))),
)
def test_malformed_route_requests_are_bad_requests(change: Obj) -> None:
    c = serving(endpoint(1))
    request = {
        "op": "route",
        "namespace": "default",
        "service": "web",
        "port": 80,
        "client": CLIENT,
    }
    request = {**request, "count": 1, **change}
    request = {k: v for k, v in request.items() if v is not None}
    refused(c, request, 400)


def test_an_unknown_node_is_not_found() -> None:
    c = serving(endpoint(1))
    request = {"op": "route", "service": "web", "port": 80, "client": CLIENT, "count": 1}
    refused(c, {**request, "node": "n9"}, 404)


# -- internalTrafficPolicy -----------------------------------------------------------------------


def test_internal_traffic_policy_local_uses_the_nodes_own_endpoints_only() -> None:
    svc = service(internalTrafficPolicy="Local")
    c = serving(
        endpoint(1, node="n1"),
        endpoint(2, node="n2"),
        endpoint(3, node="n1"),
        endpoint(4, node="n2", ready=False, serving=True, terminating=True),
        svc=svc,
        nodes=("n1", "n2", "n3"),
    )
    c, on_n1 = routed(c, 4, node="n1")
    c, on_n2 = routed(c, 2, node="n2")
    c, on_n3 = routed(c, 2, node="n3")
    assert on_n1 == ["10.0.0.1", "10.0.0.3"] * 2
    assert on_n2 == ["10.0.0.2"] * 2
    assert on_n3 == [None, None]
    # Without a node there is no node to be local to: every ready endpoint.
    _, anywhere = routed(c, 3)
    assert anywhere == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_local_policy_falls_back_to_the_nodes_terminating_serving_endpoints() -> None:
    svc = service(internalTrafficPolicy="Local")
    c = serving(
        endpoint(1, node="n1", ready=False, serving=True, terminating=True),
        endpoint(2, node="n2"),
        svc=svc,
        nodes=("n1", "n2"),
    )
    _, ips = routed(c, 2, node="n1")
    assert ips == ["10.0.0.1", "10.0.0.1"]


def test_cluster_policy_ignores_the_node() -> None:
    c = serving(endpoint(1, node="n1"), endpoint(2, node="n2"), nodes=("n1", "n2"))
    c, a = routed(c, 1, node="n1")
    _, b = routed(c, 1, node="n2")
    assert a + b == ["10.0.0.1", "10.0.0.2"]


# -- session affinity ------------------------------------------------------------------------------


def test_client_ip_affinity_keeps_a_client_on_its_backend() -> None:
    c = serving(endpoint(1), endpoint(2), endpoint(3), svc=affinity(60))
    c, first = routed(c, 5, client="10.244.0.1")
    c, second = routed(c, 3, client="10.244.0.2")
    c, again = routed(c, 2, client="10.244.0.1")
    assert first == ["10.0.0.1"] * 5
    assert second == ["10.0.0.2"] * 3
    assert again == ["10.0.0.1"] * 2


def test_affinity_expires_timeout_seconds_after_the_clients_last_connection() -> None:
    c = serving(endpoint(1), endpoint(2), svc=affinity(60))
    c, ips = routed(c, 1)
    assert ips == ["10.0.0.1"]
    c, ips = routed(advance(c, 59), 1)
    assert ips == ["10.0.0.1"]
    c, ips = routed(
        advance(c, 59.9), 1
    )  # 59.9 s after the last connection, 118.9 s after the first
    assert ips == ["10.0.0.1"]
    c, ips = routed(advance(c, 60), 1)
    assert ips == ["10.0.0.2"]


def test_affinity_default_timeout_is_three_hours() -> None:
    svc = service(sessionAffinity="ClientIP")
    c = serving(endpoint(1), endpoint(2), svc=svc)
    _, stored = ok(c, {"op": "get", "kind": "Service", "namespace": "default", "name": "web"})
    assert stored["object"]["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 10800
    c, _ = routed(c, 1)
    c, ips = routed(advance(c, 10799), 1)
    assert ips == ["10.0.0.1"]
    c, ips = routed(advance(c, 10800), 1)
    assert ips == ["10.0.0.2"]


def test_a_client_leaves_its_backend_once_that_is_no_longer_usable() -> None:
    c = serving(endpoint(1), endpoint(2), svc=affinity(600))
    c, ips = routed(c, 1)
    assert ips == ["10.0.0.1"]
    c = advance(set_endpoints(c, endpoint(1, ready=False), endpoint(2)), 1)
    c, ips = routed(c, 2)
    assert ips == ["10.0.0.2"] * 2
    # Back in the set, the old entry is gone: the client stays where it went.
    c = advance(set_endpoints(c, endpoint(1), endpoint(2)), 1)
    _, ips = routed(c, 2)
    assert ips == ["10.0.0.2"] * 2


def test_without_affinity_a_client_is_rotated() -> None:
    c = serving(endpoint(1), endpoint(2))
    _, ips = routed(c, 4)
    assert ips == ["10.0.0.1", "10.0.0.2"] * 2


# -- the proxy's view: lag and restart -------------------------------------------------------------


def test_kube_proxy_is_a_controller_the_nemesis_can_lag_and_restart() -> None:
    c = serving(endpoint(1))
    c, _ = ok(c, {"op": "controller.lag", "name": KUBE_PROXY, "seconds": 5})
    c, _ = ok(c, {"op": "controller.restart", "name": KUBE_PROXY})
    _, hello = ok(c, {"op": "hello", "protocol": 1})
    assert {"routing", "dns"} <= set(hello["capabilities"])


def test_rules_are_programmed_by_the_control_loop_not_at_once() -> None:
    c, _ = ok(new_cluster(0), {"op": "create", "object": service()})
    c, _ = ok(c, {"op": "create", "object": endpoint_slice("web-a", "web", endpoint(1))})
    c, before = routed(c, 1)
    _, after = routed(advance(c, 0), 1)
    assert before == [None] and after == ["10.0.0.1"]


def test_a_lagging_proxy_routes_on_its_old_rules_and_catches_up() -> None:
    c = advance(serving(endpoint(1), endpoint(2)), 1)
    c, _ = ok(c, {"op": "controller.lag", "name": KUBE_PROXY, "seconds": 30})
    c = advance(set_endpoints(c, endpoint(1, ready=False), endpoint(2)), 10)
    c, stale = routed(c, 2)
    assert stale == ["10.0.0.1", "10.0.0.2"]
    _, fresh = routed(advance(c, 21), 2)
    assert fresh == ["10.0.0.2", "10.0.0.2"]


def test_lag_ending_brings_the_rules_up_to_date() -> None:
    c = advance(serving(endpoint(1)), 1)
    c, _ = ok(c, {"op": "controller.lag", "name": KUBE_PROXY, "seconds": 3600})
    c = advance(set_endpoints(c, endpoint(2)), 5)
    c, stale = routed(c, 1)
    c, _ = ok(c, {"op": "controller.lag", "name": KUBE_PROXY, "seconds": 0})
    _, fresh = routed(advance(c, 0), 1)
    assert stale == ["10.0.0.1"] and fresh == ["10.0.0.2"]


def test_a_restarted_proxy_relists_and_forgets_its_rotation() -> None:
    c = serving(endpoint(1), endpoint(2))
    c, _ = routed(c, 1)
    c, _ = ok(c, {"op": "controller.restart", "name": KUBE_PROXY})
    _, ips = routed(advance(c, 0), 2)
    assert ips == ["10.0.0.1", "10.0.0.2"]


# -- mutants ---------------------------------------------------------------------------------------


def test_mutant_routes_not_ready_sends_connections_to_not_ready_endpoints() -> None:
    endpoints = (endpoint(1, ready=False), endpoint(2))
    _, good = routed(serving(*endpoints), 4)
    _, bad = routed(serving(*endpoints, c=with_proxy(KubeProxy(routes_not_ready=True))), 4)
    assert "10.0.0.1" not in good
    assert "10.0.0.1" in bad


def test_mutant_affinity_ignores_timeout_keeps_expired_entries() -> None:
    def after_timeout(c: Cluster) -> list[str | None]:
        c = serving(endpoint(1), endpoint(2), c=c, svc=affinity(60))
        c, _ = routed(c, 1)
        return routed(advance(c, 600), 1)[1]

    assert after_timeout(new_cluster(0)) == ["10.0.0.2"]
    assert after_timeout(with_proxy(KubeProxy(affinity_ignores_timeout=True))) == ["10.0.0.1"]


def _restarted(c: Cluster) -> Cluster:
    c = advance(serving(endpoint(1), c=c), 1)
    c, _ = ok(c, {"op": "controller.restart", "name": KUBE_PROXY})
    return advance(c, 1)


def test_mutant_no_full_resync_refuses_after_a_restart_while_endpoints_serve() -> None:
    _, good = routed(_restarted(new_cluster(0)), 1)
    mutant = _restarted(with_proxy(KubeProxy(no_full_resync=True)))
    _, bad = routed(mutant, 1)
    assert good == ["10.0.0.1"] and bad == [None]
    # It learns only from later changes: the slice alone is not enough, the Service too is.
    mutant = advance(set_endpoints(mutant, endpoint(1), endpoint(2)), 1)
    _, still = routed(mutant, 1)
    assert still == [None]
    patch = {"metadata": {"labels": {"touched": "yes"}}}
    mutant, _ = ok(
        mutant,
        {"op": "patch", "kind": "Service", "namespace": "default", "name": "web", "patch": patch},
    )
    _, healed = routed(advance(mutant, 1), 2)
    assert healed == ["10.0.0.1", "10.0.0.2"]


def test_mutant_no_full_resync_lists_at_boot_and_follows_every_change() -> None:
    c = with_proxy(KubeProxy(no_full_resync=True))
    c = advance(serving(endpoint(1), endpoint(2), c=c), 1)
    c = advance(set_endpoints(c, endpoint(1, ready=False), endpoint(2)), 1)
    _, ips = routed(c, 2)
    assert ips == ["10.0.0.2", "10.0.0.2"]


def test_mutant_no_full_resync_misses_changes_in_a_compacted_window() -> None:
    c = with_proxy(KubeProxy(no_full_resync=True))
    c = advance(serving(endpoint(1), c=c), 1)
    c, _ = ok(c, {"op": "controller.lag", "name": KUBE_PROXY, "seconds": 3600})
    c = advance(set_endpoints(c, endpoint(2)), 1)
    _, snap = ok(c, {"op": "snapshot"})
    c, _ = ok(c, {"op": "compact", "resourceVersion": snap["resourceVersion"]})
    c, _ = ok(c, {"op": "controller.lag", "name": KUBE_PROXY, "seconds": 0})
    _, ips = routed(advance(c, 1), 1)
    assert ips == ["10.0.0.1"]


# -- determinism and the component -----------------------------------------------------------------


def test_same_seed_and_requests_give_the_same_answers() -> None:
    def run() -> list[Obj]:
        c = serving(endpoint(1), endpoint(2), endpoint(3), svc=affinity(30))
        answers = []
        for i in range(6):
            c, answer = step(
                c,
                {
                    "op": "route",
                    "namespace": "default",
                    "service": "web",
                    "port": 80,
                    "client": f"10.244.0.{i % 3}",
                    "count": 3,
                },
            )
            answers.append(copy.deepcopy(answer))
            c = advance(c, 20)
        return answers

    assert run() == run()


def test_without_a_proxy_route_is_not_implemented_and_routing_not_offered() -> None:
    controllers = tuple(c for c in Components().controllers if c.name != KUBE_PROXY)
    c = new_cluster(0, Components(controllers=controllers))
    _, hello = ok(c, {"op": "hello", "protocol": 1})
    assert "routing" not in hello["capabilities"] and "dns" in hello["capabilities"]
    request = {"op": "route", "service": "web", "port": 80, "client": CLIENT, "count": 1}
    refused(c, request, 501)


def test_a_running_pod_is_reachable_through_its_service() -> None:
    c = new_cluster(0)
    c, _ = ok(c, {"op": "node.add", "name": "n1", "capacity": {"cpu": "4", "memory": "8Gi"}})
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "img:1"}]},
    }
    c, _ = ok(c, {"op": "create", "object": pod})
    c = advance(c, 30)
    _, got = ok(c, {"op": "get", "kind": "Pod", "namespace": "default", "name": "web-0"})
    ip = got["object"]["status"]["podIP"]
    ep = {
        "addresses": [ip],
        "conditions": {"ready": True},
        "nodeName": "n1",
        "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default"},
    }
    c = serving(ep, c=c)
    _, answer = ok(
        c,
        {
            "op": "route",
            "namespace": "default",
            "service": "web",
            "port": 80,
            "client": CLIENT,
            "count": 1,
        },
    )
    assert answer["backends"] == [{"pod": "web-0", "namespace": "default", "ip": ip}]
