"""``python -m verify measure``: measure the checks themselves (false alarms down to 1e-4 on
the executor, the sequential procedure at a loose level, power, peers) and write every
number to one JSON file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from verify.cli.options import (
    UsageError,
    executor_options,
    integer,
    run_options,
    writable_directory,
)
from verify.cli.output import end_progress, progress
from verify.cli.schema import document, print_document
from verify.seeding import run_seed

NAME = "measure"


SECTIONS = ("calibration", "null", "power", "peers")
RUNS, DEFAULT_RUNS, NULL_RUNS = 110_000, 400, 1000
QUICK_RUNS, QUICK_DEFAULT_RUNS = 2000, 4


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="measure the checks themselves: false alarms, power, peers",
        description="Measure the battery itself. calibration: --runs null checks of correct "
        "implementations, spread over the executor in batches (most at small sizes where the "
        "null laws are exact, --default-runs at the default sizes), and the observed "
        "false-alarm rate of each test and of the battery at levels down to 1e-4 and the "
        "smallest the runs reach, with Clopper-Pearson intervals. null: the sequential "
        "procedure on --null-runs checks at the default sizes at a loose level. power: its "
        "power against small variance errors. peers: the mutants of tests/mutants.py checked "
        "by this project and by the tests of PyTorch and Keras. Writes one JSON document to "
        "--out and prints the tables.",
    )
    parser.add_argument("--out", default="reports/measurements.json", metavar="FILE",
                        help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--runs", type=integer(1, "a positive integer"), default=None,
                        help=f"null checks of the calibration, on the executor (default: "
                        f"{RUNS:,}; --quick: {QUICK_RUNS:,})")
    parser.add_argument("--default-runs", type=integer(0, "a non-negative integer"),
                        default=None, metavar="N",
                        help=f"how many of the --runs checks run at the default sample sizes "
                        f"(0.1 to 1 s each, against a few ms for a small one; default: "
                        f"{DEFAULT_RUNS}, or --runs if fewer; --quick: {QUICK_DEFAULT_RUNS})")
    parser.add_argument("--null-runs", type=integer(1, "a positive integer"), default=None,
                        metavar="N", help=f"seeded checks of the sequential procedure at a "
                        f"loose level, in this process (default: {NULL_RUNS}; --quick: 60)")
    parser.add_argument("--trials", type=integer(1, "a positive integer"), default=None,
                        help="trials per point of the power curve and per peer cell "
                        "(default: 100; --quick: 4 and 10)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None, metavar="NAME",
                        help=f"only these measurements, of {', '.join(SECTIONS)} "
                        "(default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of about a minute, with wide intervals")
    parser.add_argument("--no-explore", action="store_true",
                        help="skip the default check run on each mutant")
    run_options(parser, None, "", timeout=False)
    executor_options(parser, NAME, store="--store")


class Throttled:
    """Progress for long loops: every step on a terminal, every tenth of a section in a log."""

    def __init__(self) -> None:
        self.section, self.shown = "", -1

    def __call__(self, section: str, done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if sys.stderr.isatty() or (section, tenth) != (self.section, self.shown):
            progress(f"{section}: {done}/{total}")
        self.section, self.shown = section, tenth


def run(args: argparse.Namespace) -> int:
    from verify import measure

    seed = args.seed if args.seed is not None else run_seed()
    sections = tuple(dict.fromkeys(args.only)) if args.only else SECTIONS
    budget = measure.QUICK if args.quick else measure.Budget()
    if args.null_runs is not None:
        budget = dataclasses.replace(budget, runs=args.null_runs)
    if args.trials is not None:
        budget = dataclasses.replace(budget, power_trials=args.trials, peer_trials=args.trials)
    if args.no_explore:
        budget = dataclasses.replace(budget, explore=False)
    counts = calibration_plan(args)
    out = writable(args.out)
    store = writable_directory(args.store, "--store") if "calibration" in sections else None
    if "peers" in sections:
        measure.load_mutants()  # fail now, not after minutes of work
    calibration = None
    if "calibration" in sections:
        calibration = run_calibration(args, counts, seed, store)
    measured = measure.measure(budget, seed=seed, progress=Throttled(),
                               only=[s for s in sections if s != "calibration"])
    if calibration is not None:
        seconds = measured.pop("seconds") + calibration["seconds"]
        measured["calibration"] = calibration
        measured["seconds"] = round(seconds, 2)
    measured = document(measured, seed=seed)
    end_progress()
    try:
        write_json_atomically(out, measured)
    except OSError as error:
        raise UsageError(f"cannot write {out}: {error.strerror}; the measurement is lost, "
                         "run again with another --out") from None
    if args.json:
        print_document(measured)
    else:
        from verify.calibration import render as render_calibration

        tables = [measure.render(measured)] if set(sections) - {"calibration"} else []
        if calibration is not None:
            tables.append(render_calibration(calibration))
        print("\n\n".join(tables))
        print(f"\nwritten to {out} ({measured['seconds']:.0f} s, seed {seed})")
    return 0


def calibration_plan(args: argparse.Namespace) -> dict[str, int]:
    """Checks per tier of the calibration: --default-runs at the default sizes, the rest of
    --runs small."""
    from verify.calibration import plan

    runs = args.runs if args.runs is not None else (QUICK_RUNS if args.quick else RUNS)
    if args.default_runs is None:
        default_runs = min(runs, QUICK_DEFAULT_RUNS if args.quick else DEFAULT_RUNS)
    elif args.default_runs > runs:
        raise UsageError(f"--default-runs {args.default_runs} is more than --runs {runs}: "
                         "the default-size checks are part of the runs")
    else:
        default_runs = args.default_runs
    return plan(runs, default_runs)


def run_calibration(args: argparse.Namespace, counts: dict[str, int], seed: int,
                    directory) -> dict:
    """The calibration on the executor, its units streamed into ``--store``."""
    from verify.calibration import calibrate
    from verify.execute import Options
    from verify.execute.store import Store, code_digest
    from verify.versions import versions

    options = Options.from_args(args, ("torch",))
    store = Store(directory, command=NAME, resume=args.resume,
                  context={"seed": seed, "code": code_digest(), "versions": versions()})
    return calibrate(counts, seed=seed, options=options, store=store, progress=progress)


def writable(path_text: str):
    """The output path, refused now (exit 2) if it cannot be written later."""
    import tempfile
    from pathlib import Path

    path = Path(path_text)
    if path.is_dir():
        raise UsageError(f"--out {path_text} is a directory: give a file name such as "
                         f"{path / 'measurements.json'}")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--out {path_text}: {parent} is not a directory")
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    try:  # the only test that holds for every user, root included: write something
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise UsageError(f"--out {path_text}: {existing} is not writable "
                         f"({error.strerror}); choose another path") from None
    return path


def write_json_atomically(path, document) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: a reader sees
    the old file or the new one, never half of one."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # what open() would have given, not mkstemp's 0600
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(document, stream, indent=2, default=str)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
