"""What every framework's part of the registry shares: the semantic fans of the maps a
tensor implements, the default laws written the way the frameworks write them, the
builders of :class:`~verify.layers.records.Role`, and the dispatch from a layer instance
to its handler.

Semantic fans (see :mod:`verify.layers`): the fan-in is the number of inputs of one output
unit of the map, the fan-out the number of outputs one input feeds.

* dense ``in -> out``: ``(in, out)``;
* convolution with ``groups`` and strides ``s``: ``fan_in = (in / groups) * prod(k)``,
  ``fan_out = (out / groups) * prod(k) / prod(s)``: a stride-``s`` convolution visits one
  input position from ``k / s`` output positions on average along each axis;
* transposed convolution, the adjoint of that convolution: ``fan_in = (in / groups) *
  prod(k) / prod(s)``, ``fan_out = (out / groups) * prod(k)``.

Boundary effects of padding are ignored (interior units). Where ``prod(k) / prod(s)``
is not a whole number the average is rounded half up (at least 1), and the role's
``note`` gives the exact average. Dilation does not change either fan.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from verify.laws import TensorLaw, uniform_bound
from verify.layers.records import Role

Fans = tuple[int, int]
LawOf = Callable[[Fans], "TensorLaw | None"]
"""The framework's default law as a function of the fans it uses."""

TRUNCATED_NORMAL_STD = 0.87962566103423978
"""Standard deviation of a standard normal truncated to ``[-2, 2]``: JAX's and Keras's
``variance_scaling(distribution="truncated_normal")`` divide the target standard
deviation by it (``jax/_src/nn/initializers.py``, ``variance_scaling``)."""


@dataclass(frozen=True)
class Site:
    """One tensor of one layer instance, with the layers above it.

    ``parents`` runs from the model's root to the layer's immediate parent; ``attribute``
    is the name under which the parent holds the layer (``out_proj``, ``dense_h``), where
    the walker knows it.
    """

    layer: object
    local: str
    shape: tuple[int, ...]
    parents: tuple[object, ...] = ()
    attribute: str = ""

    @property
    def parent(self) -> object | None:
        return self.parents[-1] if self.parents else None


Handler = Callable[[Site], "Role | None"]
"""A layer type's handler: the role of one of its tensors, or None for a local name it
does not know (the tensor is then reported as unknown)."""


# --- fans ------------------------------------------------------------------------------

def per_stride(count: int, strides: Sequence[int]) -> tuple[int, str]:
    """``count / prod(strides)`` as a whole number (rounded half up, at least 1), with a
    note when the exact average is not whole."""
    exact = Fraction(count, math.prod(strides) or 1)
    rounded = max(1, math.floor(exact + Fraction(1, 2)))
    if exact.denominator == 1:
        return int(exact), ""
    return rounded, f"average {float(exact):g} rounded to {rounded}"


def conv_fans(in_per_group: int, out_per_group: int, kernel: Sequence[int],
              strides: Sequence[int], *, transposed: bool = False) -> tuple[Fans, str]:
    """Semantic fans of a (transposed) convolution, and a note when one is an average."""
    receptive = math.prod(kernel)
    if transposed:
        fan_in, note = per_stride(in_per_group * receptive, strides)
        return (fan_in, out_per_group * receptive), note and f"fan_in: {note}"
    fan_out, note = per_stride(out_per_group * receptive, strides)
    return (in_per_group * receptive, fan_out), note and f"fan_out: {note}"


def as_tuple(value: int | Sequence[int] | None, rank: int, default: int = 1) -> tuple[int, ...]:
    """A per-axis setting (``stride=2`` or ``(2, 1)``) as a tuple of ``rank`` ints."""
    if value is None:
        return (default,) * rank
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(int(v) for v in value)
    return values if len(values) == rank else (values[0],) * rank


