"""The store level passes against a real etcd, as against the reference store (the same laws)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conformance.profiles import Profile
from conformance.runner import hello, run_level
from conformance.targets import open_target

pytestmark = pytest.mark.integration

SMALL = Profile("small", 40, 25, True, 1, "a small derandomized budget for a real etcd")


def test_store_level_passes_on_real_etcd(etcd_url: str) -> None:
    target = open_target(f"etcd:{etcd_url}", kind="store")
    try:
        outcome = run_level("store", target, hello(target), SMALL, seed=0, shrink=False)
    finally:
        target.close()
    assert outcome.status == "passed", outcome.report or outcome.message
    assert outcome.examples >= SMALL.max_examples and outcome.steps > SMALL.max_examples


def test_cli_reports_the_same_store_laws_for_etcd_and_the_reference(
    etcd_url: str, kubeprop_argv: list[str], tmp_path: Path
) -> None:
    reports = {}
    for name, spec in (("etcd", f"etcd:{etcd_url}"), ("reference", "reference")):
        path = tmp_path / f"{name}.json"
        result = subprocess.run(
            [
                *kubeprop_argv,
                "run",
                "--only",
                "store",
                "--target",
                spec,
                "--examples",
                "24",
                "--seed",
                "1",
                "--json",
                str(path),
                "--failures-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        reports[name] = json.loads(path.read_text())
    etcd_laws = reports["etcd"]["levels"]["store"]
    reference_laws = reports["reference"]["levels"]["store"]
    assert etcd_laws.keys() == reference_laws.keys()
    assert {law: e["status"] for law, e in etcd_laws.items()} == {
        law: "skipped" if law == "store.backup-restores-everything" else "passed"
        for law in etcd_laws
    }
    assert all(e["status"] == "passed" for e in reference_laws.values())
