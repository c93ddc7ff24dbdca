"""The Deployment controller (pkg/controller/deployment), one sync per Deployment per pass.

SEMANTICS §2. A sync claims the Deployment's ReplicaSets, finds the new one
(the oldest whose template equals the Deployment's, ignoring the
pod-template-hash label) and dispatches as upstream's syncDeployment does:
status only while deleting; proportional scaling while paused or when the
replica count changed; otherwise Recreate or a rolling step, which does at
most one of scaling the new ReplicaSet up or the old ones down. Then it
writes the status it computes from the ReplicaSets' counts, with the
Available and Progressing conditions.

The sync works on local copies of the ReplicaSets and sends one write per
ReplicaSet it changed, with the resourceVersion it read: a stale view is
refused (409) and the next pass starts again from a fresher one, as
upstream's updates from its listers are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from properties.workloadterms import (
    HASH_LABEL,
    REVISION,
    equal_ignore_hash,
    max_surge,
    max_unavailable,
    replicas_of,
)
from properties.workloadterms import is_rolling as _rolling
from properties.workloadterms import revision_of as revision
from reference.controllers import history
from reference.controllers.base import Reconcile, View
from reference.controllers.workload import (
    Obj,
    claim,
    controller_ref,
    owner_reference,
    selector_of,
)
from reference.objects import copy_json, deleting, meta
from reference.timefmt import format_time, normalize, parse_time

__all__ = ["DeploymentController", "template_hash"]

REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_NOT_COPIED = frozenset({_LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS})
#: deployment controller's maxRevHistoryLengthInChars.
_REVISION_HISTORY_CHARS = 2000
_MAX_INT32 = 2**31 - 1


# -- arithmetic ------------------------------------------------------------------------------------


def template_hash(
    template: Mapping[str, Any], collision_count: int | None, modulus: int = 0
) -> str:
    """controller.ComputeHash (`history.template_hash`), squeezed into `modulus` values if asked.

    The squeeze is a mutant's: a handful of hash values makes distinct
    templates collide, which collisionCount exists to resolve (#29735).
    """
    if not modulus:
        return history.template_hash(template, collision_count)
    data = history.canonical_json(template)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return history.safe_encode(str(history.fnv32a(data) % modulus))


def _created(obj: Obj) -> tuple[float, str]:
    stamp = meta(obj).get("creationTimestamp")
    return (parse_time(stamp) if isinstance(stamp, str) and stamp else 0.0, str(meta(obj)["name"]))


def _template(obj: Obj) -> Mapping[str, Any]:
    return (obj.get("spec") or {}).get("template") or {}


def _status_int(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def _annotation_int(rs: Obj, key: str) -> int | None:
    raw = (meta(rs).get("annotations") or {}).get(key)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


# -- the local plan --------------------------------------------------------------------------------


@attrs.define
class _Plan:
    """The ReplicaSets as this sync changes them, and the writes that make it so."""

    sets: list[dict[str, Any]]
    #: The ReplicaSet of a name as the API server has it now (a create would collide with it).
    lookup: Callable[[str], Obj | None]
    changed: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    created: list[dict[str, Any]] = attrs.field(factory=list)
    deleted: list[Obj] = attrs.field(factory=list)

    def scale(self, rs: dict[str, Any], replicas: int, d: Obj, annotate: bool = True) -> bool:
        """scaleReplicaSet: size and the desired/max annotations; True when the size moved."""
        moved = replicas_of(rs) != replicas
        notes = dict(meta(rs).get("annotations") or {})
        wanted = {
            DESIRED_REPLICAS: str(replicas_of(d)),
            MAX_REPLICAS: str(replicas_of(d) + max_surge(d)),
        }
        stale = annotate and any(notes.get(k) != v for k, v in wanted.items())
        if not (moved or stale):
            return False
        rs["spec"]["replicas"] = replicas
        if annotate:
            rs["metadata"]["annotations"] = {**notes, **wanted}
        self._touch(rs)
        return moved

    def annotate(self, rs: dict[str, Any], annotations: Mapping[str, str], min_ready: int) -> None:
        rs["metadata"]["annotations"] = dict(annotations)
        rs["spec"]["minReadySeconds"] = min_ready
        self._touch(rs)

    def _touch(self, rs: dict[str, Any]) -> None:
        if rs in self.created:
            return
        self.changed[meta(rs)["uid"]] = rs

    def writes(self, original: Mapping[str, Obj]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"op": "create", "object": rs} for rs in self.created]
        for uid, rs in self.changed.items():
            before = original[uid]
            m = meta(rs)
            patch: dict[str, Any] = {
                "metadata": {"resourceVersion": meta(before)["resourceVersion"]}
            }
            if replicas_of(rs) != replicas_of(before):
                patch["spec"] = {"replicas": replicas_of(rs)}
            old_notes = meta(before).get("annotations") or {}
            new_notes = m.get("annotations") or {}
            notes = {k: v for k, v in new_notes.items() if old_notes.get(k) != v}
            if notes:
                patch["metadata"]["annotations"] = notes
            min_ready = (rs.get("spec") or {}).get("minReadySeconds")
            if min_ready != (before.get("spec") or {}).get("minReadySeconds"):
                patch.setdefault("spec", {})["minReadySeconds"] = min_ready
            out.append(
                {
                    "op": "patch",
                    "kind": "ReplicaSet",
                    "namespace": m["namespace"],
                    "name": m["name"],
                    "patch": patch,
                }
            )
        for victim in self.deleted:
            gone = meta(victim)
            out.append(
                {
                    "op": "delete",
                    "kind": "ReplicaSet",
                    "namespace": gone["namespace"],
                    "name": gone["name"],
                    "preconditions": {"uid": gone["uid"]},
                }
            )
        return out


def _copy(obj: Obj) -> dict[str, Any]:
    copied: dict[str, Any] = copy_json(obj)
    return copied


# -- the controller --------------------------------------------------------------------------------


@attrs.frozen
class DeploymentController:
    """upstream's DeploymentController. Its flags are the mutants of bugs_oracles.md §2."""

    name: str = "deployment"
    #: Squeeze template hashes into this many values (0: the full 32 bits) — #29735's setting.
    hash_modulus: int = 0
    #: Bump status.collisionCount when the new ReplicaSet's name is taken (False: #29735).
    bumps_collision_count: bool = True
    #: Scale old ReplicaSets down by what the ReplicaSets have created, not what is available
    #: (#22719).
    counts_created_as_available: bool = False
    #: Round each ReplicaSet's share of a scaling event alone, with no cap and no leftover
    #: (#28145): the shares can add up to more than replicas + maxSurge.
    rounds_each_alone: bool = False
    #: Leave terminating pods out of the surge even under TerminationComplete (#95498).
    surge_ignores_terminating: bool = False
    #: When the only active ReplicaSet already has the Deployment's size, still bring its
    #: desired-replicas annotation up to date. 1.34 returns early and the stale annotation makes
    #: every later sync a scaling event, so the rollout never resumes (the fix of the open
    #: kubernetes#138036 / #138840; False is 1.34's behaviour, a mutant).
    refreshes_stale_annotations: bool = True
    #: Give a ReplicaSet that becomes new again (a rollback) a fresh, highest revision.
    renumbers_on_rollback: bool = True
    #: Honour spec.paused (False: a paused Deployment still rolls out).
    honours_pause: bool = True
    #: Recreate waits for the old pods to be gone before it creates the new ones.
    recreate_waits: bool = True

    def initial_state(self) -> None:
        return None

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        sets = list(view.objects("ReplicaSet", versioned=True))
        pods = list(view.objects("Pod"))
        writes: list[dict[str, Any]] = []
        wakes: list[float] = []
        for d in view.objects("Deployment", versioned=True):
            out, wake = self._sync(view, d, sets, pods, now)
            writes.extend(out)
            if wake is not None:
                wakes.append(wake)
        return Reconcile(tuple(writes), None, min(wakes) if wakes else None)

    # -- syncDeployment ----------------------------------------------------------------------------

    def _sync(
        self, view: View, d: Obj, sets: Sequence[Obj], pods: Sequence[Obj], now: float
    ) -> tuple[list[dict[str, Any]], float | None]:
        namespace = meta(d)["namespace"]
        selector = selector_of(d)
        if selector.matches_nothing or not selector.requirements:
            return [], None  # upstream refuses an empty selector: it would select everything
        mine = [s for s in sets if meta(s).get("namespace") == namespace]

        def live(rs: Obj) -> Obj | None:
            found: Obj | None = view.live_get("ReplicaSet", namespace, meta(rs)["name"])
            if found is not None:
                found = {**found, "metadata": {**found["metadata"]}}
                found["metadata"].pop("resourceVersion", None)
            return found

        claimed = claim(d, "Deployment", mine, selector, live, kind_claimed="ReplicaSet")
        writes = list(claimed.writes)
        original = {meta(rs)["uid"]: rs for rs in claimed.owned}
        plan = _Plan(
            [_copy(rs) for rs in claimed.owned],
            lambda name: view.live_get("ReplicaSet", namespace, name),
        )
        status = _copy(d.get("status") or {})
        deployment = _copy(d)
        if deleting(d):
            new, old = self._split(plan, deployment, status, create=False, now=now)
            full = self._status(deployment, plan, new, status, now, rollout=False)
            return writes + plan.writes(original) + _status_writes(d, deployment, full), None
        _paused_condition(deployment, status, now)
        spec = deployment.get("spec") or {}
        paused = bool(spec.get("paused")) and self.honours_pause
        if paused or self._scaling_event(plan, deployment, status, now):
            new, old = self._split(plan, deployment, status, create=False, now=now)
            self._scale(plan, deployment, new, old)
            if paused:
                _cleanup(plan, deployment, old)
            full = self._status(deployment, plan, new, status, now, rollout=False)
        elif _rolling(deployment):
            full = self._rolling(plan, deployment, status, pods, now)
        else:
            full = self._recreate(plan, deployment, status, pods, now)
        out = writes + plan.writes(original) + _status_writes(d, deployment, full)
        return out, _stuck_wake(deployment, full, now)

    def _scaling_event(
        self, plan: _Plan, d: dict[str, Any], status: dict[str, Any], now: float
    ) -> bool:
        new, old = self._split(plan, d, status, create=False, now=now)
        for rs in _active([*old, *([new] if new else [])]):
            desired = _annotation_int(rs, DESIRED_REPLICAS)
            if desired is not None and desired != replicas_of(d):
                return True
        return False

    # -- getAllReplicaSetsAndSyncRevision ----------------------------------------------------------

    def _split(
        self,
        plan: _Plan,
        d: dict[str, Any],
        status: dict[str, Any],
        *,
        create: bool,
        now: float,
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The new ReplicaSet (found, or created when asked) and the old ones."""
        template = _template(d)
        by_age = sorted(plan.sets + plan.created, key=_created)
        new = next((rs for rs in by_age if equal_ignore_hash(_template(rs), template)), None)
        old = [rs for rs in plan.sets if rs is not new]
        next_revision = max((revision(rs) for rs in old), default=0) + 1
        if new is not None:
            if not self.renumbers_on_rollback and revision(new):
                next_revision = revision(new)
            notes = _new_annotations(d, new, next_revision, exists=True)
            min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
            if notes != (meta(new).get("annotations") or {}) or min_ready != int(
                (new.get("spec") or {}).get("minReadySeconds") or 0
            ):
                plan.annotate(new, notes, min_ready)
                return new, old
            _set_revision(d, str(revision(new)))
            if _has_deadline(d) and _condition(status, "Progressing") is None:
                _set(
                    status,
                    _new_condition(
                        "Progressing",
                        "True",
                        "FoundNewReplicaSet",
                        f'Found new replica set "{meta(new)["name"]}"',
                        now,
                    ),
                )
            return new, old
        if not create:
            return None, old
        created = self._new_replica_set(plan, d, status, old, next_revision, now)
        if created is None:
            return None, old
        _set_revision(d, str(next_revision))
        return created, old

    def _new_replica_set(
        self,
        plan: _Plan,
        d: dict[str, Any],
        status: dict[str, Any],
        old: list[dict[str, Any]],
        next_revision: int,
        now: float,
    ) -> dict[str, Any] | None:
        template = _copy(_template(d))
        collisions = status.get("collisionCount")
        pod_hash = template_hash(template, collisions, self.hash_modulus)
        template.setdefault("metadata", {})["labels"] = {
            **(template.get("metadata", {}).get("labels") or {}),
            HASH_LABEL: pod_hash,
        }
        selector = _copy((d.get("spec") or {}).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        name = f"{meta(d)['name']}-{pod_hash}"
        rs: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": meta(d)["namespace"],
                "ownerReferences": [owner_reference(d, "Deployment")],
                "labels": dict(template["metadata"]["labels"]),
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int((d.get("spec") or {}).get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        taken = plan.lookup(name)
        if taken is not None:
            ours = (ref := controller_ref(taken)) is not None and ref.get("uid") == meta(d)["uid"]
            if ours and equal_ignore_hash(_template(taken), _template(d)):
                return None  # created already; the view has not caught up
            # The name is taken by another template's ReplicaSet: a hash collision.
            if self.bumps_collision_count:
                status["collisionCount"] = (collisions or 0) + 1
            return None
        rs["metadata"]["annotations"] = _new_annotations(d, rs, next_revision, exists=False)
        rs["spec"]["replicas"] = _new_rs_replicas(d, [*old, rs], rs, self.surge_ignores_terminating)
        plan.created.append(rs)
        if _has_deadline(d):
            _set(
                status,
                _new_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetCreated",
                    f'Created new replica set "{name}"',
                    now,
                ),
            )
        return rs

    # -- sync (scaling) ----------------------------------------------------------------------------

    def _scale(
        self, plan: _Plan, d: dict[str, Any], new: dict[str, Any] | None, old: list[dict[str, Any]]
    ) -> None:
        target = _active_or_latest(new, old)
        if target is not None:
            if replicas_of(target) != replicas_of(d) or self.refreshes_stale_annotations:
                plan.scale(target, replicas_of(d), d)
            return
        if _saturated(d, new):
            for rs in _active(old):
                plan.scale(rs, 0, d)
            return
        if not _rolling(d):
            return
        active = _active([*old, *([new] if new else [])])
        allowed = replicas_of(d) + max_surge(d) if replicas_of(d) > 0 else 0
        to_add = allowed - sum(replicas_of(rs) for rs in active)
        if to_add > 0:
            active.sort(key=lambda rs: (-replicas_of(rs), _negated(_created(rs))))
        elif to_add < 0:
            active.sort(key=lambda rs: (-replicas_of(rs), _created(rs)))
        sizes: list[int] = []
        added = 0
        for rs in active:
            if to_add == 0:
                sizes.append(replicas_of(rs))
                continue
            if self.rounds_each_alone:
                part = _fraction(rs, d) if replicas_of(rs) else 0
            else:
                part = _proportion(rs, d, to_add, added)
            sizes.append(replicas_of(rs) + part)
            added += part
        for i, rs in enumerate(active):
            size = sizes[i]
            if i == 0 and to_add != 0 and not self.rounds_each_alone:
                size = max(0, size + to_add - added)
            plan.scale(rs, size, d)

    # -- rolloutRolling ----------------------------------------------------------------------------

    def _rolling(
        self,
        plan: _Plan,
        d: dict[str, Any],
        status: dict[str, Any],
        pods: Sequence[Obj],
        now: float,
    ) -> dict[str, Any]:
        new, old = self._split(plan, d, status, create=True, now=now)
        if new is None:
            return self._status(d, plan, new, status, now, rollout=True)
        every = [*old, new]
        if self._reconcile_new(plan, d, every, new):
            return self._status(d, plan, new, status, now, rollout=True)
        if self._reconcile_old(plan, d, every, _active(old), new):
            return self._status(d, plan, new, status, now, rollout=True)
        full = self._status(d, plan, new, status, now, rollout=True)
        if _complete(d, full):
            _cleanup(plan, d, old)
        return full

    def _reconcile_new(
        self, plan: _Plan, d: dict[str, Any], every: list[dict[str, Any]], new: dict[str, Any]
    ) -> bool:
        if replicas_of(new) == replicas_of(d):
            return False
        if replicas_of(new) > replicas_of(d):
            return plan.scale(new, replicas_of(d), d)
        target = _new_rs_replicas(d, every, new, self.surge_ignores_terminating)
        return replicas_of(new) != target and plan.scale(new, target, d)

    def _reconcile_old(
        self,
        plan: _Plan,
        d: dict[str, Any],
        every: list[dict[str, Any]],
        old: list[dict[str, Any]],
        new: dict[str, Any],
    ) -> bool:
        if sum(replicas_of(rs) for rs in old) == 0:
            return False
        all_pods = sum(replicas_of(rs) for rs in every)
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = replicas_of(new) - self._available(new)
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return False
        scaled = 0
        for rs in sorted(old, key=_created):
            if scaled >= budget:
                break
            spec, available = replicas_of(rs), self._available(rs)
            if spec == 0 or spec <= available:
                continue  # upstream refuses to "scale down" to more than it has
            n = min(budget - scaled, spec - available)
            plan.scale(rs, spec - n, d)
            scaled += n
        available = sum(self._available(rs) for rs in every)
        if available > min_available:
            budget2 = available - min_available
            down = 0
            for rs in sorted(old, key=_created):
                if down >= budget2:
                    break
                if replicas_of(rs) == 0:
                    continue
                n = min(replicas_of(rs), budget2 - down)
                plan.scale(rs, replicas_of(rs) - n, d)
                down += n
            scaled += down
        return scaled > 0

    def _available(self, rs: Obj) -> int:
        field = "replicas" if self.counts_created_as_available else "availableReplicas"
        return _status_int(rs, field)

    # -- rolloutRecreate ---------------------------------------------------------------------------

    def _recreate(
        self,
        plan: _Plan,
        d: dict[str, Any],
        status: dict[str, Any],
        pods: Sequence[Obj],
        now: float,
    ) -> dict[str, Any]:
        new, old = self._split(plan, d, status, create=False, now=now)
        scaled = False
        for rs in _active(old):
            scaled |= plan.scale(rs, 0, d)
        waiting = self.recreate_waits and _old_pods_running(new, old, plan.sets, pods, d)
        if scaled or waiting:
            return self._status(d, plan, new, status, now, rollout=True)
        if new is None:
            new, old = self._split(plan, d, status, create=True, now=now)
        if new is not None and replicas_of(new) != replicas_of(d):
            plan.scale(new, replicas_of(d), d)
        full = self._status(d, plan, new, status, now, rollout=True)
        if _complete(d, full):
            _cleanup(plan, d, old)
        return full

    # -- status ------------------------------------------------------------------------------------

    def _status(
        self,
        d: dict[str, Any],
        plan: _Plan,
        new: dict[str, Any] | None,
        status: dict[str, Any],
        now: float,
        *,
        rollout: bool,
    ) -> dict[str, Any]:
        """calculateStatus, then (for a rollout) syncRolloutStatus's condition updates."""
        every = plan.sets + plan.created
        available = sum(_status_int(rs, "availableReplicas") for rs in every)
        total = sum(replicas_of(rs) for rs in every)
        full: dict[str, Any] = {
            "observedGeneration": meta(d).get("generation", 1),
            "replicas": sum(_status_int(rs, "replicas") for rs in every),
            "updatedReplicas": _status_int(new, "replicas") if new is not None else 0,
            "readyReplicas": sum(_status_int(rs, "readyReplicas") for rs in every),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
            "terminatingReplicas": sum(_status_int(rs, "terminatingReplicas") for rs in every),
        }
        if status.get("collisionCount") is not None:
            full["collisionCount"] = status["collisionCount"]
        full["conditions"] = [dict(c) for c in status.get("conditions") or ()]
        if available >= replicas_of(d) - max_unavailable(d):
            _set(
                full,
                _new_condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                ),
            )
        else:
            _set(
                full,
                _new_condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                ),
            )
        if rollout:
            _progress(d, status, full, new, now)
            failure = _replica_failure(every, new)
            if failure is not None:
                _set(full, failure)
            else:
                full["conditions"] = [
                    c for c in full["conditions"] if c["type"] != "ReplicaFailure"
                ]
        for key in [k for k, v in full.items() if v in (0, None)]:
            del full[key]  # omitempty, as upstream serialises the status
        if not full["conditions"]:
            del full["conditions"]
        return full


