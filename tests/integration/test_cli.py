"""The `kubeprop` command line, run as a user runs it: a subprocess in a scratch directory.

Runs stay small (one law, or one level, of the quick profile; the `mutants`
profile's single derandomized shard where a failure is wanted) so that each
`kubeprop run` takes seconds. The subprocess timeout is a guard against a
hang, never an assertion on elapsed time (a project rule).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from properties.laws import laws_for
from reference.mutants import MUTANTS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COUNTEREXAMPLES = sorted((REPO / "fixtures" / "counterexamples").glob("*.jsonl"))
FAULTY = Path(__file__).parent / "fake_targets" / "faulty_reference.py"
#: Seconds after which a stuck CLI is killed: a hang guard, not a measurement.
HANG_GUARD = 180
SEED = 20250101


def _flat(text: str) -> str:
    """Undo rich's line wrapping so that messages can be searched as one line."""
    return " ".join(text.split())


def _start(argv: list[str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*argv, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"kubeprop {proc.args} hung; output so far:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kubeprop(argv: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _finish(_start(argv, cwd, *args))


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr}"


def _cmd(*argv: str) -> str:
    return "cmd:" + shlex.join(argv)


@pytest.fixture(scope="session")
def stdio_reference(kubeprop_argv: list[str]) -> str:
    """`--target` for the reference served over stdio by `kubeprop target reference`."""
    return _cmd(*kubeprop_argv, "target", "reference")


# -- run: one law, reports ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_law_run(
    kubeprop_argv: list[str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One quick-profile run of one law, over two pytest-xdist workers, with both reports."""
    cwd = tmp_path_factory.mktemp("one-law")
    result = kubeprop(
        kubeprop_argv,
        cwd,
        "run",
        "--only",
        "api.uid-identity",
        "--seed",
        str(SEED),
        "--jobs",
        "2",
        "--json",
        "r.json",
        "--junit",
        "j.xml",
    )
    return result, cwd


def test_run_one_law_passes_and_writes_the_json_report(
    one_law_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, cwd = one_law_run
    assert result.returncode == 0, _explain(result)
    report = json.loads((cwd / "r.json").read_text(encoding="utf-8"))
    assert report["schema"] == "kubeprop/report"
    assert report["version"] == 1
    assert report["seed"] == SEED
    assert report["profile"] == "quick"
    assert report["target"] == "reference"
    assert report["only"] == "api.uid-identity"
    assert report["levels"]["api"]["api.uid-identity"]["status"] == "passed"
    assert set(report["levels"]) == {"api"}
    assert set(report["levels"]["api"]) == {"api.uid-identity"}
    assert report["conforms"] == {"api": False}, "one law of a level is no claim on the level"
    # the shards ran on xdist workers; every one came back to the controller
    shards = sorted(o["shard"] for o in report["outcomes"])
    assert shards == [0, 1, 2, 3]
    assert all(o["status"] == "passed" and o["examples"] > 0 for o in report["outcomes"])
    assert report["targetInfo"]["name"] == "kubeprop-reference"
    assert "api.uid-identity" in result.stdout
    assert "1 laws passed, 0 failed" in _flat(result.stdout)


def test_run_writes_junit_xml_with_a_testcase_per_shard(
    one_law_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, cwd = one_law_run
    assert result.returncode == 0, _explain(result)
    root = ET.parse(cwd / "j.xml").getroot()
    cases = list(root.iter("testcase"))
    names = sorted(case.get("name", "") for case in cases)
    assert names == [f"test_level[api-{shard}]" for shard in range(4)]
    for case in cases:
        assert case.find("failure") is None and case.find("error") is None
        assert case.find("skipped") is None


# -- run: the stdio reference reports what the in-process one does -------------------------------


def test_stdio_reference_reports_the_same_laws_as_in_process(
    kubeprop_argv: list[str], stdio_reference: str, tmp_path: Path
) -> None:
    """The foundation's done-criterion: the reference over stdio conforms as it does in process."""
    common = ("run", "--only", "api", "--seed", str(SEED), "--failures-dir", "failures")
    in_process = _start(kubeprop_argv, tmp_path, *common, "--json", "in-process.json")
    over_stdio = _start(
        kubeprop_argv,
        tmp_path,
        *common,
        "--target",
        stdio_reference,
        "--jobs",
        "2",
        "--json",
        "stdio.json",
    )
    a, b = _finish(in_process), _finish(over_stdio)
    assert a.returncode == 0, _explain(a)
    assert b.returncode == 0, _explain(b)

    def laws(name: str) -> dict[str, str]:
        report = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        return {law: entry["status"] for law, entry in report["levels"]["api"].items()}

    assert set(laws("in-process.json")) == {law.id for law in laws_for("api")}
    assert laws("stdio.json") == laws("in-process.json")


def test_the_seed_reproduces_a_run_whatever_the_jobs(
    kubeprop_argv: list[str],
    one_law_run: tuple[subprocess.CompletedProcess[str], Path],
    tmp_path: Path,
) -> None:
    """The report's seed must reproduce the run: `--jobs 1` explores what `--jobs 2` did."""
    result, cwd = one_law_run
    assert result.returncode == 0, _explain(result)
    again = kubeprop(
        kubeprop_argv,
        tmp_path,
        "run",
        "--only",
        "api.uid-identity",
        "--seed",
        str(SEED),
        "--json",
        "r.json",
    )
    assert again.returncode == 0, _explain(again)

    def shards(path: Path) -> list[tuple[int, int, int]]:
        report = json.loads(path.read_text(encoding="utf-8"))
        return sorted((o["shard"], o["examples"], o["steps"]) for o in report["outcomes"])

    assert shards(tmp_path / "r.json") == shards(cwd / "r.json")


# -- run: exit codes ------------------------------------------------------------------------------


def test_a_violated_law_exits_1_and_writes_a_replayable_scenario(
    kubeprop_argv: list[str], tmp_path: Path
) -> None:
    target = "reference:stale-update-accepted"
    result = kubeprop(
        kubeprop_argv,
        tmp_path,
        "run",
        "--target",
        target,
        "--only",
        "api",
        "--profile",
        "mutants",
        "--seed",
        str(SEED),
        "--failures-dir",
        "failures",
    )
    assert result.returncode == 1, _explain(result)
    assert "replay: kubeprop replay" in result.stdout
    assert "FAILED" in result.stdout
    written = sorted((tmp_path / "failures").glob("*.jsonl"))
    assert written, _explain(result)
    header = json.loads(written[0].read_text(encoding="utf-8").splitlines()[0])
    assert header["schema"] == "kubeprop/scenario"
    assert header["target"] == target
    assert header["law"].startswith("api.")
    again = kubeprop(kubeprop_argv, tmp_path, "replay", str(written[0]), "--target", target)
    assert again.returncode == 1, _explain(again)
    assert header["law"] in again.stdout


def test_an_unknown_target_is_a_usage_error(kubeprop_argv: list[str], tmp_path: Path) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "run", "--target", "nonsense")
    assert result.returncode == 2, _explain(result)
    message = _flat(result.stderr)
    assert "unknown target 'nonsense'" in message
    assert "cmd:COMMAND" in message  # says what would work


@pytest.mark.parametrize("only", ["no.such.law", "api.no-such-law"])
def test_an_unknown_law_or_level_is_a_usage_error(
    kubeprop_argv: list[str], tmp_path: Path, only: str
) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "run", "--only", only, "--profile", "mutants")
    assert result.returncode == 2, _explain(result)
    assert "kubeprop properties" in result.stderr  # says where the known ones are listed


