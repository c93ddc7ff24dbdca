"""Mutating admission the API server runs on create, after defaulting and before validation.

Two plugins, in upstream's order (pkg/kubeapiserver/options/plugins.go
AllOrderedPlugins: Priority, then DefaultTolerationSeconds):

- Priority (plugin/pkg/admission/priority/admission.go): resolves a new pod's
  spec.priority and spec.preemptionPolicy from its PriorityClass, or from the
  global default class, and keeps both on update;
- DefaultTolerationSeconds (plugin/pkg/admission/defaulttolerationseconds);
  docs/upstream-checks-nodes.md Q7.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from reference.api import errors
from reference.constants import (
    SYSTEM_PRIORITY_CLASSES,
    TAINT_NODE_NOT_READY,
    TAINT_NODE_UNREACHABLE,
    TIMING_PARAMETERS,
)

__all__ = [
    "DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS",
    "PREEMPT_LOWER_PRIORITY",
    "TAINT_NODE_NOT_READY",
    "TAINT_NODE_UNREACHABLE",
    "add_default_tolerations",
    "add_default_tolerations_in_place",
    "admit_priority",
    "admit_priority_in_place",
    "keep_priority",
    "system_priority_classes",
]

#: v1.TaintNodeNotReady and v1.TaintNodeUnreachable (the node lifecycle NoExecute taints).
_DEFAULTED = (TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE)


#: The JSON scalar types, which `copy.deepcopy` returns as they are.
_ATOMS = frozenset({str, int, float, bool, type(None)})


class _NotPlain(Exception):
    """Raised by `_copy_plain` on anything it cannot copy exactly as `copy.deepcopy` would."""


def _copy_plain(value: Any, seen: set[int]) -> Any:
    """`copy.deepcopy` of plain JSON (exact dicts with str keys, exact lists, scalars), faster.

    Raises `_NotPlain` on any other type, and on a dict or list met twice (shared or
    cyclic), whose sharing deepcopy would keep; `seen` holds the ids met so far.
    """
    kind = type(value)
    if kind in _ATOMS:
        return value  # deepcopy returns these atoms themselves
    if kind is dict:
        if id(value) in seen:
            raise _NotPlain
        seen.add(id(value))
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = item if type(item) in _ATOMS else _copy_plain(item, seen)
        return out
    if kind is list:
        if id(value) in seen:
            raise _NotPlain
        seen.add(id(value))
        return [item if type(item) in _ATOMS else _copy_plain(item, seen) for item in value]
    raise _NotPlain


def _owned_copy(pod: Mapping[str, Any]) -> dict[str, Any]:
    """`copy.deepcopy(dict(pod))`, by a fast path when `pod` is plain JSON."""
    top = dict(pod)
    try:
        copied: dict[str, Any] = _copy_plain(top, set())
    except _NotPlain:
        copied = copy.deepcopy(top)
    return copied


def _tolerates(toleration: Any, key: str) -> bool:
    """upstream's test: the key is the taint's or empty, the effect NoExecute or empty.

    The operator is not looked at, so `{"key": K, "operator": "Equal",
    "value": "x"}` counts although it tolerates no taint without that value.
    """
    if not isinstance(toleration, Mapping):
        return False
    return toleration.get("key") in (None, "", key) and toleration.get("effect") in (
        None,
        "",
        "NoExecute",
    )


def add_default_tolerations(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The pod with a 300 s NoExecute toleration for each of not-ready and unreachable it lacks.

    Returns a new object; `pod` is left as it was. A malformed `spec` or
    `spec.tolerations` (not an object, not a list) is returned unchanged, for
    validation to refuse.
    """
    return add_default_tolerations_in_place(_owned_copy(pod))


def add_default_tolerations_in_place(result: dict[str, Any]) -> dict[str, Any]:
    """`add_default_tolerations` for a caller that owns `result`: mutates and returns it.

    Only for a fresh object nothing else refers to (such as `apply_defaults`' or
    `admit_priority`'s result); the answer equals `add_default_tolerations(result)`.
    """
    spec = result.get("spec")
    if spec is None:
        spec = result["spec"] = {}
    if not isinstance(spec, dict):
        return result
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return result
    missing = [k for k in _DEFAULTED if not any(_tolerates(t, k) for t in tolerations)]
    if not missing:
        return result
    seconds = TIMING_PARAMETERS["defaultTolerationSeconds"]
    spec["tolerations"] = tolerations + [
        {"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
        for k in missing
    ]
    return result


# -- Priority ------------------------------------------------------------------------------------

#: scheduling.DefaultPriorityWhenNoDefaultClassExists.
DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS = 0
#: apiv1.PreemptLowerPriority: what a pod gets when no global default class exists.
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
_INT32 = (-(2**31), 2**31 - 1)

_SYSTEM_CLASS_DESCRIPTIONS = {
    "system-node-critical": "Used for system critical pods that must not be moved from their"
    " current node.",
    "system-cluster-critical": "Used for system critical pods that must run in the cluster, but"
    " can be moved to another node if necessary.",
}


def system_priority_classes() -> list[dict[str, Any]]:
    """The PriorityClasses the API server creates at start, as it sends them.

    Upstream's post-start hook `scheduling/bootstrap-system-priority-classes`
    (pkg/registry/scheduling/rest/storage_scheduling.go) creates each through
    the API, so defaulting adds `preemptionPolicy: PreemptLowerPriority`;
    `globalDefault` is false and so omitted (`omitempty`).
    """
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": _SYSTEM_CLASS_DESCRIPTIONS[name],
        }
        for name, value in SYSTEM_PRIORITY_CLASSES.items()
    ]


