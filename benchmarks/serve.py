"""The latency of mutating requests from the official client against `kubeprop serve`.

Kubernetes' API call latency SLO is that the 99th percentile of mutating
requests, per resource and verb, is at most 1 s. This script starts
`kubeprop serve` as a user starts it (a subprocess on port 0, with a
kubeconfig written into a temporary directory), points the official Python
client at it (`kubernetes.config.new_client_from_config`), and measures:

- **open loop** at a fixed rate (default 20 requests/s, for 30 s): request
  i is due at `t0 + i / rate` whatever happened before it, and its
  **latency** is measured from that due time, not from when it was actually
  sent. One client thread sends them all; when the server falls behind,
  later requests leave late and the wait is counted in their latency, so a
  slow server cannot hide its queue (coordinated omission). The **service
  time** (from the actual send) is reported beside it;
- **saturation** (`--saturate SECONDS`, default 5): the same mix in a closed
  loop, as fast as one client goes: requests/s and p50/p99, and the ratio of
  the open loop's p99 to this one.

The mix goes through the client's typed APIs (CoreV1Api, AppsV1Api) in a
namespace of its own: ConfigMaps created, replaced, merge-patched and
deleted; Deployments (2 replicas of a small pod) created, scaled through
their /scale subresource, given a new image (strategic merge patch) and
deleted; Pods created and deleted. The working set is bounded (50
ConfigMaps, 10 Deployments, 10 Pods; the oldest is deleted instead of a
create over the bound), so the cluster's size stays steady over the run.

Latencies include the client's own work (serialising the body, decoding the
reply into its models), as a user of the client sees them. Figures are
printed, never asserted; the last line is a one-line JSON summary.

    .venv/bin/python benchmarks/serve.py [--rate R] [--seconds S | --requests N]
        [--saturate S] [--nodes N] [--time-scale X] [--grace S] [--warmup N] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Kubernetes' SLO for mutating API calls: p99 at most 1 s.
SLO_P99 = 1.0
#: The share of failed requests above which the run exits 1.
ERROR_BUDGET = 0.01
#: Wall seconds to wait for `serving on`: a hang guard, not a measurement.
START_TIMEOUT = 60.0
#: Per-request timeout handed to the client, so a stuck server is an error, not a hang.
REQUEST_TIMEOUT = 30.0
#: A request sent this long after its due time counts as sent late.
LATE = 0.010
NAMESPACE = "bench-serve"
MERGE_PATCH = "application/merge-patch+json"
IMAGES = ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10")

#: Relative weights of the requests in the mix (they sum to 100).
MIX: dict[str, int] = {
    "configmap.create": 16,
    "configmap.replace": 16,
    "configmap.patch": 16,
    "configmap.delete": 8,
    "deployment.create": 6,
    "deployment.scale": 8,
    "deployment.image": 8,
    "deployment.delete": 4,
    "pod.create": 9,
    "pod.delete": 9,
}
#: The most objects of each kind alive at once: a create over this deletes the oldest instead.
BOUND = {"configmap": 50, "deployment": 10, "pod": 10}

_now = time.perf_counter


# -- the server -----------------------------------------------------------------------------------


class ServerDidNotStart(Exception):
    """`kubeprop serve` exited or stayed silent before printing `serving on`."""


@dataclass(frozen=True)
class Server:
    """Where the started server listens, and the kubeconfig it wrote for its clients."""

    url: str
    kubeconfig: Path


@contextmanager
def served(nodes: int, time_scale: float, seed: int) -> Iterator[Server]:
    """`kubeprop serve` in a subprocess for the duration of the block, stopped on the way out
    (errors and Ctrl-C included). Its output goes to files rather than pipes, so that a
    chatty server can never block on a full pipe while it is being measured."""
    with tempfile.TemporaryDirectory(prefix="kubeprop-bench-serve-") as tmp:
        work = Path(tmp)
        out, err = work / "stdout", work / "stderr"
        command = [
            sys.executable,
            "-m",
            "conformance.serve",
            "--port",
            "0",
            "--kubeconfig",
            str(work / "kubeconfig"),
            "--nodes",
            str(nodes),
            "--time-scale",
            repr(time_scale),
            "--seed",
            str(seed),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT, env=env)
        try:
            url = _serving_url(process, out, err)
            yield Server(url, work / "kubeconfig")
        finally:
            _stop(process)


def _serving_url(process: subprocess.Popen[bytes], out: Path, err: Path) -> str:
    """Poll the server's stdout for its first line; the server writes the kubeconfig before
    printing it, so the kubeconfig is complete once the line is there."""
    deadline = _now() + START_TIMEOUT
    while _now() < deadline:
        first = out.read_text().partition("\n")
        if first[1] and first[0].startswith("serving on "):
            return first[0].removeprefix("serving on ")
        if first[1] or process.poll() is not None:
            break
        time.sleep(0.05)
    tail = err.read_text()[-2000:].strip()
    raise ServerDidNotStart(f"kubeprop serve did not start (exit {process.poll()}):\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate (uvicorn shuts down gracefully), then kill if it is still there."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the workload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One request: its kind, seconds from due time and from send to reply, and its error."""

    kind: str
    latency: float
    service: float
    late: float
    error: str | None


