"""The Equinox adapter: every entry draws seeded float32 weights of the requested shape,
the laws Equinox's source draws hold where the battery tests them, and a wrong claim
fails. Expected values come from the source's formula ``lim = 1 / sqrt(fan_in)``, never
from the adapter."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

eqx = pytest.importorskip("equinox", reason="equinox is not installed (pip install equinox)")
jax = pytest.importorskip("jax")

from verify import catalog  # noqa: E402
from verify.adapters import ContractError, LibraryMissing  # noqa: E402
from verify.adapters import equinox as adapter  # noqa: E402
from verify.conformance import check_shape  # noqa: E402
from verify.laws import is_statistical  # noqa: E402
from verify.precision.rounding import representable  # noqa: E402
from verify.schemes import InitSpec  # noqa: E402
from verify.stats import Verdict  # noqa: E402
from verify.upstream.snippets import run_snippet  # noqa: E402

ENTRIES = adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}

# fan_in (axis 1 * kernel) differs from fan_out (axis 0 * kernel) threefold, so a confused
# fan shows as a factor 3 in the variance
MODERATE = {2: (144, 48), 3: (48, 16, 5), 4: (48, 16, 3, 3), 5: (48, 16, 2, 3, 3)}


def test_the_layers_with_weights_by_default_have_entries():
    names = {entry.name.split(":", 1)[1].split("(")[0] for entry in ENTRIES}
    assert names == {"nn.Linear", "nn.Conv1d", "nn.Conv2d", "nn.Conv3d", "nn.ConvTranspose1d",
                     "nn.ConvTranspose2d", "nn.ConvTranspose3d", "nn.Embedding"}
    assert {"equinox:nn.Conv2d(groups=2)", "equinox:nn.ConvTranspose2d(groups=2)"} <= set(BY_NAME)
    # no initializer module to cover: the reason is recorded
    assert not hasattr(eqx.nn, "init") and not hasattr(eqx, "initializers")
    assert "initializers" in adapter.SKIPPED


def test_entries_cite_the_source_and_load_through_the_catalog():
    for entry in ENTRIES:
        assert entry.library == "equinox" and entry.kind == "layer"
        assert "github.com/patrick-kidger/equinox" in entry.documented
        assert "docs.kidger.site/equinox" in entry.documented
        if isinstance(entry.claim, InitSpec):
            assert entry.claim.layout == "oihw"
    assert [e.name for e in catalog.load(["equinox"]).entries] == [e.name for e in ENTRIES]


def test_a_missing_equinox_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "equinox", None)
    with pytest.raises(LibraryMissing, match="equinox"):
        adapter.entries()
    assert "equinox" in catalog.load(["equinox"]).skipped


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@settings(max_examples=2, deadline=None)
@given(data=st.data())
def test_samples_are_seeded_float32_of_the_requested_shape(entry, data):
    shape = data.draw(entry.shapes(), label="shape")
    target = entry.build()
    first = target(shape, 11)
    assert first.shape == shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, target(shape, 11))
    assert not np.array_equal(first, target(shape, 12))
    np.testing.assert_array_equal(run_snippet(target.reproduce, shape, 11), first)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if is_statistical(e.claim)],
                         ids=lambda e: e.name)
def test_the_sources_law_holds_at_a_moderate_shape(entry):
    name = entry.name.split(":", 1)[1]
    ndim = 2 if name in ("nn.Linear", "nn.Embedding") else int(name.split("d")[0][-1]) + 2
    result = check_shape(entry.build(), entry.claim, MODERATE[ndim], seed=0)
    assert result.verdict is not Verdict.FAIL, result.summary()


def test_the_linear_bound_is_one_over_sqrt_in_features():
    # _linear.py: lim = 1 / sqrt(in_features), weight (out_features, in_features)
    weight = BY_NAME["equinox:nn.Linear"].build()((48, 144), 3)
    assert np.abs(weight).max() <= 1 / math.sqrt(144)
    assert np.abs(weight).max() > 0.99 / math.sqrt(144)


def test_a_grouped_convolution_counts_only_its_groups_channels():
    # Conv2d(2 * 16, 48, 3, groups=2): lim = 1 / sqrt(16 * 9), weight (48, 16, 3, 3)
    weight = BY_NAME["equinox:nn.Conv2d(groups=2)"].build()((48, 16, 3, 3), 5)
    assert 0.99 / 12 < np.abs(weight).max() <= 1 / 12


def test_a_wrong_claim_fails():
    # He uniform has variance 2 / fan_in; Equinox's U(-1/sqrt(fan_in), ...) has 1 / (3
    # fan_in): the battery must see the factor 6
    result = check_shape(BY_NAME["equinox:nn.Linear"].build(),
                         InitSpec("he", "uniform", "oihw"), (144, 48), seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(1 / 6, rel=0.05)


def lecun_uniform_init(weight, key):
    """A user's initializer in Equinox's documented pattern (``init_fn(weight, key)``,
    weight ``(out, in, *kernel)``): LeCun uniform."""
    fan_in = math.prod(weight.shape[1:])
    bound = math.sqrt(3 / fan_in)
    return jax.random.uniform(key, weight.shape, weight.dtype, -bound, bound)


def test_a_users_initializer_through_api_equinox():
    from verify.targets import user_target

    target = user_target("tests.test_adapters_equinox:lecun_uniform_init", "equinox", {})
    assert target.layout == "oihw"
    first = target((48, 16, 3, 3), 1)
    assert first.shape == (48, 16, 3, 3) and not np.array_equal(first, target((48, 16, 3, 3), 2))
    assert check_shape(target, InitSpec("lecun", "uniform", "oihw"), (48, 16, 3, 3),
                       seed=0).verdict is not Verdict.FAIL
    assert check_shape(target, InitSpec("lecun", "uniform", "hwio"), (48, 16, 3, 3),
                       seed=0).verdict is Verdict.FAIL


# --- dtypes -------------------------------------------------------------------------------


def test_a_layer_is_built_with_the_dtype_asked_for(monkeypatch):
    """``eqx.nn.Linear(..., dtype=...)``: the weight comes in that dtype (float16 as it is,
    bfloat16 widened exactly, complex64); a layer that ignored it would break the
    contract."""
    entry = BY_NAME["equinox:nn.Linear"]
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert entry.target("complex64").sample((64, 32), 5).dtype == np.complex64

    real = eqx.nn.Linear
    monkeypatch.setattr(eqx.nn, "Linear", lambda *arguments, dtype=None, **keywords:
                        real(*arguments, **keywords))
    with pytest.raises(ContractError, match=r"float16 weight .* has a float32 weight"):
        adapter.layer("Linear", dtype="float16").sample((64, 32), 5)
