"""The pytest plugin (entry point `pytest11`): runs the conformance levels as tests.

`pytest --pyargs conformance.suite --target ... --profile ... --only ...`
runs every level that has a machine, each split into shards (one test item
per shard, each its own Hypothesis run with its own seed), so that
pytest-xdist (`-n`) spreads them over cores. Each item records its
`LevelOutcome` in `user_properties`, which pytest-xdist carries back to the
controller and JUnit XML keeps; `--kubeprop-json FILE` writes the versioned
JSON report. The plugin is inert unless the suite is collected.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import hypothesis
import pytest

from conformance import __version__
from conformance.collector import tune_collector
from conformance.profiles import PROFILES, Profile
from conformance.runner import LEVELS, LevelOutcome, hello, run_level
from conformance.targets import Target, TargetFault, TargetKind, open_target, realtime, serves
from properties.laws import LAWS, UnknownLaw, laws_for
from properties.trace import TargetInfo

__all__ = [
    "REPORT_SCHEMA",
    "levels_for",
    "outcome_of",
    "shards_for",
    "summarize",
    "verdicts",
]

REPORT_SCHEMA = "kubeprop/report"
REPORT_VERSION = 1
_PROPERTY = "kubeprop"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubeprop", "kubeprop conformance")
    group.addoption(
        "--target", default="reference", help="the target to check (default: reference)"
    )
    group.addoption(
        "--profile", default="quick", choices=sorted(PROFILES), help="how hard to try (quick)"
    )
    group.addoption(
        "--only", default=None, help="run one level (api) or one law (api.uid-identity)"
    )
    group.addoption("--seed", type=int, default=None, help="the run's seed (default: random)")
    group.addoption("--shards", type=int, default=None, help="shards per level (profile's default)")
    group.addoption(
        "--examples", type=int, default=None, help="examples per level (the profile's by default)"
    )
    group.addoption("--request-timeout", type=float, default=30.0, help="seconds per request")
    group.addoption("--kubeprop-json", default=None, help="write the JSON report to this file")
    group.addoption(
        "--kubeprop-failures",
        default="kubeprop-failures",
        help="directory for the scenario files of failures",
    )


def levels_for(only: str | None) -> list[str]:
    """The levels a run covers: all with a machine, or the one `only` names or contains."""
    if only is None:
        return list(LEVELS)
    if only in LEVELS:
        return [only]
    laws_for()  # load the catalogue
    if only in LAWS and LAWS[only].level in LEVELS:
        return [LAWS[only].level]
    raise UnknownLaw(only)


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis draws constants from the project's loaded modules; load the same ones in
    # `kubeprop run`, its xdist workers and plain pytest, so that a seed means one run.
    import conformance.cli  # noqa: F401

    if config.getoption("--seed") is None:
        workerinput = getattr(config, "workerinput", None)
        seed = workerinput.get("kubeprop_seed") if workerinput else None
        config.option.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    config.pluginmanager.register(_Recorder(config), "kubeprop-recorder")


def pytest_configure_node(node: Any) -> None:  # pytest-xdist hook, controller side
    node.workerinput["kubeprop_seed"] = node.config.getoption("--seed")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kubeprop_level" not in metafunc.fixturenames:
        return
    tune_collector()  # this process runs the suite (a worker of `kubeprop run`, or plain pytest)
    config = metafunc.config
    shards = _profile(config).shards
    levels = levels_for(config.getoption("--only"))
    params = [(level, shard) for level in levels for shard in range(shards)]
    metafunc.parametrize(
        ("kubeprop_level", "kubeprop_shard"),
        params,
        ids=[f"{level}-{shard}" for level, shard in params],
    )


@attrs.define
class KubepropSession:
    """Per worker: the open targets (one per kind the spec serves), and the run's settings."""

    spec: str
    profile: Profile
    only: str | None
    seed: int
    failures: Path
    request_timeout: float
    _targets: dict[str, tuple[Target, TargetInfo]] = attrs.field(factory=dict)

    def target(self, kind: TargetKind) -> tuple[Target, TargetInfo]:
        if kind not in self._targets:
            target = open_target(self.spec, kind=kind, request_timeout=self.request_timeout)
            try:
                self._targets[kind] = (target, hello(target))
            except BaseException:
                target.close()
                raise
        return self._targets[kind]

    def run(self, level: str, shard: int) -> LevelOutcome:
        kind = LEVELS[level].target_kind
        if kind not in serves(self.spec):
            return LevelOutcome(
                level=level,
                shard=shard,
                status="empty",
                laws=(),
                skipped={law.id: f"needs a {kind} target" for law in laws_for(level)},
                examples=0,
                steps=0,
                seconds=0.0,
                seed=self.seed,
            )
        target, info = self.target(kind)  # type: ignore[arg-type]
        return run_level(
            level,
            target,
            info,
            self.profile,
            only=self.only,
            shard=shard,
            seed=self.seed,
            failures_dir=self.failures,
            target_spec=self.spec,
        )

    def info(self) -> TargetInfo | None:
        found = next(iter(self._targets.values()), None)
        return found[1] if found else None

    def close(self) -> None:
        for target, _ in self._targets.values():
            target.close()


def shards_for(profile: Profile, spec: str, given: int | None = None) -> int:
    """Shards per level: as given, else the profile's, but one for a real-time target.

    Hypothesis opens every run with its simplest example; a real-time target's
    few examples are better spent in one run than in several that each open so.
    """
    if given:
        return given
    return 1 if realtime(spec) else profile.shards