# -- helpers ---------------------------------------------------------------------------------------


def _negated(key: tuple[float, str]) -> tuple[float, str]:
    """Newer first: the creation time negated (names then break ties the other way round)."""
    return (-key[0], "".join(chr(0x10FFFF - ord(c)) for c in key[1]))


def _active(sets: Sequence[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [rs for rs in sets if rs is not None and replicas_of(rs) > 0]


def _active_or_latest(
    new: dict[str, Any] | None, old: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """FindActiveOrLatest: the one active ReplicaSet, or the newest when none is active."""
    if new is None and not old:
        return None
    newest_first = sorted(old, key=_created, reverse=True)
    active = _active([*newest_first, new])
    if not active:
        return new if new is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def _saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = _annotation_int(rs, DESIRED_REPLICAS)
    return (
        replicas_of(rs) == replicas_of(d)
        and desired == replicas_of(d)
        and _status_int(rs, "availableReplicas") == replicas_of(d)
    )


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """GetProportion: the ReplicaSet's rounded share of the change, within what is left."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _fraction(rs: Obj, d: Obj) -> int:
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    d_max = replicas_of(d) + max_surge(d)
    before = _annotation_int(rs, MAX_REPLICAS)
    if not before:
        before = _status_int(d, "replicas")
        if before == 0:
            return 0
    exact = replicas_of(rs) * d_max / before
    rounded = math.floor(exact + 0.5) if exact >= 0 else -math.floor(-exact + 0.5)
    return rounded - replicas_of(rs)


def _new_rs_replicas(
    d: Obj, every: Sequence[Obj], new: Obj, surge_ignores_terminating: bool
) -> int:
    """NewRSNewReplicas: up to replicas + maxSurge in all (Recreate: replicas at once).

    With podReplacementPolicy TerminationComplete the pods still terminating
    count towards the surge (KEP-3973).
    """
    if not _rolling(d):
        return replicas_of(d)
    current = sum(replicas_of(rs) for rs in every)
    policy = (d.get("spec") or {}).get("podReplacementPolicy")
    if policy == "TerminationComplete" and not surge_ignores_terminating:
        current += sum(_status_int(rs, "terminatingReplicas") for rs in every)
    most = replicas_of(d) + max_surge(d)
    if current >= most:
        return replicas_of(new)
    return replicas_of(new) + min(most - current, replicas_of(d) - replicas_of(new))


def _new_annotations(d: Obj, rs: Obj, next_revision: int, *, exists: bool) -> dict[str, str]:
    """SetNewReplicaSetAnnotations: copied annotations, the revision and its history."""
    notes = dict(meta(rs).get("annotations") or {})
    for key, value in (meta(d).get("annotations") or {}).items():
        if key not in _NOT_COPIED:
            notes[key] = value
    old_text = notes.get(REVISION)
    try:
        old_revision = int(old_text) if old_text is not None else 0
    except ValueError:
        return dict(meta(rs).get("annotations") or {})
    if old_revision < next_revision:
        notes[REVISION] = str(next_revision)
        if old_text is not None:
            history = notes.get(REVISION_HISTORY, "")
            entries = history.split(",") if history else []
            total = len(history) + len(old_text) + 1
            start = 0
            while total > _REVISION_HISTORY_CHARS and start < len(entries):
                total -= len(entries[start]) + 1
                start += 1
            if total <= _REVISION_HISTORY_CHARS:
                notes[REVISION_HISTORY] = ",".join([*entries[start:], old_text])
    if not exists:
        notes[DESIRED_REPLICAS] = str(replicas_of(d))
        notes[MAX_REPLICAS] = str(replicas_of(d) + max_surge(d))
    return notes


def _set_revision(d: dict[str, Any], value: str) -> None:
    """SetDeploymentRevision: the Deployment's revision annotation follows its new ReplicaSet.

    Upstream writes it with the status (deploymentStatusStrategy keeps the
    annotations it is sent), so that it does not bump the generation.
    """
    notes = meta(d).get("annotations") or {}
    if notes.get(REVISION) != value:
        d["metadata"]["annotations"] = {**notes, REVISION: value}


def _old_pods_running(
    new: Obj | None, old: Sequence[Obj], sets: Sequence[Obj], pods: Sequence[Obj], d: Obj
) -> bool:
    """oldPodsRunning: an old ReplicaSet still counts pods, or one of its pods has not finished."""
    if sum(_status_int(rs, "replicas") for rs in old) > 0:
        return True
    owners = {meta(rs)["uid"] for rs in sets} - ({meta(new)["uid"]} if new is not None else set())
    selector = selector_of(d)
    for pod in pods:
        if meta(pod).get("namespace") != meta(d)["namespace"]:
            continue
        ref = controller_ref(pod)
        if ref is None or ref.get("uid") not in owners:
            continue
        if not selector.matches(meta(pod).get("labels") or {}):
            continue
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            return True
    return False


def _cleanup(plan: _Plan, d: Obj, old: Sequence[dict[str, Any]]) -> None:
    """cleanupDeployment: delete the oldest revisions beyond revisionHistoryLimit, if idle."""
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    if limit is None:
        return
    alive = [rs for rs in old if not deleting(rs)]
    excess = len(alive) - int(limit)
    if excess <= 0:
        return
    alive.sort(key=lambda rs: (revision(rs), _created(rs)))
    for rs in alive[:excess]:
        idle = _status_int(rs, "replicas") == 0 and replicas_of(rs) == 0
        observed = int(meta(rs).get("generation", 1)) <= _status_int(rs, "observedGeneration")
        if idle and observed and rs not in plan.changed.values():
            plan.deleted.append(rs)


def _complete(d: Obj, status: Mapping[str, Any]) -> bool:
    """DeploymentComplete."""
    want = replicas_of(d)
    return bool(
        status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
        and status.get("observedGeneration", 0) >= meta(d).get("generation", 1)
    )


def _has_deadline(d: Obj) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and deadline != _MAX_INT32


def _stamp(now: float) -> str:
    return format_time(float(int(now // 1)))


def _new_condition(kind: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    stamp = _stamp(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def _condition(status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or ():
        if c.get("type") == kind:
            return dict(c)
    return None


def _set(status: dict[str, Any], condition: dict[str, Any]) -> None:
    """SetDeploymentCondition: nothing when status and reason are unchanged."""
    current = _condition(status, condition["type"])
    if current is not None and (current["status"], current.get("reason")) == (
        condition["status"],
        condition.get("reason"),
    ):
        return
    if current is not None and current["status"] == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    others = [c for c in status.get("conditions") or () if c.get("type") != condition["type"]]
    status["conditions"] = [*others, condition]


def _remove(status: dict[str, Any], kind: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != kind]


def _paused_condition(d: Obj, status: dict[str, Any], now: float) -> None:
    """checkPausedConditions: Progressing Unknown while paused, and on resume."""
    if not _has_deadline(d):
        return
    current = _condition(status, "Progressing")
    if current is not None and current.get("reason") == "ProgressDeadlineExceeded":
        return
    paused = bool((d.get("spec") or {}).get("paused"))
    if paused and (current is None or current.get("reason") != "DeploymentPaused"):
        _set(
            status,
            _new_condition(
                "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
            ),
        )
    elif not paused and current is not None and current.get("reason") == "DeploymentPaused":
        _set(
            status,
            _new_condition(
                "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now
            ),
        )


def _progress(
    d: Obj, before: Mapping[str, Any], full: dict[str, Any], new: Obj | None, now: float
) -> None:
    """syncRolloutStatus's Progressing condition: complete, progressing or timed out.

    `before` is the status as this sync found it (with the conditions it set
    on the way), which upstream has already written by then.
    """
    if not _has_deadline(d):
        _remove(full, "Progressing")
        return
    current = _condition(before, "Progressing")
    complete_already = (
        full["replicas"] == full["updatedReplicas"]
        and current is not None
        and current.get("reason") == "NewReplicaSetAvailable"
    )
    if complete_already:
        return
    name = meta(new)["name"] if new is not None else ""
    if _complete(d, full):
        message = f'ReplicaSet "{name}" has successfully progressed.'
        _set(full, _new_condition("Progressing", "True", "NewReplicaSetAvailable", message, now))
    elif _progressing(before, full):
        condition = _new_condition(
            "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', now
        )
        if current is not None:
            if current["status"] == "True":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            _remove(full, "Progressing")
        _set(full, condition)
    elif _timed_out(d, full, now):
        message = f'ReplicaSet "{name}" has timed out progressing.'
        _set(full, _new_condition("Progressing", "False", "ProgressDeadlineExceeded", message, now))


def _progressing(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """DeploymentProgressing: some count moved the right way since the last status."""

    def get(s: Mapping[str, Any], k: str) -> int:
        return int(s.get(k) or 0)

    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or get(new, "replicas") - get(new, "updatedReplicas")
        < get(old, "replicas") - get(old, "updatedReplicas")
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


def _timed_out(d: Obj, status: Mapping[str, Any], now: float) -> bool:
    condition = _condition(status, "Progressing")
    if condition is None or condition.get("reason") == "NewReplicaSetAvailable":
        return False
    if condition.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = condition.get("lastUpdateTime")
    if not since:
        return False
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return parse_time(str(since)) + deadline < now


def _stuck_wake(d: Obj, status: Mapping[str, Any], now: float) -> float | None:
    """requeueStuckDeployment: wake one second after the progress deadline would pass."""
    if not _has_deadline(d):
        return None
    condition = _condition(status, "Progressing")
    if condition is None or condition.get("reason") in (
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
    ):
        return None
    if condition.get("status") != "True" or not condition.get("lastUpdateTime"):
        return None
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    at = normalize(parse_time(str(condition["lastUpdateTime"])) + deadline + 1)
    return at if at > now else None


def _replica_failure(sets: Sequence[Obj], new: Obj | None) -> dict[str, Any] | None:
    """getReplicaFailures: the new ReplicaSet's ReplicaFailure first, else any old one's."""
    ordered = ([new] if new is not None else []) + [rs for rs in sets if rs is not new]
    for rs in ordered:
        c = _condition(rs.get("status") or {}, "ReplicaFailure")
        if c is not None and c.get("status") == "True":
            return {
                "type": "ReplicaFailure",
                "status": c["status"],
                "lastUpdateTime": c.get("lastTransitionTime"),
                "lastTransitionTime": c.get("lastTransitionTime"),
                "reason": c.get("reason"),
                "message": c.get("message"),
            }
    return None


def _status_writes(d: Obj, changed: Obj, status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The status write, carrying the revision annotation when it moved."""
    notes = meta(changed).get("annotations") or {}
    if dict(status) == dict(d.get("status") or {}) and notes == (meta(d).get("annotations") or {}):
        return []
    m = meta(d)
    address = {
        "name": m["name"],
        "namespace": m["namespace"],
        "uid": m["uid"],
        "resourceVersion": m["resourceVersion"],
    }
    if notes != (m.get("annotations") or {}):
        address["annotations"] = dict(notes)
    return [
        {
            "op": "status",
            "object": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": address,
                "status": dict(status),
            },
        }
    ]
