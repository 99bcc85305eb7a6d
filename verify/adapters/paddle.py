"""PaddlePaddle: every public initializer of ``paddle.nn.initializer`` and the default
weight initialization of the ``paddle.nn`` dense, convolution, embedding and recurrent
layers.

Layout ``paddle`` (:mod:`verify.fans`): ``nn.Linear`` stores its weight ``(in, out)``,
``nn.ConvNd`` ``(out, in / groups, *kernel)`` and ``nn.ConvNdTranspose`` ``(in, out /
groups, *kernel)``; Paddle's one fan helper, ``Initializer._compute_fans``
(``paddle/nn/initializer/initializer.py``, lines 115-152 in 3.3.1), reads a 2-D shape as
``fan_in = shape[0]``, ``fan_out = shape[1]`` and any larger one as ``fan_in = shape[1] *
prod(shape[2:])``, ``fan_out = shape[0] * prod(shape[2:])``, whatever the layer. The claims
below are in the textbook's fans; where Paddle's differ (grouped and transposed
convolutions), the ``convention`` says so and the check measures it.

Every draw seeds Paddle's global CPU generator with ``paddle.seed(seed32(seed))`` (6 us a
call): an initializer built without a seed (all the public ones) draws from it, since its
``_seed`` is the program's ``random_seed``, 0 in dynamic mode. An initializer is applied
to a fresh ``paddle.nn.Parameter(shape, "float32")``, as a layer applies it to the
parameter it creates (``paddle.create_parameter`` would also do, but records every
parameter name it makes in a set that only grows).

Dtypes: an initializer fills a parameter created in the dtype asked for
(``paddle.nn.Parameter(shape, dtype)``), for every dtype its claim takes; the parameter
must still have that dtype after it (``Bilinear`` replaces it with a float32 one), and
``bfloat16``, which Paddle's ``numpy()`` hands over as raw ``uint16`` bits, is widened to
float32 exactly. The layers take no dtype (only the global ``paddle.set_default_dtype``):
float32 only.

Importing this module, and :func:`entries`, do not import Paddle: the entries are built
from static tables, and Paddle is imported by ``Entry.build()`` only, through
:func:`import_paddle` (which the layer registry, ``--api paddle`` and the audit's builders use
too). Importing TensorFlow and then Paddle in one process crashes (a segmentation fault with
tensorflow 2.21 and paddlepaddle 3.3.1; Paddle first, then TensorFlow, works), so
:func:`import_paddle` refuses, with the reason, in a process that has TensorFlow and not yet
Paddle, and whoever runs TensorFlow entries too can run Paddle's in a child process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.adapters import ContractError, LibraryMissing, Target, refused, require, seed32
from verify.catalog import Entry
from verify.fans import Layout
from verify.laws import Claim, Exact, Orthogonal, constant, normal, truncated_normal, uniform
from verify.precision import claim_dtypes
from verify.schemes import InitSpec, leaky_relu_gain
from verify.strategies import weight_shapes

LIBRARY = "paddle"
DOCS = "https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/nn/{}_en.html"
INITIALIZER_DOCS = DOCS.format("initializer/{}")
SOURCE = "paddle/nn/"

LAYER_MAX_CALLS = 2000  # building a layer costs 0.2 to 0.3 ms a call
MIN_LAYER_NUMEL = 64
"""Layer shapes have at least this many entries: each call builds a layer."""

EXACT_IN_WIDE = ("float32", "float64")
"""The dtypes of ``Bilinear`` and ``Assign``: their documented values (kernel weights such as
0.2, the integers up to 2^20 of the ``Assign`` entry) are not values of float16 or
bfloat16, so a 16-bit parameter cannot hold them, whatever Paddle does."""

ASSIGN_NOTE = "the values 0, 1, ..., n - 1 (row-major), reshaped to the parameter's shape"

SKIPPED: dict[str, str] = {
    "paddle:set_global_initializer": (
        "not an initializer: it sets the initializers that create_parameter uses when a "
        "layer passes none; the layers' defaults are the layer entries"),
    "paddle:calculate_gain": (
        "not an initializer: it returns the gain of a nonlinearity; its values are checked "
        "through KaimingNormal/KaimingUniform(nonlinearity=...), which call it"),
}
"""Public names of ``paddle.nn.initializer`` (its ``__all__``) without an entry, and why.
The ``*Initializer`` classes outside ``__all__`` (``MSRAInitializer``, ...) are the bases
of the public classes covered here."""

FANS_CONVENTION = (
    "Paddle reads fans from the stored shape in one helper, Initializer._compute_fans "
    "(paddle/nn/initializer/initializer.py:115-152): 2-D 'fan_in = shape[0]; fan_out = "
    "shape[1]' (Linear stores (in, out)), otherwise 'fan_in = shape[1] * "
    "receptive_field_size; fan_out = shape[0] * receptive_field_size' ('[num_filters, "
    "num_filter_channels, ...]'). For a grouped convolution (out, in / groups, *k) its "
    "fan_out is out * k, not the textbook's (out / groups) * k; for a transposed one, stored "
    "(in, out / groups, *k), its fan_in is (out / groups) * k and its fan_out in * k: the "
    "textbook's two fans swapped, and in * k where the textbook has (in / groups) * k"
)
CONV_CONVENTION = (
    "The default is not one of the initializers: _ConvNd.__init__ "
    "(paddle/nn/layer/conv.py:182-187) passes Normal(0.0, std), std = (2.0 / "
    "filter_elem_num) ** 0.5 with 'filter_elem_num = np.prod(self._kernel_size) * "
    "self._in_channels': all in_channels, not in_channels / groups. The documentation "
    "leaves filter_elem_num undefined; for groups > 1 the std is sqrt(groups) smaller than "
    "He's with the filter's own element count (in_channels / groups) * prod(kernel)"
)
TRANSPOSED_CONVENTION = (
    "_ConvNd.__init__ passes no default initializer for a transposed convolution "
    "(paddle/nn/layer/conv.py:182-184), so create_parameter's default applies: "
    "ParamAttr._set_default_param_initializer sets XavierUniform() "
    "(paddle/base/param_attr.py:153-163), with the fans of "
    f"Initializer._compute_fans. {FANS_CONVENTION}"
)
LINEAR_DOC = (
    "weight_attr: 'If the Initializer of the param_attr is not set, the parameter is "
    "initialized with Xavier'; the weight is 'a 2-D tensor of shape [in_features, "
    "out_features]'. Which Xavier: ParamAttr._set_default_param_initializer sets "
    "XavierUniform() (paddle/base/param_attr.py:153-163)"
)
RECURRENT_DOC = (
    "'All the weights and bias are initialized with Uniform(-std, std) by default. Where std "
    "= 1 / sqrt(hidden_size)' (the {cls} page; paddle/nn/layer/rnn.py, {cls}.__init__); "
    "weight_ih is stored ({gates}hidden_size, input_size)"
)


TENSORFLOW_FIRST = (
    "paddle cannot be imported into this process, which has imported tensorflow: that import "
    "crashes the process (a segmentation fault; importing paddle first, then tensorflow, "
    "works). Run the paddle entries in a process of their own"
)


def import_paddle() -> Any:
    """Paddle, imported on first use (never at module import: see the docstring);
    :class:`~verify.adapters.LibraryMissing` with :data:`TENSORFLOW_FIRST` where importing it
    would crash the process."""
    if "paddle" not in sys.modules and "tensorflow" in sys.modules:
        raise LibraryMissing(TENSORFLOW_FIRST)
    return require("paddle")


def _version() -> str:
    try:
        return importlib.metadata.version("paddlepaddle")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _checked(array: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``array`` after checking the shape and the float32 dtype asked for."""
    if array.shape != tuple(shape):
        raise ContractError("shape", f"{name} returned shape {array.shape} for {tuple(shape)}")
    if array.dtype != np.float32:
        raise ContractError("dtype", f"{name} returned {array.dtype} for a float32 parameter")
    return array


