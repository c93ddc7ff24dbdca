"""Validation per kind (upstream's pkg/apis/*/validation), answering 422 causes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference.api.errors import Cause

__all__ = ["validate"]


def validate(kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    """Causes for which `obj` is invalid (as a create when `old` is None, else an update)."""
    return []
