"""``measure``'s calibration at scale (``verify.calibration``): the levels a run reaches, the
Clopper-Pearson intervals, the small checks' exact laws, a miscalibrated test caught by
its interval, the embedded cluster's counts equal to the in-process ones, ``--resume``,
and bad usage."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from scipy import special
from scipy import stats as scipy_stats

from verify import calibration
from verify.cli import main
from verify.execute import Options

TIMINGS = ("seconds", "seconds_per_check")


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_the_levels_go_down_as_far_as_the_runs_reach():
    assert calibration.levels_for(100_000) == [1e-2, 1e-3, 1e-4]
    assert calibration.levels_for(120_000) == [1e-2, 1e-3, 1e-4, 9e-5]  # 10/120,000 = 8.3e-5
    assert calibration.levels_for(2_000_000) == [1e-2, 1e-3, 1e-4, 1e-5, 5e-6]
    assert calibration.levels_for(200) == [5e-2, 1e-2, 1e-3, 1e-4]
    assert calibration.smallest_reached(10) is None  # would be 1: no level
    for runs in (25, 200, 2_996, 100_000, 333_333):
        level = calibration.smallest_reached(runs)
        assert runs * level >= calibration.MIN_EXPECTED  # rounded up, never down
        assert runs * level < 2 * calibration.MIN_EXPECTED


def test_the_interval_is_clopper_pearsons():
    """The exact binomial interval from the beta quantiles, computed here independently."""
    for count, runs in ((0, 100), (3, 1000), (42, 2996), (1000, 1000)):
        found = calibration.binomial_rate(count, runs, 0.01, "exact")
        low = scipy_stats.beta.ppf(0.025, count, runs - count + 1) if count else 0.0
        high = scipy_stats.beta.ppf(0.975, count + 1, runs - count) if count < runs else 1.0
        assert found["interval"] == pytest.approx([low, high], rel=1e-9, abs=1e-15)
    assert calibration.binomial_rate(0, 100, 0.01, "exact")["reading"] == "consistent"
    assert calibration.binomial_rate(20, 100, 0.01, "exact")["reading"] == "above nominal"
    assert calibration.binomial_rate(0, 10_000, 0.01, "exact")["reading"] == "below nominal"
    assert calibration.binomial_rate(0, 10_000, 0.01, "conservative")["reading"] == \
        "below nominal (conservative)"


def test_small_checks_make_one_look_on_gaussian_claims_below_the_exact_ks_limit():
    """The small tier's laws are exact because every check is one look at fewer than
    10,000 entries of a Gaussian claim."""
    from verify.conformance import DEFAULT_MAX_CALLS
    from verify.laws import claim_is_gaussian
    from verify.stats import KS_LIMIT_LAW_FROM, look_sizes

    implementations = calibration.small_implementations()
    assert len(implementations) >= 6
    assert all(claim_is_gaussian(i.claim) for i in implementations)
    for shape in calibration.SMALL_SHAPES:
        numel = math.prod(shape)
        for samples in calibration.SMALL_SAMPLES:
            looks = look_sizes(min(samples, DEFAULT_MAX_CALLS * numel), unit=numel)
            assert len(looks) == 1 and looks[0] < KS_LIMIT_LAW_FROM, (shape, samples, looks)
    cases = {calibration._small_case(i)[1:] for i in range(len(implementations) * 18)}
    assert len(cases) == len(calibration.SMALL_SHAPES) * len(calibration.SMALL_SAMPLES)


def test_a_batch_depends_on_its_seed_and_index_not_on_the_order_run():
    first = calibration.null_batch(tier="small", batch=3, start=30, checks=4, seed=5)
    again = calibration.null_batch(tier="small", batch=3, start=30, checks=4, seed=5)
    other = calibration.null_batch(tier="small", batch=4, start=30, checks=4, seed=5)
    assert _without_timings(first) == _without_timings(again)
    assert first["pvalues"]["variance"] != other["pvalues"]["variance"]
    assert all(len(column) == 4 for column in first["pvalues"].values())
    assert first["verdicts"]["pass"] + first["verdicts"]["suspicious"] == 4


N_NORMAL = 10
"""The fake check's sample size: small enough that the normal law is far from the t law."""


def _z_test_check(index: int, seed: int) -> calibration.NullCheck:
    """A miscalibrated test with a known false-alarm rate: the mean of 10 Gaussian values
    against the normal law, instead of Student's t with 9 degrees of freedom."""
    return calibration.NullCheck((float(2 * special.ndtr(-abs(_t(seed)))),), "pass", N_NORMAL)


def _t_test_check(index: int, seed: int) -> calibration.NullCheck:
    """The same statistic, with its exact law: the control."""
    return calibration.NullCheck((float(2 * special.stdtr(N_NORMAL - 1, -abs(_t(seed)))),),
                                 "pass", N_NORMAL)


def _t(seed: int) -> float:
    sample = np.random.default_rng(seed).standard_normal(N_NORMAL)
    return float(sample.mean() / (sample.std(ddof=1) / math.sqrt(N_NORMAL)))


def _fake_tier(name: str, run) -> calibration.Tier:
    law = calibration.NullLaw("exact", "claimed exact")
    return calibration.Tier(name, "a fake test of the mean of 10 Gaussian values", ("mean",),
                            {"mean": law}, 5000, run, lambda: {"n": N_NORMAL})


