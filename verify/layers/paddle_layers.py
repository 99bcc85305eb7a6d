"""PaddlePaddle's layer types: roles, semantic fans and documented defaults, and the walker.

Defaults were read in the installed source (``paddle/nn/layer/*.py``, each layer's
``__init__``) and are cited with the layer's documentation page. A layer that passes no
initializer gets ``create_parameter``'s: ``XavierUniform()`` for a weight, ``Constant(0.0)``
for a bias (``paddle/base/param_attr.py:153-175``), with the fans of Paddle's one helper
``Initializer._compute_fans`` (``paddle/nn/initializer/initializer.py:115-152``): a 2-D
shape is ``(fan_in, fan_out) = (shape[0], shape[1])``, a larger one ``(shape[1] * k,
shape[0] * k)`` with ``k = prod(shape[2:])``, whatever the layer.

Layouts: ``Linear.weight`` ``(in, out)``, ``ConvNd.weight`` ``(out, in / groups, *k)``,
``ConvNdTranspose.weight`` ``(in, out / groups, *k)``, ``Bilinear.weight`` ``(out, in1,
in2)``, the recurrent cells' weights ``(gates * hidden, in)``, ``HSigmoidLoss.weight``
``(classes - 1, features)``.

The walker lists ``named_parameters`` and ``named_buffers``. The recurrent layers
(``SimpleRNN``, ``LSTM``, ``GRU``) hold their cells' parameters a second time under
``weight_ih_l0``-style names; a tensor's role comes from the deepest layer that holds it
(the cell). Running statistics (``_mean``, ``_variance``) and the power-iteration vectors
of ``SpectralNorm`` are parameters that are not trainable: they are reported as buffers.
A buffer that holds no values (the empty cuDNN dropout state of the recurrent layers) is
left out.

:data:`WITHOUT_WEIGHTS` and :data:`NOT_COVERED` list the public ``paddle.nn`` layer classes
that have no handler, and why (the introspection test reads them).
"""

from __future__ import annotations

import contextlib
import math
import sys

from verify.layers.common import (
    Fans,
    Handler,
    Site,
    bias_role,
    composite,
    constant_role,
    conv_fans,
    fan_role,
    find_handler,
    glorot_uniform,
    inverse_sqrt_uniform,
    nested_layers,
    normal_law,
    qualified_name,
    shape_fans,
    to_numpy,
    unknown_role,
    variance_scaling,
)
from verify.layers.records import Param, Role

DOCS = "https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/nn/{}_en.html"
UNDOCUMENTED = "the documentation does not state the init; it is from the source"
XAVIER_RULE = ("XavierUniform(): U(-a, a), a = sqrt(6 / (fan_in + fan_out)), fans of "
               "Initializer._compute_fans (create_parameter's default, param_attr.py:153-163)")
BIAS_RULE = "Constant(0.0) (create_parameter's default for a bias, param_attr.py:165-175)"


