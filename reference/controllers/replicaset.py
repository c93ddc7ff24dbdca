"""The ReplicaSet controller (pkg/controller/replicaset), as a level-triggered reducer.

SEMANTICS §3. For each ReplicaSet it claims the active pods its selector
matches, and, when its expectations are met and the ReplicaSet is not being
deleted, creates or deletes pods to reach spec.replicas (at most
`burst_replicas` a pass), choosing victims by upstream's deletion ranking.
Then it writes the status it counts: replicas, fullyLabeledReplicas,
readyReplicas, availableReplicas, terminatingReplicas, observedGeneration and
the ReplicaFailure condition when requests were refused.

A refused create or delete makes the ReplicaSet wait out upstream's
workqueue back-off (5 ms doubling to 1000 s) before it tries again, instead
of retrying at the same instant.

Pods that end Failed (a kubelet rejected them) hold back the ReplicaSet's
next creations: the reference's own choice, where upstream replaces them at
once and a template that can never be admitted makes thousands of Failed
pods a minute (kubernetes#131116, #72593; PR #130411 proposed a back-off
and was closed). The delay follows the kubelet's crash-loop back-off,
counted over the creation seconds of the ReplicaSet's Failed pods (and of
those a taint evicted before they started): `creations_open_at`. It is
derived from the pods, not remembered, so a restarted or lagging controller
keeps it, and a template that can never be admitted adds one batch of
Failed pods at the delays 10, 20, 40, 80, 160, then every 300 seconds,
instead of making the control loop diverge.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from pyrsistent import PMap, pmap

from reference.constants import TIMING_PARAMETERS
from reference.controllers.base import Reconcile, View
from reference.controllers.workload import (
    Expectations,
    Obj,
    available_at,
    claim,
    controller_ref,
    is_active,
    is_ready,
    pod_from_template,
    ready_since,
    set_condition,
    status_write,
)
from reference.objects import deleting, labels, meta
from reference.timefmt import normalize, parse_time

__all__ = [
    "BURST_REPLICAS",
    "FAILED_POD_BACKOFF_INITIAL",
    "FAILED_POD_BACKOFF_MAX",
    "FAILED_POD_BACKOFF_RESET",
    "POD_DELETION_COST",
    "ReplicaSetController",
    "ReplicaSetState",
    "creations_open_at",
]

#: replicaset.BurstReplicas: creations or deletions in one sync.
BURST_REPLICAS = 500
#: The PodDeletionCost annotation (GA): lower costs are deleted first.
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
#: workqueue.DefaultControllerRateLimiter's per-item exponential back-off.
_BASE_DELAY = 0.005
_MAX_DELAY = 1000.0
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}
#: The reference's back-off for creating pods after some ended Failed: the kubelet's
#: crash-loop back-off (10 s doubling to 300 s, forgotten after 600 s without a failure), the
#: delays users already know for a pod that cannot start.
FAILED_POD_BACKOFF_INITIAL = float(TIMING_PARAMETERS["crashLoopBackOffInitialSeconds"])
FAILED_POD_BACKOFF_MAX = float(TIMING_PARAMETERS["crashLoopBackOffMaxSeconds"])
FAILED_POD_BACKOFF_RESET = float(TIMING_PARAMETERS["crashLoopBackOffResetSeconds"])
#: Without the back-off (the mutant), the next creation after a failure waits only this long:
#: upstream's loop through the API, the kubelet and the informers takes about as much, and a
#: creation at the very instant of the failure would never let the reference's instant end.
HOT_LOOP_PERIOD = 1.0


@attrs.frozen
class Retry:
    """A ReplicaSet whose requests were refused: how many times in a row, and when to retry."""

    failures: int
    at: float


@attrs.frozen
class ReplicaSetState:
    expectations: Expectations = attrs.field(factory=Expectations)
    retries: PMap[str, Retry] = attrs.field(factory=pmap)
    #: uid -> the status last written, so that a view that has not caught up with it yet
    #: does not make the controller write it again (upstream syncs once per event).
    written: PMap[str, str] = attrs.field(factory=pmap)


@attrs.frozen
class ReplicaSetController:
    """upstream's ReplicaSetController; `uses_expectations=False` is the #129795 mutant."""

    name: str = "replicaset"
    relists_on_restart: ClassVar[bool] = True
    burst_replicas: int = BURST_REPLICAS
    uses_expectations: bool = True
    #: Delete the pods whose names sort last instead of by rank (the #3948 mutant).
    ranks_deletions: bool = True
    adopts: bool = True
    releases: bool = True
    #: Manage replicas only when the spec changed (an edge-triggered controller, a mutant).
    level_triggered: bool = True
    #: Count terminating pods as active (a mutant: pods stuck terminating are never replaced).
    counts_terminating: bool = False
    #: Back off creating pods after some ended Failed (False: replace them at the next sync,
    #: as upstream, the #131116 mutant).
    backs_off_failed: bool = True

    @property
    def reads_answers(self) -> bool:
        """Answers feed expectations; without them a pass that re-sends its writes would loop."""
        return self.uses_expectations

    def initial_state(self) -> ReplicaSetState:
        return ReplicaSetState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        st: ReplicaSetState = state if state is not None else ReplicaSetState()
        expectations, failures = st.expectations.observe(view.answers, now)
        answered = set(st.expectations.sent[: len(view.answers)]) - {""}
        sets = list(view.objects("ReplicaSet"))
        present = {meta(rs)["uid"] for rs in sets}
        expectations = _forget_gone(expectations.settle(view.revision, now), present)
        retries, written = st.retries, st.written
        for uid in list(retries):
            if uid not in present:
                retries = retries.remove(uid)
        for uid in list(written):
            if uid not in present:
                written = written.remove(uid)
        pods_by_namespace: dict[str, list[Obj]] = defaultdict(list)
        for pod in view.objects("Pod"):
            pods_by_namespace[meta(pod).get("namespace", "")].append(pod)
        writes: list[dict[str, Any]] = []
        owners: list[str] = []
        wakes: list[float] = []

        def send(owner: str, requests: Sequence[dict[str, Any]]) -> None:
            writes.extend(requests)
            owners.extend([owner] * len(requests))

        for rs in sets:
            uid = meta(rs)["uid"]
            failed = failures.get(uid, ())
            if failed:
                before = retries.get(uid)
                count = before.failures + 1 if before else 1
                delay = min(_BASE_DELAY * 2 ** (count - 1), _MAX_DELAY)
                retries = retries.set(uid, Retry(count, normalize(now + delay)))
            elif uid in answered and uid in retries:
                retries = retries.remove(uid)  # the retry went through: the workqueue forgets
            pods = pods_by_namespace.get(meta(rs)["namespace"], [])
            active = [p for p in pods if is_active(p) or (self.counts_terminating and _alive(p))]
            claimed = claim(
                rs,
                "ReplicaSet",
                active,
                live=_live(view),
                adopts=self.adopts,
                releases=self.releases,
            )
            send(uid, claimed.writes)
            retry = retries.get(uid)
            waiting = retry is not None and now < retry.at
            synced = not self.uses_expectations or expectations.satisfied(uid, view.revision, now)
            edge = self.level_triggered or _spec_changed(rs)
            deleted: set[str] = set()
            if synced and not waiting and not deleting(rs) and edge:
                opens = self._creations_open_at(uid, pods)
                held = opens is not None and now < opens
                managed = self._manage(rs, claimed.owned, sets, pods, now, held)
                if opens is not None and held and _short(rs, claimed.owned):
                    wakes.append(opens)
                deleted = {str(w["name"]) for w in managed if w["op"] == "delete"}
                send(uid, managed)
            if retry is not None and waiting:
                wakes.append(retry.at)
            leaving = sum(1 for p in claimed.owned if meta(p)["name"] in deleted and _graceful(p))
            status = _status(rs, claimed.owned, pods, now, failed, uid in retries, leaving)
            text = json.dumps(status, sort_keys=True)
            if status != (rs.get("status") or {}) and written.get(uid) != text:
                send("", [status_write("ReplicaSet", rs, status)])
                written = written.set(uid, text)
            wakes.extend(_availability_wakes(rs, claimed.owned, now))
        timeout = expectations.timeout_at() if self.uses_expectations else None
        if timeout is not None and timeout > now:
            wakes.append(timeout)
        if self.uses_expectations:
            expectations = expectations.sending(owners, [str(w["op"]) for w in writes])
        state = ReplicaSetState(expectations, retries, written)
        return Reconcile(tuple(writes), state, min(wakes) if wakes else None)

    def _creations_open_at(self, uid: str, pods: Sequence[Obj]) -> float | None:
        """When this ReplicaSet may next create pods, given those turned away (None: no hold)."""
        stamps = [
            created
            for p in pods
            if (ref := controller_ref(p)) is not None
            and ref.get("uid") == uid
            and _turned_away(p)
            and (created := _created(p)) is not None
        ]
        if not self.backs_off_failed:
            return normalize(max(stamps) + HOT_LOOP_PERIOD) if stamps else None
        return creations_open_at(stamps)

    def _manage(
        self,
        rs: Obj,
        owned: Sequence[Obj],
        sets: Sequence[Obj],
        pods: Sequence[Obj],
        now: float,
        held: bool = False,
    ) -> list[dict[str, Any]]:
        """manageReplicas: the creations or deletions that bring the active pods to spec.

        While `held` (the Failed-pod back-off), it creates nothing.
        """
        spec = rs.get("spec") or {}
        diff = len(owned) - int(spec.get("replicas", 1))
        if diff < 0 and held:
            return []
        if diff < 0:
            template = spec.get("template") or {}
            n = min(-diff, self.burst_replicas)
            return [pod_from_template(rs, "ReplicaSet", template) for _ in range(n)]
        if diff > 0:
            n = min(diff, self.burst_replicas)
            if self.ranks_deletions:
                victims = pods_to_delete(owned, _related(rs, sets, pods), n, now)
            else:
                victims = sorted(owned, key=lambda p: str(meta(p)["name"]))[-n:]
            return [_delete(p) for p in victims]
        return []


