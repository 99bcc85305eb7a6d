"""The layer registry (verify.layers) on PyTorch, plain arrays and its dispatch.

Every registered PyTorch layer type is built at shapes where the semantic fans differ
from PyTorch's (in != out, groups > 1, stride > 1, kdim != embed_dim, proj_size), walked,
and checked against the framework's own listing, fans derived by hand in the table below
(never by the code under test), and its documented default against the drawn tensors.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from tests.layer_checks import (
    assert_defaults_hold,
    assert_fans,
    assert_law,
    assert_listing,
    assert_not_law,
    by_name,
)
from verify import layers
from verify.layers import Role

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch registry "
                                            "cannot be exercised")
nn = torch.nn


def lazy(module, *input_shape):
    """Materialize a lazy module with one call on ones of ``input_shape`` (in eval mode, so
    that running statistics keep their initial values)."""
    module.eval()(torch.ones(*input_shape))
    return module.train()


def hf_conv1d():
    pytorch_utils = pytest.importorskip("transformers.pytorch_utils",
                                        reason="transformers is not installed")
    return pytorch_utils.Conv1D(nf=70, nx=300)


# name -> (builder, {tensor: (role, semantic fans, fan mismatch)}). Fans by hand:
# conv fan_in = in/groups * prod(k), fan_out = out/groups * prod(k) / prod(stride);
# transposed fan_in = in/groups * prod(k) / prod(stride), fan_out = out/groups * prod(k).
CONV1D = {"weight": ("conv.weight", (100, 100), True)}  # (120, 20, 5): 20*5; 40*5/2
CONV2D = {"weight": ("conv.weight", (72, 36), True)}  # (64, 8, 3, 3): 8*9; 16*9/4
CONV3D = {"weight": ("conv.weight", (108, 54), True)}  # (16, 4, 3, 3, 3): 4*27; 8*27/4
CONVT1D = {"weight": ("conv_transpose.weight", (40, 120), True)}  # (40, 30, 4): 20*4/2; 30*4
CONVT2D = {"weight": ("conv_transpose.weight", (16, 432), True)}  # (16, 48, 3, 3): 16*9/9
CONVT3D = {"weight": ("conv_transpose.weight", (4, 64), True)}  # (4, 8, 2, 2, 2): 4*8/8; 8*8
NORM = {"weight": ("norm.scale", None, False), "bias": ("norm.bias", None, False)}
BATCH_NORM = {**NORM, "running_mean": ("norm.running_mean", None, False),
              "running_var": ("norm.running_var", None, False),
              "num_batches_tracked": ("norm.num_batches_tracked", None, False)}
ENCODER_LAYER = {"self_attn.in_proj_weight": ("attention.in_proj.weight", (32, 32), True),
                 "self_attn.out_proj.bias": ("attention.out_proj.bias", None, False),
                 "linear1.weight": ("linear.weight", (32, 64), False),
                 "linear2.weight": ("linear.weight", (64, 32), False)}

TORCH_CASES = {
    "torch.nn.Linear": (lambda: nn.Linear(300, 70),
                        {"weight": ("linear.weight", (300, 70), False)}),
    "torch.nn.LazyLinear": (lambda: lazy(nn.LazyLinear(70), 2, 300),
                            {"weight": ("linear.weight", (300, 70), False)}),
    "torch.nn.Bilinear": (lambda: nn.Bilinear(20, 30, 40),
                          {"weight": ("bilinear.weight", (600, 40), True)}),
    "transformers.pytorch_utils.Conv1D": (hf_conv1d,
                                          {"weight": ("linear.weight", (300, 70), False)}),
    "torch.nn.Conv1d": (lambda: nn.Conv1d(60, 120, 5, stride=2, groups=3), CONV1D),
    "torch.nn.Conv2d": (lambda: nn.Conv2d(32, 64, 3, stride=2, groups=4), CONV2D),
    "torch.nn.Conv3d": (lambda: nn.Conv3d(8, 16, 3, stride=(1, 2, 2), groups=2), CONV3D),
    "torch.nn.ConvTranspose1d": (lambda: nn.ConvTranspose1d(40, 60, 4, stride=2, groups=2),
                                 CONVT1D),
    "torch.nn.ConvTranspose2d": (lambda: nn.ConvTranspose2d(16, 48, 3, stride=3), CONVT2D),
    "torch.nn.ConvTranspose3d": (lambda: nn.ConvTranspose3d(4, 8, 2, stride=2), CONVT3D),
    "torch.nn.LazyConv1d": (lambda: lazy(nn.LazyConv1d(120, 5, stride=2, groups=3),
                                         1, 60, 9), CONV1D),
    "torch.nn.LazyConv2d": (lambda: lazy(nn.LazyConv2d(64, 3, stride=2, groups=4),
                                         1, 32, 5, 5), CONV2D),
    "torch.nn.LazyConv3d": (lambda: lazy(nn.LazyConv3d(16, 3, stride=(1, 2, 2), groups=2),
                                         1, 8, 3, 3, 3), CONV3D),
    "torch.nn.LazyConvTranspose1d": (lambda: lazy(nn.LazyConvTranspose1d(
        60, 4, stride=2, groups=2), 1, 40, 3), CONVT1D),
    "torch.nn.LazyConvTranspose2d": (lambda: lazy(nn.LazyConvTranspose2d(48, 3, stride=3),
                                                  1, 16, 2, 2), CONVT2D),
    "torch.nn.LazyConvTranspose3d": (lambda: lazy(nn.LazyConvTranspose3d(8, 2, stride=2),
                                                  1, 4, 2, 2, 2), CONVT3D),
    "torch.nn.MultiheadAttention": (lambda: nn.MultiheadAttention(64, 4), {
        "in_proj_weight": ("attention.in_proj.weight", (64, 64), True),
        "in_proj_bias": ("attention.in_proj.bias", None, False),
        "out_proj.weight": ("attention.out_proj.weight", (64, 64), False),
        "out_proj.bias": ("attention.out_proj.bias", None, False)}),
    "torch.nn.RNN": (lambda: nn.RNN(20, 50, num_layers=2), {
        "weight_ih_l0": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh_l0": ("recurrent.weight_hh", (50, 50), False),
        "weight_ih_l1": ("recurrent.weight_ih", (50, 50), False)}),
    "torch.nn.LSTM": (lambda: nn.LSTM(20, 50, proj_size=10, bidirectional=True), {
        "weight_ih_l0": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh_l0_reverse": ("recurrent.weight_hh", (10, 50), True),
        "weight_hr_l0": ("recurrent.weight_hr", (50, 10), False)}),
    "torch.nn.GRU": (lambda: nn.GRU(30, 40, num_layers=2, bidirectional=True), {
        "weight_ih_l0": ("recurrent.weight_ih", (30, 40), True),
        "weight_ih_l1": ("recurrent.weight_ih", (80, 40), True),
        "weight_hh_l1": ("recurrent.weight_hh", (40, 40), False)}),
    # RNN, LSTM and GRU's documented base, with a mode: the LSTM's tensors
    "torch.nn.RNNBase": (lambda: nn.RNNBase("LSTM", 20, 50, num_layers=2), {
        "weight_ih_l0": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh_l0": ("recurrent.weight_hh", (50, 50), False),
        "weight_ih_l1": ("recurrent.weight_ih", (50, 50), False)}),
    "torch.nn.RNNCell": (lambda: nn.RNNCell(20, 50), {
        "weight_ih": ("recurrent.weight_ih", (20, 50), True)}),
    "torch.nn.LSTMCell": (lambda: nn.LSTMCell(20, 50), {
        "weight_ih": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh": ("recurrent.weight_hh", (50, 50), False)}),
    "torch.nn.GRUCell": (lambda: nn.GRUCell(30, 40), {
        "weight_ih": ("recurrent.weight_ih", (30, 40), True)}),
    "torch.nn.Embedding": (lambda: nn.Embedding(1000, 32, padding_idx=3),
                           {"weight": ("embedding.weight", (1, 32), False)}),
    "torch.nn.EmbeddingBag": (lambda: nn.EmbeddingBag(1000, 32),
                              {"weight": ("embedding_bag.weight", (1, 32), False)}),
    "torch.nn.LayerNorm": (lambda: nn.LayerNorm(64), NORM),
    "torch.nn.RMSNorm": (lambda: nn.RMSNorm(64), {"weight": ("norm.scale", None, False)}),
    "torch.nn.GroupNorm": (lambda: nn.GroupNorm(4, 64), NORM),
    "torch.nn.SyncBatchNorm": (lambda: nn.SyncBatchNorm(8), BATCH_NORM),
    **{f"torch.nn.BatchNorm{rank}d": (lambda rank=rank: getattr(nn, f"BatchNorm{rank}d")(8),
                                      BATCH_NORM) for rank in (1, 2, 3)},
    **{f"torch.nn.LazyBatchNorm{rank}d": (
        lambda rank=rank: lazy(getattr(nn, f"LazyBatchNorm{rank}d")(), 2, 8, *(3,) * rank),
        BATCH_NORM) for rank in (1, 2, 3)},
    **{f"torch.nn.InstanceNorm{rank}d": (
        lambda rank=rank: getattr(nn, f"InstanceNorm{rank}d")(8, affine=True,
                                                             track_running_stats=True),
        BATCH_NORM) for rank in (1, 2, 3)},
    **{f"torch.nn.LazyInstanceNorm{rank}d": (
        lambda rank=rank: lazy(getattr(nn, f"LazyInstanceNorm{rank}d")(
            affine=True, track_running_stats=True), 2, 8, *(3,) * rank),
        BATCH_NORM) for rank in (1, 2, 3)},
    "torch.nn.PReLU": (lambda: nn.PReLU(5), {"weight": ("prelu.weight", None, False)}),
    "torch.nn.TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(32, 4, 64),
                                         ENCODER_LAYER),
    "torch.nn.TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(32, 4, 64), {
        "multihead_attn.in_proj_weight": ("attention.in_proj.weight", (32, 32), True),
        "multihead_attn.out_proj.bias": ("attention.out_proj.bias", None, False)}),
    "torch.nn.TransformerEncoder": (lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(32, 4, 64), 2, enable_nested_tensor=False),
        {f"layers.1.{name}": spec for name, spec in ENCODER_LAYER.items()}),
    "torch.nn.TransformerDecoder": (lambda: nn.TransformerDecoder(
        nn.TransformerDecoderLayer(32, 4, 64), 2),
        {"layers.0.linear1.weight": ("linear.weight", (32, 64), False)}),
    "torch.nn.Transformer": (lambda: nn.Transformer(32, 4, 1, 1, 64, batch_first=True), {
        "encoder.layers.0.linear1.weight": ("linear.weight", (32, 64), False),
        "decoder.layers.0.self_attn.in_proj_weight": ("attention.in_proj.weight", (32, 32),
                                                      True)}),
    # the documented sizes: head shortlist + clusters = 100 + 2 outputs; cluster i projects
    # in_features // div_value ** (i + 1) = 16, then 4, then out to its 300, 600 classes
    "torch.nn.AdaptiveLogSoftmaxWithLoss": (lambda: nn.AdaptiveLogSoftmaxWithLoss(
        64, 1000, [100, 400], div_value=4.0, head_bias=True), {
        "head.weight": ("linear.weight", (64, 102), False),
        "tail.0.0.weight": ("linear.weight", (64, 16), False),
        "tail.0.1.weight": ("linear.weight", (16, 300), False),
        "tail.1.0.weight": ("linear.weight", (64, 4), False),
        "tail.1.1.weight": ("linear.weight", (4, 600), False)}),
    # logits (C, *out_features) = (100, 3), each of the 64 inputs
    "torch.nn.LinearCrossEntropyLoss": (lambda: nn.LinearCrossEntropyLoss(
        64, 100, out_features=(3,), bias=True), {
        "linear.weight": ("linear.weight", (64, 300), False),
        "linear.bias": ("linear.bias", None, False)}),
}


def test_every_registered_torch_type_has_a_case():
    assert set(layers.registered("torch")) == set(TORCH_CASES)


def framework_listing(module) -> dict[str, tuple[int, ...]]:
    listing = {name: tuple(p.shape) for name, p in
               module.named_parameters(remove_duplicate=False)}
    listing.update({name: tuple(b.shape) for name, b in
                    module.named_buffers(remove_duplicate=False)})
    return listing


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_torch_layer(name):
    build, expected = TORCH_CASES[name]
    torch.manual_seed(0)
    module = build()
    params = layers.walk("torch", module)
    assert_listing(params, framework_listing(module))
    named = by_name(params)
    for tensor, (role, fans, mismatch) in expected.items():
        assert_fans(named[tensor], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None
                                               or bool(p.role.block_defaults) for p in params)
    assert all(p.role.default is None or p.role.default.citation for p in params)


def test_torch_linear_default_is_the_documented_bound():
    """kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)): 1/sqrt(400) = 0.05."""
    torch.manual_seed(1)
    weight, bias = layers.walk("torch", nn.Linear(400, 300))
    assert weight.role.default.high == pytest.approx(0.05)
    assert bias.role.default.high == pytest.approx(0.05)
    assert np.abs(weight.array).max() == pytest.approx(0.05, rel=1e-3)


def test_torch_mismatches_are_real():
    """Where the registry reports a law mismatch, the tensor follows PyTorch's fans, not the
    semantic ones: packed attention (fans (64, 192) vs (64, 64)), a strided transposed
    convolution (fan_in 432 vs 16), a recurrent input (hidden 400 vs input 20)."""
    torch.manual_seed(2)
    cases = [(nn.MultiheadAttention(64, 4), "in_proj_weight", math.sqrt(6 / 256)),
             (nn.ConvTranspose2d(16, 48, 3, stride=3), "weight", 1 / math.sqrt(432)),
             (nn.RNN(20, 400), "weight_ih_l0", 1 / math.sqrt(400))]
    for module, tensor, bound in cases:
        param = by_name(layers.walk("torch", module))[tensor]
        assert param.role.law_mismatch
        assert param.role.default.high == pytest.approx(bound)
        assert_law(param.role.default, param.array, tensor)
        assert_not_law(param.role.semantic_default, param.array, tensor)


def test_torch_attention_context():
    """Alone, a Linear's bias is uniform; as MultiheadAttention's out_proj it is zero; in
    nn.Transformer every matrix is xavier_uniform_ (bound sqrt(6 / (32 + 64)) = 0.25)."""
    torch.manual_seed(3)
    attention = nn.MultiheadAttention(64, 4)
    alone = layers.lookup("torch", attention.out_proj, "bias", (64,))
    assert alone.role == "linear.bias" and alone.default.family == "uniform"
    inside = layers.lookup("torch", attention.out_proj, "bias", (64,), parents=(attention,))
    assert inside.default.family == "constant" and inside.default.value == 0
    transformer = nn.Transformer(32, 4, 1, 1, 64, batch_first=True)
    linear1 = by_name(layers.walk("torch", transformer))["encoder.layers.0.linear1.weight"]
    assert linear1.role.default.high == pytest.approx(0.25)
    assert np.abs(linear1.array).max() > 0.9 * 0.25


def test_torch_multihead_attention_with_kdim_vdim():
    torch.manual_seed(4)
    module = nn.MultiheadAttention(64, 4, kdim=32, vdim=16, add_bias_kv=True)
    named = by_name(layers.walk("torch", module))
    assert_fans(named["q_proj_weight"], (64, 64), role="attention.query.weight", mismatch=False)
    assert_fans(named["k_proj_weight"], (32, 64), role="attention.key.weight", mismatch=False)
    assert_fans(named["v_proj_weight"], (16, 64), role="attention.value.weight", mismatch=False)
    assert named["bias_k"].role.default.std == pytest.approx(math.sqrt(2 / 128))


def test_torch_embedding_padding_row():
    torch.manual_seed(5)
    (weight,) = layers.walk("torch", nn.Embedding(50, 8, padding_idx=-1))
    assert weight.role.zero_rows == (49,)
    assert np.all(weight.array[49] == 0)


def test_torch_tied_weights_are_one_param_with_both_names():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(100, 16)
            self.body = nn.Linear(16, 16)
            self.head = nn.Linear(16, 100, bias=False)
            self.head.weight = self.embed.weight

    params = layers.walk("torch", Tied())
    tied = [p for p in params if len(p.names) > 1]
    assert [p.names for p in tied] == [("embed.weight", "head.weight")]
    assert tied[0].role.role == "embedding.weight"  # the first name's layer decides
    assert len(params) == 3


def test_torch_dtypes_and_buffers():
    module = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).to(torch.bfloat16)
    params = by_name(layers.walk("torch", module))
    assert params["0.weight"].dtype == "torch.bfloat16"
    assert params["0.weight"].array.dtype == np.float32
    assert params["1.running_var"].buffer and not params["1.running_var"].trainable
    assert params["1.num_batches_tracked"].dtype == "torch.int64"


def test_unknown_layer_type_guesses_fans_and_has_no_default():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.kernel = nn.Parameter(torch.zeros(6, 5, 3))
            self.offset = nn.Parameter(torch.zeros(6))

    params = by_name(layers.walk("torch", Custom()))
    assert params["kernel"].role.role == "unknown.kernel"
    assert params["kernel"].role.semantic_fans == (15, 18)
    assert params["kernel"].role.default is None
    assert params["offset"].role.semantic_fans is None


def test_build_layer_torch():
    module = layers.build_layer("torch", "nn.MultiheadAttention",
                                {"embed_dim": 16, "num_heads": 2})
    assert isinstance(module, nn.MultiheadAttention)
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("torch", "nn.Nope", {})
    with pytest.raises(ValueError, match=r"cannot build torch nn\.Linear"):
        layers.build_layer("torch", "nn.Linear", {"in_features": 3, "nope": 1})


def test_arrays_roles_from_names():
    weight = np.zeros((4, 6, 3))
    arrays = {"enc.weight": weight, "dec.weight": weight, "enc.bias": np.zeros(4),
              "block.kernel": np.zeros((3, 3, 8, 16)), "ln_1.weight": np.ones(5),
              "tok.embedding": np.zeros((100, 12))}
    params = layers.walk("arrays", arrays)
    named = by_name(params)
    assert named["enc.weight"].names == ("enc.weight", "dec.weight")
    assert named["enc.weight"].role.semantic_fans == (18, 12)
    assert named["block.kernel"].role.semantic_fans == (72, 144)
    assert named["ln_1.weight"].role.role == "norm.scale"
    assert named["tok.embedding"].role.semantic_fans == (1, 12)
    assert all(p.role.default is None for p in params)
    assert len(params) == 5


def test_dispatch_errors_and_listing():
    with pytest.raises(ValueError, match="unknown api"):
        layers.registered("caffe")
    with pytest.raises(ValueError, match="unknown api"):
        layers.walk("caffe", {})
    with pytest.raises(ValueError, match=r"torch\.nn\.Module"):
        layers.walk("torch", {"w": np.zeros(2)})
    assert "torch.nn.Linear" in layers.registered("torch")
    assert set(layers.LAYERS) == set(layers.APIS)


def test_role_records():
    from verify.layers.common import uniform_law

    law = uniform_law(0.5, "x", "y")
    role = Role(role="r", fan_in=2, fan_out=3, framework_fans=(2, 6), default=law,
                semantic_default=uniform_law(0.5, "x", "z"))
    assert role.fan_mismatch and not role.law_mismatch
    assert Role(role="r").semantic_fans is None


def test_importing_the_registry_imports_no_framework():
    code = ("import sys, verify.layers; "
            "print([m for m in ('torch', 'jax', 'keras', 'mlx', 'flax') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
