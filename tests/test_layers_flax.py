"""The layer registry on Flax (``nnx`` and ``linen``): every registered layer type built
where its semantic fans differ from the ones ``jax.nn.initializers`` reads (batched
general dense, einsum kernels, groups, strides, transposed convolutions, embeddings,
stacked gates), walked, and checked against Flax's own listing, hand-derived fans and the
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

jax = pytest.importorskip("jax", reason="JAX is not installed: the flax registry cannot "
                                        "be exercised")
nnx = pytest.importorskip("flax.nnx", reason="Flax is not installed")
nn = pytest.importorskip("flax.linen", reason="Flax is not installed")
jnp = jax.numpy

TRUNCATED = 0.87962566103423978  # std of N(0, 1) cut at +-2: lecun_normal divides by it

# Hand-derived fans shared by both APIs' cases:
#   general dense kernel (6, 16, 4, 8) = (batch, in, *out): (16, 32); init sees (96, 32)
#   einsum "nta,hab->nthb", kernel (8, 32, 16) = h, a, b: fan_in a = 32, fan_out h*b = 128
#   conv (3, 3, 8, 64), 4 groups, stride 2: (8*9, 16*9/4) = (72, 36); init (72, 576)
#   transposed (3, 3, 16, 48), stride 3: (16*9/9, 48*9) = (16, 432); init (144, 432)
GENERAL = ("linear_general.kernel", (16, 32), True)
EINSUM = ("einsum.kernel", (32, 128), True)
CONV = ("conv.kernel", (72, 36), True)
CONV_T = ("conv_transpose.kernel", (16, 432), True)
EMBED = ("embedding.weight", (1, 32), True)
NORMS = ("LayerNorm", "RMSNorm", "BatchNorm", "GroupNorm", "InstanceNorm")


def rngs():
    return nnx.Rngs(0)


NNX_CASES = {
    "flax.nnx.Linear": (lambda: nnx.Linear(300, 70, rngs=rngs()),
                        {"kernel": ("linear.kernel", (300, 70), False)}),
    "flax.nnx.LinearGeneral": (lambda: nnx.LinearGeneral(16, (4, 8), batch_axis={0: 6},
                                                         rngs=rngs()), {"kernel": GENERAL}),
    "flax.nnx.Einsum": (lambda: nnx.Einsum("nta,hab->nthb", (8, 32, 16), rngs=rngs()),
                        {"kernel": EINSUM}),
    "flax.nnx.Conv": (lambda: nnx.Conv(32, 64, (3, 3), strides=2, feature_group_count=4,
                                       rngs=rngs()), {"kernel": CONV}),
    "flax.nnx.ConvTranspose": (lambda: nnx.ConvTranspose(16, 48, (3, 3), strides=3,
                                                         rngs=rngs()), {"kernel": CONV_T}),
    "flax.nnx.Embed": (lambda: nnx.Embed(1000, 32, rngs=rngs()), {"embedding": EMBED}),
    **{f"flax.nnx.{name}": (
        lambda name=name: getattr(nnx, name)(16, rngs=rngs(),
                                             **({"num_groups": 4} if name == "GroupNorm"
                                                else {})),
        {"scale": ("norm.scale", None, False)}) for name in NORMS},
    # query kernel (64, 4, 8): (64, 32); out kernel (4, 8, 48): (32, 48)
    "flax.nnx.MultiHeadAttention": (lambda: nnx.MultiHeadAttention(
        4, 64, qkv_features=32, out_features=48, decode=False, rngs=rngs()), {
        "query.kernel": ("linear_general.kernel", (64, 32), False),
        "out.kernel": ("linear_general.kernel", (32, 48), False)}),
    "flax.nnx.LSTMCell": (lambda: nnx.LSTMCell(20, 50, rngs=rngs()), {
        "ii.kernel": ("recurrent.kernel", (20, 50), False),
        "hf.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    # dense_i (20, 200): 4 gates of (20, 50)
    "flax.nnx.OptimizedLSTMCell": (lambda: nnx.OptimizedLSTMCell(20, 50, rngs=rngs()), {
        "dense_i.kernel": ("recurrent.kernel", (20, 50), True),
        "dense_h.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "flax.nnx.GRUCell": (lambda: nnx.GRUCell(30, 40, rngs=rngs()), {
        "dense_i.kernel": ("recurrent.kernel", (30, 40), True)}),
    "flax.nnx.SimpleCell": (lambda: nnx.SimpleCell(20, 50, rngs=rngs()), {
        "dense_i.kernel": ("recurrent.kernel", (20, 50), False),
        "dense_h.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "flax.nnx.RNN": (lambda: nnx.RNN(nnx.LSTMCell(20, 50, rngs=rngs())), {
        "cell.ii.kernel": ("recurrent.kernel", (20, 50), False)}),
    # issue 17: layers the introspection test found
    "flax.nnx.Bidirectional": (lambda: nnx.Bidirectional(
        nnx.RNN(nnx.GRUCell(30, 40, rngs=rngs())), nnx.RNN(nnx.GRUCell(30, 40, rngs=rngs())),
        rngs=rngs()), {
        "forward_rnn.cell.dense_i.kernel": ("recurrent.kernel", (30, 40), True),
        "backward_rnn.cell.dense_i.kernel": ("recurrent.kernel", (30, 40), True)}),
    "flax.nnx.PReLU": (lambda: nnx.PReLU(), {
        "negative_slope": ("prelu.negative_slope", None, False)}),
    # x @ lora_a @ lora_b: a 300 -> 8 map, then 8 -> 70
    "flax.nnx.LoRA": (lambda: nnx.LoRA(300, 8, 70, rngs=rngs()), {
        "lora_a": ("lora.a", (300, 8), False), "lora_b": ("lora.b", (8, 70), False)}),
    "flax.nnx.LoRALinear": (lambda: nnx.LoRALinear(300, 70, lora_rank=8, rngs=rngs()), {
        "kernel": ("linear.kernel", (300, 70), False),
        "lora.lora_a": ("lora.a", (300, 8), False)}),
    "flax.nnx.SpectralNorm": (lambda: nnx.SpectralNorm(nnx.Linear(300, 70, rngs=rngs()),
                                                       rngs=rngs()), {
        "layer_instance.kernel": ("linear.kernel", (300, 70), False),
        "batch_stats.('kernel', 'u')": ("spectral_norm.u", None, False),
        "batch_stats.('kernel', 'sigma')": ("spectral_norm.sigma", None, False)}),
    "flax.nnx.WeightNorm": (lambda: nnx.WeightNorm(nnx.Linear(300, 70, rngs=rngs()),
                                                   rngs=rngs()), {
        "layer_instance.kernel": ("linear.kernel", (300, 70), False),
        "scales.('kernel',)": ("weight_norm.scale", None, False)}),
}


def carry_and_input(cell, features: int, batch: int = 2):
    """A cell's example inputs: ``(carry, x)``."""
    x = jnp.ones((batch, features))
    return cell.initialize_carry(jax.random.key(0), x.shape), x


