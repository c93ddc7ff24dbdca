"""The legacy Endpoints controller (pkg/controller/endpoint), as a level-triggered reducer.

SEMANTICS §7. For each Service with a selector (and not ExternalName) it
keeps one Endpoints object of the same name, labelled like the Service and
owned by nobody: the pods the selector matches that have an IP and are not
terminal go in `addresses` when Ready (or when the Service publishes
not-ready addresses) and in `notReadyAddresses` otherwise; terminating
pods are left out unless the Service publishes not-ready addresses. Each
Service port resolves per pod (a named targetPort through the pod's
container ports), and the addresses are repacked into subsets as
upstream's RepackSubsets does: pods offering the same ports share a
subset. Beyond 1000 addresses the object is truncated and annotated.

When a Service it knew disappears it deletes the Endpoints; after a
restart it deletes every Endpoints left without a Service, as
checkLeftoverEndpoints does. The last-change-trigger-time annotation is
not written.

A view that has not caught up with the controller's own update is
recognised by the resourceVersion it updated from (staleEndpointsTracker)
and skipped; refused writes wait out the work queue's back-off (5 ms
doubling to 1000 s) before the Service is synced again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from pyrsistent import PMap, pmap

from reference.controllers.base import Reconcile, View
from reference.controllers.servicepods import (
    HEADLESS_LABEL,
    Retry,
    backed_off,
    find_port,
    has_cluster_ip,
    is_ipv6,
    is_ready,
    managed,
    namespace_terminating,
    pod_ips,
    selected_pods,
    service_key,
    should_be_in_endpoints,
    should_set_hostname,
)
from reference.objects import copy_json, meta

__all__ = [
    "LEADER_ANNOTATION",
    "MAX_CAPACITY",
    "OVER_CAPACITY_ANNOTATION",
    "EndpointsController",
    "EndpointsState",
    "desired_subsets",
    "endpoints_write",
]

#: maxCapacity: the most addresses one Endpoints object holds.
MAX_CAPACITY = 1000
#: v1.EndpointsOverCapacity, set to "truncated" on a truncated Endpoints.
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
#: v1.EndpointsLastChangeTriggerTime, which the reference never writes (and clears).
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
#: resourcelock.LeaderElectionRecordAnnotationKey: such Endpoints are no Service's.
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
#: workqueue.DefaultControllerRateLimiter's per-item exponential back-off.
_BASE_DELAY = 0.005
_MAX_DELAY = 1000.0

Obj = Mapping[str, Any]


@attrs.frozen
class _Sent:
    """One write of the last pass: for which Service, which op, and the resourceVersion read."""

    key: str
    op: str
    resource_version: str = ""


@attrs.frozen
class EndpointsState:
    #: Service key -> the resourceVersion its Endpoints was last updated from
    #: (staleEndpointsTracker).
    stale: PMap[str, str] = attrs.field(factory=pmap)
    retries: PMap[str, Retry] = attrs.field(factory=pmap)
    #: The Service keys the last pass saw; None right after a start, when leftovers are swept.
    known: frozenset[str] | None = None
    sent: tuple[_Sent, ...] = ()


@attrs.frozen
class EndpointsController:
    """upstream's endpoint Controller; `keeps_terminating=True` is the kubernetes#54723 mutant."""

    name: str = "endpoints"
    relists_on_restart: ClassVar[bool] = True
    reads_answers: ClassVar[bool] = True
    #: Treat a terminating pod like a live one: it stays in the ready addresses while Ready.
    keeps_terminating: bool = False
    #: Look a named targetPort up per pod; False (a mutant) takes the Service's own port number
    #: for a name, as if the targetPort were unset.
    resolves_named_ports: bool = True

    def initial_state(self) -> EndpointsState:
        return EndpointsState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        st: EndpointsState = state if state is not None else EndpointsState()
        stale, retries, failed, succeeded = _observe(st, view.answers)
        retries = backed_off(retries, sorted(failed), now, _BASE_DELAY, _MAX_DELAY)
        for key in succeeded - failed:
            retries = retries.discard(key)
        services = {service_key(s): s for s in view.objects("Service")}
        current = {service_key(e): e for e in view.objects("Endpoints", versioned=True)}
        pods_by_namespace: dict[str, list[Obj]] = {}
        for pod in view.objects("Pod"):
            pods_by_namespace.setdefault(meta(pod).get("namespace", ""), []).append(pod)
        writes: list[dict[str, Any]] = []
        sent: list[_Sent] = []
        wakes: list[float] = []

        def waiting(key: str) -> bool:
            retry = retries.get(key)
            if retry is not None and now < retry.at:
                wakes.append(retry.at)
                return True
            return False

        if st.known is None:
            gone = {k for k, e in current.items() if k not in services and not _leader(e)}
        else:
            gone = {k for k in st.known if k not in services and k in current}
        for key in sorted(gone):
            if not waiting(key):
                writes.append(_delete(current[key]))
                sent.append(_Sent(key, "delete"))
        for key in list(stale):
            if key not in services:
                stale = stale.discard(key)
        for key in list(retries):
            if key not in services and key not in gone:
                retries = retries.discard(key)
        synced: set[str] = set()
        for key in sorted(services):
            service = services[key]
            if not managed(service) or waiting(key):
                continue
            existing = current.get(key)
            if existing is not None and stale.get(key) == meta(existing).get("resourceVersion"):
                continue
            pods = pods_by_namespace.get(meta(service).get("namespace", ""), [])
            write = endpoints_write(
                service,
                selected_pods(service, pods),
                existing,
                keeps_terminating=self.keeps_terminating,
                resolves_named_ports=self.resolves_named_ports,
            )
            if write is None:
                synced.add(key)
                continue
            writes.append(write)
            rv = str(meta(existing).get("resourceVersion", "")) if existing else ""
            sent.append(_Sent(key, str(write["op"]), rv))
        for key in synced & set(retries):
            retries = retries.discard(key)
        known = frozenset(services) | {k for k in gone if k in current}
        new_state = EndpointsState(stale, retries, known, tuple(sent))
        return Reconcile(tuple(writes), new_state, min(wakes) if wakes else None)


