"""etcd's key ranges, which the store, its target and its laws all speak."""

from __future__ import annotations

__all__ = ["in_range", "prefix_end"]


def prefix_end(prefix: str) -> str:
    """The range end covering every key that starts with `prefix` (etcd's GetPrefixRangeEnd)."""
    for i in range(len(prefix) - 1, -1, -1):
        if ord(prefix[i]) < 0x10FFFF:
            return prefix[:i] + chr(ord(prefix[i]) + 1)
    return "\0"


def in_range(key: str, start: str, end: str | None) -> bool:
    """No end is the key itself, "\\0" every key from `start` on, else [start, end)."""
    if not end:
        return key == start
    if end == "\0":
        return key >= start
    return start <= key < end
