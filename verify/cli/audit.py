"""``python -m verify audit``: every tensor of a model against its layer's default, its
config and its paper, and the anomalies that need no spec."""

from __future__ import annotations

import argparse
import json
import sys
import time
from types import SimpleNamespace

from verify.cli.options import (
    UsageError,
    executor_options,
    integer,
    positive_seconds,
    upstream_option,
    writable_directory,
)
from verify.cli.output import end_progress, progress
from verify.cli.schema import document, print_document
from verify.execute.store import code_digest
from verify.seeding import DEFAULT_SEED, run_seed
from verify.versions import versions

NAME = "audit"
APIS = ("torch", "keras", "nnx", "linen", "mlx", "paddle", "tinygrad", "arrays", "tf_keras",
        "equinox", "haiku")
DTYPES = ("float32", "float64", "float16", "bfloat16")
DEFAULT_EXAMPLES = 5
ZOO_EXAMPLES = 2
"""--examples with --zoo (:data:`verify.audit.zoo.EXAMPLES`)."""
ZOOS = ("transformers",)
LIBRARIES = ("torch", "transformers", "jax", "flax", "keras", "mlx", "tinygrad")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="audit every tensor of a model: defaults, config, paper, anomalies",
        description="Build TARGET (transformers:<ModelClass>, a framework layer such as "
        "torch:nn.MultiheadAttention, or package.module:attribute, a model builder) with "
        "seeded builds, and test every parameter and buffer against its expected law (a spec "
        "file, the built-in spec of a transformers class, or its layer's documented default) "
        "and for anomalies: non-finite, uninitialized, constant, identical or correlated "
        "tensors, tensors left on the default, framework fans that differ from the semantic "
        "fans, seeding, reloading. With --zoo transformers, every architecture of the "
        "installed transformers that builds from a small config, one unit each on the "
        "executor. Exit 0: no finding; 1: findings; 2: bad usage or a builder that fails.",
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET")
    parser.add_argument("--zoo", choices=ZOOS, default=None,
                        help="audit every architecture of this library's auto mapping, each "
                        "at a small config of its own (instead of TARGETs)")
    parser.add_argument("--only", nargs="+", metavar="PATTERN", default=None,
                        help="with --zoo: only the architectures whose class name or model "
                        "type matches one of these shell-style patterns ('GPT2*', 'llama')")
    parser.add_argument("--api", choices=APIS, default=None,
                        help="the builder's api (default: torch; catalog names know theirs)")
    parser.add_argument("--config", metavar="JSON",
                        help="transformers config fields over the starting config, a JSON "
                        "object such as '{\"n_layer\": 4}'")
    parser.add_argument("--kwargs", metavar="JSON",
                        help="the builder's (or layer constructor's) keyword arguments")
    parser.add_argument("--spec", metavar="FILE", help="a TOML spec of expected laws")
    parser.add_argument("--waive", metavar="FILE",
                        help="a TOML list of known findings, shown as waived")
    parser.add_argument("--dtype", choices=DTYPES, default=None,
                        help="build with this default float dtype (torch, keras and "
                        "tf_keras)")
    parser.add_argument("--seed", type=integer(0, "a non-negative integer"), default=None,
                        help=f"the run's seed (default: $VERIFY_SEED, else {DEFAULT_SEED})")
    parser.add_argument("--examples", type=integer(0, "a non-negative integer"),
                        default=None,
                        help="configs hypothesis draws around the starting config "
                        f"(transformers targets; default: {DEFAULT_EXAMPLES}, with --zoo "
                        f"{ZOO_EXAMPLES}; 0: none)")
    parser.add_argument("--timeout", type=positive_seconds, default=60.0,
                        help="seconds one build may take (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    upstream_option(parser)
    executor_options(parser, NAME)


def _object(text: str | None, option: str) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{option} is not valid JSON ({error.msg} at character {error.pos}): "
                         "give an object such as '{\"n_layer\": 2}'") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object, got {type(value).__name__}")
    return value


class _Progress:
    """The audit's stage on stderr: redrawn on a terminal, one line a second in a log."""

    def __init__(self, target: str, index: int, count: int) -> None:
        self.prefix = f"audit {target}" + (f" ({index}/{count})" if count > 1 else "")
        self.stage, self.shown = "", 0.0
        self.every = 0.1 if sys.stderr.isatty() else 1.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage or now - self.shown >= self.every:
            progress(f"{self.prefix}: {stage} {done}/{total}")
            self.stage, self.shown = stage, now


