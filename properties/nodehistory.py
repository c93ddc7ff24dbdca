"""What the `nodes` laws remember of a trace: clock, faults, probe answers, observations.

The history is folded step by step, each step's fold starting from the one
before it (a small memo keyed by the trace object), so checking a law after
every step costs the new exchanges only. Everything here is derived from
the trace: requests the harness sent (faults, probe answers, container
exits) with the simulated time they were sent at, and what the target
showed (snapshots with their `now`, runtime observations).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PSet, PVector, pmap, pset, pvector

from properties.folds import TraceFold
from properties.podconfig import values_of
from properties.trace import Exchange

__all__ = ["NodesHistory", "Point", "history", "parse_time"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
INF = math.inf


def parse_time(text: Any) -> float | None:
    """Seconds since 1970 of an RFC 3339 timestamp, or None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return (moment - _EPOCH).total_seconds()


@attrs.frozen
class Point:
    """One observation: a snapshot (indexed) and the runtime seen in the same step."""

    step: int
    now: float
    pods: Mapping[str, Mapping[str, Any]]  # by uid
    nodes: Mapping[str, Mapping[str, Any]]  # by name
    leases: Mapping[str, Mapping[str, Any]]  # node leases, by name
    runtime: Mapping[str, Any] | None = None  # the `runtime` answer's `nodes`

    def running(self) -> dict[tuple[str, str], tuple[str, Mapping[str, Any]]]:
        """(uid, container) -> (node, entry) for every container the runtime shows."""
        found = {}
        for node, machine in (self.runtime or {}).items():
            for entry in machine.get("containers") or ():
                found[(entry.get("uid", ""), entry.get("container", ""))] = (node, entry)
        return found


@attrs.frozen
class Machine:
    up: bool = True
    reachable: bool = True
    #: When it last became up and reachable (INF while it is not).
    healthy_since: float = 0.0
    #: When it was last powered off or removed (-INF: never).
    last_down: float = -INF
    last_kubelet_restart: float = -INF
    #: When this machine joined (a machine re-added under the same name is a new one).
    added: float = -INF
    #: Every spell powered off (or removed): (from, until), until INF while it lasts.
    downs: tuple[tuple[float, float], ...] = ()


