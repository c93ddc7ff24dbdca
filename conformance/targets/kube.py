"""`kube:` — any cluster, through the Kubernetes API and the official Python client.

The protocol's API verbs map onto REST calls one for one; the rest is what a
real cluster cannot do, and is answered honestly:

- no `clock`: `advance` waits (wall seconds divided by the cluster's time
  scale, which `kubeprop serve` states in its kubeconfig) and `settle` polls
  snapshots until the example's objects are quiet and show no pending work;
- no `reset`: each example works in namespaces of its own, created on its
  first step and deleted after its last (see `kube_names`);
- no machine, fault, runtime, routing or controller ops: they answer 501 and
  the laws that need them are skipped and named in the report.

A snapshot is one list per kind, all read at the first list's
resourceVersion (`resourceVersionMatch=Exact`), so that laws comparing kinds
see one moment of the cluster. The cluster's clock is read from its answers'
`Date` header.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import attrs
import yaml

from conformance import __version__
from conformance.targets.base import DEFAULT_REQUEST_TIMEOUT, TargetFault
from conformance.targets.kube_names import new_example_namespaces
from conformance.targets.kube_settle import fingerprint, pending
from reference.api.kinds import KINDS, Kind

__all__ = ["KubeSpec", "KubeTarget", "parse_kube_spec"]

#: The kubeconfig cluster extension through which `kubeprop serve` states its clock's speed.
CLOCK_EXTENSION = "kubeprop.io/clock"
#: Cluster seconds without a change (and without pending work) that make a cluster settled:
#: longer than a controller takes to react, shorter than the timers the levels set.
QUIET_SECONDS = 5.0
#: Wall seconds between two snapshots while settling.
POLL_WALL = 0.25
#: How often a throttled read (429, 503, 504) is tried again; a write only on 429, which
#: API Priority and Fairness answers before the write is attempted.
RETRIES = 5
#: The finalizers the levels put on objects: removed at the end of an example, since no
#: controller on a real cluster would ever remove them and the namespace would never go.
OWN_FINALIZERS = "kubeprop.io/"
#: Wall seconds to wait for a new namespace's `default` ServiceAccount, without which
#: ServiceAccount admission refuses pods.
SERVICE_ACCOUNT_WAIT = 10.0
_JSON = "application/json"
_MERGE = "application/merge-patch+json"


class _Refused(Exception):
    """A request the target answers itself with a Status, before reaching the cluster."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = {"code": code, "reason": reason, "message": message}


@attrs.frozen
class KubeSpec:
    """`kube:[KUBECONFIG][#CONTEXT]`: the kubeconfig file (default: the client's) and context."""

    kubeconfig: str | None
    context: str | None

    @property
    def display(self) -> str:
        return f"kube:{self.kubeconfig or ''}" + (f"#{self.context}" if self.context else "")


def parse_kube_spec(spec: str) -> KubeSpec:
    body = spec.removeprefix("kube:")
    path, _, context = body.partition("#")
    return KubeSpec(path.strip() or None, context.strip() or None)


