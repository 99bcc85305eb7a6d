"""TensorFlow's Keras 2 (``tf_keras``) layer types: roles, semantic fans and documented
defaults, and the walker.

tf_keras stores weights as Keras 3 does (a dense kernel ``(in, out)``, a convolution
kernel ``(*k, in / groups, out)``, a transposed one ``(*k, out, in)``, a depthwise one
``(*k, in, multiplier)``), and its ``_compute_fans``
(``tf_keras/src/initializers/initializers.py``) reads fans off the stored shape as Keras 3
does without axes: a 1-D ``(n,)`` has fans ``(n, n)``, more dimensions read the last two
as ``(in, out)`` times the product of the others. So the handlers of
:mod:`verify.layers.keras_layers` serve the layers the two share, with tf_keras's citations
(:data:`TF_KERAS`): its ``EinsumDense`` passes no axes (a kernel of more than two
dimensions gets a convolution's fans). Defaults were read in the installed source
(``tf_keras/src/layers/**``) and are cited with TensorFlow 2.15's API reference, the last
whose ``tf.keras`` was Keras 2.

The layers only tf_keras has: ``LocallyConnected1D``/``2D`` (one unshared kernel per
output position, stored so that ``_compute_fans`` multiplies both fans by the number of
output positions, or by more), ``ConvLSTM1D``/``2D``/``3D`` (their cell, stacked gates on
the last axis), ``AdditiveAttention`` and ``Attention`` (scales),
``RandomFourierFeatures`` and the preprocessing ``Normalization``.

:func:`public_layer_classes` walks ``tf_keras.layers`` (and its ``experimental``
namespaces) for every public layer class; each is registered (:data:`HANDLERS`, a class
also through a registered base), or listed in :data:`WITHOUT_WEIGHTS` or
:data:`NOT_COVERED` with the reason.

The walker names a tensor by the layers above it (``lstm/lstm_cell/kernel``; without the
name of a root that is a ``tf_keras.Model``): tf_keras's own variable names leave out the
scope of a layer built alone. It leaves out string variables (vocabularies). TensorFlow is
imported through :func:`verify.adapters.tf_keras._tf_keras` only.
"""

from __future__ import annotations

import functools
import importlib
import math
import types
from collections.abc import Mapping

from verify.laws import TensorLaw
from verify.layers import keras_layers
from verify.layers.common import (
    Handler,
    Site,
    as_tuple,
    composite,
    constant_role,
    conv_fans,
    fan_role,
    find_handler,
    glorot_uniform,
    is_nested_layer,
    nested_layers,
    normal_law,
    qualified_name,
    to_numpy,
    unknown_role,
)
from verify.layers.keras_layers import (
    Docs,
    depthwise_kernel_role,
    forget_bias,
    isinstance_named,
    keras_fans,
    ones,
    zeros,
)
from verify.layers.records import Param, Role

API_DOCS = "https://www.tensorflow.org/versions/r2.15/api_docs/python/tf/keras/layers/{}"
CONVOLUTIONS = ""
"""The page of the convolutions: the layers' index, ``tf.keras.layers``."""

