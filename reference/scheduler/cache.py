"""The scheduler's informer: the view's nodes, pods and namespaces as facts, kept between passes.

kube-scheduler does not relist the cluster for every cycle: its informers
keep the objects, and its cache keeps the node snapshot, both patched from
watch events. `Informer` is that, as a value the controller keeps in its
state: the facts of every node, pod and namespace by store key (with the
mod revision they were read at), the pods not yet bound, and the placement
of the bound pods (`Placement.of` over the view, without the scheduler's
assumed pods).

`informed` brings an informer to a view. From the revision it reflects to
the view's it reads the store's event log (`Store.events_after`, etcd's
watch), so only objects that changed are decoded and parsed again, and only
the nodes whose pods or facts changed get a new usage; the placement keeps
its nodes tuple while no node changes, which lets the fast path patch its
own columns by difference. When that is not possible (no informer yet, the
revision compacted away, a view older than the informer, a store class it
does not know) it lists the view, still reusing the facts of every object
whose mod revision it has seen.

A bound pod's facts keep its wire form as the store's own text
(`StoredObject`, decoded again when read) rather than as a decoded dict: the
scheduler reads the wire form of the pods it schedules, hardly ever of the
pods already placed, and a decoded pod is several times the size of its
text, which the store holds anyway.

Everything here is a function of the view: an informer brought to a view
equals, field for field and in the order of each node's pods, what
`relisted` builds from that view alone (tests/unit/test_scheduler_cache.py).
The one liberty taken: a node whose facts compare equal to the ones kept
(name, labels, taints, unschedulable, allocatable: all the scheduler reads
of it, node affinity included) keeps the kept facts, whose `wire` may be an
older version of the node.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from properties.placement import NodeFacts, NodeUsage, Placement, PodFacts
from reference.api.kinds import KINDS
from reference.objects import decode
from reference.store import Compacted, FutureRevision, KeyValue, Store, prefix_end

__all__ = ["Informer", "StoredObject", "informed", "relisted", "usage_of"]

NODES = KINDS["Node"].prefix()
PODS = KINDS["Pod"].prefix()
NAMESPACES = KINDS["Namespace"].prefix()
_PREFIXES = (NODES, PODS, NAMESPACES)

NodeReader = Callable[[Mapping[str, Any]], NodeFacts]
PodReader = Callable[[Mapping[str, Any]], PodFacts]


class StoredObject(Mapping[str, Any]):
    """An object's wire form as the store keeps it (JSON text), decoded anew on each read."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __getitem__(self, key: str) -> Any:
        return decode(self.text)[key]

    def get(self, key: str, default: Any = None) -> Any:
        return decode(self.text).get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(decode(self.text))

    def __len__(self) -> int:
        return len(decode(self.text))

    def __repr__(self) -> str:
        return f"StoredObject({self.text!r})"


def _read_pod(read_pod: PodReader) -> Callable[[KeyValue], PodFacts]:
    """`read_pod` of the stored pod; a bound one keeps its wire form as the stored text."""

    def read(kv: KeyValue) -> PodFacts:
        facts = read_pod(decode(kv.value))
        if facts.node_name and isinstance(kv.value, str):
            return attrs.evolve(facts, wire=StoredObject(kv.value))
        return facts

    return read


def _read(read: Callable[[Any], Any]) -> Callable[[KeyValue], Any]:
    return lambda kv: read(decode(kv.value))


def usage_of(pods: Sequence[PodFacts]) -> NodeUsage:
    """`NodeUsage().plus(p1).plus(p2)...` in one pass."""
    if not pods:
        return NodeUsage()
    requested: dict[str, int] = {}
    cpu = memory = 0
    ports: list[tuple[str, str, int]] = []
    for p in pods:
        for r, q in p.requests.items():
            requested[r] = requested.get(r, 0) + q
        cpu += p.nonzero_cpu
        memory += p.nonzero_memory
        ports.extend(p.host_ports)
    return NodeUsage(tuple(pods), requested, cpu, memory, tuple(ports))


def _unbound(pod: PodFacts) -> bool:
    """In the queue's sight. `PodFacts.of` reads `node_name` as `str(spec.nodeName or "")`,
    so this is also the controller's test of the wire form, `not spec.get("nodeName")`."""
    return not pod.node_name


def _placed(pod: PodFacts) -> bool:
    """Counted on its node by `Placement.of` (if the node exists)."""
    return bool(pod.node_name) and not pod.terminal


