"""``audit --dtype`` in half precision: the model is built with that default dtype (asked
of the framework, never cast), and each tensor is tested against the law of its values
rounded to the dtype (:class:`verify.precision.RoundedLaw`), whose size is measured here."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as scipy_stats

from verify.audit.tensors import battery, low_precision
from verify.laws import uniform_bound
from verify.precision.rounding import round_to
from verify.stats import Policy, Verdict

BOUND = 1 / 16


def test_dtype_names_are_read_as_frameworks_write_them():
    assert low_precision("torch.bfloat16") == "bfloat16"
    assert low_precision("float16") == low_precision("torch.float16") == "float16"
    assert low_precision("half") == "float16"
    assert low_precision("float32") is None and low_precision("torch.float64") is None


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_rounded_values_pass_at_alpha(dtype):
    """200 samples of 200,000 correctly rounded uniform values at alpha = 0.01: each test's
    alarms within the binomial bound (p < 1e-3)."""
    law = uniform_bound(BOUND)
    policy = Policy(alpha=0.01, suspicious=0.01)
    rng = np.random.default_rng(20261201)
    runs, alarms = 200, {}
    for _ in range(runs):
        sample = round_to(rng.uniform(-BOUND, BOUND, 200_000), dtype)
        for result in battery(sample, law, policy=policy, dtype=dtype):
            alarms[result.name] = alarms.get(result.name, 0) + (result.verdict is Verdict.FAIL)
    bound = scipy_stats.binom.isf(1e-3, runs, 0.01)
    assert set(alarms) == {"variance", "mean", "shape", "support"}
    assert all(count <= bound for count in alarms.values()), alarms


@pytest.mark.slow
def test_the_continuous_law_would_fail_rounded_bfloat16_values():
    """The negative control: 16 M bfloat16 values fail the continuous law's shape test (the
    atoms: a step of about 0.001 in the CDF, where the test's threshold at 1e-9 is 0.0008),
    and pass the rounded law's."""
    law = uniform_bound(BOUND)
    sample = round_to(np.random.default_rng(1).uniform(-BOUND, BOUND, 16_000_000), "bfloat16")
    continuous = {r.name: r.verdict for r in battery(sample, law, policy=Policy(),
                                                     dtype="float32")}
    rounded = {r.name: r.verdict for r in battery(sample, law, policy=Policy(),
                                                  dtype="bfloat16")}
    assert continuous["shape"] is Verdict.FAIL
    assert all(v is Verdict.PASS for v in rounded.values()), rounded


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_audit_builds_in_half_precision(dtype):
    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, "-m", "verify", "audit", "torch:nn.Linear",
                           "--dtype", dtype, "--examples", "0", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    tensors = {t["name"]: t for t in json.loads(done.stdout)["tensors"]}
    assert tensors["weight"]["dtype"] == f"torch.{dtype}"
    if dtype == "float16":  # follows its default, rounded
        assert tensors["weight"]["status"] == "default", tensors["weight"]
