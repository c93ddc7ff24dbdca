"""The `cmd:` target: any program that speaks PROTOCOL.md over its stdin and stdout.

The harness must survive whatever the program does, so every way it can
misbehave (exit, hang, print garbage, answer out of turn, flood stderr) ends
in a `TargetFault` naming the request and the stderr tail, never in a
deadlock or a stack trace from the transport.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import Any, NoReturn

from conformance.targets.base import DEFAULT_REQUEST_TIMEOUT, TargetFault, request_timeout

__all__ = ["CommandTarget"]

_TAIL_LINES = 40
_MAX_STDERR_LINE = 4096
_CHUNK = 1 << 16
_REAP_TIMEOUT = 2.0
_DRAIN_TIMEOUT = 1.0
_EXCERPT = 200


class CommandTarget:
    """A target run as a child process, one JSON line per request and per answer.

    The child gets a session of its own, so killing it also kills whatever it
    started (a shell wrapper's real binary). Requests and answers go through
    non-blocking pipes watched with `selectors` under one deadline per
    request, so a child that stops reading or writing cannot stall the
    harness past `request_timeout`. stderr is drained all the time by a
    daemon thread: a chatty child never blocks on a full pipe, and its last
    lines are at hand when it fails.

    After any fault the child is killed and the target stays dead: the
    stream may be out of step, and an answer to a later request could not be
    trusted. Not thread-safe: one request in flight, as the protocol says.
    POSIX only (selectors on pipes).
    """

    def __init__(
        self,
        argv: list[str] | str,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        exit_timeout: float = 5.0,
    ) -> None:
        """Start the child. `env`, when given, is its whole environment, as with Popen.

        `exit_timeout` is how long `close` waits after closing stdin before
        it kills the child (the protocol's 5 s).
        """
        args = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if not args:
            raise ValueError(
                "empty target command: give the program to run, e.g. 'cmd:./my-cluster'"
            )
        self.argv = args
        self.description = "cmd:" + shlex.join(args)
        self.request_timeout = request_timeout
        self.exit_timeout = exit_timeout
        self._next_id = 1
        self._fault: str | None = None
        self._closed = False
        self._buffer = bytearray()
        self._stderr_lines: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._stderr_partial = ""
        self._stderr_lock = threading.Lock()
        try:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
            raise TargetFault(
                f"could not start target {self.description}: {exc}; "
                "check that the program exists, is executable and that its arguments are right"
            ) from exc
        assert self._proc.stdin and self._proc.stdout and self._proc.stderr
        self._stdin_fd = self._proc.stdin.fileno()
        self._stdout_fd = self._proc.stdout.fileno()
        os.set_blocking(self._stdin_fd, False)
        os.set_blocking(self._stdout_fd, False)
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name=f"stderr of {self.description}", daemon=True
        )
        self._stderr_thread.start()

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit status once reaped (negative: killed by that signal), else None."""
        return self._proc.returncode

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request, wait for its answer, and return it without `id`."""
        if self._fault is not None:
            raise TargetFault(
                f"target {self.description} already failed ({self._fault}); start a new one",
                request=request,
                stderr_tail=self.stderr_tail(),
            )
        if self._closed:
            raise TargetFault(
                f"target {self.description} is closed; start a new one", request=request
            )
        rid = self._next_id
        self._next_id += 1
        sent = {"id": rid, **{k: v for k, v in request.items() if k != "id"}}
        line = (json.dumps(sent, separators=(",", ":")) + "\n").encode("utf-8")
        deadline = time.monotonic() + request_timeout(request, self.request_timeout)
        self._write(line, deadline, sent)
        return self._check(self._read_line(deadline, sent), sent)

    def close(self) -> None:
        """Close stdin, give the child `exit_timeout` seconds to exit, then kill it."""
        if self._closed:
            return
        self._closed = True
        if self._proc.returncode is None:
            if self._proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self._proc.stdin.close()
            try:
                self._proc.wait(timeout=self.exit_timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._release()

    def __enter__(self) -> CommandTarget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stderr_tail(self) -> str:
        """The last lines the child wrote to stderr, oldest first.

        While the child runs this is what has been drained so far; after a
        fault or `close` it is complete.
        """
        with self._stderr_lock:
            lines = list(self._stderr_lines)
            if self._stderr_partial:
                lines.append(self._stderr_partial)
        return "\n".join(lines[-_TAIL_LINES:])

    def _write(self, data: bytes, deadline: float, sent: Mapping[str, Any]) -> None:
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self._stdin_fd, selectors.EVENT_WRITE)
            while view:
                try:
                    view = view[os.write(self._stdin_fd, view) :]
                    continue
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    self._fail_exited("stopped reading its stdin", sent)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._fail_timeout("did not read the request", sent)
                sel.select(remaining)

    def _read_line(self, deadline: float, sent: Mapping[str, Any]) -> bytes:
        scanned = 0
        with selectors.DefaultSelector() as sel:
            sel.register(self._stdout_fd, selectors.EVENT_READ)
            while True:
                end = self._buffer.find(b"\n", scanned)
                if end >= 0:
                    line = bytes(self._buffer[:end])
                    del self._buffer[: end + 1]
                    return line
                scanned = len(self._buffer)
                try:
                    chunk = os.read(self._stdout_fd, _CHUNK)
                except BlockingIOError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._fail_timeout("did not answer", sent)
                    sel.select(remaining)
                    continue
                if not chunk:
                    self._fail_exited("closed its stdout", sent)
                self._buffer += chunk

    def _check(self, raw: bytes, sent: Mapping[str, Any]) -> dict[str, Any]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._fail(f"answered a line that is not UTF-8 ({exc}): {_excerpt(raw)}", sent)
        try:
            answer = json.loads(text)
        except ValueError as exc:
            self._fail(
                f"answered a line that is not JSON ({exc}): {_excerpt(text)}; "
                "only answers may appear on stdout, logs belong on stderr",
                sent,
            )
        if not isinstance(answer, dict):
            self._fail(
                f"answered JSON that is not an object: {_excerpt(text)}; "
                'answer {"id": ..., "ok": ...} on one line',
                sent,
            )
        aid = answer.pop("id", None)
        if type(aid) is not int or aid != sent["id"]:
            self._fail(
                f"answered with id {json.dumps(aid)} to request id {sent['id']}; "
                "each answer must echo its request's id, one answer per request",
                sent,
            )
        ok = answer.get("ok")
        if not isinstance(ok, bool):
            self._fail(f'answered without a boolean "ok": {_excerpt(text)}', sent)
        if not ok:
            status = answer.get("status")
            if not isinstance(status, dict) or type(status.get("code")) is not int:
                self._fail(
                    'answered "ok": false without a "status" object carrying an integer "code": '
                    + _excerpt(text),
                    sent,
                )
        return answer

    def _fail_timeout(self, what: str, sent: Mapping[str, Any]) -> NoReturn:
        seconds = request_timeout(sent, self.request_timeout)
        self._fail(
            f"{what} within {seconds:g} s and was killed; "
            "raise --request-timeout if the target is only slow",
            sent,
        )

    def _fail_exited(self, what: str, sent: Mapping[str, Any]) -> NoReturn:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=_REAP_TIMEOUT)
        rc = self._proc.returncode
        if rc is None:
            self._fail(f"{what} but is still running; it was killed", sent)
        self._fail(f"{what}: {_describe_exit(rc)}", sent)

    def _fail(self, message: str, sent: Mapping[str, Any]) -> NoReturn:
        self._fault = message
        self._closed = True
        self._kill()
        self._release()
        raise TargetFault(
            f"target {self.description} {message}", request=sent, stderr_tail=self.stderr_tail()
        )

    def _kill(self) -> None:
        if self._proc.returncode is None:
            # Not reaped yet, so the pid (and the group it leads) is still ours.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        self._proc.wait()

    def _release(self) -> None:
        self._stderr_thread.join(_DRAIN_TIMEOUT)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if not self._stderr_thread.is_alive() and self._proc.stderr is not None:
            self._proc.stderr.close()

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        fd = self._proc.stderr.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError:
                break
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            while len(pending) > _MAX_STDERR_LINE:
                lines.append(pending[:_MAX_STDERR_LINE])
                pending = pending[_MAX_STDERR_LINE:]
            decoded = [_decode(line[:_MAX_STDERR_LINE]) for line in lines[-_TAIL_LINES:]]
            with self._stderr_lock:
                self._stderr_lines.extend(decoded)
                self._stderr_partial = _decode(pending)
        with self._stderr_lock:
            if pending:
                self._stderr_lines.append(_decode(pending))
            self._stderr_partial = ""


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _excerpt(line: str | bytes) -> str:
    text = repr(line)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"the process was killed by {name}"
    return f"the process exited with code {rc}"
