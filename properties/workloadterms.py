"""The arithmetic of Deployments that the controller and the laws share (SEMANTICS §2).

Surge rounds up and unavailability rounds down (intstr's scaled values);
when both come to zero, one pod may be unavailable (ResolveFenceposts).
Templates are compared without the pod-template-hash label (EqualIgnoreHash).
A pod is available once it has been Ready for strictly longer than
minReadySeconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "HASH_LABEL",
    "REVISION",
    "condition",
    "equal_ignore_hash",
    "is_ready",
    "is_rolling",
    "max_surge",
    "max_unavailable",
    "replicas_of",
    "resolve_fenceposts",
    "revision_of",
    "without_hash",
]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"

Obj = Mapping[str, Any]


def replicas_of(obj: Obj) -> int:
    """spec.replicas, defaulted to 1 as the API does."""
    return int((obj.get("spec") or {}).get("replicas", 1))


def is_rolling(d: Obj) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return str(strategy.get("type", "RollingUpdate")) == "RollingUpdate"


def _scaled(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        exact = int(text[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """ResolveFenceposts: (surge, unavailable), unavailable 1 when both round to 0."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    replicas = replicas_of(d)
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(d: Obj) -> int:
    """MaxUnavailable: 0 unless RollingUpdate with replicas; never above replicas."""
    replicas = replicas_of(d)
    if not is_rolling(d) or replicas == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas)


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    template_meta = dict(template.get("metadata") or {})
    labels = dict(template_meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    template_meta["labels"] = labels
    return {**template, "metadata": template_meta}


def equal_ignore_hash(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """EqualIgnoreHash: the templates are equal once the pod-template-hash label is dropped."""
    return bool(without_hash(a) == without_hash(b))


def revision_of(rs: Obj) -> int:
    """The deployment.kubernetes.io/revision annotation as a number (0 when absent or bad)."""
    raw = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return None


def is_ready(pod: Obj) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"
