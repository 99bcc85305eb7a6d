"""The report's sections. Each runs its part of the work with progress, writes its
figures (PNG) into the figure directory, and returns JSON-ready results with a
one-line summary.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from verify import claims as claims_module
from verify import measure
from verify.execute import Options, Unit, run_units
from verify.matrix import label
from verify.report import plots
from verify.report.progress import Progress
from verify.stats import DEFAULT_POLICY

FIGURE_DPI = 100
REPORT_BUDGET = measure.Budget(runs=400, power_trials=20, peer_trials=30, default_trials=0,
                               explore=False)
"""The statistics section's budget: about a third of ``python -m verify measure``'s
(whose stored run the README quotes), without the minutes-long exploration of each
mutant, so that the report stays within minutes."""
QUICK_CLAIMS = ("linear.mean", "lecun.variance", "he.variance", "he.variance.erratum",
                "uniform.moments", "glorot.uniform-bound", "glorot.uniform-bound.erratum",
                "init.fixed-variance-explodes", "residual.block", "residual.forward-growth",
                "meanfield.length-map", "finite-width.fluctuations", "selu.fixed-point",
                "orthogonal.isometry")
"""The claims of a --quick run: a cheap one of each kind (statistical, exact, depth,
errata). The slow ones (a training experiment, million-sample sweeps) wait for the
full run."""
QUICK_BUDGET = measure.Budget(runs=20, power_trials=1, peer_trials=2, default_trials=0,
                              explore=False)


@dataclass(frozen=True)
class Settings:
    """What a report run does; recorded in ``report.json``."""

    seed: int
    quick: bool = False
    libraries: tuple[str, ...] | None = None
    """Catalog libraries to check; None: every installed one."""
    keras_backends: tuple[str, ...] | None = ("all",)
    """The Keras backends the catalog runs on (the parity matrix); None: the default one."""
    dtypes: bool = True
    """Every dtype each entry takes (:mod:`verify.precision`); False: float32 only."""
    claims: tuple[str, ...] | None = None
    """Claim IDs to test; None: all."""
    claim_examples: int = claims_module.Context.max_examples
    conformance_examples: int = 6
    timeout: float = 60.0
    budget: measure.Budget = REPORT_BUDGET
    depth_quick: bool = False
    qq_shape: tuple[int, ...] = (64, 16)
    zoo: str | None = None
    """A stored model zoo run to show (``report --zoo DIR``, :mod:`verify.report.zoo`);
    None: no zoo table. The report never runs the zoo itself."""
    executor: Options = field(default_factory=Options)
    """Where the claims, the depth figures, the conformance entries, the measurements and
    the models' audits run side by side (:mod:`verify.execute`): by default an embedded
    Dask cluster of one single-threaded worker per core; ``Options(workers=0)`` runs them
    in this process, one after another. The results do not depend on it: each claim,
    figure and entry draws from its own seed."""

    @classmethod
    def quick_run(cls, seed: int, libraries: tuple[str, ...] | None = None) -> Settings:
        """A smoke run of every section and figure: the quick claims, PyTorch's catalog
        (unless ``libraries`` says otherwise), one example each, the smallest budgets."""
        return cls(seed=seed, quick=True, libraries=libraries or ("torch",),
                   claims=QUICK_CLAIMS, claim_examples=1, keras_backends=None, dtypes=False,
                   conformance_examples=1,
                   budget=QUICK_BUDGET,
                   depth_quick=True, executor=Options(workers=0))

    def to_dict(self) -> dict:
        found = dataclasses.asdict(self)
        found["budget"] = dataclasses.asdict(self.budget)
        found["executor"] = {"workers": self.executor.workers,
                             "scheduler": self.executor.scheduler}
        found["policy"] = {"alpha": DEFAULT_POLICY.alpha, "power": DEFAULT_POLICY.power,
                           "effect": DEFAULT_POLICY.effect,
                           "suspicious": DEFAULT_POLICY.suspicious}
        return found


@dataclass
class Section:
    """What one section returns."""

    name: str
    items: int
    summary: str
    data: dict
    figures: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


def _save(figure, directory: Path, name: str, title: str, caption: str) -> dict:
    return _save_png(_png(figure), directory, name, title, caption)


def _save_png(data: bytes, directory: Path, name: str, title: str, caption: str) -> dict:
    """A figure drawn anywhere (a worker on another host, say) written into the report."""
    path = directory / f"{name}.png"
    path.write_bytes(data)
    with Image.open(path) as image:
        width, height = image.size
    return {"file": f"figures/{path.name}", "title": title, "caption": caption,
            "width": width, "height": height}


def _counts(values) -> str:
    return ", ".join(f"{n} {v}" for v, n in Counter(values).items())


# --- claims ---------------------------------------------------------------------------------

CLAIM_FIGURES = {
    "init.nonlinear-recommendations": "depth-second-moments",
    "meanfield.length-map": "depth-second-moments",
    "residual.depth-independence": "residual-gradient-ratio",
    "residual.forward-growth": "residual-gradient-ratio",
    "finite-width.fluctuations": "finite-width-fluctuations",
}
"""Claims whose evidence is a depth experiment; the others with relative checks link
to the claims-evidence figure."""
ERRATUM = ".erratum"


def key_numbers(result: claims_module.ClaimResult) -> dict | None:
    """The headline check: the counterexample's worst check if any, else the check with
    the smallest p-value over every example."""
    found = None
    for exploration in result.explorations:
        example = exploration.worst
        if example is None:
            continue
        check = example.worst
        rank = (exploration.counterexample is None, check.pvalue)
        if found is None or rank < found[0]:
            found = (rank, example, check)
    if found is None:
        return None
    _, example, check = found
    data = check.to_dict()
    return {"check": check.name, "case": example.describe(), "estimate": data["estimate"],
            "expected": data["expected"], "interval": data["interval"], "n": check.n,
            "pvalue": data["pvalue"], "relative_error": data["relative_error"],
            "min_detectable_effect": data["min_detectable_effect"],
            "effect_unit": check.effect_unit}


def _has_relative_checks(result: claims_module.ClaimResult) -> bool:
    return any(c.effect_unit == "relative" and math.isfinite(c.relative_error)
               for e in result.explorations for x in e.examples for c in x.results)


STORE: ContextVar = ContextVar("report_store", default=None)
"""The results store of the report being run (:func:`verify.report.run`), or None: each
item's result goes there as it ends, and ``--resume`` takes those of unchanged items."""


