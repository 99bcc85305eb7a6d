"""Haiku: every public initializer of ``haiku.initializers`` and the default weight
initialization of ``hk.Linear``, the convolutions (grouped, transposed, depthwise) and
``hk.Embed``.

Haiku stores kernels ``hwio``: ``Linear.w`` is ``(in, out)``, ``ConvND.w`` ``(*kernel,
in / feature_group_count, out)``, ``DepthwiseConvND.w`` ``(*kernel, 1, channel_multiplier
* in)``, and ``ConvNDTranspose.w`` ``(*kernel, out, in)`` (``haiku/_src/conv.py``,
``ConvNDTranspose.__call__``: ``w_shape = kernel_shape + (output_channels,
input_channels)``): a transposed kernel's last axis holds the input channels.

A Haiku initializer is ``init(shape, dtype)`` and takes its randomness from
``hk.next_rng_key()``, so it only runs inside a transformed function: ``sample`` calls
``hk.transform(lambda: init(shape, float32)).apply({}, jax.random.key(seed32(seed)))``,
jitted once per shape; a layer entry builds the layer in ``hk.transform(...).init`` with
the same key and returns its ``w``. ``reproduce`` jits too: jitted, XLA's CPU backend
computes ``RandomNormal``'s ``mean + stddev * sqrt(2) * erfinv(u)`` with one rounding (a
fused multiply-add), eagerly with two, and 22% of the entries of ``RandomNormal(stddev=0.5,
mean=1.0)`` differ in the last bit.

Dtypes: an initializer entry is called as ``init(shape, dtype)`` for every dtype its claim
takes (float64 and complex128 need ``jax_enable_x64``); ``bfloat16`` is widened to float32
exactly. A layer's parameters take the dtype of its input; the layer entries stay float32.

Haiku's truncated normals: ``TruncatedNormal(stddev, mean, lower=-2, upper=2)`` draws
``jax.random.truncated_normal(lower, upper)`` and returns ``stddev * z + mean``: ``stddev``
is "the standard deviation parameter of the untruncated normal distribution" and the
bounds are in its units. ``VarianceScaling(distribution="truncated_normal")`` divides its
standard deviation by ``.87962566103423978`` first, so its truncated law has the documented
"standard deviation (after truncation, if used)". The layers' defaults are plain
``TruncatedNormal(stddev=1 / sqrt(fan_in))``, without that correction: their variance is
``0.7737 / fan_in``, not LeCun's ``1 / fan_in`` (see :data:`LAYER_CONVENTION`).

Documentation: https://dm-haiku.readthedocs.io/en/latest/api.html (the docstrings of
``haiku/_src/initializers.py``, ``basic.py``, ``conv.py``, ``depthwise_conv.py``,
``embed.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from hypothesis import strategies as st
from scipy import stats

from verify import strategies as vst
from verify.adapters import (
    ContractError,
    Target,
    refused,
    require,
    seed32,
    widen_snippet,
    widened,
    x64_snippet,
)
from verify.catalog import Entry
from verify.distributions import TRUNCATION
from verify.laws import Claim, Exact, Orthogonal, constant, normal, truncated_normal, uniform
from verify.precision import claim_dtypes
from verify.schemes import InitSpec

LIBRARY = "haiku"
DOCS = "https://dm-haiku.readthedocs.io/en/latest/api.html#haiku.{}"
SOURCE = "https://github.com/google-deepmind/dm-haiku/blob/main/haiku/_src/"

MAX_COMPILED = 512
MIN_NUMEL = 64
MAX_NUMEL = 2**16
MAX_CHANNELS = 256
MAX_KERNEL = 5
CONSTANT_VALUE = 0.5
"""The value the ``Constant`` entry passes (``hk.initializers.Constant`` has no default)."""

SKIPPED: dict[str, str] = {
    "haiku:Initializer": "a type alias, Callable[[Sequence[int], Any], jax.Array] "
                         "(haiku/_src/typing.py), not an initializer",
}
"""Public names of ``haiku.initializers`` without an entry, and why."""

UNCORRECTED_GAIN = math.sqrt(stats.truncnorm(-TRUNCATION, TRUNCATION).var())
"""The standard deviation of ``TruncatedNormal(stddev=1)`` (0.8796): the layers' default,
``TruncatedNormal(stddev=1 / sqrt(fan_in))``, is the textbook truncated normal of LeCun's
scheme with this gain."""

LAYER_CONVENTION = (
    "Haiku's layer default is hk.initializers.TruncatedNormal(stddev=1 / sqrt(fan_in)), "
    "whose stddev is 'the standard deviation parameter of the untruncated normal "
    "distribution' (the claim reads the layer docs' 'stddev' the same way). Its truncated "
    "law has standard deviation 0.8796 / sqrt(fan_in), variance 0.7737 / fan_in: 77% of "
    "LeCun's 1 / fan_in, which Haiku's own VarianceScaling() (the 'lecun_normal' row of "
    "its table) draws. hk.Linear's docstring cites https://arxiv.org/abs/1502.03167v3 for "
    "the default"
)
TRUNCATED_STDDEV = ("stddev: 'The standard deviation parameter of the untruncated normal "
                    "distribution'; mean: 'The mean of the truncated normal distribution'; "
                    "lower/upper: 'the lower/upper bound for truncation', defaults -2.0 and "
                    "2.0 (in units of stddev in the source)")
VARIANCE_SCALING = (
    "'computes the scaling factor s = scale / n, where n is: Number of input units in the "
    "weight tensor, if mode = fan_in. Number of output units, if mode = fan_out. Average "
    "of the numbers of input and output units, if mode = fan_avg. Then, with "
    "distribution=\"truncated_normal\" or \"normal\", samples are drawn from a distribution "
    "with a mean of zero and a standard deviation (after truncation, if used) stddev = "
    "sqrt(s). With distribution=uniform, samples are drawn from a uniform distribution "
    "within [-limit, limit], with limit = sqrt(3 * s)'; fan_in_axes: 'If none provided, "
    "then the weight is assumed to be like a convolution kernel, where all leading "
    "dimensions are part of the fan-in, and only the trailing dimension is part of the "
    "fan-out'"
)


# --- sampling -------------------------------------------------------------------------


def _draw(init: Callable, shape: tuple[int, ...], key, dtype: str = "float32") -> Any:
    hk = require("haiku", LIBRARY)
    from verify.adapters.jax import jax_dtype

    kind = jax_dtype(dtype)
    return hk.transform(lambda: init(shape, kind)).apply({}, key)


@lru_cache(maxsize=MAX_COMPILED)
def _compiled(name: str, arguments: tuple, keywords: tuple, shape: tuple[int, ...],
              dtype: str = "float32"):
    """``seed -> hk.initializers.<name>(*arguments, **keywords)(shape, dtype)`` drawn in
    a transformed function with ``jax.random.key(seed)``, jitted."""
    jax = require("jax")
    hk = require("haiku", LIBRARY)
    init = getattr(hk.initializers, name)(*arguments, **dict(keywords))
    return jax.jit(lambda seed: _draw(init, shape, jax.random.key(seed), dtype))


def _checked(values: Any, shape: tuple[int, ...], name: str,
             dtype: str = "float32") -> np.ndarray:
    values = np.asarray(values)
    if values.shape != shape or values.dtype.name != dtype:
        raise ContractError("shape", f"{name} returned {values.dtype}{list(values.shape)} for "
                            f"a {dtype} tensor of shape {shape}")
    return widened(values)


def initializer(name: str, label: str, arguments: tuple = (),
                keywords: dict | None = None, *, stacked: bool = False,
                dtype: str = "float32") -> Target:
    """``hk.initializers.<name>(*arguments, **keywords)`` as a target (layout ``hwio``),
    called with ``dtype``. ``stacked``: a flat fill, whose law does not depend on the
    shape, also drawn as one ``(count, *shape)`` call."""
    jax = require("jax")
    hk = require("haiku", LIBRARY)
    from verify.adapters.jax import jax_dtype

    jax_dtype(dtype)  # a 64-bit dtype without jax_enable_x64: not supported
    frozen = tuple(sorted((keywords or {}).items()))
    what = f"hk.initializers.{name}"

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        try:
            draw = _compiled(name, tuple(arguments), frozen, shape, dtype)
            values = draw(np.uint32(seed32(seed)))
        except Exception as error:
            raise refused(dtype, what, error) from None
        return _checked(values, shape, label, dtype)

    def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
        # eager: each (count, shape) is drawn about once, where a compile costs more
        full = (int(count), *(int(d) for d in shape))
        init = getattr(hk.initializers, name)(*arguments, **dict(frozen))
        try:
            values = _draw(init, full, jax.random.key(seed32(seed)), dtype)
        except Exception as error:
            raise refused(dtype, what, error) from None
        return _checked(values, full, label, dtype)

    call = ", ".join([*map(repr, arguments), *(f"{k}={v!r}" for k, v in frozen)])
    reproduce = (x64_snippet(dtype) + "import haiku as hk, jax, jax.numpy as jnp\n"
                 f"init = hk.initializers.{name}({call})\n"
                 f"draw = hk.transform(lambda: init({{shape}}, jnp.{dtype}))\n"
                 "w = jax.jit(draw.apply)({}, jax.random.key(seed32({seed})))\n"
                 + widen_snippet(dtype))
    return Target(label if dtype == "float32" else f"{label} [{dtype}]", LIBRARY, sample,
                  "hwio", reproduce, stacked=stacked_draw if stacked else None, dtype=dtype)


DEPTHWISE_CHANNELS = 2
"""The input channels a ``DepthwiseConv`` entry is built on: its kernel's last axis is
``channel_multiplier * DEPTHWISE_CHANNELS``."""


def layer_text(kind: str, rank: int = 0, groups: int = 1) -> tuple[str, str, str]:
    """``(class name, constructor, example input)`` of the Haiku layer of ``kind``
    (``Linear``, ``Conv``, ``ConvTranspose``, ``DepthwiseConv``, ``Embed``) whose weight has
    the shape ``shape``: the constructor and the input as Python source in terms of
    ``shape``, which ``layer`` evaluates and ``reproduce`` quotes (one text, so the two
    agree). ``groups`` is a ``Conv``'s ``feature_group_count``."""
    if kind == "Linear":
        return "Linear", "hk.Linear(output_size=shape[1])", "jnp.zeros((1, shape[0]))"
    if kind == "Embed":
        return ("Embed", "hk.Embed(vocab_size=shape[0], embed_dim=shape[1])",
                "jnp.zeros((1,), jnp.int32)")
    spatial = "1, " * rank
    if kind == "Conv":
        grouped = f", feature_group_count={groups}" if groups > 1 else ""
        channels = f"{groups} * shape[-2]" if groups > 1 else "shape[-2]"
        return (f"Conv{rank}D", f"hk.Conv{rank}D(output_channels=shape[-1], "
                                f"kernel_shape=shape[:-2]{grouped})",
                f"jnp.zeros((1, {spatial}{channels}))")
    if kind == "ConvTranspose":  # (*kernel, out, in)
        return (f"Conv{rank}DTranspose", f"hk.Conv{rank}DTranspose(output_channels=shape[-2], "
                                         "kernel_shape=shape[:-2])",
                f"jnp.zeros((1, {spatial}shape[-1]))")
    if kind == "DepthwiseConv":  # (*kernel, 1, multiplier * channels)
        return (f"DepthwiseConv{rank}D",
                f"hk.DepthwiseConv{rank}D(channel_multiplier=shape[-1] // {DEPTHWISE_CHANNELS}, "
                "kernel_shape=shape[:-2])",
                f"jnp.zeros((1, {spatial}{DEPTHWISE_CHANNELS}))")
    raise ValueError(f"unknown Haiku layer kind {kind!r}")


