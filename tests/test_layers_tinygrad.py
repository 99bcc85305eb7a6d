"""The layer registry on tinygrad: every registered layer type built where its semantic fans
differ from the ones tinygrad's scales stand for (grouped and strided convolutions,
transposed convolutions, embeddings, recurrent inputs), walked, and checked against
tinygrad's own listing (``get_state_dict``), hand-derived fans and the defaults read in
tinygrad's source; the introspection of ``tinygrad.nn``'s public layers; the audit's
tinygrad builders."""

from __future__ import annotations

import inspect
import math
import types

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

tinygrad = pytest.importorskip("tinygrad", reason="tinygrad is not installed: the tinygrad "
                                                  "registry cannot be exercised")

from tinygrad import Tensor, dtypes, nn  # noqa: E402
from tinygrad.nn.state import get_state_dict  # noqa: E402

from verify.adapters.tinygrad import cpu_compiler_missing, on_cpu  # noqa: E402
from verify.layers import tinygrad_layers  # noqa: E402

NO_COMPILER = cpu_compiler_missing()
needs_cpu = pytest.mark.skipif(NO_COMPILER is not None, reason=NO_COMPILER or "")

NORM = {"weight": ("norm.scale", None, False), "bias": ("norm.bias", None, False)}

# name -> (builder, {tensor: (role, semantic fans, fan mismatch)}). tinygrad stores convs
# (out, in/groups, *k), transposed (in, out/groups, *k), LSTM gates on axis 0.
TINYGRAD_CASES = {
    "tinygrad.nn.Linear": (lambda: nn.Linear(300, 70),
                           {"weight": ("linear.weight", (300, 70), False)}),
    # (120, 20, 5): fan_in 20 * 5, fan_out 40 * 5 / 2; tinygrad's scale uses 60 * 5
    "tinygrad.nn.Conv1d": (lambda: nn.Conv1d(60, 120, 5, stride=2, groups=3),
                           {"weight": ("conv.weight", (100, 100), True)}),
    # (64, 8, 3, 3): fan_in 8 * 9, fan_out 16 * 9 / 4; tinygrad's scale uses 32 * 9
    "tinygrad.nn.Conv2d": (lambda: nn.Conv2d(32, 64, 3, stride=2, groups=4),
                           {"weight": ("conv.weight", (72, 36), True)}),
    # (40, 30, 4): fan_in 20 * 4 / 2, fan_out 30 * 4; tinygrad's scale uses 40 * 4
    "tinygrad.nn.ConvTranspose1d": (lambda: nn.ConvTranspose1d(40, 60, 4, stride=2, groups=2),
                                    {"weight": ("conv_transpose.weight", (40, 120), True)}),
    "tinygrad.nn.ConvTranspose2d": (lambda: nn.ConvTranspose2d(16, 48, 3, stride=3),
                                    {"weight": ("conv_transpose.weight", (16, 432), True)}),
    "tinygrad.nn.Embedding": (lambda: nn.Embedding(1000, 32),
                              {"weight": ("embedding.weight", (1, 32), True)}),
    "tinygrad.nn.LSTMCell": (lambda: nn.LSTMCell(20, 50), {
        "weight_ih": ("recurrent.weight_ih", (20, 50), True),
        "weight_hh": ("recurrent.weight_hh", (50, 50), False),
        "bias_ih": ("recurrent.bias_ih", None, False)}),
    "tinygrad.nn.BatchNorm": (lambda: nn.BatchNorm(16), {
        **NORM, "running_var": ("norm.running_var", None, False),
        "num_batches_tracked": ("norm.num_batches_tracked", None, False)}),
    "tinygrad.nn.GroupNorm": (lambda: nn.GroupNorm(4, 16), NORM),
    "tinygrad.nn.InstanceNorm": (lambda: nn.InstanceNorm(16), NORM),
    "tinygrad.nn.LayerNorm": (lambda: nn.LayerNorm(16), NORM),
    "tinygrad.nn.LayerNorm2d": (lambda: nn.LayerNorm2d(16), NORM),
    "tinygrad.nn.RMSNorm": (lambda: nn.RMSNorm(16), {"weight": ("norm.scale", None, False)}),
}


def test_every_registered_tinygrad_type_has_a_case():
    assert set(layers.registered("tinygrad")) == set(TINYGRAD_CASES)


