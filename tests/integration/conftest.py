"""Fixtures for the integration tests that need a real etcd (the store suite's `etcd:` target).

`etcd_url` starts one etcd per test session (so one per pytest-xdist
worker) and stops it at the end. Tests share it: each writes under a key
prefix of its own and judges revisions relative to the first it sees.
Without the etcd binaries the tests skip, except in CI (`CI` set), where a
missing etcd means ci/test could not install it and must fail loudly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from etcd_server import find_etcd, find_etcdctl, start_etcd

_NOT_INSTALLED = "{} is not installed; ci/test installs {} with apt-get as root"


def _require(found: str | None, binary: str, package: str) -> str:
    if found is None:
        message = _NOT_INSTALLED.format(binary, package)
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def etcd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The client URL of an etcd started for this session (this xdist worker)."""
    _require(find_etcd(), "etcd", "etcd-server")
    etcd = start_etcd(tmp_path_factory.mktemp("etcd"))
    try:
        yield etcd.url
    finally:
        etcd.stop()


@pytest.fixture(scope="session")
def etcdctl() -> str:
    """The path of `etcdctl` (Debian's etcd-client), for the backup test."""
    return _require(find_etcdctl(), "etcdctl", "etcd-client")
