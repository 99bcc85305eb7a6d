"""The scikit-learn adapter: seeded initial MLP weights of the requested shape, taken
before training moves them, and the Glorot laws the source states."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

neural_network = pytest.importorskip("sklearn.neural_network")

from verify import catalog  # noqa: E402
from verify.adapters import LibraryMissing, seed32  # noqa: E402
from verify.adapters import sklearn as sklearn_adapter  # noqa: E402
from verify.conformance import check_shape  # noqa: E402
from verify.schemes import InitSpec  # noqa: E402
from verify.stats import Verdict  # noqa: E402
from verify.upstream.snippets import run_snippet  # noqa: E402

ENTRIES = sklearn_adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}


def test_entries_cover_both_estimators_and_both_factors():
    assert set(BY_NAME) == {
        "sklearn:MLPClassifier", "sklearn:MLPClassifier(activation='logistic')",
        "sklearn:MLPRegressor", "sklearn:MLPRegressor(activation='logistic')",
    }
    for entry in ENTRIES:
        assert entry.library == "sklearn" and entry.kind == "layer"
        assert entry.claim.layout == "hwio"
        assert "https://scikit-learn.org/" in entry.documented
        assert "_init_coef" in entry.documented
    assert [e.name for e in catalog.load(["sklearn"]).entries] == [e.name for e in ENTRIES]


def test_a_missing_sklearn_is_reported_not_raised_at_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.neural_network", None)
    with pytest.raises(LibraryMissing, match="sklearn"):
        sklearn_adapter.entries()
    assert "sklearn" in catalog.load(["sklearn"]).skipped


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@settings(max_examples=3)
@given(data=st.data())
def test_samples_are_seeded_float64_of_the_requested_shape(entry, data):
    # float64: scikit-learn casts the weights to the dtype of X, float64 here.
    shape = data.draw(entry.shapes(), label="shape")
    assert len(shape) == 2 and math.prod(shape) >= 64
    target = entry.build()
    first = target(shape, 11)
    assert first.shape == shape and first.dtype == np.float64
    np.testing.assert_array_equal(first, target(shape, 11))
    assert not np.array_equal(first, target(shape, 12))
    np.testing.assert_array_equal(run_snippet(target.reproduce, shape, 11), first)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_samples_are_the_initialization_not_trained_values(entry):
    """The zero-row step leaves the first layer where the initialization put it: more
    steps do not move it, while one step on a non-zero row does (so training runs)."""
    n_in, n_out = 20, 30
    estimator_class = getattr(neural_network, entry.name.split(":")[1].split("(")[0])
    activation = "logistic" if "logistic" in entry.name else "relu"
    sample = entry.build()((n_in, n_out), 5)

    def first_layer(rows: np.ndarray, steps: int) -> np.ndarray:
        model = estimator_class(hidden_layer_sizes=(n_out,), activation=activation,
                                alpha=0.0, random_state=seed32(5))
        extra = {"classes": [0, 1]} if estimator_class is neural_network.MLPClassifier else {}
        for _ in range(steps):
            model.partial_fit(rows, [1], **extra)
        return model.coefs_[0]

    np.testing.assert_array_equal(first_layer(np.zeros((1, n_in)), 5), sample)
    assert not np.array_equal(first_layer(np.ones((1, n_in)), 1), sample)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_documented_law_holds_at_a_moderate_shape(entry):
    # The source's bounds, sqrt(6 / (fan_in + fan_out)) and for 'logistic'
    # sqrt(2 / (fan_in + fan_out)), agree with the measurement.
    result = check_shape(entry.build(), entry.claim, (48, 160), seed=0)
    assert result.verdict is not Verdict.FAIL, result.summary()


def test_logistic_factor_two_is_detected_against_plain_glorot():
    # _init_coef's factor 2 for activation='logistic' (a deliberate branch of the
    # source) gives a third of the Glorot uniform variance; the battery sees it.
    entry = BY_NAME["sklearn:MLPRegressor(activation='logistic')"]
    result = check_shape(entry.build(), InitSpec("glorot", "uniform", layout="hwio"),
                         (48, 160), seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(1 / 3, rel=0.02)
