"""The etcd model (`reference.store`) against etcd v3's contract.

Example tests pin single rules; the Hypothesis properties run random
sequences of put / delete / txn / compact against a naive model that keeps a
full copy of the keyspace at every revision, and check that a snapshot
restores losslessly.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrsistent import pmap

from reference.store import (
    Compacted,
    Compare,
    DeleteRange,
    Event,
    FutureRevision,
    KeyIndex,
    KeyValue,
    Put,
    Range,
    Store,
    StoreError,
    prefix_end,
    restore,
    snapshot,
)

# -- helpers ---------------------------------------------------------------------------------


def puts(store: Store, *pairs: tuple[str, Any]) -> Store:
    for key, value in pairs:
        store = store.put(key, value)
    return store


def keys_at(store: Store, key: str, end: str | None, revision: int = 0) -> list[tuple[str, Any]]:
    return [(kv.key, kv.value) for kv in store.range(key, end, revision).kvs]


def everything(store: Store, revision: int = 0) -> dict[str, Any]:
    return {kv.key: kv.value for kv in store.range("", "\0", revision).kvs}


# -- revisions -------------------------------------------------------------------------------


def test_revision_starts_at_one_and_store_is_empty() -> None:
    store = Store()
    assert store.revision == 1
    assert store.compact_revision == 0
    assert store.range("", "\0").kvs == ()
    assert store.events_after(1) == ()


def test_every_write_raises_the_revision_by_exactly_one() -> None:
    store = Store()
    expected = 1
    for i in range(5):
        store = store.put(f"k{i % 2}", i)
        expected += 1
        assert store.revision == expected
    store, deleted = store.delete("k0")
    assert deleted == 1
    assert store.revision == expected + 1


def test_txn_with_several_puts_uses_one_revision() -> None:
    store = Store().put("x", 0)
    store, result = store.txn((), (Put("a", 1), Put("b", 2), DeleteRange("x")))
    assert result.succeeded
    assert result.revision == store.revision == 3
    assert {kv.mod_revision for kv in store.range("a", "c").kvs} == {3}
    events = store.events_after(2)
    assert [(e.type, e.kv.key) for e in events] == [("PUT", "a"), ("PUT", "b"), ("DELETE", "x")]
    assert {e.revision for e in events} == {3}


def test_failed_compare_without_failure_ops_writes_nothing() -> None:
    store = Store().put("a", 1)
    after, result = store.txn([Compare("a", "VALUE", "EQUAL", 2)], [Put("a", 3)])
    assert not result.succeeded
    assert result.revision == 2
    assert after == store
    assert after.revision == 2


def test_failed_compare_runs_the_failure_ops() -> None:
    store = Store().put("a", 1)
    after, result = store.txn(
        [Compare("a", "VALUE", "EQUAL", 2)], [Put("a", 3)], [Put("b", 4), Range("a")]
    )
    assert not result.succeeded
    assert after.revision == 3
    assert everything(after) == {"a": 1, "b": 4}
    assert result.responses[1].kvs[0].value == 1


def test_delete_of_a_missing_key_writes_nothing() -> None:
    store = Store().put("a", 1)
    after, deleted = store.delete("zzz")
    assert deleted == 0
    assert after == store
    after, deleted = store.delete("m", "n")
    assert deleted == 0
    assert after.revision == 2


def test_read_only_txn_writes_nothing() -> None:
    store = Store().put("a", 1)
    after, result = store.txn((), (Range("a"),))
    assert result.succeeded
    assert after == store
    assert result.responses[0].kvs[0].value == 1


@pytest.mark.parametrize(
    ("target", "result", "operand", "holds"),
    [
        ("VERSION", "EQUAL", 2, True),
        ("VERSION", "GREATER", 1, True),
        ("CREATE", "EQUAL", 2, True),
        ("MOD", "EQUAL", 3, True),
        ("MOD", "LESS", 3, False),
        ("VALUE", "EQUAL", "v2", True),
        ("VALUE", "NOT_EQUAL", "v2", False),
    ],
)
def test_compare_targets(target: Any, result: Any, operand: Any, holds: bool) -> None:
    store = puts(Store(), ("k", "v1"), ("k", "v2"))
    _, answer = store.txn([Compare("k", target, result, operand)], ())
    assert answer.succeeded is holds


def test_compare_on_a_missing_key_sees_zero_revisions_and_version() -> None:
    store = Store()
    for target in ("VERSION", "CREATE", "MOD"):
        _, answer = store.txn([Compare("nope", target, "EQUAL", 0)], ())
        assert answer.succeeded, target
    _, answer = store.txn([Compare("nope", "VALUE", "EQUAL", None)], ())
    assert not answer.succeeded


# -- per-key metadata --------------------------------------------------------------------------


def test_create_and_mod_revision_and_version_per_key() -> None:
    store = puts(Store(), ("a", 1), ("b", 1), ("a", 2))
    a = store.get("a")
    assert a == KeyValue("a", 2, create_revision=2, mod_revision=4, version=2)
    b = store.get("b")
    assert b == KeyValue("b", 1, create_revision=3, mod_revision=3, version=1)
    store, _ = store.delete("a")
    assert store.get("a") is None
    store = store.put("a", 3)
    # A key recreated after a delete starts a new generation: new create revision, version 1.
    assert store.get("a") == KeyValue("a", 3, create_revision=6, mod_revision=6, version=1)


def test_put_and_delete_events_carry_the_previous_value() -> None:
    store = puts(Store(), ("a", 1), ("a", 2))
    store, _ = store.delete("a")
    events = store.events_after(1)
    assert [e.type for e in events] == ["PUT", "PUT", "DELETE"]
    assert events[0].prev_kv is None and events[0].is_create
    assert events[1].prev_kv is not None and events[1].prev_kv.value == 1
    assert not events[1].is_create
    assert events[2].prev_kv is not None and events[2].prev_kv.value == 2
    assert events[2].kv.key == "a" and events[2].revision == 4


# -- ranges ----------------------------------------------------------------------------------


def test_range_at_a_past_revision_returns_the_past_value() -> None:
    store = puts(Store(), ("a", "one"), ("a", "two"))
    store, _ = store.delete("a")
    assert keys_at(store, "a", None, 2) == [("a", "one")]
    assert keys_at(store, "a", None, 3) == [("a", "two")]
    assert keys_at(store, "a", None, 4) == []
    assert keys_at(store, "a", None, 1) == []
    past = store.range("a", None, 2)
    assert past.revision == store.revision
    assert past.kvs[0].mod_revision == 2 and past.kvs[0].version == 1


def test_range_ahead_of_the_store_is_a_future_revision() -> None:
    store = Store().put("a", 1)
    with pytest.raises(FutureRevision):
        store.range("a", None, 3)


def test_prefix_end() -> None:
    assert prefix_end("/registry/pods/") == "/registry/pods0"
    assert prefix_end("a") == "b"
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("") == "\0"


def test_prefix_range_returns_exactly_the_keys_under_the_prefix_sorted() -> None:
    store = puts(
        Store(),
        ("/r/pods/ns/b", 2),
        ("/r/pods/ns/a", 1),
        ("/r/pods/nsx/c", 3),
        ("/r/pods", 0),
        ("/r/podsx/d", 4),
        ("/r/q", 5),
    )
    assert keys_at(store, "/r/pods/ns/", prefix_end("/r/pods/ns/")) == [
        ("/r/pods/ns/a", 1),
        ("/r/pods/ns/b", 2),
    ]
    assert [k for k, _ in keys_at(store, "/r/pods/", prefix_end("/r/pods/"))] == [
        "/r/pods/ns/a",
        "/r/pods/ns/b",
        "/r/pods/nsx/c",
    ]
    # "\0" as the range end means every key from `key` on.
    assert [k for k, _ in keys_at(store, "/r/podsx", "\0")] == ["/r/podsx/d", "/r/q"]


def test_delete_range_removes_every_key_in_range_at_one_revision() -> None:
    store = puts(Store(), ("/a/1", 1), ("/a/2", 2), ("/b/1", 3))
    store, deleted = store.delete("/a/", prefix_end("/a/"))
    assert deleted == 2
    assert store.revision == 5
    assert everything(store) == {"/b/1": 3}
    assert [(e.type, e.kv.key, e.revision) for e in store.events_after(4)] == [
        ("DELETE", "/a/1", 5),
        ("DELETE", "/a/2", 5),
    ]


# -- the event log -----------------------------------------------------------------------------


def test_events_after_returns_every_later_event_in_order() -> None:
    store = puts(Store(), ("a", 1), ("b", 2), ("a", 3))
    store, _ = store.delete("b")
    summary = [(e.type, e.kv.key, e.revision) for e in store.events_after(1)]
    assert summary == [("PUT", "a", 2), ("PUT", "b", 3), ("PUT", "a", 4), ("DELETE", "b", 5)]
    assert [e.revision for e in store.events_after(3)] == [4, 5]
    assert store.events_after(5) == ()
    only_a = store.events_after(1, "a", None)
    assert [e.revision for e in only_a] == [2, 4]


def test_events_after_a_future_revision_raises() -> None:
    store = Store().put("a", 1)
    with pytest.raises(FutureRevision) as info:
        store.events_after(3)
    assert info.value.current == 2


def test_events_after_below_the_compacted_revision_raises() -> None:
    store = puts(Store(), ("a", 1), ("a", 2), ("a", 3))
    store = store.compact(3)
    with pytest.raises(Compacted) as info:
        store.events_after(2)
    assert info.value.compact_revision == 3
    # From the compacted revision itself, everything after it is still there.
    assert [e.revision for e in store.events_after(3)] == [4]


# -- compaction ------------------------------------------------------------------------------


def test_compaction_keeps_values_at_and_after_the_compact_revision() -> None:
    store = puts(Store(), ("a", 1), ("b", 1), ("a", 2), ("a", 3))  # revisions 2..5
    store, _ = store.delete("b")  # revision 6
    store = store.compact(4)
    assert store.compact_revision == 4
    assert everything(store, 4) == {"a": 2, "b": 1}
    assert everything(store, 5) == {"a": 3, "b": 1}
    assert everything(store, 6) == {"a": 3}
    assert everything(store) == {"a": 3}
    for revision in (1, 2, 3):
        with pytest.raises(Compacted):
            store.range("a", None, revision)
    # Per-key metadata survives compaction.
    assert store.get("a") == KeyValue("a", 3, 2, 5, 3)


def test_compaction_forgets_keys_deleted_before_it() -> None:
    store = Store().put("gone", 1)
    store, _ = store.delete("gone")
    store = store.put("other", 2)
    store = store.compact(store.revision)
    assert everything(store, store.revision) == {"other": 2}
    assert "gone" not in store.history


def test_compaction_at_or_below_the_compacted_revision_or_ahead_fails() -> None:
    store = puts(Store(), ("a", 1), ("a", 2), ("a", 3))
    compacted = store.compact(3)
    with pytest.raises(Compacted):
        compacted.compact(3)
    with pytest.raises(Compacted):
        compacted.compact(2)
    with pytest.raises(FutureRevision):
        compacted.compact(5)
    assert compacted.compact(4).compact_revision == 4


# -- etcd's txn request rules ------------------------------------------------------------------


def test_duplicate_puts_in_one_txn_are_refused() -> None:
    store = Store()
    with pytest.raises(StoreError):
        store.txn((), (Put("a", 1), Put("a", 2)))


def test_put_inside_a_delete_range_of_the_same_txn_is_refused() -> None:
    """etcd's checkIntervals: a put whose key lies in a DeleteRange of the same txn is
    ErrGRPCDuplicateKey. Accepting it also leaves two history entries at one revision."""
    store = Store().put("a", 1)
    with pytest.raises(StoreError):
        store.txn((), (Put("b", 2), DeleteRange("a", "c")))
    with pytest.raises(StoreError):
        store.txn((), (DeleteRange("a", "c"), Put("b", 2)))


def test_overlapping_deletes_in_one_txn_are_allowed() -> None:
    """etcd's checkIntervals only refuses puts that overlap; deletes may overlap each other."""
    store = puts(Store(), ("a", 1), ("b", 2))
    after, result = store.txn((), (DeleteRange("a"), DeleteRange("a", "c")))
    assert result.succeeded
    assert everything(after) == {}
    assert after.revision == store.revision + 1