def _global_default(classes: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """getDefaultPriorityClass: of the classes marked globalDefault, the lowest value.

    Upstream keeps the first it lists among equal values (informer order);
    the reference breaks that tie by name, to stay deterministic.
    """
    marked = [pc for pc in classes if pc.get("globalDefault") is True]
    if not marked:
        return None
    return min(marked, key=lambda pc: (pc.get("value", 0), pc["metadata"]["name"]))


def _undecodable(value: Any, field: str, go_type: str) -> errors.ApiError:
    """The 400 upstream's JSON decoding answers for a field of the wrong type."""
    if isinstance(value, bool):
        what = "bool"
    elif isinstance(value, (int, float)):
        what = f"number {value}"
    elif isinstance(value, str):
        what = "string"
    elif isinstance(value, list):
        what = "array"
    else:
        what = "object"
    return errors.bad_request(
        f'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal {what}'
        f" into Go struct field PodSpec.spec.{field} of type {go_type}"
    )


def admit_priority(
    pod: Mapping[str, Any], classes: Mapping[str, Mapping[str, Any]], name: str
) -> dict[str, Any]:
    """The Priority plugin on pod create: the pod with spec.priority and spec.preemptionPolicy.

    `classes` maps each PriorityClass name to the stored class; `name` is the
    pod's name as admission sees it (before generateName is expanded).
    A pod naming no class gets the global default class (and its name), or
    priority 0 and PreemptLowerPriority when none exists. Refusals are 403
    Forbidden, as `admission.NewForbidden` makes them: a class that does not
    exist, or a priority or preemption policy given in the pod that differs
    from the one the class yields. Returns a new object; `pod` is unchanged.
    """
    return admit_priority_in_place(_owned_copy(pod), classes, name)


def admit_priority_in_place(
    result: dict[str, Any], classes: Mapping[str, Mapping[str, Any]], name: str
) -> dict[str, Any]:
    """`admit_priority` for a caller that owns `result`: mutates and returns it.

    Only for a fresh object nothing else refers to (such as `apply_defaults`' result);
    the answer, or the refusal, is `admit_priority(result, classes, name)`'s. On a
    refusal `result` may be left partly admitted, so the caller must drop it.
    """
    spec = result.get("spec")
    if spec is None:
        spec = result["spec"] = {}
    if not isinstance(spec, dict):
        return result  # validation refuses it
    class_name = spec.get("priorityClassName")
    if class_name is not None and not isinstance(class_name, str):
        raise _undecodable(class_name, "priorityClassName", "string")
    given = spec.get("priority")
    if given is not None and (
        isinstance(given, bool) or not isinstance(given, int) or not _INT32[0] <= given <= _INT32[1]
    ):
        raise _undecodable(given, "priority", "int32")
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and not isinstance(given_policy, str):
        raise _undecodable(given_policy, "preemptionPolicy", "v1.PreemptionPolicy")
    policy: Any
    if not class_name:
        default = _global_default(classes.values())
        if default is None:
            priority, policy = DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS, PREEMPT_LOWER_PRIORITY
            spec.pop("priorityClassName", None)  # "" and omitempty: the field is not written
        else:
            priority, policy = default.get("value", 0), default.get("preemptionPolicy")
            spec["priorityClassName"] = default["metadata"]["name"]
    else:
        pc = classes.get(class_name)
        if pc is None:
            raise errors.forbidden(
                "Pod", name, f"no PriorityClass with name {class_name} was found"
            )
        priority, policy = pc.get("value", 0), pc.get("preemptionPolicy")
    if given is not None and given != priority:
        raise errors.forbidden(
            "Pod",
            name,
            f"the integer value of priority ({given}) must not be provided in pod spec;"
            f" priority admission controller computed {priority} from the given PriorityClass"
            " name",
        )
    spec["priority"] = priority
    if policy is not None:
        if given_policy is not None and given_policy != policy:
            raise errors.forbidden(
                "Pod",
                name,
                f"the string value of PreemptionPolicy ({given_policy}) must not be provided in"
                f" pod spec; priority admission controller computed {policy} from the given"
                " PriorityClass name",
            )
        spec["preemptionPolicy"] = policy
    return result


def keep_priority(pod: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """The Priority plugin on pod update: what the update leaves out is kept from `old`.

    Only spec.priority and spec.preemptionPolicy, and only when the update
    omits them; a different value is left for validation to refuse (the pod
    spec is immutable). Returns a new object.
    """
    result = _owned_copy(pod)
    spec, old_spec = result.get("spec"), old.get("spec")
    if not isinstance(spec, dict) or not isinstance(old_spec, Mapping):
        return result
    for field in ("priority", "preemptionPolicy"):
        if spec.get(field) is None and old_spec.get(field) is not None:
            spec[field] = copy.deepcopy(old_spec[field])
    return result
