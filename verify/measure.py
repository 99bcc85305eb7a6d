"""How good are the checks themselves? Their false-alarm rate, their power, and peers'.

Three measurements, each a function that returns a JSON-ready dict (the report
calls the same functions; ``python -m verify measure`` stores them as JSON):

* :func:`null_calibration`: ``check``'s battery on correct implementations (the
  NumPy and PyTorch references and conforming ``torch.nn.init`` entries), one seed
  per run, at the default sample sizes but a loose level, where false alarms are
  frequent enough to count. Observed against nominal false-alarm rates, with
  binomial intervals, and the uniformity of the p-values.
* :func:`power_curve`: the probability that the default check detects a relative
  variance error from 0.25% to 10%, against the power the variance test alone
  should have (computed from its chi-square law, stage by stage).
* :func:`peer_comparison`: the mutants of ``tests/mutants.py`` and pure variance
  errors, checked by the tests other libraries' suites use (:mod:`verify.peers`) and
  by this project's battery at the peers' sample budget and at its own; the minimum
  detectable variance error of each approach.

Every draw descends from one seed; results record it, the settings and versions.
The false-alarm rate at small levels (1e-4 and below), over 10^5 null checks and more on
the executor, is :mod:`verify.calibration`'s.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from verify import stats
from verify.conformance import call_checks, check, check_shape, sample_size
from verify.peers import PEERS, Peer
from verify.reference import ReferenceSampler
from verify.schemes import InitSpec
from verify.seeding import derive_rng, derive_seed
from verify.stats import DEFAULT_POLICY, Policy, Verdict

LEVEL = 0.01
"""The loose level of the null calibration: each test alarms when ``p < LEVEL``."""
TWO_STAGE = Policy(alpha=1e-3, suspicious=1e-2)
"""The default policy's procedure (sequential looks, then resampling a suspicious last
look), at measurable levels: at most ``alpha`` false fails per test, by construction."""
PEER_SIZE = 1e-4
"""PyTorch's KS threshold; the battery at a peer's budget runs at the same family size."""
BATTERY = ("mean", "variance", "support", "shape", "independence")
EXACT_NULL = ("mean", "variance")
"""Tests whose p-value is uniform under the claim. The others combine sub-tests by
Bonferroni or use a conservative statistic: their p-values may only be larger."""
POWER_ERRORS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1)
MDE_ERRORS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
NULL_SHAPES = ((256, 128), (64, 32, 3, 3), (20, 20), (33, 17, 5), (1, 300), (300, 1),
               (8, 3, 7, 7), (16, 16, 2, 2, 2))
POWER_SHAPE = (256, 128)
HE_NORMAL = InitSpec("he", "normal")
CONFORMING_TORCH = ("torch:kaiming_normal_", "torch:kaiming_uniform_", "torch:xavier_normal_",
                    "torch:xavier_uniform_")

Progress = Callable[[str, int, int], None]


def _quiet(section: str, done: int, total: int) -> None:
    pass


class MeasurementUnavailable(RuntimeError):
    """Something a measurement needs is missing (the mutation catalog)."""


@dataclass(frozen=True)
class Implementation:
    name: str
    sampler: Callable[[tuple[int, ...], int], np.ndarray]
    claim: InitSpec


def null_implementations() -> list[Implementation]:
    """The references (NumPy and PyTorch) and the ``torch.nn.init`` entries that conform."""
    from verify import catalog

    found = []
    for backend in ("numpy", "torch"):
        for spec in (InitSpec("he", "normal"), InitSpec("glorot", "uniform"),
                     InitSpec("lecun", "truncated_normal")):
            found.append(Implementation(f"reference ({backend}) {spec.describe()}",
                                        ReferenceSampler(spec, backend), spec))
    torch_entries = catalog.load(["torch"])
    for name in CONFORMING_TORCH:
        entry = torch_entries.find(name)
        found.append(Implementation(name, entry.build(), entry.claim))
    return found


def load_mutants() -> list:
    """The mutation catalog of ``tests/mutants.py`` (it lives with the tests, which
    assert that ``check`` catches every mutant)."""
    module = sys.modules.get("tests.mutants")
    if module is None:
        path = Path(__file__).resolve().parent.parent / "tests" / "mutants.py"
        if not path.is_file():
            raise MeasurementUnavailable(
                f"the mutation catalog {path} is missing: install from a clone of the "
                "repository (pip install -e .) to measure against it")
        spec = importlib.util.spec_from_file_location("verify_mutation_catalog", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return list(module.MUTANTS)


# --- statistics of counts ------------------------------------------------------------------

def rate(count: int, runs: int, nominal: float | None = None, *,
         alternative: str = "two-sided") -> dict:
    """A count of events in ``runs`` trials: the rate, its 95% Wilson interval and,
    against a ``nominal`` rate, the binomial test's p-value."""
    if runs == 0:
        return {"count": 0, "runs": 0, "rate": None, "interval": [None, None]}
    interval = scipy_stats.binomtest(count, runs).proportion_ci(0.95, method="wilson")
    found = {"count": int(count), "runs": int(runs), "rate": count / runs,
             "interval": [float(interval.low), float(interval.high)]}
    if nominal is not None:
        found["nominal"] = nominal
        found["binomial_pvalue"] = float(
            scipy_stats.binomtest(count, runs, min(nominal, 1.0), alternative=alternative).pvalue)
    return found


