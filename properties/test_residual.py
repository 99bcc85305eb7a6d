"""residual.*: the exact identities, the growth formulas, and training.

Exact identities run in float64 against autograd; the growth formulas are exact at
every width for variance-preserving branches, so they are tested as point nulls at
the policy's size. Each statistical property has a companion showing that the same
check rejects a wrong formula.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import depth, resnets
from verify.stats import Verdict

from .helpers import assert_holds, assert_rejected, seed_for, statistical

EXACT = settings(max_examples=40, deadline=None)


def _passes(results):
    results = list(results)
    assert results and all(r.verdict is Verdict.PASS for r in results), \
        "\n".join(r.summary() for r in results)


@EXACT
@given(case=depth.stack_cases(max_width=24, max_depth=1))
def test_block_is_skip_plus_branch(case):
    _passes(depth.check_block(case, seed_for("block", case)))


@EXACT
@given(case=depth.stack_cases(max_width=48, max_depth=8))
def test_identity_shortcuts_add_no_parameters(case):
    _passes(depth.check_param_count(case, 0))


@EXACT
@given(case=depth.stack_cases(max_width=48, max_depth=8, same_width=False))
def test_projection_shortcuts_add_n_in_times_n_out(case):
    results = list(depth.check_param_count(case, 0))
    equal_count, extra_formula = results
    assert extra_formula.verdict is Verdict.PASS, extra_formula.summary()
    changes = any(a != b for a, b in zip(case.widths[:-1], case.widths[1:], strict=True))
    assert (equal_count.verdict is Verdict.FAIL) == changes, equal_count.summary()


@EXACT
@given(case=depth.stack_cases(max_width=24, max_depth=12))
def test_unrolled_sum(case):
    _passes(depth.check_unrolled(case, seed_for("unrolled", case)))


@settings(max_examples=25, deadline=None)
@given(case=depth.stack_cases(max_width=6, max_depth=5))
def test_jacobian_is_identity_plus_branch_terms(case):
    _passes(depth.check_jacobian(case, seed_for("jacobian", case)))


@settings(max_examples=10, deadline=None)
@given(case=depth.stack_cases(max_width=6, max_depth=4).filter(lambda c: c.alpha > 0.1))
def test_jacobian_without_the_identity_is_rejected(case):
    """Drop the I (read the source's scalar 1 as 0): the sum of branch terms alone is wrong."""
    model = resnets.build(case.widths, case.activation, case.alpha, True, 1)
    zs = model.states(torch.ones(case.widths[0], dtype=torch.float64))
    full = torch.func.jacrev(lambda z: model(z, case.earlier, case.depth))(zs[case.earlier])
    branches = full - torch.eye(case.widths[0], dtype=torch.float64)
    result = depth.exact_match("without I", full, branches)
    assert result.verdict is Verdict.FAIL


networks = 96


@statistical()
@given(case=depth.residual_cases())
def test_forward_growth_is_one_plus_alpha_squared_per_block(case):
    assert_holds(*depth.check_forward_growth(case, seed_for("forward", case), networks=networks))


@statistical()
@given(case=depth.residual_cases(min_alpha=0.5, max_depth=20).filter(lambda c: c.depth >= 2))
def test_forward_growth_of_doubled_branches_is_rejected(case):
    results = depth.check_forward_growth(
        case, seed_for("forward wrong", case), networks=networks,
        claimed=lambda alpha, layers: (1 + 2 * alpha**2) ** layers)
    assert_rejected(*results)


@statistical()
@given(case=depth.residual_cases())
def test_gradient_growth_is_one_plus_alpha_squared_per_block(case):
    assert_holds(*depth.check_gradient_growth(case, seed_for("backward", case), networks=networks))


@statistical()
@given(case=depth.residual_cases(min_alpha=0.3, max_depth=20).filter(lambda c: c.depth >= 2))
def test_depth_independent_gradient_is_rejected(case):
    """The literal reading of residual.depth-independence: the ratio stays at 1."""
    results = depth.check_gradient_growth(case, seed_for("flat", case), networks=networks,
                                          claimed=lambda alpha, layers: 1.0)
    assert_rejected(*results)


plain_cases = st.builds(depth.PlainCase, st.sampled_from([32, 64, 128]), st.integers(2, 30))


@statistical()
@given(case=plain_cases)
def test_plain_net_with_mismatched_init_halves_the_gradient_per_layer(case):
    assert_holds(*depth.check_plain_gradient_decay(case, seed_for("plain", case),
                                                   networks=networks))


@statistical()
@given(case=plain_cases.filter(lambda c: c.depth >= 3))
def test_plain_net_without_decay_is_rejected(case):
    """Claim that the LeCun-initialized ReLU net keeps its gradient (factor 1 per layer)."""
    assert_rejected(*depth.check_plain_gradient_decay(case, seed_for("plain wrong", case),
                                                      networks=networks, claimed_factor=1.0))


@statistical(divisor=10, minimum=2)
@given(layers=st.integers(30, 40))
def test_scaled_residual_nets_train_better_than_plain(layers):
    case = depth.TrainingCase(layers, 1 / math.sqrt(layers))
    (result,) = depth.check_training(case, seed_for("train", layers))
    better = round(result.estimate * result.n)
    assert better >= 38, result.summary()  # one-sided sign test p < 1e-9 at n = 40


@statistical(divisor=20, minimum=1)
@given(layers=st.integers(30, 40))
def test_unscaled_residual_nets_train_worse_at_this_init(layers):
    (result,) = depth.check_training(depth.TrainingCase(layers, 1.0), seed_for("unscaled", layers))
    assert result.verdict is Verdict.FAIL, result.summary()
    assert np.isfinite(result.estimate)
