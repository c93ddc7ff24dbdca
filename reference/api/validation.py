"""Validation per kind (upstream's pkg/apis/*/validation), answering 422 causes.

Each rule follows Kubernetes 1.34 with its default feature gates:
``pkg/apis/core/validation/validation.go`` (and ``events.go``),
``pkg/apis/apps/validation/validation.go``, ``pkg/apis/discovery``, ``coordination``
and ``scheduling`` validation, the apps registry strategies (selector immutability)
and ``apimachinery/pkg/api/validation/objectmeta.go``. Objects are validated as
stored, that is after ``apply_defaults``; fields a defaulter fills are therefore
"required" here exactly as upstream requires them.

A cause's message is upstream's ``field.Error.ErrorBody()``: ``Required value``,
``Invalid value: "x": detail``, ``Unsupported value: "x": supported values: ...``,
``Duplicate value: ...``, ``Forbidden: detail``, ``Too long: ...``; complex bad values
render as compact JSON, as 1.34 servers print them. Paths use upstream's spelling,
including its quirks (a Node's taints are reported under ``metadata.taints``).

Values of the wrong JSON type, which upstream rejects while decoding (400), are
reported here as invalid values of their field.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeGuard

from properties.labels import (
    InvalidSelectorError,
    Selector,
    from_label_selector,
    label_selector_errors,
)
from properties.names import (
    config_map_key_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    path_segment_name_errors,
    qualified_name_errors,
)
from properties.quantity import QuantityError, format_quantity, parse_quantity
from reference.api.errors import Cause
from reference.api.kinds import KINDS
from reference.constants import SYSTEM_PRIORITY_CLASSES

__all__ = ["validate"]


@functools.lru_cache(maxsize=4096)
def _qualified_name_errors(value: str) -> tuple[str, ...]:
    """``qualified_name_errors``, memoised (keys and resource names recur in every object).

    A tuple, so that no caller can change what the next one gets.
    """
    return tuple(qualified_name_errors(value))


REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
FORBIDDEN = "FieldValueForbidden"
NOT_FOUND = "FieldValueNotFound"

IMMUTABLE = "field is immutable"
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
NEGATIVE = "must be greater than or equal to 0"
MAX_SECRET_SIZE = 1024 * 1024
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
KUBELET_PORT = 10250

_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_PROTOCOLS = ("SCTP", "TCP", "UDP")  # sets.List order


def validate(
    kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[Cause]:
    """Causes for which `obj` is invalid (as a create when `old` is None, else an update)."""
    errs = _Errors()
    validator = _VALIDATORS.get(kind)
    if validator is None:
        _validate_meta(errs, kind, obj, old)
    else:
        validator(errs, obj, old)
    return errs.causes


# --- causes and paths ---------------------------------------------------------------------


def _render(value: Any) -> str:
    """A bad value as ``ErrorBody`` prints it: scalars plainly, strings quoted, else JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


class _Errors:
    """The error list one validation builds, with upstream's field.Error constructors."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def __len__(self) -> int:
        return len(self.causes)

    def add(self, field: str, message: str, reason: str) -> None:
        self.causes.append(Cause(field, message, reason))

    def required(self, field: str, detail: str = "") -> None:
        self.add(field, "Required value" + (f": {detail}" if detail else ""), REQUIRED)

    def invalid(self, field: str, value: Any, detail: str) -> None:
        body = f"Invalid value: {_render(value)}"
        self.add(field, body + (f": {detail}" if detail else ""), INVALID)

    def not_supported(self, field: str, value: Any, valid: Sequence[str]) -> None:
        body = f"Unsupported value: {_render(value)}"
        if valid:
            body += ": supported values: " + ", ".join(json.dumps(v) for v in valid)
        self.add(field, body, NOT_SUPPORTED)

    def duplicate(self, field: str, value: Any, detail: str = "") -> None:
        body = f"Duplicate value: {_render(value)}"
        self.add(field, body + (f": {detail}" if detail else ""), DUPLICATE)

    def forbidden(self, field: str, detail: str) -> None:
        self.add(field, "Forbidden" + (f": {detail}" if detail else ""), FORBIDDEN)

    def too_long(self, field: str, max_bytes: int) -> None:
        self.add(field, f"Too long: may not be more than {max_bytes} bytes", TOO_LONG)

    def too_many(self, field: str, actual: int, maximum: int) -> None:
        self.add(field, f"Too many: {actual}: must have at most {maximum} items", TOO_MANY)

    def not_found(self, field: str, value: Any, detail: str = "") -> None:
        body = f"Not found: {_render(value)}"
        self.add(field, body + (f": {detail}" if detail else ""), NOT_FOUND)

    def immutable(self, field: str, new: Any, old: Any) -> None:
        if _plain(new) != _plain(old):
            self.invalid(field, new, IMMUTABLE)


def _child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


# --- readers ------------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    if type(value) is dict:  # the common case, without the ABC check (same result)
        return value
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    if type(value) is list:  # the common case, without the ABC checks (same result)
        return list(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return []


def _maps(value: Any) -> list[Mapping[str, Any]]:
    return [_map(item) for item in _list(value)]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_field(errs: _Errors, parent: Mapping[str, Any], key: str, path: str) -> int | None:
    """An integer field, or None when absent; a non-integer is reported and read as None."""
    value = parent.get(key)
    if value is None:
        return None
    if not _is_int(value):
        errs.invalid(path, value, "must be an integer")
        return None
    return int(value)


def _nonnegative(errs: _Errors, parent: Mapping[str, Any], key: str, path: str) -> int | None:
    value = _int_field(errs, parent, key, path)
    if value is not None and value < 0:
        errs.invalid(path, value, NEGATIVE)
    return value


def _str_map(errs: _Errors, value: Any, path: str) -> dict[str, str]:
    """A map of strings (labels, selectors, data); other values are reported."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errs.invalid(path, value, "must be a map of strings")
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            errs.invalid(_key(path, str(k)), v, "must be a string")
            continue
        out[str(k)] = v
    return out


# --- name syntax --------------------------------------------------------------------------

_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035_FMT)
_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(_PERCENT_FMT)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _dns1035_label_errors(value: str) -> list[str]:
    """``IsDNS1035Label``: a Service name must also start with a letter."""
    errors = []
    if len(value.encode("utf-8")) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1035_RE.fullmatch(value):
        errors.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errors


