"""Keras 3's layer types: roles, semantic fans and documented defaults, and the walker.

Defaults were read in the installed source (``keras/src/layers/**``, the layer's
``__init__`` defaults and ``build``; ``keras/src/initializers/random_initializers.py``)
and are cited with the layer's documentation page. Keras stores a dense kernel
``(in, out)`` and a convolution kernel ``(*k, in / groups, out)``;
``compute_fans`` reads the fans from the stored shape, for more than two dimensions as a
convolution: ``fan_in = shape[-2] * prod(shape[:-2])``, ``fan_out = shape[-1] *
prod(shape[:-2])``. ``EinsumDense`` passes the equation's input and output axes to a
``VarianceScaling`` initializer where the installed Keras supports it (its kernel axes
shared by input and output then count in the fan-out).

The walker leaves out random-number state (``SeedGenerator`` variables).

The handlers take a :class:`Docs`, where a Keras flavour documents its layers (its pages,
its source files, the fans its ``EinsumDense`` passes on): :data:`KERAS` by default.
:mod:`verify.layers.tf_keras_layers` reuses them for TensorFlow's Keras 2 with its own.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from verify.laws import TensorLaw
from verify.layers.common import (
    Fans,
    Handler,
    Site,
    as_tuple,
    composite,
    constant_law,
    constant_role,
    conv_fans,
    einsum_fans,
    fan_role,
    find_handler,
    glorot_uniform,
    nested_layers,
    public_classes,
    qualified_name,
    shape_fans,
    split_einsum,
    to_numpy,
    uniform_law,
    unknown_role,
)
from verify.layers.records import Param, Role

DOCS = "https://keras.io/api/layers/{}/"
SOURCE = "keras/src/layers/{}"


@dataclass(frozen=True)
class Docs:
    """Where a Keras flavour documents its layers, and how its ``EinsumDense`` computes fans.

    ``pages`` maps a handler's key (``dense``, ``conv``, a norm's or a cell's class name) to
    ``(page, source)``, formatted into ``url`` and ``source``; ``einsum_passes_axes`` says
    whether its ``EinsumDense`` gives its initializer the equation's axes (Keras 3.x, where
    the installed release supports it) or lets it read the fans off the kernel's shape.
    """

    url: str
    source: str
    pages: Mapping[str, tuple[str, str]]
    einsum_passes_axes: Callable[[], bool]

    def cite(self, key: str) -> str:
        page, source = self.pages[key]
        return f"{self.url.format(page)} ; {self.source.format(source)}"


def layer_name(cls: type) -> str:
    import keras

    return qualified_name(cls, [("keras.layers", keras.layers)])


def keras_fans(shape: tuple[int, ...]) -> Fans:
    """Keras's ``compute_fans`` for a stored shape (no axes given)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape_fans(shape, "hwio")


def zeros(role: str, citation: str, **fields) -> Role:
    return constant_role(role, 0.0, citation, "zeros", **fields)


def ones(role: str, citation: str, **fields) -> Role:
    return constant_role(role, 1.0, citation, "ones", **fields)


# --- dense ---------------------------------------------------------------------------

def dense(site: Site, docs: Docs | None = None) -> Role | None:
    citation = (docs or KERAS).cite("dense")
    shape = tuple(site.layer.kernel.shape)
    if site.local == "kernel":
        fans = (shape[0], shape[1])
        return fan_role(f"{_attention_prefix(site, 'dense')}.kernel", fans, keras_fans(shape),
                        glorot_uniform(citation), layout="(in, out)")
    if site.local == "bias":
        return zeros(f"{_attention_prefix(site, 'dense')}.bias", citation)
    return None


def keras_axes_fans(inputs: str, kernel: str, output: str,
                    kernel_shape: tuple[int, ...]) -> Fans:
    """The fans ``EinsumDense.build`` gives its ``VarianceScaling`` initializer: kernel axes
    in the output count in the fan-out, the other kernel axes in the fan-in."""
    fan_in = fan_out = 1
    for letter, size in zip(kernel, kernel_shape, strict=True):
        if letter in output:
            fan_out *= int(size)
        elif letter in inputs:
            fan_in *= int(size)
    return fan_in, fan_out


