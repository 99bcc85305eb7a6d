"""Flax: the default kernel initialization of the dense and convolution layers of
``flax.linen`` and ``flax.nnx``.

Layout ``hwio``: ``Dense``/``Linear`` kernels are ``(in, out)``, ``Conv`` kernels
``(*kernel, in / feature_group_count, out)``, ``ConvTranspose`` kernels
``(*kernel, in, out)``, or ``(*kernel, out, in)`` with ``transpose_kernel=True``.

``sample(shape, seed)`` builds the layer whose kernel has ``shape``, initializes it
with ``jax.random.key(seed32(seed))`` and returns the kernel: ``Module.init`` on an
input of spatial size 1 for Linen, the constructor with ``nnx.Rngs(params=key)`` for
NNX. Both are jitted once per shape (the seed is the argument; XLA drops the unused
forward pass), so repeated calls on a small kernel cost one dispatch each. ``reproduce``
jits the same construction, so that it makes the very same kernel (XLA may compile an
eager call differently: ``jax.nn.initializers``' normal laws come out an ulp apart).

Every default is ``kernel_init=default_kernel_init``, which ``flax/linen/linear.py``
and ``flax/nnx/nn/linear.py`` define as ``initializers.lecun_normal()``, i.e. JAX's
``variance_scaling(1.0, "fan_in", "truncated_normal")``: LeCun with the textbook's
(variance-corrected) truncated normal, fan_in read from the kernel's axis -2 times the
receptive field. The API reference shows the default in each signature as
``kernel_init=<function variance_scaling.<locals>.init>``.

Dtypes: a layer is built with ``param_dtype=...`` for every dtype its claim takes (its
default is float32; float64 and complex128 need ``jax_enable_x64``); ``bfloat16`` kernels
are widened to float32 exactly.

Documentation: https://flax-linen.readthedocs.io/en/latest/api_reference/flax.linen/layers.html
and https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/linear.html.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from verify import strategies as vst
from verify.adapters import (
    ContractError,
    LibraryMissing,
    Target,
    refused,
    require,
    seed32,
    widen_snippet,
    widened,
    x64_snippet,
)
from verify.catalog import Entry
from verify.precision import claim_dtypes
from verify.schemes import InitSpec

LINEN_DOCS = ("https://flax-linen.readthedocs.io/en/latest/api_reference/flax.linen/"
              "layers.html#flax.linen.{}")
NNX_DOCS = "https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/linear.html#flax.nnx.{}"
LECUN_DOCS = "https://docs.jax.dev/en/latest/_autosummary/jax.nn.initializers.lecun_normal.html"

MAX_COMPILED = 256
"""Jitted layer initializations kept per target (one per shape)."""

MIN_NUMEL = 64
MAX_NUMEL = 2**16
MAX_CHANNELS = 256
MAX_KERNEL = 5


def _layer_arguments(kind: str, shape: tuple[int, ...], groups: int,
                     transpose_kernel: bool) -> tuple[int, int, tuple[int, ...]]:
    """``(in_features, out_features, kernel_size)`` of the layer whose kernel is ``shape``."""
    kernel = tuple(shape[:-2])
    if kind in ("Dense", "Linear"):
        return shape[0], shape[1], kernel
    if transpose_kernel:  # (*kernel, out, in)
        return shape[-1], shape[-2], kernel
    return shape[-2] * groups, shape[-1], kernel


def layer(api: str, kind: str, *, groups: int = 1, transpose_kernel: bool = False,
          dtype: str = "float32") -> Target:
    """The default kernel of ``flax.<api>.<kind>`` (``api`` is ``linen`` or ``nnx``), built
    with ``param_dtype=dtype`` (the layers' own default is float32)."""
    jax = require("jax")
    jnp = require("jax.numpy", "flax")
    from verify.adapters.jax import jax_dtype

    module = getattr(require(f"flax.{api}", "flax"), kind)
    options: dict = {}
    if groups > 1:
        options["feature_group_count"] = groups
    if transpose_kernel:
        options["transpose_kernel"] = True
    structure = dict(options)  # what names the layer; param_dtype names the dtype
    if dtype != "float32":
        options["param_dtype"] = jax_dtype(dtype)

    @lru_cache(maxsize=MAX_COMPILED)
    def compiled(shape: tuple[int, ...]):
        features_in, features_out, kernel = _layer_arguments(kind, shape, groups,
                                                             transpose_kernel)
        if api == "linen":
            if kind == "Dense":
                made = module(features=features_out, **options)
            else:
                made = module(features=features_out, kernel_size=kernel, **options)
            inputs = jnp.zeros((1, *(1 for _ in kernel), features_in), jnp.float32)

            def draw(seed):
                return made.init(jax.random.key(seed), inputs)["params"]["kernel"]
        else:
            nnx = require("flax.nnx", "flax")

            def draw(seed):
                rngs = nnx.Rngs(params=jax.random.key(seed))
                if kind == "Linear":
                    made = module(features_in, features_out, rngs=rngs, **options)
                else:
                    made = module(features_in, features_out, kernel, rngs=rngs, **options)
                return made.kernel[...]

        return jax.jit(draw)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        try:
            values = np.asarray(compiled(shape)(np.uint32(seed32(seed))))
        except Exception as error:
            raise refused(dtype, f"flax.{api}.{kind}", error) from None
        if values.shape != shape or values.dtype.name != dtype:
            raise ContractError("shape", f"flax.{api}.{kind} built for a {dtype} kernel of "
                                f"shape {shape} has a {values.dtype} kernel of shape "
                                f"{values.shape}")
        return widened(values)

    arguments = "".join(f", {k}={v!r}" for k, v in structure.items())
    name = f"flax:{api}.{kind}" + (f"({arguments[2:]})" if arguments else "")
    if dtype != "float32":
        arguments += f", param_dtype=jnp.{dtype}"
    return Target(name if dtype == "float32" else f"{name} [{dtype}]", "flax", sample, "hwio",
                  x64_snippet(dtype) + _reproduce(api, kind, groups, transpose_kernel, arguments)
                  + widen_snippet(dtype), dtype=dtype)


def _reproduce(api: str, kind: str, groups: int, transpose_kernel: bool,
               arguments: str) -> str:
    """The snippet of :func:`layer`: the layer built and initialized under ``jax.jit``, as
    ``sample`` does, with Flax alone."""
    if kind in ("Dense", "Linear"):
        fin, fout, size = "shape[0]", "shape[1]", ""
    elif transpose_kernel:
        fin, fout, size = "shape[-1]", "shape[-2]", "shape[:-2]"
    else:
        fin = "shape[-2]" + (f" * {groups}" if groups > 1 else "")
        fout, size = "shape[-1]", "shape[:-2]"
    if api == "linen":
        size_argument = f", kernel_size={size}" if size else ""
        inputs = (f"jnp.zeros((1, {fin}))" if kind == "Dense"
                  else f"jnp.zeros((1,) * (len(shape) - 1) + ({fin},))")
        build = (f"layer = linen.{kind}(features={fout}{size_argument}{arguments}); "
                 f"draw = jax.jit(lambda key: layer.init(key, {inputs})['params']['kernel'])")
    else:
        size_argument = f", {size}" if size else ""
        build = (f"draw = jax.jit(lambda key: nnx.{kind}({fin}, {fout}{size_argument}"
                 f"{arguments}, rngs=nnx.Rngs(params=key)).kernel[...])")
    return (f"import jax, jax.numpy as jnp, numpy as np; from flax import {api}; "
            "shape = {shape}; " + build + "; "
            "w = np.asarray(draw(jax.random.key(seed32({seed}))))")


@st.composite
def layer_shapes(draw: st.DrawFn, kernel_dims: int, groups: int = 1) -> tuple[int, ...]:
    """Kernels ``(*kernel, a, b)`` with ``b`` divisible by ``groups``, of ``MIN_NUMEL``
    to ``MAX_NUMEL`` entries (size-1 axes included: the other axes make up the count)."""
    kernel = tuple(draw(st.lists(st.integers(1, MAX_KERNEL), min_size=kernel_dims,
                                 max_size=kernel_dims), label="kernel"))
    field = math.prod(kernel) * groups
    first = draw(vst.fans(1, max(1, min(MAX_CHANNELS, MAX_NUMEL // field))), label="axis -2")
    low = max(1, math.ceil(MIN_NUMEL / (field * first)))
    high = max(low, min(MAX_CHANNELS // groups, MAX_NUMEL // (field * first)))
    second = groups * draw(vst.fans(low, high), label="axis -1 / groups")
    return (*kernel, first, second)


def entries() -> list[Entry]:
    require("flax")
    require("flax.linen", "flax")
    nnx_present = True
    try:
        require("flax.nnx", "flax")
    except LibraryMissing:
        nnx_present = False

    def entry(api: str, kind: str, claim: InitSpec, shapes, *, groups: int = 1,
              transpose_kernel: bool = False, note: str = "") -> Entry:
        name = layer(api, kind, groups=groups, transpose_kernel=transpose_kernel).name

        def build(dtype: str = "float32") -> Target:
            return layer(api, kind, groups=groups, transpose_kernel=transpose_kernel,
                         dtype=dtype)

        docs = (LINEN_DOCS if api == "linen" else NNX_DOCS).format(kind)
        documented = (f"flax.{api}.{kind}: kernel_init defaults to default_kernel_init = "
                      "initializers.lecun_normal() (the signature shows "
                      "kernel_init=<function variance_scaling.<locals>.init>) "
                      f"({docs}); lecun_normal 'is a specialization of variance_scaling where "
                      "scale = 1.0, mode=\"fan_in\", and distribution=\"truncated_normal\"', "
                      f"the standard deviation after truncation sqrt(1 / fan_in) ({LECUN_DOCS})"
                      + (f"; {note}" if note else ""))
        return Entry(name, "flax", build, claim, documented, kind="layer", shapes=shapes,
                     dtypes=claim_dtypes(claim), build_dtype=build)

    lecun = InitSpec("lecun", "truncated_normal", "hwio")
    grouped = InitSpec("lecun", "truncated_normal", "hwio", groups=2)
    swapped = InitSpec("lecun", "truncated_normal", "hwio", transposed=True)
    dense, conv = (lambda: layer_shapes(0)), (lambda: layer_shapes(2))
    conv_grouped = lambda: layer_shapes(2, groups=2)  # noqa: E731
    transpose_note = ("the kernel is (*kernel, in_features, features): the input channels on "
                      "axis -2, so fan_in = in_features * prod(kernel size)")
    swapped_note = ("transpose_kernel=True: 'flips spatial axes and swaps the input/output "
                    "channel axes of the kernel', which is (*kernel, features, in_features): "
                    "the input channels are on the last axis, so the textbook fan_in is "
                    "in_features * prod(kernel size); no documented convention departs from it")
    group_note = ("feature_group_count=2: 'divides the input features into groups'; the kernel "
                  "is (*kernel, in_features / 2, features), so fan_in = in_features / 2 * "
                  "prod(kernel size)")
    found = [
        entry("linen", "Dense", lecun, dense),
        entry("linen", "Conv", lecun, conv),
        entry("linen", "Conv", grouped, conv_grouped, groups=2, note=group_note),
        entry("linen", "ConvTranspose", lecun, conv, note=transpose_note),
        entry("linen", "ConvTranspose", swapped, conv, transpose_kernel=True,
              note=swapped_note),
    ]
    if nnx_present:
        found += [
            entry("nnx", "Linear", lecun, dense),
            entry("nnx", "Conv", lecun, conv),
            entry("nnx", "Conv", grouped, conv_grouped, groups=2, note=group_note),
            entry("nnx", "ConvTranspose", lecun, conv, note=transpose_note),
            entry("nnx", "ConvTranspose", swapped, conv, transpose_kernel=True,
                  note=swapped_note),
        ]
    return found
