"""The Haiku adapter: every public initializer has an entry (or a stated reason), entries
draw seeded float32 tensors of the requested shape, the documented laws hold where the
battery tests them, and the deviations found are real. Expected values come from the
docstrings' formulas and scipy, never from the adapter."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

hk = pytest.importorskip("haiku", reason="dm-haiku is not installed (pip install dm-haiku)")
jax = pytest.importorskip("jax")

from verify import catalog  # noqa: E402
from verify.adapters import LibraryMissing  # noqa: E402
from verify.adapters import haiku as adapter  # noqa: E402
from verify.conformance import check_shape  # noqa: E402
from verify.laws import Exact, Orthogonal, is_statistical  # noqa: E402
from verify.matrix import conformance_row  # noqa: E402
from verify.precision.rounding import representable  # noqa: E402
from verify.schemes import InitSpec  # noqa: E402
from verify.stats import Verdict  # noqa: E402
from verify.upstream.snippets import run_snippet  # noqa: E402

ENTRIES = adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}
FAN_IN_AXES = "haiku:VarianceScaling(1.0, 'fan_in', 'normal', fan_in_axes=(1,))"
TRUNCATED_VARIANCE = stats.truncnorm(-2, 2).var()
"""The variance of a standard normal cut at -2 and 2 (0.7737)."""

# hwio: fan_in (axis -2 * kernel) differs from fan_out (axis -1 * kernel) threefold
MODERATE = {2: (48, 144), 3: (5, 16, 48), 4: (3, 3, 16, 48), 5: (2, 3, 3, 16, 48)}
LAYER_SHAPES = {"Linear": (48, 144), "Conv1D": (5, 16, 48), "Conv2D": (3, 3, 16, 48),
                "Conv3D": (2, 3, 3, 16, 48), "Conv1DTranspose": (5, 48, 16),
                "Conv2DTranspose": (3, 3, 48, 16), "Conv3DTranspose": (2, 3, 3, 48, 16),
                "DepthwiseConv2D": (5, 5, 1, 48), "Embed": (500, 64)}


def api_name(entry_name: str) -> str:
    """``VarianceScaling`` for ``haiku:VarianceScaling(2.0, 'fan_out', 'normal')``."""
    return entry_name.split(":", 1)[1].split("(", 1)[0]


def test_every_public_initializer_has_an_entry_or_a_reason():
    public = {name for name in dir(hk.initializers) if not name.startswith("_")}
    covered = {api_name(e.name) for e in ENTRIES if e.kind == "function"}
    assert public - covered == {name.split(":")[1] for name in adapter.SKIPPED}
    layers = {api_name(e.name) for e in ENTRIES if e.kind == "layer"}
    assert set(LAYER_SHAPES) <= layers


def test_entries_cite_their_documentation_and_load_through_the_catalog():
    for entry in ENTRIES:
        assert entry.library == "haiku"
        assert "dm-haiku.readthedocs.io" in entry.documented
        if isinstance(entry.claim, InitSpec) and entry.name != FAN_IN_AXES:
            assert entry.claim.layout == "hwio"
    assert [e.name for e in catalog.load(["haiku"]).entries] == [e.name for e in ENTRIES]


def test_a_missing_haiku_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "haiku", None)
    with pytest.raises(LibraryMissing, match="haiku"):
        adapter.entries()
    assert "haiku" in catalog.load(["haiku"]).skipped


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@settings(max_examples=1, deadline=None)
@given(data=st.data())
def test_samples_are_seeded_float32_of_the_requested_shape(entry, data):
    shape = data.draw(entry.shapes(), label="shape")
    target = entry.build()
    first = target(shape, 11)
    assert first.shape == shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, target(shape, 11))
    np.testing.assert_array_equal(run_snippet(target.reproduce, shape, 11), first)
    if isinstance(entry.claim, Exact):
        np.testing.assert_array_equal(first, entry.claim.expected(shape))
        return
    assert not np.array_equal(first, target(shape, 12))
    if isinstance(entry.claim, Orthogonal):
        matrix = entry.claim.matrix(first).astype(np.float64)
        gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
        np.testing.assert_allclose(gram, entry.claim.gain**2 * np.eye(len(gram)), atol=1e-5)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if is_statistical(e.claim)
                                   and e.name != FAN_IN_AXES], ids=lambda e: e.name)
def test_the_documented_law_holds_at_a_moderate_shape(entry):
    shape = LAYER_SHAPES.get(api_name(entry.name), MODERATE[4]) if entry.kind == "layer" \
        else MODERATE[4]
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict is not Verdict.FAIL, result.summary()


def test_fan_in_axes_is_not_read_on_a_matrix():
    # the docstring: fan_in_axes names 'which axes of the shape are part of the fan-in';
    # with fan_in_axes=(1,) a (16, 256) weight has fan_in 256 and variance 1/256. Haiku's
    # _compute_fans reads a 2-D shape as (fan_in, fan_out) whatever fan_in_axes says: the
    # variance is 1/16, sixteen times the documented one
    result = check_shape(BY_NAME[FAN_IN_AXES].build(), BY_NAME[FAN_IN_AXES].claim, (16, 256),
                         seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(256 / 16, rel=0.05)
    # on three axes it is read: (16, 256, 1) has fan_in 256
    three = adapter.initializer("VarianceScaling", "three axes", (1.0, "fan_in", "normal"),
                                {"fan_in_axes": (1,)})
    values = np.concatenate([three((16, 256, 1), seed).ravel() for seed in range(4)])
    assert values.var() == pytest.approx(1 / 256, rel=0.05)


def test_the_layer_default_is_not_lecun_normal():
    # hk.Linear: TruncatedNormal(stddev=1/sqrt(fan_in)), stddev of the normal before the
    # cut at two of them: variance 0.7737 / fan_in, not the 1 / fan_in of LeCun's truncated
    # normal (what Haiku's own VarianceScaling() draws)
    entry = BY_NAME["haiku:Linear"]
    result = check_shape(entry.build(), InitSpec("lecun", "truncated_normal", "hwio"),
                         (48, 144), seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(TRUNCATED_VARIANCE, rel=0.02)
    weight = entry.build()((300, 64), 1)
    assert np.abs(weight).max() <= 2 / math.sqrt(300) * (1 + 1e-6)


def test_uniform_scaling_scales_the_variance_by_one_over_fan_in():
    # the docstring says 'the variance scaled by the inverse square root of the number of
    # input units'; the limit sqrt(3 / fan_in) gives variance 1 / fan_in: quadrupling the
    # fan-in quarters the variance (it would halve it as the docstring reads)
    target = BY_NAME["haiku:UniformScaling"].build()
    small = np.concatenate([target((64, 256), s).ravel() for s in range(4)]).var()
    large = np.concatenate([target((256, 256), s).ravel() for s in range(4)]).var()
    assert small / large == pytest.approx(4.0, rel=0.05)


def test_an_asymmetric_truncated_normal_does_not_have_the_documented_mean():
    # TruncatedNormal: 'mean: The mean of the truncated normal distribution'. With bounds
    # -1 and 3 (in units of stddev, as the source applies them) the draws' mean is
    # mean + stddev * E[Z | -1 < Z < 3], not mean
    target = adapter.initializer("TruncatedNormal", "asymmetric", (),
                                 {"stddev": 0.5, "mean": 1.0, "lower": -1.0, "upper": 3.0})
    values = np.concatenate([target((256, 256), s).ravel() for s in range(4)])
    expected = 1.0 + 0.5 * stats.truncnorm(-1, 3).mean()
    assert values.mean() == pytest.approx(expected, abs=0.005)
    assert abs(values.mean() - 1.0) > 0.1


def test_a_wrong_claim_fails():
    # the fan_out entry draws 2 / (48 * 9); He's fan_in claim is 2 / (16 * 9): ratio 1/3
    entry = BY_NAME["haiku:VarianceScaling(2.0, 'fan_out', 'normal')"]
    result = check_shape(entry.build(), InitSpec("he", "normal", "hwio"), MODERATE[4], seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(1 / 3, rel=0.05)


def test_a_users_initializer_through_api_haiku():
    # Haiku's own class as a user's target: constructed with --kwargs, drawn in a transform
    from verify.targets import user_target

    target = user_target("haiku.initializers:VarianceScaling", "haiku",
                         {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"})
    assert target.layout == "hwio"
    result = check_shape(target, InitSpec("he", "uniform", "hwio"), MODERATE[4], seed=0)
    assert result.verdict is not Verdict.FAIL, result.summary()
    wrong = check_shape(target, InitSpec("he", "uniform", "oihw"), MODERATE[4], seed=0)
    assert wrong.verdict is Verdict.FAIL


# --- dtypes -------------------------------------------------------------------------------


def test_the_dtype_is_asked_of_the_initializer_not_cast_after(monkeypatch):
    """``init(shape, dtype)``: Haiku is asked for bfloat16 and returns it, which the adapter
    widens, exactly, to float32; float16 and complex64 come as they are."""
    asked, returned = [], []

    class Spy(hk.initializers.RandomNormal):
        def __call__(self, shape, dtype):
            value = super().__call__(shape, dtype)
            asked.append(jax.numpy.dtype(dtype).name)
            returned.append(value.dtype.name)
            return value

    monkeypatch.setattr(hk.initializers, "RandomNormal", Spy)
    entry = BY_NAME["haiku:RandomNormal"]
    shape = (64, 37)  # a shape no other test compiles: the jitted draw is cached per shape
    widened = entry.target("bfloat16").sample(shape, 5)
    assert asked == returned == ["bfloat16"]
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert entry.target("float16").sample(shape, 5).dtype == np.float16
    assert entry.target("complex64").sample(shape, 5).dtype == np.complex64


def test_a_dtype_the_initializer_refuses_is_not_supported_with_its_reason():
    """A uniform VarianceScaling refuses complex64 (JAX's uniform draws real floats); a
    64-bit dtype needs jax_enable_x64."""
    name = "haiku:VarianceScaling(0.5, 'fan_avg', 'uniform')"
    row = conformance_row(BY_NAME[name], seed=1, examples=1, timeout=60, dtype="complex64")
    assert row["verdict"] == "not supported", row
    assert "hk.initializers.VarianceScaling refuses complex64" in row["reason"]
    if not jax.config.read("jax_enable_x64"):
        row = conformance_row(BY_NAME["haiku:RandomNormal"], seed=1, examples=1, timeout=60,
                              dtype="float64")
        assert row["verdict"] == "not supported" and "jax_enable_x64" in row["reason"]