def uniformity(pvalues: np.ndarray, *, exact: bool) -> dict:
    """KS of p-values against U(0, 1): two-sided where the null law is exact; one-sided
    (too many small p-values) where the test is conservative by construction."""
    alternative = "two-sided" if exact else "greater"
    counts, _ = np.histogram(pvalues, bins=10, range=(0.0, 1.0))
    return {"ks_pvalue": float(scipy_stats.kstest(pvalues, "uniform",
                                                  alternative=alternative).pvalue),
            "alternative": alternative, "deciles": counts.tolist()}


# --- 1. null calibration ------------------------------------------------------------------

def null_calibration(runs: int = 1000, *, seed: int, progress: Progress = _quiet,
                     implementations: Sequence[Implementation] | None = None) -> dict:
    """The battery on correct implementations, ``runs`` seeds (one check each)."""
    implementations = list(implementations or null_implementations())
    first = {name: [] for name in BATTERY}
    final_fail = {name: 0 for name in BATTERY}
    any_single, any_final, fresh_failures = 0, 0, 0
    per_implementation = {impl.name: [0, 0] for impl in implementations}
    start = time.perf_counter()
    for run in range(runs):
        impl = implementations[run % len(implementations)]
        shape = NULL_SHAPES[(run // len(implementations)) % len(NULL_SHAPES)]
        run_seed = derive_seed(seed, "null", run)
        fresh_failures += sum(r.verdict is not Verdict.PASS
                              for r in call_checks(impl.sampler, shape, run_seed))
        law = impl.claim.law(shape)
        result = check_shape(impl.sampler, impl.claim, shape, seed=run_seed, policy=TWO_STAGE,
                             samples=sample_size(impl.claim, law))
        pvalues = [r.pvalue for r in result.first]
        for name, pvalue in zip(BATTERY, pvalues, strict=True):
            first[name].append(pvalue)
        for name, r in zip(BATTERY, result.results, strict=True):
            final_fail[name] += r.verdict is Verdict.FAIL
        alarmed = min(pvalues) < LEVEL
        any_single += alarmed
        any_final += result.verdict is Verdict.FAIL
        per_implementation[impl.name][0] += 1
        per_implementation[impl.name][1] += alarmed
        progress("null calibration", run + 1, runs)
    alpha, flag = TWO_STAGE.alpha, TWO_STAGE.suspicious
    staged = alpha  # the looks and the resampling together spend at most alpha (a bound)
    tests = {}
    for name in BATTERY:
        pvalues = np.asarray(first[name])
        exact = name in EXACT_NULL
        side = "two-sided" if exact else "greater"
        tests[name] = {
            "single_stage": rate(int(np.count_nonzero(pvalues < LEVEL)), runs, LEVEL,
                                 alternative=side),
            "two_stage": rate(final_fail[name], runs, staged, alternative="greater"),
            "uniformity": uniformity(pvalues, exact=exact),
            "null_law": "exact" if exact else "conservative (Bonferroni or grid KS)",
        }
    return {
        "runs": runs,
        "level": LEVEL,
        "two_stage_policy": {"alpha": alpha, "suspicious": flag,
                             "max_resamples": TWO_STAGE.max_resamples,
                             "growth": TWO_STAGE.growth, "nominal_fail_rate": staged,
                             "first_look": TWO_STAGE.first_look,
                             "look_growth": TWO_STAGE.look_growth,
                             "final_alpha": TWO_STAGE.final_alpha},
        "implementations": [impl.name for impl in implementations],
        "shapes": [list(shape) for shape in NULL_SHAPES],
        "sample_size": "default (power 0.99 against a 1% variance error at size 1e-9)",
        "tests": tests,
        "battery_single_stage": rate(any_single, runs, len(BATTERY) * LEVEL, alternative="greater"),
        "battery_two_stage": rate(any_final, runs, len(BATTERY) * staged, alternative="greater"),
        "fresh_draw_failures": fresh_failures,
        "per_implementation": {name: rate(alarms, count)
                               for name, (count, alarms) in per_implementation.items()},
        "default_policy": {
            "alpha": DEFAULT_POLICY.alpha,
            "per_check_bound": DEFAULT_POLICY.alpha,
            "final_look_alpha": DEFAULT_POLICY.final_alpha,
            "note": "at 1e-9 no false alarm can be observed; the uniformity of the p-values "
                    "(exact tests) and their conservatism (the others) is what carries the "
                    "stated size to the default level",
        },
        "seconds": round(time.perf_counter() - start, 2),
    }


# --- 2. power against a variance error ----------------------------------------------------

class Scaled:
    """A sampler whose draws are multiplied by ``sqrt(1 + error)``: a relative variance
    error of ``error``, nothing else."""

    def __init__(self, sampler, error: float) -> None:
        self.sampler, self.factor, self.error = sampler, math.sqrt(1 + error), error

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        return self.sampler(shape, seed) * np.float32(self.factor)


def procedure_power(n: int, error: float, policy: Policy = DEFAULT_POLICY) -> float:
    """Power of the variance test alone, from its last look on: fail at the last look
    (``n`` entries, size :attr:`~verify.stats.Policy.final_alpha`), or be suspicious
    there and go on to fresh samples ``growth`` times larger, each at ``alpha``.

    A lower bound on the sequential procedure's power: its earlier looks can only add
    detections. At no error it is the size the last look and the resampling spend."""
    total, reach = 0.0, 1.0
    for stage in range(policy.max_resamples + 1):
        m = n * policy.growth**stage
        level = policy.final_alpha if stage == 0 else policy.alpha
        fail = stats.variance_power(m, error, alpha=level)
        flagged = stats.variance_power(m, error, alpha=policy.suspicious)
        total += reach * fail
        reach *= max(flagged - fail, 0.0)
    return total


def power_curve(trials: int = 100, *, seed: int, errors: Sequence[float] = POWER_ERRORS,
                progress: Progress = _quiet) -> dict:
    """Detection probability of the default check (every test, resampling included)
    against a relative variance error, both signs, at :data:`POWER_SHAPE`."""
    base = ReferenceSampler(HE_NORMAL, "numpy")
    n = sample_size(HE_NORMAL, HE_NORMAL.law(POWER_SHAPE))
    signed = sorted([-e for e in errors] + list(errors))
    points, done = [], 0
    start = time.perf_counter()
    for error in signed:
        sampler = Scaled(base, error)
        verdicts = []
        for trial in range(trials):
            result = check_shape(sampler, HE_NORMAL, POWER_SHAPE,
                                 seed=derive_seed(seed, "power", error, trial))
            verdicts.append(result.verdict)
            done += 1
            progress("power curve", done, trials * len(signed))
        detected = sum(v is Verdict.FAIL for v in verdicts)
        points.append({"error": error, "detected": rate(detected, trials),
                       "suspicious": sum(v is Verdict.SUSPICIOUS for v in verdicts),
                       "theory": procedure_power(n, error)})
    return {"claim": HE_NORMAL.describe(), "shape": list(POWER_SHAPE), "trials": trials,
            "sample_size": n, "policy": {"alpha": DEFAULT_POLICY.alpha,
                                         "suspicious": DEFAULT_POLICY.suspicious,
                                         "power": DEFAULT_POLICY.power,
                                         "effect": DEFAULT_POLICY.effect},
            "points": points,
            "min_detectable_error": _mde(points),
            "theory_min_detectable_error": stats.variance_min_detectable_effect(
                n, policy=replace(DEFAULT_POLICY, alpha=DEFAULT_POLICY.final_alpha)),
            "looks": list(stats.look_sizes(n, unit=math.prod(POWER_SHAPE))),
            "single_look_sample_size": (single := stats.variance_sample_size()),
            "last_look_growth": n / single,
            "seconds": round(time.perf_counter() - start, 2)}


def _mde(points: Sequence[dict], power: float = DEFAULT_POLICY.power) -> dict:
    """The smallest error on the grid, each side, from which on detection reaches
    ``power`` (None: not reached on the grid), and the grid point below it."""
    found: dict = {}
    for side, sign in (("up", 1), ("down", -1)):
        side_points = sorted((p for p in points if p["error"] * sign > 0),
                             key=lambda p: abs(p["error"]))
        reached, below = None, None
        for index, point in enumerate(side_points):
            if all(p["detected"]["rate"] >= power for p in side_points[index:]):
                reached = point["error"]
                below = side_points[index - 1]["error"] if index else None
                break
        found[side], found[f"{side}_below"] = reached, below
    return found


# --- 3. peers ------------------------------------------------------------------------------

def _ours_at_budget(sampler, claim, shape: tuple[int, ...], seed: int) -> bool:
    """This project's battery on one tensor, at the peer's family size."""
    size = PEER_SIZE / len(BATTERY)
    result = check_shape(sampler, claim, shape, seed=seed, max_calls=1,
                         policy=Policy(alpha=size, suspicious=size))
    return result.verdict is Verdict.FAIL


def _ours_default(sampler, claim, shape: tuple[int, ...], seed: int) -> bool:
    """The default battery at one shape: fresh draws, then as many calls as its power
    target needs, resampling when suspicious."""
    fresh = call_checks(sampler, shape, seed)
    result = check_shape(sampler, claim, shape, seed=seed)
    return any(r.verdict is Verdict.FAIL for r in (*fresh, *result.results))


def _approaches(default: bool) -> list[tuple[str, Peer, Callable]]:
    """``(name, peer whose shapes it uses, detect(sampler, claim, shape, seed))``."""
    found = []
    for peer in PEERS:
        def peer_detects(sampler, claim, shape, seed, peer=peer):
            return peer.detected(sampler(shape, seed), claim.law(shape))
        found.append((peer.name, peer, peer_detects))
        found.append((f"ours@{peer.name}", peer, _ours_at_budget))
    if default:
        found.append(("ours-default", PEERS[0], _ours_default))
    return found


def _detection(detect, peer: Peer, sampler, claim, trials: int, seed: int, *labels) -> int:
    hits = 0
    for trial in range(trials):
        rng = derive_rng(seed, "peers", *labels, trial)
        shape = peer.draw_shape(rng)
        hits += bool(detect(sampler, claim, shape, int(rng.integers(2**62))))
    return hits


def peer_comparison(trials: int = 50, *, seed: int, default_trials: int = 5,
                    explore: bool = True, progress: Progress = _quiet,
                    mutants: Sequence | None = None) -> dict:
    """Mutant x approach: how often each approach detects each mutant; and the minimum
    detectable variance error of each approach (detection probability 0.99)."""
    mutants = list(mutants if mutants is not None else load_mutants())
    approaches = _approaches(default_trials > 0)
    start = time.perf_counter()
    rows = []
    steps = len(mutants) * len(approaches) + len(MDE_ERRORS) * 2
    done = 0
    for mutant in mutants:
        row = {"mutant": mutant.name, "bug": mutant.bug, "breaks": mutant.breaks,
               "claim": mutant.claim.describe(), "detected": {}}
        for name, peer, detect in approaches:
            count = default_trials if name == "ours-default" else trials
            hits = _detection(detect, peer, mutant, mutant.claim, count, seed, mutant.name, name)
            row["detected"][name] = rate(hits, count)
            done += 1
            progress("peer comparison", done, steps)
        if explore:
            report = check(mutant, mutant.claim, seed=seed, name=mutant.name)
            example = report.counterexample
            row["detected"]["ours-check"] = rate(int(report.verdict is Verdict.FAIL), 1)
            row["minimal_failing_shape"] = example["shape"] if example else None
            row["failed_checks"] = example["failed"] if example else []
        rows.append(row)
    base = ReferenceSampler(HE_NORMAL, "numpy")
    curves: dict[str, list[dict]] = {name: [] for name, _, _ in approaches
                                     if name != "ours-default"}
    for error in sorted([-e for e in MDE_ERRORS if e < 1] + list(MDE_ERRORS)):
        sampler = Scaled(base, error)
        for name, peer, detect in approaches:
            if name == "ours-default":
                continue
            hits = _detection(detect, peer, sampler, HE_NORMAL, trials, seed, "mde", error, name)
            curves[name].append({"error": error, "detected": rate(hits, trials)})
        done += 2
        progress("peer comparison", min(done, steps), steps)
    mde = {name: _mde(points) for name, points in curves.items()}
    from verify.peers import expected_entries

    budgets = {peer.name: {"source": peer.source, "budget": peer.budget,
                           "mean_entries": expected_entries(peer)} for peer in PEERS}
    for peer in PEERS:  # the same budgets; the minimum detectable error is simulated, as
        # the budget is a mixture of shapes (PyTorch: 2-D or 4-D) that no single n stands for
        budgets[f"ours@{peer.name}"] = {
            "source": "this project's battery, one tensor, family size 1e-4",
            "budget": peer.budget, "mean_entries": budgets[peer.name]["mean_entries"]}
    return {"trials": trials, "default_trials": default_trials, "approaches": budgets,
            "mutants": rows, "curves": curves, "min_detectable_error": mde,
            "seconds": round(time.perf_counter() - start, 2)}


# --- all three -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """How much of each measurement to run."""

    runs: int = 1000
    power_trials: int = 100
    peer_trials: int = 100
    default_trials: int = 5
    explore: bool = True


QUICK = Budget(runs=60, power_trials=4, peer_trials=10, default_trials=1, explore=False)


MEASUREMENTS = ("null", "power", "peers")


def measure(budget: Budget = Budget(), *, seed: int, progress: Progress = _quiet,
            only: Sequence[str] = MEASUREMENTS) -> dict:
    """Run the three measurements (or those ``only`` names); one JSON-ready document with
    the seed and versions."""
    from verify.versions import versions

    start = time.perf_counter()
    document = {"seed": seed, "budget": budget.__dict__, "versions": versions()}
    if "null" in only:
        document["null"] = null_calibration(budget.runs, seed=seed, progress=progress)
    if "power" in only:
        document["power"] = power_curve(budget.power_trials, seed=seed, progress=progress)
    if "peers" in only:
        document["peers"] = peer_comparison(budget.peer_trials, seed=seed,
                                            default_trials=budget.default_trials,
                                            explore=budget.explore, progress=progress)
    document["seconds"] = round(time.perf_counter() - start, 2)
    return document


def _percent(value: float | None) -> str:
    return "not reached" if value is None else f"{value:+.2%}"


def _bracket(found: dict, side: str) -> str:
    """``+20% to +30%``: missed at the grid point below, reached at this one."""
    reached, below = found[side], found[f"{side}_below"]
    if reached is None:
        return "not reached"
    return _percent(reached) if below is None else f"{below:+.2%} to {reached:+.2%}"


def render(document: dict) -> str:
    """The measurement tables as text (of the measurements the document holds)."""
    parts = [part(document) for key, part in (("null", _render_null), ("power", _render_power),
                                              ("peers", _render_peers)) if key in document]
    return "\n\n".join("\n".join(lines) for lines in parts)


def _render_null(document: dict) -> list[str]:
    null = document["null"]
    lines = []
    lines.append(f"Null calibration: {null['runs']} seeded checks of correct implementations "
                 f"({len(null['implementations'])} implementations, {len(null['shapes'])} "
                 f"shapes), default sample sizes, loose level {null['level']}")
    lines.append(f"  {'test':13} {'alarms':>9} {'rate':>7} {'95% interval':>18} {'nominal':>8} "
                 f"{'binom. p':>9}  {'KS of p-values (U(0,1))':24}")
    for name, test in null["tests"].items():
        single = test["single_stage"]
        low, high = single["interval"]
        lines.append(f"  {name:13} {single['count']:>4}/{single['runs']:<4} "
                     f"{single['rate']:7.4f} [{low:.4f}, {high:.4f}] {single['nominal']:8.4f} "
                     f"{single['binomial_pvalue']:9.3g}  p={test['uniformity']['ks_pvalue']:.3g} "
                     f"({test['uniformity']['alternative']})")
    staged = null["two_stage_policy"]
    lines.append(f"  sequential procedure (looks from {staged['first_look']} entries, x"
                 f"{staged['look_growth']}, fail below {staged['alpha']:g} spent over the looks, "
                 f"resample below {staged['suspicious']:g}): at most "
                 f"{staged['nominal_fail_rate']:.5f} per test")
    for name, test in null["tests"].items():
        two = test["two_stage"]
        lines.append(f"    {name:13} {two['count']:>4}/{two['runs']:<4} {two['rate']:.5f} "
                     f"[{two['interval'][0]:.5f}, {two['interval'][1]:.5f}]")
    battery = null["battery_single_stage"]
    lines.append(f"  any of the 5 tests at {null['level']}: {battery['count']}/{battery['runs']} "
                 f"= {battery['rate']:.4f} (Bonferroni bound {battery['nominal']:.3f}); "
                 f"fresh-draw failures: {null['fresh_draw_failures']}")
    return lines


def _render_power(document: dict) -> list[str]:
    lines = []
    power = document["power"]
    lines.append(f"Power of the default check ({power['claim']}, shape "
                 f"{tuple(power['shape'])}, {power['trials']} trials per point, n = "
                 f"{power['sample_size']} at the last look)")
    lines.append(f"  looks at {', '.join(map(str, power['looks']))} entries; the last look is "
                 f"{power['last_look_growth'] - 1:+.1%} larger than one look at the full size "
                 f"would need ({power['single_look_sample_size']})")
    lines.append(f"  {'variance error':>14} {'detected':>9} {'95% interval':>18} {'theory':>8}")
    for point in power["points"]:
        detected = point["detected"]
        lines.append(f"  {point['error']:>+14.2%} {detected['rate']:9.3f} "
                     f"[{detected['interval'][0]:.3f}, {detected['interval'][1]:.3f}] "
                     f"{point['theory']:8.3f}")
    mde = power["min_detectable_error"]
    lines.append(f"  detected with probability >= 0.99 from {_bracket(mde, 'up')} and "
                 f"{_bracket(mde, 'down')} (theory: +-{power['theory_min_detectable_error']:.2%})")
    return lines


def _render_peers(document: dict) -> list[str]:
    lines = []
    peers = document["peers"]
    names = list(peers["mutants"][0]["detected"]) if peers["mutants"] else []
    lines.append(f"Mutants detected (fraction of {peers['trials']} trials; ours-default "
                 f"{peers['default_trials']}; ours-check: one default check run)")
    width = max([len(row["mutant"]) for row in peers["mutants"]] + [6])
    lines.append(f"  {'mutant':{width}} " + " ".join(f"{name:>20}" for name in names))
    for row in peers["mutants"]:
        lines.append(f"  {row['mutant']:{width}} " + " ".join(
            f"{row['detected'][name]['rate']:>20.2f}" for name in names))
    caught = {name: sum(row["detected"][name]["rate"] >= 0.5 for row in peers["mutants"])
              for name in names}
    lines.append(f"  {'caught (>= half)':{width}} " + " ".join(
        f"{caught[name]:>17}/{len(peers['mutants']):<2}" for name in names))
    lines.append("")
    lines.append("Minimum detectable variance error (detected with probability >= 0.99)")
    for name, found in peers["min_detectable_error"].items():
        budget = peers["approaches"][name]
        lines.append(f"  {name:22} up {_bracket(found, 'up'):>20}  down "
                     f"{_bracket(found, 'down'):>20}  ({budget['budget']}, "
                     f"{budget['mean_entries']:.0f} entries on average)")
    if "power" in document:  # the default check's own, from its power curve
        power = document["power"]
        mde = power["min_detectable_error"]
        lines.append(f"  {'ours-default':22} up {_bracket(mde, 'up'):>20}  down "
                     f"{_bracket(mde, 'down'):>20}  (default budget, {power['sample_size']} "
                     "entries)")
    return lines
