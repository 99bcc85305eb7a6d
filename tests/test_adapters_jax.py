"""The JAX and Flax adapters: every entry builds, honours the sampler contract (shape,
float32, seeded), reproduces with its own snippet, and the statistical entries agree
with their documented law, except where the documentation and the library disagree,
which the battery must detect.

Shapes are chosen to compile fast: on CPU, JAX's threefry compiles a tensor with four
axes longer than 1 in 3-4 s, any other shape in well under a second.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("jax")

from verify.adapters import ContractError, LibraryMissing, Target
from verify.adapters import flax as flax_adapter
from verify.adapters import jax as jax_adapter
from verify.catalog import Entry
from verify.conformance import check_shape
from verify.fans import compute_fans
from verify.laws import Exact, Orthogonal, is_statistical
from verify.matrix import conformance_row
from verify.precision.rounding import representable
from verify.schemes import InitSpec
from verify.stats import Verdict
from verify.upstream.snippets import run_snippet

JAX_ENTRIES = jax_adapter.entries()
try:
    FLAX_ENTRIES = flax_adapter.entries()
except LibraryMissing:  # pragma: no cover - flax is optional
    FLAX_ENTRIES = []
ENTRIES = {entry.name: entry for entry in JAX_ENTRIES + FLAX_ENTRIES}
needs_flax = pytest.mark.skipif(not FLAX_ENTRIES, reason="flax is not installed")

_TARGETS: dict[str, Target] = {}


def target(name: str) -> Target:
    """One target per entry for the whole module, so its jitted functions are reused."""
    if name not in _TARGETS:
        _TARGETS[name] = ENTRIES[name].build()
    return _TARGETS[name]


def contract_shapes(entry: Entry) -> list[tuple[int, ...]]:
    """Two small shapes the entry accepts, the second shared with the statistical tests
    (a target compiles once per shape)."""
    if entry.name.startswith("jax:delta_orthogonal"):
        return [(3, 4, 4), (1, 3, 5, 5)]
    if entry.name.endswith(("Dense", "Linear")):
        return [(16, 4), (50, 20)]
    if entry.kind == "layer":
        return [(1, 3, 40, 24), (3, 1, 24, 40)]  # out channels even, for the grouped layers
    if isinstance(entry.claim, InitSpec) and entry.claim.layout == "oihw":
        return [(2, 3, 4), (40, 24, 3, 1)]
    return [(2, 3, 4), (50, 20) if is_statistical(entry.claim) else (3, 1, 24, 40)]


# --- the catalog's entries ---------------------------------------------------------------


def test_every_public_jax_initializer_has_an_entry():
    import jax

    public = {name for name in dir(jax.nn.initializers)
              if not name.startswith("_") and name != "Initializer"}
    covered = {entry.name.split(":", 1)[1].split("(", 1)[0] for entry in JAX_ENTRIES}
    assert public <= covered, f"no entry for {sorted(public - covered)}"


@needs_flax
def test_flax_layers_are_covered():
    names = {entry.name for entry in FLAX_ENTRIES}
    for api, dense in (("linen", "Dense"), ("nnx", "Linear")):
        assert {f"flax:{api}.{dense}", f"flax:{api}.Conv", f"flax:{api}.ConvTranspose",
                f"flax:{api}.Conv(feature_group_count=2)"} <= names


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entry_is_well_formed(name):
    entry = ENTRIES[name]
    library = name.split(":", 1)[0]
    assert entry.library == library
    assert entry.kind == ("layer" if library == "flax" else "function")
    assert isinstance(entry.claim, InitSpec | Orthogonal | Exact) or is_statistical(entry.claim)
    assert "https://" in entry.documented
    built = target(name)
    assert built.name == name and built.library == library
    assert built.layout == (entry.claim.layout if isinstance(entry.claim, InitSpec) else "hwio")
    assert "{shape}" in built.reproduce and "{seed}" in built.reproduce


def test_entries_name_the_library_only_when_called(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(LibraryMissing):
        jax_adapter.entries()
    monkeypatch.setitem(sys.modules, "flax", None)
    with pytest.raises(LibraryMissing):
        flax_adapter.entries()


# --- the sampler contract ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_sample_contract(name):
    entry, built = ENTRIES[name], target(name)
    for shape in contract_shapes(entry):
        first = built.sample(shape, 7)
        assert isinstance(first, np.ndarray)
        assert first.shape == shape and first.dtype == np.float32
        assert np.array_equal(first, built.sample(shape, 7)), "same seed, different tensors"
        if not isinstance(entry.claim, Exact):
            assert not np.array_equal(first, built.sample(shape, 8)), "seed ignored"
        assert built.sample(shape, 2**63 - 2).shape == shape  # check seeds are 63-bit


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_reproduce_snippet_makes_the_same_tensor(name):
    entry, built = ENTRIES[name], target(name)
    shape = contract_shapes(entry)[0]
    drawn = built.sample(shape, 12345)
    np.testing.assert_array_equal(run_snippet(built.reproduce, shape, 12345), drawn)
    # the form conformance.Report uses: the shape as comma-separated integers
    comma = built.reproduce.replace("{shape}", ",".join(map(str, shape)))
    np.testing.assert_array_equal(run_snippet(comma, shape, 12345), drawn)


# --- what the documentation claims ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items()
                                        if isinstance(e.claim, Orthogonal)))
def test_orthogonal_entries(name):
    entry, built = ENTRIES[name], target(name)
    shapes = contract_shapes(entry) + ([(1, 2, 8, 8)] if "delta" in name else [(4, 3)])
    for shape in shapes:
        matrix = entry.claim.matrix(built.sample(shape, 3).astype(np.float64))
        rows, columns = matrix.shape
        gram = matrix @ matrix.T if rows <= columns else matrix.T @ matrix
        assert np.allclose(gram, entry.claim.gain**2 * np.eye(len(gram)), atol=1e-5), shape


def test_delta_orthogonal_is_zero_off_centre():
    built = target("jax:delta_orthogonal")
    for shape, centre in (((5, 4, 4), (2,)), ((1, 3, 5, 5), (0, 1))):
        weights = built.sample(shape, 0)
        assert np.count_nonzero(weights) == np.count_nonzero(weights[centre]) > 0


@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items()
                                        if isinstance(e.claim, Exact)))
def test_exact_entries(name):
    entry, built = ENTRIES[name], target(name)
    for shape in contract_shapes(entry):
        assert np.array_equal(built.sample(shape, 1), entry.claim.expected(shape))


# Entries whose documented law the battery confirms at one moderate shape (fan_in !=
# fan_out, so a mode mix-up would show). Every statistical entry was measured at
# (3, 1, 24, 40) and (50, 20) (layouts permuted for oihw) when the adapters were written.
AGREE = {
    "jax:he_normal": (50, 20),
    "jax:glorot_uniform": (50, 20),
    "jax:variance_scaling(2.0, 'fan_in', 'normal', in_axis=1, out_axis=0)": (40, 24, 3, 1),
    "jax:variance_scaling(0.5, 'fan_out', 'uniform')": (50, 20),
    "jax:variance_scaling(1.0, 'fan_avg', 'truncated_normal', batch_axis=0)": (50, 20),
    "jax:truncated_normal(0.5, lower=-1.0, upper=3.0)": (50, 20),
    "jax:uniform": (50, 20),
    "flax:linen.Dense": (50, 20),
    "flax:linen.Conv(feature_group_count=2)": (3, 1, 24, 40),
    "flax:linen.ConvTranspose": (3, 1, 24, 40),
    "flax:nnx.Conv": (3, 1, 24, 40),
}


@pytest.mark.parametrize("name", sorted(AGREE))
def test_documented_law_holds(name):
    if name not in ENTRIES:
        pytest.skip(f"{name.split(':')[0]} is not installed")
    result = check_shape(target(name), ENTRIES[name].claim, AGREE[name], seed=0)
    assert result.verdict is not Verdict.FAIL, result.summary()


@needs_flax
@pytest.mark.parametrize("name", ["flax:linen.ConvTranspose(transpose_kernel=True)",
                                  "flax:nnx.ConvTranspose(transpose_kernel=True)"])
def test_transposed_kernel_fan_in_is_detected(name):
    # Flax documents the default kernel_init as lecun_normal, Var = 1 / fan_in with fan_in
    # "the number of inputs" (https://docs.jax.dev/en/latest/_autosummary/
    # jax.nn.initializers.lecun_normal.html). With transpose_kernel=True the kernel is
    # (*kernel, features, in_features) ("swaps the input/output channel axes of the
    # kernel", https://flax-linen.readthedocs.io/en/latest/api_reference/flax.linen/
    # layers.html#flax.linen.ConvTranspose), but lecun_normal still reads axis -2, the
    # OUTPUT features, as fan_in: Var = 1 / (features * k) instead of 1 / (in_features * k).
    # For the kernel (3, 1, 24, 40) (24 outputs, 40 inputs): claimed 1/120, drawn 1/72.
    shape = (3, 1, 24, 40)
    result = check_shape(target(name), ENTRIES[name].claim, shape, seed=0)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(40 / 24, rel=0.03)


# --- the layer shape strategies ---------------------------------------------------------


@needs_flax
@settings(max_examples=60, database=None)
@given(data=st.data())
def test_layer_shapes_fit_their_layer(data):
    name = data.draw(st.sampled_from(sorted(e.name for e in FLAX_ENTRIES)), label="entry")
    entry = ENTRIES[name]
    shape = data.draw(entry.shapes(), label="shape")
    dense = name.endswith(("Dense", "Linear"))
    assert len(shape) == (2 if dense else 4)
    assert flax_adapter.MIN_NUMEL <= math.prod(shape) <= flax_adapter.MAX_NUMEL
    fans = entry.claim.fans(shape)  # raises when the out channels do not split into groups
    assert fans.groups == entry.claim.groups
    assert shape[-1] % entry.claim.groups == 0


@settings(max_examples=30, database=None)
@given(shape=jax_adapter._delta_orthogonal_shapes())
def test_delta_orthogonal_shapes_are_square(shape):
    assert 3 <= len(shape) <= 5 and shape[-1] == shape[-2]
    compute_fans(shape, "hwio")


@needs_flax
@pytest.mark.parametrize("name", ["flax:linen.Dense", "flax:nnx.Linear"])
def test_a_flax_layer_is_built_with_the_param_dtype_asked_for(name):
    """The kernel comes in the ``param_dtype`` the layer is built with: float16 as it is,
    bfloat16 widened exactly, complex64 (JAX's variance scaling draws complex values)."""
    entry = ENTRIES[name]
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert entry.target("complex64").sample((64, 32), 5).dtype == np.complex64
    assert "param_dtype=jnp.float16" in entry.target("float16").reproduce


@needs_flax
def test_a_flax_layer_that_ignores_the_dtype_breaks_the_contract(monkeypatch):
    from flax import nnx

    real = nnx.Linear
    monkeypatch.setattr(nnx, "Linear", lambda *arguments, param_dtype=None, **keywords:
                        real(*arguments, **keywords))
    with pytest.raises(ContractError, match=r"float16 kernel .* has a float32 kernel"):
        flax_adapter.layer("nnx", "Linear", dtype="float16").sample((64, 32), 5)


@needs_flax
def test_a_64_bit_flax_kernel_without_x64_is_not_supported():
    import jax

    if jax.config.read("jax_enable_x64"):
        pytest.skip("JAX runs with 64 bits here")
    row = conformance_row(ENTRIES["flax:linen.Dense"], seed=1, examples=1, timeout=60,
                          dtype="float64")
    assert row["verdict"] == "not supported" and "jax_enable_x64" in row["reason"]