def test_range_inside_a_txn_sees_the_writes_before_it() -> None:
    """etcd's storeTxnWrite.Range reads at beginRev+1 once the txn has changes."""
    store = Store().put("a", 1)
    _, result = store.txn((), (Put("a", 2), Range("a")))
    ranged = result.responses[1]
    assert [kv.value for kv in ranged.kvs] == [2]


# -- snapshot and restore ----------------------------------------------------------------------


def test_snapshot_restore_is_lossless_after_deletes_and_compaction() -> None:
    store = puts(Store(), ("a", 1), ("b", 2), ("a", 3))
    store, _ = store.delete("b")
    store, _ = store.txn((), (Put("c", 4), Put("a", 5)))
    store = store.compact(4)
    image = snapshot(store)
    assert restore(image) == store
    assert restore(json.loads(json.dumps(image))) == store


# -- properties: random op sequences against a naive model -------------------------------------

KEYS = ("a", "ab", "b", "ba", "c")
_ENDS = (None, None, "\0", "b", "bb", "c", prefix_end("a"))


@st.composite
def _write_op(
    draw: st.DrawFn, keys: tuple[str, ...] = KEYS, ends: tuple[str | None, ...] = _ENDS
) -> Put | DeleteRange:
    key = draw(st.sampled_from(keys))
    if draw(st.booleans()):
        return Put(key, draw(st.integers(0, 3)))
    end = draw(st.sampled_from(ends))
    if end not in (None, "\0") and end <= key:
        end = None
    return DeleteRange(key, end)