@dataclass(frozen=True)
class Op:
    """A request ready to send: `call` is what is timed, `after` the bookkeeping on success."""

    kind: str
    call: Callable[[], object]
    after: Callable[[], None] = lambda: None


@dataclass
class Workload:
    """The mix of mutating requests, over a bounded working set of objects it created.

    Deletes take the oldest object; creates over the bound become such deletes, and an
    update with nothing to update becomes a create, so every request in the mix stays
    valid whatever order the random choices come in."""

    core: Any
    apps: Any
    rng: random.Random
    grace: int
    alive: dict[str, deque[str]] = field(default_factory=lambda: {kind: deque() for kind in BOUND})
    serial: int = 0

    def next_op(self) -> Op:
        """The next request of the mix, drawn with `MIX`'s weights."""
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        resource, verb = kind.split(".")
        alive = self.alive[resource]
        if verb == "create" and len(alive) >= BOUND[resource]:
            verb = "delete"
        elif verb != "create" and not alive:
            verb = "create"
        if verb == "create":
            self.serial += 1
            name = f"{resource}-{self.serial}"
            return Op(
                f"{resource}.create", self._create(resource, name), lambda: alive.append(name)
            )
        if verb == "delete":
            return Op(f"{resource}.delete", self._delete(resource, alive.popleft()))
        return Op(kind, self._update(kind, self.rng.choice(alive)))

    def _create(self, resource: str, name: str) -> Callable[[], object]:
        ns, timeout = NAMESPACE, REQUEST_TIMEOUT
        if resource == "configmap":
            body = configmap(name, self.rng)
            return lambda: self.core.create_namespaced_config_map(
                ns, body, _request_timeout=timeout
            )
        if resource == "deployment":
            body = deployment(name, self.grace)
            return lambda: self.apps.create_namespaced_deployment(
                ns, body, _request_timeout=timeout
            )
        body = pod(name, self.grace)
        return lambda: self.core.create_namespaced_pod(ns, body, _request_timeout=timeout)

    def _delete(self, resource: str, name: str) -> Callable[[], object]:
        ns, timeout = NAMESPACE, REQUEST_TIMEOUT
        delete = {
            "configmap": self.core.delete_namespaced_config_map,
            "deployment": self.apps.delete_namespaced_deployment,
            "pod": self.core.delete_namespaced_pod,
        }[resource]
        return lambda: delete(name, ns, _request_timeout=timeout)

    def _update(self, kind: str, name: str) -> Callable[[], object]:
        ns, timeout, rng = NAMESPACE, REQUEST_TIMEOUT, self.rng
        if kind == "configmap.replace":
            body = configmap(name, rng)
            return lambda: self.core.replace_namespaced_config_map(
                name, ns, body, _request_timeout=timeout
            )
        if kind == "configmap.patch":
            patch = {"metadata": {"labels": {"generation": str(rng.randrange(1000))}}}
            return lambda: self.core.patch_namespaced_config_map(
                name, ns, patch, _content_type=MERGE_PATCH, _request_timeout=timeout
            )
        if kind == "deployment.scale":
            scale = {"spec": {"replicas": rng.randint(1, 3)}}
            return lambda: self.apps.patch_namespaced_deployment_scale(
                name, ns, scale, _request_timeout=timeout
            )
        assert kind == "deployment.image", kind
        image = {"name": "app", "image": rng.choice(IMAGES)}
        rollout: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [image]}}}}
        # A dict patch goes as a strategic merge patch: containers are merged by name.
        return lambda: self.apps.patch_namespaced_deployment(
            name, ns, rollout, _request_timeout=timeout
        )

    def send(self, due: float | None) -> Sample:
        """Send the next request; latency runs from `due` (the open loop's schedule) or, in a
        closed loop (`due` None), from the send itself."""
        op = self.next_op()
        sent = _now()
        error = None
        try:
            op.call()
        except Exception as e:  # every failure is counted and shown, none ends the run
            error = _describe(e)
        done = _now()
        if error is None:
            op.after()
        start = sent if due is None else due
        return Sample(op.kind, done - start, done - sent, sent - start, error)