@attrs.frozen(eq=False)
class Informer:
    """The facts of one view, and the placement of its bound pods."""

    #: The store revision the informer reflects (the view's).
    revision: int
    #: What the facts depend on besides the objects (the controller's reading settings).
    reading: Hashable
    nodes: PMap[str, tuple[int, NodeFacts]]
    pods: PMap[str, tuple[int, PodFacts]]
    namespaces: PMap[str, tuple[int, Mapping[str, str]]]
    #: Store key -> pods without a node: the queue's candidates.
    unbound: PMap[str, PodFacts]
    #: Node name -> store keys, sorted, of the pods bound there and not finished.
    bound: PMap[str, tuple[str, ...]]
    #: `Placement.of(nodes, bound pods, namespace labels)`, as the view would give it.
    placement: Placement

    def node_list(self) -> list[NodeFacts]:
        """The nodes in the view's order (by store key)."""
        return [self.nodes[k][1] for k in sorted(self.nodes)]

    def pod_list(self) -> list[PodFacts]:
        """The pods in the view's order (by store key)."""
        return [self.pods[k][1] for k in sorted(self.pods)]

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        return {_name(k): dict(self.namespaces[k][1]) for k in sorted(self.namespaces)}


def _name(namespace_key: str) -> str:
    return namespace_key[len(NAMESPACES) :]


def _namespace_labels(namespace: Mapping[str, Any]) -> Mapping[str, str]:
    return dict(namespace["metadata"].get("labels") or {})


# -- listing -------------------------------------------------------------------------------------


def _range(store: Store, revision: int, prefix: str) -> tuple[KeyValue, ...]:
    """What `View.objects` reads, undecoded."""
    at = 0 if revision == store.revision else revision
    return store.range(prefix, prefix_end(prefix), at).kvs


def relisted(
    store: Store,
    revision: int,
    reading: Hashable,
    read_node: NodeReader,
    read_pod: PodReader,
    previous: Informer | None = None,
) -> Informer:
    """The informer of the view at `revision`, built by listing it; the facts of objects
    `previous` read at the same mod revision are reused rather than decoded again."""
    old_nodes = previous.nodes if previous is not None and previous.reading == reading else pmap()
    old_pods = previous.pods if previous is not None and previous.reading == reading else pmap()
    old_namespaces = previous.namespaces if previous is not None else pmap()
    node_of, pod_of, labels_of = _read(read_node), _read_pod(read_pod), _read(_namespace_labels)
    nodes = {
        kv.key: _reuse(old_nodes.get(kv.key), kv, node_of) for kv in _range(store, revision, NODES)
    }
    pods = {
        kv.key: _reuse(old_pods.get(kv.key), kv, pod_of) for kv in _range(store, revision, PODS)
    }
    namespaces = {
        kv.key: _reuse(old_namespaces.get(kv.key), kv, labels_of)
        for kv in _range(store, revision, NAMESPACES)
    }
    bound: dict[str, list[str]] = {}
    for key, (_, pod) in pods.items():  # in key order
        if _placed(pod):
            bound.setdefault(pod.node_name, []).append(key)
    placement = Placement.of(
        (facts for _, facts in nodes.values()),
        (pod for _, pod in pods.values() if _placed(pod)),
        {_name(k): labels for k, (_, labels) in namespaces.items()},
    )
    return Informer(
        revision=revision,
        reading=reading,
        nodes=pmap(nodes),
        pods=pmap(pods),
        namespaces=pmap(namespaces),
        unbound=pmap({k: p for k, (_, p) in pods.items() if _unbound(p)}),
        bound=pmap({node: tuple(keys) for node, keys in bound.items()}),
        placement=placement,
    )


def _reuse(
    kept: tuple[int, Any] | None, kv: KeyValue, read: Callable[[KeyValue], Any]
) -> tuple[int, Any]:
    """What `kept` read if it read this version of the object; else `read` it."""
    if kept is not None and kept[0] == kv.mod_revision:
        return kept
    return (kv.mod_revision, read(kv))


# -- following the event log ---------------------------------------------------------------------


def informed(
    informer: Informer | None,
    store: Store,
    revision: int,
    reading: Hashable,
    read_node: NodeReader,
    read_pod: PodReader,
) -> Informer:
    """`informer` brought to the view of `store` at `revision`."""
    if informer is None or informer.reading != reading or type(store) is not Store:
        return relisted(store, revision, reading, read_node, read_pod, informer)
    if informer.revision == revision:
        return informer
    if informer.revision > revision:
        return relisted(store, revision, reading, read_node, read_pod, informer)
    try:
        events = store.events_after(informer.revision, "/registry/", "\0")
    except (Compacted, FutureRevision):
        return relisted(store, revision, reading, read_node, read_pod, informer)
    changes: dict[str, KeyValue | None] = {}
    for event in events:
        kv = event.kv
        if kv.mod_revision > revision:
            break
        if kv.key.startswith(_PREFIXES):
            changes[kv.key] = kv if event.type == "PUT" else None
    if not changes:
        return attrs.evolve(informer, revision=revision)
    return _patched(informer, revision, changes, read_node, read_pod)


