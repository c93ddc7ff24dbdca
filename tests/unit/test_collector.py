"""`tune_collector` raises the young generation's threshold, and never lowers one."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from conformance.collector import YOUNG_THRESHOLD, tune_collector


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("thresholds")
def test_raises_the_default_young_threshold_and_keeps_the_older_ones() -> None:
    gc.set_threshold(700, 10, 10)
    tune_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("thresholds")
def test_keeps_a_higher_threshold_set_by_the_program() -> None:
    gc.set_threshold(YOUNG_THRESHOLD * 4, 5, 5)
    tune_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 4, 5, 5)


@pytest.mark.usefixtures("thresholds")
def test_leaves_a_disabled_collector_alone() -> None:
    gc.set_threshold(0, 10, 10)
    tune_collector()
    assert gc.get_threshold() == (0, 10, 10)
