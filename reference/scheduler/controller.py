"""kube-scheduler as a controller: the queue, the cycle, binding, and preemption's writes.

Each pass reads the view, builds the placement (bound pods that have not
finished, plus the pods it bound itself and has not yet seen bound: the
*assumed* pods of upstream's cache, which keep a lagging view from
overcommitting a node), and tries the pending pods in queue order:
higher priority first, then earlier creation. A pod that fits nowhere
waits: it is tried again only once the placement it failed against has
changed (upstream's cluster events; upstream's five-minute flush would
change nothing on an unchanged cluster, so it is not modelled), and not
before its back-off (1 s doubling to 10 s) has passed.

The informer behind the view never goes back in time: a restarted
scheduler (`relists_on_restart`) lists the store as it is, as upstream's
informers do, and lags only from there.

The facts of the view and the placement of its bound pods are kept in the
state between passes (`cache.Informer`), patched from the store's events
rather than rebuilt from the whole view, as upstream's informers and cache
are; a restart hands back the initial state, so the scheduler relists.
`SchedulerController(cache=False)` rebuilds them from the view every pass:
the readable form, which tests/unit/test_scheduler_cache.py holds the
cached one to (the same writes and the same state, pass after pass).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
from pyrsistent import PMap, pmap

from properties.placement import NodeFacts, Placement, PodFacts
from reference.controllers.base import Reconcile, View
from reference.scheduler.cache import Informer, informed
from reference.scheduler.fast import FastScheduler
from reference.scheduler.preemption import eligible_to_preempt, preemption_candidate
from reference.scheduler.profile import Profile, SchedulerConfig
from reference.scheduler.spec import Decision
from reference.timefmt import format_time, normalize

__all__ = ["Engine", "SchedulerController", "SchedulerState"]

POD_INITIAL_BACKOFF_SECONDS = 1.0
POD_MAX_BACKOFF_SECONDS = 10.0
PREEMPTION_MESSAGE = "preempting to accommodate a higher priority pod"


class Engine(Protocol):
    """One scheduling cycle's decision; the spec and the fast path both implement it."""

    @property
    def name(self) -> str: ...

    def decide(
        self,
        pod: PodFacts,
        placement: Placement,
        profile: Profile,
        start: int = 0,
        nominated: Mapping[str, Sequence[PodFacts]] | None = None,
    ) -> Decision: ...


@attrs.frozen
class Waiting:
    """An unschedulable pod: how often it failed, when it may retry, and against what."""

    attempts: int
    retry_at: float
    fingerprint: str


@attrs.frozen
class SchedulerState:
    #: uid -> the pod as bound by this scheduler, until the view shows it bound or gone.
    assumed: PMap[str, PodFacts] = attrs.field(factory=pmap)
    waiting: PMap[str, Waiting] = attrs.field(factory=pmap)
    next_start: int = 0
    #: Pods ever seen bound, for the mutant that never forgets them (#22398).
    ghosts: PMap[str, PodFacts] = attrs.field(factory=pmap)
    #: The facts of the last view and the placement of its bound pods (None: list the view).
    #: A function of the view alone, so it takes no part in the state's equality: a pass
    #: that only moved it has changed nothing.
    informer: Informer | None = attrs.field(default=None, eq=False, repr=False)


def _queue_order(pod: PodFacts) -> tuple[int, str, str, str]:
    created = str((pod.wire.get("metadata") or {}).get("creationTimestamp") or "")
    return (-pod.priority, created, pod.namespace, pod.name)


