"""The pod garbage collector (docs/upstream-checks-nodes.md Q9), reconciled by hand.

Each test builds the store through the API reducer, calls `reconcile`
directly and looks at what the controller asks for; `apply` then sends
those writes the way the cluster does, to check what they do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pyrsistent import pmap

from reference import Components, new_cluster, step
from reference.api.server import ApiState, handle
from reference.constants import (
    POD_GC_QUARANTINE_SECONDS as QUARANTINE_SECONDS,
)
from reference.constants import (
    TAINT_NODE_OUT_OF_SERVICE,
    TERMINATED_POD_GC_THRESHOLD,
)
from reference.controllers import GarbageCollector, NamespaceController, Reconcile, View
from reference.controllers.podgc import PodGarbageCollector
from reference.timefmt import format_whole_seconds

PODGC = PodGarbageCollector()
HOLD = "example.com/hold"

# -- helpers ---------------------------------------------------------------------------------


def send(api: ApiState, request: Mapping[str, Any], now: float = 0.0) -> tuple[ApiState, Any]:
    api, answer = handle(api, request, now, system=True)
    assert answer["ok"] is True, answer
    return api, answer.get("object")


def node(api: ApiState, name: str = "n1", *, ready: bool | None = None, taints: Any = None) -> Any:
    obj: dict[str, Any] = {"kind": "Node", "metadata": {"name": name}}
    if taints is not None:
        obj["spec"] = {"taints": taints}
    api, _ = send(api, {"op": "create", "object": obj})
    if ready is not None:
        status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        api, _ = send(api, {"op": "status", "object": {**obj, "status": status}})
    return api


def pod(
    api: ApiState,
    name: str,
    node_name: str | None = "n1",
    *,
    phase: str | None = None,
    finalizers: tuple[str, ...] = (),
    now: float = 0.0,
    **status: Any,
) -> tuple[ApiState, dict[str, Any]]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if finalizers:
        metadata["finalizers"] = list(finalizers)
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    if node_name:
        spec["nodeName"] = node_name
    api, obj = send(
        api, {"op": "create", "object": {"kind": "Pod", "metadata": metadata, "spec": spec}}, now
    )
    if phase is not None:
        api, obj = send(
            api,
            {
                "op": "status",
                "object": {**obj, "status": {**obj["status"], "phase": phase, **status}},
            },
        )
    return api, obj


def delete(api: ApiState, kind: str, name: str, now: float = 0.0, **options: Any) -> ApiState:
    request = {"op": "delete", "kind": kind, "name": name, **options}
    if kind == "Pod":
        request["namespace"] = "default"
    api, _ = send(api, request, now)
    return api


def get(api: ApiState, name: str) -> Any:
    kv = api.store.get(f"/registry/pods/default/{name}")
    if kv is None:
        return None
    _, obj = send(api, {"op": "get", "kind": "Pod", "namespace": "default", "name": name})
    return obj


def view(api: ApiState, lagging_at: int | None = None) -> View:
    store = api.store
    return View(store, store.revision if lagging_at is None else lagging_at, store)


def reconcile(
    api: ApiState, now: float, state: Any = None, gc: PodGarbageCollector = PODGC
) -> Reconcile:
    return gc.reconcile(view(api), now, gc.initial_state() if state is None else state)


def apply(api: ApiState, result: Reconcile, now: float) -> ApiState:
    for write in result.writes:
        api, _ = send(api, write, now)
    return api


def force_delete(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "op": "delete",
        "kind": "Pod",
        "namespace": "default",
        "name": obj["metadata"]["name"],
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": obj["metadata"]["uid"]},
    }


def failed(obj: Mapping[str, Any], *conditions: Mapping[str, Any]) -> dict[str, Any]:
    status = {**obj["status"], "phase": "Failed"}
    if conditions:
        status["conditions"] = list(conditions)
    m = obj["metadata"]
    return {
        "op": "status",
        "object": {
            "kind": "Pod",
            "metadata": {"name": m["name"], "namespace": "default", "uid": m["uid"]},
            "status": status,
        },
    }


def disruption(now: float) -> dict[str, str]:
    return {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists",
        "lastTransitionTime": format_whole_seconds(now),
    }


@pytest.fixture
def api() -> ApiState:
    return new_cluster().api


# -- orphans -------------------------------------------------------------------------------------


def test_constants_are_upstreams() -> None:
    assert QUARANTINE_SECONDS == 40
    assert TERMINATED_POD_GC_THRESHOLD == 12500
    assert PODGC.name == "podgc"
    assert PODGC.initial_state() == pmap()


def test_a_pod_on_an_existing_node_is_untouched(api: ApiState) -> None:
    api = node(api, ready=True)
    api, _ = pod(api, "running", phase="Running")
    api, _ = pod(api, "pending", None)
    api, _ = pod(api, "done", phase="Succeeded")
    api, _ = pod(api, "leaving", phase="Running")
    api = delete(api, "Pod", "leaving")  # graceful: stays Terminating on its (Ready) node
    result = reconcile(api, 10.0)
    assert result == Reconcile((), pmap(), None)


def test_an_orphan_waits_out_the_quarantine(api: ApiState) -> None:
    api = node(api)
    api, _ = pod(api, "p", phase="Running")
    api = delete(api, "Node", "n1", now=100.0)
    first = reconcile(api, 100.0)
    assert first == Reconcile((), pmap({"n1": 100.0}), 140.0)
    # Seen again before the end: the first sighting counts, nothing is done.
    again = reconcile(api, 139.5, first.state)
    assert again == Reconcile((), pmap({"n1": 100.0}), 140.0)


def test_an_orphan_is_failed_and_force_deleted_at_the_end_of_the_quarantine(
    api: ApiState,
) -> None:
    api = node(api)
    api, p = pod(api, "p", phase="Running")
    api = delete(api, "Node", "n1", now=100.0)
    state = reconcile(api, 100.0).state
    result = reconcile(api, 140.0, state)
    assert result.writes == (failed(p, disruption(140.0)), force_delete(p))
    assert result.state == pmap()
    assert result.wake_at is None
    api = apply(api, result, 140.0)
    assert get(api, "p") is None


def test_the_condition_and_phase_land_on_a_pod_a_finalizer_holds(api: ApiState) -> None:
    api = node(api)
    api, _ = pod(api, "p", phase="Running", finalizers=(HOLD,))
    api = delete(api, "Node", "n1", now=100.0)
    api = apply(api, reconcile(api, 140.0, pmap({"n1": 100.0})), 140.0)
    held = get(api, "p")
    assert held["status"]["phase"] == "Failed"
    assert held["status"]["conditions"] == [disruption(140.0)]
    assert held["metadata"]["deletionTimestamp"] == format_whole_seconds(140.0)
    assert held["metadata"]["deletionGracePeriodSeconds"] == 0
    # Nothing left to do for it: no writes, and no new quarantine that would wake it forever.
    assert reconcile(api, 140.0) == Reconcile((), pmap(), None)


def test_a_terminal_orphan_is_deleted_without_a_status_write(api: ApiState) -> None:
    api = node(api)
    api, p = pod(api, "p", phase="Succeeded")
    api = delete(api, "Node", "n1")
    result = reconcile(api, 40.0, pmap({"n1": 0.0}))
    assert result.writes == (force_delete(p),)


def test_the_status_write_keeps_the_live_status(api: ApiState) -> None:
    api = node(api)
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": format_whole_seconds(5)}
    api, p = pod(api, "p", phase="Running", conditions=[ready], podIP="10.0.0.1")
    api = delete(api, "Node", "n1")
    status_write, _ = reconcile(api, 40.0, pmap({"n1": 0.0})).writes
    assert status_write["object"]["status"] == {
        **p["status"],
        "phase": "Failed",
        "conditions": [ready, disruption(40.0)],
    }


def test_recreating_the_node_within_the_quarantine_cancels(api: ApiState) -> None:
    api = node(api)
    api, _ = pod(api, "p", phase="Running")
    api = delete(api, "Node", "n1", now=100.0)
    state = reconcile(api, 100.0).state
    api = node(api)
    # The queued name stays until its time, as upstream's delaying queue keeps it ...
    assert reconcile(api, 120.0, state) == Reconcile((), pmap({"n1": 100.0}), 140.0)
    # ... and is then dropped, because the node is there.
    assert reconcile(api, 140.0, state) == Reconcile((), pmap(), None)
    assert get(api, "p") is not None


def test_a_lagging_view_is_overruled_by_the_live_get(api: ApiState) -> None:
    api = node(api)
    api, _ = pod(api, "p", phase="Running")
    api = delete(api, "Node", "n1", now=100.0)
    stale = api.store.revision
    api = node(api)  # back, but the controller's view has not seen it yet
    lagging = view(api, lagging_at=stale)
    assert lagging.lagging
    result = PODGC.reconcile(lagging, 140.0, pmap({"n1": 100.0}))
    assert result == Reconcile((), pmap(), None)


def test_each_missing_node_has_its_own_quarantine(api: ApiState) -> None:
    api = node(api, "n1")
    api = node(api, "n2")
    api, a = pod(api, "a", "n1", phase="Running")
    api, _ = pod(api, "b", "n2", phase="Running")
    api = delete(api, "Node", "n1", now=10.0)
    state = reconcile(api, 10.0).state
    api = delete(api, "Node", "n2", now=25.0)
    result = reconcile(api, 25.0, state)
    assert result == Reconcile((), pmap({"n1": 10.0, "n2": 25.0}), 50.0)
    at_50 = reconcile(api, 50.0, result.state)
    assert at_50.writes == (failed(a, disruption(50.0)), force_delete(a))
    assert at_50.state == pmap({"n2": 25.0})
    assert at_50.wake_at == 65.0


def test_a_restart_forgets_the_quarantine(api: ApiState) -> None:
    api = node(api)
    api, _ = pod(api, "p", phase="Running")
    api = delete(api, "Node", "n1", now=0.0)
    restarted = reconcile(api, 30.0)  # the initial state: the clock starts again
    assert restarted == Reconcile((), pmap({"n1": 30.0}), 70.0)


# -- terminating pods ------------------------------------------------------------------------


def test_a_never_scheduled_terminating_pod_is_failed_and_force_deleted(api: ApiState) -> None:
    api, p = pod(api, "p", None, finalizers=(HOLD,))
    api = delete(api, "Pod", "p", now=3.0)
    p = get(api, "p")
    result = reconcile(api, 3.0)
    assert result == Reconcile((failed(p), force_delete(p)), pmap(), None)
    api = apply(api, result, 3.0)
    assert get(api, "p")["status"]["phase"] == "Failed"
    assert reconcile(api, 3.0).writes == ()


def test_a_never_scheduled_pod_that_is_not_terminating_is_untouched(api: ApiState) -> None:
    api, _ = pod(api, "p", None, finalizers=(HOLD,))
    assert reconcile(api, 3.0).writes == ()


@pytest.mark.parametrize("effect", ["NoExecute", "NoSchedule"])
def test_a_terminating_pod_on_an_out_of_service_node_is_force_deleted(
    api: ApiState, effect: str
) -> None:
    api = node(api, ready=False, taints=[{"key": TAINT_NODE_OUT_OF_SERVICE, "effect": effect}])
    api, p = pod(api, "p", phase="Running")
    api = delete(api, "Pod", "p", now=1.0)
    p = get(api, "p")
    assert p["metadata"]["deletionGracePeriodSeconds"] == 30
    result = reconcile(api, 1.0)
    assert result.writes == (failed(p), force_delete(p))
    api = apply(api, result, 1.0)
    assert get(api, "p") is None


@pytest.mark.parametrize(
    ("ready", "taints"),
    [
        (True, [{"key": TAINT_NODE_OUT_OF_SERVICE, "effect": "NoExecute"}]),
        (False, [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]),
        (False, None),
    ],
)
def test_terminating_pods_elsewhere_are_left_to_the_kubelet(
    api: ApiState, ready: bool, taints: Any
) -> None:
    api = node(api, ready=ready, taints=taints)
    api, _ = pod(api, "p", phase="Running")
    api = delete(api, "Pod", "p")
    assert reconcile(api, 1.0).writes == ()


def test_an_out_of_service_node_without_conditions_is_not_ready(api: ApiState) -> None:
    api = node(api, taints=[{"key": TAINT_NODE_OUT_OF_SERVICE, "effect": "NoExecute"}])
    api, p = pod(api, "p", phase="Running")
    api = delete(api, "Pod", "p")
    assert reconcile(api, 1.0).writes == (failed(get(api, "p")), force_delete(p))


def test_a_running_pod_on_an_out_of_service_node_is_not_terminating_so_stays(
    api: ApiState,
) -> None:
    api = node(api, ready=False, taints=[{"key": TAINT_NODE_OUT_OF_SERVICE, "effect": "NoExecute"}])
    api, _ = pod(api, "p", phase="Running")
    assert reconcile(api, 1.0).writes == ()


# -- the terminated-pod threshold ---------------------------------------------------------------


def test_terminated_pods_beyond_the_threshold_go_evicted_first_then_oldest(api: ApiState) -> None:
    api = node(api, ready=True)
    api, old = pod(api, "old", phase="Succeeded", now=1.0)
    api, _ = pod(api, "b", phase="Failed", now=2.0)
    api, a = pod(api, "a", phase="Failed", now=2.0)
    api, evicted = pod(api, "evicted", phase="Failed", reason="Evicted", now=9.0)
    api, _ = pod(api, "young", phase="Succeeded", now=5.0)
    api, _ = pod(api, "running", phase="Running", now=0.0)
    gc = PodGarbageCollector(terminated_pod_threshold=2)
    result = gc.reconcile(view(api), 10.0, gc.initial_state())
    assert result.writes == tuple(force_delete(p) for p in (evicted, old, a))
    api = apply(api, result, 10.0)
    assert gc.reconcile(view(api), 10.0, gc.initial_state()).writes == ()


def test_a_threshold_of_zero_turns_the_sweep_off(api: ApiState) -> None:
    api, _ = pod(api, "done", phase="Succeeded")
    gc = PodGarbageCollector(terminated_pod_threshold=0)
    assert gc.reconcile(view(api), 0.0, gc.initial_state()).writes == ()


def test_a_pod_is_collected_once_per_pass(api: ApiState) -> None:
    api = node(api)
    api, p = pod(api, "p", phase="Failed")
    api = delete(api, "Node", "n1")
    gc = PodGarbageCollector(terminated_pod_threshold=1)
    api, _ = pod(api, "q", None, phase="Failed", now=5.0)
    # p is both beyond the threshold (oldest) and an orphan at the end of its quarantine.
    result = gc.reconcile(view(api), 40.0, pmap({"n1": 0.0}))
    assert result.writes == (force_delete(p),)


# -- in the cluster ------------------------------------------------------------------------------


def test_in_a_cluster_the_orphan_goes_forty_seconds_after_its_node() -> None:
    controllers = (GarbageCollector(), NamespaceController(), PodGarbageCollector())
    cluster = new_cluster(components=Components(controllers=controllers))
    cluster, answer = step(
        cluster, {"op": "create", "object": {"kind": "Node", "metadata": {"name": "n1"}}}
    )
    assert answer["ok"], answer
    spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx:1.27"}]}
    obj = {"kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec}
    cluster, answer = step(cluster, {"op": "create", "object": obj})
    assert answer["ok"], answer
    cluster, _ = step(cluster, {"op": "advance", "seconds": 7})
    cluster, answer = step(cluster, {"op": "delete", "kind": "Node", "name": "n1"})
    assert answer["ok"], answer
    cluster, _ = step(cluster, {"op": "advance", "seconds": 39})
    pod_get = {"op": "get", "kind": "Pod", "namespace": "default", "name": "p"}
    assert step(cluster, pod_get)[1]["ok"] is True
    cluster, _ = step(cluster, {"op": "advance", "seconds": 1})
    assert step(cluster, pod_get)[1]["status"]["code"] == 404
    cluster, answer = step(cluster, {"op": "settle", "max_seconds": 600})
    assert answer["settled"] is True
    assert cluster.slots["podgc"].wake_at is None