def cite(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; paddle/nn/layer/{source}"


def paddle_fans(shape: tuple[int, ...]) -> Fans:
    """The fans ``Initializer._compute_fans`` reads from a stored shape (2-D and larger)."""
    return shape_fans(shape, "paddle")


def layer_name(cls: type) -> str:
    import paddle

    return qualified_name(cls, [("paddle.nn", paddle.nn)])


def _xavier(citation: str):
    return glorot_uniform(citation, XAVIER_RULE)


def _zero_bias(role: str, citation: str, **fields) -> Role:
    return constant_role(role, 0.0, citation, BIAS_RULE, **fields)


# --- dense ---------------------------------------------------------------------------

def linear(site: Site) -> Role | None:
    """``(in, out)``: Paddle's fans are the semantic ones."""
    citation = cite("Linear", "common.py Linear.__init__")
    if site.local == "weight":
        fans = paddle_fans(site.shape)
        return fan_role("linear.weight", fans, fans, _xavier(citation), layout="(in, out)",
                        doc_note="the page says 'initialized with Xavier'; XavierUniform is "
                                 "from the source")
    if site.local == "bias":
        return _zero_bias("linear.bias", citation)
    return None


def bilinear(site: Site) -> Role | None:
    """``(out, in1, in2)``: an output sums ``in1 * in2`` products, so the semantic fans are
    ``(in1 * in2, out)``; ``_compute_fans`` reads the 3-D weight as a convolution kernel,
    ``(in1 * in2, out * in2)``."""
    citation = cite("Bilinear", "common.py Bilinear.__init__")
    if site.local == "weight":
        out, in1, in2 = site.shape
        return fan_role("bilinear.weight", (in1 * in2, out), paddle_fans(site.shape),
                        _xavier(citation), layout="(out, in1, in2)", doc_note=UNDOCUMENTED,
                        note="Paddle's fan helper takes in2 for a kernel axis: fan_out = "
                             "out * in2")
    if site.local == "bias":
        return _zero_bias("bilinear.bias", citation, layout="(1, out)")
    return None


# --- convolutions ----------------------------------------------------------------------

def conv(site: Site) -> Role | None:
    layer = site.layer
    name = type(layer).__name__
    transposed = "Transpose" in name
    kind = "conv_transpose" if transposed else "conv"
    groups = int(layer._groups)
    in_channels, out_channels = int(layer._in_channels), int(layer._out_channels)
    kernel = tuple(int(k) for k in layer._kernel_size)
    stride = tuple(int(s) for s in layer._stride)
    citation = cite(name, "conv.py _ConvNd.__init__")
    if site.local == "bias":
        return _zero_bias(f"{kind}.bias", citation)
    if site.local != "weight":
        return None
    semantic, note = conv_fans(in_channels // groups, out_channels // groups, kernel, stride,
                               transposed=transposed)
    if transposed:
        return fan_role(f"{kind}.weight", semantic, paddle_fans(site.shape), _xavier(citation),
                        layout="(in, out / groups, *kernel)",
                        note="; ".join(filter(None, [
                            "Paddle's fans of the stored (in, out / groups, *k) are "
                            "((out / groups) * k, in * k)", note])),
                        doc_note="the page says 'initialized with Xavier'; XavierUniform on "
                                 "the stored shape is from the source")
    # _ConvNd's own default: Normal(0, sqrt(2 / filter_elem_num)), filter_elem_num =
    # prod(kernel_size) * in_channels: a fan-in of all in_channels, whatever the groups
    law_of = variance_scaling(2.0, "fan_in", "normal", citation,
                              "Normal(0.0, (2.0 / filter_elem_num) ** 0.5), filter_elem_num = "
                              "prod(kernel_size) * in_channels (conv.py:182-187)")
    framework = (in_channels * math.prod(kernel), semantic[1])
    return fan_role(f"{kind}.weight", semantic, framework, law_of,
                    layout="(out, in / groups, *kernel)", note=note,
                    doc_note="the page leaves filter_elem_num undefined; the source takes "
                             "prod(kernel_size) * in_channels, not in_channels / groups")


# --- embeddings -------------------------------------------------------------------------

def embedding(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    layer = site.layer
    count = int(layer._num_embeddings)
    padding = layer._padding_idx
    rows = () if padding is None else (int(padding) % count,)
    citation = cite("Embedding", "common.py Embedding.__init__")
    return fan_role("embedding.weight", (1, int(site.shape[1])), paddle_fans(site.shape),
                    _xavier(citation), layout="(num_embeddings, embedding_dim)",
                    zero_rows=rows, doc_note=UNDOCUMENTED,
                    note="a row lookup: semantic fan_in 1; Paddle's fans read the table as a "
                         "dense num_embeddings -> embedding_dim map"
                         + ("; the padding_idx row is zero" if rows else ""))


# --- recurrent -------------------------------------------------------------------------

GATES = {"SimpleRNNCell": 1, "GRUCell": 3, "LSTMCell": 4}


def recurrent_cell(site: Site) -> Role | None:
    """Every tensor ``U(-1/sqrt(hidden), 1/sqrt(hidden))``; gates stacked along axis 0.
    Semantic fans per gate: ``weight_ih`` ``(input, hidden)``, ``weight_hh`` ``(proj or
    hidden, hidden)``, an LSTM's projection ``weight_ho`` ``(hidden, proj)``; Paddle's law
    stands for a fan-in of ``hidden_size`` in all. A weight created with ``attr=False`` is a
    frozen constant (1.0 for weights, 0.0 for biases)."""
    layer = site.layer
    name = type(layer).__name__
    local = site.local
    if local not in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ho"):
        return None
    gates = GATES.get(name, 1)
    hidden = int(layer.hidden_size)
    projected = int(getattr(layer, "proj_size", 0) or 0) or hidden
    citation = cite(name, f"rnn.py {name}.__init__")
    frozen = getattr(getattr(layer, local, None), "stop_gradient", False)
    if frozen:
        value = 0.0 if local.startswith("bias") else 1.0
        return constant_role(f"recurrent.{local}", value, citation,
                             f"I.Constant({value}) for a {local}_attr of False (frozen)",
                             blocks=1 if local == "weight_ho" else gates)
    law_of = inverse_sqrt_uniform(citation, "I.Uniform(-std, std), std = 1.0 / "
                                            "math.sqrt(hidden_size), for every tensor")
    if local == "weight_ho":
        semantic, blocks = (hidden, projected), 1
    elif local.endswith("_ih"):
        semantic, blocks = (int(layer.input_size), hidden), gates
    else:
        semantic, blocks = (projected, hidden), gates
    framework = (hidden, semantic[1])
    role = f"recurrent.{local}"
    if local.startswith("bias"):
        return bias_role(role, semantic, framework, law_of, blocks=blocks)
    layout = "(hidden, proj)" if local == "weight_ho" else (
        f"({gates} gates * hidden, in)" if gates > 1 else "(hidden, in)")
    return fan_role(role, semantic, framework, law_of, blocks=blocks, block_axis=0,
                    layout=layout)


def recurrent_layer(site: Site) -> Role | None:
    """``SimpleRNN``/``LSTM``/``GRU``: their parameters are their cells'; the layer's own
    tensors are the cuDNN buffers."""
    if site.local == "_dropout_state":
        return Role(role="recurrent.dropout_state", random=False,
                    note="the cuDNN dropout state, uint8, not a weight")
    return None


# --- norms, activations, the rest --------------------------------------------------------

NORM_CONSTANTS = {"weight": ("norm.scale", 1.0), "scale": ("norm.scale", 1.0),
                  "bias": ("norm.bias", 0.0), "_mean": ("norm.running_mean", 0.0),
                  "_variance": ("norm.running_var", 1.0)}
NORM_SOURCES = {"BatchNorm": "norm.py BatchNorm.__init__",
                "LayerNorm": "norm.py LayerNorm.__init__",
                "GroupNorm": "norm.py GroupNorm.__init__"}


def norm(site: Site) -> Role | None:
    if site.local not in NORM_CONSTANTS:
        return None
    name = type(site.layer).__name__
    role, value = NORM_CONSTANTS[site.local]
    source = NORM_SOURCES.get(name, "norm.py _InstanceNormBase.__init__"
                              if name.startswith("InstanceNorm")
                              else "norm.py _BatchNormBase.__init__")
    doc_note = ""
    if name == "BatchNorm" and site.local == "weight":
        doc_note = ("the page says param_attr's scale 'is initialized with Xavier'; the "
                    "source draws nothing: Constant(1.0) (norm.py:1045)")
    return constant_role(role, value, cite(name, source), f"Constant({value})",
                         doc_note=doc_note)


def prelu(site: Site) -> Role | None:
    if site.local != "_weight":
        return None
    value = float(site.layer._init)
    return constant_role("prelu.weight", value, cite("PReLU", "activation.py PReLU.__init__"),
                         f"Constant(init), init={value:g} (documented default 0.25)")


def spectral_norm(site: Site) -> Role | None:
    """The power iteration's vectors ``u`` (``weight_shape[dim]``) and ``v`` (the product of
    the other axes), ``Normal(0.0, 1.0)``, not trainable."""
    if site.local not in ("weight_u", "weight_v"):
        return None
    citation = cite("SpectralNorm", "norm.py SpectralNorm.__init__")
    return Role(role=f"spectral_norm.{site.local}",
                default=normal_law(1.0, citation, "Normal(0.0, 1.0)"),
                doc_note=UNDOCUMENTED, note="a power-iteration vector, not a map: no fans")


def hsigmoid(site: Site) -> Role | None:
    """``(classes - 1, features)``: one logistic unit per inner node of the tree, each reading
    all ``features``: semantic fans ``(features, classes - 1)``; ``_compute_fans`` reads the
    2-D weight as ``(in, out)``, the two swapped."""
    citation = cite("HSigmoidLoss", "loss.py HSigmoidLoss.__init__")
    if site.local == "weight":
        nodes, features = site.shape
        return fan_role("hsigmoid.weight", (features, nodes), paddle_fans(site.shape),
                        _xavier(citation), layout="(classes - 1, features)",
                        note="Paddle's fans read the (nodes, features) weight as (in, out): "
                             "swapped; fan_avg, and so the law, is unchanged")
    if site.local == "bias":
        return _zero_bias("hsigmoid.bias", citation, layout="(classes - 1, 1)")
    return None


def adaptive_softmax(site: Site) -> Role | None:
    """``head_weight`` ``(in, shortlist + clusters)``. Its ``tail_weights`` are created in a
    Python list, not registered: ``parameters()`` does not list them (nor does the walker)."""
    citation = cite("AdaptiveLogSoftmaxWithLoss", "loss.py AdaptiveLogSoftmaxWithLoss.__init__")
    note = ("the tail projections (tail_weights) are a plain Python list of parameters: "
            "Paddle does not register them, so parameters() and state_dict() leave them out")
    if site.local == "head_weight":
        fans = paddle_fans(site.shape)
        return fan_role("linear.weight", fans, fans, _xavier(citation), layout="(in, out)",
                        note=note, doc_note="the page says 'initialized with Xavier'; "
                                            "XavierUniform is from the source")
    if site.local == "head_bias":
        return _zero_bias("linear.bias", citation)
    return None


HANDLERS: dict[str, Handler] = {
    "paddle.nn.Linear": linear,
    "paddle.nn.Bilinear": bilinear,
    **{f"paddle.nn.Conv{rank}D{kind}": conv for kind in ("", "Transpose") for rank in (1, 2, 3)},
    "paddle.nn.Embedding": embedding,
    **{f"paddle.nn.{name}": recurrent_cell for name in GATES},
    **{f"paddle.nn.{name}": recurrent_layer for name in ("SimpleRNN", "LSTM", "GRU")},
    **{f"paddle.nn.{name}": norm for name in (
        "BatchNorm", "SyncBatchNorm", "LayerNorm", "GroupNorm",
        *(f"{kind}{rank}D" for kind in ("BatchNorm", "InstanceNorm") for rank in (1, 2, 3)))},
    "paddle.nn.PReLU": prelu,
    "paddle.nn.SpectralNorm": spectral_norm,
    "paddle.nn.HSigmoidLoss": hsigmoid,
    "paddle.nn.AdaptiveLogSoftmaxWithLoss": adaptive_softmax,
    **{f"paddle.nn.{name}": composite for name in (
        "MultiHeadAttention", "RNN", "BiRNN", "Transformer", "TransformerEncoder",
        "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer")},
}

NOT_COVERED: dict[str, str] = {
    "paddle.nn.Layer": "the base class of every layer: no parameters of its own",
    "paddle.nn.RNNCellBase": "the abstract base of the recurrent cells (SimpleRNNCell, "
                             "LSTMCell, GRUCell are registered)",
    "paddle.nn.ParameterList": "a container of parameters the user creates: no default of its "
                               "own",
    "paddle.nn.ParameterDict": "a container of parameters the user creates: no default of its "
                               "own",
    "paddle.nn.LayerList": "a container of layers: their tensors have their own layers' roles",
    "paddle.nn.LayerDict": "a container of layers: their tensors have their own layers' roles",
    "paddle.nn.Sequential": "a container of layers: their tensors have their own layers' "
                            "roles",
}
"""Public layer classes that hold tensors but have no handler of their own, and why."""

WITHOUT_WEIGHTS: tuple[str, ...] = (
    # activations
    "CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
    "LeakyReLU", "LogSigmoid", "LogSoftmax", "Maxout", "Mish", "RReLU", "ReLU", "ReLU6",
    "SELU", "Sigmoid", "Silu", "Softmax", "Softmax2D", "Softplus", "Softshrink", "Softsign",
    "Swish", "Tanh", "Tanhshrink", "ThresholdedReLU",
    # pooling
    *(f"{kind}{rank}D" for kind in ("AdaptiveAvgPool", "AdaptiveMaxPool", "AvgPool",
                                    "MaxPool", "MaxUnPool") for rank in (1, 2, 3)),
    "FractionalMaxPool2D", "FractionalMaxPool3D", "LPPool1D", "LPPool2D",
    # padding, resampling, reshaping
    *(f"{kind}{rank}D" for kind in ("CircularPad", "ConstantPad", "ReflectionPad",
                                    "ReplicationPad", "ZeroPad", "Pad") for rank in (1, 2, 3)),
    "Upsample", "UpsamplingBilinear2D", "UpsamplingNearest2D", "PixelShuffle",
    "PixelUnshuffle", "ChannelShuffle", "Flatten", "Unflatten", "Fold", "Unfold", "Identity",
    # dropout, distances, normalization without parameters
    "Dropout", "Dropout2D", "Dropout3D", "AlphaDropout", "FeatureAlphaDropout",
    "CosineSimilarity", "PairwiseDistance", "LocalResponseNorm",
    # losses (a class weight is the user's tensor, not a parameter)
    "BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss", "CrossEntropyLoss",
    "GaussianNLLLoss", "HingeEmbeddingLoss", "KLDivLoss", "L1Loss", "MSELoss",
    "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss",
    "NLLLoss", "PoissonNLLLoss", "RNNTLoss", "SmoothL1Loss", "SoftMarginLoss",
    "TripletMarginLoss", "TripletMarginWithDistanceLoss",
)
"""Public ``paddle.nn`` layer classes (by class name) that create no parameter or buffer."""


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "paddle", "(in, out) or (out, in, *kernel)"))


