"""What the service laws know after each step: snapshots, connections, DNS answers, and freshness.

A fold over the trace, one step at a time and memoised per trace, like
`properties.workhistory`. Besides the snapshots it keeps the `route` and
`resolve` answers of the newest step, what each client's last connection
to a Service port was (for session affinity), and whether the cluster has
caught up: Kubernetes propagates a change to Endpoints, EndpointSlices and
the node proxies eventually, so a law about them judges only what a target
shows after time has passed since the last change (`caught_up`), and not
while the nemesis holds one of those controllers back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PSet, pmap, pset

from properties.folds import TraceFold
from properties.folds import fresh as fresh_history
from properties.trace import Exchange, Trace
from properties.workhistory import NODE_FAULT_OPS, Snapshot, follow_lag, follow_node_fault

__all__ = [
    "OBSERVING_OPS",
    "Connection",
    "Route",
    "ServiceHistory",
    "affinity_timeout",
    "connection_key",
    "fresh",
    "history",
]

#: Ops that change nothing a law about Services judges: observations and reads.
OBSERVING_OPS = frozenset({"snapshot", "runtime", "route", "resolve", "get", "list", "watch"})
#: Ops after which the controllers have had time to act on everything before them.
_TIME_OPS = frozenset({"advance", "settle"})

Obj = Mapping[str, Any]


@attrs.frozen
class Route:
    """One `route` request and its answer, and whether the cluster had caught up when it ran."""

    namespace: str
    service: str
    port: int
    client: str
    node: str | None
    backends: tuple[Obj | None, ...]
    caught_up: bool


@attrs.frozen
class Connection:
    """A client's last connection to a Service port: where it went, and when."""

    backend: str
    at: float
    #: The Service's uid then: a Service deleted and created again is another Service.
    service_uid: str
    #: When the client's affinity run began: the connection the balancer chose before the
    #: ones its affinity entry pinned to the same backend since (none older than the timeout).
    run_start: float = 0.0


ConnectionKey = tuple[str, str, int, str, str]


def connection_key(r: Route) -> ConnectionKey:
    """Affinity is kept per node proxy: a route through another node is another client."""
    return (r.namespace, r.service, r.port, r.client, r.node or "")


@attrs.frozen
class ServiceHistory:
    step: int = -1
    snapshot: Snapshot | None = None
    previous: Snapshot | None = None
    routes: tuple[Route, ...] = ()
    #: (request, answer) of each `resolve` of the newest step.
    answers: tuple[tuple[Mapping[str, Any], Mapping[str, Any]], ...] = ()
    settled: bool = False
    #: Time has passed since the last change: controllers and proxies have seen everything.
    caught_up: bool = True
    #: Controllers told to lag and not told to stop; those lagging at any point of the step.
    lagging: PSet[str] = attrs.field(factory=pset)
    lagged_this_step: PSet[str] = attrs.field(factory=pset)
    down: PSet[str] = attrs.field(factory=pset)
    partitioned: PSet[str] = attrs.field(factory=pset)
    #: (namespace, service, port, client, node or "") -> the client's last connection through
    #: that node's proxy (any node's when "") to a Service with ClientIP affinity.
    last_connection: PMap[ConnectionKey, Connection] = attrs.field(factory=pmap)

    def held_back(self, *controllers: str) -> bool:
        """One of these controllers lagged during the step, or lags now."""
        return bool(self.lagged_this_step & set(controllers))


def _route(ex: Exchange, caught_up: bool) -> Route:
    r = ex.request
    node = r.get("node")
    return Route(
        namespace=str(r.get("namespace", "")),
        service=str(r.get("service", "")),
        port=int(r.get("port", 0)),
        client=str(r.get("client", "")),
        node=str(node) if node is not None else None,
        backends=tuple(ex.answer.get("backends") or ()),
        caught_up=caught_up,
    )


def _fold(h: ServiceHistory, exchanges: Iterable[Exchange], step: int) -> ServiceHistory:
    routes: list[Route] = []
    answers: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    caught_up = h.caught_up
    lagging, down, partitioned = h.lagging, h.down, h.partitioned
    lagged = set(lagging)
    snapshot, previous = h.snapshot, h.previous
    took_snapshot = settled = False
    for ex in exchanges:
        op = ex.op
        if op not in OBSERVING_OPS:
            settled_or_moved = op != "settle" or bool(ex.answer.get("settled"))
            caught_up = op in _TIME_OPS and ex.ok and settled_or_moved
        if not ex.ok:
            continue
        if op == "route":
            routes.append(_route(ex, caught_up))
        elif op == "resolve":
            answers.append((ex.request, ex.answer))
        elif op == "snapshot":
            if not took_snapshot:
                previous = snapshot
            snapshot = Snapshot.from_answer(ex.answer)
            took_snapshot = True
        elif op == "settle":
            settled = bool(ex.answer.get("settled"))
        elif op == "controller.lag":
            lagging = follow_lag(ex.request, lagging)
            lagged.update(lagging)
        elif op in NODE_FAULT_OPS:
            down, partitioned = follow_node_fault(ex.request, down, partitioned)
        elif op == "reset":
            lagging, down, partitioned = pset(), pset(), pset()
    last = h.last_connection
    now = snapshot.now if snapshot is not None else 0.0
    services = _services_by_key(snapshot)
    for r in routes:
        service = services.get((r.namespace, r.service)) or {}
        if (service.get("spec") or {}).get("sessionAffinity") != "ClientIP":
            continue
        uid = str((service.get("metadata") or {}).get("uid", ""))
        key = connection_key(r)
        for backend in r.backends:
            if backend is None:
                continue
            pod = str(backend.get("pod", ""))
            before = last.get(key)
            pinned = (
                before is not None
                and before.service_uid == uid
                and before.backend == pod
                and now - before.at < affinity_timeout(service)
            )
            start = before.run_start if pinned and before is not None else now
            last = last.set(key, Connection(pod, now, uid, start))
    return ServiceHistory(
        step=step,
        snapshot=snapshot,
        previous=previous,
        routes=tuple(routes),
        answers=tuple(answers),
        settled=settled and took_snapshot,
        caught_up=caught_up,
        lagging=lagging,
        lagged_this_step=pset(lagged | set(lagging)),
        down=down,
        partitioned=partitioned,
        last_connection=last,
    )


def _services_by_key(snapshot: Snapshot | None) -> dict[tuple[str, str], Obj]:
    if snapshot is None:
        return {}
    out = {}
    for s in snapshot.of("Service"):
        m = s.get("metadata") or {}
        out[(str(m.get("namespace", "")), str(m.get("name", "")))] = s
    return out


def affinity_timeout(service: Obj, default: float = 10800) -> float:
    """sessionAffinityConfig.clientIP.timeoutSeconds, or the default (10800 s upstream)."""
    spec = service.get("spec") or {}
    given = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    return float(given) if given is not None else default


#: The history of a trace, built from its predecessor's (memoised by identity).
history: TraceFold[ServiceHistory] = TraceFold(ServiceHistory, _fold)


def fresh(trace: Trace) -> ServiceHistory | None:
    """The history, when the newest step took a snapshot (what a law judges)."""
    return fresh_history(history, trace)
