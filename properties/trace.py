"""What a run sends and sees, and what the laws read.

A trace is the list of `Exchange`s (a request and its answer) a run made,
grouped in steps: each step of a scenario contributes the exchanges of its
rule and, usually, a `snapshot`. Beside the raw exchanges the trace keeps
*knowledge* derived from them — the latest version of every object seen,
the highest resourceVersion seen, which uids are dead — folded in step by
step, so that a law checking the newest step reads the trace as it was
before that step (`trace.before`) without rescanning history.

Laws judge traces only; nothing here knows how the trace was produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PSet, PVector, pmap, pset, pvector

from properties.kinds import is_namespaced

__all__ = [
    "Exchange",
    "ObjectKey",
    "TargetInfo",
    "Trace",
    "Violation",
    "key_of",
    "request_key",
    "rv_of",
]

ObjectKey = tuple[str, str, str]
"""(kind, namespace, name); namespace is "" for cluster-scoped kinds."""


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (obj.get("kind", ""), meta.get("namespace", "") or "", meta.get("name", ""))


def rv_of(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion", 0))
    except (TypeError, ValueError):
        return 0


@attrs.frozen
class TargetInfo:
    """What the target said of itself in `hello`."""

    name: str
    version: str
    capabilities: frozenset[str]
    kinds: frozenset[str]
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    kubernetes_version: str = ""

    def has(self, *capabilities: str) -> bool:
        return all(c in self.capabilities for c in capabilities)

    @classmethod
    def from_hello(cls, answer: Mapping[str, Any]) -> TargetInfo:
        return cls(
            name=str(answer.get("name", "?")),
            version=str(answer.get("version", "?")),
            capabilities=frozenset(answer.get("capabilities") or ()),
            kinds=frozenset(answer.get("kinds") or ()),
            parameters=dict(answer.get("parameters") or {}),
            kubernetes_version=str(answer.get("kubernetesVersion", "")),
        )


@attrs.frozen
class Exchange:
    """One request and its answer, tagged with the scenario step and rule that made it."""

    step: int
    rule: str
    request: Mapping[str, Any]
    answer: Mapping[str, Any]

    @property
    def op(self) -> str:
        return str(self.request.get("op", ""))

    @property
    def ok(self) -> bool:
        return bool(self.answer.get("ok"))

    @property
    def code(self) -> int:
        """The HTTP code of a refusal (0 when the request succeeded)."""
        if self.ok:
            return 0
        return int((self.answer.get("status") or {}).get("code", 0))

    @property
    def reason(self) -> str:
        return str((self.answer.get("status") or {}).get("reason", ""))


@attrs.frozen
class Violation:
    """A law found the trace at fault: which law, in words, and the objects involved."""

    law: str
    message: str
    step: int
    objects: tuple[Any, ...] = ()


@attrs.frozen
class Trace:
    """A trace and what it tells so far. Build with `Trace()` and `add_step`."""

    exchanges: PVector[Exchange] = attrs.field(factory=pvector)
    #: Index in `exchanges` where the newest step starts.
    step_start: int = 0
    #: The trace before the newest step (None for the empty trace).
    before: Trace | None = None
    #: The latest version seen of every object believed to exist.
    objects: PMap[ObjectKey, Mapping[str, Any]] = attrs.field(factory=pmap)
    #: uid -> key, for every uid ever seen.
    uids: PMap[str, ObjectKey] = attrs.field(factory=pmap)
    #: uids seen to be gone.
    dead: PSet[str] = attrs.field(factory=pset)
    #: The highest resourceVersion seen anywhere.
    max_rv: int = 0
    #: The last snapshot answer (objects keyed), and its resourceVersion.
    snapshot: PMap[ObjectKey, Mapping[str, Any]] | None = None
    snapshot_rv: int = 0

    # -- reading -------------------------------------------------------------------------------
    @property
    def last_step(self) -> tuple[Exchange, ...]:
        return tuple(self.exchanges[self.step_start :])

    @property
    def step_index(self) -> int:
        return self.exchanges[-1].step if self.exchanges else -1

    def __len__(self) -> int:
        return len(self.exchanges)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges)

    def snapshots(self) -> Iterator[tuple[int, Exchange]]:
        for i, ex in enumerate(self.exchanges):
            if ex.op == "snapshot" and ex.ok:
                yield i, ex

    # -- building ------------------------------------------------------------------------------
    def add_step(self, exchanges: Iterable[Exchange]) -> Trace:
        """The trace with one more step; knowledge is folded in exchange by exchange."""
        trace = attrs.evolve(self, before=self, step_start=len(self.exchanges))
        for ex in exchanges:
            trace = trace._learn(ex)
        return trace

    def _learn(self, ex: Exchange) -> Trace:
        objects = self.objects
        uids = self.uids
        dead = self.dead
        max_rv = self.max_rv
        snapshot = self.snapshot
        snapshot_rv = self.snapshot_rv

        def see(obj: Mapping[str, Any]) -> None:
            nonlocal objects, uids, max_rv
            key = key_of(obj)
            uid = (obj.get("metadata") or {}).get("uid")
            known = objects.get(key)
            if (
                known is not obj
                and known != obj
                and (known is None or rv_of(obj) >= rv_of(known) or _uid(known) != uid)
            ):
                objects = objects.set(key, obj)
            if uid and uid not in uids:
                uids = uids.set(uid, key)
            max_rv = max(max_rv, rv_of(obj))

        def gone(key: ObjectKey) -> None:
            nonlocal objects, dead
            known = objects.get(key)
            if known is not None:
                uid = _uid(known)
                if uid:
                    dead = dead.add(uid)
                objects = objects.remove(key)

        answer = ex.answer
        op = ex.op
        if ex.ok:
            if op == "snapshot":
                items = {key_of(o): o for o in answer.get("objects") or ()}
                for key in [k for k in objects if k not in items]:
                    gone(key)
                for obj in items.values():
                    see(obj)
                snapshot = pmap(items)
                snapshot_rv = _int(answer.get("resourceVersion"))
                max_rv = max(max_rv, snapshot_rv)
            elif op == "list":
                for obj in answer.get("items") or ():
                    see(obj)
                max_rv = max(max_rv, _int(answer.get("resourceVersion")))
            elif op in ("create", "update", "patch", "get"):
                obj = answer.get("object")
                if isinstance(obj, Mapping) and obj.get("kind") and obj.get("metadata"):
                    see(obj)
            elif op == "delete":
                obj = answer.get("object")
                if isinstance(obj, Mapping):
                    see(obj)
                else:
                    gone(request_key(ex.request))
            elif op == "watch":
                max_rv = max(max_rv, _int(answer.get("resourceVersion")))
        elif op in ("get", "delete", "update", "patch") and ex.code == 404:
            key = request_key(ex.request)
            gone(key)
        return attrs.evolve(
            self,
            exchanges=self.exchanges.append(ex),
            objects=objects,
            uids=uids,
            dead=dead,
            max_rv=max_rv,
            snapshot=snapshot,
            snapshot_rv=snapshot_rv,
        )


def _uid(obj: Mapping[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("uid")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def request_key(request: Mapping[str, Any]) -> ObjectKey:
    """The object a request addresses; a namespaced kind defaults to namespace `default`."""
    obj = request.get("object")
    if isinstance(obj, Mapping):
        kind, namespace, name = key_of(obj)
        if not namespace and is_namespaced(kind):
            namespace = str(request.get("namespace") or "default")
        return (kind, namespace, name)
    kind = str(request.get("kind", ""))
    namespace = request.get("namespace") or ("default" if is_namespaced(kind) else "")
    return (kind, str(namespace), str(request.get("name", "")))
