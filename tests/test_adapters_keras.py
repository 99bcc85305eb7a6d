"""The Keras adapter: every entry builds, is seeded and shaped; documented laws hold where
Keras does what its documentation says, and the departures are detected."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from verify.adapters import keras as adapter
from verify.adapters.keras import MIN_LAYER_NUMEL, SKIPPED, choose_backend, layer_shapes
from verify.conformance import check_shape
from verify.fans import compute_fans
from verify.laws import Exact, Orthogonal, is_statistical
from verify.matrix import conformance_row
from verify.precision.rounding import representable
from verify.upstream.snippets import run_snippet

choose_backend()  # before Keras is imported: jax, else torch, unless KERAS_BACKEND says
keras = pytest.importorskip("keras")

ENTRIES = adapter.entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}
BACKEND = keras.backend.backend()
ROOT = Path(__file__).resolve().parents[1]

LAYER_SHAPES = {
    "keras:Dense": (16, 32),
    "keras:Conv1D": (3, 8, 16),
    "keras:Conv3D": (2, 2, 2, 4, 8),
}


def small_shape(entry) -> tuple[int, ...]:
    if entry.name == "keras:Identity":
        return (8, 16)
    return LAYER_SHAPES.get(entry.name, (3, 3, 8, 16))


def keras_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's own fans (random_initializers.compute_fans): last two axes (in, out)."""
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


# --- the catalog ------------------------------------------------------------------------------


def test_every_public_initializer_is_covered_or_listed_as_skipped():
    public = {obj.__name__ for name, obj in vars(keras.initializers).items()
              if inspect.isclass(obj) and not name.startswith("_")}
    covered = {e.name.removeprefix("keras:").split("(")[0] for e in ENTRIES
               if e.kind == "function"}
    skipped = {name.removeprefix("keras:") for name in SKIPPED}
    assert covered | skipped == public
    assert not covered & skipped


def test_layer_defaults_are_covered():
    layers = {e.name for e in ENTRIES if e.kind == "layer"}
    assert {"keras:Dense", "keras:Conv1D", "keras:Conv2D", "keras:Conv2D(groups=2)",
            "keras:Conv3D", "keras:Conv2DTranspose"} <= layers
    assert BY_NAME["keras:Conv2D(groups=2)"].claim.groups == 2
    assert BY_NAME["keras:Conv2DTranspose"].claim.transposed
    assert BY_NAME["keras:Conv2DTranspose"].convention


def test_entries_cite_the_docs_and_state_the_backend():
    assert len({e.name for e in ENTRIES}) == len(ENTRIES)
    for entry in ENTRIES:
        assert entry.library == "keras" and entry.kind in ("function", "layer")
        assert "https://keras.io/api/" in entry.documented
        assert f"backend {BACKEND}" in entry.documented
        target = entry.build()
        assert target.layout == "hwio" and target.name.endswith(f"[{BACKEND}]")
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


@pytest.mark.parametrize("name", ["keras:HeNormal", "keras:Conv2D(groups=2)"])
def test_reproduce_snippet_makes_the_same_tensor(name):
    target = BY_NAME[name].build()
    shape = (3, 3, 8, 16)
    np.testing.assert_array_equal(run_snippet(target.reproduce, shape, 11),
                                  target.sample(shape, 11))


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "layer"],
                         ids=lambda e: e.name)
def test_layer_seeding_makes_the_kernel_of_set_random_seed(entry):
    """A layer entry seeds only Python's ``random``: its kernel is the one built after
    ``keras.utils.set_random_seed`` (every global seed), whatever NumPy's global state;
    the same seed makes the same kernel, another seed another."""
    target = entry.build()
    shape = small_shape(entry)
    assert adapter.LAYER_SEED in target.reproduce
    everything = target.reproduce.replace(adapter.LAYER_SEED,
                                          "keras.utils.set_random_seed(seed32({seed})); ")
    replayed = run_snippet(everything, shape, 11)
    np.random.seed(12345)  # noqa: NPY002 (the legacy global state the kernel must not read)
    sampled = target.sample(shape, 11)
    np.testing.assert_array_equal(replayed, sampled)
    np.testing.assert_array_equal(target.sample(shape, 11), sampled)
    assert not np.array_equal(target.sample(shape, 12), sampled)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "layer"],
                         ids=lambda e: e.name)
def test_layer_shapes_are_buildable(entry):
    target = entry.build()

    @settings(max_examples=2, database=None)
    @given(entry.shapes())
    def buildable(shape):
        assert math.prod(shape) >= MIN_LAYER_NUMEL
        assert target.sample(shape, 1).shape == shape

    buildable()