def _in_range(key: str, start: str, end: str | None) -> bool:
    if end is None:
        return key == start
    if end == "\0":
        return key >= start
    return start <= key < end


def _etcd_valid(ops: list[Put | DeleteRange]) -> bool:
    """The requests etcd accepts (checkIntervals), minus overlapping deletes (see above)."""
    put_keys = [op.key for op in ops if isinstance(op, Put)]
    deletes = [op for op in ops if isinstance(op, DeleteRange)]
    if len(set(put_keys)) != len(put_keys):
        return False
    if len({d.key for d in deletes}) != len(deletes):
        return False
    return not any(_in_range(k, d.key, d.range_end) for k in put_keys for d in deletes)


@st.composite
def _op(
    draw: st.DrawFn, keys: tuple[str, ...] = KEYS, ends: tuple[str | None, ...] = _ENDS
) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(("put", "put", "delete", "txn", "txn", "compact")))
    if kind == "put":
        return ("put", draw(st.sampled_from(keys)), draw(st.integers(0, 3)))
    if kind == "delete":
        op = draw(_write_op(keys, ends))
        if isinstance(op, Put):
            return ("delete", op.key, None)
        return ("delete", op.key, op.range_end)
    if kind == "compact":
        return ("compact", draw(st.integers(0, 10)))
    compares = draw(
        st.lists(
            st.builds(
                Compare,
                st.sampled_from(keys),
                st.sampled_from(("VERSION", "CREATE", "MOD", "VALUE")),
                st.sampled_from(("EQUAL", "NOT_EQUAL", "GREATER", "LESS")),
                st.integers(0, 4),
            ),
            max_size=2,
        )
    )
    success = draw(st.lists(_write_op(keys, ends), max_size=3).filter(_etcd_valid))
    failure = draw(st.lists(_write_op(keys, ends), max_size=2).filter(_etcd_valid))
    return ("txn", tuple(compares), tuple(success), tuple(failure))


