"""`meta.k8s.io/v1` Tables: the columns `kubectl get` prints, computed server side as upstream does.

Every kind gets NAME and AGE; the common kinds get their upstream columns.
Ages are measured on the cluster's simulated clock, so they agree with the
timestamps the objects carry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from reference.timefmt import parse_time

__all__ = ["human_duration", "table"]

Cell = str | int
Object = Mapping[str, Any]


@attrs.frozen
class Column:
    name: str
    cell: Callable[[Object, float], Cell]
    type: str = "string"
    format: str = ""
    priority: int = 0


def human_duration(seconds: float) -> str:
    """Upstream's HumanDuration (apimachinery `duration`): `45s`, `3m20s`, `5h2m`, `2y5d`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _name(obj: Object, now: float) -> Cell:
    return str(obj["metadata"].get("name", ""))


def _age(obj: Object, now: float) -> Cell:
    created = obj["metadata"].get("creationTimestamp")
    return human_duration(now - parse_time(created)) if created else "<unknown>"


def _get(obj: Object, *path: str, default: Any = 0) -> Any:
    value: Any = obj
    for field in path:
        if not isinstance(value, Mapping) or field not in value:
            return default
        value = value[field]
    return value


def _pod_ready(obj: Object, now: float) -> Cell:
    statuses = _get(obj, "status", "containerStatuses", default=[]) or []
    total = len(_get(obj, "spec", "containers", default=[]) or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _pod_status(obj: Object, now: float) -> Cell:
    """The reason column as kubectl computes it: a waiting or terminated reason beats the phase."""
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = _get(obj, "status", "reason", default="") or _get(obj, "status", "phase", default="")
    for status in _get(obj, "status", "containerStatuses", default=[]) or []:
        state = status.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    return str(reason or "Pending")


def _restarts(obj: Object, now: float) -> Cell:
    statuses = _get(obj, "status", "containerStatuses", default=[]) or []
    return sum(int(c.get("restartCount", 0)) for c in statuses)


def _ratio(ready: tuple[str, ...], want: tuple[str, ...]) -> Callable[[Object, float], Cell]:
    return lambda obj, now: f"{_get(obj, *ready)}/{_get(obj, *want)}"


def _field(*path: str, default: Any = 0) -> Callable[[Object, float], Cell]:
    def cell(obj: Object, now: float) -> Cell:
        value = _get(obj, *path, default=default)
        return value if isinstance(value, int) and not isinstance(value, bool) else str(value)

    return cell


def _count(*path: str) -> Callable[[Object, float], Cell]:
    return lambda obj, now: len(_get(obj, *path, default={}) or {})


def _node_status(obj: Object, now: float) -> Cell:
    ready = next(
        (
            c
            for c in _get(obj, "status", "conditions", default=[]) or []
            if c.get("type") == "Ready"
        ),
        None,
    )
    status = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if _get(obj, "spec", "unschedulable", default=False):
        status += ",SchedulingDisabled"
    return status


def _node_roles(obj: Object, now: float) -> Cell:
    prefix = "node-role.kubernetes.io/"
    labels = obj["metadata"].get("labels") or {}
    roles = sorted(k[len(prefix) :] for k in labels if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _service_ports(obj: Object, now: float) -> Cell:
    ports = _get(obj, "spec", "ports", default=[]) or []
    shown = []
    for port in ports:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        shown.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(shown) or "<none>"


def _endpoints(obj: Object, now: float) -> Cell:
    shown = []
    for subset in obj.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or [{}]:
                suffix = f":{port['port']}" if "port" in port else ""
                shown.append(f"{address.get('ip')}{suffix}")
    return ",".join(shown[:3]) + (" + more..." if len(shown) > 3 else "") or "<none>"


def _involved(obj: Object, now: float) -> Cell:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


NAME = Column("Name", _name, format="name")
AGE = Column("Age", _age)

_COLUMNS: dict[str, tuple[Column, ...]] = {
    "Pod": (
        NAME,
        Column("Ready", _pod_ready),
        Column("Status", _pod_status),
        Column("Restarts", _restarts, type="integer"),
        AGE,
        Column("IP", _field("status", "podIP", default="<none>"), priority=1),
        Column("Node", _field("spec", "nodeName", default="<none>"), priority=1),
    ),
    "Deployment": (
        NAME,
        Column("Ready", _ratio(("status", "readyReplicas"), ("spec", "replicas"))),
        Column("Up-to-date", _field("status", "updatedReplicas"), type="integer"),
        Column("Available", _field("status", "availableReplicas"), type="integer"),
        AGE,
    ),
    "ReplicaSet": (
        NAME,
        Column("Desired", _field("spec", "replicas"), type="integer"),
        Column("Current", _field("status", "replicas"), type="integer"),
        Column("Ready", _field("status", "readyReplicas"), type="integer"),
        AGE,
    ),
    "StatefulSet": (
        NAME,
        Column("Ready", _ratio(("status", "readyReplicas"), ("spec", "replicas"))),
        AGE,
    ),
    "DaemonSet": (
        NAME,
        Column("Desired", _field("status", "desiredNumberScheduled"), type="integer"),
        Column("Current", _field("status", "currentNumberScheduled"), type="integer"),
        Column("Ready", _field("status", "numberReady"), type="integer"),
        Column("Up-to-date", _field("status", "updatedNumberScheduled"), type="integer"),
        Column("Available", _field("status", "numberAvailable"), type="integer"),
        AGE,
    ),
    "Service": (
        NAME,
        Column("Type", _field("spec", "type", default="ClusterIP")),
        Column("Cluster-IP", _field("spec", "clusterIP", default="<none>")),
        Column(
            "External-IP",
            lambda o, n: ",".join(_get(o, "spec", "externalIPs", default=[]) or []) or "<none>",
        ),
        Column("Port(s)", _service_ports),
        AGE,
    ),
    "Node": (
        NAME,
        Column("Status", _node_status),
        Column("Roles", _node_roles),
        AGE,
        Column("Version", _field("status", "nodeInfo", "kubeletVersion", default="")),
    ),
    "Namespace": (NAME, Column("Status", _field("status", "phase", default="Active")), AGE),
    "ConfigMap": (
        NAME,
        Column(
            "Data",
            lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            type="integer",
        ),
        AGE,
    ),
    "Secret": (
        NAME,
        Column("Type", lambda o, n: str(o.get("type", "Opaque"))),
        Column("Data", lambda o, n: len(o.get("data") or {}), type="integer"),
        AGE,
    ),
    "Endpoints": (NAME, Column("Endpoints", _endpoints), AGE),
    "Lease": (NAME, Column("Holder", _field("spec", "holderIdentity", default="")), AGE),
    "PriorityClass": (
        NAME,
        Column("Value", _field("value"), type="integer"),
        Column("Global-Default", lambda o, n: str(bool(o.get("globalDefault"))).lower()),
        AGE,
    ),
    "Event": (
        NAME,
        Column("Type", _field("type", default="")),
        Column("Reason", _field("reason", default="")),
        Column("Object", _involved),
        Column("Message", _field("message", default="")),
        AGE,
    ),
}


def columns_for(kind: str) -> tuple[Column, ...]:
    return _COLUMNS.get(kind, (NAME, AGE))


def table(
    kind: str,
    objects: Sequence[Object],
    now: float,
    resource_version: str,
    include_object: str = "Metadata",
) -> dict[str, Any]:
    """A Table of `objects`; each row carries the object as `include_object` asks (upstream's
    `includeObject`: None, Metadata (the default, a PartialObjectMetadata) or Object)."""
    columns = columns_for(kind)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [c.cell(obj, now) for c in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": "",
                "priority": c.priority,
            }
            for c in columns
        ],
        "rows": rows,
    }
