"""The stdio transport, both ends: `CommandTarget` against bad children, `serve` against bad lines.

No assertion here is about elapsed time (a project rule): a hang is shown to
be detected by the fault it raises, with a short timeout.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.stdio_server import serve
from conformance.targets.base import Target, TargetFault
from conformance.targets.command import CommandTarget

pytestmark = pytest.mark.integration

FAKES = Path(__file__).parent / "fake_targets"
ECHO = [sys.executable, str(FAKES / "echo.py")]
MISBEHAVING = [sys.executable, str(FAKES / "misbehaving.py")]


@pytest.fixture
def echo() -> Iterator[CommandTarget]:
    with CommandTarget(ECHO, request_timeout=10) as target:
        yield target


@pytest.fixture
def bad() -> Iterator[CommandTarget]:
    with CommandTarget(MISBEHAVING, request_timeout=10) as target:
        yield target


def fault_of(target: CommandTarget, request: dict[str, Any]) -> TargetFault:
    with pytest.raises(TargetFault) as info:
        target.request(request)
    return info.value


# --- CommandTarget -------------------------------------------------------------------------


def test_round_trip_strips_the_id(echo: CommandTarget) -> None:
    assert isinstance(echo, Target)
    answer = echo.request({"op": "get", "kind": "Pod", "name": "wéb ☃"})
    assert answer == {
        "ok": True,
        "echo": "get",
        "request": {"op": "get", "kind": "Pod", "name": "wéb ☃"},
    }
    assert echo.description.startswith("cmd:")


def test_ids_increase_from_one(bad: CommandTarget) -> None:
    seen = [bad.request({"op": "hello"})["seen_id"] for _ in range(3)]
    assert seen == [1, 2, 3]


def test_a_string_command_is_split_like_a_shell() -> None:
    with CommandTarget(shlex.join(ECHO)) as target:
        assert target.request({"op": "hello"})["echo"] == "hello"


def test_handler_errors_are_answers_not_faults(echo: CommandTarget) -> None:
    boom = echo.request({"op": "boom"})
    assert boom["ok"] is False
    assert boom["status"]["code"] == 500
    assert boom["status"]["reason"] == "InternalError"
    assert "boom requested" in boom["status"]["message"]
    no_op = echo.request({"kind": "Pod"})
    assert (no_op["ok"], no_op["status"]["code"]) == (False, 400)
    assert echo.request({"op": "print"})["echo"] == "print"
    assert echo.request({"op": "after"})["echo"] == "after"
    echo.close()  # stderr is drained asynchronously: read the tail once it is complete
    assert "stray output from the handler" in echo.stderr_tail()
    assert "RuntimeError: boom requested" in echo.stderr_tail()


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("crash", "exited with code 3"),
        ("sigkill", "killed by SIGKILL"),
        ("garbage", "not JSON"),
        ("array", "not an object"),
        ("not-utf8", "not UTF-8"),
        ("wrong-id", "answered with id 2 to request id 1"),
        ("no-ok", '"ok"'),
    ],
)
def test_misbehaviour_is_a_fault_with_request_and_stderr(
    bad: CommandTarget, op: str, expected: str
) -> None:
    fault = fault_of(bad, {"op": op, "marker": "m-42"})
    assert expected in fault.message
    assert fault.request == {"id": 1, "op": op, "marker": "m-42"}
    assert f"misbehaving: {op}" in fault.stderr_tail
    text = str(fault)
    assert "m-42" in text
    assert f"misbehaving: {op}" in text
    assert bad.returncode is not None


def test_a_dead_target_refuses_at_once(bad: CommandTarget) -> None:
    fault_of(bad, {"op": "crash"})
    again = fault_of(bad, {"op": "hello"})
    assert "already failed" in again.message
    assert again.request == {"op": "hello"}


def test_a_hang_is_a_fault_and_the_child_is_killed() -> None:
    with CommandTarget(MISBEHAVING) as target:
        assert target.request({"op": "hello"})["ok"] is True
        target.request_timeout = 0.5
        fault = fault_of(target, {"op": "hang"})
        assert "did not answer within 0.5 s" in fault.message
        assert fault.request == {"id": 2, "op": "hang"}
        assert "misbehaving: hello" in str(fault)
        assert target.returncode is not None


def test_advance_gets_its_seconds_on_top_of_the_timeout() -> None:
    with CommandTarget(MISBEHAVING, request_timeout=0.05) as target:
        answer = target.request({"op": "advance", "seconds": 60, "sleep": 0.3})
        assert answer["now"] == "2025-01-01T00:00:00Z"


def test_a_stderr_flood_neither_blocks_nor_bloats_the_tail(bad: CommandTarget) -> None:
    assert bad.request({"op": "flood", "lines": 20_000})["ok"] is True
    assert bad.request({"op": "hello"})["ok"] is True
    fault = fault_of(bad, {"op": "crash"})
    lines = fault.stderr_tail.splitlines()
    assert len(lines) <= 40
    assert lines[-1] == "misbehaving: crash"
    assert "flood line 019999" in fault.stderr_tail


def test_close_waits_for_a_polite_exit(echo: CommandTarget) -> None:
    echo.request({"op": "hello"})
    echo.close()
    assert echo.returncode == 0
    echo.close()
    assert "closed" in fault_of(echo, {"op": "hello"}).message


def test_close_kills_a_child_that_ignores_eof_and_sigterm() -> None:
    target = CommandTarget([*MISBEHAVING, "--ignore-eof"], exit_timeout=0.3)
    assert target.request({"op": "hello"})["ok"] is True
    target.close()
    assert target.returncode is not None
    assert target.returncode < 0
    target.close()


def test_a_command_that_cannot_start_is_a_fault(tmp_path: Path) -> None:
    with pytest.raises(TargetFault, match="could not start target"):
        CommandTarget([str(tmp_path / "no-such-program")])


# --- serve, in process ---------------------------------------------------------------------


def echo_handle(request: dict[str, Any]) -> dict[str, Any]:
    if request["op"] == "boom":
        raise RuntimeError("boom requested")
    if request["op"] == "print":
        print("stray output")
    if request["op"] == "nan":
        return {"ok": True, "value": float("nan")}
    return {"ok": True, "echo": request["op"], "request": request}


def run_serve(lines: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = serve(echo_handle, stdin, stdout, stderr)
    return code, [json.loads(line) for line in stdout.getvalue().splitlines()], stderr.getvalue()


BAD_LINES = [
    ("not json", None, "not valid JSON"),
    ("[1, 2]", None, "an array"),
    ('{"op": "get"}', None, 'no "id"'),
    ('{"id": "7", "op": "get"}', None, "a string"),
    ('{"id": true, "op": "get"}', None, "a boolean"),
    ('{"id": 1.5, "op": "get"}', None, "a number"),
    ('{"id": 8}', 8, 'no "op"'),
    ('{"id": 9, "op": 3}', 9, '"op" is a number'),
]


def test_serve_answers_bad_lines_with_400_and_keeps_serving() -> None:
    code, answers, _ = run_serve([line for line, _, _ in BAD_LINES] + ['{"id": 10, "op": "get"}'])
    assert code == 0
    assert len(answers) == len(BAD_LINES) + 1
    for (line, rid, words), answer in zip(BAD_LINES, answers, strict=False):
        assert answer["id"] == rid, line
        assert answer["ok"] is False, line
        status = answer["status"]
        assert (status["code"], status["reason"], status["kind"]) == (400, "BadRequest", "Status")
        assert words in status["message"], line
    assert answers[-1] == {"id": 10, "ok": True, "echo": "get", "request": {"op": "get"}}


def test_serve_turns_handler_errors_into_500_and_keeps_serving() -> None:
    code, answers, stderr = run_serve(
        ['{"id": 1, "op": "boom"}', "", '{"id": 2, "op": "nan"}', '{"id": 3, "op": "print"}']
    )
    assert code == 0
    assert [a["id"] for a in answers] == [1, 2, 3]
    assert answers[0]["status"]["code"] == 500
    assert answers[0]["status"]["reason"] == "InternalError"
    assert "boom requested" in answers[0]["status"]["message"]
    assert answers[1]["status"]["code"] == 500
    assert answers[2]["ok"] is True
    assert "Traceback" in stderr
    assert "RuntimeError: boom requested" in stderr
    assert "stray output" in stderr


def test_serve_over_a_real_pipe_answers_every_line() -> None:
    lines = [line for line, _, _ in BAD_LINES] + [
        '{"id": 10, "op": "boom"}',
        '{"id": 11, "op": "x"}',
    ]
    done = subprocess.run(
        ECHO, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30, check=True
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == [rid for _, rid, _ in BAD_LINES] + [10, 11]
    assert [a["ok"] for a in answers] == [False] * (len(BAD_LINES) + 1) + [True]
    assert answers[-2]["status"]["code"] == 500
