"""``check`` passes the reference implementations and catches broken initializers,
each reported with a minimal failing shape; broken contracts are errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st
from scipy import special

from verify import assert_conforms
from verify.conformance import TargetError, check
from verify.distributions import TRUNCATION
from verify.reference import ReferenceSampler
from verify.schemes import InitSpec
from verify.stats import Verdict
from verify.strategies import weight_shapes


def fans_oihw(shape):
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("scheme,dist", [("lecun", "truncated_normal"), ("glorot", "uniform"),
                                         ("he", "normal")])
def test_references_conform(backend, scheme, dist):
    spec = InitSpec(scheme, dist)
    report = check(ReferenceSampler(spec, backend), spec, seed=11, max_examples=4)
    assert report.verdict is Verdict.PASS, report.table()


# --- mutants: realistic bugs, each must be caught with a minimal failing shape -----------

def he_std(shape):
    return math.sqrt(2 / fans_oihw(shape)[0])


def fan_out_instead_of_fan_in(shape, seed):
    std = math.sqrt(2 / fans_oihw(shape)[1])
    return np.random.default_rng(seed).standard_normal(shape) * std


def missing_factor_two(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape) / math.sqrt(fans_oihw(shape)[0])


def std_set_to_the_variance(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape) * he_std(shape) ** 2


def no_receptive_field(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape) * math.sqrt(2 / shape[1])


def heavy_tails_right_variance(shape, seed):
    draws = np.random.default_rng(seed).laplace(size=shape) / math.sqrt(2)
    return draws * he_std(shape)


def clamped_instead_of_truncated(shape, seed):
    std = he_std(shape)
    draws = np.random.default_rng(seed).standard_normal(shape) * std
    return np.clip(draws, -2 * std, 2 * std)


def repeated_rows(shape, seed):
    rng = np.random.default_rng(seed)
    row = rng.standard_normal((1, *shape[1:])) * he_std(shape)
    return np.repeat(row, shape[0], axis=0)


def ignores_its_seed(shape, seed):
    return np.random.default_rng(0).standard_normal(shape) * he_std(shape)


def off_at_large_fans(shape, seed):
    """Right below fan_in 64, 10% too much variance from there on."""
    factor = 1.1 if fans_oihw(shape)[0] >= 64 else 1.0
    return np.random.default_rng(seed).standard_normal(shape) * he_std(shape) * math.sqrt(factor)


def shifted_uniform(shape, seed):
    bound = math.sqrt(3) * he_std(shape)
    return np.random.default_rng(seed).uniform(0, 2 * bound, shape)


MUTANTS = [fan_out_instead_of_fan_in, missing_factor_two, std_set_to_the_variance,
           no_receptive_field, heavy_tails_right_variance, clamped_instead_of_truncated,
           repeated_rows, ignores_its_seed, off_at_large_fans]


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_mutants_are_caught_with_a_minimal_failing_shape(mutant):
    shapes = weight_shapes(layout="oihw", max_numel=2**16)
    report = check(mutant, InitSpec("he", "normal"), shapes=shapes, seed=5, max_examples=10,
                   name=mutant.__name__, reproduce="--shape {shape}")
    assert report.verdict is Verdict.FAIL, report.table()
    counterexample = report.counterexample
    assert counterexample is not None and len(counterexample["shape"]) >= 2
    assert counterexample["reproduce"] == "--shape " + ",".join(map(str, counterexample["shape"]))


def test_a_shifted_uniform_is_caught(record_property):
    report = check(shifted_uniform, InitSpec("he", "uniform"), shapes=st.just((64, 32)), seed=1,
                   max_examples=1)
    failed = {r.name for r in report.counterexample and report.exploration.counterexample.results
              if r.verdict is Verdict.FAIL}
    assert {"mean", "support"} <= failed


def test_the_failing_shape_shrinks_to_where_fans_differ():
    report = check(fan_out_instead_of_fan_in, InitSpec("he", "normal"),
                   shapes=weight_shapes(layout="oihw", max_numel=2**12), seed=3, max_examples=8)
    shape = report.counterexample["shape"]
    fan_in, fan_out = fans_oihw(shape)
    assert fan_in != fan_out
    assert report.counterexample["variance_ratio"] == pytest.approx(fan_in / fan_out, rel=0.2)


# --- broken contracts are errors, not verdicts -----------------------------------------

@pytest.mark.parametrize(
    ("sampler", "message"),
    [
        (lambda shape, seed: np.zeros(shape[:-1]), "returned"),
        (lambda shape, seed: np.full(shape, np.nan), "NaN"),
        (lambda shape, seed: np.ones(shape, dtype=np.int64), "dtype"),
        (lambda shape, seed: 1 / 0, "ZeroDivisionError"),
    ],
    ids=["wrong shape", "nan", "integer dtype", "raises"],
)
def test_broken_contracts_raise_target_error(sampler, message):
    with pytest.raises(TargetError, match=message):
        check(sampler, InitSpec("he", "normal"), shapes=st.just((4, 3)), max_examples=1)


def test_too_large_shapes_are_refused():
    with pytest.raises(TargetError, match="above the cap"):
        check(lambda shape, seed: np.zeros(shape), InitSpec("he", "normal"),
              shapes=st.just((2**14, 2**13)), max_examples=1)


# --- assert_conforms for users' own suites ---------------------------------------------

def test_assert_conforms_passes_a_correct_torch_initializer():
    def he(tensor, generator=None):
        return torch.nn.init.kaiming_normal_(tensor, generator=generator)

    assert_conforms(he, scheme="he", dist="normal", api="torch", examples=2)


def test_assert_conforms_explains_a_failure_with_a_reproduction():
    def lecun_by_mistake(tensor, generator=None):
        return torch.nn.init.kaiming_normal_(tensor, nonlinearity="linear", generator=generator)

    with pytest.raises(AssertionError, match=r"minimal failing shape .* reproduce: "
                                             r"assert_conforms\(lecun_by_mistake"):
        assert_conforms(lecun_by_mistake, scheme="he", dist="normal", api="torch", examples=3)


def test_truncation_constant_is_the_textbooks():
    """The truncated normal of the schemes is cut at 2 std of the untruncated normal."""
    mass = special.ndtr(TRUNCATION) - special.ndtr(-TRUNCATION)
    assert TRUNCATION == 2.0 and mass == pytest.approx(0.9545, abs=1e-4)


def test_a_one_by_one_orthogonal_matrix_may_repeat_its_sign():
    """+-1 is the whole orthogonal group in one dimension: equal draws are no defect."""
    from verify.laws import Orthogonal

    def sign(shape, seed):
        return np.full(shape, 1.0 if seed % 3 else -1.0)

    report = check(sign, Orthogonal(), shapes=st.just((1, 1)), max_examples=1)
    assert report.verdict is Verdict.PASS, report.table()