def apply_initializer(initializer: Any, shape: tuple[int, ...],
                      dtype: str = "float32") -> np.ndarray:
    """``initializer`` applied to a fresh ``paddle.nn.Parameter`` of ``shape`` and ``dtype``,
    as NumPy (the caller seeds first): :func:`parameter_values`."""
    paddle = import_paddle()
    parameter = paddle.nn.Parameter([int(d) for d in shape], dtype)
    initializer(parameter)
    return parameter_values(parameter, dtype, "the initializer")


def parameter_values(tensor: Any, dtype: str, what: str) -> np.ndarray:
    """The values of a Paddle tensor asked to be ``dtype``: :class:`ContractError` if it is
    another dtype; ``bfloat16``, which Paddle's ``numpy()`` hands over as its raw 16 bits
    (``uint16``), widened to float32 exactly (the upper half of a float32)."""
    found = str(tensor.dtype).removeprefix("paddle.")
    if found != dtype:
        raise ContractError("dtype", f"{what}, asked for a {dtype} parameter, left it {found}")
    values = tensor.numpy()
    if dtype == "bfloat16" and values.dtype == np.uint16:
        values = (values.astype(np.uint32) << 16).view(np.float32)
    return values


BFLOAT16_BITS = "w = (w.astype(np.uint32) << 16).view(np.float32)\n"
"""What a ``reproduce`` snippet appends for ``bfloat16``: :func:`parameter_values`'s
widening of Paddle's raw bits."""


