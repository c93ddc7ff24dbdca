"""The hand-written scenarios in fixtures/scenarios hold on the reference, in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runner import replay
from conformance.scenario import load_scenario
from conformance.targets import ReferenceTarget

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_holds_on_the_reference(path: Path) -> None:
    scenario = load_scenario(path)
    outcome = replay(scenario, ReferenceTarget())
    assert outcome.status == "passed", outcome.message
    assert outcome.steps_run == len(scenario.steps)


def test_orphan_scenario_catches_the_orphan_mutant() -> None:
    scenario = load_scenario(SCENARIOS[0].parent / "gc-orphan.yaml")
    outcome = replay(scenario, ReferenceTarget(mutant="orphan-deletes-dependents"))
    assert outcome.law == "api.gc-orphan-keeps-dependents"


@pytest.mark.parametrize(
    ("scenario", "mutant", "law"),
    [
        ("workloads-rollback", "rollback-keeps-old-revision", "workloads.newest-revision-current"),
        (
            "workloads-rollout-under-node-failure",
            "replicaset-counts-terminating",
            "workloads.self-healing",
        ),
        (
            "workloads-daemonset-across-a-cordon",
            "daemonset-skips-cordoned",
            "workloads.daemonset-one-per-node",
        ),
        (
            "workloads-daemonset-across-a-cordon",
            "daemonset-noschedule-evicts",
            "workloads.daemonset-noschedule-keeps-pods",
        ),
    ],
)
def test_workload_scenario_catches_its_mutant(scenario: str, mutant: str, law: str) -> None:
    loaded = load_scenario(SCENARIOS[0].parent / f"{scenario}.yaml")
    outcome = replay(loaded, ReferenceTarget(mutant=mutant))
    assert outcome.law == law
