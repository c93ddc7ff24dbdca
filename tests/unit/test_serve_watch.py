"""The watch stream of `kubeprop serve`, read straight from its generator (no sockets)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from conformance.serve.app import Served, _events
from conformance.serve.paths import parse_resource_path
from conformance.serve.watch import watch_filter
from reference.cluster import new_cluster


def _configmap(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
    }


def _read(served: Served, since: str, query: dict[str, str], timeout: float) -> list[Any]:
    async def collect() -> list[Any]:
        stream = _events(
            served,
            parse_resource_path("/api/v1/namespaces/default/configmaps"),
            watch_filter(query),
            [],
            since,
            timeout,
            False,
        )
        return [json.loads(line) async for line in stream]

    return asyncio.run(collect())


def test_events_after_a_resource_version_filtered_by_labels() -> None:
    served = Served(new_cluster(3), time_scale=0)
    since = str(served.cluster.revision)
    assert served.send({"op": "create", "object": _configmap("a", "web")})["ok"]
    assert served.send({"op": "create", "object": _configmap("b", "db")})["ok"]
    assert served.send({"op": "delete", "kind": "ConfigMap", "name": "a"})["ok"]
    events = _read(served, since, {"labelSelector": "app=web"}, timeout=0.2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("DELETED", "a"),
    ]


def test_a_compacted_resource_version_ends_the_stream_with_a_410_status() -> None:
    served = Served(new_cluster(3), time_scale=0)
    assert served.send({"op": "create", "object": _configmap("a", "web")})["ok"]
    assert served.send({"op": "create", "object": _configmap("b", "web")})["ok"]
    assert served.send({"op": "compact", "resourceVersion": str(served.cluster.revision)})["ok"]
    events = _read(served, "1", {}, timeout=5)
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    assert (events[0]["object"]["kind"], events[0]["object"]["code"]) == ("Status", 410)


def test_the_clock_follows_the_wall_clock_scaled() -> None:
    served = Served(new_cluster(3), time_scale=1000)
    served.tick()
    before = served.cluster.now
    asyncio.run(asyncio.sleep(0.02))
    served.tick()
    assert served.cluster.now - before >= 10
