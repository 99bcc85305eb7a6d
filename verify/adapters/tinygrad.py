"""tinygrad: the random creation helpers of ``Tensor`` (``tinygrad/mixin/rand.py``) and the
default initialization of the ``tinygrad.nn`` layers with weights.

tinygrad stores weights ``oihw``, as PyTorch does: ``Linear.weight`` is ``(out, in)``,
``Conv2d.weight`` ``(out, in / groups, *kernel)`` (``Conv1d`` is a function that returns a
``Conv2d`` with a one-axis kernel, and a three-axis ``kernel_size`` gives a 3-D
convolution), ``ConvTranspose2d.weight`` ``(in, out / groups, *kernel)``, ``Embedding``
``(vocab_size, embed_size)``, ``LSTMCell.weight_ih`` ``(4 * hidden, input)``. Its
``glorot_uniform``, ``kaiming_uniform`` and ``kaiming_normal`` read the fans from that
order: ``shape[0]`` and ``prod(shape[1:])``.

The layers' docstrings state no initialization of their own: each says "See:" and links
the PyTorch page of the same layer. The layer entries claim the law that linked page
documents; where tinygrad's source draws something else, ``convention`` says what, and
the check measures it.

Dtypes: a creation helper is asked for float16, bfloat16 or float64 with ``dtype=`` (float32
is its default); tinygrad has no complex dtype, and its layers take no dtype (float32 only).
Its ``numpy()`` widens ``bfloat16`` to float32 itself (a cast, exact). The CPU device
compiles each kernel with clang: a kernel in a dtype the compiler cannot build (clang 14
has no ``__bf16`` for tinygrad's target) is "not supported".

Seeding: ``Tensor.manual_seed(seed)`` resets the per-device threefry keys and counters, and
every call seeds it with ``seed32(seed)`` right before it draws (tinygrad stores the seed
as a uint32: ``manual_seed(2**32 + 5)`` draws what ``manual_seed(5)`` draws). tinygrad is
lazy: ``.numpy()`` realizes a tensor. Every draw runs on the CPU device
(``Context(DEV="CPU")``; ``CPU=1`` is refused since 0.14: "CPU=1 is deprecated, use
DEV=CPU instead"), whose kernels ``clang`` compiles (``CC`` overrides the compiler,
``tinygrad/runtime/support/compiler_cpu.py``). Each new shape compiles its kernels once per
process (0.1 to 3 s), then a call costs about 20 ms: the function entries draw shapes of
at least :data:`MIN_NUMEL` entries, and the flat fills draw many tensors in one
``stacked`` call.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from scipy import stats

from verify.adapters import ContractError, LibraryMissing, Target, refused, require, seed32
from verify.catalog import Entry
from verify.laws import Claim, Exact, ShapeLaw, constant, normal, uniform
from verify.precision import FLOAT_DTYPES, claim_dtypes
from verify.schemes import InitSpec
from verify.strategies import weight_shapes

LIBRARY = "tinygrad"
DEVICE = "CPU"
CREATION_DOCS = "https://docs.tinygrad.org/tensor/creation/#tinygrad.Tensor."
NN_DOCS = "https://docs.tinygrad.org/nn/#tinygrad.nn."
TORCH_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}"
RAND_SOURCE = "tinygrad/mixin/rand.py"
NN_SOURCE = "tinygrad/nn/__init__.py"

MIN_NUMEL = 2**13
"""Smallest tensor a shape-dependent entry draws: a call costs about 20 ms, so 1.4 M draws
take 171 calls at this size."""
MAX_NUMEL = 2**18
MAX_CALLS = 400
"""Calls per shape of the entries without a stacked draw (8 s at 20 ms a call)."""

KAIMING_DEFAULT_SLOPE = 0.01
"""``Tensor.kaiming_uniform`` and ``kaiming_normal``'s default ``a`` (their signatures);
PyTorch's ``kaiming_uniform_`` defaults to ``a=0``."""
FULL_VALUE = 0.5

