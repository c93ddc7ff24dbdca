"""The `services` level: Services that find their pods, and connections that reach them.

Three nodes. The user creates Services (s1, s2, s3) of a shape drawn from a
menu — ClusterIP, NodePort, headless or ExternalName; selecting app a or b;
a named or a numbered target port; with or without ClientIP session
affinity; publishing not-ready addresses or keeping traffic on the node
(internalTrafficPolicy Local) — changes their shape and deletes them; creates bare pods (p0 to p5)
whose `http` port is 8080 or 9090, relabels and deletes them. Clients open
connections through the node proxy (`route`) and ask cluster DNS
(`resolve`). The nemesis fails readiness probes, powers nodes off,
partitions them, and lags or restarts the endpoint controllers and the
proxy; time moves past probe periods and grace periods.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from conformance.machines.base import PodActions, action
from conformance.machines.runtime import LevelMachine

__all__ = ["SERVICE_SHAPES", "ServiceActions", "ServiceMachine", "service_manifest"]

NAMESPACE = "default"
NODES = ("n1", "n2", "n3")
ZONES = ("zone-a", "zone-b", "zone-a")
SERVICES = ("s1", "s2", "s3")
PODS = tuple(f"p{i}" for i in range(6))
APPS = ("a", "b")
CLIENTS = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
PORT = 80
#: The protocol's controller names the nemesis lags and restarts.
CONTROLLERS = ("endpoints", "endpointslice", "kube-proxy")
AFFINITY_TIMEOUT = 30

#: (type, app, targetPort, sessionAffinity, other spec fields) — what a Service is made of.
SERVICE_SHAPES: tuple[tuple[str, str, Any, bool, tuple[tuple[str, Any], ...]], ...] = (
    ("ClusterIP", "a", "http", False, ()),
    ("ClusterIP", "b", 8080, False, ()),
    ("NodePort", "a", "http", False, ()),
    ("NodePort", "b", "http", True, ()),
    ("ClusterIP", "a", "http", True, ()),
    ("Headless", "a", "http", False, ()),
    ("ExternalName", "", None, False, ()),
    ("ClusterIP", "b", 9090, False, ()),
    ("ClusterIP", "a", "http", False, (("publishNotReadyAddresses", True),)),
    ("ClusterIP", "b", "http", False, (("internalTrafficPolicy", "Local"),)),
)


def service_manifest(name: str, shape: int) -> dict[str, Any]:
    kind, app, target, affine, extra = SERVICE_SHAPES[shape]
    spec: dict[str, Any]
    if kind == "ExternalName":
        spec = {"type": "ExternalName", "externalName": f"{name}.example.com"}
    else:
        spec = {
            "type": "ClusterIP" if kind == "Headless" else kind,
            "selector": {"app": app},
            "ports": [{"name": "http", "port": PORT, "protocol": "TCP", "targetPort": target}],
        }
        if kind == "Headless":
            spec["clusterIP"] = "None"
        if affine:
            spec["sessionAffinity"] = "ClientIP"
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": AFFINITY_TIMEOUT}}
        spec.update(extra)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def pod_manifest(name: str, app: str, port: int) -> dict[str, Any]:
    """A small pod serving `http` on `port`, with a readiness probe and a short grace period."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/web:v1",
                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "readinessProbe": {"exec": {"command": ["ready"]}, "periodSeconds": 2},
                }
            ],
            "terminationGracePeriodSeconds": 5,
        },
    }


