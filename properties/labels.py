"""Label selectors: the string syntax, ``metav1.LabelSelector`` and matching.

Selectors decide which pods a ReplicaSet owns, which endpoints a Service
routes to and which objects a list returns, so the reference and the laws
must agree with upstream on every corner: ``x notin (a)`` matches objects
without ``x``, ``nil`` selects nothing while ``{}`` selects everything, and
``in``/``notin`` are keywords only where an operator may appear. The parser
mirrors ``k8s.io/apimachinery/pkg/labels/selector.go`` token for token.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from properties.names import label_value_errors, qualified_name_errors

__all__ = [
    "InvalidSelectorError",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorSyntaxError",
    "from_label_selector",
    "from_set",
    "label_selector_errors",
    "new_requirement",
    "parse_selector",
]


class InvalidSelectorError(ValueError):
    """A selector or requirement breaks the rules upstream's ``NewRequirement`` enforces."""


class SelectorSyntaxError(InvalidSelectorError):
    """A selector string cannot be parsed; the message quotes the offending token."""


class Operator(enum.StrEnum):
    """Requirement operators, spelled as upstream's ``selection.Operator`` values."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_POSITIVE = frozenset({Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS})
_NEGATIVE = frozenset({Operator.NOT_IN, Operator.NOT_EQUALS})
_EXACT = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_SET = frozenset({Operator.IN, Operator.NOT_IN})
_UNARY = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
_NUMERIC = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
_BINARY_SPELLINGS = "in, notin, =, ==, !=, gt, lt"
_INT64_RE = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``, or None where it would fail."""
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _normalise_values(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"requirement values must be a collection of strings, not {values!r}")
    return tuple(sorted(set(values)))


