"""The StatefulSet controller (pkg/controller/statefulset), as a level-triggered reducer.

A StatefulSet gives each of its pods a stable identity: the name
`<set>-<ordinal>` for ordinals `spec.ordinals.start` up to `start +
replicas - 1`, the hostname of that name and the subdomain
`spec.serviceName`, and the labels `statefulset.kubernetes.io/pod-name` and
`apps.kubernetes.io/pod-index`. One pass does, for each set, what
upstream's `sync` and `UpdateStatefulSet` do:

1. adopt orphan ControllerRevisions the selector matches;
2. claim pods: those named after the set and matched by its selector are
   kept or adopted, owned ones that no longer qualify are released;
3. find the current and update revisions (`getStatefulSetRevisions`): the
   update revision is the newest revision equal to the template, renumbered
   when it is an older one (a rollback), or a new revision named
   `<set>-<hash>` whose hash is salted with status.collisionCount, bumped
   while the name is taken by different data;
4. process each ordinal in ascending order (`processReplica`): a Failed or
   Succeeded pod is deleted (and recreated once it is gone), a missing one
   created from the current revision's template below the partition and
   the update revision's above it, one with a broken identity relabelled;
5. delete condemned pods (ordinals outside the range), highest first;
6. roll: with RollingUpdate, delete the highest-ordinal pod at or above the
   partition that is not at the update revision, one at a time, waiting for
   each to come back available; OnDelete leaves that to the user;
7. write status when it differs (`inconsistentStatus`), completing a rolling
   update when every replica is updated and ready;
8. truncate history beyond revisionHistoryLimit, sparing the revisions that
   are current, update, or worn by a pod.

Under `OrderedReady` (`monotonic` upstream) steps 4 and 5 stop at the first
pod that is terminating, not Running and Ready, or not yet available after
minReadySeconds, and create or delete one pod at a time; so a broken pod
blocks scaling and the rolling update that would replace it (upstream's
#67250, kept). `Parallel` does everything in one pass.

Identity is never duplicated by this controller: it creates a pod only for
an ordinal with no pod in its view, the API refuses a name that exists
(AlreadyExists, answered 409, is normal under a lagging view), and it never
force-deletes: a pod on a partitioned node stays, terminating or not, until
its kubelet or the user removes it (#54368).

Deviations, all documented in docs/fidelity.md: volumeClaimTemplates and the
PVC retention policy are ignored (storage is not modelled); deletes carry a
uid precondition (upstream deletes by name); Parallel sends every write of a
pass instead of upstream's slow-start batches that stop at the first error;
and the controller wakes at the exact moment a pod becomes available rather
than requeueing after minReadySeconds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from properties.labels import InvalidSelectorError, Selector
from reference.controllers.base import Reconcile, View
from reference.controllers.history import (
    CONTROLLER_REVISION_HASH_LABEL,
    HASH_LABEL,
    equal_revision,
    find_equal_revisions,
    max_revision,
    owned_revisions,
    revision_create,
    revision_delete,
    revision_hash,
    revision_name,
    revision_number_update,
    sort_revisions,
    template_patch,
    truncate,
)
from reference.controllers.workload import (
    Obj,
    available_at,
    claim,
    controller_ref,
    is_ready,
    owner_reference,
    pod_from_template,
    selector_of,
    status_write,
)
from reference.objects import deleting, labels, meta, owner_refs

__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "REVISION_LABEL",
    "StatefulSetController",
    "parent_and_ordinal",
]

#: apps.StatefulSetPodNameLabel.
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
#: apps.PodIndexLabel (PodIndexLabel is GA).
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
#: apps.StatefulSetRevisionLabel: the name of the revision a pod was made from.
REVISION_LABEL = CONTROLLER_REVISION_HASH_LABEL
#: The `truncated_revision_names` mutant keeps this many characters of the hash.
TRUNCATED_HASH_CHARACTERS = 1

_KIND = "StatefulSet"
#: statefulPodRegex; Go's `$` is the end of the text.
_POD_NAME = re.compile(r"(.*)-([0-9]+)")
_INT32_MAX = 2**31 - 1
_TERMINAL = ("Failed", "Succeeded")


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """getParentNameAndOrdinal: `web-3` is ("web", 3); no match is ("", -1).

    An ordinal that overflows int32 is -1 with the parent kept, as
    strconv.ParseInt failing leaves it.
    """
    m = _POD_NAME.fullmatch(name)
    if m is None:
        return "", -1
    ordinal = int(m.group(2))
    return m.group(1), ordinal if ordinal <= _INT32_MAX else -1


@attrs.frozen
class StatefulSetController:
    """upstream's StatefulSetController; it keeps no state between passes.

    Upstream keeps no expectations for StatefulSets either: it relies on
    stable names (a second create of a name is refused) and on skipping
    pods already terminating. So under a lagging view it may re-send a
    create or a delete that the API then refuses; it acts again when its
    view moves.
    """

    name: str = "statefulset"
    #: Mutant (#54368, the pre-1.5 behaviour): force-delete the pods on a node that is not
    #: Ready and recreate them, so that a partitioned node's pod and its replacement both run.
    force_deletes_unreachable: bool = False
    #: Mutant (#49909): name revisions from a truncated hash without collisionCount and take
    #: an existing revision of that name as the new one, so distinct templates collide and a
    #: template change is never rolled out.
    truncated_revision_names: bool = False
    #: Mutant (kubeprop: OrderedReady's wait left out): OrderedReady is handled as Parallel, so
    #: pods are made before their predecessors are Ready and removed all at once.
    ignores_ordered_ready: bool = False
    #: Mutant (kubeprop: the partition left out of the roll): the rolling update replaces pods
    #: below the partition too.
    ignores_partition: bool = False

    def initial_state(self) -> None:
        return None

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        by_namespace: dict[str, dict[str, list[Obj]]] = defaultdict(lambda: defaultdict(list))
        for kind in ("Pod", "ControllerRevision"):
            for obj in view.objects(kind):
                by_namespace[str(meta(obj).get("namespace", ""))][kind].append(obj)
        unready = (
            frozenset(meta(n)["name"] for n in view.objects("Node") if not _node_ready(n))
            if self.force_deletes_unreachable
            else frozenset()
        )
        writes: list[dict[str, Any]] = []
        wakes: list[float] = []
        sets = sorted(view.objects(_KIND), key=lambda s: (meta(s)["namespace"], meta(s)["name"]))
        for sts in sets:
            objects = by_namespace[meta(sts)["namespace"]]
            outcome = _Sync(self, view, now, sts, unready).run(
                objects["Pod"], objects["ControllerRevision"]
            )
            writes.extend(outcome.writes)
            wakes.extend(outcome.wakes)
        return Reconcile(tuple(writes), None, min(wakes) if wakes else None)


def _node_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


# -- pod state -------------------------------------------------------------------------------------


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _running_and_ready(pod: Obj) -> bool:
    """isRunningAndReady."""
    return _phase(pod) == "Running" and is_ready(pod)


def _running_and_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """isRunningAndAvailable: Running, and Ready for longer than minReadySeconds."""
    at = available_at(pod, min_ready_seconds)
    return _phase(pod) == "Running" and at is not None and at <= now


def _unavailable(pod: Obj | None, min_ready_seconds: int, now: float) -> bool:
    """isUnavailable: not (yet) Running and available, or terminating; a pod to create is."""
    return pod is None or deleting(pod) or not _running_and_available(pod, min_ready_seconds, now)


def _revision_of(pod: Obj) -> str:
    """getPodRevision."""
    return str(labels(pod).get(REVISION_LABEL, ""))


# -- requests --------------------------------------------------------------------------------------


def _pod_delete(pod: Obj, *, force: bool = False) -> dict[str, Any]:
    """DeleteStatefulPod, with a uid precondition so that a stale view never deletes a successor."""
    m = meta(pod)
    request: dict[str, Any] = {
        "op": "delete",
        "kind": "Pod",
        "namespace": m["namespace"],
        "name": m["name"],
        "preconditions": {"uid": m["uid"]},
    }
    if force:
        request["gracePeriodSeconds"] = 0
    return request


def _identity_labels(set_name: str, ordinal: int) -> dict[str, str]:
    """updateIdentity's labels."""
    return {POD_NAME_LABEL: f"{set_name}-{ordinal}", POD_INDEX_LABEL: str(ordinal)}


