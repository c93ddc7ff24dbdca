"""The `workloads` level: Deployments and ReplicaSets kept at their replicas through change.

Three roomy nodes. The user creates Deployments (d1, d2) with a strategy
drawn from a menu (RollingUpdate with several surge/unavailable pairs, or
Recreate), minReadySeconds and a history limit; scales them; changes their
image; pauses and resumes them; rolls them back as `kubectl rollout undo`
does (the former ReplicaSet's template copied into the Deployment); deletes
them with each propagation policy. A standalone ReplicaSet (r1) is scaled,
gets orphans to adopt and pods relabelled away from it. The nemesis deletes
pods, makes containers exit, fails readiness probes and image pulls, powers
nodes off, partitions them, cordons them, and lags or restarts the
controllers; time moves past probe periods, minReadySeconds and eviction.

Pods are picked by owner and index (the i-th pod by name, of those the
owner's label selects), so a recorded step replays on a target that names
pods its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from conformance.machines.base import PodActions, action
from conformance.machines.runtime import LevelMachine
from conformance.machines.workload_sets import SetActions, SetRules

__all__ = ["WorkloadActions", "WorkloadMachine", "deployment_manifest"]

NAMESPACE = "default"
NODES = ("n1", "n2", "n3")
DEPLOYMENTS = ("d1", "d2")
REPLICA_SET = "r1"
OWNERS = (*DEPLOYMENTS, REPLICA_SET, "ds1", "web")
IMAGES = ("registry.example/app:v1", "registry.example/app:v2", "registry.example/app:v3")
#: (strategy, maxSurge, maxUnavailable, podReplacementPolicy) — upstream's defaults, both fence
#: posts, Recreate, and KEP-3973's TerminationComplete, which counts terminating pods in the surge.
STRATEGIES: tuple[tuple[str, Any, Any, str | None], ...] = (
    ("RollingUpdate", "25%", "25%", None),
    ("RollingUpdate", 1, 0, None),
    ("RollingUpdate", 0, 1, None),
    ("RollingUpdate", 2, 1, None),
    ("RollingUpdate", "50%", "50%", None),
    ("Recreate", None, None, None),
    ("RollingUpdate", 1, 0, "TerminationComplete"),
    ("RollingUpdate", "25%", "25%", "TerminationComplete"),
)
CONTROLLERS = ("deployment", "replicaset")
ANNOTATIONS_NOT_ROLLED_BACK = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def pod_template(app: str, image: str) -> dict[str, Any]:
    """A small pod with a readiness probe, so that readiness takes a probe period."""
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "readinessProbe": {"exec": {"command": ["ready"]}, "periodSeconds": 2},
                }
            ],
            "terminationGracePeriodSeconds": 5,
        },
    }


def _set_strategy(spec: dict[str, Any], strategy: int) -> None:
    """The strategy and the podReplacementPolicy that goes with it (absent: TerminationStarted)."""
    kind, surge, unavailable, policy = STRATEGIES[strategy]
    if kind == "Recreate":
        spec["strategy"] = {"type": "Recreate"}
    else:
        rolling = {"maxSurge": surge, "maxUnavailable": unavailable}
        spec["strategy"] = {"type": kind, "rollingUpdate": rolling}
    if policy is None:
        spec.pop("podReplacementPolicy", None)
    else:
        spec["podReplacementPolicy"] = policy


def deployment_manifest(
    name: str,
    replicas: int,
    strategy: int,
    min_ready: int,
    history: int,
    image: str,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "minReadySeconds": min_ready,
        "revisionHistoryLimit": history,
        "template": pod_template(name, image),
    }
    _set_strategy(spec, strategy)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


class WorkloadActions(PodActions, SetActions):
    level = "workloads"

    @property
    def observations(self) -> tuple[Mapping[str, Any], ...]:  # type: ignore[override]
        found: list[Mapping[str, Any]] = [{"op": "snapshot"}]
        if "runtime" in self.driver.info.capabilities:
            found.append({"op": "runtime"})
        return tuple(found)

    @action
    def reset(self, seed: int, nodes: int = 3) -> None:
        if "reset" in self.driver.info.capabilities:
            self.send({"op": "reset", "seed": seed})
        for name in NODES[:nodes]:
            self.send(
                {
                    "op": "node.add",
                    "name": name,
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "30"},
                    "labels": {"kubernetes.io/hostname": name},
                }
            )

    # -- the user ----------------------------------------------------------------------------------

    @action
    def create_deployment(
        self,
        name: str,
        replicas: int,
        strategy: int,
        min_ready: int,
        history: int,
        image: str,
        wait: float = 0,
    ) -> None:
        manifest = deployment_manifest(name, replicas, strategy, min_ready, history, image)
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    @action
    def scale(self, kind: str, name: str, replicas: int, wait: float = 0) -> None:
        request = {"op": "scale", "kind": kind, "namespace": NAMESPACE, "name": name}
        self.send({**request, "replicas": replicas})
        self._then_wait(wait)

    def _edit(self, kind: str, name: str, edit: Any) -> None:
        answer = self.send({"op": "get", "kind": kind, "namespace": NAMESPACE, "name": name})
        if not answer.get("ok"):
            return
        obj = answer["object"]
        if edit(obj) is not False:
            self.send({"op": "update", "object": obj})

    @action
    def set_image(self, name: str, image: str, wait: float = 0) -> None:
        def edit(d: dict[str, Any]) -> None:
            d["spec"]["template"]["spec"]["containers"][0]["image"] = image

        self._edit("Deployment", name, edit)
        self._then_wait(wait)

    @action
    def set_strategy(self, name: str, strategy: int, wait: float = 0) -> None:
        def edit(d: dict[str, Any]) -> None:
            _set_strategy(d["spec"], strategy)

        self._edit("Deployment", name, edit)
        self._then_wait(wait)

    @action
    def pause(self, name: str, paused: bool, wait: float = 0) -> None:
        def edit(d: dict[str, Any]) -> None:
            d["spec"]["paused"] = paused

        self._edit("Deployment", name, edit)
        self._then_wait(wait)

    @action
    def rollback(self, name: str, wait: float = 0) -> None:
        """`kubectl rollout undo`: the template of the previous revision, copied in.

        The previous revision is the second highest among the Deployment's
        ReplicaSets (kubectl's LastRevision). Nothing is sent when there is
        none, or when its template is the current one (kubectl's "skipped
        rollback").
        """
        request = {"op": "get", "kind": "Deployment", "namespace": NAMESPACE, "name": name}
        answer = self.send(request)
        if not answer.get("ok"):
            return
        deployment = answer["object"]
        target = _previous_revision(self._owned_sets(deployment))
        if target is None:
            return
        template = _without_hash(target["spec"]["template"])
        if template == deployment["spec"]["template"]:
            return
        annotations = {
            k: v
            for k, v in (target["metadata"].get("annotations") or {}).items()
            if k not in ANNOTATIONS_NOT_ROLLED_BACK
        }
        deployment["spec"]["template"] = template
        kept = {
            k: v
            for k, v in (deployment["metadata"].get("annotations") or {}).items()
            if k in ANNOTATIONS_NOT_ROLLED_BACK
        }
        deployment["metadata"]["annotations"] = {**kept, **annotations}
        self.send({"op": "update", "object": deployment})
        self._then_wait(wait)

    def _owned_sets(self, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
        answer = self.send({"op": "list", "kind": "ReplicaSet", "namespace": NAMESPACE})
        if not answer.get("ok"):
            return []
        uid = owner["metadata"]["uid"]
        return [
            rs
            for rs in answer["items"]
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in rs["metadata"].get("ownerReferences") or ()
            )
        ]

    @action
    def delete(self, kind: str, name: str, propagation: str, wait: float = 0) -> None:
        self.send(
            {
                "op": "delete",
                "kind": kind,
                "namespace": NAMESPACE,
                "name": name,
                "propagationPolicy": propagation,
            }
        )
        self._then_wait(wait)

    @action
    def create_replicaset(self, replicas: int, image: str, wait: float = 0) -> None:
        manifest = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": REPLICA_SET, "namespace": NAMESPACE},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": REPLICA_SET}},
                "template": pod_template(REPLICA_SET, image),
            },
        }
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    @action
    def create_orphan(self, name: str, wait: float = 0) -> None:
        """A bare pod the ReplicaSet's selector matches: the ReplicaSet adopts it."""
        template = pod_template(REPLICA_SET, IMAGES[0])
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, **template["metadata"]},
            "spec": template["spec"],
        }
        self.send({"op": "create", "object": pod})
        self._then_wait(wait)

    @action
    def create_pinned_replicaset(self, replicas: int, wait: float = 0) -> None:
        """`r2`: pinned to n1 by spec.nodeName and asking for a label no node has, the shape of
        kubernetes#131116 and #72593: n1's kubelet rejects every pod (NodeAffinity). An action
        without a rule: a ReplicaSet that can never run would fail the liveness laws."""
        template = pod_template("r2", IMAGES[0])
        template["spec"]["nodeName"] = NODES[0]
        template["spec"]["nodeSelector"] = {"example.com/never": "true"}
        manifest = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "r2", "namespace": NAMESPACE},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "r2"}},
                "template": template,
            },
        }
        self.send({"op": "create", "object": manifest})
        self._then_wait(wait)

    # -- picking pods ------------------------------------------------------------------------------

    def _pod(self, owner: str, index: int) -> dict[str, Any] | None:
        """The index-th live pod (by name) that the owner's label selects."""
        answer = self.send(
            {"op": "list", "kind": "Pod", "namespace": NAMESPACE, "labelSelector": f"app={owner}"}
        )
        if not answer.get("ok"):
            return None
        pods = sorted(
            (p for p in answer["items"] if not p["metadata"].get("deletionTimestamp")),
            key=lambda p: str(p["metadata"]["name"]),
        )
        return pods[index % len(pods)] if pods else None

    @action
    def delete_pod_of(self, owner: str, index: int, wait: float = 0) -> None:
        pod = self._pod(owner, index)
        if pod is not None:
            self.delete_pod(pod["metadata"]["name"], force=False)
        self._then_wait(wait)

    @action
    def relabel_pod(self, owner: str, index: int, wait: float = 0) -> None:
        """Take a pod out of its owner's selector: the owner releases it."""
        pod = self._pod(owner, index)
        if pod is not None:
            pod["metadata"].setdefault("labels", {})["app"] = f"{owner}-released"
            self.send({"op": "update", "object": pod})
        self._then_wait(wait)

    @action
    def exit_pod(self, owner: str, index: int, wait: float = 0) -> None:
        pod = self._pod(owner, index)
        if pod is not None:
            self.send(
                {
                    "op": "container.exit",
                    "namespace": NAMESPACE,
                    "pod": pod["metadata"]["name"],
                    "container": "app",
                    "code": 1,
                }
            )
        self._then_wait(wait)

    @action
    def set_ready(self, owner: str, index: int, passing: bool, wait: float = 0) -> None:
        pod = self._pod(owner, index)
        if pod is not None:
            self.send(
                {
                    "op": "probe.set",
                    "namespace": NAMESPACE,
                    "pod": pod["metadata"]["name"],
                    "container": "app",
                    "probe": "readiness",
                    "passing": passing,
                }
            )
        self._then_wait(wait)

    # -- the nemesis on machines -------------------------------------------------------------------

    @action
    def image_fail(self, image: str, failing: bool, wait: float = 0) -> None:
        self.send({"op": "image.fail", "image": image, "failing": failing})
        self._then_wait(wait)

    @action
    def fault(self, op: str, name: str, wait: float = 0) -> None:
        self.send({"op": op, "name": name})
        self._then_wait(wait)

    @action
    def cordon(self, name: str, unschedulable: bool, wait: float = 0) -> None:
        def edit(node: dict[str, Any]) -> None:
            node.setdefault("spec", {})["unschedulable"] = unschedulable

        answer = self.send({"op": "get", "kind": "Node", "name": name})
        if answer.get("ok"):
            node = answer["object"]
            edit(node)
            self.send({"op": "update", "object": node})
        self._then_wait(wait)


