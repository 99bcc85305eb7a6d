"""Keras 3: every public initializer of ``keras.initializers`` and the default kernel
initialization of ``Dense`` and the convolution layers.

Keras 3 runs on a backend. Unless ``KERAS_BACKEND`` is already set, :func:`entries`
picks JAX, or PyTorch when JAX is not importable, before it imports Keras; every
entry's ``documented`` text and target name state the backend in use.

Keras stores kernels as ``(*kernel, in, out)`` (``hwio``; a dense kernel is
``(in, out)``), and transposed convolutions as ``(*kernel, out, in)``. Its
``compute_fans`` (``keras/src/initializers/random_initializers.py``) reads the last two
axes as ``(input_depth, depth)`` and multiplies both by the product of the others. The
claims below are the documented laws in the textbook's fans (:mod:`verify.fans`):
where Keras's fans differ from them (grouped and transposed convolutions), the check
measures it.

A Keras initializer built with an integer seed draws the same tensor on every call, so
``sample`` builds one per call, seeded with ``seed32(seed)``. A layer takes its default
initializer's seed from Python's ``random`` when it is constructed (``RandomInitializer``
with ``seed=None`` calls ``keras.random.make_default_seed``, ``random.randint``), so a
layer entry seeds Python's ``random`` with ``seed32(seed)`` first, then builds the layer
(without a bias, which does not change the kernel's initializer) and returns its kernel.
That is the one generator of ``keras.utils.set_random_seed`` a layer's kernel reads, and
the same kernel: the rest of ``set_random_seed`` (NumPy's and the backend's global seeds,
TensorFlow's when it is installed) is not read, and on the torch backend costs
``torch.manual_seed``, 0.2 to 1.2 ms a call.

Dtypes: an initializer is called as ``initializer(shape, dtype=...)`` and a layer is built
with ``dtype=...`` (its kernel is created in that dtype), for every dtype the claim takes
(:func:`verify.precision.claim_dtypes`); float32 is Keras's default (no argument). What
comes back must have the dtype asked for; ``bfloat16`` is widened to float32 exactly. A
dtype the backend refuses is "not supported"; on the JAX backend float64 and complex128
need ``jax_enable_x64``, as for JAX itself.

Not covered: ``keras.initializers.STFT`` (a fixed short-time Fourier basis for the
``STFTSpectrogram`` layer, defined only for ``(frame_length, 1, fft_bins)`` kernels,
not an initialization law) and the abstract base ``keras.initializers.Initializer``.
The lower-case names (``he_normal``, ...) and ``IdentityInitializer`` /
``OrthogonalInitializer`` are aliases of the classes covered.
"""

from __future__ import annotations

import importlib
import math
import os
import random
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.adapters import (
    ContractError,
    Target,
    as_asked,
    import_quietly,
    refused,
    require,
    seed32,
    widen_snippet,
    x64_snippet,
)
from verify.catalog import Entry
from verify.laws import Claim, Exact, Orthogonal, constant, normal, truncated_normal, uniform
from verify.precision import claim_dtypes
from verify.schemes import InitSpec
from verify.strategies import weight_shapes

LAYER_MAX_CALLS = 2000  # building a layer costs about a millisecond per call
INITIALIZERS_URL = "https://keras.io/api/layers/initializers/"
LAYER_URLS = {
    "Dense": "https://keras.io/api/layers/core_layers/dense/",
    "Conv1D": "https://keras.io/api/layers/convolution_layers/convolution1d/",
    "Conv2D": "https://keras.io/api/layers/convolution_layers/convolution2d/",
    "Conv3D": "https://keras.io/api/layers/convolution_layers/convolution3d/",
    "Conv2DTranspose": "https://keras.io/api/layers/convolution_layers/convolution2d_transpose/",
}
SKIPPED = {
    "keras:STFT": "a fixed short-time Fourier basis for STFTSpectrogram kernels of shape "
                  "(frame_length, 1, fft_bins), not an initialization law",
    "keras:Initializer": "the abstract base class",
}

