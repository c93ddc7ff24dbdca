"""`--config FILE` for the reference target: a KubeSchedulerConfiguration, read from YAML.

The file holds one or more YAML documents; each must be a
KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), and the last
one wins, as with kube-scheduler's `--config`. A profile that changes the
default scheduler's choices makes the target stop claiming `strict`: the
strict laws judge the reference's default profile, not the user's.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import yaml

from reference.cluster import Components
from reference.scheduler import ConfigError, SchedulerController, parse_config
from reference.scheduler.profile import DEFAULT_PROFILE

__all__ = ["ConfigError", "configured"]


def configured(components: Components, path: Path) -> Components:
    """`components` with the scheduler configured as the file at `path` says."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not YAML: {e}") from None
    if not documents:
        raise ConfigError(f"{path} holds no KubeSchedulerConfiguration document")
    try:
        config = parse_config(documents[-1])
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    scheduler = components.controller("scheduler")
    assert isinstance(scheduler, SchedulerController)
    default = config.profile("default-scheduler")
    return attrs.evolve(
        components.replacing(attrs.evolve(scheduler, config=config)),
        strict=components.strict and default == DEFAULT_PROFILE,
    )
