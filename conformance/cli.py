"""`kubeprop`: run the suite, replay a scenario, list the laws, serve the reference, run mutants.

Exit codes (all commands): 0 everything that ran passed, 1 a law was
violated (or a mutant survived), 2 usage error, 3 target fault, 5 nothing ran.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance import __version__
from conformance.collector import tune_collector
from conformance.plugin import levels_for, outcome_of, shards_for, summarize, verdicts
from conformance.profiles import PROFILES
from conformance.runner import LEVELS, LevelOutcome, TargetRefused, hello, replay, run_level
from conformance.scenario import ScenarioError, load_scenario
from conformance.targets import (
    ReferenceTarget,
    TargetFault,
    TargetSpecError,
    open_target,
    serves,
)
from properties.laws import LAWS, UnknownLaw, laws_for

__all__ = ["main"]

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_FAULT, EXIT_NOTHING = 0, 1, 2, 3, 5


class UsageError(Exception):
    """A command line kubeprop cannot act on; the message says what to change."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    tune_collector()
    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 120)
    errors = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    try:
        code: int = args.handler(args, console)
        return code
    except (UsageError, UnknownLaw, TargetSpecError, ScenarioError, KeyError, ValueError) as e:
        errors.print(f"kubeprop: {e}", markup=False)
        return EXIT_USAGE
    except (TargetFault, TargetRefused) as e:
        errors.print(f"kubeprop: target fault: {e}", markup=False)
        return EXIT_FAULT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeprop",
        description="Property-based conformance for Kubernetes-style orchestrators.",
    )
    parser.add_argument("--version", action="version", version=f"kubeprop {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the conformance suite against a target")
    _target_option(run)
    run.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    run.add_argument("--only", metavar="LEVEL|LAW", help="one level (api) or one law")
    run.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="parallel workers")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    run.add_argument("--json", metavar="FILE", help="write the JSON report here")
    run.add_argument("--seed", type=int, help="the run's seed (default: random, reported)")
    run.add_argument(
        "--examples", type=int, metavar="N", help="examples per level (for slow targets)"
    )
    run.add_argument(
        "--failures-dir", default="kubeprop-failures", help="where failing scenarios are written"
    )
    run.set_defaults(handler=_run)

    rep = sub.add_parser("replay", help="replay a scenario file against a target")
    rep.add_argument("file", type=Path)
    _target_option(rep)
    rep.add_argument("--only", metavar="LAW", help="check only this law")
    rep.set_defaults(handler=_replay)

    props = sub.add_parser("properties", help="list the laws, their scope and provenance")
    props.add_argument("--only", metavar="LEVEL|LAW")
    props.add_argument("--json", action="store_true", help="print JSON instead of a table")
    props.add_argument(
        "--markdown", action="store_true", help="print the catalogue as Markdown (docs/)"
    )
    props.set_defaults(handler=_properties)

    target = sub.add_parser("target", help="serve a built-in target over the stdio protocol")
    target.add_argument("which", choices=["reference"])
    target.add_argument("--mutant", metavar="NAME", help="serve this mutant instead")
    target.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="a KubeSchedulerConfiguration (YAML) for the reference's scheduler",
    )
    target.set_defaults(handler=_target)

    serve = sub.add_parser(
        "serve", help="serve the reference cluster over the Kubernetes REST API (for kubectl)"
    )
    from conformance.serve.options import add_arguments as _serve_arguments

    _serve_arguments(serve)
    serve.set_defaults(handler=_serve)

    mutants = sub.add_parser("mutants", help="check that the laws kill every mutant")
    mutants.add_argument("--profile", choices=sorted(PROFILES), default="mutants")
    mutants.add_argument("--only", metavar="LEVEL|MUTANT")
    mutants.add_argument("--json", metavar="FILE", help="write the results as JSON")
    mutants.add_argument(
        "--corpus",
        metavar="DIR",
        type=Path,
        help="replay DIR/MUTANT.jsonl first, as Hypothesis replays its example database;"
        " search only for mutants it does not kill",
    )
    mutants.add_argument(
        "--counterexamples",
        metavar="DIR",
        type=Path,
        help="shrink each kill and write its scenario to DIR/MUTANT.jsonl",
    )
    mutants.set_defaults(handler=_mutants)
    return parser


def _target_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default="reference",
        help=(
            "reference (in process), reference:MUTANT, cmd:COMMAND (stdio protocol),"
            " kube:[KUBECONFIG][#CONTEXT] (a cluster through the Kubernetes API),"
            " or etcd:URL (the store level)"
        ),
    )
    parser.add_argument(
        "--request-timeout", type=float, default=30.0, metavar="S", help="seconds per request"
    )


