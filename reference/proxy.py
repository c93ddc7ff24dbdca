"""kube-proxy: Service rules programmed from the proxy's own view, and where connections go.

The proxy is a controller that writes nothing: each pass turns the Services
and EndpointSlices of its view into rules (per Service port, the endpoints
with their conditions), and its state *is* those rules. Because it reads a
view, `controller.lag` and `controller.restart` on `kube-proxy` leave its
rules stale exactly as a slow or restarted upstream kube-proxy's are, and the
`route` op routes on whatever it last programmed.

One proxy stands for every node's: each node's kube-proxy reads the same
objects and programs the same rules; only `internalTrafficPolicy: Local`
depends on the node (a node uses only its own endpoints), and the node a
`route` names is applied to the rules at routing time.

Which endpoints are used (upstream's CategorizeEndpoints, without topology
hints): the ready ones; when none is ready, the serving-and-terminating ones;
none: the connection is refused. For Local policy the same choice is made
among the node's own endpoints.

Where a connection goes is the reference's own choice (upstream's iptables
and nftables modes pick at random; IPVS defaults to round robin): round
robin per Service port over the usable endpoints in upstream's endpoint
order (`ip:port` as a string, EndpointSliceCache's byEndpoint), deterministic
so that the `strict` capability can claim it. As in upstream's userspace
LoadBalancerRR, the position and the session-affinity table of a Service port
survive every resync that leaves its usable endpoints unchanged; when they
change, the position goes back to the first endpoint and affinity entries for
endpoints that left are dropped; when the Service port goes, so does its
state.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from reference.api import errors
from reference.api.errors import ApiError
from reference.api.kinds import KINDS
from reference.constants import TIMING_PARAMETERS
from reference.controllers.base import Reconcile, View
from reference.objects import decode, labels, meta
from reference.store import KeyValue, Store, StoreError, prefix_end

__all__ = [
    "DEFAULT_AFFINITY_SECONDS",
    "KUBE_PROXY",
    "MAX_ROUTE_COUNT",
    "Backend",
    "Balancer",
    "KubeProxy",
    "PortRules",
    "ProxyState",
    "build_rules",
    "route",
]

#: The name `controller.lag` and `controller.restart` know the proxy by.
KUBE_PROXY = "kube-proxy"
#: v1.DefaultClientIPServiceAffinitySeconds.
DEFAULT_AFFINITY_SECONDS = TIMING_PARAMETERS["sessionAffinityTimeoutSeconds"]
#: The most connections one `route` request may open.
MAX_ROUTE_COUNT = 10_000

#: discovery.LabelServiceName: the Service an EndpointSlice belongs to.
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
#: v1.IsHeadlessService and apis.LabelServiceProxyName: kube-proxy's informers list neither.
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_SERVICE_PROXY_NAME = "service.kubernetes.io/service-proxy-name"

_SERVICES = KINDS["Service"].prefix()
_SLICES = KINDS["EndpointSlice"].prefix()

#: (namespace, service, port number, protocol).
ServicePort = tuple[str, str, int, str]
#: A balancer per Service port and node ("" for every node: Cluster traffic policy).
BalancerKey = tuple[ServicePort, str]


@attrs.frozen
class Backend:
    """One endpoint of a Service port, as EndpointSliceCache keeps it."""

    ip: str
    port: int
    pod: str | None
    namespace: str | None
    node: str | None
    ready: bool
    serving: bool
    terminating: bool

    @property
    def key(self) -> str:
        """net.JoinHostPort(ip, port): upstream's Endpoint.String(), its sort and dedup key."""
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def answer(self) -> dict[str, Any]:
        return {"pod": self.pod, "namespace": self.namespace, "ip": self.ip}


@attrs.frozen
class PortRules:
    """What the proxy programmed for one Service port."""

    #: Every endpoint of the port, whatever its conditions, in `Backend.key` order.
    endpoints: tuple[Backend, ...]
    #: sessionAffinity ClientIP's timeout; None for sessionAffinity None.
    affinity_seconds: int | None = None
    #: internalTrafficPolicy Local.
    local: bool = False