LINEN_CASES = {
    "flax.linen.Dense": (lambda: (nn.Dense(70), jnp.ones((2, 300))),
                         {"kernel": ("linear.kernel", (300, 70), False)}),
    "flax.linen.DenseGeneral": (lambda: (nn.DenseGeneral((4, 8), batch_dims=(0,)),
                                         jnp.ones((6, 16))), {"kernel": GENERAL}),
    "flax.linen.Einsum": (lambda: (nn.Einsum((8, 32, 16), "nta,hab->nthb"),
                                   jnp.ones((2, 5, 32))), {"kernel": EINSUM}),
    "flax.linen.Conv": (lambda: (nn.Conv(64, (3, 3), strides=2, feature_group_count=4),
                                 jnp.ones((1, 8, 8, 32))), {"kernel": CONV}),
    "flax.linen.ConvTranspose": (lambda: (nn.ConvTranspose(48, (3, 3), strides=(3, 3)),
                                          jnp.ones((1, 4, 4, 16))), {"kernel": CONV_T}),
    "flax.linen.Embed": (lambda: (nn.Embed(1000, 32), jnp.zeros((2, 5), jnp.int32)),
                         {"embedding": EMBED}),
    **{f"flax.linen.{name}": (
        lambda name=name: (getattr(nn, name)(**({"num_groups": 4} if name == "GroupNorm"
                                                else {"use_running_average": False}
                                                if name == "BatchNorm" else {})),
                           jnp.ones((2, 3, 16))),
        {"scale": ("norm.scale", None, False)}) for name in NORMS},
    **{f"flax.linen.{name}": (lambda name=name: (getattr(nn, name)(
        num_heads=4, qkv_features=32, out_features=48), jnp.ones((2, 5, 64))), {
        "query.kernel": ("linear_general.kernel", (64, 32), False),
        "out.kernel": ("linear_general.kernel", (32, 48), False)})
        for name in ("MultiHeadDotProductAttention", "MultiHeadAttention")},
    "flax.linen.LSTMCell": (lambda: (cell := nn.LSTMCell(50), *carry_and_input(cell, 20)), {
        "ii.kernel": ("recurrent.kernel", (20, 50), False),
        "hi.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "flax.linen.OptimizedLSTMCell": (lambda: (cell := nn.OptimizedLSTMCell(50),
                                              *carry_and_input(cell, 20)), {
        "if.kernel": ("recurrent.kernel", (20, 50), False),
        "ho.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "flax.linen.recurrent.DenseParams": (lambda: (nn.recurrent.DenseParams(70),
                                                  jnp.ones((2, 300))),
                                         {"kernel": ("linear.kernel", (300, 70), False)}),
    "flax.linen.GRUCell": (lambda: (cell := nn.GRUCell(40), *carry_and_input(cell, 30)), {
        "ir.kernel": ("recurrent.kernel", (30, 40), False),
        "hn.kernel": ("recurrent.recurrent_kernel", (40, 40), False)}),
    "flax.linen.SimpleCell": (lambda: (cell := nn.SimpleCell(50), *carry_and_input(cell, 20)), {
        "i.kernel": ("recurrent.kernel", (20, 50), False),
        "h.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "flax.linen.MGUCell": (lambda: (cell := nn.MGUCell(50), *carry_and_input(cell, 20)), {
        "in.kernel": ("recurrent.kernel", (20, 50), False),
        "hf.kernel": ("recurrent.recurrent_kernel", (50, 50), False)}),
    "flax.linen.RNN": (lambda: (nn.RNN(nn.LSTMCell(50)), jnp.ones((2, 5, 20))), {
        "cell.ii.kernel": ("recurrent.kernel", (20, 50), False)}),
    # issue 17: layers the introspection test found
    "flax.linen.Bidirectional": (lambda: (nn.Bidirectional(nn.RNN(nn.GRUCell(40)),
                                                           nn.RNN(nn.GRUCell(40))),
                                          jnp.ones((2, 5, 30))), {
        "forward_rnn.cell.ir.kernel": ("recurrent.kernel", (30, 40), False),
        "backward_rnn.cell.hn.kernel": ("recurrent.recurrent_kernel", (40, 40), False)}),
    "flax.linen.SelfAttention": (lambda: (nn.SelfAttention(
        num_heads=4, qkv_features=32, out_features=48), jnp.ones((2, 5, 64))), {
        "query.kernel": ("linear_general.kernel", (64, 32), False),
        "out.kernel": ("linear_general.kernel", (32, 48), False)}),
    # 'SAME' padding, stride 2 on 8 x 8: 4 x 4 output positions, kernel (4, 4, 9 * 4, 6);
    # an output reads 3 * 3 * 4 = 36 inputs, an input feeds 6 * 9 / 4 = 13.5 -> 14
    "flax.linen.ConvLocal": (lambda: (nn.ConvLocal(6, (3, 3), strides=2),
                                      jnp.ones((1, 8, 8, 4))), {
        "kernel": ("conv_local.kernel", (36, 14), True)}),
    # ih (3, 3, 4, 4 * 6) and hh (3, 3, 6, 4 * 6): per gate 6 outputs of 3 * 3 * channels
    "flax.linen.ConvLSTMCell": (lambda: (cell := nn.ConvLSTMCell(6, (3, 3)),
                                         cell.initialize_carry(jax.random.key(0),
                                                               (2, 5, 5, 4)),
                                         jnp.ones((2, 5, 5, 4))), {
        "ih.kernel": ("recurrent.kernel", (36, 54), True),
        "hh.kernel": ("recurrent.recurrent_kernel", (54, 54), True)}),
    "flax.linen.PReLU": (lambda: (nn.PReLU(), jnp.ones((2, 8))), {
        "negative_slope": ("prelu.negative_slope", None, False)}),
    # the kernel is stored normalized (see test_linen_weight_norm_stores_unit_columns)
    "flax.linen.WeightNorm": (lambda: (nn.WeightNorm(nn.Dense(70)), jnp.ones((2, 300))), {
        "layer_instance.kernel": ("linear.kernel", (300, 70), False),
        "layer_instance/kernel/scale": ("weight_norm.scale", None, False)}),
}


