"""Defaulting per kind (upstream's SetDefaults_* and strategies' PrepareForCreate)."""

from __future__ import annotations

from typing import Any

__all__ = ["apply_defaults"]


def apply_defaults(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Return `obj` with the API server's defaults filled in. Never mutates `obj`."""
    return obj
