"""The DaemonSet controller (pkg/controller/daemon), as a level-triggered reducer.

One daemon pod on every node that should run one. For each DaemonSet a pass
follows upstream's syncDaemonSet:

1. claim the pods (adopt orphans, release strays) and the ControllerRevisions;
2. construct the history: the revision whose data equals the template is the
   current one (created as `<ds>-<hash>` if missing, renumbered past the old
   ones if needed); its `controller-revision-hash` label is the hash new pods
   carry;
3. when the expectations of earlier creates and deletes are met, `manage`:
   create a pod for each node that should run one and has none, delete
   failed pods (behind upstream's failedPodsBackoff), excess pods (all but
   the oldest) and pods on nodes that should not keep them; then, if manage
   had nothing to do, take a rolling-update step; then truncate the history;
4. write the status it counts, if it changed.

Whether a node should run a daemon pod is NodeShouldRunDaemonPod: the
template's nodeName, nodeSelector and required node affinity must match, and
its taints are checked against the template's tolerations plus the ones the
controller adds to every daemon pod (not-ready and unreachable NoExecute,
disk/memory/pid-pressure and unschedulable NoSchedule, network-unavailable
for host-network pods), so that cordoned or troubled nodes still get their
daemons. An untolerated NoSchedule or NoExecute taint means no new pod; only
an untolerated NoExecute taint removes a running one.

Daemon pods are not bound by the controller: each carries a required node
affinity `metadata.name In [node]` (ReplaceDaemonSetPodNodeNameNodeAffinity)
and the scheduler binds it.

Where upstream iterates a Go map (nodes of a rolling update), the reference
goes by node name, so that a run is reproducible. Other choices of the
reference (docs/fidelity.md): every create of a pass is sent at once (no
slow-start batches); deletes carry a uid precondition; a failed pod's
back-off ends exactly when flowcontrol's delay does; refused pod requests
wait out the workqueue back-off or the next change of the view, whichever
comes first; pods bound to a vanished node are left to PodGC, as upstream.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
from pyrsistent import PMap, pmap

from properties.labels import Selector
from properties.scheduling_terms import pod_matches_node_affinity, untolerated_taints
from reference.constants import (
    TAINT_NODE_NOT_READY,
    TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE,
)
from reference.controllers.base import Reconcile, View
from reference.controllers.history import (
    CONTROLLER_REVISION_HASH_LABEL,
    max_revision,
    revision_create,
    revision_delete,
    revision_name,
    revision_number_update,
    template_hash,
    template_patch,
)
from reference.controllers.workload import (
    Expectations,
    Obj,
    available_at,
    claim,
    controller_ref,
    is_available,
    is_ready,
    owner_reference,
    pod_from_template,
    selector_of,
    status_write,
)
from reference.objects import deleting, labels, meta, owner_refs
from reference.timefmt import normalize, parse_time

__all__ = [
    "BURST_REPLICAS",
    "DAEMON_TOLERATIONS",
    "TEMPLATE_GENERATION_ANNOTATION",
    "TEMPLATE_GENERATION_LABEL",
    "DaemonSetController",
    "DaemonSetState",
    "daemon_tolerations",
    "node_should_run",
]

#: daemon.BurstReplicas: creations or deletions in one sync.
BURST_REPLICAS = 250
#: apps.DeprecatedTemplateGeneration: the annotation carrying the template generation.
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
#: extensions.DaemonSetTemplateGenerationKey: the pod label carrying it.
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
#: kube-controller-manager's failedPodsBackoff: flowcontrol.NewBackOff(1s, 15m).
FAILED_POD_BACKOFF_INITIAL = 1.0
FAILED_POD_BACKOFF_MAX = 900.0
#: workqueue.DefaultControllerRateLimiter's per-item exponential back-off.
_BASE_DELAY = 0.005
_MAX_DELAY = 1000.0

_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

#: util.AddOrUpdateDaemonPodTolerations, in upstream's order (network-unavailable is
#: added only for host-network pods).
DAEMON_TOLERATIONS: tuple[Mapping[str, str], ...] = (
    {"key": TAINT_NODE_NOT_READY, "operator": "Exists", "effect": "NoExecute"},
    {"key": TAINT_NODE_UNREACHABLE, "operator": "Exists", "effect": "NoExecute"},
    {"key": _DISK_PRESSURE, "operator": "Exists", "effect": "NoSchedule"},
    {"key": _MEMORY_PRESSURE, "operator": "Exists", "effect": "NoSchedule"},
    {"key": _PID_PRESSURE, "operator": "Exists", "effect": "NoSchedule"},
    {"key": TAINT_NODE_UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"},
)
_HOST_NETWORK_TOLERATION: Mapping[str, str] = {
    "key": _NETWORK_UNAVAILABLE,
    "operator": "Exists",
    "effect": "NoSchedule",
}


# -- state -----------------------------------------------------------------------------------------


@attrs.frozen
class Backoff:
    """One failedPodsBackoff entry: the current delay and when it last grew."""

    delay: float
    last: float


@attrs.frozen
class Retry:
    """A DaemonSet whose requests were refused: the workqueue's AddRateLimited.

    Upstream requeues the key after the back-off, but any event for the
    DaemonSet syncs it earlier; the reference retries when the back-off ends
    or when its view moves past `revision`, whichever comes first.
    """

    failures: int
    at: float
    revision: int


@attrs.frozen
class DaemonSetState:
    expectations: Expectations = attrs.field(factory=Expectations)
    #: failedPodsBackoff, keyed `<ds uid>/<observedGeneration>/<node>` as upstream.
    backoff: PMap[str, Backoff] = attrs.field(factory=pmap)
    retries: PMap[str, Retry] = attrs.field(factory=pmap)


# -- node eligibility ------------------------------------------------------------------------------


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Toleration.MatchToleration: key, effect, operator and value all equal."""
    return all(a.get(k, "") == b.get(k, "") for k in ("key", "effect", "operator", "value"))


