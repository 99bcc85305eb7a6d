"""Models of the apis without a module of their own in these tests (linen, mlx, paddle,
tf_keras, tinygrad): a copied layer (``broken_identical_<api>``, the audit's ``identical``
finding) next to its correct twin (``correct_pair_<api>``). Each builder imports its library
when called: TensorFlow then Paddle in one process crashes.
"""

from __future__ import annotations

import numpy as np

WIDTH = 64


def _linen_pair(copy: bool):
    import flax.linen as nn
    import jax.numpy as jnp

    class Pair(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(WIDTH)(nn.Dense(WIDTH)(x))

    if not copy:
        return Pair(), jnp.ones((2, WIDTH))

    class Copied(nn.Module):
        """Both layers from one parameter: a copied layer (its kernel drawn once)."""

        @nn.compact
        def __call__(self, x):
            kernel = self.param("kernel", nn.initializers.lecun_normal(), (WIDTH, WIDTH))
            copy = self.param("copy", lambda key, shape: kernel.copy(), (WIDTH, WIDTH))
            return x @ kernel @ copy

    return Copied(), jnp.ones((2, WIDTH))


def correct_pair_linen():
    return _linen_pair(copy=False)


def broken_identical_linen():
    return _linen_pair(copy=True)


def _mlx_pair(copy: bool):
    import mlx.core as mx
    import mlx.nn as nn

    model = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH))
    if copy:
        model.layers[1].weight = mx.array(np.array(model.layers[0].weight))
    return model


def correct_pair_mlx():
    return _mlx_pair(copy=False)


def broken_identical_mlx():
    return _mlx_pair(copy=True)


def _paddle_pair(copy: bool):
    import paddle

    model = paddle.nn.Sequential(paddle.nn.Linear(WIDTH, WIDTH), paddle.nn.Linear(WIDTH, WIDTH))
    if copy:
        model[1].weight.set_value(model[0].weight.numpy())
    return model


def correct_pair_paddle():
    return _paddle_pair(copy=False)


def broken_identical_paddle():
    return _paddle_pair(copy=True)


def _tf_keras_pair(copy: bool):
    import tf_keras

    model = tf_keras.Sequential([tf_keras.Input((WIDTH,)), tf_keras.layers.Dense(WIDTH),
                                 tf_keras.layers.Dense(WIDTH)])
    if copy:
        model.layers[1].kernel.assign(model.layers[0].kernel)
    return model


def correct_pair_tf_keras():
    return _tf_keras_pair(copy=False)


def broken_identical_tf_keras():
    return _tf_keras_pair(copy=True)


def _tinygrad_pair(copy: bool):
    from tinygrad import Tensor, nn

    class Pair:
        def __init__(self) -> None:
            self.a, self.b = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH)

    model = Pair()
    if copy:
        model.b.weight = Tensor(model.a.weight.numpy())
    return model


def correct_pair_tinygrad():
    return _tinygrad_pair(copy=False)


def broken_identical_tinygrad():
    return _tinygrad_pair(copy=True)