@pytest.mark.parametrize("only", ["no.such.law", "api.no-such-law"])
def test_the_unknown_law_message_names_what_was_asked(
    kubeprop_argv: list[str], tmp_path: Path, only: str
) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "run", "--only", only, "--profile", "mutants")
    assert repr(only) in _flat(result.stderr), _explain(result)


def test_a_target_that_dies_at_hello_is_a_target_fault(
    kubeprop_argv: list[str], tmp_path: Path
) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "run", "--target", "cmd:false")
    assert result.returncode == 3, _explain(result)
    message = _flat(result.stderr)
    assert "target fault" in message
    assert "'op': 'hello'" in message


def test_a_target_that_crashes_mid_run_is_a_target_fault_naming_the_request(
    kubeprop_argv: list[str], tmp_path: Path
) -> None:
    target = _cmd(sys.executable, str(FAULTY), "--crash-on", "create")
    result = kubeprop(
        kubeprop_argv,
        tmp_path,
        "run",
        "--target",
        target,
        "--only",
        "api",
        "--profile",
        "mutants",
        "--failures-dir",
        "failures",
    )
    assert result.returncode == 3, _explain(result)
    output = result.stdout + result.stderr
    assert "target fault" in output
    assert "faulty_reference: crashing on create" in output  # the stderr tail
    assert "exited with code 7" in _flat(output)
    # the request that crashed it, not whatever the harness sent afterwards
    assert "'op': 'create'" in output, _explain(result)
    assert "already failed" not in _flat(output), _explain(result)


