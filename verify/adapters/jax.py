"""JAX: every public initializer of ``jax.nn.initializers``.

An initializer is a function ``init(key, shape, dtype)``; each call gets the key
``jax.random.key(seed32(seed))``. The call is jitted once per shape (the key's seed is
the jitted function's argument), so the thousands of calls a check makes on a small
tensor cost one dispatch each. A target's ``reproduce`` snippet jits the same call too,
so that it makes the very same tensor: called eagerly, XLA fuses the scaling into the
draw differently, and 12 of the 73 entry and dtype pairs (the normal laws, float16 and
complex64) come out an ulp apart.

Layout ``hwio``: ``variance_scaling`` reads the input axis at ``in_axis=-2``, the output
axis at ``out_axis=-1`` and takes every other axis (but ``batch_axis``) as the receptive
field, i.e. ``(*kernel, in, out)``. Its ``"truncated_normal"`` divides the standard
deviation by ``.87962566103423978``, the standard deviation of a standard normal
truncated to ``(-2, 2)``, so the truncated law has the scheme's variance: the
textbook's truncated normal (:mod:`verify.distributions`).

Documentation: https://docs.jax.dev/en/latest/jax.nn.initializers.html and the page of
each function, ``https://docs.jax.dev/en/latest/_autosummary/jax.nn.initializers.<name>.html``.

Not in the catalog: ``variance_scaling(mode="fan_geo_avg")`` (the textbook's schemes
divide by fan_in, fan_out or their arithmetic mean, and :class:`InitSpec` has no
geometric mean) and complex dtypes (every claim here is about real weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from verify import laws
from verify import strategies as vst
from verify.adapters import (
    ContractError,
    DtypeUnsupported,
    Target,
    refused,
    require,
    seed32,
    widened,
)
from verify.catalog import Entry
from verify.fans import Layout
from verify.precision import claim_dtypes
from verify.schemes import InitSpec

DOCS = "https://docs.jax.dev/en/latest/_autosummary/jax.nn.initializers.{}.html"

MAX_COMPILED = 512
"""Jitted draws kept (one per initializer and shape), shared by every target."""

def jax_dtype(dtype: str):
    """The JAX dtype named ``dtype``; :class:`DtypeUnsupported` for the 64-bit ones unless
    ``jax_enable_x64`` is on (without it JAX hands back 32 bits for them)."""
    jax = require("jax")
    if dtype in ("float64", "complex128") and not jax.config.read("jax_enable_x64"):
        raise DtypeUnsupported(f"JAX runs without jax_enable_x64 here: asked for {dtype} it "
                               "returns 32 bits (set JAX_ENABLE_X64=1 to check it)")
    return getattr(jax.numpy, dtype)


@lru_cache(maxsize=MAX_COMPILED)
def _compiled(builder: Callable, arguments: tuple, keywords: tuple, factory: bool,
              batch: int, shape: tuple[int, ...], dtype: str = "float32"):
    """``seed -> init(jax.random.key(seed), shape, dtype)``, jitted; ``init`` is
    ``builder(*arguments, **keywords)`` (``factory``) or ``builder`` itself. Keyed by the
    builder object, so aliases (``xavier_normal is glorot_normal``) share one compile."""
    jax = require("jax")
    init = builder(*arguments, **dict(keywords)) if factory else builder
    full = (batch, *shape) if batch else shape
    kind = jax_dtype(dtype)

    def draw(seed):
        values = init(jax.random.key(seed), full, kind)
        return values[0] if batch else values

    return jax.jit(draw)


def compiled_target(name: str, builder: Callable, call: str, arguments: tuple = (),
                    keywords: dict | None = None, *, factory: bool = True,
                    layout: Layout = "hwio", batch: int = 0, stacked: bool = False,
                    dtype: str = "float32") -> Target:
    """The initializer ``builder(*arguments, **keywords)`` (or ``builder`` itself, without
    ``factory``) as a target: ``init(jax.random.key(seed32(seed)), shape, float32)``,
    jitted per shape.

    With ``batch`` the initializer is called on ``(batch, *shape)`` (its ``batch_axis=0``)
    and the target returns the first member, of ``shape``. ``call`` is how the
    initializer is written in ``reproduce``. ``stacked`` (a flat fill, whose law does not
    depend on the shape) adds :attr:`Target.stacked`: one call on ``(count, *shape)``.
    """
    require("jax")
    frozen = tuple(sorted((keywords or {}).items()))
    kind = jax_dtype(dtype)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        try:
            draw = _compiled(builder, tuple(arguments), frozen, factory, batch, shape, dtype)
            values = np.asarray(draw(np.uint32(seed32(seed))))
        except Exception as error:
            raise refused(dtype, name, error) from None
        if values.shape != shape or values.dtype != np.dtype(kind):
            raise ContractError("shape", f"{name} returned {values.dtype}{list(values.shape)} "
                                f"for a {dtype} tensor of shape {shape}")
        return widened(values)

    def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
        # eager, not jitted: each (count, shape) is drawn about once, where a compile
        # would cost more than the draw
        jax = require("jax")
        init = builder(*arguments, **dict(frozen)) if factory else builder
        full = (int(count), *(int(d) for d in shape))
        try:
            return widened(np.asarray(init(jax.random.key(seed32(seed)), full, kind)))
        except Exception as error:
            raise refused(dtype, name, error) from None

    reproduce = snippet(call, dtype, batch)
    label = name if dtype == "float32" else f"{name} [{dtype}]"
    return Target(label, "jax", sample, layout, reproduce,
                  stacked=stacked_draw if stacked else None, dtype=dtype)


def snippet(call: str, dtype: str = "float32", batch: int = 0) -> str:
    """The ``reproduce`` snippet of :func:`compiled_target`: the initializer ``call``
    jitted, as ``sample`` draws it, on the key of ``seed32(seed)``. It needs only JAX
    (and ``seed32``, which the reproduction defines)."""
    full = f"({batch},) + shape" if batch else "shape"
    pick = "[0]" if batch else ""
    x64 = ("jax.config.update('jax_enable_x64', True); "
           if dtype in ("float64", "complex128") else "")
    widen = ".astype(np.float32)" if dtype == "bfloat16" else ""
    return ("import jax, jax.numpy as jnp, numpy as np; " + x64 + "shape = {shape}; "
            f"init = {call}; "
            f"draw = jax.jit(lambda key: init(key, {full}, jnp.{dtype}){pick}); "
            f"w = np.asarray(draw(jax.random.key(seed32({{seed}})))){widen}")


def _orthogonal_shapes(max_numel: int = 2**14):
    """Shapes small enough for a QR decomposition per call."""
    return vst.weight_shapes(layout="hwio", max_channels=128, max_numel=max_numel)


def _delta_orthogonal_shapes():
    """``(*kernel, c, c)`` with 1 to 3 kernel axes: square channel matrices, where the
    flattened kernel has orthonormal columns (see the entry's note)."""

    @st.composite
    def shapes(draw: st.DrawFn) -> tuple[int, ...]:
        kernel = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="kernel")
        channels = draw(vst.fans(1, 64), label="channels")
        return (*kernel, channels, channels)

    return shapes()


