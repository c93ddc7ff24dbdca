"""The create path's shortcuts (memos, fast copies, fast type checks) answer as the slow forms.

Each memoised or fast-pathed function is compared with the plain computation it
replaces, on generated inputs, and the memoised values are checked to be immutable
so that no caller can change what the next one gets.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from properties import quantity
from properties.names import qualified_name_errors
from reference.api import admission, defaults, validation
from reference.objects import freeze

# -- generators ----------------------------------------------------------------------------

_SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_SUFFIXES += ["e3", "E-2", "e+1", "i", "K", "x", "e", "e99999999999", "e1001", "Gi "]

quantity_texts = st.one_of(
    st.builds(
        lambda ws1, sign, whole, dot, frac, suffix, ws2: (
            ws1 + sign + whole + (("." + frac) if dot else "") + suffix + ws2
        ),
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(["", "+", "-"]),
        st.text("0123456789", max_size=25),
        st.booleans(),
        st.text("0123456789", max_size=12),
        st.sampled_from(_SUFFIXES),
        st.sampled_from(["", " ", "\n"]),
    ),
    st.text(max_size=12),
)

fractions_ = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.builds(
        lambda n, e: Fraction(n, 10**e),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.integers(min_value=0, max_value=12),
    ),
    st.builds(lambda n, e: Fraction(n * 2**e), st.integers(-4096, 4096), st.integers(0, 70)),
    st.builds(Fraction, st.integers(-100, 100), st.integers(1, 100)),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.text(max_size=6),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=25,
)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the refusal must be the same too
        return (type(exc).__name__, str(exc))


# -- quantities ----------------------------------------------------------------------------


@settings(max_examples=400)
@given(quantity_texts)
def test_memoised_parse_answers_as_the_plain_parse(text: str) -> None:
    plain = _outcome(lambda t: quantity._parse(t.strip()), text)
    assert _outcome(quantity.parse_quantity, text) == plain
    assert _outcome(quantity.parse_quantity, text) == plain  # again, now from the memo


@settings(max_examples=400)
@given(fractions_, st.booleans())
def test_memoised_format_answers_as_the_plain_format(q: Fraction | int, binary: bool) -> None:
    plain = _outcome(quantity._format, q, binary)
    assert _outcome(quantity.format_quantity, q, binary) == plain
    assert _outcome(quantity.format_quantity, q, binary) == plain
    assert _outcome(quantity.format_quantity, Fraction(q), binary) == plain


def test_format_of_other_types_and_flags_is_unchanged() -> None:
    one_and_a_half: Any = 1.5
    assert quantity.format_quantity(one_and_a_half) == "1500m"
    assert quantity.format_quantity(2048, binary=1) == "2Ki"  # type: ignore[arg-type]
    assert quantity.format_quantity(True) == "1"


def test_memoised_quantities_cannot_be_changed_by_a_caller() -> None:
    q = quantity.parse_quantity("1500m")
    assert type(q) is Fraction
    with pytest.raises(AttributeError):
        q.numerator = 7  # type: ignore[misc]
    q += 1  # rebinding makes a new value; the memo still holds 3/2
    assert quantity.parse_quantity("1500m") == Fraction(3, 2)
    assert isinstance(quantity.format_quantity(Fraction(3, 2)), str)


@settings(max_examples=400)
@given(st.one_of(quantity_texts, st.integers(-(10**12), 10**12), st.floats(allow_nan=False)))
def test_memoised_canonical_quantity_answers_as_the_plain_one(raw: Any) -> None:
    plain = _outcome(defaults._canonical_quantity_uncached, raw)
    assert _outcome(defaults._canonical_quantity, raw) == plain
    assert _outcome(defaults._canonical_quantity, raw) == plain


def test_canonical_quantity_of_non_strings_is_unchanged() -> None:
    for raw in (True, None, [1], {"a": 1}):
        assert defaults._canonical_quantity(raw) is raw
    assert defaults._canonical_quantity(1.5) == "1500m"
    assert defaults._canonical_quantity(3) == "3"


# -- validation ----------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=70), st.from_regex(r"[a-z0-9.]{0,10}/?[A-Za-z0-9._-]{0,70}")))
def test_memoised_qualified_name_errors_answer_as_the_plain_ones(name: str) -> None:
    memo = validation._qualified_name_errors(name)
    assert type(memo) is tuple  # immutable: no caller can change what the next gets
    assert list(memo) == qualified_name_errors(name)
    assert validation._qualified_name_errors(name) == memo


def _old_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _old_list(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return []


@given(json_values)
def test_fast_readers_answer_as_the_abc_checks(value: Any) -> None:
    for v in (value, freeze(value)):
        assert validation._map(v) == _old_map(v)
        assert type(validation._map(v)) is type(_old_map(v))
        assert validation._list(v) == _old_list(v)
        if isinstance(v, list):
            assert validation._list(v) is not v  # still a copy


# -- defaults ------------------------------------------------------------------------------


def _old_plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _old_plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_old_plain(v) for v in value]
    return value


def _same_shape(a: Any, b: Any) -> bool:
    """Equal, with the same container and scalar types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)