_Row = tuple[Any, int, int, int]  # value, create revision, mod revision, version


class NaiveStore:
    """etcd as a dict of full keyspace copies, one per revision, plus an event list."""

    def __init__(self) -> None:
        self.revision = 1
        self.compacted = 0
        self.states: dict[int, dict[str, _Row]] = {1: {}}
        self.events: list[tuple[int, str, str, Any, _Row | None]] = []

    def holds(self, c: Compare) -> bool:
        row = self.states[self.revision].get(c.key)
        if c.target == "VALUE":
            if row is None:
                return False
            actual: Any = row[0]
        else:
            index = {"CREATE": 1, "MOD": 2, "VERSION": 3}[c.target]
            actual = row[index] if row else 0
        if c.result == "EQUAL":
            return bool(actual == c.operand)
        if c.result == "NOT_EQUAL":
            return bool(actual != c.operand)
        if c.result == "GREATER":
            return bool(actual > c.operand)
        return bool(actual < c.operand)

    def write(self, ops: tuple[Put | DeleteRange, ...]) -> None:
        old = self.states[self.revision]
        state = dict(old)
        rev = self.revision + 1
        events: list[tuple[int, str, str, Any, _Row | None]] = []
        for op in ops:
            if isinstance(op, Put):
                prev = state.get(op.key)
                state[op.key] = (
                    op.value,
                    prev[1] if prev else rev,
                    rev,
                    prev[3] + 1 if prev else 1,
                )
                events.append((rev, "PUT", op.key, op.value, prev))
            else:
                for key in sorted(k for k in state if _in_range(k, op.key, op.range_end)):
                    events.append((rev, "DELETE", key, None, state.pop(key)))
        if events:
            self.revision = rev
            self.states[rev] = state
            self.events.extend(events)

    def compact(self, revision: int) -> None:
        self.compacted = revision
        self.events = [e for e in self.events if e[0] > revision]