def endpoints_write(
    service: Obj,
    pods: Sequence[Obj],
    existing: Obj | None,
    *,
    keeps_terminating: bool = False,
    resolves_named_ports: bool = True,
) -> dict[str, Any] | None:
    """syncService for one Service: the create or update it needs, or None when in sync."""
    subsets = desired_subsets(
        service,
        pods,
        keeps_terminating=keeps_terminating,
        resolves_named_ports=resolves_named_ports,
    )
    service_labels = dict(meta(service).get("labels") or {})
    if existing is not None:
        current_labels = {
            k: v for k, v in (meta(existing).get("labels") or {}).items() if k != HEADLESS_LABEL
        }
        if (
            _normal_subsets(existing.get("subsets")) == _normal_subsets(subsets)
            and current_labels == service_labels
            and _capacity_annotation_correct(existing)
        ):
            return None
        new: dict[str, Any] = copy_json(existing)
    else:
        new = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": meta(service)["name"],
                "namespace": meta(service).get("namespace", ""),
            },
        }
    new["subsets"] = subsets
    metadata = new["metadata"]
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(TRIGGER_TIME_ANNOTATION, None)
    if _truncate(new):
        annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY_ANNOTATION, None)
    new_labels = dict(service_labels)
    if has_cluster_ip(service):
        new_labels.pop(HEADLESS_LABEL, None)
    else:
        new_labels[HEADLESS_LABEL] = ""
    _put(metadata, "labels", new_labels)
    _put(metadata, "annotations", annotations)
    if not new["subsets"]:
        del new["subsets"]
    if existing is None:
        return {"op": "create", "object": new}
    if new == existing:
        return None  # an update the API server would answer without writing
    return {"op": "update", "object": new}


