"""Every law can fail: a mutant is aimed at it, and the law alone kills it on the mutant's
stored counterexample (another law may notice first in a full run; that is fine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runner import LEVELS, reference_target, replay
from conformance.scenario import load_scenario
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
        # Checked alone, the law must catch the mutant on its stored counterexample.
        outcome = replay(scenario, reference_target(mutant.level, mutant.name), only=law_id)
        assert outcome.status == "failed", f"{law_id} alone does not kill {mutant.name}"
        assert outcome.law == law_id
