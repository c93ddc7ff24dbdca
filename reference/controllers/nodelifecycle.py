"""The node lifecycle controller (pkg/controller/nodelifecycle): node health and NoExecute taints.

Per node it tracks the last heartbeat (Lease renewal or Ready heartbeat).
Once `nodeMonitorGracePeriodSeconds` pass without one (the startup grace
while a node has never posted Ready), it marks the kubelet's conditions
Unknown on the next monitor tick (ticks every `nodeMonitorPeriodSeconds`).
It marks every pod on a node that is not Ready as not Ready; it keeps the
NoSchedule condition taints in step with the Ready condition at once; and it
adds the NoExecute `not-ready` / `unreachable` taints through a per-zone
rate limit (one node per 1/rate seconds; the rate follows the zone's
disruption state). When every zone is fully disrupted it assumes the
control plane is the one cut off: it stops tainting and removes the
NoExecute taints everywhere, and when that ends every node gets a fresh
grace period.

Facts checked against upstream: docs/upstream-checks-nodes.md Q5 and Q6.
Differences: health is judged from the heartbeat times the objects carry
(upstream records when it observed them, at most a monitor period later),
and the NoExecute taint is added in the pass that marks Unknown (upstream:
one pass later).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from reference.constants import (
    LABEL_EXCLUDE_DISRUPTION,
    LARGE_CLUSTER_SIZE_THRESHOLD,
    NODE_EVICTION_RATE,
    NODE_STARTUP_GRACE_SECONDS,
    SECONDARY_NODE_EVICTION_RATE,
    TAINT_NODE_NOT_READY,
    TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE,
    TIMING_PARAMETERS,
    UNHEALTHY_ZONE_THRESHOLD,
)
from reference.controllers.base import Reconcile, View
from reference.timefmt import format_time, format_whole_seconds, normalize, parse_time

__all__ = ["NodeLifecycleController", "NodeLifecycleState"]

NOT_READY = TAINT_NODE_NOT_READY
UNREACHABLE = TAINT_NODE_UNREACHABLE
UNSCHEDULABLE = TAINT_NODE_UNSCHEDULABLE
_KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
_LEASE_NAMESPACE = "kube-node-lease"
_ABSENT: Any = object()


@attrs.frozen
class NodeLifecycleState:
    #: Per zone, when its rate limiter next allows a NoExecute taint.
    next_taint: PMap[str, float] = attrs.field(factory=pmap)
    #: Whether every zone was fully disrupted on the last pass.
    all_disrupted: bool = False
    #: Heartbeats before this moment do not count (set when all-zones disruption ends).
    fresh_since: float = -math.inf
    #: The Ready status each node had on the last pass (for the transition-only mutant).
    observed: PMap[str, str] = attrs.field(factory=pmap)
    #: When this controller first saw each node: upstream starts a node's probe there, so a
    #: restarted controller gives every node a fresh grace period.
    first_seen: PMap[str, float] = attrs.field(factory=pmap)


def _ready(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            found: Mapping[str, Any] = c
            return found
    return None


def _zone(node: Mapping[str, Any]) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return str(
        labels.get("topology.kubernetes.io/region", "")
        + ":\x00:"
        + labels.get("topology.kubernetes.io/zone", "")
    )


def _zone_state(statuses: list[str]) -> str:
    ready = sum(1 for s in statuses if s == "True")
    not_ready = len(statuses) - ready
    if ready == 0 and not_ready > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / len(statuses) >= UNHEALTHY_ZONE_THRESHOLD:
        return "PartialDisruption"
    return "Normal"


def _rate(state: str, size: int) -> float:
    if state == "PartialDisruption":
        return SECONDARY_NODE_EVICTION_RATE if size > LARGE_CLUSTER_SIZE_THRESHOLD else 0.0
    return NODE_EVICTION_RATE


def _next_tick(after: float, period: float) -> float:
    """The first monitor tick strictly after `after`."""
    return normalize((math.floor(after / period + 1e-9) + 1) * period)


@attrs.frozen
class NodeLifecycleController:
    name: str = "nodelifecycle"
    reads_heartbeats: bool = True
    grace: float = float(TIMING_PARAMETERS["nodeMonitorGracePeriodSeconds"])
    period: float = float(TIMING_PARAMETERS["nodeMonitorPeriodSeconds"])
    #: Mark pods not Ready whenever their node is not Ready (False: only on the transition
    #: this controller itself observed, upstream bug #50067).
    level_triggered_pod_marking: bool = True
    #: Stop tainting when every zone is fully disrupted (False: upstream bug #24597).
    honor_full_disruption: bool = True

    def initial_state(self) -> NodeLifecycleState:
        return NodeLifecycleState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        st: NodeLifecycleState = state or NodeLifecycleState()
        writes: list[dict[str, Any]] = []
        wake: list[float] = []
        nodes = sorted(view.objects("Node"), key=_name)
        # The state's per-node maps as plain dicts (lookups in them are far cheaper than in
        # the pmaps); the new state reuses the old maps unchanged when no node came, went or
        # changed status, and otherwise changes them only where something did.
        seen_before: dict[str, float] = dict(st.first_seen.items())
        observed_before: dict[str, str] = dict(st.observed.items())
        new_names: list[str] = []
        # One read of the kubelets' Leases rather than one lookup per node.
        leases: dict[str, Mapping[str, Any]] = {
            lease["metadata"]["name"]: lease for lease in view.objects("Lease", _LEASE_NAMESPACE)
        }
        heartbeats = view.heartbeats
        renewing = view.renewing
        fresh_since = st.fresh_since
        statuses: dict[str, str] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            since = seen_before.get(name, _ABSENT)
            if since is _ABSENT:
                since = now
                new_names.append(name)
            ready = _ready(node)
            # The last heartbeat: creation, the Ready heartbeat, the Lease's renewal, the
            # renewal derived from the clock, never before `fresh_since` (in this order, as
            # `max` keeps the first of equals).
            times = [_seconds(node["metadata"]["creationTimestamp"])]
            if ready is not None and ready.get("lastHeartbeatTime"):
                times.append(_seconds(ready["lastHeartbeatTime"]))
            lease = leases.get(name)
            if lease is not None and (lease.get("spec") or {}).get("renewTime"):
                times.append(_seconds(lease["spec"]["renewTime"]))
            if name in heartbeats:
                times.append(heartbeats[name])
            heard = max(max(*times, fresh_since), since)
            grace = self.grace if ready is not None else NODE_STARTUP_GRACE_SECONDS
            deadline = normalize(heard + grace)
            status = ready.get("status", "Unknown") if ready is not None else "Unknown"
            if now > deadline and (ready is None or status != "Unknown" or _needs_unknown(node)):
                # Decided on the view; written on the object as it is (upstream retries a
                # conflicting update on a fresh copy).
                live = view.live_get("Node", "", name)
                if live is not None and _needs_unknown(live):
                    writes.append({"op": "status", "object": _mark_unknown(live, now)})
                status = "Unknown"
            elif now <= deadline and status != "Unknown" and name not in renewing:
                # A renewing kubelet pushes its deadline on and on: no need to wake for it.
                wake.append(_next_tick(deadline, self.period))
            statuses[name] = status

        # Zones, and whether the whole cluster looks cut off.
        zones: dict[str, list[str]] = {}
        for node in nodes:
            labels = node["metadata"].get("labels") or {}
            if LABEL_EXCLUDE_DISRUPTION in labels:
                continue
            zones.setdefault(_zone(node), []).append(statuses[node["metadata"]["name"]])
        zone_states = {z: _zone_state(s) for z, s in zones.items()}
        all_disrupted = bool(zone_states) and all(
            s == "FullDisruption" for s in zone_states.values()
        )
        if not self.honor_full_disruption:
            all_disrupted = False
        if st.all_disrupted and not all_disrupted:
            fresh_since = now

        next_taint: dict[str, float] | None = None  # a copy of st.next_taint once it changes
        for node in nodes:
            name = node["metadata"]["name"]
            status = statuses[name]
            spec = node.get("spec") or {}
            listed = spec.get("taints")
            if not listed and status == "True" and not spec.get("unschedulable"):
                # A Ready, schedulable node without taints wants none: nothing to write or wake
                # for, whether seen before or not (the general case below comes to the same).
                continue
            taints = list(listed or [])
            new = _no_schedule_taints(node, taints, status, now)
            has = {t.get("key") for t in new if t.get("effect") == "NoExecute"}
            if name not in seen_before:
                # markNodeAsReachable on a node seen for the first time (also after a restart):
                # its NoExecute taints go, to come back through the rate limiter if still due.
                new = [
                    t
                    for t in new
                    if not (
                        t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY, UNREACHABLE)
                    )
                ]
                if status != "True" and not all_disrupted:
                    wake.append(normalize(now + self.period))
            elif status == "True" or all_disrupted:
                new = [
                    t
                    for t in new
                    if not (
                        t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY, UNREACHABLE)
                    )
                ]
            else:
                want = NOT_READY if status == "False" else UNREACHABLE
                other = UNREACHABLE if want == NOT_READY else NOT_READY
                if other in has:
                    new = [
                        t
                        for t in new
                        if not (t.get("effect") == "NoExecute" and t.get("key") == other)
                    ]
                    new.append(_taint(want, now))
                elif want not in has:
                    zone = _zone(node)
                    rate = _rate(zone_states.get(zone, "Normal"), len(zones.get(zone, ())))
                    limits = st.next_taint if next_taint is None else next_taint
                    allowed = limits.get(zone, -math.inf)
                    if rate > 0 and now >= allowed:
                        new.append(_taint(want, now))
                        if next_taint is None:
                            next_taint = dict(st.next_taint)
                        next_taint[zone] = normalize(now + 1 / rate)
                    elif rate > 0:
                        wake.append(allowed)
            if new != taints:
                write = _retaint(view.live_get("Node", "", name), taints, new)
                if write is not None:
                    writes.append(write)

        # Pods on nodes that are not Ready are not Ready either.
        unhealthy = {
            name
            for name, status in statuses.items()
            if status != "True"
            and (self.level_triggered_pod_marking or observed_before.get(name) == "True")
        }
        if unhealthy:
            for pod in view.objects("Pod"):
                if (pod.get("spec") or {}).get("nodeName") in unhealthy and _mark_pod_not_ready(
                    pod, now
                ):
                    meta = pod["metadata"]
                    live = view.live_get("Pod", meta.get("namespace", ""), meta["name"])
                    marked = _mark_pod_not_ready(live, now) if live is not None else None
                    if (
                        marked is not None
                        and live is not None
                        and live["metadata"]["uid"] == meta["uid"]
                    ):
                        writes.append({"op": "status", "object": marked})
        new_state = NodeLifecycleState(
            next_taint=st.next_taint if next_taint is None else pmap(next_taint),
            all_disrupted=all_disrupted,
            fresh_since=fresh_since,
            observed=_updated(st.observed, observed_before, statuses),
            first_seen=_first_seen(st.first_seen, seen_before, new_names, statuses, now),
        )
        future = [w for w in wake if w > now]
        return Reconcile(tuple(writes), new_state, min(future) if future else None)


def _name(node: Mapping[str, Any]) -> str:
    name: str = node["metadata"]["name"]
    return name


@functools.lru_cache(maxsize=32768)
def _parse_text(text: str) -> float:
    """`parse_time`, memoised by the text (a pure function of it): heartbeat and creation
    times repeat from pass to pass, and most nodes' are the same few strings."""
    return parse_time(text)