def _observe(
    st: EndpointsState, answers: Sequence[Mapping[str, Any]]
) -> tuple[PMap[str, str], PMap[str, Retry], set[str], set[str]]:
    """The answers to the last pass's writes: stale versions to skip, failed and synced keys."""
    stale, retries = st.stale, st.retries
    failed: set[str] = set()
    succeeded: set[str] = set()
    for sent, answer in zip(st.sent, answers, strict=False):
        if answer.get("ok"):
            succeeded.add(sent.key)
            if sent.op == "update":
                written = (answer.get("object") or {}).get("metadata") or {}
                if str(written.get("resourceVersion", "")) != sent.resource_version:
                    stale = stale.set(sent.key, sent.resource_version)
            continue
        code = (answer.get("status") or {}).get("code")
        if sent.op == "delete" and code == 404:
            succeeded.add(sent.key)
        elif sent.op == "create" and namespace_terminating(answer):
            retries = retries.discard(sent.key)
        else:
            failed.add(sent.key)
    return stale, retries, failed, succeeded


def _leader(endpoints: Obj) -> bool:
    return LEADER_ANNOTATION in (meta(endpoints).get("annotations") or {})


def _delete(endpoints: Obj) -> dict[str, Any]:
    m = meta(endpoints)
    return {"op": "delete", "kind": "Endpoints", "namespace": m["namespace"], "name": m["name"]}


def _put(metadata: dict[str, Any], field: str, value: Mapping[str, str]) -> None:
    """Set a metadata map, leaving it out when empty as upstream's omitempty serialisation does."""
    if value:
        metadata[field] = dict(value)
    else:
        metadata.pop(field, None)


# -- subsets ---------------------------------------------------------------------------------


def _address_for(service: Obj, pod: Obj) -> dict[str, Any] | None:
    """podToEndpointAddressForService: the pod IP of the Service's family, with its references.

    The family is the Service's first ipFamily, else its clusterIP's, else
    (headless, or before families were defaulted) the pod's own IP's.
    """
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or ()
    cluster_ip = str(spec.get("clusterIP") or "")
    status = pod.get("status") or {}
    if families:
        v6 = families[0] == "IPv6"
    elif cluster_ip and cluster_ip != "None":
        v6 = is_ipv6(cluster_ip)
    else:
        v6 = is_ipv6(str(status.get("podIP") or ""))
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == v6), None)
    if ip is None:
        return None
    m = meta(pod)
    address: dict[str, Any] = {"ip": ip}
    if should_set_hostname(pod, service):
        address["hostname"] = (pod.get("spec") or {})["hostname"]
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": m.get("namespace", ""),
        "name": m["name"],
        "uid": m.get("uid", ""),
    }
    return address


def _endpoint_port(service_port: Obj, number: int) -> dict[str, Any]:
    """endpointPortFromServicePort: the Service port's name, protocol and appProtocol."""
    port: dict[str, Any] = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol") is not None:
        port["appProtocol"] = service_port["appProtocol"]
    return port


