"""The stored counterexamples in fixtures/counterexamples: one per mutant, short, and still true.

Each file, MUTANT.jsonl, is the shrunk scenario that kills that mutant. As a
regression corpus it must keep failing the mutant with the law it names and
keep passing the clean reference, and stay short enough to read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runner import reference_target, replay
from conformance.scenario import Scenario, load_scenario
from properties.laws import LAWS, laws_for
from reference.mutants import MUTANTS

pytestmark = pytest.mark.quality


DIRECTORY = Path(__file__).resolve().parents[2] / "fixtures" / "counterexamples"
FILES = sorted(DIRECTORY.glob("*.jsonl"))
MAX_STEPS = 10
REGENERATE = "run `kubeprop mutants --counterexamples fixtures/counterexamples`"


def test_one_counterexample_per_mutant() -> None:
    stored = {path.stem for path in FILES}
    missing = sorted(set(MUTANTS) - stored)
    unknown = sorted(stored - set(MUTANTS))
    assert not missing, f"no stored counterexample for mutant(s) {', '.join(missing)}: {REGENERATE}"
    assert not unknown, (
        f"stored counterexample(s) for no known mutant: {', '.join(unknown)};"
        f" remove them from {DIRECTORY} or {REGENERATE}"
    )


@pytest.fixture(params=FILES, ids=lambda p: p.stem)
def stored(request: pytest.FixtureRequest) -> tuple[str, Scenario]:
    path: Path = request.param
    return path.stem, load_scenario(path)


def test_counterexample_is_short(stored: tuple[str, Scenario]) -> None:
    mutant, scenario = stored
    assert 1 <= len(scenario.steps) <= MAX_STEPS, (
        f"{mutant}.jsonl has {len(scenario.steps)} steps (at most {MAX_STEPS}): {REGENERATE}"
    )


def test_counterexample_header_names_its_mutant_and_law(stored: tuple[str, Scenario]) -> None:
    mutant, scenario = stored
    assert mutant in MUTANTS, f"{mutant}.jsonl names no known mutant: {REGENERATE}"
    assert scenario.level == MUTANTS[mutant].level
    assert scenario.about.get("target") == f"reference:{mutant}"
    law = scenario.about.get("law")
    laws_for()  # load the catalogue
    assert law in LAWS, f"{mutant}.jsonl names the unknown law {law!r}: {REGENERATE}"
    assert LAWS[law].level == scenario.level


def test_counterexample_fails_its_mutant_with_its_law(stored: tuple[str, Scenario]) -> None:
    mutant, scenario = stored
    outcome = replay(scenario, reference_target(scenario.level, mutant))
    assert outcome.status == "failed", f"{mutant}: {outcome.status}: {outcome.message}"
    assert outcome.law == scenario.about.get("law"), outcome.message
    assert outcome.steps_run == len(scenario.steps), "the last step must be the one that fails"


def test_counterexample_passes_the_cleanreference_target(stored: tuple[str, Scenario]) -> None:
    mutant, scenario = stored
    outcome = replay(scenario, reference_target(scenario.level))
    assert outcome.status == "passed", f"{mutant}: {outcome.status}: {outcome.message}"
    assert outcome.steps_run == len(scenario.steps)
