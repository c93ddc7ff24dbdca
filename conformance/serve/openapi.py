"""A minimal OpenAPI v3 description: enough for kubectl's default (client-side) validation.

Recent kubectl (1.27 and later) fetches `/openapi/v3`, then the document of
the group version it writes to. When the POST and PATCH operations there
declare the `fieldValidation` query parameter, kubectl leaves validation to
the server and sends `fieldValidation=Strict` instead of checking the
object itself; so no schemas are needed. The documents carry none
(`components` is empty): the reference's own validation judges objects.
`/openapi/v2` is not served (kubectl 1.20 needs it as protobuf; pass it
`--validate=false`).
"""

from __future__ import annotations

from typing import Any

from conformance.serve.paths import GROUP_VERSIONS
from reference.api.kinds import Kind

__all__ = ["group_version_document", "index"]

_HASH = "kubeprop-1"


def _path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def index() -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document lives."""
    return {
        "paths": {
            _path(g, v): {"serverRelativeURL": f"/openapi/v3/{_path(g, v)}?hash={_HASH}"}
            for g, v in sorted(GROUP_VERSIONS)
        }
    }


def group_version_document(group: str, version: str) -> dict[str, Any] | None:
    plurals = GROUP_VERSIONS.get((group, version))
    if plurals is None:
        return None
    paths: dict[str, Any] = {}
    for kind in plurals.values():
        prefix = "/" + _path(group, version)
        scope = "/namespaces/{namespace}" if kind.namespaced else ""
        paths[f"{prefix}{scope}/{kind.plural}"] = {"post": _operation(kind, "create")}
        paths[f"{prefix}{scope}/{kind.plural}/{{name}}"] = {
            "put": _operation(kind, "replace"),
            "patch": _operation(kind, "patch"),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kubeprop serve)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _operation(kind: Kind, verb: str) -> dict[str, Any]:
    return {
        "operationId": f"{verb}{kind.name}",
        "parameters": [
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "post"
        if verb == "create"
        else ("put" if verb == "replace" else "patch"),
        "x-kubernetes-group-version-kind": {
            "group": kind.group,
            "version": kind.version,
            "kind": kind.name,
        },
    }
