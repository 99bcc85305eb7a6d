"""The Paddle adapter: every entry draws seeded float32 weights of the requested shape, the
laws Paddle documents hold where it does what it says, and its departures are detected
(grouped convolutions, the Bilinear kernel).

Importing TensorFlow and then Paddle in one process crashes it: where TensorFlow is
already loaded (and Paddle is not), this module is skipped with that reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

if "tensorflow" in sys.modules and "paddle" not in sys.modules:
    pytest.skip("paddle cannot be imported after tensorflow in one process (it crashes)",
                allow_module_level=True)
paddle = pytest.importorskip("paddle", reason="paddlepaddle is not installed")

from verify import catalog  # noqa: E402
from verify.adapters import ContractError, LibraryMissing  # noqa: E402
from verify.adapters import paddle as adapter  # noqa: E402
from verify.conformance import check_shape  # noqa: E402
from verify.laws import Exact, Orthogonal, is_statistical  # noqa: E402
from verify.matrix import conformance_row  # noqa: E402
from verify.precision.rounding import representable  # noqa: E402
from verify.schemes import InitSpec  # noqa: E402
from verify.stats import Verdict  # noqa: E402
from verify.targets import APIS, user_target  # noqa: E402
from verify.upstream.snippets import run_snippet  # noqa: E402

ENTRIES = adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}
ROOT = Path(__file__).resolve().parents[1]

KNOWN_DEVIATIONS = {"paddle:Conv2D(groups=2)", "paddle:Conv2DTranspose(groups=2)",
                    "paddle:Bilinear"}
"""Entries whose documented law Paddle does not draw (each has its own test below)."""


def api_name(entry_name: str) -> str:
    """``KaimingNormal`` for ``paddle:KaimingNormal(mode='fan_out')``."""
    return entry_name.split(":", 1)[1].split("(", 1)[0].split(".", 1)[0]


# --- the catalog ------------------------------------------------------------------------------


def test_every_public_initializer_has_an_entry_or_a_reason():
    public = set(paddle.nn.initializer.__all__)
    covered = {api_name(e.name) for e in ENTRIES if e.kind == "function"}
    skipped = {name.removeprefix("paddle:") for name in adapter.SKIPPED}
    assert covered | skipped == public
    assert not covered & skipped


def test_layer_defaults_are_covered():
    layers = {e.name.removeprefix("paddle:") for e in ENTRIES if e.kind == "layer"}
    assert {"Linear", "Conv1D", "Conv2D", "Conv3D", "Conv2D(groups=2)", "Conv1DTranspose",
            "Conv2DTranspose", "Conv3DTranspose", "Embedding"} <= layers
    assert BY_NAME["paddle:Conv2D(groups=2)"].claim.groups == 2
    assert BY_NAME["paddle:Conv2DTranspose"].claim.transposed
    assert BY_NAME["paddle:Conv2DTranspose"].convention


def test_entries_cite_their_documentation_and_load_through_the_catalog():
    assert len(BY_NAME) == len(ENTRIES)
    for entry in ENTRIES:
        assert entry.library == "paddle" and entry.kind in {"function", "layer"}
        assert "https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/nn/" \
            in entry.documented
        assert f"Paddle {paddle.__version__}" in entry.documented
        if isinstance(entry.claim, InitSpec) and ".weight_ih" not in entry.name:
            assert entry.claim.layout == "paddle"
    assert [e.name for e in catalog.load(["paddle"]).entries] == [e.name for e in ENTRIES]


def test_the_catalog_and_the_registry_do_not_import_paddle():
    """So that a process that has imported TensorFlow can list the entries (and run them in
    a child process): ``import paddle`` after ``import tensorflow`` crashes."""
    code = ("import sys; from verify import catalog; import verify.layers, verify.targets, "
            "verify.audit.builders; entries = catalog.load(['paddle']).entries; "
            "assert entries, 'no entries'; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'paddle'))")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_missing_paddle_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "paddle", None)
    with pytest.raises(LibraryMissing, match="paddle"):
        adapter.entries()
    assert "paddle" in catalog.load(["paddle"]).skipped


def test_paddle_after_tensorflow_is_refused_with_the_reason(monkeypatch):
    monkeypatch.delitem(sys.modules, "paddle")
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    with pytest.raises(LibraryMissing, match="crashes"):
        ENTRIES[0].build()
    assert ENTRIES  # listing the entries needs no import


# --- the sampler contract ---------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_samples_are_seeded_float32_of_the_requested_shape(entry, data):
    shape = data.draw(entry.shapes(), label="shape")
    target = entry.build()
    first = target(shape, 11)
    assert first.shape == shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, target(shape, 11))
    np.testing.assert_array_equal(run_snippet(target.reproduce, shape, 11), first)
    if isinstance(entry.claim, Exact):
        return
    assert not np.array_equal(first, target(shape, 12))
    if isinstance(entry.claim, Orthogonal):
        matrix = entry.claim.matrix(first).astype(np.float64)
        gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
        np.testing.assert_allclose(gram, entry.claim.gain**2 * np.eye(len(gram)), atol=1e-4)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if isinstance(e.claim, Exact)
                                   and e.name not in KNOWN_DEVIATIONS], ids=lambda e: e.name)
def test_deterministic_entries_are_what_they_document(entry):
    shape = (6, 4, 3, 3)
    np.testing.assert_array_equal(entry.build()(shape, 0), entry.claim.expected(shape))


def test_dirac_puts_ones_at_the_kernel_centre():
    # the documentation's example: Conv1D(3, 2, 3) gets [[0, 1, 0], [0, 0, 0], [0, 0, 0]] and
    # [[0, 0, 0], [0, 1, 0], [0, 0, 0]]; with an even kernel of 4 the one is at index 2
    np.testing.assert_array_equal(BY_NAME["paddle:Dirac"].build()((2, 3, 3), 0),
                                  [[[0, 1, 0], [0, 0, 0], [0, 0, 0]],
                                   [[0, 0, 0], [0, 1, 0], [0, 0, 0]]])
    assert BY_NAME["paddle:Dirac"].build()((2, 3, 4), 0)[1, 1].tolist() == [0, 0, 1, 0]


# --- the laws ---------------------------------------------------------------------------------

MODERATE = {2: (48, 144), 3: (48, 16, 5), 4: (48, 16, 3, 3), 5: (16, 8, 2, 3, 3)}
"""fan_in differs from fan_out threefold at every rank, so a confused fan shows."""


def moderate_shape(entry) -> tuple[int, ...]:
    name = api_name(entry.name)
    if name in ("Linear", "Embedding", "SimpleRNNCell", "GRUCell", "LSTMCell"):
        return MODERATE[2]
    return MODERATE[{"Conv1D": 3, "Conv1DTranspose": 3, "Conv3D": 5,
                     "Conv3DTranspose": 5}.get(name, 4)]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if is_statistical(e.claim)
                                   and e.name not in KNOWN_DEVIATIONS], ids=lambda e: e.name)
def test_documented_law_holds_at_a_moderate_shape(entry):
    result = check_shape(entry.build(), entry.claim, moderate_shape(entry), seed=0,
                         max_calls=entry.max_calls)
    assert result.verdict is not Verdict.FAIL, result.summary()


def test_a_dense_weight_is_read_as_in_out():
    """Linear stores (in, out), and Paddle's fans read a 2-D shape that way: KaimingNormal on
    (16, 256) has Var = 2 / 16, the (in, out) reading; the (out, in) reading is rejected."""
    target = BY_NAME["paddle:KaimingNormal"].build()
    assert check_shape(target, InitSpec("he", "normal", layout="hwio"), (16, 256),
                       seed=1).verdict is not Verdict.FAIL
    wrong = check_shape(target, InitSpec("he", "normal", layout="oihw"), (16, 256), seed=1)
    assert wrong.verdict is Verdict.FAIL
    assert wrong.variance_ratio == pytest.approx(256 / 16, rel=0.1)


def test_grouped_conv_default_counts_every_input_channel():
    """Conv2D's documented std (2 / filter_elem_num)^0.5 with groups=2: the weight (48, 16, 3, 3)
    has 16 * 9 entries per filter (He: Var = 2 / 144); the source takes in_channels * 9 =
    32 * 9, half that variance, which is LeCun's 1 / 144 on the stored shape."""
    target = BY_NAME["paddle:Conv2D(groups=2)"].build()
    result = check_shape(target, BY_NAME["paddle:Conv2D(groups=2)"].claim, (48, 16, 3, 3),
                         seed=2, max_calls=adapter.LAYER_MAX_CALLS)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(0.5, rel=0.1)  # an early stop: a small n
    lecun = check_shape(target, InitSpec("lecun", "normal", layout="oihw"), (48, 16, 3, 3),
                        seed=3, max_calls=adapter.LAYER_MAX_CALLS)
    assert lecun.verdict is not Verdict.FAIL


