"""REST requests as protocol requests: the Kubernetes API's verbs over one cluster value.

`handle` answers one request inside a `Transaction`, a scratch copy of the
cluster that the caller keeps (commits) or drops: a dry run is simply a
transaction thrown away, and a request that fails halfway (a strategic
patch whose update is refused, a handler bug) changes nothing, because the
cluster is a value. Only the protocol's ops touch the cluster (`step`), so
the served cluster is the one the harness checks, with one addition the
protocol lacks: a client's write to `/status` (`write_status`).

Where the REST API asks more than the protocol offers, the choice is
documented on the function: `limit` is ignored (one page, no `continue`),
and server-side apply is create-or-merge without field ownership.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from conformance.serve.history import Expired, History, TooLarge
from conformance.serve.jsonpatch import JsonPatchError, json_patch
from conformance.serve.paths import ResourcePath
from conformance.serve.strategic import PatchError, strategic_merge
from conformance.serve.tables import table
from reference.api.kinds import Kind
from reference.api.patch import merge_patch
from reference.cluster import Cluster, step, write_status

__all__ = [
    "Refused",
    "Reply",
    "RestRequest",
    "Transaction",
    "handle",
    "not_found",
    "status",
]

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
    501: "NotImplemented",
    504: "Timeout",
}
#: resourceVersionMatch values a list accepts (metav1.ResourceVersionMatch).
EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"
#: Upstream's advice to retry a too-large resourceVersion (resourceVersionTooHighRetrySeconds).
RETRY_SECONDS = 1


@attrs.frozen
class Reply:
    code: int
    body: Any


@attrs.frozen
class RestRequest:
    method: str
    path: ResourcePath
    query: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    content_type: str = ""
    #: The client asked for a meta.k8s.io Table (`kubectl get`).
    table: bool = False

    @property
    def dry_run(self) -> bool:
        """`dryRun=All` on the query, or (for DELETE, as kubectl sends it) in DeleteOptions."""
        if self.query.get("dryRun") == "All":
            return True
        if self.method != "DELETE" or not self.body.strip():
            return False
        try:
            options = json.loads(self.body)
        except (ValueError, RecursionError):
            return False
        return isinstance(options, dict) and options.get("dryRun") == ["All"]


class Refused(Exception):
    """A request answered with a Status; raised anywhere in a handler, it becomes the reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.get("message", ""))
        self.reply = reply


