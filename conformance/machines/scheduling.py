"""The `scheduling` level: pods left to the scheduler, on a handful of unequal nodes.

Four node shapes, each fixed by the node's name so that a node re-added
under its name is the same size: small and crowded (n1, four pod slots),
large (n2), small with one GPU (n3, another zone), and memory-poor (n4).
Pods ask for cpu, memory and GPUs in sizes that fill a node in two or
three pods, at three priorities (none, `low`, `high`), with placement
constraints drawn from a menu (node selector, zone affinity, tolerations,
a host port, zone spread hard or soft, anti-affinity by host, affinity to
a `db` pod's zone). The user cordons, taints and relabels nodes, adds and
removes them, deletes pods; the nemesis lags or restarts the scheduler
and powers machines off; time moves past grace periods and back-offs.

After every step the harness takes a snapshot, the runtime when the
target has one, and the watch events since the last step when it has
`watch`, from which the laws rebuild the state each binding was made in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from conformance.machines.base import PodActions, action
from conformance.machines.runtime import LevelMachine

__all__ = ["SchedulingActions", "SchedulingMachine", "pod_manifest"]

NAMESPACE = "default"
GPU = "example.com/gpu"
NODES: dict[str, dict[str, Any]] = {
    "n1": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "4"}, "zone": "zone-a", "disk": "ssd"},
    "n2": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "zone": "zone-a",
        "disk": "hdd",
    },
    "n3": {
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110", GPU: "1"},
        "zone": "zone-b",
        "disk": "ssd",
    },
    "n4": {
        "capacity": {"cpu": "4", "memory": "2Gi", "pods": "110"},
        "zone": "zone-b",
        "disk": "hdd",
    },
}
PODS = ("p1", "p2", "p3", "p4", "p5")
PRIORITY_CLASSES = {"low": 10, "high": 1000}
#: A class as important as `high` that never preempts (preemptionPolicy comes from the class).
NEVER_PREEMPT_CLASS = "high-never-preempts"
#: Placement constraints a pod may carry; each is a few lines of spec (see `pod_manifest`).
CONSTRAINTS = (
    "ssd",
    "zone-b",
    "prefer-zone-a",
    "tolerate-dedicated",
    "host-port",
    "spread",
    "soft-spread",
    "anti-affinity",
    "db-affinity",
    "never-preempt",
)
DEDICATED_TAINT = {"key": "dedicated", "value": "infra"}


def pod_manifest(
    name: str,
    app: str,
    cpu: str | None,
    memory: str | None,
    gpu: int,
    priority: str | None,
    constraints: tuple[str, ...],
) -> dict[str, Any]:
    requests: dict[str, Any] = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    if gpu:
        requests[GPU] = str(gpu)
    container: dict[str, Any] = {"name": "app", "image": "registry.example/app:1"}
    if requests:
        # Extended resources must be given as limits equal to requests.
        limits = {GPU: str(gpu)} if gpu else {}
        container["resources"] = {"requests": requests, **({"limits": limits} if limits else {})}
    spec: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 5}
    if priority:
        spec["priorityClassName"] = priority
    affinity: dict[str, Any] = {}
    same_app = {"matchLabels": {"app": app}}
    for c in constraints:
        if c == "ssd":
            spec["nodeSelector"] = {"disk": "ssd"}
        elif c == "zone-b":
            affinity.setdefault("nodeAffinity", {})[
                "requiredDuringSchedulingIgnoredDuringExecution"
            ] = {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "topology.kubernetes.io/zone",
                                "operator": "In",
                                "values": ["zone-b"],
                            }
                        ]
                    }
                ]
            }
        elif c == "prefer-zone-a":
            affinity.setdefault("nodeAffinity", {})[
                "preferredDuringSchedulingIgnoredDuringExecution"
            ] = [
                {
                    "weight": 50,
                    "preference": {
                        "matchExpressions": [
                            {
                                "key": "topology.kubernetes.io/zone",
                                "operator": "In",
                                "values": ["zone-a"],
                            }
                        ]
                    },
                }
            ]
        elif c == "tolerate-dedicated":
            spec["tolerations"] = [{**DEDICATED_TAINT, "operator": "Equal", "effect": "NoSchedule"}]
        elif c == "host-port":
            container["ports"] = [{"containerPort": 8080, "hostPort": 8080}]
        elif c in ("spread", "soft-spread"):
            spec["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule" if c == "spread" else "ScheduleAnyway",
                    "labelSelector": same_app,
                }
            ]
        elif c == "anti-affinity":
            affinity.setdefault("podAntiAffinity", {})[
                "requiredDuringSchedulingIgnoredDuringExecution"
            ] = [{"labelSelector": same_app, "topologyKey": "kubernetes.io/hostname"}]
        elif c == "db-affinity":
            affinity.setdefault("podAffinity", {})[
                "requiredDuringSchedulingIgnoredDuringExecution"
            ] = [
                {
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "topologyKey": "topology.kubernetes.io/zone",
                }
            ]
        elif c == "never-preempt":
            spec["priorityClassName"] = NEVER_PREEMPT_CLASS
    if affinity:
        spec["affinity"] = affinity
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": app}},
        "spec": spec,
    }


class SchedulingActions(PodActions):
    level = "scheduling"

    @property
    def observations(self) -> tuple[Mapping[str, Any], ...]:  # type: ignore[override]
        """A snapshot, the runtime when there is one, and the watch events since the last step."""
        found: list[Mapping[str, Any]] = [{"op": "snapshot"}]
        capabilities = self.driver.info.capabilities
        if "runtime" in capabilities:
            found.append({"op": "runtime"})
        if "watch" in capabilities:
            found.append({"op": "watch", "resourceVersion": self._watched()})
        return tuple(found)

    def _watched(self) -> str:
        for ex in reversed(self.driver.trace.exchanges):
            if ex.op == "watch" and ex.ok:
                return str(ex.answer.get("resourceVersion", "0"))
        return "0"

    @action
    def reset(self, seed: int, nodes: int = 3) -> None:
        """An empty cluster with `nodes` nodes and the priority classes `low` and `high`."""
        if "reset" in self.driver.info.capabilities:
            self.send({"op": "reset", "seed": seed})
        classes = [(name, value, None) for name, value in PRIORITY_CLASSES.items()]
        classes.append((NEVER_PREEMPT_CLASS, PRIORITY_CLASSES["high"], "Never"))
        for name, value, policy in classes:
            obj: dict[str, Any] = {
                "kind": "PriorityClass",
                "apiVersion": "scheduling.k8s.io/v1",
                "metadata": {"name": name},
                "value": value,
            }
            if policy:
                obj["preemptionPolicy"] = policy
            self.send({"op": "create", "object": obj})
        for name in list(NODES)[:nodes]:
            self.add_node(name)

    @action
    def add_node(self, name: str) -> None:
        shape = NODES[name]
        self.send(
            {
                "op": "node.add",
                "name": name,
                "capacity": dict(shape["capacity"]),
                "labels": {
                    "topology.kubernetes.io/zone": shape["zone"],
                    "disk": shape["disk"],
                    "kubernetes.io/hostname": name,
                },
            }
        )

    @action
    def remove_node(self, name: str) -> None:
        self.send({"op": "node.remove", "name": name})
        self.send({"op": "delete", "kind": "Node", "name": name})

    def _edit_node(self, name: str, edit: Any) -> None:
        answer = self.send({"op": "get", "kind": "Node", "name": name})
        if not answer.get("ok"):
            return
        node = answer["object"]
        edit(node)
        self.send({"op": "update", "object": node})

    @action
    def cordon(self, name: str, unschedulable: bool, wait: float = 0) -> None:
        def edit(node: dict[str, Any]) -> None:
            node.setdefault("spec", {})["unschedulable"] = unschedulable

        self._edit_node(name, edit)
        self._then_wait(wait)

    @action
    def taint(self, name: str, effect: str | None, wait: float = 0) -> None:
        """Put the `dedicated=infra` taint on a node with `effect`, or take it off (None)."""

        def edit(node: dict[str, Any]) -> None:
            spec = node.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or () if t.get("key") != "dedicated"]
            if effect:
                taints.append({**DEDICATED_TAINT, "effect": effect})
            spec["taints"] = taints

        self._edit_node(name, edit)
        self._then_wait(wait)

    @action
    def label(self, name: str, disk: str, wait: float = 0) -> None:
        def edit(node: dict[str, Any]) -> None:
            node["metadata"].setdefault("labels", {})["disk"] = disk

        self._edit_node(name, edit)
        self._then_wait(wait)

    @action
    def create_pod(
        self,
        name: str,
        app: str,
        cpu: str | None,
        memory: str | None,
        gpu: int,
        priority: str | None,
        constraints: list[str],
        wait: float = 0,
    ) -> None:
        manifest = pod_manifest(name, app, cpu, memory, gpu, priority, tuple(constraints))
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    @action
    def fault(self, op: str, name: str, wait: float = 0) -> None:
        self.send({"op": op, "name": name})
        self._then_wait(wait)


_WAITS = st.sampled_from((0, 0, 0, 1, 2, 10, 60))
_NODE_NAMES = st.sampled_from(tuple(NODES))
_CPU = st.sampled_from((None, "250m", "1", "1", "2"))
_MEMORY = st.sampled_from((None, "1Gi", "1Gi", "3Gi"))
_PRIORITY = st.sampled_from((None, None, "low", "high"))
_CONSTRAINTS = st.lists(st.sampled_from(CONSTRAINTS), unique=True, max_size=2)

#: Swarm testing, as in the nodes level: each example turns on a few kinds of action.
FEATURES = ("delete", "nodes", "cordon", "taints", "labels", "controllers", "faults")


def _on(feature: str) -> Any:
    return precondition(lambda self: feature in self.features)


class SchedulingMachine(LevelMachine):
    actions_class = SchedulingActions
    needs = frozenset({"nodes"})
    final_settle_seconds = 600

    def __init__(self) -> None:
        super().__init__()
        self.features: frozenset[str] = frozenset(FEATURES)

    @initialize(
        seed=st.integers(0, 2**16),
        nodes=st.sampled_from((2, 3, 3, 4)),
        features=st.sets(st.sampled_from(FEATURES), min_size=1, max_size=3),
    )
    def reset(self, seed: int, nodes: int, features: set[str]) -> None:
        self.features = frozenset(features)
        self.do("reset", seed=seed, nodes=nodes)

    @rule(
        name=st.sampled_from(PODS),
        app=st.sampled_from(("web", "web", "db")),
        cpu=_CPU,
        memory=_MEMORY,
        gpu=st.sampled_from((0, 0, 0, 1)),
        priority=_PRIORITY,
        constraints=_CONSTRAINTS,
        wait=_WAITS,
    )
    def create_pod(
        self,
        name: str,
        app: str,
        cpu: str | None,
        memory: str | None,
        gpu: int,
        priority: str | None,
        constraints: list[str],
        wait: float,
    ) -> None:
        self.do(
            "create_pod",
            name=name,
            app=app,
            cpu=cpu,
            memory=memory,
            gpu=gpu,
            priority=priority,
            constraints=constraints,
            wait=wait,
        )

    @_on("delete")
    @rule(name=st.sampled_from(PODS), force=st.booleans(), wait=_WAITS)
    def delete_pod(self, name: str, force: bool, wait: float) -> None:
        self.do("delete_pod", name=name, force=force, wait=wait)

    @_on("nodes")
    @precondition(lambda self: self.can("nodes"))
    @rule(name=_NODE_NAMES)
    def add_node(self, name: str) -> None:
        self.do("add_node", name=name)

    @_on("nodes")
    @precondition(lambda self: self.can("nodes"))
    @rule(name=_NODE_NAMES)
    def remove_node(self, name: str) -> None:
        self.do("remove_node", name=name)

    @_on("cordon")
    @rule(name=_NODE_NAMES, unschedulable=st.booleans(), wait=_WAITS)
    def cordon(self, name: str, unschedulable: bool, wait: float) -> None:
        self.do("cordon", name=name, unschedulable=unschedulable, wait=wait)

    @_on("taints")
    @rule(
        name=_NODE_NAMES,
        effect=st.sampled_from((None, "NoSchedule", "PreferNoSchedule", "NoExecute")),
        wait=_WAITS,
    )
    def taint(self, name: str, effect: str | None, wait: float) -> None:
        self.do("taint", name=name, effect=effect, wait=wait)

    @_on("labels")
    @rule(name=_NODE_NAMES, disk=st.sampled_from(("ssd", "hdd")), wait=_WAITS)
    def label(self, name: str, disk: str, wait: float) -> None:
        self.do("label", name=name, disk=disk, wait=wait)

    @_on("faults")
    @precondition(lambda self: self.can("faults"))
    @rule(op=st.sampled_from(("node.down", "node.up")), name=_NODE_NAMES, wait=_WAITS)
    def fault(self, op: str, name: str, wait: float) -> None:
        self.do("fault", op=op, name=name, wait=wait)

    @precondition(lambda self: self.can("clock"))
    @rule(seconds=st.sampled_from((1, 5, 10, 60, 300)))
    def advance(self, seconds: float) -> None:
        self.do("advance", seconds=seconds)

    @rule(max_seconds=st.sampled_from((60, 600)))
    def settle(self, max_seconds: float) -> None:
        self.do("settle", max_seconds=max_seconds)

    @_on("controllers")
    @precondition(lambda self: self.can("controllers"))
    @rule(seconds=st.sampled_from((0, 5, 30)))
    def lag(self, seconds: float) -> None:
        self.do("lag", controller="scheduler", seconds=seconds)

    @_on("controllers")
    @precondition(lambda self: self.can("controllers"))
    @rule()
    def restart(self) -> None:
        self.do("restart", controller="scheduler")