TF_KERAS = Docs(
    url=API_DOCS, source="tf_keras/src/layers/{}",
    pages={"dense": ("Dense", "core/dense.py Dense.__init__"),
           "einsum_dense": ("EinsumDense", "core/einsum_dense.py EinsumDense.build"),
           "conv": (CONVOLUTIONS, "convolutional/base_conv.py Conv.__init__"),
           "conv_transpose": (CONVOLUTIONS,
                              "convolutional/conv2d_transpose.py Conv2DTranspose.build"),
           "depthwise_conv": (CONVOLUTIONS,
                              "convolutional/base_depthwise_conv.py DepthwiseConv.__init__"),
           "separable_conv": (CONVOLUTIONS,
                              "convolutional/base_separable_conv.py SeparableConv.__init__"),
           "embedding": ("Embedding", "core/embedding.py Embedding.__init__; "
                         "tf_keras/src/initializers/initializers.py RandomUniform"),
           "LayerNormalization": ("LayerNormalization", "normalization/layer_normalization.py "
                                  "LayerNormalization.__init__"),
           "BatchNormalization": ("BatchNormalization", "normalization/batch_normalization.py "
                                  "BatchNormalization.__init__"),
           "SyncBatchNormalization": ("experimental/SyncBatchNormalization",
                                      "normalization/batch_normalization.py "
                                      "SyncBatchNormalization.__init__"),
           "GroupNormalization": ("GroupNormalization", "normalization/group_normalization.py "
                                  "GroupNormalization.__init__"),
           "prelu": ("PReLU", "activation/prelu.py PReLU.__init__"),
           "LSTMCell": ("LSTMCell", "rnn/lstm.py LSTMCell.build"),
           "GRUCell": ("GRUCell", "rnn/gru.py GRUCell.build"),
           "SimpleRNNCell": ("SimpleRNNCell", "rnn/simple_rnn.py SimpleRNNCell.build"),
           "LocallyConnected1D": ("LocallyConnected1D", "locally_connected/"
                                  "locally_connected1d.py LocallyConnected1D.build"),
           "LocallyConnected2D": ("LocallyConnected2D", "locally_connected/"
                                  "locally_connected2d.py LocallyConnected2D.build"),
           "ConvLSTMCell": ("ConvLSTM2D", "rnn/base_conv_lstm.py ConvLSTMCell.build"),
           "AdditiveAttention": ("AdditiveAttention",
                                 "attention/additive_attention.py AdditiveAttention.build"),
           "Attention": ("Attention", "attention/attention.py Attention.build"),
           "RandomFourierFeatures": ("experimental/RandomFourierFeatures",
                                     "kernelized.py RandomFourierFeatures.build"),
           "Normalization": ("Normalization",
                             "preprocessing/normalization.py Normalization.build")},
    einsum_passes_axes=lambda: False)
"""tf_keras's documentation (TensorFlow 2.15's API reference) and installed source."""

CONV_LSTM_CELL = "tf_keras.src.layers.rnn.base_conv_lstm.ConvLSTMCell"
"""The cell of ``ConvLSTM1D``/``2D``/``3D``: not exported, registered by its module path."""


def _tf_keras():
    from verify.adapters.tf_keras import _tf_keras as load

    return load()


@functools.cache
def layer_name(cls: type) -> str:
    layers = _tf_keras().layers
    return qualified_name(cls, [("tf_keras.layers", layers),
                                ("tf_keras.layers.experimental", layers.experimental),
                                ("tf_keras.layers.experimental.preprocessing",
                                 layers.experimental.preprocessing)])


def _shared(handler: Handler) -> Handler:
    """A :mod:`~verify.layers.keras_layers` handler with tf_keras's citations."""
    return functools.partial(handler, docs=TF_KERAS)


# --- layers whose tensors Keras 3 names otherwise -------------------------------------------

def depthwise_conv(site: Site) -> Role | None:
    """tf_keras names the kernel ``depthwise_kernel`` (Keras 3: ``kernel``)."""
    citation = TF_KERAS.cite("depthwise_conv")
    if site.local == "depthwise_kernel":
        return depthwise_kernel_role(site, citation)
    if site.local == "bias":
        return zeros("depthwise_conv.bias", citation)
    return None


# --- layers only tf_keras has ---------------------------------------------------------------

LOCALLY_CONNECTED_LAYOUTS = {
    1: "(output positions, prod(kernel) * in, filters)",
    2: "(*input positions, in, *output positions, filters), masked to each window",
    3: "(entries of the sparse (outputs, inputs) matrix,)",
}


def locally_connected(site: Site) -> Role | None:
    """One unshared ``prod(k) * in -> filters`` map per output position: semantic fans
    ``(in * prod(k), filters * prod(k) / prod(strides))``, as a convolution's. The stored
    kernel (``implementation`` 1, 2 or 3) is what ``_compute_fans`` reads."""
    layer = site.layer
    citation = TF_KERAS.cite(next(n for n in ("LocallyConnected1D", "LocallyConnected2D")
                                  if isinstance_named(layer, n)))
    if site.local == "bias":
        return zeros("locally_connected.bias", citation)
    if site.local != "kernel":
        return None
    rank = len(layer.kernel_size)
    (in_channels,) = layer.input_spec.axes.values()
    semantic, note = conv_fans(int(in_channels), int(layer.filters), layer.kernel_size,
                               as_tuple(layer.strides, rank))
    framework = keras_fans(site.shape)
    note = "; ".join(filter(None, [
        "unshared weights, one map per output position; tf_keras's _compute_fans reads "
        f"the stored shape {site.shape} as a convolution kernel's: fans {framework}", note]))
    return fan_role("locally_connected.kernel", semantic, framework, glorot_uniform(citation),
                    layout=LOCALLY_CONNECTED_LAYOUTS[layer.implementation], note=note)