def _patched(
    informer: Informer,
    revision: int,
    changes: Mapping[str, KeyValue | None],
    read_node: NodeReader,
    read_pod: PodReader,
) -> Informer:
    node_of, pod_of, labels_of = _read(read_node), _read_pod(read_pod), _read(_namespace_labels)
    nodes = informer.nodes.evolver()
    pods = informer.pods.evolver()
    namespaces = informer.namespaces.evolver()
    unbound = informer.unbound.evolver()
    bound: dict[str, list[str]] = {}  # node name -> its keys, for the nodes touched
    touched: set[str] = set()  # node names whose usage must be recounted
    nodes_changed = namespaces_changed = False

    def keys_on(node: str) -> list[str]:
        keys = bound.get(node)
        if keys is None:
            keys = bound[node] = list(informer.bound.get(node, ()))
        return keys

    for key, kv in changes.items():
        if key.startswith(PODS):
            old = informer.pods.get(key)
            old_pod = old[1] if old is not None else None
            if kv is None:
                if old is not None:
                    pods.remove(key)
                new_pod = None
            else:
                entry = _reuse(old, kv, pod_of)
                pods.set(key, entry)
                new_pod = entry[1]
            if new_pod is not None and _unbound(new_pod):
                unbound.set(key, new_pod)
            elif key in informer.unbound:
                unbound.remove(key)
            if old_pod is not None and _placed(old_pod):
                keys_on(old_pod.node_name).remove(key)
                touched.add(old_pod.node_name)
            if new_pod is not None and _placed(new_pod):
                bisect.insort(keys_on(new_pod.node_name), key)
                touched.add(new_pod.node_name)
        elif key.startswith(NODES):
            old_node = informer.nodes.get(key)
            if kv is None:
                if old_node is not None:
                    nodes.remove(key)
                    nodes_changed = True
                continue
            entry = _reuse(old_node, kv, node_of)
            if old_node is not None and entry[1] == old_node[1]:
                # All the scheduler reads of a node is in its facts: keep the ones it has.
                entry = (entry[0], old_node[1])
            else:
                nodes_changed = True
                touched.add(entry[1].name)
            nodes.set(key, entry)
        else:
            namespaces_changed = True
            if kv is None:
                if key in informer.namespaces:
                    namespaces.remove(key)
            else:
                namespaces.set(key, _reuse(informer.namespaces.get(key), kv, labels_of))
    new_bound = informer.bound.evolver()
    for node, keys in bound.items():
        if keys:
            new_bound.set(node, tuple(keys))
        elif node in informer.bound:
            new_bound.remove(node)
    result = attrs.evolve(
        informer,
        revision=revision,
        nodes=nodes.persistent(),
        pods=pods.persistent(),
        namespaces=namespaces.persistent(),
        unbound=unbound.persistent(),
        bound=new_bound.persistent(),
    )
    placement = _placement(result, informer.placement, touched, nodes_changed)
    if namespaces_changed:
        placement = attrs.evolve(placement, namespace_labels=result.namespace_labels())
    return attrs.evolve(result, placement=placement)


def _placement(
    informer: Informer, old: Placement, touched: Iterable[str], nodes_changed: bool
) -> Placement:
    """`old` with the usage of the `touched` nodes recounted (and the nodes, if they changed)."""

    def usage(name: str) -> NodeUsage:
        return usage_of([informer.pods[k][1] for k in informer.bound.get(name, ())])

    if nodes_changed:
        ordered = tuple(
            sorted((facts for _, facts in informer.nodes.values()), key=lambda n: n.name)
        )
        recount = set(touched)
        kept = old.usage
        return attrs.evolve(
            old,
            nodes=ordered,
            usage={
                n.name: kept[n.name] if n.name in kept and n.name not in recount else usage(n.name)
                for n in ordered
            },
        )
    names = [name for name in touched if name in old.usage]
    if not names:
        return old
    new_usage = dict(old.usage)
    for name in names:
        new_usage[name] = usage(name)
    return attrs.evolve(old, usage=new_usage)