@settings(max_examples=200, database=None)
@given(layer_shapes(4, groups=2))
def test_grouped_layer_shapes_split_into_groups(shape):
    assert len(shape) == 4 and shape[-1] % 2 == 0
    assert MIN_LAYER_NUMEL <= math.prod(shape) <= 2**16


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
    ("keras:HeNormal", (3, 3, 16, 32)),
    ("keras:GlorotUniform", (3, 3, 16, 32)),
    ("keras:VarianceScaling(scale=2.0, mode='fan_out', distribution='untruncated_normal')",
     (3, 3, 16, 32)),
    ("keras:TruncatedNormal(mean=1.0, stddev=0.5)", (3, 3, 16, 32)),
    ("keras:Dense", (64, 128)),
    ("keras:Conv2D", (3, 3, 16, 32)),
    # glorot's fan_avg is symmetric, so Keras's swapped fans do not change this law
    ("keras:Conv2DTranspose", (3, 3, 16, 32)),
]


@pytest.mark.parametrize(("name", "shape"), AGREE, ids=[n for n, _ in AGREE])
def test_documented_law_holds(name, shape):
    entry = BY_NAME[name]
    if BACKEND == "torch" and getattr(entry.claim, "dist", "") == "truncated_normal":
        pytest.skip("Keras's torch backend leaks untruncated values: see "
                    "test_torch_backend_truncated_normal_leaks_past_two_sigma")
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict != "fail", result.summary()


# --- statistics: documentation and measurement disagree ---------------------------------------


@pytest.mark.parametrize("shape", [(3, 3, 16, 32)])
def test_grouped_conv_fan_out_ignores_groups(shape):
    # keras.layers.Conv2D (https://keras.io/api/layers/convolution_layers/convolution2d/)
    # documents kernel_initializer='glorot_uniform', Var = 2 / (fan_in + fan_out), and that
    # with groups each group is convolved with filters // groups filters: an input channel
    # feeds filters / groups outputs per kernel position. Keras's compute_fans takes
    # fan_out = filters * k (all filters), so the variance is smaller than documented.
    entry = BY_NAME["keras:Conv2D(groups=2)"]
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict == "fail"
    fans = compute_fans(shape, "hwio", groups=2)
    expected_ratio = (fans.fan_in + fans.fan_out) / sum(keras_fans(shape))
    assert result.variance_ratio == pytest.approx(expected_ratio, rel=0.02)


@pytest.mark.parametrize("shape", [(3, 3, 16, 32)])
def test_transposed_conv_he_uses_filters_as_fan_in(shape):
    # keras.initializers.HeNormal (https://keras.io/api/layers/initializers/): stddev =
    # sqrt(2 / fan_in), 'fan_in is the number of input units in the weight tensor'. A
    # Conv2DTranspose kernel is (*kernel_size, filters, in_channels); Keras's compute_fans
    # reads the second-last axis (filters) as the input depth: the entry's convention.
    entry = BY_NAME["keras:Conv2DTranspose(kernel_initializer='he_normal')"]
    if BACKEND == "torch":
        pytest.skip("the torch backend's truncated normal fails on its own")
    result = check_shape(entry.build(), entry.claim, shape, seed=0)
    assert result.verdict == "fail"
    textbook_fan_in = compute_fans(shape, "hwio", transposed=True).fan_in
    assert result.variance_ratio == pytest.approx(textbook_fan_in / keras_fans(shape)[0],
                                                  rel=0.02)


def test_torch_backend_truncated_normal_leaks_past_two_sigma():
    # keras.initializers.HeNormal / VarianceScaling (https://keras.io/api/layers/initializers/)
    # document a truncated normal; TruncatedNormal: values 'more than two standard deviations
    # from the mean are discarded and re-drawn'. Keras's torch backend
    # (keras/src/backend/torch/random.py, truncated_normal) draws 4 candidates per entry
    # and keeps the first inside (-2, 2), or the first candidate when none is: a value
    # beyond 2 sigma with probability 0.0455**4 ~ 4.3e-6. Also checks the fallback to
    # torch when JAX is not importable.
    pytest.importorskip("torch")
    script = textwrap.dedent("""
        import os, sys

        class NoJax:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("jax", "jaxlib"):
                    raise ImportError(name)

        sys.meta_path.insert(0, NoJax())
        os.environ.pop("KERAS_BACKEND", None)
        from verify.adapters import keras as adapter
        from verify.conformance import check_shape
        entry = next(e for e in adapter.entries() if e.name == "keras:HeNormal")
        assert "backend torch" in entry.documented, entry.documented
        result = check_shape(entry.build(), entry.claim, (1024, 1024), seed=0)
        print(result.verdict, [r.name for r in result.failures()])
    """)
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    verdict, failed = run.stdout.strip().splitlines()[-1].split(" ", 1)
    assert verdict == "fail" and "support" in failed, run.stdout