def _profile(config: pytest.Config) -> Profile:
    profile = PROFILES[config.getoption("--profile")]
    examples = config.getoption("--examples")
    if examples is not None:
        profile = attrs.evolve(profile, max_examples=examples, realtime_examples=examples)
    shards = shards_for(profile, config.getoption("--target"), config.getoption("--shards"))
    return attrs.evolve(profile, shards=shards)


@pytest.fixture(scope="session")
def kubeprop_session(pytestconfig: pytest.Config) -> Iterator[KubepropSession]:
    session = KubepropSession(
        spec=pytestconfig.getoption("--target"),
        profile=_profile(pytestconfig),
        only=pytestconfig.getoption("--only"),
        seed=pytestconfig.getoption("--seed"),
        failures=Path(pytestconfig.getoption("--kubeprop-failures")),
        request_timeout=pytestconfig.getoption("--request-timeout"),
    )
    yield session
    session.close()


def record(
    item_properties: list[tuple[str, object]], outcome: LevelOutcome, info: TargetInfo | None
) -> None:
    payload = outcome.to_json()
    if info is not None:
        payload["target_info"] = {
            "name": info.name,
            "version": info.version,
            "kubernetesVersion": info.kubernetes_version,
            "capabilities": sorted(info.capabilities),
        }
    item_properties.append((_PROPERTY, json.dumps(payload)))


def run_shard(
    session: KubepropSession, request: pytest.FixtureRequest, level: str, shard: int
) -> None:
    """The body of the suite's one test: run a shard, record it, fail the item on a finding."""
    try:
        outcome = session.run(level, shard)
    except TargetFault as fault:
        outcome = LevelOutcome(
            level=level,
            shard=shard,
            status="fault",
            laws=(),
            skipped={},
            examples=0,
            steps=0,
            seconds=0.0,
            seed=session.seed,
            message=str(fault),
            report=f"target fault: {fault}",
        )
    record(request.node.user_properties, outcome, session.info())
    if outcome.status == "failed":
        pytest.fail(outcome.report or outcome.message or "law violated", pytrace=False)
    if outcome.status == "fault":
        pytest.fail(outcome.report or outcome.message or "target fault", pytrace=False)
    if outcome.status == "empty":
        reasons = "; ".join(f"{k}: {v}" for k, v in outcome.skipped.items()) or "no laws selected"
        pytest.skip(f"no law of level {level} can run against this target ({reasons})")


def outcome_of(report: pytest.TestReport) -> tuple[LevelOutcome, dict[str, Any]] | None:
    for name, value in report.user_properties:
        if name == _PROPERTY:
            data = json.loads(str(value))
            return LevelOutcome.from_json(data), data.get("target_info") or {}
    return None


def summarize(outcomes: list[LevelOutcome]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per level and law: passed / failed / skipped (with why) / not-run, and the examples."""
    levels: dict[str, dict[str, dict[str, Any]]] = {}
    for outcome in outcomes:
        laws = levels.setdefault(outcome.level, {})
        for law_id, reason in outcome.skipped.items():
            laws[law_id] = {"status": "skipped", "reason": reason}
        for law_id in outcome.laws:
            entry = laws.setdefault(law_id, {"status": "passed", "examples": 0, "shards": 0})
            if entry["status"] == "skipped":
                continue
            entry["examples"] = entry.get("examples", 0) + outcome.examples
            entry["shards"] = entry.get("shards", 0) + 1
            if outcome.status == "failed" and outcome.law == law_id:
                entry["status"] = "failed"
                entry["message"] = outcome.message
                entry["scenario"] = outcome.scenario_file
            elif outcome.status == "fault" and entry["status"] == "passed":
                entry["status"] = "not-run"
                entry["reason"] = "target fault"
    return levels


def verdicts(summary: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, bool]:
    """Per level: does the target conform? (docs/protocol.md: every law of kubernetes scope
    of the level passed; one skipped for want of a capability, or left out by `--only`, is
    not passed.) Strict laws do not count."""
    found: dict[str, bool] = {}
    for level, laws in summary.items():
        required = [law.id for law in laws_for(level) if law.scope != "strict"]
        found[level] = all((laws.get(law) or {}).get("status") == "passed" for law in required)
    return found


class _Recorder:
    """Collects outcomes on the controller (xdist ships them back) and writes the report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: list[LevelOutcome] = []
        self.target_info: dict[str, Any] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        found = outcome_of(report)
        if found is not None:
            self.outcomes.append(found[0])
            self.target_info = found[1] or self.target_info

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        path = self.config.getoption("--kubeprop-json")
        if not path or hasattr(self.config, "workerinput"):
            return
        report = {
            "schema": REPORT_SCHEMA,
            "version": REPORT_VERSION,
            "kubeprop": __version__,
            "hypothesis": hypothesis.__version__,
            "target": self.config.getoption("--target"),
            "targetInfo": self.target_info,
            "profile": self.config.getoption("--profile"),
            "only": self.config.getoption("--only"),
            "seed": self.config.getoption("--seed"),
            "levels": summarize(self.outcomes),
            "conforms": verdicts(summarize(self.outcomes)),
            "outcomes": [
                o.to_json() for o in sorted(self.outcomes, key=lambda o: (o.level, o.shard))
            ],
        }
        Path(path).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
