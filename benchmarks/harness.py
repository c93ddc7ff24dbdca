"""Where the wall time of a conformance run goes, as shares and ratios measured in one run.

Runs one level's machine (the `api` level by default) through
`conformance.runner.run_level` with a fixed seed and shrinking off, and
splits the wall time into disjoint parts:

- **target**: inside `Target.request` (for the in-process reference, that is
  `reference.cluster.step`; for a `cmd:` target, the round trip through the
  pipes plus the child's own work);
- **laws**: inside each `Law.check`, per law (the law objects handed to the
  driver are `attrs.evolve(law, check=timed(law.check))`);
- **trace folding**: inside `Trace.add_step`;
- **actions**: the rest of `Driver.run` (actions building requests, steps
  and exchanges);
- **hypothesis & rest**: everything outside `Driver.run` (Hypothesis drawing
  rules and arguments, bundles, machine set-up).

The design goal is that the reference takes under 20% of a run against
itself. With `--compare-stdio` the same run is repeated against the stdio
reference (`cmd:<venv>/bin/kubeprop target reference`), reported as a ratio
to the first. Absolute figures are indicative only (a shared, noisy
machine); compare ratios and shares taken in the same run.

    .venv/bin/python benchmarks/harness.py [--examples N] [--steps N] [--seed N]
        [--target reference|reference:MUTANT|cmd:...] [--compare-stdio] [--repeat N]
        [--warmup N] [--stop-on-violation] [--profile-out FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from conformance.machines.runtime import LevelMachine
from conformance.profiles import Profile
from conformance.runner import LEVELS, LevelOutcome, hello, run_level, select_laws
from conformance.targets import Target, open_target
from properties.laws import Law, LawCheck
from properties.trace import Exchange, TargetInfo, Trace, Violation

REFERENCE_GOAL = 0.20
_now = time.perf_counter


@attrs.define
class Meter:
    """Seconds accumulated by the wrappers of one run."""

    driver: float = 0.0
    fold: float = 0.0
    target: float = 0.0
    requests: int = 0
    timer_calls: int = 0
    #: Violations found and not raised (without --stop-on-violation), per law.
    violations: dict[str, int] = attrs.field(factory=lambda: defaultdict(int))
    laws: dict[str, float] = attrs.field(factory=lambda: defaultdict(float))
    ops: dict[str, float] = attrs.field(factory=lambda: defaultdict(float))
    op_calls: dict[str, int] = attrs.field(factory=lambda: defaultdict(int))

    @property
    def law_seconds(self) -> float:
        return sum(self.laws.values())


class TimedTarget:
    """A `Target` that delegates to another and adds up the time spent in `request`, per op."""

    def __init__(self, inner: Target, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter
        self.description = inner.description

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        started = _now()
        try:
            return self.inner.request(request)
        finally:
            spent = _now() - started
            op = str(request.get("op"))
            meter = self.meter
            meter.target += spent
            meter.requests += 1
            meter.ops[op] += spent
            meter.op_calls[op] += 1
            meter.timer_calls += 1

    def close(self) -> None:
        self.inner.close()


def timed(law_id: str, check: LawCheck, meter: Meter, *, raise_violations: bool) -> LawCheck:
    """`check`, timed; the violations are collected inside the timer (laws are generators).

    Unless `raise_violations`, violations are only counted, so that a law
    broken in the working tree does not cut the run short and every run with
    the same seed does the same work.
    """

    def run(trace: Trace, info: TargetInfo) -> list[Violation]:
        started = _now()
        try:
            found = list(check(trace, info))
        finally:
            meter.laws[law_id] += _now() - started
            meter.timer_calls += 1
        if found and not raise_violations:
            meter.violations[law_id] += len(found)
            return []
        return found

    return run


def timed_laws(laws: Iterable[Law], meter: Meter, *, raise_violations: bool) -> list[Law]:
    return [
        attrs.evolve(law, check=timed(law.id, law.check, meter, raise_violations=raise_violations))
        for law in laws
    ]


def _timed_trace(meter: Meter) -> type[Trace]:
    """A `Trace` whose `add_step` is timed; `attrs.evolve` keeps the subclass along the trace."""

    class TimedTrace(Trace):
        __slots__ = ()

        def add_step(self, exchanges: Iterable[Exchange]) -> Trace:
            started = _now()
            try:
                return super().add_step(exchanges)
            finally:
                meter.fold += _now() - started
                meter.timer_calls += 1

    return TimedTrace


def timed_machine(base: type[LevelMachine], laws: Sequence[Law], meter: Meter) -> type[Any]:
    """`base` whose drivers check the timed `laws`, fold a timed trace, and time each step."""
    trace_class = _timed_trace(meter)
    law_list = list(laws)

    class Timed(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.driver.laws = law_list
            self.driver.trace = trace_class()

        def do(self, rule: str, **args: Any) -> None:
            started = _now()
            try:
                super().do(rule, **args)
            finally:
                meter.driver += _now() - started
                meter.timer_calls += 1

    Timed.__name__ = Timed.__qualname__ = base.__name__
    return Timed


@attrs.frozen
class Measurement:
    spec: str
    outcome: LevelOutcome
    wall: float
    meter: Meter

    @property
    def steps_per_second(self) -> float:
        return self.outcome.steps / self.wall if self.wall else 0.0

    @property
    def examples_per_second(self) -> float:
        return self.outcome.examples / self.wall if self.wall else 0.0

    def parts(self) -> dict[str, float]:
        """Disjoint parts of the wall time, in seconds, in a fixed order."""
        m = self.meter
        return {
            "target": m.target,
            "laws": m.law_seconds,
            "fold": m.fold,
            "actions": max(m.driver - m.target - m.law_seconds - m.fold, 0.0),
            "hypothesis": max(self.wall - m.driver, 0.0),
        }

    def shares(self) -> dict[str, float]:
        return {k: (v / self.wall if self.wall else 0.0) for k, v in self.parts().items()}


def _profile(args: argparse.Namespace) -> Profile:
    return Profile("benchmark", args.examples, args.steps, False, 1, "benchmarks/harness.py")


def measure(
    spec: str,
    args: argparse.Namespace,
    *,
    examples: int | None = None,
    profiler: cProfile.Profile | None = None,
) -> Measurement:
    """One run of `args.level` against a fresh target opened from `spec`."""
    level_machine = LEVELS[args.level]
    meter = Meter()
    inner = open_target(spec)
    try:
        info = hello(inner)
        laws, _ = select_laws(args.level, None, info)
        machine = timed_machine(
            level_machine, timed_laws(laws, meter, raise_violations=args.stop_on_violation), meter
        )
        target = TimedTarget(inner, meter)
        profile = _profile(args)
        if examples is not None:
            profile = attrs.evolve(profile, max_examples=examples)
        if profiler is not None:
            profiler.enable()
        started = _now()
        outcome = run_level(
            args.level,
            target,
            info,
            profile,
            seed=args.seed,
            shrink=False,
            target_spec=spec,
            machine=machine,
        )
        wall = _now() - started
        if profiler is not None:
            profiler.disable()
    finally:
        inner.close()
    return Measurement(spec, outcome, wall, meter)


def timer_overhead(meter: Meter, samples: int = 100_000) -> float:
    """Seconds the wrappers' own clock reads cost (two reads per timed call)."""
    started = _now()
    for _ in range(samples):
        _now()
    per_read = (_now() - started) / samples
    return 2 * per_read * meter.timer_calls