def layer(kind: str, rank: int = 0, *, groups: int = 1) -> Target:
    """The default ``w`` (``embeddings`` of ``Embed``) of a Haiku layer (see
    :func:`layer_text`), as a target (layout ``hwio``)."""
    jax = require("jax")
    hk = require("haiku", LIBRARY)
    jnp = require("jax.numpy", "jax")
    tensor = "embeddings" if kind == "Embed" else "w"
    cls, constructor, example = layer_text(kind, rank, groups)
    make = eval(f"lambda shape: lambda x: {constructor}(x)", {"hk": hk})
    example_of = eval(f"lambda shape: {example}", {"jnp": jnp})

    @lru_cache(maxsize=MAX_COMPILED)
    def compiled(shape: tuple[int, ...]):
        transformed = hk.transform(make(shape))
        inputs = example_of(shape)

        def draw(seed):
            (values,) = transformed.init(jax.random.key(seed), inputs).values()
            return values[tensor]

        return jax.jit(draw)

    label = f"{LIBRARY}:{cls}" + (f"(feature_group_count={groups})" if groups > 1 else "")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        return _checked(compiled(shape)(np.uint32(seed32(seed))), shape, label)

    reproduce = ("import haiku as hk, jax, jax.numpy as jnp\n"
                 "shape = {shape}\n"
                 f"layer = hk.transform(lambda x: {constructor}(x))\n"
                 f"params = jax.jit(layer.init)(jax.random.key(seed32({{seed}})), {example})\n"
                 f"(values,) = params.values()\nw = values[{tensor!r}]\n")
    return Target(label, LIBRARY, sample, "hwio", reproduce)