@needs_cpu
@pytest.mark.parametrize("name", sorted(TINYGRAD_CASES))
def test_tinygrad_layer(name):
    build, expected = TINYGRAD_CASES[name]
    with on_cpu():
        Tensor.manual_seed(0)
        module = build()
    params = layers.walk("tinygrad", module)
    assert {n: p.shape for p in params for n in p.names} == {
        key: tuple(value.shape) for key, value in get_state_dict(module).items()}
    named = by_name(params)
    for tensor, (role, fans, mismatch) in expected.items():
        assert_fans(named[tensor], fans, role=role, mismatch=mismatch)
    assert assert_defaults_hold(params) == sum(p.role.default is not None for p in params)


@needs_cpu
def test_an_ungrouped_unstrided_conv_has_no_fan_mismatch():
    with on_cpu():
        weight = by_name(layers.walk("tinygrad", nn.Conv2d(16, 32, 3)))["weight"]
    assert_fans(weight, (144, 288), role="conv.weight", mismatch=False)


@needs_cpu
def test_tinygrad_mismatches_are_real():
    """tinygrad's scales stand for a fan-in of 32 * 9 on a 4-group convolution (semantic
    8 * 9), of 16 * 9 on a stride-3 transposed convolution (semantic 16), of
    vocab + dims on an embedding's glorot_uniform (semantic 1 + dims), of hidden on a
    recurrent input (400 vs 20): the tensors follow tinygrad's, not the semantic ones."""
    cases = [(lambda: nn.Conv2d(32, 64, 3, groups=4), "weight", 1 / math.sqrt(288)),
             (lambda: nn.ConvTranspose2d(16, 48, 3, stride=3), "weight", 1 / math.sqrt(144)),
             (lambda: nn.Embedding(1000, 32), "weight", math.sqrt(6 / 1032)),
             (lambda: nn.LSTMCell(20, 400), "weight_ih", 1 / math.sqrt(400))]
    for build, tensor, bound in cases:
        with on_cpu():
            Tensor.manual_seed(1)
            param = by_name(layers.walk("tinygrad", build()))[tensor]
        assert param.role.default.high == pytest.approx(bound)
        assert_law(param.role.default, param.array, tensor)
        assert_not_law(param.role.semantic_default, param.array, tensor)


class Tied:
    def __init__(self) -> None:
        self.embed = nn.Embedding(100, 16)
        self.norm = nn.BatchNorm(16)
        self.blocks = [nn.Linear(16, 16), {"last": nn.Linear(16, 8, bias=False)}]
        self.head = nn.Linear(16, 100, bias=False)
        self.head.weight = self.embed.weight
        self.scale = Tensor.ones(16)


@needs_cpu
def test_tinygrad_tied_nested_and_buffers():
    with on_cpu():
        params = layers.walk("tinygrad", Tied())
    named = by_name(params)
    assert named["embed.weight"].names == ("embed.weight", "head.weight")
    assert named["norm.running_mean"].buffer and not named["norm.running_mean"].trainable
    assert named["norm.weight"].trainable and not named["norm.weight"].buffer
    assert named["blocks.0.weight"].layer == "tinygrad.nn.Linear"
    assert named["blocks.1.last.weight"].role.role == "linear.weight"
    assert named["blocks.1.last.weight"].role.semantic_fans == (16, 8)
    assert named["scale"].role.role == "unknown.scale"
    assert len(params) == 10  # 1 + 5 (norm) + 2 + 1 + 1: the tied weight once


@needs_cpu
def test_tinygrad_bfloat16_is_read_as_float32():
    with on_cpu():
        module = nn.Linear(4, 3)
        module.weight = module.weight.cast(dtypes.bfloat16)
        weight = by_name(layers.walk("tinygrad", module))["weight"]
    assert weight.dtype == "dtypes.bfloat16" and weight.array.dtype == np.float32


@needs_cpu
def test_build_layer_tinygrad():
    built = layers.build_layer("tinygrad", "nn.Linear", {"in_features": 3, "out_features": 2})
    assert isinstance(built, nn.Linear)
    conv = layers.build_layer("tinygrad", "nn.Conv1d", {"in_channels": 4, "out_channels": 2,
                                                       "kernel_size": 3})
    assert isinstance(conv, nn.Conv2d) and tuple(conv.weight.shape) == (2, 4, 3)
    with pytest.raises(ValueError, match="not in the registry"):
        layers.build_layer("tinygrad", "nn.Dropout", {})
    with pytest.raises(ValueError, match="cannot build tinygrad"):
        layers.build_layer("tinygrad", "nn.Linear", {"in_features": 3})


