"""The kinds the reference API server serves, with the traits its rules depend on."""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["KINDS", "Kind", "kind_for"]


@attrs.frozen
class Kind:
    name: str
    group: str
    version: str
    plural: str
    namespaced: bool
    #: metadata.generation is kept (1 on create, +1 when the spec changes).
    generation: bool = False
    #: A /status subresource exists, so main-resource writes ignore `status`.
    status: bool = False
    #: A /scale subresource exists.
    scale: bool = False
    #: Deletion may be graceful (only Pods upstream).
    graceful: bool = False
    #: How names are validated: DNS-1123 subdomain, DNS-1123 label, or path segment.
    name_rule: Literal["subdomain", "label", "path"] = "subdomain"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def key(self, namespace: str, name: str) -> str:
        """The store key, laid out as upstream's etcd keys are."""
        if self.namespaced:
            return f"/registry/{self.plural}/{namespace}/{name}"
        return f"/registry/{self.plural}/{name}"

    def prefix(self, namespace: str | None = None) -> str:
        if self.namespaced and namespace:
            return f"/registry/{self.plural}/{namespace}/"
        return f"/registry/{self.plural}/"


_ALL = (
    Kind("Namespace", "", "v1", "namespaces", False, status=True, name_rule="label"),
    Kind("Node", "", "v1", "nodes", False, status=True),
    Kind("Pod", "", "v1", "pods", True, generation=True, status=True, graceful=True),
    Kind("ReplicaSet", "apps", "v1", "replicasets", True, generation=True, status=True, scale=True),
    Kind("Deployment", "apps", "v1", "deployments", True, generation=True, status=True, scale=True),
    Kind("DaemonSet", "apps", "v1", "daemonsets", True, generation=True, status=True),
    Kind(
        "StatefulSet",
        "apps",
        "v1",
        "statefulsets",
        True,
        generation=True,
        status=True,
        scale=True,
        name_rule="label",
    ),
    Kind("ControllerRevision", "apps", "v1", "controllerrevisions", True),
    Kind("Service", "", "v1", "services", True, status=True, name_rule="label"),
    Kind("Endpoints", "", "v1", "endpoints", True),
    Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True, generation=True),
    Kind("ConfigMap", "", "v1", "configmaps", True),
    Kind("Secret", "", "v1", "secrets", True),
    Kind("Lease", "coordination.k8s.io", "v1", "leases", True),
    Kind("Event", "", "v1", "events", True, name_rule="path"),
    Kind("PriorityClass", "scheduling.k8s.io", "v1", "priorityclasses", False),
)

KINDS: dict[str, Kind] = {k.name: k for k in _ALL}
_BY_PLURAL: dict[str, Kind] = {k.plural: k for k in _ALL}


def kind_for(name: str) -> Kind | None:
    return KINDS.get(name)


def kind_of_key(key: str) -> Kind:
    """The kind a store key belongs to (keys are `/registry/<plural>/...`)."""
    return _BY_PLURAL[key.split("/", 3)[2]]