def conv_lstm_cell(site: Site) -> Role | None:
    """Kernels ``(*k, in, 4 * filters)`` and ``(*k, filters, 4 * filters)``, gates stacked on
    the last axis: per gate a convolution ``in -> filters`` (strided) and ``filters ->
    filters`` (stride 1, 'same')."""
    layer = site.layer
    citation = TF_KERAS.cite("ConvLSTMCell")
    shape = site.shape
    kernel = tuple(int(k) for k in layer.kernel_size)
    last = len(shape) - 1
    if site.local == "kernel":
        semantic, note = conv_fans(shape[-2], int(layer.filters), kernel,
                                   as_tuple(layer.strides, len(kernel)))
        return fan_role("recurrent.kernel", semantic, keras_fans(shape),
                        glorot_uniform(citation), layout="(*kernel, in, 4 gates * filters)",
                        blocks=4, block_axis=last, note=note)
    if site.local == "recurrent_kernel":
        (fan_in, fan_out), _ = conv_fans(int(layer.filters), int(layer.filters), kernel,
                                         (1,) * len(kernel))
        return Role(role="recurrent.recurrent_kernel", fan_in=fan_in, fan_out=fan_out,
                    layout="(*kernel, filters, 4 gates * filters)", blocks=4, block_axis=last,
                    note="default orthogonal(gain=1) on the whole (prod(kernel) * filters, "
                         "4 * filters) matrix")
    if site.local != "bias":
        return None
    if getattr(layer, "unit_forget_bias", False):
        return forget_bias(citation, "ConvLSTMCell.build")
    return zeros("recurrent.bias", citation, blocks=4, block_axis=0)


def additive_attention(site: Site) -> Role | None:
    if site.local != "scale":
        return None
    return fan_role("attention.scale", None, keras_fans(site.shape),
                    glorot_uniform(TF_KERAS.cite("AdditiveAttention")), layout="(dim,)",
                    note="a per-feature scale of the additive score; _compute_fans reads "
                         "its shape (dim,) as fan_in = fan_out = dim",
                    doc_note="the docstring says only that use_scale creates a variable; "
                             "its initializer, 'glorot_uniform', is in the source (build)")


def attention(site: Site) -> Role | None:
    if site.local not in ("scale", "concat_score_weight"):
        return None
    return ones(f"attention.{site.local}", TF_KERAS.cite("Attention"),
                doc_note="the docstring does not state the initializer; 'ones' is in the "
                         "source (build)")


def random_fourier_features(site: Site) -> Role | None:
    """``kernel_initializer='gaussian'`` draws the unscaled kernel ``N(0, 1)``; the call divides
    it by ``kernel_scale``. The bias is ``U(0, 2 pi)``; none of them is trained."""
    layer = site.layer
    citation = TF_KERAS.cite("RandomFourierFeatures")
    initializer = layer.kernel_initializer
    if site.local == "unscaled_kernel":
        shape = tuple(int(d) for d in site.shape)
        gaussian = isinstance(initializer, str) and initializer.lower() == "gaussian"
        laplacian = isinstance(initializer, str) and initializer.lower() == "laplacian"
        law = normal_law(1.0, citation, "kernel_initializer='gaussian': "
                                        "RandomNormal(stddev=1.0)") if gaussian else None
        note = ("Cauchy(0, 1) samples from NumPy's global generator "
                "(_get_random_features_initializer), not tf_keras's seeds" if laplacian
                else "" if gaussian else "a user's kernel_initializer")
        return fan_role("random_features.kernel", shape, None, law=law,
                        layout="(input_dim, output_dim)", note=note,
                        doc_note="the docstring names the kernel approximated, not the "
                                 "law drawn; the law is in the source")
    if site.local == "bias":
        return Role(role="random_features.bias",
                    default=TensorLaw(family="uniform", low=0.0, high=2 * math.pi,
                                      source="default", citation=citation,
                                      rule="RandomUniform(minval=0.0, maxval=2 * pi)"),
                    doc_note="not in the docstring; in the source (build)")
    if site.local == "kernel_scale":
        return constant_role("random_features.scale", float(layer.scale), citation,
                             "scale: sqrt(input_dim / 2) for 'gaussian', else 1.0, unless "
                             "given")
    return None


