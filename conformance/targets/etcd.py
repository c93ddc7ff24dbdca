"""The `etcd:` target: a real etcd, driven through its v3 JSON gateway (docs/store-protocol.md).

The gateway speaks etcd's protobuf messages as proto3 JSON, which differs
from the store protocol in ways this target hides: keys and values are
base64, int64s are JSON strings, zero and false fields are left out (a
failed txn has no `succeeded`, a PUT event no `type`, a missing key no
`kvs`), and compaction errors are HTTP 400 with gRPC code 11.

Unary ops share one keep-alive `http.client` connection; each watch opens a
connection of its own and closes it (which cancels the watch in etcd) once
it has the events it needs. A watch answers from a watch on the *whole*
keyspace, filtered here to the range asked for: every revision above 1 was
made by a write, so the whole keyspace has an event at every revision the
store has reached, and the stream is known to be complete as soon as an
event at `until_revision` arrives. A watch on the range alone could not tell
"no more events" from "not delivered yet" (etcd 3.4 answers a progress
request at once, before the history it is still sending).

`kv.snapshot` and `kv.restore` need etcd's files (`etcdctl snapshot save` /
`snapshot restore` and a restart), not the gateway: they answer 501.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import select
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from conformance.targets.base import DEFAULT_REQUEST_TIMEOUT, TargetFault

__all__ = ["EtcdTarget"]

_DEFAULT_PORT = 2379
_EXCERPT = 300
_ALL_KEYS = b"\x00"  # as key and range_end: every key
#: Paths that only read, so a request that failed on a reused connection may be sent again.
_READ_ONLY = frozenset({"/version", "/v3/kv/range", "/v3/maintenance/status"})
_COMPARE_FIELDS = {
    "VALUE": "value",
    "VERSION": "version",
    "CREATE": "create_revision",
    "MOD": "mod_revision",
}
_COMPARE_RESULTS = frozenset({"EQUAL", "NOT_EQUAL", "GREATER", "LESS"})


class _Refused(Exception):
    """A request etcd (or this target, before asking etcd) refuses: a Status answer, not a fault."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


