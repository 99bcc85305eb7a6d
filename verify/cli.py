"""The command line: ``python -m verify claims [--only ID ...] [--json]``.

Exit status: 0 when the run completed (a claim that fails is a result, not an
error), 2 for bad usage, with one line on stderr saying what to do.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence

from verify import claims as claims_module
from verify.seeding import DEFAULT_SEED, run_seed
from verify.stats import DEFAULT_POLICY
from verify.versions import versions


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _integer(minimum: int, what: str):
    """An argparse type: an integer of at least ``minimum``, described as ``what``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m verify", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, required=True,
                                     metavar="COMMAND")
    claims = commands.add_parser(
        "claims", help="test the textbook's claims and print a verdict for each",
        description="Test the claims of CLAIMS.md: hypothesis draws the cases, each case runs "
        "statistical checks of size 1e-9 and power 0.99 against a 1% error.",
    )
    claims.add_argument("--only", nargs="+", metavar="ID", help="run only these claim IDs")
    claims.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    claims.add_argument("--seed", type=_integer(0, "a non-negative integer"), default=None,
                        help=f"the run's seed (default: $VERIFY_SEED, else {DEFAULT_SEED})")
    claims.add_argument("--examples", type=_integer(1, "a positive integer"),
                        default=claims_module.Context.max_examples,
                        help="hypothesis examples per exploration (default: %(default)s)")
    claims.add_argument("--list", action="store_true", help="list the claim IDs and exit")
    return parser


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def _run_claims(args: argparse.Namespace) -> int:
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
    ctx = claims_module.Context(seed=seed, max_examples=args.examples)
    results = []
    start = time.perf_counter()
    for index, claim in enumerate(selected, 1):
        _progress(f"[{index}/{len(selected)}] {claim.id} ...")
        result = claims_module.run_claim(claim, ctx)
        results.append(result)
        _progress(f"[{index}/{len(selected)}] {claim.id}: {result.verdict} "
                  f"({result.seconds:.1f} s)")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    elapsed = time.perf_counter() - start
    if args.json:
        found = versions()
        document = [{**r.to_dict(), "versions": found,
                     "policy": {"alpha": DEFAULT_POLICY.alpha, "power": DEFAULT_POLICY.power,
                                "effect": DEFAULT_POLICY.effect}} for r in results]
        json.dump(document, sys.stdout, indent=2, default=str)
        print()
    else:
        print(render_table(results, seed, elapsed))
    return 0


def render_table(results: Sequence[claims_module.ClaimResult], seed: int, elapsed: float) -> str:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "claims":
            return _run_claims(args)
        raise UsageError(f"unknown command {args.command!r}")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # bad VERIFY_SEED and similar input
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
