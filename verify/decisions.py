"""What every claim's decision is made of: the run's settings, the decision, helpers.

A decision is a verdict (``holds``, ``holds-with-conditions``, ``fails``,
``erratum``), the conditions in plain words, and the evidence: hypothesis
explorations (:mod:`verify.explore`), facts, and an optional table (one row per
case of a fixed grid, e.g. per activation and scheme).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from verify.explore import Example, Exploration, explore
from verify.stats import DEFAULT_POLICY, CheckResult, Policy, Verdict

VERDICTS = ("holds", "holds-with-conditions", "fails", "erratum")


@dataclass(frozen=True)
class Context:
    """Settings of one claims run. ``scale`` multiplies the size of the depth
    experiments (networks, widths): 1 by default, less for a quick run."""

    seed: int
    policy: Policy = DEFAULT_POLICY
    max_examples: int = 6
    scale: float = 1.0


@dataclass
class Decision:
    verdict: str
    conditions: str = ""
    explorations: list[Exploration] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)


def identity_check(
    name: str, computed: float, expected: float, rel_tol: float = 1e-9
) -> CheckResult:
    """An exact identity, checked to floating-point tolerance (not a statistical test)."""
    holds = math.isclose(computed, expected, rel_tol=rel_tol, abs_tol=rel_tol * 1e-3)
    return CheckResult(
        name, float(computed), float(expected), (float(computed), float(computed)),
        abs(computed - expected), 1.0 if holds else 0.0, 0, rel_tol, "exact",
        Verdict.PASS if holds else Verdict.FAIL, detail=f"identity to rel. tol. {rel_tol:g}",
    )


def verdict_if_all_hold(explorations: Sequence[Exploration], conditions: str = "") -> Decision:
    verdict = "holds" if all(e.holds for e in explorations) else "fails"
    return Decision(verdict, conditions if verdict == "holds" else "", list(explorations))


def explore_claim(ctx: Context, claim_id: str, label: str, strategy: st.SearchStrategy,
                  check: Callable[[object, int], Iterable[CheckResult]],
                  examples: int | None = None) -> Exploration:
    """Let hypothesis search ``strategy`` for a case where ``check`` fails."""
    return explore(f"{claim_id}: {label}", strategy, lambda case, seed: tuple(check(case, seed)),
                   seed=ctx.seed, max_examples=examples or ctx.max_examples)


def fixed_cases(label: str, cases: Sequence[object],
                check: Callable[[object], Iterable[CheckResult]]) -> Exploration:
    """An exploration over a fixed list of cases (for experiments too costly to let
    hypothesis search): the first failing case is the counterexample."""
    exploration = Exploration(label)
    for case in cases:
        example = Example(case, tuple(check(case)))
        exploration.examples.append(example)
        if example.verdict is Verdict.FAIL and exploration.counterexample is None:
            exploration.counterexample = example
    return exploration
