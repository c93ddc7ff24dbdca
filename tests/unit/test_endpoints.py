"""The Endpoints and EndpointSlice controllers inside the reference cluster, driven through `step`.

Upstream facts are SEMANTICS §7: pkg/controller/endpoint/endpoints_controller.go
(syncService, addEndpointSubset, truncateEndpoints), pkg/api/v1/endpoints
(RepackSubsets), pkg/controller/endpointslice/endpointslice_controller.go
and staging/src/k8s.io/endpointslice (reconciler.go, utils.go,
util/controller_utils.go, util/endpointslice_tracker.go). The mutants are
the controllers' flags.
"""

from __future__ import annotations

from typing import Any

import attrs

from reference import Cluster, Components, new_cluster, step
from reference.controllers.base import Controller, View
from reference.controllers.endpoints import (
    MAX_CAPACITY,
    OVER_CAPACITY_ANNOTATION,
    EndpointsController,
    endpoints_write,
)
from reference.controllers.endpointslice import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    EndpointSliceController,
)
from reference.controllers.servicepods import HEADLESS_LABEL

Obj = dict[str, Any]

# -- helpers ---------------------------------------------------------------------------------


def ok(c: Cluster, request: Obj) -> tuple[Cluster, Obj]:
    c, answer = step(c, request)
    assert answer["ok"] is True, answer
    return c, answer


def cluster(*controllers: Controller, nodes: int = 1, pods: int = 110) -> Cluster:
    """The default components with these endpoint controllers (both, unchanged, by default)."""
    mine = controllers or (EndpointsController(), EndpointSliceController())
    names = {c.name for c in mine}
    base = Components()
    rest = tuple(c for c in base.controllers if c.name not in names)
    c = new_cluster(0, attrs.evolve(base, controllers=(*rest, *mine)))
    for i in range(1, nodes + 1):
        request: Obj = {
            "op": "node.add",
            "name": f"n{i}",
            "capacity": {"cpu": "64", "memory": "64Gi", "pods": str(pods)},
            "labels": {"topology.kubernetes.io/zone": f"zone-{i}"},
        }
        c, _ = ok(c, request)
    return c


def pod(
    name: str,
    *,
    app: str = "web",
    port: int = 8080,
    probe: bool = False,
    grace: int = 0,
    node: str | None = None,
    **spec: Any,
) -> Obj:
    container: Obj = {
        "name": "c",
        "image": "img:1",
        "ports": [{"name": "http", "containerPort": port}],
    }
    if probe:
        container["readinessProbe"] = {"exec": {"command": ["ready"]}, "periodSeconds": 1}
    body: Obj = {"containers": [container], "terminationGracePeriodSeconds": grace, **spec}
    if node is not None:
        body["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": body,
    }


def service(
    name: str = "web",
    *,
    selector: Obj | None = None,
    target: int | str = "http",
    ports: list[Obj] | None = None,
    **spec: Any,
) -> Obj:
    body: Obj = {
        "selector": {"app": "web"} if selector is None else selector,
        "ports": ports if ports is not None else [{"port": 80, "targetPort": target}],
        **spec,
    }
    if not body["selector"]:
        del body["selector"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"tier": "front"}},
        "spec": body,
    }


def create(c: Cluster, *objects: Obj) -> Cluster:
    for obj in objects:
        c, _ = ok(c, {"op": "create", "object": obj})
    return c


def delete(c: Cluster, kind: str, name: str) -> Cluster:
    c, _ = ok(c, {"op": "delete", "kind": kind, "namespace": "default", "name": name})
    return c


def patch(c: Cluster, kind: str, name: str, body: Obj) -> Cluster:
    c, _ = ok(c, {"op": "patch", "kind": kind, "namespace": "default", "name": name, "patch": body})
    return c


def advance(c: Cluster, seconds: float = 0) -> Cluster:
    c, _ = ok(c, {"op": "advance", "seconds": seconds})
    return c


