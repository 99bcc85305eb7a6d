"""The tf_keras adapter: every entry builds, is seeded and shaped; documented laws hold where
tf_keras does what its documentation says, the departures are detected, and a wrong claim
fails. Expected numbers come from the documented formulas and the textbook's fans."""

from __future__ import annotations

import importlib.util
import inspect
import math
import random
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from verify.adapters import seed32
from verify.adapters import tf_keras as adapter
from verify.conformance import check_shape
from verify.fans import compute_fans
from verify.laws import Exact, Orthogonal, is_statistical
from verify.matrix import conformance_row
from verify.precision.rounding import representable
from verify.schemes import InitSpec
from verify.upstream.snippets import run_snippet

if importlib.util.find_spec("tf_keras") is None:
    pytest.skip("tf_keras is not installed: the tf_keras adapter cannot be exercised",
                allow_module_level=True)

tf_keras = adapter._tf_keras()
ENTRIES = adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}
ROOT = Path(__file__).resolve().parents[1]

SHAPES = {
    "tf_keras:Identity": (8, 16),
    "tf_keras:Dense": (16, 32),
    "tf_keras:Embedding": (50, 16),
    "tf_keras:Conv1D": (3, 8, 16),
    "tf_keras:Conv3D": (2, 2, 2, 4, 8),
}


def small_shape(entry) -> tuple[int, ...]:
    return SHAPES.get(entry.name, (3, 3, 8, 16))


def tf_keras_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """tf_keras's own fans (initializers._compute_fans): the last two axes (in, out), times
    the product of the others."""
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


# --- the catalog ------------------------------------------------------------------------------


def test_every_public_initializer_is_covered_or_listed_as_skipped():
    public = {obj.__name__ for name, obj in vars(tf_keras.initializers).items()
              if inspect.isclass(obj) and not name.startswith("_")}
    covered = {e.name.removeprefix("tf_keras:").split("(")[0] for e in ENTRIES
               if e.kind == "function"}
    skipped = {name.removeprefix("tf_keras:") for name in adapter.SKIPPED}
    assert covered | skipped == public
    assert not covered & skipped


def test_layer_defaults_are_covered():
    layers = {e.name for e in ENTRIES if e.kind == "layer"}
    assert {"tf_keras:Dense", "tf_keras:Conv1D", "tf_keras:Conv2D", "tf_keras:Conv2D(groups=2)",
            "tf_keras:Conv3D", "tf_keras:Conv2DTranspose", "tf_keras:Embedding"} <= layers
    assert BY_NAME["tf_keras:Conv2D(groups=2)"].claim.groups == 2
    assert BY_NAME["tf_keras:Conv2DTranspose"].claim.transposed
    assert BY_NAME["tf_keras:Conv2DTranspose"].convention


def test_entries_cite_the_docs_and_the_source():
    assert len({e.name for e in ENTRIES}) == len(ENTRIES)
    for entry in ENTRIES:
        assert entry.library == "tf_keras" and entry.kind in ("function", "layer")
        assert adapter.DOCS in entry.documented
        assert "tf_keras/src/" in entry.documented
        assert f"tf_keras {tf_keras.__version__}" in entry.documented
        target = entry.build()
        assert target.layout == "hwio"
        assert "{shape}" in target.reproduce
        assert ("{seed}" in target.reproduce) == (not isinstance(entry.claim, Exact))


# --- the sampler contract ---------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_sample_is_shaped_float32_and_seeded(entry):
    target = entry.build()
    shape = small_shape(entry)
    first = target.sample(shape, 7)
    assert isinstance(first, np.ndarray)
    assert first.shape == shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, target.sample(shape, 7))
    if is_statistical(entry.claim) or isinstance(entry.claim, Orthogonal):
        assert not np.array_equal(first, target.sample(shape, 8))


@pytest.mark.parametrize("name", ["tf_keras:HeNormal", "tf_keras:Conv2D(groups=2)",
                                  "tf_keras:Embedding"])
def test_reproduce_snippet_makes_the_same_tensor(name):
    entry = BY_NAME[name]
    target = entry.build()
    shape = small_shape(entry)
    np.testing.assert_array_equal(run_snippet(target.reproduce, shape, 11),
                                  target.sample(shape, 11))


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "layer"],
                         ids=lambda e: e.name)
def test_layer_kernel_is_the_one_of_set_random_seed(entry):
    """A layer entry seeds only tf_keras's seed generator: its kernel is the one built after
    ``tf_keras.utils.set_random_seed`` (the reproduction), whatever Python's, NumPy's and
    TensorFlow's global states are."""
    import tensorflow as tf

    target = entry.build()
    shape = small_shape(entry)
    assert adapter.LAYER_SEED in target.reproduce
    replayed = run_snippet(target.reproduce, shape, 11)
    random.seed(5)
    np.random.seed(12345)  # noqa: NPY002 (the legacy global state the kernel must not read)
    tf.random.set_seed(99)
    sampled = target.sample(shape, 11)
    np.testing.assert_array_equal(replayed, sampled)
    assert not np.array_equal(target.sample(shape, 12), sampled)