class UnitFailed(RuntimeError):
    """An item of a section raised: the report stops, as it would in this process."""


def on_executor(tasks: Sequence[tuple[str, Callable, dict]], settings: Settings,
                progress: Progress, describe: Callable[[object], str] = lambda _: ""
                ) -> list:
    """Run ``function(**arguments)`` for each ``(name, function, arguments)`` as units of
    ``settings.executor`` (:func:`verify.execute.run_units`: in this process for
    ``--workers 0`` or a single item, else on a Dask cluster), each with Paddle imported
    first (:func:`paddle_first`). Results come back in the order of ``tasks``, progress is
    told as each ends; an item that raises stops the report with :class:`UnitFailed`."""
    from verify.execute.units import report_unit

    units = [Unit(name, report_unit, {"function": function, "arguments": arguments})
             for name, function, arguments in tasks]

    def finished(record) -> None:
        if record.status == "done":
            progress.done(record.key, describe(record.result), seconds=record.seconds)

    records = run_units(units, settings.executor, store=STORE.get(),
                        progress=progress.executor, finished=finished, last=False)
    for record in records:
        if record.status != "done":
            raise UnitFailed(f"{record.key}: {record.error}")
    return [record.result for record in records]


def paddle_first() -> None:
    """Paddle first where it is installed: a process may audit TensorFlow's layers and then
    Paddle's, and Paddle imported after TensorFlow crashes the process (see
    :data:`verify.catalog.ISOLATED`); this order works. Every process that runs a report's
    items calls it: this one, and each unit on a worker (:func:`on_executor`)."""
    import importlib.util

    if importlib.util.find_spec("paddle") is not None:
        try:
            import paddle  # noqa: F401
        except Exception:  # a broken install: its entries say why when they run
            pass


def _run_claim(claim_id: str, ctx: claims_module.Context) -> claims_module.ClaimResult:
    return claims_module.run_claim(claims_module.CLAIMS[claim_id], ctx)


