"""init.fixed-variance-explodes: N(0, 1) weights multiply ||z||^2 by n per linear layer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from verify.claims import DepthCase, check_fixed_variance

from .helpers import assert_holds, assert_rejected, seed_for, statistical

cases = st.builds(DepthCase, st.integers(2, 64), st.integers(2, 20))


@statistical()
@given(case=cases)
def test_second_moment_grows_by_width_per_layer(case):
    results = check_fixed_variance(case, seed_for("fixed-variance", case),
                                   claimed_growth=lambda n: n * 1.0)
    assert_holds(*results)


@statistical()
@given(case=cases)
def test_half_the_growth_is_rejected(case):
    """With ReLU the rate would be n/2; the linear network must reject it."""
    results = check_fixed_variance(case, seed_for("fixed-variance wrong", case),
                                   claimed_growth=lambda n: n / 2)
    assert_rejected(*results)