def settle(c: Cluster, seconds: float = 120) -> Cluster:
    c, answer = ok(c, {"op": "settle", "max_seconds": seconds})
    assert answer["settled"] is True, answer
    return c


def readiness(c: Cluster, name: str, passing: bool) -> Cluster:
    request = {
        "op": "probe.set",
        "namespace": "default",
        "pod": name,
        "container": "c",
        "probe": "readiness",
        "passing": passing,
    }
    c, _ = ok(c, request)
    return c


def get(c: Cluster, kind: str, name: str) -> Obj | None:
    _, answer = step(c, {"op": "get", "kind": kind, "namespace": "default", "name": name})
    if not answer["ok"]:
        assert answer["status"]["code"] == 404, answer
        return None
    found: Obj = answer["object"]
    return found


def endpoints(c: Cluster, name: str = "web") -> Obj:
    found = get(c, "Endpoints", name)
    assert found is not None, f"no Endpoints {name}"
    return found


def slices(c: Cluster, name: str = "web") -> list[Obj]:
    _, answer = ok(c, {"op": "list", "kind": "EndpointSlice", "namespace": "default"})
    mine = [s for s in answer["items"] if s["metadata"]["labels"].get(SERVICE_NAME_LABEL) == name]
    return sorted(mine, key=lambda s: s["metadata"]["name"])


def ip_of(c: Cluster, name: str) -> str:
    found = get(c, "Pod", name)
    assert found is not None
    return str(found["status"]["podIP"])


def addresses(c: Cluster, field: str = "addresses", name: str = "web") -> set[str]:
    """The target pods of one address list over every subset of the Endpoints."""
    return {
        a["targetRef"]["name"]
        for subset in endpoints(c, name).get("subsets") or ()
        for a in subset.get(field) or ()
    }


def slice_endpoints(c: Cluster, name: str = "web") -> dict[str, Obj]:
    """Every endpoint of the Service's slices, by target pod (each must appear once)."""
    found: dict[str, Obj] = {}
    for s in slices(c, name):
        for e in s["endpoints"]:
            target = e["targetRef"]["name"]
            assert target not in found, f"{target} appears twice"
            found[target] = e
    return found


def conditions(c: Cluster, target: str) -> tuple[bool, bool, bool]:
    cond = slice_endpoints(c)[target]["conditions"]
    return cond["ready"], cond["serving"], cond["terminating"]


def quiet(c: Cluster, *controllers: Controller) -> None:
    """Each controller, run again on the settled store, asks for no write (idempotence)."""
    store = c.api.store
    view = View(store, store.revision, store)
    for controller in controllers:
        result = controller.reconcile(view, c.now, c.slots[controller.name].state)
        assert result.writes == (), result.writes


def web(c: Cluster, n: int = 3, **kw: Any) -> Cluster:
    """A Service `web` and n pods p0..p(n-1) behind it, settled."""
    c = create(c, service(), *(pod(f"p{i}", **kw) for i in range(n)))
    return settle(c)


# -- Endpoints -------------------------------------------------------------------------------


def test_endpoints_mirror_the_service_with_ready_pods_in_addresses() -> None:
    c = web(cluster())
    ep = endpoints(c)
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert "ownerReferences" not in ep["metadata"]
    [subset] = ep["subsets"]
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert [a["ip"] for a in subset["addresses"]] == sorted(ip_of(c, f"p{i}") for i in range(3))
    first = subset["addresses"][0]
    assert first["nodeName"] == "n1"
    assert first["targetRef"]["kind"] == "Pod"
    target = get(c, "Pod", first["targetRef"]["name"])
    assert target is not None and first["targetRef"]["uid"] == target["metadata"]["uid"]
    assert "notReadyAddresses" not in subset


