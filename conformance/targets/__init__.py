"""Targets: what the harness drives. `open_target` parses the `--target` spec.

- `reference` — the reference cluster in process (`reference:MUTANT` for a mutant);
- `cmd:COMMAND` — any program speaking the stdio protocol (docs/protocol.md).
"""

from __future__ import annotations

from conformance.targets.base import DEFAULT_REQUEST_TIMEOUT, Target, TargetFault
from conformance.targets.command import CommandTarget
from conformance.targets.reference import ReferenceTarget

__all__ = [
    "CommandTarget",
    "ReferenceTarget",
    "Target",
    "TargetFault",
    "TargetSpecError",
    "open_target",
]


class TargetSpecError(ValueError):
    """A `--target` that names no target kubeprop knows."""


def open_target(spec: str, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Target:
    if spec == "reference":
        return ReferenceTarget()
    if spec.startswith("reference:"):
        return ReferenceTarget(mutant=spec.split(":", 1)[1])
    if spec.startswith("cmd:"):
        command = spec[4:].strip()
        if not command:
            raise TargetSpecError(
                "`cmd:` needs a command, e.g. --target 'cmd:./my-cluster --stdio'"
            )
        return CommandTarget(command, request_timeout=request_timeout)
    if spec.startswith(("kube:", "etcd:")):
        raise TargetSpecError(
            f"target {spec!r}: the {spec.split(':')[0]}: target is not available in this version;"
            " use `reference` or `cmd:COMMAND`"
        )
    raise TargetSpecError(
        f"unknown target {spec!r}; use `reference`, `reference:MUTANT` or `cmd:COMMAND`"
    )
