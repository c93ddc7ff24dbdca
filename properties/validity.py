"""An independent oracle for inputs Kubernetes must refuse as Invalid (422).

It knows a handful of rules that hold for every conformant API server —
name syntax, label syntax, negative replicas, a selector that does not
select its own template, a ConfigMap key that cannot be a file name — and is
deliberately incomplete: the law built on it only claims that what it
flags must be refused, never that what it passes must be accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from properties.labels import InvalidSelectorError, from_label_selector
from properties.names import (
    config_map_key_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    qualified_name_errors,
)

__all__ = ["obvious_defects"]

_LABEL_NAMED = frozenset({"Namespace", "StatefulSet"})
_WORKLOADS = frozenset({"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet"})


def obvious_defects(obj: Mapping[str, Any]) -> list[str]:
    """Reasons `obj`, sent as a create, must be refused with 422; empty when none is known."""
    defects: list[str] = []
    kind = obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return defects
    name = meta.get("name")
    if isinstance(name, str) and name:
        if kind == "Service":
            problems = dns1123_label_errors(name)
            if not problems and not name[0].isalpha():
                problems = ["a DNS-1035 label must start with a letter"]
        elif kind in _LABEL_NAMED:
            problems = dns1123_label_errors(name)
        else:
            problems = dns1123_subdomain_errors(name)
        defects += [f"metadata.name: {p}" for p in problems]
    for key, value in (meta.get("labels") or {}).items():
        defects += [f"metadata.labels: {p}" for p in qualified_name_errors(key)]
        if isinstance(value, str):
            defects += [f"metadata.labels: {p}" for p in label_value_errors(value)]
    spec = obj.get("spec")
    if kind in _WORKLOADS and isinstance(spec, Mapping):
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas < 0:
            defects.append("spec.replicas: must be greater than or equal to 0")
        selector = spec.get("selector")
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if isinstance(selector, Mapping) and selector:
            try:
                selects = from_label_selector(selector).matches(template_labels)
            except InvalidSelectorError:
                selects = True
            if not selects:
                defects.append("spec.template.metadata.labels: `selector` does not match template")
    if kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData"):
            for key in obj.get(field) or {}:
                defects += [f"{field}[{key}]: {p}" for p in config_map_key_errors(key)]
    return defects
