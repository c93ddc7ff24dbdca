"""Simulated time: seconds since the protocol epoch, written as RFC 3339 UTC.

The reference counts time as a float number of seconds since
2025-01-01T00:00:00Z (the protocol's start after `reset`), rounded to the
microsecond so that sums of advances stay exact enough to compare.
"""

import datetime as _dt

EPOCH = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)

__all__ = ["EPOCH", "format_time", "normalize", "parse_time"]


def normalize(seconds: float) -> float:
    """Round to whole microseconds, the finest unit Kubernetes writes (MicroTime)."""
    return round(seconds, 6)


def format_time(seconds: float, *, micro: bool = False) -> str:
    """RFC 3339 in UTC. Second precision like metav1.Time unless `micro` (metav1.MicroTime)."""
    moment = EPOCH + _dt.timedelta(seconds=normalize(seconds))
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_whole_seconds(seconds: float) -> str:
    """metav1.Time as the API server stores it: truncated to the second."""
    return format_time(float(int(seconds // 1)))


def parse_time(text: str) -> float:
    """Inverse of `format_time`; accepts any RFC 3339 UTC timestamp."""
    moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return normalize((moment - EPOCH).total_seconds())