@given(json_values)
def test_fast_plain_copy_answers_as_the_abc_one(value: Any) -> None:
    mixed = {"a": value, 1: (value, b"x"), "f": freeze(value)}
    for v in (value, freeze(value), mixed):
        assert _same_shape(defaults._plain(v), _old_plain(v))


# -- admission -----------------------------------------------------------------------------


def _no_shared_containers(a: Any, b: Any) -> bool:
    """No dict or list of `a` is one of `b`'s."""
    ids: set[int] = set()

    def walk(x: Any, out: set[int]) -> None:
        if isinstance(x, (dict, list)):
            out.add(id(x))
            for y in x.values() if isinstance(x, dict) else x:
                walk(y, out)

    walk(a, ids)
    other: set[int] = set()
    walk(b, other)
    return not ids & other


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=5))
def test_fast_owned_copy_answers_as_deepcopy(pod: dict[str, Any]) -> None:
    copied = admission._owned_copy(pod)
    assert _same_shape(copied, copy.deepcopy(dict(pod)))
    assert _no_shared_containers(copied, pod)


def test_owned_copy_falls_back_to_deepcopy_for_shared_frozen_and_odd_values() -> None:
    shared = {"x": [1, 2]}
    pod: dict[str, Any] = {"spec": shared, "other": shared, "t": (1, [2])}
    copied = admission._owned_copy(pod)
    assert copied["spec"] is copied["other"]  # deepcopy keeps the sharing
    assert copied["spec"] is not shared
    assert copied["t"] == (1, [2]) and type(copied["t"]) is tuple
    cyclic: dict[str, Any] = {"spec": {}}
    cyclic["spec"]["self"] = cyclic["spec"]
    out = admission._owned_copy(cyclic)
    assert out["spec"]["self"] is out["spec"]
    frozen = freeze({"spec": {"tolerations": []}})
    assert type(admission._owned_copy(frozen)["spec"]) is type(copy.deepcopy(frozen["spec"]))
    int_keyed: Any = {1: {"a": 1}}
    assert admission._owned_copy(int_keyed) == int_keyed


_PODS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"metadata": st.just({"name": "p"})},
    optional={
        "spec": st.one_of(
            st.none(),
            st.just([]),
            st.fixed_dictionaries(
                {},
                optional={
                    "priorityClassName": st.sampled_from(["", "high", "missing", None]),
                    "priority": st.one_of(st.none(), st.sampled_from([0, 5, 1000, "x"])),
                    "preemptionPolicy": st.sampled_from([None, "Never", "PreemptLowerPriority"]),
                    "tolerations": st.one_of(
                        st.none(),
                        st.just("x"),
                        st.lists(
                            st.fixed_dictionaries(
                                {},
                                optional={
                                    "key": st.sampled_from(
                                        ["", "node.kubernetes.io/not-ready", "a"]
                                    ),
                                    "effect": st.sampled_from(["", "NoExecute", "NoSchedule"]),
                                    "operator": st.sampled_from(["Exists", "Equal"]),
                                },
                            ),
                            max_size=3,
                        ),
                    ),
                    "containers": st.lists(json_values, max_size=2),
                },
            ),
        )
    },
)
_CLASSES = st.sampled_from(
    [
        {},
        {"high": {"metadata": {"name": "high"}, "value": 1000}},
        {
            "high": {"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"},
            "d": {"metadata": {"name": "d"}, "value": 5, "globalDefault": True},
        },
    ]
)


@settings(max_examples=300)
@given(_PODS, _CLASSES)
def test_admission_answers_as_with_deepcopy(pod: dict[str, Any], classes: Any) -> None:
    before = copy.deepcopy(pod)
    fresh = copy.deepcopy(pod)

    admitted = _outcome(admission.admit_priority, pod, classes, "p")
    assert pod == before  # the argument is left as it was
    assert _outcome(admission.admit_priority_in_place, fresh, classes, "p") == admitted
    if admitted[0] == "ok":
        result = admitted[1]
        assert _no_shared_containers(result, pod)
        tolerated = admission.add_default_tolerations(result)
        assert _no_shared_containers(tolerated, result)
        again = copy.deepcopy(result)
        assert admission.add_default_tolerations_in_place(again) == tolerated
    kept = admission.keep_priority(pod, {"spec": {"priority": 3, "preemptionPolicy": "Never"}})
    assert pod == before and _no_shared_containers(kept, pod)


@given(st.one_of(st.text(max_size=30), st.from_regex(r"[a-zA-Z0-9./: @-]{0,30}", fullmatch=True)))
def test_memoised_image_tag_answers_as_the_plain_one(image: str) -> None:
    plain = defaults._image_tag.__wrapped__(image)
    assert defaults._image_tag(image) == plain
    assert defaults._image_tag(image) == plain
