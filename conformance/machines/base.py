"""The driver every level's machine runs on: act, record, check.

A level is an `Actions` class — named actions, each a few protocol
requests — plus a Hypothesis state machine that chooses actions and their
arguments. The `Driver` runs one action as one scenario *step*: it sends the
action's requests, takes a snapshot, folds the exchanges into the trace and
checks every law on the new step. Replaying a scenario is the same driver
fed the recorded steps, so a shrunk counterexample reruns exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from conformance.scenario import Step
from conformance.targets.base import ExampleScoped, Target, TargetFault
from properties.laws import Law
from properties.trace import Exchange, TargetInfo, Trace, Violation

__all__ = [
    "Actions",
    "ClusterActions",
    "Driver",
    "LawViolated",
    "PodActions",
    "TargetAborted",
    "Unsupported",
    "action",
]


class LawViolated(AssertionError):
    """A law found the trace at fault. Carries everything a report needs."""

    def __init__(self, violation: Violation, law: Law, steps: Sequence[Step], trace: Trace) -> None:
        super().__init__(f"{law.id}: {violation.message}")
        self.violation = violation
        self.law = law
        self.steps = tuple(steps)
        self.trace = trace


class TargetAborted(BaseException):
    """The target faulted: stop the run at once, without shrinking.

    A BaseException, so that Hypothesis does not treat it as a failing
    example to shrink: a crashed `cmd:` target cannot serve another example.
    """

    def __init__(self, fault: TargetFault, steps: Sequence[Step]) -> None:
        super().__init__(str(fault))
        self.fault = fault
        self.steps = tuple(steps)


class Unsupported(Exception):
    """The target answered 501 to an op the action needs; the action is skipped."""


ActionFn = Callable[..., None]


def action(fn: ActionFn) -> ActionFn:
    """Mark a method of an `Actions` class as a scenario action (a rule)."""
    fn.__kubeprop_action__ = True  # type: ignore[attr-defined]
    return fn


class Actions:
    """Base of a level's actions. Subclasses define `@action` methods."""

    level: ClassVar[str] = ""
    #: The requests that observe the target after every step, in order.
    observations: ClassVar[tuple[Mapping[str, Any], ...]] = ({"op": "snapshot"},)

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def send(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self.driver.send(request)

    @classmethod
    def names(cls) -> list[str]:
        return sorted(
            name for name in dir(cls) if getattr(getattr(cls, name), "__kubeprop_action__", False)
        )


class ClusterActions(Actions):
    """Actions every cluster level shares: time, and the nemesis's grip on controllers."""

    @action
    def advance(self, seconds: float) -> None:
        self.send({"op": "advance", "seconds": seconds})

    @action
    def settle(self, max_seconds: float) -> None:
        self.send({"op": "settle", "max_seconds": max_seconds})

    @action
    def lag(self, controller: str, seconds: float) -> None:
        self.send({"op": "controller.lag", "name": controller, "seconds": seconds})

    @action
    def restart(self, controller: str) -> None:
        self.send({"op": "controller.restart", "name": controller})


class PodActions(ClusterActions):
    """Actions of the levels whose pods live in `default`: waiting after an action, and
    deleting a pod gracefully or by force."""

    namespace: ClassVar[str] = "default"

    def _then_wait(self, wait: float) -> None:
        """Let time pass after an action, so that one step is a cause and its effect."""
        if wait:
            self.advance(wait)

    @action
    def delete_pod(self, name: str, force: bool, wait: float = 0) -> None:
        request: dict[str, Any] = {
            "op": "delete",
            "kind": "Pod",
            "namespace": self.namespace,
            "name": name,
        }
        if force:
            request["gracePeriodSeconds"] = 0
        self.send(request)
        self._then_wait(wait)


@attrs.define
class Driver:
    """Runs actions against one target for one example and checks the laws after each step."""

    target: Target
    info: TargetInfo
    laws: Sequence[Law]
    actions_class: type[Actions]
    #: Ops answered 501 so far in this run (shared across examples by the caller).
    unsupported: set[str] = attrs.field(factory=set)
    trace: Trace = attrs.field(factory=Trace)
    steps: list[Step] = attrs.field(factory=list)
    _current: list[Exchange] = attrs.field(factory=list)
    _actions: Actions | None = None
    _begun: bool = False

    @property
    def actions(self) -> Actions:
        if self._actions is None:
            self._actions = self.actions_class(self)
        return self._actions

    def run(self, rule: str, args: Mapping[str, Any]) -> None:
        """One scenario step: the action, then a snapshot, then every law on the new step."""
        fn = getattr(self.actions, rule, None)
        if fn is None or not getattr(fn, "__kubeprop_action__", False):
            raise KeyError(f"level {self.actions_class.level!r} has no action {rule!r}")
        self.steps.append(Step(rule, dict(args)))
        self._current = []
        if not self._begun:
            self._begin()
        try:
            fn(**args)
            for observation in self.actions.observations:
                self.send(observation, keep=False)
        except Unsupported:
            pass
        self.trace = self.trace.add_step(self._current)
        self.check()

    def _begin(self) -> None:
        """Tell a target without `reset` that an example starts (see `ExampleScoped`)."""
        self._begun = True
        if isinstance(self.target, ExampleScoped):
            try:
                self.target.begin_example()
            except TargetFault as fault:
                raise TargetAborted(fault, self.steps) from None

    def finish(self) -> None:
        """End the example: a target without `reset` clears away what the example made."""
        if self._begun and isinstance(self.target, ExampleScoped):
            self._begun = False
            try:
                self.target.end_example()
            except TargetFault as fault:
                raise TargetAborted(fault, self.steps) from None

    def send(self, request: Mapping[str, Any], *, keep: bool = True) -> dict[str, Any]:
        """Send one request, record the exchange, and return the answer.

        With `keep` the caller gets its own copy of the answer, so an action
        that edits an object it read cannot rewrite what the trace recorded.
        """
        request = copy.deepcopy(dict(request))
        op = str(request.get("op"))
        if op in self.unsupported:
            raise Unsupported(op)
        try:
            answer = self.target.request(request)
        except TargetFault as fault:
            raise TargetAborted(fault, self.steps) from None
        code = (answer.get("status") or {}).get("code") if not answer.get("ok") else None
        if code == 501:
            self.unsupported.add(op)
            raise Unsupported(op)
        if code == 500:
            raise TargetAborted(
                TargetFault(
                    f"the target failed internally: {answer['status'].get('message', '')}",
                    request=request,
                ),
                self.steps,
            )
        self._current.append(Exchange(len(self.steps) - 1, self.steps[-1].rule, request, answer))
        return copy.deepcopy(answer) if keep else answer

    def check(self) -> None:
        for law in self.laws:
            for violation in law.check(self.trace, self.info):
                raise LawViolated(violation, law, self.steps, self.trace)
