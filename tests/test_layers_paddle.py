"""The layer registry on Paddle: every registered layer type built where its semantic fans
differ from the ones Paddle's defaults stand for (grouped and strided convolutions,
transposed ones, bilinear, embeddings, recurrent inputs), walked, and checked against
Paddle's own listing, hand-derived fans and the defaults read in Paddle's source; and the
introspection of ``paddle.nn``: every public layer class with a weight is registered, or
listed with the reason it is not.

Importing TensorFlow and then Paddle in one process crashes it: where TensorFlow is
already loaded (and Paddle is not), this module is skipped with that reason."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

if "tensorflow" in sys.modules and "paddle" not in sys.modules:
    pytest.skip("paddle cannot be imported after tensorflow in one process (it crashes)",
                allow_module_level=True)
paddle = pytest.importorskip("paddle", reason="paddlepaddle is not installed: the paddle "
                                              "registry cannot be exercised")

from tests.layer_checks import (  # noqa: E402
    assert_defaults_hold,
    assert_fans,
    assert_law,
    assert_not_law,
    by_name,
)
from verify import layers  # noqa: E402
from verify.layers import paddle_layers  # noqa: E402

nn = paddle.nn

NORM = {"weight": ("norm.scale", None, False), "bias": ("norm.bias", None, False)}
STATISTICS = {**NORM, "_mean": ("norm.running_mean", None, False),
              "_variance": ("norm.running_var", None, False)}
ENCODER = {"d_model": 32, "nhead": 4, "dim_feedforward": 64}

# name -> (builder, {tensor: (role, semantic fans, fan mismatch)}). Paddle stores Linear
# (in, out), convs (out, in / groups, *k), transposed convs (in, out / groups, *k),
# Bilinear (out, in1, in2), recurrent gates along axis 0 of (gates * hidden, in).
PADDLE_CASES = {
    "paddle.nn.Linear": (lambda: nn.Linear(300, 70),
                         {"weight": ("linear.weight", (300, 70), False),
                          "bias": ("linear.bias", None, False)}),
    # an output sums 20 * 30 products; Paddle's fans read (40, 20, 30) as a kernel: (600, 1200)
    "paddle.nn.Bilinear": (lambda: nn.Bilinear(20, 30, 40),
                           {"weight": ("bilinear.weight", (600, 40), True)}),
    # (120, 20, 5): fan_in 20 * 5, fan_out 40 * 5 / 2; Paddle's std uses all 60 * 5 inputs
    "paddle.nn.Conv1D": (lambda: nn.Conv1D(60, 120, 5, stride=2, groups=3),
                         {"weight": ("conv.weight", (100, 100), True)}),
    "paddle.nn.Conv2D": (lambda: nn.Conv2D(32, 64, 3, stride=2, groups=4),
                         {"weight": ("conv.weight", (72, 36), True),
                          "bias": ("conv.bias", None, False)}),
    # no groups: in_channels * k is the filter's element count, no mismatch
    "paddle.nn.Conv3D": (lambda: nn.Conv3D(8, 16, 3, stride=(1, 2, 2)),
                         {"weight": ("conv.weight", (216, 108), False)}),
    # (40, 30, 4), stride 2: fan_in 20 * 4 / 2, fan_out 30 * 4; Paddle's (30 * 4, 40 * 4)
    "paddle.nn.Conv1DTranspose": (lambda: nn.Conv1DTranspose(40, 60, 4, stride=2, groups=2),
                                  {"weight": ("conv_transpose.weight", (40, 120), True)}),
    "paddle.nn.Conv2DTranspose": (lambda: nn.Conv2DTranspose(16, 48, 3, stride=3),
                                  {"weight": ("conv_transpose.weight", (16, 432), True)}),
    "paddle.nn.Conv3DTranspose": (lambda: nn.Conv3DTranspose(4, 8, 2, stride=2),
                                  {"weight": ("conv_transpose.weight", (4, 64), True)}),
    "paddle.nn.Embedding": (lambda: nn.Embedding(1000, 32, padding_idx=3),
                            {"weight": ("embedding.weight", (1, 32), True)}),
    "paddle.nn.SimpleRNNCell": (lambda: nn.SimpleRNNCell(20, 400), {
        "weight_ih": ("recurrent.weight_ih", (20, 400), True),
        "weight_hh": ("recurrent.weight_hh", (400, 400), False),
        "bias_ih": ("recurrent.bias_ih", None, True)}),
    "paddle.nn.GRUCell": (lambda: nn.GRUCell(30, 40), {
        "weight_ih": ("recurrent.weight_ih", (30, 40), True),
        "weight_hh": ("recurrent.weight_hh", (40, 40), False)}),
    "paddle.nn.LSTMCell": (lambda: nn.LSTMCell(20, 50, proj_size=10), {
        "weight_ih": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh": ("recurrent.weight_hh", (10, 50), True),
        "weight_ho": ("recurrent.weight_ho", (50, 10), False)}),
    "paddle.nn.SimpleRNN": (lambda: nn.SimpleRNN(20, 50, num_layers=2), {
        "weight_ih_l0": ("recurrent.weight_ih", (20, 50), True),
        "1.cell.weight_ih": ("recurrent.weight_ih", (50, 50), False)}),
    "paddle.nn.GRU": (lambda: nn.GRU(30, 40, direction="bidirect"), {
        "0.cell_bw.weight_ih": ("recurrent.weight_ih", (30, 40), True),
        "weight_hh_l0_reverse": ("recurrent.weight_hh", (40, 40), False)}),
    "paddle.nn.LSTM": (lambda: nn.LSTM(20, 50, proj_size=10), {
        "0.cell.weight_hh": ("recurrent.weight_hh", (10, 50), True)}),
    "paddle.nn.RNN": (lambda: nn.RNN(nn.GRUCell(30, 40)), {
        "cell.weight_ih": ("recurrent.weight_ih", (30, 40), True)}),
    "paddle.nn.BiRNN": (lambda: nn.BiRNN(nn.GRUCell(30, 40), nn.GRUCell(30, 40)), {
        "cell_fw.weight_hh": ("recurrent.weight_hh", (40, 40), False)}),
    "paddle.nn.BatchNorm": (lambda: nn.BatchNorm(8), STATISTICS),
    "paddle.nn.BatchNorm1D": (lambda: nn.BatchNorm1D(8), STATISTICS),
    "paddle.nn.BatchNorm2D": (lambda: nn.BatchNorm2D(8), STATISTICS),
    "paddle.nn.BatchNorm3D": (lambda: nn.BatchNorm3D(8), STATISTICS),
    "paddle.nn.SyncBatchNorm": (lambda: nn.SyncBatchNorm(8), STATISTICS),
    "paddle.nn.InstanceNorm1D": (lambda: nn.InstanceNorm1D(8),
                                 {"scale": ("norm.scale", None, False)}),
    "paddle.nn.InstanceNorm2D": (lambda: nn.InstanceNorm2D(8),
                                 {"scale": ("norm.scale", None, False)}),
    "paddle.nn.InstanceNorm3D": (lambda: nn.InstanceNorm3D(8),
                                 {"bias": ("norm.bias", None, False)}),
    "paddle.nn.LayerNorm": (lambda: nn.LayerNorm(64), NORM),
    "paddle.nn.GroupNorm": (lambda: nn.GroupNorm(4, 64), NORM),
    "paddle.nn.PReLU": (lambda: nn.PReLU(5), {"_weight": ("prelu.weight", None, False)}),
    "paddle.nn.SpectralNorm": (lambda: nn.SpectralNorm([64, 32, 3]), {
        "weight_u": ("spectral_norm.weight_u", None, False),
        "weight_v": ("spectral_norm.weight_v", None, False)}),
    # 10 classes: 9 inner nodes, each a logistic unit over the 16 features
    "paddle.nn.HSigmoidLoss": (lambda: nn.HSigmoidLoss(16, 10), {
        "weight": ("hsigmoid.weight", (16, 9), True),
        "bias": ("hsigmoid.bias", None, False)}),
    # head: a shortlist of 20 and 2 clusters
    "paddle.nn.AdaptiveLogSoftmaxWithLoss": (
        lambda: nn.AdaptiveLogSoftmaxWithLoss(64, 200, [20, 100], head_bias=True), {
            "head_weight": ("linear.weight", (64, 22), False),
            "head_bias": ("linear.bias", None, False)}),
    "paddle.nn.MultiHeadAttention": (lambda: nn.MultiHeadAttention(64, 4, kdim=32, vdim=48), {
        "k_proj.weight": ("linear.weight", (32, 64), False),
        "v_proj.weight": ("linear.weight", (48, 64), False),
        "out_proj.bias": ("linear.bias", None, False)}),
    "paddle.nn.TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(**ENCODER), {
        "linear1.weight": ("linear.weight", (32, 64), False),
        "norm1.weight": ("norm.scale", None, False)}),
    "paddle.nn.TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(**ENCODER), {
        "linear2.weight": ("linear.weight", (64, 32), False),
        "cross_attn.q_proj.weight": ("linear.weight", (32, 32), False)}),
    "paddle.nn.TransformerEncoder": (
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(**ENCODER), 2), {
            "layers.1.linear1.weight": ("linear.weight", (32, 64), False)}),
    "paddle.nn.TransformerDecoder": (
        lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(**ENCODER), 2), {
            "layers.0.linear1.weight": ("linear.weight", (32, 64), False)}),
    "paddle.nn.Transformer": (lambda: nn.Transformer(32, 4, 1, 1, 64), {
        "encoder.layers.0.linear1.weight": ("linear.weight", (32, 64), False),
        "decoder.norm.weight": ("norm.scale", None, False)}),
}


def paddle_listing(module) -> dict[str, tuple[int, ...]]:
    """What Paddle lists: parameters and the buffers that hold values."""
    listed = {name: tuple(tensor.shape) for name, tensor in module.named_parameters()}
    listed.update({name: tuple(tensor.shape) for name, tensor in module.named_buffers()
                   if tensor is not None and tensor._is_initialized()})
    return listed


def test_every_registered_paddle_type_has_a_case():
    assert set(layers.registered("paddle")) == set(PADDLE_CASES)


@pytest.mark.parametrize("name", sorted(PADDLE_CASES))
def test_paddle_layer(name):
    build, expected = PADDLE_CASES[name]
    paddle.seed(0)
    module = build()
    params = layers.walk("paddle", module)
    assert {p.name: p.shape for p in params} == paddle_listing(module)
    named = by_name(params)
    for tensor, (role, fans, mismatch) in expected.items():
        assert_fans(named[tensor], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(
        p.role.default is not None or bool(p.role.block_defaults) for p in params)


def test_paddle_mismatches_are_real():
    """Paddle's std for a grouped conv uses all 32 input channels (semantic 8 per group); a
    stride-3 transposed conv's Xavier reads (432, 144) (semantic (16, 432)); an embedding's
    reads (1000, 32) (semantic (1, 32)); a recurrent input's bound stands for hidden = 400
    (semantic 20): the tensors follow Paddle's, not the semantic ones."""
    paddle.seed(1)
    cases = [(nn.Conv2D(32, 64, 3, stride=2, groups=4), "weight", math.sqrt(2 / 288)),
             (nn.Conv2DTranspose(16, 48, 3, stride=3), "weight", math.sqrt(6 / 576) / 3**0.5),
             (nn.Embedding(1000, 32), "weight", math.sqrt(6 / 1032) / 3**0.5),
             (nn.SimpleRNNCell(20, 400), "weight_ih", 1 / math.sqrt(400) / 3**0.5)]
    for module, tensor, std in cases:
        param = by_name(layers.walk("paddle", module))[tensor]
        assert math.sqrt(param.role.default.variance) == pytest.approx(std)
        assert param.role.law_mismatch
        assert_law(param.role.default, param.array, tensor)
        assert_not_law(param.role.semantic_default, param.array, tensor)


