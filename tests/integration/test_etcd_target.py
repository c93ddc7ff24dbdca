"""The `etcd:` target against a real etcd: every op of docs/store-protocol.md, answer by answer.

One etcd serves the whole session (per xdist worker), so each test writes
under a key prefix of its own and judges revisions relative to the first
it sees; tests within a worker run one at a time, so nothing else writes
between two requests of a test. A few tests at the end use a fake gateway
to show how the target fails when etcd is absent, garbled or stalled.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from etcd_server import start_etcd

from conformance.targets.base import TargetFault
from conformance.targets.etcd import EtcdTarget
from reference.store import prefix_end

pytestmark = pytest.mark.integration

ALL = "\u0000"


@pytest.fixture
def target(etcd_url: str) -> Iterator[EtcdTarget]:
    t = EtcdTarget(etcd_url, request_timeout=10.0)
    yield t
    t.close()


@pytest.fixture
def p() -> str:
    """A key prefix no other test uses."""
    return f"/kubeprop-test/{uuid.uuid4().hex[:12]}/"


def ok(target: EtcdTarget, request: dict[str, Any]) -> dict[str, Any]:
    answer = target.request(request)
    assert answer.get("ok") is True, (request, answer)
    return answer


def refused(target: EtcdTarget, request: dict[str, Any], code: int, reason: str) -> str:
    answer = target.request(request)
    assert answer.get("ok") is False, (request, answer)
    status = answer["status"]
    assert (status["code"], status["reason"]) == (code, reason), (request, answer)
    assert isinstance(status["message"], str) and status["message"]
    return str(status["message"])


def revision(target: EtcdTarget) -> int:
    rev = ok(target, {"op": "kv.status"})["revision"]
    assert isinstance(rev, int)
    return rev


def put(target: EtcdTarget, key: str, value: str) -> int:
    rev = ok(target, {"op": "kv.put", "key": key, "value": value})["revision"]
    assert isinstance(rev, int)
    return rev


def kv(key: str, value: str, create: int, mod: int, version: int) -> dict[str, Any]:
    return {
        "key": key,
        "value": value,
        "create_revision": create,
        "mod_revision": mod,
        "version": version,
    }


def prefix(p: str) -> dict[str, str]:
    return {"key": p, "range_end": prefix_end(p)}


# -- hello, status, put, range -----------------------------------------------------------------
def test_hello_names_etcd_and_its_version(target: EtcdTarget) -> None:
    answer = ok(target, {"op": "hello", "protocol": 1})
    assert answer["name"] == "etcd"
    assert answer["version"].split(".")[0] == "3", answer
    assert answer["capabilities"] == ["watch", "compact"]
    assert target.description.startswith("etcd:http://127.0.0.1:")


def test_status_is_the_revision_of_the_last_write(target: EtcdTarget, p: str) -> None:
    r0 = revision(target)
    assert r0 >= 1
    assert put(target, p + "a", "1") == r0 + 1
    assert revision(target) == r0 + 1
    assert ok(target, {"op": "kv.status"}).keys() == {"ok", "revision"}


def test_put_then_range_gives_the_key_value_with_its_revisions(target: EtcdTarget, p: str) -> None:
    r1 = put(target, p + "k", "one")
    assert ok(target, {"op": "kv.range", "key": p + "k"}) == {
        "ok": True,
        "revision": r1,
        "kvs": [kv(p + "k", "one", r1, r1, 1)],
    }
    r2 = put(target, p + "k", "")  # an empty value: etcd leaves the field out
    assert r2 == r1 + 1
    answer = ok(target, {"op": "kv.range", "key": p + "k"})
    assert answer["kvs"] == [kv(p + "k", "", r1, r2, 2)]
    missing = ok(target, {"op": "kv.range", "key": p + "missing"})
    assert missing == {"ok": True, "revision": r2, "kvs": []}


def test_text_round_trips_through_base64(target: EtcdTarget, p: str) -> None:
    key, value = p + "ключ/é/😀", "värde \u0000 ✓ \n"
    rev = put(target, key, value)
    assert ok(target, {"op": "kv.range", "key": key})["kvs"] == [kv(key, value, rev, rev, 1)]


def test_range_at_a_past_revision_reads_the_history(target: EtcdTarget, p: str) -> None:
    r1 = put(target, p + "k", "v1")
    r2 = put(target, p + "k", "v2")
    r3 = put(target, p + "other", "x")
    at = {"op": "kv.range", "key": p + "k"}
    assert ok(target, {**at, "revision": r1}) == {
        "ok": True,
        "revision": r3,  # the answer's revision is the store's, not the one read
        "kvs": [kv(p + "k", "v1", r1, r1, 1)],
    }
    assert ok(target, {**at, "revision": r2})["kvs"] == [kv(p + "k", "v2", r1, r2, 2)]
    assert ok(target, {**at, "revision": 0})["kvs"] == [kv(p + "k", "v2", r1, r2, 2)]
    assert ok(target, {**at, "revision": r1 - 1})["kvs"] == []  # before it was written
    whole = ok(target, {"op": "kv.range", **prefix(p), "revision": r1})
    assert [x["key"] for x in whole["kvs"]] == [p + "k"]


def test_ranges_follow_etcds_range_end(target: EtcdTarget, p: str) -> None:
    revs = {name: put(target, p + name, name.upper()) for name in ["b", "a", "é", "c", "ab"]}
    outside = put(target, p[:-1] + "0", "outside")  # prefix_end(p) itself: not in the prefix
    everything = ok(target, {"op": "kv.range", **prefix(p)})
    assert everything["revision"] == outside
    # Sorted by key (UTF-8 bytes, which is code point order), whatever the write order.
    assert [x["key"] for x in everything["kvs"]] == [p + n for n in ["a", "ab", "b", "c", "é"]]
    assert everything["kvs"][0] == kv(p + "a", "A", revs["a"], revs["a"], 1)
    half_open = ok(target, {"op": "kv.range", "key": p + "ab", "range_end": p + "c"})
    assert [x["key"] for x in half_open["kvs"]] == [p + "ab", p + "b"]
    from_b = ok(target, {"op": "kv.range", "key": p + "b", "range_end": ALL})
    keys = [x["key"] for x in from_b["kvs"]]
    assert keys[:3] == [p + "b", p + "c", p + "é"]
    assert keys == sorted(keys, key=lambda k: k.encode()) and min(keys) == p + "b"
    assert p[:-1] + "0" in keys
    empty = ok(target, {"op": "kv.range", "key": p + "c", "range_end": p + "c"})
    assert empty["kvs"] == []


# -- delete ------------------------------------------------------------------------------------
def test_delete_answers_the_count_and_a_missing_key_writes_nothing(
    target: EtcdTarget, p: str
) -> None:
    put(target, p + "a", "1")
    put(target, p + "b", "2")
    r = put(target, p + "c", "3")
    assert ok(target, {"op": "kv.delete", "key": p + "missing"}) == {
        "ok": True,
        "revision": r,
        "deleted": 0,
    }
    assert revision(target) == r
    assert ok(target, {"op": "kv.delete", "key": p + "a"}) == {
        "ok": True,
        "revision": r + 1,
        "deleted": 1,
    }
    # One revision for the whole range.
    assert ok(target, {"op": "kv.delete", **prefix(p)}) == {
        "ok": True,
        "revision": r + 2,
        "deleted": 2,
    }
    assert ok(target, {"op": "kv.range", **prefix(p)})["kvs"] == []
    assert ok(target, {"op": "kv.delete", **prefix(p)})["deleted"] == 0
    assert revision(target) == r + 2


# -- txn ---------------------------------------------------------------------------------------
def present(r: int) -> dict[str, int]:
    """The key `k` as each case below sees it: put once, at revision r."""
    return {"VERSION": 1, "CREATE": r, "MOD": r}


#: (target, result, operand: "value" | int offset from the key's own number, holds?)
COMPARES: list[tuple[str, str, Any, bool]] = [
    ("VALUE", "EQUAL", "m", True),
    ("VALUE", "EQUAL", "x", False),
    ("VALUE", "NOT_EQUAL", "x", True),
    ("VALUE", "NOT_EQUAL", "m", False),
    ("VALUE", "GREATER", "a", True),
    ("VALUE", "GREATER", "z", False),
    ("VALUE", "LESS", "z", True),
    ("VALUE", "LESS", "m", False),
    ("VERSION", "EQUAL", 0, True),
    ("VERSION", "NOT_EQUAL", 0, False),
    ("VERSION", "GREATER", -1, True),
    ("VERSION", "LESS", 0, False),
    ("CREATE", "EQUAL", 0, True),
    ("CREATE", "GREATER", 0, False),
    ("CREATE", "LESS", 1, True),
    ("MOD", "EQUAL", 0, True),
    ("MOD", "NOT_EQUAL", 1, True),
    ("MOD", "LESS", 0, False),
    ("MOD", "GREATER", -1, True),
]


@pytest.mark.parametrize(("field", "result", "operand", "holds"), COMPARES)
def test_txn_compare_picks_the_branch(
    target: EtcdTarget, p: str, field: str, result: str, operand: Any, holds: bool
) -> None:
    r = put(target, p + "k", "m")
    value = operand if field == "VALUE" else present(r)[field] + operand
    answer = ok(
        target,
        {
            "op": "kv.txn",
            "compares": [{"key": p + "k", "target": field, "result": result, "value": value}],
            "success": [{"put": {"key": p + "then", "value": "s"}}],
            "failure": [{"range": {"key": p + "k"}}],
        },
    )
    if holds:
        assert answer == {
            "ok": True,
            "revision": r + 1,
            "succeeded": True,
            "responses": [{"put": {}}],
        }
        assert ok(target, {"op": "kv.range", "key": p + "then"})["kvs"] == [
            kv(p + "then", "s", r + 1, r + 1, 1)
        ]
    else:
        # etcd leaves `succeeded: false` out; the failure branch only read: no new revision.
        assert answer == {
            "ok": True,
            "revision": r,
            "succeeded": False,
            "responses": [{"range": {"kvs": [kv(p + "k", "m", r, r, 1)]}}],
        }
        assert revision(target) == r


@pytest.mark.parametrize(
    ("field", "value", "holds"),
    [
        ("VERSION", 0, True),
        ("CREATE", 0, True),
        ("MOD", 0, True),
        ("MOD", 1, False),
        ("VALUE", "", False),  # an absent key fails every VALUE compare ...
        ("VALUE", "x", False),
    ],
)
@pytest.mark.parametrize("result", ["EQUAL", "NOT_EQUAL"])
def test_txn_compare_on_an_absent_key(
    target: EtcdTarget, p: str, field: str, value: Any, holds: bool, result: str
) -> None:
    r = revision(target)
    if result == "NOT_EQUAL" and field != "VALUE":
        holds = not holds  # ... even NOT_EQUAL; the others see zeros
    answer = ok(
        target,
        {
            "op": "kv.txn",
            "compares": [{"key": p + "absent", "target": field, "result": result, "value": value}],
            "success": [{"put": {"key": p + "absent", "value": "created"}}],
            "failure": [],
        },
    )
    assert answer["succeeded"] is holds
    assert answer["revision"] == (r + 1 if holds else r)
    assert answer["responses"] == ([{"put": {}}] if holds else [])


def test_txn_runs_its_branch_at_one_revision_and_reads_its_own_writes(
    target: EtcdTarget, p: str
) -> None:
    r1 = put(target, p + "gone", "x")
    r2 = put(target, p + "kept", "y")
    answer = ok(
        target,
        {
            "op": "kv.txn",
            "compares": [
                {"key": p + "kept", "target": "VALUE", "result": "EQUAL", "value": "y"},
                {"key": p + "gone", "target": "MOD", "result": "EQUAL", "value": r1},
            ],
            "success": [
                {"put": {"key": p + "new", "value": "n"}},
                {"delete": {"key": p + "gone"}},
                {"delete": {"key": p + "nothing-here"}},
                {"range": {**prefix(p)}},
            ],
            "failure": [{"put": {"key": p + "failed", "value": "f"}}],
        },
    )
    r3 = r2 + 1
    assert answer == {
        "ok": True,
        "revision": r3,
        "succeeded": True,
        "responses": [
            {"put": {}},
            {"delete": {"deleted": 1}},
            {"delete": {"deleted": 0}},
            {"range": {"kvs": [kv(p + "kept", "y", r2, r2, 1), kv(p + "new", "n", r3, r3, 1)]}},
        ],
    }
    assert revision(target) == r3


def test_txn_failure_branch_writes_and_empty_txns_write_nothing(target: EtcdTarget, p: str) -> None:
    r = put(target, p + "k", "v")
    answer = ok(
        target,
        {
            "op": "kv.txn",
            "compares": [{"key": p + "k", "target": "VERSION", "result": "GREATER", "value": 1}],
            "success": [{"delete": {"key": p + "k"}}],
            "failure": [{"put": {"key": p + "k", "value": "w"}}, {"range": {"key": p + "k"}}],
        },
    )
    assert answer == {
        "ok": True,
        "revision": r + 1,
        "succeeded": False,
        "responses": [{"put": {}}, {"range": {"kvs": [kv(p + "k", "w", r, r + 1, 2)]}}],
    }
    empty = {"op": "kv.txn", "compares": [], "success": [], "failure": []}
    assert ok(target, empty) == {"ok": True, "revision": r + 1, "succeeded": True, "responses": []}
    assert revision(target) == r + 1


def test_txn_that_puts_a_key_twice_is_refused(target: EtcdTarget, p: str) -> None:
    r = revision(target)
    twice = [{"put": {"key": p + "k", "value": "1"}}, {"put": {"key": p + "k", "value": "2"}}]
    message = refused(
        target, {"op": "kv.txn", "compares": [], "success": twice, "failure": []}, 400, "BadRequest"
    )
    assert "duplicate key" in message
    assert revision(target) == r


# -- watch -------------------------------------------------------------------------------------
def watch(target: EtcdTarget, start: int, until: int, **key_range: str) -> list[dict[str, Any]]:
    answer = ok(
        target, {"op": "kv.watch", "start_revision": start, "until_revision": until, **key_range}
    )
    assert answer.keys() == {"ok", "events"}
    events: list[dict[str, Any]] = answer["events"]
    return events


def put_event(key: str, value: str, create: int, mod: int, version: int) -> dict[str, Any]:
    return {"type": "PUT", "kv": kv(key, value, create, mod, version)}


def delete_event(key: str, mod: int) -> dict[str, Any]:
    return {"type": "DELETE", "kv": {"key": key, "mod_revision": mod}}


def test_watch_returns_exactly_the_events_in_the_window_in_order(
    target: EtcdTarget, p: str
) -> None:
    r1 = put(target, p + "a", "1")
    r2 = put(target, p + "b", "1")
    txn = ok(
        target,
        {
            "op": "kv.txn",
            "compares": [],
            "success": [
                {"put": {"key": p + "c", "value": "1"}},
                {"delete": {"key": p + "b"}},
                {"put": {"key": p + "a", "value": "2"}},
            ],
            "failure": [],
        },
    )
    r3 = txn["revision"]
    r4 = put(target, p[:-1] + "0", "outside")  # just past the prefix
    r5 = ok(target, {"op": "kv.delete", "key": p + "a"})["revision"]
    r6 = put(target, p + "later", "not asked for")
    assert [r2, r3, r4, r5, r6] == [r1 + 1, r1 + 2, r1 + 3, r1 + 4, r1 + 5]

    all_events = [
        put_event(p + "a", "1", r1, r1, 1),
        put_event(p + "b", "1", r2, r2, 1),
        # A txn's events share its revision, in the order of its operations.
        put_event(p + "c", "1", r3, r3, 1),
        delete_event(p + "b", r3),
        put_event(p + "a", "2", r1, r3, 2),
        delete_event(p + "a", r5),
    ]
    assert watch(target, r1, r5, **prefix(p)) == all_events
    assert watch(target, r2, r3, **prefix(p)) == all_events[1:5]
    assert watch(target, r3, r3, **prefix(p)) == all_events[2:5]
    assert watch(target, r4, r4, **prefix(p)) == []  # a revision with no event on the range
    assert watch(target, r1, r5, key=p + "a") == [all_events[i] for i in (0, 4, 5)]
    assert (
        watch(target, r1, r5, key=p + "b", range_end=p + "c") == all_events[1:2] + all_events[3:4]
    )
    assert watch(target, r3, r3, key=p + "c", range_end=ALL)[0] == all_events[2]
    # The whole prefix up to the newest revision includes the write after r5.
    assert watch(target, r1, r6, **prefix(p))[-1] == put_event(
        p + "later", "not asked for", r6, r6, 1
    )


def test_watch_with_nothing_to_report_answers_at_once(target: EtcdTarget, p: str) -> None:
    r = put(target, p + "elsewhere", "x")
    began = time.monotonic()
    assert watch(target, r, r, key=p + "quiet") == []  # no event on the key: no waiting
    assert watch(target, r + 1, r, **prefix(p)) == []  # until before start
    assert watch(target, r + 1, r + 100, **prefix(p)) == []  # nothing after now
    assert watch(target, r + 50, r + 100, **prefix(p)) == []  # start far ahead of the store
    assert watch(target, r, r + 100, **prefix(p)) == [put_event(p + "elsewhere", "x", r, r, 1)]
    assert time.monotonic() - began < 5


# -- compaction --------------------------------------------------------------------------------
def test_compaction_refuses_reads_and_watches_below_it(target: EtcdTarget, p: str) -> None:
    r1 = put(target, p + "k", "1")
    r2 = put(target, p + "k", "2")
    r3 = put(target, p + "k", "3")
    assert ok(target, {"op": "kv.compact", "revision": r2}) == {"ok": True}
    assert revision(target) == r3  # compaction is not a write
    at = {"op": "kv.range", "key": p + "k"}
    assert "compacted" in refused(target, {**at, "revision": r1}, 410, "Compacted")
    assert ok(target, {**at, "revision": r2})["kvs"] == [kv(p + "k", "2", r1, r2, 2)]
    assert ok(target, {**at, "revision": r3})["kvs"] == [kv(p + "k", "3", r1, r3, 3)]
    assert ok(target, at)["kvs"] == [kv(p + "k", "3", r1, r3, 3)]
    watch_from = {"op": "kv.watch", **prefix(p), "until_revision": r3}
    refused(target, {**watch_from, "start_revision": r1}, 410, "Compacted")
    assert ok(target, {**watch_from, "start_revision": r3})["events"] == [
        put_event(p + "k", "3", r1, r3, 3)
    ]
    # At or below the compaction revision, compacting again is refused.
    refused(target, {"op": "kv.compact", "revision": r2}, 410, "Compacted")
    refused(target, {"op": "kv.compact", "revision": r1}, 410, "Compacted")
    assert ok(target, {"op": "kv.compact", "revision": r3}) == {"ok": True}


def test_watch_from_the_compaction_revision_loses_its_deletions(target: EtcdTarget, p: str) -> None:
    """etcd's own behaviour, pinned: a watch may start at the compaction revision C, but
    compaction dropped C's tombstones, so C's DELETE events are gone (its PUTs stay)."""
    r1 = put(target, p + "x", "1")
    both = {
        "op": "kv.txn",
        "compares": [],
        "success": [{"put": {"key": p + "y", "value": "1"}}, {"delete": {"key": p + "x"}}],
        "failure": [],
    }
    c = ok(target, both)["revision"]
    only_delete = ok(target, {"op": "kv.delete", "key": p + "y"})["revision"]
    assert ok(target, {"op": "kv.compact", "revision": c}) == {"ok": True}
    assert watch(target, c, c, **prefix(p)) == [put_event(p + "y", "1", c, c, 1)]
    assert watch(target, c, only_delete, **prefix(p)) == [
        put_event(p + "y", "1", c, c, 1),
        delete_event(p + "y", only_delete),
    ]
    assert ok(target, {"op": "kv.compact", "revision": only_delete}) == {"ok": True}
    assert watch(target, only_delete, only_delete, **prefix(p)) == []
    assert r1 < c


def test_future_revisions_are_refused(target: EtcdTarget, p: str) -> None:
    r = put(target, p + "k", "v")
    message = refused(
        target, {"op": "kv.range", "key": p + "k", "revision": r + 10}, 400, "FutureRevision"
    )
    assert "future revision" in message
    refused(target, {"op": "kv.compact", "revision": r + 10}, 400, "FutureRevision")
    assert revision(target) == r


# -- what the target refuses itself ------------------------------------------------------------
@pytest.mark.parametrize(
    "request_",
    [
        {"op": "kv.put", "key": 1, "value": "v"},
        {"op": "kv.put", "key": "k"},
        {"op": "kv.range", "key": "k", "revision": "3"},
        {"op": "kv.range", "key": ""},  # etcd's own refusal: "key is not provided"
        {"op": "kv.txn", "compares": [{"key": "k", "target": "SIZE", "result": "EQUAL"}]},
        {"op": "kv.txn", "compares": [], "success": [{"patch": {"key": "k"}}]},
        {"op": "kv.watch", "key": "k", "start_revision": 1},
        {"op": "kv.compact"},
    ],
    ids=lambda r: str(r),
)
def test_malformed_requests_answer_400(target: EtcdTarget, request_: dict[str, Any]) -> None:
    refused(target, request_, 400, "BadRequest")


@pytest.mark.parametrize("op", ["kv.snapshot", "kv.restore", "kv.lease", "create"])
def test_ops_the_gateway_lacks_answer_501(target: EtcdTarget, op: str) -> None:
    message = refused(target, {"op": op, "image": {}}, 501, "NotImplemented")
    assert op in message


# -- when etcd is not there, or not etcd -------------------------------------------------------
def test_unreachable_etcd_is_a_target_fault_that_says_how_to_check() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    t = EtcdTarget(f"http://127.0.0.1:{port}", request_timeout=2.0)
    with pytest.raises(TargetFault) as caught:
        t.request({"op": "kv.put", "key": "k", "value": "v"})
    text = str(caught.value)
    assert "ConnectionRefusedError" in text and "endpoint health" in text
    assert caught.value.request == {"op": "kv.put", "key": "k", "value": "v"}
    t.close()


def test_the_target_reconnects_after_etcd_restarts(etcd_url: str, tmp_path: Path) -> None:
    """A keep-alive connection etcd closed while idle is replaced before the next request,
    so even a write goes through (and is not sent twice). Uses an etcd of its own."""
    first = start_etcd(tmp_path)
    client_port = int(first.url.rsplit(":", 1)[1])
    peer_port = int(first.peer_url.rsplit(":", 1)[1])
    t = EtcdTarget(first.url, request_timeout=10.0)
    try:
        r = put(t, "k", "1")
        first.stop()
        second = start_etcd(
            tmp_path, data_dir=first.data_dir, client_port=client_port, peer_port=peer_port
        )
        try:
            assert put(t, "k", "2") == r + 1
            assert ok(t, {"op": "kv.range", "key": "k"})["kvs"] == [kv("k", "2", r, r + 1, 2)]
        finally:
            second.stop()
        with pytest.raises(TargetFault, match="endpoint health"):
            t.request({"op": "kv.status"})
    finally:
        t.close()
        first.stop()


def test_bad_urls_are_refused_up_front() -> None:
    for url in ["127.0.0.1:2379", "ftp://host:1", "http://"]:
        with pytest.raises(ValueError, match="http://HOST:PORT"):
            EtcdTarget(url)


class FakeGateway(BaseHTTPRequestHandler):
    """Answers range with a header at revision 5, garbage to put, and a watch that stalls."""

    protocol_version = "HTTP/1.1"
    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/v3/kv/range":
            self.reply(b'{"header": {"revision": "5"}}')
        elif self.path == "/v3/watch":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            line = b'{"result": {"header": {"revision": "5"}, "created": true}}\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
            self.release.wait(10)  # and never an event
        else:
            self.reply(b"<html>not etcd</html>")

    def reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGateway)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    FakeGateway.release.set()
    server.shutdown()
    server.server_close()


def test_an_answer_that_is_not_json_is_a_target_fault(fake_gateway: str) -> None:
    t = EtcdTarget(fake_gateway, request_timeout=5.0)
    with pytest.raises(TargetFault, match="not a JSON object"):
        t.request({"op": "kv.put", "key": "k", "value": "v"})
    t.close()


def test_a_watch_that_never_delivers_is_a_target_fault_within_the_timeout(
    fake_gateway: str,
) -> None:
    t = EtcdTarget(fake_gateway, request_timeout=0.5)
    request = {"op": "kv.watch", "key": "k", "start_revision": 2, "until_revision": 5}
    began = time.monotonic()
    with pytest.raises(TargetFault, match="did not deliver the watch events") as caught:
        t.request(request)
    assert time.monotonic() - began < 3
    assert caught.value.request == request
    t.close()


def test_answers_are_plain_json(target: EtcdTarget, p: str) -> None:
    r = put(target, p + "k", "v")
    answers = [
        ok(target, {"op": "kv.range", **prefix(p)}),
        ok(target, {"op": "kv.watch", **prefix(p), "start_revision": r, "until_revision": r}),
        ok(target, {"op": "hello"}),
    ]
    for answer in answers:
        assert json.loads(json.dumps(answer)) == answer