def _fingerprint(placement: Placement, nominated: Mapping[str, Sequence[PodFacts]]) -> str:
    """What a failed pod was judged against; it is tried again when this changes."""
    parts = [
        (
            n.name,
            sorted(n.labels.items()),
            [sorted(t.items()) for t in n.taints],
            n.unschedulable,
            sorted(n.allocatable.items()),
            sorted((p.uid, p.terminating) for p in placement.usage[n.name].pods),
        )
        for n in placement.nodes
    ]
    nominations = sorted((node, sorted(p.uid for p in pods)) for node, pods in nominated.items())
    text = json.dumps([parts, nominations, sorted(placement.namespace_labels.items())], default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _pod_fingerprint(cluster: str, pod: PodFacts) -> str:
    spec = json.dumps(pod.wire.get("spec") or {}, sort_keys=True, default=str)
    return hashlib.blake2b(f"{cluster}{spec}".encode(), digest_size=16).hexdigest()


def _set_condition(pod: Mapping[str, Any], condition: Mapping[str, Any]) -> list[dict[str, Any]]:
    conditions = [dict(c) for c in (pod.get("status") or {}).get("conditions") or ()]
    for i, c in enumerate(conditions):
        if c.get("type") == condition["type"]:
            same = all(c.get(k) == condition.get(k) for k in ("status", "reason", "message"))
            if same:
                return conditions
            if c.get("status") == condition["status"]:
                conditions[i] = {**condition, "lastTransitionTime": c.get("lastTransitionTime")}
            else:
                conditions[i] = dict(condition)
            return conditions
    return [*conditions, dict(condition)]


def _unschedulable_message(total: int, decision: Decision) -> str:
    counts: dict[str, int] = {}
    for failure in decision.failures.values():
        for reason in failure.reason.split(", "):
            counts[reason] = counts.get(reason, 0) + 1
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
    return (
        f"0/{total} nodes are available: {reasons}."
        if reasons
        else f"0/{total} nodes are available."
    )


@attrs.frozen
class SchedulerController:
    name: str = "scheduler"
    relists_on_restart: bool = True
    config: SchedulerConfig = attrs.field(factory=SchedulerConfig)
    #: The fast path by default; tests/unit/test_scheduler_paths.py holds it to the spec.
    engine: Engine = attrs.field(factory=FastScheduler)
    #: Count pods bound but not yet seen bound on their node (False: #76772's cache, which
    #: leaves them out of the node's usage until the watch shows the binding).
    assume: bool = True
    #: Drop pods from node usage once deleted or finished (False: #22398, counted forever).
    forget_gone_pods: bool = True
    #: Queue pods bound to cordoned nodes again, as if unbound (True: a mutant, for bindings
    #: that move when the API lets them).
    requeue_cordoned: bool = False
    #: Preemption evicts only pods of lower priority (False: it picks higher ones, #129136).
    victims_below_preemptor: bool = True
    #: Resources the fit check and scores ignore (a mutant ignores memory).
    ignored_resources: frozenset[str] = frozenset()
    #: Taint effects the scheduler does not see (a mutant ignores NoSchedule).
    ignored_taint_effects: frozenset[str] = frozenset()
    #: Keep the view's facts and placement between passes (False: rebuild them every pass).
    cache: bool = True

    def initial_state(self) -> SchedulerState:
        return SchedulerState()

    # -- reading the view ----------------------------------------------------------------------
    def _node(self, node: Mapping[str, Any]) -> NodeFacts:
        facts = NodeFacts.of(node)
        if self.ignored_taint_effects:
            taints = tuple(
                t for t in facts.taints if t.get("effect") not in self.ignored_taint_effects
            )
            facts = attrs.evolve(facts, taints=taints)
        return facts

    def _pod(self, pod: Mapping[str, Any]) -> PodFacts:
        facts = PodFacts.of(pod)
        if self.ignored_resources:
            requests = {r: q for r, q in facts.requests.items() if r not in self.ignored_resources}
            facts = attrs.evolve(facts, requests=requests)
        return facts

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        state = state if isinstance(state, SchedulerState) else SchedulerState()
        simple = self.forget_gone_pods and not self.requeue_cordoned
        informer = None
        if self.cache:
            informer = informed(
                state.informer,
                view.store,
                view.revision,
                (self.ignored_resources, self.ignored_taint_effects),
                self._node,
                self._pod,
            )
            if simple:
                prepared = self._from_informer(informer, state)
            else:
                prepared = self._prepare(
                    informer.node_list(),
                    informer.pod_list(),
                    informer.namespace_labels(),
                    state,
                )
        else:
            prepared = self._from_view(view, state)
        if prepared is None:
            # Nothing to schedule (the nodes level's pods are all bound by the user).
            return Reconcile(
                (), SchedulerState(next_start=state.next_start, informer=informer), None
            )
        placement, pending, assumed, ghosts = prepared
        nominated: dict[str, list[PodFacts]] = {}
        for p in pending:
            if p.nominated_node:
                nominated.setdefault(p.nominated_node, []).append(p)
        cycle = _Cycle(self, view, now, placement, nominated, dict(assumed), state.next_start)
        waiting: dict[str, Waiting] = {}
        judged: tuple[Placement, int, str] | None = None

        def fingerprint_of(pod: PodFacts) -> str:
            nonlocal judged
            if judged is None or judged[0] is not cycle.placement or judged[1] != cycle.nominations:
                fp = _fingerprint(cycle.placement, cycle.nominated)
                judged = (cycle.placement, cycle.nominations, fp)
            return _pod_fingerprint(judged[2], pod)

        for pod in pending:
            entry = state.waiting.get(pod.uid)
            if entry is not None:
                fingerprint = fingerprint_of(pod)
                if entry.fingerprint == fingerprint or entry.retry_at > now:
                    waiting[pod.uid] = entry
                    continue
            if not cycle.schedule(pod):
                # A failure is remembered with what it failed against (a failure changes no
                # placement; its preemption's nomination is part of the fingerprint).
                attempts = (entry.attempts if entry else 0) + 1
                backoff = min(
                    POD_INITIAL_BACKOFF_SECONDS * 2 ** (attempts - 1), POD_MAX_BACKOFF_SECONDS
                )
                waiting[pod.uid] = Waiting(attempts, normalize(now + backoff), fingerprint_of(pod))
        retries = [w.retry_at for uid, w in waiting.items() if w.retry_at > now]
        new_state = SchedulerState(
            pmap(cycle.assumed), pmap(waiting), cycle.next_start, ghosts, informer
        )
        # A pod waiting on an unchanged cluster needs no wake-up; one whose cluster changed does.
        wake = min(retries) if retries else None
        return Reconcile(tuple(cycle.writes), new_state, wake)

    # -- what a pass works on: the placement, the queue, the assumed pods and the ghosts ------
    def _from_view(self, view: View, state: SchedulerState) -> _Prepared | None:
        """Everything rebuilt from the view (`cache=False`)."""
        wire_pods = list(view.objects("Pod"))
        simple = self.forget_gone_pods and not self.requeue_cordoned
        if simple and all((p.get("spec") or {}).get("nodeName") for p in wire_pods):
            return None
        nodes = [self._node(n) for n in view.objects("Node")]
        namespaces = {
            ns["metadata"]["name"]: dict(ns["metadata"].get("labels") or {})
            for ns in view.objects("Namespace")
        }
        return self._prepare(nodes, [self._pod(p) for p in wire_pods], namespaces, state)

    def _prepare(
        self,
        nodes: list[NodeFacts],
        pods: list[PodFacts],
        namespaces: Mapping[str, Mapping[str, str]],
        state: SchedulerState,
    ) -> _Prepared | None:
        """From the view's facts, in its order."""
        simple = self.forget_gone_pods and not self.requeue_cordoned
        if simple and all((p.wire.get("spec") or {}).get("nodeName") for p in pods):
            return None
        by_uid = {p.uid: p for p in pods}
        assumed = {
            uid: p
            for uid, p in state.assumed.items()
            if uid in by_uid and not by_uid[uid].node_name
        }
        placed = [p for p in pods if p.node_name]
        if self.assume:
            placed += assumed.values()
        ghosts = state.ghosts
        if not self.forget_gone_pods:
            for p in placed:
                if p.uid not in ghosts and not p.terminal:
                    ghosts = ghosts.set(p.uid, p)
            alive = {p.uid for p in placed if not p.terminal}
            placed += [
                attrs.evolve(g, terminal=False) for uid, g in ghosts.items() if uid not in alive
            ]
        placement = Placement.of(nodes, placed, namespaces)
        if self.requeue_cordoned:
            cordoned = {n.name for n in nodes if n.unschedulable}
            pods = [
                attrs.evolve(p, node_name="")
                if p.node_name in cordoned and not p.terminating
                else p
                for p in pods
            ]
        pending = self._queue(p for p in pods if p.uid not in assumed)
        return placement, pending, assumed, ghosts

    def _from_informer(self, informer: Informer, state: SchedulerState) -> _Prepared | None:
        """`_prepare` of the informer's view, from its placement and its unbound pods (for the
        scheduler that forgets gone pods and requeues none)."""
        unbound = list(informer.unbound.values())
        if not unbound:
            return None  # every pod's spec names a node
        waiting = {p.uid for p in unbound}  # uids are unique in a view
        assumed = {uid: p for uid, p in state.assumed.items() if uid in waiting}
        placement = informer.placement
        if self.assume and assumed:
            usage = dict(placement.usage)
            for p in assumed.values():  # after the view's pods, as `Placement.of` adds them
                if p.node_name and not p.terminal and p.node_name in usage:
                    usage[p.node_name] = usage[p.node_name].plus(p)
            placement = attrs.evolve(placement, usage=usage)
        pending = self._queue(p for p in unbound if p.uid not in assumed)
        return placement, pending, assumed, state.ghosts

    def _queue(self, pods: Iterable[PodFacts]) -> list[PodFacts]:
        """The pods to try, in queue order."""
        return sorted(
            (
                p
                for p in pods
                if not p.node_name
                and not p.terminating
                and not p.terminal
                and self.config.profile(p.scheduler_name) is not None
                and not (p.wire.get("spec") or {}).get("schedulingGates")
            ),
            key=_queue_order,
        )


_Prepared = tuple[Placement, list[PodFacts], dict[str, PodFacts], PMap[str, PodFacts]]


@attrs.define
class _Cycle:
    """One pass over the queue: the placement grows as pods are bound."""

    scheduler: SchedulerController
    view: View
    now: float
    placement: Placement
    nominated: dict[str, list[PodFacts]]
    assumed: dict[str, PodFacts]
    next_start: int
    writes: list[dict[str, Any]] = attrs.field(factory=list)
    #: Bumped whenever `nominated` changes, so that fingerprints are recomputed only then.
    nominations: int = 0

    def schedule(self, pod: PodFacts) -> bool:
        profile = self.scheduler.config.profile(pod.scheduler_name)
        assert profile is not None
        decision = self.scheduler.engine.decide(
            pod, self.placement, profile, self.next_start, self.nominated
        )
        if self.placement.nodes:
            self.next_start = (self.next_start + decision.evaluated) % len(self.placement.nodes)
        if decision.node is not None:
            self._bind(pod, decision.node)
            return True
        self._unschedulable(pod, profile, decision)
        return False

    def _bind(self, pod: PodFacts, node: str) -> None:
        self.writes.append(
            {
                "op": "bind",
                "namespace": pod.namespace,
                "name": pod.name,
                "node": node,
                "uid": pod.uid,
            }
        )
        bound = attrs.evolve(pod, node_name=node)
        self.assumed[pod.uid] = bound
        if self.scheduler.assume:
            self.placement = self.placement.with_pod(bound, node)  # `bound` as it is
        for pods in self.nominated.values():
            pods[:] = [p for p in pods if p.uid != pod.uid]
        self.nominations += 1

    def _unschedulable(self, pod: PodFacts, profile: Profile, decision: Decision) -> None:
        nominate: str | None = pod.nominated_node
        if profile.preemption and eligible_to_preempt(pod, self.placement, decision.failures):
            nominate = None  # no candidate: the nomination is cleared
            candidate = preemption_candidate(
                pod, self._for_preemption(pod), profile, decision.failures, self.nominated
            )
            if candidate is not None:
                nominate = candidate.node
                for victim in candidate.victims:
                    self._evict(victim, pod)
                self._clear_lower_nominations(pod, candidate.node)
                self.nominated.setdefault(candidate.node, []).append(
                    attrs.evolve(pod, nominated_node=candidate.node)
                )
                self.nominations += 1
        live = self.view.live_get("Pod", pod.namespace, pod.name)
        if live is None or live["metadata"].get("uid") != pod.uid:
            return
        status = dict(live.get("status") or {})
        before = json.dumps(status, sort_keys=True)
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": _unschedulable_message(len(self.placement.nodes), decision),
            "lastTransitionTime": format_time(self.now),
        }
        status["conditions"] = _set_condition(live, condition)
        if nominate:
            status["nominatedNodeName"] = nominate
        else:
            status.pop("nominatedNodeName", None)
        if json.dumps(status, sort_keys=True) != before:
            self.writes.append({"op": "status", "object": {**live, "status": status}})

    def _for_preemption(self, pod: PodFacts) -> Placement:
        """The placement preemption reasons over; the mutant compares priorities the wrong way."""
        if self.scheduler.victims_below_preemptor:
            return self.placement
        flipped = {
            name: attrs.evolve(
                usage,
                pods=tuple(
                    attrs.evolve(p, priority=2 * pod.priority - p.priority) for p in usage.pods
                ),
            )
            for name, usage in self.placement.usage.items()
        }
        return attrs.evolve(self.placement, usage=flipped)

    def _evict(self, victim: PodFacts, preemptor: PodFacts) -> None:
        live = self.view.live_get("Pod", victim.namespace, victim.name)
        if live is None or live["metadata"].get("uid") != victim.uid:
            return
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": f"{preemptor.scheduler_name}: {PREEMPTION_MESSAGE}",
            "lastTransitionTime": format_time(self.now),
        }
        status = {**(live.get("status") or {}), "conditions": _set_condition(live, condition)}
        self.writes.append({"op": "status", "object": {**live, "status": status}})
        self.writes.append(
            {
                "op": "delete",
                "kind": "Pod",
                "namespace": victim.namespace,
                "name": victim.name,
                "preconditions": {"uid": victim.uid},
            }
        )

    def _clear_lower_nominations(self, pod: PodFacts, node: str) -> None:
        for other in list(self.nominated.get(node, ())):
            if other.priority >= pod.priority:
                continue
            live = self.view.live_get("Pod", other.namespace, other.name)
            if live is not None and live["metadata"].get("uid") == other.uid:
                status = {
                    k: v for k, v in (live.get("status") or {}).items() if k != "nominatedNodeName"
                }
                self.writes.append({"op": "status", "object": {**live, "status": status}})
            self.nominated[node].remove(other)
            self.nominations += 1
