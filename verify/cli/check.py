"""``python -m verify check``: does an initializer draw from the law it claims, at every
shape hypothesis draws?"""

from __future__ import annotations

import argparse
import shlex
import sys

from hypothesis import strategies as st

from verify.cli.options import UsageError, run_options, target_options, weight_shape
from verify.cli.resolve import resolve_target
from verify.cli.schema import document, print_document
from verify.distributions import INIT_FAMILIES
from verify.matrix import with_timeout
from verify.schemes import MODES, SCHEMES
from verify.seeding import run_seed
from verify.stats import Verdict

NAME = "check"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="does an initializer draw from the law it claims, at every shape?",
        description="Check TARGET (a catalog name such as torch:kaiming_normal_, or "
        "package.module:attribute) against a claimed scheme over the shapes hypothesis draws. "
        "Exit 0: it conforms; 1: it deviates (the minimal failing shape is shown); 2: bad "
        "usage or a broken initializer.",
    )
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument("--scheme", choices=sorted(SCHEMES),
                        help="the claimed scheme (default for catalog targets: the documented "
                        "one)")
    parser.add_argument("--dist", choices=sorted(INIT_FAMILIES), help="the claimed distribution")
    parser.add_argument("--mode", choices=MODES, help="fan mode (default: the scheme's)")
    parser.add_argument("--gain", type=float, help="gain (default: the scheme's)")
    target_options(parser)
    parser.add_argument("--shape", type=weight_shape,
                        help="check this one shape, e.g. 64,32,3,3")
    run_options(parser, 8, "shapes hypothesis draws")


def run(args: argparse.Namespace) -> int:
    from verify.check_progress import CheckProgress
    from verify.conformance import check
    from verify.schemes import InitSpec
    from verify.strategies import weight_shapes
    from verify.targets import max_calls

    seed = args.seed if args.seed is not None else run_seed()
    target, entry = resolve_target(args.target, args.api, args.kwargs,
                                   getattr(args, "backend", None), args.dtype)
    if args.scheme or args.dist:
        if not (args.scheme and args.dist):
            raise UsageError("--scheme and --dist go together: give both")
        claim = InitSpec(args.scheme, args.dist, args.layout or target.layout, args.mode,
                         args.gain)
    elif entry is not None:
        claim = entry.claim
    else:
        raise UsageError(f"{args.target} is not in the catalog: say what it claims with "
                         "--scheme and --dist")
    if args.shape:
        shapes = st.just(args.shape)
    elif entry is not None and entry.shapes is not None and not args.scheme:
        shapes = entry.shapes()
    else:
        shapes = weight_shapes(layout=getattr(claim, "layout", target.layout), max_numel=2**20)
    progress = CheckProgress(sys.stderr)
    progress.note(f"checking {target.name} against {claim.describe()} ...")
    try:
        report = check(with_timeout(target, args.timeout), claim, shapes=shapes, seed=seed,
                       max_examples=1 if args.shape else args.examples, name=target.name,
                       reproduce=reproduce(args, seed),
                       max_calls=entry.max_calls if entry is not None else max_calls(args.api),
                       progress=progress)
    finally:  # also on an error or Ctrl-C, whose message then starts a clean line
        progress.finish()
    if args.json:
        print_document(document(report.to_dict(), seed=seed))
    else:
        print(report.table())
    return 0 if report.verdict is Verdict.PASS else 1


def reproduce(args: argparse.Namespace, seed: int) -> str:
    """The command that replays one shape of this check: ``{shape}`` is left to fill."""
    words = ["python -m verify check", shlex.quote(args.target)]
    for option in ("scheme", "dist", "mode", "gain", "layout", "backend"):
        value = getattr(args, option)
        if value is not None:
            words.append(f"--{option} {value}")
    if args.dtype != "float32":
        words.append(f"--dtype {args.dtype}")
    if args.api != "torch":
        words.append(f"--api {args.api}")
    if args.kwargs:
        words.append(f"--kwargs {shlex.quote(args.kwargs)}")
    words.append(f"--shape {{shape}} --seed {seed}")
    return " ".join(words)
