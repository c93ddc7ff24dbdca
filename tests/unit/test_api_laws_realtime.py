"""api laws on a cluster that runs in real time (the kube: target): what may happen between
two observations must not read as a violation, and what may not still does."""

from __future__ import annotations

from typing import Any

from properties.api import generation_tracks_spec, stale_precondition_conflicts
from properties.trace import Exchange, TargetInfo, Trace

REALTIME = TargetInfo("kube", "0", frozenset(), frozenset({"Pod", "ConfigMap"}))
CLOCKED = TargetInfo("ref", "0", frozenset({"clock", "reset"}), frozenset({"Pod", "ConfigMap"}))


def _pod(rv: int, node: str | None = None, generation: int = 1, uid: str = "u1") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    if node:
        spec["nodeName"] = node
    meta = {
        "name": "p",
        "namespace": "default",
        "uid": uid,
        "resourceVersion": str(rv),
        "generation": generation,
    }
    return {"kind": "Pod", "metadata": meta, "spec": spec}


def _snapshot(step: int, rv: int, *objects: dict[str, Any]) -> Exchange:
    answer = {"ok": True, "now": "2025-01-01T00:00:00Z", "resourceVersion": str(rv)}
    return Exchange(step, "advance", {"op": "snapshot"}, {**answer, "objects": list(objects)})


def _trace(*steps: list[Exchange]) -> Trace:
    trace = Trace()
    for exchanges in steps:
        trace = trace.add_step(exchanges)
    return trace


def test_a_pod_bound_between_two_observations_keeps_its_generation() -> None:
    trace = _trace([_snapshot(0, 5, _pod(5))], [_snapshot(1, 7, _pod(7, node="n1"))])
    assert list(generation_tracks_spec(trace, REALTIME)) == []


def test_a_pod_spec_change_beyond_binding_still_needs_a_new_generation() -> None:
    changed = _pod(7, node="n1")
    changed["spec"]["containers"][0]["image"] = "j"
    trace = _trace([_snapshot(0, 5, _pod(5))], [_snapshot(1, 7, changed)])
    assert [v.message for v in generation_tracks_spec(trace, REALTIME)] == [
        "Pod default/p: the spec changed but generation stayed 1"
    ]


def _stale_delete(step: int) -> Exchange:
    request = {
        "op": "delete",
        "kind": "Pod",
        "namespace": "default",
        "name": "p",
        "preconditions": {"resourceVersion": "3"},
    }
    status = {"code": 404, "reason": "NotFound", "message": 'pods "p" not found'}
    return Exchange(step, "delete", request, {"ok": False, "status": status})


def test_a_404_for_an_object_deleted_meanwhile_is_right_on_a_realtime_cluster() -> None:
    trace = _trace([_snapshot(0, 5, _pod(5))], [_stale_delete(1), _snapshot(1, 8)])
    assert list(stale_precondition_conflicts(trace, REALTIME)) == []


def test_a_404_for_an_object_still_there_is_wrong() -> None:
    trace = _trace([_snapshot(0, 5, _pod(5))], [_stale_delete(1), _snapshot(1, 8, _pod(5))])
    assert len(list(stale_precondition_conflicts(trace, REALTIME))) == 1


def test_with_a_clock_nothing_is_deleted_meanwhile_so_a_404_is_wrong() -> None:
    trace = _trace([_snapshot(0, 5, _pod(5))], [_stale_delete(1), _snapshot(1, 8)])
    assert len(list(stale_precondition_conflicts(trace, CLOCKED))) == 1
