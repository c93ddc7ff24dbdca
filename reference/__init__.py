"""The reference cluster: an executable specification of Kubernetes 1.34.

Every state transition is a pure function over immutable values; time and
seeds are inputs. `new_cluster` builds the initial value and `step` applies
one protocol request (see docs/protocol.md) to it.
"""

from reference.cluster import Cluster, Components, new_cluster, step

__all__ = ["Cluster", "Components", "new_cluster", "step"]