class Transaction:
    """A cluster value and the protocol requests sent to it; the caller decides whether to
    keep it. `history` holds the recent committed values, for lists at an exact revision
    (without it, only the current revision is known)."""

    def __init__(self, cluster: Cluster, history: History | None = None) -> None:
        self.cluster = cluster
        self.history = history if history is not None else History(cluster)

    def send(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one protocol request; a refusal raises Refused with its Status."""
        self.cluster, answer = step(self.cluster, request)
        if not answer.get("ok"):
            raise Refused(_from_protocol(answer.get("status") or {}))
        return answer

    def write_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A client's /status write (outside the protocol, which has none); like `send`."""
        self.cluster, answer = write_status(self.cluster, obj)
        if not answer.get("ok"):
            raise Refused(_from_protocol(answer.get("status") or {}))
        return dict(answer["object"])


def status(code: int, message: str, reason: str | None = None, **details: Any) -> dict[str, Any]:
    """A failure `Status` (metav1.Status) as the API server writes it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def refuse(code: int, message: str, reason: str | None = None) -> Refused:
    return Refused(Reply(code, status(code, message, reason)))


def not_found(what: str = "") -> Reply:
    message = "the server could not find the requested resource"
    return Reply(404, status(404, f"{message} ({what})" if what else message))


def _from_protocol(given: Mapping[str, Any]) -> Reply:
    code = given.get("code")
    code = code if isinstance(code, int) else 500
    body = status(code, str(given.get("message", "")), given.get("reason"))
    if given.get("details"):
        body["details"] = given["details"]
    return Reply(code, body)


# -- bodies ----------------------------------------------------------------------------------------


def parse_body(raw: bytes, content_type: str) -> Any:
    """The request body as JSON values (YAML for apply patches); malformed bodies are a 400."""
    if "protobuf" in content_type or "cbor" in content_type:
        raise refuse(
            415,
            f"kubeprop serve reads JSON and YAML bodies, not {content_type}; kubectl's"
            " generator commands (`kubectl create namespace`, `kubectl create deployment`)"
            " send protobuf, so write the object to a file and `kubectl apply -f` it",
        )
    if not raw.strip():
        raise refuse(400, "the request has no body; this verb needs one")
    try:
        if content_type.startswith(APPLY_PATCH) or content_type.startswith("application/yaml"):
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError, RecursionError) as e:
        raise refuse(400, f"the request body is not valid JSON or YAML: {e}") from None


def _object_body(request: RestRequest) -> dict[str, Any]:
    body = parse_body(request.body, request.content_type)
    if not isinstance(body, dict):
        raise refuse(400, f"the request body must be an object, got {type(body).__name__}")
    return body


def _addressed(request: RestRequest, obj: dict[str, Any]) -> dict[str, Any]:
    """The object with kind, apiVersion and namespace checked against the URL (filled in
    when absent)."""
    kind = request.path.kind
    obj = dict(obj)
    obj.setdefault("kind", kind.name)
    obj.setdefault("apiVersion", kind.api_version)
    if obj["kind"] != kind.name or obj["apiVersion"] != kind.api_version:
        raise refuse(
            400,
            f"the object is a {obj['apiVersion']} {obj['kind']}, but the URL is for"
            f" {kind.api_version} {kind.name}",
        )
    meta = obj.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise refuse(400, "`metadata` must be an object")
    meta = dict(meta)
    if kind.namespaced and request.path.namespace is not None:
        if meta.get("namespace") not in (None, "", request.path.namespace):
            raise refuse(
                400,
                "the namespace of the provided object does not match the namespace sent on"
                " the request",
            )
        meta["namespace"] = request.path.namespace
    if request.path.name is not None and meta.get("name", request.path.name) != request.path.name:
        raise refuse(
            400,
            f"the name of the object ({meta.get('name')}) does not match the name on the URL"
            f" ({request.path.name})",
        )
    if request.path.name is not None:
        meta["name"] = request.path.name
    obj["metadata"] = meta
    return obj


def _address(path: ResourcePath) -> dict[str, Any]:
    address: dict[str, Any] = {"kind": path.kind.name, "name": path.name}
    if path.kind.namespaced:
        address["namespace"] = path.namespace or "default"
    return address


# -- verbs -----------------------------------------------------------------------------------------


def handle(tx: Transaction, request: RestRequest) -> Reply:
    """Answer one non-watch REST request; refusals come back as Status replies."""
    try:
        return _dispatch(tx, request)
    except Refused as e:
        return e.reply


def _dispatch(tx: Transaction, request: RestRequest) -> Reply:
    dry = request.query.get("dryRun")
    if dry not in (None, "", "All"):
        raise refuse(400, f"dryRun {dry!r} is not supported; the only value is All")
    path, method = request.path, request.method
    if path.name is None:
        if method == "GET":
            return _list(tx, request)
        if method == "POST":
            return _create(tx, request)
        raise refuse(405, f"{method} on a collection is not supported by kubeprop serve")
    if method == "GET":
        return _get(tx, request)
    if method == "PUT":
        return _put(tx, request)
    if method == "PATCH":
        return _patch(tx, request)
    if method == "DELETE":
        if path.subresource is not None:
            raise refuse(405, f"DELETE is not allowed on the {path.subresource} subresource")
        return _delete(tx, request)
    raise refuse(405, f"{method} is not allowed on {path.kind.plural}")


def _get(tx: Transaction, request: RestRequest) -> Reply:
    obj = tx.send({"op": "get", **_address(request.path)})["object"]
    if request.path.subresource == "scale":
        return Reply(200, scale_object(obj))
    if request.table:
        return Reply(200, _table(tx, request, [obj], obj["metadata"]["resourceVersion"]))
    return Reply(200, obj)


def list_request(path: ResourcePath, query: Mapping[str, str]) -> dict[str, Any]:
    """The protocol `list` for a collection URL and its query (selectors; `limit` is ignored)."""
    req: dict[str, Any] = {"op": "list", "kind": path.kind.name}
    if path.namespace is not None:
        req["namespace"] = path.namespace
    for field in ("labelSelector", "fieldSelector"):
        if query.get(field):
            req[field] = query[field]
    return req


def _list(tx: Transaction, request: RestRequest) -> Reply:
    exact = _exact_revision(request.query)
    if exact is None:
        answer = tx.send(list_request(request.path, request.query))
    else:
        answer = _list_at(tx, request, exact)
    kind = request.path.kind
    if request.table:
        return Reply(200, _table(tx, request, answer["items"], answer["resourceVersion"]))
    return Reply(
        200,
        {
            "kind": f"{kind.name}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": answer["resourceVersion"]},
            "items": answer["items"],
        },
    )


def _exact_revision(query: Mapping[str, str]) -> int | None:
    """The revision of a `resourceVersionMatch=Exact` list, None for a list of the current
    state (NotOlderThan, or resourceVersion alone, answers the latest state, which is
    never older); refused as upstream's ValidateListOptions refuses."""
    match = query.get("resourceVersionMatch", "")
    if match:
        _check_list_options(query, match)
    if match != EXACT:
        return None
    text = query["resourceVersion"]
    if not (text.isascii() and text.isdigit()):
        raise refuse(400, f"invalid resource version: {text!r} is not a decimal number")
    return int(text)


def _check_list_options(query: Mapping[str, str], match: str) -> None:
    """ListOptions validation (apimachinery meta internalversion/validation), as a 422
    Invalid on ListOptions.meta.k8s.io."""
    version = query.get("resourceVersion", "")
    causes: list[tuple[str, str]] = []
    if not version:
        causes.append(("FieldValueForbidden", _FORBIDDEN_WITHOUT_VERSION))
    if query.get("continue"):
        causes.append(("FieldValueForbidden", _FORBIDDEN_WITH_CONTINUE))
    if match not in (EXACT, NOT_OLDER_THAN):
        causes.append(
            (
                "FieldValueNotSupported",
                f"Unsupported value: {json.dumps(match)}: supported values:"
                f' "{EXACT}", "{NOT_OLDER_THAN}", ""',
            )
        )
    if match == EXACT and version == "0":
        causes.append(("FieldValueForbidden", _FORBIDDEN_EXACT_ZERO))
    if causes:
        raise Refused(Reply(422, _invalid_list_options(causes)))


_FORBIDDEN_WITHOUT_VERSION = (
    "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
)
_FORBIDDEN_WITH_CONTINUE = "Forbidden: resourceVersionMatch is forbidden when continue is provided"
_FORBIDDEN_EXACT_ZERO = (
    'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
)


def _invalid_list_options(causes: list[tuple[str, str]]) -> dict[str, Any]:
    """errors.NewInvalid(meta.k8s.io ListOptions, "", errs): one cause per field error, the
    message their aggregate (bracketed when more than one)."""
    errors = [f"resourceVersionMatch: {body}" for _, body in causes]
    summary = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return status(
        422,
        f'ListOptions.meta.k8s.io "" is invalid: {summary}',
        group="meta.k8s.io",
        kind="ListOptions",
        causes=[
            {"reason": reason, "message": body, "field": "resourceVersionMatch"}
            for reason, body in causes
        ],
    )


def _list_at(tx: Transaction, request: RestRequest, revision: int) -> dict[str, Any]:
    """The list as it was answered at `revision`, read from a kept cluster value (the
    transaction's own value is untouched). Beyond what is kept: 410 as etcd3's GetList
    answers a compacted revision; ahead of the cluster: upstream's
    NewTooLargeResourceVersionError, a 504 Timeout that client-go recognises by its cause."""
    try:
        past = tx.history.at(revision, request.path.kind, tx.cluster)
    except Expired:
        raise refuse(410, "The resourceVersion for the provided list is too old.") from None
    except TooLarge as e:
        raise Refused(Reply(504, _too_large(e.revision, e.current))) from None
    answer = Transaction(past).send(list_request(request.path, request.query))
    return {**answer, "resourceVersion": str(revision)}


def _too_large(revision: int, current: int) -> dict[str, Any]:
    return status(
        504,
        f"Timeout: Too large resource version: {revision}, current: {current}",
        causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        retryAfterSeconds=RETRY_SECONDS,
    )


def _table(
    tx: Transaction, request: RestRequest, objects: list[dict[str, Any]], rv: str
) -> dict[str, Any]:
    include = request.query.get("includeObject", "Metadata")
    return table(request.path.kind.name, objects, tx.cluster.now, rv, include)


def _create(tx: Transaction, request: RestRequest) -> Reply:
    obj = _addressed(request, _object_body(request))
    return Reply(201, tx.send({"op": "create", "object": obj})["object"])


def _put(tx: Transaction, request: RestRequest) -> Reply:
    sub = request.path.subresource
    body = _object_body(request)
    if sub == "status":
        return Reply(200, tx.write_status(_addressed(request, body)))
    if sub == "scale":
        return Reply(200, _scale(tx, request.path, _replicas_of(body)))
    obj = _addressed(request, body)
    return Reply(200, tx.send({"op": "update", "object": obj})["object"])


def _replicas_of(scale: Mapping[str, Any]) -> Any:
    spec = scale.get("spec")
    if not isinstance(spec, Mapping) or "replicas" not in spec:
        raise refuse(400, "a Scale needs spec.replicas")
    return spec["replicas"]


def _scale(tx: Transaction, path: ResourcePath, replicas: Any) -> dict[str, Any]:
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise refuse(400, f"spec.replicas must be an integer, got {replicas!r}")
    answer = tx.send({"op": "scale", **_address(path), "replicas": replicas})
    return dict(answer["object"])


def scale_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a workload, as its /scale subresource shows it."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


def _patch(tx: Transaction, request: RestRequest) -> Reply:
    content_type = request.content_type.split(";")[0].strip()
    if content_type not in (MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH, JSON_PATCH):
        raise refuse(
            415,
            f"the patch type {content_type or '(none)'!r} is not supported; kubeprop serve"
            f" takes {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH} and {APPLY_PATCH}",
        )
    sub = request.path.subresource
    body = _patch_body(request, content_type)
    if sub == "status":
        return _patch_status(tx, request, body, content_type)
    if sub == "scale":
        current = scale_object(tx.send({"op": "get", **_address(request.path)})["object"])
        merged = _merged(current, body, content_type)
        return Reply(200, _scale(tx, request.path, _replicas_of(merged)))
    if content_type == MERGE_PATCH:
        answer = tx.send({"op": "patch", **_address(request.path), "patch": body})
        return Reply(200, answer["object"])
    if content_type == APPLY_PATCH:
        return _apply(tx, request, body)
    current = tx.send({"op": "get", **_address(request.path)})["object"]
    merged = _merged(current, body, content_type)
    if not isinstance(merged, dict) or not isinstance(merged.get("metadata"), dict):
        raise refuse(422, "the patched object must be an object with metadata")
    # The patched resourceVersion is the live one unless the patch set it: then a precondition.
    merged["metadata"].setdefault("resourceVersion", current["metadata"]["resourceVersion"])
    return Reply(200, tx.send({"op": "update", "object": merged})["object"])


def _patch_status(tx: Transaction, request: RestRequest, body: Any, content_type: str) -> Reply:
    """A patch of /status: applied to the live object, which is then written through /status
    (so whatever the patch says outside status is dropped, as upstream's status strategy does).
    An apply patch merges strategically, as on the object itself."""
    current = tx.send({"op": "get", **_address(request.path)})["object"]
    kind = STRATEGIC_PATCH if content_type == APPLY_PATCH else content_type
    merged = _merged(current, body, kind)
    if not isinstance(merged, dict) or not isinstance(merged.get("metadata"), dict):
        raise refuse(422, "the patched object must be an object with metadata")
    merged["metadata"].setdefault("resourceVersion", current["metadata"]["resourceVersion"])
    return Reply(200, tx.write_status(merged))


def _patch_body(request: RestRequest, content_type: str) -> Any:
    if content_type != JSON_PATCH:
        return _object_body(request)
    body = parse_body(request.body, content_type)
    if not isinstance(body, list):
        raise refuse(400, "a JSON patch must be a list of operations")
    return body


def _merged(current: Mapping[str, Any], body: Any, content_type: str) -> Any:
    """The patched object: JSON and strategic patches are applied here, then written whole."""
    if content_type == MERGE_PATCH:
        return merge_patch(current, body)
    try:
        if content_type == JSON_PATCH:
            return json_patch(current, body)
        return strategic_merge(current, body)
    except (PatchError, JsonPatchError) as e:
        raise refuse(422 if content_type == JSON_PATCH else 400, str(e)) from None


def _apply(tx: Transaction, request: RestRequest, body: dict[str, Any]) -> Reply:
    """Server-side apply, scoped: create when absent, else a strategic merge of the applied
    configuration over the live object. Field ownership (managedFields, conflicts between
    managers, removal of fields a manager stopped applying) is not modelled."""
    applied = _addressed(request, body)
    try:
        current = tx.send({"op": "get", **_address(request.path)})["object"]
    except Refused as e:
        if e.reply.code != 404:
            raise
        return Reply(201, tx.send({"op": "create", "object": applied})["object"])
    merged = _merged(current, applied, STRATEGIC_PATCH)
    if not applied["metadata"].get("resourceVersion"):
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    return Reply(200, tx.send({"op": "update", "object": merged})["object"])


#: Kinds whose DELETE answers the object even when it is gone at once (upstream's
#: `ReturnDeletedObject: true`, registry/core/pod/storage); the rest answer a Success Status.
RETURNS_DELETED = frozenset({"Pod"})


def _delete(tx: Transaction, request: RestRequest) -> Reply:
    options: dict[str, Any] = {}
    if request.body.strip():
        options = _object_body(request)
    query = request.query
    req: dict[str, Any] = {"op": "delete", **_address(request.path)}
    propagation = options.get("propagationPolicy", query.get("propagationPolicy"))
    orphan = options.get("orphanDependents", _flag(query.get("orphanDependents")))
    if propagation is None and orphan is not None:
        propagation = "Orphan" if orphan else "Background"
    if propagation is not None:
        req["propagationPolicy"] = propagation
    grace = options.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
    if isinstance(grace, str):
        try:
            grace = int(grace)
        except ValueError:
            raise refuse(400, f"gracePeriodSeconds must be an integer, got {grace!r}") from None
    if grace is not None:
        req["gracePeriodSeconds"] = grace
    if options.get("preconditions") is not None:
        req["preconditions"] = options["preconditions"]
    if options.get("dryRun") not in (None, [], ["All"]):
        raise refuse(400, f"dryRun {options['dryRun']!r} is not supported; the only value is All")
    kind: Kind = request.path.kind
    returns = kind.name in RETURNS_DELETED
    before = tx.send({"op": "get", **_address(request.path)}) if returns else {}
    answer = tx.send(req)
    if "object" in answer:
        return Reply(200, answer["object"])
    if "object" in before:
        return Reply(200, before["object"])
    return Reply(
        200,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": request.path.name, "group": kind.group, "kind": kind.plural},
        },
    )


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.lower() == "true"