def test_a_recurrent_tensor_takes_its_role_from_the_cell():
    """``nn.LSTM(num_layers=2, proj_size=10)`` names its cells' tensors ``weight_ih_l0``, ...
    by zipping a list of names with its parameters, which are five per cell, not four: so
    Paddle's ``weight_ih_l1`` is the first cell's projection ``weight_ho``. The role follows
    the tensor (the cell), whatever the layer calls it."""
    module = nn.LSTM(20, 50, num_layers=2, proj_size=10)
    named = by_name(layers.walk("paddle", module))
    assert named["0.cell.weight_ho"] is named["weight_ih_l1"]
    assert named["weight_ih_l1"].role.role == "recurrent.weight_ho"
    assert named["weight_ih_l1"].layer == "paddle.nn.LSTMCell"
    assert named["1.cell.weight_ih"].role.semantic_fans == (10, 50)


def test_frozen_recurrent_weights_are_constants():
    params = by_name(layers.walk("paddle", nn.SimpleRNNCell(4, 6, weight_ih_attr=False,
                                                             bias_hh_attr=False)))
    assert params["weight_ih"].role.default.value == 1.0
    assert params["bias_hh"].role.default.value == 0.0
    assert params["weight_hh"].role.default.family == "uniform"
    assert assert_defaults_hold(list(params.values())) == 4


