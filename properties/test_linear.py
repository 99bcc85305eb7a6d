"""Claims about one linear unit: linear.mean, linear.variance, linear.backward-variance,
init.moments-only.

Expected values are the textbook's formulas, written here. Inputs are zero-mean
(``gamma^2 = std^2``) or the ReLU of a normal with std ``s``, for which
``E[x] = s / sqrt(2 pi)`` and ``E[x^2] = s^2 / 2``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify import strategies as vst
from verify.distributions import NORMAL, ZERO_MEAN_FAMILIES, student_t
from verify.layer import (
    UnitLaw,
    block_sizes,
    iid_layer_second_moment,
    iid_units,
    linear_layer,
    mean_value,
    measure,
)

from .helpers import assert_holds, assert_rejected, seed_for, statistical

stds = st.one_of(st.just(1.0), st.floats(0.05, 20.0))


def relu_normal_moments(s: float) -> tuple[float, float]:
    """``(E[x], E[x^2])`` for ``x = relu(z)``, ``z ~ N(0, s^2)``."""
    return s / math.sqrt(2 * math.pi), s * s / 2


@statistical()
@given(fans=vst.fan_pairs(1, 512), weights=vst.weight_families(), sigma=stds,
       inputs=vst.weight_families(), gamma=stds)
def test_linear_variance_zero_mean_inputs(fans, weights, sigma, inputs, gamma):
    n_in, _ = fans
    x = UnitLaw(inputs, gamma)
    seed = seed_for("linear.variance", fans, weights, sigma, inputs, gamma)
    result = iid_layer_second_moment(n_in, weights, sigma, x, n_in * sigma**2 * gamma**2,
                                     rng=np.random.default_rng(seed))
    assert_holds(result)


@statistical()
@given(fans=vst.distinct_fan_pairs(1, 512), weights=vst.weight_families(), sigma=stds,
       gamma=stds)
def test_linear_variance_with_n_out_is_rejected(fans, weights, sigma, gamma):
    """The wrong law Var[o] = n_out sigma^2 gamma^2 (n_in != n_out by 10% or more)."""
    n_in, n_out = fans
    seed = seed_for("linear.variance wrong", fans, weights, sigma, gamma)
    result = iid_layer_second_moment(n_in, weights, sigma, UnitLaw(NORMAL, gamma),
                                     n_out * sigma**2 * gamma**2, rng=np.random.default_rng(seed))
    assert_rejected(result)


@statistical()
@given(n_in=vst.fans(1, 512), weights=vst.weight_families(), sigma=stds, s=stds)
def test_linear_variance_general_form_with_relu_inputs(n_in, weights, sigma, s):
    """Var[o] = n_in sigma^2 E[x^2] holds for inputs with E[x] != 0 ..."""
    _, second = relu_normal_moments(s)
    seed = seed_for("linear.variance E[x^2]", n_in, weights, sigma, s)
    result = iid_layer_second_moment(n_in, weights, sigma, UnitLaw(NORMAL, s, "relu"),
                                     n_in * sigma**2 * second, rng=np.random.default_rng(seed))
    assert_holds(result)


@statistical()
@given(n_in=vst.fans(1, 512), weights=vst.weight_families(), sigma=stds, s=stds)
def test_linear_variance_gamma_form_fails_with_relu_inputs(n_in, weights, sigma, s):
    """... while the gamma^2 form is wrong for them, by a factor 1 / (1 - 1/pi)."""
    mean, second = relu_normal_moments(s)
    gamma2 = second - mean**2
    seed = seed_for("linear.variance gamma relu", n_in, weights, sigma, s)
    result = iid_layer_second_moment(n_in, weights, sigma, UnitLaw(NORMAL, s, "relu"),
                                     n_in * sigma**2 * gamma2, rng=np.random.default_rng(seed))
    assert_rejected(result)


@statistical()
@given(fans=vst.fan_pairs(1, 512), weights=vst.weight_families(), sigma=stds,
       inputs=vst.weight_families(), gamma=stds, relu=st.booleans())
def test_linear_mean_is_zero(fans, weights, sigma, inputs, gamma, relu):
    n_in, _ = fans
    x = UnitLaw(NORMAL, gamma, "relu") if relu else UnitLaw(inputs, gamma)
    second = relu_normal_moments(gamma)[1] if relu else gamma**2
    seed = seed_for("linear.mean", fans, weights, sigma, inputs, gamma, relu)
    result = iid_layer_second_moment(
        n_in, weights, sigma, x, 0.0, rng=np.random.default_rng(seed), statistic=mean_value,
        scale=math.sqrt(n_in * sigma**2 * second), name="E[o]",
    )
    assert_holds(result)


@statistical()
@given(n_in=vst.fans(1, 512), sigma=stds, s=stds)
def test_linear_mean_with_positive_weights_is_rejected(n_in, sigma, s):
    """E[o] = 0 needs E[w] = 0: folded-normal weights and ReLU inputs break it."""
    batch, units = block_sizes(n_in)

    def folded(rng, count):
        return np.abs(NORMAL.sample(rng, (count, n_in, units), sigma, dtype=np.float32))

    x = UnitLaw(NORMAL, s, "relu")
    experiment = linear_layer(iid_units(x, batch, n_in), folded, n_in * (batch + units))
    scale = math.sqrt(n_in * sigma**2 * relu_normal_moments(s)[1])
    seed = seed_for("linear.mean wrong", n_in, sigma, s)
    result = measure(experiment, 0.0, rng=np.random.default_rng(seed), statistic=mean_value,
                     scale=scale, name="E[o]")
    assert_rejected(result)


@statistical()
@given(fans=vst.fan_pairs(1, 512), weights=vst.weight_families(), sigma=stds,
       gradients=vst.weight_families(), delta=stds)
def test_backward_variance(fans, weights, sigma, gradients, delta):
    """Var[dL/dx_j] = n_out sigma^2 Var[dL/do_i]: dL/dx = W^T g sums over n_out terms."""
    _, n_out = fans
    seed = seed_for("linear.backward-variance", fans, weights, sigma, gradients, delta)
    result = iid_layer_second_moment(n_out, weights, sigma, UnitLaw(gradients, delta),
                                     n_out * sigma**2 * delta**2, rng=np.random.default_rng(seed),
                                     name="Var[dL/dx]")
    assert_holds(result)


@statistical()
@given(fans=vst.distinct_fan_pairs(1, 512), sigma=stds, delta=stds)
def test_backward_variance_with_n_in_is_rejected(fans, sigma, delta):
    n_in, n_out = fans
    seed = seed_for("linear.backward-variance wrong", fans, sigma, delta)
    result = iid_layer_second_moment(n_out, NORMAL, sigma, UnitLaw(NORMAL, delta),
                                     n_in * sigma**2 * delta**2, rng=np.random.default_rng(seed))
    assert_rejected(result)


@pytest.mark.parametrize("family", [*ZERO_MEAN_FAMILIES, student_t(5)], ids=lambda f: f.label)
@statistical(divisor=10, minimum=2)
@given(n_in=vst.fans(1, 512), sigma=stds, inputs=vst.weight_families(), gamma=stds)
def test_moments_only_every_weight_family(family, n_in, sigma, inputs, gamma):
    """init.moments-only: the law holds whatever the zero-mean weight distribution."""
    seed = seed_for("init.moments-only", family.label, n_in, sigma, inputs, gamma)
    result = iid_layer_second_moment(n_in, family, sigma, UnitLaw(inputs, gamma),
                                     n_in * sigma**2 * gamma**2, rng=np.random.default_rng(seed))
    assert_holds(result)
