"""The measurements of the checks themselves (``verify.measure``) and the peer checks
they compare with (``verify.peers``)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests.mutants import BY_NAME
from verify import measure, peers
from verify.schemes import InitSpec


def test_the_fast_ks_decision_is_pytorchs():
    """``ks_detects`` decides as ``scipy.stats.kstest(...).pvalue > 1e-4`` does, also
    right at the threshold."""
    law = scipy_stats.norm(0, 0.1)
    rng = np.random.default_rng(0)
    decisions = []
    for scale in np.linspace(1.0, 1.15, 31):
        for n in (500, 2500, 20_000):
            sample = rng.standard_normal(n) * 0.1 * scale
            expected = not scipy_stats.kstest(sample, law.cdf).pvalue > peers.KS_THRESHOLD
            assert peers.ks_detects(sample, law) is expected
            decisions.append(expected)
    assert any(decisions) and not all(decisions)  # both sides of the threshold were tried


def test_the_std_tolerance_is_keras_assert_all_close():
    law = scipy_stats.norm(0, 0.3)
    assert not peers.std_detects(np.array([0.3, -0.3] * 50), law)  # std 0.3
    assert not peers.std_detects(np.array([0.39, -0.39] * 50), law)
    assert peers.std_detects(np.array([0.41, -0.41] * 50), law)


def test_peer_shapes_are_the_suites_own():
    rng = np.random.default_rng(1)
    for _ in range(200):
        shape = peers.pytorch_shape(rng)
        assert len(shape) in (2, 4)
        assert all(20 <= side <= (50 if len(shape) == 2 else 25) for side in shape)
    assert peers.keras_shape(rng) == (25, 20)


def test_procedure_power_is_size_at_no_error_and_one_at_a_large_one():
    from verify.conformance import sample_size

    n = sample_size(measure.HE_NORMAL, measure.HE_NORMAL.law(measure.POWER_SHAPE))
    size = measure.procedure_power(n, 0.0)
    # the last look at half of alpha (less what resampling may spend), plus resampling
    assert 0.4995e-9 <= size <= 1e-9
    assert measure.procedure_power(n, 0.02) > 0.999
    assert measure.procedure_power(n, 0.01) >= 0.99  # the default power target


def test_min_detectable_error_is_read_from_the_curve():
    def point(error, detected):
        return {"error": error, "detected": measure.rate(detected, 100)}

    points = [point(-0.1, 100), point(-0.05, 99), point(-0.01, 60), point(0.01, 50),
              point(0.05, 100), point(0.1, 98), point(0.2, 100)]
    found = measure._mde(points)
    assert (found["down"], found["down_below"]) == (-0.05, -0.01)
    assert (found["up"], found["up_below"]) == (0.2, 0.1)  # 0.05 reached, 0.1 not: from 0.2


def test_a_small_measurement_has_every_table():
    document = measure.measure(
        measure.Budget(runs=20, power_trials=2, peer_trials=3, default_trials=1, explore=False),
        seed=3)
    json.dumps(document)  # JSON-ready
    null = document["null"]
    assert null["runs"] == 20 and null["fresh_draw_failures"] == 0
    assert set(null["tests"]) == set(measure.BATTERY)
    for test in null["tests"].values():
        assert 0 <= test["single_stage"]["rate"] <= 1
        assert sum(test["uniformity"]["deciles"]) == 20
    points = {p["error"]: p for p in document["power"]["points"]}
    assert points[0.1]["detected"]["rate"] == 1.0 and points[-0.1]["detected"]["rate"] == 1.0
    assert points[0.1]["theory"] > 0.999
    rows = {row["mutant"]: row["detected"] for row in document["peers"]["mutants"]}
    assert rows.keys() == BY_NAME.keys()
    # a sampler that ignores its seed is invisible in one tensor, not to the default check
    assert rows["ignores_its_seed"]["pytorch-ks"]["rate"] == 0.0
    assert rows["ignores_its_seed"]["ours-default"]["rate"] == 1.0
    assert set(document["peers"]["min_detectable_error"]) == {
        "pytorch-ks", "ours@pytorch-ks", "keras-std", "ours@keras-std"}


def test_the_same_seed_gives_the_same_measurement():
    mutants = [BY_NAME["fan_out_for_fan_in"], BY_NAME["laplace_right_variance"]]
    first, second = (measure.peer_comparison(4, seed=9, default_trials=1, explore=False,
                                             mutants=mutants) for _ in range(2))
    for document in (first, second):
        document.pop("seconds")
    assert first == second


def test_a_scaled_sampler_has_exactly_the_variance_error():
    from verify.reference import ReferenceSampler

    base = ReferenceSampler(InitSpec("he", "normal"), "numpy")
    scaled = measure.Scaled(base, 0.21)
    ratio = np.var(scaled((64, 64), 5), dtype=np.float64) / np.var(base((64, 64), 5),
                                                                   dtype=np.float64)
    assert math.isclose(ratio, 1.21, rel_tol=1e-5)


@pytest.mark.slow
def test_null_calibration_observed_against_nominal(record_property):
    """1000 seeded checks of correct implementations at the loose level: the number of
    false alarms of each test is plausible for its stated size (binomial p > 1e-6),
    exact tests have uniform p-values, conservative ones no excess of small ones."""
    null = measure.null_calibration(1000, seed=20_261_126)
    assert null["fresh_draw_failures"] == 0
    for name, test in null["tests"].items():
        single = test["single_stage"]
        record_property("calibration", f"size  battery {name:48} {single['count']:4}/"
                        f"{single['runs']} = {single['rate']:.4f} 95% CI "
                        f"[{single['interval'][0]:.4f}, {single['interval'][1]:.4f}] "
                        f"nominal {single['nominal']}; KS of p-values "
                        f"p={test['uniformity']['ks_pvalue']:.3g}")
        assert single["binomial_pvalue"] > 1e-6, (name, single)
        assert test["two_stage"]["binomial_pvalue"] > 1e-6, (name, test["two_stage"])
        assert test["uniformity"]["ks_pvalue"] > 1e-6, (name, test["uniformity"])
    assert null["battery_single_stage"]["binomial_pvalue"] > 1e-6


def test_measure_command_writes_the_json_and_prints_the_tables(tmp_path):
    out = tmp_path / "deep" / "m.json"
    result = subprocess.run([sys.executable, "-m", "verify", "measure", "--quick", "--null-runs",
                             "10", "--runs", "10", "--trials", "2", "--out", str(out),
                             "--store", str(tmp_path / "store")], capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["null"]["runs"] == 10 and document["budget"]["peer_trials"] == 2
    assert document["calibration"]["runs"] == 10
    assert "Minimum detectable variance error" in result.stdout
    assert "Calibration at scale: 10 null checks" in result.stdout
    assert [p.name for p in out.parent.iterdir()] == ["m.json"]  # no temporary left


@pytest.mark.parametrize(("out", "message"), [
    (".", "is a directory"),
    ("/proc/version/m.json", "not a directory"),
    ("/proc/m.json", "not writable"),
])
def test_measure_refuses_an_unwritable_output_before_any_work(out, message):
    result = subprocess.run([sys.executable, "-m", "verify", "measure", "--quick", "--out", out],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