def _seconds(text: Any) -> float:
    return _parse_text(text) if type(text) is str else parse_time(text)


def _updated(before: PMap[str, str], plain: dict[str, str], now: dict[str, str]) -> PMap[str, str]:
    """`pmap(now)`, as `before` itself when equal, else `before` changed where they differ."""
    if plain == now:
        return before
    evolver = before.evolver()
    for name, status in now.items():
        if plain.get(name, _ABSENT) != status:
            evolver[name] = status
    for name in plain.keys() - now.keys():
        evolver.remove(name)
    return evolver.persistent()


def _first_seen(
    before: PMap[str, float],
    plain: dict[str, float],
    new_names: list[str],
    current: Mapping[str, Any],
    now: float,
) -> PMap[str, float]:
    """When each node in `current` was first seen: `before`'s times, `now` for `new_names`."""
    if not new_names and len(plain) == len(current):
        # Every node was seen before and none went (equal sizes, the current within `plain`).
        return before
    evolver = before.evolver()
    for name in new_names:
        evolver[name] = now
    if len(plain) + len(new_names) != len(current):
        for name in plain.keys() - current.keys():
            evolver.remove(name)
    return evolver.persistent()


def _needs_unknown(node: Mapping[str, Any]) -> bool:
    """Some kubelet-owned condition is missing or not yet Unknown."""
    found = {
        c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or ()
    }
    return any(found.get(k) != "Unknown" for k in _KUBELET_CONDITIONS)


