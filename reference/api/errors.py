"""Refusals as Kubernetes `Status` objects (metav1.Status)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ApiError", "Cause", "bad_request", "conflict", "forbidden", "invalid", "not_found"]


@attrs.frozen
class Cause:
    """One validation failure: `field` is a path like `spec.template.spec.containers[0].image`."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"


class ApiError(Exception):
    """A refused request. Raising it leaves the cluster unchanged by construction."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


def _details(kind: str | None, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if kind:
        details["kind"] = kind.lower() + "s"
    return details


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def not_found(kind: str, name: str) -> ApiError:
    plural = kind.lower() + "s"
    return ApiError(404, "NotFound", f'{plural} "{name}" not found', details=_details(kind, name))


def already_exists(kind: str, name: str) -> ApiError:
    plural = kind.lower() + "s"
    return ApiError(
        409, "AlreadyExists", f'{plural} "{name}" already exists', details=_details(kind, name)
    )


def conflict(kind: str, name: str, why: str) -> ApiError:
    plural = kind.lower() + "s"
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {plural} "{name}": {why}',
        details=_details(kind, name),
    )


def forbidden(kind: str, name: str, why: str) -> ApiError:
    plural = kind.lower() + "s"
    return ApiError(
        403, "Forbidden", f'{plural} "{name}" is forbidden: {why}', details=_details(kind, name)
    )


def invalid(kind: str, name: str, causes: list[Cause]) -> ApiError:
    summary = "; ".join(f"{c.field}: {c.message}" for c in causes)
    details = _details(kind, name)
    details["kind"] = kind
    details["causes"] = [
        {"field": c.field, "message": c.message, "reason": c.reason} for c in causes
    ]
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {summary}', details=details)


def not_implemented(op: str) -> ApiError:
    return ApiError(501, "NotImplemented", f"op {op!r} is not implemented by this target")
