"""Scenarios: the one schema for what a run did — a list of steps, each a rule and its arguments.

Stored as JSON lines (a header line, then one line per step); YAML is
accepted for hand-written scenarios in `fixtures/`. A scenario replays on
any target because its steps carry concrete arguments, never Hypothesis
choices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

__all__ = ["Scenario", "ScenarioError", "Step", "load_scenario", "save_scenario"]

SCHEMA = "kubeprop/scenario"
SCHEMA_VERSION = 1


class ScenarioError(ValueError):
    """A scenario file that cannot be read; the message names the file and the problem."""


@attrs.frozen
class Step:
    rule: str
    args: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "args": dict(self.args)}

    def describe(self) -> str:
        args = ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in self.args.items())
        return f"{self.rule}({args})"


@attrs.frozen
class Scenario:
    level: str
    steps: tuple[Step, ...]
    #: Free-form provenance: the law violated, the target, versions, the seed.
    about: Mapping[str, Any] = attrs.field(factory=dict)


def save_scenario(scenario: Scenario, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"schema": SCHEMA, "version": SCHEMA_VERSION, "level": scenario.level}
    header.update(scenario.about)
    lines = [json.dumps(header, sort_keys=True)]
    lines += [json.dumps(s.to_json(), sort_keys=True) for s in scenario.steps]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read the scenario ({e.strerror})") from None
    if path.suffix in (".yaml", ".yml"):
        return _from_yaml(path, text)
    records: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as e:
            raise ScenarioError(f"{path}:{number}: not JSON ({e})") from None
    if not records or not isinstance(records[0], dict) or records[0].get("schema") != SCHEMA:
        raise ScenarioError(f"{path}: the first line must be a header with schema {SCHEMA!r}")
    header = records[0]
    return _build(path, header, records[1:])


def _from_yaml(path: Path, text: str) -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path}: not YAML ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ScenarioError(f"{path}: expected a mapping with `level` and a list of `steps`")
    header = {k: v for k, v in data.items() if k != "steps"}
    return _build(path, header, data["steps"])


def _build(path: Path, header: Mapping[str, Any], records: Iterable[Any]) -> Scenario:
    level = header.get("level")
    if not isinstance(level, str):
        raise ScenarioError(f"{path}: the header has no `level`")
    steps = []
    for i, record in enumerate(records, 1):
        if not isinstance(record, dict) or not isinstance(record.get("rule"), str):
            raise ScenarioError(f"{path}: step {i} must be an object with a `rule` string")
        args = record.get("args") or {}
        if not isinstance(args, dict):
            raise ScenarioError(f"{path}: step {i}: `args` must be an object")
        steps.append(Step(record["rule"], args))
    about = {k: v for k, v in header.items() if k not in ("schema", "version", "level")}
    return Scenario(level, tuple(steps), about)