def run_claims(settings: Settings, progress: Progress, figures: Path) -> Section:
    selected = claims_module.select(list(settings.claims) if settings.claims else None)
    progress.start("claims", len(selected))
    ctx = claims_module.Context(seed=settings.seed, max_examples=settings.claim_examples)
    results = on_executor([(claim.id, _run_claim, {"claim_id": claim.id, "ctx": ctx})
                           for claim in selected], settings, progress,
                          lambda result: result.verdict)
    errata: dict[str, list[str]] = {}
    for result in results:
        if result.id.endswith(ERRATUM):
            errata.setdefault(result.id[:-len(ERRATUM)], []).extend(result.facts)
    rows = []
    for result in results:
        figure = CLAIM_FIGURES.get(result.id)
        if figure is None and _has_relative_checks(result):
            figure = "claims-evidence"
        rows.append({**result.to_dict(), "key_numbers": key_numbers(result),
                     "summary": result.key_numbers(), "figure": figure,
                     "errata": errata.get(result.id, []),
                     "statistical_checks": result.statistical_checks})
    written = {}
    figure = plots.claims_evidence(results)
    if figure is not None:
        written["claims-evidence"] = _save(
            figure, figures, "claims-evidence", "Claims: measured against expected",
            "Every relative check of every example hypothesis drew for each claim: the "
            "measured value over the claimed one, minus 1, with its 95% interval.")
    not_run = [c for c in claims_module.CLAIMS if c not in {r.id for r in results}]
    return Section("claims", len(results), _counts(r.verdict for r in results),
                   {"claims": rows, "not_run": not_run}, written)


# --- depth experiments ------------------------------------------------------------------------

DEPTH_CAPTIONS = {
    "depth-second-moments": (
        "Variance against depth, by activation and scheme",
        "Forward q_l/q_1 and backward gradient second moments through plain nets, for "
        "each activation with the LeCun (= Glorot for square layers) and He schemes; "
        "shaded: 95% intervals over networks; dashed: the mean-field theory."),
    "residual-gradient-ratio": (
        "Residual gradient ratio against depth, by alpha",
        "E||dL/dz_l||^2 / E||dL/dz_L||^2 through residual ReLU blocks scaled by alpha, "
        "against (1 + alpha^2)^(L-l), and the plain net for comparison."),
    "finite-width-fluctuations": (
        "Finite-width fluctuations",
        "Var[log ||x_L||^2/||x_0||^2] of He-initialized ReLU nets against sum 1/n_l: "
        "measured, the exact law, and the 5 sum 1/n_l rule."),
}


def _depth_figure(name: str, seed: int, kwargs: dict) -> bytes:
    """The PNG of depth figure ``name`` (the report writes it: a worker may run elsewhere)."""
    from verify.figures import FIGURES

    with torch.no_grad():
        return _png(FIGURES[name](seed, **kwargs))


def run_depth(settings: Settings, progress: Progress, figures: Path) -> Section:
    from verify.figures import FIGURES, QUICK

    progress.start("depth figures", len(FIGURES))
    chosen = {name: QUICK[name] if settings.depth_quick else {} for name in FIGURES}
    tasks = [(name, _depth_figure, {"name": name, "seed": settings.seed,
                                    "kwargs": chosen[name]}) for name in FIGURES]
    written = {name: {**_save_png(data, figures, name, *DEPTH_CAPTIONS[name]),
                      "settings": chosen[name] or "default"}
               for name, data in zip(FIGURES, on_executor(tasks, settings, progress),
                                     strict=True)}
    return Section("depth figures", len(written), f"{len(written)} figures",
                   {"settings": "quick" if settings.depth_quick else "default"}, written)


# --- conformance ------------------------------------------------------------------------------

def _conformance_row(library: str, backend: str, index: int, dtype: str, seed: int,
                     examples: int, timeout: float) -> dict:
    """The row of the ``index``-th catalog entry of ``library`` on ``backend``, asked for
    ``dtype`` (in a worker process: entries hold closures, so the worker loads the catalog
    itself)."""
    from verify import catalog
    from verify.matrix import conformance_row

    found = catalog.load([library], backends=[backend] if backend else None)
    entry = [e for e in found.entries if e.library == library and e.backend == backend][index]
    return conformance_row(entry, seed=seed, examples=examples, timeout=timeout, dtype=dtype)


