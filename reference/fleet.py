"""The machines of a cluster: node ops, the kubelets' turn in the control loop, heartbeats.

`Fleet` is the part of the cluster that is not the API: every machine with
its runtime and kubelet, and the simulated workload. The cluster gives the
kubelets their turn in each round of the control loop (`run_kubelets`),
after the controllers.

What a kubelet knows of the API it learns from the store's event log,
dispatched here: a change to a pod bound to a machine updates that
kubelet's pod list and makes it sync; a change to its Node, or to a
ConfigMap or Secret in a namespace it runs pods of, makes it sync. A
machine cut off from the API server learns nothing until it is healed, and
then relists.

Heartbeats are lazy (docs/fidelity.md): a healthy kubelet renews its Lease
every `nodeLeaseRenewIntervalSeconds`, but the renewal is written only when
a request moves the clock forward (`materialize_heartbeats`) or the kubelet
stops renewing. In between, the node lifecycle controller reads renewals
from `heartbeats`, derived from the clock, so that idle simulated time costs
nothing per second.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, pmap

from properties.quantity import QuantityError, parse_quantity
from reference.api import errors
from reference.api.errors import ApiError
from reference.api.kinds import KINDS
from reference.api.server import ApiPolicy, ApiState, handle
from reference.constants import KUBERNETES_VERSION, NODE_LEASE_DURATION_SECONDS, TIMING_PARAMETERS
from reference.kubelet import EXIT_LOST, KubeletPolicy, ready_node, sync
from reference.objects import decode
from reference.runtime import Apps, KubeletMemory, Machine, Termination
from reference.store import Compacted
from reference.timefmt import format_time, normalize

__all__ = ["FLEET_OPS", "Fleet", "heartbeats", "materialize_heartbeats", "run_kubelets"]

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = NODE_LEASE_DURATION_SECONDS
_RENEW = float(TIMING_PARAMETERS["nodeLeaseRenewIntervalSeconds"])
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PODS = KINDS["Pod"].prefix()
_NODES = KINDS["Node"].prefix()
_CONFIG_PREFIXES = (KINDS["ConfigMap"].prefix(), KINDS["Secret"].prefix())


@attrs.frozen
class Fleet:
    machines: PMap[str, Machine] = attrs.field(factory=pmap)
    apps: Apps = attrs.field(factory=Apps)
    #: The store revision up to which changes have been dispatched to the kubelets.
    dispatched: int = 0
    #: How many machines ever joined (derives addresses of the next one).
    joined: int = 0
    #: Per machine, the renewTime last written to its Lease.
    leases: PMap[str, float] = attrs.field(factory=pmap)
    #: Per machine, its last finished run of renewals (since, until), for lagging views.
    past_renewals: PMap[str, tuple[float, float]] = attrs.field(factory=pmap)


# -- reading the API as a kubelet ------------------------------------------------------------------


def _live_lookup(api: ApiState) -> Any:
    def lookup(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        kv = api.store.get(KINDS[kind].key(namespace, name))
        return decode(kv.value) if kv else None

    return lookup


def _relist(api: ApiState, machine: Machine, policy: KubeletPolicy) -> Machine:
    """The kubelet's pod list read afresh from the API (after a restart, reboot or heal)."""
    found: dict[str, Mapping[str, Any]] = {}
    for kv in api.store.range(_PODS, _PODS[:-1] + "0").kvs:
        pod = decode(kv.value)
        bound = (pod.get("spec") or {}).get("nodeName")
        if bound == machine.name or (bound and not policy.relist_filters_by_node):
            found[pod["metadata"]["uid"]] = pod
    pods = pmap(found)
    if not policy.relist_drops_missing:
        pods = machine.kubelet.pods.update(pods)
    return attrs.evolve(
        machine,
        kubelet=attrs.evolve(machine.kubelet, pods=pods, listed=True),
        dirty=True,
        listed_at=api.store.revision,
    )