def _keras_passes_axes() -> bool:
    from keras.src.initializers.random_initializers import VarianceScaling

    return "input_axes" in inspect.signature(VarianceScaling.__init__).parameters


def einsum_dense(site: Site, docs: Docs | None = None) -> Role | None:
    layer = site.layer
    docs = docs or KERAS
    citation = docs.cite("einsum_dense")
    kind = _attention_prefix(site, "einsum_dense")
    if site.local == "bias":
        return zeros(f"{kind}.bias", citation)
    if site.local != "kernel":
        return None
    shape = tuple(int(d) for d in layer.kernel.shape)
    inputs, kernel, output = split_einsum(layer.equation)
    semantic, note = einsum_fans(inputs, kernel, output, shape)
    if docs.einsum_passes_axes():
        framework = keras_axes_fans(inputs, kernel, output, shape)
        if note:
            note += "; Keras counts them in the fan-out"
    else:
        framework = keras_fans(shape)
        note = "; ".join(filter(None, [note, "this Keras reads the fans from the kernel shape "
                                             "as a convolution's"]))
    return fan_role(f"{kind}.kernel", semantic, framework, glorot_uniform(citation),
                    layout=f"einsum {layer.equation}", note=note)


def _attention_prefix(site: Site, kind: str) -> str:
    """``attention.query`` for the projections of a ``MultiHeadAttention`` or a
    ``GroupQueryAttention`` (Keras 3's ``GroupedQueryAttention``; tf_keras's and Keras 3's
    classes matched by name, so that neither Keras is imported)."""
    if site.parent is not None and any(isinstance_named(site.parent, name) for name in
                                       ("MultiHeadAttention", "GroupedQueryAttention")):
        return f"attention.{getattr(site.layer, 'name', kind)}"
    return kind


# --- convolutions ----------------------------------------------------------------------

def conv(site: Site, docs: Docs | None = None) -> Role | None:
    layer = site.layer
    rank = len(layer.kernel_size)
    citation = (docs or KERAS).cite("conv")
    kind = "conv"
    shape = tuple(int(d) for d in layer.kernel.shape)
    if site.local == "bias":
        return zeros(f"{kind}.bias", citation)
    if site.local != "kernel":
        return None
    groups = getattr(layer, "groups", 1) or 1
    in_per_group, out = shape[-2], shape[-1]
    semantic, note = conv_fans(in_per_group, out // groups, shape[:-2],
                               as_tuple(layer.strides, rank))
    return fan_role(f"{kind}.kernel", semantic, keras_fans(shape), glorot_uniform(citation),
                    layout="(*kernel, in / groups, out)", note=note)


def conv_transpose(site: Site, docs: Docs | None = None) -> Role | None:
    layer = site.layer
    rank = len(layer.kernel_size)
    citation = (docs or KERAS).cite("conv_transpose")
    if site.local == "bias":
        return zeros("conv_transpose.bias", citation)
    if site.local != "kernel":
        return None
    shape = tuple(int(d) for d in layer.kernel.shape)
    out, inputs = shape[-2], shape[-1]
    semantic, note = conv_fans(inputs, out, shape[:-2], as_tuple(layer.strides, rank),
                               transposed=True)
    note = "; ".join(filter(None, ["Keras's fan_in is shape[-2] * prod(k) = out * prod(k), "
                                   "the transposed map's fan-out", note]))
    return fan_role("conv_transpose.kernel", semantic, keras_fans(shape),
                    glorot_uniform(citation), layout="(*kernel, out, in)", note=note)


def depthwise_kernel_role(site: Site, citation: str) -> Role:
    """``(*k, in, multiplier)``: each output channel reads one input channel, so the
    semantic fan-in is ``prod(k)``; Keras's ``compute_fans`` reads ``in * prod(k)``."""
    layer = site.layer
    shape = tuple(int(d) for d in site.shape)
    rank = len(shape) - 2
    semantic, note = conv_fans(1, shape[-1], shape[:-2], as_tuple(layer.strides, rank))
    return fan_role("depthwise_conv.kernel", semantic, keras_fans(shape),
                    glorot_uniform(citation), layout="(*kernel, in, depth_multiplier)",
                    note="; ".join(filter(None, ["one input channel per output channel", note])))