def test_a_miscalibrated_test_is_caught_by_its_interval(monkeypatch):
    """A z-test on 10 values alarms at 2 P(|t_9| > z_(a/2)): 3.0% at a nominal 1%, 0.37% at
    0.01%. Its rate's interval lies above the nominal rate at every level and holds the
    true rate; the exact t-test on the same samples is consistent with its levels."""
    monkeypatch.setitem(calibration.TIERS, "z-test", _fake_tier("z-test", _z_test_check))
    monkeypatch.setitem(calibration.TIERS, "t-test", _fake_tier("t-test", _t_test_check))
    found = calibration.calibrate({"z-test": 10_000, "t-test": 10_000}, seed=11,
                                  options=Options(workers=0))
    assert found["runs"] == 20_000 and not found["failed_units"]
    inflated, control = found["tiers"]["z-test"], found["tiers"]["t-test"]
    assert [row["level"] for row in inflated["levels"]] == [1e-2, 1e-3, 1e-4]
    for row in inflated["levels"]:
        rate = row["tests"]["mean"]
        true_rate = 2 * scipy_stats.t.sf(scipy_stats.norm.isf(row["level"] / 2), N_NORMAL - 1)
        assert rate["reading"] == "above nominal" and rate["significant"], (row["level"], rate)
        assert scipy_stats.binomtest(rate["count"], rate["runs"], true_rate).pvalue > 1e-6
    for row in control["levels"]:
        rate = row["tests"]["mean"]
        assert rate["binomial_pvalue"] > 1e-6, (row["level"], rate)
    assert any(line.startswith("z-test mean at 0.0001:") and line.endswith(", significant")
               for line in calibration.findings(found))
    assert not any(rate["significant"] for row in control["levels"]
                   for rate in (row["tests"]["mean"], row["battery"]))


def _calibration_run(*arguments: str, env=None) -> subprocess.CompletedProcess:
    from tests.dask_cluster import ROOT

    return subprocess.run([sys.executable, "-m", "verify", "measure", "--only", "calibration",
                           *arguments, "--json"], capture_output=True, text=True,
                          env=env, timeout=900, cwd=ROOT)


def test_the_embedded_cluster_counts_what_one_process_counts(tmp_path):
    """2,500 null checks (2,498 small in two units, 2 at the default sizes) on an
    embedded LocalCluster of 2 workers and in this process: the same seeds, the same
    p-values, identical counts at every level."""
    from tests.dask_cluster import ENVIRONMENT

    common = ["--runs", "2500", "--default-runs", "2", "--seed", "7"]
    cluster = _calibration_run(*common, "--workers", "2", "--store", str(tmp_path / "a"),
                               "--out", str(tmp_path / "a.json"), env=ENVIRONMENT)
    assert cluster.returncode == 0, cluster.stderr
    assert "(embedded LocalCluster)" in cluster.stderr
    alone = _calibration_run(*common, "--workers", "0", "--store", str(tmp_path / "b"),
                             "--out", str(tmp_path / "b.json"), env=ENVIRONMENT)
    assert alone.returncode == 0, alone.stderr
    assert "Dask" not in alone.stderr
    on_cluster = json.loads(cluster.stdout)["calibration"]
    in_process = json.loads(alone.stdout)["calibration"]
    assert _without_timings(on_cluster) == _without_timings(in_process)
    small = in_process["tiers"]["small"]
    assert small["runs"] == 2498 and small["units"] == 2
    assert in_process["tiers"]["default"]["runs"] == 2
    counts = [row["tests"]["variance"]["count"] for row in small["levels"]]
    assert counts == sorted(counts, reverse=True)  # nested levels, read from the same runs
    assert len(list((tmp_path / "a" / "units").glob("*.json"))) == 3


def test_resume_takes_the_stored_batches(monkeypatch, capsys, tmp_path):
    """Units of 100 checks: a run of 201 checks, then one of 301 with --resume, which takes
    the two full batches and the default-size check from the store and runs the third."""
    monkeypatch.setitem(calibration.TIERS, "small",
                        replace(calibration.TIERS["small"], batch=100))
    common = ["measure", "--only", "calibration", "--default-runs", "1", "--seed", "3",
              "--workers", "0", "--store", str(tmp_path / "store"), "--out",
              str(tmp_path / "m.json"), "--json"]
    assert main([*common, "--runs", "201"]) == 0
    first = json.loads(capsys.readouterr().out)["calibration"]
    stored = {p.name: p.read_text() for p in (tmp_path / "store" / "units").glob("*.json")}
    assert len(stored) == 3
    assert main([*common, "--runs", "301", "--resume"]) == 0
    captured = capsys.readouterr()
    assert "3 of 4 units unchanged since the stored run" in captured.err
    second = json.loads(captured.out)["calibration"]
    assert second["tiers"]["small"]["runs"] == 300 and second["tiers"]["small"]["units"] == 3
    # the stored units were taken as they were (their own timings too), not run again
    assert {name: (tmp_path / "store" / "units" / name).read_text() for name in stored} == stored
    assert _without_timings(first["tiers"]["default"]) == \
        _without_timings(second["tiers"]["default"])


@pytest.mark.parametrize(("arguments", "message"), [
    (["--runs", "0"], "expected a positive integer"),
    (["--runs", "3", "--default-runs", "5"], "more than --runs"),
    (["--default-runs", "-1"], "expected a non-negative integer"),
    (["--only", "everything"], "invalid choice"),
    (["--workers", "-2"], "expected a non-negative integer"),
    (["--store", "FILE"], "not a directory"),
])
def test_bad_usage_is_one_line_and_exit_2(arguments, message, capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    arguments = [str(a_file) if a == "FILE" else a for a in arguments]
    status = main(["measure", "--only", "calibration", *arguments, "--out",
                   str(tmp_path / "m.json")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written
