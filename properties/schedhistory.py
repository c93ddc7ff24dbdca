"""What the scheduling laws read: every binding and every preemption, with the state it was made in.

With `watch`, the history replays the target's events in revision order,
so each binding (a pod's nodeName going from empty to a node) comes with
the cluster exactly as it was just before: the scheduler's decision can be
judged against what it could see. Without `watch`, bindings are found in
the snapshots and judged against the snapshot they first appear in, which
is a coarser reading (`exact` is False) that the laws take into account.

The history is folded step by step and memoised per trace object, as the
nodes history is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PSet, pmap, pset

from properties.folds import TraceFold
from properties.placement import NodeFacts, Placement, PodFacts
from properties.trace import Exchange, ObjectKey, key_of

__all__ = ["Binding", "SchedulingHistory", "Victim", "history", "placement_of"]

SCHEDULER = "scheduler"
State = PMap[ObjectKey, Mapping[str, Any]]


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _node_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def preempted(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "DisruptionTarget" and c.get("reason") == "PreemptionByScheduler"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


@attrs.frozen
class Binding:
    """A pod seen bound for the first time, and the state just before (or the snapshot)."""

    step: int
    pod: Mapping[str, Any]
    node: str
    before: State
    #: From watch events: `before` is the state just before the binding.
    exact: bool
    #: The scheduler was told to lag: it decided on an older view than `before`.
    lagging: bool


@attrs.frozen
class Victim:
    """A pod seen marked for deletion by preemption for the first time."""

    step: int
    pod: Mapping[str, Any]
    node: str
    before: State
    exact: bool
    lagging: bool


@attrs.frozen
class SchedulingHistory:
    step: int = -1
    #: The state as the watch events (or, without them, the snapshots) tell it.
    state: State = attrs.field(factory=pmap)
    watching: bool = False
    #: uid -> the node it was first seen bound to.
    bound: PMap[str, str] = attrs.field(factory=pmap)
    #: (uid, first node, later node) for every pod seen moved; the newest step's only.
    moved: tuple[tuple[Mapping[str, Any], str, str], ...] = ()
    bindings: tuple[Binding, ...] = ()
    victims: tuple[Victim, ...] = ()
    #: Pods seen nominated to a node during the newest step: (node, the pod as seen).
    nominations: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    seen_victims: PSet[str] = attrs.field(factory=pset)
    lagging: bool = False
    #: uids of pods deleted with grace period 0: their containers may outlive the object.
    force_deleted: PSet[str] = attrs.field(factory=pset)
    #: The last version seen of every pod, by uid, including deleted ones.
    pods: PMap[str, Mapping[str, Any]] = attrs.field(factory=pmap)
    runtime: Mapping[str, Any] | None = None
    #: The newest step ended with a settle that answered settled.
    settled: bool = False


def placement_of(state: State, without: str = "") -> Placement:
    """The placement a state describes: its nodes, and its bound pods that have not finished."""
    nodes = [NodeFacts.of(o) for (kind, _, _), o in state.items() if kind == "Node"]
    pods = [
        PodFacts.of(o)
        for (kind, _, _), o in state.items()
        if kind == "Pod" and _uid(o) != without and _node_name(o)
    ]
    namespaces = {
        name: dict((o.get("metadata") or {}).get("labels") or {})
        for (kind, _, name), o in state.items()
        if kind == "Namespace"
    }
    return Placement.of(nodes, pods, namespaces)


class _Folder:
    def __init__(self, h: SchedulingHistory, step: int) -> None:
        self.h = attrs.evolve(
            h, step=step, moved=(), bindings=(), victims=(), nominations=(), settled=False
        )
        self.bindings: list[Binding] = []
        self.nominations: list[tuple[str, Mapping[str, Any]]] = []
        self.victims: list[Victim] = []
        self.moved: list[tuple[Mapping[str, Any], str, str]] = []

    def see_pod(self, pod: Mapping[str, Any], before: State, exact: bool) -> None:
        h = self.h
        uid = _uid(pod)
        if not uid:
            return
        pods = h.pods.set(uid, pod)
        node = _node_name(pod)
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            self.nominations.append((str(nominated), pod))
        bound = h.bound
        if node:
            first = bound.get(uid)
            if first is None:
                bound = bound.set(uid, node)
                created_bound = (before.get(key_of(pod)) or {}) == {} and exact
                if not created_bound:
                    self.bindings.append(Binding(h.step, pod, node, before, exact, h.lagging))
            elif first != node:
                self.moved.append((pod, first, node))
        seen = h.seen_victims
        if preempted(pod) and uid not in seen:
            seen = seen.add(uid)
            self.victims.append(Victim(h.step, pod, node, before, exact, h.lagging))
        self.h = attrs.evolve(h, pods=pods, bound=bound, seen_victims=seen)

    def exchange(self, ex: Exchange) -> None:
        h = self.h
        op, request, answer = ex.op, ex.request, ex.answer
        if op == "controller.lag" and ex.ok and request.get("name") == SCHEDULER:
            seconds = request.get("seconds") or 0
            self.h = attrs.evolve(h, lagging=bool(seconds))
        elif op == "reset" and ex.ok:
            self.h = attrs.evolve(h, state=pmap(), lagging=False)
        elif op == "delete" and ex.ok and request.get("kind") == "Pod":
            if request.get("gracePeriodSeconds") == 0:
                obj = answer.get("object") or {}
                known = h.state.get(("Pod", request.get("namespace", ""), request.get("name", "")))
                for candidate in (obj, known or {}):
                    if _uid(candidate):
                        self.h = attrs.evolve(
                            self.h, force_deleted=self.h.force_deleted.add(_uid(candidate))
                        )
        elif op == "runtime" and ex.ok:
            self.h = attrs.evolve(h, runtime=answer)
        elif op == "watch" and ex.ok:
            self.h = attrs.evolve(h, watching=True)
            for event in answer.get("events") or ():
                self._event(event)
        elif op == "snapshot" and ex.ok:
            self._snapshot(answer.get("objects") or ())
        if op in ("advance", "settle") and ex.ok:
            self.h = attrs.evolve(self.h, settled=op == "settle" and bool(answer.get("settled")))

    def _event(self, event: Mapping[str, Any]) -> None:
        obj = event.get("object") or {}
        key = key_of(obj)
        before = self.h.state
        if event.get("type") == "DELETED":
            self.h = attrs.evolve(self.h, state=before.discard(key))
            return
        if key[0] == "Pod":
            self.see_pod(obj, before, exact=True)
        self.h = attrs.evolve(self.h, state=self.h.state.set(key, obj))

    def _snapshot(self, objects: Iterable[Mapping[str, Any]]) -> None:
        state: State = pmap({key_of(o): o for o in objects})
        if self.h.watching:
            for o in objects:
                if o.get("kind") == "Pod" and _uid(o) in self.h.bound:
                    self.see_pod(o, state, exact=False)
            return
        for o in objects:
            if o.get("kind") == "Pod":
                self.see_pod(o, state, exact=False)
        self.h = attrs.evolve(self.h, state=state)

    def result(self) -> SchedulingHistory:
        return attrs.evolve(
            self.h,
            bindings=tuple(self.bindings),
            victims=tuple(self.victims),
            moved=tuple(self.moved),
            nominations=tuple(self.nominations),
        )


def _fold(h: SchedulingHistory, exchanges: Iterable[Exchange], step: int) -> SchedulingHistory:
    folder = _Folder(h, step)
    for ex in exchanges:
        folder.exchange(ex)
    return folder.result()


#: The history of a trace, built from its predecessor's (memoised by identity).
history: TraceFold[SchedulingHistory] = TraceFold(SchedulingHistory, _fold)
