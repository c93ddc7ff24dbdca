"""JSON merge patch (RFC 7386), the patch format of the protocol's `patch` op."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` and return the result; neither argument is changed.

    A mapping patch merges key by key, `null` removes a key, and anything
    else (lists included) replaces the target wholesale, as RFC 7386 says.
    """
    if not isinstance(patch, Mapping):
        return _copy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
