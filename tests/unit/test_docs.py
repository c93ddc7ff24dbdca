"""Generated docs stay current, and the published protocol matches the contract."""

from __future__ import annotations

from pathlib import Path

from conformance.cli import catalogue_markdown
from properties.laws import laws_for

ROOT = Path(__file__).resolve().parents[2]


def test_property_catalogue_is_current() -> None:
    expected = catalogue_markdown(laws_for())
    actual = (ROOT / "docs" / "properties.md").read_text()
    assert actual == expected, "run `kubeprop properties --markdown > docs/properties.md`"


def test_every_law_names_what_it_generalises_or_is_new() -> None:
    for law in laws_for():
        assert law.statement.endswith("."), law.id
        assert law.level == law.id.split(".")[0]
