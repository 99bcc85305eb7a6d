"""``python -m verify measure``: measure the checks themselves (false alarms, power,
peers) and write every number to one JSON file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from verify.cli.options import UsageError, integer, run_options
from verify.cli.output import end_progress, progress
from verify.cli.schema import document, print_document
from verify.seeding import run_seed

NAME = "measure"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="measure the checks themselves: false alarms, power, peers",
        description="Run the battery on correct implementations over many seeds at a loose "
        "level (observed against nominal false-alarm rates), its power against small variance "
        "errors, and the mutants of tests/mutants.py checked by this project and by the tests "
        "of PyTorch and Keras. Writes one JSON document to --out and prints the tables.",
    )
    parser.add_argument("--out", default="reports/measurements.json", metavar="FILE",
                        help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--runs", type=integer(1, "a positive integer"), default=None,
                        help="seeded null checks (default: 1000; --quick: 60)")
    parser.add_argument("--trials", type=integer(1, "a positive integer"), default=None,
                        help="trials per point of the power curve and per peer cell "
                        "(default: 100; --quick: 4 and 10)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of about a minute, with wide intervals")
    parser.add_argument("--no-explore", action="store_true",
                        help="skip the default check run on each mutant")
    run_options(parser, None, "", timeout=False)


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
    budget = measure.QUICK if args.quick else measure.Budget()
    if args.runs is not None:
        budget = dataclasses.replace(budget, runs=args.runs)
    if args.trials is not None:
        budget = dataclasses.replace(budget, power_trials=args.trials, peer_trials=args.trials)
    if args.no_explore:
        budget = dataclasses.replace(budget, explore=False)
    out = writable(args.out)
    measure.load_mutants()  # fail now, not after minutes of work
    measured = document(measure.measure(budget, seed=seed, progress=Throttled()), seed=seed)
    end_progress()
    try:
        write_json_atomically(out, measured)
    except OSError as error:
        raise UsageError(f"cannot write {out}: {error.strerror}; the measurement is lost, "
                         "run again with another --out") from None
    if args.json:
        print_document(measured)
    else:
        print(measure.render(measured))
        print(f"\nwritten to {out} ({measured['seconds']:.0f} s, seed {seed})")
    return 0


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
