"""``python -m verify report``: the main job, claims, conformance, figures, statistics and
model audits as one report."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time

from verify.catalog import LIBRARIES
from verify.cli.options import (
    UsageError,
    executor_options,
    integer,
    positive_seconds,
    writable_directory,
)
from verify.cli.output import end_progress
from verify.seeding import DEFAULT_SEED, run_seed

NAME = "report"
ZOO_DIRECTORY = "reports/runs/audit-zoo"
"""``audit --zoo``'s default ``--out``, where ``report --zoo`` looks by default."""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="the main job: claims, conformance, figures, statistics and model audits "
        "as a report",
        description="Test every claim, check every initializer of the installed libraries, "
        "draw the figures, measure the checks and audit whole models and every registered "
        "layer type; write index.html (self-contained), "
        "report.md, report.json and figures/*.png into --out, replacing the previous report "
        "only when the new one is complete.",
    )
    parser.add_argument("--out", default="reports", metavar="DIR",
                        help="the report's directory (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in under a minute: every section, tiny budgets")
    parser.add_argument("--libraries", nargs="+", default=["all"], metavar="LIB",
                        choices=[*LIBRARIES, "all"],
                        help=f"libraries to check, of {', '.join(LIBRARIES)} "
                        "(default: all that are installed)")
    parser.add_argument("--seed", type=integer(0, "a non-negative integer"), default=None,
                        help=f"the run's seed (default: $VERIFY_SEED, else {DEFAULT_SEED})")
    parser.add_argument("--timeout", type=positive_seconds, default=60.0,
                        help="seconds one call of an initializer may take (default: "
                        "%(default)s)")
    parser.add_argument("--zoo", nargs="?", metavar="DIR", const=ZOO_DIRECTORY, default=None,
                        help="add the model zoo table of the stored run in DIR, which "
                        "python -m verify audit --zoo transformers --out DIR wrote (default: "
                        "%(const)s); the report does not run the zoo")
    executor_options(parser, NAME, store="--store")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from verify import report

    seed = args.seed if args.seed is not None else run_seed()
    if args.zoo is not None:
        from verify.report.zoo import NoZoo, load

        try:
            load(args.zoo)  # refused now (exit 2), not after the report's sections ran
        except NoZoo as error:
            raise UsageError(str(error)) from None
    out = writable_directory(args.out)
    from verify.report.sections import paddle_first

    paddle_first()  # this process runs units too (a single one, or --workers 0)
    libraries = None if "all" in args.libraries else tuple(dict.fromkeys(args.libraries))
    settings = (report.Settings.quick_run(seed, libraries) if args.quick
                else report.Settings(seed=seed, libraries=libraries))
    settings = dataclasses.replace(settings, timeout=args.timeout,
                                   executor=_executor(args, settings, libraries),
                                   zoo=args.zoo)
    words = ["python -m verify report", f"--out {shlex.quote(args.out)}", f"--seed {seed}"]
    if args.quick:
        words.append("--quick")
    if libraries:
        words.append("--libraries " + " ".join(libraries))
    if args.zoo is not None:
        words.append(f"--zoo {shlex.quote(args.zoo)}")
    store = _store(args, seed, settings)
    start = time.perf_counter()
    try:
        document = report.run(out, settings, command=" ".join(words), store=store)
    except KeyboardInterrupt:
        kept = ("the previous report there is intact" if (out / "index.html").exists()
                else "there was no report there before")
        end_progress()
        print(f"interrupted: nothing was written to {out}; {kept}; the finished items are "
              f"in {args.store}: the same command with --resume takes them",
              file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start
    print(report.summary_table(document, Path(args.out), elapsed))
    print(f"\nreport written to {out / 'index.html'} (seed {seed}, {elapsed:.0f} s)")
    return 0


def _store(args: argparse.Namespace, seed: int, settings):
    """The results store of the report's items (``--store``, ``--resume``): each item's
    result as it ends, keyed by its inputs, this project's code and the libraries'
    versions."""
    from pathlib import Path

    from verify.execute.store import Store, code_digest
    from verify.versions import versions

    if args.store is None:
        args.store = str(Path(args.out) / "runs" / NAME)
    return Store(writable_directory(args.store, "--store"), command=NAME,
                 resume=args.resume, context={"seed": seed, "code": code_digest(),
                                              "versions": versions(
                                                  *settings.executor.libraries)})


def _executor(args: argparse.Namespace, settings, libraries):
    """Where the sections' items run (:mod:`verify.execute`): ``--workers``,
    ``--scheduler``, else a quick run's own choice (this process) or the embedded
    cluster. A cluster's workers must have the versions of the libraries checked."""
    from verify.execute import Options
    from verify.history import library

    names = sorted({library(name).requirement.partition("[")[0]
                    for name in libraries or LIBRARIES} | {"transformers"})
    options = Options.from_args(args, names)
    if options.workers is None and not options.scheduler:
        options = dataclasses.replace(options, workers=settings.executor.workers)
    return options