VARIANCE_SCALING_DOC = (
    "VarianceScaling: with distribution 'truncated_normal' or 'untruncated_normal', "
    "'samples are drawn from a truncated/untruncated normal distribution with a mean of "
    "zero and a standard deviation (after truncation, if used) stddev = sqrt(scale / n)', "
    "n = fan_in, fan_out or their average by mode; with 'uniform', within [-limit, limit], "
    "limit = sqrt(3 * scale / n)"
)
TRANSPOSED_CONVENTION = (
    "Keras stores a transposed convolution's kernel as (*kernel_size, filters, in_channels) "
    "(keras/src/layers/convolutional/base_conv_transpose.py, build) and computes fans from "
    "the last two axes as '(..., input_depth, depth)' (keras/src/initializers/"
    "random_initializers.py, compute_fans), so it uses fan_in = filters * k and fan_out = "
    "in_channels * k: the textbook's two fans swapped. A source-level convention, not "
    "stated on keras.io; it leaves fan_avg (glorot, the default) unchanged"
)
LAYER_SEED = "import random; random.seed(seed32({seed})); "
MIN_LAYER_NUMEL = 64
"""Layer shapes have at least this many entries: each call builds a layer (~1 ms)."""


def choose_backend() -> None:
    """Before Keras is imported: unless ``KERAS_BACKEND`` is set, set it to ``jax``, or to
    ``torch`` when JAX is not importable. Does not import Keras. Where something else has
    imported Keras already (TensorFlow does, on Keras's own default backend), set it to
    the backend that Keras runs on, so that this process says the backend it has."""
    if "KERAS_BACKEND" in os.environ:
        return
    if "keras" in sys.modules:
        try:
            from keras.src.backend.config import backend

            os.environ["KERAS_BACKEND"] = backend()
        except Exception:  # a Keras without that module: its backend stays unsaid
            pass
        return
    try:
        importlib.import_module("jax")
        os.environ["KERAS_BACKEND"] = "jax"
    except ImportError:
        os.environ["KERAS_BACKEND"] = "torch"


def _keras() -> Any:
    choose_backend()
    if os.environ.get("KERAS_BACKEND") == "tensorflow":
        import_quietly("tensorflow", lambda tf: tf.constant(0.0))  # its devices start here
    return require("keras")


def refuse_without_x64(backend: str, dtype: str) -> None:
    """On the JAX backend, :class:`~verify.adapters.DtypeUnsupported` for a 64-bit dtype
    unless ``jax_enable_x64`` is on: without it Keras hands back 32 bits for it, as JAX does
    (:func:`verify.adapters.jax.jax_dtype`)."""
    if backend == "jax" and dtype in ("float64", "complex128"):
        from verify.adapters.jax import jax_dtype

        jax_dtype(dtype)


