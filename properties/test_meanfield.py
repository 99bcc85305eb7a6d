"""Signal propagation against theory the project computes: meanfield.length-map,
selu.fixed-point, finite-width.fluctuations, orthogonal.isometry,
init.nonlinear-recommendations, and init.fixed-variance-explodes with ReLU."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from verify import depth, theory
from verify import propagation as prop
from verify.seeding import derive_seed
from verify.stats import Verdict

from .helpers import assert_holds, assert_rejected, seed_for, statistical

# --- meanfield.length-map ------------------------------------------------------------


@statistical()
@given(case=depth.mean_field_cases())
def test_finite_width_networks_follow_the_length_map(case):
    assert_holds(*depth.check_mean_field(case, seed_for("mean field", case)))


@statistical()
@given(case=depth.mean_field_cases(names=("tanh", "erf", "selu")).filter(lambda c: c.depth >= 2),
       error=st.sampled_from([0.85, 1.15]))
def test_a_misread_weight_variance_is_rejected(case, error):
    """Theory computed for sigma_w^2 off by 15%: the large-width measurement rejects it."""
    results = depth.check_mean_field(case, seed_for("mean field wrong", case, error),
                                     theory_weight_variance=case.weight_variance * error)
    assert_rejected(*results)


def _relative_errors(case: depth.MeanFieldCase, width: int, networks: int, seed: int):
    q1 = case.weight_variance + case.bias_variance
    q, _ = theory.length_trajectory(case.activation, case.weight_variance, case.bias_variance,
                                    q1, case.depth)
    net = prop.Plain.square(width, case.depth, activation=case.activation,
                            init=case.weight_variance, bias_variance=case.bias_variance)
    trace = prop.run(net, networks, seed=derive_seed(seed, width), batch=8, dtype=torch.float64,
                     backward=False)
    values = trace.forward[:, -1] / q[-1] - 1
    return float(values.mean()), float(values.std(ddof=1)) / math.sqrt(values.size)


@statistical()
@given(case=depth.mean_field_cases(names=("tanh", "erf", "selu", "logistic", "gelu"),
                                   max_depth=6).filter(lambda c: c.depth >= 2))
def test_the_finite_width_error_shrinks_as_width_grows(case):
    """From width 8 to width 512 the relative error of q_L must shrink at least 4-fold (a
    1/n bias shrinks 64-fold), up to 6 standard errors of noise."""
    seed = seed_for("shrink", case)
    small, small_se = _relative_errors(case, 8, 2048, seed)
    large, large_se = _relative_errors(case, 512, 48, seed)
    noise = 6 * math.hypot(small_se / 4, large_se)
    assert abs(large) <= abs(small) / 4 + noise, (small, small_se, large, large_se)


# --- selu.fixed-point ------------------------------------------------------------------


@statistical()
@given(case=depth.selu_cases())
def test_selu_networks_approach_mean_zero_variance_one(case):
    assert_holds(*depth.check_selu(case, seed_for("selu", case)))


@statistical()
@given(case=depth.selu_cases().filter(lambda c: c.depth >= 10))
def test_selu_fixed_point_elsewhere_is_rejected(case):
    results = depth.check_selu(case, seed_for("selu wrong", case), target=(0.0, 1.1))
    assert_rejected(*results)


# --- finite-width.fluctuations ------------------------------------------------------------


@statistical()
@given(case=depth.fluctuation_cases())
def test_relu_log_norm_follows_the_exact_law(case):
    assert_holds(*depth.check_fluctuations(case, seed_for("fluctuations", case)))


@statistical()
@given(case=depth.fluctuation_cases(min_width=16, max_width=20, max_depth=12).filter(
    lambda c: c.depth >= 6))
def test_five_over_width_is_rejected_for_narrow_nets(case):
    results = depth.check_fluctuations(case, seed_for("fluctuations wide", case),
                                       asymptotic=True)
    assert_rejected(*results)


# --- orthogonal.isometry ----------------------------------------------------------------


isometry_cases = st.builds(depth.IsometryCase, st.integers(2, 64), st.integers(1, 20))


@statistical()
@given(case=isometry_cases)
def test_orthogonal_products_are_isometries_and_gaussian_spread_follows_theory(case):
    assert_holds(*depth.check_isometry(case, seed_for("isometry", case)))


@statistical()
@given(case=isometry_cases)
def test_gaussian_products_are_not_isometries(case):
    jacobian = depth._product(4, case.width, case.depth, "normal", seed_for("gauss", case))
    singular = torch.linalg.svdvals(jacobian)
    assert depth.exact_match("", singular, torch.ones_like(singular)).verdict is Verdict.FAIL


# --- init.nonlinear-recommendations -----------------------------------------------------


@statistical()
@given(activation=st.sampled_from(list(depth.RECOMMENDED)), layers=st.integers(10, 40))
def test_measured_ratios_are_classified_as_theory_predicts(activation, layers):
    """Where the infinite-width theory is clear-cut (within a factor 1.6 of 1, or beyond a
    factor 4), the measured 95% interval must say the same."""
    rows = depth.recommendation_table(seed_for("recommend", activation, layers), width=128,
                                      depth=layers, networks=32, names=[activation])
    for row in rows:
        for direction in ("forward", "backward"):
            predicted = row[f"{direction}_theory"]
            if 1 / 1.6 <= predicted <= 1.6:
                assert row[direction] != "not kept", row
            elif predicted < 1 / 4 or predicted > 4:
                assert row[direction] == "not kept", row


# --- init.fixed-variance-explodes through ReLU layers -------------------------------------


relu_cases = st.tuples(st.integers(3, 64), st.integers(2, 20))


@statistical()
@given(case=relu_cases)
def test_standard_normal_relu_layers_grow_by_half_the_width(case):
    width, layers = case
    assert_holds(*depth.check_relu_fixed_variance(width, layers, seed_for("relu fixed", case)))


@statistical()
@given(case=relu_cases)
def test_standard_normal_relu_layers_do_not_grow_by_the_width(case):
    width, layers = case
    assert_rejected(*depth.check_relu_fixed_variance(width, layers, seed_for("relu fixed", case),
                                                     claimed=float(width)))
