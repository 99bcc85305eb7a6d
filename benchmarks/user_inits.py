"""Initializers a user brings, written by hand in the ``torch.nn.init`` style
(``fn(tensor)`` fills ``tensor`` in place, layout ``oihw``): He normal, correct and with
three bugs, with and without a ``generator=`` parameter, and He normal through the numpy
and jax APIs. ``bench_user`` and ``bench_seeding`` build their targets through
:func:`verify.targets.user_target`, as ``python -m verify check`` does."""

from __future__ import annotations

import math

import numpy as np
import torch


def _fan_in(tensor: torch.Tensor) -> int:
    return tensor.shape[1] * math.prod(tensor.shape[2:])


def _fan_out(tensor: torch.Tensor) -> int:
    return tensor.shape[0] * math.prod(tensor.shape[2:])


def he_normal(tensor: torch.Tensor) -> torch.Tensor:
    """He normal, ``N(0, 2 / fan_in)``, from PyTorch's global generator."""
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / _fan_in(tensor)))


def he_normal_generator(tensor: torch.Tensor, generator: torch.Generator | None = None
                        ) -> torch.Tensor:
    """He normal from the ``generator`` it is given."""
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / _fan_in(tensor)), generator=generator)


def he_normal_fans_swapped(tensor: torch.Tensor, generator: torch.Generator | None = None
                           ) -> torch.Tensor:
    """A gross bug: the variance from fan_out instead of fan_in."""
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / _fan_out(tensor)), generator=generator)


def he_normal_variance_doubled(tensor: torch.Tensor, generator: torch.Generator | None = None
                               ) -> torch.Tensor:
    """A gross bug at every shape: std = sqrt(4 / fan_in), twice He's variance."""
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(4.0 / _fan_in(tensor)), generator=generator)


def he_normal_variance_one_percent_high(tensor: torch.Tensor,
                                        generator: torch.Generator | None = None
                                        ) -> torch.Tensor:
    """A subtle bug: the variance 1% larger than He's, at every shape."""
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(1.01 * 2.0 / _fan_in(tensor)),
                              generator=generator)


def he_normal_numpy(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """He normal through ``--api numpy``: ``fn(shape, rng)`` returns the array."""
    fan_in = shape[1] * math.prod(shape[2:])
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape).astype(np.float32)


def he_normal_jax(key, shape: tuple[int, ...], dtype):
    """He normal through ``--api jax``: ``fn(key, shape, dtype)``, layout ``hwio``."""
    import jax

    fan_in = shape[-2] * math.prod(shape[:-2])
    return jax.random.normal(key, shape, dtype) * math.sqrt(2.0 / fan_in)
