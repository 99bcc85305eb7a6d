"""A small MLP and its ports, for ``compare --models`` (tests/test_compare_models.py).

* :func:`mlp`: PyTorch, ``nn.Linear`` defaults: weights and biases ``U(+-1/sqrt(in))``;
  names ``layers.0.weight`` ``(out, in)``.
* :func:`mlp_explicit`: the same law, drawn by an explicit re-initialization;
* :func:`mlp_normal`: weights ``N(0, 1/in)`` instead (a port that changed the law);
* :func:`nnx_mlp`: a Flax NNX port with ``nnx.Linear``'s defaults (kernels LeCun normal,
  truncated at 2 sd: variance ``1/in``, three times PyTorch's; biases zero); names
  ``dense_0.kernel`` ``(in, out)``;
* :func:`nnx_mlp_like_torch`: the NNX port re-initialized as PyTorch draws;
* :func:`tables` and :func:`tables_port` (api ``arrays``): a norm scale of ones and a
  sinusoidal position table, which are not random draws; the port computes the table in
  float32, transposed, and its scale is ``scale`` (1: the same).

:data:`MAP` maps the PyTorch names to the NNX ones.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

SIZES = (64, 128, 32)

MAP = """\
# PyTorch MLP (A) -> Flax NNX port (B)
[names]
"layers.*.weight" = { name = "dense_*.kernel", transpose = true }
"layers.*.bias" = "dense_*.bias"
"""


class MLP(nn.Module):
    def __init__(self, sizes: tuple[int, ...] = SIZES) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in itertools.pairwise(sizes))


def mlp() -> nn.Module:
    return MLP()


def mlp_explicit() -> nn.Module:
    model = MLP()
    for layer in model.layers:
        bound = 1 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.weight, -bound, bound)
        nn.init.uniform_(layer.bias, -bound, bound)
    return model


def mlp_normal() -> nn.Module:
    model = MLP()
    with torch.no_grad():
        for layer in model.layers:
            nn.init.normal_(layer.weight, std=1 / math.sqrt(layer.in_features))
    return model


def _nnx_mlp(rngs, like_torch: bool):
    import jax
    from flax import nnx

    class Port(nnx.Module):
        def __init__(self) -> None:
            for index, (inputs, outputs) in enumerate(itertools.pairwise(SIZES)):
                options = {}
                if like_torch:
                    bound = 1 / math.sqrt(inputs)

                    def uniform(key, shape, dtype=jax.numpy.float32, bound=bound):
                        return jax.random.uniform(key, shape, dtype, -bound, bound)

                    options = {"kernel_init": uniform, "bias_init": uniform}
                setattr(self, f"dense_{index}", nnx.Linear(inputs, outputs, rngs=rngs,
                                                           **options))

    return Port()


def nnx_mlp(rngs):
    return _nnx_mlp(rngs, like_torch=False)


def nnx_mlp_like_torch(rngs):
    return _nnx_mlp(rngs, like_torch=True)


def _sinusoids(positions: int, width: int, dtype) -> np.ndarray:
    position = np.arange(positions, dtype=dtype)[:, None]
    frequency = np.exp(-np.log(np.asarray(10_000.0, dtype)) * np.arange(0, width, 2, dtype=dtype)
                       / width)
    return np.concatenate([np.sin(position * frequency), np.cos(position * frequency)], axis=1)


def tables(seed: int) -> dict[str, np.ndarray]:
    weight = np.random.default_rng(seed).normal(0, 0.02, (64, 64))
    return {"norm.scale": np.ones(64), "positions": _sinusoids(50, 32, np.float64),
            "weight": weight}


def tables_port(seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    weight = np.random.default_rng(seed).normal(0, 0.02, (64, 64)).astype(np.float32)
    return {"norm.scale": np.full(64, scale, np.float32),
            "positions": _sinusoids(50, 32, np.float32).T, "weight": weight}
