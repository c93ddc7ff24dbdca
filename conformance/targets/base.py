"""What the harness needs of an implementation under test: PROTOCOL.md, op for op."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT",
    "ExampleScoped",
    "Target",
    "TargetFault",
    "request_timeout",
]

DEFAULT_REQUEST_TIMEOUT = 30.0
#: The longest a single request may be waited for (a week): beyond what selectors accept.
MAX_REQUEST_TIMEOUT = 7 * 24 * 3600.0


class TargetFault(Exception):
    """The target crashed, hung, or answered something that is not the protocol.

    This is the target's fault, not a law's violation; the report names the
    request that caused it and the tail of what the target wrote to stderr.
    """

    def __init__(
        self, message: str, *, request: Mapping[str, Any] | None = None, stderr_tail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = dict(request) if request is not None else None
        self.stderr_tail = stderr_tail

    def __str__(self) -> str:
        parts = [self.message]
        if self.request is not None:
            parts.append(f"request: {self.request}")
        if self.stderr_tail:
            parts.append("stderr (last lines):\n" + self.stderr_tail)
        return "\n".join(parts)


@runtime_checkable
class Target(Protocol):
    """One implementation under test. One request in flight at a time.

    `request` takes a protocol request without `id` (the target adds and
    checks ids as its transport needs) and returns the answer without `id`:
    `{"ok": True, ...}` or `{"ok": False, "status": {...}}`. It raises
    `TargetFault` when the target misbehaves.
    """

    description: str

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class ExampleScoped(Protocol):
    """A target that cannot `reset` but can scope each example (the kube: target's namespaces).

    The driver calls `begin_example` before an example's first step and
    `end_example` after its last, so that examples do not see each other's
    objects and nothing is left behind.
    """

    def begin_example(self) -> None: ...

    def end_example(self) -> None: ...


def request_timeout(request: Mapping[str, Any], base: float = DEFAULT_REQUEST_TIMEOUT) -> float:
    """Per-request timeout: the base, plus the simulated seconds `advance` and `settle` ask for."""
    op = request.get("op")
    extra = 0.0
    if op == "advance":
        extra = float(request.get("seconds", 0) or 0)
    elif op == "settle":
        extra = float(request.get("max_seconds", 0) or 0)
    return min(base + max(extra, 0.0), MAX_REQUEST_TIMEOUT)