def test_a_set_random_seed_seeds_every_unseeded_initializer_in_turn():
    """The layers' way: an unseeded initializer takes its seed from the generator
    set_random_seed installs, on its first call; the next one the generator's next value."""
    tf_keras.utils.set_random_seed(3)
    first = tf_keras.initializers.GlorotUniform()((16, 16)).numpy()
    second = tf_keras.initializers.GlorotUniform()((16, 16)).numpy()
    tf_keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(tf_keras.initializers.GlorotUniform()((16, 16)).numpy(),
                                  first)
    assert not np.array_equal(first, second)


# --- seeding: what the documentation says, what tf_keras does ----------------------------------


@pytest.mark.parametrize("name", ["GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
                                  "LecunNormal", "LecunUniform"])
def test_a_seeded_initializer_repeats_its_values_though_documented_not_to(name):
    """A finding. The docstrings of these six (tf_keras/src/initializers/initializers.py,
    'seed' argument) say 'a seeded initializer will not produce the same random values
    across multiple calls'. tf_keras draws with stateless ops seeded [seed, 0]
    (backend.RandomGenerator, rng_type='stateless'): every call returns the same tensor,
    as the docstrings of RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling and
    Orthogonal say ('a seeded initializer will produce the same random values across
    multiple calls')."""
    cls = getattr(tf_keras.initializers, name)
    assert ("will not produce the same random values across multiple calls"
            in " ".join(cls.__doc__.split()))
    initializer = cls(seed=seed32(1))
    np.testing.assert_array_equal(initializer((32, 32)).numpy(), initializer((32, 32)).numpy())


def test_an_unseeded_initializer_repeats_its_values_with_a_warning():
    """seed=None: the seed is drawn once, at the first call, and kept (Initializer.
    _warn_reuse: 'will return identical values each time (even if the initializer is
    unseeded)'); two unseeded instances differ."""
    initializer = tf_keras.initializers.RandomNormal()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = initializer((32, 32)).numpy(), initializer((32, 32)).numpy()
    np.testing.assert_array_equal(first, second)
    assert any("unseeded" in str(w.message) for w in caught)
    assert not np.array_equal(tf_keras.initializers.RandomNormal()((32, 32)).numpy(),
                              tf_keras.initializers.RandomNormal()((32, 32)).numpy())


def test_exact_and_orthogonal_entries_are_what_they_claim():
    for entry in ENTRIES:
        claim = entry.claim
        if isinstance(claim, Exact):
            shape = small_shape(entry)
            np.testing.assert_allclose(entry.build().sample(shape, 0), claim.expected(shape))
        elif isinstance(claim, Orthogonal):
            for shape in [(8, 16), (3, 3, 8, 16)]:  # rows < columns, rows > columns
                matrix = claim.matrix(entry.build().sample(shape, 0).astype(np.float64))
                gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] \
                    else matrix.T @ matrix
                np.testing.assert_allclose(gram, claim.gain**2 * np.eye(len(gram)),
                                           atol=1e-5 * claim.gain**2)


# --- statistics: documentation and measurement agree ------------------------------------------

AGREE = [
    ("tf_keras:HeNormal", (3, 3, 16, 32)),
    ("tf_keras:GlorotUniform", (3, 3, 16, 32)),
    ("tf_keras:VarianceScaling(scale=2.0, mode='fan_out', distribution='untruncated_normal')",
     (3, 3, 16, 32)),
    ("tf_keras:TruncatedNormal(mean=1.0, stddev=0.5)", (3, 3, 16, 32)),
    ("tf_keras:Dense", (64, 128)),
    ("tf_keras:Conv2D", (3, 3, 16, 32)),
    # glorot's fan_avg is symmetric, so tf_keras's swapped fans do not change this law
    ("tf_keras:Conv2DTranspose", (3, 3, 16, 32)),
    ("tf_keras:Embedding", (200, 64)),
]


@pytest.mark.parametrize(("name", "shape"), AGREE, ids=[n for n, _ in AGREE])
def test_documented_law_holds(name, shape):
    entry = BY_NAME[name]
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict != "fail", result.summary()


def test_a_wrong_claim_fails():
    """HeUniform checked against LeCun's law: the documented limit sqrt(6 / fan_in) has
    twice LeCun's variance, 1 / fan_in."""
    shape = (3, 3, 16, 32)
    result = check_shape(BY_NAME["tf_keras:HeUniform"].build(),
                         InitSpec("lecun", "uniform", layout="hwio"), shape, seed=0)
    assert result.verdict == "fail"
    assert result.variance_ratio == pytest.approx(2.0, rel=0.02)


# --- statistics: documentation and measurement disagree ---------------------------------------


