"""The `nodes` level: pods pinned to machines, their configuration, and the nemesis.

A small world on purpose: three machines, three pod names, one ConfigMap and
one Secret, two images. The user creates pods bound to a machine by
`spec.nodeName` (no scheduler involved), with a restartPolicy, probes and
configuration drawn from a few shapes; the nemesis powers machines off and
on, cuts and heals their links, restarts kubelets, makes containers exit,
flips probe answers, breaks image pulls, and lags or restarts the control
plane's node controllers; time moves in steps that straddle the timing
parameters (grace periods, back-off, toleration seconds).
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from conformance.machines.base import PodActions, action
from conformance.machines.runtime import LevelMachine

__all__ = ["NodesActions", "NodesMachine"]

MACHINES = ("n1", "n2", "n3")
PODS = ("a", "b")
IMAGES = ("registry.example/app:1", "registry.example/app:2")
POLICIES = ("Always", "OnFailure", "Never")
CONFIGS = ("none", "env", "env-from-secret", "files")
PROBES = ("liveness", "readiness", "startup")
CONTROLLERS = ("nodelifecycle", "tainteviction", "podgc")
CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}
NAMESPACE = "default"


def pod_manifest(
    name: str,
    node: str,
    policy: str,
    probes: tuple[str, ...],
    config: str,
    image: str,
    grace: int | None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    for probe in probes:
        container[f"{probe}Probe"] = {"exec": {"command": ["check", probe]}, "periodSeconds": 10}
    if config == "env":
        container["env"] = [
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "config", "key": "k1"}}},
            {"name": "MODE", "value": "test"},
        ]
    elif config == "env-from-secret":
        container["envFrom"] = [{"secretRef": {"name": "secret"}, "prefix": "S_"}]
    spec: dict[str, Any] = {"nodeName": node, "restartPolicy": policy, "containers": [container]}
    if config == "files":
        container["volumeMounts"] = [
            {"name": "config", "mountPath": "/etc/config"},
            {"name": "secret", "mountPath": "/etc/secret"},
        ]
        spec["volumes"] = [
            {"name": "config", "configMap": {"name": "config"}},
            {"name": "secret", "secret": {"secretName": "secret", "optional": True}},
        ]
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": spec,
    }


class NodesActions(PodActions):
    level = "nodes"
    observations = ({"op": "snapshot"}, {"op": "runtime"})

    @action
    def reset(self, seed: int, machines: int = 2) -> None:
        """An empty cluster with `machines` machines, the ConfigMap and the Secret."""
        if "reset" in self.driver.info.capabilities:
            self.send({"op": "reset", "seed": seed})
        for name in MACHINES[:machines]:
            self.add_machine(name)
        self.put_config("ConfigMap", "k1", "one")

    @action
    def add_machine(self, name: str) -> None:
        self.send(
            {
                "op": "node.add",
                "name": name,
                "capacity": dict(CAPACITY),
                "labels": {"topology.kubernetes.io/zone": "zone-a"},
            }
        )

    @action
    def create_pod(
        self,
        name: str,
        node: str,
        policy: str,
        probes: list[str],
        config: str,
        image: str,
        grace: int | None = None,
        wait: float = 0,
    ) -> None:
        manifest = pod_manifest(name, node, policy, tuple(probes), config, image, grace)
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    @action
    def put_config(self, kind: str, key: str, value: str, wait: float = 0) -> None:
        """Create the ConfigMap `config` (or Secret `secret`) or change one of its keys."""
        name = "config" if kind == "ConfigMap" else "secret"
        encoded = value if kind == "ConfigMap" else base64.b64encode(value.encode()).decode()
        answer = self.send({"op": "get", "kind": kind, "namespace": NAMESPACE, "name": name})
        if answer.get("ok"):
            obj = answer["object"]
            obj["data"] = {**(obj.get("data") or {}), key: encoded}
            self.send({"op": "update", "object": obj})
        else:
            obj = {
                "kind": kind,
                "metadata": {"name": name, "namespace": NAMESPACE},
                "data": {key: encoded},
            }
            self.send({"op": "create", "object": obj})
        self._then_wait(wait)

    @action
    def delete_config(self, kind: str) -> None:
        name = "config" if kind == "ConfigMap" else "secret"
        self.send({"op": "delete", "kind": kind, "namespace": NAMESPACE, "name": name})

    @action
    def exit(self, pod: str, code: int, wait: float = 0) -> None:
        self.send(
            {
                "op": "container.exit",
                "namespace": NAMESPACE,
                "pod": pod,
                "container": "app",
                "code": code,
            }
        )
        self._then_wait(wait)

    @action
    def set_probe(self, pod: str, probe: str, passing: bool, wait: float = 0) -> None:
        self.send(
            {
                "op": "probe.set",
                "namespace": NAMESPACE,
                "pod": pod,
                "container": "app",
                "probe": probe,
                "passing": passing,
            }
        )
        self._then_wait(wait)

    @action
    def image_fail(self, image: str, failing: bool, wait: float = 0) -> None:
        self.send({"op": "image.fail", "image": image, "failing": failing})
        self._then_wait(wait)

    @action
    def fault(self, op: str, name: str, wait: float = 0) -> None:
        """A machine fault: node.down, node.up, node.partition, node.heal, kubelet.restart,
        or `reboot` (down, then up at once)."""
        if op == "reboot":
            self.send({"op": "node.down", "name": name})
            self.send({"op": "node.up", "name": name})
        else:
            self.send({"op": op, "name": name})
        self._then_wait(wait)

    @action
    def remove_machine(self, name: str, delete_node: bool) -> None:
        self.send({"op": "node.remove", "name": name})
        if delete_node:
            self.send({"op": "delete", "kind": "Node", "name": name})


_FAULTS = ("node.down", "node.up", "node.partition", "node.heal", "kubelet.restart", "reboot")
#: Time after an action: often none, often a probe period or two, sometimes a grace period.
_WAITS = st.sampled_from((0, 0, 1, 5, 10, 30, 60, 300))
#: Pods go mostly to the two machines every example has.
_NODES = st.sampled_from(("n1", "n1", "n2", "n2", "n3"))


#: Swarm testing (Groce et al., ISSTA 2012): each example turns on a few kinds of action and
#: leaves the others out, so that its steps concentrate on what those kinds do together.
FEATURES = (
    "delete",
    "config",
    "exit",
    "probe",
    "image",
    "fault",
    "machines",
    "controllers",
)


def _on(feature: str) -> Any:
    return precondition(lambda self: feature in self.features)


class NodesMachine(LevelMachine):
    actions_class = NodesActions
    needs = frozenset({"nodes", "runtime"})
    final_settle_seconds = 900

    def __init__(self) -> None:
        super().__init__()
        self.features: frozenset[str] = frozenset(FEATURES)

    @initialize(
        seed=st.integers(0, 2**16),
        machines=st.sampled_from((2, 2, 3)),
        features=st.sets(st.sampled_from(FEATURES), min_size=1, max_size=3),
        policy=st.sampled_from(POLICIES),
        probes=st.lists(st.sampled_from(PROBES), unique=True, max_size=2),
        config=st.sampled_from(CONFIGS),
    )
    def reset(
        self,
        seed: int,
        machines: int,
        features: set[str],
        policy: str,
        probes: list[str],
        config: str,
    ) -> None:
        """Every example starts with pod `a` running on n1, so that its steps can go to faults."""
        self.features = frozenset(features)
        self.do("reset", seed=seed, machines=machines)
        self.do(
            "create_pod",
            name="a",
            node="n1",
            policy=policy,
            probes=probes,
            config=config,
            image=IMAGES[0],
            grace=None,
            wait=1,
        )

    @rule(
        name=st.sampled_from(PODS),
        node=_NODES,
        policy=st.sampled_from(POLICIES),
        probes=st.lists(st.sampled_from(PROBES), unique=True, max_size=2),
        config=st.sampled_from(CONFIGS),
        image=st.sampled_from(IMAGES),
        grace=st.sampled_from((None, 0, 5)),
        wait=_WAITS,
    )
    def create_pod(
        self,
        name: str,
        node: str,
        policy: str,
        probes: list[str],
        config: str,
        image: str,
        grace: int | None,
        wait: float,
    ) -> None:
        self.do(
            "create_pod",
            name=name,
            node=node,
            policy=policy,
            probes=probes,
            config=config,
            image=image,
            grace=grace,
            wait=wait,
        )

    @_on("delete")
    @rule(name=st.sampled_from(PODS), force=st.booleans(), wait=_WAITS)
    def delete_pod(self, name: str, force: bool, wait: float) -> None:
        self.do("delete_pod", name=name, force=force, wait=wait)

    @_on("config")
    @rule(
        kind=st.sampled_from(("ConfigMap", "Secret")),
        key=st.sampled_from(("k1", "k2")),
        value=st.sampled_from(("one", "two", "three")),
        wait=_WAITS,
    )
    def put_config(self, kind: str, key: str, value: str, wait: float) -> None:
        self.do("put_config", kind=kind, key=key, value=value, wait=wait)

    @_on("config")
    @rule(kind=st.sampled_from(("ConfigMap", "Secret")))
    def delete_config(self, kind: str) -> None:
        self.do("delete_config", kind=kind)

    @_on("exit")
    @precondition(lambda self: self.can("apps", "container.exit"))
    @rule(pod=st.sampled_from(PODS), code=st.sampled_from((0, 1, 137)), wait=_WAITS)
    def exit(self, pod: str, code: int, wait: float) -> None:
        self.do("exit", pod=pod, code=code, wait=wait)

    @_on("probe")
    @precondition(lambda self: self.can("apps", "probe.set"))
    @rule(
        pod=st.sampled_from(PODS),
        probe=st.sampled_from(PROBES),
        passing=st.booleans(),
        wait=_WAITS,
    )
    def set_probe(self, pod: str, probe: str, passing: bool, wait: float) -> None:
        self.do("set_probe", pod=pod, probe=probe, passing=passing, wait=wait)

    @_on("image")
    @precondition(lambda self: self.can("apps", "image.fail"))
    @rule(image=st.sampled_from(IMAGES), failing=st.booleans(), wait=_WAITS)
    def image_fail(self, image: str, failing: bool, wait: float) -> None:
        self.do("image_fail", image=image, failing=failing, wait=wait)

    @_on("fault")
    @precondition(lambda self: self.can("faults"))
    @rule(op=st.sampled_from(_FAULTS), name=_NODES, wait=_WAITS)
    def fault(self, op: str, name: str, wait: float) -> None:
        self.do("fault", op=op, name=name, wait=wait)

    @_on("fault")
    @precondition(lambda self: self.can("faults"))
    @rule(op=st.sampled_from(_FAULTS), pod=st.sampled_from(PODS), wait=_WAITS)
    def fault_where_pod_runs(self, op: str, pod: str, wait: float) -> None:
        """The nemesis aims at the machine a pod is bound to (the first machine if none)."""
        snapshot = self.driver.trace.snapshot or {}
        found = snapshot.get(("Pod", NAMESPACE, pod))
        name = ((found or {}).get("spec") or {}).get("nodeName") or MACHINES[0]
        self.do("fault", op=op, name=name, wait=wait)

    @_on("machines")
    @rule(name=st.sampled_from(MACHINES), delete_node=st.booleans())
    def remove_machine(self, name: str, delete_node: bool) -> None:
        self.do("remove_machine", name=name, delete_node=delete_node)

    @_on("machines")
    @rule(name=st.sampled_from(MACHINES))
    def add_machine(self, name: str) -> None:
        self.do("add_machine", name=name)

    @rule(seconds=st.sampled_from((0, 1, 5, 10, 20, 30, 45, 60, 120, 300, 400, 1000)))
    def advance(self, seconds: float) -> None:
        self.do("advance", seconds=seconds)

    @rule()
    def settle(self) -> None:
        self.do("settle", max_seconds=900)

    @_on("controllers")
    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(CONTROLLERS), seconds=st.sampled_from((0, 0, 30, 120)))
    def lag(self, controller: str, seconds: float) -> None:
        self.do("lag", controller=controller, seconds=seconds)

    @_on("controllers")
    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(CONTROLLERS))
    def restart(self, controller: str) -> None:
        self.do("restart", controller=controller)
