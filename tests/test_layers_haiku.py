"""The layer registry on Haiku: every registered layer type built (inside a transform, as
Haiku requires) where its semantic fans differ from the ones Haiku's default stands for,
walked, and checked against Haiku's own parameter and state listing, hand-derived fans and
the defaults read in Haiku's source; the introspection of ``haiku`` and ``haiku.nets``: a
public module class is registered, or listed with the reason it has no handler."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tests.layer_checks import (
    assert_defaults_hold,
    assert_fans,
    assert_law,
    assert_not_law,
    by_name,
)
from verify import layers
from verify.layers import haiku_layers
from verify.layers.examples import EXAMPLES

hk = pytest.importorskip("haiku", reason="dm-haiku is not installed: the haiku registry "
                                         "cannot be exercised")
jax = pytest.importorskip("jax")
jnp = jax.numpy

NORM = {"scale": ("norm.scale", None, False), "offset": ("norm.bias", None, False)}

# catalog name -> {tensor: (role, semantic fans, fan mismatch)}, on the layer's example
# (verify/layers/examples.py). Haiku stores (in, out), (*k, in / groups, out), transposed
# (*k, out, in), depthwise (*k, 1, multiplier * in); gates on the last axis.
CASES = {
    "Linear": {"linear/w": ("linear.kernel", (300, 70), False)},
    "Bias": {"bias/b": ("bias.bias", None, False)},
    # (3, 3, 8, 64), groups 4, stride 2: fan_in 8 * 9, fan_out 16 * 9 / 4
    "ConvND": {"conv_nd/w": ("conv.kernel", (72, 36), False)},
    "Conv1D": {"conv1_d/w": ("conv.kernel", (100, 100), False)},
    "Conv2D": {"conv2_d/w": ("conv.kernel", (72, 36), False)},
    "Conv3D": {"conv3_d/w": ("conv.kernel", (108, 54), False)},
    # (4, 60, 40), stride 2: fan_in 40 * 4 / 2, fan_out 60 * 4; Haiku's stands for 40 * 4
    "ConvNDTranspose": {"conv_nd_transpose/w": ("conv_transpose.kernel", (80, 240), True)},
    "Conv1DTranspose": {"conv1_d_transpose/w": ("conv_transpose.kernel", (80, 240), True)},
    "Conv2DTranspose": {"conv2_d_transpose/w": ("conv_transpose.kernel", (16, 432), True)},
    "Conv3DTranspose": {"conv3_d_transpose/w": ("conv_transpose.kernel", (4, 64), True)},
    # one input channel per output: fan_in 5; multiplier 3 outputs per input
    "DepthwiseConv1D": {"depthwise_conv1_d/w": ("depthwise_conv.kernel", (5, 15), False)},
    # 3x3, stride 3, multiplier 2: fan_out 2 * 9 / 9
    "DepthwiseConv2D": {"depthwise_conv2_d/w": ("depthwise_conv.kernel", (9, 2), False)},
    "DepthwiseConv3D": {"depthwise_conv3_d/w": ("depthwise_conv.kernel", (8, 16), False)},
    "SeparableDepthwiseConv2D": {
        "separable_depthwise_conv2_d/~/depthwise_conv2_d/w":
            ("depthwise_conv.kernel", (3, 6), False)},
    # TruncatedNormal(): no fan in the law
    "Embed": {"embed/embeddings": ("embedding.weight", (1, 32), False)},
    "LayerNorm": {"layer_norm/scale": ("norm.scale", None, False)},
    "InstanceNorm": {"instance_norm/scale": ("norm.scale", None, False)},
    "RMSNorm": {"rms_norm/scale": ("norm.scale", None, False)},
    "GroupNorm": {"group_norm/scale": ("norm.scale", None, False)},
    "BatchNorm": {"batch_norm/scale": ("norm.scale", None, False),
                  "batch_norm/~/mean_ema/hidden": ("norm.running_mean.hidden", None, False)},
    "ExponentialMovingAverage": {
        "exponential_moving_average/counter": ("ema.counter", None, False)},
    "EMAParamsTree": {"ema_params_tree/layer__w/hidden": ("ema.hidden", None, False)},
    "SpectralNorm": {"spectral_norm/u0": ("spectral_norm.u", None, False)},
    "SNParamsTree": {"sn_params_tree/layer__w/u0": ("spectral_norm.u", None, False)},
    # w_init VarianceScaling(1.0): query (64, 32), key and value (32, 32), output (32, 48)
    "MultiHeadAttention": {
        "multi_head_attention/query/w": ("linear.kernel", (64, 32), False),
        "multi_head_attention/key/w": ("linear.kernel", (32, 32), False),
        "multi_head_attention/linear/w": ("linear.kernel", (32, 48), False)},
    # one Linear (20 + 50, 4 * 50): each gate unit sums 70 inputs
    "LSTM": {"lstm/linear/w": ("recurrent.kernel", (70, 50), False)},
    # VarianceScaling() on (30, 120): fan_out read as 120, one gate's is 40 (fan_in mode:
    # the same law)
    "GRU": {"gru/w_i": ("recurrent.kernel", (30, 40), True),
            "gru/w_h": ("recurrent.recurrent_kernel", (40, 40), True)},
    "VanillaRNN": {"vanilla_rnn/linear/w": ("linear.kernel", (20, 50), False),
                   "vanilla_rnn/linear_1/w": ("linear.kernel", (50, 50), False)},
    "Conv1DLSTM": {"conv1_dlstm/input_to_hidden/w": ("recurrent.conv_kernel", (18, 12), False)},
    "Conv2DLSTM": {"conv2_dlstm/hidden_to_hidden/w":
                   ("recurrent.conv_kernel", (36, 36), False)},
    "Conv3DLSTM": {"conv3_dlstm/input_to_hidden/w":
                   ("recurrent.conv_kernel", (54, 108), False)},
    "DeepRNN": {"lstm/linear/w": ("recurrent.kernel", (50, 30), False),
                "gru/w_i": ("recurrent.kernel", (30, 20), True)},
    "ResetCore": {"lstm/linear/w": ("recurrent.kernel", (30, 20), False)},
    "Sequential": {"linear/w": ("linear.kernel", (20, 30), False),
                   "linear_1/w": ("linear.kernel", (30, 10), False)},
    "nets.MLP": {"mlp/~/linear_0/w": ("linear.kernel", (20, 64), False)},
    "nets.VectorQuantizer": {"vector_quantizer/embeddings": ("vq.embeddings", (16, 64), False)},
    "nets.VectorQuantizerEMA": {
        "vector_quantizer_ema/embeddings": ("vq.embeddings", (16, 64), False)},
}

# the classes of WITHOUT_WEIGHTS, each called inside a transform on a small input
WITHOUT = {
    "haiku.AvgPool": lambda x: hk.AvgPool(2, 2, "VALID")(x),
    "haiku.MaxPool": lambda x: hk.MaxPool(2, 2, "VALID")(x),
    "haiku.Flatten": lambda x: hk.Flatten()(x),
    "haiku.Reshape": lambda x: hk.Reshape((-1,))(x),
    "haiku.IdentityCore": lambda x: hk.IdentityCore()(x, ()),
}


def public_classes() -> set[str]:
    """Every public module class of ``haiku`` and ``haiku.nets``, found by walking the namespace."""
    return set(haiku_layers.public_layer_classes())


def built(name: str) -> tuple:
    forward, *inputs = layers.build_layer("haiku", name, EXAMPLES["haiku"][name])
    params, state = hk.transform_with_state(forward).init(jax.random.key(0), *inputs)
    return forward, params, state, *inputs


def test_every_public_class_is_registered_or_has_a_reason():
    registered = set(layers.registered("haiku"))
    without = set(haiku_layers.WITHOUT_WEIGHTS)
    not_covered = set(haiku_layers.NOT_COVERED)
    assert not (registered & without) and not (registered & not_covered) \
        and not (without & not_covered)
    missing = public_classes() - registered - without - not_covered
    assert not missing, f"haiku classes with neither a handler nor a reason: {missing}"
    assert not (registered | without | not_covered) - public_classes(), "stale names"


@pytest.mark.parametrize("name", sorted(WITHOUT))
def test_classes_listed_without_weights_create_none(name):
    assert name in haiku_layers.WITHOUT_WEIGHTS
    params, state = hk.transform_with_state(WITHOUT[name]).init(jax.random.key(0),
                                                                  jnp.ones((1, 4, 4, 2)))
    assert dict(params) == {} and dict(state) == {}


def test_every_class_without_weights_is_tried():
    assert set(WITHOUT) == set(haiku_layers.WITHOUT_WEIGHTS)


def test_every_registered_type_has_a_case():
    assert {f"haiku.{name}" for name in CASES} == set(layers.registered("haiku"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_haiku_layer(name):
    forward, params, state, *inputs = built(name)
    walked = layers.walk("haiku", (forward, params, state, *inputs))
    # Haiku's own listing: every module/param of params and state, once
    listed = {f"{module}/{local}": tuple(value.shape) for tree in (params, state)
              for module, values in tree.items() for local, value in values.items()}
    assert {p.name: p.shape for p in walked} == listed
    assert {p.name for p in walked if p.buffer} == {
        f"{module}/{local}" for module, values in state.items() for local in values}
    named = by_name(walked)
    for tensor, (role, fans, mismatch) in CASES[name].items():
        assert_fans(named[tensor], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(walked) == sum(p.role.default is not None for p in walked)


@pytest.mark.parametrize("cls", [hk.Linear, hk.Conv2D, hk.Conv2DTranspose, hk.DepthwiseConv2D,
                                 hk.MultiHeadAttention, hk.VanillaRNN, hk.Conv2DLSTM,
                                 hk.SeparableDepthwiseConv2D, hk.BatchNorm, hk.nets.MLP,
                                 hk.nets.VectorQuantizerEMA, hk.ExponentialMovingAverage])
def test_default_names_are_haikus(cls):
    """The names-only walk maps ``conv2_d_1`` to ``hk.Conv2D``: Haiku's own naming rule."""
    names = []

    def forward():
        module = object.__new__(cls)
        hk.Module.__init__(module)
        names.append(module.module_name)

    hk.transform(forward).init(jax.random.key(0))
    assert names == [haiku_layers.default_name(cls)]


