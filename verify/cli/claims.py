"""``python -m verify claims``: test the textbook's claims and print a verdict for each."""

from __future__ import annotations

import argparse
import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from verify.cli.options import UsageError, run_options
from verify.cli.output import end_progress, progress
from verify.cli.schema import document, print_document
from verify.decisions import Context
from verify.seeding import run_seed
from verify.stats import DEFAULT_POLICY

if TYPE_CHECKING:
    from verify.claims import ClaimResult

NAME = "claims"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="test the textbook's claims and print a verdict for each",
        description="Test the claims of CLAIMS.md: hypothesis draws the cases, each case runs "
        "statistical checks of size 1e-9 and power 0.99 against a 1% error.",
    )
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these claim IDs")
    run_options(parser, Context.max_examples, "hypothesis examples per "
                "exploration", timeout=False)
    parser.add_argument("--list", action="store_true", help="list the claim IDs and exit")


def run(args: argparse.Namespace) -> int:
    from verify import claims as claims_module  # torch and the depth experiments: only here

    if args.list:
        for claim in claims_module.CLAIMS.values():
            print(f"{claim.id:32} {claim.statement}")
        return 0
    try:
        selected = claims_module.select(args.only)
    except KeyError as error:
        raise UsageError(f"unknown claim ID {error.args[0]!r}: "
                         "'python -m verify claims --list' lists them") from None
    seed = args.seed if args.seed is not None else run_seed()
    ctx = Context(seed=seed, max_examples=args.examples)
    results = []
    start = time.perf_counter()
    for index, claim in enumerate(selected, 1):
        progress(f"[{index}/{len(selected)}] {claim.id} ...")
        result = claims_module.run_claim(claim, ctx)
        results.append(result)
        progress(f"[{index}/{len(selected)}] {claim.id}: {result.verdict} "
                 f"({result.seconds:.1f} s)")
    end_progress()
    elapsed = time.perf_counter() - start
    if args.json:
        print_document(document({
            "policy": {"alpha": DEFAULT_POLICY.alpha, "power": DEFAULT_POLICY.power,
                       "effect": DEFAULT_POLICY.effect},
            "seconds": round(elapsed, 3),
            "claims": [r.to_dict() for r in results],
        }, seed=seed))
    else:
        print(render_table(results, seed, elapsed))
    return 0


def render_table(results: Sequence[ClaimResult], seed: int, elapsed: float) -> str:
    width = max(len(r.id) for r in results)
    lines = [f"{'claim':{width}}  {'verdict':22} {'examples':>8} {'checks':>6} {'seconds':>7}"]
    lines.append("-" * len(lines[0]))
    for r in results:
        examples = sum(len(e.examples) for e in r.explorations)
        lines.append(f"{r.id:{width}}  {r.verdict:22} {examples:>8} {r.checks_run:>6} "
                     f"{r.seconds:>7.1f}")
    lines.append("")
    wrap = textwrap.TextWrapper(width=100, initial_indent="    ", subsequent_indent="      ")
    for r in results:
        lines.append(f"{r.id}: {r.verdict}")
        lines.append(wrap.fill(r.statement))
        if r.conditions:
            lines.append(wrap.fill(f"conditions: {r.conditions}"))
        for exploration in r.explorations:
            lines.append(wrap.fill(exploration.summary()))
        for fact in r.facts:
            lines.append(wrap.fill(fact))
    checks = sum(r.statistical_checks for r in results)
    alpha = DEFAULT_POLICY.alpha
    lines.append("")
    lines.append(textwrap.fill(
        f"{len(results)} claim{'' if len(results) == 1 else 's'}, {checks} statistical checks, "
        f"each of size {alpha:g} and power "
        f"{DEFAULT_POLICY.power:g} against a {DEFAULT_POLICY.effect:.0%} error (where the budget "
        f"allows; each check reports its minimum detectable effect). Family-wise false-alarm "
        f"probability <= {checks * alpha * 1.001:.2g}. Seed {seed}; {elapsed:.0f} s.",
        width=100,
    ))
    return "\n".join(lines)
