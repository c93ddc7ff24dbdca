"""Running levels, replaying scenarios, and what each run reports.

Both the pytest suite and `kubeprop mutants` / `kubeprop replay` go through
here, so a level means the same thing however it is run.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import hypothesis
from hypothesis.errors import Flaky

from conformance import __version__
from conformance.machines.api import ApiMachine
from conformance.machines.base import Driver, LawViolated, TargetAborted
from conformance.machines.nodes import NodesMachine
from conformance.machines.runtime import LevelMachine, Session, bind
from conformance.machines.scheduling import SchedulingMachine
from conformance.machines.services import ServiceMachine
from conformance.machines.store import StoreMachine
from conformance.machines.workloads import WorkloadMachine
from conformance.profiles import Profile, hypothesis_settings
from conformance.scenario import Scenario, Step, save_scenario
from conformance.targets import open_target
from conformance.targets.base import Target
from properties.laws import Law, laws_for
from properties.trace import TargetInfo

__all__ = [
    "LEVELS",
    "LevelOutcome",
    "hello",
    "reference_target",
    "render_failure",
    "replay",
    "run_level",
    "select_laws",
]

#: Levels that have a machine in this version, in the order they run.
LEVELS: dict[str, type[LevelMachine]] = {
    "api": ApiMachine,
    "nodes": NodesMachine,
    "scheduling": SchedulingMachine,
    "workloads": WorkloadMachine,
    "services": ServiceMachine,
    "store": StoreMachine,
}


def reference_target(level: str, mutant: str | None = None) -> Target:
    """The reference (or one of its mutants) as the kind of target `level` drives."""
    spec = f"reference:{mutant}" if mutant else "reference"
    return open_target(spec, kind=LEVELS[level].target_kind)  # type: ignore[arg-type]


class TargetRefused(Exception):
    """The target refused `hello`: it cannot be tested at all."""


def hello(target: Target) -> TargetInfo:
    answer = target.request({"op": "hello", "protocol": 1})
    if not answer.get("ok"):
        status = answer.get("status") or {}
        raise TargetRefused(f"hello was refused: {status.get('code')} {status.get('message')}")
    return TargetInfo.from_hello(answer)


def select_laws(level: str, only: str | None, info: TargetInfo) -> tuple[list[Law], dict[str, str]]:
    """The laws of `level` to run against `info`, and the skipped ones with the reason."""
    laws = laws_for(level)
    if only is not None and only != level:
        laws = [law for law in laws if law.id == only]
    runnable, skipped = [], {}
    for law in laws:
        reason = law.skip_reason(info)
        if reason is None:
            runnable.append(law)
        else:
            skipped[law.id] = reason
    return runnable, skipped


@attrs.frozen
class LevelOutcome:
    """What one run of one level (or one shard of it) found. JSON-able via `to_json`."""

    level: str
    shard: int
    status: Literal["passed", "failed", "fault", "empty"]
    laws: tuple[str, ...]
    skipped: Mapping[str, str]
    examples: int
    steps: int
    seconds: float
    seed: int | None
    law: str | None = None
    message: str | None = None
    report: str | None = None
    scenario_file: str | None = None
    unsupported: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LevelOutcome:
        fields = {f.name for f in attrs.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["laws"] = tuple(values.get("laws") or ())
        values["unsupported"] = tuple(values.get("unsupported") or ())
        return cls(**values)


def run_level(
    level: str,
    target: Target,
    info: TargetInfo,
    profile: Profile,
    *,
    only: str | None = None,
    shard: int = 0,
    seed: int | None = None,
    shrink: bool = True,
    failures_dir: Path | None = None,
    target_spec: str = "",
    machine: type[LevelMachine] | None = None,
) -> LevelOutcome:
    machine = machine or LEVELS[level]
    laws, skipped = select_laws(level, only, info)
    started = time.perf_counter()
    session = Session(target, info, laws)
    base = dict(
        level=level, shard=shard, laws=tuple(law.id for law in laws), skipped=skipped, seed=seed
    )
    missing = sorted(machine.needs - info.capabilities)
    if missing:
        reason = f"level {level} needs capability {', '.join(missing)}"
        skipped = {**skipped, **{law.id: reason for law in laws}}
        base = {**base, "laws": (), "skipped": skipped}
        laws = []
    if not laws:
        return LevelOutcome(**base, status="empty", examples=0, steps=0, seconds=0.0)  # type: ignore[arg-type]
    bound = bind(machine, session, None if seed is None else seed + shard)
    # A cluster without a clock runs in real time (a store level has no time to run).
    realtime = machine.target_kind == "cluster" and not info.has("clock")
    if realtime:
        # Every wait is a wall-clock wait: the profile's few real-time examples, whatever
        # the level's share of a simulated run.
        examples = min(profile.max_examples, profile.realtime_examples)
        profile = attrs.evolve(profile, max_examples=max(profile.shards, examples))
    elif machine.example_share != 1.0:
        examples = max(profile.shards, round(profile.max_examples * machine.example_share))
        profile = attrs.evolve(profile, max_examples=examples)
    # A cluster replays an example exactly only with reset and a clock: shrinking on any
    # other would chase a different failure each time, and Hypothesis would call it flaky.
    shrink = shrink and not (machine.target_kind == "cluster" and not info.has("reset", "clock"))
    try:
        hypothesis.stateful.run_state_machine_as_test(
            bound, settings=hypothesis_settings(profile, shrink=shrink)
        )
    except LawViolated as failure:
        if shrink and info.has("reset", "clock"):
            failure = minimize(failure, target, info, laws, machine)
        return _failed_outcome(session, base, started, failure, failures_dir, target_spec)
    except TargetAborted as aborted:
        if session.first_violation is not None and not info.has("reset", "clock"):
            return _failed_outcome(
                session, base, started, session.first_violation, failures_dir, target_spec, AS_FIRST
            )
        scenario = _scenario(level, aborted.steps, None, target_spec, seed)
        path = _write(scenario, failures_dir, level, "target-fault")
        return LevelOutcome(
            **base,  # type: ignore[arg-type]
            status="fault",
            examples=session.examples,
            steps=session.steps,
            seconds=time.perf_counter() - started,
            message=str(aborted.fault),
            report=_render_fault(aborted, path, target_spec),
            scenario_file=str(path) if path else None,
            unsupported=tuple(sorted(session.unsupported)),
        )
    except Flaky as flaky:
        if session.first_violation is not None and not info.has("reset", "clock"):
            return _failed_outcome(
                session, base, started, session.first_violation, failures_dir, target_spec, AS_FIRST
            )
        return LevelOutcome(
            **base,  # type: ignore[arg-type]
            status="fault",
            examples=session.examples,
            steps=session.steps,
            seconds=time.perf_counter() - started,
            message=(
                f"the target is nondeterministic: a failing example did not fail again ({flaky})"
            ),
        )
    return LevelOutcome(
        **base,  # type: ignore[arg-type]
        status="passed",
        examples=session.examples,
        steps=session.steps,
        seconds=time.perf_counter() - started,
        unsupported=tuple(sorted(session.unsupported)),
    )


#: Said of a failure reported as it first happened, on a target that does not replay exactly
#: (Hypothesis' own replay of the failing example may pass, or fault, on such a target).
AS_FIRST = "\n(the target does not replay exactly: this is the example as it first failed)"


def _failed_outcome(
    session: Session,
    base: Mapping[str, Any],
    started: float,
    failure: LawViolated,
    failures_dir: Path | None,
    target_spec: str,
    note: str = "",
) -> LevelOutcome:
    """A violation as the report shows it, its scenario written to `failures_dir`."""
    level = str(base["level"])
    scenario = _scenario(level, failure.steps, failure.law.id, target_spec, base.get("seed"))
    path = _write(scenario, failures_dir, level, failure.law.id)
    return LevelOutcome(
        **base,
        status="failed",
        examples=session.examples,
        steps=session.steps,
        seconds=time.perf_counter() - started,
        law=failure.law.id,
        message=failure.violation.message,
        report=render_failure(failure, path, target_spec) + note,
        scenario_file=str(path) if path else None,
        unsupported=tuple(sorted(session.unsupported)),
    )


def minimize(
    failure: LawViolated,
    target: Target,
    info: TargetInfo,
    laws: list[Law],
    machine: type[LevelMachine],
    passes: int = 3,
) -> LawViolated:
    """Drop every step whose removal keeps the same law failing (after Hypothesis' shrink).

    Hypothesis shrinks the choices that made the example; replaying on a
    resettable, deterministic target can then also drop steps that only
    mattered to those choices (a no-op `advance`, say), so the stored
    counterexample is 1-minimal: no single step can go.
    """
    best = failure
    for _ in range(passes):
        removed = False
        i = len(best.steps) - 1
        while i >= 1:
            candidate = best.steps[:i] + best.steps[i + 1 :]
            found = _first_violation(candidate, target, info, laws, machine)
            if found is not None and found.law.id == failure.law.id:
                best = found
                removed = True
            i = min(i, len(best.steps)) - 1
        if not removed:
            break
    return best


def _first_violation(
    steps: Sequence[Step],
    target: Target,
    info: TargetInfo,
    laws: list[Law],
    machine: type[LevelMachine],
) -> LawViolated | None:
    driver = Driver(target, info, laws, machine.actions_class)
    try:
        for step in steps:
            driver.run(step.rule, step.args)
    except LawViolated as failure:
        return failure
    except TargetAborted:
        return None
    finally:
        _finish(driver)
    return None


def _finish(driver: Driver) -> None:
    """End a replayed example; a target that faults while clearing up has nothing to add."""
    with contextlib.suppress(TargetAborted):
        driver.finish()


def _scenario(
    level: str, steps: Sequence[Step], law: str | None, target_spec: str, seed: int | None
) -> Scenario:
    about: dict[str, Any] = {
        "kubeprop": __version__,
        "hypothesis": hypothesis.__version__,
        "target": target_spec,
    }
    if law:
        about["law"] = law
    if seed is not None:
        about["seed"] = seed
    return Scenario(level, tuple(steps), about)


def _write(scenario: Scenario, directory: Path | None, level: str, tag: str) -> Path | None:
    if directory is None:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{level}-{tag}-{stamp}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{level}-{tag}-{stamp}-{n}.jsonl"
    return save_scenario(scenario, path)


def _numbered(steps: Sequence[Step]) -> str:
    return "\n".join(f"  {i:>3}. {s.describe()}" for i, s in enumerate(steps, 1))


def _replay_command(path: Path | None, target_spec: str) -> str:
    if path is None:
        return ""
    target = f" --target {json.dumps(target_spec)}" if target_spec else ""
    return f"\nreplay: kubeprop replay {path}{target}"


def render_failure(failure: LawViolated, path: Path | None, target_spec: str = "") -> str:
    law = failure.law
    objects = "\n".join(
        "  " + json.dumps(o, sort_keys=True)[:600] for o in failure.violation.objects if o
    )
    last = "\n".join(
        f"  {json.dumps(ex.request, sort_keys=True)[:300]}\n    -> "
        f"{json.dumps(ex.answer, sort_keys=True)[:300]}"
        for ex in failure.trace.last_step
        if ex.op != "snapshot"
    )
    return (
        f"law {law.id} violated ({law.scope} scope, {law.kind})\n"
        f"  {law.statement}\n"
        f"what happened at step {failure.violation.step + 1}: {failure.violation.message}\n"
        f"scenario ({len(failure.steps)} steps):\n{_numbered(failure.steps)}\n"
        + (f"requests of the last step:\n{last}\n" if last else "")
        + (f"objects involved:\n{objects}\n" if objects else "")
        + _replay_command(path, target_spec)
    )


def _render_fault(aborted: TargetAborted, path: Path | None, target_spec: str) -> str:
    return (
        f"target fault: {aborted.fault}\n"
        f"scenario up to the fault ({len(aborted.steps)} steps):\n{_numbered(aborted.steps)}"
        + _replay_command(path, target_spec)
    )


# -- replay ----------------------------------------------------------------------------------


@attrs.frozen
class ReplayOutcome:
    status: Literal["passed", "failed", "fault", "nondeterministic"]
    message: str
    law: str | None = None
    steps_run: int = 0


def replay(scenario: Scenario, target: Target, *, only: str | None = None) -> ReplayOutcome:
    """Run a scenario step by step, checking the level's laws after each step.

    With `reset` and `clock` the scenario runs twice and the two traces must
    be equal: a target whose replay differs is reported as nondeterministic.
    """
    info = hello(target)
    machine = LEVELS.get(scenario.level)
    if machine is None:
        raise KeyError(f"scenario level {scenario.level!r} has no machine in this version")
    laws, _ = select_laws(scenario.level, only, info)
    outcome, answers = _replay_once(scenario, target, info, laws, machine)
    if outcome.status != "passed" or not info.has("reset", "clock"):
        return outcome
    again, answers_again = _replay_once(scenario, target, info, laws, machine)
    if again.status != "passed" or answers_again != answers:
        return ReplayOutcome(
            "nondeterministic",
            "the same scenario gave different answers on two runs after reset",
            steps_run=len(scenario.steps),
        )
    return outcome


def _replay_once(
    scenario: Scenario,
    target: Target,
    info: TargetInfo,
    laws: list[Law],
    machine: type[LevelMachine],
) -> tuple[ReplayOutcome, tuple[str, ...]]:
    driver = Driver(target, info, laws, machine.actions_class)
    answers = lambda: tuple(json.dumps(ex.answer, sort_keys=True) for ex in driver.trace)  # noqa: E731
    try:
        for step in scenario.steps:
            driver.run(step.rule, step.args)
    except LawViolated as failure:
        _finish(driver)
        outcome = ReplayOutcome(
            "failed", render_failure(failure, None), law=failure.law.id, steps_run=len(driver.steps)
        )
        return outcome, answers()
    except TargetAborted as aborted:
        _finish(driver)
        return ReplayOutcome("fault", str(aborted.fault), steps_run=len(driver.steps)), answers()
    _finish(driver)
    return ReplayOutcome("passed", "every law held", steps_run=len(driver.steps)), answers()