def _dispatch(fleet: Fleet, api: ApiState, policy: KubeletPolicy) -> Fleet:
    """Tell each connected kubelet what changed in the API since the last dispatch."""
    store = api.store
    if fleet.dispatched == store.revision:
        return fleet
    machines = dict(fleet.machines)
    try:
        events = store.events_after(fleet.dispatched)
    except Compacted:
        for name, m in machines.items():
            if m.healthy:
                machines[name] = _relist(api, m, policy)
        return attrs.evolve(fleet, machines=pmap(machines), dispatched=store.revision)
    for event in events:
        key = event.kv.key
        revision = event.kv.mod_revision
        if key.startswith(_PODS):
            new = decode(event.kv.value) if event.type == "PUT" else None
            old = decode(event.prev_kv.value) if event.prev_kv is not None else None
            for obj in (new, old):
                node = ((obj or {}).get("spec") or {}).get("nodeName")
                bound = machines.get(node) if node else None
                if bound is None or not bound.healthy or obj is None:
                    continue
                if revision <= bound.listed_at:
                    break
                uid = obj["metadata"]["uid"]
                pods = bound.kubelet.pods
                pods = pods.set(uid, new) if new is not None and obj is new else pods.discard(uid)
                # As upstream's pod config: a change of status alone is no reason to sync.
                status_only = (
                    new is not None
                    and old is not None
                    and _without_status(new) == _without_status(old)
                )
                machines[bound.name] = attrs.evolve(
                    bound,
                    kubelet=attrs.evolve(bound.kubelet, pods=pods),
                    dirty=bound.dirty or not status_only,
                )
                break
        elif key.startswith(_NODES):
            own = machines.get(key[len(_NODES) :])
            if own is not None and own.healthy:
                machines[own.name] = attrs.evolve(own, dirty=True)
        elif key.startswith(_CONFIG_PREFIXES):
            namespace = key.split("/")[3]
            for name, m in machines.items():
                if m.healthy and any(
                    p["metadata"].get("namespace") == namespace for p in m.kubelet.pods.values()
                ):
                    machines[name] = attrs.evolve(m, dirty=True)
    return attrs.evolve(fleet, machines=pmap(machines), dispatched=store.revision)


def _without_status(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "status"}


def run_kubelets(
    fleet: Fleet,
    api: ApiState,
    now: float,
    api_policy: ApiPolicy,
    policy: KubeletPolicy,
) -> tuple[Fleet, ApiState, list[str]]:
    """Give every kubelet with something to do its sync; returns who wrote to the API."""
    fleet = _dispatch(fleet, api, policy)
    changed: list[str] = []
    machines = fleet.machines
    for name in sorted(machines):
        m = machines[name]
        due = m.wake_at is not None and m.wake_at <= now
        if not m.up or not (m.dirty or due):
            continue
        if m.reachable:
            lookup = _live_lookup(api)
            kv = api.store.get(KINDS["Node"].key("", name))
            node = decode(kv.value) if kv else None
        else:
            lookup = _cut_lookup(api, m.cut_revision)
            node = None
        result = sync(m, node, lookup, fleet.apps, now, policy, connected=m.reachable)
        before = api.store.revision
        for write in result.writes:
            try:
                api, _ = handle(api, write, now, api_policy, system=True)
            except ApiError:
                continue
        machines = machines.set(name, result.machine)
        if api.store.revision != before:
            changed.append(f"kubelet/{name}")
    return attrs.evolve(fleet, machines=machines), api, changed


