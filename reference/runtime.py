"""Machines and what really runs on them: the simulated container runtime.

A `Machine` is one node's hardware, its link to the API server, its
container runtime and its kubelet's memory. The runtime is the truth the
`runtime` observation reports, which may differ from what the API says: a
partitioned node keeps running pods the API has deleted, a powered-off one
runs nothing whatever the API believes.

The kubelet's memory (probe results, back-off entries, pods it knows) lives
beside the runtime because upstream keeps it in process memory: a kubelet
restart loses it, a reboot loses it and the running containers.

The simulated workload (`apps`: probe answers, failing image pulls) belongs
to the cluster, not to a machine: a probe is set for a pod by name, and an
image fails to pull wherever it is pulled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs
from pyrsistent import PMap, PSet, pmap, pset

from reference.timefmt import format_time

__all__ = [
    "Apps",
    "BackOff",
    "ContainerKey",
    "Instance",
    "KubeletMemory",
    "Machine",
    "ProbeKey",
    "ProbeRecord",
    "Termination",
]

ContainerKey = tuple[str, str]
"""(pod uid, container name)."""
ProbeKey = tuple[str, str, str]
"""(pod uid, container name, probe: liveness | readiness | startup)."""


@attrs.frozen
class Termination:
    """How a container instance ended (containerStatus.state.terminated)."""

    exit_code: int
    reason: str
    started_at: float
    finished_at: float

    def status(self, container_id: str) -> dict[str, Any]:
        return {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": format_time(self.started_at),
            "finishedAt": format_time(self.finished_at),
            "containerID": container_id,
        }


@attrs.frozen
class Instance:
    """The latest instance of one container of one pod, as the runtime sees it.

    `state` is `waiting` while no instance was ever started (image pull or
    configuration failing), `running`, or `exited` (also while a restart
    waits out its back-off). `restarts` counts instances before this one.
    """

    namespace: str
    pod: str
    uid: str
    container: str
    image: str
    state: Literal["running", "exited", "waiting"]
    restarts: int = 0
    started_at: float | None = None
    ended: Termination | None = None
    #: The instance before this one ended so (containerStatus.lastState).
    previous: Termination | None = None
    #: Why a container that never started waits (ErrImagePull, CreateContainerConfigError, ...).
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    env: PMap[str, str] = attrs.field(factory=pmap)
    files: PMap[str, str] = attrs.field(factory=pmap)

    @property
    def container_id(self) -> str:
        return f"containerd://{self.uid[:8]}-{self.container}-{self.restarts}"

    def observed(self) -> dict[str, Any]:
        """The entry of the `runtime` observation."""
        entry: dict[str, Any] = {
            "namespace": self.namespace,
            "pod": self.pod,
            "uid": self.uid,
            "container": self.container,
            "image": self.image,
            "state": self.state,
            "restarts": self.restarts,
            "env": dict(self.env),
            "files": dict(self.files),
        }
        if self.state == "exited" and self.ended is not None:
            entry["exitCode"] = self.ended.exit_code
        return entry


@attrs.frozen
class BackOff:
    """A restart back-off entry (client-go flowcontrol.Backoff): delay and last update."""

    delay: float
    updated: float


@attrs.frozen
class ProbeRecord:
    """What a probe worker knows: its result and the run of checks since the answer changed.

    `result` is what the kubelet acts on (None: Unknown, the startup probe's
    initial value). Checks of `passing` counted from `since` flip the result
    once there are enough of them (success or failure threshold).
    """

    result: bool | None
    passing: bool
    since: float


@attrs.frozen
class KubeletMemory:
    """The kubelet's in-process state: lost when the kubelet restarts or the machine reboots."""

    #: The pods bound to this node, as the kubelet last read them from the API (by uid).
    pods: PMap[str, Mapping[str, Any]] = attrs.field(factory=pmap)
    backoff: PMap[ContainerKey, BackOff] = attrs.field(factory=pmap)
    pull_backoff: PMap[ContainerKey, BackOff] = attrs.field(factory=pmap)
    probes: PMap[ProbeKey, ProbeRecord] = attrs.field(factory=pmap)
    #: Whether `pods` came from a list of the API since the kubelet started: until then it
    #: cannot tell a deleted pod from one it has not heard of, and kills nothing.
    listed: bool = False
    #: Per pod uid, when its probe workers started: their checks tick from then.
    workers: PMap[str, float] = attrs.field(factory=pmap)


@attrs.frozen
class Machine:
    name: str
    #: Order of joining; derives the node's addresses and pod CIDR.
    index: int
    up: bool = True
    reachable: bool = True
    #: Since when the kubelet has been renewing its Lease without a break (None: it is not).
    renewing_since: float | None = 0.0
    containers: PMap[ContainerKey, Instance] = attrs.field(factory=pmap)
    #: Pod IPs in use on this machine: uid -> last octet within the node's pod CIDR.
    pod_ips: PMap[str, int] = attrs.field(factory=pmap)
    #: Images already pulled to this machine (an IfNotPresent start needs no pull).
    images: PSet[str] = attrs.field(factory=pset)
    #: The store revision when the link to the API server was cut (what the kubelet's caches hold).
    cut_revision: int | None = None
    kubelet: KubeletMemory = attrs.field(factory=KubeletMemory)
    #: When the kubelet next has something to do (a back-off ending, a probe flipping, ...).
    wake_at: float | None = None
    #: The kubelet must sync at the next chance (its pods, node or configuration changed).
    dirty: bool = True
    #: The store revision of the kubelet's last full list: older changes are already in it.
    listed_at: int = 0

    @property
    def healthy(self) -> bool:
        """Up and connected: the kubelet heartbeats and syncs with the API server."""
        return self.up and self.reachable

    @property
    def node_ip(self) -> str:
        n = self.index + 1
        return f"172.16.{n // 256}.{n % 256}"

    @property
    def pod_cidr(self) -> str:
        return f"10.{128 + self.index // 256}.{self.index % 256}.0/24"

    def pod_ip(self, host: int) -> str:
        return f"10.{128 + self.index // 256}.{self.index % 256}.{host}"

    def observed(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "reachable": self.reachable,
            "containers": [
                self.containers[k].observed()
                for k in sorted(
                    self.containers,
                    key=lambda k: (self.containers[k].namespace, self.containers[k].pod, k),
                )
            ],
        }


@attrs.frozen
class Apps:
    """The simulated workload: how probes answer and which images fail to pull.

    Probe answers are keyed by (namespace, pod name, container, probe) and
    carry the moment they were set, from which the kubelet counts checks.
    """

    probes: PMap[tuple[str, str, str, str], tuple[bool, float]] = attrs.field(factory=pmap)
    failing_images: PSet[str] = attrs.field(factory=pset)

    def probe(self, namespace: str, pod: str, container: str, probe: str) -> tuple[bool, float]:
        return self.probes.get((namespace, pod, container, probe), (True, float("-inf")))
