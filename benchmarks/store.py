"""Operations per second of the store machine, on the reference store and on a real etcd.

Both run in one process with the same seed and budget, so the ratio between
them is meaningful even on a shared machine; the absolute figures are not.

    .venv/bin/python benchmarks/store.py                 # starts a throwaway etcd if installed
    .venv/bin/python benchmarks/store.py --etcd http://127.0.0.1:2379
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.profiles import Profile
from conformance.runner import hello, run_level
from conformance.targets import Target, open_target

ROOT = Path(__file__).resolve().parents[1]


class CountingTarget:
    """Delegates to a target, counting requests and the seconds spent waiting for them."""

    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.description = inner.description
        self.requests = 0
        self.seconds = 0.0

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return self.inner.request(request)
        finally:
            self.seconds += time.perf_counter() - started
            self.requests += 1

    def close(self) -> None:
        self.inner.close()


def measure(spec: str, profile: Profile, seed: int) -> dict[str, Any]:
    target = CountingTarget(open_target(spec, kind="store"))
    try:
        info = hello(target)
        started = time.perf_counter()
        outcome = run_level("store", target, info, profile, seed=seed, shrink=False)
        wall = time.perf_counter() - started
    finally:
        target.close()
    return {
        "target": spec,
        "status": outcome.status,
        "examples": outcome.examples,
        "steps": outcome.steps,
        "requests": target.requests,
        "wall_s": round(wall, 3),
        "steps_per_s": round(outcome.steps / wall, 1),
        "ops_per_s": round(target.requests / wall, 1),
        "target_share": round(target.seconds / wall, 3),
        "ms_per_op_in_target": round(1000 * target.seconds / max(target.requests, 1), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--etcd", metavar="URL", help="an etcd to use instead of starting one")
    args = parser.parse_args()
    profile = Profile("benchmark", args.examples, args.steps, True, 1, "benchmark")

    results = [measure("reference", profile, args.seed)]
    etcd = None
    url = args.etcd
    if url is None:
        sys.path.insert(0, str(ROOT / "tests" / "integration"))
        try:
            from etcd_server import start_etcd  # type: ignore[import-not-found]

            etcd = start_etcd(Path(tempfile.mkdtemp(prefix="kubeprop-bench-etcd-")))
            url = etcd.url
        except Exception as e:  # no etcd binary: report the reference alone
            print(f"(no etcd: {e})", file=sys.stderr)
    try:
        if url is not None:
            results.append(measure(f"etcd:{url}", profile, args.seed))
    finally:
        if etcd is not None:
            etcd.stop()

    print(f"store machine, {args.examples} examples x {args.steps} steps, seed {args.seed}\n")
    header = f"{'target':<34}{'steps/s':>10}{'ops/s':>10}{'ms/op':>9}{'in target':>11}"
    print(header)
    for r in results:
        print(
            f"{r['target']:<34}{r['steps_per_s']:>10}{r['ops_per_s']:>10}"
            f"{r['ms_per_op_in_target']:>9}{r['target_share']:>10.0%}"
        )
    summary: dict[str, Any] = {"benchmark": "store", "results": results}
    if len(results) == 2:
        ratio = results[1]["ops_per_s"] / results[0]["ops_per_s"]
        summary["etcd_over_reference_ops_per_s"] = round(ratio, 3)
        print(f"\netcd ops/s ÷ reference ops/s: {ratio:.3f}")
    print(json.dumps(summary, sort_keys=True))
    return 0 if all(r["status"] == "passed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