def run(args: argparse.Namespace) -> int:
    from verify.audit import BuildError, audit_model, load_waivers
    from verify.audit.dtypes import default_dtype
    from verify.audit.engine import AuditResult

    if args.zoo:
        return run_zoo(args)
    if not args.targets:
        raise UsageError("give a TARGET (transformers:GPT2Model, torch:nn.Linear, "
                         "package.module:attribute) or --zoo transformers")
    if args.only:
        raise UsageError("--only selects architectures of --zoo: add --zoo transformers, or "
                         "name the TARGETs to audit")
    if args.examples is None:
        args.examples = DEFAULT_EXAMPLES
    seed = args.seed if args.seed is not None else run_seed()
    config = _object(args.config, "--config")
    kwargs = _object(args.kwargs, "--kwargs")
    spec = None
    if args.spec:
        from verify.audit.spec import load_spec

        spec = load_spec(args.spec)  # SpecError is a ValueError: one line, exit 2
    waivers = load_waivers(args.waive) if args.waive else ()
    if len(args.targets) > 1:
        return _run_many(args, seed=seed, config=config, kwargs=kwargs)
    results = []
    for index, target in enumerate(args.targets, 1):
        try:
            with default_dtype(args.api or _api_of(target), args.dtype):
                result = audit_model(target, api=args.api, spec=spec, config=config,
                                     kwargs=kwargs, waivers=waivers, seed=seed,
                                     examples=args.examples, timeout=args.timeout,
                                     progress=_Progress(target, index, len(args.targets)))
        except BuildError as error:
            end_progress()
            if len(args.targets) == 1:
                raise UsageError(str(error)) from None
            result = AuditResult(target=target, api=args.api or _api_of(target), seed=seed,
                                 error=str(error))
        end_progress()
        results.append(result)
        if not args.json:
            print(result.table())
            print()
    if args.upstream is not None:
        from verify.upstream.audit import reports
        from verify.upstream.report import write

        found = [report for result in results if result.verdict == "fail"
                 for report in reports(result, api=args.api, kwargs=kwargs, config=config,
                                          dtype=args.dtype)]
        written = write(found, args.upstream, progress=progress)
        end_progress()
        progress(f"{len(written)} bug reports in {args.upstream}")
        end_progress()
    if args.json:
        print_document(document(_fields(results), seed=seed, libraries=_libraries(results)))
    if any(r.verdict == "error" for r in results):
        return 2  # a builder that fails; the others' results are still printed
    return 1 if any(r.verdict == "fail" for r in results) else 0


class StoredAudit:
    """An audit's result as a unit returned it (JSON and its table)."""

    def __init__(self, data: dict, table: str) -> None:
        self.data, self._table = data, table
        self.target, self.api, self.seed = data["target"], data["api"], data["seed"]
        self.verdict, self.replay = data["verdict"], data.get("replay") or ""
        self.config = data.get("config") or {}

    @property
    def findings(self) -> list:
        from verify.audit.findings import Finding

        fields = ("kind", "tensors", "detail", "expected", "measured", "numbers", "citation",
                  "config", "replay", "waived")
        return [Finding(**{k: (tuple(f[k]) if k == "tensors" else f[k]) for k in fields
                           if k in f}) for f in self.data.get("findings", ())]

    def to_dict(self) -> dict:
        return self.data

    def table(self) -> str:
        return self._table


def _run_many(args: argparse.Namespace, *, seed: int, config: dict, kwargs: dict) -> int:
    """Several models: one unit each, on the executor (:mod:`verify.execute`)."""
    from verify.execute import Options, Unit, run_units
    from verify.execute.store import Store
    from verify.execute.units import audit_unit

    units = [Unit(target, audit_unit, {
        "target": target, "api": args.api, "config": config, "kwargs": kwargs,
        "spec": args.spec, "waive": args.waive, "seed": seed, "examples": args.examples,
        "timeout": args.timeout, "dtype": args.dtype}) for target in args.targets]
    libraries = ("torch", *_libraries([SimpleNamespace(api=args.api or _api_of(t), target=t)
                                       for t in args.targets]))
    context = {"seed": seed, "code": code_digest(), "versions": versions(*libraries)}
    store = Store(writable_directory(args.out), command=NAME, context=context,
                  resume=args.resume)
    records = run_units(units, Options.from_args(args, libraries), store=store,
                        progress=progress)
    end_progress()
    results = []
    for unit, record in zip(units, records, strict=True):
        if record.status == "done":
            results.append(StoredAudit(record.result["result"], record.result["table"]))
        else:
            results.append(StoredAudit({"target": unit.key, "api": args.api or "torch",
                                        "seed": seed, "verdict": "error",
                                        "error": record.error, "findings": []},
                                       f"audit {unit.key}: ERROR {record.error}"))
    for result in results:
        if not args.json:
            print(result.table())
            print()
    if args.upstream is not None:
        from verify.upstream.audit import reports
        from verify.upstream.report import write

        found = [report for result in results if result.verdict == "fail"
                 for report in reports(result, api=args.api, kwargs=kwargs, config=config,
                                          dtype=args.dtype)]
        written = write(found, args.upstream, progress=progress)
        progress(f"{len(written)} bug reports in {args.upstream}")
        end_progress()
    if args.json:
        print_document(document(_fields(results), seed=seed, libraries=_libraries(results)))
    if any(r.verdict == "error" for r in results):
        return 2
    return 1 if any(r.verdict == "fail" for r in results) else 0


