"""Starting `kubeprop serve` as a user does: a subprocess on port 0 with a kubeconfig."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parents[2]


@attrs.frozen
class Served:
    process: subprocess.Popen[str]
    url: str
    kubeconfig: Path


@contextlib.contextmanager
def kubeprop_serve(directory: Path, *args: str) -> Iterator[Served]:
    """A running `kubeprop serve ARGS`, stopped on exit; its stderr goes to DIRECTORY/serve.log."""
    kubeconfig = directory / "kubeconfig"
    log = (directory / "serve.log").open("w")
    command = [sys.executable, "-m", "conformance.serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--kubeconfig", str(kubeconfig), *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.fullmatch(r"serving on (http://127\.0\.0\.1:\d+)\n", line)
    try:
        if match is None:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"kubeprop serve did not start: {line!r}\n{(directory / 'serve.log').read_text()}"
            )
        yield Served(process, match.group(1), kubeconfig)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
