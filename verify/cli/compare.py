"""``python -m verify compare``: are two initializers statistically the same, layer by
layer?"""

from __future__ import annotations

import argparse

from verify.cli.options import run_options, target_options, weight_shape
from verify.cli.output import end_progress, progress
from verify.cli.resolve import resolve_target
from verify.cli.schema import document, print_document
from verify.matrix import with_timeout
from verify.seeding import run_seed

NAME = "compare"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="are two initializers statistically the same, layer by layer?",
        description="Compare TARGET_A and TARGET_B (e.g. a PyTorch and a Flax layer default) on "
        "the same layers, each in its own layout: the variance ratio with its interval, and the "
        "distributions (two-sample KS). Exit 0: equivalent at every layer; 1: they differ.",
    )
    parser.add_argument("target_a", metavar="TARGET_A")
    parser.add_argument("target_b", metavar="TARGET_B")
    parser.add_argument("--layer", type=weight_shape, action="append", metavar="IN,OUT[,K...]",
                        help="a layer as in_channels,out_channels[,kernel...] (repeatable; "
                        "default: two dense or two 3x3 convolution layers)")
    target_options(parser)
    run_options(parser, None, "")


def run(args: argparse.Namespace) -> int:
    from verify.compare import compare, default_layers

    seed = args.seed if args.seed is not None else run_seed()
    first, entry_a = resolve_target(args.target_a, args.api, args.kwargs)
    second, entry_b = resolve_target(args.target_b, args.api, args.kwargs)
    shapes = (entry_a.shapes() if entry_a and entry_a.shapes else None,
              entry_b.shapes() if entry_b and entry_b.shapes else None)
    names = (first.name, second.name)
    layers = args.layer or default_layers(shapes, names)
    progress(f"comparing {first.name} with {second.name} ...")
    result = compare(with_timeout(first, args.timeout), with_timeout(second, args.timeout),
                     layers=layers, seed=seed,
                     layouts=(args.layout or first.layout, args.layout or second.layout),
                     shapes=shapes, names=names)
    end_progress()
    if args.json:
        print_document(document(result.to_dict(), seed=seed))
    else:
        print(result.render())
    return 0 if result.equivalent else 1