def test_grouped_transposed_conv_swaps_and_ungroups_the_fans():
    """Conv2DTranspose(48, 32, 3, groups=2) stores (48, 16, 3, 3): the map's fans are
    (48 / 2) * 9 and (32 / 2) * 9, Xavier's Var = 2 / 360; Paddle reads (16 * 9, 48 * 9),
    Var = 2 / 576: the ratio is 360 / 576 = 0.625."""
    entry = BY_NAME["paddle:Conv2DTranspose(groups=2)"]
    result = check_shape(entry.build(), entry.claim, (48, 16, 3, 3), seed=4,
                         max_calls=adapter.LAYER_MAX_CALLS)
    assert result.verdict is Verdict.FAIL
    assert result.variance_ratio == pytest.approx(0.625, rel=0.1)


def test_bilinear_is_not_the_interpolation_kernel():
    """The documented '(K, K) interpolation kernel' for K = 4 is the outer product of
    (0.25, 0.75, 0.75, 0.25): symmetric and positive. Paddle's rows use y = (i / size) % size,
    a true division (paddle/nn/initializer/bilinear.py:126), so row y is evaluated at
    y + x / K: the kernel is neither."""
    profile = np.array([0.25, 0.75, 0.75, 0.25])
    documented = np.outer(profile, profile)
    np.testing.assert_allclose(adapter.bilinear_kernel((1, 1, 4, 4))[0, 0], documented)
    kernel = BY_NAME["paddle:Bilinear"].build()((2, 2, 4, 4), 0)
    assert np.array_equal(kernel[0, 0], kernel[1, 1])  # the same kernel in every channel
    assert not np.allclose(kernel[0, 0], documented, atol=1e-3)
    assert not np.allclose(kernel[0, 0], kernel[0, 0].T, atol=1e-3)
    assert kernel.min() < 0