NORMALIZATION_STATE = {"mean": ("norm.running_mean", 0.0), "variance": ("norm.running_var", 1.0),
                       "count": ("norm.count", 0.0)}


def normalization(site: Site) -> Role | None:
    """The preprocessing ``Normalization``: statistics that ``adapt()`` sets, zeros and
    ones until then."""
    if site.local not in NORMALIZATION_STATE:
        return None
    role, value = NORMALIZATION_STATE[site.local]
    return constant_role(role, value, TF_KERAS.cite("Normalization"),
                         "ones" if value else "zeros",
                         note="statistics that adapt() computes from data")


# --- the registry ------------------------------------------------------------------------

NORMS = ("LayerNormalization", "BatchNormalization", "GroupNormalization")

HANDLERS: dict[str, Handler] = {
    "tf_keras.layers.Dense": _shared(keras_layers.dense),
    "tf_keras.layers.EinsumDense": _shared(keras_layers.einsum_dense),
    **{f"tf_keras.layers.Conv{rank}D": _shared(keras_layers.conv) for rank in (1, 2, 3)},
    **{f"tf_keras.layers.Conv{rank}DTranspose": _shared(keras_layers.conv_transpose)
       for rank in (1, 2, 3)},
    **{f"tf_keras.layers.DepthwiseConv{rank}D": depthwise_conv for rank in (1, 2)},
    **{f"tf_keras.layers.SeparableConv{rank}D": _shared(keras_layers.separable_conv)
       for rank in (1, 2)},
    "tf_keras.layers.Embedding": _shared(keras_layers.embedding),
    **{f"tf_keras.layers.{name}": _shared(keras_layers.norm) for name in NORMS},
    "tf_keras.layers.experimental.SyncBatchNormalization": _shared(keras_layers.norm),
    "tf_keras.layers.PReLU": _shared(keras_layers.prelu),
    **{f"tf_keras.layers.{name}": _shared(keras_layers.recurrent_cell)
       for name in keras_layers.CELLS},
    **{f"tf_keras.layers.LocallyConnected{rank}D": locally_connected for rank in (1, 2)},
    CONV_LSTM_CELL: conv_lstm_cell,
    "tf_keras.layers.AdditiveAttention": additive_attention,
    "tf_keras.layers.Attention": attention,
    "tf_keras.layers.experimental.RandomFourierFeatures": random_fourier_features,
    "tf_keras.layers.Normalization": normalization,
    **{f"tf_keras.layers.{name}": composite
       for name in ("MultiHeadAttention", "LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional",
                    "TimeDistributed", "Wrapper", "StackedRNNCells", "ConvLSTM1D",
                    "ConvLSTM2D", "ConvLSTM3D")},
}


def _group(reason: str, *names: str) -> dict[str, str]:
    return {f"tf_keras.layers.{name}": reason for name in names}


WITHOUT_WEIGHTS: dict[str, str] = {
    **_group("a base class or the input placeholder: no weights of its own", "Layer",
             "AbstractRNNCell", "InputLayer", "experimental.preprocessing.PreprocessingLayer"),
    **_group("an activation without parameters", "Activation", "ELU", "LeakyReLU", "ReLU",
             "Softmax", "ThresholdedReLU"),
    **_group("dropout, noise or an activity penalty: random masks, no weights",
             "ActivityRegularization", "AlphaDropout", "Dropout", "GaussianDropout",
             "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"),
    **_group("merges its inputs: no parameters", "Add", "Average", "Concatenate", "Dot",
             "Maximum", "Minimum", "Multiply", "Subtract"),
    **_group("pooling: no parameters", *(f"{kind}Pooling{rank}D" for kind in
                                         ("Average", "Max", "GlobalAverage", "GlobalMax")
                                         for rank in (1, 2, 3))),
    **_group("reshapes, crops, pads or repeats: no parameters", "Flatten", "Permute",
             "RepeatVector", "Reshape", *(f"{kind}{rank}D" for kind in
                                          ("Cropping", "UpSampling", "ZeroPadding")
                                          for rank in (1, 2, 3))),
    **_group("no parameters", "Identity", "Lambda", "Masking", "UnitNormalization"),
    **_group("a preprocessing layer without state: no weights", "CategoryEncoding",
             "HashedCrossing", "Hashing", "CenterCrop", "RandomBrightness", "RandomContrast",
             "RandomCrop", "RandomFlip", "RandomHeight", "RandomRotation", "RandomTranslation",
             "RandomWidth", "RandomZoom", "Rescaling", "Resizing"),
}
"""Public layer classes without weights (``tests/test_layers_tf_keras.py`` builds them and
checks), and why."""