def test_grouped_conv_fan_out_ignores_groups():
    # tf_keras.layers.Conv2D documents kernel_initializer='glorot_uniform', Var = 2 / (fan_in
    # + fan_out), and that with groups 'Each group is convolved separately with filters /
    # groups filters': an input channel feeds filters / groups outputs per kernel position.
    # tf_keras's _compute_fans takes fan_out = filters * k, so the variance is smaller.
    shape = (3, 3, 16, 32)
    entry = BY_NAME["tf_keras:Conv2D(groups=2)"]
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict == "fail"
    fans = compute_fans(shape, "hwio", groups=2)
    expected_ratio = (fans.fan_in + fans.fan_out) / sum(tf_keras_fans(shape))
    assert result.variance_ratio == pytest.approx(expected_ratio, rel=0.02)


def test_transposed_conv_he_uses_filters_as_fan_in():
    # tf_keras.initializers.HeNormal: stddev = sqrt(2 / fan_in), 'fan_in is the number of
    # input units in the weight tensor'. A Conv2DTranspose kernel is (*kernel_size, filters,
    # in_channels); _compute_fans reads the second-last axis (filters) as the input depth.
    shape = (3, 3, 16, 32)
    entry = BY_NAME["tf_keras:Conv2DTranspose(kernel_initializer='he_normal')"]
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict == "fail"
    textbook_fan_in = compute_fans(shape, "hwio", transposed=True).fan_in
    assert result.variance_ratio == pytest.approx(textbook_fan_in / tf_keras_fans(shape)[0],
                                                  rel=0.02)


# --- user initializers and the library missing ------------------------------------------------


def test_a_user_initializer_through_api_tf_keras():
    from verify.targets import user_target

    target = user_target("tf_keras.initializers:HeUniform", "tf_keras", {})
    assert target.layout == "hwio"
    first = target.sample((3, 3, 8, 16), 1)
    np.testing.assert_array_equal(first, target.sample((3, 3, 8, 16), 1))
    result = check_shape(target, InitSpec("he", "uniform", layout="hwio"), (3, 3, 16, 32),
                         seed=0)
    assert result.verdict != "fail", result.summary()


def test_check_command_on_a_user_class():
    run = subprocess.run(
        [sys.executable, "-m", "verify", "check", "tf_keras.initializers:LecunNormal",
         "--api", "tf_keras", "--scheme", "lecun", "--dist", "truncated_normal",
         "--examples", "2", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert '"verdict": "pass"' in run.stdout


def test_entries_raise_library_missing_without_tf_keras():
    script = textwrap.dedent("""
        import sys

        class NoTfKeras:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "tf_keras":
                    raise ImportError(name)

        sys.meta_path.insert(0, NoTfKeras())
        from verify.adapters import LibraryMissing
        from verify.adapters import tf_keras as adapter  # importing must not need tf_keras
        assert "tensorflow" not in sys.modules
        try:
            adapter.entries()
        except LibraryMissing as error:
            print("missing", error)
    """)
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("missing tf_keras is not installed"), run.stdout


# --- dtypes -------------------------------------------------------------------------------


def test_the_dtype_is_asked_of_the_initializer_not_cast_after(monkeypatch):
    """``initializer(shape, dtype=...)``: what tf_keras returns is bfloat16 before the
    adapter widens it, exactly, to float32; float16 and float64 come as they are; a layer
    is built with ``dtype=``, and its kernel has it."""
    tf_keras = adapter._tf_keras()
    returned = []

    class Spy(tf_keras.initializers.RandomNormal):
        def __call__(self, shape, dtype=None, **keywords):
            value = super().__call__(shape, dtype=dtype, **keywords)
            returned.append(value.dtype.name)
            return value

    monkeypatch.setattr(tf_keras.initializers, "RandomNormal", Spy)
    entry = BY_NAME["tf_keras:RandomNormal"]
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert returned == ["bfloat16"]
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    assert entry.target("float64").sample((64, 32), 5).dtype == np.float64
    kernel = BY_NAME["tf_keras:Dense"].target("float64").sample((64, 32), 5)
    assert kernel.dtype == np.float64


def test_a_dtype_the_initializer_refuses_is_not_supported_with_its_reason():
    """tf_keras's random initializers refuse complex dtypes, which TensorFlow has:
    "Expected floating point type"."""
    row = conformance_row(BY_NAME["tf_keras:GlorotNormal"], seed=1, examples=1, timeout=60,
                          dtype="complex64")
    assert row["verdict"] == "not supported", row
    assert "tf_keras.initializers.GlorotNormal() refuses complex64" in row["reason"]
    assert "Expected floating point type" in row["reason"]
    assert BY_NAME["tf_keras:Orthogonal"].dtypes == ("float32", "float64")
    assert "complex64" not in BY_NAME["tf_keras:Constant(value=0.5)"].dtypes


def test_a_user_initializer_is_asked_for_the_dtype():
    from verify.adapters import DtypeUnsupported
    from verify.targets import user_target

    target = user_target("tf_keras.initializers:HeUniform", "tf_keras", {}, "float64")
    assert target.sample((64, 32), 1).dtype == np.float64
    with pytest.raises(DtypeUnsupported, match="HeUniform refuses complex64"):
        user_target("tf_keras.initializers:HeUniform", "tf_keras", {}, "complex64").sample(
            (64, 32), 1)
