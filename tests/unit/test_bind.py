"""The system-only `bind` verb: upstream's pods/binding subresource.

Upstream: pkg/registry/core/pod/storage/storage.go (BindingREST.Create,
assignPod, setPodNodeAndMetadata) and pkg/api/pod/util.go
(UpdatePodCondition).
"""

from __future__ import annotations

from typing import Any

import pytest

from reference import Cluster, new_cluster, step
from reference.api.errors import ApiError
from reference.api.server import SYSTEM_ONLY, VERBS, ApiState, handle, read_object
from reference.timefmt import format_whole_seconds

Answer = dict[str, Any]
NOW = 12.75  # the API server writes metav1.Time truncated to the second
KEY = "/registry/pods/default/p"


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec},
    }


def call(api: ApiState, request: dict[str, Any], now: float = NOW) -> tuple[ApiState, Answer]:
    api, answer = handle(api, request, now, system=True)
    assert answer["ok"] is True, answer
    return api, answer


def created(api: ApiState, obj: dict[str, Any]) -> tuple[ApiState, dict[str, Any]]:
    api, answer = call(api, {"op": "create", "object": obj}, 0.0)
    return api, answer["object"]


def stored(api: ApiState, name: str = "p") -> dict[str, Any]:
    kv = api.store.get(f"/registry/pods/default/{name}")
    assert kv is not None
    return read_object(kv)


def bind(**fields: Any) -> dict[str, Any]:
    return {"op": "bind", "namespace": "default", "name": "p", "node": "n1", **fields}


def refused(api: ApiState, request: dict[str, Any], code: int, reason: str) -> Answer:
    """The Status a refused bind answers; the store is as it was."""
    before = (api.store.revision, stored(api) if api.store.get(KEY) else None)
    with pytest.raises(ApiError) as caught:
        handle(api, request, NOW, system=True)
    status = caught.value.status()
    assert (status["code"], status["reason"]) == (code, reason), status
    assert (api.store.revision, stored(api) if api.store.get(KEY) else None) == before
    return status


def scheduled(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in obj["status"].get("conditions") or [] if c["type"] == "PodScheduled"]


@pytest.fixture
def api() -> ApiState:
    state, _ = created(new_cluster().api, pod())
    return state


# -- success -------------------------------------------------------------------------------------


def test_bind_sets_the_node_and_pod_scheduled_and_writes_once(api: ApiState) -> None:
    before = stored(api)
    after, answer = call(api, bind())
    obj = answer["object"]
    assert obj["spec"]["nodeName"] == "n1"
    assert scheduled(obj) == [
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": format_whole_seconds(NOW),
        }
    ]
    assert format_whole_seconds(NOW) == "2025-01-01T00:00:12Z"
    assert after.store.revision == api.store.revision + 1
    assert int(obj["metadata"]["resourceVersion"]) == after.store.revision
    assert int(obj["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert stored(after) == obj


def test_bind_changes_nothing_else(api: ApiState) -> None:
    before = stored(api)
    after, answer = call(api, bind())
    obj = answer["object"]
    # Binding skips the pod strategy: the spec changed but the generation did not.
    assert obj["metadata"]["generation"] == before["metadata"]["generation"] == 1
    rest_before = {**before["spec"], "nodeName": "n1"}
    assert obj["spec"] == rest_before
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    assert meta == {k: v for k, v in before["metadata"].items() if k != "resourceVersion"}
    assert {k: v for k, v in obj["status"].items() if k != "conditions"} == {
        k: v for k, v in before["status"].items() if k != "conditions"
    }
    assert stored(after, "p")["metadata"]["uid"] == before["metadata"]["uid"]


def test_bind_replaces_an_unschedulable_condition_whole(api: ApiState) -> None:
    pending = stored(api)
    pending["status"]["conditions"] = [
        {"type": "Other", "status": "True"},
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available",
            "lastProbeTime": None,
            "lastTransitionTime": "2025-01-01T00:00:01Z",
        },
    ]
    pending["status"]["nominatedNodeName"] = "n2"
    api, _ = call(api, {"op": "status", "object": pending}, 1.0)
    _, answer = call(api, bind())
    conditions = answer["object"]["status"]["conditions"]
    assert conditions == [
        {"type": "Other", "status": "True"},
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": format_whole_seconds(NOW),
        },
    ]
    # ClearingNominatedNodeNameAfterBinding is alpha and off in 1.34: the nomination stays.
    assert answer["object"]["status"]["nominatedNodeName"] == "n2"


def test_an_already_true_condition_keeps_its_transition_time(api: ApiState) -> None:
    pending = stored(api)
    pending["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "True",
            "reason": "Stale",
            "lastTransitionTime": "2025-01-01T00:00:03Z",
        }
    ]
    api, _ = call(api, {"op": "status", "object": pending}, 3.0)
    _, answer = call(api, bind())
    assert scheduled(answer["object"]) == [
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": "2025-01-01T00:00:03Z",
        }
    ]