NOT_COVERED: dict[str, str] = {
    **_group("a vocabulary and, with output_mode='tf_idf', IDF weights: data that adapt() or "
             "the vocabulary argument sets, not an initialization", "StringLookup",
             "IntegerLookup", "TextVectorization"),
    "tf_keras.layers.Discretization": "without bin_boundaries, a quantile summary that "
                                      "adapt() fills: data, not an initialization",
    "tf_keras.layers.DenseFeatures": "its variables are those of the tf.feature_column "
                                     "columns it is given (a deprecated TensorFlow API)",
    "tf_keras.layers.SpectralNormalization": "cannot be built on TensorFlow 2.16 and later "
                                             "without TF_USE_LEGACY_KERAS=1: its build "
                                             "assigns tf.keras.layers.InputSpec, Keras 3's "
                                             "('Layer input_spec must be an instance of "
                                             "InputSpec'); its vector_u is TruncatedNormal("
                                             "stddev=0.02), the wrapped layer's weights "
                                             "their own",
    **_group("a parameter-server layer whose initial vocabulary is a tensor or a dtype, "
             "not JSON; DynamicEmbedding's table is an Embedding (registered), "
             "DynamicLookup's one variable is the vocabulary",
             "experimental.DynamicEmbedding", "experimental.DynamicLookup"),
}
"""Public layer classes with weights that the registry leaves out, and why."""


def public_layer_classes() -> dict[str, type]:
    """Every public layer class of ``tf_keras.layers`` and its ``experimental`` namespaces,
    by its registry name (aliases such as ``MaxPool2D`` once, under the class's name)."""
    tf_keras = _tf_keras()
    found: dict[str, type] = {}
    seen: set[str] = set()

    def visit(namespace: types.ModuleType) -> None:
        seen.add(namespace.__name__)
        for key, value in sorted(vars(namespace).items()):
            if key.startswith("_"):
                continue
            if (isinstance(value, types.ModuleType) and value.__name__.startswith("tf_keras")
                    and value.__name__ not in seen):
                visit(value)
            elif isinstance(value, type) and issubclass(value, tf_keras.layers.Layer):
                found.setdefault(layer_name(value), value)

    visit(tf_keras.layers)
    return found


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "hwio", "(*kernel, in, out)"))


# --- walking and building ------------------------------------------------------------

def _path(layer: object, parents: tuple[object, ...], model_root: bool) -> list[str]:
    names = [getattr(p, "name", "") for p in parents] + [getattr(layer, "name", "")]
    return names[1:] if model_root else names


def _attribute_of(layer: object, variable: object) -> str:
    for key, value in vars(layer).items():
        if value is variable:
            return key.lstrip("_")
    return _local(variable)


def _local(variable: object) -> str:
    """``kernel`` for the variable ``lstm/lstm_cell/kernel:0``."""
    return variable.name.split("/")[-1].split(":")[0]


def walk(model: object) -> list[Param]:
    """Each variable of a built tf_keras model or layer once (string vocabularies left out),
    named by the layers above it; a variable that a second layer also tracks gets that
    layer's path and attribute as a second name."""
    tf_keras = _tf_keras()
    import tensorflow as tf

    if not isinstance(model, tf_keras.layers.Layer):
        raise ValueError(f"api 'tf_keras' walks a tf_keras.Model or tf_keras.layers.Layer, "
                         f"got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"the tf_keras {type(model).__name__} is not built: call it on an "
                         "input or call .build(input_shape) first")
    model_root = isinstance(model, tf_keras.Model)
    owners: dict[int, list] = {}
    for layer, parents in keras_layers._layers(model):
        for variable in [*layer._trainable_weights, *layer._non_trainable_weights]:
            if isinstance(variable, tf.Variable) and variable.dtype != tf.string:
                owners.setdefault(id(variable), [variable, []])[1].append((layer, parents))
    params, taken = [], set()
    for variable, holders in owners.values():
        scope = variable.name.split(":")[0].split("/")[:-1]
        creator = next(((layer, parents) for layer, parents in holders
                        if scope[-1:] == [layer.name]), holders[0])
        layer, parents = creator
        local = _local(variable)
        names = ["/".join([*_path(layer, parents, model_root), local])]
        names += ["/".join([*_path(other, other_parents, model_root),
                            _attribute_of(other, variable)])
                  for other, other_parents in holders if other is not layer]
        names = [_unique(name, taken) for name in names]
        shape = tuple(int(d) for d in variable.shape)
        site = Site(layer, local, shape, parents, getattr(layer, "name", ""))
        array, _ = to_numpy(variable.numpy())
        params.append(Param(names=tuple(names), array=array, dtype=variable.dtype.name,
                            layer=layer_name(type(layer)), local=local, role=role_of(site),
                            buffer=not variable.trainable,
                            trainable=bool(variable.trainable)))
    return params


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name#2``, ``name#3``, ... where two layers of one parent share a name."""
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name}#{count}"
    taken.add(candidate)
    return candidate


