"""Batched draws (``Target.stacked``): one call of the library for ``count`` tensors,
declared only by flat fills, and equal in law to that many separate calls.

A stacked draw stands in for ``count`` calls of ``sample`` only where the law does not
depend on the shape: the fans of a ``(count, *shape)`` tensor are not those of
``shape``, so no fan-dependent law (a variance-scaling scheme, a layer) may declare one,
nor a user's function, whose law the adapter cannot know.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from verify import catalog
from verify.adapters import LibraryMissing
from verify.laws import FixedLaw
from verify.targets import user_target


def _built(entries) -> dict:
    """The entries' targets, but those of a library this process cannot import (Paddle
    after TensorFlow: the import would crash it)."""
    targets = {}
    for entry in entries:
        try:
            targets[entry.name] = entry.build()
        except LibraryMissing:
            continue
    return targets


CATALOG = catalog.load()
TARGETS = _built(CATALOG.entries)
ENTRIES = [entry for entry in CATALOG.entries if entry.name in TARGETS]
STACKED = [entry for entry in ENTRIES if TARGETS[entry.name].stacked is not None]

FLAT_FILLS = {
    "torch": {"torch:normal_", "torch:uniform_", "torch:trunc_normal_"},
    "jax": {"jax:normal", "jax:uniform", "jax:truncated_normal",
            "jax:truncated_normal(0.5, lower=-1.0, upper=3.0)"},
    "keras": {"keras:RandomNormal", "keras:RandomNormal(mean=1.0, stddev=0.5)",
              "keras:RandomUniform", "keras:TruncatedNormal",
              "keras:TruncatedNormal(mean=1.0, stddev=0.5)"},
    "mlx": {"mlx:normal", "mlx:uniform"},
    "paddle": {"paddle:Normal", "paddle:Normal(mean=1.0, std=0.5)", "paddle:TruncatedNormal",
               "paddle:TruncatedNormal(mean=1.0, std=0.5, a=0.0, b=2.0)", "paddle:Uniform",
               "paddle:Uniform(low=-0.5, high=0.25)",
               "paddle:XavierNormal(fan_in=10.0, fan_out=30.0)",
               "paddle:KaimingNormal(fan_in=100.0)"},
    "tf_keras": {"tf_keras:RandomNormal", "tf_keras:RandomNormal(mean=1.0, stddev=0.5)",
                 "tf_keras:RandomUniform", "tf_keras:TruncatedNormal",
                 "tf_keras:TruncatedNormal(mean=1.0, stddev=0.5)"},
    "haiku": {"haiku:RandomNormal", "haiku:RandomNormal(stddev=0.5, mean=1.0)",
              "haiku:RandomUniform", "haiku:RandomUniform(minval=-0.5, maxval=2.0)",
              "haiku:TruncatedNormal", "haiku:TruncatedNormal(stddev=0.5, mean=1.0)"},
    "tinygrad": {"tinygrad:Tensor.normal", "tinygrad:Tensor.normal(mean=1.0, std=0.5)",
                 "tinygrad:Tensor.rand", "tinygrad:Tensor.randn", "tinygrad:Tensor.uniform",
                 "tinygrad:Tensor.uniform(low=-2.0, high=0.5)"},
}
"""The catalog's flat fills of a shape-independent law, by library."""

SHAPE = (4, 3)
COUNT = 400
LEVEL = 1e-4
"""Size of each test of law below: the draws are seeded, so a pass is a fixed result,
and a wrong law (a fan-dependent scale, a repeated slice) is off by far more."""


def test_the_flat_fills_of_the_installed_libraries_declare_a_stacked_draw():
    installed = {entry.library for entry in ENTRIES}
    expected = set().union(*(names for library, names in FLAT_FILLS.items()
                             if library in installed))
    assert {entry.name for entry in STACKED} == expected


@pytest.mark.parametrize("entry", STACKED, ids=lambda e: e.name)
def test_only_flat_fills_of_a_fixed_law_declare_a_stacked_draw(entry):
    assert entry.kind == "function"
    assert isinstance(entry.claim, FixedLaw)


def test_no_fan_dependent_entry_layer_or_user_function_declares_a_stacked_draw():
    for entry in ENTRIES:
        if entry.kind == "layer" or not isinstance(entry.claim, FixedLaw):
            assert TARGETS[entry.name].stacked is None, entry.name
    pytest.importorskip("torch")
    assert user_target("torch.nn.init:normal_", "torch", {}).stacked is None


@pytest.mark.parametrize("entry", STACKED, ids=lambda e: e.name)
def test_stacked_draw_is_count_float32_tensors_seeded(entry):
    stacked = TARGETS[entry.name].stacked
    first = stacked(SHAPE, 5, 11)
    assert isinstance(first, np.ndarray)
    assert first.shape == (5, *SHAPE) and first.dtype == np.float32
    np.testing.assert_array_equal(stacked(SHAPE, 5, 11), first)
    assert not np.array_equal(stacked(SHAPE, 5, 12)[0], first[0])
    slices = {member.tobytes() for member in first}
    assert len(slices) == 5, "the slices of one stacked draw repeat"


@pytest.mark.parametrize("entry", STACKED, ids=lambda e: e.name)
def test_stacked_draw_has_the_law_of_separate_calls(entry):
    """The stacked entries and those of ``COUNT`` separate ``sample`` calls: one law
    (two-sample KS, and the variances' ratio against its F interval), the claimed one."""
    target = TARGETS[entry.name]
    stacked = target.stacked(SHAPE, COUNT, 2026).astype(np.float64).ravel()
    separate = np.concatenate([target.sample(SHAPE, seed).astype(np.float64).ravel()
                               for seed in range(COUNT)])
    assert stats.ks_2samp(stacked, separate).pvalue > LEVEL
    assert stats.kstest(stacked, entry.claim.cdf(SHAPE)).pvalue > LEVEL
    # entries are iid within each sample, so the ratio of sample variances is F for a
    # normal law; for the lighter-tailed ones (uniform, truncated) the F interval is wide
    ratio = stacked.var(ddof=1) / separate.var(ddof=1)
    degrees = len(stacked) - 1
    low, high = stats.f.ppf([LEVEL / 2, 1 - LEVEL / 2], degrees, degrees)
    assert low < ratio < high, f"variance ratio {ratio:.4f} outside ({low:.4f}, {high:.4f})"
    assert math.isclose(stacked.var(), entry.claim.law(SHAPE).var(), rel_tol=0.1)


def test_the_command_line_timeout_keeps_the_stacked_draw():
    """``check`` and ``conformance`` wrap their target in ``with_timeout``: the wrapped
    target must still offer its stacked draw, the same one."""
    from verify.matrix import with_timeout

    if not STACKED:
        pytest.skip("no library with a flat fill is installed")
    target = TARGETS[STACKED[0].name]
    wrapped = with_timeout(target, 60.0)
    assert wrapped.stacked is not None and wrapped.name == target.name
    np.testing.assert_array_equal(wrapped.stacked(SHAPE, 3, 5), target.stacked(SHAPE, 3, 5))
    np.testing.assert_array_equal(wrapped(SHAPE, 5), target.sample(SHAPE, 5))
