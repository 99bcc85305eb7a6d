"""The layer registry on MLX: every registered layer type built where its semantic fans
differ from the ones MLX's scales stand for (bilinear, strided transposed convolutions,
embeddings, recurrent inputs), walked, and checked against MLX's own listing,
hand-derived fans and the defaults read in MLX's source."""

from __future__ import annotations

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

mx = pytest.importorskip("mlx.core", reason="MLX is not installed: the mlx registry cannot "
                                            "be exercised")
nn = pytest.importorskip("mlx.nn", reason="MLX is not installed")

NORM = {"weight": ("norm.scale", None, False)}

# name -> (builder, {tensor: (role, semantic fans, fan mismatch)}). MLX stores convs
# (out, *k, in/groups), transposed (out, *k, in), Bilinear (out, in2, in1), gates on axis 0.
MLX_CASES = {
    "mlx.nn.Linear": (lambda: nn.Linear(300, 70),
                      {"weight": ("linear.weight", (300, 70), False)}),
    # one process: a group of one member, the shard is the whole 300 -> 70 map
    "mlx.nn.AllToShardedLinear": (lambda: nn.AllToShardedLinear(300, 70),
                                  {"weight": ("linear.weight", (300, 70), False)}),
    "mlx.nn.ShardedToAllLinear": (lambda: nn.ShardedToAllLinear(300, 70),
                                  {"weight": ("linear.weight", (300, 70), False)}),
    "mlx.nn.QQLinear": (lambda: nn.QQLinear(320, 70),
                        {"weight": ("linear.weight", (320, 70), False)}),
    # an output sums 20 * 30 products; MLX's bound uses input1_dims = 20
    "mlx.nn.Bilinear": (lambda: nn.Bilinear(20, 30, 40),
                        {"weight": ("bilinear.weight", (600, 40), True)}),
    # (120, 5, 20): fan_in 20 * 5, fan_out 40 * 5 / 2
    "mlx.nn.Conv1d": (lambda: nn.Conv1d(60, 120, 5, stride=2, groups=3),
                      {"weight": ("conv.weight", (100, 100), False)}),
    "mlx.nn.Conv2d": (lambda: nn.Conv2d(32, 64, 3, stride=2, groups=4),
                      {"weight": ("conv.weight", (72, 36), False)}),
    "mlx.nn.Conv3d": (lambda: nn.Conv3d(8, 16, 3, stride=(1, 2, 2)),
                      {"weight": ("conv.weight", (216, 108), False)}),
    # (60, 4, 40), stride 2: fan_in 40 * 4 / 2, fan_out 60 * 4; MLX's scale uses 40 * 4
    "mlx.nn.ConvTranspose1d": (lambda: nn.ConvTranspose1d(40, 60, 4, stride=2),
                               {"weight": ("conv_transpose.weight", (80, 240), True)}),
    "mlx.nn.ConvTranspose2d": (lambda: nn.ConvTranspose2d(16, 48, 3, stride=3),
                               {"weight": ("conv_transpose.weight", (16, 432), True)}),
    "mlx.nn.ConvTranspose3d": (lambda: nn.ConvTranspose3d(4, 8, 2, stride=2),
                               {"weight": ("conv_transpose.weight", (4, 64), True)}),
    "mlx.nn.Embedding": (lambda: nn.Embedding(1000, 32),
                         {"weight": ("embedding.weight", (1, 32), True)}),
    "mlx.nn.RNN": (lambda: nn.RNN(20, 400), {
        "Wxh": ("recurrent.weight_ih", (20, 400), True),
        "Whh": ("recurrent.weight_hh", (400, 400), False)}),
    "mlx.nn.GRU": (lambda: nn.GRU(30, 40), {
        "Wx": ("recurrent.weight_ih", (30, 40), True),
        "Wh": ("recurrent.weight_hh", (40, 40), False)}),
    "mlx.nn.LSTM": (lambda: nn.LSTM(20, 50), {
        "Wx": ("recurrent.weight_ih", (20, 50), True)}),
    "mlx.nn.LayerNorm": (lambda: nn.LayerNorm(16), NORM),
    "mlx.nn.RMSNorm": (lambda: nn.RMSNorm(16), NORM),
    "mlx.nn.GroupNorm": (lambda: nn.GroupNorm(4, 16), NORM),
    "mlx.nn.BatchNorm": (lambda: nn.BatchNorm(16), {
        **NORM, "running_var": ("norm.running_var", None, False)}),
    "mlx.nn.InstanceNorm": (lambda: nn.InstanceNorm(16, affine=True), NORM),
    "mlx.nn.PReLU": (lambda: nn.PReLU(5), {"weight": ("prelu.weight", None, False)}),
    "mlx.nn.MultiHeadAttention": (lambda: nn.MultiHeadAttention(
        64, 4, query_input_dims=32, value_dims=48, bias=True), {
        "query_proj.weight": ("linear.weight", (32, 64), False),
        "value_proj.weight": ("linear.weight", (64, 48), False),
        "out_proj.weight": ("linear.weight", (48, 64), False)}),
    "mlx.nn.TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(32, 4, 64), {
        "linear1.weight": ("linear.weight", (32, 64), False)}),
    "mlx.nn.TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(32, 4, 64), {
        "linear2.weight": ("linear.weight", (64, 32), False)}),
    "mlx.nn.TransformerEncoder": (lambda: nn.TransformerEncoder(2, 32, 4, 64), {
        "layers.1.linear1.weight": ("linear.weight", (32, 64), False)}),
    "mlx.nn.TransformerDecoder": (lambda: nn.TransformerDecoder(1, 32, 4, 64), {
        "layers.0.linear1.weight": ("linear.weight", (32, 64), False)}),
    "mlx.nn.Transformer": (lambda: nn.Transformer(32, 4, 1, 1, 64), {
        "encoder.layers.0.linear1.weight": ("linear.weight", (32, 64), False)}),
}


