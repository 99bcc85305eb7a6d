"""The command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify.claims import CLAIMS


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True,
                          text=True, timeout=1800, env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("claims", "--only", "no.such-claim"), "unknown claim ID 'no.such-claim'"),
        (("claims", "--examples", "0"), "expected a positive integer"),
        (("claims", "--seed", "-3"), "non-negative integer"),
        (("frobnicate",), "invalid choice"),
        ((), "required"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_seed_in_the_environment_is_exit_2():
    import os
    result = run("claims", "--only", "uniform.moments", env={**os.environ, "VERIFY_SEED": "x"})
    assert result.returncode == 2 and "VERIFY_SEED" in result.stderr


def test_list_names_every_claim():
    result = run("claims", "--list")
    assert result.returncode == 0
    for claim_id in CLAIMS:
        assert claim_id in result.stdout


def test_json_is_one_document_with_the_required_fields():
    result = run("claims", "--only", "uniform.moments", "he.variance.erratum", "--json",
                 "--examples", "2", "--seed", "5")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["seed"] == 5 and document["versions"]["torch"] != "not installed"
    claims = document["claims"]
    assert [entry["id"] for entry in claims] == ["uniform.moments", "he.variance.erratum"]
    for entry in claims:
        assert {"id", "verdict", "statement", "evidence", "seed"} <= entry.keys()
        assert entry["seed"] == 5
    assert claims[0]["verdict"] == "holds"
    assert claims[0]["evidence"]["checks"] > 0
    assert claims[1]["verdict"] == "erratum"


def test_the_same_seed_gives_the_same_evidence():
    first = json.loads(run("claims", "--only", "uniform.moments", "--json", "--examples", "2",
                           "--seed", "9").stdout)
    second = json.loads(run("claims", "--only", "uniform.moments", "--json", "--examples", "2",
                            "--seed", "9").stdout)
    for document in (first, second):
        document.pop("seconds")
        document["claims"][0].pop("seconds")
    assert first == second


CLAIM_GROUPS = 4
"""The registry runs in this many interleaved groups, one test each, so that pytest-xdist
spreads its minutes over the workers instead of waiting for one long test at the end."""


@pytest.mark.slow
@pytest.mark.parametrize("group", range(CLAIM_GROUPS))
def test_every_claim_gets_a_computed_verdict(group):
    """The whole registry, as ``python -m verify claims --json`` runs it (2 examples each).

    The expected verdicts follow from the mathematics; each is computed by the run.
    Conditions: ``linear.variance`` (zero-mean inputs); ``residual.param-count``
    (identity shortcuts); ``residual.depth-independence`` (growth (1 + alpha^2)^(L-l));
    ``residual.easier-to-train`` (scaled branches); ``residual.forward-growth``
    (variance-preserving branches); ``init.nonlinear-recommendations`` (tanh, logistic
    and SELU lose a factor of 2 over 50 layers); ``finite-width.fluctuations``
    (5 sum 1/n_l is a wide-layer limit).
    """
    ids = list(CLAIMS)[group::CLAIM_GROUPS]  # over the groups: every claim once
    result = run("claims", "--only", *ids, "--json", "--examples", "2")
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)["claims"]
    verdicts = {entry["id"]: entry["verdict"] for entry in claims}
    assert list(verdicts) == ids
    expected = {claim_id: "holds" for claim_id in CLAIMS}
    for claim_id in ("linear.variance", "residual.param-count", "residual.depth-independence",
                     "residual.easier-to-train", "residual.forward-growth",
                     "init.nonlinear-recommendations", "finite-width.fluctuations"):
        expected[claim_id] = "holds-with-conditions"
    expected["he.variance.erratum"] = expected["glorot.uniform-bound.erratum"] = "erratum"
    assert verdicts == {claim_id: expected[claim_id] for claim_id in ids}
    for entry in claims:
        evidence = entry["evidence"]
        assert evidence["explorations"] or evidence["facts"], entry["id"]
        if entry["verdict"] == "holds-with-conditions":
            assert entry["conditions"], entry["id"]


# --- check and conformance --------------------------------------------------------------

USER_MODULE = '''
import math, time
import numpy as np
import torch

def he(tensor, generator=None):
    fan_in = tensor.shape[1] * math.prod(tensor.shape[2:])
    return tensor.normal_(0, math.sqrt(2 / fan_in), generator=generator)

def he_numpy(shape, rng):
    fan_in = shape[1] * math.prod(shape[2:])
    return rng.standard_normal(shape).astype(np.float32) * math.sqrt(2 / fan_in)

def swapped(shape, rng):
    fan_out = shape[0] * math.prod(shape[2:])
    return rng.standard_normal(shape).astype(np.float32) * math.sqrt(2 / fan_out)

def raises(tensor, generator=None):
    raise RuntimeError("boom")

def wrong_shape(shape, rng):
    return np.zeros(shape[:-1], dtype=np.float32)

def nans(tensor, generator=None):
    return tensor.fill_(float("nan"))

def copies(tensor, generator=None):
    return torch.randn(tensor.shape)

def hangs(tensor, generator=None):
    while True:
        time.sleep(0.01)

not_callable = 3
'''


@pytest.fixture
def user_env(tmp_path):
    import os

    (tmp_path / "userinit.py").write_text(USER_MODULE)
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_check_a_conforming_user_initializer(user_env):
    result = run("check", "userinit:he", "--scheme", "he", "--dist", "normal", "--examples", "2",
                 "--json", env=user_env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["verdict"] == "pass" and document["counterexample"] is None
    assert {"verdict", "checks", "counterexample", "seed", "versions"} <= document.keys()
    names = {check["name"] for check in document["checks"]}
    assert {"mean", "variance", "support", "shape", "independence", "fresh draws"} <= names
    for check in document["checks"]:
        assert {"name", "estimate", "interval", "pvalue", "n", "verdict"} <= check.keys()


def test_check_the_numpy_api(user_env):
    result = run("check", "userinit:he_numpy", "--api", "numpy", "--scheme", "he", "--dist",
                 "normal", "--examples", "2", env=user_env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_check_reports_the_minimal_failing_shape_and_a_command_that_replays_it(user_env):
    result = run("check", "userinit:swapped", "--api", "numpy", "--scheme", "he", "--dist",
                 "normal", "--examples", "6", "--json", env=user_env)
    assert result.returncode == 1, result.stderr
    counterexample = json.loads(result.stdout)["counterexample"]
    shape = counterexample["shape"]
    assert shape[0] != shape[1]
    replay = counterexample["reproduce"].split()
    assert replay[:3] == ["python", "-m", "verify"]
    again = run(*replay[3:], "--json", env=user_env)
    assert again.returncode == 1
    assert json.loads(again.stdout)["counterexample"]["shape"] == shape


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("userinit:raises",), "RuntimeError: boom"),
        (("userinit:wrong_shape", "--api", "numpy"), "returned"),
        (("userinit:nans",), "NaN"),
        (("userinit:copies",), "new tensor instead of filling"),
        (("userinit:hangs", "--timeout", "1"), "took longer than 1 s"),
        (("userinit:not_callable",), "not a callable"),
        (("nosuchmodule:init",), "cannot import module"),
        (("userinit:he", "--gain", "-1"), "gain must be a positive finite"),
        (("userinit:he", "--gain", "nan"), "gain must be a positive finite"),
        (("userinit:he", "--kwargs", "{oops"), "not valid JSON"),
        (("userinit:he", "--kwargs", "[1]"), "JSON object"),
        (("userinit:he", "--shape", "5"), "2 to 5 positive dimensions"),
        (("userinit:he", "--shape", "0,3"), "2 to 5 positive dimensions"),
        (("userinit:he", "--shape", "100000,100000"), "above the cap"),
    ],
)
def test_check_bad_input_is_one_line_and_exit_2(user_env, args, message):
    result = run("check", *args[:1], "--scheme", "he", "--dist", "normal", *args[1:],
                 env=user_env)
    assert result.returncode == 2, result.stdout + result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_check_needs_a_claim_for_a_user_target(user_env):
    result = run("check", "userinit:he", env=user_env)
    assert result.returncode == 2 and "--scheme and --dist" in result.stderr


def test_check_refuses_an_unknown_scheme(user_env):
    result = run("check", "userinit:he", "--scheme", "xavier", "--dist", "normal", env=user_env)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_check_a_catalog_entry_uses_its_documented_claim():
    result = run("check", "torch:xavier_uniform_", "--examples", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["claim"].startswith("glorot-uniform")


@pytest.mark.slow
def test_conformance_lists_every_entry_with_a_verdict():
    pytest.importorskip("sklearn")
    result = run("conformance", "--library", "sklearn", "--examples", "1", "--json")
    rows = json.loads(result.stdout)["entries"]
    assert result.returncode in (0, 1), result.stderr
    assert rows and all({"target", "verdict"} <= row.keys() for row in rows)
    assert all(row["verdict"] in ("pass", "fail", "suspicious", "error") for row in rows)


def test_missing_libraries_are_listed_as_skipped(tmp_path, monkeypatch):
    from verify import catalog

    (tmp_path / "fake_adapter.py").write_text(
        "from verify.adapters import require\n"
        "def entries():\n    require('no_such_library_for_tests')\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(catalog.LIBRARIES, "fake", "fake_adapter")
    found = catalog.load(["fake"])
    assert found.entries == [] and "no_such_library_for_tests" in found.skipped["fake"]


# --- fingerprint and compare -------------------------------------------------------------


def test_fingerprint_json_has_the_required_fields(user_env):
    result = run("fingerprint", "userinit:swapped", "--api", "numpy", "--json", env=user_env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"scheme", "gain", "mode", "distribution", "variance_law", "layout",
            "verdict_confidence", "seed", "versions"} <= document.keys()
    law = document["variance_law"]
    assert {"fan_in_coef", "fan_out_coef", "fan_in_interval", "fan_out_interval"} <= law.keys()
    # the bug (He with fan_out) is what the fingerprint says
    assert (document["scheme"], document["mode"], document["distribution"]) == \
        ("he", "fan_out", "normal")


def test_fingerprint_of_a_catalog_layer_prints_its_law():
    result = run("fingerprint", "torch:nn.Linear")
    assert result.returncode == 0, result.stderr
    assert "behaves as standard (fan_in) with uniform weights" in result.stdout
    assert "fan_in_coef" in result.stdout


def test_compare_exit_status(user_env):
    same = run("compare", "torch:kaiming_normal_", "userinit:he_numpy", "--api", "numpy",
               env=user_env)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "equivalent on every layer" in same.stdout
    different = run("compare", "torch:nn.Linear", "torch:kaiming_normal_", "--json")
    assert different.returncode == 1, different.stderr
    document = json.loads(different.stdout)
    assert not document["equivalent"]
    for layer in document["layers"]:  # (1/3) / 2 of He's variance
        low, high = layer["ratio_interval"]
        assert low <= 6.0 <= high


@pytest.mark.parametrize(("args", "message"), [
    (("fingerprint", "no_such_module:fn"), "cannot import module"),
    (("fingerprint", "torch:kaiming_normal_", "--kwargs", "{bad"), "not valid JSON"),
    (("compare", "torch:nn.Linear"), "required"),
    (("compare", "torch:nn.Linear", "torch:nn.Conv2d"), "give --layer explicitly"),
])
def test_fingerprint_and_compare_bad_input(args, message):
    result = run(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