def _describe(error: Exception) -> str:
    """A short, groupable description: the HTTP status and reason for an API error."""
    status = getattr(error, "status", None)
    reason = getattr(error, "reason", None)
    if status is not None:
        return f"HTTP {status} {reason}"
    text = " ".join(str(error).split())
    if type(error).__name__ == "ValidationError":  # pydantic, raised by the client's models
        return f"the client could not decode the reply: {text[:200]}"
    return f"{type(error).__name__}: {text[:160]}"


def configmap(name: str, rng: random.Random) -> dict[str, Any]:
    """A ConfigMap of about 1 KB: a few settings and a small file."""
    return {
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "data": {
            "mode": rng.choice(("a", "b", "c")),
            "replicas": str(rng.randint(1, 9)),
            "settings.ini": "\n".join(f"key{i} = {rng.randrange(10**6)}" for i in range(40)),
        },
    }


def _pod_spec(image: str, grace: int) -> dict[str, Any]:
    """clusterloader2's load-test pod (testing/load/deployment.yaml), with which the SLO is
    measured upstream: a pause container, requests of 1m CPU and 4M memory, and a short grace
    period. The reference's processes ignore SIGTERM, so a deleted pod stays for its whole
    grace period: with Kubernetes' default of 30 s the terminating pods would pile up for
    the first 30 s of the run instead of staying steady."""
    resources = {"requests": {"cpu": "1m", "memory": "4M"}}
    return {
        "containers": [{"name": "app", "image": image, "resources": resources}],
        "terminationGracePeriodSeconds": grace,
    }


def deployment(name: str, grace: int) -> dict[str, Any]:
    """A Deployment of 2 small pods."""
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _pod_spec(IMAGES[0], grace)},
        },
    }


def pod(name: str, grace: int) -> dict[str, Any]:
    """A bare Pod, like a Job's or a one-off `kubectl run`."""
    return {
        "metadata": {"name": name, "labels": {"app": "bench-pod"}},
        "spec": _pod_spec(IMAGES[0], grace),
    }


# -- the phases -----------------------------------------------------------------------------------


@dataclass
class Phase:
    """The samples of one phase and its wall time; `interrupted` when Ctrl-C cut it short."""

    samples: list[Sample]
    seconds: float
    interrupted: bool = False


def open_loop(workload: Workload, rate: float, count: int) -> Phase:
    """`count` requests, request i due at `t0 + i / rate`; one thread, latency from the due
    time. Ctrl-C ends the phase with what was measured so far."""
    samples: list[Sample] = []
    t0 = _now()
    try:
        for i in range(count):
            due = t0 + i / rate
            wait = due - _now()
            if wait > 0:
                time.sleep(wait)
            samples.append(workload.send(due))
    except KeyboardInterrupt:
        return Phase(samples, _now() - t0, interrupted=True)
    return Phase(samples, _now() - t0)


def closed_loop(workload: Workload, seconds: float) -> Phase:
    """Back-to-back requests for `seconds`: the most one client thread gets out of the server."""
    samples: list[Sample] = []
    t0 = _now()
    try:
        while _now() - t0 < seconds:
            samples.append(workload.send(None))
    except KeyboardInterrupt:
        return Phase(samples, _now() - t0, interrupted=True)
    return Phase(samples, _now() - t0)


# -- the report -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (no interpolation: the value of a request that happened)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def _round_ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 2)


def table(samples: Sequence[Sample]) -> str:
    """Per request kind (in `MIX`'s order), then all together: count, p50, p99, max, errors."""
    header = f"{'request':<20} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"
    lines = [header]
    groups = [(kind, [s for s in samples if s.kind == kind]) for kind in MIX]
    for kind, group in [*groups, ("all mutating", list(samples))]:
        if not group:
            continue
        latencies = [s.latency for s in group]
        errors = sum(s.error is not None for s in group)
        lines.append(
            f"{kind:<20} {len(group):>6} {_ms(percentile(latencies, 50)):>8}"
            f" {_ms(percentile(latencies, 99)):>8} {_ms(max(latencies)):>8} {errors:>6}"
        )
    return "\n".join(lines)