def run_conformance(settings: Settings, progress: Progress, figures: Path) -> Section:
    from verify import catalog
    from verify.matrix import skipped_rows

    backends = list(settings.keras_backends) if settings.keras_backends else None
    found = catalog.load(list(settings.libraries) if settings.libraries else None,
                         backends=backends)
    positions: dict[tuple[str, str], int] = {}
    tasks = []
    for entry in found.entries:
        key = (entry.library, entry.backend)
        index = positions.get(key, 0)
        positions[key] = index + 1
        for dtype in (entry.dtypes if settings.dtypes else ("float32",)):
            name = label({"target": entry.name, "backend": entry.backend, "dtype": dtype})
            tasks.append((name, _conformance_row,
                          {"library": entry.library, "backend": entry.backend,
                           "index": index, "dtype": dtype, "seed": settings.seed,
                           "examples": settings.conformance_examples,
                           "timeout": settings.timeout}))
    progress.start("conformance", len(tasks))
    # Each entry's seed and shapes come from the run seed and the entry: the rows do not
    # depend on which process checks them.
    rows = on_executor(tasks, settings, progress, lambda row: row["verdict"])
    rows += skipped_rows(found.skipped)
    libraries = sorted({e.library for e in found.entries})
    summary = _counts(r["verdict"] for r in rows if r["verdict"] != "skipped")
    if found.skipped:
        summary += f"; not installed: {', '.join(found.skipped)}"
    return Section("conformance", len(tasks), summary,
                   {"libraries": libraries, "skipped": found.skipped, "rows": rows})


# --- deviations -------------------------------------------------------------------------------

def _qq_cases(settings: Settings, rows: list[dict]) -> tuple[list, list[dict], str]:
    """Distribution deviations: conformance entries whose fingerprint names another
    family than the documented one, and the mutants that keep the variance but break the
    law."""
    from verify import catalog

    cases, described = [], []
    other_law = [r for r in rows if r.get("fingerprint") and r.get("claimed_distribution")
                 and r["fingerprint"]["distribution"] != r["claimed_distribution"]]
    if other_law:
        backends = sorted({r["backend"] for r in other_law if r.get("backend")})
        found = catalog.load(sorted({r["library"] for r in other_law}),
                             backends=backends or None)
        for row in other_law:
            entry = found.find(row["target"], row.get("backend", ""))
            shape = tuple(row["counterexample"]["shape"])
            if math.prod(shape) < 2000 and row.get("fingerprint"):
                shape = tuple(row["fingerprint"]["shapes"][0]["shape"])
            cases.append((label(row), f"claims {row['claim']}",
                          entry.target(row.get("dtype", "float32")),
                          entry.claim, shape))
            described.append({"target": label(row), "kind": "conformance",
                              "shape": list(shape)})
    note = ""
    try:
        mutants = [m for m in measure.load_mutants() if m.breaks.startswith("documented law")]
    except measure.MeasurementUnavailable as error:
        mutants, note = [], str(error)
    for mutant in mutants:
        cases.append((f"mutant {mutant.name}", mutant.bug, mutant, mutant.claim,
                      settings.qq_shape))
        described.append({"target": mutant.name, "kind": "mutant", "bug": mutant.bug,
                          "claim": mutant.claim.describe(), "shape": list(settings.qq_shape)})
    return cases, described, note


def run_deviations(settings: Settings, progress: Progress, figures: Path,
                   rows: list[dict]) -> Section:
    deviating = [r for r in rows if r.get("fingerprint")
                 and all("claimed_variance" in s for s in r["fingerprint"]["shapes"])
                 and r["fingerprint"]["shapes"]]
    progress.start("deviations", len(deviating) + 1)
    written = {}
    for row in deviating:
        progress.item(label(row))
        name = f"conformance-{slug(label(row))}"
        written[name] = _save(
            plots.conformance_variance(row), figures, name,
            f"{label(row)}: measured against claimed variance",
            f"The variance {label(row)} draws at each fingerprint shape (95% interval) "
            f"against the variance its documentation claims ({row['claim']}). Fingerprint: "
            f"{row['fingerprint']['summary']}.")
        row["figure"] = name
        progress.done(label(row))
    progress.item("Q-Q plots")
    cases, described, note = _qq_cases(settings, rows)
    figure = plots.qq_plots(cases, seed=settings.seed)
    if figure is not None:
        written["qq-distributions"] = _save(
            figure, figures, "qq-distributions", "Q-Q plots of distribution deviations",
            "Sample quantiles against the claimed law's, standardized by the claimed sd, for "
            "every catalog entry whose fingerprint names another distribution than its "
            "documentation, and for the mutants of tests/mutants.py that keep the claimed "
            "variance but draw from another law.")
        for row in rows:
            if any(d["target"] == label(row) for d in described):
                row["qq_figure"] = "qq-distributions"
    progress.done("Q-Q plots")
    summary = f"{len(deviating)} variance figures, Q-Q plots of {len(cases)} initializers"
    return Section("deviations", len(deviating) + 1, summary,
                   {"variance_figures": [label(r) for r in deviating], "qq": described,
                    "qq_unavailable": note}, written)