def _api_of(target: str) -> str:
    prefix = target.partition(":")[0]
    return {"transformers": "torch"}.get(prefix, prefix if prefix in APIS else "torch")


def _libraries(results) -> tuple[str, ...]:
    """The distributions the audited models were built with, besides torch."""
    wanted = {"keras": ("keras", "jax"), "nnx": ("jax", "flax"), "linen": ("jax", "flax"),
              "mlx": ("mlx",), "paddle": ("paddlepaddle",), "tinygrad": ("tinygrad",),
              "tf_keras": ("tf_keras", "tensorflow"), "equinox": ("jax", "equinox"),
              "haiku": ("jax", "dm-haiku")}
    names = [name for r in results for name in wanted.get(r.api, ())]
    if any(r.target.startswith("transformers:") for r in results):
        names.append("transformers")
    return tuple(dict.fromkeys(names))


def _fields(results) -> dict:
    verdicts = [r.verdict for r in results]
    verdict = "error" if "error" in verdicts else ("fail" if "fail" in verdicts else "pass")
    if len(results) == 1:
        return {"verdict": verdict, **results[0].to_dict()}
    return {"verdict": verdict, "audits": [r.to_dict() for r in results]}


ZOO_OUT = "reports/runs/audit-zoo"
"""--out with --zoo, unless given: apart from the store of several TARGETs."""
ZOO_ALONE = ("api", "config", "kwargs", "spec", "waive", "dtype", "upstream")
"""Options of single audits that --zoo does not take: each architecture has its own
starting config and spec."""


def run_zoo(args: argparse.Namespace) -> int:
    """``audit --zoo LIBRARY``: one unit per architecture on the executor, streamed to
    ``--out``; exit 1 when an architecture has findings or its audit broke."""
    from verify.audit import zoo
    from verify.execute import Options, Unit, run_units
    from verify.execute.store import Store, write_json
    from verify.execute.units import zoo_unit

    if args.targets:
        raise UsageError(f"--zoo {args.zoo} audits every architecture: drop the TARGETs "
                         f"({' '.join(args.targets)}), or select with --only PATTERN")
    for option in ZOO_ALONE:
        if getattr(args, option) not in (None, False):
            raise UsageError(f"--{option} does not apply to --zoo: each architecture is "
                             "audited at its own starting config, against its own spec")
    from verify.adapters import require

    require("transformers")  # LibraryMissing: one line, exit 2
    start = time.perf_counter()
    seed = args.seed if args.seed is not None else run_seed()
    examples = ZOO_EXAMPLES if args.examples is None else args.examples
    found = zoo.architectures(args.zoo)
    selected = zoo.select(found, args.only)  # ValueError: one line, exit 2
    units = [Unit(f"transformers:{name}", zoo_unit,
                  {"model_class": name, "seed": seed, "examples": examples,
                   "timeout": args.timeout}) for name, _ in selected]
    libraries = ("transformers", "torch")
    options = Options.from_args(args, libraries)
    out = ZOO_OUT if args.out == f"reports/runs/{NAME}" else args.out  # not the targets'
    store = Store(writable_directory(out), command="audit --zoo", resume=args.resume,
                  context={"seed": seed, "code": code_digest(),
                           "versions": versions(*libraries)})
    records = run_units(units, options, store=store, progress=progress)
    end_progress()
    rows = []
    for (name, _), record in zip(selected, records, strict=True):
        if record.status == "done":
            rows.append(record.result)
        else:
            rows.append({"architecture": name, "target": f"transformers:{name}",
                         "verdict": "error", "reason": record.error, "expected": None,
                         "spec": None, "builds": 0, "tensors": 0, "explored": 0,
                         "findings": [], "replay": None, "elapsed": record.seconds})
    summary = zoo.summary(rows, enumerated=len(found),
                          wall_seconds=time.perf_counter() - start)
    failed = any(row["verdict"] in ("fail", "error") for row in rows)
    result = document({"verdict": "fail" if failed else "pass", "zoo": summary,
                       "architectures": rows}, seed=seed, libraries=libraries)
    write_json(store.directory / "zoo.json", result)  # for report --zoo: the whole run
    if args.json:
        print_document(result)
    else:
        print(zoo.render(rows, summary))
    return 1 if failed else 0
