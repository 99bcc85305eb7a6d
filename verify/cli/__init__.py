"""The command line: ``python -m verify COMMAND``, one module per command.

Exit status: 0 when the run completed (a claim that fails is a result, not an
error), 2 for bad usage, with one line on stderr saying what to do.

One module per command. Each has ``NAME``, ``add_parser(commands)``, which adds its
subparser to ``commands`` (what ``add_subparsers`` returned), and ``run(args) -> int``,
the exit status. A new command is a new module here, listed in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from verify.adapters import ContractError, DtypeUnsupported, LibraryMissing
from verify.cli import (
    audit,
    check,
    claims,
    compare,
    conformance,
    fingerprint,
    history,
    measure,
    report,
)
from verify.cli.claims import render_table
from verify.cli.conformance import render_matrix
from verify.cli.fingerprint import render_fingerprint
from verify.cli.measure import write_json_atomically
from verify.cli.options import Parser, UsageError
from verify.conformance import TargetError as TargetErrorType

__all__ = ["COMMANDS", "UsageError", "build_parser", "main", "render_fingerprint",
           "render_matrix", "render_table", "write_json_atomically"]

COMMANDS = (claims, check, conformance, fingerprint, compare, audit, history, measure, report)
"""The commands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m verify",
                    description=__doc__.splitlines()[0].replace("``", ""))
    commands = parser.add_subparsers(dest="command", parser_class=Parser, required=True,
                                     metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from verify.threads import one_thread_per_process

    one_thread_per_process()  # a no-op after python -m verify, which did it before imports
    parser = build_parser()
    by_name = {command.NAME: command for command in COMMANDS}
    try:
        args = parser.parse_args(argv)
        if args.command not in by_name:
            raise UsageError(f"unknown command {args.command!r}")
        return by_name[args.command].run(args)
    except (UsageError, ValueError, LibraryMissing, DtypeUnsupported) as error:
        # ValueError: bad VERIFY_SEED, unknown target, bad --kwargs, a bad spec;
        # DtypeUnsupported: the initializer refuses the --dtype asked for
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (TargetErrorType, ContractError) as error:
        print(f"error: the initializer broke its contract: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
