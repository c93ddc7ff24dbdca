"""Laws of the `services` level: endpoints that track pods, connections that reach who serves.

They read `properties.servicehistory`. Kubernetes propagates a pod's change
to Endpoints, EndpointSlices and the node proxies eventually, so the laws
about them judge what a target shows once time has passed since the last
change (`caught_up`), and not while the nemesis holds one of those
controllers back; the address and port laws hold at every step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from properties.laws import law
from properties.servicehistory import (
    Route,
    ServiceHistory,
    affinity_timeout,
    connection_key,
    fresh,
    history,
)
from properties.serviceterms import (
    Endpoint,
    endpoints_for,
    managed,
    proxied,
    service_port,
    usable,
)
from properties.trace import TargetInfo, Trace, Violation
from properties.workhistory import Snapshot, deleting, name_of, uid_of, violation

Obj = Mapping[str, Any]

#: The controllers whose lag makes endpoints or proxy rules stale, by their protocol names.
ENDPOINT_CONTROLLERS = ("endpoints", "endpointslice")
SLICE_CONTROLLER = "endpointslice"
PROXY = "kube-proxy"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: A route of this many connections per usable endpoint reaches each one but with a chance
#: below k·e^-32 under a uniform random choice (iptables, nftables), and always under round robin.
REACH_FACTOR = 32

_KINDS = ("Service", "Endpoints", "EndpointSlice", "Pod", "Node")
_ENDPOINT_TESTS = (
    "[sig-network] Service endpoints latency should not be very high [Conformance]",
    "[sig-network] EndpointSlice should create Endpoints and EndpointSlices for Pods matching a"
    " Service [Conformance]",
)
_SERVICE_TESTS = (
    "[sig-network] Services should serve a basic endpoint from pods [Conformance]",
    "[sig-network] Services should serve multiport endpoints from pods [Conformance]",
)
_AFFINITY_TESTS = (
    "[sig-network] Services should have session affinity work for service with type clusterIP"
    " [LinuxOnly] [Conformance]",
    "[sig-network] Services should be able to switch session affinity for service with type"
    " clusterIP [LinuxOnly] [Conformance]",
)


def _services(snapshot: Snapshot) -> list[Obj]:
    return [s for s in snapshot.of("Service") if not deleting(s)]


def _key(obj: Obj) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return (str(m.get("namespace", "")), str(m.get("name", "")))


def _ports(service: Obj) -> list[Obj]:
    return [dict(p) for p in (service.get("spec") or {}).get("ports") or ()]


def _endpoint_set(service: Obj, pods: Sequence[Obj]) -> dict[str, set[tuple[str, int]]]:
    """(ip, port) of the ready and of the not-ready endpoints over every port of the Service."""
    ready: set[tuple[str, int]] = set()
    not_ready: set[tuple[str, int]] = set()
    for port in _ports(service):
        for e in endpoints_for(service, port, pods):
            if e.terminating and not e.ready:
                continue
            (ready if e.ready else not_ready).add((e.ip, e.port))
    return {"ready": ready, "notReady": not_ready}


def _endpoints_object_set(obj: Obj | None) -> dict[str, set[tuple[str, int]]]:
    ready: set[tuple[str, int]] = set()
    not_ready: set[tuple[str, int]] = set()
    for subset in (obj or {}).get("subsets") or ():
        ports = [int(p.get("port", 0)) for p in subset.get("ports") or ()]
        for a in subset.get("addresses") or ():
            ready.update((str(a.get("ip")), p) for p in ports)
        for a in subset.get("notReadyAddresses") or ():
            not_ready.update((str(a.get("ip")), p) for p in ports)
    return {"ready": ready, "notReady": not_ready}


def _slices_of(snapshot: Snapshot, service: Obj) -> list[Obj]:
    namespace, name = _key(service)
    return [
        s
        for s in snapshot.of("EndpointSlice")
        if _key(s)[0] == namespace
        and ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == name
        and not deleting(s)
    ]


def _slice_entries(slices: Iterable[Obj]) -> dict[tuple[str, int], Mapping[str, Any]]:
    """(ip, port) -> the endpoint's conditions, over the slices' endpoints and ports."""
    out: dict[tuple[str, int], Mapping[str, Any]] = {}
    for s in slices:
        ports = [int(p.get("port", 0)) for p in s.get("ports") or () if p.get("port") is not None]
        ports = ports or [0]
        for e in s.get("endpoints") or ():
            for ip in e.get("addresses") or ():
                for port in ports:
                    out[(str(ip), port)] = e.get("conditions") or {}
    return out


def _settled_unheld(h: ServiceHistory) -> bool:
    return h.settled and not h.held_back(*ENDPOINT_CONTROLLERS)


# -- Endpoints and EndpointSlices ------------------------------------------------------------------


@law(
    "services.endpoints-match-pods",
    "After settling, each selector Service's Endpoints hold exactly its selected, ready,"
    " non-terminating pods as addresses and the not-ready ones as notReadyAddresses, each on"
    " its resolved target ports.",
    kind="liveness",
    needs=("nodes",),
    kinds=_KINDS,
    conformance=_ENDPOINT_TESTS,
    bugs=("#54723",),
)
def endpoints_match_pods(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = fresh(trace)
    if h is None or not _settled_unheld(h) or "Endpoints" not in info.kinds:
        return
    assert h.snapshot is not None
    pods = h.snapshot.of("Pod")
    found = {_key(e): e for e in h.snapshot.of("Endpoints")}
    for service in _services(h.snapshot):
        if not managed(service):
            continue
        want = _endpoint_set(service, pods)
        have = _endpoints_object_set(found.get(_key(service)))
        for part in ("ready", "notReady"):
            if want[part] != have[part]:
                yield violation(
                    trace,
                    "services.endpoints-match-pods",
                    f"Service {name_of(service)}'s Endpoints hold {sorted(have[part])} as"
                    f" {part} addresses; its pods give {sorted(want[part])}",
                    service,
                )


@law(
    "services.slices-match-pods",
    "After settling, a selector Service's EndpointSlices hold each selected pod once per port,"
    " terminating ones included, with ready = Ready and not terminating, serving = Ready and"
    " terminating = being deleted.",
    kind="liveness",
    needs=("nodes",),
    kinds=_KINDS,
    conformance=_ENDPOINT_TESTS,
    bugs=("#54723",),
)
def slices_match_pods(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = fresh(trace)
    if h is None or not _settled_unheld(h) or "EndpointSlice" not in info.kinds:
        return
    assert h.snapshot is not None
    pods = h.snapshot.of("Pod")
    for service in _services(h.snapshot):
        if not managed(service):
            continue
        want: dict[tuple[str, int], Endpoint] = {}
        for port in _ports(service):
            for e in endpoints_for(service, port, pods):
                want[(e.ip, e.port)] = e
        have = _slice_entries(_slices_of(h.snapshot, service))
        if set(want) != set(have):
            yield violation(
                trace,
                "services.slices-match-pods",
                f"Service {name_of(service)}'s EndpointSlices hold {sorted(have)}; its pods"
                f" give {sorted(want)}",
                service,
            )
            continue
        for address, e in sorted(want.items()):
            c = have[address]
            shown = (c.get("ready") is True, c.get("serving") is True, c.get("terminating") is True)
            if shown != (e.ready, e.serving, e.terminating):
                yield violation(
                    trace,
                    "services.slices-match-pods",
                    f"Service {name_of(service)}'s slice shows pod {e.pod} at {address} with"
                    f" ready/serving/terminating {shown}; the pod gives"
                    f" {(e.ready, e.serving, e.terminating)}",
                    service,
                )


@law(
    "services.never-ready-while-terminating",
    "Once time has passed since the last change, no terminating or not-Ready pod is among a"
    " Service's ready addresses, in Endpoints or in EndpointSlices.",
    needs=("nodes",),
    kinds=_KINDS,
    conformance=_ENDPOINT_TESTS,
    bugs=("#54723",),
)
def never_ready_while_terminating(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = fresh(trace)
    if h is None or not h.caught_up or h.held_back(*ENDPOINT_CONTROLLERS):
        return
    assert h.snapshot is not None
    pods = h.snapshot.of("Pod")
    endpoints = {_key(e): e for e in h.snapshot.of("Endpoints")}
    for service in _services(h.snapshot):
        if not managed(service) or (service.get("spec") or {}).get("publishNotReadyAddresses"):
            continue
        wrong = {
            e.ip: e
            for port in _ports(service)
            for e in endpoints_for(service, port, pods)
            if not e.ready
        }
        shown = {ip for ip, _ in _endpoints_object_set(endpoints.get(_key(service)))["ready"]}
        shown |= {
            ip
            for (ip, _), c in _slice_entries(_slices_of(h.snapshot, service)).items()
            if c.get("ready") is True
        }
        for ip in sorted(shown & set(wrong)):
            e = wrong[ip]
            state = "terminating" if e.terminating else "not Ready"
            yield violation(
                trace,
                "services.never-ready-while-terminating",
                f"Service {name_of(service)} lists pod {e.pod} ({ip}) as ready while it is {state}",
                service,
            )


# -- addresses -------------------------------------------------------------------------------------


def _cluster_ips(service: Obj) -> list[str]:
    spec = service.get("spec") or {}
    ips = [str(ip) for ip in spec.get("clusterIPs") or () if ip and ip != "None"]
    one = spec.get("clusterIP")
    if not ips and one and one != "None":
        ips = [str(one)]
    return ips


def _type(service: Obj) -> str:
    return str((service.get("spec") or {}).get("type", "ClusterIP"))


def _node_ports(service: Obj) -> list[tuple[str, int]]:
    return [
        (str(p.get("protocol", "TCP")), int(p["nodePort"]))
        for p in _ports(service)
        if p.get("nodePort")
    ]


@law(
    "services.addresses-unique-and-stable",
    "No two Services share a cluster IP or a node port, and a Service keeps its cluster IP for"
    " its life (unless it becomes or stops being an ExternalName) and its node ports while it"
    " keeps its type.",
    kinds=("Service",),
    conformance=(
        "[sig-network] Services should be able to create a functioning NodePort service"
        " [Conformance]",
        "[sig-network] Services should be able to change the type from ExternalName to NodePort"
        " [Conformance]",
    ),
    bugs=("#87603",),
)
def addresses_unique_and_stable(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = fresh(trace)
    if h is None:
        return
    assert h.snapshot is not None
    ips: dict[str, Obj] = {}
    ports: dict[int, Obj] = {}
    services = h.snapshot.of("Service")
    for service in services:
        for ip in _cluster_ips(service):
            other = ips.setdefault(ip, service)
            if other is not service:
                yield violation(
                    trace,
                    "services.addresses-unique-and-stable",
                    f"Services {name_of(other)} and {name_of(service)} share cluster IP {ip}",
                    other,
                    service,
                )
        for port in sorted({p for _, p in _node_ports(service)}):
            other = ports.setdefault(port, service)
            if other is not service:
                yield violation(
                    trace,
                    "services.addresses-unique-and-stable",
                    f"Services {name_of(other)} and {name_of(service)} share node port {port}",
                    other,
                    service,
                )
    if h.previous is None:
        return
    before = {uid_of(s): s for s in h.previous.of("Service")}
    for service in services:
        old = before.get(uid_of(service))
        if old is None:
            continue
        external = "ExternalName" in (_type(old), _type(service))
        primary, was = _cluster_ips(service)[:1], _cluster_ips(old)[:1]
        if was and not external and primary != was:
            yield violation(
                trace,
                "services.addresses-unique-and-stable",
                f"Service {name_of(service)}'s cluster IP went from {was} to {primary}",
                service,
            )
        same_type = _type(old) == _type(service)
        kept = {(p.get("name"), p.get("port")): p.get("nodePort") for p in _ports(service)}
        for p in _ports(old):
            now = kept.get((p.get("name"), p.get("port")))
            if same_type and p.get("nodePort") and now and now != p.get("nodePort"):
                yield violation(
                    trace,
                    "services.addresses-unique-and-stable",
                    f"Service {name_of(service)}'s port {p.get('port')} moved from node port"
                    f" {p.get('nodePort')} to {now}",
                    service,
                )


# -- the node proxy --------------------------------------------------------------------------------


def _judged(h: ServiceHistory, r: Route) -> bool:
    """The proxy's rules had time to follow the slices, which had time to follow the pods; and
    the proxy that answered is on a machine that is up and reachable."""
    if not r.caught_up or h.held_back(SLICE_CONTROLLER, PROXY):
        return False
    faulty = h.down | h.partitioned
    return not faulty if r.node is None else r.node not in faulty


def _service(snapshot: Snapshot, r: Route) -> Obj | None:
    for s in _services(snapshot):
        if _key(s) == (r.namespace, r.service):
            return s
    return None


def _usable_for(snapshot: Snapshot, service: Obj, r: Route) -> list[Endpoint] | None:
    """The endpoints a connection of `r` may reach; None when the law cannot say."""
    port = service_port(service, r.port)
    if port is None:
        return []
    endpoints = endpoints_for(service, port, snapshot.of("Pod"))
    if (service.get("spec") or {}).get("internalTrafficPolicy") == "Local":
        return None if r.node is None else usable(endpoints, r.node)
    return usable(endpoints)


def _routes(trace: Trace) -> Iterable[tuple[ServiceHistory, Route, Obj, list[Endpoint]]]:
    h = fresh(trace)
    if h is None:
        return
    assert h.snapshot is not None
    for r in h.routes:
        if not _judged(h, r):
            continue
        service = _service(h.snapshot, r)
        if service is None:
            continue
        found = _usable_for(h.snapshot, service, r) if proxied(service) else []
        if found is not None:
            yield h, r, service, found


@law(
    "services.routes-reach-serving",
    "Once time has passed since the last change, a new connection to a Service port reaches"
    " one of its ready endpoints, or when none is ready one serving while terminating; headless"
    " and ExternalName Services are not proxied.",
    needs=("nodes", "routing"),
    kinds=_KINDS,
    conformance=_SERVICE_TESTS,
    bugs=("#28674",),
)
def routes_reach_serving(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    for _, r, service, found in _routes(trace):
        allowed = {(e.pod, e.ip) for e in found}
        for b in r.backends:
            if b is None:
                continue
            if (str(b.get("pod")), str(b.get("ip"))) not in allowed:
                yield violation(
                    trace,
                    "services.routes-reach-serving",
                    f"a connection from {r.client} to {r.service}:{r.port} reached pod"
                    f" {b.get('pod')} ({b.get('ip')}), which does not serve it; serving:"
                    f" {sorted(allowed)}",
                    service,
                )
                break


@law(
    "services.refused-only-when-nothing-serves",
    "Once time has passed since the last change, a connection to a proxied Service port is"
    " refused only when no endpoint serves it.",
    needs=("nodes", "routing"),
    kinds=_KINDS,
    conformance=_SERVICE_TESTS,
    bugs=("#28674",),
)
def refused_only_when_nothing_serves(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    for _, r, service, found in _routes(trace):
        if found and any(b is None for b in r.backends):
            yield violation(
                trace,
                "services.refused-only-when-nothing-serves",
                f"a connection from {r.client} to {r.service}:{r.port} was refused while"
                f" {sorted(e.pod for e in found)} serve it",
                service,
            )


def _affine(service: Obj) -> bool:
    return (service.get("spec") or {}).get("sessionAffinity") == "ClientIP"


def _affinity_timeout(service: Obj, info: TargetInfo) -> float:
    default = float(info.parameters.get("sessionAffinityTimeoutSeconds", 10800))
    return affinity_timeout(service, default)


@law(
    "services.every-endpoint-reached",
    f"Once time has passed since the last change, {REACH_FACTOR}·k successive connections to a"
    " Service port without session affinity reach each of its k usable endpoints.",
    needs=("nodes", "routing"),
    kinds=_KINDS,
    conformance=_SERVICE_TESTS,
)
def every_endpoint_reached(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    for _, r, service, found in _routes(trace):
        if _affine(service) or not found or len(r.backends) < REACH_FACTOR * len(found):
            continue
        reached = {str(b.get("pod")) for b in r.backends if b is not None}
        missed = sorted({e.pod for e in found} - reached)
        if missed:
            yield violation(
                trace,
                "services.every-endpoint-reached",
                f"{len(r.backends)} connections to {r.service}:{r.port} never reached {missed}",
                service,
            )


@law(
    "services.round-robin",
    "Strict (the reference's choice): N successive connections to a Service port without"
    " session affinity spread over its k usable endpoints within one of N/k each.",
    scope="strict",
    needs=("nodes", "routing"),
    kinds=_KINDS,
)
def round_robin(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    for _, r, service, found in _routes(trace):
        if _affine(service) or not found:
            continue
        counts = dict.fromkeys((e.pod for e in found), 0)
        for b in r.backends:
            if b is not None and str(b.get("pod")) in counts:
                counts[str(b.get("pod"))] += 1
        low, high = len(r.backends) // len(found), -(-len(r.backends) // len(found))
        if any(not low <= n <= high for n in counts.values()):
            yield violation(
                trace,
                "services.round-robin",
                f"{len(r.backends)} connections to {r.service}:{r.port} spread as {counts}",
                service,
            )


@law(
    "services.affinity-sticks",
    "Once time has passed since the last change, a client of a ClientIP-affine Service keeps"
    " the backend of its last connection while that backend stays usable and the affinity"
    " timeout has not run out since.",
    needs=("nodes", "routing"),
    kinds=_KINDS,
    conformance=_AFFINITY_TESTS,
)
def affinity_sticks(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    """Within one route every connection keeps the first one's backend; across routes only
    through one named node's proxy, since each node keeps its own affinity table."""
    before = history(trace.before) if trace.before is not None else None
    for h, r, service, _found in _routes(trace):
        if not _affine(service):
            continue
        assert h.snapshot is not None
        chosen = [str(b.get("pod")) for b in r.backends if b is not None]
        last = before.last_connection.get(connection_key(r)) if before and r.node else None
        expected: str | None = chosen[0] if chosen else None
        if last is not None and h.snapshot.now - last.at < _affinity_timeout(service, info):
            since = _usable_since(trace, last.at, r, last.service_uid)
            if since is not None and all(last.backend in found_then for found_then in since):
                expected = last.backend
        wrong = [p for p in chosen if p != expected]
        if expected is not None and wrong:
            yield violation(
                trace,
                "services.affinity-sticks",
                f"client {r.client} of {r.service}:{r.port} (ClientIP affinity) was sent to"
                f" {sorted(set(wrong))} instead of staying with {expected}",
                service,
            )