def test_every_registered_mlx_type_has_a_case():
    assert set(layers.registered("mlx")) == set(MLX_CASES)


@pytest.mark.parametrize("name", sorted(MLX_CASES))
def test_mlx_layer(name):
    from mlx.utils import tree_flatten

    build, expected = MLX_CASES[name]
    mx.random.seed(0)
    module = build()
    params = layers.walk("mlx", module)
    assert {p.name: p.shape for p in params} == {
        key: tuple(value.shape) for key, value in tree_flatten(module.parameters())}
    named = by_name(params)
    for tensor, (role, fans, mismatch) in expected.items():
        assert_fans(named[tensor], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None for p in params)


def test_mlx_mismatches_are_real():
    """MLX's scales stand for a fan-in of 16 * 9 = 144 on a stride-3 transposed convolution
    (semantic 16), of dims on an embedding (32 vs 1), of hidden on a recurrent input (400
    vs 20): the tensors follow MLX's, not the semantic ones."""
    mx.random.seed(1)
    cases = [(nn.ConvTranspose2d(16, 48, 3, stride=3), "weight", 1 / math.sqrt(144)),
             (nn.Embedding(1000, 32), "weight", None),
             (nn.RNN(20, 400), "Wxh", 1 / math.sqrt(400))]
    for module, tensor, bound in cases:
        param = by_name(layers.walk("mlx", module))[tensor]
        if bound is not None:
            assert param.role.default.high == pytest.approx(bound)
        assert_law(param.role.default, param.array, tensor)
        assert_not_law(param.role.semantic_default, param.array, tensor)


def test_mlx_sharded_and_quantized_linears():
    """Sharded linears draw U(-sqrt(1/in), sqrt(1/in)) with the whole map's in = 400: a
    bound of 0.05. QQLinear keeps its weight in float until eval() quantizes it (nvfp4,
    4 bits: 8 inputs per uint32), which has no law to check."""
    mx.random.seed(2)
    for module in (nn.AllToShardedLinear(400, 300), nn.ShardedToAllLinear(400, 300),
                   nn.QQLinear(400, 300)):
        weight = by_name(layers.walk("mlx", module))["weight"]
        assert weight.role.default.high == pytest.approx(0.05)
        assert_law(weight.role.default, weight.array, type(module).__name__)
    quantized = nn.QQLinear(400, 300)
    quantized.eval()
    named = by_name(layers.walk("mlx", quantized))
    assert named["weight"].shape == (300, 50) and named["weight"].role.default is None
    assert named["weight"].role.semantic_fans == (400, 300)
    assert not named["scales"].role.random


def test_mlx_tied_and_frozen():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(100, 16)
            self.norm = nn.BatchNorm(16)
            self.head = nn.Linear(16, 100, bias=False)
            self.head.weight = self.embed.weight

    params = layers.walk("mlx", Tied())
    named = by_name(params)
    assert named["embed.weight"].names == ("embed.weight", "head.weight")
    assert named["norm.running_mean"].buffer and not named["norm.running_mean"].trainable
    assert len(params) == 5


def test_mlx_bfloat16_is_read_as_float32():
    module = nn.Linear(4, 3)
    module.set_dtype(mx.bfloat16)
    weight = by_name(layers.walk("mlx", module))["weight"]
    assert weight.dtype == "mlx.core.bfloat16" and weight.array.dtype == np.float32


def test_build_layer_mlx():
    assert isinstance(layers.build_layer("mlx", "nn.Linear", {"input_dims": 3,
                                                              "output_dims": 2}), nn.Linear)
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("mlx", "nn.Dropout", {})
    with pytest.raises(ValueError, match="cannot build mlx"):
        layers.build_layer("mlx", "nn.Linear", {"input_dims": 3})