def einsum_fans(inputs: str, kernel: str, output: str,
                kernel_shape: Sequence[int]) -> tuple[Fans, str]:
    """Semantic fans of the kernel of ``inputs,kernel->output`` (letters, no ellipsis).

    A kernel axis summed over (in ``inputs``, not in ``output``) counts in the fan-in; an
    axis only the output has counts in the fan-out; an axis shared by input, kernel and
    output (a per-head or batched weight) is in neither: each of its slices is a separate
    map.
    """
    fan_in = fan_out = 1
    batch = []
    for letter, size in zip(kernel, kernel_shape, strict=True):
        in_input, in_output = letter in inputs, letter in output
        if in_input and not in_output:
            fan_in *= int(size)
        elif in_output and not in_input:
            fan_out *= int(size)
        elif in_input and in_output:
            batch.append(f"{letter}={size}")
    note = f"batched kernel axes {', '.join(batch)} count in neither fan" if batch else ""
    return (fan_in, fan_out), note


def split_einsum(equation: str) -> tuple[str, str, str]:
    """``"...ab,bc->...ac"`` as ``("ab", "bc", "ac")`` (ellipses and spaces dropped)."""
    cleaned = equation.replace("...", "").replace(" ", "")
    try:
        left, output = cleaned.split("->")
        inputs, kernel = left.split(",")
    except ValueError:
        raise ValueError(f"cannot read the einsum equation {equation!r}: expected "
                         "'inputs,kernel->output'") from None
    return inputs, kernel, output


def shape_fans(shape: Sequence[int], layout: str) -> Fans | None:
    """Fans read from a stored shape in a layout: ``oihw`` (out, in, *k), ``hwio``
    (*k, in, out), ``ohwi`` (out, *k, in) or ``paddle`` (2-D (in, out), else (out, in,
    *k)); None for fewer than 2 dimensions."""
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        return None
    if layout == "paddle":
        layout = "hwio" if len(shape) == 2 else "oihw"
    if layout == "oihw":
        receptive = math.prod(shape[2:])
        return shape[1] * receptive, shape[0] * receptive
    if layout == "hwio":
        receptive = math.prod(shape[:-2])
        return shape[-2] * receptive, shape[-1] * receptive
    if layout == "ohwi":
        receptive = math.prod(shape[1:-1])
        return shape[-1] * receptive, shape[0] * receptive
    raise ValueError(f"unknown layout {layout!r}: use oihw, hwio, ohwi or paddle")


# --- laws ------------------------------------------------------------------------------

def uniform_law(bound: float, citation: str, rule: str) -> TensorLaw | None:
    """``U(-bound, bound)``; None for a zero bound (an empty layer)."""
    if not bound > 0 or not math.isfinite(bound):
        return None
    return uniform_bound(bound, source="default", citation=citation, rule=rule)


def normal_law(std: float, citation: str, rule: str) -> TensorLaw | None:
    if not std > 0 or not math.isfinite(std):
        return None
    return TensorLaw(family="normal", std=std, source="default", citation=citation, rule=rule)


def constant_law(value: float, citation: str, rule: str) -> TensorLaw:
    return TensorLaw(family="constant", value=float(value), source="default",
                     citation=citation, rule=rule)


def variance_scaling(scale: float, mode: str, distribution: str, citation: str,
                     rule: str) -> LawOf:
    """JAX's and Keras's ``variance_scaling(scale, mode, distribution)`` as a function of
    the fans: ``Var = scale / n`` with ``n`` the fan-in, the fan-out or their mean;
    ``truncated_normal`` draws ``N(0, (sqrt(Var) / 0.8796...)^2)`` cut at two of its
    standard deviations, ``uniform`` is ``U(-sqrt(3 Var), sqrt(3 Var))``."""

    def law_of(fans: Fans) -> TensorLaw | None:
        fan_in, fan_out = fans
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if not n > 0:
            return None
        variance = scale / n
        if distribution == "uniform":
            return uniform_law(math.sqrt(3 * variance), citation, rule)
        if distribution == "normal":
            return normal_law(math.sqrt(variance), citation, rule)
        std = math.sqrt(variance) / TRUNCATED_NORMAL_STD
        return TensorLaw(family="truncated_normal", std=std, low=-2 * std, high=2 * std,
                         source="default", citation=citation, rule=rule)

    return law_of


