"""Let hypothesis search for a counterexample to a statistical claim.

:func:`explore` draws cases from a strategy, runs a check on each (a statistical
test at the policy's size), and if one fails lets hypothesis shrink it to a
minimal failing case. Each case's random stream is derived from the run seed and
the case itself, so the search, and every shrink step, replays exactly.

An optional :class:`Observer` sees each case start and end, with the stage of the
search: ``"exploring"`` until a first counterexample is found, ``"shrinking"`` after
(hypothesis then only tries smaller cases, and replays the minimal one at the end).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from verify.seeding import derive_seed
from verify.stats import CheckResult, Verdict, overall_verdict

Check = Callable[[object, int], Sequence[CheckResult]]
"""``check(case, seed) -> results``: the statistical checks of one case."""


EXPLORING = "exploring"
SHRINKING = "shrinking"


class _Falsified(Exception):
    pass


class _ObserverFailed(BaseException):
    """Carries an observer's exception out of hypothesis: as an ``Exception`` it would be
    taken for a failing case and shrunk (a closed stderr would become a counterexample)."""


@dataclass(frozen=True)
class Example:
    case: object
    results: tuple[CheckResult, ...]

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.results)

    @property
    def worst(self) -> CheckResult:
        return min(self.results, key=_severity)

    def describe(self) -> str:
        describe = getattr(self.case, "describe", None)
        return describe() if callable(describe) else repr(self.case)

    def to_dict(self) -> dict:
        return {
            "case": self.describe(),
            "verdict": self.verdict.value,
            "checks": [r.to_dict() for r in self.results],
        }


class Observer(Protocol):
    """Told about each case of a search, e.g. to show progress."""

    def on_start(self, case: object, stage: str) -> None:
        """``case`` is about to be checked."""

    def on_example(self, example: Example, stage: str) -> None:
        """``case`` was checked: ``example`` holds its results."""


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _severity(result: CheckResult) -> tuple[float, float]:
    """Sort key, worst first: smallest p-value, then largest deviation (the relative
    error, or for exact checks of a zero difference, the difference itself)."""
    deviation = result.relative_error
    if not math.isfinite(deviation):
        deviation = result.estimate - result.expected
    return (result.pvalue, -abs(_finite(deviation)))


@dataclass
class Exploration:
    """Everything one search saw: the examples tried and the minimal failing one."""

    label: str
    examples: list[Example] = field(default_factory=list)
    counterexample: Example | None = None

    @property
    def holds(self) -> bool:
        return self.counterexample is None

    @property
    def checks_run(self) -> int:
        return sum(len(e.results) for e in self.examples)

    @property
    def worst(self) -> Example | None:
        if self.counterexample is not None:
            return self.counterexample
        if not self.examples:
            return None
        return min(self.examples, key=lambda e: _severity(e.worst))

    def summary(self) -> str:
        if self.counterexample is not None:
            worst = self.counterexample.worst
            return (
                f"{self.label}: counterexample {self.counterexample.describe()}: "
                f"{worst.name} measured {worst.estimate:.5g} vs {worst.expected:.5g} "
                f"({_percent(worst.relative_error)}), p={worst.pvalue:.2g}"
            )
        worst = self.worst
        if worst is None:
            return f"{self.label}: no examples"
        result = worst.worst
        deviation = (f"{_percent(result.relative_error)}" if math.isfinite(result.relative_error)
                     else f"{result.estimate:.3g} vs {result.expected:.3g}")
        return (
            f"{self.label}: holds in {len(self.examples)} examples; smallest p={result.pvalue:.2g} "
            f"({result.name} {deviation}, MDE {result.min_detectable_effect:.3g} "
            f"{result.effect_unit}) at {worst.describe()}"
        )

    def to_dict(self) -> dict:
        worst = self.worst
        return {
            "label": self.label,
            "holds": self.holds,
            "examples": len(self.examples),
            "checks": self.checks_run,
            "counterexample": None if self.counterexample is None
            else self.counterexample.to_dict(),
            "worst": None if worst is None else worst.to_dict(),
        }


def _percent(value: float) -> str:
    return f"{value:+.2%}" if math.isfinite(value) else "n/a"


def explore(
    label: str,
    strategy: st.SearchStrategy,
    check: Check,
    *,
    seed: int,
    max_examples: int,
    shrink: bool = True,
    observer: Observer | None = None,
) -> Exploration:
    """Search ``strategy`` for a case whose checks fail; shrink the first one found.

    ``observer``, if given, is told when each case starts and ends; an exception it
    raises ends the search and propagates."""
    exploration = Exploration(label)

    def notify(method: str, *args: object) -> None:
        if observer is None:
            return
        stage = EXPLORING if exploration.counterexample is None else SHRINKING
        try:
            getattr(observer, method)(*args, stage)
        except Exception as error:
            raise _ObserverFailed(error) from error

    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

    @hypothesis.seed(seed)
    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=phases,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def search(case: object) -> None:
        notify("on_start", case)
        results = tuple(check(case, derive_seed(seed, label, repr(case))))
        example = Example(case, results)
        exploration.examples.append(example)
        notify("on_example", example)
        if example.verdict is Verdict.FAIL:
            exploration.counterexample = example  # the last one is the minimal one
            raise _Falsified

    try:
        search()
    except _Falsified:
        pass
    except _ObserverFailed as stopped:
        raise stopped.args[0] from None
    return exploration
