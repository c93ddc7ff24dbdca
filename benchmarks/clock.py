"""What simulated time costs: CPU per idle day on a large cluster, and per event.

The reference's clock is a discrete-event loop (reference/cluster.py): an
`advance` jumps from one instant at which something is due to the next, and
node heartbeats are lazy (reference/fleet.py: a Lease renewal is written
only when a request moves the clock). So an idle cluster should cost per
request and per event, never per simulated second. This script measures
that, with `time.process_time()` (CPU seconds of this process), on clusters
built through `reference.cluster.step`:

- **build**: `node.add` of N nodes (default 1 000), then one settling
  minute; reported apart, every idle scenario starts from that cluster;
- **idle**: one `advance` of an hour, a day and ten days (the fastest of
  `--repeat` runs each). `10 d / 1 d` should be about 1: the goal is an idle
  day on 1 000 nodes in under 1 s;
- **idle, 24 x 1 h**: the same day in 24 hourly requests. Each request that
  moves the clock writes every renewal due (one Lease per node), so this
  costs per request: `(24 x 1 h - 1 d) / 23` is the price of one;
- **crash loop**: P pods (default 50) whose liveness probe fails, so that
  their containers are killed and restarted with CrashLoopBackOff, for
  half a simulated day (`--crash-hours 24` for a whole one: about 2 minutes
  on 1 000 nodes). Created at once, they crash in step: few instants, many
  events per instant. **Staggered** (created `10 s / P` apart, so that each
  is killed and restarted at instants of its own) the same workload runs
  for ten minutes on smaller clusters (N/10 and N/100 nodes by default:
  an instant costs in proportion to the cluster, and on N = 1 000 nodes the
  staggered loop alone takes minutes; `--stagger-nodes 1000` to see it).

Each row counts the **events** (store revisions written) and the
**instants** (distinct simulated moments at which something was written,
from `Cluster.revisions`), and divides the CPU time by both, so the cost
can be read as `a x events + b x instants`: a write costs about the same
whatever the cluster, while an instant at which the controllers run costs
in proportion to the objects they list. Absolute figures are indicative
only (a shared, noisy machine); compare the ratios printed by one run.
Nothing is asserted: this is something to read, not a test.

    .venv/bin/python benchmarks/clock.py                  # 1 000 nodes, about 2 minutes
    .venv/bin/python benchmarks/clock.py --quick          # 100 nodes, a few seconds
    .venv/bin/python benchmarks/clock.py --no-crash       # idle rows only, about 10 s
    .venv/bin/python benchmarks/clock.py [--nodes N] [--pods P] [--crash-hours H]
        [--stagger-minutes M] [--stagger-nodes N1,N2] [--repeat N] [--no-crash]
        [--profile ROW] [--top N]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from reference.cluster import Cluster, new_cluster, step

IDLE_DAY_GOAL = 1.0  # CPU seconds for one idle simulated day on 1 000 nodes
HOUR = 3600
DAY = 24 * HOUR
CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}
PROBE_PERIOD = 10  # periodSeconds of the failing liveness probe
_cpu = time.process_time

Request = Mapping[str, Any]


@attrs.frozen
class Row:
    """One measured scenario: what it did and the CPU seconds it took."""

    key: str
    label: str
    nodes: int
    requests: int
    simulated: float
    events: int
    instants: int
    cpu: float

    def per_1000_events(self) -> float | None:
        return 1000 * self.cpu / self.events if self.events else None

    def ms_per_instant(self) -> float | None:
        return 1000 * self.cpu / self.instants if self.instants else None


class RequestFailed(RuntimeError):
    pass


def send(cluster: Cluster, request: Request) -> Cluster:
    cluster, answer = step(cluster, request)
    if not answer.get("ok"):
        raise RequestFailed(f"{request.get('op')} failed: {answer}")
    return cluster


def run(cluster: Cluster, requests: Sequence[Request]) -> tuple[Cluster, float]:
    """`cluster` after `requests`, and the CPU seconds they took."""
    started = _cpu()
    for request in requests:
        cluster = send(cluster, request)
    return cluster, _cpu() - started


def measure(
    key: str, label: str, cluster: Cluster, requests: Sequence[Request], repeat: int = 1
) -> tuple[Cluster, Row]:
    """Apply `requests` to `cluster` (the fastest of `repeat` runs: values do not change)."""
    best = None
    after = cluster
    for _ in range(repeat):
        after, cpu = run(cluster, requests)
        best = cpu if best is None else min(best, cpu)
    assert best is not None
    row = Row(
        key=key,
        label=label,
        nodes=max(len(cluster.fleet.machines), len(after.fleet.machines)),
        requests=len(requests),
        simulated=after.now - cluster.now,
        events=after.api.store.revision - cluster.api.store.revision,
        instants=_instants(after) - _instants(cluster),
        cpu=best,
    )
    return after, row


def _instants(cluster: Cluster) -> int:
    """Distinct simulated moments at which the store moved (one entry each, first is reset)."""
    return len(cluster.revisions)


# -- scenarios ---------------------------------------------------------------------------------


def advance(seconds: float) -> dict[str, Any]:
    return {"op": "advance", "seconds": seconds}


def node_adds(nodes: int) -> list[dict[str, Any]]:
    return [{"op": "node.add", "name": f"n{i}", "capacity": dict(CAPACITY)} for i in range(nodes)]


def crashing_pod(j: int, node: str) -> dict[str, Any]:
    return {
        "op": "create",
        "object": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"crash-{j}", "namespace": "default"},
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "app",
                        "image": "busybox",
                        "livenessProbe": {
                            "exec": {"command": ["true"]},
                            "periodSeconds": PROBE_PERIOD,
                        },
                    }
                ],
            },
        },
    }


def crash_loop(cluster: Cluster, pods: int, stagger: float) -> Cluster:
    """`cluster` with `pods` running pods whose liveness probe now fails.

    The pods go to nodes spread over the cluster. With `stagger`, each pod is
    created that many seconds after the one before, so that its probe checks
    (and so its kills and restarts) fall at instants of its own.
    """
    names = sorted(cluster.fleet.machines, key=lambda n: int(n[1:]))
    setup: list[Request] = []
    for j in range(pods):
        setup.append(crashing_pod(j, names[j * len(names) // pods]))
        if stagger:
            setup.append(advance(stagger))
    setup.append(advance(60))  # pulled, started and passing
    for j in range(pods):
        setup.append(
            {
                "op": "probe.set",
                "namespace": "default",
                "pod": f"crash-{j}",
                "container": "app",
                "probe": "liveness",
                "passing": False,
            }
        )
    cluster, _ = run(cluster, setup)
    return cluster


def build(nodes: int) -> tuple[Cluster, Row, Row]:
    cluster, built = measure("build", f"build: node.add x {nodes}", new_cluster(), node_adds(nodes))
    cluster, first = measure("first", "first advance (1 min) after build", cluster, [advance(60)])
    return cluster, built, first


@attrs.frozen
class Scenario:
    key: str
    label: str
    #: The cluster the measured requests start from (set-up not measured).
    start: Callable[[], Cluster]
    requests: Sequence[Request]
    repeat: int = 1


def scenarios(args: argparse.Namespace, idle: Cluster) -> list[Scenario]:
    def ready(c: Cluster) -> Callable[[], Cluster]:
        return lambda: c

    found = [
        Scenario("idle-hour", "idle, advance 1 h", ready(idle), [advance(HOUR)], args.repeat),
        Scenario("idle-day", "idle, advance 1 d", ready(idle), [advance(DAY)], args.repeat),
        Scenario("idle-10d", "idle, advance 10 d", ready(idle), [advance(10 * DAY)], args.repeat),
        Scenario("idle-hourly", "idle, 1 d as 24 x 1 h", ready(idle), [advance(HOUR)] * 24),
    ]
    if args.crash:
        pods, hours, minutes = args.pods, args.crash_hours, args.stagger_minutes
        stagger = PROBE_PERIOD / pods
        found.append(
            Scenario(
                "crash",
                f"crash loop, {pods} pods in step, {hours:g} h",
                lambda: crash_loop(idle, pods, 0.0),
                [advance(hours * HOUR)],
            )
        )
        for nodes in args.stagger_nodes:

            def start(nodes: int = nodes) -> Cluster:
                base = idle if nodes == args.nodes else build(nodes)[0]
                return crash_loop(base, pods, stagger)

            found.append(
                Scenario(
                    f"staggered-{nodes}",
                    f"crash loop, {pods} pods staggered, {minutes:g} min",
                    start,
                    [advance(minutes * 60)],
                )
            )
    return found


# -- report ------------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    if seconds >= DAY:
        return f"{seconds / DAY:g} d"
    if seconds >= HOUR:
        return f"{seconds / HOUR:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _opt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def render(rows: Sequence[Row], args: argparse.Namespace) -> str:
    by = {r.key: r for r in rows}
    header = (
        f"  {'scenario':<40}{'nodes':>6}{'reqs':>6}{'sim':>8}{'events':>8}{'instants':>9}"
        f"{'CPU s':>9}{'s/1k ev':>9}{'ms/inst':>9}"
    )
    lines = [
        f"kubeprop clock benchmark: {args.nodes} nodes, CPU seconds (time.process_time)"
        + (f", idle rows fastest of {args.repeat}" if args.repeat > 1 else ""),
        "",
        header,
    ]
    for r in rows:
        lines.append(
            f"  {r.label:<40}{r.nodes:>6}{r.requests:>6}{_duration(r.simulated):>8}"
            f"{r.events:>8}{r.instants:>9}{r.cpu:>9.3f}"
            f"{_opt(r.per_1000_events(), '.3f'):>9}{_opt(r.ms_per_instant(), '.2f'):>9}"
        )
    day, ten, hour, hourly = by["idle-day"], by["idle-10d"], by["idle-hour"], by["idle-hourly"]
    lines += [
        "",
        f"  idle 10 d / 1 d CPU: {ten.cpu / day.cpu:.2f}   1 d / 1 h: {day.cpu / hour.cpu:.2f}"
        "   (about 1: no cost per simulated second)",
        f"  idle 24 x 1 h / 1 x 1 d CPU: {hourly.cpu / day.cpu:.1f}"
        f"   one more request: {1000 * (hourly.cpu - day.cpu) / 23:.0f} ms"
        f" ({(hourly.events - day.events) / 23:.0f} events: the Leases it writes)",
    ]
    if "crash" in by:
        crash = by["crash"]
        idle_rate = hourly.per_1000_events() or 0.0
        lines.append(
            f"  crash loop in step: {_opt(crash.per_1000_events(), '.2f')} s per 1000 events"
            f" vs idle hourly {idle_rate:.2f} s"
            f" ({(crash.per_1000_events() or 0.0) / idle_rate:.1f}x);"
            f" {crash.events / max(crash.instants, 1):.0f} events per instant"
        )
        staggered = [r for r in rows if r.key.startswith("staggered-")]
        if staggered:
            costs = ", ".join(
                f"{_opt(r.ms_per_instant(), '.1f')} ms on {r.nodes} nodes" for r in staggered
            )
            per_instant = staggered[0].events / max(staggered[0].instants, 1)
            lines.append(
                f"  crash loop staggered, per instant: {costs}"
                f" ({per_instant:.1f} events per instant)"
            )
    goal = "met" if day.cpu < IDLE_DAY_GOAL else "NOT met"
    scale = "" if args.nodes == 1000 else " (goal is stated for 1000 nodes)"
    lines += [
        "",
        f"  idle day on {args.nodes} nodes: {day.cpu:.3f} s (goal < {IDLE_DAY_GOAL:g} s):"
        f" {goal}{scale}",
    ]
    return "\n".join(lines)


def summary(rows: Sequence[Row], args: argparse.Namespace) -> dict[str, Any]:
    by = {r.key: r for r in rows}
    data: dict[str, Any] = {
        "benchmark": "clock",
        "nodes": args.nodes,
        "pods": args.pods if args.crash else 0,
        "idle_day_s": round(by["idle-day"].cpu, 4),
        "idle_day_goal_met": by["idle-day"].cpu < IDLE_DAY_GOAL,
        "idle_10d_over_1d": round(by["idle-10d"].cpu / by["idle-day"].cpu, 3),
        "idle_hourly_over_day": round(by["idle-hourly"].cpu / by["idle-day"].cpu, 3),
        "rows": {
            r.key: {
                "cpu_s": round(r.cpu, 4),
                "events": r.events,
                "instants": r.instants,
                "requests": r.requests,
                "simulated_s": r.simulated,
                "nodes": r.nodes,
            }
            for r in rows
        },
    }
    return data


def profile(scenario: Scenario, top: int) -> str:
    """Run `scenario` once more under cProfile (not measured); its top functions by cumulative."""
    cluster = scenario.start()
    profiler = cProfile.Profile()
    profiler.enable()
    run(cluster, scenario.requests)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    body = out.getvalue().strip().splitlines()
    start = next((i for i, line in enumerate(body) if "ncalls" in line), 0)
    return f"cProfile of {scenario.label!r} (top {top} by cumulative time):\n" + "\n".join(
        body[start:]
    )


# -- main --------------------------------------------------------------------------------------

_IDLE_ROWS = ("idle-hour", "idle-day", "idle-10d", "idle-hourly")


def row_keys(args: argparse.Namespace) -> list[str]:
    """The rows `scenarios` measures (and `--profile` may name), known before any cluster."""
    crash = ["crash", *(f"staggered-{n}" for n in args.stagger_nodes)] if args.crash else []
    return [*_IDLE_ROWS, *crash]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, help="nodes in the cluster (default 1000; --quick 100)")
    p.add_argument("--pods", type=int, help="crash-looping pods (default 50; --quick 10)")
    p.add_argument(
        "--crash-hours",
        type=float,
        help="simulated hours of the in-step crash loop (default 12; --quick 2)",
    )
    p.add_argument(
        "--stagger-minutes",
        type=float,
        help="simulated minutes of the staggered crash loop (default 10; --quick 5)",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs of each single-advance idle row (default 3)"
    )
    p.add_argument("--quick", action="store_true", help="a small run for smoke tests")
    p.add_argument("--no-crash", dest="crash", action="store_false", help="idle scenarios only")
    p.add_argument(
        "--stagger-nodes",
        type=_sizes,
        help="cluster sizes of the staggered crash loop, comma-separated"
        " (default N/10,N/100: on N nodes it costs minutes)",
    )
    p.add_argument(
        "--profile",
        metavar="ROW",
        help="also run one row under cProfile (not measured): "
        + ", ".join((*_IDLE_ROWS, "crash", "staggered-NODES")),
    )
    p.add_argument("--top", type=int, default=25, help="functions shown by --profile (default 25)")
    return p


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of node counts: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("node counts must be at least 1")
    return sizes


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    small = {"nodes": 100, "pods": 10, "crash_hours": 2.0, "stagger_minutes": 5.0}
    full = {"nodes": 1000, "pods": 50, "crash_hours": 12.0, "stagger_minutes": 10.0}
    for name, value in (small if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.stagger_nodes is None:
        args.stagger_nodes = sorted({max(args.nodes // 10, 1), max(args.nodes // 100, 1)})[::-1]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _defaults(_parser().parse_args(argv))
    if args.nodes < 1 or args.pods < 1 or args.repeat < 1:
        print("clock: --nodes, --pods and --repeat must be at least 1", file=sys.stderr)
        return 2
    if args.crash_hours <= 0 or args.stagger_minutes <= 0:
        print("clock: --crash-hours and --stagger-minutes must be positive", file=sys.stderr)
        return 2
    if args.profile is not None and args.profile not in row_keys(args):
        keys = ", ".join(row_keys(args))
        print(f"clock: no row {args.profile!r} to profile; this run has: {keys}", file=sys.stderr)
        return 2
    # Warm up: first calls pay for lazy imports and caches, not for the clock.
    warm = send(send(new_cluster(), node_adds(1)[0]), advance(DAY))
    send(crash_loop(warm, 1, 0.0), advance(HOUR))

    idle, built, first = build(args.nodes)
    rows = [built, first]
    chosen = scenarios(args, idle)
    assert [s.key for s in chosen] == row_keys(args)
    for s in chosen:
        _, row = measure(s.key, s.label, s.start(), s.requests, s.repeat)
        rows.append(row)
    print(render(rows, args))
    if args.profile is not None:
        print("\n" + profile(next(s for s in chosen if s.key == args.profile), args.top))
    print()
    print(json.dumps(summary(rows, args), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
