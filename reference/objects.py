"""Kubernetes objects as frozen JSON, and small typed readers.

Objects live in the store in their wire form, frozen with pyrsistent, so
that unknown fields round-trip and a stored object can never be changed in
place. Readers accept both frozen and plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyrsistent import freeze, thaw

__all__ = ["Frozen", "freeze", "thaw", "meta", "labels", "owner_refs", "finalizers", "deleting"]

Frozen = Any


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
