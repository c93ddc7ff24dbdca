"""Targets: what the harness drives. `open_target` parses the `--target` spec.

A spec names one implementation; each level needs a target of its kind
(`cluster` or `store`), and a spec serves the kinds it can:

- `reference` — the reference cluster in process, and the reference store for
  the store level (`reference:MUTANT` for a mutant of either);
- `cmd:COMMAND` — a cluster speaking the stdio protocol (docs/protocol.md);
- `kube:[KUBECONFIG][#CONTEXT]` — any cluster through the Kubernetes API
  (the client's default kubeconfig and its current context when omitted);
- `etcd:http://HOST:PORT` — a real etcd, for the store level
  (docs/store-protocol.md).
"""

from __future__ import annotations

from typing import Literal

from conformance.targets.base import DEFAULT_REQUEST_TIMEOUT, Target, TargetFault
from conformance.targets.command import CommandTarget
from conformance.targets.reference import ReferenceTarget
from conformance.targets.reference_store import ReferenceStoreTarget
from reference.mutants import MUTANTS, UnknownMutant

__all__ = [
    "CommandTarget",
    "ReferenceStoreTarget",
    "ReferenceTarget",
    "Target",
    "TargetFault",
    "TargetKind",
    "TargetSpecError",
    "open_target",
    "realtime",
    "serves",
]

TargetKind = Literal["cluster", "store"]


class TargetSpecError(ValueError):
    """A `--target` that names no target kubeprop knows, or not one of the kind needed."""


def serves(spec: str) -> set[TargetKind]:
    """The kinds of target a spec can open (empty for a spec kubeprop does not know)."""
    if spec == "reference" or spec.startswith("reference:"):
        return {"cluster", "store"}
    if spec.startswith(("cmd:", "kube:")):
        return {"cluster"}
    if spec.startswith("etcd:"):
        return {"store"}
    return set()


def realtime(spec: str) -> bool:
    """A spec whose target runs in real time, with no clock to drive (a real cluster)."""
    return spec.startswith("kube:")


def open_target(
    spec: str,
    *,
    kind: TargetKind = "cluster",
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> Target:
    if not serves(spec):
        raise TargetSpecError(
            f"unknown target {spec!r}; use `reference`, `reference:MUTANT`, `cmd:COMMAND`,"
            " `kube:[KUBECONFIG][#CONTEXT]` or `etcd:http://HOST:PORT`"
        )
    if kind not in serves(spec):
        raise TargetSpecError(f"target {spec!r} is not a {kind}")
    if spec == "reference" or spec.startswith("reference:"):
        mutant = spec.split(":", 1)[1] if ":" in spec else None
        if mutant is not None and mutant not in MUTANTS:
            raise UnknownMutant(mutant)
        if kind == "store":
            is_store_mutant = mutant is not None and MUTANTS[mutant].level == "store"
            return ReferenceStoreTarget(mutant if is_store_mutant else None)
        is_cluster_mutant = mutant is not None and MUTANTS[mutant].level != "store"
        return ReferenceTarget(mutant=mutant if is_cluster_mutant else None)
    if spec.startswith("etcd:"):
        from conformance.targets.etcd import EtcdTarget

        url = spec[5:]
        if not url.startswith(("http://", "https://")):
            raise TargetSpecError(
                f"`etcd:` needs a URL, e.g. etcd:http://127.0.0.1:2379 (got {spec!r})"
            )
        return EtcdTarget(url, request_timeout=request_timeout)
    if spec.startswith("kube:"):
        from conformance.targets.kube import KubeTarget, parse_kube_spec

        return KubeTarget(parse_kube_spec(spec), request_timeout=request_timeout)
    command = spec[4:].strip()
    if not command:
        raise TargetSpecError("`cmd:` needs a command, e.g. --target 'cmd:./my-cluster --stdio'")
    return CommandTarget(command, request_timeout=request_timeout)
