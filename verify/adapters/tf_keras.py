"""TensorFlow's Keras 2, the ``tf_keras`` package: every public initializer of
``tf_keras.initializers`` and the default initialization of ``Dense``, the convolution
layers and ``Embedding``.

On TensorFlow 2.16 and later ``tf.keras`` is Keras 3 (:mod:`verify.adapters.keras`); Keras 2
lives on as ``tf_keras``. Its documentation is TensorFlow's API reference up to 2.15 (the
last release whose ``tf.keras`` was Keras 2) and its docstrings, quoted below from the
installed source, ``tf_keras/src/initializers/initializers.py``.

Storage is ``hwio``, as in Keras 3: a dense kernel is ``(in, out)``, a convolution kernel
``(*kernel, in / groups, out)`` and a transposed convolution's ``(*kernel, out, in)``.
``_compute_fans`` reads the last two axes as ``(input_depth, depth)`` and multiplies both by
the product of the others; a 1-D shape ``(n,)`` has ``fan_in = fan_out = n``. The claims
below are the documented laws in the textbook's fans (:mod:`verify.fans`); where tf_keras's
fans differ from them (grouped and transposed convolutions), the check measures it.

Seeding. Every random initializer draws with TensorFlow's *stateless* ops, seeded by
``[seed, 0]`` (``tf_keras.src.backend.RandomGenerator``, ``rng_type="stateless"``):

* built with an integer ``seed``, an initializer returns the same tensor on every call, so
  ``sample`` builds one per call, seeded with ``seed32(seed)``;
* built with ``seed=None`` it takes a seed on its first call, from the generator
  ``tf_keras.utils.set_random_seed`` installs (``random.Random(seed)`` in the thread-local
  ``tf_keras.src.backend._SEED_GENERATOR``; else from Python's ``random``), and keeps it: a
  second call returns the same values again, with a warning. That is how a layer's
  default initializer (a new instance per layer) draws, so a layer entry installs that
  generator, seeded with ``seed32(seed)``, builds the layer (without a bias, which does
  not change the kernel's initializer) and returns its kernel: the kernel
  ``tf_keras.utils.set_random_seed(seed32(seed))`` gives, which the reproduction calls.
  The rest of ``set_random_seed`` (Python's, NumPy's and TensorFlow's global seeds) is not
  read, and ``tf.random.set_seed`` clears TensorFlow's caches: a layer build takes 4 times
  as long after it.

The docstrings of ``GlorotNormal``, ``GlorotUniform``, ``HeNormal``, ``HeUniform``,
``LecunNormal`` and ``LecunUniform`` say that 'a seeded initializer will not produce the
same random values across multiple calls'; it does (``tests/test_adapters_tf_keras.py``
shows it). The other initializers' docstrings say it will.

Dtypes: as for Keras 3, ``initializer(shape, dtype=...)`` and layers built with
``dtype=...``, for every dtype the claim takes; the returned dtype is checked, ``bfloat16``
widened to float32 exactly.

Not covered: the abstract base ``tf_keras.initializers.Initializer``. The lower-case names
(``he_normal``, ...) are aliases of the classes covered.

TensorFlow is imported by :func:`_tf_keras` only, never when this module is imported.
"""

from __future__ import annotations

import math
import os
import random
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
)
from verify.adapters.keras import (
    LAYER_MAX_CALLS,
    VARIANCE_SCALING_DOC,
    _call_repr,
    _function_shapes,
    layer_shapes,
)
from verify.catalog import Entry
from verify.laws import Claim, Exact, Orthogonal, constant, normal, truncated_normal, uniform
from verify.precision import claim_dtypes
from verify.schemes import InitSpec

LIBRARY = "tf_keras"
DOCS = "https://www.tensorflow.org/versions/r2.15/api_docs/python/tf/keras/"
"""TensorFlow 2.15's API reference: the last whose ``tf.keras`` is Keras 2."""
SOURCE = "tf_keras/src/initializers/initializers.py"
SKIPPED = {
    "tf_keras:Initializer": "the abstract base class",
}

