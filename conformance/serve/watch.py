"""`?watch=true`: the protocol's `watch` op, polled, as a stream of `{"type", "object"}` lines.

The protocol's watch answers every change of a kind (optionally in one
namespace) after a resourceVersion; selectors are applied here, to the
object each event carries. Upstream also turns an update that makes an
object leave a selector into a DELETED event; this stream does not (the
event is dropped), which `rollout status` and informers tolerate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from conformance.serve.paths import ResourcePath
from properties.labels import Selector, parse_selector

__all__ = ["WatchFilter", "watch_filter"]

_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
}


@attrs.frozen
class WatchFilter:
    labels: Selector | None
    #: (field getter, value, negated)
    fields: tuple[tuple[Callable[[Mapping[str, Any]], Any], str, bool], ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        if self.labels is not None and not self.labels.matches(obj["metadata"].get("labels") or {}):
            return False
        return all((str(get(obj)) == value) != negated for get, value, negated in self.fields)


def watch_filter(query: Mapping[str, str]) -> WatchFilter:
    """The selectors of a watch URL. Call after a `list` with the same selectors has
    accepted them: the reference is the judge of what is a valid selector."""
    text = query.get("labelSelector")
    labels = parse_selector(text) if text else None
    fields = []
    for term in filter(None, (query.get("fieldSelector") or "").split(",")):
        negated = "!=" in term
        key, _, value = term.replace("!=", "=").replace("==", "=").partition("=")
        getter = _FIELDS.get(key.strip())
        if getter is not None:
            fields.append((getter, value.strip(), negated))
    return WatchFilter(labels, tuple(fields))


def watch_request(path: ResourcePath, resource_version: str) -> dict[str, Any]:
    req: dict[str, Any] = {
        "op": "watch",
        "kind": path.kind.name,
        "resourceVersion": resource_version,
    }
    if path.namespace is not None:
        req["namespace"] = path.namespace
    return req