def test_a_pod_failing_readiness_moves_to_not_ready_addresses() -> None:
    c = web(cluster(), probe=True)
    c = settle(advance(readiness(c, "p1", False), 2))
    assert addresses(c) == {"p0", "p2"}
    assert addresses(c, "notReadyAddresses") == {"p1"}
    assert conditions(c, "p1") == (False, False, False)
    c = settle(advance(readiness(c, "p1", True), 2))
    assert addresses(c) == {"p0", "p1", "p2"}
    assert conditions(c, "p1") == (True, True, False)


def test_publish_not_ready_addresses_puts_every_pod_in_addresses() -> None:
    c = cluster()
    c = create(c, service(publishNotReadyAddresses=True), pod("p0", probe=True))
    c = settle(c)
    c = settle(advance(readiness(c, "p0", False), 2))
    assert addresses(c) == {"p0"}
    assert conditions(c, "p0") == (True, False, False)


def test_a_terminating_pod_leaves_the_endpoints_but_stays_in_slices_as_serving() -> None:
    c = web(cluster(), grace=30)
    c = advance(delete(c, "Pod", "p0"), 1)
    assert addresses(c) == {"p1", "p2"}
    assert addresses(c, "notReadyAddresses") == set()
    assert conditions(c, "p0") == (False, True, True)
    c = settle(advance(c, 40))
    assert "p0" not in slice_endpoints(c)


def test_publish_not_ready_addresses_keeps_a_terminating_pod_ready() -> None:
    c = cluster()
    c = settle(create(c, service(publishNotReadyAddresses=True), pod("p0", grace=30)))
    c = advance(delete(c, "Pod", "p0"), 1)
    assert addresses(c) == {"p0"}
    assert conditions(c, "p0") == (True, True, True)


def test_mutant_keeping_terminating_pods_keeps_them_ready_54723() -> None:
    mutants = (
        EndpointsController(keeps_terminating=True),
        EndpointSliceController(keeps_terminating=True),
    )
    c = web(cluster(*mutants), grace=30)
    c = advance(delete(c, "Pod", "p0"), 1)
    assert addresses(c) == {"p0", "p1", "p2"}
    assert conditions(c, "p0") == (True, True, True)


def test_terminal_pods_are_left_out_whatever_their_restart_policy() -> None:
    c = cluster()
    c = create(c, service(), pod("done", restartPolicy="Never"), pod("live"))
    c = settle(c)
    request = {"op": "container.exit", "namespace": "default", "pod": "done", "container": "c"}
    c, _ = ok(c, {**request, "code": 0})
    c = settle(c)
    done = get(c, "Pod", "done")
    assert done is not None and done["status"]["phase"] == "Succeeded"
    assert addresses(c) | addresses(c, "notReadyAddresses") == {"live"}
    assert set(slice_endpoints(c)) == {"live"}


def test_named_target_ports_resolve_per_pod_into_separate_subsets_and_slices() -> None:
    c = cluster()
    c = create(c, service(), pod("a", port=8080), pod("b", port=8080), pod("c", port=9090))
    c = settle(c)
    by_port = {
        s["ports"][0]["port"]: {a["targetRef"]["name"] for a in s["addresses"]}
        for s in endpoints(c)["subsets"]
    }
    assert by_port == {8080: {"a", "b"}, 9090: {"c"}}
    by_slice = {
        s["ports"][0]["port"]: {e["targetRef"]["name"] for e in s["endpoints"]} for s in slices(c)
    }
    assert by_slice == {8080: {"a", "b"}, 9090: {"c"}}


def test_a_pod_without_the_named_port_is_left_out_of_the_endpoints() -> None:
    c = cluster()
    bare = pod("bare")
    bare["spec"]["containers"][0]["ports"] = []
    c = settle(create(c, service(), pod("a"), bare))
    assert addresses(c) == {"a"}
    # the slice controller still lists it, in a slice without ports
    by_ports = {len(s.get("ports") or ()): s for s in slices(c)}
    assert {e["targetRef"]["name"] for e in by_ports[0]["endpoints"]} == {"bare"}