# --- deterministic laws, from the documentation --------------------------------------------


def assign_values(shape: tuple[int, ...]) -> np.ndarray:
    """What the ``Assign`` entry assigns: :data:`ASSIGN_NOTE`."""
    return np.arange(math.prod(shape), dtype=np.float64).reshape(shape)


def dirac_tensor(shape: tuple[int, ...], groups: int = 1) -> np.ndarray:
    """``X[d, d, shape[2] // 2, shape[3] // 2, ...] = 1`` for ``d < min(out, in)``, per group of
    ``shape[0] / groups`` output channels (the ``Dirac`` documentation), else 0."""
    tensor = np.zeros(shape, dtype=np.float64)
    per_group = shape[0] // groups
    centre = tuple(k // 2 for k in shape[2:])
    for group in range(groups):
        for d in range(min(per_group, shape[1])):
            tensor[(group * per_group + d, d, *centre)] = 1.0
    return tensor


def bilinear_kernel(shape: tuple[int, ...]) -> np.ndarray:
    """The bilinear-interpolation kernel of a ``(C_out, C_in, K, K)`` transposed-convolution
    weight, the same ``K x K`` kernel in every channel pair: ``w[y, x] = (1 - |x / f - c|)
    (1 - |y / f - c|)`` with ``f = ceil(K / 2)``, ``c = (2f - 1 - f mod 2) / (2f)`` for whole
    pixel indices ``x, y`` (Long, Shelhamer & Darrell 2015's upsampling filter; Caffe's
    ``BilinearFiller``, whose formula ``paddle/nn/initializer/bilinear.py`` transcribes)."""
    size = shape[-1]
    factor = math.ceil(size / 2)
    centre = (2 * factor - 1 - factor % 2) / (2 * factor)
    profile = 1 - np.abs(np.arange(size) / factor - centre)
    return np.broadcast_to(np.outer(profile, profile), shape).astype(np.float64)


# --- shapes ----------------------------------------------------------------------------------


def _function_shapes(min_dims: int = 2, max_dims: int = 5, max_numel: int = 2**20):
    return lambda: weight_shapes(layout="paddle", min_dims=min_dims, max_dims=max_dims,
                                 max_numel=max_numel)


def _square_kernel_shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """``(C_out, C_in, K, K)``, as ``Bilinear`` requires (at most 1024 * 1024 entries)."""
    return st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 9)).map(
        lambda s: (s[0], s[1], s[2], s[2]))