@attrs.frozen
class Affinity:
    """A client's sticky endpoint (the iptables `recent` entry) and its last connection."""

    backend: str
    last_used: float


@attrs.frozen
class Balancer:
    """Round-robin position and affinity table of one Service port (on one node)."""

    #: The usable endpoints (keys, in order) the position counts over.
    members: tuple[str, ...] = ()
    position: int = 0
    affinity: PMap[str, Affinity] = attrs.field(factory=pmap)


@attrs.frozen
class ProxyState:
    rules: PMap[ServicePort, PortRules] = attrs.field(factory=pmap)
    balancers: PMap[BalancerKey, Balancer] = attrs.field(factory=pmap)
    #: (store key, mod revision) of every Service and EndpointSlice the rules were built from.
    sources: tuple[tuple[str, int], ...] | None = None
    #: The mutant without full resync: the revision its changes are applied up to (None: it
    #: lists on its first pass) and the Service and EndpointSlice texts it knows, by store key.
    applied: int | None = None
    known: PMap[str, str] = attrs.field(factory=pmap)


@attrs.frozen
class KubeProxy:
    """kube-proxy as a controller of the reference cluster; its flags are mutants.

    `routes_not_ready` leaves out CategorizeEndpoints' filter: every endpoint
    of a port takes connections, ready or not. `affinity_ignores_timeout`
    keeps a client's affinity entry forever, an iptables `recent` match
    without `--seconds`. `no_full_resync` models kubernetes#28674: a proxy that lists once, at
    boot, and from then on applies only the changes it is told of, with no
    periodic full resync and no relist. After `controller.restart` it does
    not relist: it starts knowing nothing and learns only the Services and
    EndpointSlices written after it restarted, so a Service that does not
    change has no rules (every connection refused while endpoints serve), and
    one whose Service and slices do not both change again keeps being refused
    or routed on what it learnt. A watch window it can no longer replay (the
    history was compacted while it lagged) is skipped, not relisted: the
    changes in it are missed for good, and it routes on stale rules.
    """

    name: str = KUBE_PROXY
    #: Route to every endpoint of a port, ready or not (a mutant).
    routes_not_ready: bool = False
    #: Affinity entries never expire (a mutant).
    affinity_ignores_timeout: bool = False
    #: Apply watched changes only, never relist, even after a restart (a mutant, #28674).
    no_full_resync: bool = False
    #: Rotate over the endpoints; False (a mutant) sends every new connection to the first one,
    #: as an iptables probability chain whose first rule always matches would.
    balances: bool = True
    #: Pick each new connection's endpoint at random (seeded by the connection), as upstream's
    #: iptables and nftables modes do: Kubernetes allows it; the strict round robin does not.
    random_choice: bool = False
    #: Honour sessionAffinity ClientIP; False (a mutant) balances every connection.
    honours_affinity: bool = True

    @property
    def relists_on_restart(self) -> bool:
        return not self.no_full_resync

    def initial_state(self) -> ProxyState:
        return ProxyState()

    def restarted_state(self, revision: int) -> ProxyState:
        """What a restart at `revision` starts from: a boot, but for the mutant, which does not
        relist and only watches what changes from then on."""
        return ProxyState(applied=revision) if self.no_full_resync else ProxyState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        state = state if isinstance(state, ProxyState) else ProxyState()
        if self.no_full_resync:
            applied, known = _apply_changes(view, state)
            if (applied, known) == (state.applied, state.known):
                return Reconcile(state=state)
            texts = [text for _, text in sorted(known.items())]
            state = attrs.evolve(state, applied=applied, known=known)
        else:
            kvs = _kvs(view, _SERVICES) + _kvs(view, _SLICES)
            sources = tuple((kv.key, kv.mod_revision) for kv in kvs)
            if sources == state.sources:
                return Reconcile(state=state)
            texts = [kv.value for kv in kvs]
            state = attrs.evolve(state, sources=sources)
        objects = [decode(t) for t in texts]
        services = [o for o in objects if o.get("kind") == "Service"]
        slices = [o for o in objects if o.get("kind") == "EndpointSlice"]
        rules = build_rules(services, slices)
        return Reconcile(
            state=attrs.evolve(state, rules=rules, balancers=self._resync(state, rules))
        )

    # -- which endpoints a connection may use ---------------------------------------------------
    def usable(self, rules: PortRules, node: str) -> tuple[Backend, ...]:
        """CategorizeEndpoints: ready, else serving and terminating; Local: the node's own."""
        endpoints = rules.endpoints
        if rules.local and node:
            endpoints = tuple(e for e in endpoints if e.node == node)
        if self.routes_not_ready:
            return endpoints
        ready = tuple(e for e in endpoints if e.ready)
        if ready:
            return ready
        return tuple(e for e in endpoints if e.serving and e.terminating)

    def _resync(
        self, state: ProxyState, rules: PMap[ServicePort, PortRules]
    ) -> PMap[BalancerKey, Balancer]:
        """DeleteService for ports that went (and per-node state a port no longer keeps)."""
        balancers = state.balancers
        for key, balancer in state.balancers.items():
            port_rules = rules.get(key[0])
            if port_rules is None or (key[1] and not port_rules.local):
                balancers = balancers.remove(key)
            else:
                balancers = balancers.set(key, self._synced(balancer, port_rules, key[1]))
        return balancers

    def _synced(self, balancer: Balancer, rules: PortRules, node: str) -> Balancer:
        """LoadBalancerRR.OnEndpointsUpdate: a changed endpoint set restarts the rotation."""
        members = tuple(e.key for e in self.usable(rules, node))
        affinity = balancer.affinity if rules.affinity_seconds is not None else pmap()
        if members != balancer.members:
            kept = set(members)
            affinity = pmap({c: a for c, a in affinity.items() if a.backend in kept})
            return Balancer(members, 0, affinity)
        if affinity is balancer.affinity:
            return balancer
        return attrs.evolve(balancer, affinity=affinity)

    # -- routing --------------------------------------------------------------------------------
    def connect(
        self, state: ProxyState, port: ServicePort, node: str, client: str, count: int, now: float
    ) -> tuple[ProxyState, list[Backend | None]]:
        """`count` new connections from `client` to `port` as the proxy of `node` sends them."""
        rules = state.rules.get(port)
        if rules is None:
            return state, [None] * count
        node = node if rules.local else ""
        key = (port, node)
        balancer = self._synced(state.balancers.get(key, Balancer()), rules, node)
        by_key = {e.key: e for e in self.usable(rules, node)}
        if not by_key:
            return state, [None] * count
        members, position, affinity = balancer.members, balancer.position, balancer.affinity
        chosen: list[Backend | None] = []
        affine = rules.affinity_seconds is not None and self.honours_affinity
        for n in range(count):
            sticky = affinity.get(client) if affine else None
            if sticky is not None and sticky.backend in by_key and self._alive(sticky, rules, now):
                backend = sticky.backend
            elif self.random_choice:
                backend = members[_draw(client, now, position, n) % len(members)]
                position = (position + 1) % len(members)
            else:
                backend = members[position]
                if self.balances:
                    position = (position + 1) % len(members)
            if affine:
                affinity = affinity.set(client, Affinity(backend, now))
            chosen.append(by_key[backend])
        balancer = Balancer(members, position, affinity)
        return attrs.evolve(state, balancers=state.balancers.set(key, balancer)), chosen

    def _alive(self, entry: Affinity, rules: PortRules, now: float) -> bool:
        """The `recent` match: younger than the timeout, counted from the last connection."""
        if self.affinity_ignores_timeout:
            return True
        timeout = rules.affinity_seconds or DEFAULT_AFFINITY_SECONDS
        return now - entry.last_used < timeout