# -- run -----------------------------------------------------------------------------------------


def _run(args: argparse.Namespace, console: Console) -> int:
    levels = levels_for(args.only)
    profile = PROFILES[args.profile]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    if not serves(args.target):
        open_target(args.target)  # raises, naming the spec
    kinds = [
        k
        for k in dict.fromkeys(LEVELS[level].target_kind for level in levels)
        if k in serves(args.target)
    ]
    if not kinds:
        raise UsageError(
            f"target {args.target!r} serves none of the levels asked ({', '.join(levels)})"
        )
    target = open_target(args.target, kind=kinds[0], request_timeout=args.request_timeout)  # type: ignore[arg-type]
    try:
        info = hello(target)
    finally:
        target.close()
    console.print(
        f"kubeprop {__version__}: target [bold]{args.target}[/] ({info.name} {info.version},"
        f" Kubernetes {info.kubernetes_version or '?'}), profile {profile.name}, seed {seed}"
    )
    with tempfile.TemporaryDirectory(prefix="kubeprop-") as tmp:
        report_path = Path(args.json) if args.json else Path(tmp) / "report.json"
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        pytest_args = [
            "--pyargs",
            "conformance.suite",
            "-c",
            str(ini),
            "--rootdir",
            tmp,
            "-p",
            "no:cacheprovider",
            "-q",
            "--target",
            args.target,
            "--profile",
            profile.name,
            "--seed",
            str(seed),
            "--request-timeout",
            str(args.request_timeout),
            "--kubeprop-json",
            str(report_path.resolve()),
            "--kubeprop-failures",
            str(Path(args.failures_dir).resolve()),
        ]
        if args.only:
            pytest_args += ["--only", args.only]
        if args.examples:
            pytest_args += ["--examples", str(args.examples)]
        if args.jobs > 1:
            pytest_args += ["-n", str(args.jobs)]
        if args.junit:
            pytest_args += ["--junitxml", str(Path(args.junit).resolve())]
        per_level = shards_for(profile, args.target)
        shards = per_level * len(levels)
        started = time.perf_counter()
        listener = _ProgressListener(console, levels, per_level)
        captured = io.StringIO()
        with listener.progress, contextlib.redirect_stdout(captured):
            code = pytest.main(pytest_args, plugins=[listener])
        elapsed = time.perf_counter() - started
        if code not in (0, 1) or not listener.outcomes:
            console.print(captured.getvalue()[-4000:], markup=False)
            if code == 5 or (code == 0 and not listener.outcomes):
                console.print("kubeprop: nothing ran")
                return EXIT_NOTHING
            console.print(f"kubeprop: pytest stopped with exit code {code}")
            return EXIT_USAGE if code == 4 else EXIT_FAULT
        return _report_run(console, listener.outcomes, shards, elapsed, seed, args)