def stdio_reference_spec() -> str:
    kubeprop = Path(sys.executable).parent / "kubeprop"
    return "cmd:" + shlex.join([str(kubeprop), "target", "reference"])


# -- report ------------------------------------------------------------------------------------

_PART_NAMES = {
    "target": "target (Target.request)",
    "laws": "law checking (Law.check)",
    "fold": "trace folding (Trace.add_step)",
    "actions": "actions (rest of Driver.run)",
    "hypothesis": "hypothesis & rest",
}


def _column(spec: str) -> str:
    return "in-process" if spec.split(":")[0] == "reference" else "stdio"


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def _row(label: str, *cells: str, width: int = 34) -> str:
    return f"  {label:<{width}}" + "".join(f"{c:>14}" for c in cells)


def render(runs: Sequence[Measurement], args: argparse.Namespace) -> str:
    main = runs[0]
    lines = [
        f"kubeprop harness benchmark: level {args.level}, max {args.examples} examples x"
        f" {args.steps} steps, seed {args.seed}, shrinking off"
        + (f", fastest of {args.repeat} rounds" if args.repeat > 1 else ""),
        "",
        *(f"  run {i}: {r.spec}" for i, r in enumerate(runs, 1)),
        "",
        _row("", *(_column(r.spec) for r in runs)),
    ]

    def cells(cell: Callable[[Measurement], str]) -> list[str]:
        return [cell(r) for r in runs]

    lines.append(_row("status", *cells(lambda r: r.outcome.status)))
    lines.append(_row("examples", *cells(lambda r: str(r.outcome.examples))))
    lines.append(_row("steps", *cells(lambda r: str(r.outcome.steps))))
    lines.append(_row("requests", *cells(lambda r: str(r.meter.requests))))
    lines.append(
        _row("law violations (not raised)", *cells(lambda r: str(sum(r.meter.violations.values()))))
    )
    lines.append(_row("wall seconds", *cells(lambda r: f"{r.wall:.2f}")))
    lines.append(_row("steps / s", *cells(lambda r: f"{r.steps_per_second:.0f}")))
    lines.append(_row("examples / s", *cells(lambda r: f"{r.examples_per_second:.1f}")))
    lines.append(
        _row(
            "ms / request in target",
            *cells(lambda r: f"{1000 * r.meter.target / max(r.meter.requests, 1):.3f}"),
        )
    )
    lines += ["", "  share of wall time"]
    for key, name in _PART_NAMES.items():
        lines.append(_row(name, *(_pct(r.shares()[key]) for r in runs)))
    lines.append(
        _row("timer overhead (est.)", *cells(lambda r: _pct(timer_overhead(r.meter) / r.wall)))
    )
    if len(runs) > 1:
        other = runs[1]
        pair = f"{_column(other.spec)} / {_column(main.spec)}"
        lines += [
            "",
            f"  steps/s {pair}: {other.steps_per_second / main.steps_per_second:.2f}",
            f"  target seconds {pair}: {other.meter.target / main.meter.target:.2f}",
        ]
    if _column(main.spec) == "in-process":
        goal = "met" if main.shares()["target"] < REFERENCE_GOAL else "NOT met"
        lines.append(
            f"\n  reference share {_pct(main.shares()['target']).strip()} of wall"
            f" (goal < {REFERENCE_GOAL:.0%}): {goal}"
        )
    for i, r in enumerate(runs, 1):
        if r.outcome.status != "passed":
            lines.append(
                f"  note: run {i} stopped early ({r.outcome.status}: {r.outcome.law or ''}"
                f" {(r.outcome.message or '')[:120]}); its figures cover the run up to there"
            )
    for i, r in enumerate(runs, 1):
        if r.meter.violations:
            found = ", ".join(f"{k} x{v}" for k, v in sorted(r.meter.violations.items()))
            lines.append(f"  note: run {i} found violations, counted and not raised: {found}")
    lines += ["", f"  target time by op ({main.spec.split(' ')[0]})"]
    lines.append(_row("op", "calls", "ms / call", "% of target"))
    for op, seconds in sorted(main.meter.ops.items(), key=lambda kv: -kv[1]):
        calls = main.meter.op_calls[op]
        lines.append(
            _row(
                op,
                str(calls),
                f"{1000 * seconds / calls:.3f}",
                _pct(seconds / main.meter.target if main.meter.target else 0),
            )
        )
    lines += ["", "  laws by time (in the first run)"]
    lines.append(_row("law", "ms total", "us / step", "% of wall", width=46))
    for law_id, seconds in sorted(main.meter.laws.items(), key=lambda kv: -kv[1])[:10]:
        lines.append(
            _row(
                law_id,
                f"{1000 * seconds:.1f}",
                f"{1e6 * seconds / max(main.outcome.steps, 1):.1f}",
                _pct(seconds / main.wall),
                width=46,
            )
        )
    return "\n".join(lines)


