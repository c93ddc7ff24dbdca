"""Scheduler profiles: which plugins run, with what weights, chosen by `spec.schedulerName`.

A `SchedulerConfig` is read from the subset of upstream's
KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) that the
reference models: per profile, score plugins enabled and disabled with
weights, filter plugins disabled, NodeResourcesFit's scoring strategy
(LeastAllocated, MostAllocated, RequestedToCapacityRatio),
InterPodAffinity's hardPodAffinityWeight, percentageOfNodesToScore, and
whether DefaultPreemption runs. Anything else in the document is refused
by name, so that a user never believes a setting took effect when it did not.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from properties.placement import DEFAULT_SCORES, FILTERS, ResourceScoring

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_SCORES",
    "SCORE_PLUGINS",
    "ConfigError",
    "Profile",
    "SchedulerConfig",
    "parse_config",
]

SCORE_PLUGINS = frozenset(name for name, _ in DEFAULT_SCORES)
_STRATEGIES = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")


class ConfigError(ValueError):
    """A scheduler configuration the reference cannot honour; the message names the field."""


@attrs.frozen
class Profile:
    name: str = "default-scheduler"
    filters: tuple[str, ...] = tuple(FILTERS)
    scores: tuple[tuple[str, int], ...] = DEFAULT_SCORES
    resource_scoring: ResourceScoring = attrs.field(factory=ResourceScoring)
    #: 0: upstream's adaptive percentage (50 - nodes/125, at least 5).
    percentage_of_nodes_to_score: int = 0
    hard_pod_affinity_weight: int = 1
    preemption: bool = True


DEFAULT_PROFILE = Profile()


@attrs.frozen
class SchedulerConfig:
    profiles: tuple[Profile, ...] = (DEFAULT_PROFILE,)

    def profile(self, scheduler_name: str) -> Profile | None:
        for p in self.profiles:
            if p.name == scheduler_name:
                return p
        return None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where} must be an integer from {low} to {high}, not {value!r}")
    return value


def _only(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: {', '.join(unknown)} not modelled by the reference scheduler;"
            f" it reads only {', '.join(sorted(allowed))}"
        )


def _names(entries: Sequence[Any], where: str) -> list[tuple[str, int | None]]:
    result = []
    for i, entry in enumerate(entries):
        entry = _mapping(entry, f"{where}[{i}]")
        name = entry.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{where}[{i}].name must be a string")
        weight = entry.get("weight")
        result.append(
            (name, None if weight is None else _int(weight, f"{where}[{i}].weight", 1, 100))
        )
    return result


def _scores(plugins: Mapping[str, Any], where: str) -> tuple[tuple[str, int], ...]:
    score = _mapping(plugins.get("score"), f"{where}.score")
    _only(score, {"enabled", "disabled"}, f"{where}.score")
    disabled = {n for n, _ in _names(_list(score.get("disabled"), f"{where}.score.disabled"), "")}
    weights = dict(DEFAULT_SCORES)
    chosen = [] if "*" in disabled else [n for n, _ in DEFAULT_SCORES if n not in disabled]
    for name, weight in _names(_list(score.get("enabled"), f"{where}.score.enabled"), where):
        if name not in SCORE_PLUGINS:
            raise ConfigError(
                f"{where}.score.enabled: {name} is not a score plugin the reference models;"
                f" it has {', '.join(sorted(SCORE_PLUGINS))}"
            )
        if weight is not None:
            weights[name] = weight
        if name not in chosen:
            chosen.append(name)
    return tuple((n, weights[n]) for n in chosen)


def _filters(plugins: Mapping[str, Any], where: str) -> tuple[str, ...]:
    section = _mapping(plugins.get("filter"), f"{where}.filter")
    _only(section, {"disabled"}, f"{where}.filter")
    disabled = {
        n for n, _ in _names(_list(section.get("disabled"), f"{where}.filter.disabled"), "")
    }
    unknown = disabled - set(FILTERS) - {"*"}
    if unknown:
        raise ConfigError(f"{where}.filter.disabled: unknown filter plugin {sorted(unknown)[0]}")
    return tuple(f for f in FILTERS if f not in disabled and "*" not in disabled)


def _resource_scoring(args: Mapping[str, Any], where: str) -> ResourceScoring:
    _only(args, {"scoringStrategy"}, where)
    strategy = _mapping(args.get("scoringStrategy"), f"{where}.scoringStrategy")
    _only(strategy, {"type", "resources", "requestedToCapacityRatio"}, f"{where}.scoringStrategy")
    kind = strategy.get("type", "LeastAllocated")
    if kind not in _STRATEGIES:
        raise ConfigError(
            f"{where}.scoringStrategy.type must be one of {', '.join(_STRATEGIES)}, not {kind!r}"
        )
    resources = (
        tuple(
            (name, 1 if weight is None else weight)
            for name, weight in _names(
                _list(strategy.get("resources"), f"{where}.scoringStrategy.resources"), where
            )
        )
        or ResourceScoring().resources
    )
    shape: tuple[tuple[int, int], ...] = ResourceScoring().shape
    if kind == "RequestedToCapacityRatio":
        ratio = _mapping(
            strategy.get("requestedToCapacityRatio"), f"{where}.requestedToCapacityRatio"
        )
        points = []
        for i, p in enumerate(_list(ratio.get("shape"), f"{where}.requestedToCapacityRatio.shape")):
            p = _mapping(p, f"{where}.shape[{i}]")
            points.append(
                (
                    _int(p.get("utilization"), f"{where}.shape[{i}].utilization", 0, 100),
                    _int(p.get("score"), f"{where}.shape[{i}].score", 0, 10),
                )
            )
        if not points:
            raise ConfigError(
                f"{where}.requestedToCapacityRatio.shape must have at least one point"
            )
        if any(a[0] >= b[0] for a, b in itertools.pairwise(points)):
            raise ConfigError(f"{where}.requestedToCapacityRatio.shape: utilization must increase")
        shape = tuple(points)
    return ResourceScoring(kind, resources, shape)


def _profile(doc: Mapping[str, Any], where: str, default_percentage: int) -> Profile:
    _only(doc, {"schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore"}, where)
    name = doc.get("schedulerName", "default-scheduler")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.schedulerName must be a non-empty string")
    plugins = _mapping(doc.get("plugins"), f"{where}.plugins")
    _only(plugins, {"score", "filter", "postFilter"}, f"{where}.plugins")
    post = _mapping(plugins.get("postFilter"), f"{where}.plugins.postFilter")
    _only(post, {"disabled"}, f"{where}.plugins.postFilter")
    preemption = not any(
        n in ("DefaultPreemption", "*")
        for n, _ in _names(_list(post.get("disabled"), f"{where}.postFilter.disabled"), "")
    )
    resource_scoring = ResourceScoring()
    hard_weight = 1
    for i, entry in enumerate(_list(doc.get("pluginConfig"), f"{where}.pluginConfig")):
        entry = _mapping(entry, f"{where}.pluginConfig[{i}]")
        args = _mapping(entry.get("args"), f"{where}.pluginConfig[{i}].args")
        if entry.get("name") == "NodeResourcesFit":
            resource_scoring = _resource_scoring(args, f"{where}.pluginConfig[{i}].args")
        elif entry.get("name") == "InterPodAffinity":
            _only(args, {"hardPodAffinityWeight"}, f"{where}.pluginConfig[{i}].args")
            hard_weight = _int(
                args.get("hardPodAffinityWeight", 1), f"{where}.hardPodAffinityWeight", 0, 100
            )
        else:
            raise ConfigError(
                f"{where}.pluginConfig[{i}]: the reference reads args of NodeResourcesFit and"
                f" InterPodAffinity only, not {entry.get('name')!r}"
            )
    percentage = doc.get("percentageOfNodesToScore", default_percentage)
    return Profile(
        name=name,
        filters=_filters(plugins, f"{where}.plugins"),
        scores=_scores(plugins, f"{where}.plugins"),
        resource_scoring=resource_scoring,
        percentage_of_nodes_to_score=_int(percentage, f"{where}.percentageOfNodesToScore", 0, 100),
        hard_pod_affinity_weight=hard_weight,
        preemption=preemption,
    )


def parse_config(doc: Any) -> SchedulerConfig:
    """The configuration a KubeSchedulerConfiguration document asks for.

    Raises `ConfigError` naming the first field the reference does not model
    or that holds a value it cannot accept.
    """
    doc = _mapping(doc, "the scheduler configuration")
    _only(doc, {"apiVersion", "kind", "profiles", "percentageOfNodesToScore"}, "configuration")
    if doc.get("kind", "KubeSchedulerConfiguration") != "KubeSchedulerConfiguration":
        raise ConfigError(f"kind must be KubeSchedulerConfiguration, not {doc.get('kind')!r}")
    version = doc.get("apiVersion", "kubescheduler.config.k8s.io/v1")
    if version != "kubescheduler.config.k8s.io/v1":
        raise ConfigError(f"apiVersion must be kubescheduler.config.k8s.io/v1, not {version!r}")
    percentage = _int(doc.get("percentageOfNodesToScore", 0), "percentageOfNodesToScore", 0, 100)
    entries = _list(doc.get("profiles"), "profiles") or [{}]
    profiles = tuple(
        _profile(_mapping(p, f"profiles[{i}]"), f"profiles[{i}]", percentage)
        for i, p in enumerate(entries)
    )
    names = [p.name for p in profiles]
    if len(set(names)) != len(names):
        raise ConfigError(f"profiles: schedulerName {names} must be unique")
    return SchedulerConfig(profiles)