class _ProgressListener:
    """A pytest plugin living in the CLI's process: live progress as shards finish."""

    def __init__(self, console: Console, levels: list[str], shards: int) -> None:
        self.outcomes: list[LevelOutcome] = []
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks = {
            level: self.progress.add_task(f"level {level:<12}", total=shards, note="")
            for level in levels
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        found = outcome_of(report)
        if found is None:
            return
        outcome = found[0]
        self.outcomes.append(outcome)
        done = [o for o in self.outcomes if o.level == outcome.level]
        examples = sum(o.examples for o in done)
        bad = [o for o in done if o.status in ("failed", "fault")]
        note = f"{examples} examples" + (f", [red]{len(bad)} failing[/]" if bad else "")
        self.progress.update(self.tasks[outcome.level], advance=1, note=note)


def _report_run(
    console: Console,
    outcomes: list[LevelOutcome],
    shards: int,
    elapsed: float,
    seed: int,
    args: argparse.Namespace,
) -> int:
    summary = summarize(outcomes)
    laws_for()  # load the catalogue in this process (with -n the runs happened elsewhere)
    table = Table(title="kubeprop run", show_lines=False)
    for column in ("level", "law", "scope", "kind", "result", "examples"):
        table.add_column(column)
    for level, laws in summary.items():
        for law_id in sorted(laws):
            entry = laws[law_id]
            law = LAWS.get(law_id)
            status = entry["status"]
            shown = {
                "passed": "[green]passed[/]",
                "failed": "[bold red]FAILED[/]",
                "skipped": f"[yellow]skipped[/] ({entry.get('reason', '')})",
                "not-run": f"[red]not run[/] ({entry.get('reason', '')})",
            }[status]
            table.add_row(
                level,
                law_id,
                law.scope if law else "",
                law.kind if law else "",
                shown,
                str(entry.get("examples", "")),
            )
    console.print(table)
    for outcome in outcomes:
        if outcome.status in ("failed", "fault") and outcome.report:
            console.rule(f"[red]{outcome.level} shard {outcome.shard}: {outcome.status}[/]")
            console.print(outcome.report, markup=False, soft_wrap=True)
    unsupported = sorted({op for o in outcomes for op in o.unsupported})
    if unsupported:
        console.print(f"ops the target answered 501 (not used again): {', '.join(unsupported)}")
    failed = [o for o in outcomes if o.status == "failed"]
    faults = [o for o in outcomes if o.status == "fault"]
    ran = [o for o in outcomes if o.status != "empty"]
    counts = {"passed": 0, "failed": 0, "skipped": 0, "not-run": 0}
    for laws in summary.values():
        for entry in laws.values():
            counts[entry["status"]] += 1
    console.print(
        f"{counts['passed']} laws passed, {counts['failed']} failed, {counts['skipped']} skipped"
        + (f", {counts['not-run']} not run" if counts["not-run"] else "")
        + f" in {elapsed:.1f}s ({sum(o.examples for o in outcomes)} examples,"
        f" {sum(o.steps for o in outcomes)} steps; seed {seed})"
    )
    conforms = verdicts(summary)
    if conforms:
        console.print(
            "conforms at: "
            + ", ".join(f"{level} {'yes' if ok else 'no'}" for level, ok in conforms.items())
            + " (every law of kubernetes scope passed; skipped ones do not count)"
        )
    if failed:
        return EXIT_VIOLATION
    if faults:
        return EXIT_FAULT
    if not ran:
        return EXIT_NOTHING
    return EXIT_OK


# -- replay ----------------------------------------------------------------------------------------


def _replay(args: argparse.Namespace, console: Console) -> int:
    scenario = load_scenario(args.file)
    if scenario.level not in LEVELS:
        raise UsageError(f"{args.file}: level {scenario.level!r} has no machine in this version")
    target = open_target(
        args.target,
        kind=LEVELS[scenario.level].target_kind,  # type: ignore[arg-type]
        request_timeout=args.request_timeout,
    )
    try:
        outcome = replay(scenario, target, only=args.only)
    finally:
        target.close()
    console.print(
        f"replayed {outcome.steps_run} of {len(scenario.steps)} steps of {args.file} against"
        f" {args.target}: {outcome.status}",
        soft_wrap=True,
        markup=False,
    )
    if outcome.status != "passed":
        console.print(outcome.message, markup=False, soft_wrap=True)
    return {
        "passed": EXIT_OK,
        "failed": EXIT_VIOLATION,
        "fault": EXIT_FAULT,
        "nondeterministic": EXIT_FAULT,
    }[outcome.status]


# -- properties ----------------------------------------------------------------------------------


def _properties(args: argparse.Namespace, console: Console) -> int:
    laws = laws_for(args.only)
    if args.markdown:
        sys.stdout.write(catalogue_markdown(laws))
        return EXIT_OK
    if args.json:
        console.print_json(
            json.dumps(
                [
                    {
                        "id": law.id,
                        "level": law.level,
                        "statement": law.statement,
                        "kind": law.kind,
                        "scope": law.scope,
                        "needs": sorted(law.needs),
                        "conformance": list(law.conformance),
                        "bugs": list(law.bugs),
                    }
                    for law in laws
                ]
            )
        )
        return EXIT_OK
    table = Table(title=f"{len(laws)} laws", show_lines=True)
    table.add_column("law", no_wrap=True)
    for column in ("scope", "kind", "needs", "statement", "generalises"):
        table.add_column(column, overflow="fold")
    for law in laws:
        table.add_row(
            law.id,
            law.scope,
            law.kind,
            ", ".join(sorted(law.needs)) or "-",
            escape(law.statement),
            escape("\n".join(law.conformance + law.bugs)) or "-",
        )
    console.print(table)
    return EXIT_OK


def catalogue_markdown(laws: Sequence[Any]) -> str:
    """The law catalogue as docs/properties.md has it (a test keeps the file current)."""
    lines = [
        "# The law catalogue",
        "",
        "Generated by `kubeprop properties --markdown`; do not edit by hand.",
        "Scope *kubernetes* is what Kubernetes 1.34 guarantees; *strict* is the reference's own",
        "choice where Kubernetes leaves one, checked only against targets that claim `strict`.",
        "",
    ]
    level = None
    for law in laws:
        if law.level != level:
            level = law.level
            lines += [f"## Level `{level}`", ""]
        lines.append(f"### `{law.id}`")
        lines.append("")
        lines.append(law.statement)
        lines.append("")
        needs = ", ".join(f"`{n}`" for n in sorted(law.needs)) or "nothing beyond the level"
        lines.append(f"- {law.kind}, scope {law.scope}; needs {needs}")
        if law.conformance:
            tests = "; ".join(law.conformance)
            lines.append(f"- generalises the conformance tests: {tests}")
        if law.bugs:
            lines.append(f"- guards against: {'; '.join(law.bugs)}")
        lines.append("")
    return "\n".join(lines)


# -- target ----------------------------------------------------------------------------------------


def _target(args: argparse.Namespace, console: Console) -> int:
    from conformance.stdio_server import serve_stdio

    served = ReferenceTarget(mutant=args.mutant)
    if args.config is not None:
        from conformance.reference_config import ConfigError, configured

        try:
            served = ReferenceTarget(
                mutant=args.mutant, components=configured(served.components, args.config)
            )
        except ConfigError as e:
            console.print(f"kubeprop target: {e}", style="red", highlight=False)
            return 2
    return serve_stdio(served.request)


def _serve(args: argparse.Namespace, console: Console) -> int:
    from conformance.serve.main import run

    return run(args)


# -- mutants ---------------------------------------------------------------------------------------


def _mutants(args: argparse.Namespace, console: Console) -> int:
    from reference.mutants import MUTANTS

    selected = [m for m in MUTANTS.values() if args.only is None or args.only in (m.name, m.level)]
    if not selected:
        raise UsageError(f"no mutant or level named {args.only!r}; known: {', '.join(MUTANTS)}")
    profile = PROFILES[args.profile]
    table = Table(title=f"mutants (profile {profile.name})")
    for column in ("mutant", "level", "result", "killed by", "found by", "examples", "seconds"):
        table.add_column(column)
    results: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("mutants", total=len(selected))
        for mutant in selected:
            target = open_target(
                f"reference:{mutant.name}",
                kind=LEVELS[mutant.level].target_kind,  # type: ignore[arg-type]
            )
            shrink = args.counterexamples is not None
            stored = args.corpus / f"{mutant.name}.jsonl" if args.corpus else None
            found_by = "search"
            outcome = None
            if stored is not None and stored.exists() and not shrink:
                started = time.monotonic()
                replayed = replay(load_scenario(stored), target)
                if replayed.status == "failed":
                    found_by = "corpus"
                    outcome = LevelOutcome(
                        level=mutant.level,
                        shard=0,
                        status="failed",
                        laws=(),
                        skipped={},
                        examples=1,
                        steps=len(load_scenario(stored).steps),
                        seconds=time.monotonic() - started,
                        seed=None,
                        law=replayed.law,
                    )
            if outcome is None:
                outcome = run_level(
                    mutant.level,
                    target,
                    hello(target),
                    profile,
                    seed=0,
                    shrink=shrink,
                    failures_dir=Path(tempfile.mkdtemp(prefix="kubeprop-")) if shrink else None,
                    target_spec=f"reference:{mutant.name}",
                )
            killed = outcome.status == "failed"
            if shrink and outcome.scenario_file:
                args.counterexamples.mkdir(parents=True, exist_ok=True)
                Path(outcome.scenario_file).replace(args.counterexamples / f"{mutant.name}.jsonl")
            results.append(
                {
                    "mutant": mutant.name,
                    "level": mutant.level,
                    "killed": killed,
                    "law": outcome.law,
                    "expected": mutant.law,
                    "examples": outcome.examples,
                    "seconds": round(outcome.seconds, 2),
                    "status": outcome.status,
                    "found_by": found_by if killed else None,
                }
            )
            table.add_row(
                mutant.name,
                mutant.level,
                "[green]killed[/]" if killed else f"[bold red]SURVIVED[/] ({outcome.status})",
                outcome.law or "-",
                found_by if killed else "-",
                str(outcome.examples),
                f"{outcome.seconds:.1f}",
            )
            progress.advance(task)
    console.print(table)
    survivors = [r for r in results if not r["killed"]]
    console.print(f"{len(results) - len(survivors)} of {len(results)} mutants killed")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return EXIT_VIOLATION if survivors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
