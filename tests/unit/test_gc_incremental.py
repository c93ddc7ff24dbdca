"""The garbage collector's incremental pass decides exactly as the whole-view scan did.

`GarbageCollector.reconcile` keeps the dependency graph of its last pass in its
state (outside equality) and moves it on by the store's events since, looking
only at the dependents an event touched (itself or the key of one of its
owners). `_ReferenceGarbageCollector` below is the pass as it was
(reference/controllers/garbagecollector.py before it kept a graph), copied
verbatim but for names. Both run on generated histories - owners deleted in the
background, in the foreground, orphaning; dependents added; owner references
changed, pointing at other uids, other namespaces, unknown kinds; finalizers
held and removed; views that lag; compactions; restarts - pass after pass, and
must return the same writes and wake-up, with states equal to the initial one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference.api.errors import ApiError
from reference.api.kinds import KINDS
from reference.api.server import ApiState, handle
from reference.constants import FINALIZER_FOREGROUND, FINALIZER_ORPHAN
from reference.controllers.base import Reconcile, View
from reference.controllers.garbagecollector import (
    GarbageCollector,
    OrphanHandler,
    Resolver,
    _Classified,
    _delete,
    _remove_finalizer,
    _set_refs,
    resolve_by_coordinates,
    resolve_by_uid,
    strip_owner_references,
)
from reference.mutants import _delete_dependents
from reference.objects import decode, deleting, finalizers, meta, owner_refs
from reference.store import prefix_end, restore, snapshot

# -- the pass as it was (its helpers, unchanged, are the module's) -------------------------


@attrs.frozen
class _ReferenceGarbageCollector:
    """The view triggers, a live read decides.

    The GC's view is its dependency graph, fed by events that may lag: it
    acts on an object only when its view says an owner is gone or waiting
    for its dependents, as upstream's workers act on graph events. Before it
    writes anything it reads the objects involved live, as upstream's
    `isDangling` and `removeFinalizer` do, and decides on what it read.
    """

    name: str = "garbagecollector"
    resolve_owner: Resolver = resolve_by_coordinates
    orphan: OrphanHandler = strip_owner_references
    #: Foreground deletion waits for dependents with blockOwnerDeletion (False: it does not).
    wait_for_blocking_dependents: bool = True
    #: A dependent with a live owner is kept (False: any absent owner gets it deleted).
    spare_items_with_live_owners: bool = True

    def initial_state(self) -> None:
        return None

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        objects = list(view.all_objects())
        graph: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for obj in objects:
            for ref in owner_refs(obj):
                graph[ref.get("uid", "")].append(obj)
        writes: list[dict[str, Any]] = []
        for owner in objects:
            if deleting(owner):
                writes.extend(self._finish_owner(view, owner, graph))
        for dependent in objects:
            if owner_refs(dependent) and not deleting(dependent):
                writes.extend(self._attempt_to_delete(view, dependent))
        return Reconcile(tuple(writes))

    def _live(self, view: View, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The object as it is now, if it is still the same object (same uid)."""
        m = meta(obj)
        current = view.live_get(obj["kind"], m.get("namespace", ""), m["name"])
        if current is None or current["metadata"]["uid"] != m["uid"]:
            return None
        return current  # type: ignore[no-any-return]

    def _finish_owner(
        self, view: View, owner: Mapping[str, Any], graph: Mapping[str, list[Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        live_owner = self._live(view, owner)
        if live_owner is None:
            return []
        uid = owner["metadata"]["uid"]
        dependents: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        for seen in graph.get(uid, []):
            dependent = self._live(view, seen)
            if dependent is None:
                continue
            for ref in owner_refs(dependent):
                if ref.get("uid") != uid:
                    continue
                resolved = self.resolve_owner(view, dependent, ref, True)
                if not isinstance(resolved, str) and resolved["metadata"]["uid"] == uid:
                    dependents.append((dependent, ref))
        # Act on what the view saw (upstream's graph flags), decide on what is there now.
        fins = [f for f in finalizers(live_owner) if f in finalizers(owner)]
        if FINALIZER_ORPHAN in fins:
            if dependents:
                return self.orphan(live_owner, [d for d, _ in dependents])
            return [_remove_finalizer(live_owner, FINALIZER_ORPHAN)]
        if FINALIZER_FOREGROUND in fins:
            blocking = [d for d, ref in dependents if ref.get("blockOwnerDeletion")]
            if not blocking or not self.wait_for_blocking_dependents:
                return [_remove_finalizer(live_owner, FINALIZER_FOREGROUND)]
        return []

    def _classify(self, view: View, item: Mapping[str, Any], live: bool) -> _Classified:
        solid, dangling, waiting = [], [], []
        for ref in owner_refs(item):
            resolved = self.resolve_owner(view, item, ref, live)
            if resolved == "invalid":
                return _Classified(invalid=True)
            if resolved == "absent":
                dangling.append(ref)
            elif deleting(resolved) and FINALIZER_FOREGROUND in finalizers(resolved):
                waiting.append(ref)
            else:
                solid.append(ref)
        return _Classified(tuple(solid), tuple(dangling), tuple(waiting))

    def _attempt_to_delete(self, view: View, seen: Mapping[str, Any]) -> list[dict[str, Any]]:
        trigger = self._classify(view, seen, live=False)
        if trigger.invalid or not (trigger.dangling or trigger.waiting):
            return []
        item = self._live(view, seen)
        if item is None or deleting(item):
            return []
        found = self._classify(view, item, live=True)
        if found.invalid:
            return []
        if found.solid and (self.spare_items_with_live_owners or not found.dangling):
            if not found.dangling and not found.waiting:
                return []
            gone = {r.get("uid") for r in found.dangling + found.waiting}
            return [_set_refs(item, [r for r in owner_refs(item) if r.get("uid") not in gone])]
        has_dependents = any(
            ref.get("uid") == item["metadata"]["uid"]
            for other in view.all_objects()
            for ref in owner_refs(other)
        )
        if found.waiting and has_dependents:
            policy = "Foreground"
        elif FINALIZER_ORPHAN in finalizers(item):
            policy = "Orphan"
        elif FINALIZER_FOREGROUND in finalizers(item):
            policy = "Foreground"
        else:
            policy = "Background"
        return [_delete(item, policy)]


# -- generated histories ---------------------------------------------------------------------

NAMESPACES = ("default", "other")
HOLD = "example.com/hold"
Key = tuple[str, str, str]

names = st.sampled_from(("a", "b", "c", "d", "e"))
kinds = st.sampled_from(("ConfigMap", "ConfigMap", "Node"))
namespaces = st.sampled_from(NAMESPACES)
picks = st.integers(0, 1000)
uid_modes = st.sampled_from(("current", "current", "current", "stale", "bogus"))
blocks = st.sampled_from((None, True, False))
ref_specs = st.lists(
    st.one_of(
        st.tuples(st.just("existing"), picks, uid_modes, blocks),
        st.tuples(st.just("existing"), picks, uid_modes, blocks),
        st.tuples(st.just("existing"), picks, uid_modes, blocks),
        st.tuples(
            st.just("named"),
            st.sampled_from(("ConfigMap", "Node", "Bogus")),
            names,
            namespaces,
            uid_modes,
            blocks,
        ),
    ),
    max_size=3,
)
held = st.sampled_from(
    ((), (), (HOLD,), (FINALIZER_ORPHAN,), (FINALIZER_FOREGROUND,), (HOLD, FINALIZER_ORPHAN))
)
fractions = st.floats(0, 1)
policies = st.sampled_from((None, "Background", "Foreground", "Orphan"))
passes = st.tuples(
    st.just("gc"), st.sampled_from((1.0, 1.0, 0.0, 0.5)), st.booleans(), st.booleans()
)
actions = st.one_of(
    st.tuples(st.just("create"), kinds, namespaces, names, ref_specs, held),
    st.tuples(st.just("create"), kinds, namespaces, names, ref_specs, held),
    st.tuples(st.just("delete"), picks, policies),
    st.tuples(st.just("delete"), picks, policies),
    st.tuples(st.just("refs"), picks, ref_specs),
    st.tuples(st.just("release"), picks),
    passes,
    passes,
    passes,
    passes,
    st.tuples(st.just("restart")) | passes | passes,
    st.tuples(st.just("compact"), fractions) | passes | passes,
    st.tuples(st.just("advance"), st.floats(0, 60)),
)


def _coordinates(kind: str, namespace: str, name: str) -> Key:
    return (kind, namespace if KINDS[kind].namespaced else "", name)


@attrs.define
class _World:
    api: ApiState
    now: float = 0.0
    uids: dict[Key, list[str]] = attrs.field(factory=dict)
    floor: int = 0

    def send(self, request: Mapping[str, Any], *, system: bool = False) -> bool:
        try:
            self.api, answer = handle(self.api, request, self.now, system=system)
        except ApiError:
            return False
        obj = answer.get("object")
        if request.get("op") == "create" and answer.get("ok") and obj is not None:
            m = obj["metadata"]
            key = (obj["kind"], m.get("namespace", ""), m["name"])
            self.uids.setdefault(key, []).append(m["uid"])
        return bool(answer.get("ok"))

    def current_uid(self, key: Key) -> str | None:
        kind = KINDS[key[0]]
        kv = self.api.store.get(kind.key(key[1], key[2]))
        return None if kv is None else decode(kv.value)["metadata"]["uid"]

    def existing(self) -> list[Key]:
        """The ConfigMaps and Nodes there now, by key."""
        out = []
        for kind in ("ConfigMap", "Node"):
            for kv in self.api.store.range(
                KINDS[kind].prefix(), prefix_end(KINDS[kind].prefix())
            ).kvs:
                m = decode(kv.value)["metadata"]
                out.append((kind, m.get("namespace", ""), m["name"]))
        return out

    def pick(self, n: int) -> Key | None:
        there = self.existing()
        return there[n % len(there)] if there else None

    def refs(self, specs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        out = []
        for i, spec in enumerate(specs):
            if spec[0] == "existing":
                _, n, mode, block = spec
                picked = self.pick(n)
                if picked is None:
                    continue
                kind, name = picked[0], picked[2]
                key: Key | None = picked
            else:
                _, kind, name, namespace, mode, block = spec
                key = _coordinates(kind, namespace, name) if kind in KINDS else None
            uid: str | None = f"bogus-{i}"
            if key is not None:
                if mode == "current":
                    uid = self.current_uid(key) or uid
                elif mode == "stale" and self.uids.get(key):
                    uid = self.uids[key][0]
            ref: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "name": name, "uid": uid}
            if block is not None:
                ref["blockOwnerDeletion"] = block
            out.append(ref)
        return out


def _where(kind: str, namespace: str, name: str) -> dict[str, Any]:
    address = {"kind": kind, "name": name}
    if KINDS[kind].namespaced:
        address["namespace"] = namespace
    return address


def _new_world() -> _World:
    world = _World(ApiState())
    for ns in NAMESPACES:
        assert world.send(
            {"op": "create", "object": {"kind": "Namespace", "metadata": {"name": ns}}}
        )
    return world


def _run(
    reference: _ReferenceGarbageCollector,
    gc: GarbageCollector,
    steps: list[tuple[Any, ...]],
) -> int:
    """Play `steps`, comparing every GC pass; the number of passes that wrote."""
    world = _new_world()
    state = gc.initial_state()
    wrote = 0
    for action in steps:
        op = action[0]
        if op == "create":
            _, kind, namespace, name, specs, fins = action
            m: dict[str, Any] = {"name": name}
            if KINDS[kind].namespaced:
                m["namespace"] = namespace
            if specs:
                m["ownerReferences"] = world.refs(specs)
            if fins:
                m["finalizers"] = list(fins)
            obj: dict[str, Any] = {"kind": kind, "metadata": m}
            if kind == "ConfigMap":
                obj["data"] = {"k": "v"}
            world.send({"op": "create", "object": obj})
        elif op in ("delete", "refs", "release"):
            picked = world.pick(action[1])
            if picked is None:
                continue
            kind, namespace, name = picked
            where = _where(kind, namespace, name)
            if op == "delete":
                request = {"op": "delete", **where}
                if action[2] is not None:
                    request["propagationPolicy"] = action[2]
                world.send(request)
            elif op == "refs":
                patch = {"metadata": {"ownerReferences": world.refs(action[2]) or None}}
                world.send({"op": "patch", **where, "patch": patch})
            else:
                kv = world.api.store.get(KINDS[kind].key(namespace, name))
                assert kv is not None
                kept = [f for f in finalizers(decode(kv.value)) if f != HOLD]
                world.send(
                    {"op": "patch", **where, "patch": {"metadata": {"finalizers": kept or None}}}
                )
        elif op == "restart":
            state = gc.initial_state()
            world.floor = 0
        elif op == "compact":
            store = world.api.store
            revision = (
                store.compact_revision
                + 1
                + int(action[1] * (store.revision - store.compact_revision))
            )
            world.send(
                {"op": "compact", "resourceVersion": str(min(revision, store.revision))},
                system=True,
            )
        elif op == "advance":
            world.now += action[1]
        else:
            _, fraction, anywhere, apply = action
            store = world.api.store
            low = store.compact_revision if anywhere else max(world.floor, store.compact_revision)
            revision = max(low + int(fraction * (store.revision - low)), 1)
            view = View(store, revision, store)
            expected = reference.reconcile(view, world.now, None)
            got = gc.reconcile(view, world.now, state)
            assert got.writes == expected.writes
            assert got.wake_at == expected.wake_at
            assert got.state == gc.initial_state() and expected.state is None
            state = got.state
            world.floor = max(world.floor, revision)
            if got.writes:
                wrote += 1
            if apply:
                for write in got.writes:
                    world.send(write, system=True)
    return wrote


CONFIGS: dict[str, tuple[_ReferenceGarbageCollector, GarbageCollector]] = {
    "upstream": (_ReferenceGarbageCollector(), GarbageCollector()),
    "no-blocking": (
        _ReferenceGarbageCollector(wait_for_blocking_dependents=False),
        GarbageCollector(wait_for_blocking_dependents=False),
    ),
    "no-spare": (
        _ReferenceGarbageCollector(spare_items_with_live_owners=False),
        GarbageCollector(spare_items_with_live_owners=False),
    ),
    "orphan-deletes": (
        _ReferenceGarbageCollector(orphan=_delete_dependents),
        GarbageCollector(orphan=_delete_dependents),
    ),
    "by-uid": (
        _ReferenceGarbageCollector(resolve_owner=resolve_by_uid),
        GarbageCollector(resolve_owner=resolve_by_uid),
    ),
}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.sampled_from(sorted(CONFIGS)), st.lists(actions, min_size=20, max_size=100))
def test_the_incremental_pass_writes_what_the_scan_writes(
    config: str, steps: list[tuple[Any, ...]]
) -> None:
    reference, gc = CONFIGS[config]
    _run(reference, gc, steps)


_LOOKS: list[str] = []


@attrs.frozen
class _CountingGarbageCollector(GarbageCollector):
    """Counts the dependents it classifies as its view shows them."""

    def _classify(self, view: View, item: Mapping[str, Any], live: bool) -> Any:
        if not live:
            _LOOKS.append(item["metadata"]["name"])
        return super()._classify(view, item, live)


def test_a_pass_looks_only_at_the_dependents_an_event_touched() -> None:
    world = _new_world()
    for i in range(20):
        world.send({"op": "create", "object": {"kind": "Node", "metadata": {"name": f"n{i}"}}})
        owner = world.refs([("named", "Node", f"n{i}", "default", "current", None)])
        m = {"name": f"c{i}", "namespace": "default", "ownerReferences": owner}
        lease = {"kind": "ConfigMap", "metadata": m}
        world.send({"op": "create", "object": lease})
    reference, gc = _ReferenceGarbageCollector(), _CountingGarbageCollector()

    def gc_pass(state: Any) -> Reconcile:
        view = View(world.api.store, world.api.store.revision, world.api.store)
        got = gc.reconcile(view, world.now, state)
        assert got == attrs.evolve(reference.reconcile(view, world.now, None), state=got.state)
        for write in got.writes:
            world.send(write, system=True)
        return got

    _LOOKS.clear()
    state = gc_pass(gc.initial_state()).state
    assert len(_LOOKS) == 20
    _LOOKS.clear()
    world.send({"op": "create", "object": {"kind": "Node", "metadata": {"name": "spare"}}})
    state = gc_pass(state).state
    assert _LOOKS == []
    world.send({"op": "delete", "kind": "Node", "name": "n3"})
    result = gc_pass(state)
    assert set(_LOOKS) == {"c3"}
    assert [w["name"] for w in result.writes] == ["c3"]
    _LOOKS.clear()
    gc_pass(gc.initial_state())
    assert len(_LOOKS) == 19


def test_a_graph_handed_to_another_lineage_of_the_store_writes_what_the_scan_writes() -> None:
    """The graph is a cache in a value: a state carried to another branch of the cluster, to a
    restored store or past a compaction must still decide as a pass over the whole view."""

    def send(api: ApiState, request: dict[str, Any]) -> tuple[ApiState, dict[str, Any]]:
        api, answer = handle(api, request, 0.0, system=True)
        assert answer["ok"], answer
        return api, answer

    def configmap(name: str, **extra: Any) -> dict[str, Any]:
        return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", **extra}}

    gc = GarbageCollector()

    def passes(store: Any, state: Any) -> Reconcile:
        view = View(store, store.revision, store)
        result = gc.reconcile(view, 0.0, state)
        assert result.writes == gc._reconcile_by_scan(view).writes
        return result

    api, _ = send(
        ApiState(),
        {"op": "create", "object": {"kind": "Namespace", "metadata": {"name": "default"}}},
    )
    api, owner = send(api, {"op": "create", "object": configmap("owner")})
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["object"]["metadata"]["uid"],
    }
    api, _ = send(
        api, {"op": "create", "object": configmap("dependent", ownerReferences=[reference])}
    )
    first = passes(api.store, gc.initial_state())
    deleted, _ = send(
        api, {"op": "delete", "kind": "ConfigMap", "namespace": "default", "name": "owner"}
    )
    unrelated, _ = send(api, {"op": "create", "object": configmap("unrelated")})
    on_b = passes(unrelated.store, first.state)
    assert not on_b.writes
    # B's graph (nothing to collect) on A's store, at the same revision: the owner is gone.
    on_a = passes(deleted.store, on_b.state)
    assert on_a.writes
    assert passes(restore(snapshot(deleted.store)), on_b.state).writes
    compacted, _ = send(deleted, {"op": "compact", "resourceVersion": str(deleted.store.revision)})
    passes(compacted.store, on_a.state)
