"""Taint toleration and node affinity, checked against upstream helper tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties.scheduling_terms import (
    node_selector_matches,
    node_selector_requirement_matches,
    node_selector_term_matches,
    pod_matches_node_affinity,
    toleration_tolerates,
    untolerated_taints,
)

TAINT = {"key": "foo", "value": "bar", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("toleration", "tolerates"),
    [
        ({"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"}, True),
        ({"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
        ({"key": "foo", "operator": "Equal", "value": "bar"}, True),
        ({"key": "foo", "operator": "Exists", "effect": "NoSchedule"}, True),
        ({"key": "foo", "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),
        ({"operator": "Exists", "effect": "NoSchedule"}, True),
        ({"operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "foo", "operator": "Equal", "value": "baz", "effect": "NoSchedule"}, False),
        ({"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}, False),
        ({"key": "other", "operator": "Exists"}, False),
        ({"key": "foo", "operator": "Gt", "value": "1"}, False),
        ({"key": "foo", "operator": "Bogus", "value": "bar"}, False),
    ],
)
def test_toleration_matching_rules(toleration: dict[str, str], tolerates: bool) -> None:
    assert toleration_tolerates(toleration, TAINT) is tolerates


def test_empty_values_compare_equal() -> None:
    assert toleration_tolerates(
        {"key": "k", "operator": "Equal"}, {"key": "k", "effect": "NoExecute"}
    )
    assert not toleration_tolerates({"key": "k"}, {"key": "k", "value": "v", "effect": "NoExecute"})


def test_untolerated_taints_filters_by_effect_and_keeps_order() -> None:
    taints = [
        {"key": "a", "effect": "NoSchedule"},
        {"key": "b", "effect": "PreferNoSchedule"},
        {"key": "c", "value": "1", "effect": "NoExecute"},
        {"key": "d", "effect": "NoExecute"},
    ]
    tolerations = [{"key": "c", "operator": "Equal", "value": "1"}]
    hard = untolerated_taints(tolerations, taints, {"NoSchedule", "NoExecute"})
    assert [t["key"] for t in hard] == ["a", "d"]
    assert [t["key"] for t in untolerated_taints(tolerations, taints, {"NoExecute"})] == ["d"]
    assert untolerated_taints([{"operator": "Exists"}], taints, {"NoSchedule", "NoExecute"}) == []
    assert untolerated_taints([], [], {"NoSchedule"}) == []


def node(name: str = "node-1", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def term(
    *expressions: dict[str, Any], fields: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"matchExpressions": list(expressions)}
    if fields is not None:
        result["matchFields"] = fields
    return result


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        ({"key": "foo", "operator": "In", "values": ["bar", "value2"]}, {"foo": "bar"}, True),
        ({"key": "foo", "operator": "In", "values": ["bar"]}, {"foo": "baz"}, False),
        ({"key": "foo", "operator": "In", "values": ["bar"]}, {}, False),
        ({"key": "foo", "operator": "NotIn", "values": ["bar"]}, {}, True),
        ({"key": "foo", "operator": "NotIn", "values": ["bar"]}, {"foo": "bar"}, False),
        ({"key": "foo", "operator": "Exists"}, {"foo": ""}, True),
        ({"key": "foo", "operator": "DoesNotExist"}, {"foo": ""}, False),
        (
            {"key": "kernel-version", "operator": "Gt", "values": ["0204"]},
            {"kernel-version": "0206"},
            True,
        ),
        ({"key": "mem", "operator": "Lt", "values": ["2048"]}, {"mem": "1024"}, True),
        ({"key": "mem", "operator": "Lt", "values": ["2048"]}, {"mem": "2048"}, False),
        ({"key": "mem", "operator": "Gt", "values": ["1"]}, {"mem": "2Gi"}, False),
        ({"key": "mem", "operator": "Gt", "values": ["x"]}, {"mem": "2"}, False),
        ({"key": "mem", "operator": "Gt", "values": ["1", "2"]}, {"mem": "3"}, False),
        ({"key": "foo", "operator": "In", "values": []}, {"foo": ""}, False),
        ({"key": "foo", "operator": "Exists", "values": ["x"]}, {"foo": "x"}, False),
        ({"key": "foo", "operator": "Equal", "values": ["bar"]}, {"foo": "bar"}, False),
        ({"key": "Bad_Key_", "operator": "Exists"}, {"Bad_Key_": "x"}, False),
    ],
)
def test_node_selector_requirements(
    requirement: dict[str, Any], labels: dict[str, str], expected: bool
) -> None:
    assert node_selector_requirement_matches(requirement, labels) is expected


def test_terms_and_their_requirements() -> None:
    n = node("node-1", foo="bar", zone="a")
    assert node_selector_term_matches(term({"key": "foo", "operator": "Exists"}), n)
    assert not node_selector_term_matches({}, n)
    assert not node_selector_term_matches(term(), n)
    both = term(
        {"key": "foo", "operator": "In", "values": ["bar"]},
        {"key": "zone", "operator": "NotIn", "values": ["a"]},
    )
    assert not node_selector_term_matches(both, n)


def test_match_fields_read_the_node_name() -> None:
    by_name = term(fields=[{"key": "metadata.name", "operator": "In", "values": ["node-1"]}])
    assert node_selector_term_matches(by_name, node("node-1"))
    assert not node_selector_term_matches(by_name, node("node-2"))
    not_name = term(fields=[{"key": "metadata.name", "operator": "NotIn", "values": ["node-1"]}])
    assert node_selector_term_matches(not_name, node("node-2"))
    mixed = term(
        {"key": "foo", "operator": "In", "values": ["bar"]},
        fields=[{"key": "metadata.name", "operator": "In", "values": ["node-1"]}],
    )
    assert node_selector_term_matches(mixed, node("node-1", foo="bar"))
    assert not node_selector_term_matches(mixed, node("node-1", foo="baz"))
    assert not node_selector_term_matches(mixed, node("node-2", foo="bar"))
    two_values = term(fields=[{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}])
    assert not node_selector_term_matches(two_values, node("a"))
    exists = term(fields=[{"key": "metadata.name", "operator": "Exists"}])
    assert not node_selector_term_matches(exists, node("a"))


def test_terms_are_ored_and_a_broken_term_does_not_spoil_the_others() -> None:
    n = node("node-1", foo="bar")
    broken = term({"key": "foo", "operator": "In", "values": []})
    good = term({"key": "foo", "operator": "In", "values": ["bar"]})
    other = term({"key": "foo", "operator": "In", "values": ["qux"]})
    assert node_selector_matches({"nodeSelectorTerms": [broken, good]}, n)
    assert not node_selector_matches({"nodeSelectorTerms": [broken, other]}, n)
    assert not node_selector_matches({"nodeSelectorTerms": []}, n)
    assert not node_selector_matches({"nodeSelectorTerms": [{}]}, n)


def pod(node_selector: dict[str, str] | None = None, required: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if required is not None:
        spec["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}
        }
    return {"spec": spec}


def test_pod_node_selector_and_required_affinity_must_both_hold() -> None:
    n = node("node-1", foo="bar", gpu="true")
    gpu = {"nodeSelectorTerms": [term({"key": "gpu", "operator": "Exists"})]}
    no_gpu = {"nodeSelectorTerms": [term({"key": "gpu", "operator": "DoesNotExist"})]}
    assert pod_matches_node_affinity(pod(), n)
    assert pod_matches_node_affinity(pod({"foo": "bar"}), n)
    assert not pod_matches_node_affinity(pod({"foo": "baz"}), n)
    assert not pod_matches_node_affinity(pod({"missing": ""}), n)
    assert pod_matches_node_affinity(pod({"foo": "bar"}, gpu), n)
    assert not pod_matches_node_affinity(pod({"foo": "bar"}, no_gpu), n)
    assert not pod_matches_node_affinity(pod({"foo": "baz"}, gpu), n)
    assert not pod_matches_node_affinity(pod(required={"nodeSelectorTerms": []}), n)
    assert pod_matches_node_affinity({"spec": {"affinity": {"nodeAffinity": {}}}}, n)
    assert pod_matches_node_affinity(pod({"foo": "bar"}), {"metadata": {"labels": {"foo": "bar"}}})


effects = st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"])
words = st.sampled_from(["", "a", "b", "c"])
taints = st.fixed_dictionaries({"key": words, "value": words, "effect": effects})
tolerations = st.fixed_dictionaries(
    {},
    optional={
        "key": words,
        "value": words,
        "effect": st.one_of(st.just(""), effects),
        "operator": st.sampled_from(["", "Equal", "Exists"]),
    },
)


@given(st.lists(taints, max_size=5))
def test_copying_every_taint_as_a_toleration_tolerates_them_all(ts: list[dict[str, str]]) -> None:
    copies = [dict(t, operator="Equal") for t in ts]
    assert untolerated_taints(copies, ts, {"NoSchedule", "PreferNoSchedule", "NoExecute"}) == []


@given(tolerations, taints)
def test_a_narrower_toleration_tolerates_no_more(
    toleration: dict[str, str], taint: dict[str, str]
) -> None:
    if toleration_tolerates(toleration, taint):
        wildcard = {"operator": "Exists"}
        assert toleration_tolerates(wildcard, taint)
        assert toleration_tolerates(dict(toleration, effect=""), taint)


@given(st.lists(tolerations, max_size=3), st.lists(taints, max_size=5))
def test_untolerated_taints_shrink_as_tolerations_grow(
    tols: list[dict[str, str]], ts: list[dict[str, str]]
) -> None:
    everything = {"NoSchedule", "PreferNoSchedule", "NoExecute"}
    fewer = untolerated_taints(tols, ts, everything)
    more = untolerated_taints([*tols, {"key": "a", "operator": "Exists"}], ts, everything)
    assert all(t in fewer for t in more)
    assert all(t["key"] != "a" for t in more)
