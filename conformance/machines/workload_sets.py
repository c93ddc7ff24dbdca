"""DaemonSets and StatefulSets in the `workloads` level: the actions and the rules that draw them.

Two mixins, bases of `WorkloadActions` and `WorkloadMachine`. The user
creates one DaemonSet (`ds1`: maybe a nodeSelector, maybe a toleration of
the `dedicated` taint, a RollingUpdate from a small menu or OnDelete) and one
StatefulSet (`web`: OrderedReady or Parallel, up to four replicas, a
partition), changes their images, scales the StatefulSet and moves its
partition; the nemesis taints nodes `dedicated` (NoSchedule or NoExecute) and
labels them in and out of the DaemonSet's nodeSelector, and lags or
restarts the two controllers. Cordoning is the level's own `cordon`.

Both templates are the level's `pod_template` (a readiness probe), so the
level's pod rules pick their pods by the owner label (`app=ds1`,
`app=web`). Every rule is gated by the swarm feature `sets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from conformance.machines.base import action

__all__ = [
    "DAEMON_SET",
    "DS_STRATEGIES",
    "NODE_ROLE_LABEL",
    "STATEFUL_SET",
    "TAINT_KEY",
    "SetActions",
    "SetRules",
    "daemonset_manifest",
    "statefulset_manifest",
]

NAMESPACE = "default"
DAEMON_SET = "ds1"
STATEFUL_SET = "web"
#: The label the DaemonSet's nodeSelector asks for, and the taint the nemesis puts on nodes.
NODE_ROLE_LABEL = "example.com/daemon"
TAINT_KEY = "dedicated"
#: The level's images (workloads.IMAGES), repeated here so that importing this module from
#: workloads.py makes no cycle.
_IMAGES = ("registry.example/app:v1", "registry.example/app:v2", "registry.example/app:v3")
_NODES = ("n1", "n2", "n3")
#: (type, maxUnavailable, maxSurge): upstream's default, a percentage, surge, OnDelete.
DS_STRATEGIES: tuple[tuple[str, Any, Any], ...] = (
    ("RollingUpdate", 1, 0),
    ("RollingUpdate", "50%", 0),
    ("RollingUpdate", 0, 1),
    ("OnDelete", None, None),
)
_SET_CONTROLLERS = ("daemonset", "statefulset")


def _template(app: str, image: str) -> dict[str, Any]:
    from conformance.machines.workloads import pod_template  # imported late: workloads imports us

    return pod_template(app, image)


def daemonset_manifest(selector: bool, tolerate: bool, strategy: int, image: str) -> dict[str, Any]:
    """`ds1`: on the nodes labelled NODE_ROLE_LABEL when `selector`, tolerating `dedicated`
    (any effect) when `tolerate`."""
    template = _template(DAEMON_SET, image)
    if selector:
        template["spec"]["nodeSelector"] = {NODE_ROLE_LABEL: "true"}
    if tolerate:
        template["spec"]["tolerations"] = [{"key": TAINT_KEY, "operator": "Exists"}]
    kind, unavailable, surge = DS_STRATEGIES[strategy]
    update: dict[str, Any] = {"type": kind}
    if kind == "RollingUpdate":
        update["rollingUpdate"] = {"maxUnavailable": unavailable, "maxSurge": surge}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": DAEMON_SET, "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": DAEMON_SET}},
            "updateStrategy": update,
            "template": template,
        },
    }


def statefulset_manifest(policy: str, replicas: int, partition: int, image: str) -> dict[str, Any]:
    """`web`: a RollingUpdate StatefulSet with that pod management policy and partition."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": STATEFUL_SET, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "serviceName": STATEFUL_SET,
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": STATEFUL_SET}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
            "template": _template(STATEFUL_SET, image),
        },
    }