class ServiceActions(PodActions):
    level = "services"

    @action
    def reset(self, seed: int, nodes: int = 3) -> None:
        if "reset" in self.driver.info.capabilities:
            self.send({"op": "reset", "seed": seed})
        for name, zone in zip(NODES[:nodes], ZONES, strict=False):
            self.send(
                {
                    "op": "node.add",
                    "name": name,
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "30"},
                    "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone},
                }
            )

    # -- the user ----------------------------------------------------------------------------------

    @action
    def create_service(self, name: str, shape: int, wait: float = 0) -> None:
        self.send({"op": "create", "object": service_manifest(name, shape)})
        self._then_wait(wait)

    @action
    def reshape_service(self, name: str, shape: int, wait: float = 0) -> None:
        """Give a Service another shape, as an apply that omits the allocated fields would."""
        answer = self.send({"op": "get", "kind": "Service", "namespace": NAMESPACE, "name": name})
        if answer.get("ok"):
            current = answer["object"]
            wanted = service_manifest(name, shape)
            if (current.get("spec") or {}).get("clusterIP") not in (None, "None") and (
                wanted["spec"].get("type") != "ExternalName"
            ):
                wanted["spec"].setdefault("clusterIP", current["spec"]["clusterIP"])
            wanted["metadata"] = current["metadata"]
            self.send({"op": "update", "object": wanted})
        self._then_wait(wait)

    @action
    def delete_service(self, name: str, wait: float = 0) -> None:
        self.send({"op": "delete", "kind": "Service", "namespace": NAMESPACE, "name": name})
        self._then_wait(wait)

    @action
    def create_pod(self, name: str, app: str, port: int, wait: float = 0) -> None:
        self.send({"op": "create", "object": pod_manifest(name, app, port)})
        self._then_wait(wait)

    @action
    def relabel_pod(self, name: str, app: str, wait: float = 0) -> None:
        answer = self.send({"op": "get", "kind": "Pod", "namespace": NAMESPACE, "name": name})
        if answer.get("ok"):
            pod = answer["object"]
            pod["metadata"].setdefault("labels", {})["app"] = app
            self.send({"op": "update", "object": pod})
        self._then_wait(wait)

    # -- clients -----------------------------------------------------------------------------------

    @action
    def connect(self, service: str, client: str, count: int, node: str | None = None) -> None:
        request: dict[str, Any] = {
            "op": "route",
            "namespace": NAMESPACE,
            "service": service,
            "port": PORT,
            "client": client,
            "count": count,
        }
        if node is not None:
            request["node"] = node
        self.send(request)

    @action
    def resolve(self, name: str, kind: str) -> None:
        self.send({"op": "resolve", "name": name, "type": kind})

    # -- the nemesis -------------------------------------------------------------------------------

    @action
    def set_ready(self, name: str, passing: bool, wait: float = 0) -> None:
        self.send(
            {
                "op": "probe.set",
                "namespace": NAMESPACE,
                "pod": name,
                "container": "app",
                "probe": "readiness",
                "passing": passing,
            }
        )
        self._then_wait(wait)

    @action
    def fault(self, op: str, name: str, wait: float = 0) -> None:
        self.send({"op": op, "name": name})
        self._then_wait(wait)


def dns_names() -> list[tuple[str, str]]:
    """The (name, type) questions clients ask: each Service's A and SRV names, and a miss."""
    domain = f"{NAMESPACE}.svc.cluster.local"
    out = [(f"{s}.{domain}", "A") for s in SERVICES]
    out += [(f"_http._tcp.{s}.{domain}", "SRV") for s in SERVICES]
    out.append((f"nosuch.{domain}", "A"))
    return out


_WAITS = st.sampled_from((0, 0, 0, 1, 2, 5, 30))
_NODE = st.sampled_from(NODES)
FEATURES = ("probes", "faults", "controllers", "churn")


def _on(feature: str) -> Any:
    return precondition(lambda self: feature in self.features)