# -- replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COUNTEREXAMPLES, ids=lambda p: p.stem)
def test_stored_counterexample_fails_its_mutant_and_passes_the_reference(
    kubeprop_argv: list[str], tmp_path: Path, path: Path
) -> None:
    law = json.loads(path.read_text(encoding="utf-8").splitlines()[0])["law"]
    failing = kubeprop(
        kubeprop_argv, tmp_path, "replay", str(path), "--target", f"reference:{path.stem}"
    )
    assert failing.returncode == 1, _explain(failing)
    assert f"law {law} violated" in failing.stdout
    passing = kubeprop(kubeprop_argv, tmp_path, "replay", str(path), "--target", "reference")
    assert passing.returncode == 0, _explain(passing)
    assert "passed" in passing.stdout


YAML_SCENARIO = """\
# hand-written: a stale update must be refused
level: api
law: api.stale-precondition-conflicts
steps:
  - rule: reset
    args: {seed: 0}
  - rule: create
    args: {kind: ConfigMap, namespace: default, name: a, labels: {app: web}}
  - rule: update_stale
    args:
      key: {kind: ConfigMap, namespace: default, name: a}
"""


@pytest.fixture
def yaml_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "stale.yaml"
    path.write_text(YAML_SCENARIO, encoding="utf-8")
    return path


def test_a_yaml_scenario_replays(
    kubeprop_argv: list[str], tmp_path: Path, yaml_scenario: Path
) -> None:
    passing = kubeprop(kubeprop_argv, tmp_path, "replay", str(yaml_scenario))
    assert passing.returncode == 0, _explain(passing)
    assert "replayed 3 of 3 steps" in _flat(passing.stdout)
    failing = kubeprop(
        kubeprop_argv,
        tmp_path,
        "replay",
        str(yaml_scenario),
        "--target",
        "reference:stale-update-accepted",
    )
    assert failing.returncode == 1, _explain(failing)
    assert "api.stale-precondition-conflicts" in failing.stdout


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.jsonl", "this is not json\n"),
        ("headless.jsonl", '{"rule": "reset", "args": {"seed": 0}}\n'),
        ("no-level.yaml", "steps:\n  - rule: reset\n"),
        ("bad-step.yaml", "level: api\nsteps:\n  - 42\n"),
        ("broken.yaml", "level: [api\n"),
    ],
)
def test_a_malformed_scenario_is_a_usage_error_naming_the_file(
    kubeprop_argv: list[str], tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = kubeprop(kubeprop_argv, tmp_path, "replay", str(path))
    assert result.returncode == 2, _explain(result)
    assert name in _flat(result.stderr)


def test_a_missing_scenario_file_is_a_usage_error(kubeprop_argv: list[str], tmp_path: Path) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "replay", str(tmp_path / "absent.jsonl"))
    assert result.returncode == 2, _explain(result)
    assert "absent.jsonl" in _flat(result.stderr)


def test_replay_reports_a_nondeterministic_target(
    kubeprop_argv: list[str], tmp_path: Path, yaml_scenario: Path
) -> None:
    steady = kubeprop(
        kubeprop_argv,
        tmp_path,
        "replay",
        str(yaml_scenario),
        "--target",
        _cmd(sys.executable, str(FAULTY)),
    )
    assert steady.returncode == 0, _explain(steady)
    drifting = kubeprop(
        kubeprop_argv,
        tmp_path,
        "replay",
        str(yaml_scenario),
        "--target",
        _cmd(sys.executable, str(FAULTY), "--drift"),
    )
    assert drifting.returncode == 3, _explain(drifting)
    assert "nondeterministic" in drifting.stdout


def _replay_both(
    kubeprop_argv: list[str], stdio_reference: str, tmp_path: Path, scenario: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario, encoding="utf-8")
    in_process = kubeprop(kubeprop_argv, tmp_path, "replay", str(path))
    over_stdio = kubeprop(kubeprop_argv, tmp_path, "replay", str(path), "--target", stdio_reference)
    return in_process, over_stdio


def test_a_month_long_advance_replays_in_process_and_over_stdio(
    kubeprop_argv: list[str], stdio_reference: str, tmp_path: Path
) -> None:
    """A month of simulated time (a CronJob's horizon) is an ordinary request for any target."""
    scenario = (
        "level: api\n"
        "steps:\n"
        "  - {rule: reset, args: {seed: 0}}\n"
        "  - {rule: advance, args: {seconds: 2592000}}\n"
    )
    in_process, over_stdio = _replay_both(kubeprop_argv, stdio_reference, tmp_path, scenario)
    assert in_process.returncode == 0, _explain(in_process)
    assert over_stdio.returncode == 0, _explain(over_stdio)
    assert "Traceback" not in over_stdio.stderr


