"""What the commands share on their command lines: the parser that reports bad usage in
one line, the argument types, and the option groups several commands take."""

from __future__ import annotations

import argparse
import math
import os

from verify.conformance import MAX_NUMEL
from verify.fans import LAYOUTS
from verify.precision import DTYPES
from verify.seeding import DEFAULT_SEED
from verify.targets import APIS


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def integer(minimum: int, what: str):
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


def target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", choices=sorted(APIS), default="torch",
                        help="calling convention of a user target (default: %(default)s)")
    parser.add_argument("--kwargs", metavar="JSON", help="keyword arguments, a JSON object")
    parser.add_argument("--layout", choices=LAYOUTS, help="tensor layout (default: the API's)")
    backend_option(parser, several=False)
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="the dtype the initializer is asked for (default: %(default)s); "
                        "float16/bfloat16 are tested against the law of rounded values")


KERAS_BACKENDS = ("jax", "torch", "tensorflow", "numpy")


def backend_option(parser: argparse.ArgumentParser, *, several: bool) -> None:
    """``--backend``: the Keras 3 backend(s) a keras entry runs on."""
    if several:
        parser.add_argument("--backend", nargs="+", choices=[*KERAS_BACKENDS, "all"],
                            help="Keras backends, each in its own process but the first "
                            "(default: $KERAS_BACKEND, else jax)")
    else:
        parser.add_argument("--backend", choices=KERAS_BACKENDS,
                            help="the Keras backend of a keras: entry (default: "
                            "$KERAS_BACKEND, else jax)")


def run_options(parser: argparse.ArgumentParser, examples: int | None, what: str, *,
                timeout: bool = True) -> None:
    """The options the commands share: --seed, --json, --examples (unless ``examples`` is
    None) and --timeout."""
    parser.add_argument("--seed", type=integer(0, "a non-negative integer"), default=None,
                        help=f"the run's seed (default: $VERIFY_SEED, else {DEFAULT_SEED})")
    if examples is not None:
        parser.add_argument("--examples", type=integer(1, "a positive integer"),
                            default=examples, help=f"{what} (default: %(default)s)")
    if timeout:
        parser.add_argument("--timeout", type=positive_seconds, default=60.0,
                            help="seconds one call may take (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def weight_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 64,32,3,3, got {text!r}"
        ) from None
    if not 2 <= len(shape) <= 5 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"a weight shape has 2 to 5 positive dimensions, got {text!r}")
    if math.prod(shape) > MAX_NUMEL:
        raise argparse.ArgumentTypeError(
            f"{text!r} has {math.prod(shape)} entries, above the cap of {MAX_NUMEL}; "
            "give smaller dimensions")
    return shape


def upstream_directory(text: str):
    """``--upstream DIR``: a directory to write bug reports into (made if absent)."""
    from pathlib import Path

    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    parent = path if path.exists() else next((p for p in path.absolute().parents if p.exists()),
                                             None)
    if parent is None or not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {text}")
    return path


def upstream_option(parser) -> None:
    parser.add_argument("--upstream", metavar="DIR", type=upstream_directory, default=None,
                        help="write one Markdown bug report per finding into DIR, each with "
                        "a reproduction that needs only the library (run once here, and its "
                        "output quoted)")


def executor_options(parser, command: str, *, store: str | None = "--out") -> None:
    """``--workers``, ``--scheduler``, ``--out`` and ``--resume`` (:mod:`verify.execute`);
    ``store`` names the results store's option where ``--out`` already means something
    else (``measure --out FILE``), None for a command without a store (``report``)."""
    group = parser.add_argument_group("where the units run, and where their results go")
    group.add_argument("--workers", type=integer(0, "a non-negative integer"), default=None,
                       help="processes of the embedded Dask LocalCluster (default: one per "
                       "core; 0: run in this process)")
    group.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="an existing Dask cluster's scheduler (tcp://host:8786; default: "
                       "$VERIFY_DASK_SCHEDULER, else the embedded cluster)")
    if store is None:
        return
    group.add_argument(store, metavar="DIR",
                       default=(None if command == "report" else f"reports/runs/{command}"),
                       help="the results store, one file per unit as it finishes (default: "
                       + ("OUT/runs/report, beside the report" if command == "report"
                          else "%(default)s") + ")")
    group.add_argument("--resume", action="store_true",
                       help="take the stored result of every unit whose inputs are unchanged")


def writable_directory(path_text: str, option: str = "--out"):
    """A directory the command will write (a report, a results store), refused now with
    exit 2 if it cannot be made or written later: a file there, a parent that is not a
    directory, no permission."""
    import tempfile
    from pathlib import Path

    path = Path(path_text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path_text} is a file, not a directory: give a directory")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"{option} {path_text}: {existing} is not a directory")
    try:  # the one test that holds for every user (root ignores permission bits)
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise UsageError(f"{option} {path_text}: {existing} is not writable "
                         f"({error.strerror}); choose another directory") from None
    return path
