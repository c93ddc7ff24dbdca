"""The node lifecycle controller's cheap pass decides exactly as the plain one did.

`NodeLifecycleController.reconcile` reads the Leases once per pass, memoises
parsed times, skips nodes with nothing to do and hands back the state's maps
unchanged when nothing about the nodes changed. `_ReferenceNodeLifecycle`
below keeps the pass as it was before (reference/controllers/nodelifecycle.py
at the commit that made it cheap), over the same unchanged helpers; both run
on generated views, pass after pass with the state carried on, and through
whole clusters, and must return equal `Reconcile`s: the same writes, the same
state and the same wake-up time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrsistent import pmap

from reference.api.kinds import KINDS
from reference.cluster import Cluster, Components, new_cluster, step
from reference.constants import (
    LABEL_EXCLUDE_DISRUPTION,
    NODE_STARTUP_GRACE_SECONDS,
    TAINT_NODE_UNSCHEDULABLE,
)
from reference.controllers.base import Reconcile, View
from reference.controllers.nodelifecycle import (
    _LEASE_NAMESPACE,
    NOT_READY,
    UNREACHABLE,
    NodeLifecycleController,
    NodeLifecycleState,
    _mark_pod_not_ready,
    _mark_unknown,
    _needs_unknown,
    _next_tick,
    _no_schedule_taints,
    _rate,
    _ready,
    _retaint,
    _taint,
    _zone,
    _zone_state,
)
from reference.objects import encode
from reference.store import Store
from reference.timefmt import format_time, normalize, parse_time

# -- the pass as it was --------------------------------------------------------------------


@attrs.frozen
class _ReferenceNodeLifecycle(NodeLifecycleController):
    """The plain pass: every pmap rebuilt, one Lease lookup and fresh parses per node."""

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        st: NodeLifecycleState = state or NodeLifecycleState()
        writes: list[dict[str, Any]] = []
        wake: list[float] = []
        nodes = sorted(view.objects("Node"), key=lambda n: n["metadata"]["name"])
        first_seen = {
            n["metadata"]["name"]: st.first_seen.get(n["metadata"]["name"], now) for n in nodes
        }
        statuses: dict[str, str] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            ready = _ready(node)
            heard = max(self._last_heard(view, node, ready, st), first_seen[name])
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
            elif now <= deadline and status != "Unknown" and name not in view.renewing:
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
        fresh_since = st.fresh_since
        if st.all_disrupted and not all_disrupted:
            fresh_since = now

        next_taint = dict(st.next_taint)
        for node in nodes:
            name = node["metadata"]["name"]
            status = statuses[name]
            taints = list((node.get("spec") or {}).get("taints") or [])
            new = _no_schedule_taints(node, taints, status, now)
            has = {t.get("key") for t in new if t.get("effect") == "NoExecute"}
            if name not in st.first_seen:
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
                    allowed = next_taint.get(zone, -math.inf)
                    if rate > 0 and now >= allowed:
                        new.append(_taint(want, now))
                        next_taint[zone] = normalize(now + 1 / rate)
                    elif rate > 0:
                        wake.append(allowed)
            if new != taints:
                write = _retaint(view.live_get("Node", "", name), taints, new)
                if write is not None:
                    writes.append(write)

        # Pods on nodes that are not Ready are not Ready either.
        observed = st.observed
        unhealthy = {
            name
            for name, status in statuses.items()
            if status != "True"
            and (self.level_triggered_pod_marking or observed.get(name) == "True")
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
            next_taint=pmap(next_taint),
            all_disrupted=all_disrupted,
            fresh_since=fresh_since,
            observed=pmap(statuses),
            first_seen=pmap(first_seen),
        )
        future = [w for w in wake if w > now]
        return Reconcile(tuple(writes), new_state, min(future) if future else None)

    def _last_heard(
        self,
        view: View,
        node: Mapping[str, Any],
        ready: Mapping[str, Any] | None,
        st: NodeLifecycleState,
    ) -> float:
        name = node["metadata"]["name"]
        times = [parse_time(node["metadata"]["creationTimestamp"])]
        if ready is not None and ready.get("lastHeartbeatTime"):
            times.append(parse_time(ready["lastHeartbeatTime"]))
        lease = view.get("Lease", _LEASE_NAMESPACE, name)
        if lease is not None and (lease.get("spec") or {}).get("renewTime"):
            times.append(parse_time(lease["spec"]["renewTime"]))
        if name in view.heartbeats:
            times.append(view.heartbeats[name])
        return max(*times, st.fresh_since)


# -- generated views -------------------------------------------------------------------------

ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
NODE = KINDS["Node"]
LEASE = KINDS["Lease"]
POD = KINDS["Pod"]

controllers = st.builds(
    NodeLifecycleController,
    grace=st.sampled_from([40.0, 50.0]),
    level_triggered_pod_marking=st.booleans(),
    honor_full_disruption=st.booleans(),
)

# Whole, half and odd seconds, written at second or microsecond precision (the same moment
# in two spellings must parse alike through the memo).
moments = st.builds(lambda s, f: normalize(s + f), st.integers(0, 400), st.sampled_from([0, 0.5]))


@st.composite
def stamps(draw: st.DrawFn) -> str:
    return format_time(draw(moments), micro=draw(st.booleans()))


@st.composite
def conditions(draw: st.DrawFn) -> list[dict[str, Any]]:
    found = []
    for kind in draw(
        st.lists(
            st.sampled_from(["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "Other"]),
            unique=True,
            max_size=5,
        )
    ):
        c: dict[str, Any] = {"type": kind}
        status = draw(st.sampled_from(["True", "False", "Unknown", None]))
        if status is not None:
            c["status"] = status
        if draw(st.booleans()):
            c["lastHeartbeatTime"] = draw(stamps())
        found.append(c)
    return found


TAINT_KEYS = [NOT_READY, UNREACHABLE, TAINT_NODE_UNSCHEDULABLE, "example.com/other"]


@st.composite
def nodes(draw: st.DrawFn, name: str) -> dict[str, Any]:
    labels: dict[str, str] = {}
    zone = draw(st.sampled_from([None, "a", "b"]))
    if zone is not None:
        labels[ZONE] = zone
    if draw(st.integers(0, 5)) == 0:
        labels[REGION] = "r"
    if draw(st.integers(0, 5)) == 0:
        labels[LABEL_EXCLUDE_DISRUPTION] = ""
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 4)) == 0:
        spec["unschedulable"] = True
    taints: list[dict[str, str]] = []
    for key, effect in draw(
        st.lists(
            st.tuples(st.sampled_from(TAINT_KEYS), st.sampled_from(["NoSchedule", "NoExecute"])),
            unique=True,
            max_size=4,
        )
    ):
        t = {"key": key, "effect": effect}
        if effect == "NoExecute":
            t["timeAdded"] = format_time(draw(moments))
        taints.append(t)
    listed = bool(taints) or draw(st.booleans())
    if listed:
        spec["taints"] = taints
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}"}
    meta["creationTimestamp"] = draw(stamps())
    if labels:
        meta["labels"] = labels
    node: dict[str, Any] = {"kind": "Node", "metadata": meta, "spec": spec}
    if draw(st.integers(0, 5)):
        node["status"] = {"conditions": draw(conditions())}
    return node


def healthy_node(name: str, created: float, heard: float, zone: str) -> dict[str, Any]:
    """A node as a kubelet keeps it: Ready, schedulable, untainted."""
    return {
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": format_time(created),
            "labels": {ZONE: zone},
        },
        "spec": {},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": format_time(heard)}
            ]
        },
    }


def pod(name: str, node: str, ready: str | None, phase: str) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"nodeName": node},
        "status": status,
    }


@st.composite
def worlds(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    """One pass's objects: Nodes, Leases, Pods, the clock's heartbeats and who renews."""
    present = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    many = len(names) > 10
    objects: dict[str, dict[str, Any]] = {}
    heartbeats: dict[str, float] = {}
    for name in sorted(present):
        if many and draw(st.integers(0, 3)):
            node = healthy_node(name, draw(moments), draw(moments), draw(st.sampled_from("ab")))
        else:
            node = draw(nodes(name))
        objects[NODE.key("", name)] = node
        lease = draw(st.sampled_from(["none", "empty", "renewed"]))
        if lease != "none":
            spec = (
                {"renewTime": format_time(draw(moments), micro=True)} if lease == "renewed" else {}
            )
            objects[LEASE.key(_LEASE_NAMESPACE, name)] = {
                "kind": "Lease",
                "metadata": {"name": name, "namespace": _LEASE_NAMESPACE},
                "spec": spec,
            }
        if draw(st.integers(0, 2)) == 0:
            heartbeats[name] = draw(moments)
        for i in range(draw(st.integers(0, 2 if not many else 1))):
            p = pod(
                f"{name}-p{i}",
                name,
                draw(st.sampled_from(["True", "False", None])),
                draw(st.sampled_from(["Running", "Running", "Succeeded"])),
            )
            objects[POD.key("default", p["metadata"]["name"])] = p
    renewing = frozenset(n for n in heartbeats if draw(st.booleans()))
    return {"objects": objects, "heartbeats": heartbeats, "renewing": renewing}


def write(store: Store, objects: Mapping[str, Mapping[str, Any]]) -> Store:
    """The store holding exactly `objects`: the others deleted, changed ones put."""
    for key in sorted(kv.key for kv in store.range("/registry/", "\0").kvs):
        if key not in objects:
            store, _ = store.delete(key)
    for key, obj in objects.items():
        current = store.get(key)
        text = encode(obj)
        if current is None or current.value != text:
            store = store.put(key, text)
    return store


@st.composite
def states(draw: st.DrawFn, names: list[str]) -> NodeLifecycleState | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    seen = draw(st.dictionaries(st.sampled_from(names), moments, max_size=len(names)))
    observed = draw(
        st.dictionaries(st.sampled_from(names), st.sampled_from(["True", "False", "Unknown"]))
    )
    limits = draw(
        st.dictionaries(st.sampled_from([_zone({}), "\x00a", ":\x00:a", ":\x00:b"]), moments)
    )
    return NodeLifecycleState(
        next_taint=pmap(limits),
        all_disrupted=draw(st.booleans()),
        fresh_since=draw(st.one_of(st.just(-math.inf), moments)),
        observed=pmap(observed),
        first_seen=pmap(seen),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.sampled_from([1, 3, 5, 5, 60]))
    names = [f"n{i:02d}" for i in range(size)]
    passes = draw(st.lists(worlds(names), min_size=1, max_size=6 if size < 10 else 3))
    steps = draw(
        st.lists(
            st.sampled_from([0.0, 0.0, 1.0, 5.0, 10.0, 25.5, 40.0, 60.0, 300.0]),
            min_size=len(passes),
            max_size=len(passes),
        )
    )
    lags = draw(st.lists(st.booleans(), min_size=len(passes), max_size=len(passes)))
    return {
        "controller": draw(controllers),
        "state": draw(states(names)),
        "start": draw(moments),
        "passes": passes,
        "steps": steps,
        "lags": lags,
    }


def reference_of(controller: NodeLifecycleController) -> _ReferenceNodeLifecycle:
    return _ReferenceNodeLifecycle(
        grace=controller.grace,
        period=controller.period,
        level_triggered_pod_marking=controller.level_triggered_pod_marking,
        honor_full_disruption=controller.honor_full_disruption,
    )


def same_pass(controller: NodeLifecycleController, view: View, now: float, state: Any) -> Reconcile:
    expected = reference_of(controller).reconcile(view, now, state)
    got = controller.reconcile(view, now, state)
    assert got == expected
    assert got.writes == expected.writes  # in the same order, too
    assert type(got.wake_at) is type(expected.wake_at)
    assert isinstance(got.state, NodeLifecycleState)
    # The maps are the pmaps the plain pass built (equal, and as a whole equal value).
    assert dict(got.state.first_seen) == dict(expected.state.first_seen)
    assert dict(got.state.observed) == dict(expected.state.observed)
    assert dict(got.state.next_taint) == dict(expected.state.next_taint)
    assert hash(got.state.first_seen) == hash(expected.state.first_seen)
    return got


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_the_cheap_pass_decides_as_the_plain_one_pass_after_pass(scenario: dict[str, Any]) -> None:
    controller: NodeLifecycleController = scenario["controller"]
    state = scenario["state"]
    now = scenario["start"]
    store = Store()
    revisions: list[int] = []
    for world, advance, lag in zip(
        scenario["passes"], scenario["steps"], scenario["lags"], strict=True
    ):
        now = normalize(now + advance)
        store = write(store, world["objects"])
        revisions.append(store.revision)
        # A lagging view sees the previous pass's objects; the live store is this one's.
        revision = revisions[-2] if lag and len(revisions) > 1 else store.revision
        view = View(store, revision, store, world["heartbeats"], world["renewing"])
        state = same_pass(controller, view, now, state).state
        # The same pass again on the same view, from the state it produced: a steady pass.
        again = same_pass(controller, view, now, state)
        state = again.state


def test_a_steady_pass_hands_back_the_very_maps_it_got() -> None:
    controller = NodeLifecycleController()
    names = [f"n{i}" for i in range(4)]
    store = write(
        Store(),
        {NODE.key("", n): healthy_node(n, 0.0, 10.0, "a" if n < "n2" else "b") for n in names},
    )
    view = View(store, store.revision, store, {n: 12.0 for n in names}, frozenset(names))
    first = same_pass(controller, view, 20.0, None)
    second = same_pass(controller, view, 21.0, first.state)
    assert second.state.first_seen is first.state.first_seen
    assert second.state.observed is first.state.observed
    assert second.state.next_taint is first.state.next_taint


def test_nodes_coming_and_going_change_the_maps_as_a_rebuild_would() -> None:
    controller = NodeLifecycleController()
    state: Any = None
    now = 0.0
    store = Store()
    for present in (["a", "b"], ["a", "b", "c"], ["b", "c"], ["c", "d"], [], ["a"]):
        now += 30.0
        store = write(store, {NODE.key("", n): healthy_node(n, 0.0, now, "z") for n in present})
        view = View(store, store.revision, store, {}, frozenset())
        state = same_pass(controller, view, now, state).state
        assert set(state.first_seen) == set(present) == set(state.observed)


def test_a_silent_node_turns_unknown_at_the_same_tick() -> None:
    controller = NodeLifecycleController()
    node = healthy_node("n1", 0.0, 10.0, "z")
    store = write(Store(), {NODE.key("", "n1"): node})
    view = View(store, store.revision, store, {}, frozenset())
    state: Any = None
    for now in (10.0, 30.0, 59.0, 60.0, 61.0, 65.0):
        result = same_pass(controller, view, now, state)
        state = result.state
    assert result.writes, "the node was marked Unknown"


# -- whole clusters ----------------------------------------------------------------------------


@attrs.frozen
class _Twin(NodeLifecycleController):
    """The cheap pass, checked against the plain one on every view the cluster hands it."""

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        return same_pass(
            NodeLifecycleController(
                grace=self.grace,
                period=self.period,
                level_triggered_pod_marking=self.level_triggered_pod_marking,
                honor_full_disruption=self.honor_full_disruption,
            ),
            view,
            now,
            state,
        )


NODE_NAMES = ["n1", "n2", "n3", "n4"]

requests = st.one_of(
    st.builds(
        lambda n, z, x: {
            "op": "node.add",
            "name": n,
            "capacity": {"cpu": "4", "memory": "8Gi"},
            "labels": {**({ZONE: z} if z else {}), **({LABEL_EXCLUDE_DISRUPTION: ""} if x else {})},
        },
        st.sampled_from(NODE_NAMES),
        st.sampled_from([None, "z1", "z2"]),
        st.booleans(),
    ),
    st.builds(
        lambda s: {"op": "advance", "seconds": s},
        st.sampled_from([0, 1, 5, 10, 20, 35, 41, 60, 120, 400]),
    ),
    st.builds(
        lambda op, n: {"op": op, "name": n},
        st.sampled_from(["node.down", "node.up", "node.partition", "node.heal", "node.remove"]),
        st.sampled_from(NODE_NAMES),
    ),
    st.builds(
        lambda s: {"op": "controller.lag", "name": "nodelifecycle", "seconds": s},
        st.sampled_from([0, 0, 15]),
    ),
    st.just({"op": "controller.restart", "name": "nodelifecycle"}),
    st.builds(
        lambda i, n: {
            "op": "create",
            "object": {
                "kind": "Pod",
                "metadata": {"name": f"p{i}", "namespace": "default"},
                "spec": {"nodeName": n, "containers": [{"name": "app", "image": "img:1"}]},
            },
        },
        st.integers(0, 5),
        st.sampled_from(NODE_NAMES),
    ),
    st.builds(lambda n, how: ("retaint", n, how), st.sampled_from(NODE_NAMES), st.integers(0, 3)),
)


def retaint(c: Cluster, name: str, how: int) -> Cluster:
    """Cordon, uncordon or hand-taint a node (an update like a user's)."""
    c, answer = step(c, {"op": "get", "kind": "Node", "namespace": "", "name": name})
    if not answer["ok"]:
        return c
    node = answer["object"]
    spec = dict(node.get("spec") or {})
    if how == 0:
        spec["unschedulable"] = True
    elif how == 1:
        spec.pop("unschedulable", None)
    elif how == 2:
        spec["taints"] = [*(spec.get("taints") or []), {"key": NOT_READY, "effect": "NoSchedule"}]
    else:
        spec["taints"] = [
            {"key": "example.com/x", "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}
        ]
    c, _ = step(c, {"op": "update", "object": {**node, "spec": spec}})
    return c


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    controller=controllers,
    script=st.lists(requests, min_size=1, max_size=25),
)
def test_the_cheap_pass_runs_whole_clusters_as_the_plain_one(
    controller: NodeLifecycleController, script: list[Any]
) -> None:
    twin = _Twin(
        grace=controller.grace,
        level_triggered_pod_marking=controller.level_triggered_pod_marking,
        honor_full_disruption=controller.honor_full_disruption,
    )
    c = new_cluster(0, Components().replacing(twin))
    c = step(c, {"op": "node.add", "name": "n1", "capacity": {"cpu": "4", "memory": "8Gi"}})[0]
    for request in script:
        if isinstance(request, tuple):
            c = retaint(c, request[1], request[2])
        else:
            c, _ = step(c, request)  # refusals (a node added twice, say) are fine
    # The last stretch: let every rate limiter and grace period run out.
    for _ in range(4):
        c, _ = step(c, {"op": "advance", "seconds": 60})