# --- walking and building ------------------------------------------------------------

def _depth(prefix: str) -> int:
    return prefix.count(".") + 1 if prefix else 0


def _owner(names: list[str], layers: dict[str, object]) -> tuple[str, str]:
    """``(prefix, local)`` of the layer whose role a tensor takes: the deepest of the layers
    that hold it inside the first name's layer (an RNN's cell, not the RNN)."""
    root = names[0].rpartition(".")[0]

    def inside(name: str) -> bool:
        prefix = name.rpartition(".")[0]
        return prefix in layers and (not root or prefix == root
                                     or prefix.startswith(root + "."))

    best = max((n for n in names if inside(n)), key=lambda n: _depth(n.rpartition(".")[0]),
               default=names[0])
    prefix, _, local = best.rpartition(".")
    return prefix, local


def walk(model: object) -> list[Param]:
    """Every parameter and buffer of ``model`` once; a tied tensor with all its names (the
    name ``named_parameters()`` gives first)."""
    import paddle

    if not isinstance(model, paddle.nn.Layer):
        raise ValueError(f"api 'paddle' walks a paddle.nn.Layer, got {type(model).__name__}: "
                         "pass the model itself")
    layers = dict(model.named_sublayers(include_self=True, remove_duplicate=False))
    found: dict[int, tuple[list[str], object, bool]] = {}
    for buffer, listing in ((False, model.named_parameters(remove_duplicate=False)),
                            (True, model.named_buffers(remove_duplicate=False))):
        for name, tensor in listing:
            if tensor is None or (buffer and not tensor._is_initialized()):
                continue
            found.setdefault(id(tensor), ([], tensor, buffer))[0].append(name)
    params = []
    for names, tensor, buffer in found.values():
        prefix, local = _owner(names, layers)
        owner = layers[prefix]
        parts = prefix.split(".") if prefix else []
        parents = tuple(layers[".".join(parts[:i])] for i in range(len(parts))
                        if ".".join(parts[:i]) in layers)
        site = Site(owner, local, tuple(int(d) for d in tensor.shape), parents,
                    parts[-1] if parts else "")
        array, dtype = _numpy(tensor)
        trainable = not buffer and bool(getattr(tensor, "trainable", True))
        params.append(Param(names=tuple(names), array=array, dtype=dtype,
                            layer=layer_name(type(owner)), local=local, role=role_of(site),
                            buffer=buffer or not trainable, trainable=trainable))
    return params


