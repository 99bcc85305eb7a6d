"""The audit on Keras models (JAX backend): loading through Keras's own save and load
path, and a copied layer, each next to its correct twin."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("keras", reason="keras is not installed (pip install -e '.[keras]')")

from verify.audit import audit_model

from . import audit_models_keras as models

SEED = 20261201


def test_reinitialized_on_load():
    broken = audit_model(models.broken_reinitialized_on_load, api="keras", seed=SEED)
    [finding] = [f for f in broken.findings if f.blocking]
    assert finding.kind == "reinitialized-on-load"
    assert finding.tensors[0].endswith("kernel") and "projection" in finding.tensors[0]
    correct = audit_model(models.correct_reload, api="keras", seed=SEED)
    assert correct.verdict == "pass", correct.table()
    assert not correct.warnings


def test_identical_layers():
    broken = audit_model(models.broken_identical, api="keras", seed=SEED)
    assert {f.kind for f in broken.findings if f.blocking} == {"identical"}, broken.table()
    assert audit_model(models.correct_dense, api="keras", seed=SEED).verdict == "pass"
