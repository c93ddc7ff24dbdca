"""Mutating admission the API server runs on create, after defaulting and before validation.

Only DefaultTolerationSeconds (plugin/pkg/admission/defaulttolerationseconds)
so far; docs/upstream-checks-nodes.md Q7.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reference.constants import TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, TIMING_PARAMETERS

__all__ = ["TAINT_NODE_NOT_READY", "TAINT_NODE_UNREACHABLE", "add_default_tolerations"]

#: v1.TaintNodeNotReady and v1.TaintNodeUnreachable (the node lifecycle NoExecute taints).
_DEFAULTED = (TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE)


def _tolerates(toleration: Any, key: str) -> bool:
    """upstream's test: the key is the taint's or empty, the effect NoExecute or empty.

    The operator is not looked at, so `{"key": K, "operator": "Equal",
    "value": "x"}` counts although it tolerates no taint without that value.
    """
    if not isinstance(toleration, Mapping):
        return False
    return toleration.get("key") in (None, "", key) and toleration.get("effect") in (
        None,
        "",
        "NoExecute",
    )


def add_default_tolerations(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The pod with a 300 s NoExecute toleration for each of not-ready and unreachable it lacks.

    Returns a new object; `pod` is left as it was. A malformed `spec` or
    `spec.tolerations` (not an object, not a list) is returned unchanged, for
    validation to refuse.
    """
    result = copy.deepcopy(dict(pod))
    spec = result.get("spec")
    if spec is None:
        spec = result["spec"] = {}
    if not isinstance(spec, dict):
        return result
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return result
    missing = [k for k in _DEFAULTED if not any(_tolerates(t, k) for t in tolerations)]
    if not missing:
        return result
    seconds = TIMING_PARAMETERS["defaultTolerationSeconds"]
    spec["tolerations"] = tolerations + [
        {"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
        for k in missing
    ]
    return result