DEFAULT_INPUT_SHAPES: dict[str, object] = {
    **keras_layers.DEFAULT_INPUT_SHAPES,
    "LocallyConnected1D": (2, 16, 4), "LocallyConnected2D": (2, 8, 8, 4),
    "ConvLSTM1D": (2, 3, 16, 4), "ConvLSTM2D": (2, 3, 8, 8, 4),
    "ConvLSTM3D": (2, 2, 4, 4, 4, 2), "ConvLSTMCell": (2, 8, 8, 4),
    "AdditiveAttention": [(2, 5, 8), (2, 7, 8)], "Attention": [(2, 5, 8), (2, 7, 8)],
    "TimeDistributed": (2, 5, 8),
}
"""Input shapes (batch axis first) a layer is built with when ``kwargs`` has no
``input_shape``; other layers take ``(2, 8)``. A list of shapes is the inputs of an
attention layer: query, value[, key]."""


def _layer_class(name: str) -> type:
    """The class of ``layers.Dense``, ``layers.experimental.RandomFourierFeatures`` (with or
    without ``tf_keras.``), or of a module path such as :data:`CONV_LSTM_CELL`."""
    tf_keras = _tf_keras()
    if name.startswith("tf_keras.src."):
        module, _, attribute = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attribute, None)
        except ImportError:
            cls = None
    else:
        cls = tf_keras.layers
        for part in name.removeprefix("tf_keras.").removeprefix("layers.").split("."):
            cls = getattr(cls, part, None)
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        known = sorted(n.removeprefix("tf_keras.") for n in HANDLERS)
        raise ValueError(f"tf_keras layer {name!r} is not in the registry: use one of "
                         f"{', '.join(known)}")
    return cls


def _construct(name: str, kwargs: dict) -> object:
    return _layer_class(name)(**_arguments(kwargs))


def _arguments(kwargs: Mapping) -> dict:
    """``kwargs`` with the layer arguments built: ``{"layer": NAME, "kwargs": {...}}`` and lists
    of them (the ``cells`` of ``StackedRNNCells``)."""
    listed = {key: [_construct(str(item["layer"]), dict(item.get("kwargs", {})))
                    for item in value]
              if isinstance(value, list) and value and all(map(is_nested_layer, value))
              else value for key, value in kwargs.items()}
    return nested_layers(listed, _construct)


def build(name: str, kwargs: dict) -> object:
    """A built layer of the catalog name ``layers.Dense`` (``kwargs['input_shape']`` or
    :data:`DEFAULT_INPUT_SHAPES` for the build; ``MultiHeadAttention`` is called on zeros of
    its query's and value's shapes, as tf_keras builds it)."""
    cls = _layer_class(name)
    short = cls.__name__
    input_shape = kwargs.pop("input_shape", DEFAULT_INPUT_SHAPES.get(short, (2, 8)))
    try:
        layer = cls(**_arguments(kwargs))
        if short == "MultiHeadAttention":
            import tensorflow as tf

            layer(*[tf.zeros(tuple(shape)) for shape in input_shape])
        elif short in ("AdditiveAttention", "Attention"):
            layer.build([tuple(shape) for shape in input_shape])
        else:
            layer.build(tuple(input_shape))
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build tf_keras {name} with {kwargs} on input shape "
                         f"{input_shape}: {error}") from None
    return layer