def test_a_sidecar_port_resolves_a_named_target_port() -> None:
    c = cluster()
    sidecar = pod("s")
    sidecar["spec"]["containers"][0]["ports"] = []
    sidecar["spec"]["initContainers"] = [
        {
            "name": "proxy",
            "image": "proxy:1",
            "restartPolicy": "Always",
            "ports": [{"name": "http", "containerPort": 15001}],
        }
    ]
    c = settle(create(c, service(), sidecar))
    [subset] = endpoints(c)["subsets"]
    assert subset["ports"][0]["port"] == 15001


def test_several_service_ports_share_one_subset_when_every_pod_offers_them() -> None:
    ports = [
        {"name": "web", "port": 80, "targetPort": "http"},
        {"name": "metrics", "port": 9100, "targetPort": 9100, "appProtocol": "http"},
    ]
    c = settle(create(cluster(), service(ports=ports), pod("a"), pod("b")))
    [subset] = endpoints(c)["subsets"]
    assert sorted((p["name"], p["port"]) for p in subset["ports"]) == [
        ("metrics", 9100),
        ("web", 8080),
    ]
    [s] = slices(c)
    assert {p["name"]: p.get("appProtocol") for p in s["ports"]} == {"web": None, "metrics": "http"}


def test_hostname_is_set_when_the_subdomain_names_the_service() -> None:
    c = cluster()
    named = pod("a", hostname="alpha", subdomain="web")
    other = pod("b", hostname="beta", subdomain="elsewhere")
    c = settle(create(c, service(clusterIP="None"), named, other))
    by_pod = {a["targetRef"]["name"]: a for s in endpoints(c)["subsets"] for a in s["addresses"]}
    assert by_pod["a"]["hostname"] == "alpha"
    assert "hostname" not in by_pod["b"]
    assert slice_endpoints(c)["a"]["hostname"] == "alpha"
    assert "hostname" not in slice_endpoints(c)["b"]


def test_a_headless_service_is_labelled_so() -> None:
    c = settle(create(cluster(), service(clusterIP="None"), pod("a")))
    assert endpoints(c)["metadata"]["labels"] == {"tier": "front", HEADLESS_LABEL: ""}
    assert all(s["metadata"]["labels"].get(HEADLESS_LABEL) == "" for s in slices(c))


def test_a_headless_service_without_ports_lists_addresses_without_ports() -> None:
    c = settle(create(cluster(), service(clusterIP="None", ports=[]), pod("a")))
    [subset] = endpoints(c)["subsets"]
    assert "ports" not in subset
    assert [a["targetRef"]["name"] for a in subset["addresses"]] == ["a"]


def test_services_without_selector_or_of_type_external_name_are_not_managed() -> None:
    c = cluster()
    external = service("ext", type="ExternalName", externalName="example.com", ports=[])
    c = settle(create(c, service("manual", selector={}), external, pod("a")))
    assert get(c, "Endpoints", "manual") is None
    assert get(c, "Endpoints", "ext") is None
    assert slices(c, "manual") == [] and slices(c, "ext") == []


def test_a_selector_change_moves_the_endpoints() -> None:
    c = cluster()
    c = create(c, service(), pod("a"), pod("b", app="api"))
    c = settle(c)
    assert addresses(c) == {"a"} and set(slice_endpoints(c)) == {"a"}
    c = settle(patch(c, "Service", "web", {"spec": {"selector": {"app": "api"}}}))
    assert addresses(c) == {"b"} and set(slice_endpoints(c)) == {"b"}


def test_service_labels_are_copied_and_follow_changes() -> None:
    c = web(cluster(), 1)
    c = settle(patch(c, "Service", "web", {"metadata": {"labels": {"tier": "back"}}}))
    assert endpoints(c)["metadata"]["labels"] == {"tier": "back"}
    [s] = slices(c)
    assert s["metadata"]["labels"] == {
        "tier": "back",
        SERVICE_NAME_LABEL: "web",
        MANAGED_BY_LABEL: CONTROLLER_NAME,
    }


