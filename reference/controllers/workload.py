"""What the workload controllers share: pods from templates, ownership, readiness, expectations.

These are upstream's `controller_utils.go`, `controller_ref_manager.go` and
`podutil` helpers, as pure functions over decoded objects. A workload
controller claims the pods its selector matches (adopting orphans,
releasing pods that stopped matching), counts them as active, ready or
available, and keeps *expectations*: after it writes, it does not act on an
owner again until its view has caught up with those writes (or five minutes
have passed, upstream's ExpectationsTimeout), so that a lagging view does not
make it create or delete twice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from properties.labels import Selector, from_label_selector
from properties.workloadterms import condition, is_ready
from reference.objects import deleting, labels, meta, owner_refs
from reference.timefmt import format_time, normalize, parse_time

__all__ = [
    "EXPECTATIONS_TIMEOUT_SECONDS",
    "Claim",
    "Expectations",
    "Obj",
    "available_at",
    "claim",
    "condition",
    "controller_ref",
    "is_active",
    "is_available",
    "is_ready",
    "owner_reference",
    "pod_from_template",
    "ready_since",
    "selector_of",
    "set_condition",
    "status_write",
]

#: controller.ExpectationsTimeout: expectations older than this count as satisfied.
EXPECTATIONS_TIMEOUT_SECONDS = 300.0
#: The wake-up after a pod's minReadySeconds: availability is strictly after it.
_AFTER = 1e-6

Obj = Mapping[str, Any]


def controller_ref(obj: Obj) -> Mapping[str, Any] | None:
    """metav1.GetControllerOf: the owner reference marked controller, if any."""
    for ref in owner_refs(obj):
        if ref.get("controller") is True:
            return ref
    return None


def owner_reference(owner: Obj, kind: str) -> dict[str, Any]:
    """metav1.NewControllerRef: controller and blockOwnerDeletion set."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": meta(owner)["name"],
        "uid": meta(owner)["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def selector_of(owner: Obj) -> Selector:
    """The owner's spec.selector; an absent one selects nothing (validation requires one)."""
    return from_label_selector((owner.get("spec") or {}).get("selector"))


def pod_from_template(
    owner: Obj,
    kind: str,
    template: Mapping[str, Any],
    *,
    name: str | None = None,
    extra_labels: Mapping[str, str] | None = None,
    spec_patch: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """controller.GetPodFromTemplate as a `create` request.

    The pod takes the template's labels, annotations and finalizers, a
    controller reference to the owner, and `<owner name>-` as generateName
    unless a name is given (StatefulSet pods have stable names).
    """
    template_meta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {
        "namespace": meta(owner)["namespace"],
        "labels": {**(template_meta.get("labels") or {}), **(extra_labels or {})},
        "ownerReferences": [owner_reference(owner, kind)],
    }
    if name is None:
        pod_meta["generateName"] = f"{meta(owner)['name']}-"
    else:
        pod_meta["name"] = name
    for key in ("annotations", "finalizers"):
        if template_meta.get(key):
            pod_meta[key] = copy.deepcopy(template_meta[key])
    spec = copy.deepcopy(dict(template.get("spec") or {}))
    spec.update(copy.deepcopy(dict(spec_patch or {})))
    return {
        "op": "create",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec},
    }


# -- pod state -------------------------------------------------------------------------------------


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_active(pod: Obj) -> bool:
    """controller.IsPodActive: not Succeeded, not Failed, not being deleted."""
    return _phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


def ready_since(pod: Obj) -> float | None:
    """When the pod last became Ready (None when it is not Ready or never says when)."""
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True" or not c.get("lastTransitionTime"):
        return None
    return parse_time(str(c["lastTransitionTime"]))


def available_at(pod: Obj, min_ready_seconds: int) -> float | None:
    """The first moment the pod counts as available, if it is Ready (podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return float("-inf")
    since = ready_since(pod)
    if since is None:
        return float("-inf")
    return normalize(since + min_ready_seconds + _AFTER)


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready, and Ready for strictly longer than minReadySeconds."""
    at = available_at(pod, min_ready_seconds)
    return at is not None and at <= now


# -- claiming (ControllerRefManager) ---------------------------------------------------------------


@attrs.frozen
class Claim:
    """The pods an owner controls after adoption and release, and the patches that do it."""

    owned: tuple[Obj, ...]
    writes: tuple[dict[str, Any], ...]


def _ownership_patch(pod: Obj, refs: list[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    """A patch of the object's ownerReferences, refused if it changed since it was read."""
    m = meta(pod)
    return {
        "op": "patch",
        "kind": kind,
        "namespace": m["namespace"],
        "name": m["name"],
        "patch": {
            "metadata": {
                "ownerReferences": [dict(r) for r in refs] or None,
                "uid": m["uid"],
                "resourceVersion": m.get("resourceVersion") or None,
            }
        },
    }


def claim(
    owner: Obj,
    kind: str,
    pods: Iterable[Obj],
    selector: Selector | None = None,
    live: Callable[[Obj], Obj | None] | None = None,
    *,
    kind_claimed: str = "Pod",
    adopts: bool = True,
    releases: bool = True,
) -> Claim:
    """ClaimPods (or ClaimReplicaSets, with `kind_claimed`): keep, release, adopt.

    The owner keeps its matching objects, releases the others and adopts
    matching orphans.

    A controller being deleted neither adopts nor releases. Pods being
    deleted are not adopted. Another controller's pods are left alone. The
    patches rewrite the whole ownerReferences list (the protocol's patch is a
    JSON merge patch), so they are built on the pod as `live` reads it now,
    as upstream's strategic merge patch keys the list by uid; an orphan that
    gained a controller meanwhile is not adopted.
    """
    selector = selector if selector is not None else selector_of(owner)
    uid = meta(owner)["uid"]
    owner_deleting = deleting(owner)
    owned: list[Obj] = []
    writes: list[dict[str, Any]] = []
    for pod in pods:
        ref = controller_ref(pod)
        matches = selector.matches(labels(pod))
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                owned.append(pod)
            elif not owner_deleting and releases:
                now_pod = live(pod) if live is not None else pod
                if now_pod is not None and meta(now_pod).get("uid") == meta(pod).get("uid"):
                    kept = [r for r in owner_refs(now_pod) if r.get("uid") != uid]
                    writes.append(_ownership_patch(now_pod, kept, kind_claimed))
            continue
        if owner_deleting or not matches or deleting(pod) or not adopts:
            continue
        if meta(pod).get("namespace") != meta(owner).get("namespace"):
            continue
        now_pod = live(pod) if live is not None else pod
        if now_pod is None or meta(now_pod).get("uid") != meta(pod).get("uid"):
            continue
        if controller_ref(now_pod) is not None:
            continue
        refs = [*owner_refs(now_pod), owner_reference(owner, kind)]
        writes.append(_ownership_patch(now_pod, refs, kind_claimed))
        owned.append(pod)
    return Claim(tuple(owned), tuple(writes))


# -- status ----------------------------------------------------------------------------------------


def status_write(kind: str, obj: Obj, status: Mapping[str, Any]) -> dict[str, Any]:
    """A `status` request writing `status` on the object as read (its resourceVersion guards it)."""
    m = meta(obj)
    address = {"name": m["name"], "uid": m["uid"]}
    if m.get("namespace"):
        address["namespace"] = m["namespace"]
    if m.get("resourceVersion"):
        address["resourceVersion"] = m["resourceVersion"]
    api_version = "apps/v1" if kind != "Pod" else "v1"
    return {
        "op": "status",
        "object": {"apiVersion": api_version, "kind": kind, "metadata": address, "status": status},
    }


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: float,
    *,
    update_time: bool = False,
) -> list[dict[str, Any]]:
    """Conditions with `kind` set; lastTransitionTime moves only when the status changes."""
    before = next((c for c in conditions if c.get("type") == kind), None)
    stamp = format_time(float(int(now // 1)))
    new: dict[str, Any] = {"type": kind, "status": status, "reason": reason, "message": message}
    if before is not None and before.get("status") == status:
        new["lastTransitionTime"] = before.get("lastTransitionTime", stamp)
        if update_time:
            new["lastUpdateTime"] = stamp
        elif "lastUpdateTime" in before:
            new["lastUpdateTime"] = before["lastUpdateTime"]
    else:
        new["lastTransitionTime"] = stamp
        if update_time or (before is not None and "lastUpdateTime" in before):
            new["lastUpdateTime"] = stamp
    out = [dict(c) for c in conditions if c.get("type") != kind]
    out.append(new)
    return out


# -- expectations ----------------------------------------------------------------------------------


@attrs.frozen
class Expectation:
    """Writes about one owner that the controller's view has not shown yet."""

    #: The store revision the view must reach to include every successful write.
    revision: int
    #: When the expectation was set (ExpectationsTimeout runs from here).
    since: float


@attrs.frozen
class Expectations:
    """ControllerExpectations, keyed by owner uid, fed by the answers to the controller's writes.

    `sent` names, for each write of the last pass, the owner it was for; the
    cluster hands the answers back on the next pass (`View.answers`), and
    `observe` turns each successful answer's revision into an expectation.
    The answers that failed are returned so that the controller can report
    them (ReplicaFailure).
    """

    pending: PMap[str, Expectation] = attrs.field(factory=pmap)
    sent: tuple[str, ...] = ()
    #: The op of each write in `sent` (create, delete, patch, ...), for reporting refusals.
    ops: tuple[str, ...] = ()

    def observe(
        self, answers: Sequence[Mapping[str, Any]], now: float
    ) -> tuple[Expectations, PMap[str, tuple[Mapping[str, Any], ...]]]:
        """Expectations raised by the successful answers, and the refused ones by owner.

        Writes sent for the owner "" (status writes) raise no expectation.
        Each refused answer carries the `op` of its request.
        """
        pending = self.pending
        failures: dict[str, list[Mapping[str, Any]]] = {}
        ops = self.ops or ("",) * len(self.sent)
        for owner, op, answer in zip(self.sent, ops, answers, strict=False):
            if not owner:
                continue
            if not answer.get("ok"):
                failures.setdefault(owner, []).append({**answer, "op": op})
                continue
            revision = int(answer.get("revision") or 0)
            before = pending.get(owner)
            if before is None or before.revision < revision:
                pending = pending.set(owner, Expectation(revision, now))
        return Expectations(pending), pmap({k: tuple(v) for k, v in failures.items()})

    def satisfied(self, owner: str, revision: int, now: float) -> bool:
        e = self.pending.get(owner)
        return e is None or revision >= e.revision or now >= e.since + EXPECTATIONS_TIMEOUT_SECONDS

    def settle(self, revision: int, now: float) -> Expectations:
        """Drop the satisfied expectations, so that equal situations give equal states."""
        done = [k for k in self.pending if self.satisfied(k, revision, now)]
        pending = self.pending
        for k in done:
            pending = pending.remove(k)
        return attrs.evolve(self, pending=pending)

    def sending(self, owners: Sequence[str], ops: Sequence[str] = ()) -> Expectations:
        """These expectations, waiting for the answers to writes made for `owners`, in order."""
        return attrs.evolve(self, sent=tuple(owners), ops=tuple(ops))

    def timeout_at(self) -> float | None:
        if not self.pending:
            return None
        return min(e.since for e in self.pending.values()) + EXPECTATIONS_TIMEOUT_SECONDS
