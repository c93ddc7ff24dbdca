"""The law registry: every law with its id, statement, scope, needs and provenance.

A law is a pure function `check(trace, info) -> Iterable[Violation]` that
judges the newest step of `trace` (using `trace.before` for what was known
until then). A law holds on a whole trace when it holds at every step, so
replaying a trace step by step checks the same thing as checking it live.

*Safety* laws speak of every step; *liveness* laws speak of settled points
(a `settle` answered `settled: true`, followed by a snapshot), which is how
"eventually" becomes checkable: once the inputs stop, the cluster must get
there and stay.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Literal

import attrs

from properties.trace import TargetInfo, Trace, Violation

__all__ = ["LAWS", "Law", "LawCheck", "UnknownLaw", "law", "laws_for"]

LawCheck = Callable[[Trace, TargetInfo], Iterable[Violation]]


class UnknownLaw(KeyError):
    def __str__(self) -> str:
        return f"no law or level named {self.args[0]!r}; `kubeprop properties` lists them"


@attrs.frozen
class Law:
    id: str
    statement: str
    level: str
    kind: Literal["safety", "liveness"]
    check: LawCheck = attrs.field(repr=False)
    scope: Literal["kubernetes", "strict"] = "kubernetes"
    #: Target capabilities the law needs; it is skipped (and reported) without them.
    needs: frozenset[str] = frozenset()
    #: Kinds the law needs the target to serve.
    kinds: frozenset[str] = frozenset()
    #: Official conformance tests (names from conformance.yaml) the law generalises.
    conformance: tuple[str, ...] = ()
    #: Upstream issues it guards against.
    bugs: tuple[str, ...] = ()

    def skip_reason(self, info: TargetInfo) -> str | None:
        """Why this law cannot run against `info`, or None when it can."""
        if self.scope == "strict" and "strict" not in info.capabilities:
            return "strict law; the target does not claim `strict`"
        missing = sorted(self.needs - info.capabilities)
        if missing:
            return f"needs capability {', '.join(missing)}"
        kinds = sorted(self.kinds - info.kinds)
        if kinds:
            return f"needs kind {', '.join(kinds)}"
        return None


LAWS: dict[str, Law] = {}


def law(
    id: str,
    statement: str,
    *,
    kind: Literal["safety", "liveness"] = "safety",
    scope: Literal["kubernetes", "strict"] = "kubernetes",
    needs: Iterable[str] = (),
    kinds: Iterable[str] = (),
    conformance: Iterable[str] = (),
    bugs: Iterable[str] = (),
) -> Callable[[LawCheck], LawCheck]:
    """Register a law; the level is the id's prefix (`api.resource-version-increases`)."""

    def register(check: LawCheck) -> LawCheck:
        if id in LAWS:
            raise ValueError(f"law {id!r} is registered twice")
        LAWS[id] = Law(
            id=id,
            statement=statement,
            level=id.split(".", 1)[0],
            kind=kind,
            check=check,
            scope=scope,
            needs=frozenset(needs),
            kinds=frozenset(kinds),
            conformance=tuple(conformance),
            bugs=tuple(bugs),
        )
        return check

    return register


def laws_for(selector: str | None = None) -> list[Law]:
    """Laws of a level (`api`), one law by id, or all when `selector` is None.

    In the order of `_MODULES`, and within a module in the order it declares them, whatever
    order the modules happened to be imported in: the order decides which law a report names
    first when several fail at one step.
    """
    _load_all()
    ordered = _in_order(LAWS.values())
    if selector is None:
        return ordered
    if selector in LAWS:
        return [LAWS[selector]]
    found = [law for law in ordered if law.level == selector]
    if not found:
        raise UnknownLaw(selector)
    return found


#: The modules that declare laws, in the order their laws run.
_MODULES = (
    "properties.api",
    "properties.nodes",
    "properties.scheduling",
    "properties.services",
    "properties.store",
    "properties.workload_churn",
    "properties.workload_sets",
    "properties.workloads",
)


def _in_order(laws: Iterable[Law]) -> list[Law]:
    listed = list(laws)
    rank = {m: i for i, m in enumerate(_MODULES)}
    position = {id(law): i for i, law in enumerate(listed)}
    return sorted(
        listed,
        key=lambda law: (rank.get(law.check.__module__, len(rank)), position[id(law)]),
    )


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)
