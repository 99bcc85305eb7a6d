"""Broken Flax NNX models for the audit's tests, each next to a correct twin.

Builders take ``rngs`` first (the audit passes ``nnx.Rngs(seed)``), then keyword
arguments. Names are the dotted paths of the variables: ``layers.0.kernel``.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

WIDTH = 64


class Stack(nnx.Module):
    """``layers`` Linear(width, width) pairs (``fc``, ``proj``) and a head."""

    def __init__(self, rngs: nnx.Rngs, layers: int = 2, width: int = WIDTH,
                 std: float | None = 0.02, depth_scaled: bool = True, skip_head: bool = False,
                 classes: int = 10) -> None:
        own = nnx.initializers.normal(std) if std else nnx.initializers.lecun_normal()
        scale = 1 / math.sqrt(2 * layers) if depth_scaled else 1.0
        projection = nnx.initializers.normal(std * scale) if std else own
        zeros = nnx.initializers.zeros_init()
        self.fc = nnx.List([nnx.Linear(width, width, kernel_init=own, bias_init=zeros,
                                       rngs=rngs) for _ in range(layers)])
        self.proj = nnx.List([nnx.Linear(width, width, kernel_init=projection,
                                         bias_init=zeros, rngs=rngs) for _ in range(layers)])
        self.head = nnx.Linear(width, classes, rngs=rngs) if skip_head else \
            nnx.Linear(width, classes, kernel_init=own, bias_init=zeros, rngs=rngs)


def correct_scheme(rngs: nnx.Rngs, layers: int = 2) -> nnx.Module:
    return Stack(rngs, layers)


def broken_head_left_on_default(rngs: nnx.Rngs, layers: int = 2) -> nnx.Module:
    return Stack(rngs, layers, skip_head=True)


def broken_depth_not_scaled(rngs: nnx.Rngs, layers: int = 4) -> nnx.Module:
    return Stack(rngs, layers, depth_scaled=False)


class Pair(nnx.Module):
    def __init__(self, rngs: nnx.Rngs, kernel_init=None) -> None:
        options = {"kernel_init": kernel_init} if kernel_init is not None else {}
        self.a = nnx.Linear(WIDTH, WIDTH, rngs=rngs, **options)
        self.b = nnx.Linear(WIDTH, WIDTH, rngs=rngs, **options)


def correct_pair(rngs: nnx.Rngs) -> nnx.Module:
    return Pair(rngs)


def correct_normal(rngs: nnx.Rngs) -> nnx.Module:
    return Pair(rngs, nnx.initializers.normal(0.02))


def broken_variance(rngs: nnx.Rngs) -> nnx.Module:
    return Pair(rngs, nnx.initializers.normal(0.021))


def broken_distribution(rngs: nnx.Rngs) -> nnx.Module:
    bound = 0.02 * math.sqrt(3)
    return Pair(rngs, lambda key, shape, dtype=jnp.float32: jax.random.uniform(
        key, shape, dtype, -bound, bound))


def broken_mean(rngs: nnx.Rngs) -> nnx.Module:
    return Pair(rngs, lambda key, shape, dtype=jnp.float32:
                0.002 + 0.02 * jax.random.normal(key, shape, dtype))


def broken_zero_kernel(rngs: nnx.Rngs) -> nnx.Module:
    model = Pair(rngs)
    model.b.kernel[...] = jnp.zeros_like(model.b.kernel[...])
    return model


def broken_nonfinite(rngs: nnx.Rngs) -> nnx.Module:
    model = Pair(rngs)
    model.a.kernel[...] = model.a.kernel[...].at[3, 5].set(jnp.nan)
    return model


def broken_uninitialized(rngs: nnx.Rngs) -> nnx.Module:
    model = Pair(rngs)
    garbage = np.frombuffer(os.urandom(4 * WIDTH * WIDTH), dtype=np.float32)
    model.b.kernel[...] = jnp.asarray(garbage.reshape(WIDTH, WIDTH))
    return model


def broken_identical(rngs: nnx.Rngs) -> nnx.Module:
    model = Pair(rngs)
    model.b.kernel[...] = model.a.kernel[...]  # a copied layer
    return model


def broken_correlated(rngs: nnx.Rngs) -> nnx.Module:
    model = Pair(rngs)
    model.b.kernel[...] = 0.8 * model.b.kernel[...] + 0.6 * model.a.kernel[...]
    return model


def broken_fixed_key(rngs: nnx.Rngs) -> nnx.Module:
    """Ignores the rngs it is given: every build is the same model."""
    return Pair(nnx.Rngs(0))


def broken_same_key_per_layer(rngs: nnx.Rngs) -> nnx.Module:
    """Two layers from the same key: a copied layer in disguise."""
    key = rngs.params()
    model = Pair(rngs)
    model.a.kernel[...] = nnx.initializers.lecun_normal()(key, (WIDTH, WIDTH))
    model.b.kernel[...] = nnx.initializers.lecun_normal()(key, (WIDTH, WIDTH))
    return model


def correct_truncated(rngs: nnx.Rngs) -> nnx.Module:
    return Pair(rngs, lambda key, shape, dtype=jnp.float32:
                0.02 * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype))


def broken_support(rngs: nnx.Rngs) -> nnx.Module:
    """Documented as truncated at +-2 std, drawn untruncated with the truncated law's std."""
    return Pair(rngs, nnx.initializers.normal(0.02 * 0.8796256610342398))


def embedding_default(rngs: nnx.Rngs) -> nnx.Module:
    """nnx.Embed's default: variance_scaling(1, fan_in, normal, out_axis=0), which reads the
    fan-in off the (num_embeddings, features) table as features: N(0, 1 / features)."""
    return nnx.Embed(100, 16, rngs=rngs)
