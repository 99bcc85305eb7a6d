"""Haiku models for the audit's tests, each broken one next to a correct twin.

Builders return ``(forward_fn, *example_inputs)``; the audit transforms ``forward_fn`` and
initializes it with ``jax.random.key(seed32(seed))``. Names are ``module/param``.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

WIDTH = 64


def correct_mlp(width: int = WIDTH) -> tuple:
    def forward(x):
        return hk.nets.MLP([width, width, 10])(x)

    return forward, jnp.ones((2, width))


def broken_fixed_key() -> tuple:
    """An initializer that ignores Haiku's key: every build is the same."""
    def fixed(shape, dtype):
        return jax.random.normal(jax.random.key(0), shape, dtype) / jnp.sqrt(shape[0])

    def forward(x):
        return hk.Linear(WIDTH, w_init=fixed)(x)

    return forward, jnp.ones((2, WIDTH))


def broken_head_left_on_default(layers: int = 3) -> tuple:
    """The hidden layers drawn from N(0, 0.02^2), the head left on Haiku's default."""
    def forward(x):
        for _ in range(layers):
            x = hk.Linear(WIDTH, w_init=hk.initializers.RandomNormal(0.02))(x)
        return hk.Linear(WIDTH)(x)

    return forward, jnp.ones((2, WIDTH))
