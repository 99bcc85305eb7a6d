"""PyTorch: ``torch.nn.init`` functions (fill a tensor in place) and the default
initialization of ``nn.Linear`` and the convolution layers.

Layout ``oihw``: ``Linear.weight`` is ``(out, in)``, ``ConvNd.weight`` is
``(out, in / groups, *kernel)``, ``ConvTransposeNd.weight`` is
``(in, out / groups, *kernel)``. Every call seeds its own ``torch.Generator``
(functions that take ``generator=``) or the default CPU generator (other functions, and
layers, which take no generator), through ``torch.default_generator.manual_seed``:
``torch.manual_seed`` costs 0.3 to 1.2 ms a call on the CPU build, for bookkeeping that
only CUDA needs.

Documentation: https://pytorch.org/docs/stable/nn.init.html and the pages of
``torch.nn.Linear``, ``Conv1d/2d/3d`` and ``ConvTranspose2d``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from verify import laws
from verify import strategies as vst
from verify.adapters import ContractError, StackedSampler, Target, refused, require
from verify.catalog import Entry
from verify.precision import claim_dtypes
from verify.schemes import InitSpec

DOCS = "https://pytorch.org/docs/stable/nn.init.html"
UNFILLED = float(np.finfo(np.float32).max)
LAYER_MAX_CALLS = 2000  # a layer's init costs tens of microseconds more than a fill
LAYER_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}.html"


def in_place(function: Callable, name: str, dtype: str = "float32", **kwargs) -> Target:
    """A ``torch.nn.init``-style function ``fn(tensor, **kwargs)`` that fills ``tensor``, a
    tensor of ``dtype`` (any of :data:`verify.precision.DTYPES`)."""
    torch = require("torch")
    takes_generator = "generator" in inspect.signature(function).parameters
    default_generator = torch.default_generator
    generator = torch.Generator()  # reseeded per call: half the cost of a new one
    kind = getattr(torch, dtype)
    unfilled = torch.finfo(kind).max if kind.is_floating_point else UNFILLED

    verified: dict[tuple[int, ...], int] = {}  # shape -> calls that filled every entry

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        # A sentinel no initializer draws: entries still equal to it were not filled
        # (NaN would not do: an initializer that writes NaN must be reported as such).
        # Once two calls at a shape have filled every entry, the sentinel (a fill and a
        # comparison, which cost as much as a fast initializer) is left out at it.
        sentinel = verified.get(shape, 0) < 2
        tensor = (torch.full(shape, unfilled, dtype=kind) if sentinel
                  else torch.empty(shape, dtype=kind))
        try:
            if takes_generator:
                returned = function(tensor, generator=generator.manual_seed(seed), **kwargs)
            else:
                # the default CPU generator directly: torch.manual_seed also records a stack
                # trace for lazy CUDA seeding, 0.3 to 1.2 ms a call, more than a small fill
                default_generator.manual_seed(seed)
                returned = function(tensor, **kwargs)
        except Exception as error:
            raise refused(dtype, name, error) from None
        if returned is not None and returned is not tensor:
            raise ContractError("in-place", f"{name} returned a new tensor instead of filling "
                                "the one it was given")
        if sentinel:
            if (tensor == unfilled).any():
                raise ContractError("in-place", f"{name} left entries of its tensor unfilled "
                                    f"(shape {shape})")
            verified[shape] = verified.get(shape, 0) + 1
        return _numpy(tensor)

    arguments = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    if takes_generator:
        call = f"{name}(t{arguments}, generator=torch.Generator().manual_seed({{seed}}))"
    else:
        call = f"torch.manual_seed({{seed}}); {name}(t{arguments})"
    return Target(name + ("" if dtype == "float32" else f" [{dtype}]"), "torch", sample,
                  "oihw", f"import torch; t = torch.empty({{shape}}, dtype=torch.{dtype}); "
                  f"{call}; w = {_NUMPY[dtype == 'bfloat16']}", dtype=dtype)


_NUMPY = ("t.numpy()", "t.float().numpy()")
"""A reproduction's tensor ``t`` as NumPy, exactly (bfloat16 widened)."""


def _numpy(tensor) -> np.ndarray:
    """The tensor's values, exactly: bfloat16 (which NumPy lacks) widened to float32."""
    torch = require("torch")
    if tensor.dtype == torch.bfloat16:
        return tensor.float().numpy()
    return tensor.numpy()