def creations_open_at(
    stamps: Sequence[float],
    initial: float = FAILED_POD_BACKOFF_INITIAL,
    cap: float = FAILED_POD_BACKOFF_MAX,
    reset: float = FAILED_POD_BACKOFF_RESET,
) -> float | None:
    """When a ReplicaSet may create pods again, from the creation times of its Failed pods.

    The distinct creation seconds (creationTimestamp is whole seconds) form
    chains: a second more than `reset` after the one before starts a new
    chain. The n-th second of the last chain holds creations back for
    min(initial * 2^(n-1), cap) seconds after it, as the kubelet's crash-loop
    back-off grows with each crash and is forgotten after `reset` seconds of
    quiet. None when no pod has failed. Pods that failed long after they
    were created (a node cut off at the time) count at their creation, which
    only lengthens the hold.
    """
    if not stamps:
        return None
    seconds = sorted(set(stamps))
    level = 1
    for before, after in itertools.pairwise(seconds):
        level = min(level + 1, 64) if after - before <= reset else 1
    return normalize(seconds[-1] + min(initial * 2 ** (level - 1), cap))


def _turned_away(pod: Obj) -> bool:
    """A pod that counts toward the back-off: Failed (and not going away), or evicted for a
    NoExecute taint before any container started.

    The second kind is the same loop one step earlier: a pod bound to a
    tainted node whose kubelet is down or cut off is evicted by the taint
    manager, not rejected, and stays terminating there; without it, a
    template pinned to such a node would be re-created at the very instant
    of each eviction (kubernetes#76370).
    """
    status = pod.get("status") or {}
    if not deleting(pod):
        return status.get("phase") == "Failed"
    evicted = any(
        c.get("type") == "DisruptionTarget"
        and c.get("status") == "True"
        and c.get("reason") == "DeletionByTaintManager"
        for c in status.get("conditions") or ()
    )
    return evicted and not any(
        "running" in (s.get("state") or {})
        or "terminated" in (s.get("state") or {})
        or "terminated" in (s.get("lastState") or {})
        for s in status.get("containerStatuses") or ()
    )


