"""The target side of PROTOCOL.md's transport: a loop that turns request lines into answer lines.

`kubeprop target reference` serves the reference cluster with it, so the
reference can be driven exactly as a third-party `cmd:` target is. The loop
never dies of a bad line or a failing handler: a target must keep serving,
and a broken request is the harness's bug to report, not the target's.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["serve", "serve_stdio"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def serve(handle: Handler, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Answer each request line on `stdin` with one JSON line on `stdout` until EOF; return 0.

    `handle` gets the request without `id` and returns the answer without
    it. While it runs, `sys.stdout` points at `stderr`, so a stray print in
    the handler cannot corrupt the answer stream. Answers are ASCII JSON
    (non-ASCII escaped), which no encoding setting can break.
    """
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        answer = _answer(handle, line, stderr)
        try:
            stdout.write(answer + "\n")
            stdout.flush()
        except BrokenPipeError:
            print("kubeprop: the harness closed our stdout; stopping", file=stderr)
            return 1
    return 0


def serve_stdio(handle: Handler) -> int:
    """`serve` on this process's stdin and stdout, read as UTF-8 whatever the locale says.

    Undecodable input becomes U+FFFD instead of killing the loop.
    """
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return serve(handle, stdin, sys.stdout, sys.stderr)


def _answer(handle: Handler, line: str, stderr: TextIO) -> str:
    try:
        request = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return _bad_request(None, f"request line is not valid JSON: {exc}")
    if not isinstance(request, dict):
        return _bad_request(None, f"request must be a JSON object, got {_json_type(request)}")
    rid = request.pop("id", None)
    if type(rid) is not int:
        problem = 'has no "id"' if rid is None else f'"id" is {_json_type(rid)}'
        return _bad_request(
            None,
            f"request {problem}; every request needs an integer id, "
            'e.g. {"id": 1, "op": "hello", "protocol": 1}',
        )
    op = request.get("op")
    if not isinstance(op, str):
        problem = 'has no "op"' if op is None else f'"op" is {_json_type(op)}'
        return _bad_request(rid, f'request {problem}; "op" must be a string such as "get"')
    try:
        with contextlib.redirect_stdout(stderr):
            result = handle(request)
        if not isinstance(result, dict):
            raise TypeError(f"handler for op {op!r} returned {type(result).__name__}, not a dict")
        answer = {"id": rid}
        answer.update(result)
        answer["id"] = rid
        return _dump(answer)
    except Exception as exc:
        print(f"kubeprop: op {op!r} (id {rid}) failed:", file=stderr)
        traceback.print_exc(file=stderr)
        stderr.flush()
        message = f"op {op!r} failed: {type(exc).__name__}: {exc}"
        return _dump(_failure(rid, 500, "InternalError", message))


def _bad_request(rid: int | None, message: str) -> str:
    return _dump(_failure(rid, 400, "BadRequest", message))


def _failure(rid: int | None, code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "id": rid,
        "ok": False,
        "status": {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
        },
    }


def _dump(answer: dict[str, Any]) -> str:
    return json.dumps(answer, separators=(",", ":"), allow_nan=False)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