class SetActions:
    """The DaemonSet and StatefulSet actions; a mixin of `WorkloadActions` (which has `send`,
    `_edit` and `_then_wait`)."""

    if TYPE_CHECKING:

        def send(self, request: Any) -> dict[str, Any]: ...
        def _then_wait(self, wait: float) -> None: ...

    def _edit_object(self, kind: str, name: str, edit: Any, namespace: str | None) -> None:
        """Read, change, write back; nothing is written when the object is missing."""
        request: dict[str, Any] = {"op": "get", "kind": kind, "name": name}
        if namespace is not None:
            request["namespace"] = namespace
        answer = self.send(request)
        if not answer.get("ok"):
            return
        obj = answer["object"]
        if edit(obj) is not False:
            self.send({"op": "update", "object": obj})

    @action
    def create_daemonset(
        self, selector: bool, tolerate: bool, strategy: int, image: str, wait: float = 0
    ) -> None:
        manifest = daemonset_manifest(selector, tolerate, strategy, image)
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    @action
    def create_statefulset(
        self, policy: str, replicas: int, partition: int, image: str, wait: float = 0
    ) -> None:
        manifest = statefulset_manifest(policy, replicas, partition, image)
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    @action
    def set_template_image(self, kind: str, name: str, image: str, wait: float = 0) -> None:
        """`kubectl set image` on a DaemonSet or StatefulSet."""

        def edit(obj: dict[str, Any]) -> None:
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = image

        self._edit_object(kind, name, edit, NAMESPACE)
        self._then_wait(wait)

    @action
    def set_partition(self, partition: int, wait: float = 0) -> None:
        def edit(sts: dict[str, Any]) -> None:
            sts["spec"]["updateStrategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"partition": partition},
            }

        self._edit_object("StatefulSet", STATEFUL_SET, edit, NAMESPACE)
        self._then_wait(wait)

    @action
    def taint(self, name: str, effect: str, present: bool, wait: float = 0) -> None:
        """`kubectl taint node NAME dedicated=true:EFFECT` (or with `-` to remove it)."""

        def edit(node: dict[str, Any]) -> bool:
            spec = node.setdefault("spec", {})
            taints = list(spec.get("taints") or ())
            kept = [
                t for t in taints if not (t.get("key") == TAINT_KEY and t.get("effect") == effect)
            ]
            if present:
                kept.append({"key": TAINT_KEY, "value": "true", "effect": effect})
            if kept == taints:
                return False
            spec["taints"] = kept
            return True

        self._edit_object("Node", name, edit, None)
        self._then_wait(wait)

    @action
    def label_node(self, name: str, present: bool, wait: float = 0) -> None:
        """Label a node in (or out of) the DaemonSet's nodeSelector."""

        def edit(node: dict[str, Any]) -> bool:
            labels = node.setdefault("metadata", {}).setdefault("labels", {})
            if present == (labels.get(NODE_ROLE_LABEL) == "true"):
                return False
            if present:
                labels[NODE_ROLE_LABEL] = "true"
            else:
                labels.pop(NODE_ROLE_LABEL, None)
            return True

        self._edit_object("Node", name, edit, None)
        self._then_wait(wait)


def _sets_on(self: Any) -> bool:
    return "sets" in self.features


_WAITS = st.sampled_from((0, 0, 1, 2, 5, 30, 60))
_IMAGE = st.sampled_from(_IMAGES)
_NODE = st.sampled_from(_NODES)


class SetRules:
    """The rules that draw `SetActions`; a mixin of `WorkloadMachine`, gated by feature `sets`."""

    if TYPE_CHECKING:
        features: frozenset[str]

        def do(self, rule: str, **args: Any) -> None: ...
        def can(self, capability: str, op: str | None = None) -> bool: ...

    @precondition(_sets_on)
    @rule(
        selector=st.booleans(),
        tolerate=st.booleans(),
        strategy=st.integers(0, len(DS_STRATEGIES) - 1),
        image=_IMAGE,
        wait=_WAITS,
    )
    def create_daemonset(
        self, selector: bool, tolerate: bool, strategy: int, image: str, wait: float
    ) -> None:
        self.do(
            "create_daemonset",
            selector=selector,
            tolerate=tolerate,
            strategy=strategy,
            image=image,
            wait=wait,
        )

    @precondition(_sets_on)
    @rule(
        policy=st.sampled_from(("OrderedReady", "Parallel")),
        replicas=st.integers(0, 4),
        partition=st.sampled_from((0, 0, 1, 2, 3)),
        image=_IMAGE,
        wait=_WAITS,
    )
    def create_statefulset(
        self, policy: str, replicas: int, partition: int, image: str, wait: float
    ) -> None:
        self.do(
            "create_statefulset",
            policy=policy,
            replicas=replicas,
            partition=partition,
            image=image,
            wait=wait,
        )

    @precondition(_sets_on)
    @rule(
        kind_name=st.sampled_from((("DaemonSet", DAEMON_SET), ("StatefulSet", STATEFUL_SET))),
        image=_IMAGE,
        wait=_WAITS,
    )
    def set_template_image(self, kind_name: tuple[str, str], image: str, wait: float) -> None:
        kind, name = kind_name
        self.do("set_template_image", kind=kind, name=name, image=image, wait=wait)

    @precondition(_sets_on)
    @rule(replicas=st.integers(0, 4), wait=_WAITS)
    def scale_statefulset(self, replicas: int, wait: float) -> None:
        self.do("scale", kind="StatefulSet", name=STATEFUL_SET, replicas=replicas, wait=wait)

    @precondition(_sets_on)
    @rule(partition=st.integers(0, 4), wait=_WAITS)
    def set_partition(self, partition: int, wait: float) -> None:
        self.do("set_partition", partition=partition, wait=wait)

    @precondition(_sets_on)
    @rule(
        name=_NODE,
        effect=st.sampled_from(("NoSchedule", "NoExecute")),
        present=st.booleans(),
        wait=_WAITS,
    )
    def taint(self, name: str, effect: str, present: bool, wait: float) -> None:
        self.do("taint", name=name, effect=effect, present=present, wait=wait)

    @precondition(_sets_on)
    @rule(name=_NODE, present=st.booleans(), wait=_WAITS)
    def label_node(self, name: str, present: bool, wait: float) -> None:
        self.do("label_node", name=name, present=present, wait=wait)

    @precondition(_sets_on)
    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(_SET_CONTROLLERS), seconds=st.sampled_from((0, 5, 30)))
    def lag_set_controller(self, controller: str, seconds: float) -> None:
        self.do("lag", controller=controller, seconds=seconds)

    @precondition(_sets_on)
    @precondition(lambda self: self.can("controllers"))
    @rule(controller=st.sampled_from(_SET_CONTROLLERS))
    def restart_set_controller(self, controller: str) -> None:
        self.do("restart", controller=controller)
