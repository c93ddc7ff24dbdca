"""Every mutant is killed by the laws of its level, and the clean reference is not.

The budget is `kubeprop mutants`' own (the `mutants` profile: derandomized,
no shrinking), so a mutant that survives here survives in CI too. A kill
only counts when the scenario that made it holds on the clean reference:
a law that also fails without the mutant kills everything and proves nothing.
Mutants marked not `searchable` need a scenario the generator does not reach
within that budget; their kill is their stored counterexample
(`kubeprop mutants --corpus`), which `test_counterexamples.py` replays.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.profiles import PROFILES
from conformance.runner import LEVELS, hello, reference_target, replay, run_level
from conformance.scenario import load_scenario
from properties.laws import LAWS, laws_for
from reference.mutants import MUTANTS

pytestmark = pytest.mark.quality


PROFILE = PROFILES["mutants"]


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_documented_against_a_law_of_its_level(name: str) -> None:
    mutant = MUTANTS[name]
    assert mutant.level in LEVELS, f"mutant {name}: level {mutant.level!r} has no machine"
    laws_for()  # load the catalogue
    assert mutant.law in LAWS, f"mutant {name} expects the unknown law {mutant.law!r}"
    assert LAWS[mutant.law].level == mutant.level
    assert mutant.description and mutant.bug


@pytest.mark.parametrize("name", sorted(n for n, m in MUTANTS.items() if m.searchable))
def test_mutant_is_killed(name: str, tmp_path: Path) -> None:
    mutant = MUTANTS[name]
    target = reference_target(MUTANTS[name].level, name)
    outcome = run_level(
        mutant.level,
        target,
        hello(target),
        PROFILE,
        seed=0,
        shrink=False,
        failures_dir=tmp_path,
        target_spec=f"reference:{name}",
    )
    assert outcome.status == "failed", (
        f"mutant {name} survived the {PROFILE.name} profile ({outcome.status},"
        f" {outcome.examples} examples): {outcome.message or ''}"
    )
    assert outcome.law is not None and outcome.law in outcome.laws
    assert outcome.scenario_file is not None
    scenario = load_scenario(Path(outcome.scenario_file))
    clean = replay(scenario, reference_target(scenario.level))
    assert clean.status == "passed", (
        f"mutant {name} was 'killed' by {outcome.law}, but the scenario that killed it also"
        f" fails on the clean reference ({clean.status}):\n{clean.message}"
    )


@pytest.mark.parametrize("name", sorted(n for n, m in MUTANTS.items() if not m.searchable))
def test_unsearchable_mutant_has_a_stored_kill(name: str) -> None:
    stored = Path(__file__).parents[2] / "fixtures" / "counterexamples" / f"{name}.jsonl"
    assert stored.exists(), f"mutant {name} is not searchable and has no stored counterexample"
    outcome = replay(load_scenario(stored), reference_target(MUTANTS[name].level, name))
    assert outcome.status == "failed", f"the stored counterexample no longer kills {name}"


@pytest.mark.parametrize("level", list(LEVELS))
def test_clean_reference_passes_the_mutants_profile(level: str) -> None:
    target = reference_target(level)
    outcome = run_level(level, target, hello(target), PROFILE, seed=0, shrink=False)
    assert outcome.status == "passed", outcome.report or outcome.message
    assert outcome.examples > 0 and outcome.laws
