"""The command line: ``python -m verify claims|check|conformance|fingerprint|compare|measure``.

Exit status: 0 when the run completed (a claim that fails is a result, not an
error), 2 for bad usage, with one line on stderr saying what to do.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from verify.adapters import ContractError, LibraryMissing
from verify.catalog import LIBRARIES
from verify.conformance import DEFAULT_MAX_CALLS, MAX_NUMEL
from verify.conformance import TargetError as TargetErrorType
from verify.decisions import Context
from verify.distributions import INIT_FAMILIES
from verify.fans import LAYOUTS
from verify.matrix import conformance_row, fingerprint_entry, skipped_rows, with_timeout
from verify.schemes import MODES, SCHEMES
from verify.seeding import DEFAULT_SEED, run_seed
from verify.stats import DEFAULT_POLICY, Verdict
from verify.targets import APIS
from verify.versions import versions

if TYPE_CHECKING:
    from verify.claims import ClaimResult


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _integer(minimum: int, what: str):
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m verify",
                     description=__doc__.splitlines()[0].replace("``", ""))
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, required=True,
                                     metavar="COMMAND")
    claims = commands.add_parser(
        "claims", help="test the textbook's claims and print a verdict for each",
        description="Test the claims of CLAIMS.md: hypothesis draws the cases, each case runs "
        "statistical checks of size 1e-9 and power 0.99 against a 1% error.",
    )
    claims.add_argument("--only", nargs="+", metavar="ID", help="run only these claim IDs")
    _run_options(claims, Context.max_examples, "hypothesis examples per "
                 "exploration", timeout=False)
    claims.add_argument("--list", action="store_true", help="list the claim IDs and exit")

    check = commands.add_parser(
        "check", help="does an initializer draw from the law it claims, at every shape?",
        description="Check TARGET (a catalog name such as torch:kaiming_normal_, or "
        "package.module:attribute) against a claimed scheme over the shapes hypothesis draws. "
        "Exit 0: it conforms; 1: it deviates (the minimal failing shape is shown); 2: bad "
        "usage or a broken initializer.",
    )
    check.add_argument("target", metavar="TARGET")
    check.add_argument("--scheme", choices=sorted(SCHEMES),
                       help="the claimed scheme (default for catalog targets: the documented one)")
    check.add_argument("--dist", choices=sorted(INIT_FAMILIES), help="the claimed distribution")
    check.add_argument("--mode", choices=MODES, help="fan mode (default: the scheme's)")
    check.add_argument("--gain", type=float, help="gain (default: the scheme's)")
    _target_options(check)
    check.add_argument("--shape", type=_shape, help="check this one shape, e.g. 64,32,3,3")
    _run_options(check, 8, "shapes hypothesis draws")

    conformance = commands.add_parser(
        "conformance", help="check every catalog entry of the installed libraries",
        description="Run check on every catalog entry of the chosen libraries and print a "
        "matrix. Libraries that are not installed are listed as skipped. Exit 0 when every "
        "entry conforms, 1 otherwise.",
    )
    conformance.add_argument("--library", nargs="+", default=["all"],
                             choices=[*LIBRARIES, "all"], help="libraries (default: all)")
    _run_options(conformance, 6, "shapes hypothesis draws per entry")
    conformance.add_argument("--no-fingerprint", action="store_true",
                             help="do not fingerprint the entries that deviate")

    fingerprint = commands.add_parser(
        "fingerprint", help="what does an initializer actually do?",
        description="Infer TARGET's variance law (1/Var = c + a fan_in + b fan_out, with "
        "intervals), the closest named scheme and gain, which axes it reads as fans, whether it "
        "counts the receptive field, and its distribution family, from shapes that vary the "
        "fans independently.",
    )
    fingerprint.add_argument("target", metavar="TARGET")
    _target_options(fingerprint)
    _run_options(fingerprint, None, "")

    compare = commands.add_parser(
        "compare", help="are two initializers statistically the same, layer by layer?",
        description="Compare TARGET_A and TARGET_B (e.g. a PyTorch and a Flax layer default) on "
        "the same layers, each in its own layout: the variance ratio with its interval, and the "
        "distributions (two-sample KS). Exit 0: equivalent at every layer; 1: they differ.",
    )
    compare.add_argument("target_a", metavar="TARGET_A")
    compare.add_argument("target_b", metavar="TARGET_B")
    compare.add_argument("--layer", type=_shape, action="append", metavar="IN,OUT[,K...]",
                         help="a layer as in_channels,out_channels[,kernel...] (repeatable; "
                         "default: two dense or two 3x3 convolution layers)")
    _target_options(compare)
    _run_options(compare, None, "")

    measure = commands.add_parser(
        "measure", help="measure the checks themselves: false alarms, power, peers",
        description="Run the battery on correct implementations over many seeds at a loose "
        "level (observed against nominal false-alarm rates), its power against small variance "
        "errors, and the mutants of tests/mutants.py checked by this project and by the tests "
        "of PyTorch and Keras. Writes one JSON document to --out and prints the tables.",
    )
    measure.add_argument("--out", default="reports/measurements.json", metavar="FILE",
                         help="where to write the JSON (default: %(default)s)")
    measure.add_argument("--runs", type=_integer(1, "a positive integer"), default=None,
                         help="seeded null checks (default: 1000; --quick: 60)")
    measure.add_argument("--trials", type=_integer(1, "a positive integer"), default=None,
                         help="trials per point of the power curve and per peer cell "
                         "(default: 100; --quick: 4 and 10)")
    measure.add_argument("--quick", action="store_true",
                         help="a smoke run of about a minute, with wide intervals")
    measure.add_argument("--no-explore", action="store_true",
                         help="skip the default check run on each mutant")
    _run_options(measure, None, "", timeout=False)

    report = commands.add_parser(
        "report", help="the main job: claims, conformance, figures and statistics as a report",
        description="Test every claim, check every initializer of the installed libraries, "
        "draw the figures and measure the checks; write index.html (self-contained), "
        "report.md, report.json and figures/*.png into --out, replacing the previous report "
        "only when the new one is complete.",
    )
    report.add_argument("--out", default="reports", metavar="DIR",
                        help="the report's directory (default: %(default)s)")
    report.add_argument("--quick", action="store_true",
                        help="a smoke run in under a minute: every section, tiny budgets")
    report.add_argument("--libraries", nargs="+", default=["all"], metavar="LIB",
                        choices=[*LIBRARIES, "all"],
                        help=f"libraries to check, of {', '.join(LIBRARIES)} "
                        "(default: all that are installed)")
    report.add_argument("--seed", type=_integer(0, "a non-negative integer"), default=None,
                        help=f"the run's seed (default: $VERIFY_SEED, else {DEFAULT_SEED})")
    report.add_argument("--timeout", type=_positive_seconds, default=60.0,
                        help="seconds one call of an initializer may take (default: "
                        "%(default)s)")
    return parser


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", choices=sorted(APIS), default="torch",
                        help="calling convention of a user target (default: %(default)s)")
    parser.add_argument("--kwargs", metavar="JSON", help="keyword arguments, a JSON object")
    parser.add_argument("--layout", choices=LAYOUTS, help="tensor layout (default: the API's)")


def _run_options(parser: argparse.ArgumentParser, examples: int | None, what: str, *,
                 timeout: bool = True) -> None:
    """The options the commands share: --seed, --json, --examples (unless ``examples`` is
    None) and --timeout."""
    parser.add_argument("--seed", type=_integer(0, "a non-negative integer"), default=None,
                        help=f"the run's seed (default: $VERIFY_SEED, else {DEFAULT_SEED})")
    if examples is not None:
        parser.add_argument("--examples", type=_integer(1, "a positive integer"),
                            default=examples, help=f"{what} (default: %(default)s)")
    if timeout:
        parser.add_argument("--timeout", type=_positive_seconds, default=60.0,
                            help="seconds one call may take (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _shape(text: str) -> tuple[int, ...]:
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


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def _run_claims(args: argparse.Namespace) -> int:
    from verify import claims as claims_module  # torch and the depth experiments: only here

    if args.list:
        for claim in claims_module.CLAIMS.values():
            print(f"{claim.id:32} {claim.statement}")
        return 0
    try:
        selected = claims_module.select(args.only)
    except KeyError as error:
        raise UsageError(f"unknown claim ID {error.args[0]!r}: "
                         "'python -m verify claims --list' lists them") from None
    seed = args.seed if args.seed is not None else run_seed()
    ctx = Context(seed=seed, max_examples=args.examples)
    results = []
    start = time.perf_counter()
    for index, claim in enumerate(selected, 1):
        _progress(f"[{index}/{len(selected)}] {claim.id} ...")
        result = claims_module.run_claim(claim, ctx)
        results.append(result)
        _progress(f"[{index}/{len(selected)}] {claim.id}: {result.verdict} "
                  f"({result.seconds:.1f} s)")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    elapsed = time.perf_counter() - start
    if args.json:
        found = versions()
        document = [{**r.to_dict(), "versions": found,
                     "policy": {"alpha": DEFAULT_POLICY.alpha, "power": DEFAULT_POLICY.power,
                                "effect": DEFAULT_POLICY.effect}} for r in results]
        json.dump(document, sys.stdout, indent=2, default=str)
        print()
    else:
        print(render_table(results, seed, elapsed))
    return 0


def render_table(results: Sequence[ClaimResult], seed: int, elapsed: float) -> str:
    width = max(len(r.id) for r in results)
    lines = [f"{'claim':{width}}  {'verdict':22} {'examples':>8} {'checks':>6} {'seconds':>7}"]
    lines.append("-" * len(lines[0]))
    for r in results:
        examples = sum(len(e.examples) for e in r.explorations)
        lines.append(f"{r.id:{width}}  {r.verdict:22} {examples:>8} {r.checks_run:>6} "
                     f"{r.seconds:>7.1f}")
    lines.append("")
    wrap = textwrap.TextWrapper(width=100, initial_indent="    ", subsequent_indent="      ")
    for r in results:
        lines.append(f"{r.id}: {r.verdict}")
        lines.append(wrap.fill(r.statement))
        if r.conditions:
            lines.append(wrap.fill(f"conditions: {r.conditions}"))
        for exploration in r.explorations:
            lines.append(wrap.fill(exploration.summary()))
        for fact in r.facts:
            lines.append(wrap.fill(fact))
    checks = sum(r.statistical_checks for r in results)
    alpha = DEFAULT_POLICY.alpha
    lines.append("")
    lines.append(textwrap.fill(
        f"{len(results)} claim{'' if len(results) == 1 else 's'}, {checks} statistical checks, "
        f"each of size {alpha:g} and power "
        f"{DEFAULT_POLICY.power:g} against a {DEFAULT_POLICY.effect:.0%} error (where the budget "
        f"allows; each check reports its minimum detectable effect). Family-wise false-alarm "
        f"probability <= {checks * alpha * 1.001:.2g}. Seed {seed}; {elapsed:.0f} s.",
        width=100,
    ))
    return "\n".join(lines)


def _reproduce(args: argparse.Namespace, seed: int) -> str:
    words = ["python -m verify check", shlex.quote(args.target)]
    for option in ("scheme", "dist", "mode", "gain", "layout"):
        value = getattr(args, option)
        if value is not None:
            words.append(f"--{option} {value}")
    if args.api != "torch":
        words.append(f"--api {args.api}")
    if args.kwargs:
        words.append(f"--kwargs {shlex.quote(args.kwargs)}")
    words.append(f"--shape {{shape}} --seed {seed}")
    return " ".join(words)


def _resolve_target(name: str, api: str, kwargs_text: str | None):
    """``(target, catalog entry or None)`` for a catalog name or a user target."""
    from verify import catalog
    from verify.targets import parse_kwargs, user_target

    kwargs = parse_kwargs(kwargs_text)
    library = catalog.library_of(name)
    if library in catalog.LIBRARIES and ":" in name and not kwargs:
        found = catalog.load([library])
        if library in found.skipped:
            raise UsageError(found.skipped[library])
        try:
            entry = found.find(name)
        except KeyError:
            entry = None
        if entry is not None:
            return entry.build(), entry
    return user_target(name, api, kwargs), None


def _run_check(args: argparse.Namespace) -> int:
    from verify.check_progress import CheckProgress
    from verify.conformance import check
    from verify.schemes import InitSpec
    from verify.strategies import weight_shapes

    seed = args.seed if args.seed is not None else run_seed()
    target, entry = _resolve_target(args.target, args.api, args.kwargs)
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
                       reproduce=_reproduce(args, seed),
                       max_calls=entry.max_calls if entry is not None else DEFAULT_MAX_CALLS,
                       progress=progress)
    finally:  # also on an error or Ctrl-C, whose message then starts a clean line
        progress.finish()
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, default=str)
        print()
    else:
        print(report.table())
    return 0 if report.verdict is Verdict.PASS else 1


def _run_conformance(args: argparse.Namespace) -> int:
    from verify import catalog

    seed = args.seed if args.seed is not None else run_seed()
    libraries = None if "all" in args.library else list(dict.fromkeys(args.library))
    found = catalog.load(libraries)
    rows: list[dict] = []
    total = len(found.entries)
    for index, entry in enumerate(found.entries, 1):
        _progress(f"[{index}/{total}] {entry.name} ...")
        row = conformance_row(
            entry, seed=seed, examples=args.examples, timeout=args.timeout,
            fingerprint=not args.no_fingerprint,
            progress=lambda text, i=index, e=entry: _progress(f"[{i}/{total}] {e.name}: {text}"))
        rows.append(row)
        _progress(f"[{index}/{total}] {entry.name}: {row['verdict']} ({row['seconds']:.1f} s)")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    rows += skipped_rows(found.skipped)
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        print()
    else:
        print(render_matrix(rows))
    checked = [r for r in rows if r["verdict"] != "skipped"]
    return 0 if all(r["verdict"] == "pass" for r in checked) else 1


def _run_fingerprint(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else run_seed()
    target, entry = _resolve_target(args.target, args.api, args.kwargs)
    _progress(f"fingerprinting {target.name} ...")
    result = fingerprint_entry(entry, target, seed, args.timeout, args.layout)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        json.dump({**result.to_dict(), "seed": seed, "versions": versions()}, sys.stdout,
                  indent=2, default=str)
        print()
    else:
        print(render_fingerprint(result))
    return 0


def render_fingerprint(result) -> str:
    lines = [f"{result.name}: {result.describe()}", f"confidence: {result.confidence}"]
    if result.law is not None:
        law = result.law.to_dict()
        lines.append(f"variance law: {result.law.describe()}; goodness of fit "
                     f"p={law['fit_pvalue']:.3g}")
        for index, key in enumerate(("constant", "fan_in", "fan_out")):
            name = key if key == "constant" else f"{key}_coef"
            if not result.law.included[index]:
                lines.append(f"  {name:13} {'0':>10}  (dropped: indistinguishable from 0)")
                continue
            low, high = law[f"{key}_interval"]
            lines.append(f"  {name:13} {law[name]:10.5g}  95% [{low:.5g}, {high:.5g}]")
    if result.gain_interval:
        low, high = result.gain_interval
        lines.append(f"gain {result.gain:.5g}  95% [{low:.5g}, {high:.5g}], mode {result.mode}")
    family = result.family
    lines.append(f"distribution: {family.describe()} (kurtosis {family.kurtosis:.4g}, KS "
                 f"p={family.pvalue:.3g})")
    lines.append(f"mean: {result.mean.estimate:+.3g} sd (p={result.mean.pvalue:.3g}); "
                 f"independence: {result.independence.verdict} "
                 f"(p={result.independence.pvalue:.3g})")
    lines.append(f"{'shape':18} {'variance':>12} {'95% interval':>26} {'law':>12}")
    for s in result.shapes:
        predicted = ""
        if result.law is not None:
            fan_in, fan_out = result.law.reading.fans(s.out, s.inp, s.kernel)
            predicted = f"{result.law.predict(fan_in, fan_out):.5g}"
        lines.append(f"{'x'.join(map(str, s.shape)):18} {s.variance:12.5g} "
                     f"[{s.interval[0]:11.5g}, {s.interval[1]:11.5g}] {predicted:>12}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def _run_compare(args: argparse.Namespace) -> int:
    from verify.compare import compare, default_layers

    seed = args.seed if args.seed is not None else run_seed()
    first, entry_a = _resolve_target(args.target_a, args.api, args.kwargs)
    second, entry_b = _resolve_target(args.target_b, args.api, args.kwargs)
    shapes = (entry_a.shapes() if entry_a and entry_a.shapes else None,
              entry_b.shapes() if entry_b and entry_b.shapes else None)
    names = (first.name, second.name)
    layers = args.layer or default_layers(shapes, names)
    _progress(f"comparing {first.name} with {second.name} ...")
    result = compare(with_timeout(first, args.timeout), with_timeout(second, args.timeout),
                     layers=layers, seed=seed,
                     layouts=(args.layout or first.layout, args.layout or second.layout),
                     shapes=shapes, names=names)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        json.dump({**result.to_dict(), "seed": seed, "versions": versions()}, sys.stdout,
                  indent=2, default=str)
        print()
    else:
        print(result.render())
    return 0 if result.equivalent else 1


class _Throttled:
    """Progress for long loops: every step on a terminal, every tenth of a section in a log."""

    def __init__(self) -> None:
        self.section, self.shown = "", -1

    def __call__(self, section: str, done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if sys.stderr.isatty() or (section, tenth) != (self.section, self.shown):
            _progress(f"{section}: {done}/{total}")
        self.section, self.shown = section, tenth


def _run_measure(args: argparse.Namespace) -> int:
    from verify import measure

    seed = args.seed if args.seed is not None else run_seed()
    budget = measure.QUICK if args.quick else measure.Budget()
    if args.runs is not None:
        budget = dataclasses.replace(budget, runs=args.runs)
    if args.trials is not None:
        budget = dataclasses.replace(budget, power_trials=args.trials, peer_trials=args.trials)
    if args.no_explore:
        budget = dataclasses.replace(budget, explore=False)
    out = _writable(args.out)
    measure.load_mutants()  # fail now, not after minutes of work
    document = measure.measure(budget, seed=seed, progress=_Throttled())
    if sys.stderr.isatty():
        print(file=sys.stderr)
    try:
        write_json_atomically(out, document)
    except OSError as error:
        raise UsageError(f"cannot write {out}: {error.strerror}; the measurement is lost, "
                         "run again with another --out") from None
    if args.json:
        json.dump(document, sys.stdout, indent=2, default=str)
        print()
    else:
        print(measure.render(document))
        print(f"\nwritten to {out} ({document['seconds']:.0f} s, seed {seed})")
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from verify import report

    seed = args.seed if args.seed is not None else run_seed()
    out = _writable_directory(args.out)
    libraries = None if "all" in args.libraries else tuple(dict.fromkeys(args.libraries))
    settings = (report.Settings.quick_run(seed, libraries) if args.quick
                else report.Settings(seed=seed, libraries=libraries))
    settings = dataclasses.replace(settings, timeout=args.timeout)
    words = ["python -m verify report", f"--out {shlex.quote(args.out)}", f"--seed {seed}"]
    if args.quick:
        words.append("--quick")
    if libraries:
        words.append("--libraries " + " ".join(libraries))
    start = time.perf_counter()
    try:
        document = report.run(out, settings, command=" ".join(words))
    except KeyboardInterrupt:
        kept = ("the previous report there is intact" if (out / "index.html").exists()
                else "there was no report there before")
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"interrupted: nothing was written to {out}; {kept}", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start
    print(report.summary_table(document, Path(args.out), elapsed))
    print(f"\nreport written to {out / 'index.html'} (seed {seed}, {elapsed:.0f} s)")
    return 0


def _writable_directory(path_text: str):
    """The report directory, refused now (exit 2) if it cannot be written later."""
    import tempfile
    from pathlib import Path

    path = Path(path_text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path_text} is a file: give a directory")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"--out {path_text}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise UsageError(f"--out {path_text}: {existing} is not writable "
                         f"({error.strerror}); choose another directory") from None
    return path


def _writable(path_text: str):
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


def render_matrix(rows: Sequence[dict]) -> str:
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
        lines.append(f"{row['target']:{width}}  {row['verdict']:10} {claim[:44]:44} "
                     f"{shape:22} {'' if ratio is None else f'{ratio:.4g}'}")
        if row.get("error"):
            notes.append(f"{row['target']}: error: {row['error']}")
        if example:
            notes.append(f"{row['target']}: reproduce: {example['reproduce']}")
        if row.get("fingerprint"):
            notes.append(f"{row['target']}: fingerprint: {row['fingerprint']['summary']}")
            if row["fingerprint"].get("explanation"):
                notes.append(f"{row['target']}: {row['fingerprint']['explanation']}")
        if row.get("convention") and row["verdict"] != "pass":
            notes.append(f"{row['target']}: documented convention: {row['convention']}")
        if row["verdict"] == "skipped":
            notes.append(f"{row['target']}: skipped: {row['reason']}")
    counts = {v: sum(r["verdict"] == v for r in rows)
              for v in ("pass", "fail", "suspicious", "error", "skipped")}
    lines.append("")
    lines += [textwrap.fill(note, width=100, subsequent_indent="    ") for note in notes]
    lines.append("")
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from verify.threads import one_thread_per_process

    one_thread_per_process()  # a no-op after python -m verify, which did it before imports
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "claims":
            return _run_claims(args)
        if args.command == "check":
            return _run_check(args)
        if args.command == "conformance":
            return _run_conformance(args)
        if args.command == "fingerprint":
            return _run_fingerprint(args)
        if args.command == "compare":
            return _run_compare(args)
        if args.command == "measure":
            return _run_measure(args)
        if args.command == "report":
            return _run_report(args)
        raise UsageError(f"unknown command {args.command!r}")
    except (UsageError, ValueError, LibraryMissing) as error:
        # ValueError: bad VERIFY_SEED, unknown target, bad --kwargs, a bad spec
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