def _mask_trailing_dash(name: str) -> str:
    """For generateName: a trailing dash is fine because a suffix follows it."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-1] + "a"
    return name


def _name_errors(kind: str, name: str, prefix: bool) -> list[str]:
    spec = KINDS.get(kind)
    rule = spec.name_rule if spec is not None else "subdomain"
    if prefix:
        name = _mask_trailing_dash(name)
    if rule == "path":
        return path_segment_name_errors(name)
    if rule == "label":
        # Upstream's ValidateServiceName is NameIsDNS1035Label, the stricter label form.
        return _dns1035_label_errors(name) if kind == "Service" else dns1123_label_errors(name)
    return dns1123_subdomain_errors(name)


# --- metadata -----------------------------------------------------------------------------


def _validate_labels(errs: _Errors, value: Any, path: str) -> dict[str, str]:
    labels = _str_map(errs, value, path)
    for key in sorted(labels):
        for msg in _qualified_name_errors(key):
            errs.invalid(path, key, msg)
        for msg in label_value_errors(labels[key]):
            errs.invalid(path, labels[key], msg)
    return labels


def _validate_annotations(errs: _Errors, value: Any, path: str) -> None:
    annotations = _str_map(errs, value, path)
    total = 0
    for key in sorted(annotations):
        for msg in _qualified_name_errors(key.lower()):
            errs.invalid(path, key, msg)
        total += len(key.encode("utf-8")) + len(annotations[key].encode("utf-8"))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT)


def _split_api_version(api_version: str) -> tuple[str, str] | None:
    """``schema.ParseGroupVersion``: (group, version), or None when it does not parse."""
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def _validate_owner_references(errs: _Errors, value: Any, path: str) -> None:
    first_controller = ""
    refs = _list(value)
    for raw in refs:
        ref = _map(raw)
        api_version = _str(ref.get("apiVersion"))
        kind = _str(ref.get("kind"))
        group_version = _split_api_version(api_version)
        group, version = group_version if group_version is not None else ("", "")
        if not version:
            errs.invalid(_child(path, "apiVersion"), api_version, "version must not be empty")
        if not kind:
            errs.invalid(_child(path, "kind"), kind, "must not be empty")
        if not _str(ref.get("name")):
            errs.invalid(_child(path, "name"), _str(ref.get("name")), "must not be empty")
        if not _str(ref.get("uid")):
            errs.invalid(_child(path, "uid"), _str(ref.get("uid")), "must not be empty")
        if group_version is not None and (group, version, kind) == ("", "v1", "Event"):
            errs.invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner")
        if ref.get("controller") is True:
            current = f"{kind}/{_str(ref.get('name'))}"
            if first_controller:
                errs.invalid(
                    path,
                    refs,
                    'Only one reference can have Controller set to true. Found "true" in '
                    f"references for {first_controller} and {current}",
                )
            else:
                first_controller = current


def _validate_finalizers(errs: _Errors, value: Any, path: str, kube_names: bool) -> None:
    finalizers = [f for f in _list(value) if isinstance(f, str)]
    for finalizer in finalizers:
        for msg in _qualified_name_errors(finalizer):
            errs.invalid(path, finalizer, msg)
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
    if kube_names:
        for i, finalizer in enumerate(finalizers):
            if "/" not in finalizer and finalizer not in _STANDARD_FINALIZERS:
                errs.invalid(
                    _index(path, i),
                    finalizer,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )


def _validate_meta(
    errs: _Errors, kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    """``ValidateObjectMeta`` on create, ``ValidateObjectMetaUpdate`` on update."""
    meta = _map(obj.get("metadata"))
    spec = KINDS.get(kind)
    namespaced = spec.namespaced if spec is not None else True
    name = meta.get("name")
    namespace = meta.get("namespace")
    if old is None:
        generate_name = meta.get("generateName")
        if isinstance(generate_name, str) and generate_name:
            for msg in _name_errors(kind, generate_name, prefix=True):
                errs.invalid("metadata.generateName", generate_name, msg)
        if not name:
            errs.required("metadata.name", "name or generateName is required")
        elif not isinstance(name, str):
            errs.invalid("metadata.name", name, "must be a string")
        else:
            for msg in _name_errors(kind, name, prefix=False):
                errs.invalid("metadata.name", name, msg)
        if namespaced:
            if not namespace:
                errs.required("metadata.namespace")
            else:
                for msg in dns1123_label_errors(_str(namespace)):
                    errs.invalid("metadata.namespace", namespace, msg)
        elif namespace:
            errs.forbidden("metadata.namespace", "not allowed on this type")
    else:
        old_meta = _map(old.get("metadata"))
        errs.immutable("metadata.name", name, old_meta.get("name"))
        errs.immutable("metadata.namespace", namespace, old_meta.get("namespace"))
    _validate_labels(errs, meta.get("labels"), "metadata.labels")
    _validate_annotations(errs, meta.get("annotations"), "metadata.annotations")
    _validate_owner_references(errs, meta.get("ownerReferences"), "metadata.ownerReferences")
    # Leases and core/v1 Events use apimachinery's ObjectMeta validation, which does not
    # insist on qualified finalizer names; every other kind here uses core's.
    kube_names = kind not in ("Lease", "Event")
    _validate_finalizers(errs, meta.get("finalizers"), "metadata.finalizers", kube_names)


# --- shared value checks ------------------------------------------------------------------


def _port_num_errors(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def _port_name_errors(port: str) -> list[str]:
    errors = []
    if len(port) > 15:
        errors.append("must be no more than 15 characters")
    if not re.fullmatch("[-a-z0-9]+", port):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errors.append("must contain at least one letter (a-z)")
    if "--" in port:
        errors.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def _validate_port_num_or_name(errs: _Errors, value: Any, path: str) -> None:
    if _is_int(value):
        for msg in _port_num_errors(int(value)):
            errs.invalid(path, value, msg)
    elif isinstance(value, str):
        for msg in _port_name_errors(value):
            errs.invalid(path, value, msg)
    else:
        errs.invalid(path, value, "must be an integer or a string")


def _validate_dns_label(errs: _Errors, value: str, path: str) -> None:
    for msg in dns1123_label_errors(value):
        errs.invalid(path, value, msg)


def _validate_dns_subdomain(errs: _Errors, value: str, path: str) -> None:
    for msg in dns1123_subdomain_errors(value):
        errs.invalid(path, value, msg)


def _validate_qualified_name(errs: _Errors, value: str, path: str) -> None:
    for msg in _qualified_name_errors(value):
        errs.invalid(path, value, msg)


_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _validate_ip(errs: _Errors, value: Any, path: str) -> bool:
    if not isinstance(value, str) or _parse_ip(value) is None:
        errs.invalid(path, value, _IP_MSG)
        return False
    return True


def _validate_non_special_ip(errs: _Errors, value: str, path: str) -> None:
    ip = _parse_ip(value)
    if ip is None:
        errs.invalid(path, value, "must be a valid IP address")
        return
    if ip.is_unspecified:
        errs.invalid(path, value, f"may not be unspecified ({value})")
    if ip.is_loopback:
        errs.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if ip.is_link_local:
        errs.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    multicast_ll = (isinstance(ip, ipaddress.IPv4Address) and ip in _V4_LL_MULTICAST) or (
        isinstance(ip, ipaddress.IPv6Address) and ip in _V6_LL_MULTICAST
    )
    if multicast_ll:
        errs.invalid(
            path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
        )


_V4_LL_MULTICAST = ipaddress.ip_network("224.0.0.0/24")
_V6_LL_MULTICAST = ipaddress.ip_network("ff02::/16")


def _validate_selector(errs: _Errors, selector: Any, path: str) -> Selector | None:
    """A ``metav1.LabelSelector``'s problems; the selector it denotes, or None if none.

    None mirrors an error from upstream's ``LabelSelectorAsSelector``.
    """
    if selector is None:
        return from_label_selector(None)
    if not isinstance(selector, Mapping):
        errs.invalid(path, selector, "must be a label selector")
        return None
    labels_path = _child(path, "matchLabels")
    _validate_labels(errs, selector.get("matchLabels"), labels_path)
    for field, message in label_selector_errors(selector, path):
        if field == labels_path:
            continue  # reported above, with the offending key or value
        if message.startswith("must be specified when"):
            errs.required(field, message)
        elif message.startswith("may not be specified when"):
            errs.forbidden(field, message)
        else:
            errs.invalid(field, _expression_bad_value(selector, field), message)
    try:
        return from_label_selector(selector)
    except (InvalidSelectorError, TypeError, AttributeError):
        return None


def _expression_bad_value(selector: Mapping[str, Any], field: str) -> Any:
    """The key, operator or value a ``matchExpressions`` error names."""
    match = re.search(r"matchExpressions\[(\d+)\]\.(key|operator|values)(?:\[(\d+)\])?$", field)
    if match is None:
        return None
    expressions = _maps(selector.get("matchExpressions"))
    i = int(match.group(1))
    value = (expressions[i] if i < len(expressions) else {}).get(match.group(2))
    if match.group(3) is not None:
        values = _list(value)
        j = int(match.group(3))
        return values[j] if j < len(values) else None
    return value


def _quantity(errs: _Errors, raw: Any, path: str) -> Fraction | None:
    try:
        return parse_quantity(raw)
    except QuantityError:
        errs.invalid(
            path,
            raw,
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        )
        return None


def _quantity_string(raw: Any, q: Fraction) -> str:
    binary = isinstance(raw, str) and raw.strip().endswith("i")
    return format_quantity(q, binary=binary)


def _validate_nonnegative_quantity(errs: _Errors, raw: Any, path: str) -> Fraction | None:
    q = _quantity(errs, raw, path)
    if q is not None and q < 0:
        errs.invalid(path, _quantity_string(raw, q), NEGATIVE)
    return q


def _validate_int_or_percent(errs: _Errors, value: Any, path: str) -> None:
    """``ValidatePositiveIntOrPercent`` of apps validation."""
    if isinstance(value, str):
        if not _PERCENT_RE.fullmatch(value):
            errs.invalid(
                path,
                value,
                _regex_error(
                    "a valid percent string must be a numeric string followed by an ending '%'",
                    _PERCENT_FMT,
                    "1%",
                    "93%",
                ),
            )
    elif _is_int(value):
        if value < 0:
            errs.invalid(path, value, NEGATIVE)
    else:
        # Upstream's detail is not a format string, so its '%%' reaches the user as is.
        errs.invalid(path, value, "must be an integer or percentage (e.g '5%%')")


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and _PERCENT_RE.fullmatch(value):
        return int(value[:-1])
    return None


def _int_or_percent_value(value: Any) -> int:
    percent = _percent(value)
    if percent is not None:
        return percent
    if _is_int(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value):
        return int(value)
    return 0


def _not_more_than_100_percent(errs: _Errors, value: Any, path: str) -> None:
    percent = _percent(value)
    if percent is not None and percent > 100:
        errs.invalid(path, value, "must not be greater than 100%")


# --- pods ---------------------------------------------------------------------------------

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")  # sets.List order
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_SCHEDULE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
_HTTP_SCHEMES = ("HTTP", "HTTPS")
_ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_RESOURCE_FIELD_PATHS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_STANDARD_RESOURCES = _CONTAINER_RESOURCES | frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "requests.storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
_POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_UPDATABLE_POD_SPEC_FIELDS = ",".join(
    (
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)",
    )
)


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native_resource(name) and not _is_hugepages(name)


def _is_extended_resource_name(name: str) -> bool:
    if _is_native_resource(name) or name.startswith("requests."):
        return False
    return not _qualified_name_errors("requests." + name)


def _validate_container_resource_name(errs: _Errors, name: str, path: str) -> None:
    msgs = _qualified_name_errors(name)
    for msg in msgs:
        errs.invalid(path, name, msg)
    if msgs:
        return
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not _is_hugepages(name):
            errs.invalid(path, name, "must be a standard resource type or fully qualified")
        if name not in _CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.invalid(path, name, "must be a standard resource for containers")
    elif not _is_native_resource(name) and not _is_extended_resource_name(name):
        errs.invalid(path, name, "doesn't follow extended resource name standard")


#: Resources counted in whole units (upstream's `helper.integerResources`), besides the
#: extended ones.
_INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)


def _validate_resource_quantity(errs: _Errors, name: str, raw: Any, path: str) -> Fraction | None:
    """upstream's ValidateResourceQuantityValue: not negative, whole for integer resources."""
    q = _validate_nonnegative_quantity(errs, raw, path)
    integer = name in _INTEGER_RESOURCES or not _is_native_resource(name)
    if q is not None and integer and q.denominator != 1:
        errs.invalid(path, _quantity_string(raw, q), "must be an integer")
    return q


def _validate_resources(errs: _Errors, resources: Any, path: str) -> None:
    body = _map(resources)
    limits_path = _child(path, "limits")
    requests_path = _child(path, "requests")
    limits_raw = _map(body.get("limits"))
    requests_raw = _map(body.get("requests"))
    limits: dict[str, Fraction] = {}
    for name in sorted(limits_raw):
        field = _key(limits_path, name)
        _validate_container_resource_name(errs, name, field)
        q = _validate_resource_quantity(errs, name, limits_raw[name], field)
        if q is not None:
            limits[name] = q
    for name in sorted(requests_raw):
        field = _key(requests_path, name)
        _validate_container_resource_name(errs, name, field)
        q = _validate_resource_quantity(errs, name, requests_raw[name], field)
        if q is None:
            continue
        # The shown forms are only formatted for an error (formatting a parsed value
        # cannot fail, so this changes nothing but the cost).
        if name in limits:
            limit = limits[name]
            if q != limit and not _overcommit_allowed(name):
                shown = _quantity_string(requests_raw[name], q)
                limit_shown = _quantity_string(limits_raw[name], limit)
                errs.invalid(
                    requests_path, shown, f"must be equal to {name} limit of {limit_shown}"
                )
            elif q > limit:
                shown = _quantity_string(requests_raw[name], q)
                limit_shown = _quantity_string(limits_raw[name], limit)
                errs.invalid(
                    requests_path,
                    shown,
                    f"must be less than or equal to {name} limit of {limit_shown}",
                )
        elif name not in limits_raw and not _overcommit_allowed(name):
            errs.required(limits_path, "Limit must be set for non overcommitable resources")
    names = set(limits_raw) | set(requests_raw)
    if any(_is_hugepages(n) for n in names) and not names & {"cpu", "memory"}:
        errs.forbidden(path, "HugePages require cpu or memory")


def _validate_container_ports(errs: _Errors, ports: Any, path: str) -> None:
    names: set[str] = set()
    for i, port in enumerate(_maps(ports)):
        p = _index(path, i)
        name = _str(port.get("name"))
        if name:
            msgs = _port_name_errors(name)
            for msg in msgs:
                errs.invalid(_child(p, "name"), name, msg)
            if not msgs:
                if name in names:
                    errs.duplicate(_child(p, "name"), name)
                names.add(name)
        container_port = port.get("containerPort")
        if container_port is None or container_port == 0:
            errs.required(_child(p, "containerPort"))
        elif not _is_int(container_port):
            errs.invalid(_child(p, "containerPort"), container_port, "must be an integer")
        else:
            for msg in _port_num_errors(container_port):
                errs.invalid(_child(p, "containerPort"), container_port, msg)
        host_port = _int_field(errs, port, "hostPort", _child(p, "hostPort"))
        if host_port:
            for msg in _port_num_errors(host_port):
                errs.invalid(_child(p, "hostPort"), host_port, msg)
        _validate_protocol(errs, port.get("protocol"), _child(p, "protocol"))


def _validate_protocol(errs: _Errors, protocol: Any, path: str) -> None:
    if not protocol:
        errs.required(path)
    elif protocol not in _PROTOCOLS:
        errs.not_supported(path, protocol, _PROTOCOLS)


def _validate_env(errs: _Errors, env: Any, path: str) -> None:
    for i, var in enumerate(_maps(env)):
        p = _index(path, i)
        name = var.get("name")
        if not name:
            errs.required(_child(p, "name"))
        elif not isinstance(name, str):
            errs.invalid(_child(p, "name"), name, "must be a string")
        elif any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in name):
            # RelaxedEnvironmentVariableValidation is GA in 1.34.
            errs.invalid(
                _child(p, "name"),
                name,
                "a valid environment variable name must consist only of printable ASCII "
                "characters other than '='",
            )
        _validate_env_value_from(errs, var, _child(p, "valueFrom"))


