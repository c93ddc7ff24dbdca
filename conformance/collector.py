"""The cycle collector, tuned for a cluster held in large persistent maps.

The reference keeps its store in pyrsistent `PMap`s. A `PMap` sits on a
`PVector` of buckets, and pyrsistent's C vector has no collectable nodes of
its own: when CPython's cycle collector visits a vector, its `tp_traverse`
visits every item. Every write makes a new vector, which lands in the youngest generation,
so each young collection walks every live store map from end to end. With
CPython's default threshold (a young collection every 700 allocations) a
`PMap.set` on a map of 200 000 keys costs 90-160 µs, against 3-6 µs with
young collections rarer. The threshold chosen is what the scheduler benchmark's
150 000 pods through the API run fastest with (`benchmarks/scheduler.py
--api-big`: 146 s at 50 000, 112 s at 200 000, the same peak memory).
Nothing the reference computes depends on when cycles are collected.

A process-wide setting, so it is made by the programs (the `kubeprop`
command, `kubeprop serve`, a pytest process collecting the suite, the
project's tests, the benchmarks), never by importing the reference.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_collector"]

#: Allocations between young collections; CPython's default is 700.
YOUNG_THRESHOLD = 200_000


def tune_collector() -> None:
    """Make young collections rare enough that persistent maps stay cheap to write.

    Raises the youngest generation's threshold to `YOUNG_THRESHOLD` (never
    lowers one set higher) and keeps the older generations' thresholds.
    """
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
