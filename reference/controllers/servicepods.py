"""What the Endpoints and EndpointSlice controllers share: which pods back a Service, and how.

These are upstream's `k8s.io/endpointslice/util` helpers (ShouldPodBeInEndpoints,
ShouldSetHostname), `podutil.FindPort` and the address-family choice, as pure
functions over decoded objects, plus the per-Service retry back-off both
controllers' work queues apply after a failed sync.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from pyrsistent import PMap

from properties.labels import from_set
from properties.serviceterms import find_port, managed
from properties.workloadterms import is_ready
from reference.objects import deleting, labels, meta
from reference.timefmt import normalize

__all__ = [
    "HEADLESS_LABEL",
    "ZONE_LABEL",
    "Retry",
    "backed_off",
    "find_port",
    "has_cluster_ip",
    "is_ipv6",
    "is_ready",
    "is_terminal",
    "managed",
    "namespace_terminating",
    "pod_ips",
    "selected_pods",
    "service_key",
    "should_be_in_endpoints",
    "should_set_hostname",
]

Obj = Mapping[str, Any]

#: v1.IsHeadlessService: on the Endpoints and EndpointSlices of a Service without a cluster IP.
HEADLESS_LABEL = "service.kubernetes.io/headless"
#: v1.LabelTopologyZone, read from the pod's node.
ZONE_LABEL = "topology.kubernetes.io/zone"


def service_key(obj: Obj) -> str:
    """The work-queue key of a Service (and of its Endpoints): `namespace/name`."""
    return f"{meta(obj).get('namespace', '')}/{meta(obj).get('name', '')}"


def selected_pods(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The pods of the Service's namespace its selector matches, by name."""
    selector = from_set((service.get("spec") or {}).get("selector") or {})
    namespace = meta(service).get("namespace", "")
    chosen = [
        p for p in pods if meta(p).get("namespace", "") == namespace and selector.matches(labels(p))
    ]
    return sorted(chosen, key=lambda p: str(meta(p).get("name", "")))


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_ips(pod: Obj) -> list[str]:
    """status.podIPs, the list both controllers take addresses from."""
    return [
        str(entry["ip"])
        for entry in (pod.get("status") or {}).get("podIPs") or ()
        if isinstance(entry, Mapping) and entry.get("ip")
    ]


def should_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, and not terminating unless asked.

    Terminal pods never come back, whatever their restartPolicy
    (kubernetes#110255 dropped the restartPolicy cases), so they are out
    even when the Service publishes not-ready addresses.
    """
    if is_terminal(pod):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not deleting(pod)


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    """ShouldSetHostname: the pod names a hostname and the Service as its subdomain."""
    spec = pod.get("spec") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == meta(service).get("name")
        and meta(pod).get("namespace") == meta(service).get("namespace")
    )


def has_cluster_ip(service: Obj) -> bool:
    """helper.IsServiceIPSet, read as a real cluster would: only `clusterIP: None` is headless.

    Upstream also treats an empty clusterIP as unset, but its API server
    always allocates one to a ClusterIP, NodePort or LoadBalancer Service, as
    the reference's does; an empty one can only come from an object written
    around the allocator, and stands for an allocated address.
    """
    spec = service.get("spec") or {}
    ips = spec.get("clusterIPs") or ()
    return spec.get("clusterIP") != "None" and not (ips and ips[0] == "None")


def is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


# -- the work queue's retries ----------------------------------------------------------------


@attrs.frozen
class Retry:
    """A Service whose last sync failed: how many times in a row, and when to sync it again."""

    failures: int
    at: float


def backed_off(
    retries: PMap[str, Retry], keys: Iterable[str], now: float, base: float, cap: float
) -> PMap[str, Retry]:
    """The retries after a failed sync of each key: the delay doubles from `base` up to `cap`."""
    for key in keys:
        before = retries.get(key)
        count = before.failures + 1 if before else 1
        retries = retries.set(key, Retry(count, normalize(now + min(base * 2 ** (count - 1), cap))))
    return retries


def namespace_terminating(answer: Mapping[str, Any]) -> bool:
    """A create refused because the namespace is terminating: upstream drops the item."""
    details = (answer.get("status") or {}).get("details") or {}
    causes: Sequence[Mapping[str, Any]] = details.get("causes") or ()
    return any(c.get("reason") == "NamespaceTerminating" for c in causes)