def _identity_patch(set_name: str, pod: Obj, ordinal: int) -> dict[str, Any] | None:
    """UpdateStatefulPod for a pod whose identity labels are off (None when they are right).

    identityMatches also wants the pod's name to be `<set>-<ordinal>`; a pod
    named otherwise (`web-01`) cannot be renamed, and upstream's update is
    refused, so the reference sends nothing for it.
    """
    m = meta(pod)
    wanted = _identity_labels(set_name, ordinal)
    if m["name"] != wanted[POD_NAME_LABEL]:
        return None
    if labels(pod).get(POD_NAME_LABEL) == m["name"]:
        return None
    return {
        "op": "patch",
        "kind": "Pod",
        "namespace": m["namespace"],
        "name": m["name"],
        "patch": {"metadata": {"labels": wanted, "uid": m["uid"]}},
    }


def _revision_template(revision: Obj) -> Mapping[str, Any]:
    """ApplyRevision: the template the revision's patch restores."""
    template = ((revision.get("data") or {}).get("spec") or {}).get("template") or {}
    return {k: v for k, v in template.items() if k != "$patch"}


# -- revisions -------------------------------------------------------------------------------------


@attrs.frozen
class _Revisions:
    """getStatefulSetRevisions' answer, and the requests it needed."""

    current: Obj
    update: Obj
    collision_count: int
    writes: tuple[dict[str, Any], ...]


