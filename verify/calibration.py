"""Calibration at scale: the false-alarm rate of each test of the battery, observed over
many null checks (correct implementations), at levels down to 1e-4 and below.

A null check runs ``check``'s battery (:func:`verify.conformance.check_shape`: mean,
variance, support, shape, independence) on a correct implementation at one shape, with
the default policy, and records each test's p-value at the look the check stopped at (the
last one: under the claim an earlier look stops with probability below 1e-9). Every
level is then read from the same runs: a test alarms at level ``a`` when its p-value is
below ``a``, and the battery when any test's is. Each rate comes with its exact binomial
(Clopper-Pearson) interval, read against the nominal rate ``a`` (for the battery, the
Bonferroni bound ``5 a``).

To observe rates of 1e-4 and below takes 10^5 checks and more, and a check at the
default sizes costs 0.1 to 1 s. So the checks come in two tiers (:data:`TIERS`):

* ``small``, the bulk: Gaussian claims (the NumPy and PyTorch references and
  ``torch.nn.init``'s normal initializers) on 4,096 to 9,216 entries, where the battery
  makes one look and every null law but one is exact: the t-test of the mean and the
  chi-square law of the variance are exact for Gaussian samples, the Kolmogorov-Smirnov
  statistic is exact (one sort, below 65,536 entries) and so is its ``kstwo`` law (below
  10,000 entries), and the support test uses the exact law of the extremes (its two
  extremes combined by Bonferroni: a size of ``a - a^2 / 4`` at most). The independence
  test alone uses an asymptotic law (``sqrt(m) r`` standard normal, for thousands of pairs)
  and combines its sub-tests by Bonferroni. A check takes a few milliseconds.
* ``default``: the implementations and shapes of :func:`verify.measure.null_calibration`
  (the references and conforming ``torch.nn.init`` entries, Gaussian, uniform and
  truncated normal, from 1x300 to 16x16x2x2x2) at the default sample sizes, where the
  laws are those a user's check meets: kurtosis-corrected asymptotic variance laws for the
  non-Gaussian claims, the conservative grid KS with its limiting law.

The checks are run by the executor (:mod:`verify.execute`) in batches: one unit is a batch
of consecutive checks of one tier, its seed derived from the run seed, the tier and the
batch index (never from the order units run in), each check's seed from the unit's seed and
its place in the batch. The p-values are stored per check (``--store``), so that every
level, and a later ``--resume``, reads the same runs.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from verify.seeding import derive_seed

BATTERY = ("mean", "variance", "support", "shape", "independence")
STANDARD_LEVELS = (1e-2, 1e-3, 1e-4)
"""Always reported, reached or not."""
MIN_EXPECTED = 10
"""A level is *reached* when the nominal rate expects at least this many alarms among the
runs: then the 95% interval pins the rate within about a factor of two."""
CONFIDENCE = 0.95


@dataclass(frozen=True)
class NullLaw:
    """How a test's p-value is computed in a tier: ``kind`` is ``exact`` or ``asymptotic``
    (the rate should equal the level: read both ways) or ``conservative`` (a bound: the
    rate may only fall below the level)."""

    kind: str
    law: str


@dataclass(frozen=True)
class NullCheck:
    """One null check: each test's p-value, the final verdict, the entries looked at."""

    pvalues: tuple[float, ...]
    verdict: str
    entries: int


@dataclass(frozen=True)
class Tier:
    """A population of null checks: what they are, how many per unit, and how to run the
    ``index``-th with a given seed."""

    name: str
    description: str
    tests: tuple[str, ...]
    laws: Mapping[str, NullLaw]
    batch: int
    """Checks per unit (a few seconds of work)."""
    run: Callable[[int, int], NullCheck]
    cases: Callable[[], dict]
    """The implementations, shapes and sizes it cycles through (JSON-ready)."""


# --- the tiers ------------------------------------------------------------------------------

SMALL_SHAPES = ((64, 32), (16, 8, 3, 3), (33, 17, 5), (20, 20), (1, 300), (300, 1),
                (8, 3, 5, 5), (3, 5), (2, 2, 2, 2, 2))
SMALL_SAMPLES = (4096, 8192)
"""Entries asked of a small check (rounded up to whole calls: at most 9,216 entries, one
look, below the 10,000 entries from which the KS p-value takes the limiting law)."""
GAUSSIAN_TORCH = ("torch:kaiming_normal_", "torch:xavier_normal_")