def stacked_fill(function: Callable, dtype: str = "float32", **kwargs) -> StackedSampler:
    """``stacked(shape, count, seed)``: ``function`` filling one ``(count, *shape)`` tensor,
    for functions whose law does not depend on the shape (see :class:`Target`)."""
    torch = require("torch")
    generator = torch.Generator()
    kind = getattr(torch, dtype)

    def stacked(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
        tensor = torch.empty((int(count), *shape), dtype=kind)
        try:
            function(tensor, generator=generator.manual_seed(seed), **kwargs)
        except Exception as error:
            raise refused(dtype, "a stacked fill", error) from None
        return _numpy(tensor)

    return stacked


def layer(kind: str, *, groups: int = 1) -> Target:
    """The default weight of ``torch.nn.<kind>`` for a weight of the given shape."""
    torch = require("torch")
    module = getattr(torch.nn, kind)
    default_generator = torch.default_generator
    transposed = "Transpose" in kind

    @functools.lru_cache(maxsize=8)
    def build(shape: tuple[int, ...]):
        if kind == "Linear":
            return module(shape[1], shape[0], bias=False)
        if transposed:  # weight (in, out / groups, *kernel)
            return module(shape[0], shape[1] * groups, tuple(shape[2:]), groups=groups,
                          bias=False)
        return module(shape[1] * groups, shape[0], tuple(shape[2:]), groups=groups, bias=False)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        # reset_parameters() is what the constructor calls: reusing one module per shape
        # runs the same initialization without rebuilding the module every call.
        made = build(tuple(shape))
        default_generator.manual_seed(seed)  # not torch.manual_seed: see in_place
        made.reset_parameters()
        return made.weight.detach().numpy().copy()

    name = f"torch:nn.{kind}" + (f"(groups={groups})" if groups > 1 else "")
    # the constructor for a weight of {shape}, as build() makes it
    if kind == "Linear":
        made = "torch.nn.Linear(shape[1], shape[0], bias=False)"
    elif transposed:
        made = (f"torch.nn.{kind}(shape[0], shape[1] * {groups}, tuple(shape[2:]), "
                f"groups={groups}, bias=False)")
    else:
        made = (f"torch.nn.{kind}(shape[1] * {groups}, shape[0], tuple(shape[2:]), "
                f"groups={groups}, bias=False)")
    return Target(name, "torch", sample, "oihw",
                  f"import torch; shape = {{shape}}; torch.manual_seed({{seed}}); "
                  f"w = {made}.weight.detach().numpy()")


def _conv_shapes(ndim: int, groups: int = 1, max_numel: int = 2**16):
    """Shapes ``(a, b, *kernel)`` whose first axis splits into ``groups``."""

    @st.composite
    def shapes(draw: st.DrawFn) -> tuple[int, ...]:
        kernel = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim - 2,
                                     max_size=ndim - 2)))
        field = math.prod(kernel)
        first = groups * draw(vst.fans(1, max(1, min(64, max_numel // (field * groups)))))
        second = draw(vst.fans(1, max(1, min(64, max_numel // (field * first)))))
        return (first, second, *kernel)

    return shapes


def _dense_shapes():
    return vst.weight_shapes(layout="oihw", min_dims=2, max_dims=2, max_numel=2**18)


# The documented default of nn.Linear and nn.ConvNd: U(-sqrt(k), sqrt(k)) with
# k = groups / (C_in * prod(kernel)), i.e. Var = 1 / (3 fan_in): LeCun-uniform with
# gain 1/sqrt(3) (reset_parameters calls kaiming_uniform_(a=sqrt(5))).
def _default(groups: int = 1, transposed: bool = False) -> InitSpec:
    return InitSpec("lecun", "uniform", "oihw", gain=1 / math.sqrt(3), groups=groups,
                    transposed=transposed)


def entries() -> list[Entry]:
    torch = require("torch")
    init = torch.nn.init

    def function(name: str, claim, documented: str, *, shapes=None, stacked: bool = False,
                 **kwargs) -> Entry:
        """``stacked``: a flat fill, whose law does not depend on the shape."""
        label = f"torch:{name}" + "".join(f"({k}={v!r})" for k, v in kwargs.items())

        def build(dtype: str = "float32") -> Target:
            target = in_place(getattr(init, name), f"torch.nn.init.{name}", dtype, **kwargs)
            if not stacked:
                return target
            return dataclasses.replace(
                target, stacked=stacked_fill(getattr(init, name), dtype, **kwargs))

        return Entry(label, "torch", build, claim,
                     f"{documented} ({DOCS}#torch.nn.init.{name})", shapes=shapes,
                     dtypes=claim_dtypes(claim), build_dtype=build)

    def module(kind: str, claim: InitSpec, documented: str, shapes, *, groups: int = 1,
               convention: str = "") -> Entry:
        built = layer(kind, groups=groups)
        return Entry(built.name, "torch", lambda: layer(kind, groups=groups), claim,
                     f"{documented} ({LAYER_DOCS.format(kind)})", kind="layer", shapes=shapes,
                     convention=convention, max_calls=LAYER_MAX_CALLS)

    glorot, he = "std = gain * sqrt(2 / (fan_in + fan_out))", "std = gain / sqrt(fan_mode)"
    found = [
        function("xavier_uniform_", InitSpec("glorot", "uniform"),
                 "U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))"),
        function("xavier_normal_", InitSpec("glorot", "normal"), f"N(0, std^2), {glorot}"),
        function("kaiming_uniform_", InitSpec("he", "uniform"),
                 "U(-b, b), b = gain * sqrt(3 / fan_mode); defaults a=0, mode='fan_in', "
                 "nonlinearity='leaky_relu': gain sqrt(2)"),
        function("kaiming_normal_", InitSpec("he", "normal"), f"N(0, std^2), {he}; defaults "
                 "a=0, mode='fan_in', nonlinearity='leaky_relu': gain sqrt(2)"),
        function("kaiming_normal_", InitSpec("he", "normal", mode="fan_out"),
                 f"N(0, std^2), {he}, fan_mode = fan_out", mode="fan_out"),
        function("kaiming_uniform_", InitSpec("lecun", "uniform", gain=1 / math.sqrt(3)),
                 "with a=sqrt(5) (what nn.Linear uses) the leaky-ReLU gain is sqrt(2/(1+5)): "
                 "U(-1/sqrt(fan_in), 1/sqrt(fan_in))", a=math.sqrt(5)),
        function("normal_", laws.normal(1.0), "N(mean, std^2), defaults mean=0, std=1",
                 stacked=True),
        function("uniform_", laws.uniform(0.0, 1.0), "U(a, b), defaults a=0, b=1",
                 stacked=True),
        function("trunc_normal_", laws.truncated_normal(1.0, -2.0, 2.0),
                 "N(mean, std^2) with values outside [a, b] redrawn; defaults mean=0, std=1, "
                 "a=-2, b=2 (absolute bounds)", stacked=True),
        function("orthogonal_", laws.Orthogonal(1.0, "first"),
                 "a (semi-)orthogonal matrix; tensors with more than 2 dimensions are "
                 "flattened to (shape[0], prod(shape[1:]))"),
        function("zeros_", laws.constant(0.0), "fills with 0"),
        function("ones_", laws.constant(1.0), "fills with 1"),
        function("constant_", laws.constant(0.25), "fills with val", val=0.25),
        function("eye_", laws.Exact(lambda shape: np.eye(*shape), "identity matrix"),
                 "the identity matrix (2-D tensors only)", shapes=_dense_shapes),
        function("dirac_", laws.Exact(_dirac, "Dirac delta kernel"),
                 "the Dirac delta: identity on the channels that exist, at the kernel centre",
                 shapes=lambda: st.one_of(*(_conv_shapes(n)() for n in (3, 4, 5)))),
        module("Linear", _default(), "U(-sqrt(k), sqrt(k)), k = 1 / in_features",
               _dense_shapes),
        module("Conv1d", _default(), "U(-sqrt(k), sqrt(k)), k = groups / (C_in * kernel_size)",
               _conv_shapes(3)),
        module("Conv2d", _default(), "U(-sqrt(k), sqrt(k)), k = groups / (C_in * prod(kernel))",
               _conv_shapes(4)),
        module("Conv3d", _default(), "U(-sqrt(k), sqrt(k)), k = groups / (C_in * prod(kernel))",
               _conv_shapes(5, max_numel=2**15)),
        module("Conv2d", _default(groups=2),
               "U(-sqrt(k), sqrt(k)), k = groups / (C_in * prod(kernel))",
               _conv_shapes(4, groups=2), groups=2),
        module("ConvTranspose2d", _default(transposed=True),
               "U(-sqrt(k), sqrt(k)), k = groups / (C_out * prod(kernel))",
               _conv_shapes(4), convention=(
                   "PyTorch documents k from C_out for transposed convolutions: it reads the "
                   "fan of the stored (in, out/groups, *kernel) tensor, whose second axis is "
                   "the output channels, so its 'fan_in' is out/groups * prod(kernel) rather "
                   "than the textbook in/groups * prod(kernel)")),
        module("ConvTranspose2d", _default(groups=2, transposed=True),
               "U(-sqrt(k), sqrt(k)), k = groups / (C_out * prod(kernel))",
               _conv_shapes(4, groups=2), groups=2, convention=(
                   "as for ConvTranspose2d: k is documented from C_out")),
    ]
    return found


def _dirac(shape: tuple[int, ...]) -> np.ndarray:
    weights = np.zeros(shape)
    centre = tuple(d // 2 for d in shape[2:])
    for channel in range(min(shape[0], shape[1])):
        weights[(channel, channel, *centre)] = 1.0
    return weights