TRANSPOSED_CONVENTION = (
    "tf_keras stores a transposed convolution's kernel as (*kernel_size, filters, "
    "in_channels) (tf_keras/src/layers/convolutional/conv2d_transpose.py, build) and "
    "computes fans from the last two axes as '(..., input_depth, depth)' (tf_keras/src/"
    "initializers/initializers.py, _compute_fans), so it uses fan_in = filters * k and "
    "fan_out = in_channels * k: the textbook's two fans swapped. A source-level convention, "
    "not stated in the documentation; it leaves fan_avg (glorot, the default) unchanged"
)
LAYER_SEED = "tf_keras.utils.set_random_seed(seed32({seed}))\n"
SEEDED_REPEATS = (
    "'Note that a seeded initializer will not produce the same random values across "
    "multiple calls, but multiple initializers will produce the same sequence when "
    "constructed with the same seed value'"
)
"""The docstrings of the Glorot, He and LeCun initializers (see the module's docstring)."""


def _tf_keras() -> Any:
    """``tf_keras``, imported here and only here (TensorFlow with it).

    TensorFlow's thread pools get one thread each when ``OMP_NUM_THREADS`` is ``1``
    (:mod:`verify.threads`), where TensorFlow still lets them be set.
    """
    import_quietly("tensorflow", lambda tf: tf.constant(0.0))  # its devices start here
    tf_keras = require("tf_keras")
    if os.environ.get("OMP_NUM_THREADS") == "1":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow's runtime already started: its pools are fixed
    return tf_keras


def seed_layers(seed: int) -> None:
    """Seed the default initializers of the layers built next in this thread, as
    ``tf_keras.utils.set_random_seed(seed)`` does (``tf_keras/src/utils/tf_utils.py``),
    without its global seeds."""
    from tf_keras.src import backend

    backend._SEED_GENERATOR.generator = random.Random(seed)


def _array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != tuple(shape):
        raise ContractError("shape", f"asked for shape {tuple(shape)}, tf_keras returned "
                                     f"{array.shape}")
    return array


def _labelled(name: str, dtype: str) -> str:
    """A target's name, with its dtype but for float32."""
    return name if dtype == "float32" else f"{name} [{dtype}]"


def _doc(name: str) -> str:
    return f"{DOCS}initializers/{name} ; {SOURCE} {name}"


# --- entries --------------------------------------------------------------------------------


