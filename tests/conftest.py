"""Shared by the tests: how to start the `kubeprop` CLI as a subprocess; the cycle collector
tuned as the `kubeprop` command tunes it (`conformance.collector`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance.collector import tune_collector


def pytest_configure(config: pytest.Config) -> None:
    tune_collector()


def _kubeprop_argv() -> list[str]:
    script = Path(sys.executable).with_name("kubeprop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "conformance.cli"]


@pytest.fixture(scope="session")
def kubeprop_argv() -> list[str]:
    """The command that runs this checkout's CLI: the console script next to the interpreter."""
    return _kubeprop_argv()