# --- shapes ---------------------------------------------------------------------------


def _shapes(min_dims: int = 2, max_dims: int = 5, max_numel: int = 2**18):
    """``hwio`` shapes of at least :data:`MIN_NUMEL` entries: a check calls a sampler up to
    20,000 times on tiny tensors, and a 1x1 orthogonal matrix is a sign."""
    return lambda: vst.weight_shapes(layout="hwio", min_dims=min_dims, max_dims=max_dims,
                                     max_numel=max_numel).filter(
        lambda shape: math.prod(shape) >= MIN_NUMEL)


@st.composite
def layer_shapes(draw: st.DrawFn, kernel_dims: int, groups: int = 1,
                 depthwise: bool = False) -> tuple[int, ...]:
    """Kernels ``(*kernel, a, b)`` with ``b`` divisible by ``groups`` (``a = 1`` for a
    depthwise kernel), of :data:`MIN_NUMEL` to :data:`MAX_NUMEL` entries."""
    kernel = tuple(draw(st.lists(st.integers(1, MAX_KERNEL), min_size=kernel_dims,
                                 max_size=kernel_dims), label="kernel"))
    field = math.prod(kernel) * groups
    first = 1 if depthwise else draw(vst.fans(1, max(1, min(MAX_CHANNELS, MAX_NUMEL // field))),
                                     label="axis -2")
    low = max(1, math.ceil(MIN_NUMEL / (field * first)))
    high = max(low, min(MAX_CHANNELS // groups, MAX_NUMEL // (field * first)))
    second = groups * draw(vst.fans(low, high), label="axis -1 / groups")
    return (*kernel, first, second)


def _two_dimensional() -> st.SearchStrategy[tuple[int, int]]:
    """``(a, b)`` with ``a != b`` by at least 10%: the fans the fan_in_axes entry tells
    apart."""
    return vst.distinct_fan_pairs(1, 1024).filter(lambda pair: pair[0] * pair[1] >= MIN_NUMEL)


def _identity(shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.eye(shape[-2], shape[-1]), shape).astype(np.float64)


# --- entries --------------------------------------------------------------------------


def entries() -> list[Entry]:
    """Every public ``haiku.initializers`` initializer (but :data:`SKIPPED`) and the default
    weights of ``hk.Linear``, ``hk.ConvND``, ``hk.ConvNDTranspose``, ``hk.DepthwiseConvND``
    and ``hk.Embed``."""
    require("jax")
    require("haiku", LIBRARY)
    return _initializer_entries() + _layer_entries()


def _initializer_entries() -> list[Entry]:
    def entry(name: str, claim: Claim, documented: str, *arguments: Any,
              shapes: Callable[[], st.SearchStrategy] | None = None, stacked: bool = False,
              convention: str = "", **keywords: Any) -> Entry:
        call = ", ".join([*map(repr, arguments), *(f"{k}={v!r}" for k, v in keywords.items())])
        label = f"{LIBRARY}:{name}" + (f"({call})" if call else "")

        def build(dtype: str = "float32") -> Target:
            return initializer(name, label, arguments, keywords, stacked=stacked, dtype=dtype)

        return Entry(label, LIBRARY, build,
                     claim, f"hk.initializers.{name}: {documented} ({DOCS.format('initializers.')}"
                     f"{name}; {SOURCE}initializers.py)",
                     shapes=shapes or _shapes(), convention=convention,
                     dtypes=claim_dtypes(claim), build_dtype=build)

    orthogonal_shapes = _shapes(max_numel=2**14)
    return [
        entry("Constant", constant(CONSTANT_VALUE), "'Initializes with a constant.'",
              CONSTANT_VALUE),
        entry("RandomNormal", normal(1.0),
              "'Initializes by sampling from a normal distribution'; defaults stddev=1., "
              "mean=0.", stacked=True),
        entry("RandomNormal", normal(0.5, mean=1.0),
              "stddev: 'The standard deviation of the normal distribution to sample from', "
              "mean: 'The mean of the normal distribution to sample from'",
              stacked=True, stddev=0.5, mean=1.0),
        entry("RandomUniform", uniform(0.0, 1.0),
              "'Initializes by sampling from a uniform distribution'; defaults minval=0., "
              "maxval=1.", stacked=True),
        entry("RandomUniform", uniform(-0.5, 2.0),
              "minval: 'The lower limit of the uniform distribution', maxval: 'The upper "
              "limit'", stacked=True, minval=-0.5, maxval=2.0),
        entry("TruncatedNormal", truncated_normal(1.0, -2.0, 2.0),
              f"'Initializes by sampling from a truncated normal distribution'; "
              f"{TRUNCATED_STDDEV}; defaults stddev=1., mean=0.", stacked=True),
        entry("TruncatedNormal", truncated_normal(0.5, 0.0, 2.0, mean=1.0),
              f"{TRUNCATED_STDDEV}: N(1, 0.5^2) cut at 1 -+ 2 * 0.5", stacked=True,
              stddev=0.5, mean=1.0),
        entry("VarianceScaling", InitSpec("lecun", "truncated_normal", "hwio"),
              f"defaults scale=1.0, mode='fan_in', distribution='truncated_normal' (the "
              f"'lecun_normal' row of its table); {VARIANCE_SCALING}"),
        entry("VarianceScaling", InitSpec("he", "normal", "hwio", mode="fan_out"),
              VARIANCE_SCALING, 2.0, "fan_out", "normal"),
        entry("VarianceScaling",
              InitSpec("glorot", "uniform", "hwio", gain=math.sqrt(0.5)),
              VARIANCE_SCALING, 0.5, "fan_avg", "uniform"),
        # fan_in_axes names the axes of the fan-in; on 2-D shapes (a, b) with fan_in_axes=(1,)
        # the fan-in is b: the (out, in) reading of oihw
        entry("VarianceScaling", InitSpec("lecun", "normal", "oihw"),
              f"fan_in_axes: 'Optional sequence of int specifying which axes of the shape "
              f"are part of the fan-in'; with fan_in_axes=(1,) a 2-D weight (a, b) has "
              f"fan_in b. {VARIANCE_SCALING}",
              1.0, "fan_in", "normal", shapes=_two_dimensional, fan_in_axes=(1,)),
        entry("UniformScaling", InitSpec("lecun", "uniform", "hwio", gain=1.0),
              "'Initializes by sampling from a uniform distribution, but with the variance "
              "scaled by the inverse square root of the number of input units, multiplied by "
              "the scale'; scale: 'Scale to multiply the upper limit of the uniform "
              "distribution by', default 1.0; the claim: U(-a, a), a = scale * sqrt(3 / "
              "fan_in), fan_in = prod(shape[:-1]) (the source)",
              convention="the docstring scales the 'variance' by 1 / sqrt(fan_in); the "
                         "limit it draws within, sqrt(3 / fan_in) * scale, gives a variance "
                         "of scale^2 / fan_in (the standard deviation, not the variance, "
                         "scales by 1 / sqrt(fan_in))"),
        entry("UniformScaling", InitSpec("lecun", "uniform", "hwio", gain=2.0),
              "'scale: Scale to multiply the upper limit of the uniform distribution by'",
              2.0),
        entry("Orthogonal", Orthogonal(1.0, rows="last"),
              "'an initializer for uniformly distributed orthogonal matrices. These matrices "
              "will be row-orthonormal along the access specified by axis. If the rank of "
              "the weight is greater than 2, the shape will be flattened in all other "
              "dimensions'; 'If the shape is not square, the matrices will have orthonormal "
              "rows or columns depending on which side is smaller'; defaults scale=1.0, "
              "axis=-1", shapes=orthogonal_shapes),
        entry("Orthogonal", Orthogonal(0.5, rows="first"),
              "scale: 'Scale factor'; axis: 'Which axis corresponds to the \"output "
              "dimension\" of the tensor': the matrix is (shape[0], prod(shape[1:]))",
              shapes=orthogonal_shapes, scale=0.5, axis=0),
        entry("Identity", Exact(_identity, "identity"),
              "'Initializer that generates the identity matrix. Constructs a 2D identity "
              "matrix or batches of these'; gain default 1.0", shapes=_shapes(max_dims=4)),
        entry("Identity", Exact(lambda shape: 2.5 * _identity(shape), "2.5 * identity"),
              "gain: 'Multiplicative factor to apply to the identity matrix'",
              shapes=_shapes(max_dims=4), gain=2.5),
    ]


def _layer_entries() -> list[Entry]:

    def entry(kind: str, rank: int, claim: Claim, shapes, documented: str, *,
              groups: int = 1, page: str, convention: str = LAYER_CONVENTION) -> Entry:
        name = layer(kind, rank, groups=groups).name
        return Entry(name, LIBRARY, lambda: layer(kind, rank, groups=groups), claim,
                     f"{documented} ({DOCS.format(page)})", kind="layer", shapes=shapes,
                     convention=convention)

    def lecun(**options: Any) -> InitSpec:
        """``TruncatedNormal(stddev=1/sqrt(fan_in))``: the textbook truncated normal with
        standard deviation ``0.8796 / sqrt(fan_in)`` after truncation, cut at two
        ``1/sqrt(fan_in)``."""
        return InitSpec("lecun", "truncated_normal", "hwio", gain=UNCORRECTED_GAIN, **options)

    conv_doc = ("'w_init: Optional weight initialization. By default, truncated normal.' "
                "(no scale stated); the source ({file} {cls}.__call__): "
                "TruncatedNormal(stddev=1. / np.sqrt({fan})), w_shape = {shape}")
    found = [entry("Linear", 0, lecun(), lambda: layer_shapes(0),
                   "hk.Linear w_init: 'By default, uses random values from truncated normal, "
                   "with stddev 1 / sqrt(fan_in). See https://arxiv.org/abs/1502.03167v3'; the "
                   f"source ({SOURCE}basic.py Linear.__call__): TruncatedNormal(stddev=1. / "
                   "np.sqrt(self.input_size)), w shape [input_size, output_size]",
                   page="Linear")]
    for rank in (1, 2, 3):
        found.append(entry("Conv", rank, lecun(), lambda rank=rank: layer_shapes(rank),
                           conv_doc.format(file=f"{SOURCE}conv.py", cls="ConvND",
                                           fan="prod(w_shape[:-1])",
                                           shape="kernel_shape + (in // feature_group_count, "
                                                 "output_channels)"),
                           page=f"Conv{rank}D"))
    found.append(entry("Conv", 2, lecun(groups=2), lambda: layer_shapes(2, groups=2),
                       conv_doc.format(file=f"{SOURCE}conv.py", cls="ConvND",
                                       fan="prod(w_shape[:-1])",
                                       shape="kernel_shape + (in // feature_group_count, "
                                             "output_channels)")
                       + "; feature_group_count=2", groups=2, page="Conv2D"))
    for rank in (1, 2, 3):
        found.append(entry("ConvTranspose", rank, lecun(transposed=True),
                           lambda rank=rank: layer_shapes(rank),
                           conv_doc.format(file=f"{SOURCE}conv.py", cls="ConvNDTranspose",
                                           fan="prod(kernel_shape + (input_channels,))",
                                           shape="kernel_shape + (output_channels, "
                                                 "input_channels)"),
                           page=f"Conv{rank}DTranspose"))
    depthwise = lambda: layer_shapes(2, groups=DEPTHWISE_CHANNELS, depthwise=True)  # noqa: E731
    found.append(entry("DepthwiseConv", 2, lecun(), depthwise,
                       conv_doc.format(file=f"{SOURCE}depthwise_conv.py",
                                       cls="DepthwiseConvND", fan="prod(w_shape[:-1])",
                                       shape="kernel_shape + (1, channel_multiplier * "
                                             "input_channels)")
                       + f"; built on {DEPTHWISE_CHANNELS} input channels",
                       page="DepthwiseConv2D"))
    found.append(entry("Embed", 0, truncated_normal(1.0, -2.0, 2.0), lambda: layer_shapes(0),
                       "hk.Embed w_init: 'As a default, embeddings are initialized via a "
                       f"truncated normal distribution'; the source ({SOURCE}embed.py "
                       "Embed.__init__): hk.initializers.TruncatedNormal(), whose defaults are "
                       "stddev=1., mean=0., lower=-2.0, upper=2.0", page="Embed",
                       convention=""))
    return found
