"""Shared by the integration tests: how to start the `kubeprop` CLI as a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def _kubeprop_argv() -> list[str]:
    script = Path(sys.executable).with_name("kubeprop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "conformance.cli"]


@pytest.fixture(scope="session")
def kubeprop_argv() -> list[str]:
    """The command that runs this checkout's CLI: the console script next to the interpreter."""
    return _kubeprop_argv()