def _cut_lookup(api: ApiState, revision: int | None) -> Any:
    def lookup(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        kv = api.store.get_at(KINDS[kind].key(namespace, name), revision or api.store.revision)
        return decode(kv.value) if kv else None

    return lookup


def next_wake(fleet: Fleet, now: float) -> float | None:
    times = [
        m.wake_at
        for m in fleet.machines.values()
        if m.up and m.wake_at is not None and m.wake_at > now
    ]
    return min(times) if times else None


# -- heartbeats ------------------------------------------------------------------------------------


def _tick(since: float, moment: float) -> float:
    return normalize(since + math.floor((moment - since) / _RENEW + 1e-9) * _RENEW)


def _last_renewal(machine: Machine, moment: float) -> float | None:
    since = machine.renewing_since
    if since is None or since > moment:
        return None
    return _tick(since, moment)


def heartbeats(fleet: Fleet, moment: float) -> dict[str, float]:
    """The latest Lease renewal of every kubelet renewing at `moment`, as derived from the clock.

    `moment` is in the past for a lagging view: a kubelet that has stopped
    renewing since was still renewing then.
    """
    found = {}
    for name, m in fleet.machines.items():
        renewal = _last_renewal(m, moment)
        if renewal is not None:
            found[name] = renewal
    for name, (since, until) in fleet.past_renewals.items():
        if name not in found and since <= moment <= until:
            found[name] = _tick(since, moment)
    return found


def _write_lease(api: ApiState, name: str, renew: float, now: float, policy: ApiPolicy) -> ApiState:
    """Renew the node's Lease, creating it (owned by the Node) if it is missing, as upstream."""
    key = KINDS["Lease"].key(LEASE_NAMESPACE, name)
    kv = api.store.get(key)
    node = api.store.get(KINDS["Node"].key("", name))
    owner = []
    if node is not None:
        uid = decode(node.value)["metadata"]["uid"]
        owner = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]
    if kv is None:
        lease: dict[str, Any] = {
            "kind": "Lease",
            "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": name, "namespace": LEASE_NAMESPACE},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS},
        }
        op = "create"
    else:
        lease = decode(kv.value)
        op = "update"
    if owner:
        lease["metadata"]["ownerReferences"] = owner
    lease["spec"]["renewTime"] = format_time(renew, micro=True)
    with contextlib.suppress(ApiError):
        api, _ = handle(api, {"op": op, "object": lease}, now, policy, system=True)
    return api


def materialize_heartbeats(
    fleet: Fleet, api: ApiState, now: float, policy: ApiPolicy
) -> tuple[Fleet, ApiState]:
    """Write every renewal that happened up to `now` but was only derived so far."""
    leases = fleet.leases
    for name in sorted(fleet.machines):
        renewal = _last_renewal(fleet.machines[name], now)
        if renewal is not None and renewal > leases.get(name, -math.inf):
            api = _write_lease(api, name, renewal, now, policy)
            leases = leases.set(name, renewal)
    return attrs.evolve(fleet, leases=leases), api


# -- node ops --------------------------------------------------------------------------------------


def _machine_name(fleet: Fleet, request: Mapping[str, Any]) -> str:
    name = request.get("name")
    if not isinstance(name, str):
        raise errors.bad_request("`name` is required and must be a string")
    if name not in fleet.machines:
        raise ApiError(404, "NotFound", f"no machine named {name!r}; node.add makes one")
    return name


