"""The layer registry on Keras 3: every registered layer type built where its semantic
fans differ from Keras's (groups, strides, depthwise, transposed, stacked gates, batched
einsum axes), walked, and checked against Keras's own listing, hand-derived fans and the
documented defaults."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from tests.layer_checks import (
    assert_defaults_hold,
    assert_fans,
    assert_law,
    assert_not_law,
    by_name,
)
from verify import layers
from verify.adapters.keras import choose_backend

choose_backend()  # before Keras is imported: JAX unless KERAS_BACKEND says otherwise
keras = pytest.importorskip("keras", reason="Keras is not installed: the keras registry "
                                            "cannot be exercised")
K = keras.layers


def built(layer, *shapes):
    layer.build(*shapes)
    return layer


# name -> (builder, {path: (role, semantic fans, fan mismatch)}). Fans by hand: Keras
# stores conv kernels (*k, in/groups, out), transposed (*k, out, in), depthwise
# (*k, in, multiplier); semantic fan_out of a stride-s conv is out/groups * prod(k)/prod(s).
KERAS_CASES = {
    "keras.layers.Dense": (lambda: built(K.Dense(70, name="d"), (2, 300)),
                           {"d/kernel": ("dense.kernel", (300, 70), False)}),
    # kernel (16, 40, 24) = b, c, d: b is batched (input, kernel, output), c summed
    "keras.layers.EinsumDense": (lambda: built(K.EinsumDense("abc,bcd->abd", (16, 24),
                                                             name="e"), (2, 16, 40)),
                                 {"e/kernel": ("einsum_dense.kernel", (40, 24), True)}),
    "keras.layers.Conv1D": (lambda: built(K.Conv1D(120, 5, strides=2, groups=3, name="c"),
                                          (2, 32, 60)),
                            {"c/kernel": ("conv.kernel", (100, 100), True)}),
    "keras.layers.Conv2D": (lambda: built(K.Conv2D(64, 3, strides=2, groups=4, name="c"),
                                          (2, 16, 16, 32)),
                            {"c/kernel": ("conv.kernel", (72, 36), True)}),
    "keras.layers.Conv3D": (lambda: built(K.Conv3D(16, 3, strides=(1, 2, 2), groups=2,
                                                   name="c"), (2, 8, 8, 8, 8)),
                            {"c/kernel": ("conv.kernel", (108, 54), True)}),
    # (4, 60, 40): fan_in 40 * 4 / 2, fan_out 60 * 4
    "keras.layers.Conv1DTranspose": (lambda: built(K.Conv1DTranspose(60, 4, strides=2,
                                                                     name="t"), (2, 16, 40)),
                                     {"t/kernel": ("conv_transpose.kernel", (80, 240), True)}),
    "keras.layers.Conv2DTranspose": (lambda: built(K.Conv2DTranspose(48, 3, strides=3,
                                                                     name="t"), (2, 8, 8, 16)),
                                     {"t/kernel": ("conv_transpose.kernel", (16, 432), True)}),
    "keras.layers.Conv3DTranspose": (lambda: built(K.Conv3DTranspose(8, 2, strides=2,
                                                                     name="t"),
                                                   (2, 4, 4, 4, 4)),
                                     {"t/kernel": ("conv_transpose.kernel", (4, 64), True)}),
    # (5, 40, 3): one input channel per output: fan_in 5, fan_out 3 * 5
    "keras.layers.DepthwiseConv1D": (lambda: built(K.DepthwiseConv1D(5, depth_multiplier=3,
                                                                     name="w"), (2, 32, 40)),
                                     {"w/kernel": ("depthwise_conv.kernel", (5, 15), True)}),
    # (3, 3, 32, 2), stride 3: fan_in 9, fan_out 2 * 9 / 9
    "keras.layers.DepthwiseConv2D": (lambda: built(K.DepthwiseConv2D(
        3, depth_multiplier=2, strides=3, name="w"), (2, 16, 16, 32)),
        {"w/kernel": ("depthwise_conv.kernel", (9, 2), True)}),
    "keras.layers.SeparableConv1D": (lambda: built(K.SeparableConv1D(
        24, 3, depth_multiplier=2, name="s"), (2, 32, 16)), {
        "s/depthwise_kernel": ("depthwise_conv.kernel", (3, 6), True),
        "s/pointwise_kernel": ("pointwise_conv.kernel", (32, 24), False)}),
    "keras.layers.SeparableConv2D": (lambda: built(K.SeparableConv2D(24, 3, name="s"),
                                                   (2, 16, 16, 16)), {
        "s/depthwise_kernel": ("depthwise_conv.kernel", (9, 9), True),
        "s/pointwise_kernel": ("pointwise_conv.kernel", (16, 24), False)}),
    "keras.layers.Embedding": (lambda: built(K.Embedding(1000, 32, name="m"), (2, 5)),
                               {"m/embeddings": ("embedding.weight", (1, 32), False)}),
    "keras.layers.LayerNormalization": (lambda: built(K.LayerNormalization(name="n"), (2, 16)),
                                        {"n/gamma": ("norm.scale", None, False),
                                         "n/beta": ("norm.bias", None, False)}),
    "keras.layers.BatchNormalization": (lambda: built(K.BatchNormalization(name="n"), (2, 16)),
                                        {"n/moving_variance": ("norm.running_var", None,
                                                               False)}),
    "keras.layers.GroupNormalization": (lambda: built(K.GroupNormalization(4, name="n"),
                                                      (2, 16)),
                                        {"n/gamma": ("norm.scale", None, False)}),
    "keras.layers.RMSNormalization": (lambda: built(K.RMSNormalization(name="n"), (2, 16)),
                                      {"n/scale": ("norm.scale", None, False)}),
    "keras.layers.PReLU": (lambda: built(K.PReLU(name="p"), (2, 16)),
                           {"p/alpha": ("prelu.alpha", None, False)}),
    # a cell alone is the cell of the recurrent layer's case (Keras compiles each new
    # shape's initializer: sharing the build saves seconds)
    "keras.layers.LSTMCell": (lambda: build_case("keras.layers.LSTM").cell, {
        "l/lstm_cell/kernel": ("recurrent.kernel", (20, 50), True),
        "l/lstm_cell/recurrent_kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "keras.layers.GRUCell": (lambda: build_case("keras.layers.GRU").cell, {
        "g/gru_cell/kernel": ("recurrent.kernel", (30, 40), True)}),
    "keras.layers.SimpleRNNCell": (lambda: build_case("keras.layers.SimpleRNN").cell, {
        "r/simple_rnn_cell/kernel": ("recurrent.kernel", (20, 50), False)}),
    "keras.layers.LSTM": (lambda: built(K.LSTM(50, name="l"), (2, 5, 20)), {
        "l/lstm_cell/kernel": ("recurrent.kernel", (20, 50), True)}),
    "keras.layers.GRU": (lambda: built(K.GRU(40, name="g"), (2, 5, 30)), {
        "g/gru_cell/recurrent_kernel": ("recurrent.recurrent_kernel", (40, 40), False)}),
    "keras.layers.SimpleRNN": (lambda: built(K.SimpleRNN(50, name="r"), (2, 5, 20)), {
        "r/simple_rnn_cell/kernel": ("recurrent.kernel", (20, 50), False)}),
    "keras.layers.RNN": (lambda: built(K.RNN(K.LSTMCell(50, name="c"), name="r"), (2, 5, 20)), {
        "r/c/kernel": ("recurrent.kernel", (20, 50), True)}),
    "keras.layers.Bidirectional": (lambda: built(K.Bidirectional(K.GRU(40), name="b"),
                                                 (2, 5, 30)), {}),
    # query (2, 10, 64), value (2, 10, 32); kernels (64, 4, 16), (32, 4, 16), (4, 16, 64)
    "keras.layers.MultiHeadAttention": (lambda: built(K.MultiHeadAttention(4, 16, name="a"),
                                                      (2, 10, 64), (2, 10, 32)), {
        "a/query/kernel": ("attention.query.kernel", (64, 64), False),
        "a/key/kernel": ("attention.key.kernel", (32, 64), False),
        "a/value/kernel": ("attention.value.kernel", (32, 64), False),
        "a/attention_output/kernel": ("attention.attention_output.kernel", (64, 64), False)}),
    # issue 17: layers the introspection test found. ConvLSTM kernels (*k, in, 4 * filters):
    # per gate fan_in in * prod(k), fan_out filters * prod(k) / prod(strides); Keras reads
    # 4 * filters * prod(k). Recurrent kernels (*k, filters, 4 * filters): filters * prod(k)
    "keras.layers.ConvLSTM1D": (lambda: built(K.ConvLSTM1D(6, 3, name="c"), (2, 3, 16, 4)), {
        "c/conv_lstm_cell/kernel": ("recurrent.kernel", (12, 18), True),
        "c/conv_lstm_cell/recurrent_kernel": ("recurrent.recurrent_kernel", (18, 18), False)}),
    # stride 2: fan_out 6 * 9 / 4 = 13.5, rounded to 14
    "keras.layers.ConvLSTM2D": (lambda: built(K.ConvLSTM2D(6, 3, strides=2, name="c"),
                                              (2, 3, 8, 8, 4)), {
        "c/conv_lstm_cell/kernel": ("recurrent.kernel", (36, 14), True)}),
    "keras.layers.ConvLSTM3D": (lambda: built(K.ConvLSTM3D(4, 2, name="c"), (2, 2, 4, 4, 4, 3)), {
        "c/conv_lstm_cell/kernel": ("recurrent.kernel", (24, 32), True),
        "c/conv_lstm_cell/recurrent_kernel": ("recurrent.recurrent_kernel", (32, 32), False)}),
    # 4 query heads of 8 from 16 features; 2 key/value heads of 8 from 12
    "keras.layers.GroupQueryAttention": (lambda: built(K.GroupQueryAttention(
        8, 4, 2, name="a"), (2, 5, 16), (2, 5, 12)), {
        "a/query/kernel": ("attention.query.kernel", (16, 32), False),
        "a/key/kernel": ("attention.key.kernel", (12, 16), False),
        "a/value/kernel": ("attention.value.kernel", (12, 16), False),
        "a/attention_output/kernel": ("attention.attention_output.kernel", (32, 16), False)}),
    # the reverse projection maps 32 features to 1000 logits
    "keras.layers.ReversibleEmbedding": (lambda: built(K.ReversibleEmbedding(
        1000, 32, tie_weights=False, name="r"), (2, 5)), {
        "r/embeddings": ("embedding.weight", (1, 32), False),
        "r/reverse_embeddings": ("reverse_embedding.kernel", (32, 1000), False)}),
    "keras.layers.Attention": (lambda: built(K.Attention(use_scale=True, score_mode="concat",
                                                         name="a"),
                                             [(2, 5, 16), (2, 5, 16)]), {
        "a/scale": ("attention.scale", None, False),
        "a/concat_score_weight": ("attention.concat_score_weight", None, False)}),
    # score = sum over 16 features of scale * tanh(q + k): a 16 -> 1 map
    "keras.layers.AdditiveAttention": (lambda: built(K.AdditiveAttention(name="a"),
                                                     [(2, 5, 16), (2, 5, 16)]), {
        "a/scale": ("attention.scale", (16, 1), True)}),
    "keras.layers.Normalization": (lambda: built(K.Normalization(name="n"), (2, 16)), {
        "n/mean": ("normalization.mean", None, False),
        "n/variance": ("normalization.variance", None, False)}),
    "keras.layers.SpectralNormalization": (lambda: built(K.SpectralNormalization(
        K.Dense(70, name="d"), name="s"), (2, 300)), {
        "s/d/kernel": ("dense.kernel", (300, 70), False),
        "s/vector_u": ("spectral_norm.u", None, False)}),
    "keras.layers.TimeDistributed": (lambda: built(K.TimeDistributed(K.Dense(70, name="d"),
                                                                     name="t"), (2, 5, 300)), {
        "t/d/kernel": ("dense.kernel", (300, 70), False)}),
    # the GRU cell reads the LSTM cell's 24 outputs: kernel (24, 3 * 16)
    "keras.layers.StackedRNNCells": (lambda: built(K.StackedRNNCells(
        [K.LSTMCell(24, name="l"), K.GRUCell(16, name="g")], name="s"), (2, 12)), {
        "s/l/kernel": ("recurrent.kernel", (12, 24), True),
        "s/g/kernel": ("recurrent.kernel", (24, 16), True)}),
}


@functools.cache
def build_case(name: str):
    """Each case built once per session, seeded."""
    keras.utils.set_random_seed(0)
    return KERAS_CASES[name][0]()


def test_every_registered_keras_type_has_a_case():
    assert set(layers.registered("keras")) == set(KERAS_CASES)


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_keras_layer(name):
    expected = KERAS_CASES[name][1]
    layer = build_case(name)
    params = layers.walk("keras", layer)
    assert {p.name: p.shape for p in params} == {v.path: tuple(v.shape) for v in layer.weights}
    named = by_name(params)
    for path, (role, fans, mismatch) in expected.items():
        assert_fans(named[path], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None
                                               or bool(p.role.block_defaults) for p in params)


def test_keras_glorot_on_stacked_gates_and_batched_einsum_is_the_framework_fans():
    """Glorot with fans (20, 200) on a stacked LSTM kernel, not the gate's (20, 50); with
    (40, 384) on an einsum kernel with a batched axis, not (40, 24); with (288, 18) on a
    depthwise kernel, not (9, 2)."""
    cases = [("keras.layers.LSTM", "l/lstm_cell/kernel", math.sqrt(6 / 220)),
             ("keras.layers.EinsumDense", "e/kernel", math.sqrt(6 / 424)),
             ("keras.layers.DepthwiseConv2D", "w/kernel", math.sqrt(6 / 306))]
    for name, path, bound in cases:
        param = by_name(layers.walk("keras", build_case(name)))[path]
        assert param.role.default.high == pytest.approx(bound)
        assert param.role.law_mismatch
        assert_law(param.role.default, param.array, path)
        assert_not_law(param.role.semantic_default, param.array, path)


def test_keras_recurrent_kernel_orthogonal_and_forget_bias():
    named = by_name(layers.walk("keras", build_case("keras.layers.LSTM")))
    recurrent = named["l/lstm_cell/recurrent_kernel"].array
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(50), atol=1e-5)
    bias = named["l/lstm_cell/bias"]
    assert bias.role.default is None and bias.role.doc_note
    np.testing.assert_array_equal(bias.array, np.r_[np.zeros(50), np.ones(50), np.zeros(100)])


def test_keras_embedding_default_is_uniform_005():
    (embeddings,) = layers.walk("keras", build_case("keras.layers.Embedding"))
    assert (embeddings.role.default.low, embeddings.role.default.high) == (-0.05, 0.05)


def test_keras_shared_variable_is_one_param_with_both_names():
    class Tie(K.Layer):
        def __init__(self, dense, **kwargs):
            super().__init__(**kwargs)
            self.dense = dense

        def build(self, input_shape):
            self.shared = self.dense.kernel

        def call(self, x):
            return x @ keras.ops.transpose(self.shared)

    dense = K.Dense(70, name="dense")  # the Dense case's shapes: their init is compiled
    inputs = keras.Input((300,))
    model = keras.Model(inputs, Tie(dense, name="tie")(dense(inputs)))
    params = layers.walk("keras", model)
    assert [p.names for p in params] == [("dense/kernel", "tie/shared"), ("dense/bias",)]


def test_build_layer_keras():
    # the shapes of the Conv2D and MultiHeadAttention cases: their initializers are compiled
    layer = layers.build_layer("keras", "layers.Conv2D",
                               {"filters": 64, "kernel_size": 3, "groups": 4,
                                "input_shape": (2, 16, 16, 32)})
    assert layer.built and tuple(layer.kernel.shape) == (3, 3, 8, 64)
    attention = layers.build_layer("keras", "layers.MultiHeadAttention",
                                   {"num_heads": 4, "key_dim": 16,
                                    "input_shape": [(2, 10, 64), (2, 10, 32)]})
    assert attention.built
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("keras", "layers.Flatten", {})
    with pytest.raises(ValueError, match="cannot build keras"):
        layers.build_layer("keras", "layers.Dense", {"units": 2, "nope": 1})
    with pytest.raises(ValueError, match="not built"):
        layers.walk("keras", K.Dense(3))
