"""Discovery documents: what `kubectl` reads before every command without a cache.

Plain `APIVersions`, `APIGroupList` and `APIResourceList` (not the
aggregated `apidiscovery.k8s.io/v2` form): recent kubectl asks for the
aggregated form first and falls back to these when the answer is plain JSON.
"""

from __future__ import annotations

from typing import Any

from conformance.serve.paths import GROUP_VERSIONS
from reference.api.kinds import Kind
from reference.constants import KUBERNETES_VERSION

__all__ = ["api_group_list", "api_resource_list", "api_versions", "version_info"]

#: Upstream's short names (`kubectl api-resources`) for the kinds served here.
SHORT_NAMES: dict[str, list[str]] = {
    "Pod": ["po"],
    "Deployment": ["deploy"],
    "ReplicaSet": ["rs"],
    "Service": ["svc"],
    "Namespace": ["ns"],
    "ConfigMap": ["cm"],
    "Node": ["no"],
    "DaemonSet": ["ds"],
    "StatefulSet": ["sts"],
    "Endpoints": ["ep"],
    "PriorityClass": ["pc"],
    "Event": ["ev"],
}

#: Kinds in upstream's `all` category (`kubectl get all`).
ALL_CATEGORY = frozenset({"Pod", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def version_info() -> dict[str, Any]:
    major, minor, _ = KUBERNETES_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{KUBERNETES_VERSION}",
        "gitCommit": "kubeprop",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, version in sorted(GROUP_VERSIONS):
        if not group:
            continue
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The resources of one group version, with their subresources; None when not served."""
    plurals = GROUP_VERSIONS.get((group, version))
    if plurals is None:
        return None
    resources: list[dict[str, Any]] = []
    for plural, kind in sorted(plurals.items()):
        resources.append(_resource(kind))
        if kind.status:
            resources.append(
                {
                    "name": f"{plural}/status",
                    "singularName": "",
                    "namespaced": kind.namespaced,
                    "kind": kind.name,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if kind.scale:
            resources.append(
                {
                    "name": f"{plural}/scale",
                    "singularName": "",
                    "namespaced": kind.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _resource(kind: Kind) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": kind.plural,
        "singularName": kind.name.lower(),
        "namespaced": kind.namespaced,
        "kind": kind.name,
        "verbs": VERBS,
    }
    if kind.name in SHORT_NAMES:
        resource["shortNames"] = SHORT_NAMES[kind.name]
    if kind.name in ALL_CATEGORY:
        resource["categories"] = ["all"]
    return resource