def depthwise_conv(site: Site, docs: Docs | None = None) -> Role | None:
    citation = (docs or KERAS).cite("depthwise_conv")
    if site.local == "kernel":
        return depthwise_kernel_role(site, citation)
    if site.local == "bias":
        return zeros("depthwise_conv.bias", citation)
    return None


def separable_conv(site: Site, docs: Docs | None = None) -> Role | None:
    citation = (docs or KERAS).cite("separable_conv")
    if site.local == "depthwise_kernel":
        return depthwise_kernel_role(site, citation)
    if site.local == "pointwise_kernel":
        shape = tuple(int(d) for d in site.shape)
        return fan_role("pointwise_conv.kernel", (shape[-2], shape[-1]), keras_fans(shape),
                        glorot_uniform(citation), layout="(*1, in * depth_multiplier, out)")
    if site.local == "bias":
        return zeros("separable_conv.bias", citation)
    return None


# --- embeddings, norms, activations --------------------------------------------------

def embedding(site: Site, docs: Docs | None = None) -> Role | None:
    if site.local != "embeddings":
        return None
    citation = (docs or KERAS).cite("embedding")
    dim = int(site.shape[-1])
    return fan_role("embedding.weight", (1, dim), None,
                    law=uniform_law(0.05, citation,
                                    "embeddings_initializer='uniform': RandomUniform("
                                    "minval=-0.05, maxval=0.05)"),
                    layout="(input_dim, output_dim)",
                    note="a row lookup: semantic fan_in 1, fan_out the embedding width")


NORMS = {"LayerNormalization": ("normalization_layers/layer_normalization",
                                "normalization/layer_normalization.py"),
         "BatchNormalization": ("normalization_layers/batch_normalization",
                                "normalization/batch_normalization.py"),
         "GroupNormalization": ("normalization_layers/group_normalization",
                                "normalization/group_normalization.py"),
         "RMSNormalization": ("normalization_layers/rms_normalization",
                              "normalization/rms_normalization.py")}
NORM_CONSTANTS = {"gamma": ("norm.scale", 1.0), "scale": ("norm.scale", 1.0),
                  "beta": ("norm.bias", 0.0), "moving_mean": ("norm.running_mean", 0.0),
                  "moving_variance": ("norm.running_var", 1.0)}


def norm(site: Site, docs: Docs | None = None) -> Role | None:
    if site.local not in NORM_CONSTANTS:
        return None
    docs = docs or KERAS
    name = type(site.layer).__name__
    role, value = NORM_CONSTANTS[site.local]
    return constant_role(role, value,
                         docs.cite(name if name in docs.pages else "LayerNormalization"),
                         "ones" if value else "zeros")


def prelu(site: Site, docs: Docs | None = None) -> Role | None:
    if site.local != "alpha":
        return None
    return zeros("prelu.alpha", (docs or KERAS).cite("prelu"))


# --- recurrent -------------------------------------------------------------------------

CELLS = {"LSTMCell": (4, "lstm", "rnn/lstm.py LSTMCell.build"),
         "GRUCell": (3, "gru", "rnn/gru.py GRUCell.build"),
         "SimpleRNNCell": (1, "simple_rnn", "rnn/simple_rnn.py SimpleRNNCell.build")}


def recurrent_cell(site: Site, docs: Docs | None = None) -> Role | None:
    """Kernels stack the gates along the last axis: ``kernel`` ``(in, gates * units)`` has
    semantic fans ``(in, units)`` per gate and Keras's glorot reads ``(in, gates * units)``.
    ``recurrent_kernel`` is orthogonal over the whole ``(units, gates * units)`` matrix (rows
    orthonormal): no law of :class:`~verify.laws.TensorLaw`'s families, so no default."""
    layer = site.layer
    cell = next(c for c in CELLS if isinstance_named(layer, c))
    gates = CELLS[cell][0]
    citation = (docs or KERAS).cite(cell)
    units = layer.units
    shape = tuple(int(d) for d in site.shape)
    layout = f"(in, {gates} gates * units)" if gates > 1 else "(in, units)"
    if site.local == "kernel":
        return fan_role("recurrent.kernel", (shape[0], units), keras_fans(shape),
                        glorot_uniform(citation), layout=layout, blocks=gates, block_axis=1)
    if site.local == "recurrent_kernel":
        return Role(role="recurrent.recurrent_kernel", fan_in=units, fan_out=units,
                    layout=layout.replace("(in", "(units"), blocks=gates, block_axis=1,
                    note="default orthogonal(gain=1) on the whole "
                         f"(units, {gates} * units) matrix: W W^T = I")
    if site.local != "bias":
        return None
    if gates == 4 and getattr(layer, "unit_forget_bias", False):
        return forget_bias(citation, "LSTMCell.build")
    blocks_axis = len(shape) - 1
    return zeros("recurrent.bias", citation, blocks=gates, block_axis=blocks_axis)


