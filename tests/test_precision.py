"""verify.precision: the exact law of rounded low-precision values, its calibration, and the
complex battery. Expected values come from the formats' definitions (IEEE 754 binary16; the
upper half of a binary32 for bfloat16) and from rounding done here by bit arithmetic,
independently of the grid the module searches."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from verify import laws, stats
from verify.precision import rounded
from verify.precision.complex import complex_results
from verify.precision.rounding import grid, representable, round_to
from verify.stats import Policy, Verdict

LOOSE = Policy(alpha=0.01, suspicious=0.05)


def to_bfloat16(values: np.ndarray) -> np.ndarray:
    """Round to nearest even in bfloat16 by bit arithmetic on the float32 pattern."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded_bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return rounded_bits.astype(np.uint32).view(np.float32).astype(np.float64)


def to_float16(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float16).astype(np.float64)


ROUND = {"bfloat16": to_bfloat16, "float16": to_float16}


def test_the_grids_hold_every_finite_value_once():
    # binary16: 2^16 patterns, 2 * (2^10 - 1) NaNs, 2 infinities, two zeros as one
    assert len(grid("float16")) == 2**16 - 2 * (2**10 - 1) - 2 - 1
    # bfloat16: 8 exponent bits, 7 mantissa bits
    assert len(grid("bfloat16")) == 2**16 - 2 * (2**7 - 1) - 2 - 1
    assert grid("float16").max() == 65504.0
    assert grid("bfloat16").max() == float(np.finfo(np.float32).max) * (1 - 2**-8) / (1 - 2**-24)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_rounding_to_the_grid_is_rounding_to_nearest(dtype):
    # float32 values: rounding float64 to bfloat16 by bits would round twice
    values = np.random.default_rng(0).normal(0, 3, 100_000).astype(np.float32)
    np.testing.assert_array_equal(round_to(values, dtype), ROUND[dtype](values))
    assert representable(ROUND[dtype](values), dtype)
    assert not representable(values, dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("law", [scipy_stats.norm(0, 0.05), scipy_stats.uniform(-0.1, 0.2),
                                 scipy_stats.truncnorm(-2, 2, scale=0.3)],
                         ids=["normal", "uniform", "truncated"])
def test_the_rounded_law_is_the_law_of_rounded_draws(dtype, law):
    """Masses: a chi-square goodness of fit of 400,000 rounded draws over the rounded law's
    atoms (pooled into cells of at least 50 expected draws); moments against the sample's
    intervals."""
    rounded_law = rounded(law, dtype)
    draws = ROUND[dtype](law.rvs(size=400_000, random_state=np.random.default_rng(1)))
    atoms, counts = np.unique(draws, return_counts=True)
    observed = dict(zip(atoms, counts, strict=True))
    expected = rounded_law.masses * draws.size
    seen = np.array([observed.get(a, 0) for a in rounded_law.atoms], dtype=float)
    assert set(observed) <= set(rounded_law.atoms)
    cells, cell_expected, cell_seen, acc_e, acc_s = 0, [], [], 0.0, 0.0
    for e, s in zip(expected, seen, strict=True):
        acc_e, acc_s = acc_e + e, acc_s + s
        if acc_e >= 50:
            cell_expected.append(acc_e)
            cell_seen.append(acc_s)
            acc_e = acc_s = 0.0
    cell_expected[-1] += acc_e
    cell_seen[-1] += acc_s
    cells = len(cell_expected)
    chi2 = float(np.sum((np.array(cell_seen) - cell_expected) ** 2 / np.array(cell_expected)))
    assert scipy_stats.chi2.sf(chi2, cells - 1) > 1e-4, (chi2, cells)
    assert abs(draws.mean() - rounded_law.mean()) < 5 * draws.std() / math.sqrt(draws.size)
    assert rounded_law.var() == pytest.approx(draws.var(), rel=0.02)
    # the distribution function at the atoms, and just left of them
    for atom in rounded_law.atoms[:: max(1, len(rounded_law.atoms) // 7)]:
        assert rounded_law.cdf(atom) == pytest.approx(np.mean(draws <= atom), abs=0.004)
        assert rounded_law.cdf_before(atom) == pytest.approx(np.mean(draws < atom), abs=0.004)


def test_bounds_round_and_unbounded_sides_stay():
    law = rounded(scipy_stats.uniform(-0.1, 0.2), "bfloat16")
    assert law.support() == (float(to_bfloat16(np.array([-0.1]))[0]),
                             float(to_bfloat16(np.array([0.1]))[0]))
    assert rounded(scipy_stats.norm(0, 1), "float16").support() == (-math.inf, math.inf)
    assert rounded(scipy_stats.norm(0, 1), "float32") is not None  # float32: the law itself
    normal = scipy_stats.norm(0, 1)
    assert rounded(normal, "float32") is normal


def _battery(values: np.ndarray, law) -> list:
    sample = stats.Sample(values)
    return [stats.mean_test(sample, law.mean(), policy=LOOSE),
            stats.variance_test(sample, law.var(), gaussian=False, policy=LOOSE),
            stats.support_test(sample, law, policy=LOOSE),
            stats.shape_test(sample, law.cdf, policy=LOOSE,
                             cdf_before=getattr(law, "cdf_before", None))]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("family", ["normal", "uniform"])
def test_size_of_the_battery_on_rounded_values(dtype, family, record_property):
    """400 samples of 20,000 correctly rounded draws: each test's false-alarm rate at 0.01
    stays within its binomial range (upper 99.9% quantile of Binomial(400, 0.01): 11)."""
    law = scipy_stats.norm(0, 0.05) if family == "normal" else scipy_stats.uniform(-0.1, 0.2)
    claimed = rounded(law, dtype)
    rng = np.random.default_rng(2)
    alarms = np.zeros(4, dtype=int)
    for _ in range(400):
        values = ROUND[dtype](law.rvs(size=20_000, random_state=rng)).reshape(200, 100)
        alarms += [r.pvalue < 0.01 for r in _battery(values, claimed)]
    bound = int(scipy_stats.binom.ppf(0.999, 400, 0.01))
    record_property("calibration", f"size  rounded {family} in {dtype}, mean/variance/"
                    f"support/shape: {list(alarms)}/400 each, nominal 0.01, bound {bound}")
    assert all(a <= bound for a in alarms), alarms


def test_a_continuous_law_calls_rounding_a_deviation_the_rounded_law_does_not():
    """The reason for the rounded law: four million bfloat16 draws against the float64
    ideal fail the shape test; against the rounded law they pass."""
    law = scipy_stats.uniform(-0.1, 0.2)
    values = to_bfloat16(law.rvs(size=4_000_000, random_state=np.random.default_rng(3)))
    assert stats.shape_test(values, law.cdf, policy=LOOSE).pvalue < 1e-6
    claimed = rounded(law, "bfloat16")
    assert stats.shape_test(values, claimed.cdf, policy=LOOSE,
                            cdf_before=claimed.cdf_before).pvalue > 0.01


def test_power_against_a_grid_coarser_than_the_dtype():
    """A uniform drawn on 256 levels of [a, b) (the mantissa of a bfloat16 in [1, 2)) is
    biased by half a level and fails the rounded law."""
    rng = np.random.default_rng(4)
    levels = rng.integers(0, 256, size=1_000_000) / 256
    values = to_bfloat16(-0.1 + 0.2 * levels)
    results = _battery(values, rounded(scipy_stats.uniform(-0.1, 0.2), "bfloat16"))
    assert {r.name for r in results if r.verdict is Verdict.FAIL} >= {"mean", "shape"}


def test_an_extreme_one_value_inside_the_bound_reaches_it():
    """Draws on [a, b) never return b; rounding to nearest would, with half a unit's mass."""
    law = rounded(scipy_stats.uniform(0, 1), "float16")
    values = np.minimum(to_float16(np.random.default_rng(5).uniform(0, 1, 200_000)),
                        float(grid("float16")[np.searchsorted(grid("float16"), 1.0) - 1]))
    assert stats.support_test(values, law, policy=LOOSE).verdict is Verdict.PASS
    clipped = np.minimum(values, 0.99)
    assert stats.support_test(clipped, law, policy=LOOSE).verdict is Verdict.FAIL


class _Complex:
    def __init__(self, draw, dtype="complex64"):
        self.draw, self.dtype = draw, dtype

    def __call__(self, shape, seed):
        return self.draw(shape, np.random.default_rng(seed))


def test_a_circular_complex_normal_of_the_claimed_variance_passes():
    claim = laws.normal(0.1)

    def draw(shape, rng):
        part = rng.normal(0, 0.1 / math.sqrt(2), (2, *shape))
        return (part[0] + 1j * part[1]).astype(np.complex64)

    results = complex_results(_Complex(draw), claim, (64, 32), seed=6, policy=LOOSE,
                              max_calls=100)
    assert all(r.verdict is not Verdict.FAIL for r in results), [r.summary() for r in results]
    assert "real part shape" in {r.name for r in results}


def test_each_part_at_the_whole_variance_is_twice_the_claim():
    """What torch.nn.init.xavier_uniform_ does on a complex tensor: each part U(-a, a)."""
    claim = laws.uniform(-0.3, 0.3)

    def draw(shape, rng):
        part = rng.uniform(-0.3, 0.3, (2, *shape))
        return (part[0] + 1j * part[1]).astype(np.complex64)

    results = {r.name: r for r in complex_results(_Complex(draw), claim, (64, 32), seed=7,
                                                  policy=LOOSE, max_calls=100)}
    assert results["complex variance"].verdict is Verdict.FAIL
    assert results["complex variance"].estimate / results["complex variance"].expected \
        == pytest.approx(2.0, rel=0.02)
    assert "real part shape" not in results  # a uniform claim leaves the parts' law open


def _cli(*words: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "verify", *words], capture_output=True,
                          text=True, timeout=600)


def test_check_asks_the_initializer_for_the_dtype():
    """torch.nn.init.xavier_uniform_ documents U(-a, a); on a complex tensor it draws each
    part from it, twice the variance (a finding); a refused dtype is one line, exit 2."""
    import json

    done = _cli("check", "torch:xavier_uniform_", "--dtype", "complex64", "--shape", "64,32",
                "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["complex variance"]["verdict"] == "fail"
    assert checks["complex variance"]["estimate"] / checks["complex variance"]["expected"] \
        == pytest.approx(2.0, rel=0.02)
    done = _cli("check", "torch:kaiming_normal_", "--dtype", "bfloat16", "--shape", "64,32")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "[bfloat16]" in done.stdout
    refused = _cli("check", "torch:trunc_normal_", "--dtype", "complex64", "--shape", "8,8")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines()[-1].startswith(
        "error: torch.nn.init.trunc_normal_ refuses complex64")


def test_conformance_runs_each_dtype_an_entry_takes_and_names_it():
    import json

    done = _cli("conformance", "--library", "torch", "--dtype", "float16", "complex64",
                "--examples", "1", "--no-fingerprint", "--json")
    assert done.returncode in (0, 1), done.stderr[-2000:]
    rows = json.loads(done.stdout)["entries"]
    by = {(r["target"], r["dtype"]): r for r in rows}
    assert by[("torch:kaiming_normal_", "float16")]["verdict"] == "pass"
    assert by[("torch:trunc_normal_", "complex64")]["verdict"] == "not supported"
    assert "refuses complex64" in by[("torch:trunc_normal_", "complex64")]["reason"]
    assert by[("torch:nn.Linear", "float16")]["verdict"] == "not supported"  # layers: float32
    assert by[("torch:xavier_uniform_", "complex64")]["verdict"] == "fail"
    assert {r["dtype"] for r in rows if r["verdict"] != "skipped"} == {"float16", "complex64"}


def test_jax_64_bit_dtypes_are_drawn_in_a_child_with_x64():
    """A process without jax_enable_x64 gets 32 bits from JAX for float64: the catalog
    draws those entries in a child process with JAX_ENABLE_X64=1, and the values are
    64-bit (more than float32's 24 bits of mantissa)."""
    pytest.importorskip("jax")
    from verify import catalog
    from verify.adapters.remote import close_all

    try:
        entry = catalog.load(["jax"]).find("jax:glorot_normal")
        values = entry.target("float64").sample((64, 32), 1)
        assert values.dtype == np.float64
        assert np.any(values != values.astype(np.float32).astype(np.float64))
        complex_values = entry.target("complex128").sample((64, 32), 1)
        assert complex_values.dtype == np.complex128
    finally:
        close_all()


def test_fresh_draws_allow_the_repeats_of_a_low_precision_dtype():
    """Two 1-entry bfloat16 draws of N(1, 0.5^2) agree by chance (sum of the squared atom
    masses, 0.3%): the fresh-draws check compares as many calls as make a chance repeat of
    all of them rarer than alpha, so such a pair is no alarm, while a sampler that ignores
    its seed still fails."""
    from verify.conformance import call_checks

    law = scipy_stats.norm(1.0, 0.5)

    class Rounded:
        dtype = "bfloat16"

        def __call__(self, shape, seed):
            draws = law.rvs(size=shape, random_state=np.random.default_rng(seed))
            return to_bfloat16(draws).astype(np.float32)

    sampler = Rounded()
    coincidence = rounded(law, "bfloat16").coincidence()
    assert coincidence == pytest.approx(0.0032, rel=0.05)
    seed = next(s for s in range(10_000)
                if np.array_equal(sampler((1, 1), s), sampler((1, 1), s + 1)))
    assert call_checks(sampler, (1, 1), seed)[0].verdict is Verdict.FAIL  # one call: alarm
    fresh = call_checks(sampler, (1, 1), seed, coincidence=coincidence)
    assert fresh[0].verdict is Verdict.PASS, fresh[0].detail

    def ignoring(shape, seed):
        return sampler(shape, 0)

    assert call_checks(ignoring, (1, 1), seed, coincidence=coincidence)[0].verdict \
        is Verdict.FAIL


def test_the_grid_ks_test_counts_an_atom_on_an_edge_on_either_side():
    """Correctly rounded bfloat16 draws of U(-0.5, 0.25): the shape test's grid (2.4 M
    draws, above the exact test's size) has edges on bfloat16 values, and the cell
    arithmetic's rounding puts such an atom on either side of its edge. Compared with the
    interval [P(X < e), P(X <= e)] it passes (it failed at p = 1.5e-14 compared with
    P(X < e) alone); a law stretched by 0.4% still fails."""
    law = scipy_stats.uniform(-0.5, 0.75)
    claimed = rounded(law, "bfloat16")
    rng = np.random.default_rng(3)
    draws = to_bfloat16(law.rvs(size=2_400_000, random_state=rng)).astype(np.float32)
    assert draws.size > stats.EXACT_KS_MAX
    result = stats.shape_test(draws, claimed.cdf, cdf_before=claimed.cdf_before)
    assert result.verdict is Verdict.PASS, result
    stretched = scipy_stats.uniform(-0.5, 0.75 * 1.004)
    draws = to_bfloat16(stretched.rvs(size=2_400_000, random_state=rng)).astype(np.float32)
    result = stats.shape_test(draws, claimed.cdf, cdf_before=claimed.cdf_before)
    assert result.verdict is Verdict.FAIL, result
