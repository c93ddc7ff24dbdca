"""Cluster DNS: what CoreDNS's kubernetes plugin answers for `cluster.local`.

DNS reads the store as it is. CoreDNS answers from a watch cache that
upstream keeps within moments of the API; the reference has no lag to model
for it (no nemesis targets DNS), so the live store is the honest simplest
view, and a name resolves as soon as its objects exist.

Names follow the Kubernetes DNS specification (kubernetes/dns
docs/specification.md) as CoreDNS parses them (plugin/kubernetes parse.go),
case-insensitively and with or without the trailing dot:

- `<service>.<ns>.svc.<zone>`: A gives the ClusterIP; for a headless Service
  the IPs of its ready endpoints; for ExternalName a CNAME. SRV gives one
  record per port (its target the Service name), for a headless Service one
  per ready endpoint and port (its target the endpoint's name).
- `<endpoint>.<service>.<ns>.svc.<zone>`: the endpoint named by its hostname,
  or by its dashed IP when it has none (CoreDNS's endpointHostname).
- `_<port>._<proto>.<service>.<ns>.svc.<zone>`: the same, for one named port.
- `<a>-<b>-<c>-<d>.<ns>.pod.<zone>`: that IP, for any existing namespace
  (kubeadm's Corefile runs the plugin with `pods insecure`).

An endpoint is *ready* when its EndpointSlice `ready` condition is true or
absent (CoreDNS's endpointsliceReady), or when its Service sets
`publishNotReadyAddresses` (the specification's definition of ready). CoreDNS
reads only the condition; the EndpointSlice controller already sets it for
every endpoint of such a Service, so the two agree on controller-made slices.
Every other name, and a name outside the zone, has no answer: NXDOMAIN and
NODATA are both an empty list. Answers are sorted (IPs numerically, SRV by
target then port) and free of duplicates; SRV targets carry no trailing dot
and a CNAME is the Service's `externalName` as written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from reference.api import errors
from reference.api.kinds import KINDS
from reference.objects import decode, labels
from reference.store import Store, prefix_end

__all__ = ["CLUSTER_DOMAIN", "RECORD_TYPES", "resolve"]

#: The kubelet's --cluster-domain and CoreDNS's zone.
CLUSTER_DOMAIN = "cluster.local"
RECORD_TYPES = ("A", "SRV")
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@attrs.frozen
class _Query:
    """parseRequest's recordRequest: the labels left of the zone, by role."""

    kind: str
    namespace: str
    name: str
    endpoint: str = ""
    port: str = ""
    protocol: str = ""


@attrs.frozen
class _Record:
    """msg.Service: an address (or a CNAME target) with a port and the name it is known by."""

    host: str
    port: int
    target: str


@attrs.frozen
class ClusterDns:
    """Cluster DNS as a component of the cluster; its flag is a mutant.

    `skips_not_ready=False` answers a headless Service's names with every
    endpoint of its slices, ready or not, as a server that ignores the
    slices' ready condition would.
    """

    skips_not_ready: bool = True

    def resolve(self, store: Store, request: Mapping[str, Any]) -> list[Any]:
        return resolve(store, request, skips_not_ready=self.skips_not_ready)


def resolve(store: Store, request: Mapping[str, Any], *, skips_not_ready: bool = True) -> list[Any]:
    """The answers to `resolve {"name", "type"}`; 400 for a missing name or unknown type."""
    name = request.get("name")
    record_type = request.get("type")
    if not isinstance(name, str) or not name:
        raise errors.bad_request("`name` is required and must be a non-empty string")
    if record_type not in RECORD_TYPES:
        raise errors.bad_request(
            f"`type` is {record_type!r}; it must be one of {', '.join(RECORD_TYPES)}"
        )
    query = _parse(name)
    if query is None or store.get(KINDS["Namespace"].key("", query.namespace)) is None:
        return []
    records = list(_pod(query) if query.kind == "pod" else _service(store, query, skips_not_ready))
    if record_type == "A":
        return _a_answers(records)
    return _srv_answers(records)


