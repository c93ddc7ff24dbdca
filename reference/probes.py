"""Probe workers, computed rather than ticked.

Upstream runs one worker per probe, ticking every `periodSeconds` from the
moment the kubelet took the pod on, and skipping checks until
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


def _flip_time(
    record: ProbeRecord, s: ProbeSettings, anchor: float, started: float, gate: float
) -> float:
    """When the run of same answers since `record.since` reaches its threshold.

    The worker checks at `anchor + k·period`; a check counts once the answer
    is the current one (`since`), the container counts as started (`gate`)
    and `initialDelaySeconds` have passed since it started.
    """
    first = max(record.since, gate, normalize(started + s.delay))
    k = max(0, math.ceil((first - anchor) / s.period - 1e-9))
    if anchor < started and anchor + k * s.period <= started + 1e-9:
        k += 1  # the worker's tick in the instant this container started was for the last one
    threshold = s.success if record.passing else s.failure
    return normalize(anchor + (k + threshold - 1) * s.period)


def settle(
    record: ProbeRecord,
    s: ProbeSettings,
    anchor: float,
    started: float,
    gate: float | None,
    now: float,
    *,
    before: bool = False,
) -> tuple[ProbeRecord, float | None]:
    """The record as of `now`, and when its result will next flip (None: it will not).

    The worker, started at `anchor` (when the kubelet took the pod on, not
    when this container started: upstream's worker outlives container
    restarts), checks every period; see `_flip_time` for which checks count.
    With `before`, a check exactly at `now` is not counted (the answer changed
    at `now`, before it). A settled record's `since` is when its result last
    flipped.
    """
    if record.result == record.passing or gate is None:
        return record, None
    flip = _flip_time(record, s, anchor, started, gate)
    if flip < now or (flip == now and not before):
        return ProbeRecord(result=record.passing, passing=record.passing, since=flip), None
    return record, flip


def with_answer(
    record: ProbeRecord,
    s: ProbeSettings,
    anchor: float,
    started: float,
    gate: float | None,
    passing: bool,
    at: float,
) -> ProbeRecord:
    """The record after the probe's answer became `passing` at `at`."""
    if passing == record.passing:
        return record
    settled, _ = settle(record, s, anchor, started, gate, at, before=True)
    return ProbeRecord(result=settled.result, passing=passing, since=at)
