"""Reading a Kubernetes API URL path into the resource it names.

Upstream's layout: `/api/v1/...` for the core group, `/apis/GROUP/VERSION/...`
for the others; then `[namespaces/NS/]PLURAL[/NAME[/SUBRESOURCE]]`. The one
irregular case is `namespaces` itself, whose objects are also the prefix of
namespaced paths: `/api/v1/namespaces/x/status` is Namespace x's status
subresource because `status` is not a namespaced plural.
"""

from __future__ import annotations

import attrs

from reference.api.kinds import KINDS, Kind

__all__ = ["GROUP_VERSIONS", "NotServed", "ResourcePath", "parse_resource_path", "plural_index"]


def plural_index() -> dict[tuple[str, str], dict[str, Kind]]:
    """(group, version) → plural → kind, for every kind the reference serves."""
    index: dict[tuple[str, str], dict[str, Kind]] = {}
    for kind in KINDS.values():
        index.setdefault((kind.group, kind.version), {})[kind.plural] = kind
    return index


GROUP_VERSIONS = plural_index()


class NotServed(Exception):
    """The path names no resource this server serves (answered 404 NotFound)."""


@attrs.frozen
class ResourcePath:
    kind: Kind
    #: The namespace on the path; None for cluster-scoped kinds and all-namespace lists.
    namespace: str | None
    name: str | None = None
    subresource: str | None = None


def parse_resource_path(path: str) -> ResourcePath:
    """The resource a path under `/api/v1` or `/apis/G/V` names; raises NotServed otherwise."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise NotServed(path)
    plurals = GROUP_VERSIONS.get((group, version))
    if plurals is None or not rest:
        raise NotServed(path)
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and rest[2] in plurals
        and plurals[rest[2]].namespaced
    ):
        namespace, rest = rest[1], rest[2:]
    kind = plurals.get(rest[0])
    if kind is None or len(rest) > 3:
        raise NotServed(path)
    if kind.namespaced and namespace is None and len(rest) > 1:
        raise NotServed(path)
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and not _has(kind, subresource):
        raise NotServed(path)
    return ResourcePath(kind, namespace, name, subresource)


def _has(kind: Kind, subresource: str) -> bool:
    return (subresource == "status" and kind.status) or (subresource == "scale" and kind.scale)
