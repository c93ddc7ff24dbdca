"""What a scheduling decision costs: scheduler_perf's SchedulingBasic on the reference scheduler.

Upstream's scheduler_perf (test/integration/scheduler_perf, misc/performance-config.yaml)
measures SchedulingBasic/5000Nodes_10000Pods: 5 000 nodes from the default node
template (capacity and allocatable cpu "4", memory "32Gi", pods "110"), 1 000
pods created first, then 10 000 measured pods from templates/pod-default.yaml (one
pause container, requests and limits cpu 100m, memory 500Mi). This script
replays that shape four ways:

- **(a) decisions**: the scheduling cycle alone, as the controller runs it for each
  pod: `engine.decide` (filter, score, select) then `Placement.with_pod` (assume),
  with the rotating start node. The spec (`SpecScheduler`) is slow, so it is timed
  on a subset of the measured pods (`--spec-pods`, 200 by default) and the fast path
  (`FastScheduler`) on the same subset from the same state, which gives the ratio;
  the fast path then runs all the measured pods. The two engines' decisions on the
  subset are compared (they must be identical).
- **(b) end to end**: the same workload through the API reducer (`reference.step`):
  nodes, pod `create`, then `settle` after each batch, with the fast engine in the
  scheduler controller; bound pods are counted at the end. By default the control
  plane is scheduler_perf's own: the API server and the scheduler, nothing else, and
  the nodes are Node objects created through the API with their status (capacity,
  allocatable, Ready), as its node preparer makes them; kube-scheduler's CI floor of
  680 pods/s for SchedulingBasic/5000Nodes_10000Pods is measured that way.
  `--control-plane full` runs every controller and a kubelet per node (`node.add`)
  instead, at upstream's smaller SchedulingBasic/500Nodes shape by default (500
  nodes, 500 + 1 000 pods), since the other controllers' passes grow with the
  cluster (see benchmarks/README.md). It reports the CPU time of the scheduler's
  own passes beside the total; `--e2e-rebuilt` adds a run with the scheduler
  rebuilding its facts and placement from the view on every pass
  (`SchedulerController(cache=False)`) beside the one keeping them in its informer.
- **(c) big**: (a)'s loop with the fast path for 150 000 pods on 5 000 nodes (30
  pods a node), reporting wall and CPU time, throughput per tenth, and the peak
  resident memory of the process (`ru_maxrss`; `--tracemalloc` adds the Python heap's
  peak, at several times the run time).
- **(d) big through the API** (`--api-big`): (c)'s shape through `reference.step`
  with (b)'s control plane: `--nodes` nodes, then `--api-big-pods` pods in batches of
  `--api-big-batch`, each batch created, settled, and the store compacted to its
  current revision; wall time, throughput per tenth and peak RSS.

The programs tune CPython's cycle collector for the store's persistent maps
(`conformance.collector`); so does this script, unless `--gc-default` keeps
CPython's thresholds, which shows what the tuning buys.

Throughput is pods per CPU second (`time.process_time`, one core); wall seconds are
printed beside. Absolute figures are indicative only (shared, noisy machines):
compare the ratios printed by one run. Nothing is asserted.

    .venv/bin/python benchmarks/scheduler.py                 # a, b, c: about 2 minutes
    .venv/bin/python benchmarks/scheduler.py --skip-big      # a and b: about a minute
    .venv/bin/python benchmarks/scheduler.py --quick         # 500 nodes, seconds
    .venv/bin/python benchmarks/scheduler.py --skip-e2e --skip-big --api-big   # (a) and (d)
    .venv/bin/python benchmarks/scheduler.py [--nodes N] [--init-pods N] [--pods N]
        [--spec-pods N] [--control-plane scheduler|full] [--e2e-nodes N]
        [--e2e-init-pods N] [--e2e-pods N] [--e2e-batch N] [--e2e-rebuilt]
        [--big-pods N] [--api-big] [--api-big-pods N] [--api-big-batch N]
        [--skip-spec] [--skip-e2e] [--skip-big] [--tracemalloc] [--gc-default]
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from conformance.collector import tune_collector
from properties.placement import NodeFacts, Placement, PodFacts
from reference import Components, new_cluster, step
from reference.cluster import Cluster
from reference.controllers.base import Reconcile, View
from reference.objects import decode
from reference.scheduler.controller import Engine, SchedulerController
from reference.scheduler.fast import FastScheduler
from reference.scheduler.profile import DEFAULT_PROFILE
from reference.scheduler.spec import Decision, SpecScheduler
from reference.store import prefix_end

#: scheduler_perf's default node (IntegrationTestNodePreparer / makeBaseNode).
NODE_CAPACITY = {"pods": "110", "cpu": "4", "memory": "32Gi"}
#: templates/pod-default.yaml's one container.
POD_RESOURCES = {"limits": {"cpu": "100m", "memory": "500Mi"}}
POD_RESOURCES["requests"] = dict(POD_RESOURCES["limits"])
GOAL = 2000  # fast-path decisions per CPU second on one core
#: Where the store keeps the measured pods (all in the default namespace).
POD_PREFIX = "/registry/pods/default/"
#: kube-scheduler's CI floor for SchedulingBasic/5000Nodes_10000Pods, its API server included.
E2E_GOAL = 680
#: (b)'s and (d)'s control planes: scheduler_perf's (the API server and the scheduler, the
#: nodes created as objects) and the whole cluster (every controller, a kubelet per node).
CONTROL_PLANES = ("scheduler", "full")
#: (b)'s default shape per control plane: nodes, initial pods, measured pods.
E2E_SHAPES = {"scheduler": (5000, 1000, 10_000), "full": (500, 500, 1000)}
_cpu = time.process_time
_wall = time.perf_counter


def node_wire(i: int) -> dict[str, Any]:
    name = f"node-{i:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": dict(NODE_CAPACITY),
            "allocatable": dict(NODE_CAPACITY),
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod_wire(i: int, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": namespace, "uid": f"uid-{i:06d}"},
        "spec": {
            "containers": [
                {
                    "name": "pause",
                    "image": "registry.k8s.io/pause:3.10",
                    "ports": [{"containerPort": 80}],
                    "resources": POD_RESOURCES,
                }
            ]
        },
    }


# -- (a) and (c): the cycle alone --------------------------------------------------------------


@attrs.define
class Replay:
    """Pods decided and assumed one after the other, as `_Cycle.schedule` does."""

    placement: Placement
    start: int = 0
    decide_cpu: float = 0.0
    assume_cpu: float = 0.0
    wall: float = 0.0
    unscheduled: int = 0
    decisions: list[Decision] = attrs.field(factory=list)

    @property
    def cpu(self) -> float:
        return self.decide_cpu + self.assume_cpu

    def run(self, engine: Engine, pods: Sequence[PodFacts], keep: bool = False) -> None:
        count = len(self.placement.nodes)
        placement, start = self.placement, self.start
        decide_cpu = assume_cpu = 0.0
        wall = _wall()
        for pod in pods:
            t0 = _cpu()
            decision = engine.decide(pod, placement, DEFAULT_PROFILE, start)
            t1 = _cpu()
            start = (start + decision.evaluated) % count
            if decision.node is None:
                self.unscheduled += 1
            else:
                placement = placement.with_pod(pod, decision.node)
            assume_cpu += _cpu() - t1
            decide_cpu += t1 - t0
            if keep:
                self.decisions.append(decision)
        self.wall += _wall() - wall
        self.decide_cpu += decide_cpu
        self.assume_cpu += assume_cpu
        self.placement, self.start = placement, start

    def fork(self) -> Replay:
        return Replay(self.placement, self.start)


def rate(pods: int, seconds: float) -> float:
    return pods / seconds if seconds > 0 else float("inf")


def decisions(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    print(
        f"(a) decisions: {args.nodes} nodes, {args.init_pods} pods first, then"
        f" {args.pods} measured (SchedulingBasic; default profile)"
    )
    nodes = [NodeFacts.of(node_wire(i)) for i in range(args.nodes)]
    pods = [PodFacts.of(pod_wire(i)) for i in range(args.init_pods + args.pods)]
    initial = Replay(Placement.of(nodes, []))
    initial.run(FastScheduler(), pods[: args.init_pods])
    measured = pods[args.init_pods :]
    print(f"    {args.init_pods} initial pods placed in {initial.wall:.1f} s (not measured)")
    if not args.skip_spec and args.spec_pods:
        subset = measured[: args.spec_pods]
        spec = initial.fork()
        spec.run(SpecScheduler(), subset, keep=True)
        fast = initial.fork()
        fast.run(FastScheduler(), subset, keep=True)
        same = sum(a == b for a, b in zip(spec.decisions, fast.decisions, strict=True))
        ratio = spec.cpu / fast.cpu if fast.cpu else float("inf")
        print(f"    on the first {len(subset)} measured pods (spec timed on this subset only):")
        _row("spec", len(subset), spec)
        _row("fast", len(subset), fast)
        print(
            f"    fast / spec throughput: {ratio:.0f}x; identical decisions: {same}/{len(subset)}"
        )
        summary.update(spec_pods_per_s=round(rate(len(subset), spec.cpu), 1), ratio=round(ratio))
        summary.update(identical=f"{same}/{len(subset)}")
    fast = initial.fork()
    fast.run(FastScheduler(), measured)
    print(f"    all {len(measured)} measured pods:")
    _row("fast", len(measured), fast)
    throughput = rate(len(measured), fast.cpu)
    verdict = "meets" if throughput >= GOAL else "misses"
    print(f"    fast path {verdict} the goal of {GOAL} pods/s on one core")
    summary.update(fast_pods_per_s=round(throughput), assume_share=_share(fast))


def _share(replay: Replay) -> float:
    return round(replay.assume_cpu / replay.cpu, 3) if replay.cpu else 0.0


def _row(label: str, pods: int, replay: Replay) -> None:
    print(
        f"      {label}: {rate(pods, replay.cpu):9.1f} pods/s CPU"
        f" ({replay.cpu:7.2f} s CPU, {replay.wall:7.2f} s wall);"
        f" with_pod {100 * _share(replay):.0f}% of it;"
        f" {replay.unscheduled} unschedulable"
    )


def big(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    print(f"(c) big: {args.big_pods} pods on {args.nodes} nodes, fast path (decide + with_pod)")
    rss_before = _max_rss_mib()
    if args.tracemalloc:
        tracemalloc.start()
    wall = _wall()
    cpu = _cpu()
    nodes = [NodeFacts.of(node_wire(i)) for i in range(args.nodes)]
    replay = Replay(Placement.of(nodes, []))
    tenth = max(args.big_pods // 10, 1)
    engine = FastScheduler()
    done = 0
    while done < args.big_pods:
        batch = [PodFacts.of(pod_wire(i)) for i in range(done, min(done + tenth, args.big_pods))]
        before = replay.cpu
        replay.run(engine, batch)
        done += len(batch)
        print(
            f"    {done:7d} pods ({done / args.nodes:5.1f} a node):"
            f" {rate(len(batch), replay.cpu - before):7.0f} pods/s over the last {len(batch)}"
        )
    wall = _wall() - wall
    cpu = _cpu() - cpu
    rss = _max_rss_mib()
    print(
        f"    total {wall:.1f} s wall, {cpu:.1f} s CPU ({rate(args.big_pods, cpu):.0f} pods/s"
        f" including building the pods' facts); peak RSS of the process {rss:.0f} MiB"
        f" ({rss_before:.0f} MiB before (c));"
        f" {replay.unscheduled} unschedulable"
    )
    summary.update(big_wall_s=round(wall, 1), big_peak_rss_mib=round(rss))
    if args.tracemalloc:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"    Python heap peak (tracemalloc): {peak / 2**20:.0f} MiB")
        summary.update(big_heap_peak_mib=round(peak / 2**20))


def _max_rss_mib() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / 2**20


# -- (b) through the API -----------------------------------------------------------------------


class RequestFailed(RuntimeError):
    pass


def send(cluster: Cluster, request: Mapping[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = step(cluster, request)
    if not answer.get("ok"):
        raise RequestFailed(f"{request.get('op')} failed: {answer}")
    return cluster, answer


#: CPU seconds spent in `TimedScheduler.reconcile` (the benchmark's own bookkeeping).
RECONCILE_CPU = [0.0]


@attrs.frozen
class TimedScheduler(SchedulerController):
    """The scheduler controller, adding the CPU time of its passes to `RECONCILE_CPU`."""

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        t0 = _cpu()
        try:
            return super().reconcile(view, now, state)
        finally:
            RECONCILE_CPU[0] += _cpu() - t0


def with_engine(engine: Engine, cache: bool = True, control_plane: str = "full") -> Components:
    """The components of `control_plane` with the scheduler controller running `engine`.

    "full": the default components, the scheduler swapped (or added); "scheduler": the
    scheduler alone beside the API server. `cache=False` rebuilds its facts and placement
    from the view on every pass, as it did before its informer.
    """
    base = Components()
    scheduler = TimedScheduler(engine=engine, cache=cache)
    if control_plane == "scheduler":
        return attrs.evolve(base, controllers=(scheduler,))
    if any(c.name == scheduler.name for c in base.controllers):
        return base.replacing(scheduler)
    return attrs.evolve(base, controllers=(*base.controllers, scheduler))


def with_nodes(cluster: Cluster, count: int, control_plane: str) -> Cluster:
    """`count` nodes: Node objects created through the API (scheduler_perf's node preparer)
    for the "scheduler" control plane, machines with kubelets (`node.add`) for "full"."""
    for i in range(count):
        if control_plane == "scheduler":
            request: dict[str, Any] = {"op": "create", "object": node_wire(i)}
        else:
            request = {"op": "node.add", "name": f"node-{i:05d}", "capacity": NODE_CAPACITY}
        cluster, _ = send(cluster, request)
    return _settle(cluster)


def timed(run: Callable[[], Cluster]) -> tuple[Cluster, float, float]:
    cpu, wall = _cpu(), _wall()
    cluster = run()
    return cluster, _cpu() - cpu, _wall() - wall


def end_to_end(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    plane = args.control_plane
    nodes, init, pods = (
        given if given is not None else default
        for given, default in zip(
            (args.e2e_nodes, args.e2e_init_pods, args.e2e_pods), E2E_SHAPES[plane], strict=True
        )
    )
    batch = args.e2e_batch
    who = (
        "the API server and the scheduler (scheduler_perf's control plane)"
        if plane == "scheduler"
        else "every controller and a kubelet per node"
    )
    print(
        f"(b) end to end: {nodes} nodes, {init} pods first, then {pods} measured in batches"
        f" of {batch} (create, then settle), fast engine; {who}"
    )
    variants = [("rebuilt", False), ("cached", True)] if args.e2e_rebuilt else [("cached", True)]
    for label, cache in variants:
        throughput, scheduler = _end_to_end(nodes, init, pods, batch, cache, label, plane)
        summary[f"e2e_{plane}_{label}_pods_per_s"] = round(throughput, 1)
        summary[f"e2e_{plane}_{label}_scheduler_pods_per_s"] = round(scheduler)
        if plane == "scheduler" and cache:
            verdict = "meets" if throughput >= E2E_GOAL else "misses"
            shape = "" if nodes == 5000 else f" (a floor set for 5000 nodes; this ran {nodes})"
            print(f"    {verdict} kube-scheduler's CI floor of {E2E_GOAL} pods/s{shape}")


def _end_to_end(
    nodes: int, init: int, pods: int, batch: int, cache: bool, label: str, plane: str
) -> tuple[float, float]:
    cluster = new_cluster(0, with_engine(FastScheduler(), cache, plane))

    def setup() -> Cluster:
        c = with_nodes(cluster, nodes, plane)
        for first in range(0, init, batch):
            c = _settle(_create_pods(c, first, min(first + batch, init)))
        return c

    cluster, _, wall = timed(setup)
    print(f"    {label}: nodes and initial pods {wall:.1f} s (not measured)")
    create_cpu = settle_cpu = wall_total = 0.0
    RECONCILE_CPU[0] = 0.0
    for first in range(init, init + pods, batch):
        last = min(first + batch, init + pods)
        cluster, cpu, wall = timed(functools.partial(_create_pods, cluster, first, last))
        create_cpu += cpu
        wall_total += wall
        cluster, cpu, wall = timed(functools.partial(_settle, cluster))
        settle_cpu += cpu
        wall_total += wall
    scheduler_cpu = RECONCILE_CPU[0]
    bound, total = _bound(cluster)
    total_cpu = create_cpu + settle_cpu
    print(
        f"    {label}: {rate(pods, total_cpu):.0f} pods/s CPU ({total_cpu:.1f} s CPU,"
        f" {wall_total:.1f} s wall): create {create_cpu:.1f} s, settle {settle_cpu:.1f} s,"
        f" of which the scheduler's passes {scheduler_cpu:.2f} s"
        f" ({rate(pods, scheduler_cpu):.0f} pods/s); {bound}/{total} pods bound"
    )
    return rate(pods, total_cpu), rate(pods, scheduler_cpu)


def _create_pods(cluster: Cluster, first: int, last: int) -> Cluster:
    for i in range(first, last):
        cluster, _ = send(cluster, {"op": "create", "object": _unnamed_uid(pod_wire(i))})
    return cluster


def _settle(cluster: Cluster) -> Cluster:
    cluster, _ = send(cluster, {"op": "settle", "max_seconds": 60})
    return cluster


def _bound(cluster: Cluster) -> tuple[int, int]:
    """Pods bound, and pods: read from the store one at a time, so that counting 150 000
    pods does not hold them all decoded (a `list` would, and would set the peak RSS)."""
    kvs = cluster.api.store.range(POD_PREFIX, prefix_end(POD_PREFIX)).kvs
    bound = sum(1 for kv in kvs if (decode(kv.value).get("spec") or {}).get("nodeName"))
    return bound, len(kvs)


# -- (d) big, through the API --------------------------------------------------------------------


def api_big(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    nodes, pods, batch = args.nodes, args.api_big_pods, args.api_big_batch
    print(
        f"(d) big through the API: {pods} pods on {nodes} nodes in batches of {batch}"
        f" (create, settle, compact the store to the current revision); control plane"
        f" {args.control_plane!r}"
    )
    rss_before = _max_rss_mib()
    wall, cpu = _wall(), _cpu()
    plane = args.control_plane
    cluster = with_nodes(new_cluster(0, with_engine(FastScheduler(), True, plane)), nodes, plane)
    print(f"    {nodes} nodes: {_wall() - wall:.1f} s wall")
    tenth = max(pods // 10, batch)
    done = 0
    mark_cpu = _cpu()
    while done < pods:
        last = min(done + batch, pods)
        cluster = _settle(_create_pods(cluster, done, last))
        revision = cluster.api.store.revision
        cluster, _ = send(cluster, {"op": "compact", "resourceVersion": str(revision)})
        reported = done // tenth
        done = last
        if done // tenth != reported or done == pods:
            now = _cpu()
            print(
                f"    {done:7d} pods ({done / nodes:5.1f} a node): {_wall() - wall:7.1f} s wall,"
                f" {rate(tenth, now - mark_cpu):5.0f} pods/s CPU over the last tenth,"
                f" peak RSS {_max_rss_mib():.0f} MiB"
            )
            mark_cpu = now
    wall, cpu = _wall() - wall, _cpu() - cpu
    bound, total = _bound(cluster)
    rss = _max_rss_mib()
    print(
        f"    total {wall:.1f} s wall, {cpu:.1f} s CPU ({rate(pods, cpu):.0f} pods/s with the"
        f" nodes); peak RSS {rss:.0f} MiB ({rss_before:.0f} MiB before (d));"
        f" {bound}/{total} pods bound"
    )
    summary.update(api_big_wall_s=round(wall, 1), api_big_peak_rss_mib=round(rss))


def _unnamed_uid(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as a client sends it: the API server assigns the uid."""
    return {**pod, "metadata": {k: v for k, v in pod["metadata"].items() if k != "uid"}}


# -- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--init-pods", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000, help="measured pods in (a)")
    parser.add_argument("--spec-pods", type=int, default=200, help="of them, timed on the spec")
    parser.add_argument(
        "--control-plane",
        choices=CONTROL_PLANES,
        default="scheduler",
        help="(b) and (d): the API server and the scheduler (default), or every component",
    )
    parser.add_argument("--e2e-nodes", type=int, default=None, help="5000 (full: 500)")
    parser.add_argument("--e2e-init-pods", type=int, default=None, help="1000 (full: 500)")
    parser.add_argument("--e2e-pods", type=int, default=None, help="10000 (full: 1000)")
    parser.add_argument("--e2e-batch", type=int, default=500)
    parser.add_argument(
        "--e2e-rebuilt",
        action="store_true",
        help="(b) also with the scheduler rebuilding its facts every pass, not its informer",
    )
    parser.add_argument("--big-pods", type=int, default=150_000)
    parser.add_argument("--api-big", action="store_true", help="run (d), through the API")
    parser.add_argument("--api-big-pods", type=int, default=150_000)
    parser.add_argument("--api-big-batch", type=int, default=1000)
    parser.add_argument("--skip-spec", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true", help="(c): the Python heap's peak")
    parser.add_argument(
        "--gc-default",
        action="store_true",
        help="keep CPython's cycle collector thresholds (the programs tune them)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500 nodes, 100 + 1000 pods, 50 on the spec; e2e 100 nodes; big 10 000 pods",
    )
    args = parser.parse_args(argv)
    if not args.gc_default:
        tune_collector()
    if args.quick:
        args.nodes, args.init_pods, args.pods, args.spec_pods = 500, 100, 1000, 50
        args.e2e_nodes, args.e2e_init_pods, args.e2e_pods, args.e2e_batch = 100, 100, 200, 100
        args.big_pods = 10_000
    summary: dict[str, Any] = {"nodes": args.nodes, "gc_tuned": not args.gc_default}
    decisions(args, summary)
    if not args.skip_e2e:
        end_to_end(args, summary)
    if not args.skip_big:
        big(args, summary)
    if args.api_big:
        api_big(args, summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