def forget_bias(citation: str, builder: str) -> Role:
    """An LSTM bias ``(4 * units,)`` with ``unit_forget_bias``: gates i, f, c, o; ``builder``
    (``LSTMCell.build``) fills the forget gate's slice with ones, the others with
    ``bias_initializer``'s zeros."""
    zero = constant_law(0.0, citation, "zeros")
    one = constant_law(1.0, citation, "unit_forget_bias: ones")
    return Role(role="recurrent.bias", random=False, blocks=4, block_axis=0,
                block_defaults=(zero, one, zero, zero),
                note="unit_forget_bias: gates i, f, c, o; the forget gate's slice is ones",
                doc_note="the docstring says unit_forget_bias forces "
                         f"bias_initializer='zeros'; the source ({builder}) keeps "
                         "bias_initializer for the other slices and only adds the ones")


def isinstance_named(layer: object, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(layer).__mro__)


KERAS = Docs(
    url=DOCS, source=SOURCE,
    pages={"dense": ("core_layers/dense", "core/dense.py Dense.__init__"),
           "einsum_dense": ("core_layers/einsum_dense", "core/einsum_dense.py EinsumDense.build"),
           "conv": ("convolution_layers", "convolutional/base_conv.py BaseConv.__init__"),
           "conv_transpose": ("convolution_layers",
                              "convolutional/base_conv_transpose.py BaseConvTranspose.build"),
           "depthwise_conv": ("convolution_layers",
                              "convolutional/base_depthwise_conv.py BaseDepthwiseConv.__init__"),
           "separable_conv": ("convolution_layers",
                              "convolutional/base_separable_conv.py BaseSeparableConv.__init__"),
           "embedding": ("core_layers/embedding", "core/embedding.py Embedding.__init__; "
                         "keras/src/initializers/random_initializers.py RandomUniform"),
           **{name: (page, f"{source} __init__") for name, (page, source) in NORMS.items()},
           "prelu": ("activation_layers/prelu", "activations/prelu.py PReLU.__init__"),
           **{name: (f"recurrent_layers/{page}", source)
              for name, (_, page, source) in CELLS.items()}},
    einsum_passes_axes=_keras_passes_axes)
"""Keras 3's documentation (keras.io) and source (``keras/src/layers``)."""


# --- the registry ------------------------------------------------------------------------

HANDLERS: dict[str, Handler] = {
    "keras.layers.Dense": dense,
    "keras.layers.EinsumDense": einsum_dense,
    **{f"keras.layers.Conv{rank}D": conv for rank in (1, 2, 3)},
    **{f"keras.layers.Conv{rank}DTranspose": conv_transpose for rank in (1, 2, 3)},
    **{f"keras.layers.DepthwiseConv{rank}D": depthwise_conv for rank in (1, 2)},
    **{f"keras.layers.SeparableConv{rank}D": separable_conv for rank in (1, 2)},
    "keras.layers.Embedding": embedding,
    **{f"keras.layers.{name}": norm for name in NORMS},
    "keras.layers.PReLU": prelu,
    **{f"keras.layers.{name}": recurrent_cell for name in CELLS},
    **{f"keras.layers.{name}": composite for name in ("MultiHeadAttention", "LSTM", "GRU",
                                                       "SimpleRNN", "Bidirectional", "RNN")},
}


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name) or private_handler(site.layer)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "hwio", "(*kernel, in, out)"))


# --- walking and building ------------------------------------------------------------

