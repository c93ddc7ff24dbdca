"""The scheduler's informer (reference/scheduler/cache.py) changes nothing but the time taken.

Two levels: an informer brought from view to view along the store's event
log equals the one listed from each view afresh, field for field and in the
order of each node's pods; and a cluster whose scheduler keeps its informer
makes exactly the writes, and ends in exactly the state, of one whose
scheduler rebuilds everything from the view on every pass
(`SchedulerController(cache=False)`), under lag, restarts and compaction,
for the default scheduler and for its mutants.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.machines.scheduling import (
    CONSTRAINTS,
    DEDICATED_TAINT,
    NEVER_PREEMPT_CLASS,
    NODES,
    PRIORITY_CLASSES,
    pod_manifest,
)
from properties.placement import NodeFacts, NodeUsage, PodFacts
from reference import Cluster, Components, new_cluster, step
from reference.objects import encode
from reference.scheduler import SchedulerController
from reference.scheduler.cache import Informer, StoredObject, informed, relisted, usage_of
from reference.store import Store

# -- the informer against a fresh listing ------------------------------------------------------

_NODE_NAMES = ("n1", "n2", "n3", "n4")
_POD_NAMES = ("a", "b", "c", "d", "e", "f")
_READING = ((), ())


def _node(name: str, variant: int) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if variant == 1:
        spec["unschedulable"] = True
    if variant == 2:
        spec["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"zone": "z1" if variant == 3 else "z0"}},
        "spec": spec,
        "status": {
            "allocatable": {"cpu": "2" if variant == 4 else "4", "memory": "8Gi", "pods": "10"},
            "conditions": [{"type": "Ready", "status": "True", "reason": str(variant)}],
        },
    }


def _pod(name: str, namespace: str, node: str | None, variant: int) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "c",
        "resources": {"requests": {"cpu": f"{100 * (variant + 1)}m", "memory": "1Gi"}},
    }
    if variant == 2:
        container["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {"phase": "Succeeded" if variant == 3 else "Running"}
    if variant == 4:
        status["startTime"] = "2026-01-01T00:00:00Z"
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"{namespace}-{name}"},
        "spec": spec,
        "status": status,
    }


_store_ops = st.one_of(
    st.tuples(st.just("node"), st.sampled_from(_NODE_NAMES), st.integers(0, 4)),
    st.tuples(
        st.just("pod"),
        st.sampled_from(_POD_NAMES),
        st.sampled_from(("default", "other")),
        st.sampled_from((None, *_NODE_NAMES, "gone")),
        st.integers(0, 4),
    ),
    st.tuples(st.just("delete"), st.sampled_from(("node", "pod", "namespace")), st.integers(0, 5)),
    st.tuples(st.just("namespace"), st.sampled_from(("default", "other")), st.booleans()),
    st.tuples(st.just("compact"), st.integers(0, 3)),
)
#: After each write, the view the informer is brought to: how many revisions it lags, and
#: whether the informer is dropped first (a restart).
_looks = st.tuples(st.integers(0, 3), st.integers(0, 9).map(lambda n: n == 0))


def _apply(store: Store, op: tuple[Any, ...]) -> Store:
    kind = op[0]
    if kind == "node":
        return store.put(f"/registry/nodes/{op[1]}", encode(_node(op[1], op[2])))
    if kind == "pod":
        _, name, namespace, node, variant = op
        key = f"/registry/pods/{namespace}/{name}"
        return store.put(key, encode(_pod(name, namespace, node, variant)))
    if kind == "namespace":
        labels = {"team": "x"} if op[2] else {}
        obj = {"kind": "Namespace", "metadata": {"name": op[1], "labels": labels}}
        return store.put(f"/registry/namespaces/{op[1]}", encode(obj))
    if kind == "delete":
        prefix = {"node": "nodes", "pod": "pods", "namespace": "namespaces"}[op[1]]
        keys = sorted(k for k in store.current if k.startswith(f"/registry/{prefix}/"))
        if not keys:
            return store
        store, _ = store.delete(keys[op[2] % len(keys)])
        return store
    if kind == "compact":
        revision = store.revision - op[1]
        if revision <= store.compact_revision:
            return store
        return store.compact(revision)
    return store


def _facts_of_pod(pod: Mapping[str, Any]) -> PodFacts:
    return PodFacts.of(pod)


def _facts_of_node(node: Mapping[str, Any]) -> NodeFacts:
    return NodeFacts.of(node)


def assert_same(informer: Informer, listed: Informer) -> None:
    assert informer.revision == listed.revision
    assert dict(informer.nodes) == dict(listed.nodes)
    assert dict(informer.pods) == dict(listed.pods)
    assert {k: dict(v[1]) for k, v in informer.namespaces.items()} == {
        k: dict(v[1]) for k, v in listed.namespaces.items()
    }
    assert dict(informer.unbound) == dict(listed.unbound)
    assert dict(informer.bound) == dict(listed.bound)
    a, b = informer.placement, listed.placement
    assert a.nodes == b.nodes
    assert list(a.usage) == list(b.usage)  # the same order
    for name, usage in a.usage.items():
        other = b.usage[name]
        assert usage == other
        assert [p.uid for p in usage.pods] == [p.uid for p in other.pods]
    assert dict(a.namespace_labels) == dict(b.namespace_labels)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_store_ops, _looks), max_size=40))
def test_an_informer_following_the_log_equals_a_fresh_listing(
    steps: list[tuple[tuple[Any, ...], tuple[int, bool]]],
) -> None:
    store = Store()
    informer: Informer | None = None
    for op, (back, forget) in steps:
        store = _apply(store, op)
        revision = max(store.revision - back, store.compact_revision, 1)
        if forget:
            informer = None
        informer = informed(informer, store, revision, _READING, _facts_of_node, _facts_of_pod)
        assert_same(informer, relisted(store, revision, _READING, _facts_of_node, _facts_of_pod))


def test_usage_of_is_plus_after_plus() -> None:
    pods = [PodFacts.of(_pod(n, "default", "n1", v)) for v, n in enumerate(_POD_NAMES[:5])]
    folded = NodeUsage()
    for p in pods:
        folded = folded.plus(p)
    assert usage_of(pods) == folded
    assert usage_of([]) == NodeUsage()


def test_an_unchanged_object_is_not_read_again() -> None:
    store = Store()
    for name in _NODE_NAMES:
        store = store.put(f"/registry/nodes/{name}", encode(_node(name, 0)))
    store = store.put("/registry/pods/default/a", encode(_pod("a", "default", None, 0)))
    read: list[str] = []

    def reading_pod(pod: Mapping[str, Any]) -> PodFacts:
        read.append(pod["metadata"]["name"])
        return PodFacts.of(pod)

    first = informed(None, store, store.revision, _READING, _facts_of_node, reading_pod)
    store = store.put("/registry/pods/default/b", encode(_pod("b", "default", "n1", 0)))
    second = informed(first, store, store.revision, _READING, _facts_of_node, reading_pod)
    assert read == ["a", "b"]
    assert second.placement.nodes is first.placement.nodes  # no node changed
    # After a compaction past it, the informer relists, still reusing what it read.
    store = store.compact(store.revision)
    store = store.put("/registry/pods/default/c", encode(_pod("c", "default", None, 0)))
    store = store.compact(store.revision)
    third = informed(second, store, store.revision, _READING, _facts_of_node, reading_pod)
    assert read == ["a", "b", "c"]
    assert_same(third, relisted(store, store.revision, _READING, _facts_of_node, _facts_of_pod))


# -- the cached scheduler against the rebuilding one, in a cluster ------------------------------

_NODE_CHOICES = tuple(NODES)
_PODS = tuple(f"p{i}" for i in range(1, 11))
_create = st.tuples(
    st.just("create"),
    st.sampled_from(_PODS),
    st.sampled_from(("web", "db")),
    st.sampled_from((None, "250m", "1", "2")),
    st.sampled_from((None, "1Gi", "3Gi")),
    st.sampled_from((None, None, "low", "high")),
    st.lists(st.sampled_from(CONSTRAINTS), unique=True, max_size=2).map(tuple),
)
_other = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(_PODS)),
    st.tuples(st.just("add_node"), st.sampled_from(_NODE_CHOICES)),
    st.tuples(st.just("remove_node"), st.sampled_from(_NODE_CHOICES)),
    st.tuples(st.just("cordon"), st.sampled_from(_NODE_CHOICES), st.booleans()),
    st.tuples(
        st.just("taint"),
        st.sampled_from(_NODE_CHOICES),
        st.sampled_from((None, "NoSchedule", "PreferNoSchedule")),
    ),
    st.tuples(st.just("label"), st.sampled_from(_NODE_CHOICES), st.sampled_from(("ssd", "hdd"))),
    st.tuples(st.just("advance"), st.sampled_from((1, 5, 30))),
    st.tuples(st.just("settle")),
    st.tuples(st.just("lag"), st.sampled_from((0, 5, 30))),
    st.tuples(st.just("restart")),
    st.tuples(st.just("compact")),
)
#: Half of the steps create a pod; the others change the cluster around the pods.
_cluster_ops = st.one_of(_create, _other)


def _send(cluster: Cluster, request: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    return step(cluster, request)


def _edit_node(cluster: Cluster, name: str, edit: Any) -> Cluster:
    cluster, answer = _send(cluster, {"op": "get", "kind": "Node", "name": name})
    if not answer.get("ok"):
        return cluster
    node = answer["object"]
    edit(node)
    cluster, _ = _send(cluster, {"op": "update", "object": node})
    return cluster


def _run(cluster: Cluster, op: tuple[Any, ...]) -> Cluster:
    kind = op[0]
    if kind == "create":
        _, name, app, cpu, memory, priority, constraints = op
        manifest = pod_manifest(name, app, cpu, memory, 0, priority, constraints)
        cluster, _ = _send(cluster, {"op": "create", "object": manifest})
        cluster, _ = _send(cluster, {"op": "advance", "seconds": 1})
    elif kind == "delete":
        request = {"op": "delete", "kind": "Pod", "namespace": "default", "name": op[1]}
        cluster, _ = _send(cluster, request)
    elif kind == "add_node":
        shape = NODES[op[1]]
        labels = {
            "topology.kubernetes.io/zone": shape["zone"],
            "disk": shape["disk"],
            "kubernetes.io/hostname": op[1],
        }
        request = {
            "op": "node.add",
            "name": op[1],
            "capacity": dict(shape["capacity"]),
            "labels": labels,
        }
        cluster, _ = _send(cluster, request)
    elif kind == "remove_node":
        cluster, _ = _send(cluster, {"op": "node.remove", "name": op[1]})
        cluster, _ = _send(cluster, {"op": "delete", "kind": "Node", "name": op[1]})
    elif kind == "cordon":

        def cordon(node: dict[str, Any]) -> None:
            node.setdefault("spec", {})["unschedulable"] = op[2]

        cluster = _edit_node(cluster, op[1], cordon)
    elif kind == "taint":

        def taint(node: dict[str, Any]) -> None:
            spec = node.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or () if t.get("key") != "dedicated"]
            if op[2]:
                taints.append({**DEDICATED_TAINT, "effect": op[2]})
            spec["taints"] = taints

        cluster = _edit_node(cluster, op[1], taint)
    elif kind == "label":

        def label(node: dict[str, Any]) -> None:
            node["metadata"].setdefault("labels", {})["disk"] = op[2]

        cluster = _edit_node(cluster, op[1], label)
    elif kind == "advance":
        cluster, _ = _send(cluster, {"op": "advance", "seconds": op[1]})
    elif kind == "settle":
        cluster, _ = _send(cluster, {"op": "settle", "max_seconds": 120})
    elif kind == "lag":
        request = {"op": "controller.lag", "name": "scheduler", "seconds": op[1]}
        cluster, _ = _send(cluster, request)
    elif kind == "restart":
        cluster, _ = _send(cluster, {"op": "controller.restart", "name": "scheduler"})
    elif kind == "compact":
        revision = cluster.api.store.revision
        cluster, _ = _send(cluster, {"op": "compact", "resourceVersion": str(revision)})
    return cluster


def _world(scheduler: SchedulerController) -> Cluster:
    components = Components().replacing(scheduler)
    cluster = new_cluster(0, components)
    classes: list[tuple[str, int, str | None]] = [
        (name, value, None) for name, value in PRIORITY_CLASSES.items()
    ]
    classes.append((NEVER_PREEMPT_CLASS, PRIORITY_CLASSES["high"], "Never"))
    for name, value, policy in classes:
        obj: dict[str, Any] = {
            "kind": "PriorityClass",
            "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": name},
            "value": value,
        }
        if policy:
            obj["preemptionPolicy"] = policy
        cluster, _ = _send(cluster, {"op": "create", "object": obj})
    for name in _NODE_CHOICES[:3]:
        cluster = _run(cluster, ("add_node", name))
    return cluster


def _objects(cluster: Cluster) -> list[Any]:
    _, answer = step(cluster, {"op": "snapshot"})
    return list(answer["objects"])


VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no-assume": {"assume": False},
    "ghosts": {"forget_gone_pods": False},
    "requeue-cordoned": {"requeue_cordoned": True},
    "ignores-memory": {"ignored_resources": frozenset({"memory"})},
    "ignores-noschedule": {"ignored_taint_effects": frozenset({"NoSchedule"})},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(_cluster_ops, min_size=8, max_size=40))
def test_the_cached_scheduler_writes_what_the_rebuilding_one_writes(
    variant: str, ops: list[tuple[Any, ...]]
) -> None:
    cached = SchedulerController(**VARIANTS[variant])
    rebuilding = attrs.evolve(cached, cache=False)
    a, b = _world(cached), _world(rebuilding)
    for op in ops:
        a, b = _run(a, op), _run(b, op)
        assert a.api.store.revision == b.api.store.revision, op
        assert _objects(a) == _objects(b), op
        slot_a, slot_b = a.slots["scheduler"], b.slots["scheduler"]
        assert slot_a.state == slot_b.state, op
        assert (slot_a.wake_at, slot_a.seen) == (slot_b.wake_at, slot_b.seen), op
        assert slot_b.state.informer is None


def _random_op(rng: random.Random) -> tuple[Any, ...]:
    node = rng.choice(_NODE_CHOICES)
    pick = rng.random()
    if pick < 0.55:
        constraints = tuple(rng.sample(CONSTRAINTS, rng.choice((0, 0, 1, 2))))
        return (
            "create",
            rng.choice(_PODS),
            rng.choice(("web", "db")),
            rng.choice((None, None, "100m", "250m", "1")),
            rng.choice((None, None, "512Mi", "1Gi")),
            rng.choice((None, None, "low", "high")),
            constraints,
        )
    if pick < 0.7:
        return ("delete", rng.choice(_PODS))
    return rng.choice(
        (
            ("add_node", node),
            ("remove_node", node),
            ("cordon", node, rng.random() < 0.5),
            ("taint", node, rng.choice((None, "NoSchedule", "PreferNoSchedule"))),
            ("label", node, rng.choice(("ssd", "hdd"))),
            ("advance", rng.choice((1, 5, 30))),
            ("settle",),
            ("lag", rng.choice((0, 5, 30))),
            ("restart",),
            ("compact",),
        )
    )


@pytest.mark.parametrize("variant", ["default", "ghosts", "requeue-cordoned"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_runs_agree(variant: str, seed: int) -> None:
    rng = random.Random(seed)
    cached = SchedulerController(**VARIANTS[variant])
    a, b = _world(cached), _world(attrs.evolve(cached, cache=False))
    bound = 0
    for _ in range(150):
        op = _random_op(rng)
        a, b = _run(a, op), _run(b, op)
        assert a.api.store.revision == b.api.store.revision, op
        assert a.slots["scheduler"].state == b.slots["scheduler"].state, op
        objects = _objects(a)
        assert objects == _objects(b), op
        bound = max(
            bound, sum(1 for o in objects if o["kind"] == "Pod" and o["spec"].get("nodeName"))
        )
    assert bound >= 3  # the runs did schedule


def test_a_bound_pod_keeps_its_wire_form_as_the_stored_text() -> None:
    store = Store().put("/registry/nodes/n1", encode(_node("n1", 0)))
    bound, pending = _pod("a", "default", "n1", 0), _pod("b", "default", None, 0)
    store = store.put("/registry/pods/default/a", encode(bound))
    store = store.put("/registry/pods/default/b", encode(pending))
    informer = informed(None, store, store.revision, _READING, _facts_of_node, _facts_of_pod)
    wire = informer.pods["/registry/pods/default/a"][1].wire
    assert isinstance(wire, StoredObject)
    assert dict(wire) == bound and wire.get("spec") == bound["spec"] and len(wire) == len(bound)
    assert wire.get("absent", 1) == 1 and wire["kind"] == "Pod"
    assert informer.pods["/registry/pods/default/b"][1].wire == pending