@functools.cache
def nnx_case(name: str):
    module = NNX_CASES[name][0]()
    return module, layers.walk("nnx", module)


@functools.cache
def linen_case(name: str):
    module, *inputs = LINEN_CASES[name][0]()
    variables = module.init(jax.random.key(0), *inputs)
    return module, variables, inputs


def test_every_registered_flax_type_has_a_case():
    assert set(layers.registered("nnx")) == set(NNX_CASES)
    assert set(layers.registered("linen")) == set(LINEN_CASES)


@pytest.mark.parametrize("name", sorted(NNX_CASES))
def test_nnx_layer(name):
    module, params = nnx_case(name)
    listing = nnx.to_flat_state(nnx.state(module, nnx.Not(nnx.RngState)))
    assert {p.name: p.shape for p in params} == {  # WeightNorm's scales are plain arrays
        ".".join(map(str, path)): tuple(variable.get_value().shape
                                        if hasattr(variable, "get_value") else variable.shape)
        for path, variable in listing}
    named = by_name(params)
    for path, (role, fans, mismatch) in NNX_CASES[name][1].items():
        assert_fans(named[path], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None for p in params)


@pytest.mark.parametrize("name", sorted(LINEN_CASES))
def test_linen_layer(name):
    from flax.traverse_util import flatten_dict

    module, variables, inputs = linen_case(name)
    params = layers.walk("linen", (module, variables, *inputs))
    listing = {".".join(path if collection == "params" else (collection, *path)): value.shape
               for collection, tree in variables.items()
               for path, value in flatten_dict(tree).items()}
    assert {p.name: p.shape for p in params} == listing
    named = by_name(params)
    for path, (role, fans, mismatch) in LINEN_CASES[name][1].items():
        assert_fans(named[path], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None for p in params)