# --- statistics -------------------------------------------------------------------------------

def _null(budget: measure.Budget, seed: int) -> dict:
    return measure.null_calibration(budget.runs, seed=seed)


def _power(budget: measure.Budget, seed: int) -> dict:
    return measure.power_curve(budget.power_trials, seed=seed)


def _peers(budget: measure.Budget, seed: int) -> dict:
    try:
        return measure.peer_comparison(budget.peer_trials, seed=seed,
                                       default_trials=budget.default_trials,
                                       explore=budget.explore)
    except measure.MeasurementUnavailable as error:
        return {"unavailable": str(error)}


def run_statistics(settings: Settings, progress: Progress, figures: Path) -> Section:
    budget = settings.budget
    progress.start("statistics", 3)
    data: dict = {"budget": dataclasses.asdict(budget)}

    # The three measurements draw from their own seeds: they run side by side in the
    # report's executor (the peer comparison, the longest, first).
    arguments = {"budget": budget, "seed": settings.seed}
    tasks = [("peer comparison", _peers, arguments), ("null calibration", _null, arguments),
             ("power curve", _power, arguments)]
    peers, data["null"], data["power"] = on_executor(
        tasks, settings, progress,
        lambda found: f"unavailable: {found['unavailable']}" if "unavailable" in found else "")
    if "unavailable" in peers:
        data["peers"], data["peers_unavailable"] = None, peers["unavailable"]
    else:
        data["peers"] = peers
    battery = data["null"]["battery_single_stage"]
    written = {"size-and-power": _save(
        plots.size_and_power(data), figures, "size-and-power",
        "Size and power of the checks",
        "Left: false-alarm rates of each test of the battery on correct initializers, at a "
        "loose level where alarms can be counted, against nominal. Right: the probability "
        "that the default check detects a relative variance error, against theory.")}
    if data["peers"] is not None:
        written["peer-comparison"] = _save(
            plots.peer_comparison(data["peers"]), figures, "peer-comparison",
            "Peer comparison",
            "Left: how often each approach detects each mutant of tests/mutants.py "
            "(PyTorch's KS test, Keras' std tolerance, this project's battery at their "
            "budgets and at its own). Right: detection of a pure variance error.")
    mde = data["power"]["min_detectable_error"]
    summary = (f"false alarms {battery['rate']:.3f} (nominal <= {battery['nominal']:g}); "
               f"power 0.99 at {_signed(mde['up'])} / {_signed(mde['down'])} variance")
    return Section("statistics", 3, summary, data, written)


def _signed(value: float | None) -> str:
    return "not reached" if value is None else f"{value:+.2%}"


def family_wise(claims: list[dict], rows: list[dict]) -> dict:
    """How many statistical checks decided the verdicts, and the Bonferroni bound on the
    probability that any of them alarmed falsely."""
    per_check = DEFAULT_POLICY.alpha  # sequential looks and resampling spend at most alpha
    claim_checks = sum(c["statistical_checks"] for c in claims)
    conformance_checks = sum(r.get("checks", 0) for r in rows)
    total = claim_checks + conformance_checks
    return {"claim_checks": claim_checks, "conformance_checks": conformance_checks,
            "checks": total, "per_check_size": DEFAULT_POLICY.alpha,
            "per_check_bound_with_resampling": per_check,
            "family_wise_bound": min(1.0, total * per_check),
            "power": DEFAULT_POLICY.power, "effect": DEFAULT_POLICY.effect}


def timed(run, *args) -> Section:
    start = time.perf_counter()
    section = run(*args)
    section.seconds = round(time.perf_counter() - start, 2)
    return section