class ServiceMachine(LevelMachine):
    actions_class = ServiceActions
    needs = frozenset({"nodes", "routing"})
    final_settle_seconds = 600
    #: Half a profile's examples: a services step costs a few times a store step.
    example_share = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.features: frozenset[str] = frozenset(FEATURES)

    @initialize(
        seed=st.integers(0, 2**16),
        features=st.sets(st.sampled_from(FEATURES), min_size=0, max_size=2),
    )
    def reset(self, seed: int, features: set[str]) -> None:
        self.features = frozenset(features)
        self.do("reset", seed=seed, nodes=3)

    @rule(
        name=st.sampled_from(SERVICES),
        shape=st.integers(0, len(SERVICE_SHAPES) - 1),
        wait=_WAITS,
    )
    def create_service(self, name: str, shape: int, wait: float) -> None:
        self.do("create_service", name=name, shape=shape, wait=wait)

    @_on("churn")
    @rule(
        name=st.sampled_from(SERVICES),
        shape=st.integers(0, len(SERVICE_SHAPES) - 1),
        wait=_WAITS,
    )
    def reshape_service(self, name: str, shape: int, wait: float) -> None:
        self.do("reshape_service", name=name, shape=shape, wait=wait)

    @_on("churn")
    @rule(name=st.sampled_from(SERVICES), wait=_WAITS)
    def delete_service(self, name: str, wait: float) -> None:
        self.do("delete_service", name=name, wait=wait)

    @rule(
        name=st.sampled_from(PODS),
        app=st.sampled_from(APPS),
        port=st.sampled_from((8080, 9090)),
        wait=_WAITS,
    )
    def create_pod(self, name: str, app: str, port: int, wait: float) -> None:
        self.do("create_pod", name=name, app=app, port=port, wait=wait)

    @rule(name=st.sampled_from(PODS), force=st.booleans(), wait=_WAITS)
    def delete_pod(self, name: str, force: bool, wait: float) -> None:
        self.do("delete_pod", name=name, force=force, wait=wait)

    @_on("churn")
    @rule(name=st.sampled_from(PODS), app=st.sampled_from(APPS), wait=_WAITS)
    def relabel_pod(self, name: str, app: str, wait: float) -> None:
        self.do("relabel_pod", name=name, app=app, wait=wait)

    @precondition(lambda self: self.can("routing", "route"))
    @rule(
        service=st.sampled_from(SERVICES),
        client=st.sampled_from(CLIENTS),
        count=st.sampled_from((1, 2, 5, 12, 128)),
        node=st.none() | _NODE,
    )
    def connect(self, service: str, client: str, count: int, node: str | None) -> None:
        self.do("connect", service=service, client=client, count=count, node=node)

    @precondition(lambda self: self.can("dns", "resolve"))
    @rule(question=st.sampled_from(dns_names()))
    def resolve(self, question: tuple[str, str]) -> None:
        self.do("resolve", name=question[0], kind=question[1])

    @_on("probes")
    @precondition(lambda self: self.can("apps", "probe.set"))
    @rule(name=st.sampled_from(PODS), passing=st.booleans(), wait=_WAITS)
    def set_ready(self, name: str, passing: bool, wait: float) -> None:
        self.do("set_ready", name=name, passing=passing, wait=wait)

    @_on("faults")
    @precondition(lambda self: self.can("faults"))
    @rule(
        op=st.sampled_from(("node.down", "node.up", "node.partition", "node.heal")),
        name=_NODE,
        wait=_WAITS,
    )
    def fault(self, op: str, name: str, wait: float) -> None:
        self.do("fault", op=op, name=name, wait=wait)

    @precondition(lambda self: self.can("clock"))
    @rule(seconds=st.sampled_from((1, 2, 5, 31, 300)))
    def advance(self, seconds: float) -> None:
        self.do("advance", seconds=seconds)

    @rule(max_seconds=st.sampled_from((60, 600)))
    def settle(self, max_seconds: float) -> None:
        self.do("settle", max_seconds=max_seconds)

    @_on("controllers")
    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(CONTROLLERS), seconds=st.sampled_from((0, 5, 30)))
    def lag(self, controller: str, seconds: float) -> None:
        self.do("lag", controller=controller, seconds=seconds)

    @_on("controllers")
    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(CONTROLLERS))
    def restart(self, controller: str) -> None:
        self.do("restart", controller=controller)