SKIPPED: dict[str, str] = {
    "tinygrad:Tensor.randint": "draws integers uniformly from [low, high): a discrete law, "
                               "not a weight initializer",
    "tinygrad:Tensor.randperm": "a random permutation of 0..n-1, not a weight initializer",
    "tinygrad:Tensor.multinomial": "samples indices from the weights of a tensor, not a "
                                   "weight initializer",
    "tinygrad:Tensor.dropout": "a training-time mask applied to a tensor, not a weight "
                               "initializer",
    "tinygrad:Tensor.rand_like": "Tensor.rand at another tensor's shape and dtype; "
                                 "Tensor.rand calls the same threefry draw (rand.py)",
    "tinygrad:Tensor.randn_like": "the Box-Muller draw Tensor.randn calls (rand.py): "
                                  "covered by the Tensor.randn and Tensor.normal entries",
    "tinygrad:Tensor.random_bits": "raw uint32 threefry bits, the source of Tensor.rand",
    "tinygrad:Tensor.scaled_dot_product_attention": "an attention operation that RandMixin "
                                                    "holds for its dropout, not an "
                                                    "initializer",
}
"""Public methods of ``tinygrad.mixin.rand.RandMixin`` without an entry, and why."""

TORCH_LINK = ("the docstring states no initialization; it says 'See:' and links PyTorch's "
              "page of the layer")


def cpu_compiler_missing() -> str | None:
    """Why tinygrad's CPU device cannot compile here (None when it can): it runs
    ``$CC`` (default ``clang``) on every kernel, and on its own helper programs when the
    device opens."""
    compiler = os.environ.get("CC", "clang")
    if shutil.which(compiler) is not None:
        return None
    return (f"tinygrad's CPU device compiles its kernels with {compiler!r} (the CC "
            "variable, default clang: tinygrad/runtime/support/compiler_cpu.py), which is "
            "not on PATH: install clang (Debian: apt-get install clang). The PYTHON device "
            "is too slow for the 1.4 M draws of a check")


def require_tinygrad() -> Any:
    """``tinygrad``, or :class:`LibraryMissing` when it, or the compiler its CPU device
    needs, is not installed."""
    tinygrad = require("tinygrad")
    missing = cpu_compiler_missing()
    if missing:
        raise LibraryMissing(missing)
    return tinygrad


def on_cpu() -> contextlib.AbstractContextManager:
    """Tensors made in this block default to the CPU device (``DEV=CPU``)."""
    from tinygrad.helpers import Context

    return Context(DEV=DEVICE)


def realize(model: Any) -> Any:
    """``model`` with every tensor ``get_state_dict`` finds in it computed (one schedule):
    tinygrad draws lazily, and a build is timed and seeded as a whole."""
    from tinygrad import Tensor
    from tinygrad.nn.state import get_state_dict

    if isinstance(model, Tensor):
        return model.realize()
    tensors = list({id(t): t for t in get_state_dict(model).values()}.values())
    if tensors:
        Tensor.realize(*tensors)
    return model


def entries() -> list[Entry]:
    """Every random creation helper of ``Tensor`` (but :data:`SKIPPED`), ``zeros``,
    ``ones``, ``full`` and ``eye``, and the default weights of ``tinygrad.nn``'s linear,
    convolution, embedding and LSTM layers."""
    tinygrad = require_tinygrad()
    return _function_entries(tinygrad) + _layer_entries(tinygrad)


# --- sampling -------------------------------------------------------------------------