def _add_or_update_toleration(
    tolerations: list[dict[str, Any]], toleration: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """v1helper.AddOrUpdateTolerationInPodSpec: replace a matching one, else append."""
    out: list[dict[str, Any]] = []
    replaced = False
    for t in tolerations:
        if _same_toleration(toleration, t):
            out.append(dict(toleration))
            replaced = True
        else:
            out.append(t)
    if not replaced:
        out.append(dict(toleration))
    return out


def daemon_tolerations(
    spec: Mapping[str, Any], *, unschedulable: bool = True
) -> list[dict[str, Any]]:
    """The pod spec's tolerations with the daemon ones added (AddOrUpdateDaemonPodTolerations).

    `unschedulable=False` leaves out the unschedulable toleration (the
    #60163 mutant).
    """
    tolerations = [dict(t) for t in spec.get("tolerations") or () if isinstance(t, Mapping)]
    extra = list(DAEMON_TOLERATIONS)
    if not unschedulable:
        extra = [t for t in extra if t["key"] != TAINT_NODE_UNSCHEDULABLE]
    if spec.get("hostNetwork"):
        extra.append(_HOST_NETWORK_TOLERATION)
    for toleration in extra:
        tolerations = _add_or_update_toleration(tolerations, toleration)
    return tolerations


def node_should_run(
    node: Obj,
    ds: Obj,
    *,
    noschedule_evicts: bool = False,
    skips_cordoned: bool = False,
) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning).

    shouldRun: a daemon pod should be created here if there is none.
    shouldContinueRunning: a daemon pod already here may stay. An
    untolerated NoSchedule taint clears the first only; an untolerated
    NoExecute taint clears both.
    """
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    name = meta(node).get("name", "")
    if spec.get("nodeName") and spec.get("nodeName") != name:
        return False, False
    if not pod_matches_node_affinity({"spec": spec}, node):
        return False, False
    tolerations = daemon_tolerations(spec, unschedulable=not skips_cordoned)
    taints = [t for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, Mapping)]
    if skips_cordoned and (node.get("spec") or {}).get("unschedulable"):
        taints.append({"key": TAINT_NODE_UNSCHEDULABLE, "effect": "NoSchedule"})
    if not untolerated_taints(tolerations, taints, ("NoSchedule", "NoExecute")):
        return True, True
    evicting = ("NoSchedule", "NoExecute") if noschedule_evicts else ("NoExecute",)
    return False, not untolerated_taints(tolerations, taints, evicting)


# -- pods ------------------------------------------------------------------------------------------


def _node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def target_node(pod: Obj) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, else the single name of its metadata.name affinity."""
    if _node_name(pod):
        return _node_name(pod)
    spec = pod.get("spec") or {}
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for req in (term or {}).get("matchFields") or ():
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = req.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def _created(pod: Obj) -> float:
    stamp = meta(pod).get("creationTimestamp")
    return parse_time(stamp) if isinstance(stamp, str) and stamp else float("-inf")


def _oldest_first(pods: Iterable[Obj]) -> list[Obj]:
    """podByCreationTimestampAndPhase: bound pods first, then by creation, then by name."""
    return sorted(pods, key=lambda p: (not _node_name(p), _created(p), str(meta(p).get("name"))))


