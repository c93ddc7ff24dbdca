"""DefaultTolerationSeconds admission (docs/upstream-checks-nodes.md Q7)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reference import new_cluster
from reference.api.admission import (
    TAINT_NODE_NOT_READY,
    TAINT_NODE_UNREACHABLE,
    add_default_tolerations,
)
from reference.api.errors import ApiError
from reference.api.server import ApiState, handle
from reference.constants import TIMING_PARAMETERS

SECONDS = TIMING_PARAMETERS["defaultTolerationSeconds"]


def default(key: str) -> dict[str, Any]:
    return {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": SECONDS}


NOT_READY = default(TAINT_NODE_NOT_READY)
UNREACHABLE = default(TAINT_NODE_UNREACHABLE)


def pod(*tolerations: dict[str, Any], name: str = "p") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    if tolerations:
        spec["tolerations"] = list(tolerations)
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def tolerations(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"].get("tolerations") or [])


# -- the function --------------------------------------------------------------------------------


def test_both_are_added_by_default() -> None:
    assert SECONDS == 300
    assert tolerations(add_default_tolerations(pod())) == [NOT_READY, UNREACHABLE]


def test_the_pod_given_is_left_as_it_was() -> None:
    original = pod()
    kept = copy.deepcopy(original)
    add_default_tolerations(original)
    assert original == kept


def test_a_toleration_with_an_empty_key_tolerates_both() -> None:
    everything = {"operator": "Exists", "effect": "NoExecute"}
    assert tolerations(add_default_tolerations(pod(everything))) == [everything]


def test_a_toleration_with_an_empty_key_and_effect_tolerates_both() -> None:
    everything = {"key": "", "operator": "Exists"}
    assert tolerations(add_default_tolerations(pod(everything))) == [everything]


def test_a_toleration_with_an_empty_effect_counts_for_its_key() -> None:
    any_effect = {"key": TAINT_NODE_NOT_READY, "operator": "Exists"}
    assert tolerations(add_default_tolerations(pod(any_effect))) == [any_effect, UNREACHABLE]


def test_a_specific_toleration_seconds_is_kept() -> None:
    short = {**UNREACHABLE, "tolerationSeconds": 60}
    assert tolerations(add_default_tolerations(pod(short))) == [short, NOT_READY]


def test_the_operator_is_not_checked() -> None:
    # Equal with a value tolerates no real not-ready taint, but upstream counts it all the same.
    equal = {"key": TAINT_NODE_NOT_READY, "operator": "Equal", "value": "x", "effect": "NoExecute"}
    assert tolerations(add_default_tolerations(pod(equal))) == [equal, UNREACHABLE]


@pytest.mark.parametrize("effect", ["NoSchedule", "PreferNoSchedule"])
def test_another_effect_does_not_count(effect: str) -> None:
    other = {"key": TAINT_NODE_NOT_READY, "operator": "Exists", "effect": effect}
    assert tolerations(add_default_tolerations(pod(other))) == [other, NOT_READY, UNREACHABLE]


def test_another_key_does_not_count() -> None:
    other = {"key": "example.com/gpu", "operator": "Exists", "effect": "NoExecute"}
    assert tolerations(add_default_tolerations(pod(other))) == [other, NOT_READY, UNREACHABLE]


@pytest.mark.parametrize("value", ["not a list", {"key": "x"}, 3])
def test_malformed_tolerations_are_left_for_validation(value: Any) -> None:
    obj = pod()
    obj["spec"]["tolerations"] = value
    assert add_default_tolerations(obj) == obj


# -- through the API server ----------------------------------------------------------------------


def api() -> ApiState:
    return new_cluster().api


def created(state: ApiState, obj: dict[str, Any]) -> tuple[ApiState, dict[str, Any]]:
    state, answer = handle(state, {"op": "create", "object": obj}, 0.0, system=True)
    assert answer["ok"] is True, answer
    return state, answer["object"]


def test_a_created_pod_gets_both() -> None:
    _, obj = created(api(), pod())
    assert tolerations(obj) == [NOT_READY, UNREACHABLE]


def test_a_created_pod_that_tolerates_both_is_unchanged() -> None:
    short = [{**NOT_READY, "tolerationSeconds": 5}, {**UNREACHABLE, "tolerationSeconds": 7}]
    _, obj = created(api(), pod(*short))
    assert tolerations(obj) == short


def test_the_original_request_as_an_update_is_a_no_op() -> None:
    # The plugin also admits Update: without it the update would drop the added tolerations,
    # which pod update validation forbids.
    state, obj = created(api(), pod())
    state, answer = handle(state, {"op": "update", "object": pod()}, 1.0)
    assert answer["ok"] is True, answer
    assert answer["object"] == obj


def test_pod_templates_are_not_admitted() -> None:
    template = pod()
    del template["kind"]
    replicaset = {
        "kind": "ReplicaSet",
        "metadata": {"name": "rs", "namespace": "default"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": template["spec"]},
        },
    }
    _, obj = created(api(), replicaset)
    assert "tolerations" not in obj["spec"]["template"]["spec"]


def test_an_invalid_toleration_is_still_refused() -> None:
    bad = {"operator": "Equal", "effect": "NoExecute"}  # empty key needs Exists
    with pytest.raises(ApiError) as refused:
        handle(api(), {"op": "create", "object": pod(bad)}, 0.0)
    assert refused.value.code == 422