@functools.lru_cache(maxsize=1)
def small_implementations() -> tuple:
    """Correct implementations of Gaussian claims: the references and torch's."""
    from verify import catalog
    from verify.measure import Implementation
    from verify.reference import ReferenceSampler
    from verify.schemes import InitSpec

    found = []
    for backend in ("numpy", "torch"):
        for spec in (InitSpec("he", "normal"), InitSpec("glorot", "normal"),
                     InitSpec("lecun", "normal")):
            found.append(Implementation(f"reference ({backend}) {spec.describe()}",
                                        ReferenceSampler(spec, backend), spec))
    entries = catalog.load(["torch"])
    for name in GAUSSIAN_TORCH:
        entry = entries.find(name)
        found.append(Implementation(name, entry.build(), entry.claim))
    return tuple(found)


@functools.lru_cache(maxsize=1)
def default_implementations() -> tuple:
    from verify.measure import null_implementations

    return tuple(null_implementations())


def _small_case(index: int) -> tuple:
    implementations = small_implementations()
    count, shapes = len(implementations), len(SMALL_SHAPES)
    return (implementations[index % count], SMALL_SHAPES[(index // count) % shapes],
            SMALL_SAMPLES[(index // (count * shapes)) % len(SMALL_SAMPLES)])


def _default_case(index: int) -> tuple:
    from verify.measure import NULL_SHAPES

    implementations = default_implementations()
    count = len(implementations)
    return implementations[index % count], NULL_SHAPES[(index // count) % len(NULL_SHAPES)]


def _battery(implementation, shape: tuple[int, ...], seed: int,
             samples: int | None) -> NullCheck:
    from verify.conformance import check_shape

    result = check_shape(implementation.sampler, implementation.claim, shape, seed=seed,
                         samples=samples)
    return NullCheck(tuple(float(r.pvalue) for r in result.first), result.verdict.value,
                     result.stopped_at)


def run_small(index: int, seed: int) -> NullCheck:
    implementation, shape, samples = _small_case(index)
    return _battery(implementation, shape, seed, samples)


def run_default(index: int, seed: int) -> NullCheck:
    implementation, shape = _default_case(index)
    return _battery(implementation, shape, seed, None)


def _small_cases() -> dict:
    return {"implementations": [i.name for i in small_implementations()],
            "shapes": [list(s) for s in SMALL_SHAPES], "samples": list(SMALL_SAMPLES),
            "policy": "default (alpha 1e-9, one look)"}


def _default_cases() -> dict:
    from verify.measure import NULL_SHAPES

    return {"implementations": [i.name for i in default_implementations()],
            "shapes": [list(s) for s in NULL_SHAPES],
            "samples": "default (power 0.99 against a 1% variance error at size 1e-9)",
            "policy": "default (alpha 1e-9; the p-values of the last look)"}


_BONFERRONI_EXTREMES = NullLaw(
    "conservative", "exact law of the extremes, P(max <= m) = F(m)^n; the two extremes "
    "combined by Bonferroni (size a - a^2/4 at most)")
_INDEPENDENCE = NullLaw(
    "conservative", "asymptotic: sqrt(m) r standard normal for each lag-1 correlation "
    "(values and magnitudes, along every axis), combined by Bonferroni")

TIERS: dict[str, Tier] = {
    "small": Tier(
        "small",
        "Gaussian claims at 4,096 to 9,216 entries: one look, exact null laws but one",
        BATTERY,
        {"mean": NullLaw("exact", "one-sample t-test, exact for Gaussian samples"),
         "variance": NullLaw("exact", "chi-square law of (n-1) s^2 / sigma^2, exact for "
                             "Gaussian samples"),
         "support": _BONFERRONI_EXTREMES,
         "shape": NullLaw("exact", "Kolmogorov-Smirnov: exact statistic (one sort) and its "
                          "exact kstwo law below 10,000 entries"),
         "independence": _INDEPENDENCE},
        2000, run_small, _small_cases),
    "default": Tier(
        "default",
        "the null calibration's implementations and shapes at the default sample sizes",
        BATTERY,
        {"mean": NullLaw("asymptotic", "one-sample t-test: exact for Gaussian claims, "
                         "asymptotic for the others (n above 500,000)"),
         "variance": NullLaw("asymptotic", "exact chi-square for Gaussian claims; "
                             "kurtosis-corrected asymptotic law for the others"),
         "support": _BONFERRONI_EXTREMES,
         "shape": NullLaw("conservative", "Kolmogorov-Smirnov on a grid of 4,097 edges (a "
                          "lower bound of the statistic) with the limiting kstwobign law "
                          "(above the exact tail)"),
         "independence": _INDEPENDENCE},
        10, run_default, _default_cases),
}
"""The tiers of null checks, by name (a unit names its tier; a worker looks it up)."""


# --- units ----------------------------------------------------------------------------------

def batch_seed(seed: int, tier: str, batch: int) -> int:
    """A unit's seed: from the run seed, its tier and its batch index alone."""
    return derive_seed(seed, "calibration", tier, batch)


def null_batch(*, tier: str, batch: int, start: int, checks: int, seed: int) -> dict:
    """Checks ``start`` to ``start + checks - 1`` of ``tier``: their p-values per test
    (JSON-ready columns), final verdicts and entries."""
    found = TIERS[tier]
    unit_seed = batch_seed(seed, tier, batch)
    columns: list[list[float]] = [[] for _ in found.tests]
    verdicts = {"pass": 0, "suspicious": 0, "fail": 0}
    entries = []
    started = time.perf_counter()
    for offset in range(checks):
        check = found.run(start + offset, derive_seed(unit_seed, offset))
        for column, pvalue in zip(columns, check.pvalues, strict=True):
            column.append(pvalue)
        verdicts[check.verdict] += 1
        entries.append(check.entries)
    return {"tier": tier, "batch": batch, "checks": checks,
            "pvalues": dict(zip(found.tests, columns, strict=True)), "verdicts": verdicts,
            "entries": [min(entries), max(entries)] if entries else [],
            "seconds": round(time.perf_counter() - started, 3)}


def plan(runs: int, default_runs: int) -> dict[str, int]:
    """Checks per tier: ``default_runs`` at the default sizes, the rest small."""
    if not 0 <= default_runs <= runs:
        raise ValueError(f"need 0 <= default runs <= runs, got {default_runs} and {runs}")
    return {"small": runs - default_runs, "default": default_runs}


def units(counts: Mapping[str, int], seed: int) -> list:
    """The executor's units for ``counts`` checks per tier (:class:`verify.execute.Unit`)."""
    from verify.execute import Unit
    from verify.execute.units import calibration_unit

    found = []
    for name, count in counts.items():
        size = TIERS[name].batch
        for batch, start in enumerate(range(0, count, size)):
            checks = min(size, count - start)
            found.append(Unit(f"calibration {name} batch {batch}", calibration_unit,
                              {"tier": name, "batch": batch, "start": start,
                               "checks": checks, "seed": seed}))
    return found


def calibrate(counts: Mapping[str, int], *, seed: int, options, store=None,
              progress: Callable[[str], None] | None = None) -> dict:
    """Run ``counts`` null checks per tier on the executor (``options``, a
    :class:`verify.execute.Options`), stream them into ``store``; the JSON-ready summary."""
    from verify.execute import run_units

    started = time.perf_counter()
    work = units(counts, seed)
    records = run_units(work, options, store=store, progress=progress)
    by_tier: dict[str, list[dict]] = {name: [] for name in counts}
    errors = []
    for unit, record in zip(work, records, strict=True):
        if record.status == "done":
            by_tier[unit.arguments["tier"]].append(record.result)
        else:
            errors.append({"unit": unit.key, "checks": unit.arguments["checks"],
                           "error": record.error})
    tiers = {name: summarize_tier(TIERS[name], results, planned=counts[name])
             for name, results in by_tier.items() if counts[name]}
    runs = sum(tier["runs"] for tier in tiers.values())
    return {"runs": runs, "planned": dict(counts), "seed": seed,
            "confidence": CONFIDENCE, "interval": "Clopper-Pearson (exact binomial)",
            "min_expected_alarms": MIN_EXPECTED, "tiers": tiers,
            "family": family(tiers), "failed_units": errors,
            "seconds": round(time.perf_counter() - started, 2)}


def _rates(tiers: Mapping[str, dict]):
    """``(tier, level, test, rate)`` for every rate read, the battery's included."""
    for name, tier in tiers.items():
        for row in tier["levels"]:
            for test, rate in [*row["tests"].items(), ("battery", row["battery"])]:
                yield name, row["level"], test, rate


def family(tiers: Mapping[str, dict]) -> dict:
    """Many rates are read at once: at 95% about one interval in twenty excludes its
    nominal rate by chance. A rate is *significant* when its binomial test's p-value is
    below ``(1 - confidence) / rates`` (Bonferroni over every rate read); each rate gets
    the flag."""
    rates = list(_rates(tiers))
    threshold = (1 - CONFIDENCE) / max(len(rates), 1)
    excluded = 0
    for _, _, _, rate in rates:
        rate["significant"] = rate["binomial_pvalue"] < threshold
        excluded += rate["reading"] in ("above nominal", "below nominal")
    return {"rates": len(rates), "threshold": threshold,
            "intervals_excluding_nominal": excluded,
            "expected_by_chance": round((1 - CONFIDENCE) * len(rates), 2),
            "significant": sum(rate["significant"] for *_, rate in rates)}


# --- reading the runs -----------------------------------------------------------------------

def smallest_reached(runs: int) -> float | None:
    """The smallest level at which ``runs`` checks expect :data:`MIN_EXPECTED` alarms,
    rounded up to one significant digit (``None``: no level below 1/2)."""
    if runs <= 0:
        return None
    exact = MIN_EXPECTED / runs
    exponent = math.floor(math.log10(exact))
    digit = math.ceil(round(exact / 10.0**exponent, 9))
    level = float(f"{digit}e{exponent}")
    return level if level < 0.5 else None


def levels_for(runs: int) -> list[float]:
    """:data:`STANDARD_LEVELS`, the smaller powers of ten the runs reach, and the smallest
    level they reach; largest first."""
    levels = set(STANDARD_LEVELS)
    exponent = -math.log10(STANDARD_LEVELS[-1]) + 1
    while runs * 10.0**-exponent >= MIN_EXPECTED * (1 - 1e-9):
        levels.add(float(f"1e-{exponent:.0f}"))
        exponent += 1
    smallest = smallest_reached(runs)
    if smallest is not None:
        levels.add(smallest)
    return sorted(levels, reverse=True)


def binomial_rate(count: int, runs: int, nominal: float, kind: str) -> dict:
    """``count`` alarms in ``runs`` checks: the rate, its Clopper-Pearson interval, the
    binomial test against ``nominal`` (one-sided, too many alarms, for a ``conservative``
    test) and how the interval reads against ``nominal``."""
    test = scipy_stats.binomtest(count, runs)
    interval = test.proportion_ci(CONFIDENCE, method="exact")
    low, high = float(interval.low), float(interval.high)
    alternative = "greater" if kind == "conservative" else "two-sided"
    pvalue = scipy_stats.binomtest(count, runs, min(nominal, 1.0),
                                   alternative=alternative).pvalue
    if low > nominal:
        reading = "above nominal"
    elif high < nominal:
        reading = "below nominal" + (" (conservative)" if kind == "conservative" else "")
    else:
        reading = "consistent"
    return {"count": int(count), "runs": int(runs), "rate": count / runs,
            "interval": [low, high], "nominal": nominal, "binomial_pvalue": float(pvalue),
            "alternative": alternative, "reading": reading}


def summarize_tier(tier: Tier, results: Sequence[dict], *, planned: int) -> dict:
    """The rates of one tier at every level, per test and for the battery, from the
    p-values of its finished units."""
    from verify.measure import uniformity

    ordered = sorted(results, key=lambda r: r["batch"])
    pvalues = {name: np.asarray([p for r in ordered for p in r["pvalues"][name]],
                                dtype=np.float64) for name in tier.tests}
    runs = int(sum(r["checks"] for r in ordered))
    found: dict = {"description": tier.description, **tier.cases(), "batch": tier.batch,
                   "planned": planned, "runs": runs, "units": len(ordered),
                   "null_laws": {name: {"kind": law.kind, "law": law.law}
                                 for name, law in tier.laws.items()}}
    if not runs:
        return {**found, "levels": [], "smallest_reached": None}
    # NaN (a test that could not run) counts as an alarm: it would be a fail
    smallest = np.min([np.nan_to_num(pvalues[name], nan=0.0) for name in tier.tests], axis=0)
    rows = []
    for level in levels_for(runs):
        row = {"level": level, "expected_alarms": runs * level,
               "reached": runs * level >= MIN_EXPECTED * (1 - 1e-9), "tests": {}}
        for name in tier.tests:
            count = int(np.count_nonzero(~(pvalues[name] >= level)))
            row["tests"][name] = binomial_rate(count, runs, level, tier.laws[name].kind)
        bound = min(1.0, len(tier.tests) * level)
        row["battery"] = binomial_rate(int(np.count_nonzero(smallest < level)), runs, bound,
                                       "conservative")
        rows.append(row)
    entries = [e for r in ordered for e in r["entries"]]
    verdicts = {key: sum(r["verdicts"][key] for r in ordered)
                for key in ("pass", "suspicious", "fail")}
    return {**found, "entries": [min(entries), max(entries)], "levels": rows,
            "smallest_reached": smallest_reached(runs),
            "uniformity": {name: uniformity(pvalues[name][np.isfinite(pvalues[name])],
                                            exact=tier.laws[name].kind != "conservative")
                           for name in tier.tests},
            "verdicts": verdicts,
            "seconds": round(sum(r["seconds"] for r in ordered), 2),
            "seconds_per_check": round(sum(r["seconds"] for r in ordered) / runs, 5)}


def findings(calibration: dict) -> list[str]:
    """Every rate whose interval lies above its nominal rate, or below it for a test whose
    law is exact (or asymptotic), with its binomial p-value and whether it is
    significant over the family of rates read (:func:`family`)."""
    found = []
    for name, level, test, rate in _rates(calibration["tiers"]):
        if rate["reading"] in ("above nominal", "below nominal"):
            verdict = "significant" if rate["significant"] else "not significant over the family"
            found.append(f"{name} {test} at {level:g}: {rate['count']}/{rate['runs']} = "
                         f"{rate['rate']:.3g}, interval [{rate['interval'][0]:.3g}, "
                         f"{rate['interval'][1]:.3g}], {rate['reading']} {rate['nominal']:g}; "
                         f"binomial p = {rate['binomial_pvalue']:.2g}, {verdict}")
    return found


def render(calibration: dict) -> str:
    """The rates as text: per tier, per level, each test and the battery."""
    counts = ", ".join(f"{name}: {tier['runs']:,}" for name, tier in calibration["tiers"].items())
    lines = [f"Calibration at scale: {calibration['runs']:,} null checks ({counts}), "
             f"{calibration['confidence']:.0%} Clopper-Pearson intervals"]
    for name, tier in calibration["tiers"].items():
        lines.append(f"  {name}: {tier['description']}; {tier['runs']:,} checks, "
                     f"{tier['entries'][0]:,} to {tier['entries'][1]:,} entries"
                     if tier["runs"] else f"  {name}: no checks finished")
        for row in tier["levels"]:
            reached = "" if row["reached"] else f" (not reached: {MIN_EXPECTED} expected " \
                "alarms needed)"
            lines.append(f"    level {row['level']:g}, {row['expected_alarms']:,.1f} alarms "
                         f"expected per test{reached}")
            for test, rate in [*row["tests"].items(), (f"any of {len(row['tests'])}",
                                                       row["battery"])]:
                low, high = rate["interval"]
                lines.append(f"      {test:14} {rate['count']:>7,}/{rate['runs']:<8,} "
                             f"{rate['rate']:<9.3g} [{low:.3g}, {high:.3g}]  "
                             f"{rate['reading']} {rate['nominal']:g} "
                             f"(binomial p {rate['binomial_pvalue']:.2g})")
        if tier["runs"]:
            verdicts = tier["verdicts"]
            lines.append(f"    final verdicts of the default procedure: {verdicts['pass']:,} "
                         f"pass, {verdicts['suspicious']:,} suspicious, {verdicts['fail']:,} "
                         f"fail; {tier['seconds_per_check'] * 1000:.1f} ms per check")
    if calibration["failed_units"]:
        lines.append(f"  {len(calibration['failed_units'])} units failed: "
                     + "; ".join(f"{e['unit']}: {e['error']}"
                                 for e in calibration["failed_units"][:3]))
    group = calibration["family"]
    lines.append(f"  {group['intervals_excluding_nominal']} of {group['rates']} intervals exclude "
                 f"the nominal rate (about {group['expected_by_chance']:g} would by chance); "
                 f"{group['significant']} rates differ from it at the family-wise level "
                 f"(binomial p < {group['threshold']:.2g})")
    lines += [f"    {line}" for line in findings(calibration)]
    return "\n".join(lines)