@attrs.frozen
class NodesHistory:
    now: float = 0.0
    step: int = -1
    points: PVector[Point] = attrs.field(factory=pvector)
    machines: PMap[str, Machine] = attrs.field(factory=pmap)
    #: (namespace, pod, container, probe) -> (passing, since when).
    probes: PMap[tuple[str, str, str, str], tuple[bool, float]] = attrs.field(factory=pmap)
    #: (namespace, pod, container, probe) -> the last time it was set failing.
    probe_failed_at: PMap[tuple[str, str, str, str], float] = attrs.field(factory=pmap)
    #: (namespace, pod, container) -> the last successful container.exit.
    exits: PMap[tuple[str, str, str], float] = attrs.field(factory=pmap)
    failing_images: PSet[str] = attrs.field(factory=pset)
    ever_failed_images: PSet[str] = attrs.field(factory=pset)
    #: uid -> when the pod was first seen absent after being seen.
    gone_since: PMap[str, float] = attrs.field(factory=pmap)
    #: uid -> the last version of the pod seen.
    pods: PMap[str, Mapping[str, Any]] = attrs.field(factory=pmap)
    #: (kind, namespace, name, key) -> every value a container could have been given.
    config_values: PMap[tuple[str, str, str, str], PSet[str]] = attrs.field(factory=pmap)
    #: node -> the earliest timeAdded of the NoExecute taints it has carried without a break.
    tainted_since: PMap[str, float] = attrs.field(factory=pmap)
    #: controller -> since when it reads the cluster as it is (INF while lagging).
    lag_clear_since: PMap[str, float] = attrs.field(factory=pmap)
    #: controller -> when it was last restarted.
    restarted: PMap[str, float] = attrs.field(factory=pmap)
    #: uid -> node, pods Ready on a node when its kubelet restarted, while nothing else happened.
    ready_at_kubelet_restart: PMap[str, str] = attrs.field(factory=pmap)
    #: When the last op that may change what a kubelet reports was sent.
    disturbed_at: float = -INF
    #: The newest step ended with `settle` answering settled.
    settled: bool = False

    @property
    def current(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def previous(self) -> Point | None:
        return self.points[-2] if len(self.points) > 1 else None

    def lag_clear(self, controller: str) -> float:
        return self.lag_clear_since.get(controller, -INF)

    def healthy_throughout(self, node: str, start: float) -> bool:
        m = self.machines.get(node)
        return m is not None and m.up and m.reachable and m.healthy_since <= start

    def up_throughout(self, node: str, start: float, end: float) -> bool:
        """Whether the machine was powered on during the whole of [start, end]."""
        m = self.machines.get(node)
        if m is None:
            return False
        return not any(a <= end + 1e-6 and b >= start - 1e-6 for a, b in m.downs)


def _fold_step(h: NodesHistory, exchanges: Any, step: int) -> NodesHistory:
    return _fold(h, exchanges)


#: The history of a trace, built from its predecessor's (memoised by identity).
history: TraceFold[NodesHistory] = TraceFold(NodesHistory, _fold_step)


_DISTURBING = frozenset(
    {
        "container.exit",
        "probe.set",
        "node.down",
        "node.up",
        "node.partition",
        "node.heal",
        "node.remove",
        "delete",
        "update",
        "patch",
        "image.fail",
        "controller.lag",
        "controller.restart",
    }
)


def _fold(h: NodesHistory, exchanges: Any) -> NodesHistory:
    new = attrs.evolve(h, settled=False)
    for ex in exchanges:
        new = _learn(new, ex)
    return new


def _learn(h: NodesHistory, ex: Exchange) -> NodesHistory:
    if not ex.ok:
        return h
    op, req, answer = ex.op, ex.request, ex.answer
    now = h.now
    if op in ("advance", "settle", "snapshot"):
        moment = parse_time(answer.get("now"))
        if moment is not None:
            now = moment
            h = attrs.evolve(h, now=now)
        if op == "settle":
            h = attrs.evolve(h, settled=bool(answer.get("settled")))
    if op == "snapshot":
        return _snapshot(h, ex)
    if op == "runtime":
        cur = h.current
        if cur is not None and cur.step == ex.step:
            point = attrs.evolve(cur, runtime=answer.get("nodes") or {})
            return attrs.evolve(h, points=h.points.set(-1, point))
        return h
    if op in _DISTURBING:
        h = attrs.evolve(_disturb(h, ex), disturbed_at=now)
    if op == "node.add":
        name = str(req.get("name"))
        return attrs.evolve(h, machines=h.machines.set(name, Machine(healthy_since=now, added=now)))
    if op.startswith("node.") or op == "kubelet.restart":
        name = str(req.get("name"))
        m = h.machines.get(name, Machine())
        if op == "node.remove" or (op == "node.down" and m.up):
            downs = m.downs if not m.up else (*m.downs, (now, INF))
            m = attrs.evolve(m, up=False, last_down=now, healthy_since=INF, downs=downs)
        elif op == "node.up" and not m.up:
            downs = (*m.downs[:-1], (m.downs[-1][0], now)) if m.downs else ()
            m = attrs.evolve(
                m,
                up=True,
                healthy_since=now if m.reachable else INF,
                downs=downs,
            )
        elif op == "node.partition" and m.reachable:
            m = attrs.evolve(m, reachable=False, healthy_since=INF)
        elif op == "node.heal" and not m.reachable:
            m = attrs.evolve(m, reachable=True, healthy_since=now if m.up else INF)
        elif op == "kubelet.restart":
            m = attrs.evolve(m, last_kubelet_restart=now)
            h = _watch_readiness(h, name)
        return attrs.evolve(h, machines=h.machines.set(name, m))
    if op == "probe.set":
        key = (
            str(req.get("namespace")),
            str(req.get("pod")),
            str(req.get("container")),
            str(req.get("probe")),
        )
        passing = bool(req.get("passing"))
        before = h.probes.get(key, (True, -INF))
        if before[0] == passing:
            return h
        h = attrs.evolve(h, probes=h.probes.set(key, (passing, now)))
        if not passing:
            h = attrs.evolve(h, probe_failed_at=h.probe_failed_at.set(key, now))
        return h
    if op == "container.exit":
        key3 = (str(req.get("namespace")), str(req.get("pod")), str(req.get("container")))
        return attrs.evolve(h, exits=h.exits.set(key3, now))
    if op == "image.fail":
        image = str(req.get("image"))
        if req.get("failing"):
            return attrs.evolve(
                h,
                failing_images=h.failing_images.add(image),
                ever_failed_images=h.ever_failed_images.add(image),
            )
        return attrs.evolve(h, failing_images=h.failing_images.discard(image))
    if op == "controller.restart":
        return attrs.evolve(h, restarted=h.restarted.set(str(req.get("name")), now))
    if op == "controller.lag":
        name = str(req.get("name"))
        seconds = req.get("seconds") or 0
        since = INF if seconds > 0 else now
        if seconds <= 0 and h.lag_clear_since.get(name, -INF) != INF:
            since = h.lag_clear_since.get(name, -INF)
        return attrs.evolve(h, lag_clear_since=h.lag_clear_since.set(name, since))
    return h


def _disturb(h: NodesHistory, ex: Exchange) -> NodesHistory:
    """Forget the readiness watch for pods an op may legitimately make unready."""
    if not h.ready_at_kubelet_restart:
        return h
    req = ex.request
    op = ex.op
    if op.startswith("node.") or op.startswith("controller."):
        return attrs.evolve(h, ready_at_kubelet_restart=pmap())
    names = {(str(req.get("namespace", "")), str(req.get("pod") or req.get("name") or ""))}
    obj = req.get("object")
    if isinstance(obj, Mapping):
        meta = obj.get("metadata") or {}
        names.add((str(meta.get("namespace", "")), str(meta.get("name", ""))))
    if op == "image.fail":
        return attrs.evolve(h, ready_at_kubelet_restart=pmap())
    kept = {
        uid: node
        for uid, node in h.ready_at_kubelet_restart.items()
        if (
            (h.pods.get(uid) or {}).get("metadata", {}).get("namespace", ""),
            (h.pods.get(uid) or {}).get("metadata", {}).get("name", ""),
        )
        not in names
    }
    return attrs.evolve(h, ready_at_kubelet_restart=pmap(kept))


def _watch_readiness(h: NodesHistory, node: str) -> NodesHistory:
    """Remember the pods Ready on `node` that nothing pending could make unready."""
    cur = h.current
    m = h.machines.get(node)
    if (
        cur is None
        or m is None
        or not (m.up and m.reachable)
        or h.lag_clear("nodelifecycle") == INF
    ):
        return h
    watched = dict(h.ready_at_kubelet_restart)
    for uid, pod in cur.pods.items():
        meta = pod.get("metadata") or {}
        if (pod.get("spec") or {}).get("nodeName") != node or not is_ready(pod):
            continue
        if meta.get("deletionTimestamp"):
            continue
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        failing = any(
            not passing
            for (k_ns, k_pod, _, _), (passing, _) in h.probes.items()
            if (k_ns, k_pod) == (ns, name)
        )
        exited = any(
            at >= cur.now for (k_ns, k_pod, _), at in h.exits.items() if (k_ns, k_pod) == (ns, name)
        )
        if not failing and not exited:
            watched[uid] = node
    return attrs.evolve(h, ready_at_kubelet_restart=pmap(watched))


def is_ready(pod: Mapping[str, Any]) -> bool:
    return condition(pod, "Ready").get("status") == "True"


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return {}


def _snapshot(h: NodesHistory, ex: Exchange) -> NodesHistory:
    pods: dict[str, Mapping[str, Any]] = {}
    nodes: dict[str, Mapping[str, Any]] = {}
    leases: dict[str, Mapping[str, Any]] = {}
    config_values = h.config_values
    for obj in ex.answer.get("objects") or ():
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        if kind == "Pod":
            pods[str(meta.get("uid", ""))] = obj
        elif kind == "Node":
            nodes[str(meta.get("name", ""))] = obj
        elif kind == "Lease" and meta.get("namespace") == "kube-node-lease":
            leases[str(meta.get("name", ""))] = obj
        elif kind in ("ConfigMap", "Secret"):
            ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
            for key, value in values_of(kind, obj).items():
                k = (kind, ns, name, key)
                config_values = config_values.set(k, config_values.get(k, pset()).add(value))
    point = Point(ex.step, h.now, pods, nodes, leases)
    gone = h.gone_since
    for uid in h.pods:
        if uid not in pods and uid not in gone:
            gone = gone.set(uid, h.now)
    known = h.pods.update(pods)
    tainted = dict(h.tainted_since)
    for name, node in nodes.items():
        added = [
            parse_time(t.get("timeAdded"))
            for t in (node.get("spec") or {}).get("taints") or ()
            if t.get("effect") == "NoExecute"
        ]
        if not added:
            tainted.pop(name, None)
            continue
        first = min((a for a in added if a is not None), default=h.now)
        tainted[name] = min(tainted.get(name, INF), first)
    watched = {uid: node for uid, node in h.ready_at_kubelet_restart.items() if uid in pods}
    return attrs.evolve(
        h,
        step=ex.step,
        points=h.points.append(point),
        pods=known,
        gone_since=gone,
        config_values=config_values,
        tainted_since=pmap(tainted),
        ready_at_kubelet_restart=pmap(watched),
    )
