"""One test per level shard; the plugin parametrizes `kubeprop_level` and `kubeprop_shard`."""

import pytest

from conformance.plugin import KubepropSession, run_shard


def test_level(
    kubeprop_session: KubepropSession,
    kubeprop_level: str,
    kubeprop_shard: int,
    request: pytest.FixtureRequest,
) -> None:
    run_shard(kubeprop_session, request, kubeprop_level, kubeprop_shard)
