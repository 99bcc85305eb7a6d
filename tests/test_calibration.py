"""Calibration of the statistical engine: observed error rates against nominal ones.

Each size test runs a check on correct samples over many seeds at a loose level
(``alpha = 0.01``) and asserts that the number of false alarms lies inside the
central ``1 - 1e-6`` range of ``Binomial(runs, alpha)``: a test whose real size
differs from its stated size by a few tenths of a percent fails here, while a
correct test fails with probability 1e-6. Power tests do the same with the number
of detections of a 1% variance error at the default policy (size 1e-9).

The observed rates are printed at the end of the pytest run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats as scipy_stats

from verify import stats
from verify.distributions import LAPLACE, NORMAL, TRUNCATED_NORMAL, UNIFORM, Family
from verify.layer import UnitLaw, block_sizes, iid_layer_second_moment
from verify.stats import Policy, Verdict

pytestmark = pytest.mark.slow

RUNS = 2000
LEVEL = 0.01
TOLERANCE = 1e-6
POWER_TRIALS = 200


def binomial_range(runs: int, probability: float) -> tuple[int, int]:
    return (int(scipy_stats.binom.ppf(TOLERANCE / 2, runs, probability)),
            int(scipy_stats.binom.isf(TOLERANCE / 2, runs, probability)))


def wilson(count: int, runs: int) -> str:
    interval = scipy_stats.binomtest(count, runs).proportion_ci(0.95, method="wilson")
    return f"[{interval.low:.4f}, {interval.high:.4f}]"


def calibrate(record_property, name: str, pvalues: np.ndarray, *, level: float = LEVEL,
              uniform: bool = True) -> None:
    """Assert the false-alarm count is plausible for a test of size ``level``."""
    runs = pvalues.size
    alarms = int(np.count_nonzero(pvalues < level))
    low, high = binomial_range(runs, level)
    line = (f"size  {name:58} {alarms:4}/{runs} = {alarms / runs:.4f} "
            f"95% CI {wilson(alarms, runs)} nominal {level}")
    if uniform:  # the whole p-value distribution, not just one tail
        uniformity = scipy_stats.kstest(pvalues, "uniform").pvalue
        line += f"; KS of p-values vs U(0,1): p={uniformity:.3g}"
        assert uniformity > TOLERANCE, line
    record_property("calibration", line)
    assert low <= alarms <= high, f"{line}; plausible range [{low}, {high}]"


def pvalues_of(test: Callable[[np.random.Generator], float], runs: int = RUNS,
               seed: int = 0) -> np.ndarray:
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(runs)]
    return np.array([test(rng) for rng in rngs])


LOOSE = Policy(alpha=1e-4, suspicious=1e-3)


@pytest.mark.parametrize("family", [NORMAL, UNIFORM, TRUNCATED_NORMAL, LAPLACE],
                         ids=lambda f: f.label)
def test_variance_test_size(record_property, family: Family):
    gaussian = family is NORMAL
    # The kurtosis-corrected law is asymptotic; heavy tails (Laplace) need larger n
    # to reach it. Default checks use n of about a million.
    n = 1000 if gaussian else (5000 if family is not LAPLACE else 20_000)
    pvalues = pvalues_of(lambda rng: stats.variance_test(
        family.sample(rng, n, 0.7), 0.49, gaussian=gaussian, policy=LOOSE).pvalue)
    calibrate(record_property, f"variance ({'exact' if gaussian else 'kurtosis'}), "
              f"{family.label}, n={n}", pvalues)


@pytest.mark.parametrize("family", [NORMAL, UNIFORM], ids=lambda f: f.label)
def test_mean_test_size(record_property, family: Family):
    pvalues = pvalues_of(lambda rng: stats.mean_test(family.sample(rng, 1000, 2.0),
                                                     policy=LOOSE).pvalue)
    calibrate(record_property, f"mean, {family.label}, n=1000", pvalues)


@pytest.mark.parametrize("family", [NORMAL, UNIFORM, TRUNCATED_NORMAL], ids=lambda f: f.label)
def test_support_test_size_on_float32_samples(record_property, family: Family):
    law = family.law(0.3)
    pvalues = pvalues_of(lambda rng: stats.support_test(
        family.sample(rng, 1000, 0.3, dtype=np.float32), law, policy=LOOSE).pvalue)
    # Bonferroni over the two extremes: size slightly below nominal; p-values are not
    # uniform (they are capped at 1 and doubled).
    calibrate(record_property, f"support, {family.label}, float32, n=1000", pvalues,
              uniform=False)


@pytest.mark.parametrize("family", [NORMAL, TRUNCATED_NORMAL, UNIFORM], ids=lambda f: f.label)
def test_shape_test_size_on_float32_samples(record_property, family: Family):
    cdf = family.cdf(0.3)
    pvalues = pvalues_of(lambda rng: stats.shape_test(
        family.sample(rng, 1000, 0.3, dtype=np.float32), cdf, policy=LOOSE).pvalue)
    calibrate(record_property, f"shape (KS), {family.label}, float32, n=1000", pvalues)


@pytest.mark.parametrize("family", [NORMAL, UNIFORM], ids=lambda f: f.label)
def test_grid_shape_test_is_conservative_but_not_powerless(record_property, family: Family):
    """Above ``EXACT_KS_MAX`` samples the KS statistic is taken on a grid: its size
    may only fall below nominal, and not by so much that the test loses its power."""
    n = 2 * stats.EXACT_KS_MAX
    cdf = family.cdf(0.3)
    pvalues = pvalues_of(lambda rng: stats.shape_test(
        family.sample(rng, n, 0.3, dtype=np.float32), cdf, policy=LOOSE).pvalue, runs=RUNS)
    alarms = int(np.count_nonzero(pvalues < LEVEL))
    high = binomial_range(RUNS, LEVEL)[1]
    low = binomial_range(RUNS, LEVEL / 2)[0]
    line = (f"size  {f'shape (grid KS), {family.label}, float32, n={n}':58} {alarms:4}/{RUNS} = "
            f"{alarms / RUNS:.4f} 95% CI {wilson(alarms, RUNS)} nominal <= {LEVEL} (conservative)")
    record_property("calibration", line)
    assert low <= alarms <= high, line


def test_independence_test_size_on_a_large_structured_sample(record_property):
    """Above the subsample size the magnitude threshold comes from a strided subsample."""
    pvalues = pvalues_of(lambda rng: stats.independence_test(
        NORMAL.sample(rng, (3, 160, 100), 1.0, dtype=np.float32), policy=LOOSE).pvalue)
    alarms = int(np.count_nonzero(pvalues < LEVEL))
    high = binomial_range(RUNS, LEVEL)[1]
    low = binomial_range(RUNS, LEVEL / 3)[0]
    line = (f"size  {'independence, normal (3, 160, 100), 6 sub-tests':58} {alarms:4}/{RUNS} = "
            f"{alarms / RUNS:.4f} 95% CI {wilson(alarms, RUNS)} nominal <= {LEVEL} (Bonferroni)")
    record_property("calibration", line)
    assert low <= alarms <= high, line


def test_independence_test_size(record_property):
    pvalues = pvalues_of(lambda rng: stats.independence_test(
        LAPLACE.sample(rng, (20, 10, 5), 1.0), policy=LOOSE).pvalue)
    alarms = int(np.count_nonzero(pvalues < LEVEL))
    # Bonferroni over 6 correlated sub-tests: conservative. Assert it is not
    # anti-conservative, and not so conservative that it has lost its power.
    high = binomial_range(RUNS, LEVEL)[1]
    low = binomial_range(RUNS, LEVEL / 3)[0]
    line = (f"size  {'independence, laplace (20, 10, 5), 6 sub-tests':58} {alarms:4}/{RUNS} = "
            f"{alarms / RUNS:.4f} 95% CI {wilson(alarms, RUNS)} nominal <= {LEVEL} (Bonferroni)")
    record_property("calibration", line)
    assert low <= alarms <= high, line


def matmul_replicates(rng: np.random.Generator, replicates: int, n_in: int, weights: Family,
                      inputs: Family) -> np.ndarray:
    """Mean of (X @ W)^2 per replicate, fresh X (8 x n_in) and W (n_in x 8) each time."""
    x = inputs.sample(rng, (replicates, 8, n_in), 1.0)
    w = weights.sample(rng, (replicates, n_in, 8), 1.0 / math.sqrt(n_in))
    return np.mean(np.matmul(x, w) ** 2, axis=(1, 2))


@pytest.mark.parametrize(("weights", "inputs"), [(NORMAL, NORMAL), (UNIFORM, LAPLACE)],
                         ids=["normal-normal", "uniform-laplace"])
def test_replicate_test_size_on_the_dependent_matmul_design(record_property, weights, inputs):
    pvalues = pvalues_of(lambda rng: stats.replicate_test(
        matmul_replicates(rng, 50, 16, weights, inputs), 1.0, policy=LOOSE).pvalue)
    calibrate(record_property, f"replicate t-test, W@X, {weights.label} W, {inputs.label} X, "
              f"R=50", pvalues)


def test_treating_matmul_entries_as_iid_is_caught_as_miscalibrated(record_property):
    """Negative control: the harness must flag a test whose null law is wrong. Entries
    of W @ X share rows and columns, so an iid variance test on them is too liberal."""
    def naive(rng):
        x = rng.standard_normal((8, 16))
        w = rng.standard_normal((16, 64)) / 4.0
        return stats.variance_test(x @ w, 1.0, gaussian=True, policy=LOOSE).pvalue

    pvalues = pvalues_of(naive)
    alarms = int(np.count_nonzero(pvalues < LEVEL))
    high = binomial_range(RUNS, LEVEL)[1]
    record_property("calibration", f"size  {'naive iid test on W@X entries (negative control)':58}"
                    f" {alarms:4}/{RUNS} = {alarms / RUNS:.4f}: rejected as miscalibrated")
    assert alarms > high


def test_resolution_of_suspicious_results_keeps_the_size(record_property):
    """Suspicious results resample on fresh data: the final size stays near alpha."""
    policy = Policy(alpha=LEVEL, suspicious=0.05)
    n = 500

    def final_fails(rng):
        def draw(count, generator):
            return generator.standard_normal(count)

        def test(x):
            return stats.variance_test(x, 1.0, gaussian=True, policy=policy)

        return stats.resolve(test, draw, n, rng, policy=policy).verdict is Verdict.FAIL

    fails = pvalues_of(lambda rng: float(final_fails(rng)))
    alarms = int(fails.sum())
    # P(fail) = alpha (1 + s + s^2 + ...) for s = 0.04, the chance of "suspicious"
    nominal = LEVEL * (1 + 0.04 + 0.04**2)
    low, high = binomial_range(RUNS, nominal)
    record_property("calibration", f"size  {'resolve: fail after resampling, alpha=0.01':58} "
                    f"{alarms:4}/{RUNS} = {alarms / RUNS:.4f} nominal {nominal:.4f}")
    assert low <= alarms <= high


def power_line(name: str, detected: int, trials: int) -> str:
    return (f"power {name:58} {detected:4}/{trials} = {detected / trials:.4f} "
            f"95% CI {wilson(detected, trials)} target >= 0.99")


def assert_power(record_property, name: str, detected: int, trials: int) -> None:
    lowest = int(scipy_stats.binom.ppf(TOLERANCE, trials, 0.99))
    line = power_line(name, detected, trials)
    record_property("calibration", line)
    assert detected >= lowest, f"{line}; implausible for power 0.99 (need >= {lowest})"


@pytest.mark.parametrize("family", [NORMAL, UNIFORM], ids=lambda f: f.label)
def test_power_against_a_one_percent_variance_error(record_property, family: Family):
    gaussian = family is NORMAL
    n = stats.variance_sample_size(kurtosis=family.kurtosis, gaussian=gaussian)
    detected = 0
    trials = POWER_TRIALS
    for index, rng in enumerate(np.random.default_rng(s)
                                for s in np.random.SeedSequence(1).spawn(trials)):
        error = 1.01 if index % 2 else 0.99
        sample = family.sample(rng, n, math.sqrt(error))
        result = stats.variance_test(sample, 1.0, gaussian=gaussian)
        detected += result.verdict is Verdict.FAIL
    assert_power(record_property, f"variance +-1%, {family.label}, default n={n}, alpha=1e-9",
                 detected, trials)


def test_power_of_the_layer_design_against_a_one_percent_error(record_property):
    """The replicate design for Var[o], sized by its pilot, at the default policy."""
    n_in, trials, detected = 32, 60, 0
    assert block_sizes(n_in)[0] >= 4
    for index, seed in enumerate(np.random.SeedSequence(2).spawn(trials)):
        claimed = n_in * 1.0 * (1.01 if index % 2 else 0.99)  # true value: n_in
        result = iid_layer_second_moment(n_in, NORMAL, 1.0, UnitLaw(NORMAL, 1.0), claimed,
                                         rng=np.random.default_rng(seed))
        detected += result.verdict is Verdict.FAIL
    assert_power(record_property, f"Var[o] +-1%, replicate design, n_in={n_in}, alpha=1e-9",
                 detected, trials)


# --- the sequential procedure of check_shape ------------------------------------------------


class StackedSampler:
    """A correct sampler of ``spec`` (NumPy) that also offers a stacked fill, as a flat
    fill's adapter does: many calls' worth of tensors in one draw."""

    def __init__(self, spec, error: float = 0.0) -> None:
        from verify.reference import ReferenceSampler

        self.reference = ReferenceSampler(spec, "numpy")
        self.factor = np.float32(math.sqrt(1 + error))

    def stacked(self, shape, count, seed):
        return self.reference.sample_many(shape, count, np.random.default_rng(seed)) * self.factor

    def __call__(self, shape, seed):
        return self.stacked(shape, 1, seed)[0]


SEQUENTIAL = Policy(alpha=LEVEL, suspicious=LEVEL, first_look=1024)
SEQUENTIAL_SHAPE = (16, 16)
SEQUENTIAL_SAMPLES = 65_536  # looks at 1,024, 4,096, 16,384 and 65,536 entries


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_sequential_check_keeps_its_size(record_property, dist):
    """2,000 seeded checks of a correct sampler at a loose level: each test of the battery
    fails falsely at most ``alpha`` of the time over all its looks and resamples, and the
    exact tests (mean, variance) at least as often as their last look alone allows."""
    from verify.conformance import check_shape
    from verify.schemes import InitSpec

    spec = InitSpec("he", dist)
    sampler = StackedSampler(spec)
    assert stats.look_sizes(SEQUENTIAL_SAMPLES, policy=SEQUENTIAL) == (1024, 4096, 16384, 65536)
    fails = {name: 0 for name in ("mean", "variance", "support", "shape", "independence")}
    early, battery = 0, 0
    for seed in np.random.SeedSequence(7).generate_state(RUNS, dtype=np.uint64):
        result = check_shape(sampler, spec, SEQUENTIAL_SHAPE, seed=int(seed), policy=SEQUENTIAL,
                             samples=SEQUENTIAL_SAMPLES)
        for r in result.results:
            fails[r.name] += r.verdict is Verdict.FAIL
        early += result.stopped_early
        battery += result.verdict is Verdict.FAIL
    high = binomial_range(RUNS, LEVEL)[1]
    low = binomial_range(RUNS, SEQUENTIAL.final_alpha)[0]
    for name, count in fails.items():
        line = (f"size  {f'sequential check, {name}, he-{dist}, 4 looks':58} {count:4}/{RUNS} = "
                f"{count / RUNS:.4f} 95% CI {wilson(count, RUNS)} nominal <= {LEVEL}")
        record_property("calibration", line)
        assert count <= high, f"{line}; more than alpha allows (at most {high})"
        if name in ("mean", "variance"):  # exact null laws: not (much) more conservative
            assert count >= low, f"{line}; fewer than the last look alone gives ({low})"
    record_property("calibration", f"size  {f'sequential check, battery, he-{dist}':58} "
                    f"{battery:4}/{RUNS} = {battery / RUNS:.4f} 95% CI {wilson(battery, RUNS)} "
                    f"nominal <= {5 * LEVEL} (Bonferroni); {early} stopped before the last look")
    assert battery <= binomial_range(RUNS, 5 * LEVEL)[1]


def test_looking_without_spending_alpha_is_caught_as_miscalibrated(record_property):
    """Negative control: the same four nested looks, each at the full level, fail a
    correct sampler far more often than alpha: the spending rule is what keeps the size."""
    from verify.schemes import InitSpec

    spec = InitSpec("he", "normal")
    sampler = StackedSampler(spec)
    variance = spec.variance(SEQUENTIAL_SHAPE)
    alarms = 0
    for seed in np.random.SeedSequence(8).generate_state(RUNS, dtype=np.uint64):
        sample = sampler.stacked(SEQUENTIAL_SHAPE, SEQUENTIAL_SAMPLES // 256, int(seed))
        alarms += any(stats.variance_test(sample[:n // 256], variance, gaussian=True,
                                          policy=SEQUENTIAL).pvalue < LEVEL
                      for n in (1024, 4096, 16384, 65536))
    high = binomial_range(RUNS, LEVEL)[1]
    record_property("calibration", f"size  {'four looks at the full level (negative control)':58}"
                    f" {alarms:4}/{RUNS} = {alarms / RUNS:.4f}: rejected as miscalibrated")
    assert alarms > high


def test_sequential_check_keeps_the_default_power(record_property):
    """The default check (looks, then resampling) detects a 1% variance error, either
    way, with probability 0.99: the last look grew by what the split of alpha needs."""
    from verify.conformance import check_shape, sample_size
    from verify.schemes import InitSpec

    spec, shape = InitSpec("he", "normal"), (256, 128)
    n = sample_size(spec, spec.law(shape))
    growth = n / stats.variance_sample_size()
    assert 1.0 < growth < 1.1
    detected, early = 0, 0
    seeds = np.random.SeedSequence(9).generate_state(POWER_TRIALS, dtype=np.uint64)
    for index, seed in enumerate(seeds):
        sampler = StackedSampler(spec, 0.01 if index % 2 else -0.01)
        result = check_shape(sampler, spec, shape, seed=int(seed))
        detected += result.verdict is Verdict.FAIL
        early += result.stopped_early
    assert_power(record_property, f"sequential check +-1%, he-normal {shape}, n={n} "
                 f"(+{growth - 1:.1%}), {early} early", detected, POWER_TRIALS)