def _numpy(tensor: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``tensor`` realized as NumPy, after checking the shape and the float32 dtype."""
    result = tensor.numpy()
    if result.shape != shape:
        raise ContractError("shape", f"{name} returned shape {result.shape} for {shape}")
    if result.dtype != np.float32:
        raise ContractError("dtype", f"{name} returned {result.dtype}, default float32")
    return result


def _reproduce(expression: str) -> str:
    """A snippet that draws ``expression`` (in terms of ``shape``) the way ``sample`` does,
    on the CPU device."""
    names = "Context, Tensor, nn" if expression.startswith("nn.") else "Context, Tensor"
    return (f"from tinygrad import {names}\n"
            "shape = {shape}\n"
            "with Context(DEV='CPU'):\n"
            "    Tensor.manual_seed(seed32({seed}))\n"
            f"    w = {expression}.numpy()\n")


def _seeded_draw(tinygrad: Any, name: str,
                 make: Callable[[tuple[int, ...]], Any]) -> Callable[[tuple[int, ...], int],
                                                                    np.ndarray]:
    Tensor = tinygrad.Tensor

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        with on_cpu():
            Tensor.manual_seed(seed32(seed))
            return _numpy(make(shape), shape, name)

    return sample


def _function_target(tinygrad: Any, name: str, method: str, kwargs: dict[str, Any],
                     stacked: bool, call: str) -> Callable[[str], Target]:
    """``Tensor.<method>(*shape, **kwargs, dtype=...)``; ``call`` is how the method takes the
    shape: ``"spread"`` (``*shape``; ``eye(n, m)`` too) or ``"tuple"`` (``full``).
    ``stacked``: a flat fill, also drawn as one ``(count, *shape)`` tensor. float32 is asked
    for as tinygrad's default dtype (no ``dtype`` argument), the others by name."""

    def build(dtype: str = "float32") -> Target:
        asked = {} if dtype == "float32" else {"dtype": dtype}
        what = f"Tensor.{method}"

        def make(shape: tuple[int, ...]) -> Any:
            method_of = getattr(tinygrad.Tensor, method)
            if call == "tuple":
                return method_of(shape, **kwargs, **asked)
            return method_of(*shape, **kwargs, **asked)

        def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
            shape = tuple(int(d) for d in shape)
            with on_cpu():
                tinygrad.Tensor.manual_seed(seed32(seed))
                try:
                    tensor = make(shape)
                    values = tensor.numpy()  # realizes: a kernel that fails to compile here
                except Exception as error:
                    raise refused(dtype, what, _compiler_failure(error)) from None
            return _asked(tensor, values, shape, dtype, name)

        def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
            return sample((int(count), *shape), seed)

        arguments = "".join(f", {key}={value!r}" for key, value in {**kwargs, **asked}.items())
        shaped = "shape" if call == "tuple" else "*shape"
        reproduce = _reproduce(f"Tensor.{method}({shaped}{arguments})")
        return Target(name if dtype == "float32" else f"{name} [{dtype}]", LIBRARY, sample,
                      layout="oihw", reproduce=reproduce,
                      stacked=stacked_draw if stacked else None, dtype=dtype)

    return build


def _compiler_failure(error: Exception) -> Exception:
    """``error``, or for a kernel that the CPU device's compiler refused (the clang of some
    systems has no ``__bf16`` for tinygrad's target), a one-line account of that."""
    import subprocess

    if isinstance(error, subprocess.CalledProcessError):
        command = error.cmd[0] if isinstance(error.cmd, list | tuple) else error.cmd
        return RuntimeError(f"the CPU device's compiler ({command}) failed on its kernel, "
                            f"exit status {error.returncode}")
    return error


def _asked(tensor: Any, values: np.ndarray, shape: tuple[int, ...], dtype: str,
           name: str) -> np.ndarray:
    """``values``, the NumPy values of ``tensor`` asked for ``dtype``, after checking its
    shape and dtype. tinygrad's ``numpy()`` widens ``bfloat16`` to float32 itself (a cast,
    exact), so those come as float32."""
    from tinygrad import dtypes

    if tensor.dtype != getattr(dtypes, dtype):
        raise ContractError("dtype", f"{name}, asked for {dtype}, returned {tensor.dtype}")
    if values.shape != shape:
        raise ContractError("shape", f"{name} returned shape {values.shape} for {shape}")
    return values


def _layer_target(tinygrad: Any, name: str, make: Callable[[tuple[int, ...]], Any],
                  expression: str) -> Callable[[], Target]:
    """The tensor ``make(shape)`` reads off a freshly built layer; ``expression`` is the
    same construction as text, in terms of ``shape``."""
    sample = _seeded_draw(tinygrad, name, make)
    return lambda: Target(name, LIBRARY, sample, layout="oihw",
                          reproduce=_reproduce(expression))


# --- shapes ---------------------------------------------------------------------------


@st.composite
def oihw_shapes(draw: st.DrawFn, min_dims: int = 2, max_dims: int = 5, *,
                first_multiple: int = 1, second_multiple: int = 1,
                min_numel: int = MIN_NUMEL, max_numel: int = MAX_NUMEL,
                max_kernel: int = 5) -> tuple[int, ...]:
    """``(a, b, *kernel)`` with ``a`` a multiple of ``first_multiple`` (a layer's groups or
    gates), ``b`` of ``second_multiple``, and at least ``min_numel`` entries: ``b`` grows
    until the tensor is large enough (calls cost 20 ms each, whatever the size)."""
    shape = list(draw(weight_shapes(layout="oihw", min_dims=min_dims, max_dims=max_dims,
                                    max_kernel=max_kernel, max_numel=max_numel // 4)))
    shape[0] = max(first_multiple, shape[0] - shape[0] % first_multiple)
    shape[1] = max(second_multiple, shape[1] - shape[1] % second_multiple)
    grow = math.ceil(min_numel / math.prod(shape))
    if grow > 1:
        shape[1] *= grow
    return tuple(shape)


def _any_shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return weight_shapes(layout="oihw", max_numel=2**16)


def _matrix_shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return weight_shapes(layout="oihw", min_dims=2, max_dims=2, max_channels=256)


# --- entries --------------------------------------------------------------------------


def _function_entries(tinygrad: Any) -> list[Entry]:
    def entry(method: str, claim: Claim, documented: str, *, label: str | None = None,
              stacked: bool = False, call: str = "spread", convention: str = "",
              shapes: Callable[[], st.SearchStrategy] | None = None,
              **kwargs: Any) -> Entry:
        arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
        name = f"{LIBRARY}:{label or 'Tensor.' + method}" + (f"({arguments})" if kwargs else "")
        shaped = stacked or isinstance(claim, Exact)
        build = _function_target(tinygrad, name, method, kwargs, stacked, call)
        return Entry(
            name=name, library=LIBRARY, build=build,
            claim=claim,
            documented=f"{documented} ({CREATION_DOCS}{method}; {RAND_SOURCE})",
            kind="function", convention=convention,
            shapes=shapes or (_any_shapes if shaped else lambda: oihw_shapes()),
            max_calls=20_000 if shaped else MAX_CALLS,
            dtypes=claim_dtypes(claim, FLOAT_DTYPES), build_dtype=build)

    kaiming_gain = math.sqrt(2 / (1 + KAIMING_DEFAULT_SLOPE**2))
    kaiming_convention = (
        f"tinygrad's default a={KAIMING_DEFAULT_SLOPE} (the signature), PyTorch's a=0: the "
        f"gain sqrt(2 / (1 + a^2)) = {kaiming_gain:.6f} instead of sqrt(2), a variance "
        "0.01 % below He et al.'s, far below what a check resolves. Fans read from the "
        "shape as prod(shape[1:]), the textbook fan_in of an (out, in, *kernel) tensor")
    numel_law = ShapeLaw(
        lambda shape: stats.uniform(-math.prod(shape) ** -0.5, 2 * math.prod(shape) ** -0.5),
        "U(-1/sqrt(numel), 1/sqrt(numel))")
    return [
        entry("rand", uniform(0.0, 1.0), "'filled with random values from a uniform "
              "distribution over the interval [0, 1)'", stacked=True),
        entry("uniform", uniform(0.0, 1.0), "'filled with random values from a uniform "
              "distribution over the interval [low, high)'; defaults low=0.0, high=1.0",
              stacked=True),
        entry("uniform", uniform(-2.0, 0.5), "'filled with random values from a uniform "
              "distribution over the interval [low, high)'", stacked=True, low=-2.0, high=0.5),
        entry("randn", normal(1.0), "'filled with random values from a normal distribution "
              "with mean 0 and standard deviation 1'", stacked=True),
        entry("normal", normal(1.0), "'filled with random values from a normal distribution "
              "with the given mean and standard deviation std'; defaults mean=0.0, std=1.0",
              stacked=True),
        entry("normal", normal(0.5, mean=1.0), "'filled with random values from a normal "
              "distribution with the given mean and standard deviation std'", stacked=True,
              mean=1.0, std=0.5),
        entry("scaled_uniform", numel_law, "'filled with random values from a uniform "
              "distribution over the interval [-prod(shape)**-0.5, prod(shape)**-0.5)'"),
        entry("glorot_uniform", InitSpec("glorot", "uniform", layout="oihw"),
              "the docstring links https://www.tensorflow.org/api_docs/python/tf/keras/"
              "initializers/GlorotUniform: 'Draws samples from a uniform distribution "
              "within [-limit, limit], where limit = sqrt(6 / (fan_in + fan_out)) (fan_in is "
              "the number of input units in the weight tensor and fan_out is the number of "
              "output units)'",
              convention="tinygrad's source takes limit = sqrt(6 / (shape[0] + "
              "prod(shape[1:]))): fan_out + fan_in for an (out, in) matrix, but out + in * k "
              "for an (out, in, *kernel) tensor, whose textbook fans sum to (out + in) * k: "
              "the receptive field k is left off the fan_out (not stated in the docs)"),
        entry("kaiming_uniform", InitSpec("he", "uniform", layout="oihw", gain=kaiming_gain),
              "the docstring links PyTorch's kaiming_uniform_ source (https://pytorch.org/"
              "docs/stable/_modules/torch/nn/init.html#kaiming_uniform_): U(-bound, bound), "
              "bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) (leaky_relu); "
              f"default a={KAIMING_DEFAULT_SLOPE}",
              convention=kaiming_convention),
        entry("kaiming_uniform", InitSpec("lecun", "uniform", layout="oihw",
                                          gain=1 / math.sqrt(3)),
              "the linked kaiming_uniform_: with a=sqrt(5) the gain is sqrt(2 / 6), so "
              "U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's nn.Linear default",
              a=math.sqrt(5)),
        entry("kaiming_normal", InitSpec("he", "normal", layout="oihw", gain=kaiming_gain),
              "the docstring links PyTorch's kaiming_normal_ source (https://pytorch.org/docs/"
              "stable/_modules/torch/nn/init.html#kaiming_normal_): N(0, std^2), std = gain "
              "/ sqrt(fan_in), gain = sqrt(2 / (1 + a^2)) (leaky_relu); default "
              f"a={KAIMING_DEFAULT_SLOPE}",
              convention=kaiming_convention),
        entry("zeros", constant(0.0), "'Creates a tensor with the given shape, filled with "
              "zeros'"),
        entry("ones", constant(1.0), "'Creates a tensor with the given shape, filled with "
              "ones'"),
        entry("full", constant(FULL_VALUE), "'Creates a tensor with the given shape, filled "
              "with the given value'", call="tuple", fill_value=FULL_VALUE),
        entry("eye", Exact(lambda shape: np.eye(*shape), "identity"),
              "'Returns a 2-D tensor with n rows and m columns, with ones on the diagonal "
              "and zeros elsewhere'", shapes=_matrix_shapes),
    ]


def _torch_conv_default(groups: int = 1) -> InitSpec:
    """PyTorch's documented ``ConvNd``/``Linear`` default: ``U(-sqrt(k), sqrt(k))``,
    ``k = groups / (C_in * prod(kernel))``: Var = 1 / (3 fan_in)."""
    return InitSpec("lecun", "uniform", layout="oihw", gain=1 / math.sqrt(3), groups=groups)


def _torch_transposed_default(groups: int = 1) -> InitSpec:
    """PyTorch's documented ``ConvTransposeNd`` default: ``k = groups / (C_out *
    prod(kernel))``: Var = 1 / (3 fan_out) with the textbook fan_out ``C_out / groups * k``
    of the transposed map."""
    return InitSpec("lecun", "uniform", layout="oihw", mode="fan_out", gain=1 / math.sqrt(3),
                    groups=groups, transposed=True)


def _layer_entries(tinygrad: Any) -> list[Entry]:
    nn = tinygrad.nn

    def entry(label: str, page: str, make: Callable[[tuple[int, ...]], Any],
              expression: str, claim: Claim, documented: str, shapes,
              convention: str = "", torch_page: str | None = None) -> Entry:
        name = f"{LIBRARY}:{label}"
        linked = (f"{TORCH_LINK} ({TORCH_DOCS.format(torch_page)}), which documents "
                  if torch_page else "")
        return Entry(
            name=name, library=LIBRARY,
            build=_layer_target(tinygrad, name, make, expression),
            claim=claim,
            documented=f"{linked}{documented} ({NN_DOCS}{page}; {NN_SOURCE})",
            kind="layer", shapes=shapes, convention=convention, max_calls=MAX_CALLS)

    def kernel(shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(shape[2:])

    conv_doc = "U(-sqrt(k), sqrt(k)), k = groups / (C_in * prod(kernel_size))"
    conv_source = ("tinygrad's source: scale = 1 / sqrt(in_channels * prod(kernel_size)), "
                   "weight = Tensor.uniform(out_channels, in_channels // groups, *kernel_size, "
                   "low=-scale, high=scale)")
    grouped_convention = (conv_source + ": the groups are left out of k, so a grouped "
                          "convolution draws 1/groups of the documented variance")
    transposed_doc = "U(-sqrt(k), sqrt(k)), k = groups / (C_out * prod(kernel_size))"
    transposed_convention = (
        "tinygrad's source: scale = 1 / sqrt(in_channels * prod(kernel_size)), weight = "
        "Tensor.uniform(in_channels, out_channels // groups, *kernel_size, ...): k from "
        "C_in (the textbook fan-in of the transposed map when groups=1) where PyTorch's page "
        "documents C_out / groups; the two agree only when in_channels = out_channels / "
        "groups")
    return [
        entry("nn.Linear", "Linear", lambda s: nn.Linear(s[1], s[0], bias=False).weight,
              "nn.Linear(shape[1], shape[0], bias=False).weight", _torch_conv_default(),
              "U(-sqrt(k), sqrt(k)), k = 1 / in_features; tinygrad's source: bound = 1 / "
              "sqrt(in_features), weight = Tensor.uniform(out_features, in_features, "
              "low=-bound, high=bound), the law of PyTorch's kaiming_uniform_(a=sqrt(5))",
              lambda: oihw_shapes(2, 2), torch_page="Linear"),
        entry("nn.Conv1d", "Conv1d", lambda s: nn.Conv1d(s[1], s[0], s[2], bias=False).weight,
              "nn.Conv1d(shape[1], shape[0], shape[2], bias=False).weight",
              _torch_conv_default(), conv_doc + "; tinygrad's Conv1d returns a Conv2d with "
              "kernel_size (kernel_size,)", lambda: oihw_shapes(3, 3), torch_page="Conv1d"),
        entry("nn.Conv2d", "Conv2d",
              lambda s: nn.Conv2d(s[1], s[0], kernel(s), bias=False).weight,
              "nn.Conv2d(shape[1], shape[0], tuple(shape[2:]), bias=False).weight",
              _torch_conv_default(), conv_doc, lambda: oihw_shapes(4, 4),
              torch_page="Conv2d"),
        entry("nn.Conv2d(groups=2)", "Conv2d",
              lambda s: nn.Conv2d(2 * s[1], s[0], kernel(s), groups=2, bias=False).weight,
              "nn.Conv2d(2 * shape[1], shape[0], tuple(shape[2:]), groups=2, "
              "bias=False).weight",
              _torch_conv_default(groups=2), conv_doc, lambda: oihw_shapes(
                  4, 4, first_multiple=2), convention=grouped_convention,
              torch_page="Conv2d"),
        entry("nn.Conv2d(kernel_size=(kd, kh, kw))", "Conv2d",
              lambda s: nn.Conv2d(s[1], s[0], kernel(s), bias=False).weight,
              "nn.Conv2d(shape[1], shape[0], tuple(shape[2:]), bias=False).weight",
              _torch_conv_default(), conv_doc + " (PyTorch's Conv3d page documents the same "
              "k); tinygrad's Conv2d takes a kernel_size of any length and convolves that "
              "many spatial axes", lambda: oihw_shapes(5, 5, max_kernel=3),
              torch_page="Conv3d"),
        entry("nn.ConvTranspose1d", "ConvTranspose1d",
              lambda s: nn.ConvTranspose1d(s[0], s[1], s[2], bias=False).weight,
              "nn.ConvTranspose1d(shape[0], shape[1], shape[2], bias=False).weight",
              _torch_transposed_default(), transposed_doc + "; weight (in_channels, "
              "out_channels / groups, kernel_size)", lambda: oihw_shapes(3, 3),
              convention=transposed_convention, torch_page="ConvTranspose1d"),
        entry("nn.ConvTranspose2d", "ConvTranspose2d",
              lambda s: nn.ConvTranspose2d(s[0], s[1], kernel(s), bias=False).weight,
              "nn.ConvTranspose2d(shape[0], shape[1], tuple(shape[2:]), bias=False).weight",
              _torch_transposed_default(), transposed_doc + "; weight (in_channels, "
              "out_channels / groups, *kernel_size)", lambda: oihw_shapes(4, 4),
              convention=transposed_convention, torch_page="ConvTranspose2d"),
        entry("nn.ConvTranspose2d(groups=2)", "ConvTranspose2d",
              lambda s: nn.ConvTranspose2d(s[0], 2 * s[1], kernel(s), groups=2,
                                           bias=False).weight,
              "nn.ConvTranspose2d(shape[0], 2 * shape[1], tuple(shape[2:]), groups=2, "
              "bias=False).weight",
              _torch_transposed_default(groups=2), transposed_doc,
              lambda: oihw_shapes(4, 4, first_multiple=2),
              convention=transposed_convention, torch_page="ConvTranspose2d"),
        entry("nn.Embedding", "Embedding", lambda s: nn.Embedding(s[0], s[1]).weight,
              "nn.Embedding(shape[0], shape[1]).weight", normal(1.0),
              "'initialized from N(0, 1)'; weight (num_embeddings, embedding_dim)",
              lambda: oihw_shapes(2, 2),
              convention="tinygrad's source: weight = Tensor.glorot_uniform(vocab_size, "
              "embed_size), U(-a, a) with a = sqrt(6 / (vocab_size + embed_size)), a "
              "variance of 2 / (vocab_size + embed_size) where PyTorch's N(0, 1) has 1",
              torch_page="Embedding"),
        entry("nn.LSTMCell.weight_ih", "LSTMCell",
              lambda s: nn.LSTMCell(s[1], s[0] // 4, bias=False).weight_ih,
              "nn.LSTMCell(shape[1], shape[0] // 4, bias=False).weight_ih",
              _hidden_law(), "the docstring states no initialization; the source: "
              "stdv = 1 / sqrt(hidden_size), weight_ih = Tensor.uniform(hidden_size * 4, "
              "input_size, low=-stdv, high=stdv) (the gates i, f, g, o stacked on axis 0)",
              lambda: oihw_shapes(2, 2, first_multiple=4)),
        entry("nn.LSTMCell.weight_hh", "LSTMCell",
              lambda s: nn.LSTMCell(s[1], s[1], bias=False).weight_hh,
              "nn.LSTMCell(shape[1], shape[1], bias=False).weight_hh",
              _hidden_law(), "the docstring states no initialization; the source: "
              "weight_hh = Tensor.uniform(hidden_size * 4, hidden_size, low=-stdv, "
              "high=stdv), stdv = 1 / sqrt(hidden_size)",
              lambda: _gate_shapes()),
    ]


def _hidden_law() -> ShapeLaw:
    """``U(-1/sqrt(hidden), 1/sqrt(hidden))`` for a ``(4 * hidden, n)`` LSTM weight."""

    def law_of(shape: tuple[int, ...]) -> stats.rv_continuous:
        bound = (shape[0] / 4) ** -0.5
        return stats.uniform(-bound, 2 * bound)

    return ShapeLaw(law_of, "U(-1/sqrt(hidden), 1/sqrt(hidden)), hidden = shape[0] / 4")


def _gate_shapes() -> st.SearchStrategy[tuple[int, int]]:
    """``(4 * hidden, hidden)``: a hidden-to-hidden LSTM weight of at least
    :data:`MIN_NUMEL` entries (hidden >= 46) and at most :data:`MAX_NUMEL`."""
    smallest = math.isqrt(MIN_NUMEL // 4) + 1
    return st.integers(smallest, math.isqrt(MAX_NUMEL // 4)).map(lambda h: (4 * h, h))
