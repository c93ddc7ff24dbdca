"""Resource quantities, checked against resource.Quantity's upstream test tables."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties.quantity import QuantityError, format_quantity, milli_value, parse_quantity, value

KI = 1024
NANO = Fraction(1, 10**9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("0n", 0),
        ("0Ki", 0),
        ("0T", 0),
        ("1", 1),
        ("1Ki", KI),
        ("8Ki", 8 * KI),
        ("7Mi", 7 * KI**2),
        ("1Gi", 1073741824),
        ("5Ti", 5 * KI**4),
        ("4Pi", 4 * KI**5),
        ("3Ei", 3 * KI**6),
        ("5n", Fraction(5, 10**9)),
        ("4u", Fraction(4, 10**6)),
        ("3m", Fraction(3, 1000)),
        ("500m", Fraction(1, 2)),
        ("8k", 8000),
        ("50k", 50000),
        ("7M", 7 * 10**6),
        ("6G", 6 * 10**9),
        ("40T", 4 * 10**13),
        ("2P", 2 * 10**15),
        ("1E", 10**18),
        ("12E", 12 * 10**18),
        ("1E-3", Fraction(1, 1000)),
        ("1e3", 1000),
        ("1E6", 10**6),
        ("1.3E+6", 1300000),
        ("1.53E12", 153 * 10**10),
        ("100.035k", 100035),
        ("0.0005k", Fraction(1, 2)),
        ("0.5e-1", Fraction(5, 100)),
        ("10.035M", 10035000),
        ("6.987654321G", 6987654321),
        ("1.01E", 101 * 10**16),
        ("100.035Ki", Fraction(10243584, 100)),
        ("0.5Mi", KI**2 // 2),
        ("0.025Ti", Fraction(274877906944, 10)),
        (".001", Fraction(1, 1000)),
        (".0001k", Fraction(1, 10)),
        ("1.", 1),
        ("1.G", 10**9),
        ("-1.5", Fraction(-3, 2)),
        ("+2Ki", 2 * KI),
    ],
)
def test_parse_upstream_table(text: str, expected: Fraction | int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("3.001n", 4),
        ("1.1E-9", 2),
        ("0.0000000001", 1),
        ("0.0000000005", 1),
        ("0.5e-9", 1),
        ("0.9n", 1),
        ("0.00000012345", 124),
        ("0.000000000001Ki", 2),
        ("-0.1n", -1),
        ("1e-40", 1),
    ],
)
def test_sub_nano_values_round_up_in_magnitude(text: str, nanos: int) -> None:
    assert parse_quantity(text) == nanos * NANO


def test_binary_values_are_capped_at_int64_max_but_decimal_are_not() -> None:
    assert parse_quantity("9Ei") == 2**63 - 1
    assert parse_quantity("9223372036854775807Ki") == 2**63 - 1
    assert parse_quantity("-9Ei") == -(2**63 - 1)
    assert parse_quantity("12E") == 12 * 10**18


@pytest.mark.parametrize("text", [".", "-.", "+", "Ki", "m"])
def test_degenerate_numbers_parse_as_zero_like_upstream(text: str) -> None:
    assert parse_quantity(text) == 0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        "1K",
        "1e",
        "1 Gi",
        "Non-Numeric",
        "1e4294967297",
        "1e1001",
    ],
)
def test_invalid_quantities_are_rejected(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(QuantityError, match=r"unknown suffix 'K'.*Ki"):
        parse_quantity("1K")
    with pytest.raises(QuantityError, match="does not start with a number"):
        parse_quantity("aoeu")
    with pytest.raises(QuantityError, match="empty"):
        parse_quantity("   ")
    with pytest.raises(QuantityError, match="too many"):
        parse_quantity("1" * 5000)


def test_json_numbers_and_whitespace_decode_like_the_api_server() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.5) == Fraction(1, 2)
    assert parse_quantity(1e16) == 10**16
    assert parse_quantity(" 100m\n") == Fraction(1, 10)
    for bad in [float("nan"), float("inf"), True]:
        with pytest.raises(QuantityError):
            parse_quantity(bad)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("300Mi", "300Mi"),
        ("1001Gi", "1001Gi"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("1025", "1025"),
        ("5", "5"),
        ("0.5Ki", "512"),
    ],
)
def test_binary_canonical_form(text: str, canonical: str) -> None:
    assert format_quantity(parse_quantity(text), binary=True) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000000000", "1G"),
        ("1.5", "1500m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("80m", "80m"),
        ("1000u", "1m"),
        ("300M", "300M"),
        ("1234567M", "1234567M"),
        ("3e3", "3k"),
        ("0", "0"),
        ("-0.5", "-500m"),
        ("-9.01", "-9010m"),
        ("1000E", "1e21"),
    ],
)
def test_decimal_canonical_form(text: str, canonical: str) -> None:
    assert format_quantity(parse_quantity(text)) == canonical


def test_formatting_beyond_the_suffix_tables_stays_exact() -> None:
    assert format_quantity(2**70, binary=True) == "1180591620717411303424"
    assert format_quantity(10**70, binary=True) == "10e69"
    assert format_quantity(Fraction(1, 10**12)) == "1e-12"
    with pytest.raises(QuantityError, match="no finite decimal form"):
        format_quantity(Fraction(1, 3))


@pytest.mark.parametrize(
    ("text", "millis", "units"),
    [
        ("100m", 100, 1),
        ("1", 1000, 1),
        ("0.1m", 1, 1),
        ("1.5", 1500, 2),
        ("1Gi", 1073741824000, 2**30),
        ("-1.5", -1500, -2),
        ("-0.5m", -1, -1),
    ],
)
def test_milli_value_and_value_round_away_from_zero(text: str, millis: int, units: int) -> None:
    q = parse_quantity(text)
    assert milli_value(q) == millis
    assert value(q) == units


nanos = st.integers(min_value=-(10**30), max_value=10**30)


@given(nanos)
def test_format_then_parse_is_identity_on_nano_multiples(n: int) -> None:
    q = n * NANO
    assert parse_quantity(format_quantity(q)) == q
    if abs(q) < 2**63:
        assert parse_quantity(format_quantity(q, binary=True)) == q


@given(st.integers(min_value=0, max_value=2**62), st.sampled_from(["", "Ki", "Mi", "Gi", "Ti"]))
def test_binary_suffixes_scale_by_powers_of_1024(n: int, suffix: str) -> None:
    power = ["", "Ki", "Mi", "Gi", "Ti"].index(suffix)
    q = parse_quantity(f"{n}{suffix}")
    exact = n * KI**power
    assert q == (min(exact, 2**63 - 1) if suffix else exact)
    assert parse_quantity(format_quantity(q, binary=True)) == q


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=9, max_value=10**12, min_value=-(10**12)
    )
)
def test_plain_decimals_parse_exactly(d: Decimal) -> None:
    text = f"{d:f}"
    assert parse_quantity(text) == Fraction(d)
    assert parse_quantity(format_quantity(Fraction(d))) == Fraction(d)


@given(nanos)
def test_canonical_form_is_a_fixed_point(n: int) -> None:
    text = format_quantity(n * NANO)
    assert format_quantity(parse_quantity(text)) == text