def entries() -> list[Entry]:
    jax = require("jax")
    init = jax.nn.initializers

    def function(name: str, claim, documented: str, *args, shapes=None,
                 layout: Layout = "hwio", batch: int = 0, alias_of: str = "",
                 stacked: bool = False, **kwargs) -> Entry:
        """``jax.nn.initializers.<name>(*args, **kwargs)`` (a builder) as an entry;
        ``stacked``: a flat fill, whose law does not depend on the shape."""
        arguments = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        call = f"jax.nn.initializers.{name}({arguments})"
        label = f"jax:{name}" + (f"({arguments})" if arguments else "")
        page = DOCS.format(alias_of or name)
        alias = f"alias of {alias_of}; " if alias_of else ""
        def build(dtype: str = "float32") -> Target:
            return compiled_target(label, getattr(init, name), call, args, kwargs,
                                   layout=layout, batch=batch, stacked=stacked, dtype=dtype)

        return Entry(label, "jax", build, claim, f"{alias}{documented} ({page})",
                     shapes=shapes, dtypes=claim_dtypes(claim), build_dtype=build)

    def constant_function(name: str, claim, documented: str) -> Entry:
        """``zeros``/``ones``: initializers themselves, not builders."""
        call = f"jax.nn.initializers.{name}"
        label = f"jax:{name}"
        return Entry(label, "jax",
                     lambda: compiled_target(label, getattr(init, name), call, factory=False),
                     claim, f"{documented} ({DOCS.format(name)})")

    def scheme(builder: str, scale: str, mode: str, dist: str) -> str:
        return (f"'{builder} is a specialization of variance_scaling where scale = {scale}, "
                f"mode=\"{mode}\", and distribution=\"{dist}\"'")

    truncated = ("; variance_scaling: 'samples are drawn from a (truncated) normal "
                 "distribution with a mean of zero and a standard deviation (after truncation, "
                 "if applicable) of sqrt(scale / n)', 'the absolute values of the samples are "
                 "truncated at 2 standard deviations before scaling'")
    uniform = ("; variance_scaling: uniform 'with a mean of zero and a standard deviation of "
               "sqrt(scale / n)'")
    fans = "; fans from in_axis=-2, out_axis=-1, the other axes the receptive field"
    found = [
        function("glorot_normal", InitSpec("glorot", "truncated_normal", "hwio"),
                 scheme("A Glorot normal initializer", "1.0", "fan_avg", "truncated_normal")
                 + truncated + fans),
        function("xavier_normal", InitSpec("glorot", "truncated_normal", "hwio"),
                 scheme("A Glorot normal initializer", "1.0", "fan_avg", "truncated_normal")
                 + truncated + fans, alias_of="glorot_normal"),
        function("glorot_uniform", InitSpec("glorot", "uniform", "hwio"),
                 scheme("A Glorot uniform initializer", "1.0", "fan_avg", "uniform")
                 + uniform + fans),
        function("xavier_uniform", InitSpec("glorot", "uniform", "hwio"),
                 scheme("A Glorot uniform initializer", "1.0", "fan_avg", "uniform")
                 + uniform + fans, alias_of="glorot_uniform"),
        function("he_normal", InitSpec("he", "truncated_normal", "hwio"),
                 scheme("A He normal initializer", "2.0", "fan_in", "truncated_normal")
                 + truncated + fans),
        function("kaiming_normal", InitSpec("he", "truncated_normal", "hwio"),
                 scheme("A He normal initializer", "2.0", "fan_in", "truncated_normal")
                 + truncated + fans, alias_of="he_normal"),
        function("he_uniform", InitSpec("he", "uniform", "hwio"),
                 scheme("A He uniform initializer", "2.0", "fan_in", "uniform")
                 + uniform + fans),
        function("kaiming_uniform", InitSpec("he", "uniform", "hwio"),
                 scheme("A He uniform initializer", "2.0", "fan_in", "uniform")
                 + uniform + fans, alias_of="he_uniform"),
        function("lecun_normal", InitSpec("lecun", "truncated_normal", "hwio"),
                 scheme("A Lecun normal initializer", "1.0", "fan_in", "truncated_normal")
                 + truncated + fans),
        function("lecun_uniform", InitSpec("lecun", "uniform", "hwio"),
                 scheme("A Lecun uniform initializer", "1.0", "fan_in", "uniform")
                 + uniform + fans),
        # variance_scaling, three representative parameter choices: every distribution,
        # every mode, a non-default scale, explicit in_axis/out_axis, and a batch_axis.
        function("variance_scaling", InitSpec("he", "normal", "oihw"),
                 "'samples are drawn from a (truncated) normal distribution with a mean of "
                 "zero and a standard deviation ... of sqrt(scale / n)', n = fan_in 'the number "
                 "of inputs'; in_axis/out_axis: 'axis ... of the input/output dimension in the "
                 "weights array', other axes 'the receptive field': with in_axis=1, "
                 "out_axis=0 the tensor is (out, in, *kernel)",
                 2.0, "fan_in", "normal", in_axis=1, out_axis=0, layout="oihw"),
        function("variance_scaling",
                 InitSpec("lecun", "uniform", "hwio", mode="fan_out", gain=math.sqrt(0.5)),
                 "'With distribution=\"uniform\", samples are drawn from a uniform interval "
                 "... with a mean of zero and a standard deviation of sqrt(scale / n)', "
                 "n = fan_out 'the number of outputs'" + fans,
                 0.5, "fan_out", "uniform"),
        function("variance_scaling", InitSpec("glorot", "truncated_normal", "hwio"),
                 "truncated normal with 'a standard deviation (after truncation, if "
                 "applicable) of sqrt(scale / n)', n = fan_avg 'the arithmetic average of "
                 "the numbers of inputs and outputs'; batch_axis: 'axis ... in the weight "
                 "array that should be ignored'. The target draws a batch of 2 along axis 0 "
                 "and returns one member: its fans must not count the batch axis",
                 1.0, "fan_avg", "truncated_normal", batch_axis=0, batch=2,
                 shapes=lambda: vst.weight_shapes(layout="hwio", max_numel=2**20)),
        function("normal", laws.normal(0.01),
                 "'arrays whose values are normally distributed with mean 0 and standard "
                 "deviation stddev'; default stddev=1e-2", stacked=True),
        function("uniform", laws.uniform(0.0, 0.01),
                 "'arrays whose values are uniformly distributed in the range [0, scale)'; "
                 "default scale=1e-2", stacked=True),
        function("truncated_normal", laws.truncated_normal(0.01, -0.02, 0.02),
                 "stddev: 'the standard deviation of the untruncated distribution. Note that "
                 "this function does not apply the stddev correction as is done in the "
                 "variancescaling initializers'; range 'lower * stddev < x < upper * stddev'; "
                 "defaults stddev=1e-2, lower=-2, upper=2. (The Returns line also says "
                 "'standard deviation stddev'; the claim follows the explicit stddev "
                 "argument note: N(0, stddev^2) truncated, no correction)", stacked=True),
        function("truncated_normal", laws.truncated_normal(0.5, -0.5, 1.5),
                 "N(0, stddev^2) (stddev of the untruncated distribution, no correction) "
                 "truncated to lower * stddev < x < upper * stddev: asymmetric bounds "
                 "lower=-1, upper=3 'applied before the output is multiplied by the stddev'",
                 0.5, lower=-1.0, upper=3.0, stacked=True),
        function("orthogonal", laws.Orthogonal(1.0, rows="last"),
                 "'uniformly distributed orthogonal matrices. If the shape is not square, the "
                 "matrices will have orthonormal rows or columns depending on which side is "
                 "smaller'; column_axis=-1 'the axis that contains the columns', so the "
                 "matrix is (prod(shape[:-1]), shape[-1]); default scale=1 (documented, "
                 "oddly, as 'the upper bound of the uniform distribution'; the source "
                 "multiplies the orthogonal matrix by it)", shapes=_orthogonal_shapes),
        function("orthogonal", laws.Orthogonal(0.5, rows="first"),
                 "orthogonal columns along column_axis=0: the matrix is (shape[0], "
                 "prod(shape[1:])) transposed, scaled by scale=0.5",
                 0.5, column_axis=0, shapes=_orthogonal_shapes),
        function("delta_orthogonal", laws.Orthogonal(1.0, rows="last"),
                 "'an initializer for delta orthogonal kernels' (Xiao et al. 2018, "
                 "https://arxiv.org/abs/1806.05393): 3-D to 5-D shapes, 'fan_in must be less "
                 "or equal than fan_out'; the kernel is zero but at its centre, which holds an "
                 "orthogonal (in, out) matrix. Claimed as Orthogonal only on shapes with "
                 "in == out, where the flattened (prod(kernel) * in, out) kernel has "
                 "orthonormal columns exactly when the centre is orthogonal and every other "
                 "tap is zero (which tap is the centre is not checked)",
                 shapes=_delta_orthogonal_shapes),
        constant_function("zeros", laws.constant(0.0),
                          "'An initializer that returns a constant array full of zeros'"),
        constant_function("ones", laws.constant(1.0),
                          "'An initializer that returns a constant array full of ones'"),
        function("constant", laws.constant(-7.0),
                 "'an initializer that returns arrays full of a constant value' (the "
                 "docstring's example value -7)", -7.0),
    ]
    return found
