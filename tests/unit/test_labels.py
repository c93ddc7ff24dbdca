"""Label selectors, checked against labels/selector_test.go and metav1 helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties.labels import (
    InvalidSelectorError,
    Operator,
    Requirement,
    Selector,
    SelectorSyntaxError,
    from_label_selector,
    from_set,
    label_selector_errors,
    new_requirement,
    parse_selector,
)

R = Requirement


@pytest.mark.parametrize(
    "text",
    ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"],
)
def test_good_strings_restring_without_spaces(text: str) -> None:
    assert str(parse_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "x=a||y=b",
        "x==a==b",
        "!x=a",
        "x<a",
        "x,,y",
        ",x,y",
        "x nott in (y)",
        "a in (xyz),",
        "a in (xyz)b notin ()",
        "a in (xyz abc)",
        "a notin(",
        "a (",
        "(",
        "x=a,",
        "x in (a",
        "UPPER.example.com/x",
        "x=-a",
        "x>99999999999999999999",
    ],
)
def test_bad_strings_are_rejected(text: str) -> None:
    with pytest.raises(SelectorSyntaxError):
        parse_selector(text)


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("\rx", [R("x", "exists")]),
        (
            "this-is-a-dns.domain.com/key-with-dash",
            [R("this-is-a-dns.domain.com/key-with-dash", "exists")],
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            [R("0.1.2.domain/99", "notin", ["10.10.100.1", "tick.tack.clock"])],
        ),
        ("foo  in\t (abc)", [R("foo", "in", ["abc"])]),
        ("x notin\n (abc)", [R("x", "notin", ["abc"])]),
        ("x in (abc,)", [R("x", "in", ["abc", ""])]),
        ("x in ()", [R("x", "in", [""])]),
        ("x notin ( )", [R("x", "notin", [""])]),
        ("x notin (, a)", [R("x", "notin", ["", "a"])]),
        (
            "x notin (abc,,def),bar,z in (),w",
            [
                R("bar", "exists"),
                R("w", "exists"),
                R("x", "notin", ["abc", "", "def"]),
                R("z", "in", [""]),
            ],
        ),
        ("x,y in (a)", [R("y", "in", ["a"]), R("x", "exists")]),
        ("a in (x,y,notin, z,in)", [R("a", "in", ["in", "notin", "x", "y", "z"])]),
        ("in in (in)", [R("in", "in", ["in"])]),
        ("notin=in", [R("notin", "=", ["in"])]),
        ("x==a", [R("x", "==", ["a"])]),
        ("a ", [R("a", "exists")]),
    ],
)
def test_parse_upstream_table(text: str, requirements: list[Requirement]) -> None:
    assert parse_selector(text) == Selector(requirements)


def test_parse_is_deterministic_and_sorted_by_key() -> None:
    assert parse_selector("x=a,a=x") == parse_selector("a=x,x=a")
    assert str(parse_selector("x=a,a=x")) == "a=x,x=a"


def test_syntax_error_names_the_offending_part() -> None:
    with pytest.raises(
        SelectorSyntaxError, match=r"'x=a\|\|y=b'.*values\[0\]: 'a\|\|y': a valid label"
    ):
        parse_selector("x=a||y=b")
    with pytest.raises(SelectorSyntaxError, match="found '=', expected: ',' or 'end of string'"):
        parse_selector("!x=a")
    with pytest.raises(SelectorSyntaxError, match="invalid label key 'Bad_'"):
        parse_selector("Bad_=x")
    with pytest.raises(SelectorSyntaxError, match="the value must be an integer"):
        parse_selector("x<a")


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x", {"x": "z"}, True),
        ("!x", {"y": "z"}, True),
        ("x>1", {"x": "2"}, True),
        ("x<1", {"x": "0"}, True),
        ("x=z", {}, False),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x", {"y": "z"}, False),
        ("!x", {"x": "z"}, False),
        ("x>1", {"x": "0"}, False),
        ("x<1", {"x": "2"}, False),
        ("x>1", {"x": "v2"}, False),
        ("x>1", {}, False),
        ("x notin (a)", {}, True),
        ("x notin (a)", {"x": "a"}, False),
        ("x!=a", {}, True),
        ("x in (a,b)", {"x": "b"}, True),
        ("x in ()", {"y": "baz"}, False),
        ("x in ()", {"x": ""}, True),
        ("x notin (),y", {"y": ""}, True),
        ("x notin (),!y", {"y": ""}, False),
    ],
)
def test_matching_upstream_table(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector).matches(labels) is expected


def test_requirement_strings() -> None:
    selector = Selector([R("x", "in", ["def", "abc"]), R("y", "notin", ["jkl"]), R("z", "exists")])
    assert str(selector) == "x in (abc,def),y notin (jkl),z"
    selector = Selector([R("x", "notin", ["abc", "def"]), R("y", "!=", ["jkl"]), R("z", "!")])
    assert str(selector) == "x notin (abc,def),y!=jkl,!z"
    assert str(Selector([R("x", "gt", ["2"]), R("y", "lt", ["8"])])) == "x>2,y<8"
    assert str(Selector([R("z", "notin", [""])])) == "z notin ()"


@pytest.mark.parametrize(
    ("key", "operator", "values", "ok"),
    [
        ("x", "in", [], False),
        ("x", "notin", [], False),
        ("x", "in", ["foo"], True),
        ("x", "exists", [], True),
        ("x", "!", ["a"], False),
        ("1foo", "in", ["bar"], True),
        ("1234", "in", ["bar"], True),
        ("y", "gt", ["1"], True),
        ("z", "lt", ["6"], True),
        ("foo", "gt", ["bar"], False),
        ("barz", "lt", ["blah"], False),
        ("x", "gt", ["1", "2"], False),
        ("x", "=", ["a", "b"], False),
        ("x", "=", ["bad value"], False),
        ("a" * 254, "exists", [], False),
        ("x", "~", [], False),
    ],
)
def test_new_requirement_follows_upstream_rules(
    key: str, operator: str, values: list[str], ok: bool
) -> None:
    if ok:
        assert new_requirement(key, operator, values) == Requirement(key, operator, values)
    else:
        with pytest.raises(InvalidSelectorError):
            new_requirement(key, operator, values)


def test_everything_and_nothing() -> None:
    assert Selector.everything().matches({"x": "y"})
    assert Selector.everything().matches({})
    assert not Selector.nothing().matches({})
    assert Selector.everything() != Selector.nothing()
    with pytest.raises(ValueError, match="cannot also carry requirements"):
        Selector([R("x", "exists")], matches_nothing=True)


def test_from_set_is_an_unvalidated_equality_selector() -> None:
    assert from_set({}) == Selector.everything()
    selector = from_set({"foo": "bar", "baz": "blah"})
    assert str(selector) == "baz=blah,foo=bar"
    assert selector.matches({"foo": "bar", "baz": "blah", "other": "x"})
    assert not selector.matches({"foo": "bar"})
    assert from_set({"not a key": "=x"}).matches({"not a key": "=x"})


def test_from_label_selector_nil_empty_and_full() -> None:
    assert from_label_selector(None) == Selector.nothing()
    assert from_label_selector({}) == Selector.everything()
    assert from_label_selector({"matchLabels": {}, "matchExpressions": []}).matches({})
    selector = from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "team", "operator": "Exists"},
            ],
        }
    )
    assert str(selector) == "app=web,!canary,env notin (prod),team,tier in (edge,front)"
    assert selector.matches({"app": "web", "tier": "edge", "team": "a"})
    assert not selector.matches({"app": "web", "tier": "edge", "team": "a", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "edge", "team": "a", "env": "prod"})


@pytest.mark.parametrize(
    ("ls", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "'Gt' is not"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "empty"),
        ({"matchLabels": {"a": "b c"}}, r"matchLabels\['a'\]"),
        ({"matchLabels": {"-a": "b"}}, "key"),
    ],
)
def test_from_label_selector_rejects_invalid_selectors(ls: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSelectorError, match=message):
        from_label_selector(ls)


def test_label_selector_errors_paths_and_messages() -> None:
    ls = {
        "matchLabels": {"ok": "fine", "bad key!": "v"},
        "matchExpressions": [
            {"key": "a", "operator": "In", "values": []},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Gt", "values": ["1"]},
            {"key": "Bad_", "operator": "NotIn", "values": ["ok", "not ok"]},
        ],
    }
    errors = label_selector_errors(ls, "spec.selector")
    paths = [path for path, _ in errors]
    assert paths == [
        "spec.selector.matchLabels",
        "spec.selector.matchExpressions[0].values",
        "spec.selector.matchExpressions[1].values",
        "spec.selector.matchExpressions[2].operator",
        "spec.selector.matchExpressions[3].key",
        "spec.selector.matchExpressions[3].values[1]",
    ]
    messages = dict(errors[1:4])
    assert messages["spec.selector.matchExpressions[0].values"] == (
        "must be specified when `operator` is 'In' or 'NotIn'"
    )
    assert messages["spec.selector.matchExpressions[1].values"] == (
        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
    )
    assert messages["spec.selector.matchExpressions[2].operator"] == "not a valid selector operator"
    assert label_selector_errors({"matchLabels": {"app": "web"}}, "spec.selector") == []
    assert label_selector_errors(None, "spec.selector") == []


KEY_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?"
PREFIX = r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z0-9]{1,4}){0,2}"
keys = st.one_of(
    st.from_regex(KEY_NAME, fullmatch=True),
    st.tuples(st.from_regex(PREFIX, fullmatch=True), st.from_regex(KEY_NAME, fullmatch=True)).map(
        "/".join
    ),
    st.sampled_from(["in", "notin"]),
)
label_values = st.one_of(
    st.just(""), st.from_regex(KEY_NAME, fullmatch=True), st.sampled_from(["in", "notin"])
)
integers = st.integers(min_value=0, max_value=2**63 - 1).map(str)

requirements = st.one_of(
    st.builds(R, keys, st.sampled_from(["=", "==", "!="]), st.tuples(label_values)),
    st.builds(R, keys, st.sampled_from(["in", "notin"]), st.lists(label_values, min_size=1)),
    st.builds(R, keys, st.sampled_from(["exists", "!"])),
    st.builds(R, keys, st.sampled_from(["gt", "lt"]), st.tuples(integers)),
)
selectors = st.lists(requirements, max_size=4).map(Selector)
label_sets = st.dictionaries(keys, label_values, max_size=4)


@given(selectors)
def test_printing_then_parsing_round_trips(selector: Selector) -> None:
    assert parse_selector(str(selector)) == selector


@given(selectors, label_sets)
def test_matching_is_the_conjunction_of_requirements(
    selector: Selector, labels: dict[str, str]
) -> None:
    expected = all(r.matches(labels) for r in selector.requirements)
    assert selector.matches(labels) is expected
    assert parse_selector(str(selector)).matches(labels) is expected


@given(label_sets)
def test_a_label_set_matches_its_own_set_selector(labels: dict[str, str]) -> None:
    assert from_set(labels).matches(labels)
    assert parse_selector(str(from_set(labels))).matches(labels)
    assert from_label_selector({"matchLabels": labels}).matches(labels)


@given(keys, st.lists(label_values, min_size=1), label_sets)
def test_notin_is_the_negation_of_in(key: str, values: list[str], labels: dict[str, str]) -> None:
    assert R(key, Operator.NOT_IN, values).matches(labels) is not R(
        key, Operator.IN, values
    ).matches(labels)
    assert R(key, "!").matches(labels) is not R(key, "exists").matches(labels)