def test_paddle_tied_statistics_and_low_precision():
    class Tied(nn.Layer):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(16, 16)
            self.norm = nn.BatchNorm1D(16)
            self.second = nn.Linear(16, 16)
            self.second.weight = self.first.weight

    params = layers.walk("paddle", Tied())
    named = by_name(params)
    assert named["first.weight"].names == ("first.weight", "second.weight")
    assert named["norm._mean"].buffer and not named["norm._mean"].trainable
    assert named["norm.weight"].trainable and not named["norm.weight"].buffer
    assert len(params) == 7
    module = nn.Linear(4, 3)
    module.to(dtype="bfloat16")
    weight = by_name(layers.walk("paddle", module))["weight"]
    assert weight.dtype == "paddle.bfloat16" and weight.array.dtype == np.float32


def test_the_rnn_dropout_state_is_left_out():
    """The recurrent layers hold an empty, uninitialized cuDNN dropout state: no values."""
    module = nn.SimpleRNN(3, 5)
    assert "_dropout_state" in dict(module.named_buffers())
    assert "_dropout_state" not in by_name(layers.walk("paddle", module))


def test_build_layer_paddle(capsys):
    built = layers.build_layer("paddle", "nn.Linear", {"in_features": 3, "out_features": 2})
    assert isinstance(built, nn.Linear) and tuple(built.weight.shape) == (3, 2)
    rnn = layers.build_layer("paddle", "nn.RNN", {"cell": {"layer": "nn.GRUCell", "kwargs": {
        "input_size": 3, "hidden_size": 4}}})
    assert isinstance(rnn.cell, nn.GRUCell)
    layers.build_layer("paddle", "nn.HSigmoidLoss", {"feature_size": 4, "num_classes": 5})
    assert capsys.readouterr().out == ""  # its construction message goes to stderr
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("paddle", "nn.Dropout", {})
    with pytest.raises(ValueError, match="cannot build paddle"):
        layers.build_layer("paddle", "nn.Linear", {"in_features": 3})
    with pytest.raises(ValueError, match=r"paddle\.nn\.Layer"):
        layers.walk("paddle", {"weight": np.zeros(3)})