def trend(samples: Sequence[Sample], parts: int = 10) -> str:
    """p99 of each tenth of the open loop, in order: a rising row means the cluster (and with
    it the controllers' work per tick) was still growing, not in a steady state."""
    size = len(samples) / parts
    if size < 1:
        return ""
    chunks = [samples[round(i * size) : round((i + 1) * size)] for i in range(parts)]
    cells = " ".join(_ms(percentile([s.latency for s in c], 99)) for c in chunks)
    return f"p99 by tenth of the open loop (ms): {cells}"


def error_lines(samples: Sequence[Sample]) -> list[str]:
    """The distinct failures, most frequent first, so that an error count can be explained."""
    counts = Counter(f"{s.kind}: {s.error}" for s in samples if s.error is not None)
    return [f"  {n} x {what}" for what, n in counts.most_common(10)]


def working_set(workload: Workload) -> str:
    """What the namespace holds at the end (lists are not measured): steady, not growing."""
    ns = NAMESPACE
    try:
        pods = workload.core.list_namespaced_pod(ns, _request_timeout=REQUEST_TIMEOUT).items
        sets = workload.apps.list_namespaced_replica_set(ns, _request_timeout=REQUEST_TIMEOUT)
    except Exception as e:
        return f"working set: could not list ({_describe(e)})"
    alive = ", ".join(f"{len(names)} {kind}s" for kind, names in workload.alive.items())
    terminating = sum(p.metadata.deletion_timestamp is not None for p in pods)
    return (
        f"working set at the end: {alive}; the namespace holds {len(pods)} pods"
        f" ({terminating} terminating) and {len(sets.items)} replicasets"
    )


def report(args: argparse.Namespace, load: Phase, saturation: Phase | None) -> dict[str, Any]:
    """Print the figures; return the JSON summary."""
    samples = load.samples
    latencies = [s.latency for s in samples]
    service = [s.service for s in samples]
    errors = sum(s.error is not None for s in samples)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    achieved = len(samples) / load.seconds if load.seconds > 0 else math.nan
    late = [s.late for s in samples if s.late > LATE]
    cut = " (interrupted)" if load.interrupted else ""
    print(
        f"\nopen loop{cut}: {len(samples)} requests at {args.rate:g}/s, one client thread;"
        " latency from each request's scheduled send time\n"
    )
    print(table(samples))
    print(
        f"\nservice time (from the actual send): p50 {_ms(percentile(service, 50))} ms,"
        f" p99 {_ms(percentile(service, 99))} ms"
    )
    print(
        f"achieved rate: {achieved:.2f} requests/s over {load.seconds:.1f} s;"
        f" sent more than {LATE * 1000:.0f} ms late: {len(late)}"
        + (f", at most {_ms(max(late))} ms" if late else "")
    )
    if trend(samples):
        print(trend(samples))
    met = p99 <= SLO_P99
    verdict = "within" if met else "NOT within"
    print(
        f"all mutating requests: p50 {_ms(p50)} ms, p99 {_ms(p99)} ms:"
        f" {verdict} the SLO (p99 <= {SLO_P99:g} s)"
    )
    lines = error_lines(samples)
    if lines:
        print(f"errors ({errors}):", *lines, sep="\n")
    summary: dict[str, Any] = {
        "benchmark": "serve",
        "nodes": args.nodes,
        "grace": args.grace,
        "time_scale": args.time_scale,
        "rate": args.rate,
        "requests": len(samples),
        "achieved_rate": round(achieved, 2),
        "p50_ms": _round_ms(p50),
        "p99_ms": _round_ms(p99),
        "max_ms": _round_ms(max(latencies, default=math.nan)),
        "service_p50_ms": _round_ms(percentile(service, 50)),
        "service_p99_ms": _round_ms(percentile(service, 99)),
        "slo_met": met,
        "errors": errors,
        "late": len(late),
        "p99_ms_by_request": {
            kind: _round_ms(percentile([s.latency for s in samples if s.kind == kind], 99))
            for kind in MIX
            if any(s.kind == kind for s in samples)
        },
        "interrupted": load.interrupted,
    }
    if saturation is not None:
        summary.update(report_saturation(saturation, p99))
    return summary


