"""Recent committed cluster values, so that a list can be read at an exact resourceVersion.

A client that reads several kinds at one revision (`list` the first kind, then
the others with `resourceVersion=R&resourceVersionMatch=Exact`) needs the
cluster as it was at R. Cluster values are immutable and share structure, so
keeping the last few hundred committed ones costs little, and a list on a kept
value answers exactly what a list at that revision answered.

A clock tick commits one value but may span many revisions (each controller
write is one). A revision between two kept values is still served for a kind
that did not change since it (upstream's watch cache serves the snapshot at or
before it the same way); otherwise, and below the oldest kept value or the
store's compaction, the answer is 410 Expired, as from a compacted etcd.
"""

from __future__ import annotations

import bisect

from reference.api.kinds import Kind
from reference.cluster import Cluster
from reference.store import prefix_end

__all__ = ["KEPT", "Expired", "History", "TooLarge"]

#: How many committed cluster values (distinct revisions) are kept.
KEPT = 1000


class Expired(Exception):
    """The revision is older than what is kept (or compacted): as if etcd had compacted it."""


class TooLarge(Exception):
    """The revision is ahead of the cluster."""

    def __init__(self, revision: int, current: int) -> None:
        super().__init__(f"{revision} is ahead of {current}")
        self.revision = revision
        self.current = current


class History:
    """The last `size` committed cluster values, oldest first, one per store revision."""

    def __init__(self, cluster: Cluster, size: int = KEPT) -> None:
        self.size = size
        self._kept: list[Cluster] = [cluster]

    @property
    def oldest(self) -> int:
        return self._kept[0].revision

    def record(self, cluster: Cluster) -> None:
        """Keep a committed value; a later value at the same revision replaces the earlier
        (only the clock moved), and a revision going back (a reset) starts afresh."""
        newest = self._kept[-1].revision
        if cluster.revision == newest:
            self._kept[-1] = cluster
        elif cluster.revision < newest:
            self._kept = [cluster]
        else:
            self._kept.append(cluster)
            if len(self._kept) > self.size:
                del self._kept[0]

    def at(self, revision: int, kind: Kind, current: Cluster) -> Cluster:
        """A cluster value whose `kind` objects are those at `revision`. `current` is the
        value being answered from, which may be newer than the last one recorded."""
        if revision > current.revision:
            raise TooLarge(revision, current.revision)
        if revision < max(self.oldest, current.api.store.compact_revision):
            raise Expired(revision)
        if revision >= self._kept[-1].revision:
            found = current
        else:
            found = self._kept[bisect.bisect_left(self._kept, revision, key=_revision)]
        prefix = kind.prefix()
        if found.api.store.events_after(revision, prefix, prefix_end(prefix)):
            raise Expired(revision)
        return found


def _revision(cluster: Cluster) -> int:
    return cluster.revision
