"""Probe workers, computed rather than ticked.

Upstream runs one worker per probe, checking every `periodSeconds` from
`initialDelaySeconds` after the container started; the result flips after
`failureThreshold` consecutive failures or `successThreshold` consecutive
successes. Between two `probe.set` requests a simulated probe answers the
same every time, so the moment a result flips is a formula: the
threshold-th check at or after the moment the answer changed. The kubelet
wakes at that moment instead of at every tick, which is what keeps idle
simulated time free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from reference.runtime import ProbeRecord
from reference.timefmt import normalize

__all__ = ["ProbeSettings", "initial_record", "settings", "settle", "with_answer"]

#: Initial results: readiness fails until it succeeds, liveness passes, startup is Unknown.
_INITIAL: dict[str, bool | None] = {"readiness": False, "liveness": True, "startup": None}
_FIELDS = {"readiness": "readinessProbe", "liveness": "livenessProbe", "startup": "startupProbe"}


@attrs.frozen
class ProbeSettings:
    delay: float
    period: float
    success: int
    failure: int


def settings(container: Mapping[str, Any], probe: str) -> ProbeSettings | None:
    """The probe's timing (upstream defaults where unset), or None when it has none."""
    spec = container.get(_FIELDS[probe])
    if not isinstance(spec, Mapping):
        return None
    return ProbeSettings(
        delay=float(spec.get("initialDelaySeconds") or 0),
        period=float(spec.get("periodSeconds") or 10),
        success=int(spec.get("successThreshold") or 1),
        failure=int(spec.get("failureThreshold") or 3),
    )


def initial_record(probe: str, passing: bool, started: float) -> ProbeRecord:
    return ProbeRecord(result=_INITIAL[probe], passing=passing, since=started)


def _flip_time(record: ProbeRecord, s: ProbeSettings, base: float, gate: float) -> float:
    """When the run of same answers since `record.since` reaches its threshold."""
    first = max(record.since, gate, base)
    k = max(0, math.ceil((first - base) / s.period - 1e-9))
    threshold = s.success if record.passing else s.failure
    return normalize(base + (k + threshold - 1) * s.period)


def settle(
    record: ProbeRecord,
    s: ProbeSettings,
    started: float,
    gate: float | None,
    now: float,
    *,
    before: bool = False,
) -> tuple[ProbeRecord, float | None]:
    """The record as of `now`, and when its result will next flip (None: it will not).

    Checks run at `started + delay + k·period` once `gate` (the moment the
    container counts as started) has passed; with `before`, a check exactly
    at `now` is not counted (the answer changed at `now`, before it). A
    settled record's `since` is the moment its result last flipped.
    """
    if record.result == record.passing or gate is None:
        return record, None
    flip = _flip_time(record, s, normalize(started + s.delay), gate)
    if flip < now or (flip == now and not before):
        return ProbeRecord(result=record.passing, passing=record.passing, since=flip), None
    return record, flip


def with_answer(
    record: ProbeRecord,
    s: ProbeSettings,
    started: float,
    gate: float | None,
    passing: bool,
    at: float,
) -> ProbeRecord:
    """The record after the probe's answer became `passing` at `at`."""
    if passing == record.passing:
        return record
    settled, _ = settle(record, s, started, gate, at, before=True)
    return ProbeRecord(result=settled.result, passing=passing, since=at)