def _even_first(shapes: Callable[[], st.SearchStrategy]) -> Callable[[], st.SearchStrategy]:
    """Shapes whose axis 0 splits into two groups."""
    return lambda: shapes().map(lambda shape: (shape[0] + shape[0] % 2, *shape[1:]))


def _layer_shapes(ndim: int, *, multiple: int = 1, max_channels: int = 256,
                  max_kernel: int = 5, max_numel: int = 2**16) -> Callable[[], st.SearchStrategy]:
    """Layer weights in the ``paddle`` layout with at least :data:`MIN_LAYER_NUMEL`
    entries; axis 0 a multiple of ``multiple`` (two groups, stacked gates)."""

    def grow(shape: tuple[int, ...]) -> tuple[int, ...]:
        first = max(multiple, shape[0] - shape[0] % multiple)
        first *= math.ceil(MIN_LAYER_NUMEL / math.prod((first, *shape[1:])))
        return (first, *shape[1:])

    return lambda: weight_shapes(layout="paddle", min_dims=ndim, max_dims=ndim,
                                 max_channels=max_channels, max_kernel=max_kernel,
                                 max_numel=max_numel).map(grow)


# --- entries ---------------------------------------------------------------------------------


def _call_text(cls: str, kwargs: dict[str, Any]) -> str:
    return f"{cls}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _initializer(cls: str, claim: Claim, documented: str, *, source: str,
                 shapes: Callable[[], st.SearchStrategy] | None = None, stacked: bool = False,
                 convention: str = "", values: Callable[[tuple[int, ...]], Any] | None = None,
                 label: str = "", dtypes: tuple[str, ...] = (), **kwargs: Any) -> Entry:
    """``paddle.nn.initializer.<cls>(**kwargs)`` as an entry, applied to a parameter of each
    dtype of ``dtypes`` (default: those its claim takes). ``values``: an argument made from
    the shape (``Assign``'s value). ``stacked``: a flat fill, whose law does not depend on
    the shape."""
    call = _call_text(cls, kwargs)
    name = f"{LIBRARY}:{label or (call if kwargs else cls)}"

    def build(dtype: str = "float32") -> Target:
        paddle = import_paddle()
        make = getattr(paddle.nn.initializer, cls)
        what = f"paddle.nn.initializer.{call}"

        def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
            shape = tuple(int(d) for d in shape)
            arguments = dict(kwargs, value=values(shape)) if values else kwargs
            paddle.seed(seed32(seed))
            try:
                drawn = apply_initializer(make(**arguments), shape, dtype)
            except ContractError:
                raise
            except Exception as error:
                raise refused(dtype, what, error) from None
            if drawn.shape != shape:
                raise ContractError("shape", f"{name} returned shape {drawn.shape} for {shape}")
            return drawn

        def stacked_draw(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
            return sample((int(count), *shape), seed)

        made = (f"paddle.nn.initializer.{cls}(value=np.arange(np.prod(shape), "
                "dtype='float32').reshape(shape))" if values
                else f"paddle.nn.initializer.{call}")
        reproduce = ("import paddle\n"
                     "shape = {shape}\n"
                     "paddle.seed(seed32({seed}))\n"
                     f"parameter = paddle.nn.Parameter(list(shape), {dtype!r})\n"
                     f"{made}(parameter)\n"
                     "w = parameter.numpy()\n"
                     + (BFLOAT16_BITS if dtype == "bfloat16" else ""))
        return Target(name if dtype == "float32" else f"{name} [{dtype}]", LIBRARY, sample,
                      layout="paddle", reproduce=reproduce,
                      stacked=stacked_draw if stacked else None, dtype=dtype)

    return Entry(name, LIBRARY, build, claim,
                 f"paddle.nn.initializer.{cls}: {documented} ({INITIALIZER_DOCS.format(cls)} ; "
                 f"{SOURCE}initializer/{source}; Paddle {_version()})",
                 kind="function", shapes=shapes or _function_shapes(), convention=convention,
                 dtypes=dtypes or claim_dtypes(claim), build_dtype=build)


def _layer(label: str, cls: str, claim: Claim, documented: str, *, arguments: str,
           tensor: str = "weight", shapes: Callable[[], st.SearchStrategy],
           convention: str = "", layout: Layout = "paddle") -> Entry:
    """The default ``tensor`` of ``paddle.nn.<cls>(<arguments>)``, the arguments written in
    terms of ``shape`` (the stored shape of that tensor, in ``layout``: a recurrent cell's
    ``(gates * hidden, input)`` is ``oihw``)."""
    name = f"{LIBRARY}:{label}"
    expression = f"paddle.nn.{cls}({arguments})"

    def build() -> Target:
        paddle = import_paddle()
        # the constructor as it is quoted in reproduce: one text, so the two agree
        make = eval(f"lambda shape: {expression}", {"paddle": paddle})

        def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
            shape = tuple(int(d) for d in shape)
            paddle.seed(seed32(seed))
            return _checked(getattr(make(shape), tensor).numpy(), shape, name)

        reproduce = ("import paddle\n"
                     "shape = {shape}\n"
                     "paddle.seed(seed32({seed}))\n"
                     f"w = {expression}.{tensor}.numpy()\n")
        return Target(name, LIBRARY, sample, layout=layout, reproduce=reproduce)

    return Entry(name, LIBRARY, build, claim,
                 f"paddle.nn.{cls}: {documented} ({DOCS.format(cls)} ; Paddle {_version()})",
                 kind="layer", shapes=shapes, convention=convention,
                 max_calls=LAYER_MAX_CALLS)


def entries() -> list[Entry]:
    """Every public initializer of ``paddle.nn.initializer`` (but :data:`SKIPPED`) and the
    default weights of ``paddle.nn``'s dense, convolution, embedding and recurrent layers.
    Raises :class:`~verify.adapters.LibraryMissing` when Paddle is not installed; does not
    import it."""
    if importlib.util.find_spec("paddle") is None:
        raise LibraryMissing("paddle is not installed; install it with pip install -c "
                             "constraints.txt -e \".[paddle]\"")
    return _initializer_entries() + _layer_entries()


def _initializer_entries() -> list[Entry]:
    xavier_uniform = ("'x = gain * sqrt(6.0 / (fan_in + fan_out))', range [-x, x]; fan_in, "
                      "fan_out 'inferred from the Tensor' when None; gain default 1.0")
    xavier_normal = ("'a normal distribution whose mean is 0 and standard deviation is gain * "
                     "sqrt(2.0 / (fan_in + fan_out))'; fans 'inferred from the Tensor' when "
                     "None; gain default 1.0")
    kaiming_normal = ("'the mean is 0 and the standard deviation is gain / sqrt(fan_in)'; "
                      "nonlinearity default 'relu' (calculate_gain: 'relu': math.sqrt(2.0)), "
                      "negative_slope default 0.0, mode default 'fan_in' ('fan_out': 'the "
                      "out_features of trainable Tensor will be used')")
    kaiming_uniform = ("'the range is [-x, x], where x = gain * sqrt(3 / fan_in)'; "
                       "nonlinearity default 'relu' (gain sqrt(2)), negative_slope default "
                       "0.0, mode default 'fan_in'")
    leaky = leaky_relu_gain(0.2)
    orthogonal_shapes = _function_shapes(max_numel=2**14)
    return [
        # -- fixed laws ----------------------------------------------------------------------
        _initializer("Normal", normal(1.0),
                     "'The Random Normal (Gaussian) distribution initializer', mean default "
                     "0.0, std default 1.0", source="normal.py", stacked=True),
        _initializer("Normal", normal(0.5, mean=1.0),
                     "'The Random Normal (Gaussian) distribution initializer', mean and std "
                     "of the normal distribution", source="normal.py", stacked=True,
                     mean=1.0, std=0.5),
        _initializer("TruncatedNormal", truncated_normal(1.0, -2.0, 2.0),
                     "'The truncated normal distribution (Gaussian distribution) "
                     "initializer': mean default 0.0, std default 1.0 ('Standard deviation of "
                     "the normal distribution'), a 'The minimum cutoff value. Default is "
                     "-2.0', b 'The maximum cutoff value. Default is 2.0'",
                     source="normal.py", stacked=True),
        _initializer("TruncatedNormal", truncated_normal(0.5, 0.0, 2.0, mean=1.0),
                     "cutoffs a and b are values ('The minimum cutoff value'), not multiples "
                     "of std; 'It is better to set a <= mean <= b'",
                     source="normal.py", stacked=True, mean=1.0, std=0.5, a=0.0, b=2.0),
        _initializer("Uniform", uniform(-1.0, 1.0),
                     "'The uniform distribution initializer', low default -1.0, high default "
                     "1.0", source="uniform.py", stacked=True),
        _initializer("Uniform", uniform(-0.5, 0.25),
                     "'Lower boundary' low and 'Upper boundary' high of the uniform "
                     "distribution", source="uniform.py", stacked=True, low=-0.5, high=0.25),
        # -- variance scaling ----------------------------------------------------------------
        _initializer("XavierUniform", InitSpec("glorot", "uniform", layout="paddle"),
                     xavier_uniform, source="xavier.py", convention=FANS_CONVENTION),
        _initializer("XavierUniform",
                     InitSpec("glorot", "uniform", layout="paddle", gain=0.5),
                     xavier_uniform, source="xavier.py", convention=FANS_CONVENTION,
                     gain=0.5),
        _initializer("XavierNormal", InitSpec("glorot", "normal", layout="paddle"),
                     xavier_normal, source="xavier.py", convention=FANS_CONVENTION),
        _initializer("XavierNormal", normal(math.sqrt(2.0 / (10 + 30))),
                     "with fan_in=10, fan_out=30 given ('fan_in for Xavier initialization'), "
                     "std = sqrt(2.0 / (10 + 30)) at every shape",
                     source="xavier.py", stacked=True, fan_in=10.0, fan_out=30.0),
        _initializer("KaimingNormal", InitSpec("he", "normal", layout="paddle"),
                     kaiming_normal, source="kaiming.py", convention=FANS_CONVENTION),
        _initializer("KaimingNormal",
                     InitSpec("he", "normal", layout="paddle", mode="fan_out"),
                     kaiming_normal, source="kaiming.py", convention=FANS_CONVENTION,
                     mode="fan_out"),
        _initializer("KaimingNormal",
                     InitSpec("he", "normal", layout="paddle", gain=5.0 / 3.0),
                     kaiming_normal + "; calculate_gain: 'tanh': 5.0 / 3",
                     source="kaiming.py", convention=FANS_CONVENTION, nonlinearity="tanh"),
        _initializer("KaimingNormal", normal(math.sqrt(2.0) / math.sqrt(100.0)),
                     "with fan_in=100 given ('fan_in (in_features) of trainable Tensor'): std "
                     "= sqrt(2) / sqrt(100) at every shape",
                     source="kaiming.py", stacked=True, fan_in=100.0),
        _initializer("KaimingUniform", InitSpec("he", "uniform", layout="paddle"),
                     kaiming_uniform, source="kaiming.py", convention=FANS_CONVENTION),
        _initializer("KaimingUniform",
                     InitSpec("he", "uniform", layout="paddle", gain=leaky),
                     kaiming_uniform + "; calculate_gain: 'leaky_relu': math.sqrt(2.0 / (1 + "
                     "param**2)), param = negative_slope = 0.2",
                     source="kaiming.py", convention=FANS_CONVENTION,
                     nonlinearity="leaky_relu", negative_slope=0.2),
        # -- orthogonal and deterministic ------------------------------------------------------
        _initializer("Orthogonal", Orthogonal(1.0, rows="first"),
                     "'the 0 dimension is seen as rows, and the >=1 dimension are flattened "
                     "as cols'; 'if rows < cols: The rows are orthogonal vectors; elif rows > "
                     "cols: The columns are orthogonal vectors'; gain default 1.0",
                     source="orthogonal.py", shapes=orthogonal_shapes),
        _initializer("Orthogonal", Orthogonal(2.0, rows="first"),
                     "'gain: The multiplication coefficient for initialized tensor'",
                     source="orthogonal.py", shapes=orthogonal_shapes, gain=2.0),
        _initializer("Dirac", Exact(dirac_tensor, "dirac"),
                     "'X[d, d, shape[2]//2, shape[3]//2, ...]=1, d=0,1...N where, N is the "
                     "minimum value of in_channels and out_channels'; 'Initialize the "
                     "3D/4D/5D Tensor'", source="dirac.py",
                     shapes=_function_shapes(min_dims=3, max_numel=2**16)),
        _initializer("Dirac", Exact(lambda shape: dirac_tensor(shape, 2), "dirac(groups=2)"),
                     "groups: '0-dimension of the Tensor will be divided by groups, each group "
                     "has the same value'", source="dirac.py",
                     shapes=_even_first(_function_shapes(min_dims=3, max_numel=2**16)),
                     groups=2),
        _initializer("Bilinear", Exact(bilinear_kernel, "bilinear upsampling kernel"),
                     "'This initializer will set a (K, K) interpolation kernel for every "
                     "channel of the filter identically' for upsampling with a transposed "
                     "convolution; shape (C_out, C_in, K, K), 'shape[2] must be equal to "
                     "shape[3]'. The claim is the bilinear-interpolation kernel of that "
                     "formula (Caffe's BilinearFiller, which bilinear.py transcribes) with "
                     "whole pixel indices", source="bilinear.py", shapes=_square_kernel_shapes,
                     dtypes=EXACT_IN_WIDE),
        _initializer("Constant", constant(0.0),
                     "'Implement the constant initializer', value default 0.0",
                     source="constant.py"),
        _initializer("Constant", constant(0.5), "value: 'constant value to initialize the "
                     "parameter'", source="constant.py", value=0.5),
        _initializer("Assign", Exact(assign_values, "the assigned array"),
                     "'Init an parameter with a numpy array, list, or tensor'; " + ASSIGN_NOTE,
                     source="assign.py", values=lambda shape: assign_values(shape)
                     .astype(np.float32), label="Assign(value=np.arange(n).reshape(shape))",
                     dtypes=EXACT_IN_WIDE),
    ]


def _layer_entries() -> list[Entry]:
    conv_doc = ("weight_attr: 'If it is set to None, the parameter is initialized with "
                "Normal(0.0, std), and the std is (2.0 / filter_elem_num)^0.5'; the weight is "
                "(out_channels, in_channels / groups, *kernel_size)")
    transposed_doc = ("weight_attr: 'If the Initializer of the param_attr is not set, the "
                      "parameter is initialized with Xavier'; the weight is (in_channels, "
                      "out_channels / groups, *kernel_size)")
    he = InitSpec("he", "normal", layout="paddle")
    glorot = InitSpec("glorot", "uniform", layout="paddle")
    transposed = InitSpec("glorot", "uniform", layout="paddle", transposed=True)
    small_3d = {"max_channels": 32, "max_kernel": 3, "max_numel": 2**14}
    kernel = "list(shape[2:])"
    return [
        _layer("Linear", "Linear", glorot, LINEAR_DOC,
               arguments="shape[0], shape[1], bias_attr=False", shapes=_layer_shapes(2),
               convention=FANS_CONVENTION),
        _layer("Conv1D", "Conv1D", he, conv_doc,
               arguments=f"shape[1], shape[0], {kernel}, bias_attr=False",
               shapes=_layer_shapes(3), convention=CONV_CONVENTION),
        _layer("Conv2D", "Conv2D", he, conv_doc,
               arguments=f"shape[1], shape[0], {kernel}, bias_attr=False",
               shapes=_layer_shapes(4), convention=CONV_CONVENTION),
        _layer("Conv2D(groups=2)", "Conv2D",
               InitSpec("he", "normal", layout="paddle", groups=2),
               conv_doc + "; groups: 'The groups number of the Conv2D Layer'; He's std with "
                          "the filter's element count (in_channels / groups) * prod(kernel)",
               arguments=f"2 * shape[1], shape[0], {kernel}, groups=2, bias_attr=False",
               shapes=_layer_shapes(4, multiple=2), convention=CONV_CONVENTION),
        _layer("Conv3D", "Conv3D", he, conv_doc,
               arguments=f"shape[1], shape[0], {kernel}, bias_attr=False",
               shapes=_layer_shapes(5, **small_3d), convention=CONV_CONVENTION),
        _layer("Conv1DTranspose", "Conv1DTranspose", transposed, transposed_doc,
               arguments=f"shape[0], shape[1], {kernel}, bias_attr=False",
               shapes=_layer_shapes(3), convention=TRANSPOSED_CONVENTION),
        _layer("Conv2DTranspose", "Conv2DTranspose", transposed, transposed_doc,
               arguments=f"shape[0], shape[1], {kernel}, bias_attr=False",
               shapes=_layer_shapes(4), convention=TRANSPOSED_CONVENTION),
        _layer("Conv2DTranspose(groups=2)", "Conv2DTranspose",
               InitSpec("glorot", "uniform", layout="paddle", transposed=True, groups=2),
               transposed_doc + "; Xavier's fans: 'fan_in for Xavier initialization, which is "
                                "inferred from the Tensor', here the map's (in_channels / "
                                "groups) * prod(k) and (out_channels / groups) * prod(k)",
               arguments=f"shape[0], 2 * shape[1], {kernel}, groups=2, bias_attr=False",
               shapes=_layer_shapes(4, multiple=2), convention=TRANSPOSED_CONVENTION),
        _layer("Conv3DTranspose", "Conv3DTranspose", transposed, transposed_doc,
               arguments=f"shape[0], shape[1], {kernel}, bias_attr=False",
               shapes=_layer_shapes(5, **small_3d), convention=TRANSPOSED_CONVENTION),
        _layer("Embedding", "Embedding", glorot,
               "the documentation does not state the default; the source creates the weight "
               "(num_embeddings, embedding_dim) with create_parameter's default, XavierUniform "
               "(paddle/base/param_attr.py:153-163): the claim reads the table as a dense "
               "num_embeddings -> embedding_dim map, as Paddle's fans do (an embedding's "
               "semantic fan-in is 1: the layer registry reports that mismatch)",
               arguments="shape[0], shape[1]", shapes=_layer_shapes(2),
               convention=FANS_CONVENTION),
        # Recurrent cells: U(-1/sqrt(hidden), 1/sqrt(hidden)) on (gates * hidden, input) has
        # Var = 1 / (3 hidden) = (gates / 3) / shape[0]: LeCun's uniform scheme on the fan_out
        # of an oihw (out, in) reading, with gain sqrt(gates / 3).
        _layer("SimpleRNNCell.weight_ih", "SimpleRNNCell",
               InitSpec("lecun", "uniform", layout="oihw", mode="fan_out",
                        gain=math.sqrt(1 / 3)),
               RECURRENT_DOC.format(cls="SimpleRNNCell", gates=""),
               arguments="shape[1], shape[0]", tensor="weight_ih", shapes=_layer_shapes(2),
               layout="oihw"),
        _layer("GRUCell.weight_ih", "GRUCell",
               InitSpec("lecun", "uniform", layout="oihw", mode="fan_out", gain=1.0),
               RECURRENT_DOC.format(cls="GRUCell", gates="3 * "),
               arguments="shape[1], shape[0] // 3", tensor="weight_ih",
               shapes=_layer_shapes(2, multiple=3), layout="oihw"),
        _layer("LSTMCell.weight_ih", "LSTMCell",
               InitSpec("lecun", "uniform", layout="oihw", mode="fan_out",
                        gain=math.sqrt(4 / 3)),
               RECURRENT_DOC.format(cls="LSTMCell", gates="4 * "),
               arguments="shape[1], shape[0] // 4", tensor="weight_ih",
               shapes=_layer_shapes(2, multiple=4), layout="oihw"),
    ]
