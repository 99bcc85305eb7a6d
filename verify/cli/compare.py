"""``python -m verify compare``: are two initializers statistically the same, layer by
layer? With ``--models``: are two models (a model and its port to another framework)
initialized the same, tensor by tensor?"""

from __future__ import annotations

import argparse
import sys

from verify.cli.options import UsageError, run_options, target_options, weight_shape
from verify.cli.output import end_progress, progress
from verify.cli.resolve import resolve_target
from verify.cli.schema import document, print_document
from verify.matrix import with_timeout
from verify.seeding import run_seed

NAME = "compare"

INITIALIZER_OPTIONS = {"layer": "--layer", "api": "--api", "kwargs": "--kwargs",
                       "layout": "--layout"}
MODEL_OPTIONS = {"api_a": "--api-a", "api_b": "--api-b", "kwargs_a": "--kwargs-a",
                 "kwargs_b": "--kwargs-b", "config_a": "--config-a", "config_b": "--config-b",
                 "map": "--map"}


def add_parser(commands) -> None:
    from verify.audit.builders import BUILDER_APIS

    parser = commands.add_parser(
        NAME, help="are two initializers (or, with --models, two models) statistically the "
        "same?",
        description="Compare TARGET_A and TARGET_B. Two initializers (e.g. a PyTorch and a "
        "Flax layer default) on the same layers, each in its own layout: the variance ratio "
        "with its interval, and the distributions (two-sample KS). With --models, two models "
        "(e.g. a model and its port to another framework), tensor by tensor, matched by name "
        "or through --map: the variance ratio B/A with its interval, the means and the "
        "families. Exit 0: equivalent; 1: they differ; 2: bad usage.",
    )
    parser.add_argument("target_a", metavar="TARGET_A",
                        help="an initializer, or with --models a model: transformers:<Class>, "
                        "a registry layer such as torch:nn.Linear, or package.module:builder")
    parser.add_argument("target_b", metavar="TARGET_B", help="the same for B")
    parser.add_argument("--models", action="store_true",
                        help="TARGET_A and TARGET_B are models to compare tensor by tensor")
    initializers = parser.add_argument_group("initializers (without --models)")
    initializers.add_argument("--layer", type=weight_shape, action="append",
                              metavar="IN,OUT[,K...]",
                              help="a layer as in_channels,out_channels[,kernel...] "
                              "(repeatable; default: two dense or two 3x3 convolution layers)")
    target_options(initializers)
    for action in initializers._group_actions:  # None when not given: an error with --models
        if action.dest == "api":
            action.default, action.help = None, "calling convention of a user target " \
                "(default: torch)"
    models = parser.add_argument_group("models (with --models)")
    for side in ("a", "b"):
        label = side.upper()
        models.add_argument(f"--api-{side}", choices=BUILDER_APIS, default=None,
                            help=f"how model {label}'s builder is called (default: torch for "
                            "package.module:builder; registry layers and transformers: "
                            "targets know theirs)")
        models.add_argument(f"--kwargs-{side}", metavar="JSON", default=None,
                            help=f"keyword arguments of model {label}'s builder, a JSON object")
        models.add_argument(f"--config-{side}", metavar="JSON", default=None,
                            help=f"fields of model {label}'s config, for a transformers: "
                            "target (a JSON object)")
    models.add_argument("--map", metavar="FILE", default=None,
                        help="a TOML file mapping A's tensor names to B's ([names] table; "
                        "see README.md, 'Comparing two models')")
    run_options(parser, None, "")


def run(args: argparse.Namespace) -> int:
    other_mode = INITIALIZER_OPTIONS if args.models else MODEL_OPTIONS
    given = [flag for dest, flag in other_mode.items() if getattr(args, dest) is not None]
    if given:
        verb = "apply" if len(given) > 1 else "applies"
        raise UsageError(f"{', '.join(given)} {verb} " + (
            "to initializers: drop it, or drop --models" if args.models else
            "with --models: add --models to compare two models"))
    seed = args.seed if args.seed is not None else run_seed()
    return _run_models(args, seed) if args.models else _run_initializers(args, seed)


def _run_initializers(args: argparse.Namespace, seed: int) -> int:
    from verify.compare import compare, default_layers

    api = args.api or "torch"
    first, entry_a = resolve_target(args.target_a, api, args.kwargs)
    second, entry_b = resolve_target(args.target_b, api, args.kwargs)
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


def _run_models(args: argparse.Namespace, seed: int) -> int:
    from verify.audit.compare import compare_models
    from verify.audit.mapping import load_map
    from verify.targets import parse_kwargs

    # a bad map fails before any build; SpecError is a ValueError: "error: FILE:LINE:COL: ..."
    name_map = load_map(args.map) if args.map else None

    def report(stage: str, done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total or done & (done - 1) == 0:  # a log: few lines
            progress(f"{stage}: {done}/{total} builds")

    result = compare_models(args.target_a, args.target_b, api_a=args.api_a, api_b=args.api_b,
                            kwargs_a=parse_kwargs(args.kwargs_a, "--kwargs-a"),
                            kwargs_b=parse_kwargs(args.kwargs_b, "--kwargs-b"),
                            config_a=parse_kwargs(args.config_a, "--config-a"),
                            config_b=parse_kwargs(args.config_b, "--config-b"),
                            name_map=name_map, seed=seed, timeout=args.timeout,
                            progress=report)
    end_progress()
    if args.json:
        print_document(document(result.to_dict(), seed=seed))
    else:
        print(result.render())
    return 0 if result.equivalent else 1