def _summary_of(run: Measurement) -> dict[str, Any]:
    return {
        "target": run.spec,
        "status": run.outcome.status,
        "examples": run.outcome.examples,
        "steps": run.outcome.steps,
        "requests": run.meter.requests,
        "wall_s": round(run.wall, 3),
        "steps_per_s": round(run.steps_per_second, 1),
        "examples_per_s": round(run.examples_per_second, 2),
        "share": {k: round(v, 4) for k, v in run.shares().items()},
        "violations": dict(sorted(run.meter.violations.items())),
    }


def summary(runs: Sequence[Measurement], args: argparse.Namespace) -> dict[str, Any]:
    main = runs[0]
    data: dict[str, Any] = {
        "benchmark": "harness",
        "level": args.level,
        "max_examples": args.examples,
        "max_steps": args.steps,
        "seed": args.seed,
        "repeat": args.repeat,
        **_summary_of(main),
    }
    if _column(main.spec) == "in-process":
        data["reference_goal_met"] = main.shares()["target"] < REFERENCE_GOAL
    if len(runs) > 1:
        other = runs[1]
        data["stdio"] = _summary_of(other)
        data["stdio_over_main_steps_per_s"] = round(
            other.steps_per_second / main.steps_per_second, 3
        )
    return data


def _profile_report(profiler: cProfile.Profile, path: Path, top: int = 15) -> str:
    profiler.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    body = out.getvalue().strip().splitlines()
    start = next((i for i, line in enumerate(body) if "ncalls" in line), 0)
    return f"cProfile stats written to {path} (top {top} by own time):\n" + "\n".join(body[start:])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=300, help="max examples (default 300)")
    p.add_argument("--steps", type=int, default=50, help="max steps per example (default 50)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    p.add_argument(
        "--target",
        default="reference",
        help="reference, reference:MUTANT or cmd:COMMAND (default reference)",
    )
    p.add_argument("--level", default="api", choices=sorted(LEVELS), help="default api")
    p.add_argument(
        "--compare-stdio",
        action="store_true",
        help="also run against `cmd:<venv>/bin/kubeprop target reference` and report the ratio",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure N alternating rounds and keep each target's fastest (default 1)",
    )
    p.add_argument(
        "--stop-on-violation",
        action="store_true",
        help="stop at the first law violation, as `kubeprop run` does (default: count and go on)",
    )
    p.add_argument(
        "--warmup", type=int, default=3, help="examples run first and not measured (default 3)"
    )
    p.add_argument(
        "--profile-out",
        type=Path,
        metavar="FILE",
        help="also run once more under cProfile (not measured) and dump its stats to FILE",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.examples < 1 or args.steps < 1 or args.repeat < 1:
        print("harness: --examples, --steps and --repeat must be at least 1", file=sys.stderr)
        return 2
    specs = [args.target]
    if args.compare_stdio:
        specs.append(stdio_reference_spec())
    if args.warmup > 0:
        for spec in specs:
            measure(spec, args, examples=args.warmup)
    rounds = [[measure(spec, args) for spec in specs] for _ in range(args.repeat)]
    # Alternating rounds, best of each: load that comes and goes hits both targets alike.
    runs = [min(each, key=lambda r: r.wall) for each in zip(*rounds, strict=True)]
    print(render(runs, args))
    if args.profile_out is not None:
        profiler = cProfile.Profile()
        measure(args.target, args, profiler=profiler)
        print("\n" + _profile_report(profiler, args.profile_out))
    print()
    print(json.dumps(summary(runs, args), sort_keys=True))
    ok = all(r.outcome.status == "passed" and not r.meter.violations for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
