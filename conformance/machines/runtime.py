"""Hypothesis state machines on top of the driver: one `LevelMachine` subclass per level.

Rules only choose an action and its arguments and call `do`; the action
itself lives in the level's `Actions` class, which is what replay runs.
Machines are bound to a `Session` (target, laws, counters) before running.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from hypothesis.stateful import RuleBasedStateMachine

from conformance.machines.base import Actions, Driver, LawViolated, TargetAborted
from conformance.targets.base import Target
from properties.laws import Law
from properties.trace import TargetInfo

__all__ = ["LevelMachine", "Session", "bind"]


@attrs.define
class Session:
    """What the machines of one run share: the target, its self-description, the laws."""

    target: Target
    info: TargetInfo
    laws: list[Law]
    unsupported: set[str] = attrs.field(factory=set)
    examples: int = 0
    steps: int = 0
    #: The first violation found: what a run reports when a target that is not
    #: deterministic passes the replay Hypothesis makes of a failing example.
    first_violation: LawViolated | None = None


class LevelMachine(RuleBasedStateMachine):
    actions_class: ClassVar[type[Actions]]
    session: ClassVar[Session]
    #: The kind of target the level drives: a cluster (docs/protocol.md) or a store.
    target_kind: ClassVar[str] = "cluster"
    final_settle_seconds: ClassVar[float] = 600
    #: The share of a profile's example budget this level spends: a level whose steps cost
    #: many times another's gets fewer examples, so that a profile keeps its time budget.
    example_share: ClassVar[float] = 1.0
    #: Capabilities without which the level does not run at all (docs/protocol.md's table
    #: of levels): its laws are then reported skipped, with the missing capability.
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.session.examples += 1
        self.driver = Driver(
            self.session.target,
            self.session.info,
            self.session.laws,
            self.actions_class,
            unsupported=self.session.unsupported,
        )
        self._failed = False

    def do(self, rule: str, **args: Any) -> None:
        self.session.steps += 1
        try:
            self.driver.run(rule, args)
        except LawViolated as violation:
            self._failed = True
            if self.session.first_violation is None:
                self.session.first_violation = violation
            raise
        except BaseException:  # the target faulted: no final settle
            self._failed = True
            raise

    def can(self, capability: str, op: str | None = None) -> bool:
        if capability not in self.session.info.capabilities:
            return False
        return op is None or op not in self.session.unsupported

    def teardown(self) -> None:
        """End every example settled, so that liveness laws judge where the cluster got to."""
        try:
            if not self._failed and self.driver.steps:
                self.do("settle", max_seconds=self.final_settle_seconds)
        finally:
            try:
                self.driver.finish()
            except TargetAborted:
                if not self._failed:
                    raise
                # The example already failed: clearing away must not hide why.


def bind(machine: type[LevelMachine], session: Session, seed: int | None = None) -> type[Any]:
    bound = type(machine.__name__, (machine,), {"session": session})
    if seed is not None:
        bound._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    return bound