def report_saturation(phase: Phase, open_p99: float) -> dict[str, Any]:
    """Print the closed loop's throughput and latency, and the open loop's p99 against it."""
    samples = phase.samples
    latencies = [s.latency for s in samples]
    errors = sum(s.error is not None for s in samples)
    rate = len(samples) / phase.seconds if phase.seconds > 0 else math.nan
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    ratio = open_p99 / p99 if p99 > 0 else math.nan
    cut = " (interrupted)" if phase.interrupted else ""
    print(
        f"\nsaturation{cut} (closed loop, one client thread, {phase.seconds:.1f} s):"
        f" {rate:.1f} requests/s; p50 {_ms(p50)} ms, p99 {_ms(p99)} ms, {errors} errors"
    )
    print(f"p99 at the open loop's rate / p99 at saturation: {ratio:.2f}")
    lines = error_lines(samples)
    if lines:
        print(f"errors ({errors}):", *lines, sep="\n")
    return {
        "saturation_rate": round(rate, 1),
        "saturation_requests": len(samples),
        "saturation_p50_ms": _round_ms(p50),
        "saturation_p99_ms": _round_ms(p99),
        "saturation_errors": errors,
        "p99_ratio": None if math.isnan(ratio) else round(ratio, 2),
    }


# -- main -----------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=20.0, help="requests/s (default 20)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=float, default=30.0, help="open loop (default 30)")
    length.add_argument("--requests", type=int, help="open loop of N requests instead")
    p.add_argument(
        "--saturate",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="closed loop after the open one (default 5; 0 skips it)",
    )
    p.add_argument("--nodes", type=int, default=3, help="the server's nodes (default 3)")
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="the server's simulated seconds per wall second (default 1)",
    )
    p.add_argument("--warmup", type=int, default=20, help="unmeasured requests first (default 20)")
    p.add_argument(
        "--grace",
        type=int,
        default=1,
        metavar="SECONDS",
        help="the pods' terminationGracePeriodSeconds (default 1, as clusterloader2's load"
        " test; Kubernetes' default is 30)",
    )
    p.add_argument("--seed", type=int, default=0, help="the mix's and the server's seed")
    return p


def _count(args: argparse.Namespace) -> int:
    """The open loop's length: `--requests`, else `--seconds` at `--rate`."""
    return int(args.requests) if args.requests is not None else round(args.seconds * args.rate)


def _client(kubeconfig: Path) -> tuple[Any, Any, str]:
    """CoreV1Api and AppsV1Api over one ApiClient (one connection pool), and the version."""
    import kubernetes

    config: Any = kubernetes.config  # its loaders are untyped
    api = config.new_client_from_config(config_file=str(kubeconfig))
    client = kubernetes.client
    return client.CoreV1Api(api), client.AppsV1Api(api), kubernetes.__version__


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rate <= 0 or _count(args) < 1 or min(args.saturate, args.warmup, args.grace) < 0:
        print(
            "serve: --rate, --seconds and --requests must be positive;"
            " --saturate, --warmup and --grace not negative",
            file=sys.stderr,
        )
        return 2
    try:
        with served(args.nodes, args.time_scale, args.seed) as server:
            core, apps, version = _client(server.kubeconfig)
            print(
                f"kubeprop serve at {server.url}: {args.nodes} nodes, time scale"
                f" {args.time_scale:g}; official client {version}"
            )
            core.create_namespace({"metadata": {"name": NAMESPACE}})
            workload = Workload(core, apps, random.Random(args.seed), args.grace)
            for _ in range(args.warmup):
                workload.send(None)
            load = open_loop(workload, args.rate, _count(args))
            saturation = None
            if args.saturate > 0 and not load.interrupted:
                saturation = closed_loop(workload, args.saturate)
            summary = report(args, load, saturation)
            print(working_set(workload))
    except ServerDidNotStart as e:
        print(f"serve: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before or after the measured phases, which catch their own
        print("serve: interrupted; the server is stopped", file=sys.stderr)
        return 130
    print()
    print(json.dumps(summary, sort_keys=True))
    if load.interrupted or (saturation is not None and saturation.interrupted):
        return 130  # the figures above cover the run up to Ctrl-C
    measured = load.samples + (saturation.samples if saturation else [])
    errors = sum(s.error is not None for s in measured)
    return 1 if errors > ERROR_BUDGET * len(measured) else 0


if __name__ == "__main__":
    sys.exit(main())