# --- introspection -------------------------------------------------------------------------

def public_layer_classes() -> dict[str, type]:
    """Every public layer class of ``paddle.nn``, by its registry name (aliases such as
    ``Conv2d`` and ``SiLU`` fold into their class's name)."""
    found = {}
    for name, value in vars(nn).items():
        if not name.startswith("_") and isinstance(value, type) and issubclass(value, nn.Layer):
            found[paddle_layers.layer_name(value)] = value
    return found


def test_every_public_layer_class_is_registered_or_listed_with_a_reason():
    public = public_layer_classes()
    without = {f"paddle.nn.{name}" for name in paddle_layers.WITHOUT_WEIGHTS}
    handled = set(paddle_layers.HANDLERS)
    reasoned = set(paddle_layers.NOT_COVERED)
    unlisted = set(public) - handled - reasoned - without
    assert not unlisted, f"paddle.nn layer classes neither registered nor listed: {unlisted}"
    assert not (handled | reasoned | without) - set(public), "stale names in the tables"
    assert not handled & without and not handled & reasoned and not reasoned & without
    assert all(reason for reason in paddle_layers.NOT_COVERED.values())
    assert len(public) > 100  # the walk found the namespace (149 classes in 3.3.1)


def test_classes_listed_without_weights_have_none():
    """Every class of WITHOUT_WEIGHTS that builds with no argument, or with one argument of 2
    (a kernel size, a padding, a factor), has no parameter and no buffer."""
    built = []
    for name in paddle_layers.WITHOUT_WEIGHTS:
        cls = getattr(nn, name)
        for arguments in ((), (2,)):
            try:
                module = cls(*arguments)
            except (TypeError, ValueError, AssertionError):
                continue
            assert not list(module.named_parameters()), name
            assert not list(module.named_buffers()), name
            built.append(name)
            break
    assert len(built) >= 0.9 * len(paddle_layers.WITHOUT_WEIGHTS), (
        sorted(set(paddle_layers.WITHOUT_WEIGHTS) - set(built)))


def test_registered_classes_have_weights():
    """The other way round: every registered type's case has at least one tensor."""
    for name, (build, _) in PADDLE_CASES.items():
        assert layers.walk("paddle", build()), name