def test_deleting_the_service_deletes_its_endpoints_and_slices() -> None:
    c = web(cluster())
    assert slices(c)
    c = settle(delete(c, "Service", "web"))
    assert get(c, "Endpoints", "web") is None
    assert slices(c) == []


def test_an_orphan_endpoints_is_swept_only_when_the_controller_starts() -> None:
    c = settle(cluster())  # the controller has started
    orphan = {"kind": "Endpoints", "metadata": {"name": "orphan", "namespace": "default"}}
    c = settle(create(c, orphan))
    assert get(c, "Endpoints", "orphan") is not None
    c, _ = ok(c, {"op": "controller.restart", "name": "endpoints"})
    c = settle(c)
    assert get(c, "Endpoints", "orphan") is None


def test_endpoints_beyond_capacity_are_truncated_and_annotated() -> None:
    many = [
        {
            "metadata": {"name": f"p{i:04}", "namespace": "default", "uid": f"u{i}"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
            "status": {
                "phase": "Running",
                "podIP": f"10.{i // 250}.{i % 250}.1",
                "podIPs": [{"ip": f"10.{i // 250}.{i % 250}.1"}],
                "conditions": [{"type": "Ready", "status": "True" if i % 4 else "False"}],
            },
        }
        for i in range(MAX_CAPACITY + 200)
    ]
    svc = service(target=8080)
    svc["metadata"]["uid"] = "s"
    write = endpoints_write(svc, many, None)
    assert write is not None
    new = write["object"]
    assert new["metadata"]["annotations"] == {OVER_CAPACITY_ANNOTATION: "truncated"}
    [subset] = new["subsets"]
    assert len(subset["addresses"]) == 900  # every ready address is kept
    assert len(subset["notReadyAddresses"]) == MAX_CAPACITY - 900


# -- EndpointSlices --------------------------------------------------------------------------


def test_slices_are_owned_labelled_and_carry_zone_and_node() -> None:
    c = web(cluster())
    [s] = slices(c)
    svc = get(c, "Service", "web")
    assert svc is not None
    assert s["metadata"]["generateName"] == "web-"
    assert s["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": svc["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    endpoint = slice_endpoints(c)["p0"]
    assert endpoint["addresses"] == [ip_of(c, "p0")]
    assert endpoint["nodeName"] == "n1"
    assert endpoint["zone"] == "zone-1"
    assert "hints" not in endpoint


def test_a_service_without_pods_keeps_one_placeholder_slice() -> None:
    c = settle(create(cluster(), service()))
    [s] = slices(c)
    assert s["endpoints"] == [] and "ports" not in s
    assert get(c, "Endpoints", "web") is not None
    assert "subsets" not in endpoints(c)
    c = settle(create(c, pod("a")))
    [filled] = slices(c)
    assert filled["metadata"]["name"] == s["metadata"]["name"]  # the placeholder is reused
    assert set(slice_endpoints(c)) == {"a"}
    c = settle(delete(c, "Pod", "a"))
    [empty] = slices(c)
    assert empty["endpoints"] == [] and "ports" not in empty


def test_more_than_a_hundred_pods_split_into_slices_of_at_most_a_hundred() -> None:
    c = cluster(nodes=2, pods=200)
    c = create(c, service(), *(pod(f"p{i:03}", node=f"n{1 + i % 2}") for i in range(230)))
    c = settle(c)
    found = slices(c)
    assert all(len(s["endpoints"]) <= 100 for s in found)
    assert len(found) == 3
    assert set(slice_endpoints(c)) == {f"p{i:03}" for i in range(230)}
    c = settle(delete(c, "Pod", "p000"))
    assert set(slice_endpoints(c)) == {f"p{i:03}" for i in range(1, 230)}
    assert len(slices(c)) == 3


def test_traffic_distribution_prefer_close_hints_the_zone_of_ready_endpoints() -> None:
    c = cluster()
    c = settle(
        create(c, service(trafficDistribution="PreferClose"), pod("a"), pod("b", probe=True))
    )
    c = settle(advance(readiness(c, "b", False), 2))
    assert slice_endpoints(c)["a"]["hints"] == {"forZones": [{"name": "zone-1"}]}
    assert "hints" not in slice_endpoints(c)["b"]


def test_a_settled_cluster_asks_for_no_writes() -> None:
    mine = (EndpointsController(), EndpointSliceController())
    c = web(cluster(*mine), grace=30)
    quiet(c, *mine)
    c = advance(delete(c, "Pod", "p0"), 1)
    quiet(c, *mine)
    c = settle(advance(c, 40))
    quiet(c, *mine)
    rv_endpoints = endpoints(c)["metadata"]["resourceVersion"]
    rv_slices = [s["metadata"]["resourceVersion"] for s in slices(c)]
    c = settle(advance(c, 60))
    assert endpoints(c)["metadata"]["resourceVersion"] == rv_endpoints
    assert [s["metadata"]["resourceVersion"] for s in slices(c)] == rv_slices


def _lagging_slice_counts(controller: EndpointSliceController) -> list[int]:
    """Create a Service and pods while the slice controller's view lags 5 s, with churn."""
    c = cluster(EndpointsController(), controller)
    c, _ = ok(c, {"op": "controller.lag", "name": "endpointslice", "seconds": 5})
    c = create(c, service(), pod("a"), pod("b"))
    counts = []
    for i in range(12):
        c = create(c, {"kind": "ConfigMap", "metadata": {"name": f"t{i}", "namespace": "default"}})
        c = advance(c, 1)
        counts.append(len(slices(c)))
    c = settle(c)
    counts.append(len(slices(c)))
    return counts


def test_a_lagging_view_creates_no_duplicate_slices() -> None:
    counts = _lagging_slice_counts(EndpointSliceController())
    assert max(counts) == 1
    assert counts[-1] == 1


def test_mutant_without_the_slice_tracker_creates_duplicates_92928() -> None:
    counts = _lagging_slice_counts(EndpointSliceController(tracks_slices=False))
    assert max(counts) > 1


def test_a_lagging_endpoints_controller_converges() -> None:
    c = cluster()
    c, _ = ok(c, {"op": "controller.lag", "name": "endpoints", "seconds": 5})
    c = create(c, service(), pod("a", probe=True), pod("b"))
    for i in range(8):
        c = readiness(c, "a", i % 2 == 0)
        c = advance(c, 1)
    c = settle(advance(readiness(c, "a", True), 2))
    assert addresses(c) == {"a", "b"}


def test_a_restarted_slice_controller_adopts_its_slices_without_duplicating() -> None:
    c = web(cluster())
    before = [s["metadata"]["name"] for s in slices(c)]
    c, _ = ok(c, {"op": "controller.restart", "name": "endpointslice"})
    c = settle(create(c, pod("p9")))
    assert [s["metadata"]["name"] for s in slices(c)] == before
    assert set(slice_endpoints(c)) == {"p0", "p1", "p2", "p9"}


def test_a_recreated_service_replaces_the_old_services_slices() -> None:
    c = web(cluster(), 2)
    old = {s["metadata"]["uid"] for s in slices(c)}
    c = delete(c, "Service", "web")
    c = settle(create(c, service()))
    new = slices(c)
    assert {s["metadata"]["uid"] for s in new}.isdisjoint(old)
    svc = get(c, "Service", "web")
    assert svc is not None
    assert all(s["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"] for s in new)
    assert set(slice_endpoints(c)) == {"p0", "p1"}
