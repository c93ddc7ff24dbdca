"""The controller contract and the views controllers read.

A controller never touches the store: it reads a `View` (the store as it
is, or as it was when the nemesis makes the controller lag) and returns the
API requests it wants made, which the cluster sends through the API reducer
as the system. Its private state (upstream's in-memory caches such as
expectations) is a value it receives and returns, so `controller.restart`
is just handing it the initial state again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import attrs

from reference.api.kinds import KINDS, Kind
from reference.objects import FrozenDict, decode_frozen
from reference.store import KeyValue, Store, prefix_end

__all__ = ["Controller", "Reconcile", "View", "shared"]


def shared(kv: KeyValue) -> Any:
    """The stored object, decoded once per stored version and shared by every reader: read-only.

    What a view hands out is `FrozenDict` and `FrozenList` (changing it raises `TypeError`);
    a controller builds what it writes from copies (`{**obj, ...}`, `copy_json`).
    """
    return kv.derived(decode_frozen)


@attrs.frozen
class Reconcile:
    """What one reconcile pass decided: API requests, the next state, and when to wake."""

    writes: tuple[Mapping[str, Any], ...] = ()
    state: Any = None
    wake_at: float | None = None


class Controller(Protocol):
    @property
    def name(self) -> str: ...

    def initial_state(self) -> Any: ...

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile: ...


@attrs.frozen
class View:
    """Objects at one store revision, decoded, without resourceVersion; shared, read-only.

    `live` is the store as it is now: upstream controllers confirm some
    decisions with a live GET instead of their cache (the garbage collector
    does before it deletes), and `live_get` models exactly that.
    """

    store: Store
    revision: int
    live: Store
    #: Node name -> latest Lease renewal of each kubelet renewing at the view's moment. Renewals
    #: are derived from the clock rather than written (docs/fidelity.md: lazy heartbeats); only
    #: controllers with `reads_heartbeats` get them.
    heartbeats: Mapping[str, float] = attrs.field(factory=dict)
    #: The nodes among `heartbeats` whose kubelets are still renewing now.
    renewing: frozenset[str] = frozenset()
    #: The answers to the writes of the controller's previous pass, in order, each with the
    #: store `revision` after it; only controllers with `reads_answers` get them.
    answers: tuple[Mapping[str, Any], ...] = ()

    @property
    def lagging(self) -> bool:
        return self.revision != self.store.revision

    def objects(
        self, kind: Kind | str, namespace: str | None = None, *, versioned: bool = False
    ) -> Iterator[Any]:
        """The objects of a kind; `versioned` adds each one's resourceVersion, for preconditions.

        A controller that writes with the resourceVersion it read is refused
        (409) when its view is stale, as upstream's Update from a lister is.
        """
        k = KINDS[kind] if isinstance(kind, str) else kind
        prefix = k.prefix(namespace)
        at = 0 if not self.lagging else self.revision
        for kv in self.store.range(prefix, prefix_end(prefix), at).kvs:
            obj = shared(kv)
            if versioned:
                version = {**obj["metadata"], "resourceVersion": str(kv.mod_revision)}
                obj = FrozenDict({**obj, "metadata": FrozenDict(version)})
            yield obj

    def all_objects(self) -> Iterator[Any]:
        at = 0 if not self.lagging else self.revision
        for kv in self.store.range("/registry/", "\0", at).kvs:
            yield shared(kv)

    def get(self, kind: Kind | str, namespace: str, name: str) -> Any:
        k = KINDS[kind] if isinstance(kind, str) else kind
        at = 0 if not self.lagging else self.revision
        found = self.store.range(k.key(namespace, name), None, at).kvs
        return shared(found[0]) if found else None

    def live_get(self, kind: Kind | str, namespace: str, name: str) -> Any:
        k = KINDS[kind] if isinstance(kind, str) else kind
        kv = self.live.get(k.key(namespace, name))
        return shared(kv) if kv else None
