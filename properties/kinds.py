"""Which kinds are namespaced: the one fact of the API's shape that several laws need."""

from __future__ import annotations

__all__ = ["CLUSTER_SCOPED", "is_namespaced"]

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PriorityClass",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
    }
)


def is_namespaced(kind: str) -> bool:
    return kind not in CLUSTER_SCOPED