def _template_generation(ds: Obj) -> int | None:
    """util.GetTemplateGeneration, from the annotation apps/v1 carries it in.

    The reference's API keeps it as spec.templateGeneration (the internal
    field the annotation is converted from), which is read when the
    annotation is absent.
    """
    raw = (meta(ds).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    if raw is None:
        value = (ds.get("spec") or {}).get("templateGeneration")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _is_updated(pod: Obj, hash_: str, generation: int | None) -> bool:
    """util.IsPodUpdated: the revision hash matches, or the legacy template generation does."""
    pod_labels = labels(pod)
    by_generation = generation is not None and pod_labels.get(TEMPLATE_GENERATION_LABEL) == str(
        generation
    )
    return (
        bool(hash_) and pod_labels.get(CONTROLLER_REVISION_HASH_LABEL) == hash_
    ) or by_generation


def _node_affinity(affinity: Mapping[str, Any] | None, node: str) -> dict[str, Any]:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: required terms become `metadata.name In`."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    out = copy.deepcopy(dict(affinity or {}))
    node_affinity = dict(out.get("nodeAffinity") or {})
    required = dict(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    required["nodeSelectorTerms"] = [term]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    out["nodeAffinity"] = node_affinity
    return out


def _delete(pod: Obj) -> dict[str, Any]:
    """A pod delete, with a uid precondition (upstream's DeletePod sends none)."""
    m = meta(pod)
    return {
        "op": "delete",
        "kind": "Pod",
        "namespace": m["namespace"],
        "name": m["name"],
        "preconditions": {"uid": m["uid"]},
    }


def _scaled(value: Any, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent, rounding up; an unparsable value counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            return 0
        return -(-percent * total // 100)
    return 0


# -- one pass --------------------------------------------------------------------------------------


@attrs.define
class _Pass:
    """What one reconcile pass accumulates: writes with the owner each is expected for, wakes."""

    writes: list[dict[str, Any]] = attrs.field(factory=list)
    owners: list[str] = attrs.field(factory=list)
    wakes: list[float] = attrs.field(factory=list)
    backoff: PMap[str, Backoff] = attrs.field(factory=pmap)

    def send(self, owner: str, requests: Iterable[dict[str, Any]]) -> None:
        for request in requests:
            self.writes.append(request)
            self.owners.append(owner)


@attrs.frozen
class _History:
    """constructHistory's result: the current hash and the old revisions."""

    hash: str
    old: tuple[Obj, ...]


@attrs.frozen
class DaemonSetController:
    """upstream's DaemonSetsController; the flags are mutants, upstream by default.

    - `expectations=False` (#54096): no expectations, so a view that has not
      caught up with the controller's own creates makes it create again;
    - `skips_cordoned=True` (#60163): a cordoned node gets no daemon pod;
    - `noschedule_evicts=True` (#48189): an untolerated NoSchedule taint
      deletes running daemon pods as NoExecute does.
    """

    name: str = "daemonset"
    #: Upstream's informers relist on start: a restarted controller sees the store as it is.
    relists_on_restart: ClassVar[bool] = True
    expectations: bool = True
    skips_cordoned: bool = False
    noschedule_evicts: bool = False
    burst_replicas: int = BURST_REPLICAS

    @property
    def reads_answers(self) -> bool:
        """Answers feed the expectations; the #54096 mutant has none and acts on events only."""
        return self.expectations

    def initial_state(self) -> DaemonSetState:
        return DaemonSetState()

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        st: DaemonSetState = state if state is not None else DaemonSetState()
        expectations, failures = st.expectations.observe(view.answers, now)
        sets = list(view.objects("DaemonSet"))
        present = {meta(ds)["uid"] for ds in sets}
        expectations = _forget_gone(expectations.settle(view.revision, now), present)
        answered = set(st.expectations.sent[: len(view.answers)])
        retries = _retries(st.retries, failures, answered, present, view.revision, now)
        acc = _Pass(backoff=_live_backoff(st.backoff, present, now))
        nodes = sorted(view.objects("Node"), key=lambda n: str(meta(n).get("name")))
        pods: dict[str, list[Obj]] = defaultdict(list)
        for pod in view.objects("Pod"):
            pods[meta(pod).get("namespace", "")].append(pod)
        revisions: dict[str, list[Obj]] = defaultdict(list)
        for rev in view.objects("ControllerRevision"):
            revisions[meta(rev).get("namespace", "")].append(rev)
        for ds in sets:
            namespace = meta(ds).get("namespace", "")
            uid = meta(ds)["uid"]
            retry = retries.get(uid)
            waiting = retry is not None and now < retry.at and view.revision <= retry.revision
            if retry is not None and waiting:
                acc.wakes.append(retry.at)
            synced = not self.expectations or expectations.satisfied(uid, view.revision, now)
            self._sync(
                view,
                ds,
                nodes,
                pods[namespace],
                revisions[namespace],
                now,
                acc,
                synced and not waiting,
            )
        if self.expectations:
            timeout = expectations.timeout_at()
            if timeout is not None and timeout > now:
                acc.wakes.append(timeout)
        sent = expectations.sending(acc.owners, [str(w["op"]) for w in acc.writes])
        new_state = DaemonSetState(sent, acc.backoff, retries)
        wakes = [w for w in acc.wakes if w > now]
        return Reconcile(tuple(acc.writes), new_state, min(wakes) if wakes else None)

    # -- syncDaemonSet -----------------------------------------------------------------------------

    def _sync(
        self,
        view: View,
        ds: Obj,
        nodes: Sequence[Obj],
        pods: Sequence[Obj],
        revisions: Sequence[Obj],
        now: float,
        acc: _Pass,
        synced: bool,
    ) -> None:
        """syncDaemonSet for one DaemonSet (not for one being deleted, as upstream)."""
        if deleting(ds) or not (ds.get("spec") or {}).get("selector"):
            return
        uid = meta(ds)["uid"]
        selector = selector_of(ds)
        claimed = claim(ds, "DaemonSet", pods, selector, live=_live(view, "Pod"))
        acc.send("", claimed.writes)
        history = self._history(view, ds, selector, claimed.owned, revisions, acc)
        if history is None:
            return
        by_node = _by_node(claimed.owned, include_deleted_terminal=False)
        if synced:
            requests: list[dict[str, Any]] | None
            requests = self._manage(ds, nodes, by_node, history.hash, now, acc)
            if not requests and _strategy(ds) == "RollingUpdate":
                requests = self._rolling_update(ds, nodes, by_node, history.hash, now)
            acc.send(uid, requests or [])
            if requests is not None:  # a failed rolling update returns before cleanupHistory
                all_pods = _by_node(claimed.owned, include_deleted_terminal=True)
                acc.send("", _cleanup_history(ds, history.old, all_pods))
        status = self._status(view, ds, nodes, by_node, history.hash, now, synced)
        if status is not None:
            acc.send("", [status])
        acc.wakes.extend(_availability_wakes(ds, claimed.owned, now))

    def _should_run(self, node: Obj, ds: Obj) -> tuple[bool, bool]:
        return node_should_run(
            node,
            ds,
            noschedule_evicts=self.noschedule_evicts,
            skips_cordoned=self.skips_cordoned,
        )

    # -- history -----------------------------------------------------------------------------------

    def _history(
        self,
        view: View,
        ds: Obj,
        selector: Selector,
        owned_pods: Sequence[Obj],
        revisions: Sequence[Obj],
        acc: _Pass,
    ) -> _History | None:
        """constructHistory: None when a hash collision stops the sync (collisionCount bumped)."""
        histories = _claim_revisions(view, ds, selector, revisions, acc)
        patch = template_patch(ds)
        current: list[Obj] = []
        old: list[Obj] = []
        for rev in histories:
            if CONTROLLER_REVISION_HASH_LABEL not in (meta(rev).get("labels") or {}):
                rev = _with_hash_label(rev)
                acc.send("", [_update_live(view, rev, lambda r: _with_hash_label(r))])
            (current if rev.get("data") == patch else old).append(rev)
        number = max_revision(old) + 1
        if not current:
            cur = self._snapshot(view, ds, patch, number, acc)
            if cur is None:
                return None
        else:
            cur = _dedup(ds, current, owned_pods, acc)
            if int(cur.get("revision") or 0) < number:
                acc.send("", [_update_live(view, cur, lambda r: {**r, "revision": number})])
        hash_ = str((meta(cur).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) or "")
        return _History(hash_, tuple(old))

    def _snapshot(
        self, view: View, ds: Obj, patch: Mapping[str, Any], number: int, acc: _Pass
    ) -> Obj | None:
        """snapshot: create `<ds>-<hash>`; a different revision under that name is a collision."""
        m = meta(ds)
        collisions = (ds.get("status") or {}).get("collisionCount")
        hash_ = template_hash((ds.get("spec") or {}).get("template") or {}, collisions)
        name = revision_name(str(m["name"]), hash_)
        existing = view.live_get("ControllerRevision", m.get("namespace", ""), name)
        if existing is None:
            request = revision_create(ds, "DaemonSet", patch, number, hash_)
            acc.send("", [request])
            created: Obj = request["object"]
            return created
        if existing.get("data") == patch:
            found: Obj = existing  # already created (upstream checks the data, not the owner)
            return found
        live_ds = view.live_get("DaemonSet", m.get("namespace", ""), m["name"])
        if live_ds is None or meta(live_ds).get("uid") != m["uid"]:
            return None
        live_status = dict(live_ds.get("status") or {})
        if live_status.get("collisionCount") != collisions:
            return None  # a stale collision count: retry once the view has the new one
        live_status["collisionCount"] = int(collisions or 0) + 1
        acc.send("", [status_write("DaemonSet", live_ds, live_status)])
        return None

    # -- manage ------------------------------------------------------------------------------------

    def _manage(
        self,
        ds: Obj,
        nodes: Sequence[Obj],
        by_node: Mapping[str, list[Obj]],
        hash_: str,
        now: float,
        acc: _Pass,
    ) -> list[dict[str, Any]]:
        """manage: the pods to create and delete so that each node has what it should."""
        needing: list[str] = []
        doomed: list[Obj] = []
        for node in nodes:
            create, delete = self._pods_should_be_on_node(ds, node, by_node, hash_, now, acc)
            needing.extend(create)
            doomed.extend(delete)
        doomed.extend(_unscheduled_without_node(nodes, by_node))
        return self._sync_nodes(ds, doomed, needing, hash_)

    def _pods_should_be_on_node(
        self,
        ds: Obj,
        node: Obj,
        by_node: Mapping[str, list[Obj]],
        hash_: str,
        now: float,
        acc: _Pass,
    ) -> tuple[list[str], list[Obj]]:
        """podsShouldBeOnNode: (nodes needing a daemon pod, pods to delete) for one node."""
        name = str(meta(node)["name"])
        should_run, should_continue = self._should_run(node, ds)
        exists = name in by_node
        daemon_pods = by_node.get(name, [])
        if should_run and not exists:
            return [name], []
        if not should_continue:
            return [], [p for p in daemon_pods if not deleting(p)] if exists else []
        doomed: list[Obj] = []
        running: list[Obj] = []
        for pod in daemon_pods:
            if deleting(pod):
                continue
            if _phase(pod) == "Failed":
                if self._failed_pod_may_go(ds, name, now, acc):
                    doomed.append(pod)
            elif _phase(pod) == "Succeeded":
                doomed.append(pod)
            else:
                running.append(pod)
        if not _allows_surge(ds):
            doomed.extend(_oldest_first(running)[1:])
            return [], doomed
        if len(running) <= 1:
            return ([name] if not running and should_run else []), doomed
        return [], doomed + _surge_excess(ds, running, hash_, now)

    def _failed_pod_may_go(self, ds: Obj, node: str, now: float, acc: _Pass) -> bool:
        """failedPodsBackoff: delete a failed pod at most once per back-off window per node."""
        observed = int((ds.get("status") or {}).get("observedGeneration") or 0)
        key = f"{meta(ds)['uid']}/{observed}/{node}"
        entry = acc.backoff.get(key)
        if entry is not None and _expired(entry, now):
            entry = None
        if entry is not None and now - entry.last < entry.delay:
            acc.wakes.append(normalize(entry.last + entry.delay))
            return False
        delay = (
            FAILED_POD_BACKOFF_INITIAL
            if entry is None
            else min(entry.delay * 2, FAILED_POD_BACKOFF_MAX)
        )
        acc.backoff = acc.backoff.set(key, Backoff(delay, now))
        return True

    def _sync_nodes(
        self, ds: Obj, doomed: Sequence[Obj], needing: Sequence[str], hash_: str
    ) -> list[dict[str, Any]]:
        """syncNodes: creates (at most burstReplicas), then deletes (as many)."""
        spec = ds.get("spec") or {}
        template = dict(spec.get("template") or {})
        template_spec = template.get("spec") or {}
        extra = {CONTROLLER_REVISION_HASH_LABEL: hash_} if hash_ else {}
        generation = _template_generation(ds)
        if generation is not None:
            extra = {TEMPLATE_GENERATION_LABEL: str(generation), **extra}
        tolerations = daemon_tolerations(template_spec, unschedulable=not self.skips_cordoned)
        requests: list[dict[str, Any]] = []
        for node in needing[: self.burst_replicas]:
            patch = {
                "tolerations": tolerations,
                "affinity": _node_affinity(template_spec.get("affinity"), node),
            }
            requests.append(
                pod_from_template(ds, "DaemonSet", template, extra_labels=extra, spec_patch=patch)
            )
        requests.extend(_delete(p) for p in doomed[: self.burst_replicas])
        return requests

    # -- rolling update ----------------------------------------------------------------------------

    def _rolling_update(
        self,
        ds: Obj,
        nodes: Sequence[Obj],
        by_node: Mapping[str, list[Obj]],
        hash_: str,
        now: float,
    ) -> list[dict[str, Any]] | None:
        """rollingUpdate: replace old pods within maxUnavailable, or surge within maxSurge.

        None when it fails (a pod's node is missing while surging).
        """
        wanted = [str(meta(n)["name"]) for n in nodes if self._should_run(n, ds)[0]]
        slots: dict[str, list[Obj]] = {name: list(pods) for name, pods in by_node.items()}
        for name in wanted:
            slots.setdefault(name, [])
        desired = len(wanted)
        rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = _scaled(rolling.get("maxUnavailable"), desired)
        max_surge = _scaled(rolling.get("maxSurge"), desired)
        if desired > 0 and max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        generation = _template_generation(ds)
        if max_surge == 0:
            doomed = _replace_within_unavailable(
                slots, hash_, generation, max_unavailable, min_ready, now
            )
            return self._sync_nodes(ds, doomed, [], hash_)
        nodes_by_name = {str(meta(n)["name"]): n for n in nodes}
        plan = self._surge(
            ds, slots, nodes_by_name, hash_, generation, max_surge, desired, min_ready, now
        )
        if plan is None:
            return None
        doomed, needing = plan
        return self._sync_nodes(ds, doomed, needing, hash_)

    def _surge(
        self,
        ds: Obj,
        slots: Mapping[str, list[Obj]],
        nodes: Mapping[str, Obj],
        hash_: str,
        generation: int | None,
        max_surge: int,
        desired: int,
        min_ready: int,
        now: float,
    ) -> tuple[list[Obj], list[str]] | None:
        """rollingUpdate with maxSurge: a new pod first, the old one once the new is available.

        None when a pod's node is missing (upstream's lister Get fails and the
        sync returns an error).
        """
        doomed: list[Obj] = []
        not_run: list[Obj] = []
        candidates: list[str] = []
        allowed: list[str] = []
        surge = 0
        available = 0
        for name in sorted(slots):
            found = _updated_pods_on_node(slots[name], hash_, generation)
            if found is None:
                surge += 1
                continue
            new, old = found
            if old is not None:
                available += is_available(old, min_ready, now)
            elif new is not None:
                available += is_available(new, min_ready, now)
            if old is None:
                continue
            if new is None:
                node = nodes.get(name)
                if node is None:
                    return None
                should_run = self._should_run(node, ds)[0]
                if not is_available(old, min_ready, now):
                    if should_run:
                        allowed.append(name)
                    else:
                        doomed.append(old)
                elif not should_run:
                    not_run.append(old)
                elif surge < max_surge:
                    candidates.append(name)
                continue
            if not is_available(new, min_ready, now):
                surge += 1
            else:
                doomed.append(old)
        deletable = min(available - desired, len(not_run))
        if deletable > 0:
            doomed.extend(not_run[:deletable])
        room = min(max(max_surge - surge, 0), len(candidates))
        return doomed, allowed + candidates[:room]

    # -- status ------------------------------------------------------------------------------------

    def _status(
        self,
        view: View,
        ds: Obj,
        nodes: Sequence[Obj],
        by_node: Mapping[str, list[Obj]],
        hash_: str,
        now: float,
        observed: bool,
    ) -> dict[str, Any] | None:
        """updateDaemonSetStatus: a status write, or None when nothing changed."""
        spec = ds.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        generation = _template_generation(ds)
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            should_run = self._should_run(node, ds)[0]
            pods = by_node.get(str(meta(node)["name"])) or []
            if not should_run:
                misscheduled += bool(pods)
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = _oldest_first(pods)[0]
            if is_ready(pod):
                ready += 1
                available += is_available(pod, min_ready, now)
            updated += _is_updated(pod, hash_, generation)
        counts = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        old = ds.get("status") or {}
        ds_generation = int(meta(ds).get("generation") or 0)
        unchanged = all(int(old.get(k) or 0) == v for k, v in counts.items())
        if unchanged and int(old.get("observedGeneration") or 0) >= ds_generation:
            return None
        live = view.live_get("DaemonSet", meta(ds).get("namespace", ""), meta(ds)["name"])
        if live is None or meta(live).get("uid") != meta(ds)["uid"]:
            return None
        base = dict(live.get("status") or {})
        status = {**base, **counts}
        if observed:
            status["observedGeneration"] = ds_generation
        for key in _OMIT_EMPTY:
            if not status.get(key):
                status.pop(key, None)
        if status == base:
            return None
        return status_write("DaemonSet", live, status)


#: DaemonSetStatus fields marked omitempty: a zero is not stored.
_OMIT_EMPTY = (
    "observedGeneration",
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
)


# -- helpers of a pass -----------------------------------------------------------------------------


def _strategy(ds: Obj) -> str:
    return str(((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "")


def _allows_surge(ds: Obj) -> bool:
    """util.AllowsSurge: a RollingUpdate whose maxSurge, scaled against 1, is positive."""
    if _strategy(ds) != "RollingUpdate":
        return False
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return _scaled(rolling.get("maxSurge"), 1) > 0


def _by_node(pods: Iterable[Obj], *, include_deleted_terminal: bool) -> dict[str, list[Obj]]:
    """getNodesToDaemonPods: claimed pods by target node, minus deleted terminal ones."""
    out: dict[str, list[Obj]] = {}
    for pod in pods:
        if (
            not include_deleted_terminal
            and deleting(pod)
            and _phase(pod) in ("Succeeded", "Failed")
        ):
            continue
        node = target_node(pod)
        if node is None:
            continue
        out.setdefault(node, []).append(pod)
    return out


def _unscheduled_without_node(nodes: Sequence[Obj], by_node: Mapping[str, list[Obj]]) -> list[Obj]:
    """getUnscheduledPodsWithoutNode: unbound pods aimed at a node that does not exist.

    Pods already being deleted are skipped (upstream deletes them again).
    """
    names = {str(meta(n)["name"]) for n in nodes}
    return [
        pod
        for node, pods in sorted(by_node.items())
        if node not in names
        for pod in pods
        if not _node_name(pod) and not deleting(pod)
    ]


def _surge_excess(ds: Obj, running: Sequence[Obj], hash_: str, now: float) -> list[Obj]:
    """With surge, at most the oldest new and the oldest old pod stay; the old one while needed."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    doomed: list[Obj] = []
    oldest_new: Obj | None = None
    oldest_old: Obj | None = None
    for pod in _oldest_first(running):
        if labels(pod).get(CONTROLLER_REVISION_HASH_LABEL) == hash_:
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        doomed.append(pod)
    if (
        oldest_new is not None
        and oldest_old is not None
        and (not is_ready(oldest_old) or is_available(oldest_new, min_ready, now))
    ):
        doomed.append(oldest_old)
    return doomed


def _updated_pods_on_node(
    pods: Sequence[Obj], hash_: str, generation: int | None
) -> tuple[Obj | None, Obj | None] | None:
    """findUpdatedPodsOnNode: (new, old) among pods not being deleted; None if one repeats."""
    new: Obj | None = None
    old: Obj | None = None
    for pod in pods:
        if deleting(pod):
            continue
        if _is_updated(pod, hash_, generation):
            if new is not None:
                return None
            new = pod
        else:
            if old is not None:
                return None
            old = pod
    return new, old


def _replace_within_unavailable(
    slots: Mapping[str, list[Obj]],
    hash_: str,
    generation: int | None,
    max_unavailable: int,
    min_ready: int,
    now: float,
) -> list[Obj]:
    """rollingUpdate without surge: old pods to delete, counting the unavailable nodes."""
    unavailable = 0
    replacements: list[Obj] = []
    candidates: list[Obj] = []
    for name in sorted(slots):
        found = _updated_pods_on_node(slots[name], hash_, generation)
        if found is None:
            unavailable += 1
            continue
        new, old = found
        if (new is None) == (old is None):
            unavailable += 1
        elif new is not None:
            unavailable += not is_available(new, min_ready, now)
        elif old is not None:
            if not is_available(old, min_ready, now):
                replacements.append(old)
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old)
    room = min(max(max_unavailable - unavailable, 0), len(candidates))
    return replacements + candidates[:room]


def _cleanup_history(
    ds: Obj, old: Sequence[Obj], by_node: Mapping[str, list[Obj]]
) -> list[dict[str, Any]]:
    """cleanupHistory: delete the oldest old revisions beyond the limit that no pod still uses."""
    limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    to_kill = len(old) - limit
    if to_kill <= 0:
        return []
    live = {
        labels(p).get(CONTROLLER_REVISION_HASH_LABEL)
        for pods in by_node.values()
        for p in pods
        if labels(p).get(CONTROLLER_REVISION_HASH_LABEL)
    }
    out: list[dict[str, Any]] = []
    for rev in sorted(old, key=lambda r: int(r.get("revision") or 0)):
        if to_kill <= 0:
            break
        if (meta(rev).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) in live:
            continue
        out.append(revision_delete(rev))
        to_kill -= 1
    return out


def _claim_revisions(
    view: View, ds: Obj, selector: Selector, revisions: Sequence[Obj], acc: _Pass
) -> list[Obj]:
    """ClaimControllerRevisions: ours that match, plus matching orphans adopted; strays released."""
    uid = meta(ds)["uid"]
    out: list[Obj] = []
    for rev in revisions:
        ref = controller_ref(rev)
        matches = selector.matches(meta(rev).get("labels") or {})
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                out.append(rev)
            else:
                kept = [r for r in owner_refs(rev) if r.get("uid") != uid]
                acc.send("", [_owner_patch(view, rev, kept)])
            continue
        if not matches or deleting(rev):
            continue
        refs = [*owner_refs(rev), owner_reference(ds, "DaemonSet")]
        acc.send("", [_owner_patch(view, rev, refs)])
        out.append(rev)
    return out


def _owner_patch(view: View, rev: Obj, refs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A patch of a revision's ownerReferences, refused if the revision changed meanwhile."""
    m = meta(rev)
    live = view.live_get("ControllerRevision", m.get("namespace", ""), m["name"])
    version = meta(live).get("resourceVersion") if live is not None else None
    return {
        "op": "patch",
        "kind": "ControllerRevision",
        "namespace": m.get("namespace", ""),
        "name": m["name"],
        "patch": {
            "metadata": {
                "ownerReferences": [dict(r) for r in refs] or None,
                "uid": m["uid"],
                "resourceVersion": version or None,
            }
        },
    }


def _with_hash_label(rev: Obj) -> dict[str, Any]:
    """The revision labelled with its own name as hash, as constructHistory adds a missing label."""
    m = dict(meta(rev))
    m["labels"] = {**(m.get("labels") or {}), CONTROLLER_REVISION_HASH_LABEL: m["name"]}
    return {**rev, "metadata": m}


def _update_live(view: View, rev: Obj, change: Callable[[Obj], Obj]) -> dict[str, Any]:
    """An update of the revision as it is live (upstream updates its cached copy), changed."""
    m = meta(rev)
    live = view.live_get("ControllerRevision", m.get("namespace", ""), m["name"]) or rev
    changed = change(live)
    return revision_number_update(changed, int(changed.get("revision") or 0))


def _dedup(ds: Obj, current: Sequence[Obj], pods: Sequence[Obj], acc: _Pass) -> Obj:
    """dedupCurHistories: keep the highest revision, relabel pods to its hash, delete the rest."""
    if len(current) == 1:
        return current[0]
    keep = current[0]
    for rev in current:
        if int(rev.get("revision") or 0) >= int(keep.get("revision") or 0):
            keep = rev
    keep_hash = (meta(keep).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
    for pod in pods:
        if labels(pod).get(CONTROLLER_REVISION_HASH_LABEL) != keep_hash:
            m = meta(pod)
            acc.send(
                "",
                [
                    {
                        "op": "patch",
                        "kind": "Pod",
                        "namespace": m["namespace"],
                        "name": m["name"],
                        "patch": {
                            "metadata": {"labels": {CONTROLLER_REVISION_HASH_LABEL: keep_hash}}
                        },
                    }
                ],
            )
    acc.send("", [revision_delete(r) for r in current if meta(r)["name"] != meta(keep)["name"]])
    return keep


def _live(view: View, kind: str) -> Any:
    def get(obj: Obj) -> Obj | None:
        m = meta(obj)
        found: Obj | None = view.live_get(kind, m.get("namespace", ""), m["name"])
        return found

    return get


def _availability_wakes(ds: Obj, pods: Sequence[Obj], now: float) -> list[float]:
    """When a ready pod becomes available (minReadySeconds), so that counts move then."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    if min_ready <= 0:
        return []
    return [at for p in pods if (at := available_at(p, min_ready)) is not None and at > now]


def _expired(entry: Backoff, now: float) -> bool:
    """flowcontrol's hasExpired: quiet for twice the maximum delay."""
    return now - entry.last > 2 * FAILED_POD_BACKOFF_MAX


def _live_backoff(backoff: PMap[str, Backoff], present: set[str], now: float) -> PMap[str, Backoff]:
    """The back-off entries still meaningful (upstream's GC drops expired ones every minute)."""
    return pmap(
        {k: e for k, e in backoff.items() if not _expired(e, now) and k.split("/", 1)[0] in present}
    )


def _forget_gone(expectations: Expectations, present: set[str]) -> Expectations:
    pending = expectations.pending
    for uid in list(pending):
        if uid not in present:
            pending = pending.remove(uid)
    return attrs.evolve(expectations, pending=pending)


def _retries(
    retries: PMap[str, Retry],
    failures: Mapping[str, Sequence[Mapping[str, Any]]],
    answered: set[str],
    present: set[str],
    revision: int,
    now: float,
) -> PMap[str, Retry]:
    """AddRateLimited for each DaemonSet with refused pod requests, Forget once they succeed.

    The failure count, and with it the delay, grows while the requests keep
    being refused and resets when a pass's requests all go through.
    """
    out: dict[str, Retry] = {}
    for uid in present:
        refused = [a for a in failures.get(uid, ()) if not _not_found_delete(a)]
        before = retries.get(uid)
        if refused:
            count = before.failures + 1 if before else 1
            delay = min(_BASE_DELAY * 2 ** (count - 1), _MAX_DELAY)
            out[uid] = Retry(count, normalize(now + delay), revision)
        elif before is not None and uid not in answered:
            out[uid] = before
    return pmap(out)


def _not_found_delete(answer: Mapping[str, Any]) -> bool:
    """syncNodes ignores a delete of a pod already gone."""
    code = (answer.get("status") or {}).get("code")
    return answer.get("op") == "delete" and code == 404