def glorot_uniform(citation: str, rule: str = "glorot_uniform: U(-a, a), "
                   "a = sqrt(6 / (fan_in + fan_out))") -> LawOf:
    return variance_scaling(1.0, "fan_avg", "uniform", citation, rule)


def lecun_normal(citation: str, rule: str = "lecun_normal: variance_scaling(1, 'fan_in', "
                 "'truncated_normal')") -> LawOf:
    return variance_scaling(1.0, "fan_in", "truncated_normal", citation, rule)


def inverse_sqrt_uniform(citation: str, rule: str) -> LawOf:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``: PyTorch's ``Linear``/``ConvNd`` weights and
    biases (``kaiming_uniform_(a=sqrt(5))``), its recurrent layers, MLX's layers."""

    def law_of(fans: Fans) -> TensorLaw | None:
        return uniform_law(1 / math.sqrt(fans[0]), citation, rule) if fans[0] > 0 else None

    return law_of


# --- roles ---------------------------------------------------------------------------

def _semantic_rule(law: TensorLaw | None, fans: Fans) -> TensorLaw | None:
    if law is None:
        return None
    return replace(law, rule=f"{law.rule} with the semantic fans {fans}")


def fan_role(role: str, semantic: Fans | None, framework: Fans | None,
             law_of: LawOf | None = None, *, law: TensorLaw | None = None,
             **fields) -> Role:
    """A tensor with fans: ``default`` is ``law_of(framework)`` (or the fan-free ``law``),
    ``semantic_default`` is ``law_of(semantic)`` where the two fans differ."""
    default = law
    semantic_default = None
    if law_of is not None and framework is not None:
        default = law_of(framework)
        if semantic is not None and tuple(semantic) != tuple(framework):
            semantic_default = _semantic_rule(law_of(semantic), semantic)
    fan_in, fan_out = semantic if semantic is not None else (None, None)
    return Role(role=role, fan_in=fan_in, fan_out=fan_out,
                framework_fans=tuple(framework) if framework is not None else None,
                default=default, semantic_default=semantic_default, **fields)


def bias_role(role: str, weight_semantic: Fans | None, weight_framework: Fans | None,
              law_of: LawOf, **fields) -> Role:
    """A bias whose law uses its layer weight's fans (no fans of its own)."""
    built = fan_role(role, weight_semantic, weight_framework, law_of, **fields)
    return replace(built, fan_in=None, fan_out=None)


def constant_role(role: str, value: float, citation: str, rule: str, **fields) -> Role:
    return Role(role=role, default=constant_law(value, citation, rule), random=False,
                **fields)


def unknown_role(local: str, shape: Sequence[int], layout: str, words: str) -> Role:
    """A tensor of a layer type the registry does not know: fans guessed from the shape in
    the api's usual ``layout`` for 2-D and larger tensors, no default."""
    fans = shape_fans(shape, layout)
    return Role(role=f"unknown.{local}",
                fan_in=fans[0] if fans else None, fan_out=fans[1] if fans else None,
                layout=f"{words} (guessed)" if fans else "",
                note="layer type not in the registry: fans guessed from the shape"
                if fans else "layer type not in the registry")


# --- dispatch ------------------------------------------------------------------------

def qualified_name(cls: type, public: Iterable[tuple[str, object]] = ()) -> str:
    """``cls``'s public name where one of the ``(prefix, namespace)`` pairs exports it
    (``torch.nn.Linear``; under another name where only an alias is exported, Keras's
    ``GroupedQueryAttention`` as ``keras.layers.GroupQueryAttention``), else its module
    path and qualified name."""
    for prefix, namespace in public:
        if namespace is None:
            continue
        if getattr(namespace, cls.__name__, None) is cls:
            return f"{prefix}.{cls.__name__}"
        alias = _exported_classes(namespace).get(cls)
        if alias is not None:
            return f"{prefix}.{alias}"
    return f"{cls.__module__}.{cls.__qualname__}"


