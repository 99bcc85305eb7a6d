"""MLX: the public initializers of ``mlx.nn.init`` and the default initialization of
the ``mlx.nn`` dense and convolution layers.

MLX stores weights ``ohwi``: ``Linear`` as ``(out, in)``, ``ConvNd`` as
``(out, *kernel, in / groups)`` and, unlike PyTorch, ``ConvTransposeNd`` in the same
order, ``(out, *kernel, in)`` (``mlx.core.conv_transpose2d``: "Weight array of shape
``(C_out, KH, KW, C_in)``"), so no axis swaps roles for a transposed convolution.

An ``mlx.nn.init`` factory takes the ``dtype`` of the arrays its initializer returns
(default float32): each initializer entry is asked for every dtype its claim takes that MLX
has (no complex128; float64 on the CPU), ``bfloat16`` widened to float32 exactly, in MLX.
The layers take no dtype (``set_dtype`` casts after the draw): float32 only.

Neither the ``mlx.nn.init`` initializers nor the layers take a key: every sample
seeds MLX's global generator with ``mx.random.seed`` right before the call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.adapters import ContractError, Target, refused, require, seed32
from verify.catalog import Entry
from verify.laws import Claim, Exact, Orthogonal, constant, normal, uniform
from verify.precision import claim_dtypes
from verify.schemes import InitSpec
from verify.strategies import weight_shapes

LIBRARY = "mlx"
DOCS = "https://ml-explore.github.io/mlx/build/html/python/nn/_autosummary/"
SOURCE = "https://github.com/ml-explore/mlx/blob/main/python/mlx/nn/"

MIN_NUMEL = 64
"""Smallest weight an entry's shapes draw: the battery calls a sampler up to 20,000
times for tiny tensors, so smaller weights only cost time."""
MAX_NUMEL = 2**16

DTYPES = ("float32", "float64", "float16", "bfloat16", "complex64")
"""The dtypes MLX has of :data:`verify.precision.DTYPES`: no ``complex128``; ``float64`` on
the CPU only (https://ml-explore.github.io/mlx/build/html/python/data_types.html)."""

CONSTANT_VALUE = 0.5
"""The value the ``constant`` entry passes (``mlx.nn.init.constant`` has no default)."""

UNCOVERED: dict[str, str] = {
    "sparse": (
        "mlx.nn.init.sparse zeroes ceil(sparsity * cols) entries of every row and draws "
        "the rest from N(mean, std^2): a law with an atom at 0 whose weight depends on "
        "the shape, which none of the claim types (InitSpec, FixedLaw, Orthogonal, "
        "Exact) expresses"
    ),
}
"""Public ``mlx.nn.init`` initializers without an entry, and why."""

LAYER_CLAIM_NOTE = (
    "U(-scale, scale) with scale = sqrt(1 / fan_in) has variance 1 / (3 fan_in): "
    "LeCun's scheme with gain 1/sqrt(3)"
)

HE_CONVENTION = (
    "The documented formula has a gain gamma: sigma = gamma / sqrt(fan) "
    "(he_uniform: limit = gamma sqrt(3 / fan)); gamma is the returned initializer's "
    "`gain` argument, default 1.0 (mlx/nn/init.py; the docs do not state the default). "
    "So by default MLX's He initializers draw Var = 1 / fan, LeCun's variance, half of "
    "He et al.'s 2 / fan_in; pass gain=math.sqrt(2) for the paper's law."
)


def entries() -> list[Entry]:
    """Every public ``mlx.nn.init`` initializer (but :data:`UNCOVERED`) and the default
    weight initialization of ``mlx.nn``'s dense and convolution layers."""
    mx = require("mlx.core", LIBRARY)
    nn = require("mlx.nn", LIBRARY)
    return _initializer_entries(mx, nn) + _layer_entries(mx, nn)


# --- sampling -------------------------------------------------------------------------


def _numpy(array: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``array`` as NumPy, after checking the shape and dtype MLX promises."""
    result = np.array(array)  # evaluates MLX's lazy graph
    if result.shape != shape:
        raise ContractError("shape", f"{name} returned shape {result.shape} for {shape}")
    if result.dtype != np.float32:
        raise ContractError("dtype", f"{name} returned {result.dtype}, documented float32")
    return result


def _asked(mx: Any, array: Any, shape: tuple[int, ...], dtype: str, name: str) -> np.ndarray:
    """``array``, which ``name`` returned asked for ``dtype``, as NumPy: evaluated (MLX is
    lazy: a refusal may surface here), its shape and dtype checked, ``bfloat16`` (which
    NumPy lacks) widened to float32 exactly, in MLX."""
    try:
        mx.eval(array)
    except Exception as error:
        raise refused(dtype, name, error) from None
    if array.dtype != getattr(mx, dtype):
        raise ContractError("dtype", f"{name}, asked for {dtype}, returned {array.dtype}")
    result = np.array(array.astype(mx.float32) if dtype == "bfloat16" else array)
    if result.shape != shape:
        raise ContractError("shape", f"{name} returned shape {result.shape} for {shape}")
    return result


def _reproduce(expression: str) -> str:
    """A one-line snippet that draws ``expression`` the way ``sample`` does."""
    return (
        "import mlx.core as mx, mlx.nn as nn, numpy as np; shape = {shape}; "
        f"mx.random.seed(seed32({{seed}})); w = np.array({expression})"
    )


def _initializer_target(
    mx: Any, nn: Any, name: str, factory: str, arguments: tuple = (),
    call: dict[str, Any] | None = None, stacked: bool = False,
) -> Callable[[str], Target]:
    """``nn.init.<factory>(*arguments, dtype=...)`` applied to ``mx.zeros(shape)`` with
    ``call`` keywords (the initializer's ``mode`` or ``gain``). ``stacked``: a flat fill,
    whose law does not depend on the shape, also applied to ``mx.zeros((count, *shape))``.
    The factory's ``dtype`` (default float32) is the one the initializer is asked for."""
    call = call or {}

    def build(dtype: str = "float32") -> Target:
        kind = getattr(mx, dtype)
        made = f"nn.init.{factory}"

        def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
            shape = tuple(int(d) for d in shape)
            mx.random.seed(seed32(seed))
            try:
                initializer = getattr(nn.init, factory)(*arguments, dtype=kind)
                drawn = initializer(mx.zeros(shape), **call)
            except Exception as error:
                raise refused(dtype, made, error) from None
            return _asked(mx, drawn, shape, dtype, name)

        def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
            return sample((int(count), *shape), seed)

        given = [*map(repr, arguments)] + ([] if dtype == "float32" else [f"dtype=mx.{dtype}"])
        factory_text = f"nn.init.{factory}({', '.join(given)})"
        call_text = "".join(f", {key}={value!r}" for key, value in call.items())
        widen = ".astype(mx.float32)" if dtype == "bfloat16" else ""
        reproduce = _reproduce(f"{factory_text}(mx.zeros(shape){call_text}){widen}")
        return Target(name if dtype == "float32" else f"{name} [{dtype}]", LIBRARY, sample,
                      layout="ohwi", reproduce=reproduce,
                      stacked=stacked_draw if stacked else None, dtype=dtype)

    return build


def _layer_target(
    mx: Any, name: str, make: Callable[[tuple[int, ...]], Any], expression: str
) -> Callable[[], Target]:
    """The ``weight`` of the layer ``make(shape)`` builds, for a weight of ``shape``.

    ``expression`` is the same construction as text, in terms of ``shape``.
    """

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        mx.random.seed(seed32(seed))
        return _numpy(make(shape).weight, shape, name)

    reproduce = _reproduce(f"{expression}.weight")
    return lambda: Target(name, LIBRARY, sample, layout="ohwi", reproduce=reproduce)


# --- shapes ---------------------------------------------------------------------------


def _shapes(
    min_dims: int = 2, max_dims: int = 5, max_numel: int = MAX_NUMEL
) -> Callable[[], st.SearchStrategy[tuple[int, ...]]]:
    return lambda: weight_shapes(
        layout="ohwi", min_dims=min_dims, max_dims=max_dims, max_numel=max_numel
    ).filter(lambda shape: math.prod(shape) >= MIN_NUMEL)


def _even_out_channels(shapes: Callable[[], st.SearchStrategy]) -> Callable[[], st.SearchStrategy]:
    """Shapes whose out-channel count splits into two groups."""
    return lambda: shapes().map(lambda shape: (shape[0] + shape[0] % 2, *shape[1:]))


def _square_shapes() -> st.SearchStrategy[tuple[int, int]]:
    return st.integers(1, 256).map(lambda n: (n, n))


# --- entries --------------------------------------------------------------------------


def _initializer_entries(mx: Any, nn: Any) -> list[Entry]:
    any_weight = _shapes()
    matrices = _shapes(min_dims=2, max_dims=2, max_numel=2**14)

    def entry(name: str, factory: str, claim: Claim, documented: str, *,
              arguments: tuple = (), call: dict[str, Any] | None = None,
              shapes: Callable[[], st.SearchStrategy] | None = any_weight,
              convention: str = "", stacked: bool = False) -> Entry:
        page = f"{DOCS}mlx.nn.init.{factory}.html"
        build = _initializer_target(mx, nn, f"{LIBRARY}:{name}", factory, arguments, call,
                                    stacked)
        return Entry(
            name=f"{LIBRARY}:{name}", library=LIBRARY, build=build,
            claim=claim, documented=f"{documented} ({page})", kind="function",
            shapes=shapes, convention=convention,
            dtypes=claim_dtypes(claim, DTYPES), build_dtype=build,
        )

    return [
        entry("normal", "normal", normal(1.0),
              "samples from a normal distribution; mean default 0.0, std default 1.0",
              stacked=True),
        entry("uniform", "uniform", uniform(0.0, 1.0),
              "samples from a uniform distribution; low default 0.0, high default 1.0",
              stacked=True),
        entry(f"constant(value={CONSTANT_VALUE!r})", "constant", constant(CONSTANT_VALUE),
              "an array filled with `value`", arguments=(CONSTANT_VALUE,)),
        entry("identity", "identity",
              Exact(lambda shape: np.eye(shape[0], dtype=np.float64), "identity"),
              "an identity matrix with the shape of the input (square 2-D input only)",
              shapes=_square_shapes),
        entry("orthogonal", "orthogonal", Orthogonal(gain=1.0, rows="first"),
              "an orthogonal matrix with the shape of the input, scaled by gain "
              "(default 1.0); 2-D input only",
              shapes=matrices),
        entry("glorot_normal", "glorot_normal", InitSpec("glorot", "normal", layout="ohwi"),
              "normal with sigma = gamma sqrt(2 / (fan_in + fan_out)); gamma is the "
              "initializer's gain, default 1.0 in the source; fan_in = shape[-1] * "
              "receptive field, fan_out = shape[0] * receptive field, receptive field = "
              "prod(shape[1:-1]) (_calculate_fan_in_fan_out)"),
        entry("glorot_uniform", "glorot_uniform", InitSpec("glorot", "uniform", layout="ohwi"),
              "uniform on [-limit, limit], limit = gamma sqrt(6 / (fan_in + fan_out)); "
              "gamma default 1.0 in the source; fans as glorot_normal"),
        entry("he_normal", "he_normal", InitSpec("he", "normal", layout="ohwi", gain=1.0),
              "normal with sigma = gamma / sqrt(fan), fan = fan_in (mode default "
              "'fan_in'); gamma default 1.0 in the source",
              convention=HE_CONVENTION),
        entry("he_normal(mode='fan_out')", "he_normal",
              InitSpec("he", "normal", layout="ohwi", mode="fan_out", gain=1.0),
              "normal with sigma = gamma / sqrt(fan), fan = fan_out for mode='fan_out'; "
              "gamma default 1.0 in the source",
              call={"mode": "fan_out"}, convention=HE_CONVENTION),
        entry("he_uniform", "he_uniform", InitSpec("he", "uniform", layout="ohwi", gain=1.0),
              "uniform on [-limit, limit], limit = gamma sqrt(3 / fan), fan = fan_in "
              "(mode default 'fan_in'); gamma default 1.0 in the source",
              convention=HE_CONVENTION),
        entry("he_uniform(mode='fan_out')", "he_uniform",
              InitSpec("he", "uniform", layout="ohwi", mode="fan_out", gain=1.0),
              "uniform on [-limit, limit], limit = gamma sqrt(3 / fan), fan = fan_out for "
              "mode='fan_out'; gamma default 1.0 in the source",
              call={"mode": "fan_out"}, convention=HE_CONVENTION),
    ]


def _layer_entries(mx: Any, nn: Any) -> list[Entry]:
    def kernel(shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(shape[1:-1])

    def entry(name: str, make: Callable[[tuple[int, ...]], Any], expression: str,
              ndim: int, documented: str, *, groups: int = 1, page: str | None = None,
              shapes: Callable[[], st.SearchStrategy] | None = None) -> Entry:
        claim = InitSpec("lecun", "uniform", layout="ohwi", gain=1 / math.sqrt(3),
                         groups=groups)
        return Entry(
            name=f"{LIBRARY}:{name}", library=LIBRARY,
            build=_layer_target(mx, f"{LIBRARY}:{name}", make, expression),
            claim=claim,
            documented=f"{documented}; {LAYER_CLAIM_NOTE} ({DOCS}{page or name}.html)",
            kind="layer", shapes=shapes or _shapes(ndim, ndim),
        )

    def conv_source(name: str, scale: str, file: str = "convolution.py") -> str:
        return (f"the {name} docs do not state the initialization; the source "
                f"({SOURCE}layers/{file}) draws the weight from U(-scale, scale), "
                f"scale = {scale}")

    grouped_shapes = _even_out_channels(_shapes(4, 4, MAX_NUMEL // 2))
    return [
        entry("nn.Linear", lambda s: nn.Linear(s[1], s[0]), "nn.Linear(shape[1], shape[0])", 2,
              "the docstring: weight initialized from U(-k, k), k = 1 / sqrt(D_i), D_i = "
              "input_dims; weight shape [output_dims, input_dims]",
              page="mlx.nn.Linear"),
        entry("nn.Conv1d", lambda s: nn.Conv1d(s[-1], s[0], s[1]),
              "nn.Conv1d(shape[-1], shape[0], shape[1])", 3,
              conv_source("Conv1d", "sqrt(1 / (in_channels // groups * kernel_size))"),
              page="mlx.nn.Conv1d"),
        entry("nn.Conv2d", lambda s: nn.Conv2d(s[-1], s[0], kernel(s)),
              "nn.Conv2d(shape[-1], shape[0], tuple(shape[1:-1]))", 4,
              conv_source("Conv2d", "sqrt(1 / (in_channels // groups * kh * kw))"),
              page="mlx.nn.Conv2d"),
        entry("nn.Conv2d(groups=2)", lambda s: nn.Conv2d(2 * s[-1], s[0], kernel(s), groups=2),
              "nn.Conv2d(2 * shape[-1], shape[0], tuple(shape[1:-1]), groups=2)", 4,
              conv_source("Conv2d", "sqrt(1 / (in_channels // groups * kh * kw))")
              + "; weight shape (out, kh, kw, in_channels // groups)",
              groups=2, page="mlx.nn.Conv2d", shapes=grouped_shapes),
        entry("nn.Conv3d", lambda s: nn.Conv3d(s[-1], s[0], kernel(s)),
              "nn.Conv3d(shape[-1], shape[0], tuple(shape[1:-1]))", 5,
              conv_source("Conv3d", "sqrt(1 / (in_channels * kd * kh * kw))"),
              page="mlx.nn.Conv3d"),
        entry("nn.ConvTranspose1d", lambda s: nn.ConvTranspose1d(s[-1], s[0], s[1]),
              "nn.ConvTranspose1d(shape[-1], shape[0], shape[1])", 3,
              conv_source("ConvTranspose1d", "sqrt(1 / (in_channels * kernel_size))",
                          "convolution_transpose.py")
              + "; weight shape (out_channels, kernel_size, in_channels)",
              page="mlx.nn.ConvTranspose1d"),
        entry("nn.ConvTranspose2d", lambda s: nn.ConvTranspose2d(s[-1], s[0], kernel(s)),
              "nn.ConvTranspose2d(shape[-1], shape[0], tuple(shape[1:-1]))", 4,
              conv_source("ConvTranspose2d", "sqrt(1 / (in_channels * kh * kw))",
                          "convolution_transpose.py")
              + "; weight shape (out_channels, kh, kw, in_channels)",
              page="mlx.nn.ConvTranspose2d"),
        entry("nn.ConvTranspose3d", lambda s: nn.ConvTranspose3d(s[-1], s[0], kernel(s)),
              "nn.ConvTranspose3d(shape[-1], shape[0], tuple(shape[1:-1]))", 5,
              conv_source("ConvTranspose3d", "sqrt(1 / (in_channels * kd * kh * kw))",
                          "convolution_transpose.py")
              + "; weight shape (out_channels, kd, kh, kw, in_channels)",
              page="mlx.nn.ConvTranspose3d"),
    ]
