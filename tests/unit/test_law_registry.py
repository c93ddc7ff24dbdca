"""The law registry loads every module that declares laws, in a fixed order."""

from __future__ import annotations

import importlib
from pathlib import Path

from properties import laws

PROPERTIES = Path(laws.__file__).parent


def test_every_module_declaring_laws_is_loaded() -> None:
    declaring = {
        f"properties.{path.stem}"
        for path in PROPERTIES.glob("*.py")
        if path.stem != "laws" and "\n@law(" in path.read_text(encoding="utf-8")
    }
    assert declaring == set(laws._MODULES), "add the module to properties/laws.py _MODULES"


def test_order_does_not_depend_on_import_order() -> None:
    expected = [law.id for law in laws.laws_for()]
    importlib.import_module("properties.workload_churn")  # already loaded: order unchanged
    assert [law.id for law in laws.laws_for()] == expected
    by_module = [laws._MODULES.index(law.check.__module__) for law in laws.laws_for()]
    assert by_module == sorted(by_module)


def test_a_level_conforms_only_when_every_kubernetes_law_passed() -> None:
    from conformance.plugin import verdicts

    required = [law.id for law in laws.laws_for("api") if law.scope != "strict"]
    passed = {law: {"status": "passed"} for law in required}
    assert verdicts({"api": passed}) == {"api": True}
    skipped = {**passed, required[0]: {"status": "skipped", "reason": "needs capability clock"}}
    assert verdicts({"api": skipped}) == {"api": False}
    assert verdicts({"api": {required[0]: {"status": "passed"}}}) == {"api": False}
