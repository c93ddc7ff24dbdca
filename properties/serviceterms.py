"""The small vocabulary of Services that the laws share: who a Service selects, and who serves it.

Upstream facts (SEMANTICS §7): a Service with a selector takes the pods of
its namespace whose labels match, that have an IP and have not finished
(Succeeded or Failed). A pod is *ready* for it when its Ready condition is
True and it is not terminating, or when the Service publishes not-ready
addresses; *serving* when Ready regardless of terminating. The node proxy
sends new connections to ready endpoints, and when there are none to those
serving while terminating (ProxyTerminatingEndpoints). A named targetPort
is looked up per pod among its containers' port names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "Endpoint",
    "endpoints_for",
    "find_port",
    "is_headless",
    "managed",
    "proxied",
    "selected_pods",
    "service_port",
    "usable",
]

Obj = Mapping[str, Any]


@attrs.frozen
class Endpoint:
    """A selected pod as an endpoint of one Service port."""

    pod: str
    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    node: str


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def is_headless(service: Obj) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def proxied(service: Obj) -> bool:
    """The node proxy serves it: it has a cluster IP and is not ExternalName."""
    spec = service.get("spec") or {}
    return spec.get("type") != "ExternalName" and not is_headless(service)


def selected_pods(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The pods the Service's selector takes: same namespace, labels match, an IP, not finished."""
    selector = (service.get("spec") or {}).get("selector")
    if not selector:
        return []
    namespace = _meta(service).get("namespace")
    out = []
    for pod in pods:
        if _meta(pod).get("namespace") != namespace:
            continue
        labels = _meta(pod).get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        status = pod.get("status") or {}
        if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        out.append(pod)
    return out


def service_port(service: Obj, port: int) -> Obj | None:
    for p in (service.get("spec") or {}).get("ports") or ():
        if p.get("port") == port:
            return dict(p)
    return None


def managed(service: Obj) -> bool:
    """Whether the endpoint controllers manage this Service at all.

    ExternalName Services get no endpoints (kubernetes#105986), nor do
    Services without a selector: their endpoints are written by hand. An
    empty selector counts as none, because `selector: {}` and no selector
    serialise alike (omitempty) (kubernetes#25836).
    """
    spec = service.get("spec") or {}
    return spec.get("type") != "ExternalName" and bool(spec.get("selector"))


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """podutil.FindPort: a numeric targetPort as is; a named one from the pod's containers.

    A name resolves against the ports of the pod's containers, then of its
    sidecars (init containers with restartPolicy Always, kubernetes#127976),
    matching name and protocol; None when nothing matches, and the pod then
    offers nothing on that Service port.
    """
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target
    if not isinstance(target, str):
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for container in [*(spec.get("containers") or ()), *sidecars]:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                number = port.get("containerPort")
                return int(number) if isinstance(number, int) else None
    return None


def endpoints_for(service: Obj, port: Obj, pods: Sequence[Obj]) -> list[Endpoint]:
    """Each selected pod that resolves the port's targetPort, as an endpoint of that port."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    out = []
    for pod in selected_pods(service, pods):
        number = find_port(pod, port)
        if number is None:
            continue
        terminating = bool(_meta(pod).get("deletionTimestamp"))
        ready = _pod_ready(pod)
        out.append(
            Endpoint(
                pod=str(_meta(pod).get("name", "")),
                ip=str((pod.get("status") or {}).get("podIP")),
                port=number,
                ready=publish or (ready and not terminating),
                serving=ready,
                terminating=terminating,
                node=str((pod.get("spec") or {}).get("nodeName") or ""),
            )
        )
    return out


def usable(endpoints: Sequence[Endpoint], node: str | None = None) -> list[Endpoint]:
    """Where a node proxy may send a new connection: the ready endpoints, else the serving
    terminating ones; with `node` (internalTrafficPolicy Local) only that node's, chosen
    the same way (CategorizeEndpoints)."""
    if node is not None:
        endpoints = [e for e in endpoints if e.node == node]
    ready = [e for e in endpoints if e.ready]
    if ready:
        return ready
    return [e for e in endpoints if e.serving and e.terminating]
