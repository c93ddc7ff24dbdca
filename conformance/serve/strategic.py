"""Strategic merge patch, the format `kubectl apply` (client side) and `kubectl patch` send.

Upstream reads each field's patch strategy and merge key from the Go struct
tags of the built-in types. Here the few lists that matter to workloads are
named in a table, keyed by the field name and, where one name means two
things, by where it sits: `spec.ports` of a Service merges by `port`, the
`ports` of a container by `containerPort`. Every other list is replaced
whole, as upstream does for lists without a strategy.

Directives handled: `$patch: replace | delete | merge` (in maps and in list
elements), `$retainKeys`, `$setElementOrder/FIELD` and
`$deleteFromPrimitiveList/FIELD`; a `null` value deletes the field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PatchError", "merge_key", "strategic_merge"]

#: Lists of objects merged element by element on a key.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "ports": "containerPort",
}
#: Lists of scalars merged as sets (upstream's `patchStrategy:"merge"` on []string).
_PRIMITIVE_MERGE = frozenset({"finalizers"})

_DIRECTIVE = "$patch"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_RETAIN = "$retainKeys"


class PatchError(ValueError):
    """The patch cannot apply (a directive or element of the wrong shape): a 400."""


def merge_key(path: Sequence[str]) -> str | None:
    """The merge key of the list at `path` (field names only, list positions left out)."""
    field = path[-1] if path else ""
    if field == "ports" and tuple(path) == ("spec", "ports"):
        return "port"
    return _MERGE_KEYS.get(field)


def strategic_merge(original: Any, patch: Any) -> Any:
    """`original` with `patch` applied; neither argument is changed."""
    if not isinstance(patch, Mapping):
        raise PatchError("a strategic merge patch must be a JSON object")
    result = _merge_map(original if isinstance(original, Mapping) else {}, patch, ())
    return {} if result is None else result


def _merge_map(
    original: Mapping[str, Any], patch: Mapping[str, Any], path: tuple[str, ...]
) -> dict[str, Any] | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch directive {directive!r} at {_show(path)}")
    result = {k: copy.deepcopy(v) for k, v in original.items()}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        here = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            merged = _merge_map(current if isinstance(current, Mapping) else {}, value, here)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, here)
        else:
            result[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list at {_show(path)}")
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
        elif key.startswith(_ORDER):
            field = key[len(_ORDER) :]
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list at {_show(path)}")
            if isinstance(result.get(field), list):
                result[field] = _ordered(result[field], value, merge_key((*path, field)))
    retain = patch.get(_RETAIN)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError(f"$retainKeys must be a list at {_show(path)}")
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(original: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    current = list(original) if isinstance(original, list) else []
    if path[-1] in _PRIMITIVE_MERGE:
        return current + [copy.deepcopy(v) for v in patch if v not in current]
    key = merge_key(path)
    if key is None or not all(isinstance(item, Mapping) for item in patch):
        return [copy.deepcopy(v) for v in patch if not _is_directive_only(v)]
    if any(isinstance(item, Mapping) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [
            {k: copy.deepcopy(v) for k, v in item.items() if k != _DIRECTIVE}
            for item in patch
            if item.get(_DIRECTIVE) != "replace"
        ]
    result = [copy.deepcopy(item) for item in current]
    for item in patch:
        if key not in item:
            raise PatchError(f"an element of {_show(path)} has no merge key {key!r}")
        at = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, Mapping) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if at is not None:
                del result[at]
            continue
        if at is None:
            merged = _merge_map({}, item, path)
            if merged is not None:
                result.append(merged)
        else:
            merged = _merge_map(result[at], item, path)
            if merged is None:
                del result[at]
            else:
                result[at] = merged
    return result


def _ordered(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """`items` in the order `$setElementOrder` gives; items it does not name keep theirs, last."""

    def ident(item: Any) -> Any:
        if key is not None and isinstance(item, Mapping):
            return item.get(key)
        return item

    wanted = [ident(o) for o in order]
    ranked = [
        (wanted.index(ident(x)) if ident(x) in wanted else len(wanted), i)
        for i, x in enumerate(items)
    ]
    return [items[i] for _, i in sorted(ranked)]


def _is_directive_only(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {_DIRECTIVE}


def _show(path: tuple[str, ...]) -> str:
    return ".".join(path) or "the top level"
