"""Every law can fail: some mutant exists that it kills, proven by a stored counterexample."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runner import LEVELS, replay
from conformance.scenario import load_scenario
from conformance.targets import ReferenceTarget
from properties.laws import laws_for
from reference.mutants import MUTANTS

pytestmark = pytest.mark.quality

COUNTEREXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "counterexamples"
LAWS = [law.id for level in LEVELS for law in laws_for(level)]


@pytest.mark.parametrize("law_id", LAWS)
def test_law_has_a_mutant_it_kills(law_id: str) -> None:
    killers = [m for m in MUTANTS.values() if m.law == law_id]
    assert killers, f"no mutant is aimed at {law_id}: add one to reference/mutants.py"
    for mutant in killers:
        scenario = load_scenario(COUNTEREXAMPLES / f"{mutant.name}.jsonl")
        outcome = replay(scenario, ReferenceTarget(mutant=mutant.name))
        assert outcome.status == "failed", f"{mutant.name}: {outcome.message}"
        assert outcome.law == law_id, f"{mutant.name} was caught by {outcome.law}, not {law_id}"