def _apply(store: Store, model: NaiveStore, op: tuple[Any, ...]) -> Store:
    if op[0] == "put":
        model.write((Put(op[1], op[2]),))
        return store.put(op[1], op[2])
    if op[0] == "delete":
        model.write((DeleteRange(op[1], op[2]),))
        store, _ = store.delete(op[1], op[2])
        return store
    if op[0] == "compact":
        if model.revision <= model.compacted:
            return store
        target = model.compacted + 1 + op[1] % (model.revision - model.compacted)
        model.compact(target)
        compacted = store.compact(target)
        # Compaction visits only the keys written since the last one; a full scan agrees.
        assert compacted == store.compact_by_scan(target)
        assert compacted.history == store.compact_by_scan(target).history
        return compacted
    _, compares, success, failure = op
    succeeded = all(model.holds(c) for c in compares)
    model.write(success if succeeded else failure)
    store, result = store.txn(compares, success, failure)
    assert result.succeeded is succeeded
    return store


def _rows(store: Store, revision: int) -> dict[str, _Row]:
    return {
        kv.key: (kv.value, kv.create_revision, kv.mod_revision, kv.version)
        for kv in store.range("", "\0", revision).kvs
    }


def _check_against_model(store: Store, model: NaiveStore) -> None:
    assert store.revision == model.revision
    assert store.compact_revision == model.compacted
    for revision in range(max(model.compacted, 1), model.revision + 1):
        assert _rows(store, revision) == model.states[revision], revision
        for start, end in (("a", prefix_end("a")), ("b", None), ("ab", "ba")):
            expected = sorted(
                (k, row[0]) for k, row in model.states[revision].items() if _in_range(k, start, end)
            )
            assert keys_at(store, start, end, revision) == expected
    for revision in range(1, model.compacted):
        with pytest.raises(Compacted):
            store.range("a", None, revision)
    with pytest.raises(FutureRevision):
        store.range("a", None, model.revision + 1)
    since = model.compacted
    events = [e for e in model.events if e[0] > since]
    assert [_event_row(e) for e in store.events_after(since)] == events


def _event_row(e: Event) -> tuple[int, str, str, Any, _Row | None]:
    prev = e.prev_kv
    return (
        e.revision,
        e.type,
        e.kv.key,
        e.kv.value if e.type == "PUT" else None,
        (prev.value, prev.create_revision, prev.mod_revision, prev.version) if prev else None,
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_op(), max_size=25))
def test_store_agrees_with_a_naive_model(ops: list[tuple[Any, ...]]) -> None:
    store, model = Store(), NaiveStore()
    for op in ops:
        store = _apply(store, model, op)
        assert store.revision == model.revision
    _check_against_model(store, model)


@settings(max_examples=150, deadline=None)
@given(st.lists(_op(), max_size=25))
def test_snapshot_restore_round_trips_any_history(ops: list[tuple[Any, ...]]) -> None:
    store, model = Store(), NaiveStore()
    for op in ops:
        store = _apply(store, model, op)
    image = json.loads(json.dumps(snapshot(store)))
    restored = restore(image)
    assert restored == store
    for revision in range(max(store.compact_revision, 1), store.revision + 1):
        assert _rows(restored, revision) == _rows(store, revision)
    since = store.compact_revision
    assert [_event_row(e) for e in restored.events_after(since)] == [
        _event_row(e) for e in store.events_after(since)
    ]
    # The restored store keeps working as the original does.
    assert restored.put("a", 9) == store.put("a", 9)


