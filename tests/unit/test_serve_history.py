"""`kubeprop serve`'s reads of the past and of its clock: lists at an exact resourceVersion
(kept cluster values), the `Date` header (the simulated clock) and the kubeconfig's clock
extension."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.serve.app import Served, http_date, make_app
from conformance.serve.history import History
from conformance.serve.main import CLOCK_EXTENSION, kubeconfig
from conformance.serve.paths import parse_resource_path
from conformance.serve.rest import Reply, RestRequest, handle
from reference.cluster import new_cluster

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"


def _configmap(name: str, value: str, app: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "data": {"v": value},
    }


def _call(served: Served, method: str, path: str, body: Any = None, **query: str) -> Reply:
    raw = b"" if body is None else json.dumps(body).encode()
    request = RestRequest(method, parse_resource_path(path), query, raw, "application/json")
    return served.transact(lambda tx: handle(tx, request), commit=method != "GET")


def _exact(served: Served, path: str, revision: int | str, **query: str) -> Reply:
    return _call(
        served, "GET", path, resourceVersion=str(revision), resourceVersionMatch="Exact", **query
    )


def _values(reply: Reply) -> list[tuple[str, str]]:
    assert reply.code == 200, reply.body
    return [(o["metadata"]["name"], o["data"]["v"]) for o in reply.body["items"]]


def _served() -> Served:
    return Served(new_cluster(5), time_scale=0)


def test_an_exact_list_answers_as_at_its_revision() -> None:
    served = _served()
    created = _call(served, "POST", CONFIGMAPS, _configmap("a", "one"))
    first = int(created.body["metadata"]["resourceVersion"])
    changed = {**created.body, "data": {"v": "two"}}
    assert _call(served, "PUT", f"{CONFIGMAPS}/a", changed).code == 200
    second = served.cluster.revision

    at_first = _exact(served, CONFIGMAPS, first)
    assert _values(at_first) == [("a", "one")]
    assert at_first.body["metadata"]["resourceVersion"] == str(first)
    assert _values(_exact(served, CONFIGMAPS, second)) == [("a", "two")]
    assert _values(_call(served, "GET", CONFIGMAPS)) == [("a", "two")]

    assert _call(served, "DELETE", f"{CONFIGMAPS}/a").code == 200
    assert _values(_exact(served, CONFIGMAPS, second)) == [("a", "two")]
    assert _values(_exact(served, CONFIGMAPS, served.cluster.revision)) == []


def test_an_exact_list_applies_its_selectors() -> None:
    served = _served()
    _call(served, "POST", CONFIGMAPS, _configmap("a", "one", app="web"))
    _call(served, "POST", CONFIGMAPS, _configmap("b", "one", app="db"))
    at = served.cluster.revision
    _call(served, "POST", CONFIGMAPS, _configmap("c", "one", app="web"))
    assert _values(_exact(served, CONFIGMAPS, at, labelSelector="app=web")) == [("a", "one")]
    by_name = _exact(served, CONFIGMAPS, at, fieldSelector="metadata.name=b")
    assert _values(by_name) == [("b", "one")]


def test_several_kinds_listed_at_one_revision() -> None:
    served = _served()
    _call(served, "POST", CONFIGMAPS, _configmap("a", "one"))
    at = int(_call(served, "GET", CONFIGMAPS).body["metadata"]["resourceVersion"])
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    _call(served, "POST", SECRETS, secret)
    assert _exact(served, SECRETS, at).body["items"] == []
    assert [s["metadata"]["name"] for s in _call(served, "GET", SECRETS).body["items"]] == ["s"]


def test_a_revision_inside_one_commit_is_served_for_kinds_unchanged_since() -> None:
    served = _served()

    def two_writes(tx: Any) -> int:
        tx.send({"op": "create", "object": _configmap("a", "one")})
        between = tx.cluster.revision
        tx.send({"op": "create", "object": _configmap("b", "one")})
        return int(between)

    between = served.transact(two_writes)
    assert _exact(served, SECRETS, between).code == 200
    gone = _exact(served, CONFIGMAPS, between)
    assert (gone.code, gone.body["reason"]) == (410, "Expired")


def test_a_revision_older_than_the_kept_history_is_expired() -> None:
    served = _served()
    served.history = History(served.cluster, size=2)
    start = served.cluster.revision
    for i in range(3):
        _call(served, "POST", CONFIGMAPS, _configmap(f"c{i}", "x"))
    expired = _exact(served, CONFIGMAPS, start)
    assert (expired.code, expired.body["reason"], expired.body["kind"]) == (
        410,
        "Expired",
        "Status",
    )
    assert expired.body["message"] == "The resourceVersion for the provided list is too old."
    assert _exact(served, CONFIGMAPS, served.cluster.revision - 1).code == 200


def test_a_compacted_revision_is_expired() -> None:
    served = _served()
    start = served.cluster.revision
    _call(served, "POST", CONFIGMAPS, _configmap("a", "one"))
    assert served.send({"op": "compact", "resourceVersion": str(served.cluster.revision)})["ok"]
    assert _exact(served, CONFIGMAPS, start).code == 410


def test_a_revision_ahead_of_the_cluster_is_too_large() -> None:
    served = _served()
    current = served.cluster.revision
    ahead = _exact(served, CONFIGMAPS, current + 5)
    assert (ahead.code, ahead.body["reason"]) == (504, "Timeout")
    assert ahead.body["message"] == (
        f"Timeout: Too large resource version: {current + 5}, current: {current}"
    )
    assert ahead.body["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"resourceVersionMatch": "Exact"},
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless"
            " resourceVersion is provided",
        ),
        (
            {"resourceVersionMatch": "NotOlderThan"},
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless"
            " resourceVersion is provided",
        ),
        (
            {"resourceVersion": "0", "resourceVersionMatch": "Exact"},
            'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for'
            ' resourceVersion "0"',
        ),
        (
            {"resourceVersion": "3", "resourceVersionMatch": "Latest"},
            'resourceVersionMatch: Unsupported value: "Latest": supported values: "Exact",'
            ' "NotOlderThan", ""',
        ),
        (
            {"resourceVersionMatch": "exact"},
            "[resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless"
            ' resourceVersion is provided, resourceVersionMatch: Unsupported value: "exact":'
            ' supported values: "Exact", "NotOlderThan", ""]',
        ),
    ],
)
def test_invalid_list_options_are_refused_as_upstream_validates_them(
    query: dict[str, str], message: str
) -> None:
    served = _served()
    before = served.cluster
    refused = _call(served, "GET", CONFIGMAPS, **query)
    assert (refused.code, refused.body["reason"]) == (422, "Invalid")
    assert refused.body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'
    details = refused.body["details"]
    assert (details["group"], details["kind"]) == ("meta.k8s.io", "ListOptions")
    assert {c["field"] for c in details["causes"]} == {"resourceVersionMatch"}
    assert served.cluster is before


def test_not_older_than_and_a_bare_resource_version_list_the_current_state() -> None:
    served = _served()
    start = served.cluster.revision
    _call(served, "POST", CONFIGMAPS, _configmap("a", "one"))
    newer = _call(
        served, "GET", CONFIGMAPS, resourceVersion=str(start), resourceVersionMatch="NotOlderThan"
    )
    assert _values(newer) == [("a", "one")]
    assert _values(_call(served, "GET", CONFIGMAPS, resourceVersion=str(start))) == [("a", "one")]
    assert _values(_call(served, "GET", CONFIGMAPS, resourceVersion="0")) == [("a", "one")]


def test_a_get_accepts_a_resource_version() -> None:
    served = _served()
    created = _call(served, "POST", CONFIGMAPS, _configmap("a", "one")).body
    got = _call(served, "GET", f"{CONFIGMAPS}/a", resourceVersion="1")
    assert (got.code, got.body["metadata"]["uid"]) == (200, created["metadata"]["uid"])


def test_a_malformed_exact_resource_version_is_a_bad_request() -> None:
    served = _served()
    assert _exact(served, CONFIGMAPS, "soon").code == 400


def test_history_keeps_the_last_revisions() -> None:
    served = _served()
    history = History(served.cluster, size=3)
    for i in range(5):
        served.send({"op": "create", "object": _configmap(f"c{i}", "x")})
        history.record(served.cluster)
    assert history.oldest == served.cluster.revision - 2
    history.record(new_cluster(5))
    assert history.oldest == new_cluster(5).revision


# -- the Date header -------------------------------------------------------------------------------


def _asgi_get(served: Served, path: str, query: str = "") -> tuple[int, dict[str, str], bytes]:
    """One GET through the whole app (middleware included), without a socket."""
    app = make_app(served)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        """The empty body, then nothing: the client stays connected until the reply ends."""
        nonlocal requested
        if requested:
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers: dict[str, list[str]] = {}
    for key, value in start["headers"]:
        headers.setdefault(key.decode().lower(), []).append(value.decode())
    assert all(len(v) == 1 for v in headers.values()), headers
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k: v[0] for k, v in headers.items()}, body


def test_http_date_is_the_simulated_instant() -> None:
    assert http_date(0) == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert http_date(86400 + 3661.75) == "Thu, 02 Jan 2025 01:01:01 GMT"


def test_the_date_header_follows_the_simulated_clock() -> None:
    served = _served()
    code, headers, _ = _asgi_get(served, "/version")
    assert (code, headers["date"]) == (200, "Wed, 01 Jan 2025 00:00:00 GMT")
    assert served.send({"op": "advance", "seconds": 7200})["ok"]
    code, headers, _ = _asgi_get(served, CONFIGMAPS)
    assert (code, headers["date"]) == (200, "Wed, 01 Jan 2025 02:00:00 GMT")
    code, headers, _ = _asgi_get(served, "/api/v1/widgets")
    assert (code, headers["date"]) == (404, "Wed, 01 Jan 2025 02:00:00 GMT")


def test_a_watch_stream_carries_the_simulated_date() -> None:
    served = _served()
    code, headers, body = _asgi_get(served, CONFIGMAPS, "watch=true&timeoutSeconds=0.1")
    assert (code, headers["date"]) == (200, "Wed, 01 Jan 2025 00:00:00 GMT")
    assert body == b""


# -- the kubeconfig --------------------------------------------------------------------------------


def test_the_kubeconfig_carries_the_time_scale(tmp_path: Path) -> None:
    written = kubeconfig("http://127.0.0.1:1234", 2.5)
    cluster: Any = written["clusters"]
    assert cluster[0]["cluster"]["extensions"] == [
        {"name": CLOCK_EXTENSION, "extension": {"timeScale": 2.5}}
    ]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(written, sort_keys=False))
    loaded = yaml.safe_load(path.read_text())
    assert loaded["clusters"][0]["cluster"]["extensions"][0]["extension"]["timeScale"] == 2.5


def test_the_official_client_loads_the_kubeconfig(tmp_path: Path) -> None:
    config: Any = pytest.importorskip("kubernetes.config")
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig("http://127.0.0.1:1234", 0), sort_keys=False))
    api_client = config.new_client_from_config(config_file=str(path))
    assert api_client.configuration.host == "http://127.0.0.1:1234"
