"""`kubeprop target reference` spoken to directly: raw lines in, one JSON answer per line out.

What a third party sees when it drives the reference over stdio must be
what the harness sees in process, and a broken line must cost one error
answer, never the session. Requests go in as one batch and stdin is then
closed, so each test also shows that the server exits at EOF; the
subprocess timeout only guards against a hang.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from conformance.targets import ReferenceTarget

pytestmark = pytest.mark.integration

HANG_GUARD = 60
HELLO = {"op": "hello", "protocol": 1}


def serve(argv: list[str], lines: list[bytes], *options: str) -> list[dict[str, Any]]:
    """Feed `lines` to a fresh `kubeprop target reference`, close stdin, return its answers."""
    done = subprocess.run(
        [*argv, "target", "reference", *options],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        timeout=HANG_GUARD,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, f"exit {done.returncode}; stderr:\n{stderr}"
    answers = []
    for raw in done.stdout.splitlines():
        answer = json.loads(raw)
        assert isinstance(answer, dict), raw
        answers.append(answer)
    return answers


def line(request: dict[str, Any]) -> bytes:
    return json.dumps(request).encode("utf-8")


# -- garbage in, one error out, and the session goes on -----------------------------------------

#: (case id, raw line, id the answer must carry, status code)
GARBAGE: list[tuple[str, bytes, int | None, int]] = [
    ("not-json", b"this is not json", None, 400),
    ("truncated-json", b'{"id": 1, "op": "hel', None, 400),
    ("not-utf8", b'\xff\xfe{"id": 2, "op": "hello"}', None, 400),
    ("json-array", b'[1, "hello"]', None, 400),
    ("json-null", b"null", None, 400),
    ("json-string", b'"hello"', None, 400),
    ("no-id", line({"op": "hello", "protocol": 1}), None, 400),
    ("string-id", line({"id": "7", "op": "hello", "protocol": 1}), None, 400),
    ("float-id", line({"id": 7.5, "op": "hello", "protocol": 1}), None, 400),
    ("boolean-id", line({"id": True, "op": "hello", "protocol": 1}), None, 400),
    ("no-op", line({"id": 11}), 11, 400),
    ("number-op", line({"id": 12, "op": 3}), 12, 400),
    ("unknown-op", line({"id": 13, "op": "frobnicate"}), 13, 501),
    ("create-without-object", line({"id": 14, "op": "create"}), 14, 400),
    ("create-object-not-object", line({"id": 15, "op": "create", "object": [1]}), 15, 400),
    ("update-without-object", line({"id": 16, "op": "update"}), 16, 400),
    ("get-without-name", line({"id": 17, "op": "get", "kind": "ConfigMap"}), 17, 400),
    ("list-without-kind", line({"id": 18, "op": "list"}), 18, 400),
    ("advance-negative", line({"id": 19, "op": "advance", "seconds": -1}), 19, 400),
    ("advance-without-seconds", line({"id": 20, "op": "advance"}), 20, 400),
    ("advance-string", line({"id": 21, "op": "advance", "seconds": "5"}), 21, 400),
    ("settle-negative", line({"id": 22, "op": "settle", "max_seconds": -5}), 22, 400),
    ("reset-string-seed", line({"id": 23, "op": "reset", "seed": "x"}), 23, 400),
    ("hello-wrong-protocol", line({"id": 24, "op": "hello", "protocol": 99}), 24, 400),
    (
        "get-unknown-kind",
        line({"id": 25, "op": "get", "kind": "Frobnicator", "name": "x"}),
        25,
        404,
    ),
    (
        "create-unknown-kind",
        line({"id": 26, "op": "create", "object": {"kind": "Frob", "metadata": {"name": "x"}}}),
        26,
        404,
    ),
]
REASONS = {400: "BadRequest", 404: "NotFound", 501: "NotImplemented"}


@pytest.fixture(scope="module")
def garbage_session(kubeprop_argv: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """One server fed every garbage line, each followed by a hello: case -> (error, hello)."""
    lines: list[bytes] = []
    for n, (_, raw, _, _) in enumerate(GARBAGE):
        lines += [raw, line({"id": 1000 + n, **HELLO})]
    answers = serve(kubeprop_argv, lines)
    assert len(answers) == len(lines), "every line gets exactly one answer"
    return {case: (answers[2 * n], answers[2 * n + 1]) for n, (case, _, _, _) in enumerate(GARBAGE)}


@pytest.mark.parametrize(("case", "raw", "rid", "code"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_gets_one_error_and_the_target_keeps_serving(
    garbage_session: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    case: str,
    raw: bytes,
    rid: int | None,
    code: int,
) -> None:
    error, after = garbage_session[case]
    assert error["id"] == rid
    assert error["ok"] is False
    status = error["status"]
    assert status["code"] == code, status
    assert status["reason"] == REASONS[code]
    assert isinstance(status["message"], str) and status["message"]
    n = [g[0] for g in GARBAGE].index(case)
    assert after["id"] == 1000 + n
    assert after["ok"] is True and after["protocol"] == 1


def test_blank_lines_are_ignored(kubeprop_argv: list[str]) -> None:
    answers = serve(
        kubeprop_argv, [b"", line({"id": 1, **HELLO}), b"   ", line({"id": 2, **HELLO})]
    )
    assert [(a["id"], a["ok"]) for a in answers] == [(1, True), (2, True)]


def test_the_server_exits_when_stdin_closes(kubeprop_argv: list[str]) -> None:
    proc = subprocess.Popen(
        [*kubeprop_argv, "target", "reference"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line({"id": 1, **HELLO}) + b"\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        assert answer["id"] == 1 and answer["ok"] is True
        assert proc.poll() is None, "the server must keep running while stdin is open"
        proc.stdin.close()
        assert proc.wait(timeout=HANG_GUARD) == 0
        assert proc.stdout.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


# -- the same answers as in process -------------------------------------------------------------

Answers = list[dict[str, Any]]
#: Each step builds its request from the answers so far (the session is deterministic).
Script = list[Callable[[Answers], dict[str, Any]]]


def _object(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("ok"), answer
    return copy.deepcopy(answer["object"])


def _with_data(obj: dict[str, Any], value: str) -> dict[str, Any]:
    obj["data"] = {"key": value}
    return obj


CM = {"kind": "ConfigMap", "namespace": "default", "name": "web"}
SESSION: Script = [
    lambda a: HELLO,
    lambda a: {"op": "reset", "seed": 3},
    lambda a: {"op": "snapshot"},
    lambda a: {
        "op": "create",
        "object": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "data": {"key": "one"},
        },
    },
    lambda a: {"op": "create", "object": {"kind": "Namespace", "metadata": {"name": "team"}}},
    lambda a: {
        "op": "create",
        "object": {
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "team"},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
        },
    },
    lambda a: {"op": "get", **CM},
    lambda a: {"op": "list", "kind": "ConfigMap", "namespace": "default", "labelSelector": "app"},
    lambda a: {"op": "list", "kind": "Pod", "fieldSelector": "metadata.namespace=team"},
    lambda a: {"op": "update", "object": _with_data(_object(a[3]), "two")},
    lambda a: {"op": "update", "object": _with_data(_object(a[3]), "stale")},
    lambda a: {"op": "patch", **CM, "patch": {"metadata": {"labels": {"tier": "front"}}}},
    lambda a: {"op": "advance", "seconds": 5},
    lambda a: {"op": "delete", **CM},
    lambda a: {"op": "get", **CM},
    lambda a: {"op": "delete", "kind": "Namespace", "name": "team"},
    lambda a: {"op": "settle", "max_seconds": 120},
    lambda a: {"op": "watch", "resourceVersion": a[2]["resourceVersion"]},
    lambda a: {"op": "watch", "kind": "ConfigMap", "resourceVersion": a[2]["resourceVersion"]},
    lambda a: {"op": "controller.lag", "name": "garbagecollector", "seconds": 10},
    lambda a: {"op": "controller.restart", "name": "garbagecollector"},
    lambda a: {
        "op": "route",
        "namespace": "default",
        "service": "s",
        "port": 80,
        "client": "10.0.0.1",
        "count": 1,
    },
    lambda a: {"op": "snapshot"},
]


def test_a_session_answers_as_the_in_process_reference(kubeprop_argv: list[str]) -> None:
    target = ReferenceTarget()
    requests: list[dict[str, Any]] = []
    expected: Answers = []
    for build in SESSION:
        request = build(expected)
        requests.append(request)
        # parsed JSON, as the wire carries it
        expected.append(json.loads(json.dumps(target.request(copy.deepcopy(request)))))
    # the script exercises what it means to: writes succeed, the stale update conflicts
    assert [a["ok"] for a in expected[:10]] == [True] * 10
    assert expected[10]["status"]["code"] == 409
    assert expected[14]["status"]["code"] == 404
    assert expected[17]["events"] and expected[18]["events"]
    assert expected[21]["status"]["code"] == 404

    answers = serve(kubeprop_argv, [line({"id": n, **r}) for n, r in enumerate(requests, 1)])
    assert [a.pop("id") for a in answers] == list(range(1, len(requests) + 1))
    for n, (request, want, got) in enumerate(zip(requests, expected, answers, strict=True)):
        assert got == want, f"step {n}: {request['op']} answered differently over stdio"


def test_mutant_is_served(kubeprop_argv: list[str]) -> None:
    def session(*options: str) -> Answers:
        create = {
            "op": "create",
            "object": {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}},
        }
        created = ReferenceTarget().request(create)["object"]
        first = _with_data(copy.deepcopy(created), "2")
        stale = _with_data(copy.deepcopy(created), "3")  # still carries the first resourceVersion
        requests = [{"op": "reset", "seed": 0}, create, {"op": "update", "object": first}]
        requests.append({"op": "update", "object": stale})
        lines = [line({"id": n, **r}) for n, r in enumerate(requests, 1)]
        return serve(kubeprop_argv, lines, *options)

    clean = session()
    assert clean[2]["ok"] is True
    assert clean[3]["ok"] is False and clean[3]["status"]["code"] == 409
    mutant = session("--mutant", "stale-update-accepted")
    assert mutant[2]["ok"] is True
    assert mutant[3]["ok"] is True, mutant[3]
    assert mutant[3]["object"]["data"] == {"key": "3"}


def test_an_unknown_mutant_is_a_usage_error(kubeprop_argv: list[str]) -> None:
    done = subprocess.run(
        [*kubeprop_argv, "target", "reference", "--mutant", "no-such-mutant"],
        input=b"",
        capture_output=True,
        timeout=HANG_GUARD,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"no-such-mutant" in done.stderr