# --- --api paddle -----------------------------------------------------------------------------


def test_user_initializer_through_api_paddle():
    """A class called with --kwargs: KaimingUniform(mode='fan_out') on (8, 32, 3) has fan_out =
    8 * 3 and the bound sqrt(2) * sqrt(3 / 24) = 0.5."""
    assert APIS["paddle"] == "paddle"
    target = user_target("paddle.nn.initializer:KaimingUniform", "paddle", {"mode": "fan_out"})
    weight = target((8, 32, 3), 5)
    assert weight.shape == (8, 32, 3) and weight.dtype == np.float32
    assert 0.45 < np.abs(weight).max() <= 0.5
    np.testing.assert_array_equal(weight, target((8, 32, 3), 5))
    assert not np.array_equal(weight, target((8, 32, 3), 6))


def test_user_initializer_objects_and_bad_factories():
    module = type(sys)("paddle_user_inits")
    module.ready = paddle.nn.initializer.Constant(0.25)
    module.not_a_factory = lambda: 3
    sys.modules["paddle_user_inits"] = module
    try:
        ready = user_target("paddle_user_inits:ready", "paddle", {})
        assert np.all(ready((2, 3), 0) == 0.25)
        with pytest.raises(ContractError, match="no --kwargs"):
            user_target("paddle_user_inits:ready", "paddle", {"value": 1.0})
        with pytest.raises(ContractError, match="must return an initializer"):
            user_target("paddle_user_inits:not_a_factory", "paddle", {})
    finally:
        del sys.modules["paddle_user_inits"]


def test_paddle_seed_is_cheap_enough_for_every_draw():
    """The samplers seed before every draw: paddle.seed must stay cheap (6 us measured)."""
    import time

    start = time.perf_counter()
    for seed in range(2000):
        paddle.seed(seed)
    assert (time.perf_counter() - start) / 2000 < 1e-3


# --- dtypes -------------------------------------------------------------------------------


def test_the_dtype_is_asked_through_the_parameter_not_cast_after(monkeypatch):
    """The initializer fills a parameter created in the dtype asked for: in bfloat16 it
    leaves a bfloat16 parameter, whose raw bits the adapter widens, exactly, to float32;
    float16 and complex64 come as they are."""
    filled = []

    class Spy(paddle.nn.initializer.Normal):
        def __call__(self, parameter, block=None):
            result = super().__call__(parameter, block)
            filled.append(str(parameter.dtype))
            return result

    monkeypatch.setattr(paddle.nn.initializer, "Normal", Spy)
    entry = BY_NAME["paddle:Normal"]
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert filled == ["paddle.bfloat16"]
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert np.abs(widened).max() < 10  # the bits read as bfloat16, not as integers
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    assert entry.target("complex64").sample((64, 32), 5).dtype == np.complex64


def test_a_dtype_the_initializer_refuses_is_not_supported_with_its_reason():
    """Paddle has no CPU kernel of its truncated normal in float16 (bfloat16 works)."""
    row = conformance_row(BY_NAME["paddle:TruncatedNormal"], seed=1, examples=1, timeout=60,
                          dtype="float16")
    assert row["verdict"] == "not supported", row
    assert "paddle.nn.initializer.TruncatedNormal() refuses float16" in row["reason"]
    assert BY_NAME["paddle:Linear"].dtypes == ("float32",)  # layers take no dtype


def test_bilinear_leaves_a_float64_parameter_float32():
    """Asked to fill a float64 parameter, Bilinear replaces it with a float32 one: a
    broken dtype contract, not a refusal."""
    target = BY_NAME["paddle:Bilinear"].target("float64")
    with pytest.raises(ContractError, match="asked for a float64 parameter, left it float32"):
        target.sample((2, 2, 4, 4), 1)


def test_a_user_initializer_is_applied_to_a_parameter_of_the_dtype_asked_for():
    target = user_target("paddle.nn.initializer:KaimingUniform", "paddle", {}, "float16")
    assert target.sample((64, 32), 1).dtype == np.float16
    widened = user_target("paddle.nn.initializer:KaimingUniform", "paddle", {},
                          "bfloat16").sample((64, 32), 1)
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
