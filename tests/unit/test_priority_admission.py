"""The Priority admission plugin and the system PriorityClasses.

Upstream: plugin/pkg/admission/priority/admission.go (admitPod,
getDefaultPriority), pkg/apis/scheduling/v1/helpers.go (systemPriorityClasses)
and pkg/registry/scheduling/rest/storage_scheduling.go (the bootstrap hook).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reference import Cluster, new_cluster, step
from reference.api.admission import (
    DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS,
    PREEMPT_LOWER_PRIORITY,
    admit_priority,
    keep_priority,
    system_priority_classes,
)
from reference.api.errors import ApiError

Answer = dict[str, Any]

NODE_CRITICAL = 2_000_001_000
CLUSTER_CRITICAL = 2_000_000_000


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec},
    }


def priority_class(
    name: str, value: int, *, default: bool = False, policy: str | None = "PreemptLowerPriority"
) -> dict[str, Any]:
    pc: dict[str, Any] = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
    }
    if default:
        pc["globalDefault"] = True
    if policy is not None:
        pc["preemptionPolicy"] = policy
    return pc


def classes(*pcs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {pc["metadata"]["name"]: pc for pc in pcs}


def forbidden(obj: dict[str, Any], known: dict[str, dict[str, Any]], name: str = "p") -> Answer:
    with pytest.raises(ApiError) as caught:
        admit_priority(obj, known, name)
    status = caught.value.status()
    assert status["code"] == 403, status
    assert status["reason"] == "Forbidden", status
    return status


# -- the function --------------------------------------------------------------------------------


def test_without_any_class_a_pod_gets_priority_zero_and_preempt_lower_priority() -> None:
    spec = admit_priority(pod(), {}, "p")["spec"]
    assert DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS == 0
    assert spec["priority"] == 0
    assert spec["preemptionPolicy"] == PREEMPT_LOWER_PRIORITY == "PreemptLowerPriority"
    assert "priorityClassName" not in spec


def test_classes_that_are_not_global_defaults_do_not_apply() -> None:
    spec = admit_priority(pod(), classes(priority_class("high", 1000)), "p")["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec


def test_an_empty_class_name_counts_as_none_and_is_not_written() -> None:
    spec = admit_priority(pod(priorityClassName=""), {}, "p")["spec"]
    assert spec["priority"] == 0
    assert "priorityClassName" not in spec


def test_the_global_default_class_gives_its_name_value_and_policy() -> None:
    known = classes(priority_class("batch", 7, default=True, policy="Never"))
    spec = admit_priority(pod(), known, "p")["spec"]
    assert spec["priorityClassName"] == "batch"
    assert spec["priority"] == 7
    assert spec["preemptionPolicy"] == "Never"


def test_of_several_global_defaults_the_lowest_value_wins_then_the_first_name() -> None:
    known = classes(
        priority_class("zz-low", 5, default=True),
        priority_class("high", 50, default=True),
        priority_class("aa-low", 5, default=True, policy="Never"),
    )
    spec = admit_priority(pod(), known, "p")["spec"]
    assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == (
        "aa-low",
        5,
        "Never",
    )


def test_a_named_class_gives_its_value_and_policy() -> None:
    known = classes(
        priority_class("gold", 1000, policy="Never"), priority_class("d", 1, default=True)
    )
    spec = admit_priority(pod(priorityClassName="gold"), known, "p")["spec"]
    assert spec["priorityClassName"] == "gold"
    assert spec["priority"] == 1000
    assert spec["preemptionPolicy"] == "Never"


def test_a_missing_class_is_forbidden_with_upstreams_message() -> None:
    status = forbidden(pod(priorityClassName="gold"), classes(priority_class("d", 1, default=True)))
    assert status["message"] == 'pods "p" is forbidden: no PriorityClass with name gold was found'
    assert status["details"] == {"name": "p", "kind": "pods"}


def test_a_priority_equal_to_the_computed_one_is_accepted() -> None:
    known = classes(priority_class("gold", 1000))
    assert (
        admit_priority(pod(priorityClassName="gold", priority=1000), known, "p")["spec"]["priority"]
        == 1000
    )
    assert admit_priority(pod(priority=0), {}, "p")["spec"]["priority"] == 0


def test_a_priority_other_than_the_computed_one_is_forbidden() -> None:
    status = forbidden(
        pod(priorityClassName="gold", priority=5), classes(priority_class("gold", 9))
    )
    assert status["message"] == (
        'pods "p" is forbidden: the integer value of priority (5) must not be provided in pod'
        " spec; priority admission controller computed 9 from the given PriorityClass name"
    )


def test_a_priority_without_a_class_is_compared_with_zero() -> None:
    status = forbidden(pod(priority=1), {})
    assert "the integer value of priority (1) must not be provided" in status["message"]
    assert "computed 0 from the given PriorityClass name" in status["message"]


def test_a_preemption_policy_other_than_the_classs_is_forbidden() -> None:
    known = classes(priority_class("gold", 9, policy="Never"))
    status = forbidden(
        pod(priorityClassName="gold", preemptionPolicy="PreemptLowerPriority"), known
    )
    assert status["message"] == (
        'pods "p" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must'
        " not be provided in pod spec; priority admission controller computed Never from the"
        " given PriorityClass name"
    )


def test_never_without_any_class_is_forbidden() -> None:
    status = forbidden(pod(preemptionPolicy="Never"), {})
    assert "the string value of PreemptionPolicy (Never)" in status["message"]
    assert "computed PreemptLowerPriority" in status["message"]


def test_a_class_without_a_policy_leaves_the_pods_own() -> None:
    known = classes(priority_class("old", 3, policy=None))
    spec = admit_priority(pod(priorityClassName="old", preemptionPolicy="Never"), known, "p")[
        "spec"
    ]
    assert (spec["priority"], spec["preemptionPolicy"]) == (3, "Never")
    spec = admit_priority(pod(priorityClassName="old"), known, "p")["spec"]
    assert spec["priority"] == 3
    assert "preemptionPolicy" not in spec


def test_the_pod_given_is_left_as_it_was() -> None:
    original = pod(priorityClassName="gold")
    kept = copy.deepcopy(original)
    admit_priority(original, classes(priority_class("gold", 9)), "p")
    assert original == kept


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("priority", "5", "string into Go struct field PodSpec.spec.priority of type int32"),
        ("priority", True, "bool into Go struct field PodSpec.spec.priority of type int32"),
        ("priority", 1.5, "number 1.5 into Go struct field PodSpec.spec.priority of type int32"),
        ("priority", 2**31, f"number {2**31} into Go struct field PodSpec.spec.priority"),
        ("priorityClassName", 7, "number 7 into Go struct field PodSpec.spec.priorityClassName"),
        ("preemptionPolicy", ["Never"], "array into Go struct field PodSpec.spec.preemptionPolicy"),
    ],
)
def test_fields_of_the_wrong_type_are_a_bad_request(field: str, value: Any, what: str) -> None:
    with pytest.raises(ApiError) as caught:
        admit_priority(pod(**{field: value}), {}, "p")
    status = caught.value.status()
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert status["message"].startswith(
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal '
    )
    assert what in status["message"]


def test_keep_priority_restores_only_what_the_update_omits() -> None:
    old = admit_priority(pod(priorityClassName="gold"), classes(priority_class("gold", 9)), "p")
    restored = keep_priority(pod(priorityClassName="gold"), old)["spec"]
    assert (restored["priority"], restored["preemptionPolicy"]) == (9, "PreemptLowerPriority")
    changed = keep_priority(pod(priority=4, preemptionPolicy="Never"), old)["spec"]
    assert (changed["priority"], changed["preemptionPolicy"]) == (4, "Never")


def test_the_system_classes_are_upstreams() -> None:
    assert system_priority_classes() == [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "system-node-critical"},
            "value": NODE_CRITICAL,
            "description": "Used for system critical pods that must not be moved from their"
            " current node.",
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "system-cluster-critical"},
            "value": CLUSTER_CRITICAL,
            "description": "Used for system critical pods that must run in the cluster, but can"
            " be moved to another node if necessary.",
        },
    ]


# -- through the API server ----------------------------------------------------------------------


def ok(cluster: Cluster, request: dict[str, Any]) -> tuple[Cluster, Answer]:
    cluster, answer = step(cluster, request)
    assert answer["ok"] is True, answer
    return cluster, answer


def snap(cluster: Cluster) -> Answer:
    _, answer = ok(cluster, {"op": "snapshot"})
    return answer


def refused(cluster: Cluster, request: dict[str, Any], code: int, reason: str) -> Answer:
    before = snap(cluster)
    after, answer = step(cluster, request)
    assert answer["ok"] is False, answer
    status: Answer = answer["status"]
    assert (status["code"], status["reason"]) == (code, reason), status
    assert after == cluster
    assert snap(after) == before
    return status


def create(cluster: Cluster, obj: dict[str, Any]) -> tuple[Cluster, dict[str, Any]]:
    cluster, answer = ok(cluster, {"op": "create", "object": obj})
    return cluster, answer["object"]


@pytest.fixture
def cluster() -> Cluster:
    return new_cluster()


def test_a_new_cluster_holds_the_two_system_classes_as_the_bootstrap_creates_them(
    cluster: Cluster,
) -> None:
    _, answer = ok(cluster, {"op": "list", "kind": "PriorityClass"})
    items = {pc["metadata"]["name"]: pc for pc in answer["items"]}
    assert sorted(items) == ["system-cluster-critical", "system-node-critical"]
    for name, value in (
        ("system-node-critical", NODE_CRITICAL),
        ("system-cluster-critical", CLUSTER_CRITICAL),
    ):
        pc = items[name]
        assert pc["apiVersion"] == "scheduling.k8s.io/v1"
        assert pc["value"] == value
        assert pc["preemptionPolicy"] == "PreemptLowerPriority"  # defaulted on create
        assert "globalDefault" not in pc  # false, omitted
        assert pc["description"].startswith("Used for system critical pods")
        assert pc["metadata"]["uid"] and pc["metadata"]["creationTimestamp"]
        assert "namespace" not in pc["metadata"]


def test_every_reset_seed_has_the_system_classes() -> None:
    cluster, _ = ok(new_cluster(), {"op": "reset", "seed": 3})
    _, answer = ok(cluster, {"op": "list", "kind": "PriorityClass"})
    assert len(answer["items"]) == 2


def test_a_created_pod_gets_priority_zero(cluster: Cluster) -> None:
    _, obj = create(cluster, pod())
    assert obj["spec"]["priority"] == 0
    assert obj["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert "priorityClassName" not in obj["spec"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("system-node-critical", NODE_CRITICAL), ("system-cluster-critical", CLUSTER_CRITICAL)],
)
def test_a_pod_may_name_a_system_class_in_any_namespace(
    cluster: Cluster, name: str, value: int
) -> None:
    _, obj = create(cluster, pod(priorityClassName=name))
    assert obj["metadata"]["namespace"] == "default"
    assert obj["spec"]["priority"] == value
    assert obj["spec"]["priorityClassName"] == name


def test_a_created_class_is_used_and_a_global_default_names_itself(cluster: Cluster) -> None:
    cluster, _ = create(cluster, priority_class("gold", 1000, policy="Never"))
    cluster, gold = create(cluster, pod("g", priorityClassName="gold"))
    assert (gold["spec"]["priority"], gold["spec"]["preemptionPolicy"]) == (1000, "Never")
    cluster, _ = create(cluster, priority_class("standard", 10, default=True))
    _, plain = create(cluster, pod("s"))
    assert plain["spec"]["priorityClassName"] == "standard"
    assert plain["spec"]["priority"] == 10


def test_a_pod_naming_a_missing_class_is_forbidden_and_changes_nothing(cluster: Cluster) -> None:
    status = refused(
        cluster, {"op": "create", "object": pod(priorityClassName="gold")}, 403, "Forbidden"
    )
    assert status["message"] == 'pods "p" is forbidden: no PriorityClass with name gold was found'


def test_a_refusal_of_a_generated_name_names_the_prefix(cluster: Cluster) -> None:
    obj = pod(priorityClassName="gold")
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    status = refused(cluster, {"op": "create", "object": obj}, 403, "Forbidden")
    assert status["message"] == (
        'pods "web-" is forbidden: no PriorityClass with name gold was found'
    )


def test_a_given_priority_that_differs_is_forbidden_and_changes_nothing(cluster: Cluster) -> None:
    status = refused(
        cluster,
        {"op": "create", "object": pod(priorityClassName="system-node-critical", priority=1)},
        403,
        "Forbidden",
    )
    assert status["message"] == (
        'pods "p" is forbidden: the integer value of priority (1) must not be provided in pod'
        f" spec; priority admission controller computed {NODE_CRITICAL} from the given"
        " PriorityClass name"
    )


def test_admission_refuses_before_validation(cluster: Cluster) -> None:
    invalid = pod(priorityClassName="gold")
    invalid["spec"]["containers"] = []  # validation would answer 422
    refused(cluster, {"op": "create", "object": invalid}, 403, "Forbidden")


def test_an_update_that_omits_priority_keeps_it(cluster: Cluster) -> None:
    cluster, created = create(cluster, pod(priorityClassName="system-cluster-critical"))
    update = pod(priorityClassName="system-cluster-critical")
    update["metadata"]["labels"] = {"a": "b"}
    _, answer = ok(cluster, {"op": "update", "object": update})
    assert answer["object"]["spec"]["priority"] == CLUSTER_CRITICAL
    assert answer["object"]["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert answer["object"]["metadata"]["labels"] == {"a": "b"}
    assert answer["object"]["metadata"]["generation"] == created["metadata"]["generation"]


def test_an_update_may_not_change_the_priority(cluster: Cluster) -> None:
    cluster, created = create(cluster, pod())
    changed = copy.deepcopy(created)
    changed["spec"]["priority"] = 5
    refused(cluster, {"op": "update", "object": changed}, 422, "Invalid")


def test_admission_does_not_run_again_on_update(cluster: Cluster) -> None:
    # The class the pod named is gone; an update neither re-resolves it nor refuses.
    cluster, _ = create(cluster, priority_class("gold", 1000))
    cluster, created = create(cluster, pod(priorityClassName="gold"))
    cluster, _ = ok(cluster, {"op": "delete", "kind": "PriorityClass", "name": "gold"})
    update = copy.deepcopy(created)
    update["metadata"]["labels"] = {"x": "y"}
    _, answer = ok(cluster, {"op": "update", "object": update})
    assert answer["object"]["spec"]["priority"] == 1000
