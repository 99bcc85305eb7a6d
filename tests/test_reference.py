"""Reference implementations: seeded, deterministic, dtype- and shape-preserving."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from verify.reference import ReferenceSampler, numpy_init, torch_init
from verify.schemes import InitSpec, leaky_relu_gain

DISTS = ("normal", "uniform", "truncated_normal")


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_is_seeded_and_keeps_dtype_and_shape(dist, dtype):
    spec = InitSpec("he", dist, layout="hwio")
    first = numpy_init(spec, (3, 3, 4, 8), 7, dtype=dtype)
    assert first.shape == (3, 3, 4, 8) and first.dtype == dtype
    np.testing.assert_array_equal(first, numpy_init(spec, (3, 3, 4, 8), 7, dtype=dtype))
    assert not np.array_equal(first, numpy_init(spec, (3, 3, 4, 8), 8, dtype=dtype))


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_is_seeded_and_keeps_dtype_and_shape(dist, dtype):
    spec = InitSpec("glorot", dist)
    first = torch_init(spec, (8, 4, 3), 7, dtype=dtype)
    assert first.shape == (8, 4, 3) and first.dtype == dtype
    assert torch.equal(first, torch_init(spec, (8, 4, 3), 7, dtype=dtype))
    assert not torch.equal(first, torch_init(spec, (8, 4, 3), 8, dtype=dtype))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_bounded_distributions_stay_in_bounds(backend):
    # glorot on (20, 30): Var = 2/50; uniform bound sqrt(3 Var), truncation at 2 sigma_normal
    variance = 2 / 50
    uniform = ReferenceSampler(InitSpec("glorot", "uniform"), backend)((20, 30), 1)
    assert np.abs(uniform).max() <= math.sqrt(3 * variance)
    truncated = ReferenceSampler(InitSpec("glorot", "truncated_normal"), backend)((20, 30), 1)
    # the untruncated normal's std is sqrt(Var / 0.7737...), the truncated law's variance
    assert np.abs(truncated).max() <= 2 * math.sqrt(variance / 0.7737413035499232) * (1 + 1e-6)


def test_leaky_relu_gain_is_he_for_relu_and_lecun_for_linear():
    assert leaky_relu_gain(0.0) == pytest.approx(math.sqrt(2))
    assert leaky_relu_gain(1.0) == pytest.approx(1.0)


def test_bad_specs_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown scheme"):
        InitSpec("xavier", "normal")
    with pytest.raises(ValueError, match="unknown distribution"):
        InitSpec("he", "cauchy")
    with pytest.raises(ValueError, match="gain must be a positive finite"):
        InitSpec("he", "normal", gain=float("nan"))
    with pytest.raises(ValueError, match="unknown backend"):
        ReferenceSampler(InitSpec("he", "normal"), "jax")
