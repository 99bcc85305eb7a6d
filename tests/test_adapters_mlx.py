"""The MLX adapter: every entry draws seeded float32 weights of the requested shape, and
the laws MLX documents hold where the battery tests them."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

mx = pytest.importorskip("mlx.core")
nn = pytest.importorskip("mlx.nn")

from verify import catalog  # noqa: E402
from verify.adapters import LibraryMissing  # noqa: E402
from verify.adapters import mlx as mlx_adapter  # noqa: E402
from verify.conformance import check_shape  # noqa: E402
from verify.laws import Exact, Orthogonal, is_statistical  # noqa: E402
from verify.matrix import conformance_row  # noqa: E402
from verify.precision.rounding import representable  # noqa: E402
from verify.schemes import InitSpec  # noqa: E402
from verify.stats import Verdict  # noqa: E402
from verify.upstream.snippets import run_snippet  # noqa: E402

ENTRIES = mlx_adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}


def api_name(entry_name: str) -> str:
    """``he_normal`` for ``mlx:he_normal(mode='fan_out')``."""
    return entry_name.split(":", 1)[1].split("(", 1)[0]


def test_every_public_initializer_has_an_entry_or_a_reason():
    public = {name for name, value in vars(nn.init).items()
              if callable(value) and getattr(value, "__module__", "") == "mlx.nn.init"
              and not name.startswith("_")}
    covered = {api_name(e.name) for e in ENTRIES if e.kind == "function"}
    assert public - covered == set(mlx_adapter.UNCOVERED)
    layers = {api_name(e.name) for e in ENTRIES if e.kind == "layer"}
    assert {"nn.Linear", "nn.Conv1d", "nn.Conv2d", "nn.Conv3d", "nn.ConvTranspose2d"} <= layers


def test_entries_cite_their_documentation_and_load_through_the_catalog():
    assert len(BY_NAME) == len(ENTRIES)
    for entry in ENTRIES:
        assert entry.library == "mlx" and entry.kind in {"function", "layer"}
        assert "https://ml-explore.github.io/mlx/" in entry.documented
        if isinstance(entry.claim, InitSpec):
            assert entry.claim.layout == "ohwi"
    assert [e.name for e in catalog.load(["mlx"]).entries] == [e.name for e in ENTRIES]


def test_a_missing_mlx_is_reported_not_raised_at_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlx.core", None)
    with pytest.raises(LibraryMissing, match="mlx"):
        mlx_adapter.entries()
    assert "mlx" in catalog.load(["mlx"]).skipped


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@settings(max_examples=3)
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


# fan_in (shape[-1] * kernel) differs from fan_out (shape[0] * kernel) threefold, so a
# confused fan or mode shows as a factor 3 in the variance.
MODERATE = {2: (48, 144), 3: (48, 5, 16), 4: (48, 3, 3, 16), 5: (48, 2, 3, 3, 16)}
STATISTICAL = [e for e in ENTRIES if is_statistical(e.claim)]


@pytest.mark.parametrize("entry", STATISTICAL, ids=lambda e: e.name)
def test_documented_law_holds_at_a_moderate_shape(entry):
    # For every statistical entry the measurement agrees with the docs (and, for the
    # convolution layers, whose docs are silent, with the source's scale).
    ndim = {"nn.Linear": 2, "nn.Conv1d": 3, "nn.ConvTranspose1d": 3, "nn.Conv3d": 5,
            "nn.ConvTranspose3d": 5}.get(api_name(entry.name), 4)
    result = check_shape(entry.build(), entry.claim, MODERATE[ndim], seed=0)
    assert result.verdict is not Verdict.FAIL, result.summary()


def test_he_default_gain_is_one_not_the_papers_sqrt_two():
    # The he_normal docs give sigma = gamma / sqrt(fan), and the initializer's gain
    # defaults to 1.0 (mlx/nn/init.py): LeCun's variance, half of He et al.'s
    # 2 / fan_in. The battery tells the two apart.
    entry = BY_NAME["mlx:he_normal"]
    textbook = InitSpec("he", "normal", layout="ohwi")
    result = check_shape(entry.build(), textbook, MODERATE[4], seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(0.5, rel=0.02)


def test_layer_scale_is_one_over_sqrt_fan_in_as_linear_documents():
    # mlx.nn.Linear's docstring: U(-k, k), k = 1 / sqrt(input_dims).
    weight = BY_NAME["mlx:nn.Linear"].build()((48, 144), 3)
    assert np.abs(weight).max() <= 1 / math.sqrt(144)
    assert np.abs(weight).max() > 0.99 / math.sqrt(144)


# --- dtypes -------------------------------------------------------------------------------


def test_the_dtype_is_asked_of_the_initializer_not_cast_after(monkeypatch):
    """``nn.init.normal(dtype=...)`` is built with the dtype asked for: what it returns is
    bfloat16 before the adapter widens it, exactly, to float32; float16 comes as it is."""
    returned = []
    real = nn.init.normal

    def spy(*arguments, **keywords):
        initializer = real(*arguments, **keywords)

        def called(array, **call):
            value = initializer(array, **call)
            returned.append(value.dtype)
            return value

        return called

    monkeypatch.setattr(nn.init, "normal", spy)
    entry = BY_NAME["mlx:normal"]
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert returned == [mx.bfloat16]
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert not representable(entry.target("float32").sample((64, 32), 5), "bfloat16")
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    assert entry.target("complex64").sample((64, 32), 5).dtype == np.complex64


def test_a_dtype_the_initializer_refuses_is_not_supported_with_its_reason():
    """mlx.random.uniform refuses float64, which MLX has on the CPU (a finding); MLX has no
    complex128, so no entry asks for it."""
    row = conformance_row(BY_NAME["mlx:uniform"], seed=1, examples=1, timeout=60,
                          dtype="float64")
    assert row["verdict"] == "not supported", row
    assert "nn.init.uniform refuses float64" in row["reason"]
    assert "Unsupported type" in row["reason"]
    assert all("complex128" not in entry.dtypes for entry in ENTRIES)
    assert BY_NAME["mlx:nn.Linear"].dtypes == ("float32",)  # layers take no dtype