def _revision(rs: Mapping[str, Any]) -> int:
    raw = (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _previous_revision(sets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """kubectl's LastRevision: the ReplicaSet with the second highest revision."""
    ranked = sorted(sets, key=_revision, reverse=True)
    return ranked[1] if len(ranked) >= 2 else None


def _without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    out = {**template, "metadata": {**(template.get("metadata") or {})}}
    labels = dict(out["metadata"].get("labels") or {})
    labels.pop("pod-template-hash", None)
    out["metadata"]["labels"] = labels
    return out


_WAITS = st.sampled_from((0, 0, 0, 1, 2, 5, 30))
_REPLICAS = st.integers(0, 5)
_INDEX = st.integers(0, 4)
_IMAGE = st.sampled_from(IMAGES)
_NODE = st.sampled_from(NODES)
FEATURES = (
    "pods",
    "probes",
    "faults",
    "controllers",
    "pause",
    "rollback",
    "adoption",
    "delete",
    "sets",
)


def _on(feature: str) -> Any:
    return precondition(lambda self: feature in self.features)


class WorkloadMachine(LevelMachine, SetRules):
    actions_class = WorkloadActions
    final_settle_seconds = 900
    #: A workloads step runs five more controllers over more objects than a nodes step.
    example_share = 0.4

    def __init__(self) -> None:
        super().__init__()
        self.features: frozenset[str] = frozenset(FEATURES)

    @initialize(
        seed=st.integers(0, 2**16),
        features=st.sets(st.sampled_from(FEATURES), min_size=1, max_size=3),
    )
    def reset(self, seed: int, features: set[str]) -> None:
        self.features = frozenset(features)
        self.do("reset", seed=seed, nodes=3)

    @rule(
        name=st.sampled_from(DEPLOYMENTS),
        replicas=_REPLICAS,
        strategy=st.integers(0, len(STRATEGIES) - 1),
        min_ready=st.sampled_from((0, 0, 5)),
        history=st.sampled_from((0, 1, 2, 10)),
        image=_IMAGE,
        wait=_WAITS,
    )
    def create_deployment(self, **args: Any) -> None:
        self.do("create_deployment", **args)

    @rule(name=st.sampled_from(DEPLOYMENTS), replicas=_REPLICAS, wait=_WAITS)
    def scale(self, name: str, replicas: int, wait: float) -> None:
        self.do("scale", kind="Deployment", name=name, replicas=replicas, wait=wait)

    @rule(name=st.sampled_from(DEPLOYMENTS), image=_IMAGE, wait=_WAITS)
    def set_image(self, name: str, image: str, wait: float) -> None:
        self.do("set_image", name=name, image=image, wait=wait)

    @rule(name=st.sampled_from(DEPLOYMENTS), strategy=st.integers(0, len(STRATEGIES) - 1))
    def set_strategy(self, name: str, strategy: int) -> None:
        self.do("set_strategy", name=name, strategy=strategy)

    @_on("pause")
    @rule(name=st.sampled_from(DEPLOYMENTS), paused=st.booleans(), wait=_WAITS)
    def pause(self, name: str, paused: bool, wait: float) -> None:
        self.do("pause", name=name, paused=paused, wait=wait)

    @_on("rollback")
    @rule(name=st.sampled_from(DEPLOYMENTS), wait=_WAITS)
    def rollback(self, name: str, wait: float) -> None:
        self.do("rollback", name=name, wait=wait)

    @_on("delete")
    @rule(
        kind_name=st.sampled_from(
            (("Deployment", "d1"), ("Deployment", "d2"), ("ReplicaSet", REPLICA_SET))
        ),
        propagation=st.sampled_from(("Background", "Foreground", "Orphan")),
        wait=_WAITS,
    )
    def delete(self, kind_name: tuple[str, str], propagation: str, wait: float) -> None:
        kind, name = kind_name
        self.do("delete", kind=kind, name=name, propagation=propagation, wait=wait)

    @_on("adoption")
    @rule(replicas=_REPLICAS, image=_IMAGE, wait=_WAITS)
    def create_replicaset(self, replicas: int, image: str, wait: float) -> None:
        self.do("create_replicaset", replicas=replicas, image=image, wait=wait)

    @_on("adoption")
    @rule(replicas=_REPLICAS, wait=_WAITS)
    def scale_replicaset(self, replicas: int, wait: float) -> None:
        self.do("scale", kind="ReplicaSet", name=REPLICA_SET, replicas=replicas, wait=wait)

    @_on("adoption")
    @rule(name=st.sampled_from(("orphan-1", "orphan-2")), wait=_WAITS)
    def create_orphan(self, name: str, wait: float) -> None:
        self.do("create_orphan", name=name, wait=wait)

    @_on("adoption")
    @rule(owner=st.sampled_from(OWNERS), index=_INDEX, wait=_WAITS)
    def relabel_pod(self, owner: str, index: int, wait: float) -> None:
        self.do("relabel_pod", owner=owner, index=index, wait=wait)

    @_on("pods")
    @rule(owner=st.sampled_from(OWNERS), index=_INDEX, wait=_WAITS)
    def delete_pod_of(self, owner: str, index: int, wait: float) -> None:
        self.do("delete_pod_of", owner=owner, index=index, wait=wait)

    @_on("pods")
    @precondition(lambda self: self.can("apps", "container.exit"))
    @rule(owner=st.sampled_from(OWNERS), index=_INDEX, wait=_WAITS)
    def exit_pod(self, owner: str, index: int, wait: float) -> None:
        self.do("exit_pod", owner=owner, index=index, wait=wait)

    @_on("probes")
    @precondition(lambda self: self.can("apps", "probe.set"))
    @rule(owner=st.sampled_from(OWNERS), index=_INDEX, passing=st.booleans(), wait=_WAITS)
    def set_ready(self, owner: str, index: int, passing: bool, wait: float) -> None:
        self.do("set_ready", owner=owner, index=index, passing=passing, wait=wait)

    @_on("probes")
    @precondition(lambda self: self.can("apps", "image.fail"))
    @rule(image=_IMAGE, failing=st.booleans(), wait=_WAITS)
    def image_fail(self, image: str, failing: bool, wait: float) -> None:
        self.do("image_fail", image=image, failing=failing, wait=wait)

    @_on("faults")
    @precondition(lambda self: self.can("faults"))
    @rule(
        op=st.sampled_from(("node.down", "node.up", "node.partition", "node.heal")),
        name=_NODE,
        wait=_WAITS,
    )
    def fault(self, op: str, name: str, wait: float) -> None:
        self.do("fault", op=op, name=name, wait=wait)

    @_on("faults")
    @rule(name=_NODE, unschedulable=st.booleans(), wait=_WAITS)
    def cordon(self, name: str, unschedulable: bool, wait: float) -> None:
        self.do("cordon", name=name, unschedulable=unschedulable, wait=wait)

    @precondition(lambda self: self.can("clock"))
    @rule(seconds=st.sampled_from((1, 2, 5, 30, 300)))
    def advance(self, seconds: float) -> None:
        self.do("advance", seconds=seconds)

    @rule(max_seconds=st.sampled_from((60, 900)))
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