def test_a_params_mapping_is_walked_by_module_names():
    def forward(x):
        return hk.nets.MLP([16, 4])(hk.Conv1D(8, 3)(x))

    params = hk.transform(forward).init(jax.random.key(0), jnp.ones((1, 10, 2)))
    walked = by_name(layers.walk("haiku", params))
    assert walked["conv1_d/w"].layer == "haiku.Conv1D"
    assert walked["mlp/~/linear_1/w"].layer == "haiku.Linear"
    assert_fans(walked["conv1_d/w"], (6, 24), role="conv.kernel")
    assert "automatic name" in walked["mlp/~/linear_1/w"].role.note


def test_the_transposed_mismatch_is_real():
    """Haiku's default stands for a fan-in of 16 * 9 = 144 on a stride-3 transposed
    convolution (semantic 16): the kernel follows Haiku's law, not the semantic one."""
    param = by_name(layers.walk("haiku", built("Conv2DTranspose")))["conv2_d_transpose/w"]
    assert param.role.default.std == pytest.approx(1 / math.sqrt(144))
    assert_law(param.role.default, param.array, param.name)
    assert_not_law(param.role.semantic_default, param.array, param.name)


def test_the_default_is_the_uncorrected_truncated_normal():
    # TruncatedNormal(stddev=1/sqrt(300)): variance 0.7737 / 300 by scipy's truncnorm
    param = by_name(layers.walk("haiku", built("Linear")))["linear/w"]
    assert param.role.default.variance == pytest.approx(stats.truncnorm(-2, 2).var() / 300)
    assert param.role.default.high == pytest.approx(2 / math.sqrt(300))


