"""scikit-learn: the initial weights of ``MLPClassifier`` and ``MLPRegressor``.

The estimators store a layer's weights as ``coefs_[i]`` of shape ``(n_in, n_out)``,
the ``hwio`` layout of a dense weight. A sample of shape ``(n_in, n_out)`` is the
first layer of a network with one hidden layer of ``n_out`` units, on ``n_in``
features, seeded with ``random_state``.

scikit-learn has no public way to initialize without fitting, so the adapter fits in
a way that cannot move the first layer: one ``partial_fit`` step on a single all-zero
row with ``alpha=0``. The first layer's gradient is ``X^T delta + alpha W``, exactly
zero, and both solvers (Adam by default) turn a zero gradient into a zero step, so
``coefs_[0]`` is returned as initialized. The weights are float64, the dtype of ``X``
(scikit-learn draws float64 and casts to the dtype of the data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.adapters import ContractError, Target, require, seed32
from verify.catalog import Entry
from verify.schemes import InitSpec
from verify.strategies import weight_shapes

LIBRARY = "sklearn"
DOCS = "https://scikit-learn.org/stable/modules/generated/sklearn.neural_network.{}.html"
SOURCE = ("https://github.com/scikit-learn/scikit-learn/blob/main/"
          "sklearn/neural_network/_multilayer_perceptron.py")

MIN_NUMEL = 64
MAX_NUMEL = 2**14
MAX_CALLS = 2_000
"""Calls per shape: each sample builds and fits an estimator (1 ms for
``MLPRegressor``, 3 to 5 ms for ``MLPClassifier``, whose label checks dominate). A
uniform law needs about 573,000 draws for the default power, 9,000 calls (20 to 50 s)
at 64 entries; with this cap the smallest shapes get a larger, reported, minimum
detectable effect instead."""

SAMPLING = (
    "sampled through the public API: partial_fit on one all-zero row with alpha=0, so "
    "the first layer's gradient X^T delta + alpha W is exactly zero and coefs_[0] keeps "
    "its initialization (float64, the dtype of X)"
)

LOGISTIC_CONVENTION = (
    f"_init_coef ({SOURCE}) uses factor 2 instead of 6 when activation='logistic': "
    "bound sqrt(2 / (fan_in + fan_out)), a third of the Glorot uniform variance, "
    "a deliberate branch of the source that the API docs do not mention"
)


def entries() -> list[Entry]:
    """The initial first-layer weights of ``MLPClassifier`` and ``MLPRegressor``, with
    the default activation (relu) and with ``activation="logistic"``."""
    neural_network = require("sklearn.neural_network", LIBRARY)
    found = []
    for estimator in (neural_network.MLPClassifier, neural_network.MLPRegressor):
        found.append(_entry(estimator, "relu"))
        found.append(_entry(estimator, "logistic"))
    return found


def _initial_first_layer(estimator: Any, n_in: int) -> np.ndarray:
    """``coefs_[0]`` of an unfitted MLP ``estimator`` after the zero-gradient step."""
    from sklearn.base import is_classifier

    rows = np.zeros((1, n_in))
    if is_classifier(estimator):
        estimator.partial_fit(rows, [0], classes=[0, 1])
    else:
        estimator.partial_fit(rows, [0.0])
    return estimator.coefs_[0]


def _target(estimator_class: type, activation: str, name: str) -> Callable[[], Target]:
    # One RandomState, reseeded per call: random_state=seed32(seed) would make
    # check_random_state build RandomState(seed32(seed)), the same stream, at 90 us a call
    # against 1.5 us for reseeding (the estimator uses the instance it is given).
    random_state = np.random.RandomState()

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        if len(shape) != 2:
            raise ValueError(f"{name} draws (n_in, n_out) weights, got shape {shape}")
        random_state.seed(seed32(seed))
        estimator = estimator_class(hidden_layer_sizes=(shape[1],), activation=activation,
                                    alpha=0.0, random_state=random_state)
        weights = _initial_first_layer(estimator, shape[0])
        if weights.shape != shape:
            raise ContractError("shape", f"{name} has coefs_[0] of shape {weights.shape} "
                                         f"for hidden_layer_sizes=({shape[1]},) on "
                                         f"{shape[0]} features")
        return weights

    classifier = estimator_class.__name__ == "MLPClassifier"
    fit = ("m.partial_fit(np.zeros((1, n_in)), [0], classes=[0, 1])" if classifier
           else "m.partial_fit(np.zeros((1, n_in)), [0.0])")
    reproduce = (
        f"import numpy as np; from sklearn.neural_network import {estimator_class.__name__}; "
        "n_in, n_out = {shape}; "
        f"m = {estimator_class.__name__}(hidden_layer_sizes=(n_out,), "
        f"activation={activation!r}, alpha=0.0, random_state=seed32({{seed}})); "
        f"{fit}; w = m.coefs_[0]"
    )
    return lambda: Target(name, LIBRARY, sample, layout="hwio", reproduce=reproduce)


def _shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return weight_shapes(layout="hwio", min_dims=2, max_dims=2, max_numel=MAX_NUMEL).filter(
        lambda shape: math.prod(shape) >= MIN_NUMEL)


def _entry(estimator_class: type, activation: str) -> Entry:
    class_name = estimator_class.__name__
    default = activation == "relu"
    name = f"{LIBRARY}:{class_name}" + ("" if default else f"(activation={activation!r})")
    if default:
        claim = InitSpec("glorot", "uniform", layout="hwio")
        law = "U(-b, b), b = sqrt(6 / (fan_in + fan_out)) (factor 6 for every activation "
        law += "but 'logistic')"
    else:
        claim = InitSpec("glorot", "uniform", layout="hwio", gain=1 / math.sqrt(3))
        law = "U(-b, b), b = sqrt(2 / (fan_in + fan_out)) (factor 2 for 'logistic'), i.e. "
        law += "Var = 2 / (3 (fan_in + fan_out)): Glorot with gain 1/sqrt(3)"
    documented = (
        f"the API docs ({DOCS.format(class_name)}) say only that random_state "
        "'Determines random number generation for weights and bias initialization'; "
        f"the source, BaseMultilayerPerceptron._init_coef ({SOURCE}), 'Use the "
        f"initialization method recommended by Glorot et al.', draws coefs_[i] of shape "
        f"(fan_in, fan_out) from {law}; {SAMPLING}"
    )
    return Entry(
        name=name, library=LIBRARY, build=_target(estimator_class, activation, name),
        claim=claim, documented=documented, kind="layer", shapes=_shapes,
        convention="" if default else LOGISTIC_CONVENTION, max_calls=MAX_CALLS,
    )
