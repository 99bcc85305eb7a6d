"""Claims about the schemes, tested on the reference implementations:
glorot.variance, lecun.variance, lecun.equals-glorot, he.variance, he.leaky,
uniform.moments, glorot.uniform-bound, glorot.standard-uniform.

Every expected value is the textbook's formula, written here.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from verify import stats
from verify import strategies as vst
from verify.conformance import draw_tensors, variance_check
from verify.distributions import NORMAL
from verify.layer import Experiment, UnitLaw, measure, tensor_layer_second_moment
from verify.reference import ReferenceSampler
from verify.schemes import InitSpec

from .helpers import assert_holds, assert_rejected, seed_for, statistical

stds = st.one_of(st.just(1.0), st.floats(0.05, 20.0))


def seeds(*labels, count: int = 2) -> list[int]:
    return [int(s) for s in np.random.SeedSequence(seed_for(*labels)).generate_state(count)]


def reference(scheme: str, dist: str, gain: float | None = None) -> ReferenceSampler:
    return ReferenceSampler(InitSpec(scheme, dist, gain=gain))


@statistical()
@given(fans=vst.fan_pairs(1, 256), dist=vst.init_families(), gamma=stds)
def test_glorot_variance_and_its_compromise(fans, dist, gamma):
    n_in, n_out = fans
    sampler = reference("glorot", dist.name)
    s = seeds("glorot.variance", fans, dist, gamma, count=3)
    x = UnitLaw(NORMAL, gamma)
    assert_holds(
        variance_check(sampler, sampler.spec, (n_out, n_in), 2 / (n_in + n_out), seed=s[0]),
        # forward: Var[o] = n_in sigma^2 gamma^2, backward: n_out sigma^2 gamma^2
        tensor_layer_second_moment(sampler, n_in, n_out, x, n_in * 2 / (n_in + n_out) * gamma**2,
                                   backward=False, seed=s[1]),
        tensor_layer_second_moment(sampler, n_in, n_out, x, n_out * 2 / (n_in + n_out) * gamma**2,
                                   backward=True, seed=s[2]),
    )


@statistical()
@given(fans=vst.distinct_fan_pairs(1, 256), dist=vst.init_families())
def test_glorot_weights_are_not_lecun_when_fans_differ(fans, dist):
    n_in, n_out = fans
    sampler = reference("glorot", dist.name)
    seed = seed_for("glorot.variance wrong", fans, dist)
    assert_rejected(variance_check(sampler, sampler.spec, (n_out, n_in), 1 / n_in, seed=seed))


@statistical()
@given(fans=vst.fan_pairs(1, 256), dist=vst.init_families(), inputs=vst.weight_families(),
       gamma=stds)
def test_lecun_variance_keeps_forward_variance(fans, dist, inputs, gamma):
    n_in, n_out = fans
    sampler = reference("lecun", dist.name)
    s = seeds("lecun.variance", fans, dist, inputs, gamma)
    assert_holds(
        variance_check(sampler, sampler.spec, (n_out, n_in), 1 / n_in, seed=s[0]),
        tensor_layer_second_moment(sampler, n_in, n_out, UnitLaw(inputs, gamma), gamma**2,
                                   backward=False, seed=s[1]),
    )


@statistical()
@given(fans=vst.distinct_fan_pairs(1, 256), dist=vst.init_families())
def test_lecun_variance_with_n_out_is_rejected(fans, dist):
    n_in, n_out = fans
    sampler = reference("lecun", dist.name)
    seed = seed_for("lecun.variance wrong", fans, dist)
    assert_rejected(variance_check(sampler, sampler.spec, (n_out, n_in), 1 / n_out, seed=seed))


@statistical()
@given(n=vst.fans(1, 256), dist=vst.init_families())
def test_lecun_equals_glorot_on_square_layers(n, dist):
    sampler = reference("lecun", dist.name)
    seed = seed_for("lecun.equals-glorot", n, dist)
    assert_holds(variance_check(sampler, sampler.spec, (n, n), 2 / (n + n), seed=seed))


@statistical()
@given(fans=vst.distinct_fan_pairs(1, 256), dist=vst.init_families())
def test_lecun_differs_from_glorot_on_other_layers(fans, dist):
    n_in, n_out = fans
    sampler = reference("lecun", dist.name)
    seed = seed_for("lecun.equals-glorot wrong", fans, dist)
    assert_rejected(variance_check(sampler, sampler.spec, (n_out, n_in), 2 / (n_in + n_out),
                                   seed=seed))


def leaky_inputs(family, s: float, a: float) -> UnitLaw:
    return UnitLaw(family, s, "leaky_relu", a)


@statistical()
@given(fans=vst.fan_pairs(1, 256), dist=vst.init_families(),
       pre=vst.weight_families(heavy_tails=False), s=stds)
def test_he_keeps_the_second_moment_through_relu(fans, dist, pre, s):
    """Var[w] = 2/n_in, and with x = relu(z), Var[z] = s^2 (z symmetric): E[o^2] = s^2."""
    n_in, n_out = fans
    sampler = reference("he", dist.name)
    c = seeds("he.variance", fans, dist, pre, s)
    assert_holds(
        variance_check(sampler, sampler.spec, (n_out, n_in), 2 / n_in, seed=c[0]),
        tensor_layer_second_moment(sampler, n_in, n_out, UnitLaw(pre, s, "relu"), s**2,
                                   backward=False, seed=c[1]),
    )


@statistical()
@given(fans=vst.fan_pairs(1, 256), dist=vst.init_families(), s=stds)
def test_lecun_does_not_keep_the_second_moment_through_relu(fans, dist, s):
    n_in, n_out = fans
    sampler = reference("lecun", dist.name)
    seed = seed_for("he.variance wrong", fans, dist, s)
    assert_rejected(tensor_layer_second_moment(sampler, n_in, n_out, UnitLaw(NORMAL, s, "relu"),
                                               s**2, backward=False, seed=seed))


@statistical()
@given(fans=vst.fan_pairs(1, 256), dist=vst.init_families(), a=vst.negative_slopes(),
       pre=vst.weight_families(heavy_tails=False), s=stds)
def test_he_leaky(fans, dist, a, pre, s):
    """(1/2)(1 + a^2) n_in sigma^2 = 1 keeps E[o^2] = Var[z] through a leaky ReLU."""
    n_in, n_out = fans
    sigma2 = 2 / ((1 + a * a) * n_in)
    sampler = reference("he", dist.name, gain=math.sqrt(sigma2 * n_in))
    c = seeds("he.leaky", fans, dist, a, pre, s)
    assert_holds(
        variance_check(sampler, sampler.spec, (n_out, n_in), sigma2, seed=c[0]),
        tensor_layer_second_moment(sampler, n_in, n_out, leaky_inputs(pre, s, a), s**2,
                                   backward=False, seed=c[1]),
    )


@statistical()
@given(fans=vst.fan_pairs(1, 256), dist=vst.init_families(), a=st.floats(0.3, 1.0), s=stds)
def test_he_without_the_leaky_correction_is_rejected(fans, dist, a, s):
    """Plain He weights (Var 2/n_in) with a leaky ReLU of slope a >= 0.3: E[o^2] grows by
    (1 + a^2), which the same measurement must reject."""
    n_in, n_out = fans
    sampler = reference("he", dist.name)
    seed = seed_for("he.leaky wrong", fans, dist, a, s)
    assert_rejected(tensor_layer_second_moment(sampler, n_in, n_out, leaky_inputs(NORMAL, s, a),
                                               s**2, backward=False, seed=seed))


@statistical()
@given(a=st.floats(1e-3, 1e3))
def test_uniform_moments(a):
    rng = np.random.default_rng(seed_for("uniform.moments", a))
    size = stats.variance_sample_size(kurtosis=1.8, gaussian=False)
    samples = rng.uniform(-a, a, size)
    assert_holds(stats.mean_test(samples),
                 stats.variance_test(samples, a * a / 3, gaussian=False))
    assert_rejected(stats.variance_test(samples, a * a / 2.9, gaussian=False))


@statistical()
@given(fans=vst.fan_pairs(1, 256))
def test_glorot_uniform_bound(fans):
    n_in, n_out = fans
    a = math.sqrt(6 / (n_in + n_out))
    sampler = reference("glorot", "uniform")
    rng = np.random.default_rng(seed_for("glorot.uniform-bound", fans))
    samples = draw_tensors(sampler, (n_out, n_in), min(600_000, 20_000 * n_in * n_out), rng)
    assert_holds(stats.support_test(samples, scipy_stats.uniform(-a, 2 * a)),
                 stats.variance_test(samples, 2 / (n_in + n_out), gaussian=False))


@statistical()
@given(fans=vst.distinct_fan_pairs(1, 256))
def test_lecun_uniform_bound_is_rejected_for_glorot(fans):
    n_in, n_out = fans
    a = math.sqrt(3 / n_in)  # the LeCun-uniform bound, wrong unless n_in = n_out
    sampler = reference("glorot", "uniform")
    rng = np.random.default_rng(seed_for("glorot.uniform-bound wrong", fans))
    samples = draw_tensors(sampler, (n_out, n_in), min(600_000, 20_000 * n_in * n_out), rng)
    assert_rejected(stats.support_test(samples, scipy_stats.uniform(-a, 2 * a)))


def standard_uniform_network(width: int, depth: int) -> Experiment:
    bound = 1 / math.sqrt(width)
    batch = 64

    def run(rng, count):
        signal = rng.standard_normal((count, batch, width))
        for _ in range(depth):
            signal = signal @ rng.uniform(-bound, bound, (count, width, width))
        return signal

    return Experiment(run, width * (batch + depth * width))


@statistical()
@given(width=vst.fans(1, 128), depth=st.integers(1, 5))
def test_standard_uniform_shrinks_variance_by_three_per_layer(width, depth):
    rng = np.random.default_rng(seed_for("glorot.standard-uniform", width, depth))
    bound = 1 / math.sqrt(width)
    size = stats.variance_sample_size(kurtosis=1.8, gaussian=False)
    assert_holds(
        stats.variance_test(rng.uniform(-bound, bound, size), 1 / (3 * width), gaussian=False),
        measure(standard_uniform_network(width, depth), (1 / 3) ** depth, rng=rng),
    )


@statistical()
@given(width=vst.fans(1, 128), depth=st.integers(1, 5))
def test_standard_uniform_is_not_a_halving(width, depth):
    rng = np.random.default_rng(seed_for("glorot.standard-uniform wrong", width, depth))
    assert_rejected(measure(standard_uniform_network(width, depth), (1 / 2) ** depth, rng=rng))