def test_a_single_tensor_is_not_a_model():
    with pytest.raises(ValueError, match="single Tensor"):
        layers.walk("tinygrad", Tensor.zeros(2))


# --- introspection: every public layer of tinygrad.nn is registered, or says why not ------

def public_layers(namespace: types.ModuleType) -> dict[str, object]:
    """The public classes and layer-building functions ``namespace`` defines (not those it
    imports: ``Tensor``, ``UOp``), by the names it exports (``BatchNorm2d`` is
    ``BatchNorm``)."""
    return {name: value for name, value in vars(namespace).items()
            if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", "") == namespace.__name__}


def uncatalogued(namespace: types.ModuleType) -> list[str]:
    """Public layers of ``namespace`` neither registered nor listed with a reason."""
    listed = set(tinygrad_layers.NOT_COVERED) | set(tinygrad_layers.WITHOUT_WEIGHTS)
    return sorted(name for name, value in public_layers(namespace).items()
                  if f"tinygrad.nn.{value.__name__}" not in tinygrad_layers.HANDLERS
                  and value.__name__ not in listed)


def test_every_public_tinygrad_layer_is_registered_or_has_a_reason():
    found = public_layers(nn)
    assert {"Linear", "Conv2d", "Conv1d", "Embedding", "LSTMCell", "BatchNorm2d"} <= set(found)
    assert uncatalogued(nn) == []
    for reason in {**tinygrad_layers.NOT_COVERED, **tinygrad_layers.WITHOUT_WEIGHTS}.values():
        assert reason.strip()


@needs_cpu
def test_layers_listed_without_weights_have_none():
    for name in tinygrad_layers.WITHOUT_WEIGHTS:
        try:
            built = getattr(nn, name)()
        except TypeError:
            continue  # needs arguments the table cannot guess
        assert get_state_dict(built) == {}, name


def test_the_introspection_finds_an_unregistered_layer():
    """The check can fail: a new class with a weight in tinygrad.nn is reported."""

    class Bilinear:
        def __init__(self) -> None:
            self.weight = Tensor.zeros(2, 3, 4)

    Bilinear.__module__ = "tinygrad.nn"
    fake = types.ModuleType("tinygrad.nn")
    fake.Linear, fake.Bilinear, fake.Tensor = nn.Linear, Bilinear, Tensor
    assert uncatalogued(fake) == ["Bilinear"]


# --- the audit's builders ----------------------------------------------------------------

def _two_layers(width: int = 8):
    return [nn.Linear(width, width), nn.Linear(width, 4)]


def _reseeds():
    Tensor.manual_seed(0)  # ignores the audit's seed
    return nn.Linear(8, 8)


@needs_cpu
def test_builders_are_seeded_and_realized():
    from verify.audit.builders import builder_of, resolve

    builder = resolve("tinygrad:nn.Linear", kwargs={"in_features": 6, "out_features": 5})
    first, again, other = builder.build(3), builder.build(3), builder.build(4)
    assert isinstance(first, nn.Linear) and first.weight.device == "CPU"
    np.testing.assert_array_equal(first.weight.numpy(), again.weight.numpy())
    assert not np.array_equal(first.weight.numpy(), other.weight.numpy())
    model = builder_of(_two_layers, api="tinygrad", kwargs={"width": 6}).build(1)
    assert tuple(model[0].weight.shape) == (6, 6)
    assert model[0].weight.uop.has_buffer_identity()  # realized by the build


@needs_cpu
def test_a_builder_without_tensors_is_refused():
    from verify.audit.builders import BuildError, check_model

    with pytest.raises(BuildError, match="holds no tinygrad Tensor"):
        check_model("tinygrad", object(), "m:f")
    check_model("tinygrad", nn.Linear(2, 2), "m:f")


@needs_cpu
def test_audit_of_a_user_builder():
    from verify.audit import audit_model

    passed = audit_model(_two_layers, api="tinygrad", seed=1)
    assert passed.verdict == "pass", passed.table()
    reseeded = audit_model(_reseeds, api="tinygrad", seed=1)
    assert "seeding" in {finding.kind for finding in reseeded.findings}, reseeded.table()
