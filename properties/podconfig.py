"""Environment variables and files a container gets from ConfigMaps, Secrets and its pod.

Env is resolved when a container instance starts and never changes while it
runs; projected files follow the objects on every kubelet sync. A missing
object or key that is not `optional` is a `ConfigError` (the container waits
with CreateContainerConfigError); a missing volume source keeps the pod in
ContainerCreating, as a failed mount does upstream.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConfigError", "Lookup", "MountError", "env_for", "files_for", "values_of"]

Lookup = Callable[[str, str, str], Mapping[str, Any] | None]
"""(kind, namespace, name) -> the object, or None when it does not exist."""

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_EXPANSION = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


class ConfigError(Exception):
    """A container's configuration cannot be built (CreateContainerConfigError)."""


class MountError(Exception):
    """A volume cannot be mounted (the pod stays ContainerCreating)."""


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode("ascii")


def _decoded(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()


def values_of(kind: str, obj: Mapping[str, Any], decode_secrets: bool = True) -> dict[str, str]:
    """Every key of a ConfigMap or Secret with its value as a container sees it."""
    if kind == "Secret":
        if not decode_secrets:
            return {k: str(v) for k, v in (obj.get("data") or {}).items()}
        return {k: _text(_decoded(v)) for k, v in (obj.get("data") or {}).items()}
    values = {k: str(v) for k, v in (obj.get("data") or {}).items()}
    for k, v in (obj.get("binaryData") or {}).items():
        values[k] = _text(_decoded(v))
    return values


def _source(
    lookup: Lookup, kind: str, namespace: str, name: str, optional: bool, decode_secrets: bool
) -> dict[str, str]:
    obj = lookup(kind, namespace, name)
    if obj is None:
        if optional:
            return {}
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    return values_of(kind, obj, decode_secrets)


def _field(pod: Mapping[str, Any], path: str, pod_ip: str, host_ip: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.hostIP": host_ip,
    }
    if path in simple:
        return str(simple[path])
    found = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if found:
        return str((meta.get(found.group(1)) or {}).get(found.group(2), ""))
    raise ConfigError(f"unsupported fieldPath {path!r}")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """$(VAR) refers to a variable defined earlier; $$ escapes; unknown references stay."""

    def replace(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _EXPANSION.sub(replace, value)


def env_for(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    lookup: Lookup,
    pod_ip: str,
    host_ip: str,
    *,
    decode_secrets: bool = True,
) -> dict[str, str]:
    """The container's environment: `envFrom` sources in order, then `env` over them."""
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        prefix = source.get("prefix") or ""
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(field)
            if isinstance(ref, Mapping):
                values = _source(
                    lookup,
                    kind,
                    namespace,
                    ref.get("name", ""),
                    bool(ref.get("optional")),
                    decode_secrets,
                )
                for k, v in values.items():
                    if _ENV_NAME.match(prefix + k):
                        env[prefix + k] = v
    for var in container.get("env") or ():
        name = var.get("name", "")
        source = var.get("valueFrom")
        if not isinstance(source, Mapping):
            env[name] = _expand(str(var.get("value") or ""), env)
            continue
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = source.get(field)
            if not isinstance(ref, Mapping):
                continue
            optional = bool(ref.get("optional"))
            values = _source(lookup, kind, namespace, ref.get("name", ""), optional, decode_secrets)
            key = ref.get("key", "")
            if key in values:
                env[name] = values[key]
            elif not optional:
                raise ConfigError(
                    f"couldn't find key {key} in {kind} {namespace}/{ref.get('name')}"
                )
        if isinstance(source.get("fieldRef"), Mapping):
            env[name] = _field(pod, source["fieldRef"].get("fieldPath", ""), pod_ip, host_ip)
    return env


def files_for(
    pod: Mapping[str, Any], container: Mapping[str, Any], lookup: Lookup
) -> dict[str, str]:
    """Files projected into the container from configMap and secret volumes it mounts."""
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts") or ():
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        for field, kind, name_field in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ):
            source = volume.get(field)
            if not isinstance(source, Mapping):
                continue
            name = source.get(name_field, "")
            obj = lookup(kind, namespace, name)
            if obj is None:
                if source.get("optional"):
                    continue
                raise MountError(f'{kind.lower()} "{name}" not found')
            values = values_of(kind, obj)
            items = source.get("items")
            if items:
                chosen = {}
                for item in items:
                    if item.get("key") in values:
                        chosen[item.get("path", item["key"])] = values[item["key"]]
                    elif not source.get("optional"):
                        raise MountError(
                            f"configmap references non-existent config key: {item.get('key')}"
                        )
            else:
                chosen = values
            sub = mount.get("subPath")
            base = str(mount.get("mountPath", "")).rstrip("/")
            if sub:
                if sub in chosen:
                    files[base] = chosen[sub]
                continue
            for path, content in chosen.items():
                files[f"{base}/{path}"] = content
    return files
