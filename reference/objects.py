"""Kubernetes objects as the store keeps them, and small typed readers.

The store holds each object as its JSON text: frozen JSON in its wire form,
literally. Text is immutable, so a stored object can never change in place;
unknown fields round-trip; and reading one back is a single C-speed
`json.loads`, which is what makes snapshots after every step cheap. Readers
work on the decoded (plain) JSON. Controllers' views share one decoded form
per stored version (`decode_frozen`: `FrozenDict` and `FrozenList`, which
refuse changes), so a pass does not decode again what an earlier one read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FrozenDict",
    "FrozenList",
    "copy_json",
    "decode",
    "decode_all",
    "decode_frozen",
    "deleting",
    "encode",
    "finalizers",
    "freeze",
    "labels",
    "meta",
    "owner_refs",
]


def encode(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars), several times faster than deepcopy.

    Other mappings and sequences (a caller's tuples, say) come back as dicts and lists.
    """
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(v) for v in value]
    return value


def decode(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value


class FrozenDict(dict[str, Any]):
    """A decoded JSON object shared between readers: reading works as on a dict, writing raises.

    Copies (`copy.copy`, `copy.deepcopy`, `copy_json`, `dict(...)`, `{**...}`) are plain dicts.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a shared decoded object is read-only: copy it before changing it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        copied: dict[str, Any] = copy_json(self)
        return copied

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A decoded JSON array shared between readers: reading works as on a list, writing raises."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a shared decoded object is read-only: copy it before changing it")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: Any) -> list[Any]:
        copied: list[Any] = copy_json(self)
        return copied

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """A decoded JSON value with its objects and arrays read-only (`FrozenDict`, `FrozenList`)."""
    kind = type(value)
    if kind is dict:
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if kind is list:
        return FrozenList([freeze(v) for v in value])
    return value


def decode_frozen(text: str) -> FrozenDict:
    """`decode`, read-only: for values shared between readers."""
    frozen: FrozenDict = freeze(json.loads(text))
    return frozen


def decode_all(texts: list[str]) -> list[dict[str, Any]]:
    """Decode many stored objects with one parse."""
    values: list[dict[str, Any]] = json.loads("[" + ",".join(texts) + "]")
    return values


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def owner_refs(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    return tuple(meta(obj).get("ownerReferences") or ())


def finalizers(obj: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(meta(obj).get("finalizers") or ())


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))
