"""ClusterIP and NodePort allocation for Services, as upstream's Service storage does it.

Upstream allocates in the Service storage's BeginCreate and BeginUpdate hooks
(``pkg/registry/core/service/storage/storage.go`` and ``alloc.go``): after
defaulting and admission, before the strategy's PrepareForUpdate and before
validation, so an allocation failure is the answer even when the object is
also invalid. It releases in AfterDelete, or when an update that gave values
up commits.

Here nothing is kept beside the Services themselves: what is allocated is read
off the other Services in the store when a request is served (`held_by`).
Release on delete is the delete itself, a refused request allocates nothing,
and there is no second source of truth for a repair loop to reconcile.

Dynamic choices follow upstream's random scan with an offset (the bitmap
allocator's ``randomScanStrategyWithOffset`` and the IPAddress allocator's
``allocateNextService``): a random start in the upper, dynamic band, forward
with wrap-around, then the lower, static band the same way. The randomness is
a `Draw`, a function of a purpose string that the API server derives from its
seed and serial counter, so the same requests from the same seed get the same
IPs and ports.

IPv4 single stack only: one range, SERVICE_CLUSTER_IP_RANGE. A Service asking
for IPv6 or for dual stack is refused as upstream refuses it on a cluster
configured with a single IPv4 range (``initIPFamilyFields``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeGuard

import attrs

from reference.api import errors
from reference.api.errors import ApiError, Cause
from reference.constants import (
    SERVICE_CLUSTER_IP_RANGE,
    SERVICE_IP_RANGE_OFFSET,
    SERVICE_NODE_PORT_RANGE,
    SERVICE_NODE_PORT_RANGE_OFFSET,
)
from reference.objects import copy_json

__all__ = [
    "Draw",
    "Held",
    "allocate_on_create",
    "allocate_on_update",
    "held_by",
]

#: A random number for a purpose ("ip/upper", "nodePort/0/lower", ...); a pure function.
Draw = Callable[[str], int]

_TYPES = frozenset({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})
_NODE_PORT_TYPES = frozenset({"NodePort", "LoadBalancer"})
_FAMILIES = ("IPv4", "IPv6")
_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
_ALREADY_ALLOCATED_IP = "provided IP is already allocated"
_ALREADY_ALLOCATED_PORT = "provided port is already allocated"
_OTHER_NETWORK = "the provided network does not match the current range"


def _range_offset(size: int, bounds: tuple[int, int, int]) -> int:
    """Where the static band ends: min(max(MIN, size // STEP), MAX), or 0 for a tiny range."""
    low, step, high = bounds
    if size <= low:
        return 0
    return min(max(low, size // step), high)


_NETWORK = ipaddress.IPv4Network(SERVICE_CLUSTER_IP_RANGE)
#: Neither the network address nor the broadcast address is ever handed out.
_FIRST_IP = int(_NETWORK.network_address) + 1
_IP_COUNT = _NETWORK.num_addresses - 2
#: The first usable address belongs to the `kubernetes` Service in `default`.
_RESERVED_IP = _FIRST_IP
_IP_OFFSET = _range_offset(_NETWORK.num_addresses, SERVICE_IP_RANGE_OFFSET)
_FIRST_PORT, _LAST_PORT = SERVICE_NODE_PORT_RANGE
_PORT_COUNT = _LAST_PORT - _FIRST_PORT + 1
_PORT_OFFSET = _range_offset(_PORT_COUNT, SERVICE_NODE_PORT_RANGE_OFFSET)


@attrs.frozen
class Held:
    """What the other Services hold when a request is served: cluster IPs (as integers), ports."""

    cluster_ips: frozenset[int] = frozenset()
    node_ports: frozenset[int] = frozenset()


def held_by(services: Iterable[Mapping[str, Any]]) -> Held:
    """The IPs and node ports these stored Services hold.

    Only the fields upstream allocates count: cluster IPs of any type but
    ExternalName, node ports of NodePort and LoadBalancer Services, and the
    health check port of a LoadBalancer with externalTrafficPolicy Local.
    """
    ips: set[int] = set()
    ports: set[int] = set()
    for service in services:
        spec = _map(service.get("spec"))
        if spec.get("type") != "ExternalName":
            ips.update(ip for ip in map(_ipv4, _list(spec.get("clusterIPs"))) if ip is not None)
        if spec.get("type") in _NODE_PORT_TYPES:
            ports.update(_node_ports(spec))
        health_check = spec.get("healthCheckNodePort")
        if _needs_health_check(spec) and _is_int(health_check) and health_check:
            ports.add(health_check)
    return Held(frozenset(ips), frozenset(ports))


def allocate_on_create(
    service: Mapping[str, Any], held: Held, draw: Draw, *, reuse_node_ports: bool = False
) -> dict[str, Any]:
    """The Service to create, with its cluster IP, node ports and health check port filled.

    Upstream's ``allocateCreate``: IP families first, then the cluster IP
    (requested or dynamic), then node ports (``initNodePorts``) and the
    health check port. Raises `ApiError` where upstream refuses.
    """
    result: dict[str, Any] = copy_json(dict(service))
    spec = result.get("spec")
    if not isinstance(spec, dict) or not _known_type(spec.get("type")):
        return result  # validation refuses it
    request = _Request(_name(service), held, draw, reuse_node_ports, _is_kubernetes(service))
    if spec["type"] != "ExternalName" and _cluster_ip_fields_consistent(spec):
        _init_ip_families(request, spec, None)
        if not _headless(spec):
            _allocate_cluster_ip(request, spec)
    if spec["type"] in _NODE_PORT_TYPES:
        _init_node_ports(request, spec)
    if _needs_health_check(spec):
        _allocate_health_check_port(request, spec)
    return result


def _known_type(value: Any) -> bool:
    """A type the allocator knows; anything else (a list, a typo) is validation's to refuse."""
    return isinstance(value, str) and value in _TYPES


def allocate_on_update(
    service: Mapping[str, Any],
    old: Mapping[str, Any],
    held: Held,
    draw: Draw,
    *,
    reuse_node_ports: bool = False,
) -> tuple[dict[str, Any], bool]:
    """The Service to store on update, and whether a dynamic allocation drew randomness.

    Upstream's ``beginUpdate`` then the strategy's PrepareForUpdate:
    ``patchAllocatedValues`` (what the client left out is carried over from
    the old object), ``normalizeClusterIPs``, ``allocateUpdate`` (a cluster
    IP when leaving ExternalName, node ports for NodePort and LoadBalancer,
    the health check port when it becomes needed), then
    ``dropTypeDependentFields``, which clears the values a type change made
    useless when the client kept them as they were. What is no longer held
    is released by the write itself. `held` must not include this Service.
    """
    result: dict[str, Any] = copy_json(dict(service))
    spec = result.get("spec")
    old_spec = _map(old.get("spec"))
    if not isinstance(spec, dict) or not _known_type(spec.get("type")):
        return result, False
    _patch_allocated_values(spec, old_spec)
    _normalize_cluster_ips(spec, old_spec)
    still_held = set(_node_ports(old_spec)) if old_spec.get("type") in _NODE_PORT_TYPES else set()
    old_health_check = old_spec.get("healthCheckNodePort")
    if _needs_health_check(old_spec) and _is_int(old_health_check) and old_health_check:
        still_held.add(old_health_check)
    request = _Request(
        _name(service), held, draw, reuse_node_ports, _is_kubernetes(service), frozenset(still_held)
    )
    if spec["type"] != "ExternalName" and _cluster_ip_fields_consistent(spec):
        _init_ip_families(request, spec, old_spec)
        if old_spec.get("type") == "ExternalName" and not _headless(spec):
            _allocate_cluster_ip(request, spec)
    if spec["type"] in _NODE_PORT_TYPES:
        _update_node_ports(request, spec, old_spec)
    if _needs_health_check(spec) and not _needs_health_check(old_spec):
        _allocate_health_check_port(request, spec)
    _drop_type_dependent_fields(result, old)
    return result, request.draws > 0


# -- one request's allocations --------------------------------------------------------------------


@attrs.define
class _Request:
    """The allocations of one request so far, on top of what the other Services hold.

    `still_held` are the ports the Service being updated holds until its
    update commits: a dynamic choice never hands them out again, as
    upstream releases them only after the write.
    """

    name: str
    held: Held
    draw: Draw
    reuse_node_ports: bool
    kubernetes_service: bool
    still_held: frozenset[int] = frozenset()
    taken: set[int] = attrs.field(factory=set)
    draws: int = 0

    def ip_busy(self, ip: int) -> bool:
        return ip in self.held.cluster_ips or (ip == _RESERVED_IP and not self.kubernetes_service)

    def port_busy(self, port: int) -> bool:
        return port in self.held.node_ports or port in self.still_held or port in self.taken

    def claim_port(self, port: Any) -> str | None:
        """Take a requested port; the reason it cannot be taken, or None."""
        if not _is_int(port) or not _FIRST_PORT <= port <= _LAST_PORT:
            return (
                "provided port is not in the valid range."
                f" The range of valid ports is {_FIRST_PORT}-{_LAST_PORT}"
            )
        if self.port_busy(port):
            return _ALREADY_ALLOCATED_PORT
        self.taken.add(port)
        return None

    def next_port(self) -> int | None:
        """A free port (upper band first), or None when the range is full."""
        purpose = f"nodePort/{self.draws}"
        self.draws += 1
        if self.reuse_node_ports and self.held.node_ports:
            others = sorted(self.held.node_ports)
            port = others[self.draw(f"{purpose}/reuse") % len(others)]
        else:
            at = _scan(
                lambda i: not self.port_busy(_FIRST_PORT + i),
                _PORT_COUNT,
                _PORT_OFFSET,
                self.draw,
                purpose,
            )
            if at is None:
                return None
            port = _FIRST_PORT + at
        self.taken.add(port)
        return port

    def next_ip(self) -> int | None:
        at = _scan(
            lambda i: not self.ip_busy(_FIRST_IP + i), _IP_COUNT, _IP_OFFSET, self.draw, "ip"
        )
        self.draws += 1
        return None if at is None else _FIRST_IP + at


def _scan(
    free: Callable[[int], bool], size: int, offset: int, draw: Draw, purpose: str
) -> int | None:
    """The first free offset from a random start in [offset, size), then in [0, offset)."""
    upper = size - offset
    if upper > 0:
        start = draw(f"{purpose}/upper") % upper
        for step in range(upper):
            at = offset + (start + step) % upper
            if free(at):
                return at
    if offset > 0:
        start = draw(f"{purpose}/lower") % offset
        for step in range(offset):
            at = (start + step) % offset
            if free(at):
                return at
    return None


# -- cluster IPs ----------------------------------------------------------------------------------


def _init_ip_families(
    request: _Request, spec: dict[str, Any], old_spec: Mapping[str, Any] | None
) -> None:
    """``initIPFamilyFields`` on a cluster configured with one IPv4 range.

    Infers ipFamilyPolicy (the old one on update; RequireDualStack for a
    headless Service without selector; else SingleStack) and ipFamilies, and
    refuses what needs a family or a second range this cluster lacks.
    """
    policy = spec.get("ipFamilyPolicy")
    if policy is None:
        if old_spec is not None and old_spec.get("ipFamilyPolicy") is not None:
            policy = old_spec["ipFamilyPolicy"]
        elif _headless(spec) and not spec.get("selector"):
            policy = "RequireDualStack"
        else:
            policy = "SingleStack"
        spec["ipFamilyPolicy"] = policy
    ips = _list(spec.get("clusterIPs"))
    families = list(_list(spec.get("ipFamilies")))
    causes: list[Cause] = []
    if policy == "SingleStack":
        for what, count in (("cluster IPs", len(ips)), ("IP families", len(families))):
            if count == 2:
                causes.append(
                    _invalid_value(
                        "spec.ipFamilyPolicy",
                        policy,
                        "must be 'RequireDualStack' or 'PreferDualStack' when multiple"
                        f" {what} are specified",
                    )
                )
    for i, ip in enumerate(ips):
        if ip == "None":
            break
        family = _family(ip)
        if i >= len(families):
            if family == "IPv4":
                families.append(family)
            else:
                causes.append(
                    _invalid_value(
                        f"spec.clusterIPs[{i}]", ips, f"{family} is not configured on this cluster"
                    )
                )
    if causes:
        raise errors.invalid("Service", request.name, causes)
    if _headless(spec) and not spec.get("selector"):
        families = families or ["IPv4"]
        if len(families) < 2 and policy != "SingleStack":
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families
        return
    if policy == "RequireDualStack":
        causes.append(
            _invalid_value(
                "spec.ipFamilyPolicy",
                policy,
                "this cluster is not configured for dual-stack services",
            )
        )
    for i, family in enumerate(families):
        if family != "IPv4":
            causes.append(
                _invalid_value(f"spec.ipFamilies[{i}]", family, "not configured on this cluster")
            )
    if causes:
        raise errors.invalid("Service", request.name, causes)
    spec["ipFamilies"] = families or ["IPv4"]


def _allocate_cluster_ip(request: _Request, spec: dict[str, Any]) -> None:
    """``allocClusterIPs``: the requested IP if it is free and in range, else a dynamic one."""
    ips = _list(spec.get("clusterIPs"))
    if ips:
        requested = ips[0]
        problem = _ip_problem(request, requested)
        if problem is not None:
            raise errors.invalid(
                "Service",
                request.name,
                [
                    _invalid_value(
                        "spec.clusterIPs", ips, f"failed to allocate IP {requested}: {problem}"
                    )
                ],
            )
        return
    ip = request.next_ip()
    if ip is None:
        raise _internal_error("failed to allocate a serviceIP: range is full")
    text = str(ipaddress.IPv4Address(ip))
    spec["clusterIP"] = text
    spec["clusterIPs"] = [text]


def _ip_problem(request: _Request, requested: str) -> str | None:
    """Why the requested IP cannot be allocated (the MetaAllocator's errors), or None."""
    address = ipaddress.ip_address(requested)
    if address not in _NETWORK:
        return _OTHER_NETWORK
    value = int(address)
    if not _FIRST_IP <= value < _FIRST_IP + _IP_COUNT:
        return (
            f"the provided IP ({address}) is not in the valid range."
            f" The range of valid IPs is {SERVICE_CLUSTER_IP_RANGE}"
        )
    if request.ip_busy(value):
        return _ALREADY_ALLOCATED_IP
    return None


def _cluster_ip_fields_consistent(spec: Mapping[str, Any]) -> bool:
    """Whether the cluster IP fields pass ``ValidateServiceClusterIPsRelatedFields``.

    Upstream runs that validation before allocating and answers its errors
    alone; here allocation is skipped and validation, which checks the same
    rules, answers them with the object's other errors.
    """
    cluster_ip = _str(spec.get("clusterIP"))
    ips = _list(spec.get("clusterIPs"))
    if (cluster_ip and (not ips or ips[0] != cluster_ip)) or (not cluster_ip and ips):
        return False
    families = _list(spec.get("ipFamilies"))
    if any(f not in _FAMILIES for f in families) or len(set(families)) != len(families):
        return False
    if spec.get("ipFamilyPolicy") not in (None, *_POLICIES) or len(ips) > 2:
        return False
    if ips == ["None"]:
        return True
    if not all(isinstance(ip, str) and _family(ip) for ip in ips):
        return False
    ip_families = [_family(ip) for ip in ips]
    if len(set(ip_families)) != len(ip_families):
        return False
    return all(f == i for f, i in zip(families, ip_families, strict=False))


def _normalize_cluster_ips(spec: dict[str, Any], old_spec: Mapping[str, Any]) -> None:
    """``normalizeClusterIPs`` on update: keep clusterIP and clusterIPs in step."""
    old_ip, new_ip = _str(old_spec.get("clusterIP")), _str(spec.get("clusterIP"))
    old_ips = _list(old_spec.get("clusterIPs"))
    if old_ips and not _list(spec.get("clusterIPs")) and old_ip == new_ip:
        spec["clusterIPs"] = list(old_ips)
    if old_ip == new_ip or _list(spec.get("clusterIPs")) != old_ips:
        return
    if old_ip and not new_ip:
        spec.pop("clusterIPs", None)
    else:
        spec["clusterIPs"] = [new_ip]


# -- node ports -----------------------------------------------------------------------------------


def _init_node_ports(request: _Request, spec: dict[str, Any]) -> None:
    """``initNodePorts``: one node port per service port number, TCP and UDP alike.

    Ports with the same number share a node port (the first one requested
    among them, else a dynamic one); a LoadBalancer with
    allocateLoadBalancerNodePorts false gets only the ports it asks for.
    """
    allocate = _should_allocate_node_ports(spec)
    ports = _port_dicts(spec)
    by_number: dict[Any, int] = {}
    for i, port in enumerate(ports):
        node_port = port.get("nodePort")
        if _unset(node_port) and not allocate:
            continue
        number = port.get("port")
        number_key = number if _is_int(number) else None
        shared = by_number.get(number_key) if number_key is not None else None
        if shared is None:
            requested = _requested_node_port(number_key, ports) if number_key is not None else None
            if requested is None and not _unset(node_port):
                requested = node_port
            if requested is not None:
                _claim(request, requested, i)
                port["nodePort"] = requested
            else:
                port["nodePort"] = _next_port(
                    request, "failed to allocate a nodePort: range is full"
                )
            if number_key is not None:
                by_number[number_key] = port["nodePort"]
        elif node_port != shared:
            if _unset(node_port):
                port["nodePort"] = shared
            else:
                _claim(request, node_port, i)


def _update_node_ports(
    request: _Request, spec: dict[str, Any], old_spec: Mapping[str, Any]
) -> None:
    """``updateNodePorts``: keep the old ports, claim new requests, allocate the missing."""
    allocate = _should_allocate_node_ports(spec)
    old_numbers = set(_node_ports(old_spec))
    claimed: set[Any] = set()
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(_port_dicts(spec)):
        node_port = port.get("nodePort")
        if _unset(node_port) and not allocate:
            continue
        if not _unset(node_port):
            key = _hashable(node_port)
            if key not in old_numbers and key not in claimed:
                _claim(request, node_port, i)
                claimed.add(key)
        else:
            node_port = _next_port(request, "failed to allocate a nodePort: range is full")
            port["nodePort"] = node_port
        pair = (_hashable(port.get("protocol")), _hashable(node_port))
        if pair in seen:
            raise ApiError(500, "Unknown", f"duplicate nodePort: {{{pair[0]} {node_port}}}")
        seen.add(pair)


def _allocate_health_check_port(request: _Request, spec: dict[str, Any]) -> None:
    """``allocHealthCheckNodePort``: its failures are internal errors upstream, not 422s."""
    requested = spec.get("healthCheckNodePort")
    if _unset(requested):
        port = request.next_port()
        if port is None:
            raise _internal_error("failed to allocate a HealthCheck NodePort 0: range is full")
        spec["healthCheckNodePort"] = port
        return
    problem = request.claim_port(requested)
    if problem is not None:
        raise _internal_error(
            f"failed to allocate requested HealthCheck NodePort {requested}: {problem}"
        )


def _claim(request: _Request, port: Any, index: int) -> None:
    problem = request.claim_port(port)
    if problem is not None:
        raise errors.invalid(
            "Service",
            request.name,
            [_invalid_value(f"spec.ports[{index}].nodePort", port, problem)],
        )


def _next_port(request: _Request, full: str) -> int:
    port = request.next_port()
    if port is None:
        raise _internal_error(full)
    return port


def _requested_node_port(number: Any, ports: list[dict[str, Any]]) -> Any:
    """``findRequestedNodePort``: the first node port asked for on a port with this number."""
    for port in ports:
        if port.get("port") == number and not _unset(port.get("nodePort")):
            return port["nodePort"]
    return None


def _should_allocate_node_ports(spec: Mapping[str, Any]) -> bool:
    if spec.get("type") == "NodePort":
        return True
    return (
        spec.get("type") == "LoadBalancer"
        and spec.get("allocateLoadBalancerNodePorts") is not False
    )


# -- what an update carries over and what it drops ----------------------------------------------


def _patch_allocated_values(spec: dict[str, Any], old_spec: Mapping[str, Any]) -> None:
    """``patchAllocatedValues``: values the client left out are taken from the old object.

    Node ports are matched by port name, and only where the old value is not
    already used by a port that states it.
    """
    if old_spec.get("type") != "ExternalName" and spec.get("type") != "ExternalName":
        if not _str(spec.get("clusterIP")) and _str(old_spec.get("clusterIP")):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not _list(spec.get("clusterIPs")) and _list(old_spec.get("clusterIPs")):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if old_spec.get("type") in _NODE_PORT_TYPES and spec.get("type") in _NODE_PORT_TYPES:
        used = set(_node_ports(old_spec)) & set(_node_ports(spec)) | {0}  # 0: none to carry
        by_name = {_str(p.get("name")): p.get("nodePort") for p in _port_dicts(old_spec)}
        for port in _port_dicts(spec):
            old_value = by_name.get(_str(port.get("name")))
            if _unset(port.get("nodePort")) and _is_int(old_value) and old_value not in used:
                port["nodePort"] = old_value
    if _needs_health_check(old_spec) and _needs_health_check(spec):
        old_value = old_spec.get("healthCheckNodePort")
        if _unset(spec.get("healthCheckNodePort")) and not _unset(old_value):
            spec["healthCheckNodePort"] = old_value


def _drop_type_dependent_fields(service: dict[str, Any], old: Mapping[str, Any]) -> None:
    """``dropTypeDependentFields``: a type change clears what the new type does not use.

    A field is cleared only when the client left it as it was, so a changed
    value still meets validation.
    """
    spec = service["spec"]
    old_spec = _map(old.get("spec"))
    old_type, new_type = old_spec.get("type"), spec.get("type")
    if old_type != "ExternalName" and new_type == "ExternalName":
        if _same(spec, old_spec, "clusterIP", "") and _same(spec, old_spec, "clusterIPs", []):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if _same(spec, old_spec, "ipFamilies", []):
            spec.pop("ipFamilies", None)
        if _same(spec, old_spec, "ipFamilyPolicy", None):
            spec.pop("ipFamilyPolicy", None)
    leaves_node_ports = old_type in _NODE_PORT_TYPES and new_type not in _NODE_PORT_TYPES
    if leaves_node_ports and set(_node_ports(spec)) <= set(_node_ports(old_spec)):
        for port in _port_dicts(spec):
            port.pop("nodePort", None)
    if (
        _needs_health_check(old_spec)
        and not _needs_health_check(spec)
        and _same(spec, old_spec, "healthCheckNodePort", 0)
    ):
        spec.pop("healthCheckNodePort", None)
    if old_type == "LoadBalancer" and new_type != "LoadBalancer":
        allocate, old_allocate = (
            spec.get("allocateLoadBalancerNodePorts"),
            old_spec.get("allocateLoadBalancerNodePorts"),
        )
        if allocate is not None and allocate == old_allocate:
            spec.pop("allocateLoadBalancerNodePorts", None)
        if _same(spec, old_spec, "loadBalancerClass", None):
            spec.pop("loadBalancerClass", None)
    if leaves_node_ports and _same(spec, old_spec, "externalTrafficPolicy", ""):
        spec.pop("externalTrafficPolicy", None)
    status = service.get("status")
    if new_type != "LoadBalancer" and isinstance(status, dict) and status.get("loadBalancer"):
        status["loadBalancer"] = {}


# -- readers and answers --------------------------------------------------------------------------


def _needs_health_check(spec: Mapping[str, Any]) -> bool:
    """``NeedsHealthCheck``: a LoadBalancer that keeps external traffic on the node."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _headless(spec: Mapping[str, Any]) -> bool:
    ips = _list(spec.get("clusterIPs"))
    return bool(ips) and ips[0] == "None"


def _node_ports(spec: Mapping[str, Any]) -> list[int]:
    """``collectServiceNodePorts``: the node ports the ports state (integers only)."""
    return [
        p["nodePort"] for p in _port_dicts(spec) if _is_int(p.get("nodePort")) and p["nodePort"]
    ]


def _port_dicts(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p for p in _list(spec.get("ports")) if isinstance(p, dict)]


def _unset(value: Any) -> bool:
    """A port field that is absent or zero, as Go's int32 zero value."""
    return value is None or (_is_int(value) and not value)


def _same(spec: Mapping[str, Any], old_spec: Mapping[str, Any], key: str, empty: Any) -> bool:
    new, old = spec.get(key), old_spec.get(key)
    return bool((empty if new is None else new) == (empty if old is None else old))


def _family(ip: Any) -> str:
    """The IP family of an address ("" when it is not one)."""
    if not isinstance(ip, str):
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    return "IPv4" if address.version == 4 else "IPv6"


def _ipv4(value: Any) -> int | None:
    """A dotted-quad IPv4 address as an integer, parsed as `ipaddress` does, or None.

    Every Service write reads every stored Service's IPs, so this avoids
    building an `ipaddress` object for each.
    """
    if not isinstance(value, str):
        return None
    parts = value.split(".")
    if len(parts) != 4:
        return None
    number = 0
    for part in parts:
        if not (part.isascii() and part.isdigit() and len(part) <= 3):
            return None
        if (part[0] == "0" and part != "0") or int(part) > 255:
            return None
        number = number << 8 | int(part)
    return number


def _is_kubernetes(service: Mapping[str, Any]) -> bool:
    meta = _map(service.get("metadata"))
    return meta.get("namespace") == "default" and meta.get("name") == "kubernetes"


def _name(service: Mapping[str, Any]) -> str:
    return _str(_map(service.get("metadata")).get("name"))


def _invalid_value(field: str, value: Any, detail: str) -> Cause:
    """A ``field.Invalid`` cause, its bad value printed as validation prints it."""
    if isinstance(value, (list, dict, str)):
        shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        shown = str(value)
    return Cause(field, f"Invalid value: {shown}: {detail}")


def _internal_error(message: str) -> ApiError:
    """``errors.NewInternalError``: a 500 whose only cause is the message."""
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _hashable(value: Any) -> Any:
    """A port value as a set member: unhashable garbage (a list) becomes its JSON text."""
    return value if isinstance(value, (int, str, float, bool)) or value is None else repr(value)
