"""The `api` level: user actions on API objects, the garbage collector and namespaces.

The actions use a small world on purpose (three names, two extra
namespaces, a few labels) so that collisions, duplicates, owners and
deletions meet within a few steps, which is also what keeps shrunk
counterexamples short.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, initialize, precondition, rule

from conformance.machines.base import ClusterActions, action
from conformance.machines.runtime import LevelMachine

__all__ = ["ApiActions", "ApiMachine"]

KINDS = ("ConfigMap", "Secret", "Pod", "ReplicaSet", "Deployment", "Lease", "Service")
NAMESPACES = ("default", "ns-a", "ns-b")
NAMES = ("a", "b", "c")
SCALABLE = ("ReplicaSet", "Deployment")
CONTROLLERS = ("garbagecollector", "namespace")
HOLD = "kubeprop.io/hold"
FINALIZERS = (HOLD, "kubeprop.io/keep")
DEFECTS = (
    "bad-name",
    "bad-label-key",
    "bad-label-value",
    "negative-replicas",
    "selector-mismatch",
    "bad-data-key",
)


def _manifest(kind: str, namespace: str, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
    }
    pod_spec = {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
    if kind == "ConfigMap":
        obj["data"] = {"key": "one"}
    elif kind == "Secret":
        obj["data"] = {"key": base64.b64encode(b"one").decode()}
    elif kind == "Pod":
        obj["spec"] = pod_spec
    elif kind in SCALABLE:
        obj["spec"] = {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        }
    elif kind == "Lease":
        obj["spec"] = {"holderIdentity": "one"}
    elif kind == "Service":
        obj["spec"] = {"selector": {"app": name}, "ports": [{"port": 80}]}
    return obj


def _defective(kind: str, namespace: str, defect: str) -> dict[str, Any]:
    obj = _manifest(kind, namespace, "x", {})
    meta = obj["metadata"]
    if defect == "bad-name":
        meta["name"] = "Not_A_Name"
    elif defect == "bad-label-key":
        meta["labels"] = {"-bad/key-": "v"}
    elif defect == "bad-label-value":
        meta["labels"] = {"tier": "not a value!"}
    elif defect == "negative-replicas" and kind in SCALABLE:
        obj["spec"]["replicas"] = -1
    elif defect == "selector-mismatch" and kind in SCALABLE:
        obj["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    elif defect == "bad-data-key" and kind in ("ConfigMap", "Secret"):
        obj["data"] = {"bad key!": obj["data"]["key"]}
    else:
        meta["name"] = "-dash-first"
    return obj


def _address(key: Mapping[str, str]) -> dict[str, str]:
    return {"kind": key["kind"], "namespace": key["namespace"], "name": key["name"]}


class ApiActions(ClusterActions):
    level = "api"

    def _get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        answer = self.send({"op": "get", **_address(key)})
        return answer.get("object") if answer.get("ok") else None

    def _uid_of(self, key: Mapping[str, str]) -> str | None:
        snapshot = self.driver.trace.snapshot or {}
        obj = snapshot.get((key["kind"], key.get("namespace", ""), key["name"]))
        return obj["metadata"].get("uid") if obj else None

    @action
    def reset(self, seed: int) -> None:
        """Start from an empty cluster that has the namespaces of this level's world."""
        if "reset" in self.driver.info.capabilities:
            self.send({"op": "reset", "seed": seed})
        for name in NAMESPACES[1:]:
            self.create_namespace(name)

    @action
    def create_namespace(self, name: str) -> None:
        self.send({"op": "create", "object": {"kind": "Namespace", "metadata": {"name": name}}})

    @action
    def delete_namespace(self, name: str) -> None:
        self.send({"op": "delete", "kind": "Namespace", "name": name})

    @action
    def create(
        self,
        kind: str,
        namespace: str,
        name: str,
        labels: Mapping[str, str],
        owner: Mapping[str, str] | None = None,
        block: bool = False,
        finalizer: bool = False,
        owners: list[Mapping[str, str]] | None = None,
    ) -> None:
        obj = _manifest(kind, namespace, name, labels)
        refs = []
        for each in ([owner] if owner is not None else []) + list(owners or ()):
            uid = self._uid_of(each) or "00000000-0000-4000-8000-000000000000"
            ref: dict[str, Any] = {
                "apiVersion": _API_VERSIONS[each["kind"]],
                "kind": each["kind"],
                "name": each["name"],
                "uid": uid,
            }
            if block:
                ref["blockOwnerDeletion"] = True
            refs.append(ref)
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        if finalizer:
            obj["metadata"]["finalizers"] = [HOLD]
        self.send({"op": "create", "object": obj})

    @action
    def create_dependent(
        self,
        kind: str,
        name: str,
        owner_index: int,
        block: bool,
        namespace: str | None = None,
        second_owner_index: int | None = None,
        finalizer: bool = False,
    ) -> None:
        """A dependent of one or two of the objects that exist now (chosen by index).

        It lives in its (first) owner's namespace unless `namespace` says otherwise.
        """
        snapshot = self.driver.trace.snapshot or {}
        candidates = sorted(
            k for k in snapshot if k[0] in KINDS or (k[0] == "Namespace" and k[2] in NAMESPACES[1:])
        )
        if not candidates:
            return
        chosen = [candidates[owner_index % len(candidates)]]
        if second_owner_index is not None:
            second = candidates[second_owner_index % len(candidates)]
            if second != chosen[0]:
                chosen.append(second)
        home = namespace or chosen[0][1] or NAMESPACES[0]
        owners = [{"kind": k, "namespace": ns, "name": n} for k, ns, n in chosen]
        self.create(kind, home, name, {}, owners=owners, block=block, finalizer=finalizer)

    @action
    def create_invalid(self, kind: str, namespace: str, defect: str) -> None:
        self.send({"op": "create", "object": _defective(kind, namespace, defect)})

    @action
    def update_labels(self, key: Mapping[str, str], labels: Mapping[str, str]) -> None:
        obj = self._get(key)
        if obj is not None:
            obj["metadata"]["labels"] = dict(labels)
            self.send({"op": "update", "object": obj})

    @action
    def update_unchanged(self, key: Mapping[str, str]) -> None:
        obj = self._get(key)
        if obj is not None:
            self.send({"op": "update", "object": obj})

    @action
    def update_spec(self, key: Mapping[str, str]) -> None:
        obj = self._get(key)
        if obj is None:
            return
        kind = obj["kind"]
        if kind in ("ConfigMap", "Secret"):
            obj["data"] = {**(obj.get("data") or {}), "other": base64.b64encode(b"x").decode()}
        elif kind == "Pod":
            obj["spec"]["containers"][0]["image"] = "registry.example/app:2"
        elif kind in SCALABLE:
            obj["spec"]["replicas"] = obj["spec"].get("replicas", 1) + 1
        elif kind == "Lease":
            obj["spec"]["holderIdentity"] = "two"
        elif kind == "Service":
            obj["spec"]["ports"] = [{"port": 81}]
        self.send({"op": "update", "object": obj})

    @action
    def update_status(self, key: Mapping[str, str]) -> None:
        obj = self._get(key)
        if obj is not None:
            # A client may not write status through the main resource, least of all claim
            # that a generation not yet written was observed.
            generation = obj["metadata"].get("generation", 0)
            obj["status"] = {
                **(obj.get("status") or {}),
                "observedGeneration": generation + 1,
                "kubepropNote": "written by a client",
            }
            self.send({"op": "update", "object": obj})

    @action
    def update_stale(self, key: Mapping[str, str]) -> None:
        obj = self._get(key)
        if obj is not None:
            stale = copy.deepcopy(obj)
            stale["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) - 1)
            stale["metadata"]["labels"] = {"changed": "yes"}
            self.send({"op": "update", "object": stale})

    @action
    def patch_labels(self, key: Mapping[str, str], labels: Mapping[str, str], stale: bool) -> None:
        patch: dict[str, Any] = {"metadata": {"labels": dict(labels)}}
        if stale:
            obj = self._get(key)
            if obj is None:
                return
            patch["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) - 1)
        self.send({"op": "patch", **_address(key), "patch": patch})

    @action
    def scale(self, key: Mapping[str, str], replicas: int) -> None:
        self.send({"op": "scale", **_address(key), "replicas": replicas})

    @action
    def delete(self, key: Mapping[str, str], propagation: str | None, stale: bool) -> None:
        request: dict[str, Any] = {"op": "delete", **_address(key)}
        if propagation is not None:
            request["propagationPolicy"] = propagation
        if stale:
            obj = self._get(key)
            if obj is None:
                return
            request["preconditions"] = {
                "resourceVersion": str(int(obj["metadata"]["resourceVersion"]) - 1)
            }
        self.send(request)

    @action
    def delete_owner(self, index: int, propagation: str | None) -> None:
        """Delete one of the objects that currently own something (chosen by `index`)."""
        snapshot = self.driver.trace.snapshot or {}
        owned = {
            ref.get("uid")
            for obj in snapshot.values()
            for ref in obj["metadata"].get("ownerReferences") or ()
        }
        owners = sorted(k for k, o in snapshot.items() if o["metadata"].get("uid") in owned)
        if owners:
            kind, namespace, name = owners[index % len(owners)]
            self.delete({"kind": kind, "namespace": namespace, "name": name}, propagation, False)

    @action
    def add_finalizer(self, key: Mapping[str, str], finalizer: str) -> None:
        obj = self._get(key)
        if obj is not None:
            finalizers = list(obj["metadata"].get("finalizers") or [])
            if finalizer not in finalizers:
                self.send(
                    {
                        "op": "patch",
                        **_address(key),
                        "patch": {"metadata": {"finalizers": [*finalizers, finalizer]}},
                    }
                )

    @action
    def add_finalizer_while_terminating(self, index: int, finalizer: str) -> None:
        """Try to add a finalizer to one of the objects being deleted now (chosen by index)."""
        snapshot = self.driver.trace.snapshot or {}
        terminating = sorted(
            k for k, o in snapshot.items() if o["metadata"].get("deletionTimestamp")
        )
        if terminating:
            kind, namespace, name = terminating[index % len(terminating)]
            self.add_finalizer({"kind": kind, "namespace": namespace, "name": name}, finalizer)

    @action
    def remove_finalizers(self, key: Mapping[str, str]) -> None:
        """Take off every finalizer this level's user put on (system ones stay)."""
        obj = self._get(key)
        held = obj["metadata"].get("finalizers") or [] if obj is not None else []
        if any(f in FINALIZERS for f in held):
            kept = [f for f in held if f not in FINALIZERS]
            self.send(
                {
                    "op": "patch",
                    **_address(key),
                    "patch": {"metadata": {"finalizers": kept or None}},
                }
            )

    @action
    def get(self, key: Mapping[str, str]) -> None:
        self._get(key)

    @action
    def list(self, kind: str, namespace: str | None, selector: str) -> None:
        request: dict[str, Any] = {"op": "list", "kind": kind, "labelSelector": selector}
        if namespace is not None:
            request["namespace"] = namespace
        self.send(request)

    def _recorded_rv(self, back: int) -> str | None:
        rvs = [ex.answer["resourceVersion"] for _, ex in self.driver.trace.snapshots()]
        return rvs[-1 - back % len(rvs)] if rvs else None

    @action
    def watch(self, back: int, kind: str | None) -> None:
        rv = self._recorded_rv(back)
        if rv is not None:
            request: dict[str, Any] = {"op": "watch", "resourceVersion": rv}
            if kind is not None:
                request["kind"] = kind
            self.send(request)

    @action
    def compact(self, back: int) -> None:
        rv = self._recorded_rv(back + 1)
        if rv is not None:
            self.send({"op": "compact", "resourceVersion": rv})


_API_VERSIONS = {
    "ConfigMap": "v1",
    "Secret": "v1",
    "Pod": "v1",
    "ReplicaSet": "apps/v1",
    "Deployment": "apps/v1",
    "Lease": "coordination.k8s.io/v1",
    "Service": "v1",
    "Namespace": "v1",
}

_keys = st.builds(
    lambda kind, namespace, name: {"kind": kind, "namespace": namespace, "name": name},
    st.sampled_from(KINDS),
    st.sampled_from(NAMESPACES),
    st.sampled_from(NAMES),
)
_labels = st.dictionaries(
    st.sampled_from(("tier", "track")), st.sampled_from(("web", "db", "canary")), max_size=2
)
_selectors = st.sampled_from(("", "tier=web", "tier!=web", "tier in (web,db)", "!track"))


class ApiMachine(LevelMachine):
    actions_class = ApiActions
    objects = Bundle("objects")

    @initialize(seed=st.integers(0, 2**16))
    def reset(self, seed: int) -> None:
        self.do("reset", seed=seed)

    @rule(name=st.sampled_from(NAMESPACES[1:]))
    def create_namespace(self, name: str) -> None:
        self.do("create_namespace", name=name)

    @rule(name=st.sampled_from(NAMESPACES[1:]))
    def delete_namespace(self, name: str) -> None:
        self.do("delete_namespace", name=name)

    @rule(target=objects, key=_keys, labels=_labels, finalizer=st.booleans())
    def create(self, key: dict[str, str], labels: dict[str, str], finalizer: bool) -> Any:
        self.do("create", **key, labels=labels, finalizer=finalizer)
        return key

    @rule(target=objects, key=_keys, owner=objects, block=st.booleans(), elsewhere=st.booleans())
    def create_owned(
        self, key: dict[str, str], owner: dict[str, str], block: bool, elsewhere: bool
    ) -> Any:
        """A dependent in its owner's namespace, or (`elsewhere`) in a namespace drawn apart."""
        if not elsewhere:
            key = {**key, "namespace": owner["namespace"]}
        self.do("create", **key, labels={}, owner=owner, block=block)
        return key

    @rule(
        target=objects,
        kind=st.sampled_from(KINDS),
        name=st.sampled_from(NAMES),
        owner_index=st.integers(0, 15),
        block=st.booleans(),
        namespace=st.none() | st.sampled_from(NAMESPACES),
        second_owner_index=st.none() | st.integers(0, 15),
        finalizer=st.booleans(),
    )
    def create_dependent(
        self,
        kind: str,
        name: str,
        owner_index: int,
        block: bool,
        namespace: str | None,
        second_owner_index: int | None,
        finalizer: bool,
    ) -> Any:
        self.do(
            "create_dependent",
            kind=kind,
            name=name,
            owner_index=owner_index,
            block=block,
            namespace=namespace,
            second_owner_index=second_owner_index,
            finalizer=finalizer,
        )
        return {"kind": kind, "namespace": namespace or "default", "name": name}

    @rule(
        target=objects,
        kind=st.sampled_from(KINDS),
        name=st.sampled_from(NAMES),
        owner_index=st.integers(0, 15),
    )
    def create_held_blocker(self, kind: str, name: str, owner_index: int) -> Any:
        """A dependent that blocks its owner's foreground deletion and is held by a finalizer."""
        return self.create_dependent(kind, name, owner_index, True, None, None, True)

    @rule(target=objects, key=_keys, owner=st.sampled_from(NAMESPACES[1:]))
    def create_owned_by_namespace(self, key: dict[str, str], owner: str) -> Any:
        owner_key = {"kind": "Namespace", "namespace": "", "name": owner}
        self.do("create", **key, labels={}, owner=owner_key, block=False)
        return key

    @rule(
        kind=st.sampled_from(KINDS),
        namespace=st.sampled_from(NAMESPACES),
        defect=st.sampled_from(DEFECTS),
    )
    def create_invalid(self, kind: str, namespace: str, defect: str) -> None:
        self.do("create_invalid", kind=kind, namespace=namespace, defect=defect)

    @rule(key=objects, labels=_labels)
    def update_labels(self, key: dict[str, str], labels: dict[str, str]) -> None:
        self.do("update_labels", key=key, labels=labels)

    @rule(key=objects)
    def update_unchanged(self, key: dict[str, str]) -> None:
        self.do("update_unchanged", key=key)

    @rule(key=objects)
    def update_spec(self, key: dict[str, str]) -> None:
        self.do("update_spec", key=key)

    @rule(key=objects)
    def update_status(self, key: dict[str, str]) -> None:
        self.do("update_status", key=key)

    @rule(key=objects)
    def update_stale(self, key: dict[str, str]) -> None:
        self.do("update_stale", key=key)

    @rule(key=objects, labels=_labels, stale=st.booleans())
    def patch_labels(self, key: dict[str, str], labels: dict[str, str], stale: bool) -> None:
        self.do("patch_labels", key=key, labels=labels, stale=stale)

    @rule(key=objects, replicas=st.integers(0, 5))
    def scale(self, key: dict[str, str], replicas: int) -> None:
        self.do("scale", key=key, replicas=replicas)

    @rule(
        key=objects,
        propagation=st.sampled_from((None, "Background", "Foreground", "Orphan")),
        stale=st.booleans(),
    )
    def delete(self, key: dict[str, str], propagation: str | None, stale: bool) -> None:
        self.do("delete", key=key, propagation=propagation, stale=stale)

    @rule(
        index=st.integers(0, 7),
        propagation=st.sampled_from((None, "Background", "Foreground", "Orphan")),
    )
    def delete_owner(self, index: int, propagation: str | None) -> None:
        self.do("delete_owner", index=index, propagation=propagation)

    @rule(key=objects, finalizer=st.sampled_from(FINALIZERS))
    def add_finalizer(self, key: dict[str, str], finalizer: str) -> None:
        self.do("add_finalizer", key=key, finalizer=finalizer)

    @rule(index=st.integers(0, 7), finalizer=st.sampled_from(FINALIZERS))
    def add_finalizer_while_terminating(self, index: int, finalizer: str) -> None:
        self.do("add_finalizer_while_terminating", index=index, finalizer=finalizer)

    @rule(key=objects)
    def remove_finalizers(self, key: dict[str, str]) -> None:
        self.do("remove_finalizers", key=key)

    @rule(key=objects)
    def get(self, key: dict[str, str]) -> None:
        self.do("get", key=key)

    @rule(
        kind=st.sampled_from(KINDS),
        namespace=st.none() | st.sampled_from(NAMESPACES),
        selector=_selectors,
    )
    def list(self, kind: str, namespace: str | None, selector: str) -> None:
        self.do("list", kind=kind, namespace=namespace, selector=selector)

    @precondition(lambda self: self.can("watch"))
    @rule(back=st.integers(0, 6), kind=st.none() | st.sampled_from(KINDS))
    def watch(self, back: int, kind: str | None) -> None:
        self.do("watch", back=back, kind=kind)

    @precondition(lambda self: self.can("watch", "compact"))
    @rule(back=st.integers(0, 6))
    def compact(self, back: int) -> None:
        self.do("compact", back=back)

    @rule(seconds=st.sampled_from((0, 1, 5, 30)))
    def advance(self, seconds: float) -> None:
        self.do("advance", seconds=seconds)

    @rule()
    def settle(self) -> None:
        self.do("settle", max_seconds=600)

    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(CONTROLLERS), seconds=st.sampled_from((0, 5, 60)))
    def lag(self, controller: str, seconds: float) -> None:
        self.do("lag", controller=controller, seconds=seconds)

    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(CONTROLLERS))
    def restart(self, controller: str) -> None:
        self.do("restart", controller=controller)
