"""Named variants of single components, each modelled on a real upstream bug.

A mutant is a `Components` value with one part replaced: composition, never
monkeypatching. `kubeprop mutants` runs each against the laws of its level
and expects the named law (or another) to kill it; `kubeprop target
reference --mutant NAME` serves one over stdio so that anyone can try.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from properties.placement import FILTERS, ResourceScoring
from reference.api.errors import Cause
from reference.api.kinds import Kind
from reference.api.server import DEFAULT_POLICY
from reference.api.validation import validate
from reference.cluster import Components
from reference.controllers import (
    Controller,
    GarbageCollector,
    NamespaceController,
    NodeLifecycleController,
    TaintEvictionController,
)
from reference.controllers.daemonset import DaemonSetController
from reference.controllers.deployment import DeploymentController
from reference.controllers.endpoints import EndpointsController
from reference.controllers.endpointslice import EndpointSliceController
from reference.controllers.garbagecollector import resolve_by_uid
from reference.controllers.replicaset import ReplicaSetController
from reference.controllers.statefulset import StatefulSetController
from reference.dns import ClusterDns
from reference.kubelet import DEFAULT_KUBELET
from reference.proxy import KubeProxy
from reference.scheduler import Profile, SchedulerConfig, SchedulerController
from reference.store import Compare, DeleteRange, Event, RangeResult, Store, TxnResult

__all__ = ["MUTANTS", "Mutant", "UnknownMutant", "components_for", "store_for"]


@attrs.frozen
class Mutant:
    name: str
    level: str
    #: The law expected to kill it (others may kill it first).
    law: str
    description: str
    bug: str
    #: Builds the mutated part: `Components` for cluster levels, a `Store` for the store level.
    build: Callable[[], Any] = attrs.field(repr=False)
    #: The level's generator finds it within the `mutants` budget. When False, the kill rests
    #: on the stored counterexample (fixtures/counterexamples), replayed as an example database.
    searchable: bool = True


class UnknownMutant(KeyError):
    def __str__(self) -> str:
        return f"no mutant named {self.args[0]!r}; known: {', '.join(sorted(MUTANTS))}"


def _per_object_resource_versions() -> Components:
    """resourceVersion counted per object (its etcd version), not by the global revision."""
    return Components(api=attrs.evolve(DEFAULT_POLICY, resource_version=lambda kv: kv.version))


def _stale_update_accepted() -> Components:
    """The resourceVersion precondition of update, patch and delete is never checked."""
    return Components(api=attrs.evolve(DEFAULT_POLICY, precondition_stale=lambda given, now: False))


def _generation_counts_status(
    kind: Kind, old: Mapping[str, Any], new: Mapping[str, Any], sent: Any
) -> bool:
    status_sent = sent.get("status") if isinstance(sent, Mapping) else None
    return old.get("spec") != new.get("spec") or (
        status_sent is not None and status_sent != old.get("status")
    )


def _generation_bumped_on_status_writes() -> Components:
    """generation compared before status is reset, so a write carrying status bumps it."""
    return Components(
        api=attrs.evolve(DEFAULT_POLICY, generation_changes=_generation_counts_status)
    )


def _finalizer_added_while_terminating() -> Components:
    """ValidateNoNewFinalizers skipped: finalizers can be added to a terminating object."""
    return Components(api=attrs.evolve(DEFAULT_POLICY, forbid_new_finalizers_while_deleting=False))


def _delete_dependents(
    owner: Mapping[str, Any], dependents: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "op": "delete",
            "kind": d["kind"],
            "namespace": d["metadata"].get("namespace", ""),
            "name": d["metadata"]["name"],
            "preconditions": {"uid": d["metadata"]["uid"]},
        }
        for d in dependents
    ]


def _orphan_deletes_dependents() -> Components:
    """The garbage collector deletes the dependents of an owner deleted with Orphan."""
    return Components().replacing(GarbageCollector(orphan=_delete_dependents))


def _gc_owner_by_uid() -> Components:
    """The garbage collector resolves owners by uid alone, across namespaces (kubernetes#65200)."""
    return Components().replacing(GarbageCollector(resolve_owner=resolve_by_uid))


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            "per-object-resource-version",
            "api",
            "api.resource-version-increases",
            "resourceVersion is a per-object counter instead of the store's global revision",
            "etcd mod revisions; kubernetes API concepts (resourceVersion is global)",
            _per_object_resource_versions,
        ),
        Mutant(
            "stale-update-accepted",
            "api",
            "api.stale-precondition-conflicts",
            "update, patch and delete accept a stale resourceVersion precondition",
            "optimistic concurrency (apiserver GuaranteedUpdate preconditions)",
            _stale_update_accepted,
        ),
        Mutant(
            "orphan-deletes-dependents",
            "api",
            "api.gc-orphan-keeps-dependents",
            "the garbage collector deletes dependents of an owner deleted with Orphan",
            "conformance: Garbage Collector, propagation Orphan",
            _orphan_deletes_dependents,
        ),
        Mutant(
            "gc-owner-by-uid",
            "api",
            "api.gc-collects-dangling",
            "the garbage collector resolves owner references by uid alone, across namespaces",
            "kubernetes#65200",
            _gc_owner_by_uid,
        ),
        Mutant(
            "generation-bumped-on-status-writes",
            "api",
            "api.generation-tracks-spec",
            "a write carrying status bumps metadata.generation although status is ignored",
            "metadata.generation contract (PrepareForUpdate compares spec only)",
            _generation_bumped_on_status_writes,
        ),
        Mutant(
            "finalizer-added-while-terminating",
            "api",
            "api.no-new-finalizers-while-terminating",
            "finalizers may be added to an object that is being deleted",
            "ValidateNoNewFinalizers (apimachinery objectmeta.go)",
            _finalizer_added_while_terminating,
        ),
    )
}