def _capacity(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise errors.bad_request(
            '`capacity` is required: an object such as {"cpu": "4", "memory": "8Gi", "pods": "110"}'
        )
    capacity = {}
    for resource, amount in value.items():
        if not isinstance(amount, str | int) or isinstance(amount, bool):
            raise errors.bad_request(
                f'capacity[{resource!r}] must be a quantity such as "4" or "8Gi"'
            )
        try:
            parse_quantity(str(amount))
        except QuantityError as e:
            raise errors.bad_request(f"capacity[{resource!r}]: {e}") from None
        capacity[str(resource)] = str(amount)
    capacity.setdefault("pods", "110")
    return capacity


def _node_add(
    fleet: Fleet,
    api: ApiState,
    now: float,
    request: Mapping[str, Any],
    policy: ApiPolicy,
    kp: KubeletPolicy,
) -> tuple[Fleet, ApiState]:
    name = request.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 253:
        raise errors.bad_request(
            "`name` must be a DNS subdomain: lowercase letters, digits, '-' and '.'"
        )
    if name in fleet.machines:
        raise ApiError(409, "AlreadyExists", f"machine {name!r} already exists")
    capacity = _capacity(request.get("capacity"))
    labels = request.get("labels") or {}
    taints = request.get("taints") or []
    if not isinstance(labels, Mapping) or not isinstance(taints, list):
        raise errors.bad_request("`labels` must be an object and `taints` a list")
    machine = Machine(name=name, index=fleet.joined, renewing_since=now)
    node_key = KINDS["Node"].key("", name)
    existing = api.store.get(node_key)
    if existing is None:
        node: dict[str, Any] = {
            "kind": "Node",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    **labels,
                },
            },
            "spec": {"podCIDR": machine.pod_cidr, "podCIDRs": [machine.pod_cidr]},
        }
        if taints:
            node["spec"]["taints"] = taints
        api, answer = handle(api, {"op": "create", "object": node}, now, policy, system=True)
        node = answer["object"]
    else:
        node = decode(existing.value)
    status = {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "nodeInfo": {
            "kubeletVersion": f"v{KUBERNETES_VERSION}",
            "containerRuntimeVersion": "kubeprop://0.1",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }
    node = ready_node({**node, "status": {**(node.get("status") or {}), **status}}, machine, now)
    api, _ = handle(api, {"op": "status", "object": node}, now, policy, system=True)
    api = _write_lease(api, name, now, now, policy)
    machine = _relist(api, machine, kp)
    return (
        attrs.evolve(
            fleet,
            machines=fleet.machines.set(name, machine),
            joined=fleet.joined + 1,
            leases=fleet.leases.set(name, now),
        ),
        api,
    )


def _power_off(machine: Machine, now: float, kp: KubeletPolicy) -> Machine:
    if not kp.terminal_is_final:
        machine = attrs.evolve(machine, containers=pmap())
    containers = {}
    for key, inst in machine.containers.items():
        if inst.state == "running":
            assert inst.started_at is not None
            inst = attrs.evolve(
                inst, state="exited", ended=Termination(EXIT_LOST, "Unknown", inst.started_at, now)
            )
        containers[key] = inst
    return attrs.evolve(
        machine,
        up=False,
        renewing_since=None,
        containers=pmap(containers),
        kubelet=KubeletMemory(),
        wake_at=None,
        dirty=False,
    )


def _reconnect(
    fleet: Fleet, api: ApiState, machine: Machine, now: float, policy: ApiPolicy, kp: KubeletPolicy
) -> tuple[Fleet, ApiState, Machine]:
    """The kubelet talks to the API again: it renews its Lease at once and relists its pods."""
    machine = attrs.evolve(machine, renewing_since=now, cut_revision=None)
    api = _write_lease(api, machine.name, now, now, policy)
    machine = _relist(api, machine, kp)
    return attrs.evolve(fleet, leases=fleet.leases.set(machine.name, now)), api, machine


def _node_fault(
    op: str,
    fleet: Fleet,
    api: ApiState,
    now: float,
    request: Mapping[str, Any],
    policy: ApiPolicy,
    kp: KubeletPolicy,
) -> tuple[Fleet, ApiState]:
    name = _machine_name(fleet, request)
    fleet, api = materialize_heartbeats(fleet, api, now, policy)
    m = fleet.machines[name]
    stops = op == "node.remove" or (op in ("node.down", "node.partition") and m.healthy)
    if stops and m.renewing_since is not None:
        fleet = attrs.evolve(
            fleet, past_renewals=fleet.past_renewals.set(name, (m.renewing_since, now))
        )
    if op == "node.remove":
        return attrs.evolve(fleet, machines=fleet.machines.discard(name)), api
    if op == "node.down":
        if m.up:
            m = _power_off(m, now, kp)
    elif op == "node.up":
        if not m.up:
            m = attrs.evolve(m, up=True, dirty=True)
            if m.reachable:
                fleet, api, m = _reconnect(fleet, api, m, now, policy, kp)
    elif op == "node.partition":
        if m.reachable:
            m = attrs.evolve(
                m, reachable=False, renewing_since=None, cut_revision=api.store.revision
            )
    elif op == "node.heal":
        if not m.reachable:
            m = attrs.evolve(m, reachable=True, dirty=True)
            if m.up:
                fleet, api, m = _reconnect(fleet, api, m, now, policy, kp)
    elif op == "kubelet.restart" and m.up:
        memory = KubeletMemory(
            pods=m.kubelet.pods,
            probes=m.kubelet.probes if kp.keep_probe_results_on_restart else pmap(),
        )
        m = attrs.evolve(m, kubelet=memory, dirty=True, wake_at=None)
        if not kp.restart_count_survives_restart:
            m = attrs.evolve(
                m,
                containers=pmap({k: attrs.evolve(i, restarts=0) for k, i in m.containers.items()}),
            )
        if m.reachable:
            m = _relist(api, m, kp)
    return attrs.evolve(fleet, machines=fleet.machines.set(name, m)), api


def _text_arg(request: Mapping[str, Any], field: str) -> str:
    value = request.get(field)
    if not isinstance(value, str) or not value:
        raise errors.bad_request(f"`{field}` is required and must be a non-empty string")
    return value


def _container_arg(request: Mapping[str, Any]) -> tuple[str, str, str]:
    """(namespace, pod, container) of an `apps` op."""
    return (
        _text_arg(request, "namespace"),
        _text_arg(request, "pod"),
        _text_arg(request, "container"),
    )


def _running_on(
    fleet: Fleet, namespace: str, pod: str, container: str
) -> list[tuple[str, tuple[str, str]]]:
    return [
        (name, key)
        for name, m in fleet.machines.items()
        for key, inst in m.containers.items()
        if inst.namespace == namespace and inst.pod == pod and inst.container == container
    ]


def _container_exit(
    fleet: Fleet,
    api: ApiState,
    now: float,
    request: Mapping[str, Any],
    policy: ApiPolicy,
    kp: KubeletPolicy,
) -> tuple[Fleet, ApiState]:
    namespace, pod, container = _container_arg(request)
    code = request.get("code")
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
        raise errors.bad_request("`code` is required and must be an integer from 0 to 255")
    machines = fleet.machines
    hits = [
        (name, key)
        for name, key in _running_on(fleet, namespace, pod, container)
        if machines[name].up and machines[name].containers[key].state == "running"
    ]
    if not hits:
        raise ApiError(
            404,
            "NotFound",
            f"no running container {container!r} of pod {namespace}/{pod} on any machine",
        )
    for name, key in hits:
        m = machines[name]
        inst = m.containers[key]
        assert inst.started_at is not None
        ended = Termination(code, "Completed" if code == 0 else "Error", inst.started_at, now)
        inst = attrs.evolve(inst, state="exited", ended=ended)
        machines = machines.set(
            name, attrs.evolve(m, containers=m.containers.set(key, inst), dirty=True)
        )
    return attrs.evolve(fleet, machines=machines), api


_PROBES = ("liveness", "readiness", "startup")


def _probe_set(
    fleet: Fleet,
    api: ApiState,
    now: float,
    request: Mapping[str, Any],
    policy: ApiPolicy,
    kp: KubeletPolicy,
) -> tuple[Fleet, ApiState]:
    namespace, pod, container = _container_arg(request)
    probe = request.get("probe")
    if probe not in _PROBES:
        raise errors.bad_request(f"`probe` must be one of {', '.join(_PROBES)}")
    passing = request.get("passing")
    if not isinstance(passing, bool):
        raise errors.bad_request("`passing` is required and must be true or false")
    apps = fleet.apps
    current, _ = apps.probe(namespace, pod, container, probe)
    if current == passing:
        return fleet, api
    apps = attrs.evolve(
        apps, probes=apps.probes.set((namespace, pod, container, probe), (passing, now))
    )
    machines = fleet.machines
    for name, _key in _running_on(fleet, namespace, pod, container):
        machines = machines.set(name, attrs.evolve(machines[name], dirty=True))
    return attrs.evolve(fleet, apps=apps, machines=machines), api


def _image_fail(
    fleet: Fleet,
    api: ApiState,
    now: float,
    request: Mapping[str, Any],
    policy: ApiPolicy,
    kp: KubeletPolicy,
) -> tuple[Fleet, ApiState]:
    image = _text_arg(request, "image")
    failing = request.get("failing")
    if not isinstance(failing, bool):
        raise errors.bad_request("`failing` is required and must be true or false")
    images = fleet.apps.failing_images
    images = images.add(image) if failing else images.discard(image)
    return attrs.evolve(fleet, apps=attrs.evolve(fleet.apps, failing_images=images)), api


def _machine_op(op: str) -> Any:
    def run(
        fleet: Fleet,
        api: ApiState,
        now: float,
        request: Mapping[str, Any],
        policy: ApiPolicy,
        kp: KubeletPolicy,
    ) -> tuple[Fleet, ApiState]:
        return _node_fault(op, fleet, api, now, request, policy, kp)

    return run


FLEET_OPS = {
    "node.add": _node_add,
    **{
        op: _machine_op(op)
        for op in (
            "node.remove",
            "node.down",
            "node.up",
            "node.partition",
            "node.heal",
            "kubelet.restart",
        )
    },
    "container.exit": _container_exit,
    "probe.set": _probe_set,
    "image.fail": _image_fail,
}


def observe(fleet: Fleet) -> dict[str, Any]:
    """The `runtime` observation."""
    return {"nodes": {name: fleet.machines[name].observed() for name in sorted(fleet.machines)}}