@attrs.frozen
class Requirement:
    """One ``key operator values`` condition; values are a set, kept sorted."""

    key: str
    operator: Operator = attrs.field(converter=Operator)
    values: tuple[str, ...] = attrs.field(default=(), converter=_normalise_values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (absent keys satisfy the negative forms)."""
        op = self.operator
        if op in _POSITIVE:
            return self.key in labels and labels[self.key] in self.values
        if op in _NEGATIVE:
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels or len(self.values) != 1:
            return False
        have = _parse_int64(labels[self.key])
        bound = _parse_int64(self.values[0])
        if have is None or bound is None:
            return False
        return have > bound if op is Operator.GREATER_THAN else have < bound

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(self.values)
        if op in _SET:
            return f"{self.key} {op.value} ({joined})"
        spelling = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{spelling}{joined}"


def _requirement_sort_key(requirement: Requirement) -> tuple[str, str, tuple[str, ...]]:
    return requirement.key, requirement.operator.value, requirement.values


def _sorted_requirements(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(requirements, key=_requirement_sort_key))


def _no_requirements_when_nothing(instance: Selector, attribute: Any, value: bool) -> None:
    if value and instance.requirements:
        raise ValueError("a selector that matches nothing cannot also carry requirements")


@attrs.frozen
class Selector:
    """A conjunction of requirements, or the distinguished selector that matches nothing.

    Requirements are kept sorted by key, as upstream keeps them, so equal
    selectors compare equal and print the same.
    """

    requirements: tuple[Requirement, ...] = attrs.field(default=(), converter=_sorted_requirements)
    matches_nothing: bool = attrs.field(
        default=False, kw_only=True, validator=_no_requirements_when_nothing
    )

    @classmethod
    def everything(cls) -> Selector:
        """The selector with no requirements, which every label set satisfies."""
        return cls(())

    @classmethod
    def nothing(cls) -> Selector:
        """The selector of a nil ``LabelSelector``, which no label set satisfies."""
        return cls((), matches_nothing=True)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy every requirement."""
        if self.matches_nothing:
            return False
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def _requirement_errors(key: str, operator: Operator | str, values: Sequence[str]) -> list[str]:
    errors = [f"key: {msg}" for msg in qualified_name_errors(key)]
    try:
        op = Operator(operator)
    except ValueError:
        errors.append(
            f"operator: unsupported operator {operator!r}; supported: {_BINARY_SPELLINGS}, "
            "exists, !"
        )
        return errors
    if op in _SET and not values:
        errors.append("values: for 'in', 'notin' operators, values set can't be empty")
    elif op in _EXACT and len(values) != 1:
        errors.append("values: exact-match compatibility requires one single value")
    elif op in _UNARY and values:
        errors.append("values: values set must be empty for exists and does not exist")
    elif op in _NUMERIC:
        if len(values) != 1:
            errors.append("values: for 'Gt', 'Lt' operators, exactly one value is required")
        errors.extend(
            f"values[{i}]: for 'Gt', 'Lt' operators, the value must be an integer"
            for i, v in enumerate(values)
            if _parse_int64(v) is None
        )
    for i, v in enumerate(values):
        errors.extend(f"values[{i}]: {v!r}: {msg}" for msg in label_value_errors(v))
    return errors


def new_requirement(key: str, operator: Operator | str, values: Sequence[str] = ()) -> Requirement:
    """A requirement checked as upstream's ``NewRequirement`` checks it.

    Raises ``InvalidSelectorError`` listing every problem: a bad key or
    value, a set operator without values, an exact or numeric operator
    without exactly one value, a unary operator with values.
    """
    errors = _requirement_errors(key, operator, values)
    if errors:
        raise InvalidSelectorError(f"invalid requirement on key {key!r}: " + "; ".join(errors))
    return Requirement(key, Operator(operator), values)


def from_set(labels: Mapping[str, str]) -> Selector:
    """The equality selector of a label map, like a Service's ``spec.selector``.

    Like upstream's ``SelectorFromSet`` it does not validate: the map was
    validated where it was written. An empty map selects everything.
    """
    return Selector(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items())


_LABEL_SELECTOR_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector(ls: Mapping[str, Any] | None) -> Selector:
    """The selector a ``metav1.LabelSelector`` denotes (upstream ``LabelSelectorAsSelector``).

    ``None`` selects nothing and a selector without requirements selects
    everything, a distinction controllers depend on. Raises
    ``InvalidSelectorError`` for the first invalid requirement.
    """
    if ls is None:
        return Selector.nothing()
    match_labels: Mapping[str, str] = ls.get("matchLabels") or {}
    match_expressions: Sequence[Mapping[str, Any]] = ls.get("matchExpressions") or []
    requirements = []
    for key, value in match_labels.items():
        errors = _requirement_errors(key, Operator.EQUALS, [value])
        if errors:
            raise InvalidSelectorError(f"matchLabels[{key!r}]: " + "; ".join(errors))
        requirements.append(Requirement(key, Operator.EQUALS, (value,)))
    for i, expression in enumerate(match_expressions):
        raw_operator = expression.get("operator")
        op = _LABEL_SELECTOR_OPERATORS.get(raw_operator) if isinstance(raw_operator, str) else None
        if op is None:
            raise InvalidSelectorError(
                f"matchExpressions[{i}].operator: {raw_operator!r} is not a valid label selector "
                "operator; expected In, NotIn, Exists or DoesNotExist"
            )
        key = expression.get("key") or ""
        values = list(expression.get("values") or [])
        errors = _requirement_errors(key, op, values)
        if errors:
            raise InvalidSelectorError(f"matchExpressions[{i}]: " + "; ".join(errors))
        requirements.append(Requirement(key, op, values))
    return Selector(requirements)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def label_selector_errors(ls: Mapping[str, Any] | None, field: str) -> list[tuple[str, str]]:
    """Validation of a ``metav1.LabelSelector`` as ``(field path, message)`` pairs.

    Follows ``ValidateLabelSelector`` for objects being created: keys must
    be qualified names, values label values, ``In``/``NotIn`` need values
    and ``Exists``/``DoesNotExist`` forbid them. ``None`` is valid here;
    whether a selector is required is the caller's rule.
    """
    if ls is None:
        return []
    errors: list[tuple[str, str]] = []
    labels_path = _child(field, "matchLabels")
    match_labels: Mapping[str, str] = ls.get("matchLabels") or {}
    for key in sorted(match_labels):
        errors.extend((labels_path, msg) for msg in qualified_name_errors(key))
        errors.extend((labels_path, msg) for msg in label_value_errors(match_labels[key]))
    match_expressions: Sequence[Mapping[str, Any]] = ls.get("matchExpressions") or []
    for i, expression in enumerate(match_expressions):
        path = f"{_child(field, 'matchExpressions')}[{i}]"
        operator = expression.get("operator")
        values: Sequence[str] = expression.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                errors.append(
                    (
                        f"{path}.values",
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errors.append(
                    (
                        f"{path}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errors.append((f"{path}.operator", "not a valid selector operator"))
        errors.extend(
            (f"{path}.key", msg) for msg in qualified_name_errors(expression.get("key") or "")
        )
        for j, value in enumerate(values):
            errors.extend((f"{path}.values[{j}]", msg) for msg in label_value_errors(value))
    return errors


class _Token(enum.Enum):
    END = enum.auto()
    CLOSE = enum.auto()
    COMMA = enum.auto()
    NOT = enum.auto()
    DOUBLE_EQUALS = enum.auto()
    EQUALS = enum.auto()
    GREATER = enum.auto()
    IDENTIFIER = enum.auto()
    IN = enum.auto()
    LESS = enum.auto()
    NOT_EQUALS = enum.auto()
    NOT_IN = enum.auto()
    OPEN = enum.auto()


_SYMBOLS = {
    ")": _Token.CLOSE,
    ",": _Token.COMMA,
    "!": _Token.NOT,
    "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS,
    ">": _Token.GREATER,
    "<": _Token.LESS,
    "!=": _Token.NOT_EQUALS,
    "(": _Token.OPEN,
}
_KEYWORDS = {"in": _Token.IN, "notin": _Token.NOT_IN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_TOKEN_OPERATORS = {
    _Token.IN: Operator.IN,
    _Token.NOT_IN: Operator.NOT_IN,
    _Token.EQUALS: Operator.EQUALS,
    _Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Token.NOT_EQUALS: Operator.NOT_EQUALS,
    _Token.GREATER: Operator.GREATER_THAN,
    _Token.LESS: Operator.LESS_THAN,
}


def _lex(text: str) -> list[tuple[_Token, str]]:
    tokens: list[tuple[_Token, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append((_Token.END, ""))
            return tokens
        if text[i] in _SPECIAL:
            symbol = text[i : i + 2] if text[i : i + 2] in _SYMBOLS else text[i]
            tokens.append((_SYMBOLS[symbol], symbol))
            i += len(symbol)
            continue
        start = i
        while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
            i += 1
        word = text[start:i]
        tokens.append((_KEYWORDS.get(word, _Token.IDENTIFIER), word))


class _Parser:
    """Recursive descent over the token list, with upstream's two contexts.

    In the values context ``in`` and ``notin`` are plain identifiers, which
    is how ``in in (in)`` parses.
    """

    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._position = 0

    def _lookahead(self, values_context: bool = True) -> tuple[_Token, str]:
        token, literal = self._tokens[self._position]
        if values_context and token in (_Token.IN, _Token.NOT_IN):
            token = _Token.IDENTIFIER
        return token, literal

    def _consume(self, values_context: bool = True) -> tuple[_Token, str]:
        item = self._lookahead(values_context)
        self._position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self._lookahead()
            if token is _Token.END:
                return requirements
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise SelectorSyntaxError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )
            requirements.append(self._requirement())
            token, literal = self._consume()
            if token is _Token.END:
                return requirements
            if token is not _Token.COMMA:
                raise SelectorSyntaxError(f"found '{literal}', expected: ',' or 'end of string'")
            token, literal = self._lookahead()
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise SelectorSyntaxError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_inferred_operator()
        if operator is None:
            operator = self._operator()
            values = self._set_values() if operator in _SET else self._exact_value()
        else:
            values = []
        errors = _requirement_errors(key, operator, sorted(set(values)))
        if errors:
            raise SelectorSyntaxError(f"invalid requirement on key {key!r}: " + "; ".join(errors))
        return Requirement(key, operator, values)

    def _key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator = None
        token, literal = self._consume()
        if token is _Token.NOT:
            operator = Operator.DOES_NOT_EXIST
            token, literal = self._consume()
        if token is not _Token.IDENTIFIER:
            raise SelectorSyntaxError(f"found '{literal}', expected: identifier")
        errors = qualified_name_errors(literal)
        if errors:
            raise SelectorSyntaxError(f"invalid label key {literal!r}: " + "; ".join(errors))
        if operator is None and self._lookahead()[0] in (_Token.END, _Token.COMMA):
            operator = Operator.EXISTS
        return literal, operator

    def _operator(self) -> Operator:
        token, literal = self._consume(values_context=False)
        operator = _TOKEN_OPERATORS.get(token)
        if operator is None:
            raise SelectorSyntaxError(f"found '{literal}', expected: {_BINARY_SPELLINGS}")
        return operator

    def _set_values(self) -> list[str]:
        token, literal = self._consume()
        if token is not _Token.OPEN:
            raise SelectorSyntaxError(f"found '{literal}' expected: '('")
        token, literal = self._lookahead()
        if token is _Token.CLOSE:
            self._consume()
            return [""]
        if token not in (_Token.IDENTIFIER, _Token.COMMA):
            raise SelectorSyntaxError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifiers()
        token, _ = self._consume()
        if token is not _Token.CLOSE:
            raise SelectorSyntaxError(f"found '{literal}', expected: ')'")
        return values

    def _identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            token, literal = self._consume()
            if token is _Token.IDENTIFIER:
                values.append(literal)
                following, following_literal = self._lookahead()
                if following is _Token.CLOSE:
                    return values
                if following is not _Token.COMMA:
                    raise SelectorSyntaxError(f"found '{following_literal}', expected: ',' or ')'")
            elif token is _Token.COMMA:
                if not values:
                    values.append("")
                following, _ = self._lookahead()
                if following is _Token.CLOSE:
                    values.append("")
                    return values
                if following is _Token.COMMA:
                    values.append("")
            else:
                raise SelectorSyntaxError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> list[str]:
        token, _ = self._lookahead()
        if token in (_Token.END, _Token.COMMA):
            return [""]
        token, literal = self._consume()
        if token is not _Token.IDENTIFIER:
            raise SelectorSyntaxError(f"found '{literal}', expected: identifier")
        return [literal]


def parse_selector(text: str) -> Selector:
    """Parse the kubectl/apimachinery selector syntax (``labels.Parse``).

    ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``,
    ``!a``, ``a>1`` and ``a<1``, joined by commas meaning AND; whitespace
    around tokens is ignored and the empty string selects everything.
    Raises ``SelectorSyntaxError`` naming the selector and the offending part.
    """
    try:
        requirements = _Parser(text).parse()
    except SelectorSyntaxError as error:
        raise SelectorSyntaxError(f"cannot parse label selector {text!r}: {error}") from None
    return Selector(requirements)