@attrs.frozen
class _Replica:
    """One ordinal of the range: its pod, or None and the revision it will be created at."""

    ordinal: int
    pod: Obj | None
    revision: str


# -- one set ---------------------------------------------------------------------------------------


@attrs.frozen
class _Outcome:
    """What one set's sync sends, and when it next needs to look again."""

    writes: tuple[dict[str, Any], ...] = ()
    wakes: tuple[float, ...] = ()


@attrs.frozen
class _Sync:
    """One sync of one StatefulSet: its writes, in upstream's order, and its wake-ups."""

    controller: StatefulSetController
    view: View
    now: float
    sts: Obj
    unready: frozenset[str]

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.sts.get("spec") or {}

    @property
    def set_name(self) -> str:
        return str(meta(self.sts)["name"])

    @property
    def namespace(self) -> str:
        return str(meta(self.sts)["namespace"])

    @property
    def replicas(self) -> int:
        replicas = self.spec.get("replicas")
        return 1 if replicas is None else int(replicas)

    @property
    def start(self) -> int:
        return int((self.spec.get("ordinals") or {}).get("start") or 0)

    @property
    def min_ready(self) -> int:
        return int(self.spec.get("minReadySeconds") or 0)

    @property
    def monotonic(self) -> bool:
        """OrderedReady; upstream's `!allowsBurst`."""
        if self.controller.ignores_ordered_ready:
            return False
        return self.spec.get("podManagementPolicy") != "Parallel"

    @property
    def on_delete(self) -> bool:
        return (self.spec.get("updateStrategy") or {}).get("type") == "OnDelete"

    @property
    def rolling(self) -> Mapping[str, Any] | None:
        rolling: Mapping[str, Any] | None = (self.spec.get("updateStrategy") or {}).get(
            "rollingUpdate"
        )
        return rolling

    # -- the pass ----------------------------------------------------------------------------------

    def run(self, pods: Sequence[Obj], revisions: Sequence[Obj]) -> _Outcome:
        try:
            selector = selector_of(self.sts)
        except InvalidSelectorError:
            return _Outcome()  # upstream logs it and does not retry
        ours = owned_revisions(self.sts, revisions, selector)
        orphans = [r for r in ours if controller_ref(r) is None]
        if orphans and deleting(self.sts):
            return _Outcome()  # RecheckDeletionTimestamp refuses the adoption: the sync stops
        writes: list[dict[str, Any]] = [self._adopt(r) for r in orphans]
        owned, claims = self._claim(pods, selector)
        writes.extend(claims)
        history = sort_revisions(ours)
        revs = self._revisions(history)
        writes.extend(revs.writes)
        pod_writes, status = self._update(owned, revs)
        writes.extend(pod_writes)
        writes.extend(self._status(status))
        writes.extend(self._truncate(history, owned, revs))
        return _Outcome(tuple(writes), self._wakes(owned))

    def _adopt(self, revision: Obj) -> dict[str, Any]:
        """AdoptControllerRevision: add our controller reference, guarded by the revision's uid."""
        m = meta(revision)
        refs = [*(dict(r) for r in owner_refs(revision)), owner_reference(self.sts, _KIND)]
        return {
            "op": "patch",
            "kind": "ControllerRevision",
            "namespace": m["namespace"],
            "name": m["name"],
            "patch": {"metadata": {"ownerReferences": refs, "uid": m["uid"]}},
        }

    def _claim(self, pods: Iterable[Obj], selector: Selector) -> tuple[list[Obj], list[Any]]:
        """getPodsForStatefulSet: ClaimPods with the isMemberOf filter.

        A pod not named after the set never qualifies: an orphan is left
        alone and one of ours is released.
        """
        members: list[Obj] = []
        others: list[Obj] = []
        for pod in pods:
            parent, _ = parent_and_ordinal(str(meta(pod).get("name", "")))
            (members if parent == self.set_name else others).append(pod)

        def live(pod: Obj) -> Obj | None:
            found: Obj | None = self.view.live_get("Pod", self.namespace, meta(pod)["name"])
            return found

        kept = claim(self.sts, _KIND, members, selector, live)
        released = claim(self.sts, _KIND, others, Selector.nothing(), live)
        return list(kept.owned), [*kept.writes, *released.writes]

    # -- revisions ---------------------------------------------------------------------------------

    def _revisions(self, history: Sequence[Obj]) -> _Revisions:
        """getStatefulSetRevisions over the sorted revisions."""
        status = self.sts.get("status") or {}
        collisions = int(status.get("collisionCount") or 0)
        data = template_patch(self.sts)
        number = max_revision(history) + 1
        needle = {
            "metadata": {"labels": {HASH_LABEL: revision_hash(data, collisions)}},
            "data": data,
        }
        equal = find_equal_revisions(history, needle)
        writes: tuple[dict[str, Any], ...] = ()
        if equal and equal_revision(history[-1], equal[-1]):
            update: Obj = history[-1]
        elif equal:
            request = revision_number_update(equal[-1], number)
            update, writes = request["object"], (request,)
        else:
            update, collisions, writes = self._new_revision(data, number, collisions)
        current = next(
            (r for r in history if meta(r)["name"] == status.get("currentRevision")), update
        )
        return _Revisions(current, update, collisions, writes)

    def _new_revision(
        self, data: Mapping[str, Any], number: int, collisions: int
    ) -> tuple[Obj, int, tuple[dict[str, Any], ...]]:
        """CreateControllerRevision: a free name, or the revision already holding this data.

        Upstream creates, and on AlreadyExists GETs the revision: equal data
        means it is ours already, different data bumps collisionCount and
        tries the next name. The reference asks the live store the same
        questions before it sends the one create.
        """
        if self.controller.truncated_revision_names:
            return self._truncated_revision(data, number, collisions)
        while True:
            hash_ = revision_hash(data, collisions)
            taken = self.view.live_get(
                "ControllerRevision", self.namespace, revision_name(self.set_name, hash_)
            )
            if taken is None:
                request = revision_create(
                    self.sts, _KIND, data, number, hash_, hash_label=HASH_LABEL
                )
                return request["object"], collisions, (request,)
            if taken.get("data") == data:
                return taken, collisions, ()
            collisions += 1

    def _truncated_revision(
        self, data: Mapping[str, Any], number: int, collisions: int
    ) -> tuple[Obj, int, tuple[dict[str, Any], ...]]:
        """The #49909 mutant: a short hash, no collisionCount, and a taken name taken as ours."""
        hash_ = revision_hash(data, None)[:TRUNCATED_HASH_CHARACTERS]
        taken = self.view.live_get(
            "ControllerRevision", self.namespace, revision_name(self.set_name, hash_)
        )
        if taken is not None:
            return taken, collisions, ()
        request = revision_create(self.sts, _KIND, data, number, hash_, hash_label=HASH_LABEL)
        return request["object"], collisions, (request,)

    def _truncate(
        self, history: Sequence[Obj], owned: Sequence[Obj], revs: _Revisions
    ) -> list[dict[str, Any]]:
        """truncateHistory: the oldest revisions no one uses, beyond revisionHistoryLimit."""
        limit = self.spec.get("revisionHistoryLimit")
        if limit is None or int(limit) < 0:
            return []
        live = {meta(revs.current)["name"], meta(revs.update)["name"]}
        live.update(_revision_of(p) for p in owned)
        doomed = truncate(history, int(limit), lambda r: meta(r)["name"] in live)
        return [revision_delete(r) for r in doomed]

    # -- pods --------------------------------------------------------------------------------------

    def _update(
        self, owned: Sequence[Obj], revs: _Revisions
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """updateStatefulSet: the pod requests, and the status they leave."""
        if deleting(self.sts):
            return [], self._count(owned, revs)
        writes: list[dict[str, Any]] = []
        pods = list(owned)
        if self.controller.force_deletes_unreachable:
            pods, forced = self._force_unreachable(pods)
            writes.extend(forced)
        replicas, condemned = self._partition(pods, revs)
        first_unhealthy = self._first_unhealthy(replicas, condemned)
        existing = [r.pod for r in replicas if r.pod is not None] + condemned
        done, stop = self._process_replicas(replicas, revs)
        writes.extend(done)
        if not stop:
            done, stop = self._process_condemned(condemned, first_unhealthy)
            writes.extend(done)
        status = self._count(existing, revs)
        if not stop and not self.on_delete:
            done = self._roll(replicas, revs)
            writes.extend(done)
            status["currentReplicas"] -= len(done)
        return writes, status

    def _force_unreachable(self, pods: list[Obj]) -> tuple[list[Obj], list[dict[str, Any]]]:
        """The #54368 mutant: force-delete what runs on a node that is not Ready."""
        kept: list[Obj] = []
        writes: list[dict[str, Any]] = []
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            settled = deleting(pod) and not meta(pod).get("deletionGracePeriodSeconds")
            if node in self.unready and not settled:
                writes.append(_pod_delete(pod, force=True))
            else:
                kept.append(pod)
        return kept, writes

    def _partition(self, pods: Sequence[Obj], revs: _Revisions) -> tuple[list[_Replica], list[Obj]]:
        """The ordinal range's replicas (with the missing ones) and the condemned, highest first."""
        end = self.start + self.replicas - 1
        slots: dict[int, Obj] = {}
        condemned: list[Obj] = []
        for pod in pods:
            _, ordinal = parent_and_ordinal(str(meta(pod)["name"]))
            if self.start <= ordinal <= end:
                slots[ordinal] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        replicas = []
        for ordinal in range(self.start, end + 1):
            found = slots.get(ordinal)
            if found is not None:
                replicas.append(_Replica(ordinal, found, _revision_of(found)))
            else:
                revision = revs.current if self._below_partition(ordinal) else revs.update
                replicas.append(_Replica(ordinal, None, meta(revision)["name"]))
        condemned.sort(key=lambda p: parent_and_ordinal(str(meta(p)["name"]))[1], reverse=True)
        return replicas, condemned

    def _below_partition(self, ordinal: int) -> bool:
        """newVersionedStatefulSetPod's test for making a pod at the current revision.

        Go's precedence makes it `(RollingUpdate && rollingUpdate == nil &&
        below currentReplicas) || (rollingUpdate != nil && below partition)`.
        """
        if self.rolling is not None:
            return ordinal < self.start + int(self.rolling.get("partition") or 0)
        strategy = self.spec.get("updateStrategy") or {}
        current = int((self.sts.get("status") or {}).get("currentReplicas") or 0)
        return strategy.get("type") == "RollingUpdate" and ordinal < self.start + current

    def _first_unhealthy(
        self, replicas: Sequence[_Replica], condemned: Sequence[Obj]
    ) -> Obj | None:
        """The lowest unavailable replica, else the lowest-ordinal unavailable condemned pod."""
        for r in replicas:
            if _unavailable(r.pod, self.min_ready, self.now):
                return r.pod
        for pod in reversed(condemned):
            if _unavailable(pod, self.min_ready, self.now):
                return pod
        return None

    def _process_replicas(
        self, replicas: Sequence[_Replica], revs: _Revisions
    ) -> tuple[list[dict[str, Any]], bool]:
        """processReplica for each ordinal, ascending; OrderedReady stops at the first block."""
        writes: list[dict[str, Any]] = []
        for r in replicas:
            done, block = self._process_replica(r, revs)
            writes.extend(done)
            if block and self.monotonic:
                return writes, True
        return writes, False

    def _process_replica(self, r: _Replica, revs: _Revisions) -> tuple[list[dict[str, Any]], bool]:
        pod = r.pod
        if pod is None:
            return [self._create(r, revs)], True
        if _phase(pod) in _TERMINAL:
            # Recreated on a later pass, once the API no longer holds the name.
            return ([] if deleting(pod) else [_pod_delete(pod)]), True
        if self.monotonic and (
            deleting(pod)
            or not _running_and_ready(pod)
            or not _running_and_available(pod, self.min_ready, self.now)
        ):
            return [], True
        patch = _identity_patch(self.set_name, pod, r.ordinal)
        return ([patch] if patch else []), False

    def _create(self, r: _Replica, revs: _Revisions) -> dict[str, Any]:
        """CreateStatefulPod from the template of the revision the ordinal gets."""
        revision = revs.update if r.revision == meta(revs.update)["name"] else revs.current
        name = f"{self.set_name}-{r.ordinal}"
        spec_patch = {"hostname": name}
        service = self.spec.get("serviceName")
        if service:
            spec_patch["subdomain"] = str(service)
        return pod_from_template(
            self.sts,
            _KIND,
            _revision_template(revision),
            name=name,
            extra_labels={**_identity_labels(self.set_name, r.ordinal), REVISION_LABEL: r.revision},
            spec_patch=spec_patch,
        )

    def _process_condemned(
        self, condemned: Sequence[Obj], first_unhealthy: Obj | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """processCondemned, highest ordinal first; OrderedReady deletes one and waits."""
        writes: list[dict[str, Any]] = []
        for pod in condemned:
            if deleting(pod):
                if self.monotonic:
                    return writes, True
                continue
            healthy = _running_and_ready(pod) and _running_and_available(
                pod, self.min_ready, self.now
            )
            if self.monotonic and not healthy and pod is not first_unhealthy:
                return writes, True
            writes.append(_pod_delete(pod))
            if self.monotonic:
                return writes, True
        return writes, False

    def _roll(self, replicas: Sequence[_Replica], revs: _Revisions) -> list[dict[str, Any]]:
        """The rolling update: the highest outdated pod at or above the partition goes first.

        A pod that is not available (terminating, or not yet back) stops it,
        under either pod management policy.
        """
        floor = int(self.rolling.get("partition") or 0) if self.rolling is not None else 0
        if self.controller.ignores_partition:
            floor = 0
        update = meta(revs.update)["name"]
        for r in reversed(replicas[floor:]):
            if r.pod is not None and r.revision != update and not deleting(r.pod):
                return [_pod_delete(r.pod)]
            if _unavailable(r.pod, self.min_ready, self.now):
                return []
        return []

    # -- status ------------------------------------------------------------------------------------

    def _count(self, pods: Iterable[Obj], revs: _Revisions) -> dict[str, Any]:
        """computeReplicaStatus over the pods, with the revisions and generation."""
        current, update = meta(revs.current)["name"], meta(revs.update)["name"]
        counts = dict.fromkeys(_COMPARED, 0)
        for pod in pods:
            created = _phase(pod) != ""
            counts["replicas"] += created
            if _running_and_ready(pod):
                counts["readyReplicas"] += 1
                counts["availableReplicas"] += _running_and_available(pod, self.min_ready, self.now)
            if created and not deleting(pod):
                counts["currentReplicas"] += _revision_of(pod) == current
                counts["updatedReplicas"] += _revision_of(pod) == update
        return {
            "observedGeneration": int(meta(self.sts).get("generation") or 0),
            **counts,
            "currentRevision": current,
            "updateRevision": update,
            "collisionCount": revs.collision_count,
        }

    def _status(self, status: dict[str, Any]) -> list[dict[str, Any]]:
        """updateStatefulSetStatus: complete a finished roll, and write only what changed."""
        if (
            not self.on_delete
            and status["updatedReplicas"] == self.replicas
            and status["readyReplicas"] == self.replicas
            and status["replicas"] == self.replicas
        ):
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        if not _inconsistent(self.sts.get("status") or {}, status):
            return []
        return [status_write(_KIND, self.sts, _wire_status(status))]

    def _wakes(self, owned: Iterable[Obj]) -> tuple[float, ...]:
        """When Ready pods become available (upstream requeues after minReadySeconds)."""
        if self.min_ready <= 0:
            return ()
        moments = (available_at(pod, self.min_ready) for pod in owned)
        return tuple(at for at in moments if at is not None and at > self.now)


_COMPARED = (
    "replicas",
    "currentReplicas",
    "readyReplicas",
    "updatedReplicas",
    "availableReplicas",
)
#: StatefulSetStatus fields written with `omitempty`: absent when zero or empty.
_OMIT_EMPTY = (
    "observedGeneration",
    "readyReplicas",
    "currentReplicas",
    "updatedReplicas",
    "currentRevision",
    "updateRevision",
)


def _inconsistent(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """inconsistentStatus: a newer generation, or any count or revision name differs."""
    if int(new["observedGeneration"]) > int(old.get("observedGeneration") or 0):
        return True
    if any(int(old.get(f) or 0) != int(new[f]) for f in _COMPARED):
        return True
    return any(str(old.get(f) or "") != str(new[f]) for f in ("currentRevision", "updateRevision"))


def _wire_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status as upstream serialises it: omitempty fields dropped when empty."""
    return {k: v for k, v in status.items() if not (k in _OMIT_EMPTY and not v)}