def _validate_env_value_from(errs: _Errors, var: Mapping[str, Any], path: str) -> None:
    value_from = var.get("valueFrom")
    if value_from is None:
        return
    source = _map(value_from)
    sources = 0
    field_ref = source.get("fieldRef")
    if field_ref is not None:
        sources += 1
        ref = _map(field_ref)
        ref_path = _child(path, "fieldRef")
        if not ref.get("apiVersion"):
            errs.required(_child(ref_path, "apiVersion"))
        elif not ref.get("fieldPath"):
            errs.required(_child(ref_path, "fieldPath"))
        else:
            field_path = _str(ref.get("fieldPath"))
            subscript = re.fullmatch(r"(metadata\.(?:labels|annotations))\['(.*)'\]", field_path)
            if subscript:
                key = subscript.group(2)
                if subscript.group(1) == "metadata.annotations":
                    key = key.lower()
                _validate_qualified_name(errs, key, ref_path)
            elif field_path not in _ENV_FIELD_PATHS:
                errs.not_supported(_child(ref_path, "fieldPath"), field_path, _ENV_FIELD_PATHS)
    resource_ref = source.get("resourceFieldRef")
    if resource_ref is not None:
        sources += 1
        ref = _map(resource_ref)
        ref_path = _child(path, "resourceFieldRef")
        resource = _str(ref.get("resource"))
        if not resource:
            errs.required(_child(ref_path, "resource"))
        elif resource not in _RESOURCE_FIELD_PATHS and not resource.startswith(
            ("requests.hugepages-", "limits.hugepages-")
        ):
            errs.not_supported(_child(ref_path, "resource"), resource, _RESOURCE_FIELD_PATHS)
    for key in ("configMapKeyRef", "secretKeyRef"):
        ref_raw = source.get(key)
        if ref_raw is None:
            continue
        sources += 1
        ref = _map(ref_raw)
        ref_path = _child(path, key)
        ref_name = _str(ref.get("name"))
        for msg in dns1123_subdomain_errors(ref_name):
            errs.invalid(_child(ref_path, "name"), ref_name, msg)
        ref_key = _str(ref.get("key"))
        if not ref_key:
            errs.required(_child(ref_path, "key"))
        else:
            for msg in config_map_key_errors(ref_key):
                errs.invalid(_child(ref_path, "key"), ref_key, msg)
    if sources == 0:
        errs.invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`",
        )
    elif var.get("value"):
        errs.invalid(path, "", "may not be specified when `value` is not empty")
    elif sources > 1:
        errs.invalid(path, "", "may not have more than one field specified at a time")


def _validate_env_from(errs: _Errors, env_from: Any, path: str) -> None:
    for i, source in enumerate(_maps(env_from)):
        p = _index(path, i)
        prefix = _str(source.get("prefix"))
        if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in prefix):
            errs.invalid(
                _child(p, "prefix"),
                prefix,
                "a valid environment variable name must consist only of printable ASCII "
                "characters other than '='",
            )
        sources = 0
        for key in ("configMapRef", "secretRef"):
            ref_raw = source.get(key)
            if ref_raw is None:
                continue
            sources += 1
            ref_name = _str(_map(ref_raw).get("name"))
            if not ref_name:
                errs.required(_child(p, key, "name"))
            else:
                for msg in dns1123_subdomain_errors(ref_name):
                    errs.invalid(_child(p, key, "name"), ref_name, msg)
        if sources == 0:
            errs.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
        elif sources > 1:
            errs.invalid(path, "", "may not have more than one field specified at a time")


def _validate_volume_mounts(errs: _Errors, mounts: Any, volumes: set[str], path: str) -> None:
    seen: set[str] = set()
    for i, mount in enumerate(_maps(mounts)):
        p = _index(path, i)
        name = _str(mount.get("name"))
        if not name:
            errs.required(_child(p, "name"))
        if name not in volumes:
            errs.not_found(_child(p, "name"), name)
        mount_path = _str(mount.get("mountPath"))
        if not mount_path:
            errs.required(_child(p, "mountPath"))
        if mount_path in seen:
            errs.invalid(_child(p, "mountPath"), mount_path, "must be unique")
        seen.add(mount_path)


def _validate_handler(
    errs: _Errors, handler: Mapping[str, Any], grace: int | None, path: str, kinds: Sequence[str]
) -> None:
    count = 0
    for kind in kinds:
        body = handler.get(kind)
        if body is None:
            continue
        p = _child(path, kind)
        if count > 0:
            errs.forbidden(p, "may not specify more than 1 handler type")
            continue
        count += 1
        action = _map(body)
        if kind == "exec":
            if not _list(action.get("command")):
                errs.required(_child(p, "command"))
        elif kind == "httpGet":
            if not action.get("path"):
                errs.required(_child(p, "path"))
            _validate_port_num_or_name(errs, action.get("port"), _child(p, "port"))
            scheme = action.get("scheme")
            if scheme not in _HTTP_SCHEMES:
                errs.not_supported(_child(p, "scheme"), scheme, _HTTP_SCHEMES)
        elif kind == "tcpSocket":
            _validate_port_num_or_name(errs, action.get("port"), _child(p, "port"))
        elif kind == "grpc":
            port = action.get("port")
            if not _is_int(port):
                errs.invalid(_child(p, "port"), port, "must be an integer")
            else:
                _validate_port_num_or_name(errs, port, _child(p, "port"))
        elif kind == "sleep":
            seconds = action.get("seconds")
            limit = grace if grace is not None else 0
            if not _is_int(seconds) or seconds < 0 or seconds > limit:
                errs.invalid(
                    p,
                    seconds,
                    f"must be non-negative and less than terminationGracePeriodSeconds ({limit})",
                )
    if count == 0:
        errs.required(path, "must specify a handler type")


def _validate_probe(errs: _Errors, probe: Any, grace: int | None, path: str, which: str) -> None:
    if probe is None:
        return
    body = _map(probe)
    _validate_handler(errs, body, grace, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for field in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        _nonnegative(errs, body, field, _child(path, field))
    probe_grace = _int_field(
        errs, body, "terminationGracePeriodSeconds", _child(path, "terminationGracePeriodSeconds")
    )
    if probe_grace is not None and probe_grace <= 0:
        errs.invalid(
            _child(path, "terminationGracePeriodSeconds"), probe_grace, "must be greater than 0"
        )
    if which in ("livenessProbe", "startupProbe"):
        threshold = body.get("successThreshold")
        if threshold != 1:
            errs.invalid(_child(path, "successThreshold"), threshold, "must be 1")
    elif body.get("terminationGracePeriodSeconds") is not None:
        errs.invalid(
            _child(path, "terminationGracePeriodSeconds"),
            body.get("terminationGracePeriodSeconds"),
            "must not be set for readinessProbes",
        )


def _validate_lifecycle(errs: _Errors, lifecycle: Any, grace: int | None, path: str) -> None:
    body = _map(lifecycle)
    for hook in ("postStart", "preStop"):
        handler = body.get(hook)
        if handler is not None:
            _validate_handler(
                errs,
                _map(handler),
                grace,
                _child(path, hook),
                ("exec", "httpGet", "tcpSocket", "sleep"),
            )


def _validate_container_common(
    errs: _Errors, container: Mapping[str, Any], volumes: set[str], path: str
) -> None:
    name = container.get("name")
    if not name:
        errs.required(_child(path, "name"))
    elif not isinstance(name, str):
        errs.invalid(_child(path, "name"), name, "must be a string")
    else:
        _validate_dns_label(errs, name, _child(path, "name"))
    if not container.get("image"):
        errs.required(_child(path, "image"))
    policy = container.get("terminationMessagePolicy")
    if not policy:
        errs.required(_child(path, "terminationMessagePolicy"))
    elif policy not in _TERMINATION_MESSAGE_POLICIES:
        errs.not_supported(
            _child(path, "terminationMessagePolicy"), policy, _TERMINATION_MESSAGE_POLICIES
        )
    _validate_container_ports(errs, container.get("ports"), _child(path, "ports"))
    _validate_env(errs, container.get("env"), _child(path, "env"))
    _validate_env_from(errs, container.get("envFrom"), _child(path, "envFrom"))
    _validate_volume_mounts(
        errs, container.get("volumeMounts"), volumes, _child(path, "volumeMounts")
    )
    pull = container.get("imagePullPolicy")
    if not pull:
        errs.required(_child(path, "imagePullPolicy"))
    elif pull not in _PULL_POLICIES:
        errs.not_supported(_child(path, "imagePullPolicy"), pull, _PULL_POLICIES)
    _validate_resources(errs, container.get("resources"), _child(path, "resources"))


def _host_port_conflicts(errs: _Errors, containers: list[Mapping[str, Any]], path: str) -> None:
    seen: set[str] = set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(_maps(container.get("ports"))):
            host_port = port.get("hostPort")
            if not host_port:
                continue
            key = f"{_str(port.get('protocol'))}/{_str(port.get('hostIP'))}/{host_port}"
            if key in seen:
                errs.duplicate(
                    _child(_index(_child(_index(path, ci), "ports"), pi), "hostPort"), key
                )
            seen.add(key)


def _validate_containers(
    errs: _Errors, spec: Mapping[str, Any], volumes: set[str], grace: int | None, path: str
) -> list[str]:
    containers = _maps(spec.get("containers"))
    p = _child(path, "containers")
    if not containers:
        errs.required(p)
        return []
    names: list[str] = []
    for i, container in enumerate(containers):
        cp = _index(p, i)
        _validate_container_common(errs, container, volumes, cp)
        name = _str(container.get("name"))
        if name in names:
            errs.duplicate(_child(cp, "name"), name)
        names.append(name)
        if container.get("lifecycle") is not None:
            _validate_lifecycle(errs, container.get("lifecycle"), grace, _child(cp, "lifecycle"))
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            _validate_probe(errs, container.get(probe), grace, _child(cp, probe), probe)
        if container.get("restartPolicy") is not None:
            errs.forbidden(_child(cp, "restartPolicy"), "may not be set for non-init containers")
    _host_port_conflicts(errs, containers, p)
    return names


def _validate_init_containers(
    errs: _Errors,
    spec: Mapping[str, Any],
    regular: list[str],
    volumes: set[str],
    grace: int | None,
    path: str,
) -> None:
    p = _child(path, "initContainers")
    names = set(regular)
    for i, container in enumerate(_maps(spec.get("initContainers"))):
        cp = _index(p, i)
        _validate_container_common(errs, container, volumes, cp)
        restart = container.get("restartPolicy")
        if restart is not None and restart != "Always":
            errs.not_supported(_child(cp, "restartPolicy"), restart, ("Always",))
        name = _str(container.get("name"))
        if name in names:
            errs.duplicate(_child(cp, "name"), name)
        elif name:
            names.add(name)
        _host_port_conflicts(errs, [container], p)
        if restart == "Always":
            if container.get("lifecycle") is not None:
                _validate_lifecycle(
                    errs, container.get("lifecycle"), grace, _child(cp, "lifecycle")
                )
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                _validate_probe(errs, container.get(probe), grace, _child(cp, probe), probe)
        else:
            for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(field) is not None:
                    errs.forbidden(
                        _child(cp, field),
                        "may not be set for init containers without restartPolicy=Always",
                    )
        if _list(container.get("resizePolicy")):
            errs.invalid(
                _child(cp, "resizePolicy"),
                container.get("resizePolicy"),
                "must not be set for init containers",
            )


def _validate_volumes(errs: _Errors, spec: Mapping[str, Any], path: str) -> set[str]:
    names: set[str] = set()
    p = _child(path, "volumes")
    for i, volume in enumerate(_maps(spec.get("volumes"))):
        vp = _index(p, i)
        before = len(errs)
        name = volume.get("name")
        sources = [k for k in volume if k != "name" and volume.get(k) is not None]
        for extra in sources[1:]:
            errs.forbidden(_child(vp, extra), "may not specify more than 1 volume type")
        if not sources:
            errs.required(vp, "must specify a volume type")
        if not name:
            errs.required(_child(vp, "name"))
        elif isinstance(name, str):
            _validate_dns_label(errs, name, _child(vp, "name"))
        if isinstance(name, str) and name in names:
            errs.duplicate(_child(vp, "name"), name)
        if len(errs) == before and isinstance(name, str):
            names.add(name)
    return names


def _validate_tolerations(errs: _Errors, tolerations: Any, path: str) -> None:
    for i, toleration in enumerate(_maps(tolerations)):
        p = _index(path, i)
        key = _str(toleration.get("key"))
        operator = toleration.get("operator") or ""
        effect = _str(toleration.get("effect"))
        if key:
            _validate_qualified_name(errs, key, _child(p, "key"))
        if not key and operator != "Exists":
            errs.invalid(
                _child(p, "operator"),
                operator,
                'operator must be Exists when `key` is empty, which means "match all values '
                'and all keys"',
            )
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.invalid(
                _child(p, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        value = _str(toleration.get("value"))
        if operator in ("Equal", ""):
            msgs = label_value_errors(value)
            if msgs:
                errs.invalid(_child(p, "operator"), value, ";".join(msgs))
        elif operator == "Exists":
            if value:
                errs.invalid(
                    _child(p, "operator"),
                    toleration,
                    "value must be empty when `operator` is 'Exists'",
                )
        else:
            errs.not_supported(_child(p, "operator"), operator, ("Equal", "Exists"))
        if effect and effect not in _TAINT_EFFECTS:
            errs.not_supported(_child(p, "effect"), effect, _TAINT_EFFECTS)


def _validate_node_selector_term(errs: _Errors, term: Mapping[str, Any], path: str) -> None:
    for j, req in enumerate(_maps(term.get("matchExpressions"))):
        rp = _index(_child(path, "matchExpressions"), j)
        operator = req.get("operator")
        values = _list(req.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.required(
                    _child(rp, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.forbidden(
                    _child(rp, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        elif operator in ("Gt", "Lt"):
            if len(values) != 1:
                errs.required(
                    _child(rp, "values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                )
        else:
            errs.invalid(_child(rp, "operator"), operator, "not a valid selector operator")
        _validate_qualified_name(errs, _str(req.get("key")), _child(rp, "key"))
    for j, req in enumerate(_maps(term.get("matchFields"))):
        rp = _index(_child(path, "matchFields"), j)
        operator = req.get("operator")
        if operator in ("In", "NotIn"):
            if len(_list(req.get("values"))) != 1:
                errs.required(
                    _child(rp, "values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                    "selector",
                )
        else:
            errs.invalid(_child(rp, "operator"), operator, "not a valid selector operator")
        if req.get("key") != "metadata.name":
            errs.invalid(_child(rp, "key"), req.get("key"), "not a valid field selector key")


def _validate_affinity(errs: _Errors, affinity: Any, path: str) -> None:
    if affinity is None:
        return
    body = _map(affinity)
    node = body.get("nodeAffinity")
    if node is not None:
        np = _child(path, "nodeAffinity")
        node_body = _map(node)
        required = node_body.get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is not None:
            rp = _child(np, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
            terms = _maps(_map(required).get("nodeSelectorTerms"))
            if not terms:
                errs.required(rp, "must have at least one node selector term")
            for i, term in enumerate(terms):
                _validate_node_selector_term(errs, term, _index(rp, i))
        preferred = _maps(node_body.get("preferredDuringSchedulingIgnoredDuringExecution"))
        pp = _child(np, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(preferred):
            _validate_weight(errs, term, _child(_index(pp, i), "weight"))
            _validate_node_selector_term(
                errs, _map(term.get("preference")), _child(_index(pp, i), "preference")
            )
    for kind in ("podAffinity", "podAntiAffinity"):
        pod = body.get(kind)
        if pod is None:
            continue
        kp = _child(path, kind)
        pod_body = _map(pod)
        rp = _child(kp, "requiredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(
            _maps(pod_body.get("requiredDuringSchedulingIgnoredDuringExecution"))
        ):
            _validate_pod_affinity_term(errs, term, _index(rp, i))
        pp = _child(kp, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, weighted in enumerate(
            _maps(pod_body.get("preferredDuringSchedulingIgnoredDuringExecution"))
        ):
            _validate_weight(errs, weighted, _child(_index(pp, i), "weight"))
            _validate_pod_affinity_term(
                errs,
                _map(weighted.get("podAffinityTerm")),
                _child(_index(pp, i), "podAffinityTerm"),
            )


def _validate_weight(errs: _Errors, term: Mapping[str, Any], path: str) -> None:
    weight = term.get("weight")
    if not _is_int(weight) or not 1 <= weight <= 100:
        errs.invalid(path, weight, "must be in the range 1-100")


def _validate_pod_affinity_term(errs: _Errors, term: Mapping[str, Any], path: str) -> None:
    for key in ("labelSelector", "namespaceSelector"):
        _validate_selector(errs, term.get(key), _child(path, key))
    for namespace in _list(term.get("namespaces")):
        for msg in dns1123_label_errors(_str(namespace)):
            errs.invalid(_child(path, "namespace"), namespace, msg)
    topology_key = _str(term.get("topologyKey"))
    if not topology_key:
        errs.required(_child(path, "topologyKey"), "can not be empty")
    _validate_qualified_name(errs, topology_key, _child(path, "topologyKey"))


def _validate_topology_spread(errs: _Errors, constraints: Any, path: str) -> None:
    items = _maps(constraints)
    for i, constraint in enumerate(items):
        p = _index(path, i)
        max_skew = constraint.get("maxSkew")
        if not _is_int(max_skew) or max_skew <= 0:
            errs.invalid(_child(p, "maxSkew"), max_skew, "must be greater than zero")
        topology_key = _str(constraint.get("topologyKey"))
        if not topology_key:
            errs.required(_child(p, "topologyKey"), "can not be empty")
        action = constraint.get("whenUnsatisfiable")
        if action not in _SCHEDULE_ACTIONS:
            errs.not_supported(_child(p, "whenUnsatisfiable"), action, _SCHEDULE_ACTIONS)
        for other in items[i + 1 :]:
            if (other.get("topologyKey"), other.get("whenUnsatisfiable")) == (
                constraint.get("topologyKey"),
                action,
            ):
                errs.duplicate(
                    _child(p, "{topologyKey, whenUnsatisfiable}"), f"{{{topology_key}, {action}}}"
                )
                break
        _validate_selector(errs, constraint.get("labelSelector"), _child(p, "labelSelector"))


def _validate_dns_config(errs: _Errors, spec: Mapping[str, Any], path: str) -> None:
    config = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if config is None:
            errs.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")
            return
        if not _list(_map(config).get("nameservers")):
            errs.required(
                _child(path, "nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )
            return
    if config is None:
        return
    body = _map(config)
    nameservers = _list(body.get("nameservers"))
    if len(nameservers) > 3:
        errs.invalid(
            _child(path, "nameservers"), nameservers, "must not have more than 3 nameservers"
        )
    for i, server in enumerate(nameservers):
        _validate_ip(errs, server, _index(_child(path, "nameservers"), i))
    searches = [_str(s) for s in _list(body.get("searches"))]
    if len(searches) > 32:
        errs.invalid(_child(path, "searches"), searches, "must not have more than 32 search paths")
    if len(" ".join(searches)) > 2048:
        errs.invalid(
            _child(path, "searches"),
            searches,
            "must not have more than 2048 characters (including spaces) in the search list",
        )
    for i, search in enumerate(searches):
        _validate_dns_subdomain(errs, search.removesuffix("."), _index(_child(path, "searches"), i))
    for i, option in enumerate(_maps(body.get("options"))):
        if not option.get("name"):
            errs.required(_index(_child(path, "options"), i), "must not be empty")


def _validate_pod_spec(errs: _Errors, spec: Mapping[str, Any], path: str, is_pod: bool) -> None:
    """``ValidatePodSpec``; `is_pod` is upstream's ``opts.ResourceIsPod``."""
    grace = _int_field(
        errs, spec, "terminationGracePeriodSeconds", _child(path, "terminationGracePeriodSeconds")
    )
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.required(_child(path, "terminationGracePeriodSeconds"))
    volumes = _validate_volumes(errs, spec, path)
    regular = _validate_containers(errs, spec, volumes, grace, path)
    _validate_init_containers(errs, spec, regular, volumes, grace, path)
    if spec.get("hostNetwork") is True:
        for i, container in enumerate(_maps(spec.get("containers"))):
            for j, port in enumerate(_maps(container.get("ports"))):
                host_port = port.get("hostPort") or 0
                if (is_pod or host_port != 0) and host_port != port.get("containerPort"):
                    errs.invalid(
                        _child(
                            _index(_child(_index(_child(path, "containers"), i), "ports"), j),
                            "hostPort",
                        ),
                        host_port,
                        "must match `containerPort` when `hostNetwork` is true",
                    )
    restart = spec.get("restartPolicy")
    if not restart:
        errs.required(_child(path, "restartPolicy"))
    elif restart not in _RESTART_POLICIES:
        errs.not_supported(_child(path, "restartPolicy"), restart, _RESTART_POLICIES)
    dns = spec.get("dnsPolicy")
    if not dns:
        errs.required(_child(path, "dnsPolicy"))
    elif dns not in _DNS_POLICIES:
        errs.not_supported(_child(path, "dnsPolicy"), dns, _DNS_POLICIES)
    _validate_labels(errs, spec.get("nodeSelector"), _child(path, "nodeSelector"))
    _validate_affinity(errs, spec.get("affinity"), _child(path, "affinity"))
    _validate_dns_config(errs, spec, _child(path, "dnsConfig"))
    for i, gate in enumerate(_maps(spec.get("readinessGates"))):
        _validate_qualified_name(
            errs,
            _str(gate.get("conditionType")),
            _child(_index(_child(path, "readinessGates"), i), "conditionType"),
        )
    seen_gates: set[str] = set()
    for i, gate in enumerate(_maps(spec.get("schedulingGates"))):
        gate_name = _str(gate.get("name"))
        gp = _index(_child(path, "schedulingGates"), i)
        _validate_qualified_name(errs, gate_name, gp)
        if gate_name in seen_gates:
            errs.duplicate(gp, gate_name)
        seen_gates.add(gate_name)
    _validate_topology_spread(
        errs, spec.get("topologySpreadConstraints"), _child(path, "topologySpreadConstraints")
    )
    for field in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = _str(spec.get(field))
        if value:
            _validate_dns_subdomain(errs, value, _child(path, field))
    deadline = _int_field(
        errs, spec, "activeDeadlineSeconds", _child(path, "activeDeadlineSeconds")
    )
    if deadline is not None and not 1 <= deadline <= INT32_MAX:
        errs.invalid(
            _child(path, "activeDeadlineSeconds"),
            deadline,
            f"must be between 1 and {INT32_MAX}, inclusive",
        )
    for field in ("hostname", "subdomain"):
        value = _str(spec.get(field))
        if value:
            _validate_dns_label(errs, value, _child(path, field))
    _validate_tolerations(errs, spec.get("tolerations"), _child(path, "tolerations"))
    preemption = spec.get("preemptionPolicy")
    if preemption is not None:
        if not preemption:
            errs.required(_child(path, "preemptionPolicy"))
        elif preemption not in _PREEMPTION_POLICIES:
            errs.not_supported(_child(path, "preemptionPolicy"), preemption, _PREEMPTION_POLICIES)
    overhead = spec.get("overhead")
    if overhead is not None:
        _validate_resources(errs, {"limits": overhead}, _child(path, "overhead"))


def _validate_pod_annotations(
    errs: _Errors, meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    annotations = _map(meta.get("annotations"))
    path = "metadata.annotations"
    if _MIRROR_POD_ANNOTATION in annotations and not spec.get("nodeName"):
        errs.invalid(
            _key(path, _MIRROR_POD_ANNOTATION),
            annotations[_MIRROR_POD_ANNOTATION],
            "must set spec.nodeName if mirror pod annotation is set",
        )
    cost = annotations.get(_POD_DELETION_COST)
    if cost is not None:
        valid = isinstance(cost, str) and re.fullmatch(r"-?[0-9]+", cost) is not None
        if not valid or not INT32_MIN <= int(cost) <= INT32_MAX:
            errs.invalid(_key(path, _POD_DELETION_COST), cost, "must be a 32bit integer")


def _validate_pod_template(errs: _Errors, template: Any, path: str) -> Mapping[str, Any]:
    """``ValidatePodTemplateSpec`` (labels and annotations sit under `path` directly)."""
    body = _map(template)
    meta = _map(body.get("metadata"))
    _validate_labels(errs, meta.get("labels"), _child(path, "labels"))
    _validate_annotations(errs, meta.get("annotations"), _child(path, "annotations"))
    spec = _map(body.get("spec"))
    _validate_pod_spec(errs, spec, _child(path, "spec"), is_pod=False)
    if _list(spec.get("ephemeralContainers")):
        errs.forbidden(
            _child(path, "spec", "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        )
    return spec


def _validate_pod(errs: _Errors, pod: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
    _validate_meta(errs, "Pod", pod, old)
    spec = _map(pod.get("spec"))
    meta = _map(pod.get("metadata"))
    _validate_pod_annotations(errs, meta, spec)
    _validate_pod_spec(errs, spec, "spec", is_pod=True)
    for key in ("containers", "initContainers"):
        for i, container in enumerate(_maps(spec.get(key))):
            image = container.get("image")
            if isinstance(image, str) and image != image.strip():
                errs.invalid(
                    _child(_index(_child("spec", key), i), "image"),
                    image,
                    "must not have leading or trailing whitespace",
                )
    if old is None:
        if _list(spec.get("ephemeralContainers")):
            errs.forbidden("spec.ephemeralContainers", "cannot be set on create")
        if spec.get("nodeName") and _list(spec.get("schedulingGates")):
            errs.forbidden(
                "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
            )
        return
    _validate_pod_update(errs, pod, old)


def _validate_pod_update(errs: _Errors, pod: Mapping[str, Any], old: Mapping[str, Any]) -> None:
    """``ValidatePodUpdate``: the spec is immutable but for a few fields."""
    new_spec = _plain(_map(pod.get("spec")))
    old_spec = _plain(_map(old.get("spec")))
    old_annotations = _map(_map(old.get("metadata")).get("annotations"))
    new_annotations = _map(_map(pod.get("metadata")).get("annotations"))
    path = "metadata.annotations"
    if _MIRROR_POD_ANNOTATION in old_annotations and old_annotations.get(
        _MIRROR_POD_ANNOTATION
    ) != new_annotations.get(_MIRROR_POD_ANNOTATION):
        errs.forbidden(
            _key(path, _MIRROR_POD_ANNOTATION), "may not remove or update mirror pod annotation"
        )
    if _MIRROR_POD_ANNOTATION in new_annotations and _MIRROR_POD_ANNOTATION not in old_annotations:
        errs.forbidden(_key(path, _MIRROR_POD_ANNOTATION), "may not add mirror pod annotation")
    for key in ("containers", "initContainers"):
        new_list = _list(new_spec.get(key))
        old_list = _list(old_spec.get(key))
        if len(new_list) != len(old_list):
            errs.forbidden(_child("spec", key), "pod updates may not add or remove containers")
            return
    new_deadline = new_spec.get("activeDeadlineSeconds")
    old_deadline = old_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if not _is_int(new_deadline) or not 0 <= new_deadline <= INT32_MAX:
            errs.invalid(
                "spec.activeDeadlineSeconds",
                new_deadline,
                f"must be between 0 and {INT32_MAX}, inclusive",
            )
            return
        if _is_int(old_deadline) and old_deadline < new_deadline:
            errs.invalid(
                "spec.activeDeadlineSeconds",
                new_deadline,
                "must be less than or equal to previous value",
            )
            return
    elif old_deadline is not None:
        errs.invalid(
            "spec.activeDeadlineSeconds",
            None,
            "must not update from a positive integer to nil value",
        )
    new_tolerations = _list(new_spec.get("tolerations"))
    for old_toleration in _list(old_spec.get("tolerations")):
        ignoring_seconds = {
            k: v for k, v in _map(old_toleration).items() if k != "tolerationSeconds"
        }
        if not any(
            {k: v for k, v in _map(t).items() if k != "tolerationSeconds"} == ignoring_seconds
            for t in new_tolerations
        ):
            errs.forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )
            break
    old_gates = {_str(_map(g).get("name")) for g in _list(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(_list(new_spec.get("schedulingGates"))):
        gate_name = _str(_map(gate).get("name"))
        if gate_name not in old_gates:
            errs.forbidden(
                _child(_index("spec.schedulingGates", i), "name"),
                f"only deletion is allowed, but found new scheduling gate '{gate_name}'",
            )
    if new_spec == old_spec:
        return
    munged = dict(new_spec)
    for key in ("containers", "initContainers"):
        old_list = _list(old_spec.get(key))
        new_list = _list(munged.get(key))
        munged_list = []
        for i, container in enumerate(new_list):
            copy = dict(_map(container))
            old_container = _map(old_list[i])
            if "image" in old_container:
                copy["image"] = old_container["image"]
            else:
                copy.pop("image", None)
            munged_list.append(copy)
        if key in munged:
            munged[key] = munged_list
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in old_spec:
            munged[key] = old_spec[key]
        else:
            munged.pop(key, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if _is_int(old_grace) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_gates:
        old_selector = _map(old_spec.get("nodeSelector"))
        new_selector = _map(munged.get("nodeSelector"))
        if old_selector != new_selector:
            if any(new_selector.get(k) != v for k, v in old_selector.items()):
                errs.invalid(
                    "spec.nodeSelector",
                    new_selector,
                    "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                )
            if "nodeSelector" in old_spec:
                munged["nodeSelector"] = old_spec["nodeSelector"]
            else:
                munged.pop("nodeSelector", None)
    if munged != old_spec:
        changed = sorted(k for k in set(munged) | set(old_spec) if munged.get(k) != old_spec.get(k))
        diff = "\n".join(f"  spec.{k}: changed" for k in changed)
        errs.forbidden(
            "spec",
            f"pod updates may not change fields other than {_UPDATABLE_POD_SPEC_FIELDS}\n{diff}",
        )


# --- workloads (apps/v1) ------------------------------------------------------------------


def _validate_workload_selector(
    errs: _Errors, kind: str, spec: Mapping[str, Any], required: bool
) -> Selector | None:
    """The selector of a workload; None when it is unusable (no template check then)."""
    raw = spec.get("selector")
    if raw is None:
        if required:
            errs.required("spec.selector")
        return from_label_selector(None)
    selector = _validate_selector(errs, raw, "spec.selector")
    body = _map(raw)
    if not _map(body.get("matchLabels")) and not _list(body.get("matchExpressions")):
        errs.invalid("spec.selector", raw, f"empty selector is invalid for {kind}")
    if selector is None:
        if kind == "statefulset":
            errs.invalid("spec.selector", raw, "")
        elif kind == "deployment":
            errs.invalid("spec.selector", raw, "invalid label selector")
    return selector


def _check_template_labels(
    errs: _Errors, selector: Selector | None, template: Mapping[str, Any], path: str
) -> None:
    if selector is None or (not selector.requirements and not selector.matches_nothing):
        return
    labels = {
        str(k): v
        for k, v in _map(_map(template.get("metadata")).get("labels")).items()
        if isinstance(v, str)
    }
    if not selector.matches(labels):
        errs.invalid(
            _child(path, "metadata", "labels"),
            labels,
            "`selector` does not match template `labels`",
        )


def _validate_template_for_controller(
    errs: _Errors, kind_label: str, spec: Mapping[str, Any], selector: Selector | None
) -> None:
    """``ValidatePodTemplateSpecForReplicaSet`` (also used for Deployments)."""
    template = _map(spec.get("template"))
    _check_template_labels(errs, selector, template, "spec.template")
    template_spec = _validate_pod_template(errs, template, "spec.template")
    _check_restart_always(errs, template_spec, kind_label)


def _check_restart_always(errs: _Errors, template_spec: Mapping[str, Any], kind_label: str) -> None:
    restart = template_spec.get("restartPolicy")
    if restart != "Always":
        errs.not_supported("spec.template.spec.restartPolicy", restart, ("Always",))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            f"activeDeadlineSeconds in {kind_label} is not Supported",
        )


def _selector_immutable(
    errs: _Errors, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    if old is not None:
        errs.immutable(
            "spec.selector",
            _map(obj.get("spec")).get("selector"),
            _map(old.get("spec")).get("selector"),
        )


def _validate_replica_set(
    errs: _Errors, rs: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "ReplicaSet", rs, old)
    spec = _map(rs.get("spec"))
    _nonnegative(errs, spec, "replicas", "spec.replicas")
    _nonnegative(errs, spec, "minReadySeconds", "spec.minReadySeconds")
    # Upstream reuses the Deployment wording for ReplicaSets.
    selector = _validate_workload_selector(errs, "deployment", spec, required=True)
    _validate_template_for_controller(errs, "ReplicaSet", spec, selector)
    _selector_immutable(errs, rs, old)


def _validate_deployment(
    errs: _Errors, deployment: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "Deployment", deployment, old)
    spec = _map(deployment.get("spec"))
    _nonnegative(errs, spec, "replicas", "spec.replicas")
    selector = _validate_workload_selector(errs, "deployment", spec, required=True)
    _validate_template_for_controller(errs, "ReplicaSet", spec, selector)
    strategy = _map(spec.get("strategy"))
    strategy_type = strategy.get("type")
    if strategy_type == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )
    elif strategy_type == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            errs.required(
                "spec.strategy.rollingUpdate", "this should be defaulted and never be nil"
            )
        else:
            body = _map(rolling)
            path = "spec.strategy.rollingUpdate"
            unavailable, surge = body.get("maxUnavailable"), body.get("maxSurge")
            _validate_int_or_percent(errs, unavailable, _child(path, "maxUnavailable"))
            _validate_int_or_percent(errs, surge, _child(path, "maxSurge"))
            if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
                errs.invalid(
                    _child(path, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"
                )
            _not_more_than_100_percent(errs, unavailable, _child(path, "maxUnavailable"))
    else:
        errs.not_supported("spec.strategy", strategy, ("Recreate", "RollingUpdate"))
    min_ready = _nonnegative(errs, spec, "minReadySeconds", "spec.minReadySeconds") or 0
    _nonnegative(errs, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    deadline = _nonnegative(errs, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds")
    if deadline is not None and deadline <= min_ready:
        errs.invalid(
            "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
        )
    policy = spec.get("podReplacementPolicy")
    if policy is not None and policy not in _POD_REPLACEMENT_POLICIES:
        errs.not_supported("spec.podReplacementPolicy", policy, _POD_REPLACEMENT_POLICIES)
    _selector_immutable(errs, deployment, old)


#: KEP-3973's DeploymentPodReplacementPolicy values (alpha in 1.34; the reference keeps the field).
_POD_REPLACEMENT_POLICIES = ("TerminationStarted", "TerminationComplete")


def _validate_daemon_set(
    errs: _Errors, ds: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "DaemonSet", ds, old)
    spec = _map(ds.get("spec"))
    # A DaemonSet without a selector is not "required": it fails the template match.
    selector = _validate_workload_selector(errs, "daemonset", spec, required=False)
    template = _map(spec.get("template"))
    _check_template_labels(errs, selector, template, "spec.template")
    template_spec = _validate_pod_template(errs, template, "spec.template")
    _check_restart_always(errs, template_spec, "DaemonSet")
    _nonnegative(errs, spec, "minReadySeconds", "spec.minReadySeconds")
    strategy = _map(spec.get("updateStrategy"))
    strategy_type = strategy.get("type")
    path = "spec.updateStrategy"
    if strategy_type == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            errs.required(_child(path, "rollingUpdate"))
        else:
            body = _map(rolling)
            rp = _child(path, "rollingUpdate")
            unavailable, surge = body.get("maxUnavailable"), body.get("maxSurge")
            _validate_int_or_percent(errs, unavailable, _child(rp, "maxUnavailable"))
            _validate_int_or_percent(errs, surge, _child(rp, "maxSurge"))
            _not_more_than_100_percent(errs, unavailable, _child(rp, "maxUnavailable"))
            _not_more_than_100_percent(errs, surge, _child(rp, "maxSurge"))
            has_unavailable = _int_or_percent_value(unavailable) != 0
            has_surge = _int_or_percent_value(surge) != 0
            if has_unavailable and has_surge:
                errs.invalid(
                    _child(rp, "maxSurge"), surge, "may not be set when maxUnavailable is non-zero"
                )
            elif not has_unavailable and not has_surge:
                errs.required(_child(rp, "maxUnavailable"), "cannot be 0 when maxSurge is 0")
    elif strategy_type != "OnDelete":
        errs.not_supported(path, strategy, ("RollingUpdate", "OnDelete"))
    _nonnegative(errs, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    _selector_immutable(errs, ds, old)


_STATEFUL_SET_MUTABLE = (
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "persistentVolumeClaimRetentionPolicy",
)


def _validate_stateful_set(
    errs: _Errors, sts: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "StatefulSet", sts, old)
    spec = _map(sts.get("spec"))
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.required("spec.podManagementPolicy")
    elif policy not in ("OrderedReady", "Parallel"):
        errs.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
    strategy = _map(spec.get("updateStrategy"))
    strategy_type = strategy.get("type")
    if not strategy_type:
        errs.required("spec.updateStrategy")
    elif strategy_type == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.invalid(
                "spec.updateStrategy.rollingUpdate",
                strategy.get("rollingUpdate"),
                "only allowed for updateStrategy 'RollingUpdate'",
            )
    elif strategy_type == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is not None:
            body = _map(rolling)
            rp = "spec.updateStrategy.rollingUpdate"
            _nonnegative(errs, body, "partition", _child(rp, "partition"))
            unavailable = body.get("maxUnavailable")
            if unavailable is not None:
                _validate_int_or_percent(errs, unavailable, _child(rp, "maxUnavailable"))
                if _int_or_percent_value(unavailable) == 0:
                    errs.invalid(_child(rp, "maxUnavailable"), unavailable, "cannot be 0")
                _not_more_than_100_percent(errs, unavailable, _child(rp, "maxUnavailable"))
    else:
        errs.invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'")
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        for field in ("whenDeleted", "whenScaled"):
            value = _map(retention).get(field)
            if value not in ("Retain", "Delete"):
                errs.not_supported(
                    _child("spec.persistentVolumeClaimRetentionPolicy", field),
                    value,
                    ("Retain", "Delete"),
                )
    _nonnegative(errs, spec, "replicas", "spec.replicas")
    _nonnegative(errs, spec, "minReadySeconds", "spec.minReadySeconds")
    ordinals = spec.get("ordinals")
    if ordinals is not None:
        _nonnegative(errs, _map(ordinals), "start", "spec.ordinals.start")
    selector = _validate_workload_selector(errs, "statefulset", spec, required=True)
    template = _map(spec.get("template"))
    _check_template_labels(errs, selector, template, "spec.template")
    # Upstream validates only the template's labels and annotations for StatefulSets
    # (a long-standing TODO in ValidatePodTemplateSpecForStatefulSet).
    template_meta = _map(template.get("metadata"))
    _validate_labels(errs, template_meta.get("labels"), "spec.template.labels")
    _validate_annotations(errs, template_meta.get("annotations"), "spec.template.annotations")
    _check_restart_always(errs, _map(template.get("spec")), "StatefulSet")
    if old is not None:
        new_spec = dict(_plain(spec))
        old_spec = _plain(_map(old.get("spec")))
        for field in _STATEFUL_SET_MUTABLE:
            if field in old_spec:
                new_spec[field] = old_spec[field]
            else:
                new_spec.pop(field, None)
        if new_spec != old_spec:
            errs.forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden",
            )


def _validate_controller_revision(
    errs: _Errors, revision: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "ControllerRevision", revision, old)
    if revision.get("data") is None:
        errs.required("data", "data is mandatory")
    _nonnegative(errs, revision, "revision", "revision")
    if old is not None:
        errs.immutable("data", revision.get("data"), old.get("data"))


# --- services and endpoints ---------------------------------------------------------------

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")  # sets.List order
_SESSION_AFFINITIES = ("ClientIP", "None")
_TRAFFIC_POLICIES = ("Cluster", "Local")
_IP_FAMILIES = ("IPv4", "IPv6")
_IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")


def _is_headless(spec: Mapping[str, Any]) -> bool:
    ips = _list(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def _validate_service(
    errs: _Errors, service: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "Service", service, old)
    spec = _map(service.get("spec"))
    service_type = spec.get("type")
    headless = _is_headless(spec)
    ports = _maps(spec.get("ports"))
    if not ports and not headless and service_type != "ExternalName":
        errs.required("spec.ports")
    if service_type == "LoadBalancer":
        for i, port in enumerate(ports):
            if port.get("port") == KUBELET_PORT:
                errs.invalid(
                    _index("spec.ports", i),
                    KUBELET_PORT,
                    f"may not expose port {KUBELET_PORT} externally since it is used by kubelet",
                )
        if headless:
            errs.invalid(
                "spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"
            )
    elif service_type == "NodePort":
        if headless:
            errs.invalid(
                "spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"
            )
    elif service_type == "ExternalName":
        if _list(spec.get("clusterIPs")):
            errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
        if _list(spec.get("ipFamilies")):
            errs.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
        if spec.get("ipFamilyPolicy") is not None:
            errs.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
        cname = _str(spec.get("externalName")).removesuffix(".")
        if cname:
            _validate_dns_subdomain(errs, cname, "spec.externalName")
        else:
            errs.required("spec.externalName")
    names: set[str] = set()
    for i, port in enumerate(ports):
        _validate_service_port(errs, port, len(ports) > 1, names, _index("spec.ports", i))
    if spec.get("selector") is not None:
        _validate_labels(errs, spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if not affinity:
        errs.required("spec.sessionAffinity")
    elif affinity not in _SESSION_AFFINITIES:
        errs.not_supported("spec.sessionAffinity", affinity, _SESSION_AFFINITIES)
    if affinity == "ClientIP":
        _validate_client_ip_config(errs, spec.get("sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.forbidden(
            "spec.sessionAffinityConfig", "must not be set when session affinity is None"
        )
    _validate_cluster_ips(errs, spec)
    for i, ip in enumerate(_list(spec.get("externalIPs"))):
        if _validate_ip(errs, ip, _index("spec.externalIPs", i)):
            _validate_non_special_ip(errs, ip, _index("spec.externalIPs", i))
    if not service_type:
        errs.required("spec.type")
    elif service_type not in _SERVICE_TYPES:
        errs.not_supported("spec.type", service_type, _SERVICE_TYPES)
    if service_type == "ClusterIP":
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                errs.forbidden(
                    _child(_index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                )
    node_ports: set[tuple[Any, Any]] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        node_port = port.get("nodePort")
        if node_port:
            key = (port.get("protocol"), node_port)
            if key in node_ports:
                errs.duplicate(_child(_index("spec.ports", i), "nodePort"), node_port)
            node_ports.add(key)
    for i, port in enumerate(ports):
        key = (port.get("protocol"), port.get("port"))
        if key in seen_ports:
            errs.duplicate(_index("spec.ports", i), {"port": key[1], "protocol": key[0]})
        seen_ports.add(key)
    ranges = _list(spec.get("loadBalancerSourceRanges"))
    if ranges and service_type != "LoadBalancer":
        errs.forbidden(
            "spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"
        )
    if spec.get("allocateLoadBalancerNodePorts") is not None and service_type != "LoadBalancer":
        errs.forbidden(
            "spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"
        )
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.required("allocateLoadBalancerNodePorts")
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if service_type == "LoadBalancer":
            _validate_qualified_name(errs, _str(lb_class), "spec.loadBalancerClass")
        else:
            errs.forbidden(
                "spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"
            )
    _validate_traffic_policies(errs, spec, service_type)
    if old is not None:
        _validate_service_update(errs, spec, _map(old.get("spec")))


def _validate_service_port(
    errs: _Errors, port: Mapping[str, Any], require_name: bool, names: set[str], path: str
) -> None:
    name = _str(port.get("name"))
    if require_name and not name:
        errs.required(_child(path, "name"))
    elif name:
        _validate_dns_label(errs, name, _child(path, "name"))
        if name in names:
            errs.duplicate(_child(path, "name"), name)
        names.add(name)
    number = port.get("port")
    if not _is_int(number):
        errs.invalid(_child(path, "port"), number, "must be between 1 and 65535, inclusive")
    else:
        for msg in _port_num_errors(int(number)):
            errs.invalid(_child(path, "port"), number, msg)
    _validate_protocol(errs, port.get("protocol"), _child(path, "protocol"))
    _validate_port_num_or_name(errs, port.get("targetPort"), _child(path, "targetPort"))
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        _validate_qualified_name(errs, _str(app_protocol), _child(path, "appProtocol"))


def _validate_client_ip_config(errs: _Errors, config: Any) -> None:
    path = "spec.sessionAffinityConfig"
    detail = "when session affinity type is ClientIP"
    if config is None:
        errs.required(path, detail)
        return
    client_ip = _map(config).get("clientIP")
    if client_ip is None:
        errs.required(_child(path, "clientIP"), detail)
        return
    timeout = _map(client_ip).get("timeoutSeconds")
    if timeout is None:
        errs.required(_child(path, "clientIP", "timeoutSeconds"), detail)
    elif not _is_int(timeout) or not 0 < timeout <= 86400:
        errs.invalid(
            _child(path, "clientIP", "timeoutSeconds"),
            timeout,
            "must be greater than 0 and less than 86400",
        )


def _validate_cluster_ips(errs: _Errors, spec: Mapping[str, Any]) -> None:
    """``ValidateServiceClusterIPsRelatedFields``."""
    if spec.get("type") == "ExternalName":
        return
    cluster_ip = _str(spec.get("clusterIP"))
    ips = _list(spec.get("clusterIPs"))
    if cluster_ip:
        if not ips:
            errs.required("spec.clusterIPs")
        elif ips[0] != cluster_ip:
            errs.invalid("spec.clusterIPs", ips, "first value must match `clusterIP`")
    elif ips:
        errs.invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified")
    families = _list(spec.get("ipFamilies"))
    seen: set[Any] = set()
    for i, family in enumerate(families):
        if family not in _IP_FAMILIES:
            errs.not_supported(_index("spec.ipFamilies", i), family, _IP_FAMILIES)
        if family in seen:
            errs.duplicate(_index("spec.ipFamilies", i), family)
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in _IP_FAMILY_POLICIES:
        errs.not_supported("spec.ipFamilyPolicy", policy, _IP_FAMILY_POLICIES)
    bad = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad = True
                errs.invalid("spec.clusterIPs", ips, "'None' must be the first and only value")
            continue
        if not _validate_ip(errs, ip, _index("spec.clusterIPs", i)):
            bad = True
    if len(ips) > 2:
        errs.invalid("spec.clusterIPs", ips, "may only hold up to 2 values")
    if bad:
        return
    parsed = [_parse_ip(ip) for ip in ips if isinstance(ip, str)]
    if len(ips) > 1 and len({type(ip) for ip in parsed}) != len(parsed):
        errs.invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family")
    if not _is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[: len(families)]):
            is_v6 = isinstance(_parse_ip(ip), ipaddress.IPv6Address)
            if families[i] == "IPv4" and is_v6:
                errs.invalid(
                    _index("spec.clusterIPs", i),
                    ip,
                    f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                )
            if families[i] == "IPv6" and not is_v6:
                errs.invalid(
                    _index("spec.clusterIPs", i),
                    ip,
                    f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                )


def _validate_traffic_policies(errs: _Errors, spec: Mapping[str, Any], service_type: Any) -> None:
    external = spec.get("externalTrafficPolicy") or ""
    accessible = service_type in ("LoadBalancer", "NodePort") or (
        service_type == "ClusterIP" and bool(_list(spec.get("externalIPs")))
    )
    if not accessible:
        if external:
            errs.invalid(
                "spec.externalTrafficPolicy",
                external,
                "may only be set for externally-accessible services",
            )
    elif not external:
        errs.required("spec.externalTrafficPolicy")
    elif external not in _TRAFFIC_POLICIES:
        errs.not_supported("spec.externalTrafficPolicy", external, _TRAFFIC_POLICIES)
    health_check = spec.get("healthCheckNodePort") or 0
    needs_health_check = service_type == "LoadBalancer" and external == "Local"
    if not needs_health_check:
        if health_check:
            errs.invalid(
                "spec.healthCheckNodePort",
                health_check,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                "'Local'",
            )
    elif health_check and _is_int(health_check):
        for msg in _port_num_errors(int(health_check)):
            errs.invalid("spec.healthCheckNodePort", health_check, msg)
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        if service_type in ("ClusterIP", "NodePort", "LoadBalancer"):
            errs.required("spec.internalTrafficPolicy")
    elif internal not in _TRAFFIC_POLICIES:
        errs.not_supported("spec.internalTrafficPolicy", internal, _TRAFFIC_POLICIES)
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution not in (
        "PreferClose",
        "PreferSameZone",
        "PreferSameNode",
    ):
        errs.not_supported(
            "spec.trafficDistribution",
            distribution,
            ("PreferClose", "PreferSameZone", "PreferSameNode"),
        )


def _validate_service_update(
    errs: _Errors, spec: Mapping[str, Any], old_spec: Mapping[str, Any]
) -> None:
    """``validateUpgradeDowngradeClusterIPs`` and the load balancer class lock."""
    if spec.get("type") == "ExternalName" or old_spec.get("type") == "ExternalName":
        pass
    elif not (_is_headless(spec) and _is_headless(old_spec)):
        new_ips = _list(spec.get("clusterIPs"))
        old_ips = _list(old_spec.get("clusterIPs"))
        if len(old_ips) == len(new_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    errs.invalid(_index("spec.clusterIPs", i), new_ips, "may not change once set")
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                errs.invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset")
            elif new_ips[0] != old_ips[0]:
                errs.invalid("spec.clusterIPs[0]", new_ips, "may not change once set")
            if len(new_ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
                errs.invalid(
                    "spec.ipFamilyPolicy",
                    spec.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                )
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.invalid("spec.clusterIPs[0]", new_ips, "may not change once set")
    both_lb = spec.get("type") == "LoadBalancer" and old_spec.get("type") == "LoadBalancer"
    if both_lb and spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass"):
        errs.invalid(
            "spec.loadBalancerClass", spec.get("loadBalancerClass"), "may not change once set"
        )
    old_needs = (
        old_spec.get("type") == "LoadBalancer" and old_spec.get("externalTrafficPolicy") == "Local"
    )
    new_needs = spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
    if (
        old_needs
        and new_needs
        and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort")
    ):
        errs.forbidden("spec.healthCheckNodePort", IMMUTABLE)


def _validate_endpoints(
    errs: _Errors, endpoints: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "Endpoints", endpoints, old)
    for i, subset in enumerate(_maps(endpoints.get("subsets"))):
        sp = _index("subsets", i)
        addresses = _maps(subset.get("addresses"))
        not_ready = _maps(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            errs.required(sp, "must specify `addresses` or `notReadyAddresses`")
        for key, items in (("addresses", addresses), ("notReadyAddresses", not_ready)):
            for j, address in enumerate(items):
                ap = _index(_child(sp, key), j)
                ip = address.get("ip")
                _validate_ip(errs, ip, _child(ap, "ip"))
                hostname = _str(address.get("hostname"))
                if hostname:
                    _validate_dns_label(errs, hostname, _child(ap, "hostname"))
                node_name = address.get("nodeName")
                if node_name is not None:
                    _validate_dns_subdomain(errs, _str(node_name), _child(ap, "nodeName"))
                _validate_non_special_ip(errs, _str(ip), _child(ap, "ip"))
        ports = _maps(subset.get("ports"))
        for j, port in enumerate(ports):
            pp = _index(_child(sp, "ports"), j)
            name = _str(port.get("name"))
            if len(ports) > 1 and not name:
                errs.required(_child(pp, "name"))
            elif name:
                _validate_dns_label(errs, name, _child(pp, "name"))
            number = port.get("port")
            if not _is_int(number) or _port_num_errors(int(number)):
                errs.invalid(_child(pp, "port"), number, "must be between 1 and 65535, inclusive")
            _validate_protocol(errs, port.get("protocol"), _child(pp, "protocol"))


_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def _validate_endpoint_slice(
    errs: _Errors, slice_: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "EndpointSlice", slice_, old)
    address_type = slice_.get("addressType")
    valid_types = _ADDRESS_TYPES if old is None else ("FQDN", "IP", "IPv4", "IPv6")
    if not address_type:
        errs.required("addressType")
    elif address_type not in valid_types:
        errs.not_supported("addressType", address_type, valid_types)
    endpoints = _maps(slice_.get("endpoints"))
    if len(endpoints) > 1000:
        errs.too_many("endpoints", len(endpoints), 1000)
    else:
        for i, endpoint in enumerate(endpoints):
            ep = _index("endpoints", i)
            addresses = _list(endpoint.get("addresses"))
            ap = _child(ep, "addresses")
            if not addresses:
                errs.required(ap, "must contain at least 1 address")
            elif len(addresses) > 100:
                errs.too_many(ap, len(addresses), 100)
            for j, address in enumerate(addresses):
                _validate_slice_address(errs, address_type, address, _index(ap, j))
            hostname = endpoint.get("hostname")
            if hostname is not None:
                _validate_dns_label(errs, _str(hostname), _child(ep, "hostname"))
            node_name = endpoint.get("nodeName")
            if node_name is not None:
                _validate_dns_subdomain(errs, _str(node_name), _child(ep, "nodeName"))
    ports = _maps(slice_.get("ports"))
    if len(ports) > 100:
        errs.too_many("ports", len(ports), 100)
    else:
        names: set[str] = set()
        for i, port in enumerate(ports):
            pp = _index("ports", i)
            name = _str(port.get("name"))
            if name:
                _validate_dns_label(errs, name, _child(pp, "name"))
            if name in names:
                errs.duplicate(_child(pp, "name"), name)
            names.add(name)
            protocol = port.get("protocol")
            if protocol is None:
                errs.required(_child(pp, "protocol"))
            elif protocol not in _PROTOCOLS:
                errs.not_supported(_child(pp, "protocol"), protocol, _PROTOCOLS)
            app_protocol = port.get("appProtocol")
            if app_protocol is not None:
                _validate_qualified_name(errs, _str(app_protocol), _child(pp, "appProtocol"))
    if old is not None:
        errs.immutable("addressType", address_type, old.get("addressType"))


def _validate_slice_address(errs: _Errors, address_type: Any, address: Any, path: str) -> None:
    text = _str(address)
    if address_type in ("IPv4", "IPv6"):
        ip = _parse_ip(text)
        wanted = ipaddress.IPv4Address if address_type == "IPv4" else ipaddress.IPv6Address
        if not isinstance(ip, wanted):
            family = "IPv4" if address_type == "IPv4" else "IPv6"
            errs.invalid(path, address, f"must be a valid {family} address")
            return
        _validate_non_special_ip(errs, text, path)
    elif address_type == "FQDN":
        _validate_dns_subdomain(errs, text.removesuffix("."), path)


# --- config -------------------------------------------------------------------------------


def _decode_base64(errs: _Errors, value: Any, path: str) -> bytes:
    """A ``[]byte`` field's bytes (Go's JSON uses padded standard base64, ignoring CR/LF).

    Upstream rejects bad base64 while decoding the request (400); here it is a cause
    on the key, and the value counts as empty.
    """
    if not isinstance(value, str):
        errs.invalid(path, value, "must be a base64-encoded string")
        return b""
    try:
        return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        errs.invalid(path, "<secret contents redacted>", "illegal base64 data")
        return b""


def _validate_config_map(
    errs: _Errors, cm: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "ConfigMap", cm, old)
    if old is not None and _map(old).get("immutable") is True:
        if cm.get("immutable") is not True:
            errs.forbidden("immutable", IMMUTABLE_WHEN_SET)
        for field in ("data", "binaryData"):
            if _plain(cm.get(field) or {}) != _plain(old.get(field) or {}):
                errs.forbidden(field, IMMUTABLE_WHEN_SET)
    data = _str_map(errs, cm.get("data"), "data")
    binary = _map(cm.get("binaryData"))
    total = 0
    for key in sorted(data):
        for msg in config_map_key_errors(key):
            errs.invalid(_key("data", key), key, msg)
        if key in binary:
            errs.invalid(_key("data", key), key, "duplicate of key present in binaryData")
        total += len(data[key].encode("utf-8"))
    for key in sorted(binary):
        for msg in config_map_key_errors(key):
            errs.invalid(_key("binaryData", key), key, msg)
        total += len(_decode_base64(errs, binary[key], _key("binaryData", key)))
    if total > MAX_SECRET_SIZE:
        errs.too_long("", MAX_SECRET_SIZE)


def _secret_data(errs: _Errors, secret: Mapping[str, Any]) -> dict[str, bytes]:
    """The secret's data after merging stringData (conversion does it upstream)."""
    out: dict[str, bytes] = {}
    for key, value in _map(secret.get("data")).items():
        out[str(key)] = _decode_base64(errs, value, _key("data", str(key)))
    for key, value in _map(secret.get("stringData")).items():
        out[str(key)] = _str(value).encode("utf-8")
    return out


def _validate_secret(
    errs: _Errors, secret: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "Secret", secret, old)
    secret_type = secret.get("type") or "Opaque"
    if old is not None:
        errs.immutable("type", secret_type, old.get("type") or "Opaque")
        if old.get("immutable") is True:
            if secret.get("immutable") is not True:
                errs.forbidden("immutable", IMMUTABLE_WHEN_SET)
            new_data = _secret_data(_Errors(), secret)
            old_data = _secret_data(_Errors(), old)
            if new_data != old_data:
                errs.forbidden("data", IMMUTABLE_WHEN_SET)
    data = _secret_data(errs, secret)
    total = 0
    for key in sorted(data):
        for msg in config_map_key_errors(key):
            errs.invalid(_key("data", key), key, msg)
        total += len(data[key])
    if total > MAX_SECRET_SIZE:
        errs.too_long("data", MAX_SECRET_SIZE)
    annotations = _map(_map(secret.get("metadata")).get("annotations"))
    if secret_type == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.required("metadata.annotations[kubernetes.io/service-account.name]")
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if secret_type == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.required(_key("data", key))
        else:
            try:
                parsed = json.loads(data[key].decode("utf-8"))
                if not isinstance(parsed, dict):
                    raise ValueError("not an object")
            except ValueError as error:
                errs.invalid(_key("data", key), "<secret contents redacted>", str(error))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.required(_key("data", "username"))
            errs.required(_key("data", "password"))
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.required(_key("data", "ssh-privatekey"))
    elif secret_type == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.required(_key("data", key))


# --- cluster-scoped and small kinds -------------------------------------------------------


def _validate_namespace(
    errs: _Errors, namespace: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "Namespace", namespace, old)
    if old is None:
        for finalizer in _list(_map(namespace.get("spec")).get("finalizers")):
            text = _str(finalizer)
            _validate_qualified_name(errs, text, "spec.finalizers")
            if "/" not in text and text not in _STANDARD_FINALIZERS:
                errs.invalid(
                    "spec.finalizers",
                    text,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )


def _validate_node(errs: _Errors, node: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
    _validate_meta(errs, "Node", node, old)
    _validate_node_resources(errs, _map(node.get("status")))
    spec = _map(node.get("spec"))
    # Upstream reports taint problems under metadata.taints (fldPath is "metadata").
    unique: dict[str, set[str]] = {}
    for i, taint in enumerate(_maps(spec.get("taints"))):
        tp = _index("metadata.taints", i)
        key = _str(taint.get("key"))
        _validate_qualified_name(errs, key, _child(tp, "key"))
        value = _str(taint.get("value"))
        msgs = label_value_errors(value)
        if msgs:
            errs.invalid(_child(tp, "value"), value, ";".join(msgs))
        effect = _str(taint.get("effect"))
        if not effect:
            errs.required(_child(tp, "effect"))
        elif effect not in _TAINT_EFFECTS:
            errs.not_supported(_child(tp, "effect"), effect, _TAINT_EFFECTS)
        if key in unique.get(effect, set()):
            errs.duplicate(tp, taint, "taints must be unique by key and effect pair")
            continue
        unique.setdefault(effect, set()).add(key)
    cidrs = _list(spec.get("podCIDRs"))
    for i, cidr in enumerate(cidrs):
        try:
            ipaddress.ip_network(_str(cidr), strict=False)
        except ValueError:
            errs.invalid(
                _index("spec.podCIDRs", i),
                cidr,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            )
    if len(cidrs) > 1 and (len(cidrs) > 2 or len({":" in _str(c) for c in cidrs}) != 2):
        errs.invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family")
    if old is not None:
        old_spec = _map(old.get("spec"))
        old_cidrs = _list(old_spec.get("podCIDRs"))
        if old_cidrs and _plain(old_cidrs) != _plain(cidrs):
            errs.forbidden(
                "spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'
            )
        old_provider = _str(old_spec.get("providerID"))
        if old_provider and old_provider != spec.get("providerID"):
            errs.forbidden(
                "spec.providerID", 'node updates may not change providerID except from "" to valid'
            )


def _validate_node_resources(errs: _Errors, status: Mapping[str, Any]) -> None:
    """upstream's ValidateNodeResources, on create and on every update: a Node's status may
    be set by its client, but its capacity and allocatable must be valid quantities."""
    for field in ("capacity", "allocatable"):
        resources = _map(status.get(field))
        hugepage_sizes: set[str] = set()
        for name in sorted(resources):
            path = _key(f"status.{field}", name)
            q = _validate_resource_quantity(errs, name, resources[name], path)
            if q is not None and _is_hugepages(name) and q > 0:
                hugepage_sizes.add(name)
                if len(hugepage_sizes) > 1:
                    errs.invalid(
                        path,
                        _quantity_string(resources[name], q),
                        "may not have pre-allocated hugepages for multiple page sizes",
                    )


def _validate_lease(errs: _Errors, lease: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
    _validate_meta(errs, "Lease", lease, old)
    spec = _map(lease.get("spec"))
    duration = _int_field(errs, spec, "leaseDurationSeconds", "spec.leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    transitions = _int_field(errs, spec, "leaseTransitions", "spec.leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.invalid("spec.leaseTransitions", transitions, NEGATIVE)
    strategy = spec.get("strategy")
    if strategy is not None:
        text = _str(strategy)
        if "/" not in text:
            if text != "OldestEmulationVersion":
                errs.not_supported("spec.strategy.strategy", strategy, ("OldestEmulationVersion",))
        else:
            _validate_qualified_name(errs, text, "spec.strategy.strategy")
    if spec.get("preferredHolder") and not strategy:
        errs.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")


def _validate_event(errs: _Errors, event: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
    """core/v1 Events: the legacy checks only, plus generic ObjectMeta validation."""
    _validate_meta(errs, "Event", event, old)
    namespace = _str(_map(event.get("metadata")).get("namespace"))
    involved_namespace = _str(_map(event.get("involvedObject")).get("namespace"))
    path = "involvedObject.namespace"
    if not event.get("eventTime"):
        if not involved_namespace:
            if namespace not in ("", "default"):
                errs.invalid(path, involved_namespace, "does not match event.namespace")
        elif namespace != involved_namespace:
            errs.invalid(path, involved_namespace, "does not match event.namespace")
    else:
        if not involved_namespace and namespace not in ("default", "kube-system"):
            errs.invalid(path, involved_namespace, "does not match event.namespace")
        controller = _str(event.get("reportingComponent") or event.get("reportingController"))
        if not controller:
            errs.required("reportingController")
        _validate_qualified_name(errs, controller, "reportingController")
        instance = _str(event.get("reportingInstance"))
        if not instance:
            errs.required("reportingInstance")
        if len(instance) > 128:
            errs.invalid("reportingInstance", "", "can have at most 128 characters")
        action = _str(event.get("action"))
        if not action:
            errs.required("action")
        if len(action) > 128:
            errs.invalid("action", "", "can have at most 128 characters")
        reason = _str(event.get("reason"))
        if not reason:
            errs.required("reason")
        if len(reason) > 128:
            errs.invalid("reason", "", "can have at most 128 characters")
        if len(_str(event.get("message"))) > 1024:
            errs.invalid("message", "", "can have at most 1024 characters")
    for msg in dns1123_subdomain_errors(namespace):
        errs.invalid("namespace", namespace, msg)


def _validate_priority_class(
    errs: _Errors, pc: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    _validate_meta(errs, "PriorityClass", pc, old)
    raw = pc.get("value", 0)
    value = 0
    if not _is_int(raw) or not INT32_MIN <= raw <= INT32_MAX:
        errs.invalid("value", raw, "must be a 32-bit integer")
    else:
        value = int(raw)
    if pc.get("globalDefault") is not None and not isinstance(pc.get("globalDefault"), bool):
        errs.invalid("globalDefault", pc.get("globalDefault"), "must be a boolean")
    name = _str(_map(pc.get("metadata")).get("name"))
    if name.startswith("system-"):
        known = SYSTEM_PRIORITY_CLASSES.get(name)
        problem = ""
        if known is None:
            problem = f"{name} is not a known system priority class"
        elif value != known:
            problem = f"value of {name} PriorityClass must be {known}"
        elif pc.get("globalDefault") is True:
            problem = f"globalDefault of {name} PriorityClass must be false"
        if problem:
            errs.forbidden(
                "metadata.name",
                "priority class names with 'system-' prefix are reserved for system use only. "
                f"error: {problem}",
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.forbidden(
            "value",
            "maximum allowed value of a user defined priority is "
            f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
        )
    policy = pc.get("preemptionPolicy")
    if policy is not None:
        if not policy:
            errs.required("preemptionPolicy")
        elif policy not in _PREEMPTION_POLICIES:
            errs.not_supported("preemptionPolicy", policy, _PREEMPTION_POLICIES)
    if old is not None:
        if pc.get("value", 0) != old.get("value", 0):
            errs.forbidden("value", "may not be changed in an update.")
        errs.immutable("preemptionPolicy", pc.get("preemptionPolicy"), old.get("preemptionPolicy"))


_VALIDATORS: dict[str, Callable[[_Errors, Mapping[str, Any], Mapping[str, Any] | None], None]] = {
    "Namespace": _validate_namespace,
    "Node": _validate_node,
    "Pod": _validate_pod,
    "ReplicaSet": _validate_replica_set,
    "Deployment": _validate_deployment,
    "DaemonSet": _validate_daemon_set,
    "StatefulSet": _validate_stateful_set,
    "ControllerRevision": _validate_controller_revision,
    "Service": _validate_service,
    "Endpoints": _validate_endpoints,
    "EndpointSlice": _validate_endpoint_slice,
    "ConfigMap": _validate_config_map,
    "Secret": _validate_secret,
    "Lease": _validate_lease,
    "Event": _validate_event,
    "PriorityClass": _validate_priority_class,
}