def test_matching_preconditions_are_accepted(api: ApiState) -> None:
    current = stored(api)
    _, answer = call(
        api,
        bind(
            uid=current["metadata"]["uid"], resourceVersion=current["metadata"]["resourceVersion"]
        ),
    )
    assert answer["object"]["spec"]["nodeName"] == "n1"


def test_the_namespace_defaults_and_the_node_need_not_exist() -> None:
    api, _ = created(new_cluster().api, pod())
    _, answer = call(api, {"op": "bind", "name": "p", "node": "no-such-node"})
    assert answer["object"]["spec"]["nodeName"] == "no-such-node"


def test_bind_emits_one_modified_watch_event(api: ApiState) -> None:
    since = str(api.store.revision)
    after, _ = call(api, bind())
    _, answer = call(after, {"op": "watch", "kind": "Pod", "resourceVersion": since})
    assert [e["type"] for e in answer["events"]] == ["MODIFIED"]
    assert answer["events"][0]["object"]["spec"]["nodeName"] == "n1"


# -- refusals ------------------------------------------------------------------------------------


def test_an_assigned_pod_is_a_conflict(api: ApiState) -> None:
    api, _ = call(api, bind())
    status = refused(api, bind(node="n2"), 409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'
    )
    assert status["details"] == {"name": "p", "kind": "pods/binding"}
    assert stored(api)["spec"]["nodeName"] == "n1"


def test_a_pod_created_on_a_node_cannot_be_bound() -> None:
    api, _ = created(new_cluster().api, pod(nodeName="n0"))
    status = refused(api, bind(), 409, "Conflict")
    assert status["message"].endswith('pod p is already assigned to node "n0"')


def test_a_terminating_pod_is_a_conflict() -> None:
    held = pod()
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api, _ = created(new_cluster().api, held)
    api, _ = call(api, {"op": "delete", "kind": "Pod", "namespace": "default", "name": "p"}, 1.0)
    assert stored(api)["metadata"]["deletionTimestamp"]
    status = refused(api, bind(), 409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on pods/binding "p":'
        " pod p is being deleted, cannot be assigned to a host"
    )
    assert "nodeName" not in stored(api)["spec"]


def test_a_gated_pod_is_a_conflict() -> None:
    api, _ = created(new_cluster().api, pod(schedulingGates=[{"name": "example.com/wait"}]))
    status = refused(api, bind(), 409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": pod p has non-empty'
        " .spec.schedulingGates"
    )


def test_a_uid_precondition_that_fails_is_a_storage_conflict_on_pods(api: ApiState) -> None:
    uid = stored(api)["metadata"]["uid"]
    status = refused(api, bind(uid="other-uid"), 409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on pods "p": StorageError: invalid object, Code: 4,'
        f" Key: {KEY}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed:"
        f" UID in precondition: other-uid, UID in object meta: {uid}"
    )
    assert status["details"] == {"name": "p", "kind": "pods"}


def test_preconditions_are_checked_before_the_pod_is(api: ApiState) -> None:
    api, _ = call(api, bind())
    status = refused(api, bind(uid="other-uid"), 409, "Conflict")
    assert "Precondition failed: UID in precondition: other-uid" in status["message"]


def test_a_stale_resource_version_precondition_is_a_storage_conflict(api: ApiState) -> None:
    rv = stored(api)["metadata"]["resourceVersion"]
    status = refused(api, bind(resourceVersion="1"), 409, "Conflict")
    assert status["message"].endswith(
        f"Precondition failed: ResourceVersion in precondition: 1,"
        f" ResourceVersion in object meta: {rv}"
    )


def test_a_missing_pod_is_not_found(api: ApiState) -> None:
    status = refused(api, bind(name="ghost"), 404, "NotFound")
    assert status["message"] == 'pods "ghost" not found'


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "bind", "namespace": "default", "name": "p"},
        bind(node=""),
        bind(node=7),
        bind(uid=5),
        bind(resourceVersion=9),
        {"op": "bind", "namespace": "default", "node": "n1"},
    ],
)
def test_malformed_requests_are_bad_requests(api: ApiState, request_: dict[str, Any]) -> None:
    refused(api, request_, 400, "BadRequest")


def test_bind_is_system_only() -> None:
    assert "bind" in VERBS
    assert "bind" in SYSTEM_ONLY
    api, _ = created(new_cluster().api, pod())
    with pytest.raises(ApiError) as caught:
        handle(api, bind(), NOW)
    assert caught.value.code == 501


def test_clients_get_not_implemented_and_nothing_changes() -> None:
    cluster: Cluster = new_cluster()
    cluster, answer = step(cluster, {"op": "create", "object": pod()})
    assert answer["ok"] is True
    after, answer = step(cluster, bind())
    assert answer["ok"] is False
    assert (answer["status"]["code"], answer["status"]["reason"]) == (501, "NotImplemented")
    assert after == cluster
    assert "nodeName" not in stored(after.api)["spec"]
