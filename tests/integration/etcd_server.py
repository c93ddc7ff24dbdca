"""A throwaway single-node etcd for the integration tests: start, wait for health, stop.

Each etcd listens on two free loopback ports (found by binding to port 0)
with a data directory of its own, so pytest-xdist workers never share one.
Its log goes to `etcd.log` beside the data directory; when etcd does not
come up, the error carries the log's tail. `restore_snapshot` and
`save_snapshot` drive `etcdctl` (API 3) for the backup test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = [
    "ETCD_NAME",
    "EtcdProcess",
    "find_etcd",
    "find_etcdctl",
    "free_port",
    "restore_snapshot",
    "save_snapshot",
    "start_etcd",
]

ETCD_NAME = "kubeprop"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
ETCDCTL_TIMEOUT = 60.0
_POLL = 0.05
_LOG_TAIL = 30
_START_ATTEMPTS = 3  # a free port can be taken by someone else before etcd binds it


def find_etcd() -> str | None:
    """The `etcd` server binary: on PATH, else Debian's /usr/bin/etcd."""
    return _find("etcd")


def find_etcdctl() -> str | None:
    return _find("etcdctl")


def _find(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    fallback = Path("/usr/bin") / name
    return str(fallback) if fallback.is_file() and os.access(fallback, os.X_OK) else None


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """This environment without ETCD_* / ETCDCTL_* settings (etcd reads its flags from them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
    env["ETCDCTL_API"] = "3"
    return env


class EtcdProcess:
    """A running etcd member: its client `url`, `data_dir`, and `stop()`."""

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        url: str,
        peer_url: str,
        name: str,
        data_dir: Path,
        log_path: Path,
    ) -> None:
        self.process = process
        self.url = url
        self.peer_url = peer_url
        self.name = name
        self.data_dir = data_dir
        self.log_path = log_path

    def log_tail(self, lines: int = _LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """Terminate etcd; kill it if it has not exited after `STOP_TIMEOUT` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)

    def __repr__(self) -> str:
        return f"EtcdProcess(url={self.url!r}, data_dir={str(self.data_dir)!r})"


def start_etcd(
    tmp_path: Path,
    *,
    data_dir: Path | None = None,
    name: str = ETCD_NAME,
    client_port: int | None = None,
    peer_port: int | None = None,
) -> EtcdProcess:
    """Start etcd under `tmp_path` and return once `/health` answers healthy.

    `data_dir` defaults to a new `tmp_path/etcd-data`; give an existing one
    (a restored snapshot) to start from it, with the ports and name it was
    restored for. Ports left out are picked free, and picked again if
    another process takes one first.
    """
    binary = find_etcd()
    if binary is None:
        raise FileNotFoundError(
            "etcd is not installed; ci/test installs etcd-server with apt-get as root"
        )
    tmp_path.mkdir(parents=True, exist_ok=True)
    # Another try on new ports only when the ports and the data dir are ours to replace.
    retry = client_port is None and peer_port is None and data_dir is None
    data_dir = data_dir if data_dir is not None else tmp_path / "etcd-data"
    attempts = _START_ATTEMPTS if retry else 1
    for attempt in range(1, attempts + 1):
        etcd = _launch(
            binary,
            tmp_path,
            data_dir,
            name,
            client_port or free_port(),
            peer_port or free_port(),
            attempt,
        )
        try:
            _wait_healthy(etcd)
        except RuntimeError:
            etcd.stop()
            if attempt < attempts and "address already in use" in etcd.log_tail(200):
                shutil.rmtree(data_dir, ignore_errors=True)
                continue
            raise
        return etcd
    raise AssertionError("unreachable")  # pragma: no cover


def _launch(
    binary: str,
    tmp_path: Path,
    data_dir: Path,
    name: str,
    client_port: int,
    peer_port: int,
    attempt: int,
) -> EtcdProcess:
    url = f"http://127.0.0.1:{client_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    suffix = "" if attempt == 1 else f".{attempt}"
    log_path = tmp_path / f"{data_dir.name}{suffix}.log"
    argv = [
        binary,
        "--name", name,
        "--data-dir", str(data_dir),
        "--listen-client-urls", url,
        "--advertise-client-urls", url,
        "--listen-peer-urls", peer_url,
        "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"{name}={peer_url}",
        "--initial-cluster-state", "new",
        # One member: it elects itself in ~0.1 s instead of ~1 s (no peer to miss a heartbeat).
        "--heartbeat-interval", "10",
        "--election-timeout", "100",
        "--logger", "zap",
        "--log-outputs", "stderr",
        "--log-level", "warn",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_clean_env(),
            start_new_session=True,
        )
    return EtcdProcess(
        process=process,
        url=url,
        peer_url=peer_url,
        name=name,
        data_dir=data_dir,
        log_path=log_path,
    )


def _wait_healthy(etcd: EtcdProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = etcd.process.poll()
        if code is not None:
            raise RuntimeError(
                f"etcd exited with status {code} before it was healthy ({etcd!r});"
                f" its log ends:\n{etcd.log_tail()}"
            )
        try:
            with urllib.request.urlopen(etcd.url + "/health", timeout=1.0) as response:
                body = json.loads(response.read())
            if body.get("health") == "true":
                return
            last = f"/health answered {body}"
        except (OSError, ValueError, urllib.error.URLError) as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(_POLL)
    raise RuntimeError(
        f"etcd was not healthy within {START_TIMEOUT:g}s ({etcd!r}; last: {last});"
        f" its log ends:\n{etcd.log_tail()}"
    )


def _etcdctl(*args: str) -> subprocess.CompletedProcess[str]:
    binary = find_etcdctl()
    if binary is None:
        raise FileNotFoundError(
            "etcdctl is not installed; ci/test installs etcd-client with apt-get as root"
        )
    done = subprocess.run(
        [binary, *args],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=ETCDCTL_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"etcdctl {' '.join(args)} failed with status {done.returncode}:\n"
            f"{done.stdout}{done.stderr}"
        )
    return done


def save_snapshot(url: str, snapshot_file: Path) -> None:
    """`etcdctl snapshot save`: a consistent copy of the member's database at `url`."""
    _etcdctl("--endpoints", url, "snapshot", "save", str(snapshot_file))


def restore_snapshot(
    snapshot_file: Path,
    data_dir: Path,
    *,
    name: str = ETCD_NAME,
    peer_url: str = "http://127.0.0.1:2380",
) -> None:
    """`etcdctl snapshot restore` into a new `data_dir`, for a one-member cluster.

    Start the restored member with the same `name` and peer URL (the peer
    port given to `start_etcd`): they are written into its membership. (A
    one-member etcd 3.4 starts even when they differ, but then advertises a
    peer URL it does not listen on.)
    """
    with contextlib.suppress(FileNotFoundError):
        if any(data_dir.iterdir()):
            raise FileExistsError(f"restore needs a new data dir; {data_dir} is not empty")
        data_dir.rmdir()  # etcdctl refuses a data dir that exists, even empty
    _etcdctl(
        "snapshot", "restore", str(snapshot_file),
        "--data-dir", str(data_dir),
        "--name", name,
        "--initial-cluster", f"{name}={peer_url}",
        "--initial-advertise-peer-urls", peer_url,
    )  # fmt: skip
