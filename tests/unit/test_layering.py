"""The dependency rules of DESIGN.md, and the purity of `reference` and `properties`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IMPORTS = {
    "properties": {"reference", "conformance"},
    "reference": {"conformance"},
}
# No I/O, wall clock or global randomness in the pure packages.
IMPURE_MODULES = {"random", "time", "socket", "subprocess", "uuid", "os", "threading", "asyncio"}
IMPURE_CALLS = {"open", "print", "input"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_dependency_direction(package: str) -> None:
    offenders = []
    for path in _modules(package):
        for name in _imports(ast.parse(path.read_text())):
            if name.split(".")[0] in FORBIDDEN_IMPORTS[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == [], "DESIGN.md dependency rules broken:\n" + "\n".join(offenders)


@pytest.mark.parametrize("package", ["reference", "properties"])
def test_purity(package: str) -> None:
    offenders = []
    for path in _modules(package):
        tree = ast.parse(path.read_text())
        for name in _imports(tree):
            if name.split(".")[0] in IMPURE_MODULES:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in IMPURE_CALLS
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.func.id}()")
    assert offenders == [], f"{package}/ must stay pure:\n" + "\n".join(offenders)