def entries() -> list[Entry]:
    tf_keras = _tf_keras()
    where = f"(tf_keras {tf_keras.__version__})"
    setup = "import tf_keras\nshape = {shape}\n"

    def function(cls: str, claim: Claim, doc: str, *, random: bool = True,
                 shapes: Callable[[], st.SearchStrategy] | None = None,
                 stacked: bool = False, **kwargs: Any) -> Entry:
        """``stacked``: a flat fill, whose law does not depend on the shape."""
        call = _call_repr(cls, kwargs)
        name = f"tf_keras:{call if kwargs else cls}"
        seeded = _call_repr(cls, kwargs, "seed=seed32({seed})")

        def build(dtype: str = "float32") -> Target:
            make = getattr(tf_keras.initializers, cls)
            asked = {} if dtype == "float32" else {"dtype": dtype}

            def draw(shape: tuple[int, ...], seed: int) -> np.ndarray:
                try:
                    initializer = make(seed=seed32(seed), **kwargs) if random \
                        else make(**kwargs)
                    array = _array(initializer(shape, **asked), shape)
                except ContractError:
                    raise
                except Exception as error:
                    raise refused(dtype, f"tf_keras.initializers.{call}", error) from None
                return as_asked(array, dtype, f"tf_keras.initializers.{call}")

            def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
                return draw(tuple(int(d) for d in shape), seed)

            def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
                return draw((int(count), *(int(d) for d in shape)), seed)

            made = f"tf_keras.initializers.{seeded if random else call}"
            dtyped = f", dtype={dtype!r}" if asked else ""
            return Target(_labelled(name, dtype), LIBRARY, sample, layout="hwio",
                          reproduce=setup + f"w = {made}(shape{dtyped}).numpy()\n"
                          + widen_snippet(dtype),
                          stacked=stacked_draw if stacked else None, dtype=dtype)

        return Entry(name, LIBRARY, build, claim,
                     f"tf_keras.initializers.{cls}: {doc}. {_doc(cls)} {where}",
                     kind="function", shapes=shapes or _function_shapes(),
                     dtypes=claim_dtypes(claim), build_dtype=build)

    def layer(label: str, cls: str, claim: Claim, doc: str, *,
              make: Callable[..., Any], inputs: Callable[[tuple[int, ...]], tuple],
              make_text: str, inputs_text: str, shapes: Callable[[], st.SearchStrategy],
              weight: str = "kernel", convention: str = "") -> Entry:
        """``make(shape, **options)`` builds the layer (``options``: its ``dtype``)."""
        name = f"tf_keras:{label}"

        def build(dtype: str = "float32") -> Target:
            asked = {} if dtype == "float32" else {"dtype": dtype}

            def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
                seed_layers(seed32(seed))
                try:
                    built = make(shape, **asked)
                    built.build(inputs(shape))
                    array = _array(getattr(built, weight).numpy(), shape)
                except ContractError:
                    raise
                except Exception as error:
                    raise refused(dtype, f"tf_keras.layers.{cls}", error) from None
                return as_asked(array, dtype, f"the {weight} of tf_keras.layers.{cls}")

            made = make_text[:-1] + f", dtype={dtype!r})" if asked else make_text
            reproduce = (setup + LAYER_SEED + f"layer = tf_keras.layers.{made}\n"
                         f"layer.build({inputs_text})\nw = layer.{weight}.numpy()\n"
                         + widen_snippet(dtype))
            return Target(_labelled(name, dtype), LIBRARY, sample, layout="hwio",
                          reproduce=reproduce, dtype=dtype)

        return Entry(name, LIBRARY, build, claim,
                     f"tf_keras.layers.{cls}: {doc}. {DOCS}layers/{cls} ; "
                     f"tf_keras/src/layers {where}",
                     kind="layer", shapes=shapes, convention=convention,
                     max_calls=LAYER_MAX_CALLS, dtypes=claim_dtypes(claim),
                     build_dtype=build)

    layers = tf_keras.layers
    return [
        # -- variance scaling --------------------------------------------------------------
        function("GlorotNormal", InitSpec("glorot", "truncated_normal", layout="hwio"),
                 "'Draws samples from a truncated normal distribution centered on 0 with "
                 "stddev = sqrt(2 / (fan_in + fan_out)) where fan_in is the number of input "
                 "units in the weight tensor and fan_out is the number of output units in "
                 "the weight tensor'; it is VarianceScaling(scale=1.0, mode='fan_avg', "
                 "distribution='truncated_normal'), whose stddev is the one 'after "
                 "truncation'"),
        function("GlorotUniform", InitSpec("glorot", "uniform", layout="hwio"),
                 "'Draws samples from a uniform distribution within [-limit, limit], where "
                 "limit = sqrt(6 / (fan_in + fan_out)) (fan_in is the number of input units "
                 "in the weight tensor and fan_out is the number of output units)'"),
        function("HeNormal", InitSpec("he", "truncated_normal", layout="hwio"),
                 "'It draws samples from a truncated normal distribution centered on 0 with "
                 "stddev = sqrt(2 / fan_in) where fan_in is the number of input units in the "
                 "weight tensor'; it is VarianceScaling(scale=2.0, mode='fan_in', "
                 "distribution='truncated_normal'), whose stddev is the one 'after "
                 "truncation'"),
        function("HeUniform", InitSpec("he", "uniform", layout="hwio"),
                 "'Draws samples from a uniform distribution within [-limit, limit], where "
                 "limit = sqrt(6 / fan_in) (fan_in is the number of input units in the "
                 "weight tensor)'"),
        function("LecunNormal", InitSpec("lecun", "truncated_normal", layout="hwio"),
                 "'Draws samples from a truncated normal distribution centered on 0 with "
                 "stddev = sqrt(1 / fan_in) where fan_in is the number of input units in the "
                 "weight tensor'; it is VarianceScaling(scale=1.0, mode='fan_in', "
                 "distribution='truncated_normal'), whose stddev is the one 'after "
                 "truncation'"),
        function("LecunUniform", InitSpec("lecun", "uniform", layout="hwio"),
                 "'Draws samples from a uniform distribution within [-limit, limit], where "
                 "limit = sqrt(3 / fan_in) (fan_in is the number of input units in the "
                 "weight tensor)'"),
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
                 "'Initializer that generates tensors with a normal distribution', defaults "
                 "mean=0.0, stddev=0.05", stacked=True),
        function("RandomNormal", normal(0.5, mean=1.0),
                 "'Initializer that generates tensors with a normal distribution'; mean: "
                 "'Mean of the random values to generate', stddev: 'Standard deviation of the "
                 "random values to generate'", stacked=True, mean=1.0, stddev=0.5),
        function("RandomUniform", uniform(-0.05, 0.05),
                 "'Initializer that generates tensors with a uniform distribution', defaults "
                 "minval=-0.05 ('inclusive'), maxval=0.05 ('exclusive')", stacked=True),
        function("TruncatedNormal", truncated_normal(0.05, -0.1, 0.1),
                 "'The values generated are similar to values from a "
                 "tf.keras.initializers.RandomNormal initializer except that values more than "
                 "two standard deviations from the mean are discarded and re-drawn', "
                 "defaults mean=0.0, stddev=0.05 ('before truncation')", stacked=True),
        function("TruncatedNormal", truncated_normal(0.5, 0.0, 2.0, mean=1.0),
                 "'values more than two standard deviations from the mean are discarded and "
                 "re-drawn'; stddev: 'Standard deviation of the random values to generate "
                 "before truncation'", stacked=True, mean=1.0, stddev=0.5),
        # -- orthogonal and deterministic ----------------------------------------------------
        function("Orthogonal", Orthogonal(1.0, rows="last"),
                 "'If the shape of the tensor to initialize is more than two-dimensional, a "
                 "matrix of shape (shape[0] * ... * shape[n - 2], shape[n - 1]) is "
                 "initialized'; 'If the matrix has fewer rows than columns then the output "
                 "will have orthogonal rows. Otherwise, the output will have orthogonal "
                 "columns'; default gain=1.0",
                 shapes=_function_shapes(max_numel=2**16)),
        function("Orthogonal", Orthogonal(2.0, rows="last"),
                 "as Orthogonal(), with 'gain: multiplicative factor to apply to the "
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
        # -- layers' default weights -----------------------------------------------------------
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
              "units'); groups: 'Each group is convolved separately with filters / groups "
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
              "the number of input units in the weight tensor' (tf_keras.initializers."
              f"HeNormal, {_doc('HeNormal')}); the kernel is (*kernel_size, filters, "
              "in_channels)",
              make=lambda s, **o: layers.Conv2DTranspose(s[-2], s[:-2], use_bias=False,
                                                         kernel_initializer="he_normal", **o),
              inputs=lambda s: (None, None, None, s[-1]),
              make_text="Conv2DTranspose(shape[-2], shape[:-2], use_bias=False, "
                        "kernel_initializer='he_normal')",
              inputs_text="(None, None, None, shape[-1])", shapes=lambda: layer_shapes(4),
              convention=TRANSPOSED_CONVENTION),
        layer("Embedding", "Embedding", uniform(-0.05, 0.05),
              "embeddings_initializer defaults to 'uniform', RandomUniform(minval=-0.05, "
              "maxval=0.05); the table is (input_dim, output_dim)",
              make=lambda s, **o: layers.Embedding(s[0], s[1], **o), inputs=lambda s: (None,),
              make_text="Embedding(shape[0], shape[1])", inputs_text="(None,)",
              shapes=lambda: layer_shapes(2), weight="embeddings"),
    ]