def test_linen_without_inputs_finds_the_root_and_auto_named_children():
    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(64, (3, 3), strides=2, feature_group_count=4)(x)
            return nn.Dense(5, name="head")(x)

    model = Model()
    variables = model.init(jax.random.key(0), jnp.ones((1, 8, 8, 32)))
    named = by_name(layers.walk("linen", (model, variables)))
    # Conv_0 is found by its automatic name, strides and groups then taken as 1 (said in
    # the note): (8 * 9, 64 * 9) instead of the layer's (8 * 9, 16 * 9 / 4)
    assert_fans(named["Conv_0.kernel"], (72, 576), role="conv.kernel")
    assert "automatic name" in named["Conv_0.kernel"].role.note
    assert named["head.kernel"].role.role == "unknown.kernel"  # named: no type without inputs
    with_inputs = by_name(layers.walk("linen", (model, variables, jnp.ones((1, 8, 8, 32)))))
    assert_fans(with_inputs["Conv_0.kernel"], (72, 36), role="conv.kernel")
    assert with_inputs["head.kernel"].role.role == "linear.kernel"


def test_lecun_and_embed_defaults_follow_the_initializer_fans():
    """lecun_normal with fan_in 96 (batch axis counted) on the general dense kernel, 256
    on the einsum kernel, 144 on the strided transposed convolution; Embed's N(0, 1/32)."""
    for name, path, fan_in in (("flax.nnx.LinearGeneral", "kernel", 96),
                               ("flax.nnx.Einsum", "kernel", 256),
                               ("flax.nnx.ConvTranspose", "kernel", 144)):
        param = by_name(nnx_case(name)[1])[path]
        assert param.role.default.std == pytest.approx(math.sqrt(1 / fan_in) / TRUNCATED)
        assert param.role.default.high == pytest.approx(2 * param.role.default.std)
        assert_law(param.role.default, param.array, name)
        assert_not_law(param.role.semantic_default, param.array, name)
    embedding = by_name(nnx_case("flax.nnx.Embed")[1])["embedding"]
    assert embedding.role.default.std == pytest.approx(math.sqrt(1 / 32))
    assert_not_law(embedding.role.semantic_default, embedding.array, "embed")


