"""The reference store (`reference/store.py`) behind the ops of docs/store-protocol.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference.mutants import store_for
from reference.store import (
    Compacted,
    Compare,
    DeleteRange,
    FutureRevision,
    KeyValue,
    Put,
    Range,
    RangeResult,
    Store,
    StoreError,
    restore,
    snapshot,
)

__all__ = ["ReferenceStoreTarget"]

_TARGETS = ("VALUE", "VERSION", "CREATE", "MOD")
_RESULTS = ("EQUAL", "NOT_EQUAL", "GREATER", "LESS")


class _BadRequest(Exception):
    pass


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "ok": False,
        "status": {
            "kind": "Status",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
        },
    }


def _kv(kv: KeyValue) -> dict[str, Any]:
    return {
        "key": kv.key,
        "value": kv.value,
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
    }


def _text(request: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    value = request.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"`{field}` is required and must be a string")
    return value


def _int(request: Mapping[str, Any], field: str, default: int | None = None) -> int:
    value = request.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadRequest(f"`{field}` is required and must be an integer ≥ 0")
    return value


class ReferenceStoreTarget:
    """One `Store` value, stepped by the store ops; a mutant swaps the store's class."""

    def __init__(self, mutant: str | None = None) -> None:
        self.mutant = mutant
        self.store: Store = store_for(mutant)
        self.description = "reference store" + (f" (mutant {mutant})" if mutant else "")

    def close(self) -> None:
        pass

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        handler = (
            getattr(self, "_" + str(op).replace(".", "_"), None) if isinstance(op, str) else None
        )
        if handler is None:
            return _status(501, "NotImplemented", f"op {op!r} is not a store op")
        try:
            answer: dict[str, Any] = handler(request)
        except _BadRequest as e:
            return _status(400, "BadRequest", str(e))
        except Compacted as e:
            return _status(410, "Compacted", str(e))
        except FutureRevision as e:
            return _status(400, "FutureRevision", str(e))
        except StoreError as e:
            return _status(400, "BadRequest", str(e))
        return {"ok": True, **answer}

    def _hello(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": "kubeprop-reference-store",
            "version": "0.1.0",
            "capabilities": ["watch", "compact", "backup", "reset"],
        }

    def _reset(self, request: Mapping[str, Any]) -> dict[str, Any]:
        self.store = store_for(self.mutant)
        return {}

    def _kv_status(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return {"revision": self.store.revision, "compact_revision": self.store.compact_revision}

    def _kv_put(self, request: Mapping[str, Any]) -> dict[str, Any]:
        key, value = _text(request, "key"), _text(request, "value")
        self.store, result = self.store.txn((), (Put(str(key), value),))
        return {"revision": result.revision}

    def _kv_range(self, request: Mapping[str, Any]) -> dict[str, Any]:
        found = self.store.range(
            str(_text(request, "key")),
            _text(request, "range_end", required=False),
            _int(request, "revision", 0),
        )
        return {"revision": found.revision, "kvs": [_kv(kv) for kv in found.kvs]}

    def _kv_delete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = DeleteRange(str(_text(request, "key")), _text(request, "range_end", required=False))
        self.store, result = self.store.txn((), (op,))
        return {"revision": result.revision, "deleted": result.responses[0]}

    def _kv_txn(self, request: Mapping[str, Any]) -> dict[str, Any]:
        compares = [self._compare(c) for c in request.get("compares") or ()]
        success = [self._operation(o) for o in request.get("success") or ()]
        failure = [self._operation(o) for o in request.get("failure") or ()]
        self.store, result = self.store.txn(compares, success, failure)
        ops = success if result.succeeded else failure
        responses: list[dict[str, Any]] = []
        for op, response in zip(ops, result.responses, strict=True):
            if isinstance(op, Put):
                responses.append({"put": {}})
            elif isinstance(op, DeleteRange):
                responses.append({"delete": {"deleted": response}})
            else:
                assert isinstance(response, RangeResult)
                responses.append({"range": {"kvs": [_kv(kv) for kv in response.kvs]}})
        return {"revision": result.revision, "succeeded": result.succeeded, "responses": responses}

    def _compare(self, c: Any) -> Compare:
        if not isinstance(c, Mapping) or c.get("target") not in _TARGETS:
            raise _BadRequest(f"a compare needs `target` among {_TARGETS}: {c!r}")
        if c.get("result") not in _RESULTS:
            raise _BadRequest(f"a compare needs `result` among {_RESULTS}: {c!r}")
        return Compare(str(_text(c, "key")), c["target"], c["result"], c.get("value"))

    def _operation(self, o: Any) -> Put | DeleteRange | Range:
        if not isinstance(o, Mapping) or len(o) != 1:
            raise _BadRequest(f"a txn operation is one of put, delete, range: {o!r}")
        ((kind, body),) = o.items()
        if not isinstance(body, Mapping):
            raise _BadRequest(f"a txn operation's body must be an object: {o!r}")
        key = str(_text(body, "key"))
        if kind == "put":
            return Put(key, _text(body, "value"))
        if kind == "delete":
            return DeleteRange(key, _text(body, "range_end", required=False))
        if kind == "range":
            return Range(key, _text(body, "range_end", required=False))
        raise _BadRequest(f"unknown txn operation {kind!r}")

    def _kv_watch(self, request: Mapping[str, Any]) -> dict[str, Any]:
        start = _int(request, "start_revision")
        until = _int(request, "until_revision")
        key = str(_text(request, "key"))
        range_end = _text(request, "range_end", required=False)
        if until < start:
            return {"events": []}
        events = self.store.events_after(max(start - 1, 0), key, range_end or None)
        return {
            "events": [
                {
                    "type": e.type,
                    "kv": _kv(e.kv)
                    if e.type == "PUT"
                    else {"key": e.kv.key, "mod_revision": e.kv.mod_revision},
                }
                for e in events
                if e.kv.mod_revision <= until
            ]
        }

    def _kv_compact(self, request: Mapping[str, Any]) -> dict[str, Any]:
        self.store = self.store.compact(_int(request, "revision"))
        return {}

    def _kv_snapshot(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return {"image": snapshot(self.store)}

    def _kv_restore(self, request: Mapping[str, Any]) -> dict[str, Any]:
        image = request.get("image")
        if not isinstance(image, Mapping):
            raise _BadRequest("`image` is required: the answer of kv.snapshot")
        self.store = restore(dict(image), cls=type(self.store))
        return {}
