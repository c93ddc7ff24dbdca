"""Decoded objects shared between readers: decoded once per stored version, and read-only.

A view hands every controller the same decoded object for one stored version
(`reference.controllers.base.shared`, memoised on the store's `KeyValue`), so
no reader may change it: writing raises, and the next reader still sees the
stored object.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from reference import new_cluster
from reference.api.server import ApiState, handle
from reference.controllers import View
from reference.controllers.base import shared
from reference.objects import FrozenDict, FrozenList, copy_json, decode, encode, freeze
from reference.store import KeyValue

POD: dict[str, Any] = {
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default", "labels": {"app": "a"}},
    "spec": {
        "containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
    },
}


def cluster_view() -> tuple[ApiState, View]:
    api = new_cluster().api
    api, answer = handle(api, {"op": "create", "object": POD}, 0.0, system=True)
    assert answer["ok"] is True, answer
    store = api.store
    return api, View(store, store.revision, store)


def stored_pod(api: ApiState) -> KeyValue:
    kv = api.store.get("/registry/pods/default/p")
    assert kv is not None
    return kv


def mutations(obj: Any) -> list[Any]:
    containers = obj["spec"]["containers"]
    return [
        lambda: obj.__setitem__("kind", "Node"),
        lambda: obj.__delitem__("spec"),
        lambda: obj.update(kind="Node"),
        lambda: obj.setdefault("status", {}),
        lambda: obj.pop("kind"),
        lambda: obj.popitem(),
        lambda: obj.clear(),
        lambda: obj["metadata"].__setitem__("name", "q"),
        lambda: obj["metadata"]["labels"].__setitem__("app", "b"),
        lambda: containers.append({}),
        lambda: containers.extend([{}]),
        lambda: containers.insert(0, {}),
        lambda: containers.__setitem__(0, {}),
        lambda: containers.__delitem__(0),
        lambda: containers.pop(),
        lambda: containers.remove(containers[0]),
        lambda: containers.clear(),
        lambda: containers.sort(),
        lambda: containers.reverse(),
        lambda: containers[0]["ports"].append({"containerPort": 81}),
        lambda: containers[0].__setitem__("image", "x"),
    ]


def test_every_read_of_one_version_is_the_same_decoded_object() -> None:
    api, view = cluster_view()
    first = view.get("Pod", "default", "p")
    assert first is view.live_get("Pod", "default", "p")
    assert first is next(iter(view.objects("Pod")))
    assert any(obj is first for obj in view.all_objects())
    assert first == decode(stored_pod(api).value)


@pytest.mark.parametrize("index", range(len(mutations(freeze(decode(encode(POD)))))))
def test_a_reader_cannot_change_the_shared_object(index: int) -> None:
    api, view = cluster_view()
    obj = view.get("Pod", "default", "p")
    with pytest.raises(TypeError, match="read-only"):
        mutations(obj)[index]()
    with pytest.raises(TypeError):
        obj["spec"]["containers"] += [{}]
    with pytest.raises(TypeError):
        obj["metadata"] |= {"name": "q"}
    again = View(api.store, api.store.revision, api.store).get("Pod", "default", "p")
    assert again == decode(stored_pod(api).value)


def test_versioned_reads_leave_the_shared_object_alone() -> None:
    api, view = cluster_view()
    kv = stored_pod(api)
    (versioned,) = view.objects("Pod", versioned=True)
    assert versioned["metadata"]["resourceVersion"] == str(kv.mod_revision)
    assert "resourceVersion" not in view.get("Pod", "default", "p")["metadata"]
    assert {**versioned, "metadata": {}} == {**shared(kv), "metadata": {}}


def test_copies_are_plain_and_writable() -> None:
    _, view = cluster_view()
    obj = view.get("Pod", "default", "p")
    assert isinstance(obj, FrozenDict)
    assert isinstance(obj["spec"]["containers"], FrozenList)
    for copied in (copy.deepcopy(obj), copy_json(obj), pickle.loads(pickle.dumps(obj))):
        assert copied == obj
        assert type(copied) is dict
        assert type(copied["spec"]["containers"]) is list
        assert type(copied["spec"]["containers"][0]) is dict
        copied["spec"]["containers"][0]["image"] = "x"
        copied["spec"]["containers"].append({})
    shallow = copy.copy(obj)
    assert type(shallow) is dict and shallow == obj
    shallow["kind"] = "Node"
    assert obj["kind"] == "Pod"
    assert json.loads(json.dumps(obj)) == obj
    assert encode(obj) == encode(decode(encode(obj)))


def test_the_memo_is_outside_equality() -> None:
    calls: list[Any] = []

    def derive(value: Any) -> Any:
        calls.append(value)
        return len(value)

    kv = KeyValue("k", "text", 1, 1, 1)
    fresh = KeyValue("k", "text", 1, 1, 1)
    assert kv.derived(derive) == 4
    assert kv.derived(derive) == 4
    assert calls == ["text"]
    assert kv == fresh and hash(kv) == hash(fresh) and repr(kv) == repr(fresh)
    assert kv.derived(str.upper) == "TEXT"
