"""The EndpointSlice controller (pkg/controller/endpointslice, k8s.io/endpointslice), as a reducer.

SEMANTICS §7. For each Service with a selector (and not ExternalName) it
keeps the Service's EndpointSlices, labelled `kubernetes.io/service-name`
and `endpointslice.kubernetes.io/managed-by`, owned by the Service (the
garbage collector deletes them with it), one group per address type and
per distinct port mapping (pods resolving a named targetPort differently
land in different slices), at most `max_endpoints_per_slice` endpoints a
slice. Terminating pods are included: each endpoint says `ready` (Ready
and not terminating, or the Service publishes not-ready addresses),
`serving` (Ready) and `terminating`. A Service with no endpoints keeps one
empty placeholder slice.

Reconciling follows upstream's reconciler: existing slices keep the
endpoints still desired, updated in place; slices left empty are deleted;
remaining endpoints fill the slices being updated (fullest first), then
the unchanged slice they fit best, then new slices; a create paired with
a delete becomes an update of the slice being deleted. Where upstream
iterates a Go map, this iterates in sorted order (slices by name,
endpoints by pod name), so the packing is deterministic. Zone and node
hints follow `spec.trafficDistribution`; the topology-mode annotation's
proportional hints are not modelled.

Stale caches: the controller remembers the generation of every slice it
wrote and which ones it deleted (upstream's EndpointSliceTracker), and
does not sync a Service while its view shows an older generation, a slice
it deleted, or lacks a slice it created, so a lagging view never makes it
create a slice twice. Refused writes wait out the queue's back-off (1 s
doubling to 1000 s).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from pyrsistent import PMap, pmap

from reference.controllers.base import Reconcile, View
from reference.controllers.servicepods import (
    HEADLESS_LABEL,
    ZONE_LABEL,
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
from reference.objects import copy_json, deleting, labels, meta, owner_refs

__all__ = [
    "CONTROLLER_NAME",
    "MANAGED_BY_LABEL",
    "MAX_ENDPOINTS_PER_SLICE",
    "SERVICE_NAME_LABEL",
    "EndpointSliceController",
    "EndpointSliceState",
]

#: kube-controller-manager --max-endpoints-per-slice.
MAX_ENDPOINTS_PER_SLICE = 100
#: discovery.LabelServiceName and discovery.LabelManagedBy.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
#: controllerQualifiedName, the managed-by value of this controller's slices.
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
#: The annotations that ask for topology-aware hints instead of trafficDistribution.
_TOPOLOGY_ANNOTATIONS = (
    "service.kubernetes.io/topology-aware-hints",
    "service.kubernetes.io/topology-mode",
)
_TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")
#: The tracker's mark for a slice the controller deleted (deletionExpected).
_DELETED = -1
#: The service queue's per-item back-off (defaultSyncBackOff, maxSyncBackOff).
_BASE_DELAY = 1.0
_MAX_DELAY = 1000.0

Obj = Mapping[str, Any]


@attrs.frozen
class Tracked:
    """A slice the controller wrote: its generation then (or deleted), and the revision after it."""

    generation: int
    revision: int


@attrs.frozen
class _Sent:
    key: str
    op: str
    uid: str = ""


@attrs.frozen
class EndpointSliceState:
    #: Service key -> slice uid -> what the controller last wrote (EndpointSliceTracker).
    tracker: PMap[str, PMap[str, Tracked]] = attrs.field(factory=pmap)
    #: Service key -> the uid its tracked slices were written for.
    service_uids: PMap[str, str] = attrs.field(factory=pmap)
    retries: PMap[str, Retry] = attrs.field(factory=pmap)
    sent: tuple[_Sent, ...] = ()


@attrs.frozen
class EndpointSliceController:
    """upstream's EndpointSlice Controller and Reconciler.

    `keeps_terminating=True` is the kubernetes#54723 mutant (terminating
    pods stay ready); `tracks_slices=False` drops the EndpointSliceTracker,
    the duplicate slices of kubernetes#92928.
    """

    name: str = "endpointslice"
    relists_on_restart: ClassVar[bool] = True
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE
    #: Treat a terminating pod like a live one: `ready` stays true while it is Ready.
    keeps_terminating: bool = False
    #: Put terminating pods in slices (EndpointSliceTerminatingCondition, GA in 1.26); False is
    #: the behaviour before it, a mutant: slices drop pods the moment they start terminating.
    includes_terminating: bool = True
    #: Remember what was written (EndpointSliceTracker); without it the controller keeps no
    #: memory of its writes at all, and syncs once per view as an event-driven one would.
    tracks_slices: bool = True

    @property
    def reads_answers(self) -> bool:
        """Answers feed the tracker and the retries."""
        return self.tracks_slices

    def initial_state(self) -> EndpointSliceState:
        return EndpointSliceState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        st: EndpointSliceState = state if state is not None else EndpointSliceState()
        all_slices = list(view.objects("EndpointSlice", versioned=True))
        tracker, failed, succeeded = _observe(st, view.answers, view.revision, all_slices)
        retries = st.retries
        for key in failed:
            retries = backed_off(retries, [key], now, _BASE_DELAY, _MAX_DELAY)
        for key in succeeded - failed:
            retries = retries.discard(key)
        services = {service_key(s): s for s in view.objects("Service")}
        uids = st.service_uids
        for key in set(tracker) | set(uids) | set(retries):
            if key not in services:
                tracker, uids, retries = (
                    tracker.discard(key),
                    uids.discard(key),
                    retries.discard(key),
                )
        nodes = {meta(n)["name"]: n for n in view.objects("Node")}
        pods_by_namespace: dict[str, list[Obj]] = {}
        for pod in view.objects("Pod"):
            pods_by_namespace.setdefault(meta(pod).get("namespace", ""), []).append(pod)
        slices_by_service: dict[str, list[Obj]] = {}
        for s in all_slices:
            if labels(s).get(MANAGED_BY_LABEL) == CONTROLLER_NAME and not deleting(s):
                key = f"{meta(s).get('namespace', '')}/{labels(s).get(SERVICE_NAME_LABEL, '')}"
                slices_by_service.setdefault(key, []).append(s)
        writes: list[dict[str, Any]] = []
        sent: list[_Sent] = []
        wakes: list[float] = []
        for key in sorted(services):
            service = services[key]
            if not managed(service):
                continue
            retry = retries.get(key)
            if retry is not None and now < retry.at:
                wakes.append(retry.at)
                continue
            existing = sorted(slices_by_service.get(key, []), key=lambda s: str(meta(s)["name"]))
            if uids.get(key) != meta(service)["uid"]:
                tracker = tracker.discard(key)
                uids = uids.set(key, meta(service)["uid"])
            if self.tracks_slices and _stale(tracker.get(key, pmap()), existing):
                continue
            pods = selected_pods(service, pods_by_namespace.get(meta(service)["namespace"], []))
            requests = self._reconcile(service, pods, existing, nodes)
            if not requests:
                retries = retries.discard(key)
            for op, obj in requests:
                writes.append(_request(op, obj))
                sent.append(_Sent(key, op, str(meta(obj).get("uid", "")) if op == "delete" else ""))
        if not self.tracks_slices:
            return Reconcile(tuple(writes), st, min(wakes) if wakes else None)
        new_state = EndpointSliceState(tracker, uids, retries, tuple(sent))
        return Reconcile(tuple(writes), new_state, min(wakes) if wakes else None)

    # -- the reconciler ------------------------------------------------------------------------

    def _reconcile(
        self,
        service: Obj,
        pods: Sequence[Obj],
        existing: Sequence[Obj],
        nodes: Mapping[str, Obj],
    ) -> list[tuple[str, dict[str, Any]]]:
        """Reconcile: per supported address type, then delete slices of other address types."""
        types = _address_types(service)
        requests: list[tuple[str, dict[str, Any]]] = []
        for address_type in types:
            mine = [s for s in existing if s.get("addressType") == address_type]
            requests += self._by_address_type(service, pods, mine, nodes, address_type)
        requests += [("delete", dict(s)) for s in existing if s.get("addressType") not in types]
        return requests

    def _by_address_type(
        self,
        service: Obj,
        pods: Sequence[Obj],
        existing: Sequence[Obj],
        nodes: Mapping[str, Obj],
        address_type: str,
    ) -> list[tuple[str, dict[str, Any]]]:
        """reconcileByAddressType: group by port mapping, add a placeholder, hints, finalize."""
        to_create: list[dict[str, Any]] = []
        to_update: list[dict[str, Any]] = []
        to_delete: list[dict[str, Any]] = []
        existing_by_ports: dict[str, list[Obj]] = {}
        for s in existing:
            if _owned_by(s, service):
                existing_by_ports.setdefault(_port_map_key(s.get("ports") or ()), []).append(s)
            else:
                to_delete.append(dict(s))
        desired_ports: dict[str, list[dict[str, Any]]] = {}
        desired: dict[str, dict[str, dict[str, Any]]] = {}
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        for pod in pods:
            if not should_be_in_endpoints(pod, self.includes_terminating):
                continue
            ports = _endpoint_ports(service, pod)
            port_key = _port_map_key(ports)
            desired_ports.setdefault(port_key, ports)
            endpoints = desired.setdefault(port_key, {})
            node = nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
            if node is None and not publish:
                continue  # upstream skips the pod and retries the Service until the node shows up
            endpoint = self._endpoint(pod, node, service, address_type)
            if endpoint["addresses"]:
                endpoints[_endpoint_hash(endpoint)] = endpoint
        for port_key in sorted(desired):
            created, updated, deleted = self._by_port_mapping(
                service,
                existing_by_ports.get(port_key, []),
                desired[port_key],
                desired_ports[port_key],
                address_type,
            )
            to_create += created
            to_update += updated
            to_delete += deleted
        for port_key in sorted(existing_by_ports):
            if port_key not in desired:
                to_delete += [dict(s) for s in existing_by_ports[port_key]]
        if len(existing) == len(to_delete) and not to_create:
            placeholder = _new_slice(service, [], address_type)
            if len(to_delete) == 1 and _same_placeholder(to_delete[0], placeholder):
                to_delete = []
            else:
                to_create.append(placeholder)
        changed = {meta(s).get("name") for s in [*to_update, *to_delete]}
        unchanged = [s for s in existing if meta(s).get("name") not in changed]
        _reconcile_hints(service, to_create, to_update, unchanged)
        return _finalize(service, to_create, to_update, to_delete)

    def _by_port_mapping(
        self,
        service: Obj,
        existing: Sequence[Obj],
        desired: dict[str, dict[str, Any]],
        ports: list[dict[str, Any]],
        address_type: str,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """reconcileByPortMapping: keep, update, fill, then create; `desired` is consumed."""
        limit = self.max_endpoints_per_slice
        by_name: dict[str, dict[str, Any]] = {}
        unchanged: list[str] = []
        to_update: list[str] = []
        to_delete: list[str] = []
        for s in existing:
            name = str(meta(s)["name"])
            by_name[name] = dict(s)
            kept: list[dict[str, Any]] = []
            endpoint_updated = False
            for endpoint in s.get("endpoints") or ():
                got = desired.pop(_endpoint_hash(endpoint), None)
                if got is not None:
                    kept.append(got)
                    endpoint_updated |= not _equal_beyond_hash(got, endpoint)
            new_labels, labels_changed = _slice_labels(s, service)
            if endpoint_updated or len(s.get("endpoints") or ()) != len(kept):
                if not kept:
                    to_delete.append(name)
                else:
                    copy = copy_json(s)
                    copy["endpoints"] = kept
                    copy["metadata"]["labels"] = new_labels
                    by_name[name] = copy
                    to_update.append(name)
            elif labels_changed:
                copy = copy_json(s)
                copy["metadata"]["labels"] = new_labels
                by_name[name] = copy
                to_update.append(name)
            else:
                unchanged.append(name)
        queue = list(desired.values())
        desired.clear()
        if queue and to_update:
            fullest_first = sorted(
                (by_name[n] for n in sorted(to_update)), key=lambda s: -len(s["endpoints"])
            )
            for s in fullest_first:
                while queue and len(s["endpoints"]) < limit:
                    s["endpoints"].append(queue.pop(0))
        to_create: list[dict[str, Any]] = []
        while queue:
            fill: dict[str, Any] | None = None
            if len(queue) < limit and unchanged:
                candidates = [by_name[n] for n in sorted(unchanged)]
                found = _slice_to_fill(candidates, len(queue), limit)
                if found is not None:
                    fill = copy_json(found)
                    by_name[str(meta(fill)["name"])] = fill
            if fill is None:
                fill = _new_slice(service, ports, address_type)
            while queue and len(fill["endpoints"]) < limit:
                fill["endpoints"].append(queue.pop(0))
            filled = str(meta(fill).get("name") or "")
            if filled:
                to_update.append(filled)
                unchanged.remove(filled)
            else:
                to_create.append(fill)
        return (
            to_create,
            [by_name[n] for n in sorted(to_update)],
            [by_name[n] for n in sorted(to_delete)],
        )

    def _endpoint(
        self, pod: Obj, node: Obj | None, service: Obj, address_type: str
    ) -> dict[str, Any]:
        """podToEndpoint: the pod's addresses of this type, its conditions and references."""
        spec = pod.get("spec") or {}
        serving = is_ready(pod)
        terminating = deleting(pod)
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        ready = publish or (serving and (not terminating or self.keeps_terminating))
        v6 = address_type == "IPv6"
        m = meta(pod)
        endpoint: dict[str, Any] = {
            "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == v6],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "targetRef": {
                "kind": "Pod",
                "namespace": m.get("namespace", ""),
                "name": m["name"],
                "uid": m.get("uid", ""),
            },
        }
        if spec.get("nodeName"):
            endpoint["nodeName"] = spec["nodeName"]
        zone = labels(node).get(ZONE_LABEL) if node is not None else None
        if zone:
            endpoint["zone"] = zone
        if should_set_hostname(pod, service):
            endpoint["hostname"] = spec["hostname"]
        return endpoint


