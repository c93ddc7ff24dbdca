"""etcd's backup contract: a snapshot restored into a new member brings back the whole store.

Keys with history (overwrites, deletions, a txn, a compaction) go into the
session's etcd; `etcdctl snapshot save` copies it; `etcdctl snapshot
restore` builds a new data directory from the copy; a second etcd started
from that directory must hold every key with its value, create and mod
revisions and version, the same current revision, the history above the
compaction, and the compaction itself.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from etcd_server import free_port, restore_snapshot, save_snapshot, start_etcd

from conformance.targets.etcd import EtcdTarget
from reference.store import prefix_end

pytestmark = pytest.mark.integration

EVERY_KEY = {"key": "\u0000", "range_end": "\u0000"}


def ok(target: EtcdTarget, request: dict[str, Any]) -> dict[str, Any]:
    answer = target.request(request)
    assert answer.get("ok") is True, (request, answer)
    return answer


def test_snapshot_restore_brings_back_keys_revisions_and_history(
    etcd_url: str, etcdctl: str, tmp_path: Path
) -> None:
    p = f"/kubeprop-backup/{uuid.uuid4().hex[:12]}/"
    source = EtcdTarget(etcd_url, request_timeout=10.0)
    try:
        first = ok(source, {"op": "kv.put", "key": p + "a", "value": "1"})["revision"]
        ok(source, {"op": "kv.put", "key": p + "a", "value": "2"})
        ok(source, {"op": "kv.put", "key": p + "b", "value": "gone soon"})
        middle = ok(source, {"op": "kv.put", "key": p + "ü/nested", "value": "é"})["revision"]
        ok(
            source,
            {
                "op": "kv.txn",
                "compares": [],
                "success": [
                    {"put": {"key": p + "a", "value": "3"}},
                    {"delete": {"key": p + "b"}},
                    {"put": {"key": p + "c", "value": ""}},
                ],
                "failure": [],
            },
        )
        assert ok(source, {"op": "kv.compact", "revision": first + 1}) == {"ok": True}
        last = ok(source, {"op": "kv.put", "key": p + "d", "value": "last"})["revision"]

        before = ok(source, {"op": "kv.range", **EVERY_KEY})
        at_middle = ok(
            source, {"op": "kv.range", "key": p, "range_end": prefix_end(p), "revision": middle}
        )
        snapshot = tmp_path / "etcd.snapshot"
        save_snapshot(etcd_url, snapshot)
        assert snapshot.stat().st_size > 0
        assert ok(source, {"op": "kv.range", **EVERY_KEY}) == before  # nothing wrote meanwhile
    finally:
        source.close()
    assert before["revision"] == last
    mine = [kv for kv in before["kvs"] if kv["key"].startswith(p)]
    assert [kv["key"] for kv in mine] == [p + "a", p + "c", p + "d", p + "ü/nested"]
    assert mine[0]["version"] == 3 and mine[0]["create_revision"] == first

    client_port, peer_port = free_port(), free_port()
    restored_dir = tmp_path / "restored"
    restore_snapshot(snapshot, restored_dir, peer_url=f"http://127.0.0.1:{peer_port}")
    restored = start_etcd(
        tmp_path / "second", data_dir=restored_dir, client_port=client_port, peer_port=peer_port
    )
    copy = EtcdTarget(restored.url, request_timeout=10.0)
    try:
        assert restored.url != etcd_url
        # Every key, value, create/mod revision and version, and the current revision.
        assert ok(copy, {"op": "kv.range", **EVERY_KEY}) == before
        assert ok(copy, {"op": "kv.status"})["revision"] == last
        # The history above the compaction, and the compaction itself.
        assert (
            ok(copy, {"op": "kv.range", "key": p, "range_end": prefix_end(p), "revision": middle})
            == at_middle
        )
        answer = copy.request({"op": "kv.range", "key": p + "a", "revision": first})
        assert answer["ok"] is False and answer["status"]["reason"] == "Compacted", answer
        events = ok(
            copy,
            {"op": "kv.watch", "key": p + "a", "start_revision": middle, "until_revision": last},
        )["events"]
        assert [(e["type"], e["kv"]["value"]) for e in events] == [("PUT", "3")]
        # The copy is a store of its own: it takes writes from where the original stopped.
        assert ok(copy, {"op": "kv.put", "key": p + "e", "value": "new"})["revision"] == last + 1
    finally:
        copy.close()
        restored.stop()
