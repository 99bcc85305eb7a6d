"""Equinox models for the audit's tests, each broken one next to a correct twin.

Builders take the key first (the audit passes ``jax.random.key(seed32(seed))``), then
keyword arguments. Names are the dotted field paths: ``layers.0.weight``.
"""

from __future__ import annotations

import equinox as eqx
import jax

WIDTH = 64


def correct_mlp(key, width: int = WIDTH) -> eqx.Module:
    return eqx.nn.MLP(width, 10, width, 2, key=key)


class Pair(eqx.Module):
    a: eqx.nn.Linear
    b: eqx.nn.Linear


def broken_same_key(key) -> eqx.Module:
    """Both layers drawn from one key: the same weights twice."""
    return Pair(eqx.nn.Linear(WIDTH, WIDTH, key=key), eqx.nn.Linear(WIDTH, WIDTH, key=key))


def broken_fixed_key(key) -> eqx.Module:
    """The key is ignored: every build is the same."""
    return eqx.nn.Linear(WIDTH, WIDTH, key=jax.random.key(0))


class Stack(eqx.Module):
    fc: list
    head: eqx.nn.Linear


def broken_head_left_on_default(key, layers: int = 3) -> eqx.Module:
    """The hidden layers redrawn from N(0, 0.02^2) (Equinox's custom-init pattern), the head
    left on Equinox's default."""
    keys = jax.random.split(key, 2 * layers + 1)
    fc = []
    for index in range(layers):
        linear = eqx.nn.Linear(WIDTH, WIDTH, key=keys[index])
        weight = 0.02 * jax.random.normal(keys[layers + index], linear.weight.shape)
        fc.append(eqx.tree_at(lambda m: m.weight, linear, weight))
    return Stack(fc, eqx.nn.Linear(WIDTH, WIDTH, key=keys[-1]))