def test_recurrent_kernels_are_orthogonal():
    named = by_name(nnx_case("flax.nnx.OptimizedLSTMCell")[1])
    recurrent = named["dense_h.kernel"]
    assert recurrent.role.default is None and "orthogonal" in recurrent.role.note
    np.testing.assert_allclose(recurrent.array @ recurrent.array.T, np.eye(50), atol=1e-5)


def test_linen_conv_local_default_counts_the_output_positions():
    """A finding: ConvLocal's default lecun_normal reads its (4, 4, 36, 6) kernel with the
    16 output positions as a receptive field, fan_in 16 * 36 = 576 instead of the 36
    inputs an output reads: a standard deviation four times smaller than lecun_normal's."""
    module, variables, inputs = linen_case("flax.linen.ConvLocal")
    kernel = by_name(layers.walk("linen", (module, variables, *inputs)))["kernel"]
    assert kernel.role.framework_fans == (576, 96)
    assert kernel.role.default.std == pytest.approx(math.sqrt(1 / 576) / TRUNCATED)
    assert kernel.role.law_mismatch
    assert_law(kernel.role.default, kernel.array, "ConvLocal")
    assert_not_law(kernel.role.semantic_default, kernel.array, "ConvLocal")


def test_linen_weight_norm_stores_unit_columns():
    """linen's WeightNorm stores its Dense kernel l2-normalized at init (each of the 70
    columns has norm 1), so no law is claimed for it; nnx's keeps lecun_normal's draw."""
    module, variables, inputs = linen_case("flax.linen.WeightNorm")
    kernel = by_name(layers.walk("linen", (module, variables, *inputs)))["layer_instance.kernel"]
    assert kernel.role.default is None and "l2-normalized" in kernel.role.note
    np.testing.assert_allclose(np.linalg.norm(kernel.array, axis=0), np.ones(70), rtol=1e-5)
    nnx_kernel = by_name(nnx_case("flax.nnx.WeightNorm")[1])["layer_instance.kernel"]
    assert nnx_kernel.role.default is not None
    assert_law(nnx_kernel.role.default, nnx_kernel.array, "nnx WeightNorm kernel")


def test_linen_mgu_forget_bias_is_ones():
    module, variables, inputs = linen_case("flax.linen.MGUCell")
    named = by_name(layers.walk("linen", (module, variables, *inputs)))
    assert named["if.bias"].role.default.value == 1.0
    assert np.all(named["if.bias"].array == 1.0)


def test_nnx_shared_variable_is_one_param_with_both_names():
    class Tied(nnx.Module):  # the Linear case's shapes: their initializers are compiled
        def __init__(self):
            self.body = nnx.Linear(300, 70, rngs=rngs())
            self.head = nnx.Linear(300, 70, use_bias=False, rngs=rngs())
            self.head.kernel = self.body.kernel

    params = layers.walk("nnx", Tied())
    assert [p.names for p in params if len(p.names) > 1] == [("body.kernel", "head.kernel")]
    assert len(params) == 2


def test_build_layer_flax():
    make = layers.build_layer("nnx", "Linear", {"in_features": 3, "out_features": 2})
    assert make(rngs()).kernel.shape == (3, 2)
    module, example = layers.build_layer("linen", "Embed", {"num_embeddings": 1000,
                                                            "features": 32})
    assert example.shape == (2, 5) and example.dtype == jnp.int32
    module.init(jax.random.key(0), example)
    module, example = layers.build_layer("linen", "Conv", {"features": 4,
                                                           "kernel_size": (3, 3)})
    assert example.shape == (2, 16, 16, 4)
    cell, carry, example = layers.build_layer("linen", "GRUCell", {"features": 40,
                                                                   "input_shape": (2, 30)})
    assert isinstance(cell, nn.GRUCell)
    assert example.shape == (2, 30) and carry.shape == (2, 40)
    with pytest.raises(ValueError, match="does not take"):
        layers.build_layer("nnx", "Linear", {"in_features": 3})
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("linen", "Dropout", {})
