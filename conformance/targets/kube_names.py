"""Namespaces of one example on a shared cluster: the harness's names ↔ the cluster's.

A real cluster cannot be reset, so each example works in namespaces of its
own: the level's `default` becomes `kp-1a2b3c4d-default` on the cluster, and
answers are translated back, so laws see the same world as on a resettable
target. The system namespaces pass through unchanged, and so does a name
that is not a valid namespace name: it cannot clash with anything, and the
cluster must refuse it just as it would refuse it unprefixed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["ExampleNamespaces", "new_example_namespaces"]

#: Namespaces every cluster has, which an example uses as they are.
PASS_THROUGH = frozenset({"kube-system", "kube-public", "kube-node-lease"})
#: The label the API server sets on every Namespace to its name.
NAME_LABEL = "kubernetes.io/metadata.name"
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_MAX_LABEL = 63


@attrs.frozen
class ExampleNamespaces:
    """The mapping for one example, fixed by its prefix (`kp-<8 hex>-`)."""

    prefix: str

    def to_cluster(self, name: str) -> str:
        if name in PASS_THROUGH or not _LABEL.fullmatch(name):
            return name
        mapped = self.prefix + name
        if len(mapped) > _MAX_LABEL:
            raise ValueError(
                f"namespace {name!r} is too long for the kube: target, which prefixes each"
                f" example's namespaces with {self.prefix!r}; use names of at most"
                f" {_MAX_LABEL - len(self.prefix)} characters"
            )
        return mapped

    def from_cluster(self, name: str) -> str | None:
        """The example's name for a cluster namespace; None when it is not the example's."""
        if name in PASS_THROUGH:
            return name
        if name.startswith(self.prefix):
            return name[len(self.prefix) :]
        return None

    def owns(self, name: str) -> bool:
        return name.startswith(self.prefix)

    def object_to_cluster(self, obj: Mapping[str, Any], namespaced: bool) -> dict[str, Any]:
        """A copy of `obj` with its namespace (or, for a Namespace, its name) mapped."""
        out = dict(obj)
        meta = dict(out.get("metadata") or {})
        if obj.get("kind") == "Namespace" and isinstance(meta.get("name"), str):
            meta["name"] = self.to_cluster(meta["name"])
        elif namespaced:
            meta["namespace"] = self.to_cluster(str(meta.get("namespace") or "default"))
        _rename_namespace_owners(meta, self.to_cluster)
        out["metadata"] = meta
        return out

    def patch_to_cluster(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A merge patch with the Namespace owners it names mapped."""
        out = dict(patch)
        if isinstance(out.get("metadata"), Mapping):
            meta = dict(out["metadata"])
            _rename_namespace_owners(meta, self.to_cluster)
            out["metadata"] = meta
        return out

    def object_from_cluster(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`obj` as the example knows it: namespace names mapped back, managedFields dropped.

        Server-side apply's field ownership is bookkeeping the protocol does not
        have; it would only make every recorded object larger.
        """
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return obj
        meta.pop("managedFields", None)
        if obj.get("kind") == "Namespace" and isinstance(meta.get("name"), str):
            meta["name"] = self.from_cluster(meta["name"]) or meta["name"]
            labels = meta.get("labels")
            if isinstance(labels, dict) and NAME_LABEL in labels:
                labels[NAME_LABEL] = meta["name"]
        if isinstance(meta.get("namespace"), str):
            meta["namespace"] = self.from_cluster(meta["namespace"]) or meta["namespace"]
        _rename_namespace_owners(meta, lambda name: self.from_cluster(name) or name)
        return obj

    def field_selector_to_cluster(self, selector: str, kind: str) -> str:
        """Map the namespace names a field selector compares with (`metadata.namespace=x`)."""
        terms = []
        for term in selector.split(","):
            match = re.fullmatch(r"\s*([\w.]+)\s*(==|!=|=)\s*(.*?)\s*", term)
            if match is not None:
                field, op, value = match.groups()
                names_namespace = field == "metadata.namespace" or (
                    kind == "Namespace" and field == "metadata.name"
                )
                if names_namespace:
                    term = f"{field}{op}{self.to_cluster(value)}"
            terms.append(term)
        return ",".join(terms)


def _rename_namespace_owners(meta: dict[str, Any], rename: Callable[[str], str]) -> None:
    """Owner references to a Namespace name it: they travel with the namespace's name."""
    refs = meta.get("ownerReferences")
    if not isinstance(refs, list):
        return
    meta["ownerReferences"] = [
        {**ref, "name": rename(ref["name"])}
        if isinstance(ref, Mapping)
        and ref.get("kind") == "Namespace"
        and isinstance(ref.get("name"), str)
        else ref
        for ref in refs
    ]


def new_example_namespaces() -> ExampleNamespaces:
    """A fresh prefix: random, so that runs sharing a cluster (or leftovers) never meet."""
    return ExampleNamespaces(f"kp-{secrets.token_hex(4)}-")
