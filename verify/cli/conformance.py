"""``python -m verify conformance``: check every catalog entry of the installed libraries
and print the matrix."""

from __future__ import annotations

import argparse
import fnmatch
import textwrap
from collections.abc import Sequence

from verify.catalog import LIBRARIES
from verify.cli.options import (
    UsageError,
    backend_option,
    executor_options,
    run_options,
    upstream_option,
    writable_directory,
)
from verify.cli.output import end_progress, progress
from verify.cli.schema import document, print_document
from verify.matrix import label, skipped_rows
from verify.precision import DTYPES
from verify.seeding import run_seed

NAME = "conformance"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="check every catalog entry of the installed libraries",
        description="Run check on every catalog entry of the chosen libraries and print a "
        "matrix. Libraries that are not installed are listed as skipped. Exit 0 when every "
        "entry conforms, 1 otherwise.",
    )
    parser.add_argument("--library", nargs="+", default=["all"],
                        choices=[*LIBRARIES, "all"], help="libraries (default: all)")
    backend_option(parser, several=True)
    parser.add_argument("--dtype", nargs="+", choices=[*DTYPES, "all"], default=["all"],
                        help="dtypes to ask each initializer for, of those its entry takes "
                        "(default: all of them)")
    run_options(parser, 6, "shapes hypothesis draws per entry")
    parser.add_argument("--no-fingerprint", action="store_true",
                        help="do not fingerprint the entries that deviate")
    parser.add_argument("--waive", metavar="FILE",
                        help="known deviations (the waiver file of audit): shown as waived, "
                        "they do not fail the run")
    parser.add_argument("--only", nargs="+", metavar="PATTERN", default=None,
                        help="only the entries whose name matches one of these shell-style "
                        "patterns ('torch:nn.Conv*')")
    upstream_option(parser)
    executor_options(parser, NAME)


def run(args: argparse.Namespace) -> int:
    from verify import catalog

    seed = args.seed if args.seed is not None else run_seed()
    waivers = []
    if args.waive:
        from verify.audit.findings import load_waivers

        waivers = load_waivers(args.waive)  # a ValueError: one line, exit 2
    libraries = None if "all" in args.library else list(dict.fromkeys(args.library))
    if args.backend and "keras" not in (libraries or catalog.LIBRARIES):
        raise UsageError("--backend chooses Keras backends: add --library keras")
    try:
        found = catalog.load(libraries, backends=args.backend)
        if args.only:
            found.entries[:] = [e for e in found.entries
                                if any(fnmatch.fnmatchcase(e.name, p) for p in args.only)]
            if not found.entries:
                raise UsageError(f"--only {' '.join(args.only)} matches no catalog entry of "
                                 "the chosen libraries; python -m verify conformance --json "
                                 "lists their names")
        units = [(entry, dtype) for entry in found.entries
                 for dtype in catalog.dtypes_of(entry, args.dtype)]
        rows = run_rows(units, args, seed)
        if args.upstream is not None:
            written = write_upstream(units, rows, args.upstream, seed)
            progress(f"{len(written)} bug reports in {args.upstream}")
    finally:
        from verify.adapters.remote import close_all

        close_all()
    end_progress()
    rows += skipped_rows(found.skipped)
    if waivers:
        from verify.audit.findings import waive_rows

        rows = waive_rows(rows, waivers)
    conforms = all(r["verdict"] == "pass" or r.get("waived") for r in rows
                   if r["verdict"] not in ("skipped", "not supported"))
    if args.json:
        print_document(document({"verdict": "pass" if conforms else "fail", "entries": rows},
                                seed=seed))
    else:
        print(render_matrix(rows))
    return 0 if conforms else 1