def _layers(root: object) -> list[tuple[object, tuple[object, ...]]]:
    """Every layer under ``root`` once, with its parents (root first)."""
    found, seen = [], set()

    def visit(layer: object, parents: tuple[object, ...]) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        found.append((layer, parents))
        for child in layer._flatten_layers(include_self=False, recursive=False):
            visit(child, (*parents, layer))

    visit(root, ())
    return found


def _attribute_of(layer: object, variable: object) -> str:
    for key, value in vars(layer).items():
        if value is variable:
            return key.lstrip("_")
    return variable.name


def walk(model: object) -> list[Param]:
    """Each variable of a built Keras model or layer once, named by its path; a variable
    that a second layer also tracks gets that layer's path and attribute as a second name."""
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"api 'keras' walks a keras.Model or keras.layers.Layer, got "
                         f"{type(model).__name__}")
    if not model.built:
        raise ValueError(f"the Keras {type(model).__name__} is not built: call it on an input "
                         "or call .build(input_shape) first")
    owners: dict[int, list] = {}
    for layer, parents in _layers(model):
        own = list(layer._trainable_variables) + list(layer._non_trainable_variables)
        for variable in own:
            owners.setdefault(id(variable), [variable, []])[1].append((layer, parents))
    params = []
    for variable, holders in owners.values():
        creator = next(((layer, parents) for layer, parents in holders
                        if variable.path == f"{layer.path}/{variable.name}"), holders[0])
        names = [variable.path] + [f"{layer.path or layer.name}/{_attribute_of(layer, variable)}"
                                   for layer, _ in holders if layer is not creator[0]]
        layer, parents = creator
        attribute = getattr(layer, "name", "")
        site = Site(layer, variable.name, tuple(int(d) for d in variable.shape), parents,
                    attribute)
        array, _ = to_numpy(keras.ops.convert_to_numpy(variable.value))
        params.append(Param(names=tuple(names), array=array, dtype=str(variable.dtype),
                            layer=layer_name(type(layer)), local=variable.name,
                            role=role_of(site), buffer=not variable.trainable,
                            trainable=bool(variable.trainable)))
    return params


DEFAULT_INPUT_SHAPES: dict[str, object] = {
    "Conv1D": (2, 16, 4), "Conv2D": (2, 16, 16, 4), "Conv3D": (2, 8, 8, 8, 4),
    "Conv1DTranspose": (2, 16, 4), "Conv2DTranspose": (2, 16, 16, 4),
    "Conv3DTranspose": (2, 8, 8, 8, 4), "DepthwiseConv1D": (2, 16, 4),
    "DepthwiseConv2D": (2, 16, 16, 4), "SeparableConv1D": (2, 16, 4),
    "SeparableConv2D": (2, 16, 16, 4), "Embedding": (2, 5), "LSTM": (2, 5, 8),
    "GRU": (2, 5, 8), "SimpleRNN": (2, 5, 8), "LSTMCell": (2, 8), "GRUCell": (2, 8),
    "SimpleRNNCell": (2, 8), "EinsumDense": (2, 5, 8),
    "MultiHeadAttention": [(2, 5, 8), (2, 5, 8)],
}
"""Input shapes (batch axis first) a layer is built with when ``kwargs`` has no
``input_shape``; other layers take ``(2, 8)``."""


def _layer_class(name: str) -> type:
    import keras

    short = name.removeprefix("keras.").removeprefix("layers.")
    cls = getattr(keras.layers, short, None)
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        raise ValueError(f"keras layer {name!r} is not in the registry: use layers.<Name> "
                         f"with one of {', '.join(sorted(n.split('.')[-1] for n in HANDLERS))}")
    return cls


def _construct(name: str, kwargs: dict) -> object:
    return _layer_class(name)(**kwargs)


SEPARATE_SHAPES = ("MultiHeadAttention", "GroupedQueryAttention")
"""Layers whose ``build`` takes the query, value (and key) shapes as separate arguments."""


