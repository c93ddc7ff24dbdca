"""The cluster value, its clock and the control loop (`advance`, `settle`) through `step`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
import pytest

from reference import Cluster, Components, new_cluster, step
from reference.cluster import ControlLoopDiverged
from reference.controllers import GarbageCollector, NamespaceController, Reconcile, View

Answer = dict[str, Any]

# -- helpers ---------------------------------------------------------------------------------


def ok(cluster: Cluster, request: dict[str, Any]) -> tuple[Cluster, Answer]:
    cluster, answer = step(cluster, request)
    assert answer["ok"] is True, answer
    return cluster, answer


def fails(cluster: Cluster, request: dict[str, Any], code: int) -> Answer:
    after, answer = step(cluster, request)
    assert answer["ok"] is False, answer
    assert answer["status"]["code"] == code, answer
    assert after == cluster
    return dict(answer["status"])


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": "v"}}


def seconds(text: str) -> float:
    """Seconds since the protocol epoch of an RFC 3339 UTC timestamp."""
    assert text.endswith("Z"), text
    moment = dt.datetime.fromisoformat(text[:-1] + "+00:00")
    return (moment - dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).total_seconds()


def now(cluster: Cluster) -> str:
    _, answer = ok(cluster, {"op": "snapshot"})
    return str(answer["now"])


@attrs.frozen
class Toggler:
    """A broken controller: flips a label on every pass, so it never reaches a fixpoint."""

    name: str = "toggler"

    def initial_state(self) -> None:
        return None

    def reconcile(self, view: View, now: float, state: Any) -> Reconcile:
        cm = view.get("ConfigMap", "default", "flip")
        if cm is None:
            return Reconcile()
        current = (cm["metadata"].get("labels") or {}).get("flip")
        patch = {"metadata": {"labels": {"flip": "b" if current == "a" else "a"}}}
        return Reconcile(
            (
                {
                    "op": "patch",
                    "kind": "ConfigMap",
                    "namespace": "default",
                    "name": "flip",
                    "patch": patch,
                },
            )
        )


@attrs.frozen
class Ticker:
    """Wakes every `period` seconds and records the instants it ran at in its state."""

    period: float = 3.0
    name: str = "ticker"

    def initial_state(self) -> tuple[float, ...]:
        return ()

    def reconcile(self, view: View, now: float, state: tuple[float, ...]) -> Reconcile:
        seen = state if state and state[-1] == now else (*state, now)
        return Reconcile((), seen, now + self.period)


def with_controllers(*extra: Any, seed: int = 0) -> Cluster:
    controllers = (GarbageCollector(), NamespaceController(), *extra)
    return new_cluster(seed, Components(controllers=controllers))


# -- the clock -------------------------------------------------------------------------------


def test_a_new_cluster_starts_at_the_protocol_epoch() -> None:
    cluster = new_cluster(0)
    assert now(cluster) == "2025-01-01T00:00:00Z"
    _, answer = ok(cluster, {"op": "list", "kind": "Namespace"})
    assert [o["metadata"]["name"] for o in answer["items"]] == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]


def test_advance_moves_the_clock_and_answers_now() -> None:
    cluster = new_cluster(0)
    cluster, answer = ok(cluster, {"op": "advance", "seconds": 10})
    assert answer["now"] == "2025-01-01T00:00:10Z"
    cluster, answer = ok(cluster, {"op": "advance", "seconds": 0.5})
    assert seconds(answer["now"]) == 10.5
    cluster, answer = ok(cluster, {"op": "advance", "seconds": 0})
    assert seconds(answer["now"]) == 10.5
    assert seconds(now(cluster)) == 10.5
    cluster, answer = ok(cluster, {"op": "advance", "seconds": 0.25})
    assert seconds(answer["now"]) == 10.75


def test_requests_do_not_move_the_clock() -> None:
    cluster = new_cluster(0)
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 3})
    for i in range(3):
        cluster, _ = ok(cluster, {"op": "create", "object": configmap(f"c{i}")})
    assert now(cluster) == "2025-01-01T00:00:03Z"


def test_timestamps_are_truncated_to_whole_seconds() -> None:
    cluster = new_cluster(0)
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 1.75})
    cluster, answer = ok(cluster, {"op": "create", "object": configmap("a")})
    assert answer["object"]["metadata"]["creationTimestamp"] == "2025-01-01T00:00:01Z"
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
    }
    cluster, _ = ok(cluster, {"op": "create", "object": pod})
    cluster, answer = ok(cluster, {"op": "delete", "kind": "Pod", "name": "p"})
    # now + grace = 31.75, stored truncated (Q14).
    assert answer["object"]["metadata"]["deletionTimestamp"] == "2025-01-01T00:00:31Z"


def test_settle_answers_settled_when_nothing_is_pending() -> None:
    cluster = new_cluster(0)
    cluster, answer = ok(cluster, {"op": "settle", "max_seconds": 30})
    assert answer["settled"] is True
    assert answer["now"] == "2025-01-01T00:00:00Z"
    cluster, _ = ok(cluster, {"op": "create", "object": configmap("a")})
    cluster, answer = ok(cluster, {"op": "settle", "max_seconds": 30})
    assert answer["settled"] is True


def test_settle_with_work_always_pending_is_not_settled() -> None:
    cluster = with_controllers(Ticker(period=2))
    cluster, answer = ok(cluster, {"op": "settle", "max_seconds": 7})
    assert answer["settled"] is False
    assert answer["now"] == "2025-01-01T00:00:07Z"


def test_advance_runs_controllers_at_every_instant_they_are_due() -> None:
    """A controller runs when it is due or its view moved, and not at instants in between."""
    cluster = with_controllers(Ticker(period=3))
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 10})
    assert cluster.slots["ticker"].state == (0.0, 3.0, 6.0, 9.0)
    assert cluster.slots["ticker"].wake_at == 12.0
    cluster, _ = ok(cluster, {"op": "create", "object": configmap("a")})
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 0})
    assert cluster.slots["ticker"].state[-1] == 10.0, "a write moves its view: it runs"


def test_reset_throws_the_cluster_away() -> None:
    cluster = new_cluster(0)
    cluster, _ = ok(cluster, {"op": "create", "object": configmap("a")})
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 5})
    cluster, answer = ok(cluster, {"op": "reset", "seed": 3})
    assert answer == {"ok": True}
    assert now(cluster) == "2025-01-01T00:00:00Z"
    assert cluster == new_cluster(3)


# -- controller ops --------------------------------------------------------------------------


def test_controller_restart_gives_the_controller_its_initial_state() -> None:
    cluster = with_controllers(Ticker(period=3))
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 4})
    assert cluster.slots["ticker"].state == (0.0, 3.0)
    cluster, answer = ok(cluster, {"op": "controller.restart", "name": "ticker"})
    assert answer == {"ok": True}
    assert cluster.slots["ticker"].state == ()
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 0})
    assert cluster.slots["ticker"].state == (4.0,)
    cluster, _ = ok(cluster, {"op": "controller.restart", "name": "garbagecollector"})
    cluster, _ = ok(cluster, {"op": "controller.restart", "name": "namespace"})


@pytest.mark.parametrize("op", ["controller.restart", "controller.lag"])
def test_unknown_controller_names_are_not_found(op: str) -> None:
    status = fails(new_cluster(0), {"op": op, "name": "nope", "seconds": 1}, 404)
    assert "garbagecollector" in status["message"]


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "controller.lag", "name": "garbagecollector"},
        {"op": "controller.lag", "name": "garbagecollector", "seconds": -1},
        {"op": "controller.lag", "name": "garbagecollector", "seconds": "5"},
        {"op": "controller.restart"},
        {"op": "controller.restart", "name": 3},
        {"op": "settle", "max_seconds": -1},
        {"op": "advance"},
    ],
)
def test_malformed_control_requests_are_bad_requests(request_: dict[str, Any]) -> None:
    fails(new_cluster(0), request_, 400)


def test_controller_lag_is_recorded_and_zero_ends_it() -> None:
    cluster = new_cluster(0)
    cluster, _ = ok(cluster, {"op": "controller.lag", "name": "garbagecollector", "seconds": 5})
    assert cluster.slots["garbagecollector"].lag == 5
    cluster, _ = ok(cluster, {"op": "controller.lag", "name": "garbagecollector", "seconds": 0})
    assert cluster.slots["garbagecollector"].lag == 0


# -- the fixpoint bound ------------------------------------------------------------------------


def test_a_controller_that_never_settles_makes_advance_raise() -> None:
    cluster = with_controllers(Toggler())
    cluster, _ = ok(cluster, {"op": "advance", "seconds": 1})  # nothing to toggle yet
    cluster, _ = ok(cluster, {"op": "create", "object": configmap("flip")})
    with pytest.raises(ControlLoopDiverged) as info:
        step(cluster, {"op": "advance", "seconds": 1})
    message = str(info.value)
    assert "toggler" in message
    assert "garbagecollector" not in message
    assert "2025-01-01T00:00:01Z" in message
    with pytest.raises(ControlLoopDiverged):
        step(cluster, {"op": "settle", "max_seconds": 5})


# -- determinism -----------------------------------------------------------------------------

SCRIPT: list[dict[str, Any]] = [
    {"op": "hello", "protocol": 1},
    {"op": "create", "object": {"kind": "Namespace", "metadata": {"name": "team"}}},
    {
        "op": "create",
        "object": {**configmap("owner"), "metadata": {"name": "owner", "namespace": "team"}},
    },
    {"op": "create", "object": {"kind": "ConfigMap", "metadata": {"generateName": "gen-"}}},
    {"op": "create", "object": {"kind": "ConfigMap", "metadata": {"generateName": "gen-"}}},
    {"op": "advance", "seconds": 2.5},
    {
        "op": "create",
        "object": {
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "team"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
        },
    },
    {"op": "delete", "kind": "Pod", "namespace": "team", "name": "p"},
    {"op": "delete", "kind": "Namespace", "name": "team"},
    {"op": "settle", "max_seconds": 10},
    {"op": "list", "kind": "ConfigMap"},
    {"op": "watch", "resourceVersion": "1"},
    {"op": "snapshot"},
]


def _run(seed: int) -> list[str]:
    cluster = new_cluster(seed)
    answers = []
    for request in SCRIPT:
        cluster, answer = step(cluster, request)
        answers.append(json.dumps(answer, sort_keys=True))
    return answers


def test_the_same_seed_and_requests_give_the_same_answers() -> None:
    first = _run(5)
    assert first == _run(5)
    assert all(json.loads(a)["ok"] for a in first)
    # The seed matters: uids and generated names derive from it.
    assert first != _run(6)