def _parse(name: str) -> _Query | None:
    text = name.lower().removesuffix(".")
    base = text.removesuffix("." + CLUSTER_DOMAIN)
    if base == text:
        return None
    segments = base.split(".")
    if len(segments) < 3 or "" in segments or segments[-1] not in ("svc", "pod"):
        return None
    kind, namespace, service, rest = segments[-1], segments[-2], segments[-3], segments[:-3]
    if kind == "pod":
        return _Query(kind, namespace, service) if not rest else None
    if len(rest) == 0:
        return _Query(kind, namespace, service)
    if len(rest) == 1:
        return _Query(kind, namespace, service, endpoint=rest[0])
    if len(rest) == 2:
        return _Query(
            kind,
            namespace,
            service,
            port=rest[0].removeprefix("_"),
            protocol=rest[1].removeprefix("_"),
        )
    return None


def _pod(query: _Query) -> Iterator[_Record]:
    """findPods in insecure mode: the IP the name spells, whether or not such a pod exists."""
    dashed = query.name
    if dashed.count("-") == 3 and "--" not in dashed:
        text = dashed.replace("-", ".")
    else:
        text = dashed.replace("-", ":")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return
    yield _Record(str(ip), 0, f"{dashed}.{query.namespace}.pod.{CLUSTER_DOMAIN}")


def _service(store: Store, query: _Query, skips_not_ready: bool = True) -> Iterator[_Record]:
    """findServices for one Service: ExternalName, endpoints (headless or named), or ClusterIP."""
    kv = store.get(KINDS["Service"].key(query.namespace, query.name))
    if kv is None:
        return
    service = decode(kv.value)
    spec = service.get("spec") or {}
    fqdn = f"{query.name}.{query.namespace}.svc.{CLUSTER_DOMAIN}"
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "")
        if not query.endpoint and target and not _is_ip(target.removesuffix(".")):
            yield _Record(target, 0, fqdn)
        return
    if spec.get("clusterIP") == "None" or query.endpoint:
        publish = spec.get("publishNotReadyAddresses") is True or not skips_not_ready
        yield from _endpoint_records(store, query, fqdn, publish)
        return
    ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    for port in spec.get("ports") or ():
        if _matches(query, str(port.get("name") or ""), str(port.get("protocol") or "TCP")):
            for ip in ips:
                yield _Record(str(ip), int(port.get("port") or 0), fqdn)


def _endpoint_records(store: Store, query: _Query, fqdn: str, publish: bool) -> Iterator[_Record]:
    prefix = KINDS["EndpointSlice"].prefix(query.namespace)
    for kv in store.range(prefix, prefix_end(prefix)).kvs:
        slice_ = decode(kv.value)
        if labels(slice_).get(_SERVICE_NAME_LABEL, "").lower() != query.name:
            continue
        if slice_.get("addressType") not in ("IPv4", "IPv6"):
            continue
        ports = [
            (str(p.get("name") or ""), str(p.get("protocol") or ""), p.get("port"))
            for p in slice_.get("ports") or ()
        ] or [("", "", -1)]
        for endpoint in slice_.get("endpoints") or ():
            if not publish and (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or ():
                hostname = str(endpoint.get("hostname") or "") or _dashed(str(address))
                if query.endpoint and hostname.lower() != query.endpoint:
                    continue
                for name, protocol, number in ports:
                    if _matches(query, name, protocol):
                        port = number if isinstance(number, int) else -1
                        yield _Record(str(address), port, f"{hostname.lower()}.{fqdn}")


def _matches(query: _Query, name: str, protocol: str) -> bool:
    """matchPortAndProtocol: the query's port and protocol, when given, case-insensitively."""
    return (not query.port or query.port == name.lower()) and (
        not query.protocol or query.protocol == protocol.lower()
    )


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _a_answers(records: list[_Record]) -> list[Any]:
    cnames = sorted({r.host for r in records if not _is_ip(r.host)})
    if cnames:
        return [{"cname": c} for c in cnames]
    found = {ipaddress.ip_address(r.host) for r in records}
    return [str(ip) for ip in sorted(a for a in found if a.version == 4)]


def _srv_answers(records: list[_Record]) -> list[Any]:
    """SRV: CoreDNS drops CNAME (ExternalName) records and the port-less sentinel."""
    found = {(r.target, r.port) for r in records if _is_ip(r.host) and r.port > 0}
    return [{"target": t, "port": p} for t, p in sorted(found)]