def _usable_since(
    trace: Trace, start: float, r: Route, service_uid: str
) -> list[frozenset[str]] | None:
    """The usable endpoints (pod names) at each snapshot since `start`, newest first; None when
    the Service was gone, lost its affinity, or the law cannot say at one of them."""
    sets: list[frozenset[str]] = []
    t: Trace | None = trace
    while t is not None:
        h = history(t)
        if h.snapshot is None or h.snapshot.now < start:
            break
        service = _service(h.snapshot, r)
        if service is None or uid_of(service) != service_uid or not _affine(service):
            return None
        found = _usable_for(h.snapshot, service, r)
        if found is None:
            return None
        sets.append(frozenset(e.pod for e in found))
        t = t.before
    return sets


@law(
    "services.affinity-expires",
    "Strict (the reference's round robin): a ClientIP-affine client returning after the"
    " affinity timeout, when no other connection was made to that Service port in between and"
    " its endpoints did not change, is sent to the next endpoint, not its old one.",
    scope="strict",
    needs=("nodes", "routing"),
    kinds=_KINDS,
    conformance=_AFFINITY_TESTS[1:],
)
def affinity_expires(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    before = history(trace.before) if trace.before is not None else None
    if before is None:
        return
    for h, r, service, found in _routes(trace):
        if not _affine(service) or len(found) < 2 or not r.backends:
            continue
        last = before.last_connection.get(connection_key(r))
        if last is None or last.service_uid != uid_of(service):
            continue
        if h.snapshot is None or h.snapshot.now - last.at <= _affinity_timeout(service, info):
            continue
        # The rotation moved last when the client's run began; it must not have moved since.
        since = _usable_since(trace, last.run_start, r, last.service_uid)
        if since is None or any(found_then != since[0] for found_then in since):
            continue
        if _other_connections_since(before, r, last) or last.backend not in since[0]:
            continue
        first = r.backends[0]
        if first is not None and str(first.get("pod")) == last.backend and h.routes[0] is r:
            yield violation(
                trace,
                "services.affinity-expires",
                f"client {r.client} of {r.service}:{r.port} came back"
                f" {h.snapshot.now - last.at:g} s after its last connection, past the"
                f" {_affinity_timeout(service, info):g} s timeout, and was still sent to"
                f" {last.backend}",
                service,
            )


def _other_connections_since(before: ServiceHistory, r: Route, last: Any) -> bool:
    """Some client other than `r`'s connected to the port since `r`'s client began its run:
    their connections may have moved the rotation."""
    key = (r.namespace, r.service, r.port)
    for (namespace, service, port, client, _), c in before.last_connection.items():
        if (namespace, service, port) == key and client != r.client and c.at >= last.run_start:
            return True
    return False


# -- cluster DNS -----------------------------------------------------------------------------------

_DOMAIN = "svc.cluster.local"


def _fqdn(service: Obj) -> str:
    namespace, name = _key(service)
    return f"{name}.{namespace}.{_DOMAIN}"


def _dns_expected(snapshot: Snapshot, request: Mapping[str, Any]) -> list[Any] | None:
    """What cluster DNS should answer for `request`, or None when this law does not judge it."""
    name = str(request.get("name", "")).lower().rstrip(".")
    kind = request.get("type")
    by_name = {_fqdn(s): s for s in _services(snapshot)}
    if kind == "A":
        service = by_name.get(name)
        if service is None:
            return [] if name.endswith(_DOMAIN) and name.count(".") == 4 else None
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return [{"cname": spec.get("externalName")}]
        if proxied(service):
            return sorted(_cluster_ips(service)[:1])
        entries = _slice_entries(_slices_of(snapshot, service))
        publish = bool(spec.get("publishNotReadyAddresses"))
        return sorted(
            {ip for (ip, _), c in entries.items() if publish or c.get("ready") is not False}
        )
    if kind == "SRV":
        labels = name.split(".")
        if len(labels) != 7 or not labels[0].startswith("_") or not labels[1].startswith("_"):
            return None
        service = by_name.get(".".join(labels[2:]))
        if service is None or not proxied(service):
            return None if service is not None else []
        port_name, protocol = labels[0][1:], labels[1][1:].upper()
        return [
            {"target": _fqdn(service), "port": int(p.get("port", 0))}
            for p in _ports(service)
            if str(p.get("name", "")) == port_name and str(p.get("protocol", "TCP")) == protocol
        ]
    return None


def _canonical(answers: Sequence[Any]) -> list[Any]:
    return sorted(answers, key=lambda a: json.dumps(a, sort_keys=True))


@law(
    "services.dns-matches-services",
    "Once time has passed since the last change, cluster DNS answers a Service's A name with"
    " its cluster IP (a headless Service's with its ready endpoints' IPs, an ExternalName's"
    " with a CNAME), its named ports' SRV names with the Service and port, and unknown Service"
    " names with nothing.",
    needs=("nodes", "dns"),
    kinds=_KINDS,
    conformance=(
        "[sig-network] DNS should provide DNS for services [Conformance]",
        "[sig-network] DNS should provide DNS for ExternalName services [Conformance]",
    ),
)
def dns_matches_services(trace: Trace, info: TargetInfo) -> Iterable[Violation]:
    h = fresh(trace)
    if h is None or not h.caught_up or h.held_back(SLICE_CONTROLLER):
        return
    assert h.snapshot is not None
    for request, answer in h.answers:
        expected = _dns_expected(h.snapshot, request)
        if expected is None:
            continue
        got = list(answer.get("answers") or ())
        if _canonical(got) != _canonical(expected):
            yield violation(
                trace,
                "services.dns-matches-services",
                f"{request.get('type')} {request.get('name')} answered {got}; the Services"
                f" give {expected}",
            )
