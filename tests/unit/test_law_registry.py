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