class EtcdTarget:
    """A running etcd at `url` (`http://HOST:PORT`), behind the store protocol.

    `request_timeout` bounds every request, a watch included: an etcd that
    does not answer (or does not deliver a watch's events) in time is a
    `TargetFault`, as is one that cannot be reached or answers something
    that is not the gateway's JSON. Not thread-safe: one request in flight.
    """

    def __init__(self, url: str, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"etcd URL {url!r} must look like http://HOST:PORT (the client URL etcd"
                " listens on, e.g. http://127.0.0.1:2379)"
            )
        if request_timeout <= 0:
            raise ValueError(f"request_timeout must be positive, not {request_timeout!r}")
        self.url = url.rstrip("/")
        self.description = f"etcd:{self.url}"
        self.request_timeout = request_timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or _DEFAULT_PORT
        self._base = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None
        self._conn_used = False
        self._ops: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "hello": self._hello,
            "kv.status": self._status,
            "kv.put": self._put,
            "kv.range": self._range,
            "kv.delete": self._delete,
            "kv.txn": self._txn,
            "kv.watch": self._watch,
            "kv.compact": self._compact,
        }

    # -- the Target protocol ---------------------------------------------------------------
    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op in ("kv.snapshot", "kv.restore"):
            return _failure(
                501,
                "NotImplemented",
                f"op {op!r} is not available through etcd's JSON gateway; back etcd up with"
                " `etcdctl snapshot save` and restore it with `etcdctl snapshot restore`",
            )
        handler = self._ops.get(op) if isinstance(op, str) else None
        if handler is None:
            return _failure(501, "NotImplemented", f"op {op!r} is not implemented by this target")
        try:
            answer = handler(request)
        except _Refused as refused:
            return _failure(refused.code, refused.reason, refused.message)
        return {"ok": True, **answer}

    def close(self) -> None:
        self._drop_connection()

    # -- ops -------------------------------------------------------------------------------
    def _hello(self, request: Mapping[str, Any]) -> dict[str, Any]:
        body = self._call("GET", "/version", None, request)
        version = body.get("etcdserver")
        if not isinstance(version, str):
            self._fault(f"GET /version answered without `etcdserver`: {_excerpt(body)}", request)
        return {"name": "etcd", "version": version, "capabilities": ["watch", "compact"]}

    def _status(self, request: Mapping[str, Any]) -> dict[str, Any]:
        body = self._call("POST", "/v3/maintenance/status", {}, request)
        return {"revision": self._header_revision(body, request)}

    def _put(self, request: Mapping[str, Any]) -> dict[str, Any]:
        payload = {"key": _b64(_text(request, "key")), "value": _b64(_text(request, "value"))}
        body = self._call("POST", "/v3/kv/put", payload, request)
        return {"revision": self._header_revision(body, request)}

    def _range(self, request: Mapping[str, Any]) -> dict[str, Any]:
        payload = _range_payload(request)
        body = self._call("POST", "/v3/kv/range", payload, request)
        return {
            "revision": self._header_revision(body, request),
            "kvs": self._kvs(body.get("kvs"), request),
        }

    def _delete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        payload = _key_range(request)
        body = self._call("POST", "/v3/kv/deleterange", payload, request)
        return {
            "revision": self._header_revision(body, request),
            "deleted": self._int(body.get("deleted"), "deleted", request),
        }

    def _txn(self, request: Mapping[str, Any]) -> dict[str, Any]:
        compares = [_compare(c) for c in _list(request, "compares")]
        success = _list(request, "success")
        failure = _list(request, "failure")
        payload = {
            "compare": compares,
            "success": [_txn_op(o) for o in success],
            "failure": [_txn_op(o) for o in failure],
        }
        body = self._call("POST", "/v3/kv/txn", payload, request)
        succeeded = body.get("succeeded", False)
        if not isinstance(succeeded, bool):
            self._fault(f"txn answered a non-boolean `succeeded`: {_excerpt(body)}", request)
        ran = success if succeeded else failure
        raw = body.get("responses", [])
        if not isinstance(raw, list) or len(raw) != len(ran):
            self._fault(
                f"txn ran {len(ran)} operation(s) but etcd answered {_excerpt(raw)}", request
            )
        responses = [self._txn_response(op, r, request) for op, r in zip(ran, raw, strict=True)]
        return {
            "revision": self._header_revision(body, request),
            "succeeded": succeeded,
            "responses": responses,
        }

    def _compact(self, request: Mapping[str, Any]) -> dict[str, Any]:
        revision = _integer(request, "revision")
        # physical: answer once the compaction is applied, so the next read sees it.
        self._call("POST", "/v3/kv/compaction", {"revision": revision, "physical": True}, request)
        return {}

    def _watch(self, request: Mapping[str, Any]) -> dict[str, Any]:
        key = _text(request, "key").encode("utf-8", "surrogateescape")
        range_end = _optional_text(request, "range_end")
        end = range_end.encode("utf-8", "surrogateescape") if range_end is not None else None
        start = _integer(request, "start_revision")
        until = _integer(request, "until_revision")
        if until < start:
            return {"events": []}
        deadline = time.monotonic() + self.request_timeout
        current, boundary = self._watch_probe(max(start, 1), request)
        if current is None:  # `start` is beyond the next revision
            return {"events": []}
        # Nothing beyond now exists (the harness writes nothing meanwhile), and revision 1 is
        # the empty store: no event has it.
        until = min(until, current)
        if until < max(start, 2):
            return {"events": []}
        if boundary and until == start and not self._puts_at(start, request):
            # From the compaction revision itself etcd delivers only the PUTs it kept there.
            return {"events": []}
        return {"events": self._stream_events(key, end, max(start, 1), until, deadline, request)}

    # -- watch helpers ---------------------------------------------------------------------
    def _watch_probe(self, start: int, request: Mapping[str, Any]) -> tuple[int | None, bool]:
        """(the current revision, whether `start` is exactly the compaction revision).

        Two count-only ranges, at `start - 1` and if that is compacted at
        `start`. Raises 410 when `start` is below the compaction revision, as
        the watch itself would (etcd cancels it with `compact_revision`). The
        revision is None when `start - 1` is ahead of the store.
        """

        def probe(revision: int) -> int:
            payload = {"key": _b64_bytes(_ALL_KEYS), "revision": revision, "count_only": True}
            body = self._call("POST", "/v3/kv/range", payload, request)
            return self._header_revision(body, request)

        try:
            return probe(max(start - 1, 1)), False
        except _Refused as refused:
            if refused.reason == "FutureRevision":
                return None, False
            if refused.reason != "Compacted" or start == 1:
                raise
        try:
            return probe(start), True
        except _Refused as refused:
            if refused.reason != "Compacted":
                raise
            raise _Refused(
                410,
                "Compacted",
                f"watch from revision {start}: required revision has been compacted",
            ) from None

    def _puts_at(self, revision: int, request: Mapping[str, Any]) -> bool:
        """Whether any key still holds a version written at `revision` (read at `revision`)."""
        payload = {
            "key": _b64_bytes(_ALL_KEYS),
            "range_end": _b64_bytes(_ALL_KEYS),
            "revision": revision,
            "keys_only": True,
            "limit": 1,
            "min_mod_revision": revision,
            "max_mod_revision": revision,
        }
        body = self._call("POST", "/v3/kv/range", payload, request)
        return bool(body.get("kvs"))

    def _stream_events(
        self,
        key: bytes,
        end: bytes | None,
        start: int,
        until: int,
        deadline: float,
        request: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """Read a whole-keyspace watch from `start` until an event at `until` arrives."""
        create = {
            "create_request": {
                "key": _b64_bytes(_ALL_KEYS),
                "range_end": _b64_bytes(_ALL_KEYS),
                "start_revision": start,
                "prev_kv": False,
            }
        }
        conn = self._new_connection(max(deadline - time.monotonic(), 0.001))
        events: list[dict[str, Any]] = []
        last = 0
        try:
            try:
                conn.request("POST", self._base + "/v3/watch", json.dumps(create), _HEADERS)
                response = conn.getresponse()
                if response.status != 200:
                    raw = response.read()
                    self._refuse_or_fault(response.status, raw, "POST /v3/watch", request)
                while last < until:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    if conn.sock is not None:
                        conn.sock.settimeout(remaining)
                    line = response.readline()
                    if not line:
                        self._fault(
                            f"etcd ended the watch stream after revision {last}, before"
                            f" revision {until}",
                            request,
                        )
                    if not line.strip():
                        continue
                    result = self._watch_message(line, request)
                    if result.get("canceled"):
                        self._watch_canceled(result, start, request)
                    for event in self._list_of_dicts(result.get("events"), "events", request):
                        decoded = self._event(event, request)
                        revision = decoded["kv"]["mod_revision"]
                        if revision < last:
                            self._fault(
                                f"watch delivered revision {revision} after {last}", request
                            )
                        last = revision
                        raw_key = decoded["kv"]["key"].encode("utf-8", "surrogateescape")
                        if revision <= until and _in_range(raw_key, key, end):
                            events.append(decoded)
            except TimeoutError:
                self._fault(
                    f"etcd did not deliver the watch events up to revision {until} within"
                    f" {self.request_timeout:g}s (last event read: revision {last or 'none'})",
                    request,
                )
            except (OSError, http.client.HTTPException) as e:
                self._unreachable("POST /v3/watch", e, request)
        finally:
            conn.close()
        return events

    def _watch_message(self, line: bytes, request: Mapping[str, Any]) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except ValueError:
            self._fault(f"the watch stream sent a line that is not JSON: {_excerpt(line)}", request)
        if not isinstance(message, dict):
            self._fault(f"the watch stream sent {_excerpt(message)}", request)
        result = message.get("result")
        if isinstance(result, dict):
            return result
        error = message.get("error")
        if isinstance(error, dict):
            text = str(error.get("message") or error.get("error") or error)
            raise _refusal(500, text)
        self._fault(f"the watch stream sent {_excerpt(message)}", request)

    def _watch_canceled(
        self, result: Mapping[str, Any], start: int, request: Mapping[str, Any]
    ) -> NoReturn:
        compact = self._int(result.get("compact_revision"), "compact_revision", request)
        if compact:
            raise _Refused(
                410,
                "Compacted",
                f"watch from revision {start}: required revision has been compacted"
                f" (compacted up to {compact})",
            )
        reason = result.get("cancel_reason") or "no reason given"
        raise _Refused(500, "InternalError", f"etcd canceled the watch: {reason}")

    def _event(self, event: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
        kind = event.get("type", "PUT")  # PUT is 0: proto3 JSON leaves it out
        kv = event.get("kv")
        if kind not in ("PUT", "DELETE") or not isinstance(kv, dict):
            self._fault(
                f"the watch stream sent an event this target cannot read: {_excerpt(event)}",
                request,
            )
        if kind == "DELETE":
            return {
                "type": "DELETE",
                "kv": {
                    "key": self._bytes_text(kv.get("key"), "key", request),
                    "mod_revision": self._int(kv.get("mod_revision"), "mod_revision", request),
                },
            }
        return {"type": "PUT", "kv": self._kv(kv, request)}

    # -- decoding --------------------------------------------------------------------------
    def _txn_response(
        self, op: Mapping[str, Any], response: Any, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not isinstance(response, dict):
            self._fault(
                f"txn answered a response that is not an object: {_excerpt(response)}", request
            )
        if "put" in op:
            return {"put": {}}
        if "delete" in op:
            inner = response.get("response_delete_range", {})
            return {"delete": {"deleted": self._int(inner.get("deleted"), "deleted", request)}}
        inner = response.get("response_range", {})
        return {"range": {"kvs": self._kvs(inner.get("kvs"), request)}}

    def _kvs(self, raw: Any, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [self._kv(kv, request) for kv in self._list_of_dicts(raw, "kvs", request)]

    def _kv(self, kv: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "key": self._bytes_text(kv.get("key"), "key", request),
            "value": self._bytes_text(kv.get("value"), "value", request),
            "create_revision": self._int(kv.get("create_revision"), "create_revision", request),
            "mod_revision": self._int(kv.get("mod_revision"), "mod_revision", request),
            "version": self._int(kv.get("version"), "version", request),
        }

    def _bytes_text(self, raw: Any, name: str, request: Mapping[str, Any]) -> str:
        """A key or value: base64 of UTF-8 (absent when empty); other bytes surrogate-escaped."""
        try:
            return _unb64(raw)
        except (binascii.Error, TypeError) as e:
            self._fault(f"etcd answered `{name}` that is not base64 ({e}): {raw!r}", request)

    def _list_of_dicts(
        self, raw: Any, name: str, request: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
            self._fault(
                f"etcd answered `{name}` that is not a list of objects: {_excerpt(raw)}", request
            )
        return raw

    def _header_revision(self, body: Mapping[str, Any], request: Mapping[str, Any]) -> int:
        header = body.get("header")
        if not isinstance(header, dict):
            self._fault(f"etcd answered without a header: {_excerpt(body)}", request)
        return self._int(header.get("revision"), "header.revision", request)

    def _int(self, raw: Any, name: str, request: Mapping[str, Any]) -> int:
        """An int64 as the gateway writes it: a decimal string, or absent for 0."""
        if raw is None:
            return 0
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            self._fault(f"etcd answered `{name}` that is not an integer: {raw!r}", request)
        try:
            return int(raw)
        except ValueError:
            self._fault(f"etcd answered `{name}` that is not an integer: {raw!r}", request)

    # -- transport -------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, payload: Mapping[str, Any] | None, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One unary gateway call on the shared connection; its decoded JSON object on 200."""
        what = f"{method} {path}"
        data = json.dumps(payload) if payload is not None else None
        for attempt in (1, 2):
            reused = self._conn is not None and self._conn_used
            conn = self._connection()
            sent = False
            try:
                conn.request(method, self._base + path, data, _HEADERS)
                sent = True
                response = conn.getresponse()
                raw = response.read()
            except TimeoutError:
                self._drop_connection()
                self._fault(
                    f"etcd did not answer {what} within {self.request_timeout:g}s; check it"
                    f" with `etcdctl --endpoints {self.url} endpoint health`",
                    request,
                )
            except (OSError, http.client.HTTPException) as e:
                self._drop_connection()
                # A keep-alive connection etcd has since closed: send again if that cannot
                # write twice (it never reached etcd, or it only reads).
                if attempt == 1 and reused and (not sent or path in _READ_ONLY):
                    continue
                self._unreachable(what, e, request)
            self._conn_used = True
            if response.will_close:
                self._drop_connection()
            if response.status == 200:
                body = _json_object(raw)
                if body is None:
                    self._fault(
                        f"etcd answered {what} with something not a JSON object: {_excerpt(raw)}",
                        request,
                    )
                return body
            self._refuse_or_fault(response.status, raw, what, request)
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuse_or_fault(
        self, status: int, raw: bytes, what: str, request: Mapping[str, Any]
    ) -> NoReturn:
        body = _json_object(raw)
        if body is None:
            self._fault(
                f"etcd answered {what} with HTTP {status} and no gateway error:"
                f" {_excerpt(raw)}; is {self.url} etcd's client URL (etcd >= 3.4 serves /v3)?",
                request,
            )
        message = body.get("error") or body.get("message")
        if not isinstance(message, str):
            message = f"HTTP {status}: {_excerpt(body)}"
        raise _refusal(status, message)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and _dropped(self._conn):
            self._drop_connection()  # etcd closed it while idle (a restart): reconnect first
        if self._conn is None:
            self._conn = self._new_connection(self.request_timeout)
            self._conn_used = False
        return self._conn

    def _new_connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _unreachable(self, what: str, error: BaseException, request: Mapping[str, Any]) -> NoReturn:
        self._fault(
            f"cannot talk to etcd at {self.url} ({what} failed: {type(error).__name__}: {error});"
            f" is it running? check with `ETCDCTL_API=3 etcdctl --endpoints {self.url}"
            " endpoint health`",
            request,
        )

    def _fault(self, message: str, request: Mapping[str, Any]) -> NoReturn:
        raise TargetFault(f"{self.description}: {message}", request=request)


_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _failure(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "ok": False,
        "status": {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
        },
    }


def _refusal(http_status: int, message: str) -> _Refused:
    """etcd's error as the store protocol's Status (compaction errors are gRPC OUT_OF_RANGE)."""
    if "has been compacted" in message:
        return _Refused(410, "Compacted", message)
    if "future revision" in message:
        return _Refused(400, "FutureRevision", message)
    if 400 <= http_status < 500:
        return _Refused(400, "BadRequest", message)
    return _Refused(500, "InternalError", f"etcd answered HTTP {http_status}: {message}")


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle keep-alive connection was closed by the other end (it reads as ready)."""
    if conn.sock is None:
        return False
    try:
        readable, _, _ = select.select([conn.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _excerpt(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def _b64(text: str) -> str:
    return _b64_bytes(text.encode("utf-8", "surrogateescape"))


def _b64_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64_bytes(raw: Any) -> bytes:
    if raw is None:
        return b""
    if not isinstance(raw, str):
        raise TypeError(f"expected base64 text, got {raw!r}")
    return base64.b64decode(raw, validate=True)


def _unb64(raw: Any) -> str:
    return _unb64_bytes(raw).decode("utf-8", "surrogateescape")


def _in_range(key: bytes, start: bytes, end: bytes | None) -> bool:
    """etcd's range semantics on bytes: no end is one key, `\\0` is every key >= start."""
    if not end:
        return key == start
    if end == b"\x00":
        return key >= start
    return start <= key < end


# -- request validation (malformed requests answer 400 before etcd is asked) -------------------
def _bad(message: str) -> _Refused:
    return _Refused(400, "BadRequest", message)


def _text(request: Mapping[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str):
        raise _bad(f"`{name}` must be a string, not {_excerpt(value)}")
    return value


def _optional_text(request: Mapping[str, Any], name: str) -> str | None:
    return None if request.get(name) is None else _text(request, name)


def _integer(request: Mapping[str, Any], name: str) -> int:
    value = request.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"`{name}` must be an integer, not {_excerpt(value)}")
    return value


def _list(request: Mapping[str, Any], name: str) -> list[Any]:
    value = request.get(name, [])
    if not isinstance(value, list):
        raise _bad(f"`{name}` must be a list, not {_excerpt(value)}")
    return value


def _key_range(spec: Mapping[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"key": _b64(_text(spec, "key"))}
    range_end = _optional_text(spec, "range_end")
    if range_end is not None:
        payload["range_end"] = _b64(range_end)
    return payload


def _range_payload(spec: Mapping[str, Any]) -> dict[str, Any]:
    payload = _key_range(spec)
    if spec.get("revision") is not None:
        revision = _integer(spec, "revision")
        if revision:
            payload["revision"] = revision
    return payload


def _compare(compare: Any) -> dict[str, Any]:
    if not isinstance(compare, dict):
        raise _bad(f"a compare must be an object, not {_excerpt(compare)}")
    target = compare.get("target")
    result = compare.get("result")
    if target not in _COMPARE_FIELDS:
        raise _bad(f"compare `target` must be one of {sorted(_COMPARE_FIELDS)}, not {target!r}")
    if result not in _COMPARE_RESULTS:
        raise _bad(f"compare `result` must be one of {sorted(_COMPARE_RESULTS)}, not {result!r}")
    field = _COMPARE_FIELDS[target]
    operand = _b64(_text(compare, "value")) if target == "VALUE" else _integer(compare, "value")
    return {"key": _b64(_text(compare, "key")), "target": target, "result": result, field: operand}


def _txn_op(op: Any) -> dict[str, Any]:
    if not isinstance(op, dict) or len(op) != 1:
        raise _bad(f"a txn operation must be one of put, delete or range, not {_excerpt(op)}")
    ((kind, spec),) = op.items()
    if not isinstance(spec, dict):
        raise _bad(f"txn operation {kind!r} must be an object, not {_excerpt(spec)}")
    if kind == "put":
        return {
            "request_put": {"key": _b64(_text(spec, "key")), "value": _b64(_text(spec, "value"))}
        }
    if kind == "delete":
        return {"request_delete_range": _key_range(spec)}
    if kind == "range":
        return {"request_range": _range_payload(spec)}
    raise _bad(f"a txn operation must be one of put, delete or range, not {kind!r}")
