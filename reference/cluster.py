"""The `Cluster` value and `step`, the one transition every protocol op goes through.

Time is a discrete-event loop. Between requests nothing happens; `advance`
and `settle` move the clock from one instant to the next at which something
is due (a controller's wake-up, a lagging view catching up), and at each
instant the controllers run to a fixpoint: round after round until a round
writes nothing and changes no controller's state. A fixpoint that takes more
than `MAX_FIXPOINT_ROUNDS` rounds is a bug in a controller (or a mutant), and
raises `ControlLoopDiverged` naming the instant and the controllers still
writing.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from reference.api import errors
from reference.api.admission import system_priority_classes
from reference.api.errors import ApiError
from reference.api.kinds import KINDS
from reference.api.server import DEFAULT_POLICY, SYSTEM_ONLY, VERBS, ApiPolicy, ApiState, handle
from reference.constants import (
    KUBERNETES_VERSION,
    MAX_FIXPOINT_ROUNDS,
    PROTOCOL_VERSION,
    REFERENCE_VERSION,
    SYSTEM_NAMESPACES,
    TIMING_PARAMETERS,
)
from reference.controllers import GarbageCollector, NamespaceController
from reference.controllers.base import Controller, View
from reference.controllers.daemonset import DaemonSetController
from reference.controllers.deployment import DeploymentController
from reference.controllers.endpoints import EndpointsController
from reference.controllers.endpointslice import EndpointSliceController
from reference.controllers.nodelifecycle import NodeLifecycleController
from reference.controllers.podgc import PodGarbageCollector
from reference.controllers.replicaset import ReplicaSetController
from reference.controllers.statefulset import StatefulSetController
from reference.controllers.tainteviction import TaintEvictionController
from reference.dns import ClusterDns
from reference.fleet import (
    FLEET_OPS,
    Fleet,
    heartbeats,
    materialize_heartbeats,
    next_wake,
    observe,
    run_kubelets,
)
from reference.kubelet import DEFAULT_KUBELET, KubeletPolicy
from reference.proxy import KUBE_PROXY, KubeProxy, route
from reference.scheduler import SchedulerController
from reference.timefmt import format_time, normalize

__all__ = ["Cluster", "Components", "ControlLoopDiverged", "new_cluster", "step", "write_status"]

CAPABILITIES = (
    "clock",
    "reset",
    "controllers",
    "watch",
    "strict",
    "nodes",
    "faults",
    "apps",
    "runtime",
    "routing",
    "dns",
)
#: Ops of the protocol that later parts of the reference will serve; answered 501 until then.
NOT_YET = frozenset({"metrics.set"})
_PROTOCOL_VERBS = frozenset(VERBS) - SYSTEM_ONLY


#: The longest one `advance`, `settle` or `controller.lag` may ask for: a century.
MAX_SECONDS = 100 * 365 * 24 * 3600


class ControlLoopDiverged(Exception):
    """Controllers kept writing at one instant: a controller never reaches its fixpoint."""


def _default_controllers() -> tuple[Controller, ...]:
    return (
        GarbageCollector(),
        NamespaceController(),
        NodeLifecycleController(),
        TaintEvictionController(),
        PodGarbageCollector(),
        DeploymentController(),
        ReplicaSetController(),
        DaemonSetController(),
        StatefulSetController(),
        SchedulerController(),
        EndpointsController(),
        EndpointSliceController(),
        KubeProxy(),
    )


@attrs.frozen
class Components:
    """The parts a cluster is made of. A mutant is a `Components` with one part replaced."""

    api: ApiPolicy = DEFAULT_POLICY
    controllers: tuple[Controller, ...] = attrs.field(factory=_default_controllers)
    kubelet: KubeletPolicy = DEFAULT_KUBELET
    dns: ClusterDns = attrs.field(factory=ClusterDns)
    name: str = "kubeprop-reference"
    #: The cluster makes the reference's own choices where Kubernetes leaves one (the
    #: `strict` capability); False when configured otherwise (another scheduler profile).
    strict: bool = True

    def replacing(self, *controllers: Controller) -> Components:
        """These components with each named controller swapped for the one given."""
        by_name = {c.name: c for c in controllers}
        unknown = set(by_name) - {c.name for c in self.controllers}
        if unknown:
            raise KeyError(f"no controller named {', '.join(sorted(unknown))}")
        return attrs.evolve(
            self, controllers=tuple(by_name.get(c.name, c) for c in self.controllers)
        )

    def controller(self, name: str) -> Controller:
        for c in self.controllers:
            if c.name == name:
                return c
        raise KeyError(name)


@attrs.frozen
class ControllerSlot:
    """A controller's runtime: its private state, its lag and when it asked to wake.

    `seen` is the revision of the view it last reconciled (None: it must run).
    A controller runs again only when its view has moved, its own state
    changed, or its wake-up is due, as an upstream controller acts on events
    and timers: a lagging one does not re-issue the same writes from the
    same stale view round after round.
    """

    state: Any = None
    lag: float = 0.0
    wake_at: float | None = None
    seen: int | None = None
    #: The newest revision its view has shown (or a restarted controller relisted at): an
    #: informer never goes back in time, so a lag raised later does not rewind the view.
    floor: int = 0
    #: The answers to the writes of its last pass, handed to its next one (`View.answers`).
    #: They do not make it run again by themselves: a controller that must act on them
    #: records what it sent in its state, which makes it run again.
    answers: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen
class Cluster:
    seed: int
    now: float
    api: ApiState
    components: Components
    slots: PMap[str, ControllerSlot]
    #: (instant, store revision at the end of it), for the views of lagging controllers.
    revisions: PVector[tuple[float, int]]
    #: The machines: runtimes, kubelets, the simulated workload.
    fleet: Fleet = attrs.field(factory=Fleet)

    @property
    def revision(self) -> int:
        return self.api.store.revision


def new_cluster(seed: int = 0, components: Components | None = None) -> Cluster:
    """An empty cluster at the protocol epoch: the system namespaces and PriorityClasses only.

    The PriorityClasses are upstream's bootstrap ones (system-node-critical,
    system-cluster-critical), created through the API as its post-start hook
    does.
    """
    components = components or Components()
    api = ApiState(seed=seed)
    bootstrap = [
        {"kind": "Namespace", "metadata": {"name": name}} for name in SYSTEM_NAMESPACES
    ] + system_priority_classes()
    for obj in bootstrap:
        api, _ = handle(api, {"op": "create", "object": obj}, 0.0, components.api, system=True)
    slots = pmap({c.name: ControllerSlot(state=c.initial_state()) for c in components.controllers})
    # The first entry is the cluster as `reset` left it, for views reaching back before time 0.
    revisions = pvector([(float("-inf"), api.store.revision)])
    fleet = Fleet(dispatched=api.store.revision)
    return Cluster(seed, 0.0, api, components, slots, revisions, fleet)


# -- the control loop ------------------------------------------------------------------------------


def _view_revision(cluster: Cluster, lag: float, floor: int = 0) -> int:
    """The store revision a controller lagging by `lag` seconds sees (never before `floor`)."""
    store = cluster.api.store
    if lag <= 0:
        return store.revision
    moment = cluster.now - lag
    i = bisect.bisect_right(cluster.revisions, moment, key=lambda e: e[0])
    revision = cluster.revisions[i - 1][1] if i else cluster.revisions[0][1]
    return max(revision, store.compact_revision, floor)


def _view(cluster: Cluster, slot: ControllerSlot, revision: int, with_heartbeats: bool) -> View:
    store = cluster.api.store
    if not with_heartbeats:
        return View(store, revision, store, answers=slot.answers)
    machines = cluster.fleet.machines
    beats = heartbeats(cluster.fleet, cluster.now - max(slot.lag, 0.0))
    renewing = frozenset(
        n for n in beats if (m := machines.get(n)) is not None and m.renewing_since is not None
    )
    return View(store, revision, store, beats, renewing, slot.answers)


def _record(cluster: Cluster) -> Cluster:
    last_time, last_revision = cluster.revisions[-1]
    if last_revision == cluster.revision:
        return cluster
    if last_time == cluster.now:
        revisions = cluster.revisions.set(-1, (cluster.now, cluster.revision))
    else:
        revisions = cluster.revisions.append((cluster.now, cluster.revision))
    return attrs.evolve(cluster, revisions=revisions)


def run_controllers(cluster: Cluster) -> Cluster:
    """Run every controller, round after round, until a round changes nothing."""
    for _ in range(MAX_FIXPOINT_ROUNDS):
        changed: list[str] = []
        for controller in cluster.components.controllers:
            slot = cluster.slots[controller.name]
            revision = _view_revision(cluster, slot.lag, slot.floor)
            due = slot.wake_at is not None and slot.wake_at <= cluster.now
            if slot.seen == revision and not due:
                continue
            view = _view(cluster, slot, revision, getattr(controller, "reads_heartbeats", False))
            result = controller.reconcile(view, cluster.now, slot.state)
            api = cluster.api
            answers: list[Mapping[str, Any]] = []
            for write in result.writes:
                api, answer = _send(api, write, cluster)
                answers.append(answer)
            restless = result.state != slot.state
            new_slot = attrs.evolve(
                slot,
                state=result.state,
                wake_at=result.wake_at,
                seen=None if restless else view.revision,
                floor=max(slot.floor, view.revision),
                answers=tuple(answers) if getattr(controller, "reads_answers", False) else (),
            )
            if api.store.revision != cluster.api.store.revision or restless:
                changed.append(controller.name)
            cluster = _record(
                attrs.evolve(cluster, api=api, slots=cluster.slots.set(controller.name, new_slot))
            )
        fleet, api, kubelets = run_kubelets(
            cluster.fleet,
            cluster.api,
            cluster.now,
            cluster.components.api,
            cluster.components.kubelet,
        )
        cluster = _record(attrs.evolve(cluster, fleet=fleet, api=api))
        changed += kubelets
        if not changed:
            return cluster
    raise ControlLoopDiverged(
        f"controllers did not reach a fixpoint within {MAX_FIXPOINT_ROUNDS} rounds at"
        f" {format_time(cluster.now)}; still writing: {', '.join(changed)}"
    )


def _send(
    api: ApiState, write: Mapping[str, Any], cluster: Cluster
) -> tuple[ApiState, dict[str, Any]]:
    """One controller write through the API as the system, answered with the revision after it.

    A refused write changes nothing; the controller learns of it from the
    answer on its next pass, as an upstream controller learns from the
    response to its request.
    """
    try:
        api, answer = handle(api, write, cluster.now, cluster.components.api, system=True)
    except ApiError as e:
        answer = {"ok": False, "status": e.status()}
    return api, {**answer, "revision": api.store.revision}


def _next_instant(cluster: Cluster) -> float | None:
    """The earliest moment after now at which some controller has something to do."""
    candidates = [
        s.wake_at
        for s in cluster.slots.values()
        if s.wake_at is not None and s.wake_at > cluster.now
    ]
    kubelet = next_wake(cluster.fleet, cluster.now)
    if kubelet is not None:
        candidates.append(kubelet)
    for slot in cluster.slots.values():
        if slot.lag > 0:
            # A lagging view changes when a past write comes into its window.
            for moment, _ in cluster.revisions:
                due = normalize(moment + slot.lag)
                if due > cluster.now:
                    candidates.append(due)
                    break
    return min(candidates) if candidates else None


def advance(cluster: Cluster, seconds: float) -> Cluster:
    end = normalize(cluster.now + seconds)
    cluster = run_controllers(cluster)
    while (due := _next_instant(cluster)) is not None and due <= end:
        cluster = run_controllers(attrs.evolve(cluster, now=due))
    if cluster.now < end:
        cluster = run_controllers(attrs.evolve(cluster, now=end))
    return _heartbeats_written(cluster)


def _heartbeats_written(cluster: Cluster) -> Cluster:
    fleet, api = materialize_heartbeats(
        cluster.fleet, cluster.api, cluster.now, cluster.components.api
    )
    return _record(attrs.evolve(cluster, fleet=fleet, api=api))


def settle(cluster: Cluster, max_seconds: float) -> tuple[Cluster, bool]:
    end = normalize(cluster.now + max_seconds)
    cluster = run_controllers(cluster)
    while (due := _next_instant(cluster)) is not None:
        if due > end:
            return _heartbeats_written(run_controllers(attrs.evolve(cluster, now=end))), False
        cluster = run_controllers(attrs.evolve(cluster, now=due))
    return _heartbeats_written(cluster), True


# -- step ----------------------------------------------------------------------------------------


def step(cluster: Cluster, request: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    """Apply one protocol request (without `id`) and return the new cluster and the answer."""
    try:
        return _dispatch(cluster, request)
    except ApiError as e:
        return cluster, {"ok": False, "status": e.status()}


def write_status(cluster: Cluster, obj: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    """A client's write to an object's /status subresource: the object's status (the rest
    kept as stored), answered like `update`.

    Not a protocol op, where the cluster alone writes status: `kubeprop serve`
    offers it to API clients as upstream's /status does. The controllers that
    own a status write theirs again on their next pass, as upstream's do.
    """
    try:
        api, answer = handle(
            cluster.api,
            {"op": "status", "object": obj},
            cluster.now,
            cluster.components.api,
            system=True,
        )
    except ApiError as e:
        return cluster, {"ok": False, "status": e.status()}
    return _record(attrs.evolve(cluster, api=api)), answer


def _dispatch(cluster: Cluster, request: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    op = request.get("op")
    if not isinstance(op, str):
        raise errors.bad_request("`op` is required and must be a string")
    if op in _PROTOCOL_VERBS:
        api, answer = handle(cluster.api, request, cluster.now, cluster.components.api)
        return _record(attrs.evolve(cluster, api=api)), answer
    if op == "hello":
        return cluster, _hello(cluster, request)
    if op == "reset":
        seed = request.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise errors.bad_request("`seed` must be an integer")
        return new_cluster(seed, cluster.components), {"ok": True}
    if op == "advance":
        seconds = _seconds(request, "seconds")
        cluster = advance(cluster, seconds)
        return cluster, {"ok": True, "now": format_time(cluster.now)}
    if op == "settle":
        seconds = _seconds(request, "max_seconds")
        cluster, settled = settle(cluster, seconds)
        return cluster, {"ok": True, "now": format_time(cluster.now), "settled": settled}
    if op in FLEET_OPS:
        fleet, api = FLEET_OPS[op](
            cluster.fleet,
            cluster.api,
            cluster.now,
            request,
            cluster.components.api,
            cluster.components.kubelet,
        )
        # Heartbeats are not writes: wake whoever reads them, as a missed renewal would.
        slots = cluster.slots
        for c in cluster.components.controllers:
            if getattr(c, "reads_heartbeats", False):
                slots = slots.set(c.name, attrs.evolve(slots[c.name], seen=None))
        return _record(attrs.evolve(cluster, fleet=fleet, api=api, slots=slots)), {"ok": True}
    if op == "runtime":
        return cluster, {"ok": True, **observe(cluster.fleet)}
    if op == "route":
        return _route(cluster, request)
    if op == "resolve":
        answers = cluster.components.dns.resolve(cluster.api.store, request)
        return cluster, {"ok": True, "answers": answers}
    if op == "controller.lag":
        name = _controller_name(cluster, request)
        lag = _seconds(request, "seconds")
        slot = attrs.evolve(cluster.slots[name], lag=lag, seen=None)
        return attrs.evolve(cluster, slots=cluster.slots.set(name, slot)), {"ok": True}
    if op == "controller.restart":
        name = _controller_name(cluster, request)
        controller = cluster.components.controller(name)
        # A controller may start differently after a restart than at boot (a mutant that
        # does not relist); by default a restart is a boot.
        restarted = getattr(controller, "restarted_state", None)
        fresh = restarted(cluster.revision) if restarted else controller.initial_state()
        # A controller whose informers relist on start sees the store as it is, then lags.
        floor = cluster.revision if getattr(controller, "relists_on_restart", False) else 0
        slot = attrs.evolve(
            cluster.slots[name], state=fresh, wake_at=None, seen=None, floor=floor, answers=()
        )
        return attrs.evolve(cluster, slots=cluster.slots.set(name, slot)), {"ok": True}
    raise errors.not_implemented(op)


def _route(cluster: Cluster, request: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    """Connections go by the rules the proxy last programmed; routing moves its rotation."""
    proxy = next((c for c in cluster.components.controllers if c.name == KUBE_PROXY), None)
    if not isinstance(proxy, KubeProxy):
        raise errors.not_implemented("route")
    slot = cluster.slots[KUBE_PROXY]
    state, answer = route(
        proxy, slot.state, cluster.api.store, request, cluster.now, cluster.fleet.machines
    )
    if state is slot.state:
        return cluster, answer
    slots = cluster.slots.set(KUBE_PROXY, attrs.evolve(slot, state=state))
    return attrs.evolve(cluster, slots=slots), answer


def _seconds(request: Mapping[str, Any], field: str) -> float:
    value = request.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise errors.bad_request(f"`{field}` is required and must be a number ≥ 0")
    if value > MAX_SECONDS:
        raise errors.bad_request(
            f"`{field}` is {value}; the simulated clock moves at most {MAX_SECONDS:.0f} seconds"
            " (a century) per request"
        )
    return float(value)


def _controller_name(cluster: Cluster, request: Mapping[str, Any]) -> str:
    name = request.get("name")
    if not isinstance(name, str):
        raise errors.bad_request("`name` is required and must be a string")
    if name not in cluster.slots:
        raise ApiError(
            404,
            "NotFound",
            f"controller {name!r} is not run by this cluster; it runs:"
            f" {', '.join(sorted(cluster.slots))}",
        )
    return name


def _offered(components: Components, capability: str) -> bool:
    if capability == "strict":
        return components.strict
    if capability == "routing":
        return any(isinstance(c, KubeProxy) for c in components.controllers)
    return True


def _hello(cluster: Cluster, request: Mapping[str, Any]) -> dict[str, Any]:
    if request.get("protocol") != PROTOCOL_VERSION:
        raise errors.bad_request(
            f"protocol {request.get('protocol')!r} is not spoken here; this target speaks"
            f" protocol {PROTOCOL_VERSION}"
        )
    return {
        "ok": True,
        "protocol": PROTOCOL_VERSION,
        "name": cluster.components.name,
        "version": REFERENCE_VERSION,
        "kubernetesVersion": KUBERNETES_VERSION,
        "capabilities": [c for c in CAPABILITIES if _offered(cluster.components, c)],
        "kinds": sorted(KINDS),
        "parameters": dict(TIMING_PARAMETERS),
    }