@functools.cache
def _exported_classes(namespace: object) -> dict[type, str]:
    """The classes a namespace exports, each by its first public name (sorted)."""
    exported: dict[type, str] = {}
    for key in sorted(dir(namespace)):
        value = getattr(namespace, key, None)
        if not key.startswith("_") and isinstance(value, type):
            exported.setdefault(value, key)
    return exported


def public_classes(namespace: object, base: type,
                   namer: Callable[[type], str]) -> dict[str, type]:
    """Every public class of ``namespace`` (a module such as ``torch.nn``) that subclasses
    ``base``, by its registry name (``namer``), once per class: an alias such as Keras's
    ``Convolution2D`` (the class ``Conv2D``) is the same entry."""
    found: dict[str, type] = {}
    for key in sorted(dir(namespace)):
        value = getattr(namespace, key, None)
        if not key.startswith("_") and isinstance(value, type) and issubclass(value, base):
            found.setdefault(namer(value), value)
    return found


def composite(site: Site) -> Role | None:
    """The handler of a layer made of registered layers (attention, a recurrent layer
    around its cell, a transformer block): its own tensors, if any, are unknown."""
    return None


def find_handler(cls: type, handlers: Mapping[str, Handler],
                 namer: Callable[[type], str]) -> Handler | None:
    """The handler of the most derived registered class in ``cls``'s MRO (so subclasses
    such as ``NonDynamicallyQuantizableLinear`` use their base's)."""
    for base in cls.__mro__:
        handler = handlers.get(namer(base))
        if handler is not None:
            return handler
    return None


NESTED_KEYS = frozenset({"layer", "kwargs"})


def is_nested_layer(value: object) -> bool:
    """Is ``value`` a layer argument written ``{"layer": NAME, "kwargs": {...}}``?"""
    return isinstance(value, Mapping) and "layer" in value and set(value) <= NESTED_KEYS


def nested_layers(kwargs: Mapping, construct: Callable[[str, dict], object]) -> dict:
    """``kwargs`` with each layer argument written ``{"layer": NAME, "kwargs": {...}}`` (the
    cell of a recurrent layer, the layer a ``Bidirectional`` wraps, the encoder layer of a
    ``TransformerEncoder``) replaced by ``construct(NAME, its kwargs)``, innermost first: so
    the arguments of a composite layer stay JSON, and its replay line works. A list of
    layer arguments (the cells of Keras's ``StackedRNNCells``) is a list of layers."""
    def built(value: object) -> object:
        if is_nested_layer(value):
            return construct(str(value["layer"]), nested_layers(value.get("kwargs", {}),
                                                                construct))
        if isinstance(value, list) and value and all(map(is_nested_layer, value)):
            return [built(item) for item in value]
        return value

    return {key: built(value) for key, value in kwargs.items()}


def to_numpy(value: object) -> tuple[np.ndarray, str]:
    """Values of a torch, JAX, MLX or NumPy array as NumPy (float16 and bfloat16 as
    float32), and the dtype's name as the framework gives it."""
    module = type(value).__module__
    if module.startswith("torch"):
        tensor = value.detach().cpu()
        dtype = str(tensor.dtype)
        if tensor.is_floating_point() and tensor.element_size() < 4:
            tensor = tensor.float()
        return tensor.numpy(), dtype
    if module.startswith("mlx"):
        import mlx.core as mx

        dtype = str(value.dtype)
        if value.dtype in (mx.bfloat16, mx.float16):
            value = value.astype(mx.float32)
        return np.array(value), dtype
    array = np.asarray(value)
    dtype = str(getattr(value, "dtype", array.dtype))
    if array.dtype.name in ("bfloat16", "float16"):
        array = array.astype(np.float32)
    return array, dtype
