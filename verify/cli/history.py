"""``python -m verify history``: a library's catalog entries across its releases, and when
each deviation appeared and disappeared."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from verify.catalog import LIBRARIES as CATALOG
from verify.cli.audit import DTYPES as AUDIT_DTYPES
from verify.cli.options import (
    UsageError,
    executor_options,
    integer,
    run_options,
    upstream_option,
    writable_directory,
)
from verify.cli.output import end_progress, progress
from verify.cli.schema import document, print_document
from verify.distributions import INIT_FAMILIES
from verify.fans import LAYOUTS
from verify.precision import DTYPES
from verify.schemes import MODES, SCHEMES
from verify.seeding import run_seed
from verify.targets import APIS

NAME = "history"
AUDITED = "transformers"
"""The library whose history is the audit of architectures chosen with ``--only``."""
DISTRIBUTION_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
CLAIM_OPTIONS = ("api", "scheme", "dist", "mode", "gain", "layout", "kwargs")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="run a library's catalog entries across its releases",
        description="Install releases of LIBRARY (a catalog library, transformers, or with "
        "--target any distribution) beside this environment, never into it: pip install "
        "--target into a cache, one directory per release. Run the entries on each in a "
        "child process, starting with the latest patch of each minor release and then "
        "bisecting between neighbours whose verdicts differ (the releases of a round side "
        "by side on the executor: --workers, --scheduler), and print when each deviation "
        "appeared and disappeared. A release that cannot be installed or imported is "
        "recorded with the reason. Exit 0 when it ran (a deviation is a result), 2 for bad "
        "usage.",
    )
    parser.add_argument("library", metavar="LIBRARY",
                        help=f"one of {', '.join([*CATALOG, AUDITED])}, or a distribution "
                        "with --target")
    parser.add_argument("--versions", nargs="+", metavar="SPEC",
                        help="one PEP 440 specifier ('>=3.0,<3.16') or releases (3.1.1 "
                        "3.2.0) (default: every release on the index)")
    parser.add_argument("--only", nargs="+", metavar="ENTRY",
                        help="these catalog entries (keras:HeNormal or HeNormal); for "
                        "transformers, the architectures to audit (GPT2Model)")
    claim = parser.add_argument_group(
        "a user's initializer", "check TARGET from the releases of LIBRARY (a distribution) "
        "against the law given here, as 'check' does")
    claim.add_argument("--target", metavar="TARGET", help="package.module:attribute")
    claim.add_argument("--api", choices=sorted(APIS), help="its calling convention")
    claim.add_argument("--scheme", choices=sorted(SCHEMES), help="the claimed scheme")
    claim.add_argument("--dist", choices=sorted(INIT_FAMILIES), help="the claimed distribution")
    claim.add_argument("--mode", choices=MODES, help="fan mode (default: the scheme's)")
    claim.add_argument("--gain", type=float, help="gain (default: the scheme's)")
    claim.add_argument("--layout", choices=LAYOUTS, help="tensor layout (default: the API's)")
    claim.add_argument("--kwargs", metavar="JSON", help="keyword arguments, a JSON object")
    where = parser.add_argument_group("where the releases come from (as pip takes them)")
    where.add_argument("--index-url", metavar="URL", help="the package index")
    where.add_argument("--find-links", action="append", default=[], metavar="DIR",
                       help="a directory (or page) of wheels; may be repeated")
    where.add_argument("--no-index", action="store_true", help="ignore the package index")
    where.add_argument("--cache", metavar="DIR",
                       help="where the releases are installed and kept, the same path "
                       "on every worker (default: each host's $VERIFY_HISTORY_CACHE, else "
                       "~/.cache/initverify/history)")
    parser.add_argument("--no-bisect", action="store_true",
                        help="run only the starting releases")
    parser.add_argument("--max-releases", type=integer(1, "a positive integer"), default=30,
                        help="starting releases at most (the newest are kept), and again "
                        "at most as many added by bisection (default: %(default)s)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="the dtype each initializer is asked for (default: %(default)s; "
                        f"audits take {', '.join(AUDIT_DTYPES)})")
    run_options(parser, 3, "shapes (configs, for audits) hypothesis draws per entry")
    upstream_option(parser)
    executor_options(parser, NAME)


def run(args: argparse.Namespace) -> int:
    from verify import history
    from verify.history.releases import parse_selection

    plan = _plan(args, seed=args.seed if args.seed is not None else run_seed())
    selection = parse_selection(args.versions)  # a ValueError: one line, exit 2
    index = history.IndexOptions(index_url=args.index_url,
                                 find_links=tuple(_absolute(place) for place in args.find_links),
                                 no_index=args.no_index)
    # a cache given is the same path on every host; else each host takes its own default
    cache = Path(args.cache).expanduser().absolute() if args.cache else None
    if (cache or history.default_cache()).is_file():
        raise UsageError(f"--cache {cache or history.default_cache()} is a file: give a "
                         "directory")
    try:
        available = history.available_releases(plan.requirement, index)
    except history.IndexUnavailable as error:
        raise UsageError(str(error)) from None
    if not history.in_selection(available, selection) and not selection.explicit:
        raise UsageError(f"no release of {plan.distribution} on the index matches "
                         f"{selection.describe()!r} (it has {available[0]} .. "
                         f"{available[-1]})")
    executor, store = _executor(args, plan)
    found = history.run_history(plan, selection=selection, index=index, cache=cache,
                                bisect=not args.no_bisect, max_releases=args.max_releases,
                                progress=progress, available=available, executor=executor,
                                store=store)
    end_progress()
    if args.upstream is not None:
        from verify.upstream.history import reports
        from verify.upstream.report import write

        written = write(reports(found), args.upstream, progress=progress)
        progress(f"{len(written)} bug reports in {args.upstream}")
        end_progress()
    if args.json:
        print_document(document(found.to_dict(), seed=plan.seed))
    else:
        print(found.table())
    return 0


def _absolute(place: str) -> str:
    """A ``--find-links`` directory as an absolute path (a worker may run elsewhere); a
    URL as given."""
    return str(Path(place).absolute()) if "://" not in place and Path(place).exists() \
        else place


def _executor(args: argparse.Namespace, plan):
    """Where the releases run (:mod:`verify.execute`) and the store their results go to:
    the base environment's versions must agree on every worker (the releases' pins are
    resolved against it)."""
    from verify.execute import Options
    from verify.execute.store import Store, code_digest
    from verify.versions import versions

    libraries = (plan.distribution, *sorted(plan.own))
    options = Options.from_args(args, libraries)
    store = None
    if args.out:
        store = Store(writable_directory(args.out), command=NAME, resume=args.resume, context={
            "seed": plan.seed, "code": code_digest(), "versions": versions(*libraries)})
    return options, store


def _plan(args: argparse.Namespace, *, seed: int):
    from verify.history import Plan, library
    from verify.targets import parse_kwargs

    name = args.library
    given = [f"--{option}" for option in CLAIM_OPTIONS if getattr(args, option) is not None]
    common = {"examples": args.examples, "seed": seed, "timeout": args.timeout,
              "dtype": args.dtype}
    if args.target:
        if args.only:
            raise UsageError("--target checks one initializer: leave out --only")
        if not (args.scheme and args.dist):
            raise UsageError("--target needs the claimed law: give --scheme and --dist")
        module, _, attribute = args.target.partition(":")
        if not module or not attribute:
            raise UsageError(f"--target {args.target!r} is not package.module:attribute")
        if not DISTRIBUTION_NAME.match(name):
            raise UsageError(f"{name!r} is not a distribution name such as fakeinit")
        parse_kwargs(args.kwargs)  # a ValueError: one line, exit 2
        options: list[str] = []
        for option in CLAIM_OPTIONS:
            value = getattr(args, option)
            if value is not None:
                options += [f"--{option}", str(value)]
        return Plan(library=name, requirement=name, module=module, mode="check",
                    entries=(args.target,), check_options=tuple(options), **common)
    if given:
        raise UsageError(f"{given[0]} describes a user's initializer: give --target too")
    if name not in CATALOG and name != AUDITED:
        raise UsageError(f"unknown library {name!r}: use one of "
                         f"{', '.join([*CATALOG, AUDITED])}, or give --target to check a "
                         "user's initializer from any distribution")
    found = library(name)
    if name == AUDITED and not args.only:
        raise UsageError("transformers: choose the architectures to audit with --only, "
                         "such as --only GPT2Model BertModel")
    if name == AUDITED and args.dtype not in AUDIT_DTYPES:
        raise UsageError(f"--dtype {args.dtype}: audits build models in "
                         f"{' or '.join(AUDIT_DTYPES)}")
    entries = tuple(dict.fromkeys(_entry_name(name, entry) for entry in args.only or ()))
    mode = "audit" if name == AUDITED else ("check" if entries else "conformance")
    return Plan(library=name, requirement=found.requirement, module=found.module,
                own=frozenset(found.own), mode=mode, entries=entries, **common)


def _entry_name(library: str, entry: str) -> str:
    """``keras:HeNormal`` for ``HeNormal`` or ``keras:HeNormal``."""
    prefix, colon, rest = entry.partition(":")
    if not colon:
        return f"{library}:{entry}"
    if prefix != library or not rest:
        raise UsageError(f"--only {entry!r} is not an entry of {library}: give "
                         f"{library}:NAME or NAME")
    return entry