# -- the resource index ------------------------------------------------------------------------
#
# `Store.current_index` and `Store.history_index` hold the keys of `current` and `history` by
# resource ("/registry/pods/"), so that a range within one resource reads only its keys. They
# are derived: ranges must answer exactly what a scan of every key answers, and two stores with
# the same content must be equal however their indexes came about.

_POD_A, _POD_B, _POD_C = "/registry/pods/ns/a", "/registry/pods/ns/b", "/registry/pods/nsx/c"
REGISTRY_KEYS = (
    _POD_A,
    _POD_B,
    _POD_C,
    "/registry/podsx/d",  # shares "/registry/pods" but not the resource
    "/registry/nodes/n",
    "/registry/pods",  # no resource: not under "/registry/pods/"
    "/other/x",
    "a",
)
_REGISTRY_ENDS = (
    None,
    None,
    "\0",
    prefix_end("/registry/pods/"),
    prefix_end("/registry/pods/ns/"),
    prefix_end("/registry/"),
    _POD_C,
    "/registry/q",
)
#: Ranges within one resource (the index's) and across or outside resources (a full scan).
_REGISTRY_RANGES: tuple[tuple[str, str | None], ...] = (
    *((k, None) for k in REGISTRY_KEYS),
    *(
        (p, prefix_end(p))
        for p in (
            "/registry/pods/",
            "/registry/pods/ns/",
            "/registry/pods/ns",
            "/registry/podsx/",
            "/registry/nodes/",
            "/registry/events/",  # a resource with no keys
            "/registry/pod",
            "/registry/",
            "/",
            "",
        )
    ),
    ("/registry/pods/", "\0"),
    ("/registry/pods/ns/a", "/registry/pods/ns/b"),
    ("/registry/pods/ns/b", "/registry/pods/ns/a"),  # empty: end before start
    ("/registry/pods/ns/b", "/registry/podsx/e"),  # runs past the resource
    ("/registry/nodes/", _POD_B),
    ("", "\0"),
)


def _scan(rows: dict[str, _Row], start: str, end: str | None) -> list[tuple[str, _Row]]:
    return sorted((k, row) for k, row in rows.items() if _in_range(k, start, end))


def _ranged(store: Store, start: str, end: str | None, revision: int) -> list[tuple[str, _Row]]:
    return [
        (kv.key, (kv.value, kv.create_revision, kv.mod_revision, kv.version))
        for kv in store.range(start, end, revision).kvs
    ]


def _assert_index_exact(store: Store) -> None:
    """Both indexes are in step with their maps: fresh, and equal to one built from scratch."""
    assert store.current_index.source is store.current
    assert store.history_index.source is store.history
    assert store.current_index.buckets == KeyIndex.of(store.current, lambda kv: kv).buckets
    assert store.history_index.buckets == KeyIndex.of(store.history, lambda _: True).buckets


def _stale(store: Store) -> Store:
    """The same store with indexes of other maps: every range scans every key."""
    return attrs.evolve(
        store,
        current_index=KeyIndex.of(pmap(), lambda kv: kv),
        history_index=KeyIndex.of(pmap(), lambda _: True),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_op(REGISTRY_KEYS, _REGISTRY_ENDS), max_size=30))
def test_ranges_through_the_index_are_the_ranges_of_a_full_scan(
    ops: list[tuple[Any, ...]],
) -> None:
    store, model = Store(), NaiveStore()
    for op in ops:
        store = _apply(store, model, op)
        _assert_index_exact(store)
        for start, end in _REGISTRY_RANGES:
            assert _ranged(store, start, end, 0) == _scan(model.states[model.revision], start, end)
    stale = _stale(store)
    restored = restore(snapshot(store))
    _assert_index_exact(restored)
    for revision in range(max(model.compacted, 1), model.revision + 1):
        for start, end in _REGISTRY_RANGES:
            expected = _scan(model.states[revision], start, end)
            assert _ranged(store, start, end, revision) == expected, (revision, start, end)
            assert _ranged(stale, start, end, revision) == expected
            assert _ranged(restored, start, end, revision) == expected
    assert stale == store and hash(stale) == hash(store)
    assert restored == store and hash(restored) == hash(store)


