"""Calibration of the audit's own procedures: pooled builds with sequential looks, and the
cross-tensor tests (correlated builds, twins, left on the default).

As in tests/test_calibration.py, each runs at a loose level over many seeds and asserts
that the false-alarm count is plausible for the stated size (inside the central
``1 - 1e-6`` range of the binomial, or below its upper end where the stated size is a
Bonferroni bound), and that a deviation of the target size is found at the stated power.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from verify.audit import anomalies, engine
from verify.audit.builders import Builder
from verify.laws import TensorLaw
from verify.stats import Policy, Verdict

from .test_calibration import binomial_range, wilson

pytestmark = pytest.mark.slow

LEVEL = 0.01
AUDIT_POLICY = Policy(alpha=LEVEL, suspicious=LEVEL, effect=0.1)
"""A loose policy: size 0.01 and a 10% effect, so that an audit needs about a hundred
builds of an 8x8 tensor, over three looks."""
STD = 0.02


class _Spec:
    """A one-rule spec: every tensor N(0, std^2)."""

    origin = "calibration"
    doc_mismatches = ()

    def __init__(self, std: float) -> None:
        self.law = TensorLaw(family="normal", std=std, source="spec")

    def law_for(self, names, config):
        return self.law

    def unmatched(self, names):
        return []


def _builder(std: float, shape=(8, 8)) -> Builder:
    def make(seed: int):
        rng = np.random.default_rng(seed)
        return {"w": rng.normal(0.0, std, shape).astype(np.float32)}

    return Builder(target="calibration:arrays", api="arrays", make=make)


def _audits(runs: int, std: float, seed: int = 0) -> list[engine.AuditResult]:
    spec = _Spec(STD)
    return [engine.run(_builder(std), spec=spec, seed=seed * 100_000 + run,
                       policy=AUDIT_POLICY, reload=False) for run in range(runs)]


def test_pooled_builds_and_looks_keep_their_size(record_property):
    """Each test of the battery, over the audit's looks, falsely fails at most ``alpha``
    (Bonferroni over looks: the count must not exceed the binomial range of ``alpha``);
    and a negative control, each look at the full level, is caught."""
    runs = 1000
    results = _audits(runs, STD)
    looks = {r.builds for r in results}
    assert len(looks) >= 1 and max(looks) > 8  # several looks were planned
    _, high = binomial_range(runs, LEVEL)
    for test in ("variance", "mean", "shape", "support"):
        fails = sum(any(c.name == test and c.verdict is Verdict.FAIL
                        for c in r.tensors[0].checks) for r in results)
        line = (f"size  audit {test} over looks {fails:4}/{runs} = {fails / runs:.4f} "
                f"95% CI {wilson(fails, runs)} nominal <= {LEVEL}")
        record_property("calibration", line)
        assert fails <= high, line
    # the whole audit: at most the Bonferroni sum of its families
    failed = sum(r.verdict == "fail" for r in results)
    record_property("calibration", f"size  audit, whole (bound {6 * LEVEL}) {failed}/{runs}")
    assert failed <= binomial_range(runs, 6 * LEVEL)[1]


def test_looks_at_full_level_are_caught():
    """Negative control: testing at every look at the full level inflates the size; the
    same count that the Bonferroni procedure keeps below its bound exceeds it."""
    from verify import stats

    rng = np.random.default_rng(7)
    runs, fails = 2000, 0
    for _ in range(runs):
        sample = rng.normal(0, STD, 64 * 256)
        pvalues = [stats.variance_test(sample[:n], STD**2, gaussian=True,
                                       policy=AUDIT_POLICY).pvalue
                   for n in (64, 256, 1024, 4096, 16384)]
        fails += min(pvalues) < LEVEL
    assert fails > binomial_range(runs, LEVEL)[1]


def test_pooled_audit_power():
    """A 10% error in the variance (the loose policy's target) is found at power 0.99."""
    trials = 100
    results = _audits(trials, STD * math.sqrt(1.1), seed=1)
    found = sum(any(f.kind == "variance" for f in r.findings) for r in results)
    assert found >= scipy_stats.binom.ppf(1e-6, trials, 0.99), found


def test_correlation_between_tensors_has_its_size(record_property):
    rng = np.random.default_rng(11)
    runs = 4000
    pvalues = np.array([anomalies._correlation_pvalue(rng.normal(size=(16, 16)),
                                                      rng.uniform(size=(16, 16)))[1]
                        for _ in range(runs)])
    alarms = int(np.count_nonzero(pvalues < LEVEL))
    low, high = binomial_range(runs, LEVEL)
    record_property("calibration",
                    f"size  correlation of two 16x16 tensors {alarms}/{runs}")
    assert low <= alarms <= high, alarms


def test_correlation_power():
    """r = 0.5 on 64x64 tensors (a layer built as 0.8 w + 0.6 v of another) is found at
    the default size 1e-9, every time."""
    rng = np.random.default_rng(12)
    found = 0
    for _ in range(200):
        a, b = rng.normal(size=(64, 64)), rng.normal(size=(64, 64))
        found += anomalies._correlation_pvalue(a, 0.8 * b + 0.6 * a)[1] < 1e-9
    assert found == 200


def test_variance_difference_has_its_size(record_property):
    """The two-sample test of left-on-default: same law, different sizes."""
    rng = np.random.default_rng(13)
    runs = 4000
    alarms = sum(engine._differs(rng.uniform(-1, 1, 640), rng.uniform(-1, 1, 8192), LEVEL)
                 for _ in range(runs))
    low, high = binomial_range(runs, LEVEL)
    record_property("calibration", f"size  variance difference {alarms}/{runs}")
    assert low <= alarms <= high, alarms