def _api(**changes: Any) -> Callable[[], Components]:
    return lambda: Components(api=attrs.evolve(DEFAULT_POLICY, **changes))


def _controllers(
    gc: GarbageCollector | None = None, ns: NamespaceController | None = None
) -> Callable[[], Components]:
    return lambda: Components().replacing(gc or GarbageCollector(), ns or NamespaceController())


def _validate_without_labels(
    kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[Cause]:
    return [c for c in validate(kind, obj, old) if not c.field.startswith("metadata.labels")]


_MORE = (
    Mutant(
        "conflict-writes-anyway",
        "api",
        "api.refusal-changes-nothing",
        "an update with a stale resourceVersion is written, then answered 409 Conflict",
        "check-then-write without atomicity (the reason etcd transactions guard updates)",
        _api(conflicts_write_nothing=False),
    ),
    Mutant(
        "create-upserts",
        "api",
        "api.create-existing-conflicts",
        "creating an existing name replaces the object instead of answering AlreadyExists",
        "create must guard on create revision 0 (registry Store.Create)",
        _api(refuse_existing_on_create=False),
    ),
    Mutant(
        "stale-get",
        "api",
        "api.deleted-stays-gone",
        "get serves the object as it was one revision ago (a lagging cache read)",
        "kubernetes#59848 (stale reads from the watch cache), KEP-2340",
        _api(read_lag=1),
    ),
    Mutant(
        "uid-reassigned-on-update",
        "api",
        "api.uid-identity",
        "an update gives the object a new uid",
        "metadata.uid is immutable (ValidateObjectMetaUpdate)",
        _api(updates_keep_uid=False),
    ),
    Mutant(
        "status-written-through-main-resource",
        "api",
        "api.observed-generation-bounded",
        "a main-resource update stores the status the client sent",
        "status subresource contract (PrepareForUpdate resets status)",
        _api(main_resource_ignores_status=False),
    ),
    Mutant(
        "finalizers-ignored",
        "api",
        "api.finalizers-hold",
        "delete removes an object at once although it carries finalizers",
        "registry Store.Delete: pending finalizers keep the object",
        _api(honor_finalizers=False),
    ),
    Mutant(
        "watch-drops-first-event",
        "api",
        "api.watch-replays-history",
        "a watch from resourceVersion r misses the first change after r",
        "etcd#15271 (watch events lost around a revision boundary)",
        _api(watch_skips=1),
    ),
    Mutant(
        "labels-not-validated",
        "api",
        "api.invalid-refused",
        "label keys and values are stored without validation",
        "ValidateLabels (apimachinery metav1 validation)",
        _api(validate=_validate_without_labels),
    ),
    Mutant(
        "list-ignores-namespace",
        "api",
        "api.list-matches-state",
        "a list in one namespace returns the objects of every namespace",
        "namespace scoping of list (registry keys by namespace)",
        _api(list_honors_namespace=False),
    ),
    Mutant(
        "foreground-ignores-blockers",
        "api",
        "api.gc-foreground-waits",
        "foreground deletion finishes without waiting for blocking dependents",
        "kubernetes#88097 (foreground state lost across restarts)",
        _controllers(gc=GarbageCollector(wait_for_blocking_dependents=False)),
    ),
    Mutant(
        "gc-deletes-on-any-absent-owner",
        "api",
        "api.gc-spares-owned",
        "the garbage collector deletes an object when any one of its owners is gone",
        "kubernetes#98040",
        _controllers(gc=GarbageCollector(spare_items_with_live_owners=False)),
    ),
    Mutant(
        "namespace-deleter-misses-leases",
        "api",
        "api.namespace-deletion-empties",
        "the namespace controller does not know Leases, so a namespace holding one never goes",
        "namespace deletion stuck on undiscovered resources (NamespaceDeletionDiscoveryFailure)",
        _controllers(
            ns=NamespaceController(
                kinds=tuple(k for k in NamespaceController().kinds if k != "Lease")
            )
        ),
    ),
)
MUTANTS.update({m.name: m for m in _MORE})


# -- the store ---------------------------------------------------------------------------------


class _WatchDropsAnEvent(Store):
    """A watch loses the first event after its start revision (etcd#15271, #18089)."""

    def events_after(
        self, revision: int, key: str = "", range_end: str | None = "\0"
    ) -> tuple[Event, ...]:
        return super().events_after(revision, key, range_end)[1:]


class _WatchRepeatsAnEvent(Store):
    """A watch delivers its first event twice (a resumed stream replaying one revision)."""

    def events_after(
        self, revision: int, key: str = "", range_end: str | None = "\0"
    ) -> tuple[Event, ...]:
        events = super().events_after(revision, key, range_end)
        return events[:1] + events


class _DeleteReusesRevision(Store):
    """A transaction of deletes only does not advance the store's revision."""

    def txn(
        self, compares: Sequence[Compare], success: Sequence[Any], failure: Sequence[Any] = ()
    ) -> tuple[Store, TxnResult]:
        store, result = super().txn(compares, success, failure)
        ops = success if result.succeeded else failure
        if store is not self and all(isinstance(op, DeleteRange) for op in ops):
            store = attrs.evolve(store, revision=self.revision)
            result = attrs.evolve(result, revision=self.revision)
        return store, result


class _ComparesIgnored(Store):
    """Every transaction takes its success branch, whatever its compares say."""

    def _holds(self, compare: Compare) -> bool:
        return True


class _CompactionIgnored(Store):
    """Compaction is acknowledged but forgets nothing."""

    def compact(self, revision: int) -> Store:
        super().compact(revision)  # the same refusals as a real compaction
        return attrs.evolve(self, compact_revision=self.compact_revision)


class _PastReadsSeeThePresent(Store):
    """A range ignores the revision it is asked for and reads the current state."""

    def range(self, key: str, range_end: str | None = None, revision: int = 0) -> RangeResult:
        if revision:
            self._check_readable(revision)
        return super().range(key, range_end, 0)


class _BackupLosesDeletions(Store):
    """A backup keeps only live keys: the history of deleted keys is gone after a restore."""

    def image(self, encode: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
        image = super().image(encode)
        live = {k for k in self.current}
        image["keys"] = {k: v for k, v in image["keys"].items() if k in live}
        image["log"] = [e for e in image["log"] if e["key"] in live]
        return image


_STORE_MUTANTS = (
    Mutant(
        "watch-drops-an-event",
        "store",
        "store.watch-delivers-history",
        "a watch loses the first event after its start revision",
        "etcd#15271, etcd#18089",
        _WatchDropsAnEvent,
    ),
    Mutant(
        "watch-repeats-an-event",
        "store",
        "store.watch-delivers-history",
        "a watch delivers an event twice",
        "etcd robustness: watch `unique` validator",
        _WatchRepeatsAnEvent,
    ),
    Mutant(
        "delete-reuses-revision",
        "store",
        "store.revision-counts-writes",
        "a delete does not raise the revision, so the next write reuses it",
        "etcd#17780 (revision decreasing after a crash during compaction)",
        _DeleteReusesRevision,
    ),
    Mutant(
        "compares-ignored",
        "store",
        "store.txn-follows-compares",
        "every transaction runs its success branch",
        "compare-and-swap, the basis of Kubernetes' optimistic concurrency",
        _ComparesIgnored,
    ),
    Mutant(
        "compaction-ignored",
        "store",
        "store.compaction-forgets",
        "compaction is acknowledged but reads below it still work",
        "etcd compaction contract (ErrCompacted)",
        _CompactionIgnored,
    ),
    Mutant(
        "past-reads-see-the-present",
        "store",
        "store.reads-match-history",
        "a range at a past revision answers the current values",
        "MVCC reads at a revision (the List resourceVersion=Exact contract of Kubernetes)",
        _PastReadsSeeThePresent,
    ),
    Mutant(
        "backup-loses-deletions",
        "store",
        "store.backup-restores-everything",
        "a backup keeps only live keys, losing the history of deleted ones",
        "etcd snapshot save/restore keeps the whole MVCC history",
        _BackupLosesDeletions,
    ),
)
MUTANTS.update({m.name: m for m in _STORE_MUTANTS})


def _kubelet(**changes: Any) -> Callable[[], Components]:
    return lambda: Components(kubelet=attrs.evolve(DEFAULT_KUBELET, **changes))


def _replacing(controller: Controller) -> Callable[[], Components]:
    return lambda: Components().replacing(controller)


def _always_restart(policy: str, exit_code: int) -> bool:
    return True


_NODE_MUTANTS = (
    Mutant(
        "restart-policy-never-restarts",
        "nodes",
        "nodes.restart-policy-honoured",
        "the kubelet restarts exited containers whatever the pod's restartPolicy",
        "restartPolicy semantics (kubelet computePodActions)",
        _kubelet(restart_allowed=_always_restart),
    ),
    Mutant(
        "backoff-without-cap",
        "nodes",
        "nodes.crashloop-backoff-capped",
        "the CrashLoopBackOff delay doubles without the 300 s cap",
        "MaxContainerBackOff (client-go flowcontrol.Backoff maxDuration)",
        _kubelet(backoff_max=None),
        searchable=False,
    ),
    Mutant(
        "backoff-starts-at-15s",
        "nodes",
        "nodes.crashloop-backoff-sequence",
        "the back-off starts at 15 s instead of 10 s",
        "initialCrashLoopBackOff (kubelet.go); the KEP-4603 gates change it",
        _kubelet(backoff_initial=15.0),
    ),
    Mutant(
        "readiness-reset-on-kubelet-restart",
        "nodes",
        "nodes.kubelet-restart-keeps-readiness",
        "a restarted kubelet forgets probe results, so ready containers turn not ready",
        "kubernetes#78733",
        _kubelet(keep_probe_results_on_restart=False),
        searchable=False,
    ),
    Mutant(
        "deletions-missed-while-partitioned",
        "nodes",
        "nodes.deleted-pods-stop-running",
        "after a partition heals the kubelet keeps running pods deleted meanwhile",
        "kubernetes#30972",
        _kubelet(relist_drops_missing=False),
        searchable=False,
    ),
    Mutant(
        "restart-count-in-kubelet-memory",
        "nodes",
        "nodes.restart-count-never-decreases",
        "restartCount is counted in kubelet memory and starts over when the kubelet restarts",
        "restartCount is read from the runtime's dead containers (kuberuntime)",
        _kubelet(restart_count_survives_restart=False),
    ),
    Mutant(
        "readiness-ignored",
        "nodes",
        "nodes.failing-readiness-not-ready",
        "a failing readiness probe does not make the container not ready",
        "conformance: readiness probe that fails should never be ready",
        _kubelet(readiness_counts=False),
    ),
    Mutant(
        "readiness-kills",
        "nodes",
        "nodes.no-restart-without-cause",
        "a failing readiness probe kills the container, as only liveness should",
        "conformance: readiness probe that fails should never be ready and never restart",
        _kubelet(readiness_kills=True),
    ),
    Mutant(
        "liveness-ignored",
        "nodes",
        "nodes.failing-liveness-restarts",
        "a failing liveness probe never kills the container",
        "conformance: should be restarted with a liveness probe",
        _kubelet(liveness_kills=False),
        searchable=False,
    ),
    Mutant(
        "terminal-phase-recomputed",
        "nodes",
        "nodes.terminal-phase-final",
        "the kubelet recomputes a finished pod's phase, and a reboot forgets exited containers",
        "terminal phases are final (status_manager; kubernetes#104968 class of bugs)",
        _kubelet(terminal_is_final=False),
        searchable=False,
    ),
    Mutant(
        "relist-ignores-node",
        "nodes",
        "nodes.pod-runs-on-one-machine",
        "the kubelet's relist does not filter by spec.nodeName and runs other nodes' pods",
        "the kubelet's pod source selects spec.nodeName=<node>",
        _kubelet(relist_filters_by_node=False),
    ),
    Mutant(
        "secret-env-not-decoded",
        "nodes",
        "nodes.env-from-config",
        "Secret values reach the environment still base64-encoded",
        "conformance: Secrets should be consumable from pods in env vars",
        _kubelet(decode_secrets=False),
    ),
    Mutant(
        "files-fixed-at-start",
        "nodes",
        "nodes.files-follow-config",
        "files projected from ConfigMaps and Secrets never follow later changes",
        "conformance: ConfigMap updates should be reflected in volume",
        _kubelet(refresh_files=False),
    ),
    Mutant(
        "eviction-ignores-toleration-seconds",
        "nodes",
        "nodes.eviction-waits-for-toleration",
        "taint eviction deletes tolerating pods at once instead of after tolerationSeconds",
        "taint-based eviction (tainteviction getMinTolerationTime)",
        _replacing(TaintEvictionController(honor_toleration_seconds=False)),
    ),
    Mutant(
        "eviction-in-full-disruption",
        "nodes",
        "nodes.no-eviction-in-full-disruption",
        "the node lifecycle controller keeps tainting when every zone is fully disrupted",
        "kubernetes#24597",
        _replacing(NodeLifecycleController(honor_full_disruption=False)),
    ),
    Mutant(
        "pods-marked-not-ready-on-transition-only",
        "nodes",
        "nodes.pods-on-unknown-nodes-not-ready",
        "pods are marked not ready only on a Ready transition the controller saw itself",
        "kubernetes#50067",
        _replacing(NodeLifecycleController(level_triggered_pod_marking=False)),
        searchable=False,
    ),
    Mutant(
        "node-grace-40s",
        "nodes",
        "nodes.unknown-after-grace",
        "nodes turn Unknown after 40 s (the default before 1.32) while 50 s is reported",
        "kubernetes PR #126287 (node-monitor-grace-period 40 s -> 50 s)",
        _replacing(NodeLifecycleController(grace=40.0)),
    ),
)
MUTANTS.update({m.name: m for m in _NODE_MUTANTS})


def _scheduler(**changes: Any) -> Callable[[], Components]:
    return _replacing(SchedulerController(**changes))


def _fit_ignores(resource: str) -> Callable[[], Components]:
    """Upstream's scheduler and kubelet share noderesources.Fits: a resource missing from it
    is missing from both."""

    def build() -> Components:
        components = _scheduler(ignored_resources=frozenset({resource}))()
        kubelet = attrs.evolve(components.kubelet, fit_ignores=frozenset({resource}))
        return attrs.evolve(components, kubelet=kubelet)

    return build


def _profile(**changes: Any) -> Callable[[], Components]:
    return _scheduler(config=SchedulerConfig((attrs.evolve(Profile(), **changes),)))


def _rebinding() -> Components:
    """The API moves an assigned pod, and the scheduler queues pods of cordoned nodes again."""
    return attrs.evolve(
        Components().replacing(SchedulerController(requeue_cordoned=True)),
        api=attrs.evolve(DEFAULT_POLICY, bind_refuses_assigned=False),
    )


_SCHEDULING_MUTANTS = (
    Mutant(
        "binding-moves-assigned-pods",
        "scheduling",
        "scheduling.binding-never-changes",
        "pods/binding accepts a pod already assigned, and the scheduler treats the pods of a"
        " cordoned node as unscheduled",
        'pods/binding\'s "already assigned" check (BindingREST.assignPod)',
        _rebinding,
    ),
    Mutant(
        "scheduler-forgets-assumed-pods",
        "scheduling",
        "scheduling.no-overcommit",
        "the scheduler's cache drops pods it bound until the watch shows them bound, so a"
        " lagging view hands their room out again",
        "kubernetes#76772",
        _scheduler(assume=False),
    ),
    Mutant(
        "scheduler-counts-gone-pods",
        "scheduling",
        "scheduling.fitting-pods-get-bound",
        "pods deleted or finished keep counting against their node forever",
        "kubernetes#22398",
        _scheduler(forget_gone_pods=False),
    ),
    Mutant(
        "preemption-evicts-higher-priority",
        "scheduling",
        "scheduling.preemption-evicts-only-lower-priority",
        "preemption compares priorities the wrong way round and evicts more important pods",
        "kubernetes#129136",
        _scheduler(victims_below_preemptor=False),
    ),
    Mutant(
        "fit-ignores-memory",
        "scheduling",
        "scheduling.runtime-within-capacity",
        "NodeResourcesFit, which the scheduler and the kubelet's admission share, checks cpu,"
        " pod slots and extended resources but not memory",
        "kubeprop: a resource left out of the fit check",
        _fit_ignores("memory"),
    ),
    Mutant(
        "noschedule-taints-ignored",
        "scheduling",
        "scheduling.filters-hold-at-binding",
        "TaintToleration's filter sees NoExecute taints only, not NoSchedule ones",
        "kubeprop: a taint effect left out of the filter",
        _scheduler(ignored_taint_effects=frozenset({"NoSchedule"})),
    ),
    Mutant(
        "spread-filter-off",
        "scheduling",
        "scheduling.spread-skew-at-binding",
        "PodTopologySpread's filter is not run, so DoNotSchedule constraints only score",
        "kubeprop: a filter plugin missing from the default profile",
        _profile(filters=tuple(f for f in FILTERS if f != "PodTopologySpread")),
    ),
    Mutant(
        "most-allocated-by-default",
        "scheduling",
        "scheduling.best-score-chosen",
        "the default profile packs (MostAllocated) instead of spreading (LeastAllocated)",
        "kubeprop: a strict-scope choice changed",
        _profile(resource_scoring=ResourceScoring("MostAllocated")),
    ),
)
MUTANTS.update({m.name: m for m in _SCHEDULING_MUTANTS})


def _deployment(**changes: Any) -> Callable[[], Components]:
    return _replacing(DeploymentController(**changes))


def _replicaset(**changes: Any) -> Callable[[], Components]:
    return _replacing(ReplicaSetController(**changes))


_WORKLOAD_MUTANTS = (
    Mutant(
        "deployment-hash-collision-stuck",
        "workloads",
        "workloads.rollout-completes",
        "pod-template hashes fall into three values and a taken ReplicaSet name does not bump"
        " collisionCount, so a template whose name is taken never gets its ReplicaSet",
        "kubernetes#29735",
        _deployment(hash_modulus=3, bumps_collision_count=False),
        searchable=False,
    ),
    Mutant(
        "rollout-counts-created-as-available",
        "workloads",
        "workloads.rollout-availability-floor",
        "a rolling update scales old ReplicaSets down by the pods the ReplicaSets have, not"
        " those available, so it drops below replicas - maxUnavailable",
        "kubernetes#22719",
        _deployment(counts_created_as_available=True),
        searchable=False,
    ),
    Mutant(
        "proportional-scaling-rounds-each-alone",
        "workloads",
        "workloads.rollout-surge-bound",
        "a scaling event mid-rollout rounds each ReplicaSet's share alone, with no cap and no"
        " leftover, so the shares overshoot replicas + maxSurge",
        "kubernetes#28145",
        _deployment(rounds_each_alone=True),
        searchable=False,
    ),
    Mutant(
        "surge-ignores-terminating",
        "workloads",
        "workloads.surge-counts-terminating",
        "under podReplacementPolicy TerminationComplete the rolling step leaves terminating pods"
        " out of the surge, so new pods start while old ones are still shutting down",
        "kubernetes#95498",
        _deployment(surge_ignores_terminating=True),
        searchable=False,
    ),
    Mutant(
        "scaling-leaves-stale-annotation",
        "workloads",
        "workloads.rollout-completes",
        "a scaling event whose only active ReplicaSet already has the new size leaves its"
        " desired-replicas annotation stale, so every later sync is a scaling event and the"
        " rollout never resumes (1.34's behaviour)",
        "kubernetes#138036",
        _deployment(refreshes_stale_annotations=False),
        searchable=False,
    ),
    Mutant(
        "replicaset-replaces-rejected-at-once",
        "workloads",
        "workloads.failed-replacement-backoff",
        "pods the kubelet rejects are replaced at the controller's next sync (a second later in"
        " the reference), as upstream does, so a template no node admits makes Failed pods"
        " every second",
        "kubernetes#131116",
        _replicaset(backs_off_failed=False),
        searchable=False,
    ),
    Mutant(
        "rollback-keeps-old-revision",
        "workloads",
        "workloads.newest-revision-current",
        "a ReplicaSet that becomes current again keeps its old revision number, so a rollback"
        " is not the newest revision",
        "SEMANTICS §2.7",
        _deployment(renumbers_on_rollback=False),
        searchable=False,
    ),
    Mutant(
        "paused-deployment-rolls-out",
        "workloads",
        "workloads.paused-creates-nothing",
        "spec.paused is ignored: a paused Deployment creates a ReplicaSet for its new template",
        "SEMANTICS §2.3",
        _deployment(honours_pause=False),
        searchable=False,
    ),
    Mutant(
        "recreate-does-not-wait",
        "workloads",
        "workloads.recreate-never-overlaps",
        "Recreate creates the new ReplicaSet as soon as the old ones are scaled to 0, while"
        " their pods are still terminating",
        "SEMANTICS §2.4 (Recreate)",
        _deployment(recreate_waits=False),
        searchable=False,
    ),
    Mutant(
        "replicaset-without-expectations",
        "workloads",
        "workloads.no-overshoot",
        "the ReplicaSet controller keeps no expectations, so a lagging view that has not shown"
        " its last creations makes it create again",
        "kubernetes#129795",
        _replicaset(uses_expectations=False),
        searchable=False,
    ),
    Mutant(
        "scale-down-by-name",
        "workloads",
        "workloads.scale-down-spares-ready",
        "scale-down deletes the pods whose names sort last, Ready or not, instead of by"
        " upstream's ranking",
        "kubernetes#3948",
        _replicaset(ranks_deletions=False),
        searchable=False,
    ),
    Mutant(
        "replicaset-never-releases",
        "workloads",
        "workloads.owner-selects-its-pods",
        "a pod relabelled out of its ReplicaSet's selector keeps its controller reference",
        "SEMANTICS §1.3 (ControllerRefManager)",
        _replicaset(releases=False),
        searchable=False,
    ),
    Mutant(
        "replicaset-never-adopts",
        "workloads",
        "workloads.orphans-adopted",
        "orphans matching a ReplicaSet's selector are left alone",
        "SEMANTICS §1.3 (ControllerRefManager)",
        _replicaset(adopts=False),
        searchable=False,
    ),
    Mutant(
        "replicaset-edge-triggered",
        "workloads",
        "workloads.desired-replicas",
        "the ReplicaSet controller manages replicas only when its spec changed, so a deleted"
        " pod is never replaced",
        "level-triggered reconciliation",
        _replicaset(level_triggered=False),
        searchable=False,
    ),
    Mutant(
        "replicaset-counts-terminating",
        "workloads",
        "workloads.self-healing",
        "terminating pods count as replicas, so pods evicted from a dead node, which never"
        " finish terminating, are never replaced",
        "kubernetes#54723 (the same mistake in Endpoints)",
        _replicaset(counts_terminating=True),
        searchable=False,
    ),
)
MUTANTS.update({m.name: m for m in _WORKLOAD_MUTANTS})


def _daemonset(**changes: Any) -> Callable[[], Components]:
    return _replacing(DaemonSetController(**changes))


def _statefulset(**changes: Any) -> Callable[[], Components]:
    return _replacing(StatefulSetController(**changes))


_SET_MUTANTS = (
    Mutant(
        "daemonset-without-expectations",
        "workloads",
        "workloads.daemonset-never-two",
        "the DaemonSet controller keeps no expectations, so a view that has not caught up with"
        " its own creates makes it create a second pod for the same node",
        "kubernetes#54096",
        _daemonset(expectations=False),
        searchable=False,
    ),
    Mutant(
        "daemonset-skips-cordoned",
        "workloads",
        "workloads.daemonset-one-per-node",
        "daemon pods do not tolerate the unschedulable taint, so a cordoned node gets no daemon"
        " pod",
        "kubernetes#60163",
        _daemonset(skips_cordoned=True),
        searchable=False,
    ),
    Mutant(
        "daemonset-noschedule-evicts",
        "workloads",
        "workloads.daemonset-noschedule-keeps-pods",
        "an untolerated NoSchedule taint deletes running daemon pods, as only NoExecute should",
        "kubernetes#48189",
        _daemonset(noschedule_evicts=True),
        searchable=False,
    ),
    Mutant(
        "statefulset-force-deletes-unreachable",
        "workloads",
        "workloads.statefulset-one-per-identity",
        "the StatefulSet controller force-deletes the pods of a node that is not Ready and"
        " recreates them, while the cut-off node still runs the originals",
        "kubernetes#54368",
        _statefulset(force_deletes_unreachable=True),
        searchable=False,
    ),
    Mutant(
        "statefulset-truncated-revision-names",
        "workloads",
        "workloads.statefulset-converges",
        "revisions are named from a one-character hash without collisionCount and a taken name"
        " is taken as the new revision, so a template change may never be rolled out",
        "kubernetes#49909",
        _statefulset(truncated_revision_names=True),
        searchable=False,
    ),
    Mutant(
        "statefulset-ignores-ordered-ready",
        "workloads",
        "workloads.statefulset-ordered",
        "OrderedReady is handled as Parallel: pods are created before their predecessors are"
        " Ready and condemned pods are deleted all at once",
        "SEMANTICS (StatefulSet OrderedReady)",
        _statefulset(ignores_ordered_ready=True),
        searchable=False,
    ),
    Mutant(
        "statefulset-ignores-partition",
        "workloads",
        "workloads.statefulset-partition",
        "the rolling update replaces pods below spec.updateStrategy.rollingUpdate.partition too",
        "SEMANTICS (StatefulSet partition)",
        _statefulset(ignores_partition=True),
        searchable=False,
    ),
)
MUTANTS.update({m.name: m for m in _SET_MUTANTS})


def _endpoints(**changes: Any) -> Callable[[], Components]:
    return _replacing(EndpointsController(**changes))


def _slices(**changes: Any) -> Callable[[], Components]:
    return _replacing(EndpointSliceController(**changes))


def _proxy(**changes: Any) -> Callable[[], Components]:
    return _replacing(KubeProxy(**changes))


def _dns_with_not_ready() -> Components:
    return Components(dns=ClusterDns(skips_not_ready=False))


def _reused_node_ports() -> Components:
    return Components(api=attrs.evolve(DEFAULT_POLICY, reuse_allocated_node_ports=True))


_SERVICE_MUTANTS = (
    Mutant(
        "endpoints-keep-terminating",
        "services",
        "services.never-ready-while-terminating",
        "the Endpoints controller keeps a terminating pod among the ready addresses while it"
        " is Ready",
        "kubernetes#54723",
        _endpoints(keeps_terminating=True),
        searchable=False,
    ),
    Mutant(
        "endpointslices-keep-terminating",
        "services",
        "services.never-ready-while-terminating",
        "the EndpointSlice controller marks a terminating, Ready pod ready",
        "kubernetes#54723",
        _slices(keeps_terminating=True),
        searchable=False,
    ),
    Mutant(
        "endpoints-ignore-named-ports",
        "services",
        "services.endpoints-match-pods",
        "the Endpoints controller takes the Service's port number for a named targetPort"
        " instead of looking the name up in each pod",
        "SEMANTICS §7 (named target ports)",
        _endpoints(resolves_named_ports=False),
        searchable=False,
    ),
    Mutant(
        "endpointslices-drop-terminating",
        "services",
        "services.slices-match-pods",
        "EndpointSlices drop a pod once it starts terminating, as before the"
        " EndpointSliceTerminatingCondition (KEP-1672), so nothing can fall back to it",
        "KEP-1672",
        _slices(includes_terminating=False),
        searchable=False,
    ),
    Mutant(
        "proxy-without-full-resync",
        "services",
        "services.refused-only-when-nothing-serves",
        "the node proxy applies watched changes only and never relists, not even after a"
        " restart, so a missed update leaves its rules stale for good",
        "kubernetes#28674",
        _proxy(no_full_resync=True),
        searchable=False,
    ),
    Mutant(
        "proxy-routes-to-not-ready",
        "services",
        "services.routes-reach-serving",
        "the node proxy sends connections to every endpoint of a port, ready or not",
        "projectcalico/calico#4952, kubernetes#106182",
        _proxy(routes_not_ready=True),
        searchable=False,
    ),
    Mutant(
        "proxy-never-rotates",
        "services",
        "services.every-endpoint-reached",
        "the node proxy sends every new connection to the first endpoint, as an iptables"
        " probability chain whose first rule always matches would",
        "SEMANTICS §7 (iptables probabilities)",
        _proxy(balances=False),
        searchable=False,
    ),
    Mutant(
        "proxy-picks-at-random",
        "services",
        "services.round-robin",
        "the node proxy picks endpoints at random, as upstream's iptables mode does: allowed"
        " by Kubernetes, caught only by the strict round robin",
        "SEMANTICS §7 (iptables mode)",
        _proxy(random_choice=True),
        searchable=False,
    ),
    Mutant(
        "proxy-ignores-affinity",
        "services",
        "services.affinity-sticks",
        "the node proxy ignores sessionAffinity ClientIP and balances every connection",
        "SEMANTICS §7 (session affinity)",
        _proxy(honours_affinity=False),
        searchable=False,
    ),
    Mutant(
        "affinity-never-expires",
        "services",
        "services.affinity-expires",
        "ClientIP affinity entries never expire, an iptables `recent` match without `--seconds`",
        "kubernetes#107398",
        _proxy(affinity_ignores_timeout=True),
        searchable=False,
    ),
    Mutant(
        "node-port-reused",
        "services",
        "services.addresses-unique-and-stable",
        "the node-port allocator hands out a port another Service already holds",
        "kubernetes#44098",
        _reused_node_ports,
        searchable=False,
    ),
    Mutant(
        "dns-answers-not-ready",
        "services",
        "services.dns-matches-services",
        "cluster DNS answers a headless Service's name with every endpoint of its slices,"
        " ready or not",
        "kubernetes/dns specification §2.4 (ready endpoints)",
        _dns_with_not_ready,
        searchable=False,
    ),
)
MUTANTS.update({m.name: m for m in _SERVICE_MUTANTS})


def components_for(mutant: str | None) -> Components:
    """The cluster a cluster-level mutant is made of (the standard one for None)."""
    if mutant is None:
        return Components()
    found = MUTANTS.get(mutant)
    if found is None:
        raise UnknownMutant(mutant)
    if found.level == "store":
        raise ValueError(f"{mutant!r} is a mutant of the store; it has no cluster to serve")
    built: Components = found.build()
    return built


def store_for(mutant: str | None) -> Store:
    """An empty store, of the mutant's class when a store mutant is named."""
    if mutant is None:
        return Store()
    found = MUTANTS.get(mutant)
    if found is None:
        raise UnknownMutant(mutant)
    if found.level != "store":
        raise ValueError(f"{mutant!r} is a mutant of the cluster, not of the store")
    built: Store = found.build()
    return built