def test_equality_hash_and_repr_ignore_the_index() -> None:
    store = puts(Store(), (_POD_A, 1), ("/registry/nodes/n", 2), (_POD_B, 3))
    store, _ = store.delete(_POD_A)
    store = store.compact(3)
    rebuilt = Store(
        revision=store.revision,
        compact_revision=store.compact_revision,
        current=store.current,
        history=store.history,
        log=store.log,
    )
    _assert_index_exact(rebuilt)
    for other in (rebuilt, _stale(store), restore(snapshot(store))):
        assert other == store
        assert hash(other) == hash(store)
        assert "index" not in repr(other).lower()  # pmaps' own order is the hash seed's
    # Equal stores stay equal as they are written to, whichever index each carries.
    assert _stale(store).put(_POD_C, 4) == store.put(_POD_C, 4)


def test_a_range_within_one_resource_reads_only_its_keys() -> None:
    store = puts(
        Store(),
        (_POD_B, 2),
        (_POD_A, 1),
        (_POD_C, 3),
        ("/registry/podsx/d", 4),
        ("/registry/nodes/n", 5),
        ("/registry/pods", 6),
    )
    assert set(store.current_index.buckets["/registry/pods/"]) == {_POD_A, _POD_B, _POD_C}
    assert keys_at(store, "/registry/pods/", prefix_end("/registry/pods/")) == [
        (_POD_A, 1),
        (_POD_B, 2),
        (_POD_C, 3),
    ]
    assert keys_at(store, "/registry/pods/ns/", prefix_end("/registry/pods/ns/")) == [
        (_POD_A, 1),
        (_POD_B, 2),
    ]
    # Prefixes that are not on a resource boundary scan every key, as before.
    assert [k for k, _ in keys_at(store, "/registry/pods", prefix_end("/registry/pods"))] == [
        "/registry/pods",
        _POD_A,
        _POD_B,
        _POD_C,
        "/registry/podsx/d",
    ]
    assert [k for k, _ in keys_at(store, "/registry/", prefix_end("/registry/"))] == [
        "/registry/nodes/n",
        "/registry/pods",
        _POD_A,
        _POD_B,
        _POD_C,
        "/registry/podsx/d",
    ]
    assert [k for k, _ in keys_at(store, _POD_B, "\0")] == [_POD_B, _POD_C, "/registry/podsx/d"]


def test_past_ranges_and_deletes_within_a_resource() -> None:
    store = puts(Store(), (_POD_A, 1), (_POD_B, 2), ("/registry/nodes/n", 3))  # revisions 2..4
    store, deleted = store.delete("/registry/pods/", prefix_end("/registry/pods/"))  # 5
    assert deleted == 2
    assert "/registry/pods/" not in store.current_index.buckets
    assert keys_at(store, "/registry/pods/", prefix_end("/registry/pods/")) == []
    assert keys_at(store, "/registry/pods/", prefix_end("/registry/pods/"), 4) == [
        (_POD_A, 1),
        (_POD_B, 2),
    ]
    assert keys_at(store, _POD_B, None, 3) == [(_POD_B, 2)]
    assert keys_at(store, _POD_B, None, 2) == []
    store = store.put("/registry/nodes/n", 4).compact(6)  # forgets both pods
    assert "/registry/pods/" not in store.history_index.buckets
    _assert_index_exact(store)
    assert keys_at(store, "/registry/", prefix_end("/registry/"), 6) == [("/registry/nodes/n", 4)]


def test_a_store_whose_map_was_replaced_reads_it_whole() -> None:
    """An index built for another map is never trusted: the range scans the map it has."""
    store = puts(Store(), (_POD_A, 1), ("/registry/nodes/n", 2))
    kv = KeyValue(_POD_B, 9, 3, 3, 1)
    replaced = attrs.evolve(store, current=store.current.set(_POD_B, kv))
    assert [k for k, _ in keys_at(replaced, "/registry/pods/", prefix_end("/registry/pods/"))] == [
        _POD_A,
        _POD_B,
    ]
    # Writes to it stay correct: its index stays stale rather than half right.
    after = replaced.put(_POD_C, 3)
    assert after.current_index.source is not after.current
    assert [k for k, _ in keys_at(after, "/registry/pods/", prefix_end("/registry/pods/"))] == [
        _POD_A,
        _POD_B,
        _POD_C,
    ]
