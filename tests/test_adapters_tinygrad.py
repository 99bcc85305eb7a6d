"""The tinygrad adapter: every entry draws seeded float32 weights of the requested shape on
the CPU device; the laws tinygrad's docs state hold where its source draws them, and the
deviations from the pages its docstrings link are measured, with the sizes the formulas
predict. Without clang (the CPU device's compiler) the entries are skipped with the
reason."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("tinygrad", reason="tinygrad is not installed (pip install tinygrad)")

from verify import catalog
from verify.adapters import ContractError, LibraryMissing
from verify.adapters import tinygrad as adapter
from verify.conformance import check_shape
from verify.laws import Exact
from verify.matrix import conformance_row
from verify.precision.rounding import representable
from verify.schemes import InitSpec
from verify.stats import Verdict
from verify.targets import user_target
from verify.upstream.snippets import run_snippet

NO_COMPILER = adapter.cpu_compiler_missing()
needs_cpu = pytest.mark.skipif(NO_COMPILER is not None, reason=NO_COMPILER or "")
ENTRIES = adapter.entries() if NO_COMPILER is None else []
BY_NAME = {entry.name: entry for entry in ENTRIES}


def api_name(entry_name: str) -> str:
    """``Tensor.uniform`` for ``tinygrad:Tensor.uniform(low=-2.0, high=0.5)``."""
    return entry_name.split(":", 1)[1].split("(", 1)[0]


def check(name: str, shape: tuple[int, ...], claim=None, seed: int = 0):
    entry = BY_NAME[name]
    return check_shape(entry.build(), claim or entry.claim, shape, seed=seed,
                       max_calls=entry.max_calls)


# --- the missing library and the missing compiler ----------------------------------------

def test_a_missing_tinygrad_is_reported_not_raised_at_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "tinygrad", None)
    with pytest.raises(LibraryMissing, match="tinygrad"):
        adapter.entries()
    assert "tinygrad" in catalog.load(["tinygrad"]).skipped


def test_without_clang_the_entries_are_skipped_with_the_reason(monkeypatch):
    # tinygrad's CPU device runs $CC (default clang) on every kernel: a compiler that is
    # not on PATH is the reason the catalog gives, and no entry is built
    monkeypatch.setenv("CC", "clang-not-installed-for-this-test")
    reason = adapter.cpu_compiler_missing()
    assert reason is not None and "clang-not-installed-for-this-test" in reason
    assert "apt-get install clang" in reason and "PYTHON device" in reason
    with pytest.raises(LibraryMissing, match="not on PATH"):
        adapter.entries()
    loaded = catalog.load(["tinygrad"])
    assert loaded.entries == [] and loaded.skipped["tinygrad"] == reason
    with pytest.raises(LibraryMissing, match="not on PATH"):
        user_target("tinygrad:Tensor.kaiming_uniform", "tinygrad", {})


def test_the_default_compiler_is_clang(monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(adapter.shutil, "which", lambda name: None if name == "clang" else name)
    assert "'clang'" in adapter.cpu_compiler_missing()


# --- the catalog -----------------------------------------------------------------------

@needs_cpu
def test_every_random_helper_has_an_entry_or_a_reason():
    from tinygrad.mixin.rand import RandMixin

    public = {f"Tensor.{name}" for name, value in vars(RandMixin).items()
              if not name.startswith("_") and callable(getattr(RandMixin, name))}
    covered = {api_name(e.name) for e in ENTRIES if e.kind == "function"}
    skipped = {name.split(":", 1)[1] for name in adapter.SKIPPED}
    assert public - covered == skipped
    assert not skipped & covered
    layers = {api_name(e.name) for e in ENTRIES if e.kind == "layer"}
    assert {"nn.Linear", "nn.Conv1d", "nn.Conv2d", "nn.ConvTranspose1d", "nn.ConvTranspose2d",
            "nn.Embedding", "nn.LSTMCell.weight_ih"} <= layers


@needs_cpu
def test_entries_cite_their_documentation_and_load_through_the_catalog():
    assert len(BY_NAME) == len(ENTRIES)
    for entry in ENTRIES:
        assert entry.library == "tinygrad" and entry.kind in {"function", "layer"}
        assert "https://docs.tinygrad.org/" in entry.documented
        assert "tinygrad/" in entry.documented  # the source file
        if isinstance(entry.claim, InitSpec):
            assert entry.claim.layout == "oihw"
    assert [e.name for e in catalog.load(["tinygrad"]).entries] == [e.name for e in ENTRIES]


@needs_cpu
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    if target.stacked is not None:
        block = target.stacked(shape, 3, 5)
        assert block.shape == (3, *shape) and block.dtype == np.float32
        assert not np.array_equal(block[0], block[1])


@needs_cpu
def test_seeds_are_folded_not_truncated():
    # tinygrad keeps its seed as a uint32: manual_seed(2**32 + 5) draws what manual_seed(5)
    # draws. The adapter seeds with seed32(seed), so the two seeds give different tensors.
    from tinygrad import Tensor

    with adapter.on_cpu():
        Tensor.manual_seed(5)
        low = Tensor.rand(64).numpy()
        Tensor.manual_seed(2**32 + 5)
        high = Tensor.rand(64).numpy()
    np.testing.assert_array_equal(low, high)
    target = BY_NAME["tinygrad:Tensor.rand"].build()
    assert not np.array_equal(target((64,), 5), target((64,), 2**32 + 5))


@needs_cpu
def test_draws_are_made_on_the_cpu_device():
    from tinygrad import Tensor

    with adapter.on_cpu():
        assert Tensor.rand(3).device == "CPU"


# --- the laws --------------------------------------------------------------------------

@needs_cpu
@pytest.mark.parametrize(("name", "shape"), [
    ("tinygrad:Tensor.rand", (64, 128)),
    ("tinygrad:Tensor.randn", (64, 128)),
    ("tinygrad:Tensor.normal(mean=1.0, std=0.5)", (64, 128)),
    ("tinygrad:Tensor.scaled_uniform", (48, 16, 3, 3)),
    ("tinygrad:Tensor.kaiming_uniform", (48, 16, 3, 3)),
    ("tinygrad:Tensor.kaiming_normal", (48, 16, 3, 3)),
    ("tinygrad:Tensor.glorot_uniform", (48, 144)),
    ("tinygrad:nn.Linear", (48, 144)),
    ("tinygrad:nn.Conv2d", (48, 16, 3, 3)),
    ("tinygrad:nn.LSTMCell.weight_ih", (192, 100)),
])
def test_documented_law_holds(name, shape):
    result = check(name, shape)
    assert result.verdict is not Verdict.FAIL, result.summary()


@needs_cpu
def test_a_wrong_claim_fails():
    # nn.Linear draws U(-1/sqrt(in), 1/sqrt(in)), Var = 1/(3 in); He-uniform claims 2/in:
    # the measured variance is a sixth of that claim.
    result = check("tinygrad:nn.Linear", (48, 144), InitSpec("he", "uniform", layout="oihw"))
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(1 / 6, rel=0.03)


@needs_cpu
def test_linear_bound_is_one_over_sqrt_in_features_as_pytorch_documents():
    # PyTorch's nn.Linear page (linked by tinygrad's docstring): U(-sqrt(k), sqrt(k)),
    # k = 1 / in_features
    weight = BY_NAME["tinygrad:nn.Linear"].build()((48, 144), 3)
    assert np.abs(weight).max() <= 1 / math.sqrt(144)
    assert np.abs(weight).max() > 0.99 / math.sqrt(144)


# --- the deviations, with the sizes the formulas predict ----------------------------------

@needs_cpu
def test_glorot_uniform_leaves_the_receptive_field_off_the_fan_out():
    # textbook: Var = 2 / ((out + in) k); tinygrad: 2 / (out + in k). At (64, 16, 3, 3):
    # 2 / 720 claimed, 2 / 208 drawn.
    result = check("tinygrad:Tensor.glorot_uniform", (64, 16, 3, 3))
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(720 / 208, rel=0.03)


@needs_cpu
def test_grouped_conv_leaves_groups_out_of_the_scale():
    # PyTorch's page: k = groups / (C_in prod(kernel)); tinygrad: 1 / (C_in prod(kernel))
    result = check("tinygrad:nn.Conv2d(groups=2)", (64, 16, 3, 3))
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(0.5, rel=0.03)


@needs_cpu
def test_transposed_conv_scales_by_in_channels_not_out_channels():
    # weight (in=16, out=48, 3, 3): PyTorch's page k = 1 / (48 * 9), tinygrad 1 / (16 * 9)
    result = check("tinygrad:nn.ConvTranspose2d", (16, 48, 3, 3))
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(3.0, rel=0.03)
    # where in_channels = out_channels / groups the two agree
    assert check("tinygrad:nn.ConvTranspose2d", (48, 48, 2, 2)).verdict is not Verdict.FAIL


@needs_cpu
def test_embedding_is_glorot_uniform_not_pytorchs_standard_normal():
    result = check("tinygrad:nn.Embedding", (1000, 32))
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(2 / 1032, rel=0.03)
    glorot = InitSpec("glorot", "uniform", layout="oihw")
    assert check("tinygrad:nn.Embedding", (1000, 32), glorot).verdict is not Verdict.FAIL


# --- a user's initializer (--api tinygrad) -------------------------------------------------

def _not_a_tensor(*shape):
    return np.zeros(shape)


@needs_cpu
def test_a_user_initializer_through_the_tinygrad_api():
    target = user_target("tinygrad:Tensor.kaiming_uniform", "tinygrad", {"a": math.sqrt(5)})
    assert target.layout == "oihw"
    first = target((48, 144), 1)
    assert first.shape == (48, 144)
    np.testing.assert_array_equal(first, target((48, 144), 1))
    spec = InitSpec("lecun", "uniform", layout="oihw", gain=1 / math.sqrt(3))
    assert check_shape(target, spec, (48, 144), seed=0).verdict is not Verdict.FAIL
    broken = user_target(f"{__name__}:_not_a_tensor", "tinygrad", {})
    with pytest.raises(ContractError, match="tinygrad Tensor"):
        broken((2, 3), 0)



CALLS: list[tuple[int, ...]] = []


def _counted_kaiming(*shape):
    from tinygrad import Tensor

    CALLS.append(shape)
    return Tensor.kaiming_uniform(*shape, a=math.sqrt(5))


@needs_cpu
def test_check_of_a_tinygrad_initializer_bounds_its_calls(capsys, monkeypatch):
    # a (2, 3) tensor would take 1.4 M / 6 calls at the power target, 20 ms each: a check
    # through --api tinygrad stops at targets.SLOW_CALLS calls a shape (400; 20 here, to
    # keep the test short) and reports the larger minimum detectable effect
    from verify import targets
    from verify.cli import main

    monkeypatch.setitem(targets.SLOW_CALLS, "tinygrad", 20)
    CALLS.clear()
    status = main(["check", f"{__name__}:_counted_kaiming", "--api", "tinygrad",
                   "--scheme", "lecun", "--dist", "uniform", "--gain", str(1 / math.sqrt(3)),
                   "--shape", "2,3", "--seed", "1", "--json"])
    assert status == 0, capsys.readouterr()
    assert 0 < CALLS.count((2, 3)) <= 2 + 2 * 20  # fresh-draw checks, battery, a resample
    assert targets.max_calls("torch") > 20_000 - 1


# --- dtypes -------------------------------------------------------------------------------


@needs_cpu
def test_the_dtype_is_asked_of_the_helper_not_cast_after(monkeypatch):
    """``Tensor.randn(*shape, dtype=...)`` returns a tensor of the dtype asked for: bfloat16,
    which tinygrad's ``numpy()`` widens (a cast, exact) to float32; float16 and float64
    come as they are. A helper that ignores the dtype breaks the contract."""
    from tinygrad import Tensor

    returned = []
    real = Tensor.randn

    def spy(cls, *shape, **keywords):
        tensor = real(*shape, **keywords)
        returned.append(tensor.dtype)
        return tensor

    monkeypatch.setattr(Tensor, "randn", classmethod(spy))
    entry = BY_NAME["tinygrad:Tensor.randn"]
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert [dtype.name for dtype in returned] == ["__bf16"]
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    assert entry.target("float64").sample((64, 32), 5).dtype == np.float64

    monkeypatch.setattr(Tensor, "randn", classmethod(
        lambda cls, *shape, dtype=None, **keywords: real(*shape, **keywords)))
    with pytest.raises(ContractError, match=r"asked for float16, returned dtypes\.float"):
        entry.target("float16").sample((64, 32), 5)


@needs_cpu
def test_a_dtype_the_helper_refuses_is_not_supported_with_its_reason():
    """Tensor.rand's bfloat16 kernel does not compile with the clang of this machine
    (Debian's clang 14 has no __bf16 for tinygrad's target); tinygrad has no complex
    dtype, so no entry asks for one."""
    row = conformance_row(BY_NAME["tinygrad:Tensor.rand"], seed=1, examples=1, timeout=120,
                          dtype="bfloat16")
    assert row["verdict"] in ("not supported", "pass"), row
    if row["verdict"] == "not supported":
        assert "Tensor.rand refuses bfloat16" in row["reason"]
        assert "compiler (clang) failed on its kernel" in row["reason"]
    assert all(dtype in ("float32", "float64", "float16", "bfloat16")
               for entry in ENTRIES for dtype in entry.dtypes)


@needs_cpu
def test_a_user_helper_is_asked_for_the_dtype():
    from verify.adapters import DtypeUnsupported

    target = user_target("tinygrad:Tensor.kaiming_uniform", "tinygrad", {}, "float16")
    assert target.sample((64, 32), 1).dtype == np.float16
    with pytest.raises(DtypeUnsupported, match="tinygrad has no complex64"):
        user_target("tinygrad:Tensor.kaiming_uniform", "tinygrad", {}, "complex64")
