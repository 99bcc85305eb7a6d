"""verify.theory against closed forms, against adaptive quadrature, and its own contracts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from verify import theory

CLOSED = 1e-12  # the issue asks for 1e-6; the quadrature is good to about 1e-14


@pytest.mark.parametrize("q", [1e-8, 1e-3, 0.3, 1.0, 7.0, 1e3, 1e7])
def test_relu_closed_forms(q):
    # E[relu(sqrt(q) z)^2] = q/2 and E[relu'(sqrt(q) z)^2] = 1/2
    assert theory.length_map("relu", 2.0, 0.0, q) == pytest.approx(q, rel=CLOSED)
    assert theory.length_map("relu", 1.3, 0.2, q) == pytest.approx(1.3 * q / 2 + 0.2, rel=CLOSED)
    assert theory.gradient_factor("relu", 2.0, q) == pytest.approx(1.0, rel=CLOSED)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0])
@pytest.mark.parametrize("q", [0.01, 1.0, 50.0])
def test_leaky_relu_closed_forms(slope, q):
    act = f"leaky_relu:{slope}"
    assert theory.length_map(act, 1.0, 0.0, q) == pytest.approx((1 + slope**2) * q / 2,
                                                               rel=CLOSED)
    assert theory.gradient_factor(act, 1.0, q) == pytest.approx((1 + slope**2) / 2, rel=CLOSED)


@pytest.mark.parametrize("q", [1e-6, 0.05, 1.0, 5.0, 100.0, 1e6])
def test_erf_closed_forms(q):
    # Williams (1997): E[erf(a z)^2] = (2/pi) arcsin(2a^2/(1+2a^2)); erf' = 2/sqrt(pi) e^{-x^2}
    second = 2 / math.pi * math.asin(2 * q / (1 + 2 * q))
    slope = 4 / math.pi / math.sqrt(1 + 4 * q)
    assert theory.length_map("erf", 1.0, 0.0, q) == pytest.approx(second, rel=CLOSED, abs=1e-15)
    assert theory.gradient_factor("erf", 1.0, q) == pytest.approx(slope, rel=CLOSED)


@pytest.mark.parametrize("name", ["tanh", "logistic", "gelu", "selu", "leaky_relu"])
@pytest.mark.parametrize("q", [0.01, 1.0, 30.0])
def test_quadrature_agrees_with_adaptive_integration(name, q):
    act = theory.resolve(name)

    def reference(function):
        def integrand(z):
            return function(math.sqrt(q) * z) * stats.norm.pdf(z)

        return sum(integrate.quad(integrand, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0]
                   for a, b in [(-np.inf, 0.0), (0.0, np.inf)])

    assert theory.expectation(lambda x: act.phi(x) ** 2, q, kink=act.kink) == pytest.approx(
        reference(lambda x: act.phi(x) ** 2), rel=1e-10)
    assert theory.expectation(lambda x: act.derivative(x) ** 2, q, kink=act.kink) == \
        pytest.approx(reference(lambda x: act.derivative(x) ** 2), rel=1e-10)


def test_gauss_hermite_cross_check_for_smooth_functions():
    # An independent rule. Gauss-Hermite converges slowly for tanh (its poles at
    # i pi / 2 limit it): 1e-8 at q = 3 with 160 nodes, hence the composite rule.
    z, w = theory._hermite(160)
    for q in [0.1, 1.0, 3.0]:
        assert np.sum(w * np.tanh(math.sqrt(q) * z) ** 2) == pytest.approx(
            theory.expectation(lambda x: np.tanh(x) ** 2, q), rel=1e-7)


@pytest.mark.parametrize("name", theory.NAMES)
def test_derivatives_match_finite_differences(name):
    act = theory.resolve(name)
    x = np.array([-2.3, -0.7, -0.1, 0.2, 0.9, 3.1])
    step = 1e-6
    numeric = (act.phi(x + step) - act.phi(x - step)) / (2 * step)
    np.testing.assert_allclose(act.derivative(x), numeric, rtol=1e-6, atol=1e-8)


def test_activations_match_torch():
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    functions = {
        "linear": lambda t: t, "tanh": torch.tanh, "logistic": torch.sigmoid,
        "relu": torch.relu, "leaky_relu": torch.nn.functional.leaky_relu,
        "selu": torch.selu, "gelu": torch.nn.functional.gelu, "erf": torch.erf,
    }
    for name, function in functions.items():
        np.testing.assert_allclose(theory.resolve(name).phi(x.numpy()), function(x).numpy(),
                                   rtol=1e-13, atol=1e-15, err_msg=name)


def test_selu_constants_are_computed_and_match_the_papers_and_torch():
    scale, alpha = theory.selu_constants()
    # closed form of the mean condition (Klambauer et al. 2017, eq. 14)
    closed_alpha = -math.sqrt(2 / math.pi) / (special.erfc(1 / math.sqrt(2)) * math.exp(0.5) - 1)
    assert alpha == pytest.approx(closed_alpha, rel=1e-12)
    assert (round(scale, 4), round(alpha, 4)) == (1.0507, 1.6733)  # the values CLAIMS.md quotes
    x = torch.tensor([1.0, -30.0], dtype=torch.float64)
    torch_scale, torch_saturation = torch.selu(x).tolist()
    assert scale == pytest.approx(torch_scale, rel=1e-13)
    assert scale * alpha == pytest.approx(-torch_saturation, rel=1e-12)


def test_selu_fixed_point_is_zero_one_and_attracting():
    point = theory.selu_fixed_point(start=(0.3, 1.4))
    assert point.mean == pytest.approx(0.0, abs=1e-12)
    assert point.variance == pytest.approx(1.0, rel=1e-12)
    assert point.attracting and point.spectral_radius < 0.8


@pytest.mark.parametrize(("name", "critical"), [("relu", 2.0), ("linear", 1.0), ("tanh", 1.0),
                                                 ("leaky_relu:0.2", 2 / 1.04)])
def test_critical_weight_variance_without_bias(name, critical):
    assert theory.critical_weight_variance(name, 0.0) == pytest.approx(critical, rel=1e-6)


def test_tanh_edge_of_chaos_with_bias_is_where_chi1_is_one():
    sigma_w2 = theory.critical_weight_variance("tanh", 0.05)
    assert 1.5 < sigma_w2 < 2.0  # Schoenholz et al. 2017, fig. 1
    assert theory.chi1("tanh", sigma_w2, 0.05) == pytest.approx(1.0, abs=1e-9)
    assert theory.chi1("tanh", sigma_w2 * 0.9, 0.05) < 1 < theory.chi1("tanh", sigma_w2 * 1.1, 0.05)


def test_fixed_points():
    assert theory.fixed_point("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-12)
    assert theory.fixed_point("relu", 2.5, 0.0) == math.inf
    assert theory.fixed_point("relu", 2.0, 0.0, q0=3.0) == 3.0
    assert theory.fixed_point("tanh", 1.0, 0.0) == 0.0
    q = theory.fixed_point("tanh", 2.0, 0.1)
    assert theory.length_map("tanh", 2.0, 0.1, q) == pytest.approx(q, rel=1e-12)
    assert theory.fixed_point("selu", 1.0, 0.0, q0=5.0) == pytest.approx(1.0, rel=1e-12)


def test_custom_activation_pair():
    pair = (np.sin, np.cos)
    q = 0.7
    assert theory.length_map(pair, 1.0, 0.0, q) == pytest.approx((1 - math.exp(-2 * q)) / 2,
                                                                rel=1e-12)


def test_trajectory_is_the_iterated_map():
    q, g = theory.length_trajectory("relu", 1.0, 0.0, 1.0, 6)
    np.testing.assert_allclose(q, 0.5 ** np.arange(6), rtol=1e-12)
    np.testing.assert_allclose(g, 0.5 ** np.arange(5, -1, -1), rtol=1e-12)


def test_residual_maps():
    assert theory.residual_length_map("relu", 0.5, 2.0, first_variance=2.0) == pytest.approx(2.5)
    assert theory.residual_backward_factor("relu", 0.5, 2.0, first_variance=2.0) == \
        pytest.approx(1.25)
    assert theory.residual_growth(0.5, 3) == pytest.approx(1.25**3)


def test_relu_log_norm_law_approaches_five_over_width():
    ratios = [theory.relu_log_norm_moments(n, n)[1] * n / 5 for n in (16, 64, 256, 1024)]
    assert all(a > b > 1 for a, b in itertools.pairwise(ratios))
    assert ratios[-1] == pytest.approx(1.0, abs=0.01)


def test_relu_log_norm_law_against_simulation_of_its_own_derivation():
    # chi-square mixture sampled directly: a check of the digamma/trigamma algebra
    rng = np.random.default_rng(5)
    width = 12
    k = rng.binomial(width, 0.5, size=400_000)
    k = k[k > 0]
    logs = np.log(2 / width * rng.chisquare(k))
    mean, variance = theory.relu_log_norm_moments(width, width)
    assert logs.mean() == pytest.approx(mean, abs=5 * math.sqrt(variance / k.size))
    assert logs.var() == pytest.approx(variance, rel=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown activation"):
        theory.resolve("swish")
    with pytest.raises(ValueError, match="slope"):
        theory.resolve("leaky_relu:x")
    with pytest.raises(ValueError, match="weight_variance"):
        theory.length_map("tanh", -1.0, 0.0, 1.0)
    with pytest.raises(TypeError):
        theory.resolve(3)