def _array(keras: Any, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = keras.ops.convert_to_numpy(value)
    if array.shape != tuple(shape):
        raise ContractError("shape", f"asked for shape {tuple(shape)}, Keras returned "
                                     f"{array.shape}")
    return array


def _call_repr(cls: str, kwargs: dict[str, Any], *extra: str) -> str:
    return f"{cls}({', '.join([*(f'{k}={v!r}' for k, v in kwargs.items()), *extra])})"


# --- shapes -------------------------------------------------------------------------------


def _function_shapes(max_dims: int = 5, max_numel: int = 2**20):
    return lambda: weight_shapes(layout="hwio", max_dims=max_dims, max_numel=max_numel)


@st.composite
def layer_shapes(draw: st.DrawFn, ndim: int, *, groups: int = 1, max_channels: int = 512,
                 max_kernel: int = 7, max_numel: int = 2**16) -> tuple[int, ...]:
    """Kernel shapes ``(*kernel, a, b)`` a layer can have: the last axis divisible by
    ``groups``, at least :data:`MIN_LAYER_NUMEL` entries (so a check needs few calls)."""
    shape = list(draw(weight_shapes(layout="hwio", min_dims=ndim, max_dims=ndim,
                                    max_channels=max_channels, max_kernel=max_kernel,
                                    max_numel=max_numel)))
    shape[-1] = max(groups, shape[-1] - shape[-1] % groups)
    shape[-1] *= math.ceil(MIN_LAYER_NUMEL / math.prod(shape))
    return tuple(shape)


# --- entries --------------------------------------------------------------------------------


def entries() -> list[Entry]:
    keras = _keras()
    backend = keras.backend.backend()
    where = f"(Keras {keras.__version__}, backend {backend})"
    # a snippet picks its backend itself, before it imports Keras (a bug report's reader
    # may have another KERAS_BACKEND set)
    setup = (f"import os; os.environ['KERAS_BACKEND'] = {backend!r}; import keras; "
             "shape = {shape}; ")

    def function(cls: str, claim: Claim, doc: str, *, random: bool = True,
                 shapes: Callable[[], st.SearchStrategy] | None = None,
                 stacked: bool = False, **kwargs: Any) -> Entry:
        """``stacked``: a flat fill, whose law does not depend on the shape."""
        call = _call_repr(cls, kwargs)
        name = f"keras:{call if kwargs else cls}"
        seeded = _call_repr(cls, kwargs, "seed=seed32({seed})")

        def build(dtype: str = "float32") -> Target:
            make = getattr(keras.initializers, cls)
            refuse_without_x64(backend, dtype)
            asked = {} if dtype == "float32" else {"dtype": dtype}
            jax_x64 = x64_snippet(dtype) if backend == "jax" else ""

            def draw(shape: tuple[int, ...], seed: int) -> np.ndarray:
                try:
                    initializer = make(seed=seed32(seed), **kwargs) if random \
                        else make(**kwargs)
                    array = _array(keras, initializer(shape, **asked), shape)
                except ContractError:
                    raise
                except Exception as error:
                    raise refused(dtype, f"keras.initializers.{call}", error) from None
                return as_asked(array, dtype, f"keras.initializers.{call}")

            def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
                return draw(tuple(int(d) for d in shape), seed)

            def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
                return draw((int(count), *(int(d) for d in shape)), seed)

            made = f"keras.initializers.{seeded if random else call}"
            dtyped = f", dtype={dtype!r}" if asked else ""
            where_run = backend if dtype == "float32" else f"{backend}, {dtype}"
            drawn = f"w = keras.ops.convert_to_numpy({made}(shape{dtyped}))"
            return Target(f"{name} [{where_run}]", "keras", sample, layout="hwio",
                          reproduce=jax_x64 + setup + drawn + widen_snippet(dtype),
                          stacked=stacked_draw if stacked else None, dtype=dtype)

        return Entry(name, "keras", build, claim,
                     f"keras.initializers.{cls}: {doc}. {INITIALIZERS_URL} {where}",
                     kind="function", shapes=shapes or _function_shapes(),
                     dtypes=claim_dtypes(claim), build_dtype=build)

    def layer(label: str, cls: str, claim: Claim, doc: str, *,
              make: Callable[..., Any], inputs: Callable[[tuple[int, ...]], tuple],
              make_text: str, inputs_text: str, shapes: Callable[[], st.SearchStrategy],
              convention: str = "") -> Entry:
        """``make(shape, **options)`` builds the layer (``options``: its ``dtype``)."""
        name = f"keras:{label}"

        def build(dtype: str = "float32") -> Target:
            refuse_without_x64(backend, dtype)
            asked = {} if dtype == "float32" else {"dtype": dtype}
            jax_x64 = x64_snippet(dtype) if backend == "jax" else ""

            def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
                # what the layer's initializer reads, not keras.utils.set_random_seed (see
                # the module's docstring)
                random.seed(seed32(seed))
                try:
                    built = make(shape, **asked)
                    built.build(inputs(shape))
                    array = _array(keras, built.kernel.value, shape)
                except ContractError:
                    raise
                except Exception as error:
                    raise refused(dtype, f"keras.layers.{cls}", error) from None
                return as_asked(array, dtype, f"the kernel of keras.layers.{cls}")

            made = make_text[:-1] + f", dtype={dtype!r})" if asked else make_text
            reproduce = (jax_x64 + setup + LAYER_SEED + f"layer = keras.layers.{made}; "
                         f"layer.build({inputs_text}); "
                         "w = keras.ops.convert_to_numpy(layer.kernel.value)"
                         + widen_snippet(dtype))
            where_run = backend if dtype == "float32" else f"{backend}, {dtype}"
            return Target(f"{name} [{where_run}]", "keras", sample, layout="hwio",
                          reproduce=reproduce, dtype=dtype)

        return Entry(name, "keras", build, claim,
                     f"keras.layers.{cls}: {doc}. {LAYER_URLS[cls]} {where}",
                     kind="layer", shapes=shapes, convention=convention,
                     max_calls=LAYER_MAX_CALLS, dtypes=claim_dtypes(claim),
                     build_dtype=build)

    layers = keras.layers
    found = [
        # -- variance scaling --------------------------------------------------------------
        function("GlorotNormal", InitSpec("glorot", "truncated_normal", layout="hwio"),
                 "'Draws samples from a truncated normal distribution centered on 0 with "
                 "stddev = sqrt(2 / (fan_in + fan_out))'; it is VarianceScaling(scale=1.0, "
                 "mode='fan_avg', distribution='truncated_normal'), whose stddev is the one "
                 "'after truncation'"),
        function("GlorotUniform", InitSpec("glorot", "uniform", layout="hwio"),
                 "'Draws samples from a uniform distribution within [-limit, limit], where "
                 "limit = sqrt(6 / (fan_in + fan_out))'"),
        function("HeNormal", InitSpec("he", "truncated_normal", layout="hwio"),
                 "'draws samples from a truncated normal distribution centered on 0 with "
                 "stddev = sqrt(2 / fan_in) where fan_in is the number of input units in the "
                 "weight tensor'; it is VarianceScaling(scale=2.0, mode='fan_in', "
                 "distribution='truncated_normal'), whose stddev is the one 'after "
                 "truncation'"),
        function("HeUniform", InitSpec("he", "uniform", layout="hwio"),
                 "'Draws samples from a uniform distribution within [-limit, limit], where "
                 "limit = sqrt(6 / fan_in)'"),
        function("LecunNormal", InitSpec("lecun", "truncated_normal", layout="hwio"),
                 "'Draws samples from a truncated normal distribution centered on 0 with "
                 "stddev = sqrt(1 / fan_in)'; it is VarianceScaling(scale=1.0, "
                 "mode='fan_in', distribution='truncated_normal'), whose stddev is the one "
                 "'after truncation'"),
        function("LecunUniform", InitSpec("lecun", "uniform", layout="hwio"),
                 "'Draws samples from a uniform distribution within [-limit, limit], where "
                 "limit = sqrt(3 / fan_in)'"),
        function("VarianceScaling",
                 InitSpec("lecun", "truncated_normal", layout="hwio", mode="fan_in", gain=1.0),
                 f"defaults scale=1.0, mode='fan_in', distribution='truncated_normal'. "
                 f"{VARIANCE_SCALING_DOC}"),
        function("VarianceScaling",
                 InitSpec("lecun", "normal", layout="hwio", mode="fan_out",
                          gain=math.sqrt(2.0)),
                 VARIANCE_SCALING_DOC,
                 scale=2.0, mode="fan_out", distribution="untruncated_normal"),
        function("VarianceScaling",
                 InitSpec("glorot", "uniform", layout="hwio", mode="fan_avg",
                          gain=math.sqrt(0.5)),
                 VARIANCE_SCALING_DOC,
                 scale=0.5, mode="fan_avg", distribution="uniform"),
        # -- fixed laws ----------------------------------------------------------------------
        function("RandomNormal", normal(0.05),
                 "'Draws samples from a normal distribution for given parameters', "
                 "defaults mean=0.0, stddev=0.05", stacked=True),
        function("RandomNormal", normal(0.5, mean=1.0),
                 "'Draws samples from a normal distribution for given parameters'",
                 stacked=True, mean=1.0, stddev=0.5),
        function("RandomUniform", uniform(-0.05, 0.05),
                 "'Draws samples from a uniform distribution for given parameters', "
                 "defaults minval=-0.05 (inclusive), maxval=0.05 (exclusive)", stacked=True),
        function("TruncatedNormal", truncated_normal(0.05, -0.1, 0.1),
                 "'similar to values from a RandomNormal initializer, except that values "
                 "more than two standard deviations from the mean are discarded and "
                 "re-drawn', defaults mean=0.0, stddev=0.05", stacked=True),
        function("TruncatedNormal", truncated_normal(0.5, 0.0, 2.0, mean=1.0),
                 "'similar to values from a RandomNormal initializer, except that values "
                 "more than two standard deviations from the mean are discarded and "
                 "re-drawn'",
                 stacked=True, mean=1.0, stddev=0.5),
        # -- orthogonal and deterministic ----------------------------------------------------
        function("Orthogonal", Orthogonal(1.0, rows="last"),
                 "'If the shape of the tensor to initialize is more than two-dimensional, a "
                 "matrix of shape (shape[0] * ... * shape[n - 2], shape[n - 1]) is "
                 "initialized'; 'If the matrix has fewer rows than columns then the output "
                 "will have orthogonal rows. Otherwise, the output will have orthogonal "
                 "columns'; default gain=1.0",
                 shapes=_function_shapes(max_numel=2**16)),
        function("Orthogonal", Orthogonal(2.0, rows="last"),
                 "as Orthogonal(), with 'gain: Multiplicative factor to apply to the "
                 "orthogonal matrix'",
                 shapes=_function_shapes(max_numel=2**16), gain=2.0),
        function("Identity", Exact(lambda shape: np.eye(*shape), "identity"),
                 "'Initializer that generates the identity matrix. Only usable for "
                 "generating 2D matrices', default gain=1.0",
                 random=False, shapes=_function_shapes(max_dims=2)),
        function("Zeros", constant(0.0), "'Initializer that generates tensors initialized "
                 "to 0'", random=False),
        function("Ones", constant(1.0), "'Initializer that generates tensors initialized "
                 "to 1'", random=False),
        function("Constant", constant(0.5), "'Initializer that generates tensors with "
                 "constant values'", random=False, value=0.5),
        # -- layers' default kernels -----------------------------------------------------------
        layer("Dense", "Dense", InitSpec("glorot", "uniform", layout="hwio"),
              "kernel_initializer defaults to 'glorot_uniform'; the kernel is (input_dim, "
              "units)",
              make=lambda s, **o: layers.Dense(s[1], use_bias=False, **o),
              inputs=lambda s: (None, s[0]),
              make_text="Dense(shape[1], use_bias=False)", inputs_text="(None, shape[0])",
              shapes=lambda: layer_shapes(2)),
        layer("Conv1D", "Conv1D", InitSpec("glorot", "uniform", layout="hwio"),
              "kernel_initializer defaults to 'glorot_uniform'",
              make=lambda s, **o: layers.Conv1D(s[-1], s[:-2], use_bias=False, **o),
              inputs=lambda s: (None, None, s[-2]),
              make_text="Conv1D(shape[-1], shape[:-2], use_bias=False)",
              inputs_text="(None, None, shape[-2])", shapes=lambda: layer_shapes(3)),
        layer("Conv2D", "Conv2D", InitSpec("glorot", "uniform", layout="hwio"),
              "kernel_initializer defaults to 'glorot_uniform'",
              make=lambda s, **o: layers.Conv2D(s[-1], s[:-2], use_bias=False, **o),
              inputs=lambda s: (None, None, None, s[-2]),
              make_text="Conv2D(shape[-1], shape[:-2], use_bias=False)",
              inputs_text="(None, None, None, shape[-2])", shapes=lambda: layer_shapes(4)),
        layer("Conv2D(groups=2)", "Conv2D",
              InitSpec("glorot", "uniform", layout="hwio", groups=2),
              "kernel_initializer defaults to 'glorot_uniform' ('fan_in is the number of "
              "input units in the weight tensor and fan_out is the number of output "
              "units'); groups: 'Each group is convolved separately with filters // groups "
              "filters'; the kernel is (*kernel_size, in_channels // groups, filters)",
              make=lambda s, **o: layers.Conv2D(s[-1], s[:-2], groups=2, use_bias=False,
                                                **o),
              inputs=lambda s: (None, None, None, 2 * s[-2]),
              make_text="Conv2D(shape[-1], shape[:-2], groups=2, use_bias=False)",
              inputs_text="(None, None, None, 2 * shape[-2])",
              shapes=lambda: layer_shapes(4, groups=2)),
        layer("Conv3D", "Conv3D", InitSpec("glorot", "uniform", layout="hwio"),
              "kernel_initializer defaults to 'glorot_uniform'",
              make=lambda s, **o: layers.Conv3D(s[-1], s[:-2], use_bias=False, **o),
              inputs=lambda s: (None, None, None, None, s[-2]),
              make_text="Conv3D(shape[-1], shape[:-2], use_bias=False)",
              inputs_text="(None, None, None, None, shape[-2])",
              shapes=lambda: layer_shapes(5, max_channels=32, max_kernel=3,
                                          max_numel=2**14)),
        layer("Conv2DTranspose", "Conv2DTranspose",
              InitSpec("glorot", "uniform", layout="hwio", transposed=True),
              "kernel_initializer defaults to 'glorot_uniform'; the kernel is "
              "(*kernel_size, filters, in_channels)",
              make=lambda s, **o: layers.Conv2DTranspose(s[-2], s[:-2], use_bias=False,
                                                         **o),
              inputs=lambda s: (None, None, None, s[-1]),
              make_text="Conv2DTranspose(shape[-2], shape[:-2], use_bias=False)",
              inputs_text="(None, None, None, shape[-1])", shapes=lambda: layer_shapes(4),
              convention=TRANSPOSED_CONVENTION),
        # Not a default: the one transposed-convolution kernel whose law the fan swap changes
        # (glorot's fan_avg is symmetric in the two fans, he's fan_in is not).
        layer("Conv2DTranspose(kernel_initializer='he_normal')", "Conv2DTranspose",
              InitSpec("he", "truncated_normal", layout="hwio", transposed=True),
              "kernel_initializer='he_normal': 'stddev = sqrt(2 / fan_in) where fan_in is "
              "the number of input units in the weight tensor' (keras.initializers.HeNormal, "
              f"{INITIALIZERS_URL}); the kernel is (*kernel_size, filters, in_channels)",
              make=lambda s, **o: layers.Conv2DTranspose(s[-2], s[:-2], use_bias=False,
                                                         kernel_initializer="he_normal", **o),
              inputs=lambda s: (None, None, None, s[-1]),
              make_text="Conv2DTranspose(shape[-2], shape[:-2], use_bias=False, "
                        "kernel_initializer='he_normal')",
              inputs_text="(None, None, None, shape[-1])", shapes=lambda: layer_shapes(4),
              convention=TRANSPOSED_CONVENTION),
    ]
    return found