def test_an_unrepresentable_advance_is_judged_alike_in_process_and_over_stdio(
    kubeprop_argv: list[str], stdio_reference: str, tmp_path: Path
) -> None:
    """Either a refusal (exit 0) or a target fault (exit 3), the same both ways; no traceback."""
    scenario = (
        "level: api\n"
        "steps:\n"
        "  - {rule: reset, args: {seed: 0}}\n"
        "  - {rule: advance, args: {seconds: 1.0e+300}}\n"
    )
    in_process, over_stdio = _replay_both(kubeprop_argv, stdio_reference, tmp_path, scenario)
    assert "Traceback" not in in_process.stderr, _explain(in_process)
    assert "Traceback" not in over_stdio.stderr, _explain(over_stdio)
    assert in_process.returncode in (0, 3), _explain(in_process)
    assert over_stdio.returncode == in_process.returncode, _explain(over_stdio)


LAGGING_CONTROLLERS = """\
# found by `kubeprop run --only api --profile mutants --seed 20250101`, shrunk by Hypothesis
level: api
steps:
  - {rule: reset, args: {seed: 0}}
  - rule: create
    args:
      kind: ConfigMap
      namespace: ns-a
      name: a
      labels: {}
      owner: {kind: Namespace, namespace: "", name: ns-a}
  - {rule: lag, args: {controller: namespace, seconds: 5}}
  - {rule: settle, args: {max_seconds: 600}}
  - rule: add_finalizer
    args: {finalizer: kubeprop.io/hold, key: {kind: ConfigMap, namespace: ns-a, name: a}}
  - {rule: create_dependent, args: {kind: ConfigMap, name: b, owner_index: 0, block: false}}
  - {rule: delete_owner, args: {index: 1, propagation: Foreground}}
  - {rule: lag, args: {controller: garbagecollector, seconds: 5}}
  - {rule: settle, args: {max_seconds: 600}}
"""


def test_lagging_controllers_settle_in_process_and_over_stdio(
    kubeprop_argv: list[str], stdio_reference: str, tmp_path: Path
) -> None:
    """Stale views slow the controllers down; they must still reach a fixpoint."""
    in_process, over_stdio = _replay_both(
        kubeprop_argv, stdio_reference, tmp_path, LAGGING_CONTROLLERS
    )
    assert "Traceback" not in in_process.stderr, _explain(in_process)
    assert in_process.returncode == 0, _explain(in_process)
    assert over_stdio.returncode == 0, _explain(over_stdio)


# -- properties and mutants -----------------------------------------------------------------------


def test_properties_lists_every_api_law(kubeprop_argv: list[str], tmp_path: Path) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "properties")
    assert result.returncode == 0, _explain(result)
    missing = [law.id for law in laws_for("api") if law.id not in result.stdout]
    assert not missing, f"law ids not shown whole: {missing}\n{result.stdout[:3000]}"


def test_properties_table_keeps_bracketed_conformance_test_names(
    kubeprop_argv: list[str], tmp_path: Path
) -> None:
    tags = {
        m.group(0)
        for law in laws_for("api")
        for name in law.conformance
        if (m := re.match(r"\[[^\]]+\]", name))
    }
    if not tags:
        pytest.skip("no api law names an official conformance test")
    result = kubeprop(kubeprop_argv, tmp_path, "properties", "--only", "api")
    assert result.returncode == 0, _explain(result)
    assert all(tag in result.stdout for tag in tags), (tags, result.stdout[:3000])


def test_properties_json(kubeprop_argv: list[str], tmp_path: Path) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "properties", "--json")
    assert result.returncode == 0, _explain(result)
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    assert [e["id"] for e in entries] == [law.id for law in laws_for()]
    fields = {"id", "level", "statement", "kind", "scope", "needs", "conformance", "bugs"}
    for entry in entries:
        assert set(entry) == fields
        assert entry["level"] == entry["id"].split(".", 1)[0]
        assert isinstance(entry["statement"], str) and entry["statement"]
        assert entry["kind"] in ("safety", "liveness")
        assert entry["scope"] in ("kubernetes", "strict")
        for listed in ("needs", "conformance", "bugs"):
            assert isinstance(entry[listed], list)
            assert all(isinstance(x, str) for x in entry[listed])


def test_mutants_kills_one_mutant(kubeprop_argv: list[str], tmp_path: Path) -> None:
    name = "per-object-resource-version"
    assert name in MUTANTS
    result = kubeprop(kubeprop_argv, tmp_path, "mutants", "--only", name, "--json", "m.json")
    assert result.returncode == 0, _explain(result)
    assert "killed" in result.stdout
    assert "1 of 1 mutants killed" in _flat(result.stdout)
    results = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert [(r["mutant"], r["killed"], r["status"]) for r in results] == [(name, True, "failed")]


def test_mutants_unknown_name_is_a_usage_error(kubeprop_argv: list[str], tmp_path: Path) -> None:
    result = kubeprop(kubeprop_argv, tmp_path, "mutants", "--only", "no-such-mutant")
    assert result.returncode == 2, _explain(result)
    assert "no-such-mutant" in _flat(result.stderr)
