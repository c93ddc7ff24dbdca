"""The `store` level: puts, deletes, transactions, reads at past revisions, watches,
compaction and backups, on a small keyspace under a prefix of the example's own."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from conformance.machines.base import Actions, action
from conformance.machines.runtime import LevelMachine
from properties.keyranges import prefix_end

__all__ = ["StoreActions", "StoreMachine"]

KEYS = ("a", "b", "c")
VALUES = ("1", "2", "3")


class StoreActions(Actions):
    level = "store"
    observations = ()  # the answers are the observations; a store has no snapshot op

    def __init__(self, driver: Any) -> None:
        super().__init__(driver)
        self.prefix = "/kubeprop-store/unset/"
        self.first = 0

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _revision(self) -> int:
        answer = self.send({"op": "kv.status"})
        return int(answer.get("revision", 0)) if answer.get("ok") else 0

    def _op(self, spec: list[Any]) -> dict[str, Any]:
        kind, key, value = spec
        if kind == "put":
            return {"put": {"key": self._key(key), "value": value}}
        if kind == "delete":
            return {"delete": {"key": self._key(key)}}
        return {"range": {"key": self.prefix, "range_end": prefix_end(self.prefix)}}

    @action
    def reset(self, seed: int) -> None:
        """Start an example: a fresh store when the target can reset, a fresh prefix always."""
        if "reset" in self.driver.info.capabilities:
            self.send({"op": "reset", "seed": seed})
        # A real etcd keeps what earlier examples wrote: every example gets a prefix of its own.
        self.prefix = f"/kubeprop-store/{seed}-{uuid.uuid4().hex[:12]}/"
        self.first = self._revision()

    @action
    def put(self, key: str, value: str) -> None:
        self.send({"op": "kv.put", "key": self._key(key), "value": value})

    @action
    def delete(self, key: str | None) -> None:
        """Delete one key, or (None) every key of the example."""
        if key is None:
            self.send({"op": "kv.delete", "key": self.prefix, "range_end": prefix_end(self.prefix)})
        else:
            self.send({"op": "kv.delete", "key": self._key(key)})

    @action
    def txn(
        self,
        key: str,
        field: str,
        result: str,
        offset: int,
        success: list[list[Any]],
        failure: list[list[Any]],
    ) -> None:
        """A transaction whose compare is built from the key's current state, nudged by offset."""
        found = self.send({"op": "kv.range", "key": self._key(key)})
        kvs = found.get("kvs") or [] if found.get("ok") else []
        current = kvs[0] if kvs else None
        if field == "VALUE":
            value: Any = (
                VALUES[(VALUES.index(current["value"]) + offset) % len(VALUES)]
                if (current and current["value"] in VALUES)
                else VALUES[offset % len(VALUES)]
            )
        else:
            name = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision"}[field]
            value = (current[name] if current else 0) + offset
        self.send(
            {
                "op": "kv.txn",
                "compares": [
                    {"key": self._key(key), "target": field, "result": result, "value": value}
                ],
                "success": [self._op(s) for s in success],
                "failure": [self._op(f) for f in failure],
            }
        )

    @action
    def range(self, key: str | None, back: int) -> None:
        """Read one key or the example's keys, now (back 0) or `back` revisions ago."""
        request: dict[str, Any] = {
            "op": "kv.range",
            "key": self.prefix,
            "range_end": prefix_end(self.prefix),
        }
        if key is not None:
            request = {"op": "kv.range", "key": self._key(key)}
        if back:
            request["revision"] = max(self._revision() - back, self.first, 1)
        self.send(request)

    @action
    def watch(self, back: int) -> None:
        """Watch the example's keys from `back` revisions ago up to now."""
        now = self._revision()
        self.send(
            {
                "op": "kv.watch",
                "key": self.prefix,
                "range_end": prefix_end(self.prefix),
                "start_revision": max(now - back, self.first + 1),
                "until_revision": now,
            }
        )

    @action
    def compact(self, back: int) -> None:
        """Compact at a revision of this example's own (never below its first)."""
        self.send({"op": "kv.compact", "revision": max(self._revision() - back, self.first)})

    @action
    def backup_and_restore(self) -> None:
        """Back the store up, restore it, and read the example's keys at every revision."""
        image = self.send({"op": "kv.snapshot"})
        if not image.get("ok"):
            return
        self.send({"op": "kv.restore", "image": image["image"]})
        now = self._revision()
        for revision in range(self.first, now + 1):
            self.send(
                {
                    "op": "kv.range",
                    "key": self.prefix,
                    "range_end": prefix_end(self.prefix),
                    "revision": revision,
                }
            )


_ops = st.lists(
    st.tuples(
        st.sampled_from(("put", "delete", "range")), st.sampled_from(KEYS), st.sampled_from(VALUES)
    ).map(list),
    max_size=2,
)


class StoreMachine(LevelMachine):
    actions_class = StoreActions
    target_kind = "store"

    @initialize(seed=st.integers(0, 2**16))
    def reset(self, seed: int) -> None:
        self.do("reset", seed=seed)

    @rule(key=st.sampled_from(KEYS), value=st.sampled_from(VALUES))
    def put(self, key: str, value: str) -> None:
        self.do("put", key=key, value=value)

    @rule(key=st.none() | st.sampled_from(KEYS))
    def delete(self, key: str | None) -> None:
        self.do("delete", key=key)

    @rule(
        key=st.sampled_from(KEYS),
        field=st.sampled_from(("VALUE", "VERSION", "CREATE", "MOD")),
        result=st.sampled_from(("EQUAL", "NOT_EQUAL", "GREATER", "LESS")),
        offset=st.integers(-1, 1),
        success=_ops,
        failure=_ops,
    )
    def txn(
        self,
        key: str,
        field: str,
        result: str,
        offset: int,
        success: list[list[Any]],
        failure: list[list[Any]],
    ) -> None:
        self.do(
            "txn",
            key=key,
            field=field,
            result=result,
            offset=offset,
            success=success,
            failure=failure,
        )

    @rule(key=st.none() | st.sampled_from(KEYS), back=st.integers(0, 6))
    def range(self, key: str | None, back: int) -> None:
        self.do("range", key=key, back=back)

    @precondition(lambda self: self.can("watch"))
    @rule(back=st.integers(0, 8))
    def watch(self, back: int) -> None:
        self.do("watch", back=back)

    @precondition(lambda self: self.can("compact", "kv.compact"))
    @rule(back=st.integers(0, 6))
    def compact(self, back: int) -> None:
        self.do("compact", back=back)

    @precondition(lambda self: self.can("backup", "kv.snapshot"))
    @rule()
    def backup_and_restore(self) -> None:
        self.do("backup_and_restore")

    def teardown(self) -> None:
        """No settling in a store; end with a full read so the last writes are judged too."""
        if not self._failed and self.driver.steps:
            self.do("range", key=None, back=0)
