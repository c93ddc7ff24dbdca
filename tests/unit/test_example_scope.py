"""The driver tells a target without `reset` where each example starts and ends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from conformance.machines.api import ApiActions
from conformance.machines.base import Driver, TargetAborted
from conformance.profiles import PROFILES
from conformance.runner import hello, run_level
from conformance.targets import ReferenceTarget, TargetFault
from conformance.targets.base import ExampleScoped


class Scoped:
    """The reference, with example hooks that record their calls (and may fail)."""

    description = "scoped reference"

    def __init__(self, fail_end: bool = False) -> None:
        self.inner = ReferenceTarget()
        self.calls: list[str] = []
        self.fail_end = fail_end

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self.inner.request(request)

    def close(self) -> None:
        self.inner.close()

    def begin_example(self) -> None:
        self.calls.append("begin")

    def end_example(self) -> None:
        self.calls.append("end")
        if self.fail_end:
            raise TargetFault("cannot delete the namespaces")


def test_a_scoped_target_is_recognised() -> None:
    assert isinstance(Scoped(), ExampleScoped)
    assert not isinstance(ReferenceTarget(), ExampleScoped)


def test_each_example_begins_once_and_ends_once() -> None:
    target = Scoped()
    driver = Driver(target, hello(target), [], ApiActions)
    driver.run("reset", {"seed": 0})
    driver.run("settle", {"max_seconds": 10})
    driver.finish()
    driver.finish()
    assert target.calls == ["begin", "end"]


def test_a_fault_while_clearing_away_is_the_targets() -> None:
    target = Scoped(fail_end=True)
    driver = Driver(target, hello(target), [], ApiActions)
    driver.run("reset", {"seed": 0})
    with pytest.raises(TargetAborted, match="cannot delete the namespaces"):
        driver.finish()


def test_a_level_run_scopes_every_example() -> None:
    target = Scoped()
    profile = attrs.evolve(PROFILES["quick"], max_examples=3, shards=1, steps=5)
    outcome = run_level("api", target, hello(target), profile, seed=0)
    assert outcome.status == "passed", outcome.report
    assert target.calls.count("begin") == target.calls.count("end") >= 1
    assert target.calls[::2] == ["begin"] * (len(target.calls) // 2)