def _observe(
    st: EndpointSliceState,
    answers: Sequence[Mapping[str, Any]],
    revision: int,
    slices: Sequence[Obj],
) -> tuple[PMap[str, PMap[str, Tracked]], set[str], set[str]]:
    """The tracker after the answers to the last writes and after the deletions the view shows.

    A successful create or update records the slice's new generation, a
    delete marks the slice deleted (a delete answered 404 records nothing).
    A tracked slice missing from a view that includes the write that
    tracked it has been deleted since: the informer's delete event drops it
    (HandleDeletion).
    """
    tracker = st.tracker
    failed: set[str] = set()
    succeeded: set[str] = set()
    for sent, answer in zip(st.sent, answers, strict=False):
        after = int(answer.get("revision") or 0)
        if answer.get("ok"):
            succeeded.add(sent.key)
            if sent.op == "delete":
                uid, generation = sent.uid, _DELETED
            else:
                written = (answer.get("object") or {}).get("metadata") or {}
                uid, generation = str(written.get("uid", "")), int(written.get("generation") or 0)
            tracker = tracker.set(
                sent.key, tracker.get(sent.key, pmap()).set(uid, Tracked(generation, after))
            )
        elif sent.op == "delete" and (answer.get("status") or {}).get("code") == 404:
            succeeded.add(sent.key)
        elif not (sent.op == "create" and namespace_terminating(answer)):
            failed.add(sent.key)
    present = {str(meta(s).get("uid", "")) for s in slices}
    for key in list(tracker):
        generations = tracker[key]
        for uid, tracked in list(generations.items()):
            if tracked.revision <= revision and uid not in present:
                generations = generations.discard(uid)
        tracker = tracker.set(key, generations) if generations else tracker.discard(key)
    return tracker, failed, succeeded


