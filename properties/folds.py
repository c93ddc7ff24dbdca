"""Histories folded over a trace one step at a time, memoised per trace.

Every level's laws read a history: a value built by folding the exchanges
of each step into the history of the step before. Laws run after every
step, so each history is built once from its predecessor's and kept, keyed
by the trace's identity (a trace is immutable and each step makes a new
one).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from properties.trace import Exchange, Trace

__all__ = ["TraceFold", "fresh"]

H = TypeVar("H")

#: Histories kept per fold before the memo starts over (a run's traces come and go).
_MEMO_SIZE = 4096


class TraceFold(Generic[H]):
    """`fold(trace)` is `step(... step(initial(), first step) ..., newest step)`, memoised."""

    def __init__(
        self, initial: Callable[[], H], step: Callable[[H, Sequence[Exchange], int], H]
    ) -> None:
        self._initial = initial
        self._step = step
        self._memo: dict[int, tuple[weakref.ref[Trace], H]] = {}

    def __call__(self, trace: Trace) -> H:
        hit = self._memo.get(id(trace))
        if hit is not None and hit[0]() is trace:
            return hit[1]
        before = trace.before
        if before is None:
            result = self._step(self._initial(), trace.exchanges, trace.step_index)
        else:
            result = self._step(self(before), trace.exchanges[trace.step_start :], trace.step_index)
        if len(self._memo) > _MEMO_SIZE:
            self._memo.clear()
        self._memo[id(trace)] = (weakref.ref(trace), result)
        return result


class _Stepped(Protocol):
    @property
    def step(self) -> int: ...

    @property
    def snapshot(self) -> object | None: ...


S = TypeVar("S", bound=_Stepped)


def fresh(fold: TraceFold[S], trace: Trace) -> S | None:
    """The history, when the newest step took a snapshot (what a law judges)."""
    h = fold(trace)
    if h.step != trace.step_index or h.snapshot is None:
        return None
    if not any(ex.op == "snapshot" for ex in trace.last_step):
        return None
    return h
