"""Taints, tolerations and node affinity as predicates on wire-form objects.

The scheduler's filters and the laws that check scheduling safety (a pod
never lands on a node whose taints it does not tolerate, or whose labels
its affinity rejects) must read these rules identically, so they live here
once. Objects are plain JSON mappings; absent fields mean their zero value.
The semantics follow Kubernetes 1.34: ``Toleration.ToleratesTaint`` in
``k8s.io/api/core/v1/toleration.go`` and the ``nodeaffinity`` package of
``k8s.io/component-helpers/scheduling/corev1``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from properties.labels import (
    InvalidSelectorError,
    Operator,
    Requirement,
    from_set,
    new_requirement,
)

__all__ = [
    "eviction_delay",
    "node_selector_matches",
    "node_selector_requirement_matches",
    "node_selector_term_matches",
    "pod_matches_node_affinity",
    "toleration_tolerates",
    "untolerated_taints",
]

_NODE_SELECTOR_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
    "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    return value if isinstance(value, str) else ""


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    metadata = obj.get("metadata") or {}
    labels: Mapping[str, str] = metadata.get("labels") or {}
    return labels


def toleration_tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether ``toleration`` tolerates ``taint``.

    An empty effect matches every effect, an empty key matches every key,
    ``Exists`` matches every value and an empty operator means ``Equal``.
    Any other operator tolerates nothing: 1.34 has no ``Gt``/``Lt``
    tolerations (they arrive later behind a feature gate).
    """
    effect = _text(toleration, "effect")
    if effect and effect != _text(taint, "effect"):
        return False
    key = _text(toleration, "key")
    if key and key != _text(taint, "key"):
        return False
    operator = _text(toleration, "operator")
    if operator in ("", "Equal"):
        return _text(toleration, "value") == _text(taint, "value")
    return operator == "Exists"


def untolerated_taints(
    tolerations: Sequence[Mapping[str, Any]],
    taints: Sequence[Mapping[str, Any]],
    effects: Collection[str],
) -> list[Mapping[str, Any]]:
    """The taints with an effect in ``effects`` that no toleration tolerates, in order.

    The scheduler filters on ``NoSchedule`` and ``NoExecute``; the taint
    manager evicts on ``NoExecute`` alone; hence the effect filter.
    """
    return [
        taint
        for taint in taints
        if _text(taint, "effect") in effects
        and not any(toleration_tolerates(t, taint) for t in tolerations)
    ]


def eviction_delay(
    tolerations: Sequence[Mapping[str, Any]], taints: Sequence[Mapping[str, Any]]
) -> float | None:
    """Seconds a pod may stay on a node with these NoExecute taints (taint eviction).

    0 when some taint is not tolerated; otherwise the least `tolerationSeconds`
    among the tolerations that match (a negative value counts as 0); None when
    none of them sets it, i.e. the pod is never evicted.
    """
    least: float | None = None
    for taint in taints:
        used = [t for t in tolerations if toleration_tolerates(t, taint)]
        if not used:
            return 0.0
        for t in used:
            seconds = t.get("tolerationSeconds")
            if isinstance(seconds, int | float) and not isinstance(seconds, bool):
                value = max(float(seconds), 0.0)
                least = value if least is None else min(least, value)
    return least


def _label_requirement(req: Mapping[str, Any]) -> Requirement | None:
    operator = _NODE_SELECTOR_OPERATORS.get(_text(req, "operator"))
    if operator is None:
        return None
    try:
        return new_requirement(_text(req, "key"), operator, list(req.get("values") or []))
    except InvalidSelectorError:
        return None


def node_selector_requirement_matches(req: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether node ``labels`` satisfy one ``NodeSelectorRequirement``.

    ``Gt`` and ``Lt`` compare as 64-bit integers and fail on labels that
    are not integers. An invalid requirement (unknown operator, wrong
    number of values, bad key) matches nothing, as upstream's parse
    error makes the whole term fail.
    """
    requirement = _label_requirement(req)
    return requirement is not None and requirement.matches(labels)


def _field_requirement_matches(req: Mapping[str, Any], fields: Mapping[str, str]) -> bool | None:
    values = req.get("values") or []
    operator = _text(req, "operator")
    if operator not in ("In", "NotIn") or len(values) != 1:
        return None
    equal = fields.get(_text(req, "key"), "") == values[0]
    return equal if operator == "In" else not equal


def node_selector_term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether ``node`` satisfies one ``NodeSelectorTerm`` (its requirements ANDed).

    ``matchExpressions`` read the node's labels; ``matchFields`` read its
    fields, of which only ``metadata.name`` exists, and accept only ``In``
    or ``NotIn`` with one value. A term without requirements, or with an
    invalid one, matches nothing. As upstream, ``matchFields`` are not
    consulted for a node without a name.
    """
    expressions: Sequence[Mapping[str, Any]] = term.get("matchExpressions") or []
    field_requirements: Sequence[Mapping[str, Any]] = term.get("matchFields") or []
    if not expressions and not field_requirements:
        return False
    requirements = [_label_requirement(req) for req in expressions]
    field_results = [_field_requirement_matches(req, {}) for req in field_requirements]
    if any(r is None for r in requirements) or any(r is None for r in field_results):
        return False
    labels = _labels(node)
    if not all(r is not None and r.matches(labels) for r in requirements):
        return False
    name = _text(node.get("metadata") or {}, "name")
    if field_requirements and name:
        fields = {"metadata.name": name}
        return all(_field_requirement_matches(req, fields) for req in field_requirements)
    return True


def node_selector_matches(node_selector: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether ``node`` satisfies a ``NodeSelector``: any of its terms (ORed).

    A selector with no terms matches no node.
    """
    terms: Sequence[Mapping[str, Any]] = node_selector.get("nodeSelectorTerms") or []
    return any(node_selector_term_matches(term, node) for term in terms)


def pod_matches_node_affinity(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether ``pod`` may be placed on ``node`` by its required node constraints.

    Both ``spec.nodeSelector`` (every label equal) and
    ``requiredDuringSchedulingIgnoredDuringExecution`` must hold; preferred
    terms only score and are ignored here.
    """
    spec = pod.get("spec") or {}
    node_selector: Mapping[str, str] = spec.get("nodeSelector") or {}
    if node_selector and not from_set(node_selector).matches(_labels(node)):
        return False
    affinity = spec.get("affinity") or {}
    node_affinity = affinity.get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return node_selector_matches(required, node)