def _time_scale(kubeconfig: str | None, context: str | None) -> float:
    """The clock speed the kubeconfig's cluster states (kubeprop serve's extension), else 1."""
    path = Path(kubeconfig).expanduser() if kubeconfig else Path("~/.kube/config").expanduser()
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return 1.0
    context = context or config.get("current-context")
    ctx: dict[str, Any] = next(
        (c for c in config.get("contexts") or [] if c.get("name") == context), {}
    )
    cluster_name = (ctx.get("context") or {}).get("cluster")
    cluster: dict[str, Any] = next(
        (c for c in config.get("clusters") or [] if c.get("name") == cluster_name), {}
    )
    for ext in (cluster.get("cluster") or {}).get("extensions") or []:
        if ext.get("name") == CLOCK_EXTENSION:
            scale = (ext.get("extension") or {}).get("timeScale")
            if isinstance(scale, int | float) and scale > 0:
                return float(scale)
    return 1.0


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class KubeTarget:
    """A cluster behind the Kubernetes API; one example's namespaces at a time."""

    def __init__(self, spec: KubeSpec, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        from kubernetes import config

        self.description = spec.display
        self._timeout = request_timeout
        try:
            self._client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=spec.kubeconfig, context=spec.context, persist_config=False
            )
        except Exception as e:  # the client raises ConfigException, OSError, KeyError, ...
            raise TargetFault(f"cannot load the kubeconfig for {spec.display}: {e}") from None
        self.time_scale = _time_scale(spec.kubeconfig, spec.context)
        self._names = new_example_namespaces()
        self._in_example = False
        self._kinds: dict[str, Kind] = {}
        self._service_accounts = False
        self._exact = True

    # -- the protocol ------------------------------------------------------------------------------

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = str(request.get("op"))
        handler: Callable[[Mapping[str, Any]], dict[str, Any]] | None = getattr(
            self, "_op_" + op.replace(".", "_"), None
        )
        if handler is None:
            return _status(501, "NotImplemented", f"the kube: target does not support {op!r}")
        try:
            return {"ok": True, **handler(request)}
        except _Refused as refused:
            return {"ok": False, "status": refused.status}
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            return _status(400, "BadRequest", f"malformed {op} request: {e}")

    def close(self) -> None:
        try:
            self.end_example()
        except TargetFault:
            pass  # the namespaces stay; their prefix names them as kubeprop's leftovers
        finally:
            self._client.close()

    def begin_example(self) -> None:
        """A fresh set of namespaces, with the example's `default` already there."""
        self.end_example()
        self._names = new_example_namespaces()
        self._in_example = True
        with self._as_fault("starting an example"):
            self._call("POST", "/api/v1/namespaces", body=self._namespace("default"), ok=(409,))
            self._await_service_account(self._names.to_cluster("default"))

    def end_example(self) -> None:
        """Release what the example holds and delete its namespaces (the cluster empties them
        in the background). The levels' own finalizers go first: nothing else removes them."""
        if not self._in_example:
            return
        with self._as_fault("clearing away an example"):
            for obj in self._snapshot()["objects"]:
                self._release(obj)
            listed = self._call("GET", "/api/v1/namespaces")
            for ns in listed.get("items") or []:
                name = ns["metadata"]["name"]
                if self._names.owns(name) and not ns["metadata"].get("deletionTimestamp"):
                    self._call("DELETE", f"/api/v1/namespaces/{name}", ok=(404, 409))
        self._in_example = False

    def _release(self, obj: Mapping[str, Any]) -> None:
        finalizers = (obj.get("metadata") or {}).get("finalizers") or []
        kept = [f for f in finalizers if not str(f).startswith(OWN_FINALIZERS)]
        kind = self._kinds.get(str(obj.get("kind")))
        if kind is None or kept == finalizers:
            return
        if not kind.namespaced and kind.name != "Namespace":
            return  # the cluster's own objects: not the example's to change
        meta = obj["metadata"]
        path = self._item(kind, self._ns(kind, meta), meta["name"])
        patch = {"metadata": {"finalizers": kept or None}}
        self._call("PATCH", path, body=patch, content_type=_MERGE, ok=(404, 409, 422))

    @contextlib.contextmanager
    def _as_fault(self, doing: str) -> Iterator[None]:
        """Refusals while setting up or clearing away are the cluster's fault, not a law's."""
        try:
            yield
        except _Refused as refused:
            status = refused.status
            raise TargetFault(
                f"{self.description}: {doing} was refused: {status['code']} {status['message']}"
                " (the account needs to create, list and delete namespaces and the objects"
                " of the levels)"
            ) from None

    def _await_service_account(self, namespace: str) -> None:
        """Wait (bounded) for the namespace's `default` ServiceAccount, if the cluster has them."""
        if not self._service_accounts:
            return
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
        deadline = time.monotonic() + SERVICE_ACCOUNT_WAIT
        while not self._call("GET", path, ok=(404,)) and time.monotonic() < deadline:
            time.sleep(0.1)

    # -- session -----------------------------------------------------------------------------------

    def _op_hello(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if request.get("protocol") != 1:
            raise _Refused(400, "BadRequest", "the kube: target speaks protocol version 1")
        version = self._call("GET", "/version")
        self._kinds = self._discover()
        return {
            "protocol": 1,
            "name": f"kube {self._client.configuration.host}",
            "version": __version__,
            "kubernetesVersion": str(version.get("gitVersion", "")).lstrip("v"),
            "capabilities": [],
            "kinds": sorted(self._kinds),
        }

    def _discover(self) -> dict[str, Kind]:
        """The kinds the cluster serves among those the protocol knows, from discovery."""
        found: dict[str, Kind] = {}
        lists: dict[str, set[str]] = {}
        for kind in KINDS.values():
            path = f"/apis/{kind.group}/{kind.version}" if kind.group else "/api/v1"
            if path not in lists:
                answer = self._call("GET", path, ok=(404,))
                lists[path] = {r.get("name", "") for r in answer.get("resources") or []}
            if kind.plural in lists[path]:
                found[kind.name] = kind
        self._service_accounts = "serviceaccounts" in lists.get("/api/v1", set())
        return found

    # -- API verbs ---------------------------------------------------------------------------------

    def _op_create(self, request: Mapping[str, Any]) -> dict[str, Any]:
        obj = request["object"]
        kind = self._writable(obj.get("kind"))
        mapped = self._names.object_to_cluster(obj, kind.namespaced)
        path = self._collection(kind, mapped["metadata"].get("namespace"))
        created = self._call("POST", path, body=mapped)
        if kind.name == "Namespace":
            self._await_service_account(created["metadata"]["name"])
        return {"object": self._back(kind, created)}

    def _op_update(self, request: Mapping[str, Any]) -> dict[str, Any]:
        obj = request["object"]
        kind = self._writable(obj.get("kind"))
        path = self._item(kind, self._ns(kind, obj["metadata"]), str(obj["metadata"]["name"]))
        mapped = self._names.object_to_cluster(obj, kind.namespaced)
        return {"object": self._back(kind, self._call("PUT", path, body=mapped))}

    def _op_patch(self, request: Mapping[str, Any]) -> dict[str, Any]:
        kind = self._writable(request.get("kind"))
        path = self._item(kind, self._ns(kind, request), str(request["name"]))
        patch = request["patch"]
        if not isinstance(patch, dict):
            raise ValueError("patch must be a JSON object (a merge patch)")
        body = self._names.patch_to_cluster(patch)
        answer = self._call("PATCH", path, body=body, content_type=_MERGE)
        return {"object": self._back(kind, answer)}

    def _op_scale(self, request: Mapping[str, Any]) -> dict[str, Any]:
        kind = self._writable(request.get("kind"))
        if not kind.scale:
            raise _Refused(404, "NotFound", f"{kind.name} has no scale subresource")
        path = self._item(kind, self._ns(kind, request), str(request["name"])) + "/scale"
        body = {"spec": {"replicas": request["replicas"]}}
        answer = self._call("PATCH", path, body=body, content_type=_MERGE)
        return {"object": self._names.object_from_cluster(answer)}

    def _op_delete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer carries the object only while it still exists: a pod's DELETE answers
        the pod even when it went at once, so a terminating answer is confirmed by a get."""
        kind = self._writable(request.get("kind"))
        if kind.name == "Namespace" and request.get("name") == "default":
            # The example's `default` stands in for the cluster's, which upstream keeps.
            raise _Refused(
                403,
                "Forbidden",
                'namespaces "default" is forbidden: this namespace may not be deleted',
            )
        path = self._item(kind, self._ns(kind, request), str(request["name"]))
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        for field in ("propagationPolicy", "preconditions", "gracePeriodSeconds"):
            if request.get(field) is not None:
                options[field] = request[field]
        answer = self._call("DELETE", path, body=options)
        meta = answer.get("metadata") or {}
        if answer.get("kind") != kind.name or not meta.get("deletionTimestamp"):
            return {}
        still = self._call("GET", path, ok=(404,))
        if (still.get("metadata") or {}).get("uid") != meta.get("uid"):
            return {}
        return {"object": self._back(kind, still)}

    def _op_get(self, request: Mapping[str, Any]) -> dict[str, Any]:
        kind = self._kind(request.get("kind"))
        path = self._item(kind, self._ns(kind, request), str(request["name"]))
        return {"object": self._back(kind, self._call("GET", path))}

    def _op_list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        kind = self._kind(request.get("kind"))
        namespace = request.get("namespace") if kind.namespaced else None
        query: dict[str, str] = {}
        if request.get("labelSelector"):
            query["labelSelector"] = str(request["labelSelector"])
        if request.get("fieldSelector"):
            query["fieldSelector"] = self._names.field_selector_to_cluster(
                str(request["fieldSelector"]), kind.name
            )
        path = self._collection(kind, self._names.to_cluster(namespace) if namespace else None)
        answer = self._call("GET", path, query=query)
        items = self._ours(kind, answer.get("items") or [])
        return {"items": items, "resourceVersion": answer["metadata"]["resourceVersion"]}

    # -- time --------------------------------------------------------------------------------------

    def _op_advance(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Wait until the cluster's own clock has moved `seconds` on (to its Date's whole
        second): a cluster that falls behind the wall clock is waited for, not outrun."""
        seconds = float(request["seconds"])
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        start = self._cluster_time()
        time.sleep(seconds / self.time_scale)
        guard = time.monotonic() + self._wall_guard(seconds)
        now = self._cluster_time()
        while now < start + seconds - 1 and time.monotonic() < guard:
            time.sleep(POLL_WALL)
            now = self._cluster_time()
        return {"now": _rfc3339(now)}

    def _op_settle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Poll until the example's objects have been quiet for QUIET_SECONDS of the cluster's
        clock and show no pending work, or until `max_seconds` of it have passed."""
        max_seconds = float(request["max_seconds"])
        if max_seconds < 0:
            raise ValueError("max_seconds must not be negative")
        guard = time.monotonic() + self._wall_guard(max_seconds)
        start: datetime | None = None
        last, changed = frozenset[tuple[str, str, str, str]](), None
        while True:
            snapshot = self._snapshot()
            now = _parse_rfc3339(snapshot["now"])
            start = start or now
            seen = fingerprint(snapshot["objects"])
            if changed is None or seen != last:
                last, changed = seen, now
            # Date is whole seconds: one more makes the quiet at least QUIET_SECONDS long.
            quiet = (now - changed).total_seconds() >= QUIET_SECONDS + 1
            if quiet and not pending(snapshot["objects"]):
                return {"now": snapshot["now"], "settled": True}
            if (now - start).total_seconds() >= max_seconds or time.monotonic() >= guard:
                return {"now": snapshot["now"], "settled": False}
            time.sleep(POLL_WALL)

    def _wall_guard(self, seconds: float) -> float:
        """Wall seconds after which a wait gives up on a cluster clock that stopped moving."""
        return 3 * seconds / self.time_scale + 30

    def _cluster_time(self) -> datetime:
        headers: dict[str, str] = {}
        self._call("GET", "/version", headers_out=headers)
        return _parse_rfc3339(self._clock(headers))

    # -- observations ------------------------------------------------------------------------------

    def _op_snapshot(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._snapshot()

    def _snapshot(self, attempts: int = 3) -> dict[str, Any]:
        """Every object of the example, each kind listed at the first list's resourceVersion."""
        for _ in range(attempts):
            try:
                return self._snapshot_once()
            except _Refused as refused:
                if refused.status["code"] != 410:  # history compacted between two lists
                    raise
        raise TargetFault(f"{self.description}: no consistent snapshot in {attempts} attempts")

    def _snapshot_once(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        listed = self._call("GET", "/api/v1/namespaces", headers_out=headers)
        revision = listed["metadata"]["resourceVersion"]
        now = self._clock(headers)
        namespaces = self._ours(KINDS["Namespace"], listed.get("items") or [])
        at = {"resourceVersion": revision, "resourceVersionMatch": "Exact"} if self._exact else {}
        objects = list(namespaces)
        for kind in self._kinds.values():
            if kind.name in ("Namespace", "Event"):
                continue
            if not kind.namespaced:
                objects += self._ours(kind, self._list_at(self._collection(kind, None), at))
                continue
            for ns in namespaces:
                path = self._collection(kind, self._names.to_cluster(ns["metadata"]["name"]))
                objects += self._ours(kind, self._list_at(path, at))
        return {"now": now, "resourceVersion": revision, "objects": objects}

    def _list_at(self, path: str, at: dict[str, str]) -> list[dict[str, Any]]:
        try:
            return list(self._call("GET", path, query=at).get("items") or [])
        except _Refused as refused:
            unsupported = refused.status["code"] in (400, 422) and "resourceVersionMatch" in str(
                refused.status.get("message")
            )
            if not unsupported or not at:
                raise
            # A cluster without exact reads (before 1.19): each list at its own moment.
            self._exact = False
            return list(self._call("GET", path).get("items") or [])

    # -- helpers -----------------------------------------------------------------------------------

    def _kind(self, name: Any) -> Kind:
        kind = self._kinds.get(str(name)) if self._kinds else KINDS.get(str(name))
        if kind is None:
            raise _Refused(404, "NotFound", f"the cluster does not serve kind {name!r}")
        return kind

    def _writable(self, name: Any) -> Kind:
        """A kind the target may write: a cluster's own cluster-scoped objects (its Nodes,
        PriorityClasses) are shared by everyone on it, so only Namespaces are written."""
        kind = self._kind(name)
        if not kind.namespaced and kind.name != "Namespace":
            raise _Refused(
                403,
                "Forbidden",
                f"the kube: target does not write {kind.name} objects: they are the cluster's,"
                " shared beyond this run",
            )
        return kind

    def _ns(self, kind: Kind, where: Mapping[str, Any]) -> str | None:
        """The cluster namespace of a request or of an object's metadata."""
        if not kind.namespaced:
            return None
        return self._names.to_cluster(str(where.get("namespace") or "default"))

    def _collection(self, kind: Kind, namespace: str | None) -> str:
        base = f"/apis/{kind.group}/{kind.version}" if kind.group else "/api/v1"
        scope = f"/namespaces/{namespace}" if namespace else ""
        return f"{base}{scope}/{kind.plural}"

    def _item(self, kind: Kind, namespace: str | None, name: str) -> str:
        if kind.name == "Namespace":
            name = self._names.to_cluster(name)
        return f"{self._collection(kind, namespace)}/{name}"

    def _back(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.name)
        return self._names.object_from_cluster(obj)

    def _ours(self, kind: Kind, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of the example (or cluster-scoped), with apiVersion and kind set as in a get.

        Sorted by namespace then name, as the protocol's `list` answers.
        """
        kept = []
        for item in items:
            meta = item.get("metadata") or {}
            if kind.name == "Namespace" and not self._names.owns(meta.get("name", "")):
                continue
            if kind.namespaced and not self._names.owns(meta.get("namespace", "")):
                continue
            item = {"apiVersion": kind.api_version, "kind": kind.name, **item}
            kept.append(self._back(kind, item))
        kept.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return kept

    def _namespace(self, name: str) -> dict[str, Any]:
        meta = {"name": self._names.to_cluster(name)}
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}

    def _clock(self, headers: Mapping[str, str]) -> str:
        """The cluster's clock, from its `Date` header (whole seconds); else this machine's."""
        date = headers.get("date") or headers.get("Date")
        try:
            moment = parsedate_to_datetime(date) if date else datetime.now(UTC)
        except (TypeError, ValueError):
            moment = datetime.now(UTC)
        return _rfc3339(moment)

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = _JSON,
        ok: tuple[int, ...] = (),
        headers_out: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One REST call; a refusal raises `_Refused` with the cluster's Status (codes in `ok`
        give {}); a cluster that cannot be reached or answers garbage raises TargetFault."""
        from kubernetes.client.exceptions import ApiException

        for attempt in range(RETRIES + 1):
            try:
                method_, url, headers, data, post = self._client.param_serialize(
                    method,
                    path,
                    query_params=list((query or {}).items()) or None,
                    header_params={"Accept": _JSON, "Content-Type": content_type},
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = self._client.call_api(
                    method_, url, headers, data, post, _request_timeout=self._timeout
                )
                raw = response.read()
                code = response.status
                if headers_out is not None:
                    headers_out.update({k.lower(): v for k, v in response.headers.items()})
            except ApiException as e:
                raw, code = (e.body or b""), int(e.status or 0)
                if code == 0:  # the client's own failure (TLS, a request it could not build)
                    raise TargetFault(
                        f"{self.description}: {method} {path} failed: {e.reason}",
                        request={"method": method, "path": path},
                    ) from None
            except Exception as e:  # urllib3's connection and timeout errors, among others
                raise TargetFault(
                    f"{self.description}: {method} {path} failed: {type(e).__name__}: {e}",
                    request={"method": method, "path": path},
                ) from None
            answer = _json(raw, method, path, code)
            retry = (429, 503, 504) if method == "GET" else (429,)
            if code in retry and attempt < RETRIES:
                time.sleep(min(2.0**attempt * 0.1, 2.0))
                continue
            break
        if 200 <= code < 300:
            return answer
        if code in ok:
            return {}
        status: dict[str, Any] = {
            k: answer[k] for k in ("code", "reason", "message", "details") if k in answer
        }
        status.setdefault("code", code)
        status.setdefault("reason", "Unknown")
        status.setdefault("message", f"{method} {path} answered {code}")
        refused = _Refused(code, str(status["reason"]), str(status["message"]))
        refused.status = status
        raise refused


def _json(raw: bytes | str, method: str, path: str, code: int) -> dict[str, Any]:
    """The answer's JSON; a refusal in plain text (a proxy's, say) becomes its message."""
    if not raw:
        return {}
    try:
        answer = json.loads(raw)
    except ValueError:
        text = raw[:200] if isinstance(raw, str) else raw[:200].decode(errors="replace")
        if 200 <= code < 300:
            raise TargetFault(
                f"{method} {path} answered something that is not JSON: {text!r}"
            ) from None
        return {"message": text}
    return answer if isinstance(answer, dict) else {"value": answer}


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"ok": False, "status": {"code": code, "reason": reason, "message": message}}