def desired_subsets(
    service: Obj,
    pods: Sequence[Obj],
    *,
    keeps_terminating: bool = False,
    resolves_named_ports: bool = True,
) -> list[dict[str, Any]]:
    """The subsets syncService computes for these selected pods, repacked and sorted."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    ports: Sequence[Obj] = spec.get("ports") or ()
    entries: list[tuple[bool, dict[str, Any], dict[str, Any] | None]] = []
    for pod in pods:
        if not should_be_in_endpoints(pod, publish or keeps_terminating):
            continue
        address = _address_for(service, pod)
        if address is None:
            continue
        ready = publish or is_ready(pod)
        if not ports:
            if not has_cluster_ip(service):
                entries.append((ready, address, None))
            continue
        for service_port in ports:
            number = find_port(pod, service_port)
            if not resolves_named_ports and isinstance(service_port.get("targetPort"), str):
                number = int(service_port.get("port") or 0)
            if number is not None:
                entries.append((ready, address, _endpoint_port(service_port, number)))
    return _repack(entries)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _address_order(address: Obj) -> tuple[bytes, str]:
    """LessEndpointAddress: by IP bytes, then targetRef uid."""
    return (str(address["ip"]).encode(), str((address.get("targetRef") or {}).get("uid", "")))


def _repack(entries: Sequence[tuple[bool, dict[str, Any], dict[str, Any] | None]]) -> list[Any]:
    """RepackSubsets: one subset per set of addresses offering the same ports.

    An address is keyed by IP and pod uid; on any one port, not ready wins
    over ready. Ports map to the set of (address, ready) offering them, and
    ports with equal sets share a subset. An entry without a port (a
    headless Service without ports) stands for a sentinel port that keeps
    its address. Addresses are ordered as upstream sorts them; ports and
    subsets by their JSON text (upstream orders those by hash).
    """
    addresses: dict[tuple[str, str], dict[str, Any]] = {}
    by_port: dict[str, dict[tuple[str, str], bool]] = {}
    port_of: dict[str, dict[str, Any] | None] = {}
    for ready, address, port in entries:
        key = (str(address["ip"]), str((address.get("targetRef") or {}).get("uid", "")))
        addresses.setdefault(key, address)
        port_key = _text(port) if port is not None else ""
        port_of[port_key] = port
        offered = by_port.setdefault(port_key, {})
        if offered.get(key, True):
            offered[key] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[str]] = {}
    for port_key, offered in by_port.items():
        groups.setdefault(frozenset(offered.items()), []).append(port_key)
    subsets: list[dict[str, Any]] = []
    for members, port_keys in groups.items():
        subset: dict[str, Any] = {}
        up = sorted((addresses[k] for k, r in members if r), key=_address_order)
        down = sorted((addresses[k] for k, r in members if not r), key=_address_order)
        if up:
            subset["addresses"] = [copy_json(a) for a in up]
        if down:
            subset["notReadyAddresses"] = [copy_json(a) for a in down]
        ports = sorted(_text(p) for k in port_keys if (p := port_of[k]) is not None)
        if ports:
            subset["ports"] = [json.loads(p) for p in ports]
        subsets.append(subset)
    return sorted(subsets, key=_text)


def _normal_subsets(subsets: Any) -> list[Any]:
    """Subsets for comparison: empty fields dropped and targetRef resourceVersions ignored."""
    out: list[Any] = []
    for subset in subsets or ():
        normal: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            items = []
            for address in subset.get(field) or ():
                a = {k: v for k, v in address.items() if v not in (None, "")}
                if isinstance(a.get("targetRef"), Mapping):
                    a["targetRef"] = {
                        k: v
                        for k, v in a["targetRef"].items()
                        if k != "resourceVersion" and v not in (None, "")
                    }
                items.append(a)
            if items:
                normal[field] = items
        ports = [
            {k: v for k, v in p.items() if v not in (None, "")} for p in subset.get("ports") or ()
        ]
        if ports:
            normal["ports"] = ports
        out.append(normal)
    return out


def _count(subsets: Any) -> int:
    return sum(
        len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets or ()
    )


def _capacity_annotation_correct(endpoints: Obj) -> bool:
    """capacityAnnotationSetCorrectly: within capacity and not annotated as truncated."""
    if _count(endpoints.get("subsets")) > MAX_CAPACITY:
        return False
    return OVER_CAPACITY_ANNOTATION not in (meta(endpoints).get("annotations") or {})


def _truncate(endpoints: dict[str, Any]) -> bool:
    """truncateEndpoints: cut to MAX_CAPACITY addresses, ready ones first, proportionally.

    When the ready addresses alone exceed capacity, every subset keeps its
    share (rounded up, within what is left) of ready addresses and no
    not-ready ones; otherwise the not-ready addresses are cut the same way.
    """
    subsets = endpoints.get("subsets") or []
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    room = limit
    for subset in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        items = subset.get(field) or []
        share = min(math.ceil(len(items) / total * limit), room)
        kept = items[:share]
        if kept:
            subset[field] = kept
        else:
            subset.pop(field, None)
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        room -= len(kept)
    endpoints["subsets"] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return True