def _stale(generations: PMap[str, Tracked], slices: Sequence[Obj]) -> bool:
    """StaleSlices: the view shows an old generation or a deleted slice, or misses a written one."""
    shown: set[str] = set()
    for s in slices:
        uid = str(meta(s).get("uid", ""))
        shown.add(uid)
        tracked = generations.get(uid)
        generation = int(meta(s).get("generation") or 0)
        if tracked is not None and (
            tracked.generation == _DELETED or tracked.generation > generation
        ):
            return True
    return any(t.generation != _DELETED and uid not in shown for uid, t in generations.items())


def _request(op: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    if op == "delete":
        m = meta(obj)
        return {
            "op": "delete",
            "kind": "EndpointSlice",
            "namespace": m["namespace"],
            "name": m["name"],
        }
    return {"op": op, "object": obj}


def _finalize(
    service: Obj,
    to_create: list[dict[str, Any]],
    to_update: list[dict[str, Any]],
    to_delete: list[dict[str, Any]],
) -> list[tuple[str, dict[str, Any]]]:
    """finalize: creates paired with deletes become updates; no creates for a deleted Service.

    A create turned update replaces the whole slice being deleted, without
    a resourceVersion (an unconditional update), as upstream sends it.
    """
    i = 0
    while i < len(to_delete) and to_create:
        doomed = to_delete[i]
        last = to_create[-1]
        if doomed.get("addressType") == last.get("addressType") and _owned_by(doomed, service):
            last["metadata"]["name"] = meta(doomed)["name"]
            to_update.append(to_create.pop())
            del to_delete[i]
        else:
            i += 1
    requests: list[tuple[str, dict[str, Any]]] = []
    if not deleting(service):
        requests += [("create", s) for s in to_create]
    requests += [("update", s) for s in to_update]
    requests += [("delete", s) for s in to_delete]
    return requests


# -- slices and endpoints --------------------------------------------------------------------


def _address_types(service: Obj) -> list[str]:
    """getAddressTypesForService: one type per ipFamily, else the clusterIP's family.

    Upstream assumes both families for a Service with neither families nor
    a cluster IP (an API server too old to default them); the reference's
    allocator sets ipFamilies on every Service that gets a cluster IP or is
    headless, and for anything else it takes the single-stack IPv4 cluster's
    family.
    """
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or ()
    types = [t for t in ("IPv4", "IPv6") if t in families]
    if types:
        return types
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip and cluster_ip != "None" and is_ipv6(cluster_ip):
        return ["IPv6"]
    return ["IPv4"]


def _endpoint_ports(service: Obj, pod: Obj) -> list[dict[str, Any]]:
    """getEndpointPorts: the Service ports this pod resolves, named as the Service names them."""
    ports: list[dict[str, Any]] = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: dict[str, Any] = {
            "name": service_port.get("name") or "",
            "port": number,
            "protocol": service_port.get("protocol") or "TCP",
        }
        if service_port.get("appProtocol") is not None:
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _port_map_key(ports: Sequence[Obj]) -> str:
    """NewPortMapKey: the ports as a set (order-free); upstream hashes them, this sorts."""
    normal = [
        {"name": p.get("name") or "", **{k: v for k, v in p.items() if k != "name"}} for p in ports
    ]
    return _text(sorted(_text(p) for p in normal))


def _endpoint_hash(endpoint: Obj) -> str:
    """hashEndpoint: an endpoint's identity is its addresses, hostname and target's name."""
    ref = endpoint.get("targetRef") or {}
    return _text(
        [
            sorted(endpoint.get("addresses") or ()),
            endpoint.get("hostname") or "",
            ref.get("namespace") or "",
            ref.get("name") or "",
        ]
    )


def _equal_beyond_hash(a: Obj, b: Obj) -> bool:
    """EndpointsEqualBeyondHash: node, zone, conditions and targetRef (without resourceVersion)."""
    if a.get("nodeName") != b.get("nodeName") or a.get("zone") != b.get("zone"):
        return False
    ca, cb = a.get("conditions") or {}, b.get("conditions") or {}
    if any(ca.get(k) != cb.get(k) for k in ("ready", "serving", "terminating")):
        return False

    def ref(e: Obj) -> dict[str, Any]:
        return {k: v for k, v in (e.get("targetRef") or {}).items() if k != "resourceVersion"}

    return ref(a) == ref(b)


def _owned_by(slice_: Obj, service: Obj) -> bool:
    uid = meta(service).get("uid")
    return any(
        r.get("uid") == uid and r.get("kind") == "Service" and r.get("apiVersion") == "v1"
        for r in owner_refs(slice_)
    )


def _reserved(key: str) -> bool:
    return key in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)