def render_matrix(rows: Sequence[dict]) -> str:
    rows = [{**row, "target": label(row)} for row in rows]
    width = max([len(r["target"]) for r in rows] + [6])
    lines = [f"{'target':{width}}  {'verdict':10} {'claim':44} {'minimal failing shape':22} "
             "var. ratio"]
    lines.append("-" * len(lines[0]))
    notes = []
    for row in rows:
        example = row.get("counterexample") or {}
        ratio = example.get("variance_ratio")
        shape = "x".join(map(str, example["shape"])) if example else ""
        claim = row.get("claim", row.get("reason", ""))
        verdict = row["verdict"] + (" (waived)" if row.get("waived") else "")
        if row.get("waived"):
            notes.append(f"{row['target']}: waived: {row['waived']['reason']} "
                         f"({row['waived']['link']})")
        lines.append(f"{row['target']:{width}}  {verdict:10} {claim[:44]:44} "
                     f"{shape:22} {'' if ratio is None else f'{ratio:.4g}'}")
        if row.get("error"):
            notes.append(f"{row['target']}: error: {row['error']}")
        if example:
            notes.append(f"{row['target']}: reproduce: {example['reproduce']}")
        if row.get("fingerprint"):
            notes.append(f"{row['target']}: fingerprint: {row['fingerprint']['summary']}")
            if row["fingerprint"].get("explanation"):
                notes.append(f"{row['target']}: {row['fingerprint']['explanation']}")
        if row.get("convention") and row["verdict"] in ("fail", "suspicious"):
            notes.append(f"{row['target']}: documented convention: {row['convention']}")
        if row["verdict"] in ("skipped", "not supported"):
            notes.append(f"{row['target']}: {row['verdict']}: {row['reason']}")
    counts = {v: sum(r["verdict"] == v for r in rows)
              for v in ("pass", "fail", "suspicious", "error", "not supported", "skipped")}
    lines.append("")
    lines += [textwrap.fill(note, width=100, subsequent_indent="    ") for note in notes]
    lines.append("")
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return "\n".join(lines)


def write_upstream(units, rows: Sequence[dict], directory, seed: int) -> list:
    """One bug report per failing row (:mod:`verify.upstream`)."""
    from verify.upstream.findings import from_conformance
    from verify.upstream.report import write

    reports = []
    for (entry, dtype), row in zip(units, rows, strict=False):
        if row["verdict"] not in ("fail", "error"):
            continue
        try:
            target = entry.target(dtype)
        except Exception:  # the row already says why; the report goes without a snippet
            target = None
        reports.append(from_conformance(entry, row, target, seed=seed))
    return write(reports, directory, progress=progress)


def run_rows(units, args: argparse.Namespace, seed: int) -> list[dict]:
    """The rows of ``units`` (entry, dtype), run by the executor (:mod:`verify.execute`),
    stored in ``--out`` as they finish."""
    from verify.execute import Options, Unit, run_units
    from verify.execute.store import Store
    from verify.execute.units import conformance_unit
    from verify.history import library as distribution_of

    work = []
    for entry, dtype in units:
        arguments = {"library": entry.library, "name": entry.name, "backend": entry.backend,
                     "dtype": dtype, "seed": seed, "examples": args.examples,
                     "timeout": args.timeout, "fingerprint": not args.no_fingerprint}
        key = label({"target": entry.name, "backend": entry.backend, "dtype": dtype})
        work.append(Unit(key, conformance_unit, arguments))
    libraries = sorted({distribution_of(e.library).requirement.split("[")[0]
                        for e, _ in units})
    options = Options.from_args(args, libraries)
    store = Store(writable_directory(args.out), command=NAME, resume=args.resume,
                  context=_context(seed, libraries)) if args.out else None
    records = run_units(work, options, store=store, progress=progress)
    rows = []
    for (entry, dtype), record in zip(units, records, strict=True):
        if record.status == "done":
            rows.append(record.result)
        else:
            rows.append({"target": entry.name, "library": entry.library,
                         **({"backend": entry.backend} if entry.backend else {}),
                         "dtype": dtype, "kind": entry.kind, "claim": entry.claim.describe(),
                         "documented": entry.documented, "verdict": "error",
                         "error": record.error, "counterexample": None})
    return rows


def _context(seed: int, libraries: list[str]) -> dict:
    """What every unit's result depends on besides its own arguments."""
    from verify.execute.store import code_digest
    from verify.versions import versions

    return {"seed": seed, "code": code_digest(), "versions": versions(*libraries)}