def _short(rs: Obj, owned: Sequence[Obj]) -> bool:
    """The ReplicaSet has fewer active pods than it wants: it would create."""
    return len(owned) < int((rs.get("spec") or {}).get("replicas", 1))


def _alive(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _graceful(pod: Obj) -> bool:
    """A delete leaves this pod terminating: it is bound and not finished (else it goes at once)."""
    return bool((pod.get("spec") or {}).get("nodeName")) and _alive(pod)


def _spec_changed(rs: Obj) -> bool:
    observed = int((rs.get("status") or {}).get("observedGeneration") or 0)
    return observed < int(meta(rs).get("generation") or 1)


def _live(view: View) -> Any:
    def get(pod: Obj) -> Obj | None:
        m = meta(pod)
        found: Obj | None = view.live_get("Pod", m.get("namespace", ""), m["name"])
        return found

    return get


def _forget_gone(expectations: Expectations, present: set[str]) -> Expectations:
    pending = expectations.pending
    for uid in list(pending):
        if uid not in present:
            pending = pending.remove(uid)
    return attrs.evolve(expectations, pending=pending)


def _delete(pod: Obj) -> dict[str, Any]:
    m = meta(pod)
    return {
        "op": "delete",
        "kind": "Pod",
        "namespace": m["namespace"],
        "name": m["name"],
        "preconditions": {"uid": m["uid"]},
    }


def _related(rs: Obj, sets: Sequence[Obj], pods: Sequence[Obj]) -> list[Obj]:
    """getIndirectlyRelatedPods: the pods of this ReplicaSet and of its siblings.

    Siblings are the ReplicaSets of the namespace with the same controller
    (a Deployment's old and new ReplicaSets); without a controller, only the
    ReplicaSet's own pods are related.
    """
    uids = {meta(rs)["uid"]}
    owner = controller_ref(rs)
    if owner is not None:
        uids |= {
            meta(s)["uid"]
            for s in sets
            if meta(s).get("namespace") == meta(rs).get("namespace")
            and (ref := controller_ref(s)) is not None
            and ref.get("uid") == owner.get("uid")
        }
    return [p for p in pods if (ref := controller_ref(p)) is not None and ref.get("uid") in uids]


def pods_to_delete(owned: Sequence[Obj], related: Sequence[Obj], n: int, now: float) -> list[Obj]:
    """getPodsToDelete: the first n pods by upstream's ranking (all of them when n covers all)."""
    if n >= len(owned):
        return list(owned)
    on_node: dict[str, int] = defaultdict(int)
    for pod in related:
        if is_active(pod):
            on_node[_node(pod)] += 1
    ranked = [(pod, on_node[_node(pod)]) for pod in owned]
    ranked.sort(key=functools.cmp_to_key(functools.partial(_compare, now=now)))
    return [pod for pod, _ in ranked[:n]]


def _node(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _phase_order(pod: Obj) -> int:
    return _PHASE_ORDER.get(str((pod.get("status") or {}).get("phase") or ""), 3)


def _cost(pod: Obj) -> int:
    raw = (meta(pod).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _restarts(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _created(pod: Obj) -> float | None:
    stamp = meta(pod).get("creationTimestamp")
    return parse_time(stamp) if isinstance(stamp, str) and stamp else None


def _log_rank(t: float, now: float) -> int:
    """floor(log2(now - t in nanoseconds)), or -1 when t is not in the past."""
    d = round((now - t) * 1e9)
    return int(math.log2(d)) if d > 0 else -1


def _newer_first(t1: float | None, t2: float | None, uid1: str, uid2: str, now: float) -> int:
    """Rules 6 and 8 under LogarithmicScaleDown: zero first, then the younger log bucket."""
    if t1 == t2:
        return 0
    if t1 is None or t2 is None:
        return -1 if t1 is None else 1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


def _compare(a: tuple[Obj, int], b: tuple[Obj, int], now: float) -> int:
    """ActivePodsWithRanks.Less as a comparison: negative when a is deleted before b."""
    (p, rank_p), (q, rank_q) = a, b
    keys = (
        (_node(p) != "", _node(q) != ""),
        (_phase_order(p), _phase_order(q)),
        (is_ready(p), is_ready(q)),
        (_cost(p), _cost(q)),
        (-rank_p, -rank_q),
    )
    for x, y in keys:
        if x != y:
            return -1 if x < y else 1
    uid_p, uid_q = str(meta(p).get("uid")), str(meta(q).get("uid"))
    if is_ready(p) and is_ready(q):
        order = _newer_first(ready_since(p), ready_since(q), uid_p, uid_q, now)
        if order:
            return order
    if _restarts(p) != _restarts(q):
        return -1 if _restarts(p) > _restarts(q) else 1
    return _newer_first(_created(p), _created(q), uid_p, uid_q, now)


def _status(
    rs: Obj,
    owned: Sequence[Obj],
    pods: Sequence[Obj],
    now: float,
    failed: Sequence[Mapping[str, Any]],
    failing: bool,
    leaving: int = 0,
) -> dict[str, Any]:
    """calculateStatus over the claimed active pods, with the terminating ones counted apart.

    `leaving` counts the pods this very pass deletes gracefully. Upstream
    counts them terminating only on its next sync, so for one pass a
    Deployment under TerminationComplete can surge over them; the reference
    counts them at once (docs/fidelity.md), which is what
    `workloads.surge-counts-terminating` (strict) holds it to.
    """
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    uid = meta(rs)["uid"]
    terminating = leaving + sum(
        1
        for p in pods
        if deleting(p)
        and (ref := controller_ref(p)) is not None
        and ref.get("uid") == uid
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )
    old = rs.get("status") or {}
    status: dict[str, Any] = {
        "replicas": len(owned),
        "fullyLabeledReplicas": sum(
            1 for p in owned if all(labels(p).get(k) == v for k, v in template_labels.items())
        ),
        "readyReplicas": sum(1 for p in owned if is_ready(p)),
        "availableReplicas": sum(
            1 for p in owned if (at := available_at(p, min_ready)) is not None and at <= now
        ),
        "terminatingReplicas": terminating,
        "observedGeneration": meta(rs).get("generation", 1),
    }
    conditions = [dict(c) for c in old.get("conditions") or ()]
    has_failure = any(c.get("type") == "ReplicaFailure" for c in conditions)
    if failed and not has_failure:
        reason = "FailedCreate" if any(a.get("op") == "create" for a in failed) else "FailedDelete"
        message = str((failed[0].get("status") or {}).get("message") or "")
        conditions = set_condition(conditions, "ReplicaFailure", "True", reason, message, now)
    elif not failing and has_failure:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if conditions:
        status["conditions"] = conditions
    # omitempty on every count but replicas, as upstream serialises the status
    return {k: v for k, v in status.items() if k == "replicas" or v not in (0, None)}


def _availability_wakes(rs: Obj, owned: Sequence[Obj], now: float) -> list[float]:
    """When a ready pod becomes available (minReadySeconds), so that the count moves then."""
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    if min_ready <= 0:
        return []
    return [at for p in owned if (at := available_at(p, min_ready)) is not None and at > now]