def test_entries_raise_library_missing_without_keras():
    script = textwrap.dedent("""
        import sys

        class NoKeras:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "keras":
                    raise ImportError(name)

        sys.meta_path.insert(0, NoKeras())
        from verify.adapters import LibraryMissing
        from verify.adapters import keras as adapter  # importing must not need keras
        try:
            adapter.entries()
        except LibraryMissing as error:
            print("missing", error)
    """)
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("missing keras is not installed"), run.stdout


# --- dtypes -------------------------------------------------------------------------------


def test_the_dtype_is_asked_of_the_initializer_not_cast_after(monkeypatch):
    """``initializer(shape, dtype=...)``: what Keras returns is bfloat16 before the adapter
    widens it, exactly, to float32; float16 comes as it is; a layer is built with
    ``dtype=``, and its kernel has it."""
    returned = []

    class Spy(keras.initializers.RandomNormal):
        def __call__(self, shape, dtype=None):
            value = super().__call__(shape, dtype=dtype)
            returned.append(keras.backend.standardize_dtype(value.dtype))
            return value

    monkeypatch.setattr(keras.initializers, "RandomNormal", Spy)
    entry = BY_NAME["keras:RandomNormal"]
    widened = entry.target("bfloat16").sample((64, 32), 5)
    assert returned == ["bfloat16"]
    assert widened.dtype == np.float32 and representable(widened, "bfloat16")
    assert entry.target("float16").sample((64, 32), 5).dtype == np.float16
    assert "dtype='float16'" in entry.target("float16").reproduce
    kernel = BY_NAME["keras:Dense"].target("float16").sample((64, 32), 5)
    assert kernel.dtype == np.float16


@pytest.mark.skipif(BACKEND != "jax", reason="the refusals of Keras's JAX backend")
def test_a_dtype_the_backend_refuses_is_not_supported_with_its_reason():
    """On JAX, Keras's uniform initializers refuse complex64 (JAX's uniform draws real
    floats only) and 64-bit dtypes need jax_enable_x64."""
    row = conformance_row(BY_NAME["keras:GlorotUniform"], seed=1, examples=1, timeout=60,
                          dtype="complex64")
    assert row["verdict"] == "not supported", row
    assert "keras.initializers.GlorotUniform() refuses complex64" in row["reason"]
    assert "must be a float dtype" in row["reason"]
    row = conformance_row(BY_NAME["keras:Dense"], seed=1, examples=1, timeout=60,
                          dtype="float64")
    assert row["verdict"] == "not supported" and "jax_enable_x64" in row["reason"]
    assert BY_NAME["keras:Orthogonal"].dtypes == ("float32", "float64")


@pytest.mark.skipif(BACKEND != "jax", reason="Keras's JAX backend")
def test_the_catalog_draws_keras_jax_64_bit_dtypes_in_a_child_with_x64():
    from verify import catalog
    from verify.adapters.remote import close_all

    try:
        entry = catalog.load(["keras"], backends=["jax"]).find("keras:RandomNormal")
        values = entry.target("float64").sample((64, 32), 1)
        assert values.dtype == np.float64
        assert np.any(values != values.astype(np.float32).astype(np.float64))
    finally:
        close_all()


def test_keras_after_tensorflow_without_keras_backend_runs_on_the_default_backend(tmp_path):
    """TensorFlow (loaded for tf_keras) imports Keras on Keras's own default backend; with
    KERAS_BACKEND unset, the catalog chose no backend and ended in a KeyError. Now it sets
    the default (JAX) before any library loads, and says the backend it ran on."""
    pytest.importorskip("tf_keras")
    import json
    import os

    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), environment.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "verify", "conformance", "--library", "tf_keras", "keras",
         "--only", "keras:Zeros", "--dtype", "float32", "--workers", "0", "--out",
         str(tmp_path), "--json"], capture_output=True, text=True, env=environment,
        timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)["entries"]
    assert [(r["target"], r["backend"], r["verdict"]) for r in rows] == [
        ("keras:Zeros", "jax", "pass")]


def test_choose_backend_says_the_backend_of_a_keras_imported_before_it():
    pytest.importorskip("tensorflow")
    import os

    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), environment.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", "import os, keras\n"
         "from verify.adapters.keras import choose_backend\n"
         "choose_backend()\n"
         "print(os.environ['KERAS_BACKEND'], keras.backend.backend())"],
        capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    said, actual = done.stdout.split()
    assert said == actual
