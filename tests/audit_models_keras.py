"""Broken Keras models for the audit's tests (the JAX backend), each next to a correct twin.

Builders return a built ``keras.Model``; the audit seeds Keras's global seed before each.
"""

from __future__ import annotations

import keras

WIDTH = 32


@keras.saving.register_keras_serializable(package="verify_tests")
class Projection(keras.layers.Layer):
    """``x @ kernel``. With ``forget``, loading never reads the stored kernel back (the
    bug): a loaded model keeps the fresh draw its ``build`` made."""

    def __init__(self, units: int = WIDTH, forget: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.forget = units, forget

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="glorot_uniform", name="kernel")

    def call(self, inputs):
        return inputs @ self.kernel

    def load_own_variables(self, store) -> None:
        if not self.forget:
            super().load_own_variables(store)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "forget": self.forget}


def _model(forget: bool) -> keras.Model:
    return keras.Sequential([keras.Input((WIDTH,)), keras.layers.Dense(WIDTH),
                             Projection(forget=forget)])


def correct_reload() -> keras.Model:
    return _model(forget=False)


def broken_reinitialized_on_load() -> keras.Model:
    return _model(forget=True)


def broken_identical() -> keras.Model:
    model = keras.Sequential([keras.Input((WIDTH,)), keras.layers.Dense(WIDTH),
                              keras.layers.Dense(WIDTH)])
    model.layers[1].kernel.assign(model.layers[0].kernel)  # a copied layer
    return model


def correct_dense() -> keras.Model:
    return keras.Sequential([keras.Input((WIDTH,)), keras.layers.Dense(WIDTH),
                             keras.layers.Dense(WIDTH)])