def build(name: str, kwargs: dict) -> object:
    """A built layer of the catalog name ``layers.Dense`` (``kwargs['input_shape']`` or
    :data:`DEFAULT_INPUT_SHAPES` for the build). A layer argument written ``{"layer":
    "layers.LSTMCell", "kwargs": {...}}`` (the cell of ``RNN``, the layer of
    ``Bidirectional``) is constructed first."""
    cls = _layer_class(name)
    short = cls.__name__
    input_shape = kwargs.pop("input_shape", DEFAULT_INPUT_SHAPES.get(short, (2, 8)))
    try:
        layer = cls(**nested_layers(kwargs, _construct))
        several = bool(input_shape) and isinstance(input_shape[0], list | tuple)
        if several and short in SEPARATE_SHAPES:
            layer.build(*[tuple(s) for s in input_shape])
        elif several:  # one list of shapes: Attention's [query, value]
            layer.build([tuple(s) for s in input_shape])
        else:
            layer.build(tuple(input_shape))
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build keras {name} with {kwargs} on input shape "
                         f"{input_shape}: {error}") from None
    return layer


# --- layers found by introspection (tests/test_layer_introspection.py) -----------------

SOURCE_ONLY = "the documentation does not state this default; it is from the source"


def _cited(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; {SOURCE.format(source)}"


def conv_lstm_cell(site: Site) -> Role | None:
    """The cell of ``ConvLSTM1D/2D/3D`` (a private class): ``kernel`` ``(*k, in, 4 *
    filters)`` stacks the gates i, f, c, o along the last axis, each a convolution with
    fans ``(in * prod(k), filters * prod(k) / prod(strides))``; Keras's glorot reads
    ``(in * prod(k), 4 * filters * prod(k))``. ``recurrent_kernel`` ``(*k, filters, 4 *
    filters)`` is orthogonal on its ``(prod(k) * filters, 4 * filters)`` flattening: no law
    of the families. The bias is LSTMCell's: zeros, and ones for the forget gate."""
    layer = site.layer
    rank = len(layer.kernel_size)
    page = f"recurrent_layers/conv_lstm{rank}d"
    citation = _cited(page, "rnn/conv_lstm.py ConvLSTMCell.__init__ and build")
    filters = int(layer.filters)
    shape = tuple(int(d) for d in site.shape)
    kernel = shape[:-2]
    if site.local == "kernel":
        semantic, note = conv_fans(shape[-2], filters, kernel, as_tuple(layer.strides, rank))
        return fan_role("recurrent.kernel", semantic, keras_fans(shape),
                        glorot_uniform(citation), layout="(*kernel, in, 4 gates * filters)",
                        blocks=4, block_axis=len(shape) - 1, note=note)
    if site.local == "recurrent_kernel":
        receptive = filters * math.prod(kernel)
        return Role(role="recurrent.recurrent_kernel", fan_in=receptive, fan_out=receptive,
                    layout="(*kernel, filters, 4 gates * filters)", blocks=4,
                    block_axis=len(shape) - 1,
                    note="default orthogonal(gain=1) on the "
                         f"({receptive}, {4 * filters}) flattening: no law of the families")
    if site.local != "bias":
        return None
    if getattr(layer, "unit_forget_bias", False):
        zero = constant_law(0.0, citation, "zeros")
        one = constant_law(1.0, citation, "unit_forget_bias: ones")
        return Role(role="recurrent.bias", random=False, blocks=4, block_axis=0,
                    block_defaults=(zero, one, zero, zero),
                    note="unit_forget_bias: gates i, f, c, o; the forget gate's slice is ones")
    return zeros("recurrent.bias", citation, blocks=4, block_axis=0)


PRIVATE_HANDLERS: dict[str, Handler] = {"ConvLSTMCell": conv_lstm_cell}
"""Private layer classes that a registered public layer creates (``ConvLSTM2D``'s cell), by
class name: never built alone, so neither public nor in :data:`HANDLERS`."""


def private_handler(layer: object) -> Handler | None:
    for cls in type(layer).__mro__:
        if cls.__name__ in PRIVATE_HANDLERS:
            return PRIVATE_HANDLERS[cls.__name__]
    return None


def reversible_embedding(site: Site) -> Role | None:
    """``embeddings`` as :func:`embedding`; with ``tie_weights=False`` a separate
    ``reverse_embeddings`` ``(output_dim, input_dim)``, the ``dim -> vocabulary`` logits
    projection, drawn with the same ``embeddings_initializer`` (``U(-0.05, 0.05)``)."""
    if site.local == "embeddings":
        return embedding(site)
    if site.local != "reverse_embeddings":
        return None
    citation = _cited("core_layers/reversible_embedding",
                      "core/reversible_embedding.py ReversibleEmbedding.build")
    dim, vocabulary = (int(d) for d in site.shape)
    return fan_role("reverse_embedding.kernel", (dim, vocabulary), None,
                    law=uniform_law(0.05, citation, "embeddings_initializer='uniform': "
                                                    "RandomUniform(-0.05, 0.05)"),
                    layout="(output_dim, input_dim)", doc_note=SOURCE_ONLY,
                    note="a dense dim -> vocabulary projection with the embedding's law, "
                         "whose bound does not depend on the fans")


def dot_attention(site: Site) -> Role | None:
    """``Attention``: ``scale`` (``use_scale``) and ``concat_score_weight`` (``score_mode=
    'concat'``) are scalars initialized to ones."""
    if site.local not in ("scale", "concat_score_weight"):
        return None
    return ones(f"attention.{site.local}",
                _cited("attention_layers/attention", "attention/attention.py Attention.build"),
                doc_note=SOURCE_ONLY)


def additive_attention(site: Site) -> Role | None:
    """``AdditiveAttention``'s ``scale`` ``(dim,)`` weighs the ``dim`` terms of ``tanh(q +
    k)`` summed into one score: the ``dim -> 1`` map of Bahdanau's ``v``, semantic fans
    ``(dim, 1)``; its glorot_uniform reads a 1-D shape as ``(dim, dim)``."""
    if site.local != "scale":
        return None
    citation = _cited("attention_layers/additive_attention",
                      "attention/additive_attention.py AdditiveAttention.build")
    dim = int(site.shape[0])
    return fan_role("attention.scale", (dim, 1), keras_fans(tuple(site.shape)),
                    glorot_uniform(citation), layout="(dim,)",
                    doc_note="the docstring says use_scale creates 'a scalar variable'; the "
                             "source creates a (dim,) vector, drawn glorot_uniform")


NORMALIZATION_CONSTANTS = {"mean": ("normalization.mean", 0.0, "zeros"),
                           "variance": ("normalization.variance", 1.0, "ones"),
                           "count": ("normalization.count", 0.0, "zeros")}


def normalization(site: Site) -> Role | None:
    """``Normalization`` without ``mean``/``variance`` arguments: the statistics ``adapt()``
    fills, non-trainable, initialized to zeros, ones and a zero count."""
    if site.local not in NORMALIZATION_CONSTANTS:
        return None
    role, value, rule = NORMALIZATION_CONSTANTS[site.local]
    return constant_role(role, value, _cited("preprocessing_layers/numerical/normalization",
                                             "preprocessing/normalization.py "
                                             "Normalization.build"), rule,
                         doc_note=SOURCE_ONLY, note="a statistic adapt() sets: a buffer")


def spectral_normalization(site: Site) -> Role | None:
    """``SpectralNormalization``'s power-iteration vector ``vector_u`` ``(1, out)``,
    non-trainable, ``TruncatedNormal(stddev=0.02)``: ``N(0, 0.02^2)`` cut at two of its
    standard deviations. The wrapped layer's kernel is its own (walked as that layer's)."""
    if site.local != "vector_u":
        return None
    citation = _cited("normalization_layers/spectral_normalization",
                      "normalization/spectral_normalization.py SpectralNormalization.build")
    law = TensorLaw(family="truncated_normal", std=0.02, low=-0.04, high=0.04,
                    source="default", citation=citation,
                    rule="TruncatedNormal(stddev=0.02): N(0, 0.02^2) redrawn beyond 2 stddev")
    return Role(role="spectral_norm.u", default=law, layout="(1, out)", doc_note=SOURCE_ONLY,
                note="the power iteration's start vector: a buffer, no fans")


HANDLERS.update({
    **{f"keras.layers.ConvLSTM{rank}D": composite for rank in (1, 2, 3)},
    "keras.layers.GroupQueryAttention": composite,
    "keras.layers.ReversibleEmbedding": reversible_embedding,
    "keras.layers.Attention": dot_attention,
    "keras.layers.AdditiveAttention": additive_attention,
    "keras.layers.Normalization": normalization,
    "keras.layers.SpectralNormalization": spectral_normalization,
    "keras.layers.TimeDistributed": composite,
    "keras.layers.StackedRNNCells": composite,
})

DEFAULT_INPUT_SHAPES.update({
    "ConvLSTM1D": (2, 3, 16, 4), "ConvLSTM2D": (2, 3, 8, 8, 4), "ConvLSTM3D": (2, 3, 4, 4, 4, 4),
    "GroupedQueryAttention": [(2, 5, 8), (2, 5, 8)], "Attention": [(2, 5, 8), (2, 5, 8)],
    "AdditiveAttention": [(2, 5, 8), (2, 5, 8)], "ReversibleEmbedding": (2, 5),
    "TimeDistributed": (2, 5, 8),
})


def _names(reason: str, *names: str) -> dict[str, str]:
    return dict.fromkeys((f"keras.layers.{name}" for name in names), reason)


WITHOUT_WEIGHTS: dict[str, str] = {
    **_names("an activation without parameters", "Activation", "ELU", "LeakyReLU", "ReLU",
             "Softmax"),
    **_names("dropout, noise or an activity penalty: random masks drawn at call time, no "
             "weights", "ActivityRegularization", "AlphaDropout", "Dropout",
             "GaussianDropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D",
             "SpatialDropout3D"),
    **_names("pooling: no weights", *(f"{kind}Pooling{rank}D" for kind in (
        "AdaptiveAverage", "AdaptiveMax", "Average", "GlobalAverage", "GlobalMax", "Max")
        for rank in (1, 2, 3))),
    **_names("merges its inputs: no weights", "Add", "Average", "Concatenate", "Dot",
             "Maximum", "Minimum", "Multiply", "Subtract"),
    **_names("reshapes, crops, pads or repeats its input: no weights", "Flatten", "Permute",
             "RepeatVector", "Reshape", *(f"{kind}{rank}D" for kind in (
                 "Cropping", "UpSampling", "ZeroPadding") for rank in (1, 2, 3))),
    **_names("no weights: a fixed function of its input", "Identity", "Lambda", "Masking",
             "UnitNormalization"),
    **_names("the base class, the input placeholder, or the wrapper base (the wrapped layer "
             "is walked): no weights of their own", "Layer", "InputLayer", "Wrapper"),
    **_names("a preprocessing layer without state: random augmentations (a seed generator, "
             "which the walker leaves out), fixed transforms or encodings, no weights",
             "AugMix", "AutoContrast", "CategoryEncoding", "CenterCrop",
             "ContrastLimitedAdaptiveHistogramEqualization", "CutMix", "Discretization",
             "Equalization", "HashedCrossing", "Hashing", "MaxNumBoundingBoxes",
             "MelSpectrogram", "MixUp", "RandAugment", "RandomBrightness",
             "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
             "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur",
             "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
             "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
             "RandomShear", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
             "Solarization"),
    **_names("a container of preprocessing layers: no weights of its own", "Pipeline"),
}
"""Public ``keras.layers`` classes without weights, and why (``tests/test_layer_introspection.py``
builds each it can and checks)."""

NOT_COVERED: dict[str, str] = {
    **_names("a vocabulary (and, with output_mode='tf_idf', IDF weights) that adapt() or "
             "the vocabulary argument sets: data, not an initialization; built on "
             "TensorFlow's lookup tables", "IntegerLookup", "StringLookup",
             "TextVectorization"),
    "keras.layers.STFTSpectrogram": "its real_kernel and imag_kernel are the windowed "
                                    "discrete Fourier basis (STFTInitializer): fixed "
                                    "sines and cosines, not a law of the families",
    **_names("wraps another framework's model (JAX or Flax, PyTorch, a TensorFlow "
             "SavedModel): its variables are that model's, initialized by that framework; "
             "walk the model with its own api", "FlaxLayer", "JaxLayer",
             "TorchModuleWrapper", "TFSMLayer"),
}
"""Public ``keras.layers`` classes with weights but no handler, and why."""


def public_layer_classes() -> dict[str, type]:
    """Every public ``keras.layers`` class that subclasses ``keras.layers.Layer``, by
    registry name (an alias such as ``Convolution2D`` once, as ``Conv2D``)."""
    import keras

    return public_classes(keras.layers, keras.layers.Layer, layer_name)