def _mark_unknown(node: Mapping[str, Any], now: float) -> dict[str, Any]:
    status = dict(node.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or ()]
    seen = {c.get("type") for c in conditions}
    for c in conditions:
        if c.get("type") in _KUBELET_CONDITIONS and c.get("status") != "Unknown":
            c.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=format_time(now),
            )
    for kind in _KUBELET_CONDITIONS:
        if kind not in seen:
            created = node["metadata"]["creationTimestamp"]
            conditions.append(
                {
                    "type": kind,
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": created,
                    "lastTransitionTime": format_time(now),
                }
            )
    status["conditions"] = conditions
    return {**node, "status": status}


def _retaint(
    live: Mapping[str, Any] | None, seen: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The update that applies the change from `seen` to `wanted` to the node as it is now.

    Like upstream's taint helpers: a taint already present (same key and
    effect) is kept as it is, timeAdded included; only the taints this pass
    added or removed change.
    """
    if live is None:
        return None

    def ident(t: Mapping[str, Any]) -> tuple[Any, Any]:
        return (t.get("key"), t.get("effect"))

    removed = {ident(t) for t in seen} - {ident(t) for t in wanted}
    current = list((live.get("spec") or {}).get("taints") or [])
    result = [t for t in current if ident(t) not in removed]
    present = {ident(t) for t in result}
    result += [
        t for t in wanted if ident(t) not in present and ident(t) not in {ident(s) for s in seen}
    ]
    if result == current:
        return None
    spec = {**(live.get("spec") or {}), "taints": result}
    if not result:
        spec.pop("taints")
    return {"op": "update", "object": {**live, "spec": spec}}


def _taint(key: str, now: float) -> dict[str, Any]:
    return {"key": key, "effect": "NoExecute", "timeAdded": format_whole_seconds(now)}


def _no_schedule_taints(
    node: Mapping[str, Any], taints: list[dict[str, Any]], status: str, now: float
) -> list[dict[str, Any]]:
    """TaintNodesByCondition: NoSchedule taints that follow Ready and spec.unschedulable."""
    wanted = set()
    if status == "False":
        wanted.add(NOT_READY)
    elif status == "Unknown":
        wanted.add(UNREACHABLE)
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.add(UNSCHEDULABLE)
    managed = (NOT_READY, UNREACHABLE, UNSCHEDULABLE)
    kept = [
        t
        for t in taints
        if not (
            t.get("effect") == "NoSchedule"
            and t.get("key") in managed
            and t.get("key") not in wanted
        )
    ]
    present = {t.get("key") for t in kept if t.get("effect") == "NoSchedule"}
    for key in sorted(wanted - present):
        kept.append({"key": key, "effect": "NoSchedule"})
    return kept


def _mark_pod_not_ready(pod: Mapping[str, Any], now: float) -> dict[str, Any] | None:
    """MarkPodsNotReady: only the Ready condition; pods without one are left alone."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return None
    conditions = [dict(c) for c in status.get("conditions") or ()]
    for c in conditions:
        if c.get("type") == "Ready" and c.get("status") == "True":
            c["status"] = "False"
            c["lastTransitionTime"] = format_time(now)
            return {**pod, "status": {**status, "conditions": conditions}}
    return None
