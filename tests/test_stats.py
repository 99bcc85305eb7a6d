"""Unit tests of the statistical engine's mechanics (its error rates: test_calibration)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from verify import stats
from verify.distributions import NORMAL, UNIFORM
from verify.stats import CheckResult, Policy, Verdict


def test_sample_size_is_the_smallest_that_meets_the_power_target():
    n = stats.variance_sample_size()
    assert stats.variance_min_detectable_effect(n) <= 0.01
    assert stats.variance_min_detectable_effect(int(n * 0.99)) > 0.01
    # direct power at the target effect, both directions
    assert stats.variance_power(n, 0.01, alpha=1e-9) >= 0.99
    assert stats.variance_power(n, -0.01, alpha=1e-9) >= 0.99


def test_power_at_zero_effect_is_the_size():
    assert stats.variance_power(10_000, 0.0, alpha=0.01) == pytest.approx(0.01, rel=1e-6)
    assert stats.variance_power(10_000, 0.0, alpha=0.01, kurtosis=1.8, gaussian=False) == (
        pytest.approx(0.01, rel=1e-6))


def test_lighter_tails_need_fewer_samples():
    uniform = stats.variance_sample_size(kurtosis=1.8, gaussian=False)
    normal = stats.variance_sample_size(kurtosis=3.0, gaussian=False)
    laplace = stats.variance_sample_size(kurtosis=6.0, gaussian=False)
    assert uniform < normal < laplace
    # Var[s^2] / sigma^4 ~ (kappa - 1) / n: the sizes scale with kappa - 1
    assert uniform / normal == pytest.approx(0.8 / 2.0, rel=0.01)


def test_policy_classifies_pvalues():
    policy = Policy()
    assert policy.classify(0.5) is Verdict.PASS
    assert policy.classify(1e-4) is Verdict.SUSPICIOUS
    assert policy.classify(1e-10) is Verdict.FAIL
    assert policy.classify(math.nan) is Verdict.FAIL
    with pytest.raises(ValueError):
        Policy(alpha=0.1, suspicious=0.01)


def _result(pvalue: float) -> CheckResult:
    return CheckResult("fake", 1.0, 1.0, (1.0, 1.0), 0.0, pvalue, 10, 0.0, "relative",
                       Policy().classify(pvalue))


def test_resolve_redraws_larger_samples_while_suspicious():
    sizes, pvalues = [], iter([1e-5, 0.4])

    def draw(n, rng):
        sizes.append(n)
        return np.zeros(n)

    result = stats.resolve(lambda x: _result(next(pvalues)), draw, 100,
                           np.random.default_rng(0))
    assert result.verdict is Verdict.PASS and result.attempts == 2
    assert sizes == [100, 400]


def test_resolve_stops_after_the_last_resample():
    result = stats.resolve(lambda x: _result(1e-5), lambda n, rng: np.zeros(n), 10,
                           np.random.default_rng(0))
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.attempts == Policy().max_resamples + 1


def test_resolve_uses_a_given_first_result_without_drawing():
    def draw(n, rng):
        raise AssertionError("should not draw")

    result = stats.resolve(lambda x: _result(0.5), draw, 10, np.random.default_rng(0),
                           first=_result(0.5))
    assert result.attempts == 1


def test_shape_test_matches_scipy_kstest():
    x = np.random.default_rng(1).standard_normal(5000) * 1.02
    ours = stats.shape_test(x, NORMAL.cdf(1.0))
    theirs = scipy_stats.kstest(x, scipy_stats.norm.cdf)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(theirs.pvalue, rel=1e-6)


def test_grid_shape_statistic_is_a_lower_bound_within_one_cell_of_the_exact_one():
    x = np.random.default_rng(11).standard_normal(3 * stats.EXACT_KS_MAX) * 1.003
    grid = stats.shape_test(x, NORMAL.cdf(1.0))
    exact = scipy_stats.kstest(x, scipy_stats.norm.cdf).statistic
    cell = float(np.max(np.diff(scipy_stats.norm.cdf(stats.Sample(x).edges))))
    assert exact - cell <= grid.statistic <= exact
    assert "grid" in grid.detail
    assert grid.pvalue >= scipy_stats.kstest(x, scipy_stats.norm.cdf).pvalue


def test_grid_shape_test_finds_the_wrong_family_with_the_right_variance():
    x = UNIFORM.sample(np.random.default_rng(12), 1_000_000, 1.0, dtype=np.float32)
    assert stats.shape_test(x, NORMAL.cdf(1.0)).verdict is Verdict.FAIL
    # at the claim, the grid costs the minimum detectable distance about one cell's mass
    null = stats.shape_test(NORMAL.sample(np.random.default_rng(12), 1_000_000, 1.0,
                                          dtype=np.float32), NORMAL.cdf(1.0))
    assert null.verdict is Verdict.PASS
    exact_mde = stats._dkw(null.n, 1e-9) + stats._dkw(null.n, 0.01)
    assert exact_mde < null.min_detectable_effect < exact_mde + 0.0015


def test_sample_moments_match_numpy_in_float32_and_float64():
    rng = np.random.default_rng(13)
    for x in (rng.standard_normal((7, 5000)).astype(np.float32) * 3 + 100.0,
              rng.laplace(size=(3, 40000)) - 2.0):
        sample = stats.Sample(x)
        x64 = x.astype(np.float64)
        m2, m4 = sample.central
        assert sample.mean == pytest.approx(x64.mean(), rel=1e-12)
        assert m2 == pytest.approx(x64.var(), rel=1e-10)
        assert m4 == pytest.approx(np.mean((x64 - x64.mean()) ** 4), rel=1e-9)
        assert (sample.min, sample.max) == (x.min(), x.max())


def test_lag_sums_match_a_direct_computation_on_every_axis():
    x = np.random.default_rng(14).standard_normal((3, 4, 5, 6))
    x[1] += 0.5  # a non-zero mean
    sample = stats.Sample(x)
    centered = (x - x.mean()).reshape(-1)
    magnitudes = (np.abs(x - sample.shift) > sample.threshold).astype(np.float64).reshape(-1)
    magnitudes -= magnitudes.mean()
    for axis in range(4):
        stride = math.prod(x.shape[axis + 1:])  # neighbours along the axis, in the flat array
        for kind, values in (("values", centered), ("magnitudes", magnitudes)):
            left, right = values[:-stride], values[stride:]
            cross, left_sq, right_sq, pairs = sample.lag_sums(axis, kind)
            assert pairs == left.size
            assert cross == pytest.approx(np.sum(left * right), abs=1e-9)
            assert left_sq == pytest.approx(np.sum(left * left), rel=1e-12)
            assert right_sq == pytest.approx(np.sum(right * right), rel=1e-12)


def test_tests_fail_a_sample_with_nan_or_inf():
    for bad in (np.nan, np.inf):
        x = np.random.default_rng(15).standard_normal(1000)
        x[10] = bad
        sample = stats.Sample(x)
        assert not sample.finite
        for result in (stats.mean_test(sample), stats.variance_test(sample, 1.0, gaussian=True),
                       stats.support_test(sample, NORMAL.law(1.0)),
                       stats.shape_test(sample, NORMAL.cdf(1.0)),
                       stats.independence_test(sample)):
            assert result.verdict is Verdict.FAIL, result


def test_mean_test_matches_scipy_ttest_1samp():
    x = np.random.default_rng(16).standard_normal(777) + 0.05
    ours = stats.mean_test(x)
    theirs = scipy_stats.ttest_1samp(x, 0.0)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-10)
    assert ours.pvalue == pytest.approx(theirs.pvalue, rel=1e-8)
    interval = theirs.confidence_interval(0.95)
    assert ours.interval == pytest.approx((interval.low, interval.high), rel=1e-10)


def test_exact_variance_test_matches_the_chi_square_law():
    x = np.random.default_rng(2).standard_normal(50) * 1.3
    result = stats.variance_test(x, 1.0, gaussian=True)
    statistic = 49 * np.var(x, ddof=1)
    assert result.statistic == pytest.approx(statistic)
    assert result.pvalue == pytest.approx(2 * scipy_stats.chi2.sf(statistic, 49))
    low, high = result.interval
    assert low < np.var(x, ddof=1) < high


def test_support_test_fails_samples_outside_the_bound():
    x = UNIFORM.sample(np.random.default_rng(3), 10_000, 1.0)
    x[17] = 2.0
    result = stats.support_test(x, UNIFORM.law(1.0))
    assert result.verdict is Verdict.FAIL and "outside" in result.detail


def test_support_test_fails_a_clamped_normal():
    x = np.clip(np.random.default_rng(4).standard_normal(200_000), -3, 3)
    assert stats.support_test(x, NORMAL.law(1.0)).verdict is Verdict.FAIL


def test_support_test_fails_a_uniform_that_does_not_reach_its_bound():
    x = np.random.default_rng(5).uniform(-0.99, 0.99, 100_000)
    assert stats.support_test(x, UNIFORM.law(1 / math.sqrt(3))).verdict is Verdict.FAIL


def test_support_test_accepts_float32_samples_rounded_onto_the_bound():
    bound = math.sqrt(3)
    x = np.random.default_rng(6).uniform(-bound, bound, 1000).astype(np.float32)
    x[0] = np.float32(bound)  # rounds above the float64 bound
    assert stats.support_test(x, UNIFORM.law(1.0)).verdict is not Verdict.FAIL


def test_independence_test_finds_repeated_rows_and_shared_scales():
    rng = np.random.default_rng(7)
    iid = rng.standard_normal((200, 300))
    assert stats.independence_test(iid).verdict is Verdict.PASS
    repeated = np.repeat(rng.standard_normal((100, 300)), 2, axis=0)
    assert stats.independence_test(repeated).verdict is Verdict.FAIL
    scaled = rng.standard_normal((200, 300)) * rng.exponential(size=(200, 1))
    assert stats.independence_test(scaled).verdict is Verdict.FAIL


def test_replicate_test_with_zero_expectation_measures_effects_in_sd():
    values = np.random.default_rng(8).standard_normal(1000) * 0.1
    result = stats.replicate_test(values, 0.0, scale=2.0)
    assert result.effect_unit == "sd"
    assert result.min_detectable_effect == pytest.approx(
        (scipy_stats.t.isf(0.5e-9, 999) + scipy_stats.t.isf(0.01, 999))
        * values.std(ddof=1) / math.sqrt(1000) / 2.0)


def test_results_serialize_to_json():
    result = stats.variance_test(np.ones(10) + np.arange(10), 1.0, gaussian=False)
    text = json.dumps(result.to_dict())
    assert json.loads(text)["verdict"] in ("pass", "suspicious", "fail")
    support = stats.support_test(np.arange(10.0), NORMAL.law(1.0))
    json.dumps(support.to_dict())  # NaN effect sizes must not break JSON


@pytest.mark.parametrize("family", ["normal", "uniform", "truncated_normal", "laplace"])
def test_fast_cdfs_equal_scipys(family):
    from verify.distributions import ZERO_MEAN_FAMILIES

    chosen = next(f for f in ZERO_MEAN_FAMILIES if f.name == family)
    x = np.linspace(-4, 4, 2001)
    np.testing.assert_allclose(chosen.cdf(0.7)(x), chosen.law(0.7).cdf(x), rtol=0, atol=1e-14)


@pytest.mark.parametrize("n", [stats.KS_LIMIT_LAW_FROM, 65_536, 200_000])
def test_the_limiting_ks_law_is_conservative_where_the_shape_test_uses_it(n):
    """Above ``KS_LIMIT_LAW_FROM`` the shape test takes its p-value from the limiting
    Kolmogorov law: it must never be smaller than the exact one."""
    for x in (0.3, 0.8, 1.2, 2.0, 3.0, 4.5):
        exact = scipy_stats.kstwo.sf(x / math.sqrt(n), n)
        assert scipy_stats.kstwobign.sf(x) >= exact


# --- two samples ------------------------------------------------------------------------


def test_variance_ratio_interval_covers_the_true_ratio_of_different_families():
    rng = np.random.default_rng(11)
    first = rng.uniform(-1, 1, 50_000)  # variance 1/3
    second = rng.normal(0, 1, 70_000)
    result = stats.variance_ratio_test(first, second)
    low, high = result.interval
    assert low < 3.0 < high and result.verdict is Verdict.FAIL
    same = stats.variance_ratio_test(first, rng.uniform(-1, 1, 30_000))
    assert same.verdict is not Verdict.FAIL and same.interval[0] < 1.0 < same.interval[1]
    # the log-ratio's standard error: sqrt((kappa_a - 1) / n_a + (kappa_b - 1) / n_b)
    spread = math.sqrt(0.8 / 50_000 + 2.0 / 70_000)
    assert math.log(high / low) == pytest.approx(2 * 1.959964 * spread, rel=0.02)


def test_variance_ratio_of_constant_samples_is_exact():
    random = np.random.default_rng(0).normal(size=1000)
    assert stats.variance_ratio_test(random, np.zeros(10)).estimate == 0.0
    assert stats.variance_ratio_test(random, np.zeros(10)).verdict is Verdict.FAIL
    both = stats.variance_ratio_test(np.ones(10), np.zeros(10))
    assert both.pvalue == 1.0 and math.isnan(both.estimate)


def test_mean_difference_and_same_shape_tell_location_and_family_apart():
    rng = np.random.default_rng(12)
    normal = rng.normal(0, 1, 40_000)
    shifted = stats.mean_difference_test(normal, rng.normal(0.1, 1, 40_000))
    assert shifted.verdict is Verdict.FAIL and shifted.interval[0] < 0.1 < shifted.interval[1]
    # a uniform and a normal of any scale and location: different shapes
    uniform = rng.uniform(5, 9, 40_000)
    assert stats.same_shape_test(normal, uniform, rng=rng).verdict is Verdict.FAIL
    scaled = stats.same_shape_test(normal, 3 + 0.01 * rng.normal(size=90_000), rng=rng)
    assert scaled.verdict is not Verdict.FAIL and scaled.n == 40_000 + 2**16