def _numpy(tensor: object) -> tuple[object, str]:
    """Values as NumPy (float16 and bfloat16 as float32) and Paddle's dtype name."""
    import paddle

    dtype = str(tensor.dtype)
    if tensor.dtype in (paddle.float16, paddle.bfloat16):
        tensor = tensor.astype("float32")
    array, _ = to_numpy(tensor.numpy())
    return array, dtype


def _layer_class(name: str) -> type:
    """The registered class of the catalog name ``nn.Linear``."""
    import paddle

    cls = getattr(paddle.nn, name.removeprefix("paddle.").removeprefix("nn."), None)
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        raise ValueError(f"paddle layer {name!r} is not in the registry: use nn.<Name> with "
                         f"one of {', '.join(sorted(n.split('.')[-1] for n in HANDLERS))}")
    return cls


def _construct(name: str, kwargs: dict) -> object:
    with contextlib.redirect_stdout(sys.stderr):  # HSigmoidLoss prints on construction
        return _layer_class(name)(**kwargs)


def build(name: str, kwargs: dict) -> object:
    """A layer of the catalog name ``nn.Linear`` built with ``kwargs``; a layer argument
    written ``{"layer": "nn.GRUCell", "kwargs": {...}}`` (``RNN``'s cell, ``BiRNN``'s two, a
    ``TransformerEncoder``'s layer) is built first. What a layer prints while it is built
    goes to stderr (stdout may be a JSON document)."""
    _layer_class(name)  # an unknown name: the registry's message, not a build error
    try:
        return _construct(name, nested_layers(kwargs, _construct))
    except (TypeError, ValueError, AssertionError) as error:
        raise ValueError(f"cannot build paddle {name} with {kwargs}: {error}") from None
