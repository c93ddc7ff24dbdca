"""The kube: target drives the `api` and `workloads` levels through the Kubernetes API.

The cluster is `kubeprop serve` with its clock at 20 simulated seconds per
wall second (the kubeconfig it writes says so, and the target's waits follow).
The reference passes these levels, so through the API it must pass too:
what fails here is the kube: target or `kubeprop serve`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from served import REPO, Served, kubeprop_serve

pytestmark = pytest.mark.integration

#: Wall seconds a level may take before the test calls it hung (a guard, not a measurement).
HANG_GUARD = 900


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with kubeprop_serve(tmp_path_factory.mktemp("kube"), "--time-scale", "20") as server:
        yield server


def _run(served: Served, tmp: Path, level: str, examples: int) -> tuple[int, dict[str, Any], str]:
    report = tmp / f"{level}.json"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--target",
            f"kube:{served.kubeconfig}",
            "--only",
            level,
            "--examples",
            str(examples),
            "--seed",
            "1",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    output = process.stdout + process.stderr
    return process.returncode, json.loads(report.read_text()) if report.exists() else {}, output


def _results(report: dict[str, Any]) -> dict[str, str]:
    return {
        law: entry["status"]
        for laws in report.get("levels", {}).values()
        for law, entry in laws.items()
    }


@pytest.mark.parametrize(("level", "examples"), [("api", 8), ("workloads", 4)])
def test_a_level_passes_through_the_kubernetes_api(
    served: Served, tmp_path: Path, level: str, examples: int
) -> None:
    code, report, output = _run(served, tmp_path, level, examples)
    assert code == 0, output
    results = _results(report)
    assert "passed" in results.values(), output
    assert "failed" not in results.values(), output
    skipped = {law for law, result in results.items() if result == "skipped"}
    if level == "api":
        # Laws that need the target's clock or watch are skipped, and named.
        assert {"api.refusal-changes-nothing", "api.watch-replays-history"} <= skipped
    else:
        assert "workloads.self-healing" in skipped  # needs machines the API cannot add


def test_nothing_is_left_behind(served: Served, tmp_path: Path) -> None:
    """Each example's namespaces are deleted after it: the cluster ends with its own only."""
    code, _, output = _run(served, tmp_path, "api", 2)
    assert code == 0, output
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(served.kubeconfig)))
    deadline = time.monotonic() + HANG_GUARD
    left = ["?"]
    while left and time.monotonic() < deadline:
        left = [
            ns.metadata.name for ns in api.list_namespace().items if ns.metadata.name[:3] == "kp-"
        ]
        time.sleep(0.2)
    assert left == [], "the levels' finalizers are released and every namespace goes"
