"""Keras 3 on every backend: its catalog in child processes (verify.adapters.remote), the
parity matrix of the report, and ``--backend`` on the command line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from verify import catalog
from verify.adapters import LibraryMissing
from verify.adapters.remote import child, remote_target
from verify.report.parity import parity

KERAS = importlib.util.find_spec("keras") is not None
needs_keras = pytest.mark.skipif(not KERAS, reason="keras is not installed")
TORCH_BACKEND = {"KERAS_BACKEND": "torch"}


@needs_keras
def test_every_backend_gets_the_whole_catalog():
    found = catalog.load(["keras"], backends=["all"])
    here = [e for e in found.entries if e.backend == os.environ["KERAS_BACKEND"]]
    ran = {e.backend for e in found.entries}
    assert ran | {b.partition("[")[2].rstrip("]") for b in found.skipped} \
        == set(catalog.KERAS_BACKENDS)
    for backend in ran:
        names = [e.name for e in found.entries if e.backend == backend]
        assert names == [e.name for e in here], backend
    torch_entry = found.find("keras:GlorotUniform", "torch")
    assert torch_entry.label == "keras:GlorotUniform [torch]"
    assert "backend torch)" in torch_entry.documented


@needs_keras
def test_a_child_draws_what_the_backend_draws_in_process():
    """The same seeds give the same tensors in a child as in a process of that backend."""
    target = remote_target("keras", "keras:GlorotUniform", TORCH_BACKEND)
    assert target.name == "keras:GlorotUniform [torch]"
    code = ("import os; os.environ['KERAS_BACKEND'] = 'torch'; import keras, numpy as np; "
            "from verify.adapters import seed32; "
            "w = keras.initializers.GlorotUniform(seed=seed32(11))((6, 5)); "
            "print(keras.ops.convert_to_numpy(w).tolist())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    expected = np.array(json.loads(done.stdout.strip().splitlines()[-1]), dtype=np.float32)
    np.testing.assert_array_equal(target.sample((6, 5), 11), expected)
    assert not np.array_equal(target.sample((6, 5), 12), expected)


@needs_keras
def test_a_killed_child_is_started_again_and_rebuilds_its_targets():
    target = remote_target("keras", "keras:RandomNormal", TORCH_BACKEND)
    first = target.sample((4, 4), 3)
    child(TORCH_BACKEND).process.kill()
    np.testing.assert_array_equal(target.sample((4, 4), 3), first)
    assert target.stacked is not None and target.stacked((4, 4), 5, 3).shape == (5, 4, 4)


@needs_keras
def test_a_backend_that_cannot_start_is_missing_with_its_reason():
    with pytest.raises(LibraryMissing, match="nonexistent"):
        child({"KERAS_BACKEND": "nonexistent"}).load("keras")


@needs_keras
def test_the_torch_backend_leaks_truncated_normals_past_two_sd():
    """keras.initializers.TruncatedNormal: 'values more than two standard deviations from
    the mean are discarded and re-drawn'. On the torch backend (keras 3.15.1) values beyond
    2 sd come out; on JAX they do not."""
    from hypothesis import strategies as st

    from verify.conformance import check
    from verify.stats import Verdict

    found = catalog.load(["keras"], backends=["jax", "torch"])
    reports = {e.backend: check(e.build(), e.claim, shapes=st.just((64, 32)), seed=5,
                                max_examples=1, name=e.label)
               for e in found.entries if e.name == "keras:TruncatedNormal"}
    assert reports["jax"].verdict is Verdict.PASS, reports["jax"].table()
    assert reports["torch"].verdict is Verdict.FAIL
    assert reports["torch"].counterexample["failed"] == ["support"]


@needs_keras
def test_check_takes_a_backend():
    done = subprocess.run(
        [sys.executable, "-m", "verify", "check", "keras:TruncatedNormal", "--backend", "torch",
         "--shape", "64,32", "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    document = json.loads(done.stdout)
    failed = [c["name"] for c in document["checks"] if c["verdict"] == "fail"]
    assert failed == ["support"], document["checks"]


def test_conformance_backend_needs_keras():
    done = subprocess.run([sys.executable, "-m", "verify", "conformance", "--library", "torch",
                           "--backend", "torch"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: --backend chooses Keras backends: add --library keras"]


def _row(backend, verdict, **more):
    return {"target": more.pop("target", "keras:A"), "library": "keras", "backend": backend,
            "verdict": verdict, **more}


def test_parity_names_the_backend_that_differs():
    rows = [_row("jax", "pass"), _row("torch", "fail", counterexample={
                "shape": [5, 1], "failed": ["support"], "variance_ratio": 1.009}),
            _row("numpy", "pass"),
            _row("jax", "pass", target="keras:B"), _row("torch", "pass", target="keras:B"),
            _row("numpy", "pass", target="keras:B"),
            {"target": "torch:x", "library": "torch", "verdict": "fail"},
            {"target": "keras:*", "library": "keras", "backend": "tensorflow",
             "verdict": "skipped", "reason": "not installed"}]
    backends, entries = parity(rows)
    assert backends == ["jax", "torch", "numpy"]
    assert [e["target"] for e in entries] == ["keras:A", "keras:B"]
    assert entries[0]["verdicts"] == {"jax": "pass", "torch": "fail", "numpy": "pass"}
    assert entries[0]["deviation"].startswith("torch: fail, failed support at shape 5x1")
    assert entries[0]["deviation"].endswith("(the other backends: pass)")
    assert entries[1]["deviation"] == ""


def test_parity_of_a_tie_blames_the_backends_that_do_not_pass():
    rows = [_row("jax", "pass"), _row("torch", "error", error="RuntimeError: boom")]
    _, entries = parity(rows)
    assert entries[0]["deviation"] == "torch: error, RuntimeError: boom (the other backends: pass)"


@pytest.mark.skipif(importlib.util.find_spec("paddle") is None
                    or importlib.util.find_spec("tensorflow") is None,
                    reason="needs paddlepaddle and tensorflow")
def test_paddle_after_tensorflow_draws_in_a_child_process():
    """Importing paddle after tensorflow crashes the process; the catalog then draws the
    Paddle entries in a child (a fresh process here: this one may have either loaded)."""
    code = ("import sys, tensorflow; from verify import catalog; "
            "from verify.matrix import conformance_row; "
            "entry = catalog.load(['paddle']).find('paddle:KaimingNormal'); "
            "row = conformance_row(entry, seed=1, examples=1, timeout=60); "
            "print(row['verdict'], 'paddle' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["pass", "False"]