def _slice_labels(slice_: Obj, service: Obj) -> tuple[dict[str, str], bool]:
    """setEndpointSliceLabels: the Service's labels plus the reserved ones, and whether they moved.

    Only a change in the Service's own labels counts as a change; the
    reserved labels are rewritten whenever the slice is written anyway.
    """
    mine = {k: v for k, v in labels(slice_).items() if not _reserved(k)}
    theirs = {k: v for k, v in labels(service).items() if not _reserved(k)}
    changed = mine != theirs
    if not has_cluster_ip(service):
        theirs[HEADLESS_LABEL] = ""
    theirs[SERVICE_NAME_LABEL] = str(meta(service)["name"])
    theirs[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return theirs, changed


def _new_slice(service: Obj, ports: list[dict[str, Any]], address_type: str) -> dict[str, Any]:
    """newEndpointSlice: generateName `<service>-`, controlled by the Service, no endpoints yet."""
    m = meta(service)
    slice_: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{m['name']}-",
            "namespace": m.get("namespace", ""),
            "labels": _slice_labels({}, service)[0],
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": m["name"],
                    "uid": m["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": address_type,
        "endpoints": [],
    }
    if ports:
        slice_["ports"] = copy_json(ports)
    return slice_


def _same_placeholder(slice_: Obj, placeholder: Obj) -> bool:
    """placeholderSliceCompare: namespace, labels, address type, and no endpoints or ports."""
    return (
        meta(slice_).get("namespace") == meta(placeholder).get("namespace")
        and dict(labels(slice_)) == dict(labels(placeholder))
        and slice_.get("addressType") == placeholder.get("addressType")
        and not slice_.get("endpoints")
        and not slice_.get("ports")
    )


def _slice_to_fill(slices: Sequence[Obj], count: int, limit: int) -> Obj | None:
    """getSliceToFill: the slice `count` more endpoints leave closest to full, if any fits."""
    closest, best = limit, None
    for s in slices:
        diff = limit - (count + len(s.get("endpoints") or ()))
        if 0 <= diff < closest:
            closest, best = diff, s
            if diff == 0:
                break
    return best


def _reconcile_hints(
    service: Obj,
    to_create: list[dict[str, Any]],
    to_update: list[dict[str, Any]],
    unchanged: Sequence[Obj],
) -> None:
    """trafficdist.ReconcileHints for PreferClose, PreferSameZone and PreferSameNode.

    Ready endpoints get a hint for their own zone (and, for PreferSameNode,
    their node); unchanged slices whose hints are missing or wrong join the
    updates. Without a traffic distribution the hints of created and
    updated slices are removed and unchanged slices are left alone; under
    the topology annotation nothing is touched (its proportional hints are
    not modelled).
    """
    if _hints_enabled(service):
        return
    distribution = (service.get("spec") or {}).get("trafficDistribution")
    if distribution not in _TRAFFIC_DISTRIBUTIONS:
        for changed in [*to_create, *to_update]:
            for endpoint in changed["endpoints"]:
                endpoint.pop("hints", None)
        return
    node_hints = distribution == "PreferSameNode"
    for s in unchanged:
        if _needs_hints(s, node_hints):
            to_update.append(copy_json(s))
    for changed in [*to_create, *to_update]:
        for endpoint in changed["endpoints"]:
            if not (endpoint.get("conditions") or {}).get("ready"):
                continue
            hints = _hints_for(endpoint, node_hints)
            if hints:
                endpoint["hints"] = hints
            else:
                endpoint.pop("hints", None)


def _hints_enabled(service: Obj) -> bool:
    """hintsEnabled: the topology annotation (the deprecated one first) says Auto."""
    annotations = meta(service).get("annotations") or {}
    for key in _TOPOLOGY_ANNOTATIONS:
        if key in annotations:
            return annotations[key] in ("Auto", "auto")
    return False


def _hints_for(endpoint: Obj, node_hints: bool) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if endpoint.get("zone"):
        hints["forZones"] = [{"name": endpoint["zone"]}]
    if endpoint.get("nodeName") and node_hints:
        hints["forNodes"] = [{"name": endpoint["nodeName"]}]
    return hints


def _needs_hints(slice_: Obj, node_hints: bool) -> bool:
    for endpoint in slice_.get("endpoints") or ():
        if not (endpoint.get("conditions") or {}).get("ready"):
            continue
        hints = endpoint.get("hints") or {}
        want = _hints_for(endpoint, node_hints)
        for field in ("forZones", "forNodes"):
            if (hints.get(field) or []) != want.get(field, []):
                return True
    return False