def _draw(client: str, now: float, position: int, n: int) -> int:
    """A pseudo-random number that is a function of the connection: determinism stays."""
    digest = hashlib.sha256(f"{client}/{now!r}/{position}/{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


# -- the view --------------------------------------------------------------------------------------


def _kvs(view: View, prefix: str) -> tuple[KeyValue, ...]:
    at = 0 if not view.lagging else view.revision
    return view.store.range(prefix, prefix_end(prefix), at).kvs


def _apply_changes(view: View, state: ProxyState) -> tuple[int, PMap[str, str]]:
    """The changes between the revision applied and the view's, from the store's watch log."""
    if state.applied is None:
        listed = _kvs(view, _SERVICES) + _kvs(view, _SLICES)
        return view.revision, pmap({kv.key: kv.value for kv in listed})
    if view.revision <= state.applied:
        return state.applied, state.known
    try:
        events = view.store.events_after(state.applied)
    except StoreError:
        return view.revision, state.known
    known = state.known
    for event in events:
        if event.revision > view.revision:
            break
        key = event.kv.key
        if not key.startswith((_SERVICES, _SLICES)):
            continue
        known = known.set(key, event.kv.value) if event.type == "PUT" else known.discard(key)
    return view.revision, known


# -- rules ---------------------------------------------------------------------------------------


def _proxied(obj: Mapping[str, Any]) -> bool:
    """kube-proxy's informers select neither headless slices nor another proxy's objects."""
    found = labels(obj)
    return LABEL_HEADLESS not in found and LABEL_SERVICE_PROXY_NAME not in found


def _cluster_ip(service: Mapping[str, Any]) -> str | None:
    """The primary ClusterIP, or None where ShouldSkipService skips (None, unset, ExternalName)."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    ip = spec.get("clusterIP")
    if not isinstance(ip, str) or ip in ("", "None"):
        return None
    return ip


def _family(ip: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def build_rules(
    services: Iterable[Mapping[str, Any]], slices: Iterable[Mapping[str, Any]]
) -> PMap[ServicePort, PortRules]:
    """The rules for every proxied Service port, from Services and their EndpointSlices."""
    by_service: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for slice_ in slices:
        owner = labels(slice_).get(LABEL_SERVICE_NAME)
        if owner and _proxied(slice_):
            namespace = str(meta(slice_).get("namespace") or "")
            by_service.setdefault((namespace, owner), []).append(slice_)
    rules: dict[ServicePort, PortRules] = {}
    for service in services:
        ip = _cluster_ip(service)
        if ip is None or not _proxied(service):
            continue
        namespace = str(meta(service).get("namespace") or "")
        name = str(meta(service).get("name") or "")
        spec = service.get("spec") or {}
        family = _family(ip)
        own = sorted(
            (s for s in by_service.get((namespace, name), ()) if s.get("addressType") == family),
            key=lambda s: str(meta(s).get("name") or ""),
        )
        affinity = _affinity_seconds(spec)
        local = spec.get("internalTrafficPolicy") == "Local"
        for port in spec.get("ports") or ():
            number = port.get("port")
            if not isinstance(number, int):
                continue
            protocol = str(port.get("protocol") or "TCP")
            endpoints = _endpoints(own, str(port.get("name") or ""), protocol, family)
            rules[(namespace, name, number, protocol)] = PortRules(endpoints, affinity, local)
    return pmap(rules)


def _affinity_seconds(spec: Mapping[str, Any]) -> int | None:
    if spec.get("sessionAffinity") != "ClientIP":
        return None
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    timeout = config.get("timeoutSeconds")
    return timeout if isinstance(timeout, int) and timeout > 0 else DEFAULT_AFFINITY_SECONDS


def _endpoints(
    slices: Sequence[Mapping[str, Any]], port_name: str, protocol: str, family: str | None
) -> tuple[Backend, ...]:
    """EndpointSliceCache.addEndpoints for one port: first address only, deduplicated by key."""
    found: dict[str, Backend] = {}
    for slice_ in slices:
        for port in slice_.get("ports") or ():
            number = port.get("port")
            if (port.get("name") or "") != port_name or (port.get("protocol") or "TCP") != protocol:
                continue
            if not isinstance(number, int) or number == 0:
                continue
            for endpoint in slice_.get("endpoints") or ():
                backend = _backend(slice_, endpoint, number, family)
                if backend is not None:
                    found.setdefault(backend.key, backend)
    return tuple(found[k] for k in sorted(found))


def _backend(
    slice_: Mapping[str, Any], endpoint: Mapping[str, Any], port: int, family: str | None
) -> Backend | None:
    addresses = endpoint.get("addresses") or ()
    if not addresses or _family(str(addresses[0])) != family:
        return None
    conditions = endpoint.get("conditions") or {}
    ref = endpoint.get("targetRef") or {}
    is_pod = ref.get("kind") == "Pod" and bool(ref.get("name"))
    node = endpoint.get("nodeName")
    return Backend(
        ip=str(addresses[0]),
        port=port,
        pod=str(ref["name"]) if is_pod else None,
        namespace=str(ref.get("namespace") or meta(slice_).get("namespace")) if is_pod else None,
        node=str(node) if node else None,
        ready=conditions.get("ready") is not False,
        serving=conditions.get("serving") is not False,
        terminating=conditions.get("terminating") is True,
    )


# -- the `route` op --------------------------------------------------------------------------------


def route(
    proxy: KubeProxy,
    state: Any,
    store: Store,
    request: Mapping[str, Any],
    now: float,
    nodes: Iterable[str],
) -> tuple[ProxyState, dict[str, Any]]:
    """Answer `route`: the Service is looked up live (404), the connections go by the rules."""
    state = state if isinstance(state, ProxyState) else ProxyState()
    namespace = request.get("namespace", "default")
    service = request.get("service")
    port = request.get("port")
    client = request.get("client")
    count = request.get("count")
    node = request.get("node")
    if not isinstance(namespace, str) or not namespace:
        raise errors.bad_request("`namespace` must be a non-empty string")
    if not isinstance(service, str) or not service:
        raise errors.bad_request("`service` is required and must be a string")
    if isinstance(port, bool) or not isinstance(port, int):
        raise errors.bad_request("`port` is required and must be the Service port's number")
    if not isinstance(client, str):
        raise errors.bad_request("`client` is required and must be an IP address")
    try:
        client = str(ipaddress.ip_address(client))
    except ValueError:
        raise errors.bad_request(f"`client` {client!r} is not an IP address") from None
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_ROUTE_COUNT:
        raise errors.bad_request(
            f"`count` is required and must be an integer from 0 to {MAX_ROUTE_COUNT}"
        )
    if node is not None and not isinstance(node, str):
        raise errors.bad_request("`node` must be a string when given")
    if node is not None and node not in set(nodes):
        raise ApiError(404, "NotFound", f"node {node!r} is not a machine of this cluster")
    kv = store.get(KINDS["Service"].key(namespace, service))
    if kv is None:
        raise errors.not_found("Service", service)
    if count == 0 or _cluster_ip(decode(kv.value)) is None:
        return state, {"ok": True, "backends": [None] * count}
    candidates = sorted(
        (p for p in state.rules if p[:3] == (namespace, service, port)),
        key=lambda p: (p[3] != "TCP", p[3]),
    )
    if not candidates:
        return state, {"ok": True, "backends": [None] * count}
    state, chosen = proxy.connect(state, candidates[0], node or "", client, count, now)
    return state, {"ok": True, "backends": [b.answer() if b else None for b in chosen]}
