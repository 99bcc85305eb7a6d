"""The audit on broken Flax NNX models: each finding kind that a JAX model can show, on a
broken model and its correct twin (tests/audit_models_nnx.py). ``reinitialized-on-load``
needs a library's own loading path, which NNX models do not have: it is tested on torch
and transformers models (tests/test_audit.py) and on Keras (tests/test_audit_keras.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("flax.nnx", reason="flax is not installed (pip install -e '.[jax]')")

from verify.audit import audit_model

from . import audit_models_nnx as models

SEED = 20261201
SPECS = Path(__file__).parent / "specs"


def blocking(result) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in result.findings:
        if finding.blocking:
            found.setdefault(finding.kind, set()).update(finding.tensors)
    return found


@pytest.mark.parametrize("builder", [models.correct_scheme, models.correct_pair])
def test_correct_models_pass(builder):
    result = audit_model(builder, api="nnx", seed=SEED)
    assert result.verdict == "pass", result.table()


@pytest.mark.parametrize("builder, kind, tensors", [
    (models.broken_head_left_on_default, "left-on-default", {"head.kernel"}),
    (models.broken_zero_kernel, "constant", {"b.kernel"}),
    (models.broken_nonfinite, "non-finite", {"a.kernel"}),
    (models.broken_identical, "identical", {"a.kernel", "b.kernel"}),
    (models.broken_correlated, "correlated", {"a.kernel", "b.kernel"}),
    (models.broken_same_key_per_layer, "identical", {"a.kernel", "b.kernel"}),
])
def test_anomalies(builder, kind, tensors):
    result = audit_model(builder, api="nnx", seed=SEED)
    assert blocking(result) == {kind: tensors}, result.table()


def test_uninitialized():
    result = audit_model(models.broken_uninitialized, api="nnx", seed=SEED)
    assert blocking(result)["uninitialized"] == {"b.kernel"}, result.table()


def test_seeding():
    result = audit_model(models.broken_fixed_key, api="nnx", seed=SEED)
    assert set(blocking(result)) == {"seeding"}, result.table()


@pytest.mark.parametrize("builder, spec, kind", [
    (models.broken_variance, "linear_nnx.toml", "variance"),
    (models.broken_distribution, "linear_nnx.toml", "distribution"),
    (models.broken_mean, "linear_nnx.toml", "mean"),
    (models.broken_depth_not_scaled, "stack_nnx.toml", "depth-law"),
    (models.broken_support, "truncated_nnx.toml", "support"),
])
def test_departures_from_a_spec(builder, spec, kind):
    result = audit_model(builder, api="nnx", spec=SPECS / spec, seed=SEED)
    assert set(blocking(result)) == {kind}, result.table()


@pytest.mark.parametrize("builder, spec", [
    (models.correct_normal, "linear_nnx.toml"),
    (models.correct_scheme, "stack_nnx.toml"),
    (models.correct_truncated, "truncated_nnx.toml"),
])
def test_twins_follow_their_spec(builder, spec):
    result = audit_model(builder, api="nnx", spec=SPECS / spec, seed=SEED)
    assert result.verdict == "pass", result.table()


def test_doc_mismatch_is_shown_and_does_not_fail():
    result = audit_model(models.correct_scheme, api="nnx", spec=SPECS / "stack_nnx.toml",
                         seed=SEED)
    assert [f.kind for f in result.findings] == ["doc-mismatch"]
    assert result.verdict == "pass"


def test_fan_mismatch_of_an_embedding_table():
    """An embedding row is read by one lookup (semantic fan-in 1); nnx.Embed's default
    reads fan-in = features = 16 off the table: N(0, 1/16), both numbers reported."""
    result = audit_model(models.embedding_default, api="nnx", seed=SEED)
    [finding] = [f for f in result.findings if f.blocking]
    assert finding.kind == "fan-mismatch" and finding.tensors == ("embedding",)
    assert finding.numbers["default_std"] == pytest.approx(0.25)
    twin = audit_model(models.correct_pair, api="nnx", seed=SEED)
    assert twin.verdict == "pass", twin.table()
