"""The audit on tf_keras models and layers: the builders of --api tf_keras, a correct model
that passes, and two findings tf_keras really has, each against what its documentation or
its source's own comment promises."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("tf_keras") is None:
    pytest.skip("tf_keras is not installed: the tf_keras audit cannot be exercised",
                allow_module_level=True)

from verify.adapters.tf_keras import _tf_keras
from verify.audit import audit_model
from verify.audit.builders import BuildError, check_model, resolve

tf_keras = _tf_keras()
import tensorflow as tf  # noqa: E402 (imported by _tf_keras, the one place)

SEED = 20261201
WIDTH = 32


def correct_model():
    inputs = tf_keras.Input((WIDTH,))
    hidden = tf_keras.layers.Dense(48, activation="relu")(inputs)
    hidden = tf_keras.layers.LayerNormalization()(hidden)
    return tf_keras.Model(inputs, tf_keras.layers.Dense(10)(hidden))


def attention(kernel_initializer="glorot_uniform"):
    layer = tf_keras.layers.MultiHeadAttention(4, 16, kernel_initializer=kernel_initializer)
    layer(tf.zeros((2, 5, WIDTH)), tf.zeros((2, 5, WIDTH)))
    return layer


def seeded_attention():
    return attention(tf_keras.initializers.GlorotUniform(seed=1))


def test_builders_are_seeded_by_set_random_seed():
    builder = resolve("tf_keras:layers.Dense", kwargs={"units": 8, "input_shape": [2, 4]})
    assert builder.api == "tf_keras"
    first, again, other = builder.build(1), builder.build(1), builder.build(2)
    np.testing.assert_array_equal(first.kernel.numpy(), again.kernel.numpy())
    assert not np.array_equal(first.kernel.numpy(), other.kernel.numpy())


def test_check_model_rejects_what_is_not_a_built_tf_keras_layer():
    with pytest.raises(BuildError, match="not built"):
        check_model("tf_keras", tf_keras.layers.Dense(3), "t")
    with pytest.raises(BuildError, match=r"not a tf_keras\.layers\.Layer"):
        check_model("tf_keras", object(), "t")
    with pytest.raises(BuildError, match="not in the registry"):
        resolve("tf_keras:layers.Flatten")


def test_a_correct_model_passes():
    result = audit_model(correct_model, api="tf_keras", seed=SEED)
    assert result.verdict == "pass", result.table()


def test_locally_connected_kernel_has_a_fan_mismatch():
    """tf_keras.layers.LocallyConnected1D documents kernel_initializer='glorot_uniform', whose
    fans are 'the number of input units' and 'output units' of the weight tensor: 3 * 12 and
    24 * 3 / 2 here. _compute_fans reads the stored (7, 36, 24) as a convolution kernel with
    a receptive field of 7 output positions: fans (252, 168), a variance 7 times smaller in
    the fans' sum."""
    result = audit_model("tf_keras:layers.LocallyConnected1D", seed=SEED,
                         kwargs={"filters": 24, "kernel_size": 3, "strides": 2,
                                 "input_shape": [2, 16, 12]})
    [finding] = [f for f in result.findings if f.kind == "fan-mismatch"]
    assert [name.split("/", 1)[1] for name in finding.tensors] == ["kernel"]
    assert "(in=252, out=168)" in finding.detail and "(in=36, out=36)" in finding.detail


def test_a_seeded_initializer_gives_attention_identical_projections():
    """A finding. MultiHeadAttention clones its kernel_initializer for each projection
    (tf_keras/src/layers/attention/multi_head_attention.py, _get_common_kwargs_for_sublayer:
    'Create new clone of kernel/bias initializer, so that we don't reuse the initializer
    instance, which could lead to same init value since initializer is stateless'). A clone
    keeps the seed, and stateless ops with one seed give one tensor: query, key and value
    kernels of one shape are identical. The default (unseeded) initializer is fine."""
    broken = audit_model(seeded_attention, api="tf_keras", seed=SEED)
    identical = [{name.split("/", 1)[1] for name in f.tensors} for f in broken.findings
                 if f.kind == "identical"]
    assert {"query/kernel", "key/kernel"} in identical, broken.table()
    assert {"key/kernel", "value/kernel"} in identical, broken.table()
    default = attention()
    assert not np.array_equal(default._query_dense.kernel.numpy(),
                              default._key_dense.kernel.numpy())


def test_dtype_float64_is_asked_of_tf_keras():
    from verify.audit.dtypes import default_dtype

    builder = resolve("tf_keras:layers.Dense", kwargs={"units": 4, "input_shape": [2, 3]})
    with default_dtype("tf_keras", "float64"):
        layer = builder.build(0)
    assert layer.kernel.dtype.name == "float64"
    assert tf_keras.backend.floatx() == "float32"
