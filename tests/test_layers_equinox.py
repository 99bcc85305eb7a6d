"""The layer registry on Equinox: every registered layer type built where its semantic
fans differ from the ones Equinox's bounds stand for (strided transposed convolutions,
embeddings, recurrent inputs), walked, and checked against Equinox's own listing of its
arrays, hand-derived fans and the defaults read in Equinox's source; and the introspection
of ``equinox.nn``: a public class is registered, or listed with the reason it has no
handler."""

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
from verify.layers import equinox_layers

eqx = pytest.importorskip("equinox", reason="equinox is not installed: the equinox registry "
                                            "cannot be exercised")
jax = pytest.importorskip("jax")
nn = eqx.nn

KEY = jax.random.key(0)
NORM = {"weight": ("norm.scale", None, False), "bias": ("norm.bias", None, False)}

# name -> (builder, {tensor: (role, semantic fans, fan mismatch)}). Equinox stores weights
# (out, in / groups, *k), also for transposed convolutions; gates on axis 0.
CASES = {
    "equinox.nn.Linear": (lambda: nn.Linear(300, 70, key=KEY),
                          {"weight": ("linear.weight", (300, 70), False)}),
    # (120, 20, 5), stride 2: fan_in 20 * 5, fan_out 40 * 5 / 2
    "equinox.nn.Conv1d": (lambda: nn.Conv1d(60, 120, 5, stride=2, groups=3, key=KEY),
                          {"weight": ("conv.weight", (100, 100), False)}),
    "equinox.nn.Conv2d": (lambda: nn.Conv2d(32, 64, 3, stride=2, groups=4, key=KEY),
                          {"weight": ("conv.weight", (72, 36), False)}),
    "equinox.nn.Conv3d": (lambda: nn.Conv3d(8, 16, 3, stride=(1, 2, 2), groups=2, key=KEY),
                          {"weight": ("conv.weight", (108, 54), False)}),
    "equinox.nn.Conv": (lambda: nn.Conv(2, 32, 64, 3, stride=2, groups=4, key=KEY),
                        {"weight": ("conv.weight", (72, 36), False)}),
    # (60, 20, 4), groups 2, stride 2: fan_in 20 * 4 / 2, fan_out 30 * 4; Equinox's bound
    # stands for 20 * 4
    "equinox.nn.ConvTranspose1d": (lambda: nn.ConvTranspose1d(40, 60, 4, stride=2, groups=2,
                                                              key=KEY),
                                   {"weight": ("conv_transpose.weight", (40, 120), True)}),
    "equinox.nn.ConvTranspose2d": (lambda: nn.ConvTranspose2d(16, 48, 3, stride=3, key=KEY),
                                   {"weight": ("conv_transpose.weight", (16, 432), True)}),
    "equinox.nn.ConvTranspose3d": (lambda: nn.ConvTranspose3d(4, 8, 2, stride=2, key=KEY),
                                   {"weight": ("conv_transpose.weight", (4, 64), True)}),
    "equinox.nn.ConvTranspose": (lambda: nn.ConvTranspose(2, 16, 48, 3, stride=1, key=KEY),
                                 {"weight": ("conv_transpose.weight", (144, 432), False)}),
    # N(0, 1): no fan in the law, so no mismatch
    "equinox.nn.Embedding": (lambda: nn.Embedding(1000, 32, key=KEY),
                             {"weight": ("embedding.weight", (1, 32), False)}),
    # U(+-1/sqrt(hidden)) for every tensor: the input map's fan-in is 30, not 40
    "equinox.nn.GRUCell": (lambda: nn.GRUCell(30, 40, key=KEY), {
        "weight_ih": ("recurrent.weight_ih", (30, 40), True),
        "weight_hh": ("recurrent.weight_hh", (40, 40), False)}),
    "equinox.nn.LSTMCell": (lambda: nn.LSTMCell(20, 50, key=KEY), {
        "weight_ih": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh": ("recurrent.weight_hh", (50, 50), False)}),
    "equinox.nn.LayerNorm": (lambda: nn.LayerNorm(16), NORM),
    "equinox.nn.RMSNorm": (lambda: nn.RMSNorm(16), NORM),
    "equinox.nn.GroupNorm": (lambda: nn.GroupNorm(4, 16), NORM),
    "equinox.nn.BatchNorm": (lambda: nn.BatchNorm(16, "batch", mode="batch"), {
        **NORM, "batch_state_index.init.1": ("norm.running_var", None, False)}),
    "equinox.nn.PReLU": (lambda: nn.PReLU(), {"negative_slope": ("prelu.weight", None, False)}),
    "equinox.nn.SpectralNorm": (lambda: nn.SpectralNorm(nn.Linear(20, 30, key=KEY), "weight",
                                                        key=KEY), {
        "layer.weight": ("linear.weight", (20, 30), False),
        "uv_index.init.0": ("spectral_norm.u", None, False)}),
    "equinox.nn.WeightNorm": (lambda: nn.WeightNorm(nn.Linear(20, 30, key=KEY)), {
        "layer.weight": ("linear.weight", (20, 30), False),
        "g": ("weight_norm.g", None, False)}),
    # query 64 -> 4 heads of 16: (64, 64); key 32 -> (32, 64); value 48; output 64 -> 64
    "equinox.nn.MultiheadAttention": (lambda: nn.MultiheadAttention(
        4, 64, key_size=32, value_size=48, key=KEY), {
        "query_proj.weight": ("linear.weight", (64, 64), False),
        "key_proj.weight": ("linear.weight", (32, 64), False),
        "value_proj.weight": ("linear.weight", (48, 64), False),
        "output_proj.weight": ("linear.weight", (64, 64), False)}),
    "equinox.nn.MLP": (lambda: nn.MLP(20, 10, 64, 2, key=KEY), {
        "layers.0.weight": ("linear.weight", (20, 64), False),
        "layers.2.weight": ("linear.weight", (64, 10), False)}),
    "equinox.nn.Sequential": (lambda: nn.Sequential([nn.Linear(20, 30, key=KEY),
                                                     nn.PReLU()]), {
        "layers.0.weight": ("linear.weight", (20, 30), False),
        "layers.1.negative_slope": ("prelu.weight", None, False)}),
}

# the classes of WITHOUT_WEIGHTS that the test can build without arguments it cannot guess
BUILDABLE = {
    "equinox.nn.Dropout": lambda: nn.Dropout(0.1),
    "equinox.nn.Identity": lambda: nn.Identity(),
    "equinox.nn.Lambda": lambda: nn.Lambda(jax.nn.relu),
    "equinox.nn.RotaryPositionalEmbedding": lambda: nn.RotaryPositionalEmbedding(16),
    **{f"equinox.nn.{kind}Pool{rank}d": (lambda kind=kind, rank=rank: getattr(
        nn, f"{kind}Pool{rank}d")(2)) for kind in ("Avg", "Max") for rank in (1, 2, 3)},
    **{f"equinox.nn.{kind}Pool{rank}d": (lambda kind=kind, rank=rank: getattr(
        nn, f"{kind}Pool{rank}d")((2,) * rank)) for kind in ("AdaptiveAvg", "AdaptiveMax")
       for rank in (1, 2, 3)},
}


def public_classes() -> set[str]:
    """Every public module class of ``equinox.nn``, found by walking the namespace."""
    return set(equinox_layers.public_layer_classes())


def arrays_of(module: object) -> list:
    return jax.tree_util.tree_leaves(eqx.filter(module, eqx.is_array))


def test_every_public_class_is_registered_or_has_a_reason():
    registered = set(layers.registered("equinox"))
    without = set(equinox_layers.WITHOUT_WEIGHTS)
    not_covered = set(equinox_layers.NOT_COVERED)
    assert not (registered & without) and not (registered & not_covered) \
        and not (without & not_covered)
    missing = public_classes() - registered - without - not_covered
    assert not missing, f"equinox.nn classes with neither a handler nor a reason: {missing}"
    assert not (registered | without | not_covered) - public_classes(), "stale names"


@pytest.mark.parametrize("name", sorted(BUILDABLE))
def test_classes_listed_without_weights_hold_no_arrays(name):
    assert name in equinox_layers.WITHOUT_WEIGHTS
    assert arrays_of(BUILDABLE[name]()) == []


def test_classes_without_weights_are_buildable_here_or_abstract():
    unbuilt = set(equinox_layers.WITHOUT_WEIGHTS) - set(BUILDABLE)
    assert unbuilt == {"equinox.nn.Pool", "equinox.nn.AdaptivePool", "equinox.nn.StatefulLayer"}


def test_every_registered_type_has_a_case():
    assert set(layers.registered("equinox")) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_equinox_layer(name):
    build, expected = CASES[name]
    module = build()
    params = layers.walk("equinox", module)
    # Equinox's own listing: the arrays of the pytree, once each here
    assert sorted(p.shape for p in params) == sorted(tuple(a.shape) for a in arrays_of(module))
    named = by_name(params)
    assert all(p.layer == name or p.layer.startswith("equinox.nn.") for p in params)
    for tensor, (role, fans, mismatch) in expected.items():
        assert_fans(named[tensor], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None for p in params)


def test_the_mismatches_are_real():
    """Equinox's bound stands for a fan-in of 16 * 9 = 144 on a stride-3 transposed
    convolution (semantic 16) and of hidden = 400 on a recurrent input (semantic 20): the
    tensors follow Equinox's law, not the semantic one."""
    cases = [(nn.ConvTranspose2d(16, 48, 3, stride=3, key=KEY), "weight", 1 / math.sqrt(144)),
             (nn.GRUCell(20, 400, key=KEY), "weight_ih", 1 / math.sqrt(400))]
    for module, tensor, bound in cases:
        param = by_name(layers.walk("equinox", module))[tensor]
        assert param.role.default.high == pytest.approx(bound)
        assert_law(param.role.default, param.array, tensor)
        assert_not_law(param.role.semantic_default, param.array, tensor)


def test_state_made_with_make_with_state_is_walked_as_buffers():
    model, state = nn.make_with_state(nn.BatchNorm)(16, "batch", mode="batch")
    named = by_name(layers.walk("equinox", (model, state)))
    mean = named["batch_state_index.init.0"]
    assert mean.buffer and not mean.trainable and mean.shape == (16,)
    assert named["batch_state_index.init.1"].array.min() == 1.0
    assert not named["weight"].buffer


def test_a_shared_array_is_one_tensor_with_all_its_names():
    class Tied(eqx.Module):
        first: nn.Linear
        second: nn.Linear

    linear = nn.Linear(8, 8, key=KEY)
    params = layers.walk("equinox", Tied(linear, linear))
    assert by_name(params)["first.weight"].names == ("first.weight", "second.weight")
    assert len(params) == 2


def test_an_unregistered_module_gives_unknown_roles_with_guessed_fans():
    class Mine(eqx.Module):
        kernel: jax.Array

    param, = layers.walk("equinox", Mine(jax.numpy.zeros((70, 300))))
    assert param.role.role == "unknown.kernel" and param.role.semantic_fans == (300, 70)


def test_bfloat16_is_read_as_float32():
    weight = by_name(layers.walk("equinox", nn.Linear(4, 3, dtype=jax.numpy.bfloat16,
                                                      key=KEY)))["weight"]
    assert weight.dtype == "bfloat16" and weight.array.dtype == np.float32


def test_build_layer_equinox():
    make = layers.build_layer("equinox", "nn.SpectralNorm",
                              {"layer": {"layer": "nn.Linear",
                                         "kwargs": {"in_features": 3, "out_features": 2}},
                               "weight_name": "weight"})
    assert isinstance(make(KEY).layer, nn.Linear)
    assert isinstance(layers.build_layer("equinox", "nn.LayerNorm", {"shape": 4})(KEY),
                      nn.LayerNorm)
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("equinox", "nn.Dropout", {})
    with pytest.raises(ValueError, match="does not take"):
        layers.build_layer("equinox", "nn.Linear", {"in_features": 3, "width": 2})
