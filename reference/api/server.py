"""The API server as a request reducer over the store.

`handle(api, request, now, policy)` answers one protocol request and returns
the new API state. A refused request raises `ApiError` inside and answers a
`Status`; the state returned is then the one given, so a refusal changes
nothing by construction. Controllers use the same reducer with
`system=True`, which also opens the internal subresources (`status`,
`finalize`, `bind`) that the protocol does not expose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from properties.labels import SelectorSyntaxError, from_label_selector, parse_selector
from reference.api import errors
from reference.api.admission import (
    add_default_tolerations,
    add_default_tolerations_in_place,
    admit_priority_in_place,
    keep_priority,
)
from reference.api.defaults import apply_defaults
from reference.api.errors import ApiError, Cause
from reference.api.kinds import KINDS, Kind, kind_of_key
from reference.api.patch import merge_patch
from reference.api.service_allocation import (
    Draw,
    Held,
    allocate_on_create,
    allocate_on_update,
    held_by,
)
from reference.api.validation import validate
from reference.constants import (
    FINALIZER_FOREGROUND,
    FINALIZER_NAMESPACE,
    FINALIZER_ORPHAN,
    GENERATE_NAME_SUFFIX_ALPHABET,
    GENERATE_NAME_SUFFIX_LENGTH,
    IMMORTAL_NAMESPACES,
    MAX_GENERATED_NAME_LENGTH,
    TIMING_PARAMETERS,
)
from reference.objects import copy_json, decode, decode_all, encode
from reference.store import (
    Compacted,
    Compare,
    DeleteRange,
    FutureRevision,
    KeyValue,
    Put,
    Store,
    prefix_end,
)
from reference.timefmt import format_time, format_whole_seconds, parse_time

__all__ = [
    "DEFAULT_POLICY",
    "SYSTEM_ONLY",
    "VERBS",
    "ApiPolicy",
    "ApiState",
    "handle",
    "read_object",
]

_CONFLICT_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_PROPAGATION = ("Background", "Foreground", "Orphan")


def _spec_changed(kind: Kind, old: Mapping[str, Any], new: Mapping[str, Any], sent: Any) -> bool:
    """Whether a write changes what metadata.generation tracks (each kind's PrepareForUpdate).

    Deployments also track annotations, because the controller copies them
    onto ReplicaSets; EndpointSlices track everything outside metadata plus
    their labels.
    """
    if kind.name == "EndpointSlice":
        return bool(
            _without_metadata(old) != _without_metadata(new)
            or (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {})
        )
    if old.get("spec") != new.get("spec"):
        return True
    if kind.name == "Deployment":
        return bool(
            (old["metadata"].get("annotations") or {}) != (new["metadata"].get("annotations") or {})
        )
    return False


def _without_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata"}


def _stale(given: str, current: str) -> bool:
    return given != current


@attrs.frozen
class ApiPolicy:
    """The API server's choices that mutants replace (composition, never monkeypatching)."""

    #: The resourceVersion an object shows, from its store entry (etcd: the mod revision).
    resource_version: Callable[[KeyValue], int] = lambda kv: kv.mod_revision
    #: Whether a given resourceVersion precondition fails against the current one.
    precondition_stale: Callable[[str, str], bool] = _stale
    #: Whether a write bumps metadata.generation: (kind, old, new, object as sent).
    generation_changes: Callable[[Kind, Mapping[str, Any], Mapping[str, Any], Any], bool] = (
        _spec_changed
    )
    #: ValidateNoNewFinalizers: refuse finalizers added to a terminating object.
    forbid_new_finalizers_while_deleting: bool = True
    #: Per-kind validation (mutants drop rules from it).
    validate: Callable[[str, Mapping[str, Any], Mapping[str, Any] | None], list[Cause]] = validate
    #: A create of an existing name is refused (False: it replaces the object, an upsert).
    refuse_existing_on_create: bool = True
    #: A stale precondition is refused before anything is written (False: written anyway).
    conflicts_write_nothing: bool = True
    #: How many revisions behind the store a `get` reads (0: consistent reads).
    read_lag: int = 0
    #: An update keeps the object's uid (False: it is reassigned).
    updates_keep_uid: bool = True
    #: Main-resource writes ignore `status` (False: the client's status is stored).
    main_resource_ignores_status: bool = True
    #: Finalizers hold a deleted object (False: delete removes it at once).
    honor_finalizers: bool = True
    #: Events a watch skips after the resourceVersion asked for (0: none).
    watch_skips: int = 0
    #: A list with a namespace lists only that namespace.
    list_honors_namespace: bool = True
    #: A binding of a pod already assigned is refused (False: it moves the pod).
    bind_refuses_assigned: bool = True
    #: A dynamic NodePort allocation hands out a port another Service holds (kubernetes#44098).
    reuse_allocated_node_ports: bool = False


DEFAULT_POLICY = ApiPolicy()


@attrs.frozen
class ApiState:
    store: Store = attrs.field(factory=Store)
    seed: int = 0
    #: Counter from which uids and generated names derive, so they are a function of the seed.
    serial: int = 0


Answer = dict[str, Any]
Verb = Callable[[ApiState, Mapping[str, Any], float, ApiPolicy, bool], tuple[ApiState, Answer]]


def handle(
    api: ApiState,
    request: Mapping[str, Any],
    now: float,
    policy: ApiPolicy = DEFAULT_POLICY,
    *,
    system: bool = False,
) -> tuple[ApiState, Answer]:
    """Answer one API request. Unknown verbs are the caller's business (see cluster.step)."""
    verb = VERBS[request["op"]]
    if request["op"] in SYSTEM_ONLY and not system:
        raise errors.not_implemented(request["op"])
    try:
        return verb(api, request, now, policy, system)
    except RefusedAfterWrite as e:
        return e.api, {"ok": False, "status": e.status()}


# -- reading -------------------------------------------------------------------------------------


def read_object(kv: KeyValue, policy: ApiPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """The stored object as a client sees it: plain JSON with its resourceVersion."""
    obj: dict[str, Any] = decode(kv.value)
    obj["metadata"]["resourceVersion"] = str(policy.resource_version(kv))
    return obj


def read_objects(
    kvs: Sequence[KeyValue], policy: ApiPolicy = DEFAULT_POLICY
) -> list[dict[str, Any]]:
    """`read_object` for many entries, decoded in one pass (snapshots and lists are hot)."""
    objects = decode_all([kv.value for kv in kvs])
    for kv, obj in zip(kvs, objects, strict=True):
        obj["metadata"]["resourceVersion"] = str(policy.resource_version(kv))
    return objects


def _kind(name: Any) -> Kind:
    if not isinstance(name, str) or not name:
        raise errors.bad_request("`kind` is required and must be a string")
    kind = KINDS.get(name)
    if kind is None:
        raise ApiError(
            404,
            "NotFound",
            f"the server could not find the requested resource (kind {name!r} is not served;"
            f" served kinds: {', '.join(sorted(KINDS))})",
        )
    return kind


def _namespace_of(kind: Kind, namespace: Any) -> str:
    if not kind.namespaced:
        return ""
    if namespace is None or namespace == "":
        return "default"
    if not isinstance(namespace, str):
        raise errors.bad_request("`namespace` must be a string")
    return namespace


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise errors.bad_request("`name` is required and must be a non-empty string")
    return value


def _address(request: Mapping[str, Any]) -> tuple[Kind, str, str]:
    kind = _kind(request.get("kind"))
    return kind, _namespace_of(kind, request.get("namespace")), _name(request.get("name"))


def _existing(api: ApiState, kind: Kind, namespace: str, name: str) -> KeyValue:
    kv = api.store.get(kind.key(namespace, name))
    if kv is None:
        raise errors.not_found(kind.name, name)
    return kv


def _get(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    kind, namespace, name = _address(request)
    if policy.read_lag:
        revision = max(api.store.revision - policy.read_lag, api.store.compact_revision, 1)
        found = api.store.range(kind.key(namespace, name), None, revision).kvs
        if not found:
            raise errors.not_found(kind.name, name)
        return api, {"ok": True, "object": read_object(found[0], policy)}
    return api, {"ok": True, "object": read_object(_existing(api, kind, namespace, name), policy)}


def _list(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    kind = _kind(request.get("kind"))
    namespace = request.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise errors.bad_request("`namespace` must be a string")
    selector = _label_selector(request.get("labelSelector"))
    fields = _field_selector(kind, request.get("fieldSelector"))
    prefix = kind.prefix((namespace or None) if policy.list_honors_namespace else None)
    kvs = api.store.range(prefix, prefix_end(prefix))
    items = []
    for obj in read_objects(kvs.kvs, policy):
        if selector is not None and not selector.matches(obj["metadata"].get("labels") or {}):
            continue
        if not all(check(obj) for check in fields):
            continue
        items.append(obj)
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return api, {"ok": True, "items": items, "resourceVersion": str(api.store.revision)}


def _label_selector(text: Any) -> Any:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise errors.bad_request("`labelSelector` must be a string")
    try:
        return parse_selector(text)
    except SelectorSyntaxError as e:
        raise errors.bad_request(f"unable to parse requirement: {e}") from None


_POD_FIELDS = {
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
    "spec.restartPolicy": lambda o: (o.get("spec") or {}).get("restartPolicy", ""),
    "spec.schedulerName": lambda o: (o.get("spec") or {}).get("schedulerName", ""),
    "spec.serviceAccountName": lambda o: (o.get("spec") or {}).get("serviceAccountName", ""),
    "spec.hostNetwork": lambda o: str(bool((o.get("spec") or {}).get("hostNetwork"))).lower(),
    "status.podIP": lambda o: (o.get("status") or {}).get("podIP", ""),
    "status.nominatedNodeName": lambda o: (o.get("status") or {}).get("nominatedNodeName", ""),
}
_COMMON_FIELDS = {
    "metadata.name": lambda o: o["metadata"]["name"],
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}


def _field_selector(kind: Kind, text: Any) -> list[Callable[[Mapping[str, Any]], bool]]:
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise errors.bad_request("`fieldSelector` must be a string")
    supported = dict(_COMMON_FIELDS)
    if kind.name == "Pod":
        supported.update(_POD_FIELDS)
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in text.split(","):
        term = term.strip()
        for op in ("!=", "==", "="):
            if op in term:
                field, value = (p.strip() for p in term.split(op, 1))
                break
        else:
            raise errors.bad_request(f"invalid field selector {term!r}: expected field=value")
        getter = supported.get(field)
        if getter is None:
            raise errors.bad_request(
                f'field label not supported: "{field}" (supported for {kind.name}:'
                f" {', '.join(sorted(supported))})"
            )
        checks.append(_field_check(getter, value, negate=op == "!="))
    return checks


def _field_check(
    getter: Callable[[Mapping[str, Any]], Any], value: str, *, negate: bool
) -> Callable[[Mapping[str, Any]], bool]:
    return lambda obj: (getter(obj) == value) != negate


# -- identity --------------------------------------------------------------------------------


def _digest(seed: int, serial: int, purpose: str) -> bytes:
    return hashlib.sha256(f"{seed}/{purpose}/{serial}".encode()).digest()


def _reissued_uid(uid: str) -> str:
    """A new uid derived from an old one, for the mutant that reassigns uids on update."""
    x = hashlib.sha256(f"reissued/{uid}".encode()).hexdigest()
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-8{x[17:20]}-{x[20:32]}"


def _uid(seed: int, serial: int) -> str:
    h = bytearray(_digest(seed, serial, "uid")[:16])
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _service_draw(seed: int, serial: int) -> Draw:
    """The randomness of one Service write's allocations, a function of the seed and a serial."""

    def draw(purpose: str) -> int:
        return int.from_bytes(_digest(seed, serial, f"service/{purpose}")[:8], "big")

    return draw


def _services_held(api: ApiState, excluding: str | None = None) -> Held:
    """What the stored Services hold (but the one at `excluding`): the allocators' state."""
    prefix = KINDS["Service"].prefix()
    kvs = api.store.range(prefix, prefix_end(prefix)).kvs
    return held_by(decode_all([kv.value for kv in kvs if kv.key != excluding]))


def _name_suffix(seed: int, serial: int) -> str:
    digest = _digest(seed, serial, "name")
    alphabet = GENERATE_NAME_SUFFIX_ALPHABET
    return "".join(alphabet[b % len(alphabet)] for b in digest[:GENERATE_NAME_SUFFIX_LENGTH])


# -- writing ---------------------------------------------------------------------------------


def _object_arg(request: Mapping[str, Any]) -> dict[str, Any]:
    obj = request.get("object")
    if not isinstance(obj, Mapping):
        raise errors.bad_request("`object` is required and must be a JSON object")
    meta = obj.get("metadata", {})
    if not isinstance(meta, Mapping):
        raise errors.bad_request("`object.metadata` must be a JSON object")
    result: dict[str, Any] = copy_json(dict(obj))
    result["metadata"] = copy_json(dict(meta))
    return result


def _check_api_version(kind: Kind, obj: Mapping[str, Any]) -> None:
    given = obj.get("apiVersion")
    if given is not None and given != kind.api_version:
        raise errors.bad_request(
            f"apiVersion {given!r} is not served for kind {kind.name}; use {kind.api_version!r}"
        )


def _admit_to_namespace(api: ApiState, kind: Kind, namespace: str, name: str) -> None:
    if not kind.namespaced:
        return
    ns = api.store.get(KINDS["Namespace"].key("", namespace))
    if ns is None:
        raise errors.not_found("Namespace", namespace)
    if decode(ns.value)["metadata"].get("deletionTimestamp"):
        raise ApiError(
            403,
            "Forbidden",
            f'{kind.plural} "{name}" is forbidden: unable to create new content in namespace'
            f" {namespace} because it is being terminated",
            details={
                "name": name,
                "kind": kind.plural,
                "causes": [
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            },
        )


_SERVER_OWNED = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)


#: Kinds whose client sets the status on create, defaulted and validated as the rest: a
#: kubelet registers its Node with its capacity (upstream's node strategy keeps the status).
_STATUS_SET_ON_CREATE = frozenset({"Node"})


def _initial_status(kind: Kind, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    if kind.name == "Namespace":
        return {"phase": "Active"}
    if kind.name == "Pod":
        return {"phase": "Pending", "qosClass": _qos_class(obj)}
    return None  # other kinds start without status, or have none at all


def _qos_class(pod: Mapping[str, Any]) -> str:
    """status.qosClass as the API server computes it at create (pkg/apis/core/helper/qos)."""
    containers = list((pod.get("spec") or {}).get("containers") or []) + list(
        (pod.get("spec") or {}).get("initContainers") or []
    )
    requests: set[str] = set()
    guaranteed = True
    any_set = False
    for c in containers:
        res = c.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        for name in ("cpu", "memory"):
            if req.get(name) or lim.get(name):
                any_set = True
            if not lim.get(name) or (req.get(name) and req.get(name) != lim.get(name)):
                guaranteed = False
        requests.update(req)
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _create(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    obj = _object_arg(request)
    kind = _kind(obj.get("kind"))
    _check_api_version(kind, obj)
    meta = obj["metadata"]
    namespace = _namespace_of(kind, meta.get("namespace") or request.get("namespace"))
    if kind.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    serial = api.serial
    name = meta.get("name")
    # Admission runs before the name is generated, so its refusals name the prefix.
    admission_name = name or meta.get("generateName") or "Unknown"
    if not name:
        base = meta.get("generateName")
        if not isinstance(base, str) or not base:
            raise errors.invalid(
                kind.name,
                "",
                [Cause("metadata.name", "name or generateName is required", "FieldValueRequired")],
            )
        for _ in range(8):
            serial += 1
            candidate = base[:MAX_GENERATED_NAME_LENGTH] + _name_suffix(api.seed, serial)
            if api.store.get(kind.key(namespace, candidate)) is None:
                break
        name = candidate
        meta["name"] = name
    elif not isinstance(name, str):
        raise errors.bad_request("`metadata.name` must be a string")
    for field in _SERVER_OWNED:
        meta.pop(field, None)
    status = _initial_status(kind, obj)
    if kind.name not in _STATUS_SET_ON_CREATE:
        obj.pop("status", None)
    obj["apiVersion"] = kind.api_version
    obj = apply_defaults(kind.name, obj)
    if kind.name == "Pod":  # mutating admission, before validation, in upstream's order
        # `apply_defaults` answered a fresh object: admission may write into it.
        obj = admit_priority_in_place(obj, _priority_classes(api), admission_name)
        obj = add_default_tolerations_in_place(obj)
    if kind.name == "Service":  # the storage's BeginCreate allocates before validation
        obj = allocate_on_create(
            obj,
            _services_held(api),
            _service_draw(api.seed, serial + 1),
            reuse_node_ports=policy.reuse_allocated_node_ports,
        )
    causes = policy.validate(kind.name, obj, None)
    if causes:
        raise errors.invalid(kind.name, name, causes)
    # NamespaceLifecycle is validating admission: it runs after the strategy's validation.
    _admit_to_namespace(api, kind, namespace, name)
    key = kind.key(namespace, name)
    if api.store.get(key) is not None and policy.refuse_existing_on_create:
        raise errors.already_exists(kind.name, name)
    serial += 1
    meta = obj["metadata"]
    meta["uid"] = _uid(api.seed, serial)
    meta["creationTimestamp"] = format_whole_seconds(now)
    if kind.generation:
        meta["generation"] = 1
    if kind.name == "Namespace":
        spec_finalizers = list((obj.get("spec") or {}).get("finalizers") or [])
        if FINALIZER_NAMESPACE not in spec_finalizers:
            spec_finalizers.append(FINALIZER_NAMESPACE)
        obj.setdefault("spec", {})["finalizers"] = spec_finalizers
    if kind.name == "DaemonSet" and (obj["spec"].get("templateGeneration") or 0) < 1:
        obj["spec"]["templateGeneration"] = 1
    if status is not None:
        obj["status"] = status
    guard = [Compare(key, "CREATE", "EQUAL", 0)] if policy.refuse_existing_on_create else []
    store, result = api.store.txn(guard, [Put(key, encode(obj))])
    assert result.succeeded
    api = attrs.evolve(api, store=store, serial=serial)
    kv = store.get(key)
    assert kv is not None
    return api, {"ok": True, "object": read_object(kv, policy)}


def _priority_classes(api: ApiState) -> dict[str, dict[str, Any]]:
    """Every stored PriorityClass by name, for the Priority admission plugin."""
    prefix = KINDS["PriorityClass"].prefix()
    kvs = api.store.range(prefix, prefix_end(prefix)).kvs
    return {pc["metadata"]["name"]: pc for pc in decode_all([kv.value for kv in kvs])}


def _update(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    obj = _object_arg(request)
    kind = _kind(obj.get("kind"))
    _check_api_version(kind, obj)
    namespace = _namespace_of(kind, obj["metadata"].get("namespace") or request.get("namespace"))
    name = _name(obj["metadata"].get("name"))
    return _write(api, kind, namespace, name, obj, now, policy, "main")


def _status(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    obj = _object_arg(request)
    kind = _kind(obj.get("kind"))
    namespace = _namespace_of(kind, obj["metadata"].get("namespace") or request.get("namespace"))
    return _write(
        api, kind, namespace, _name(obj["metadata"].get("name")), obj, now, policy, "status"
    )


def _finalize(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    obj = _object_arg(request)
    return _write(
        api,
        KINDS["Namespace"],
        "",
        _name(obj["metadata"].get("name")),
        obj,
        now,
        policy,
        "finalize",
    )


def _bind(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    """pods/binding: put an unassigned pod on a node (the scheduler's only write of nodeName).

    Upstream's `BindingREST` (pkg/registry/core/pod/storage/storage.go,
    `assignPod` and `setPodNodeAndMetadata`) writes straight to storage with
    `GuaranteedUpdate`: no admission, no validation, no strategy, so
    metadata.generation stays although spec.nodeName changes. The optional
    `uid` and `resourceVersion` are storage preconditions, checked first; a
    failed one is the store's "invalid object" error, a 409 on `pods`. Then a
    terminating pod, an assigned one, or one with scheduling gates is a 409 on
    `pods/binding`. The write sets spec.nodeName and the PodScheduled
    condition to True (`UpdatePodCondition`); status.nominatedNodeName stays
    (ClearingNominatedNodeNameAfterBinding is alpha, off, in 1.34).
    """
    kind = KINDS["Pod"]
    namespace = _namespace_of(kind, request.get("namespace"))
    name = _name(request.get("name"))
    node = request.get("node")
    if not isinstance(node, str) or not node:
        raise errors.bad_request("`node` is required and must be a non-empty string")
    uid = request.get("uid")
    given_rv = request.get("resourceVersion")
    for field, value in (("uid", uid), ("resourceVersion", given_rv)):
        if value is not None and not isinstance(value, str):
            raise errors.bad_request(f"`{field}` must be a string")
    key = kind.key(namespace, name)
    kv = _existing(api, kind, namespace, name)
    pod: dict[str, Any] = decode(kv.value)
    meta = pod["metadata"]
    current_rv = str(policy.resource_version(kv))
    if uid and uid != meta["uid"]:
        raise _precondition_failed(
            kind, name, key, f"UID in precondition: {uid}, UID in object meta: {meta['uid']}"
        )
    if given_rv and policy.precondition_stale(given_rv, current_rv):
        raise _precondition_failed(
            kind,
            name,
            key,
            f"ResourceVersion in precondition: {given_rv},"
            f" ResourceVersion in object meta: {current_rv}",
        )
    spec = pod.setdefault("spec", {})
    if meta.get("deletionTimestamp"):
        raise _binding_conflict(name, f"pod {name} is being deleted, cannot be assigned to a host")
    if spec.get("nodeName") and policy.bind_refuses_assigned:
        raise _binding_conflict(
            name, f'pod {name} is already assigned to node "{spec["nodeName"]}"'
        )
    if spec.get("schedulingGates"):
        raise _binding_conflict(name, f"pod {name} has non-empty .spec.schedulingGates")
    spec["nodeName"] = node
    status = pod.get("status")
    if not isinstance(status, dict):
        status = pod["status"] = {}
    status["conditions"] = _update_condition(status.get("conditions"), "PodScheduled", now)
    api, written = _put(api, key, kv, pod)
    return api, {"ok": True, "object": read_object(written, policy)}


def _precondition_failed(kind: Kind, name: str, key: str, why: str) -> ApiError:
    """A storage precondition that failed, as `InterpretUpdateError` reports it (409)."""
    return errors.conflict(
        kind.name,
        name,
        f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0,"
        f" AdditionalErrorMsg: Precondition failed: {why}",
    )


def _binding_conflict(name: str, why: str) -> ApiError:
    """`errors.NewConflict(api.Resource("pods/binding"), name, err)`."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on pods/binding "{name}": {why}',
        details={"name": name, "kind": "pods/binding"},
    )


def _update_condition(conditions: Any, kind: str, now: float) -> list[Any]:
    """podutil.UpdatePodCondition with a True condition of type `kind` and nothing else set.

    The new condition replaces the old one whole (so reason and message
    go); lastTransitionTime is now, or the old one's when the status was
    already True; lastProbeTime is the zero time, written as null.
    """
    kept = list(conditions) if isinstance(conditions, list) else []
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": format_whole_seconds(now),
    }
    for i, old in enumerate(kept):
        if isinstance(old, Mapping) and old.get("type") == kind:
            if old.get("status") == "True" and old.get("lastTransitionTime"):
                condition["lastTransitionTime"] = old["lastTransitionTime"]
            kept[i] = condition
            return kept
    return [*kept, condition]


def _write(
    api: ApiState,
    kind: Kind,
    namespace: str,
    name: str,
    sent: dict[str, Any],
    now: float,
    policy: ApiPolicy,
    subresource: str,
) -> tuple[ApiState, Answer]:
    key = kind.key(namespace, name)
    kv = _existing(api, kind, namespace, name)
    old: dict[str, Any] = decode(kv.value)
    current_rv = str(policy.resource_version(kv))
    given_rv = sent["metadata"].get("resourceVersion")
    if given_rv not in (None, "") and policy.precondition_stale(str(given_rv), current_rv):
        refusal = errors.conflict(kind.name, name, _CONFLICT_MESSAGE)
        if policy.conflicts_write_nothing:
            raise refusal
        unchecked = {**sent, "metadata": {**sent["metadata"], "resourceVersion": None}}
        after_write, _ = _write(api, kind, namespace, name, unchecked, now, policy, subresource)
        raise RefusedAfterWrite(after_write, refusal)
    given_uid = sent["metadata"].get("uid")
    if given_uid not in (None, "") and given_uid != old["metadata"]["uid"]:
        raise errors.conflict(
            kind.name,
            name,
            f"Precondition failed: UID in precondition: {given_uid},"
            f" UID in object meta: {old['metadata']['uid']}",
        )
    new = _merge_for_update(kind, old, sent, subresource, policy)
    allocated = False
    if subresource == "main":
        new = apply_defaults(kind.name, new)
        if kind.name == "Pod":  # both plugins admit Update too
            new = keep_priority(new, old)
            new = add_default_tolerations(new)
        if kind.name == "Service":  # BeginUpdate, then PrepareForUpdate, then validation
            new, allocated = allocate_on_update(
                new,
                old,
                _services_held(api, excluding=key),
                _service_draw(api.seed, api.serial + 1),
                reuse_node_ports=policy.reuse_allocated_node_ports,
            )
    causes = policy.validate(kind.name, new, old)
    causes += _finalizer_causes(old, new, policy)
    if subresource == "main" and not old["metadata"].get("deletionTimestamp"):
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if sent["metadata"].get(field) is not None:
                causes.append(Cause(f"metadata.{field}", "field is immutable"))
    if causes:
        raise errors.invalid(kind.name, name, causes)
    if kind.name == "DaemonSet" and subresource == "main":
        template_generation = (old.get("spec") or {}).get("templateGeneration", 1)
        if (old.get("spec") or {}).get("template") != (new.get("spec") or {}).get("template"):
            template_generation += 1
        new.setdefault("spec", {})["templateGeneration"] = template_generation
    if (
        kind.generation
        and subresource == "main"
        and policy.generation_changes(kind, old, new, sent)
    ):
        new["metadata"]["generation"] = old["metadata"].get("generation", 0) + 1
    if new == old:
        return api, {"ok": True, "object": read_object(kv, policy)}
    if allocated:
        api = attrs.evolve(api, serial=api.serial + 1)
    meta = new["metadata"]
    if (
        meta.get("deletionTimestamp")
        and not meta.get("finalizers")
        and not meta.get("deletionGracePeriodSeconds")
        and not _namespace_finalizers(kind, new)
    ):
        store, result = api.store.txn(
            [Compare(key, "MOD", "EQUAL", kv.mod_revision)], [DeleteRange(key)]
        )
        assert result.succeeded
        new["metadata"]["resourceVersion"] = str(store.revision)
        return attrs.evolve(api, store=store), {"ok": True, "object": new}
    store, result = api.store.txn(
        [Compare(key, "MOD", "EQUAL", kv.mod_revision)], [Put(key, encode(new))]
    )
    assert result.succeeded
    written = store.get(key)
    assert written is not None
    return attrs.evolve(api, store=store), {"ok": True, "object": read_object(written, policy)}


class RefusedAfterWrite(ApiError):
    """A refusal answered after a write already happened (only mutants do this)."""

    def __init__(self, api: ApiState, refusal: ApiError) -> None:
        super().__init__(refusal.code, refusal.reason, refusal.message, details=refusal.details)
        self.api = api


def _namespace_finalizers(kind: Kind, obj: Mapping[str, Any]) -> list[str]:
    if kind.name != "Namespace":
        return []
    return list((obj.get("spec") or {}).get("finalizers") or [])


def _merge_for_update(
    kind: Kind,
    old: Mapping[str, Any],
    sent: Mapping[str, Any],
    subresource: str,
    policy: ApiPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """The object to store: what was sent, with what the client may not change taken from old."""
    new: dict[str, Any]
    if subresource == "status":
        new = copy_json(dict(old))
        if "status" in sent:
            new["status"] = copy_json(sent["status"])
        else:
            new.pop("status", None)
        sent_annotations = sent["metadata"].get("annotations")
        if kind.name == "Deployment" and isinstance(sent_annotations, Mapping):
            # deploymentStatusStrategy keeps only spec and labels: the controller records
            # its revision annotation through /status, which does not move the generation.
            new["metadata"]["annotations"] = copy_json(dict(sent_annotations))
        return new
    if subresource == "finalize":
        new = copy_json(dict(old))
        new.setdefault("spec", {})["finalizers"] = list(
            (sent.get("spec") or {}).get("finalizers") or []
        )
        return new
    new = copy_json(dict(sent))
    new["apiVersion"] = kind.api_version
    meta = new["metadata"]
    old_meta = old["metadata"]
    meta["name"] = old_meta["name"]
    if kind.namespaced:
        meta["namespace"] = old_meta["namespace"]
    for field in _SERVER_OWNED:
        meta.pop(field, None)
        if field in old_meta and field != "resourceVersion":
            meta[field] = old_meta[field]
    if not policy.updates_keep_uid:
        meta["uid"] = _reissued_uid(old_meta["uid"])
    if not kind.status:
        new.pop("status", None)  # kinds without status drop the field, as decoding does upstream
    elif policy.main_resource_ignores_status:
        if "status" in old:
            new["status"] = copy_json(old["status"])
        else:
            new.pop("status", None)
    if kind.name == "Namespace":
        spec = new.setdefault("spec", {})
        spec["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])
    return new


def _finalizer_causes(
    old: Mapping[str, Any], new: Mapping[str, Any], policy: ApiPolicy
) -> list[Cause]:
    if not policy.forbid_new_finalizers_while_deleting:
        return []
    if not old["metadata"].get("deletionTimestamp"):
        return []
    before = set(old["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if not added:
        return []
    listed = ", ".join(f'"{f}"' for f in added)
    return [
        Cause(
            "metadata.finalizers",
            f"no new finalizers can be added if the object is being deleted,"
            f" found new finalizers []string{{{listed}}}",
            "FieldValueForbidden",
        )
    ]


def _patch(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    kind, namespace, name = _address(request)
    patch = request.get("patch")
    if not isinstance(patch, Mapping):
        raise errors.bad_request("`patch` is required and must be a JSON merge patch (an object)")
    kv = _existing(api, kind, namespace, name)
    current = read_object(kv, policy)
    merged = merge_patch(current, patch)
    if not isinstance(merged.get("metadata"), Mapping):
        raise errors.bad_request("the patch may not remove `metadata`")
    if merged["metadata"].get("name") != name:
        raise errors.bad_request(
            f"the name of the object ({merged['metadata'].get('name')}) does not match the"
            f" name on the URL ({name})"
        )
    if kind.namespaced and merged["metadata"].get("namespace") != namespace:
        raise errors.bad_request("the namespace of the object does not match the request's")
    if merged.get("kind") != kind.name or merged.get("apiVersion") != kind.api_version:
        raise errors.bad_request("a patch may not change `kind` or `apiVersion`")
    patched_meta = patch.get("metadata")
    if not (isinstance(patched_meta, Mapping) and patched_meta.get("resourceVersion")):
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    return _write(api, kind, namespace, name, merged, now, policy, "main")


def _scale(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    kind, namespace, name = _address(request)
    if not kind.scale:
        raise ApiError(
            404,
            "NotFound",
            f"the server could not find the requested resource ({kind.name}"
            " has no scale subresource)",
        )
    replicas = request.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise errors.bad_request("`replicas` is required and must be an integer")
    kv = _existing(api, kind, namespace, name)
    if replicas < 0:
        raise errors.invalid(
            "Scale",
            name,
            [
                Cause(
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    obj = read_object(kv, policy)
    obj.setdefault("spec", {})["replicas"] = replicas
    api, answer = _write(api, kind, namespace, name, obj, now, policy, "main")
    return api, {"ok": True, "object": _scale_object(answer["object"])}


def _scale_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {
            "replicas": status.get("replicas", 0),
            "selector": str(from_label_selector(spec.get("selector"))),
        },
    }


def _delete(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    kind, namespace, name = _address(request)
    propagation = request.get("propagationPolicy")
    if propagation is not None and propagation not in _PROPAGATION:
        raise errors.invalid(
            "DeleteOptions",
            "",
            [
                Cause(
                    "propagationPolicy",
                    f'Unsupported value: "{propagation}":'
                    ' supported values: "Foreground", "Background",'
                    ' "Orphan"',
                    "FieldValueNotSupported",
                )
            ],
        )
    grace_given = request.get("gracePeriodSeconds")
    if grace_given is not None and (
        isinstance(grace_given, bool) or not isinstance(grace_given, int)
    ):
        raise errors.bad_request("`gracePeriodSeconds` must be an integer")
    if grace_given is not None and grace_given < 0:
        grace_given = 1  # BeforeDelete: a negative grace period means one second
    preconditions = request.get("preconditions") or {}
    if not isinstance(preconditions, Mapping):
        raise errors.bad_request("`preconditions` must be an object")
    if kind.name == "Namespace" and name in IMMORTAL_NAMESPACES:
        raise errors.forbidden("Namespace", name, "this namespace may not be deleted")
    key = kind.key(namespace, name)
    kv = _existing(api, kind, namespace, name)
    obj: dict[str, Any] = decode(kv.value)
    meta = obj["metadata"]
    if preconditions.get("uid") not in (None, "") and preconditions["uid"] != meta["uid"]:
        raise errors.conflict(
            kind.name,
            name,
            f"Precondition failed: UID in precondition: {preconditions['uid']},"
            f" UID in object meta: {meta['uid']}",
        )
    rv = str(policy.resource_version(kv))
    if preconditions.get("resourceVersion") not in (None, "") and policy.precondition_stale(
        str(preconditions["resourceVersion"]), rv
    ):
        raise errors.conflict(
            kind.name,
            name,
            f"Precondition failed: ResourceVersion in precondition:"
            f" {preconditions['resourceVersion']}, ResourceVersion in object meta: {rv}",
        )
    new = copy_json(obj)
    new_meta = new["metadata"]
    terminating = bool(meta.get("deletionTimestamp"))
    pending_grace = (meta.get("deletionGracePeriodSeconds") or 0) > 0
    if kind.name == "Namespace":
        if terminating and _namespace_finalizers(kind, obj):
            return api, {"ok": True, "object": read_object(kv, policy)}
        _set_finalizers(new_meta, _finalizers_for_propagation(meta, propagation))
        if not terminating:
            new_meta["deletionTimestamp"] = format_whole_seconds(now)
            new.setdefault("status", {})["phase"] = "Terminating"
    elif kind.graceful and terminating and pending_grace:
        # BeforeDelete: a pending graceful deletion may only be shortened.
        old_grace = meta["deletionGracePeriodSeconds"]
        if grace_given is None or grace_given >= old_grace:
            return api, {"ok": True, "object": read_object(kv, policy)}
        started = parse_time(meta["deletionTimestamp"]) - old_grace
        new_meta["deletionTimestamp"] = format_whole_seconds(started + grace_given)
        new_meta["deletionGracePeriodSeconds"] = grace_given
        _set_finalizers(new_meta, _finalizers_for_propagation(meta, propagation))
    else:
        _set_finalizers(new_meta, _finalizers_for_propagation(meta, propagation))
        if not terminating:
            grace = _grace_period(kind, obj, grace_given)
            if kind.graceful or new_meta.get("finalizers"):
                new_meta["deletionTimestamp"] = format_whole_seconds(now + grace)
                new_meta["deletionGracePeriodSeconds"] = grace
                if kind.generation and meta.get("generation"):
                    new_meta["generation"] = meta["generation"] + 1
    remaining = (
        (bool(new_meta.get("finalizers")) and policy.honor_finalizers)
        or bool(_namespace_finalizers(kind, new))
        or (new_meta.get("deletionGracePeriodSeconds") or 0) > 0
    )
    if new != obj:
        api, kv = _put(api, key, kv, new)
    if remaining:
        return api, {"ok": True, "object": read_object(kv, policy)}
    store, result = api.store.txn(
        [Compare(key, "MOD", "EQUAL", kv.mod_revision)], [DeleteRange(key)]
    )
    assert result.succeeded
    return attrs.evolve(api, store=store), {"ok": True}


def _put(
    api: ApiState, key: str, kv: KeyValue, new: Mapping[str, Any]
) -> tuple[ApiState, KeyValue]:
    store, result = api.store.txn(
        [Compare(key, "MOD", "EQUAL", kv.mod_revision)], [Put(key, encode(new))]
    )
    assert result.succeeded
    written = store.get(key)
    assert written is not None
    return attrs.evolve(api, store=store), written


def _set_finalizers(meta: dict[str, Any], finalizers: list[str]) -> None:
    if finalizers:
        meta["finalizers"] = finalizers
    else:
        meta.pop("finalizers", None)


def _finalizers_for_propagation(meta: Mapping[str, Any], propagation: str | None) -> list[str]:
    """upstream's deletionFinalizersForGarbageCollection for the kinds served here.

    With no policy given, the GC finalizers the object already carries stay;
    otherwise they are replaced by the one the policy asks for (Background:
    none, the default for every kind served here).
    """
    finalizers = list(meta.get("finalizers") or [])
    if propagation is None:
        return finalizers
    kept = [f for f in finalizers if f not in (FINALIZER_ORPHAN, FINALIZER_FOREGROUND)]
    if propagation == "Orphan":
        kept.append(FINALIZER_ORPHAN)
    elif propagation == "Foreground":
        kept.append(FINALIZER_FOREGROUND)
    return kept


def _grace_period(kind: Kind, obj: Mapping[str, Any], given: int | None) -> int:
    """The grace period a delete applies: pods only, and none for unscheduled or finished pods."""
    if not kind.graceful:
        return 0
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    if given is None:
        given = spec.get("terminationGracePeriodSeconds")
        if given is None:
            given = TIMING_PARAMETERS["terminationGracePeriodSeconds"]
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    return given


# -- watch, compact, snapshot ------------------------------------------------------------------


def _revision_arg(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise errors.bad_request(f"`{field}` must be a decimal string")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.bad_request(f"`{field}` must be a decimal string, got {value!r}") from None


def _watch(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    since = _revision_arg(request.get("resourceVersion"), "resourceVersion")
    kind_name = request.get("kind")
    kind = _kind(kind_name) if kind_name is not None else None
    namespace = request.get("namespace")
    try:
        events = api.store.events_after(since, "/registry/", "\0")[policy.watch_skips :]
    except Compacted as e:
        raise ApiError(
            410, "Expired", f"too old resource version: {since} ({e.compact_revision})"
        ) from None
    except FutureRevision as e:
        raise ApiError(
            504, "Timeout", f"Too large resource version: {since}, current: {e.current}"
        ) from None
    out = []
    for event in events:
        event_kind = kind_of_key(event.kv.key)
        if kind is None and event_kind.name == "Event":
            continue
        if kind is not None and event_kind is not kind:
            continue
        if event.type == "DELETE":
            assert event.prev_kv is not None
            obj: dict[str, Any] = decode(event.prev_kv.value)
            obj["metadata"]["resourceVersion"] = str(event.kv.mod_revision)
            kind_of_event = "DELETED"
        else:
            obj = read_object(event.kv, policy)
            kind_of_event = "ADDED" if event.is_create else "MODIFIED"
        if namespace and obj["metadata"].get("namespace") != namespace:
            continue
        out.append({"type": kind_of_event, "object": obj})
    return api, {"ok": True, "events": out, "resourceVersion": str(api.store.revision)}


def _compact(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    revision = _revision_arg(request.get("resourceVersion"), "resourceVersion")
    try:
        store = api.store.compact(revision)
    except Compacted as e:
        raise ApiError(410, "Expired", str(e)) from None
    except FutureRevision as e:
        raise errors.bad_request(str(e)) from None
    return attrs.evolve(api, store=store), {"ok": True}


def snapshot_objects(api: ApiState, policy: ApiPolicy = DEFAULT_POLICY) -> list[dict[str, Any]]:
    """Every object but Events, at the current revision, ordered by kind, namespace, name."""
    kvs = [kv for kv in api.store.current.values() if not kv.key.startswith("/registry/events/")]
    kvs.sort(key=_snapshot_order)
    return read_objects(kvs, policy)


def _snapshot_order(kv: KeyValue) -> tuple[str, str, str]:
    """(kind, namespace, name) from a key, so that sorting needs no decoding."""
    parts = kv.key.split("/")  # "", "registry", plural, [namespace,] name
    kind = kind_of_key(kv.key)
    return (kind.name, parts[3], parts[4]) if kind.namespaced else (kind.name, "", parts[3])


def _snapshot(
    api: ApiState, request: Mapping[str, Any], now: float, policy: ApiPolicy, system: bool
) -> tuple[ApiState, Answer]:
    return api, {
        "ok": True,
        "now": format_time(now),
        "resourceVersion": str(api.store.revision),
        "objects": snapshot_objects(api, policy),
    }


VERBS: dict[str, Verb] = {
    "create": _create,
    "update": _update,
    "patch": _patch,
    "scale": _scale,
    "delete": _delete,
    "get": _get,
    "list": _list,
    "watch": _watch,
    "compact": _compact,
    "snapshot": _snapshot,
    "status": _status,
    "finalize": _finalize,
    "bind": _bind,
}
#: Subresources only the cluster's own components may write.
SYSTEM_ONLY = frozenset({"status", "finalize", "bind"})
