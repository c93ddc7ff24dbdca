"""Kubernetes resource quantities (``500m``, ``1Gi``, ``1e3``) as exact fractions.

Resource arithmetic decides scheduling, quota and limit ranges, so it must
not drift through floating point: quantities are ``fractions.Fraction``
values, and parsing follows ``resource.ParseQuantity`` in
``k8s.io/apimachinery/pkg/api/resource/quantity.go``, quirks included:

* the grammar is ``[+-]digits[.digits]suffix`` where either digit run may be
  empty (so ``.5``, ``1.`` and even ``.`` or ``Ki``, meaning zero, parse);
* non-zero values are rounded away from zero to a whole nano (``0.1n`` is
  ``1n``), because asking for some resource should never yield none;
* binary-suffixed values are capped at 2^63-1 in magnitude (``9Ei``).

Leading and trailing whitespace is trimmed, as the API server does when it
decodes a quantity from JSON.

Parsing a string and formatting a value are pure, and the same few quantities
recur in every pod, so both are memoised (bounded LRU caches); what they hand
out is a ``Fraction`` or a ``str``, both immutable, so a caller can never
change what another caller gets.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

__all__ = [
    "QuantityError",
    "format_quantity",
    "milli_value",
    "parse_quantity",
    "value",
]

_NANO = Fraction(1, 10**9)
_INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_MAX_EXPONENT = 1000

_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {0: "", **{exp: suffix for suffix, exp in _BINARY_SUFFIXES.items()}}

#: Entries in each memo; far more than the distinct quantities one cluster's objects carry.
_CACHE_SIZE = 4096

_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)", re.DOTALL)
_EXPONENT_RE = re.compile(r"[eE]([+-]?[0-9]+)")


class QuantityError(ValueError):
    """A value is not a Kubernetes quantity, or a fraction cannot be written as one."""


def parse_quantity(text: str | int | float) -> Fraction:
    """The exact value of a quantity given as a string or as a JSON number.

    Raises ``QuantityError`` naming the value and what is wrong with it.
    """
    if isinstance(text, bool):
        raise QuantityError(f"quantity must be a string or a number, not the boolean {text}")
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise QuantityError(f"quantity {text!r} is not a finite number")
        return _parse(repr(text))
    if type(text) is str:
        return _parse_text(text)
    if not isinstance(text, str):
        raise QuantityError(f"quantity must be a string or a number, not {type(text).__name__}")
    return _parse(text.strip())


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_text(text: str) -> Fraction:
    """``_parse`` of the trimmed string, memoised (a refusal is raised anew each time)."""
    return _parse(text.strip())


def _parse(text: str) -> Fraction:
    if not text:
        raise QuantityError("quantity is empty; expected a number with an optional suffix")
    match = _QUANTITY_RE.fullmatch(text)
    assert match is not None
    sign, whole, frac, suffix = match.group(1), match.group(2), match.group(3) or "", match.group(4)
    base, exponent = _interpret_suffix(text, suffix)
    digits = whole + frac
    try:
        mantissa = int(digits) if digits else 0
    except ValueError:
        raise QuantityError(
            f"quantity has {len(digits)} digits, too many to be a resource"
        ) from None
    if mantissa == 0:
        return Fraction(0)
    negative = sign == "-"
    if base == 10 and exponent - len(frac) < -(len(digits) + 9):
        return -_NANO if negative else _NANO
    magnitude = Fraction(mantissa, 10 ** len(frac)) * Fraction(base) ** exponent
    if magnitude.denominator != 1:
        nanos = magnitude / _NANO
        magnitude = math.ceil(nanos) * _NANO
    if base == 2 and magnitude > _INT64_MAX:
        magnitude = Fraction(_INT64_MAX)
    return -magnitude if negative else magnitude


def _interpret_suffix(text: str, suffix: str) -> tuple[int, int]:
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix]
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix]
    exp_match = _EXPONENT_RE.fullmatch(suffix)
    if exp_match is None and suffix == text.lstrip("+-"):
        raise QuantityError(
            f"quantity {text!r} does not start with a number; expected a form such as "
            "'500m', '1.5', '1Gi' or '1e3'"
        )
    if exp_match is None:
        raise QuantityError(
            f"quantity {text!r} has an unknown suffix {suffix!r}; expected one of "
            "n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3"
        )
    exponent = int(exp_match.group(1))
    if abs(exponent) > _INT32_MAX:
        raise QuantityError(f"quantity {text!r} has exponent {exponent}, outside the int32 range")
    if exponent > _MAX_EXPONENT:
        raise QuantityError(
            f"quantity {text!r} has exponent {exponent}; this model accepts at most "
            f"{_MAX_EXPONENT}, far beyond any resource amount"
        )
    return 10, exponent


def _decimal_parts(magnitude: Fraction) -> tuple[int, int]:
    """Integer mantissa and exponent (a multiple of 3, as large as possible)."""
    denominator = magnitude.denominator
    shift = 0
    while denominator % 10 == 0:
        denominator //= 10
        shift += 1
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise QuantityError(f"{magnitude} has no finite decimal form, so no quantity equals it")
    shift += max(twos, fives)
    mantissa = int(magnitude * 10**shift)
    exponent = -shift
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    aligned = exponent - exponent % 3
    return mantissa * 10 ** (exponent - aligned), aligned


def _format_decimal(magnitude: Fraction) -> str:
    mantissa, exponent = _decimal_parts(magnitude)
    suffix = _DECIMAL_BY_EXPONENT.get(exponent)
    if suffix is None:
        return f"{mantissa}e{exponent}"
    return f"{mantissa}{suffix}"


def _format_binary(magnitude: Fraction) -> str:
    if magnitude < 1024 or magnitude.denominator != 1:
        return _format_decimal(magnitude)
    mantissa, exponent = int(magnitude), 0
    while mantissa % 1024 == 0:
        mantissa //= 1024
        exponent += 10
    suffix = _BINARY_BY_EXPONENT.get(exponent)
    if suffix is None:
        return _format_decimal(magnitude)
    return f"{mantissa}{suffix}"


def format_quantity(q: Fraction | int, binary: bool = False) -> str:
    """The canonical string Kubernetes would serialise ``q`` as.

    Decimal form uses the largest SI suffix that keeps an integer mantissa
    (``1.5`` is ``1500m``); binary form (for quantities that were written
    with ``Ki``..``Ei``) uses powers of 1024 (``1.5Gi`` is ``1536Mi``) and
    falls back to decimal below 1024 or for fractions, as upstream does.
    Values beyond the suffix tables use an exponent (``1e21``).
    """
    kind = type(q)
    if (kind is Fraction or kind is int) and type(binary) is bool:
        return _format_memo(q, binary)
    return _format(q, binary)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _format_memo(q: Fraction | int, binary: bool) -> str:
    """``_format`` memoised; keys are exact Fractions or ints, equal keys format alike."""
    return _format(q, binary)


def _format(q: Fraction | int, binary: bool) -> str:
    q = Fraction(q)
    if q == 0:
        return "0"
    sign = "-" if q < 0 else ""
    magnitude = abs(q)
    body = _format_binary(magnitude) if binary else _format_decimal(magnitude)
    return sign + body


def _round_away_from_zero(x: Fraction) -> int:
    return math.ceil(x) if x >= 0 else math.floor(x)


def value(q: Fraction | int) -> int:
    """``q`` as an integer, rounded away from zero like ``Quantity.Value``."""
    return _round_away_from_zero(Fraction(q))


def milli_value(q: Fraction | int) -> int:
    """``q`` in thousandths, rounded away from zero like ``Quantity.MilliValue``.

    CPU is accounted in millicores, so ``100m`` is 100 and ``0.1m`` is 1.
    """
    return _round_away_from_zero(Fraction(q) * 1000)
