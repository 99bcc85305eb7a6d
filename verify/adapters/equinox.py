"""Equinox: the default initialization of the ``equinox.nn`` layers with weights.

Equinox has no public initializer module: a layer draws its weights in its constructor
from the ``key`` it is given, and a user who wants another law replaces the leaf with
``eqx.tree_at`` (https://docs.kidger.site/equinox/tricks/#custom-parameter-initialisation).
The catalog therefore covers the layer defaults: ``Linear``, ``Conv1d/2d/3d`` (also
grouped), ``ConvTranspose1d/2d/3d`` (also grouped) and ``Embedding``. The other layers
with weights (recurrent cells, norms, ``PReLU``, attention, ``SpectralNorm``) are in the
layer registry (:mod:`verify.layers.equinox_layers`), which ``audit`` uses.

Equinox stores weights ``oihw``: ``Linear.weight`` is ``(out, in)``, ``Conv.weight``
``(out, in / groups, *kernel)``, and ``ConvTranspose.weight`` also ``(out, in / groups,
*kernel)``: the kernel of the forward convolution that ``ConvTranspose.__call__`` runs
on the stride-dilated input (``lax.conv_general_dilated(..., lhs_dilation=stride)``), so
no axis swaps roles as in PyTorch's transposed layout.

The documentation states no default law (the API pages render the constructors'
docstrings, which name the ``key`` but not the law; asked in
https://github.com/patrick-kidger/equinox/issues/1143, the answer was "look at the source
code"). The claims are the source's: ``equinox/nn/_misc.py`` ``default_init`` draws
``U(-lim, lim)``, and each layer's ``__init__`` sets ``lim = 1 / sqrt(fan_in)`` with
``fan_in = in_features`` (``Linear``) or ``in_channels // groups * prod(kernel_size)``
(convolutions), as PyTorch does ("that is what PyTorch does", the maintainer in
https://github.com/patrick-kidger/equinox/issues/179). ``Embedding`` draws
``jax.random.normal``: ``N(0, 1)``.

Dtypes: a layer is built with ``dtype=...`` for every dtype its claim takes (float64 and
complex128 need ``jax_enable_x64``); ``bfloat16`` weights are widened to float32 exactly.

``sample(shape, seed)`` builds the layer whose weight has ``shape`` with
``key=jax.random.key(seed32(seed))``, jitted once per shape (the seed is the argument);
``reproduce`` jits the same construction, so that it makes the very same weight.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

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
from verify.laws import normal
from verify.precision import claim_dtypes
from verify.schemes import InitSpec

LIBRARY = "equinox"
DOCS = "https://docs.kidger.site/equinox/api/nn/{}/"
SOURCE = "https://github.com/patrick-kidger/equinox/blob/main/equinox/nn/"
ISSUE = "https://github.com/patrick-kidger/equinox/issues/1143"

MAX_COMPILED = 256
MIN_NUMEL = 64
MAX_NUMEL = 2**16
MAX_CHANNELS = 256
MAX_KERNEL = 5

UNIFORM_GAIN = 1 / math.sqrt(3)
"""``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` has variance ``1 / (3 fan_in)``: LeCun's scheme
with gain ``1/sqrt(3)``."""

SKIPPED: dict[str, str] = {
    "initializers": "Equinox has no public initializer module: custom laws are written "
                    "with jax.random and put in place with eqx.tree_at (docs: tricks, "
                    "'Custom parameter initialisation')",
    "equinox:nn.GRUCell": "U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) on every gate "
                          "block: a law of a constructor argument, not of the stored shape; "
                          "checked by the layer registry (audit equinox:nn.GRUCell)",
    "equinox:nn.LSTMCell": "as GRUCell; checked by the layer registry",
    "equinox:nn.MultiheadAttention": "four eqx.nn.Linear layers with Linear's default; "
                                     "checked by the layer registry",
}
"""Public layers with weights that have no catalog entry here, and why."""


def _weight(cls: str, shape: tuple[int, ...], groups: int, key, **options) -> object:
    """The weight of ``equinox.nn.<cls>`` built for a weight of ``shape`` (``options``: its
    ``dtype``)."""
    nn = require("equinox.nn", LIBRARY)
    layer = getattr(nn, cls)
    if cls == "Linear":
        return layer(shape[1], shape[0], key=key, **options).weight
    if cls == "Embedding":
        return layer(shape[0], shape[1], key=key, **options).weight
    kernel = tuple(shape[2:])
    if groups > 1:
        options["groups"] = groups
    return layer(shape[1] * groups, shape[0], kernel, key=key, **options).weight


def _arguments_text(cls: str, groups: int) -> str:
    if cls == "Linear":
        return "shape[1], shape[0]"
    if cls == "Embedding":
        return "shape[0], shape[1]"
    channels = "shape[1]" + (f" * {groups}" if groups > 1 else "")
    return f"{channels}, shape[0], tuple(shape[2:])" + (f", groups={groups}" if groups > 1
                                                         else "")


def layer(cls: str, *, groups: int = 1, dtype: str = "float32") -> Target:
    """The default weight of ``equinox.nn.<cls>`` built with ``dtype`` (the layers' own
    default: JAX's default float, float32), as a target (layout ``oihw``)."""
    jax = require("jax")
    require("equinox", LIBRARY)
    from verify.adapters.jax import jax_dtype

    asked = {} if dtype == "float32" else {"dtype": jax_dtype(dtype)}

    @lru_cache(maxsize=MAX_COMPILED)
    def compiled(shape: tuple[int, ...]):
        return jax.jit(lambda seed: _weight(cls, shape, groups, jax.random.key(seed),
                                            **asked))

    name = f"{LIBRARY}:nn.{cls}" + (f"(groups={groups})" if groups > 1 else "")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        try:
            values = np.asarray(compiled(shape)(np.uint32(seed32(seed))))
        except Exception as error:
            raise refused(dtype, f"equinox.nn.{cls}", error) from None
        if values.shape != shape or values.dtype.name != dtype:
            raise ContractError("shape", f"{name} built for a {dtype} weight of shape {shape} "
                                f"has a {values.dtype} weight of shape {values.shape}")
        return widened(values)

    # jitted as ``sample`` draws it: XLA may compile an eager construction differently
    dtyped = f", dtype=jax.numpy.{dtype}" if asked else ""
    reproduce = (x64_snippet(dtype) + "import jax, equinox as eqx, numpy as np; shape = {shape}; "
                 f"draw = jax.jit(lambda key: eqx.nn.{cls}({_arguments_text(cls, groups)}"
                 f"{dtyped}, key=key).weight); w = np.asarray(draw(jax.random.key(seed32("
                 "{seed}))))" + widen_snippet(dtype))
    return Target(name if dtype == "float32" else f"{name} [{dtype}]", LIBRARY, sample,
                  "oihw", reproduce, dtype=dtype)


# --- shapes ---------------------------------------------------------------------------


@st.composite
def layer_shapes(draw: st.DrawFn, kernel_dims: int, groups: int = 1) -> tuple[int, ...]:
    """Weights ``(out, in / groups, *kernel)`` with ``out`` divisible by ``groups``, of
    :data:`MIN_NUMEL` to :data:`MAX_NUMEL` entries."""
    kernel = tuple(draw(st.lists(st.integers(1, MAX_KERNEL), min_size=kernel_dims,
                                 max_size=kernel_dims), label="kernel"))
    field = math.prod(kernel) * groups
    second = draw(vst.fans(1, max(1, min(MAX_CHANNELS, MAX_NUMEL // field))), label="axis 1")
    low = max(1, math.ceil(MIN_NUMEL / (field * second)))
    high = max(low, min(MAX_CHANNELS // groups, MAX_NUMEL // (field * second)))
    first = groups * draw(vst.fans(low, high), label="axis 0 / groups")
    return (first, second, *kernel)


# --- entries --------------------------------------------------------------------------


def entries() -> list[Entry]:
    """The default weights of ``equinox.nn``'s dense, convolution and embedding layers."""
    require("jax")
    require("equinox", LIBRARY)

    def entry(cls: str, claim, shapes, documented: str, *, groups: int = 1,
              page: str) -> Entry:
        name = layer(cls, groups=groups).name

        def build(dtype: str = "float32") -> Target:
            return layer(cls, groups=groups, dtype=dtype)

        return Entry(name, LIBRARY, build, claim,
                     f"{documented}. The docs state no law ({DOCS.format(page)}; {ISSUE}: "
                     "'look at the source code')", kind="layer", shapes=shapes,
                     dtypes=claim_dtypes(claim), build_dtype=build)

    def uniform(groups: int = 1) -> InitSpec:
        return InitSpec("lecun", "uniform", "oihw", gain=UNIFORM_GAIN, groups=groups)

    def conv_source(cls: str, file: str = "_conv.py") -> str:
        return (f"{SOURCE}{file} {cls}.__init__: lim = 1 / sqrt(in_channels // groups * "
                "prod(kernel_size)), weight shape (out_channels, in_channels // groups, "
                "*kernel_size), default_init = jax.random.uniform(minval=-lim, maxval=lim) "
                f"({SOURCE}_misc.py); U(-lim, lim) has variance 1 / (3 fan_in)")

    transpose_note = ("; the weight is the kernel of the forward convolution __call__ runs "
                      "on the dilated input, so axis 1 holds the transposed layer's input "
                      "channels: fan_in = in_channels // groups * prod(kernel_size)")
    dense, grouped = (lambda: layer_shapes(0)), (lambda: layer_shapes(2, groups=2))
    found = [
        entry("Linear", uniform(), dense,
              f"{SOURCE}_linear.py Linear.__init__: lim = 1 / sqrt(in_features), weight shape "
              f"(out_features, in_features), default_init = U(-lim, lim) ({SOURCE}_misc.py); "
              "variance 1 / (3 fan_in)", page="linear"),
    ]
    for rank in (1, 2, 3):
        found.append(entry(f"Conv{rank}d", uniform(), lambda rank=rank: layer_shapes(rank),
                           conv_source("Conv"), page="conv"))
        if rank == 2:
            found.append(entry("Conv2d", uniform(2), grouped, conv_source("Conv"), groups=2,
                               page="conv"))
    for rank in (1, 2, 3):
        found.append(entry(f"ConvTranspose{rank}d", uniform(),
                           lambda rank=rank: layer_shapes(rank),
                           conv_source("ConvTranspose") + transpose_note, page="conv"))
        if rank == 2:
            found.append(entry("ConvTranspose2d", uniform(2), grouped,
                               conv_source("ConvTranspose") + transpose_note, groups=2,
                               page="conv"))
    found.append(entry("Embedding", normal(1.0), lambda: layer_shapes(0),
                       f"{SOURCE}_embedding.py Embedding.__init__: weight = "
                       "jax.random.normal(key, (num_embeddings, embedding_size)): N(0, 1)",
                       page="embedding"))
    return found