def test_a_given_initializer_keeps_haikus_default_and_says_so():
    def forward(x):
        return hk.Linear(64, w_init=hk.initializers.VarianceScaling(2.0, "fan_in", "normal"),
                         b_init=hk.initializers.Constant(0.5))(x)

    inputs = jnp.ones((1, 200))
    params = hk.transform(forward).init(jax.random.key(3), inputs)
    named = by_name(layers.walk("haiku", (forward, params, {}, inputs)))
    weight, bias = named["linear/w"], named["linear/b"]
    assert weight.role.default.family == "truncated_normal"
    assert weight.role.default.std == pytest.approx(1 / math.sqrt(200))
    assert "own initializer (VarianceScaling)" in weight.role.note
    assert bias.role.default.value == 0.0 and "own initializer (Constant)" in bias.role.note
    # VarianceScaling(2.0, 'fan_in', 'normal') has std sqrt(2 / 200): not the default's
    assert_not_law(weight.role.default, weight.array, weight.name)


def test_attention_kernels_have_no_default():
    named = by_name(layers.walk("haiku", built("MultiHeadAttention")))
    query = named["multi_head_attention/query/w"]
    assert query.role.default is None and "no default w_init" in query.role.note


def test_build_layer_haiku():
    forward, *inputs = layers.build_layer("haiku", "LSTM", {"hidden_size": 3})
    assert callable(forward) and inputs[0].shape == (2, 8)
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("haiku", "AvgPool", {})
    with pytest.raises(ValueError, match="does not take"):
        layers.build_layer("haiku", "Linear", {"output_size": 3, "width": 2})


def test_bfloat16_is_read_as_float32():
    def forward(x):
        return hk.Linear(3)(x)

    inputs = jnp.ones((1, 4), jnp.bfloat16)
    params = hk.transform(forward).init(jax.random.key(0), inputs)
    weight = by_name(layers.walk("haiku", (forward, params, {}, inputs)))["linear/w"]
    assert weight.dtype == "bfloat16" and weight.array.dtype == np.float32
