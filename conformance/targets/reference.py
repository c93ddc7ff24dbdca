"""The reference cluster in process, behind the same interface as any target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference import Cluster, Components, new_cluster, step
from reference.mutants import components_for

__all__ = ["ReferenceTarget"]


class ReferenceTarget:
    """Holds one `Cluster` value and steps it; `reset` starts a fresh one.

    Answers are the same JSON the stdio server writes, so the in-process and
    the `cmd:` reference are interchangeable (a test checks it).
    """

    def __init__(self, mutant: str | None = None, components: Components | None = None) -> None:
        self.components = components or components_for(mutant)
        self.mutant = mutant
        self.cluster: Cluster = new_cluster(0, self.components)
        self.description = "reference" + (f" (mutant {mutant})" if mutant else "")

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Step the cluster; a crash inside the reference answers 500, as over stdio."""
        try:
            self.cluster, answer = step(self.cluster, request)
        except Exception as e:  # any bug in the reference is the target's fault
            return {
                "ok": False,
                "status": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "code": 500,
                    "reason": "InternalError",
                    "message": f"{type(e).__name__}: {e}",
                },
            }
        return answer

    def close(self) -> None:
        pass
