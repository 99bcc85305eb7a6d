"""PyTorch's layer types: roles, semantic fans and documented defaults, and the walker.

Every default below was read in the installed source (``torch/nn/modules/*.py``, the
layer's ``reset_parameters``) and is cited with its documentation page. PyTorch stores a
dense weight ``(out, in)``, a convolution's ``(out, in / groups, *k)`` and a transposed
convolution's ``(in, out / groups, *k)``; its fan helper
``torch.nn.init._calculate_fan_in_and_fan_out`` reads ``fan_in = size(1) * prod(k)``
and ``fan_out = size(0) * prod(k)`` whatever the layer.

Context the walker passes (``Site.parents``):

* ``nn.MultiheadAttention._reset_parameters`` sets ``in_proj_bias`` *and*
  ``out_proj.bias`` to zero; ``out_proj.weight`` keeps ``nn.Linear``'s default;
* ``nn.Transformer._reset_parameters`` redraws every parameter of more than one dimension
  with ``xavier_uniform_`` (on the stored shape), over whatever its children drew.
"""

from __future__ import annotations

import re
from dataclasses import replace

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
    inverse_sqrt_uniform,
    nested_layers,
    normal_law,
    public_classes,
    qualified_name,
    shape_fans,
    to_numpy,
    unknown_role,
    variance_scaling,
)
from verify.layers.records import Param, Role

DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}.html"
INIT_DOCS = "https://pytorch.org/docs/stable/nn.init.html"
KAIMING_RULE = ("kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), "
                "fan_in = size(1) * prod(kernel)")
BIAS_RULE = "uniform_(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in of the weight"


def cite(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; torch/nn/modules/{source}"


def torch_fans(shape: tuple[int, ...]) -> Fans:
    """The fans PyTorch's init helper reads from a stored shape (``oihw``)."""
    return shape_fans(shape, "oihw")


def layer_name(cls: type) -> str:
    import torch

    return qualified_name(cls, [("torch.nn", torch.nn)])


# --- dense ---------------------------------------------------------------------------

def linear(site: Site) -> Role | None:
    layer = site.layer
    semantic = (layer.in_features, layer.out_features)
    citation = cite("Linear", "linear.py Linear.reset_parameters")
    if site.local == "weight":
        return fan_role("linear.weight", semantic, semantic,
                        inverse_sqrt_uniform(citation, KAIMING_RULE), layout="(out, in)")
    if site.local == "bias":
        return bias_role("linear.bias", semantic, semantic,
                         inverse_sqrt_uniform(citation, BIAS_RULE))
    return None


def bilinear(site: Site) -> Role | None:
    """``y_k = x1^T W_k x2 + b_k``: an output sums ``in1 * in2`` products, so its semantic
    fan-in is ``in1 * in2``; PyTorch's bound uses ``in1`` (``weight.size(1)``) alone."""
    layer = site.layer
    in1, in2, out = layer.in1_features, layer.in2_features, layer.out_features
    semantic, framework = (in1 * in2, out), (in1, out)
    citation = cite("Bilinear", "linear.py Bilinear.reset_parameters")
    rule = "uniform_(-1/sqrt(in1_features), 1/sqrt(in1_features))"
    law_of = inverse_sqrt_uniform(citation, rule)
    note = "semantic fan_in counts the in1 * in2 products x1_i x2_j of one output"
    if site.local == "weight":
        return fan_role("bilinear.weight", semantic, framework, law_of,
                        layout="(out, in1, in2)", note=note)
    if site.local == "bias":
        return bias_role("bilinear.bias", semantic, framework, law_of, note=note)
    return None


def hf_conv1d(site: Site) -> Role | None:
    """``transformers.pytorch_utils.Conv1D``: a dense layer stored ``(in, out)``."""
    nx, nf = site.layer.nx, site.layer.nf
    citation = ("https://huggingface.co/docs/transformers/main_classes/model ; "
                "transformers/pytorch_utils.py Conv1D.__init__")
    doc_note = "the docstring does not state the init; normal_(std=0.02) is from the source"
    if site.local == "weight":
        return fan_role("linear.weight", (nx, nf), None,
                        law=normal_law(0.02, citation, "normal_(weight, std=0.02)"),
                        layout="(in, out)", doc_note=doc_note,
                        note="torch.nn.init's fan helpers read this (in, out) layout as "
                             "(out, in): fans swapped")
    if site.local == "bias":
        return constant_role("linear.bias", 0.0, citation, "torch.zeros(nf)",
                             doc_note=doc_note)
    return None


# --- convolutions ----------------------------------------------------------------------

def conv(site: Site) -> Role | None:
    layer = site.layer
    groups, kernel, stride = layer.groups, tuple(layer.kernel_size), tuple(layer.stride)
    transposed = bool(layer.transposed)
    kind = "conv_transpose" if transposed else "conv"
    citation = cite(type(layer).__name__, "conv.py _ConvNd.reset_parameters")
    semantic, note = conv_fans(layer.in_channels // groups, layer.out_channels // groups,
                               kernel, stride, transposed=transposed)
    weight_shape = tuple(layer.weight.shape)
    framework = torch_fans(weight_shape)
    layout = "(in, out / groups, *kernel)" if transposed else "(out, in / groups, *kernel)"
    if transposed:
        note = "; ".join(filter(None, [
            "PyTorch's fan_in is size(1) * prod(k) = (out / groups) * prod(k), "
            "the transposed map's fan-out", note]))
    if site.local == "weight":
        return fan_role(f"{kind}.weight", semantic, framework,
                        inverse_sqrt_uniform(citation, KAIMING_RULE), layout=layout, note=note)
    if site.local == "bias":
        return bias_role(f"{kind}.bias", semantic, framework,
                         inverse_sqrt_uniform(citation, BIAS_RULE), note=note)
    return None


# --- attention -------------------------------------------------------------------------

def multihead_attention(site: Site) -> Role | None:
    layer, local = site.layer, site.local
    embed = layer.embed_dim
    citation = cite("MultiheadAttention", "activation.py MultiheadAttention._reset_parameters")
    glorot = variance_scaling(1.0, "fan_avg", "uniform", citation,
                              "xavier_uniform_: U(-a, a), a = sqrt(6 / (fan_in + fan_out))")
    doc_note = "the documentation page does not state the init; it is from the source"
    shape = tuple(site.shape)
    if local == "in_proj_weight":
        return fan_role("attention.in_proj.weight", (embed, embed), torch_fans(shape), glorot,
                        layout="(3 * embed, embed): q, k, v stacked", blocks=3, block_axis=0,
                        doc_note=doc_note,
                        note="xavier_uniform_ on the packed (3E, E) tensor reads fans (E, 3E)")
    projections = {"q_proj_weight": ("query", embed), "k_proj_weight": ("key", layer.kdim),
                   "v_proj_weight": ("value", layer.vdim)}
    if local in projections:
        which, width = projections[local]
        return fan_role(f"attention.{which}.weight", (width, embed), torch_fans(shape), glorot,
                        layout="(embed, in)", doc_note=doc_note)
    if local == "in_proj_bias":
        return constant_role("attention.in_proj.bias", 0.0, citation, "constant_(0.0)",
                             blocks=3, doc_note=doc_note)
    if local in ("bias_k", "bias_v"):
        law = variance_scaling(1.0, "fan_avg", "normal", citation,
                               "xavier_normal_: N(0, 2 / (fan_in + fan_out)) on (1, 1, E)")
        return fan_role(f"attention.{local}", None, torch_fans(shape), law, layout="(1, 1, E)",
                        doc_note=doc_note,
                        note="an appended key/value row, not a map: no semantic fans")
    return None


def _inside_attention(site: Site) -> Role | None:
    import torch

    parent = site.parent
    if not isinstance(parent, torch.nn.MultiheadAttention) or parent.out_proj is not site.layer:
        return None
    citation = cite("MultiheadAttention", "activation.py MultiheadAttention._reset_parameters")
    if site.local == "bias":
        return constant_role("attention.out_proj.bias", 0.0, citation,
                             "constant_(out_proj.bias, 0.0)",
                             note="MultiheadAttention zeroes out_proj.bias over nn.Linear's "
                                  "default")
    if site.local == "weight":
        return replace(linear(site), role="attention.out_proj.weight",
                       note="MultiheadAttention leaves out_proj.weight at nn.Linear's default")
    return None


# --- recurrent -------------------------------------------------------------------------

RECURRENT_NAME = re.compile(r"^(weight|bias)_(ih|hh|hr)(?:_l(\d+))?(_reverse)?$")
GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def recurrent(site: Site) -> Role | None:
    """``nn.RNN/LSTM/GRU`` and their cells: every tensor ``U(-1/sqrt(hidden),
    1/sqrt(hidden))``. Semantic fans per gate: ``weight_ih`` ``(input, hidden)``,
    ``weight_hh`` ``(hidden or proj_size, hidden)``, ``weight_hr`` ``(hidden, proj_size)``;
    PyTorch's law stands for a fan-in of ``hidden_size`` in every one (its fan_out is
    reported equal to the semantic one: the law does not use it)."""
    import torch

    layer = site.layer
    match = RECURRENT_NAME.match(site.local)
    if match is None:
        return None
    kind, which, index, _ = match.groups()
    hidden = layer.hidden_size
    if isinstance(layer, torch.nn.RNNCellBase):
        gates = {torch.nn.LSTMCell: 4, torch.nn.GRUCell: 3}.get(type(layer), 1)
        page, real_hidden, layer_input = type(layer).__name__, hidden, layer.input_size
    else:
        gates = GATES[layer.mode]
        page = {"LSTM": "LSTM", "GRU": "GRU"}.get(layer.mode, "RNN")
        real_hidden = layer.proj_size or hidden
        directions = 2 if layer.bidirectional else 1
        layer_input = layer.input_size if int(index or 0) == 0 else real_hidden * directions
    citation = cite(page, "rnn.py reset_parameters")
    law_of = inverse_sqrt_uniform(citation, "uniform_(-1/sqrt(hidden_size), "
                                            "1/sqrt(hidden_size)) for every tensor")
    if which == "hr":
        semantic = (hidden, real_hidden)
        blocks = 1
    else:
        semantic = (layer_input if which == "ih" else real_hidden, hidden)
        blocks = gates
    framework = (hidden, semantic[1])
    role = f"recurrent.{kind}_{which}"
    if kind == "weight":
        return fan_role(role, semantic, framework, law_of, blocks=blocks, block_axis=0,
                        layout=f"({blocks} gates * hidden, in)" if blocks > 1 else "(out, in)")
    return bias_role(role, semantic, framework, law_of, blocks=blocks)


# --- embeddings, norms, activations --------------------------------------------------

EMBEDDING_NOTE = ("a row lookup: an output unit reads one entry (a one-hot input), so the "
                  "semantic fan_in is 1 and the fan_out the embedding width")


def embedding(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    layer = site.layer
    page = type(layer).__name__
    citation = cite(page, "sparse.py reset_parameters")
    padding = layer.padding_idx
    rows = () if padding is None else (int(padding) % layer.num_embeddings,)
    kind = "embedding_bag" if page == "EmbeddingBag" else "embedding"
    return fan_role(f"{kind}.weight", (1, layer.embedding_dim), None,
                    law=normal_law(1.0, citation, "normal_(weight): N(0, 1); "
                                                  "row padding_idx filled with 0"),
                    layout="(num_embeddings, embedding_dim)", zero_rows=rows,
                    note=EMBEDDING_NOTE + ("; padding_idx row is zero" if rows else ""))


NORM_PAGES = {"LayerNorm": "normalization.py", "RMSNorm": "normalization.py",
              "GroupNorm": "normalization.py"}


def norm(site: Site) -> Role | None:
    layer = site.layer
    page = type(layer).__name__
    source = NORM_PAGES.get(page, "batchnorm.py") + " reset_parameters"
    citation = cite(page, source)
    constants = {"weight": ("norm.scale", 1.0, "ones_"), "bias": ("norm.bias", 0.0, "zeros_"),
                 "running_mean": ("norm.running_mean", 0.0, "zero_"),
                 "running_var": ("norm.running_var", 1.0, "fill_(1)"),
                 "num_batches_tracked": ("norm.num_batches_tracked", 0.0, "zero_")}
    if site.local not in constants:
        return None
    role, value, rule = constants[site.local]
    return constant_role(role, value, citation, rule)


def prelu(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    return constant_role("prelu.weight", 0.25, cite("PReLU", "activation.py PReLU.__init__"),
                         "constant init=0.25 (the documented default of the init argument)")


# --- the registry ------------------------------------------------------------------------

HANDLERS: dict[str, Handler] = {
    "torch.nn.Linear": linear,
    "torch.nn.LazyLinear": linear,
    "torch.nn.Bilinear": bilinear,
    "transformers.pytorch_utils.Conv1D": hf_conv1d,
    **{f"torch.nn.{kind}{rank}d": conv for kind in ("Conv", "ConvTranspose", "LazyConv",
                                                    "LazyConvTranspose") for rank in (1, 2, 3)},
    "torch.nn.MultiheadAttention": multihead_attention,
    **{f"torch.nn.{name}": recurrent for name in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell",
                                                 "GRUCell")},
    "torch.nn.Embedding": embedding,
    "torch.nn.EmbeddingBag": embedding,
    **{f"torch.nn.{name}": norm for name in (
        "LayerNorm", "RMSNorm", "GroupNorm", "SyncBatchNorm",
        *(f"{kind}{rank}d" for kind in ("BatchNorm", "InstanceNorm", "LazyBatchNorm",
                                        "LazyInstanceNorm") for rank in (1, 2, 3)))},
    "torch.nn.PReLU": prelu,
    **{f"torch.nn.{name}": composite for name in (
        "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
        "TransformerDecoderLayer")},
    # RNN, LSTM and GRU's documented base, built directly with a mode ("LSTM", "GRU",
    # "RNN_TANH", "RNN_RELU"): RNNBase.reset_parameters draws as they do
    "torch.nn.RNNBase": recurrent,
    # nn.Linear children with their own default: the head, and each cluster's two
    # projections (AdaptiveLogSoftmaxWithLoss.__init__); the loss's (C * prod(d), in) map
    "torch.nn.AdaptiveLogSoftmaxWithLoss": composite,
    "torch.nn.LinearCrossEntropyLoss": composite,
}


def _names(reason: str, *names: str) -> dict[str, str]:
    return dict.fromkeys((f"torch.nn.{name}" for name in names), reason)


WITHOUT_WEIGHTS: dict[str, str] = {
    **_names("an activation without parameters", "CELU", "ELU", "GELU", "GLU", "Hardshrink",
             "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid", "LogSoftmax",
             "Mish", "RReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax",
             "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanh",
             "Tanhshrink", "Threshold"),
    **_names("pooling: no parameters", *(f"{kind}{rank}d" for kind in (
        "AdaptiveAvgPool", "AdaptiveMaxPool", "AvgPool", "LPPool", "MaxPool", "MaxUnpool")
        for rank in (1, 2, 3)), "FractionalMaxPool2d", "FractionalMaxPool3d"),
    **_names("dropout: a random mask drawn at call time, no parameters", "AlphaDropout",
             "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"),
    **_names("a loss without parameters (a class weight, where given, is the user's own "
             "tensor, a buffer)", "BCELoss", "BCEWithLogitsLoss", "CTCLoss",
             "CosineEmbeddingLoss", "CrossEntropyLoss", "GaussianNLLLoss",
             "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
             "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
             "MultiMarginLoss", "NLLLoss", "NLLLoss2d", "PoissonNLLLoss", "SmoothL1Loss",
             "SoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss"),
    **_names("padding: no parameters", *(f"{kind}Pad{rank}d" for kind in (
        "Circular", "Constant", "Reflection", "Replication", "Zero") for rank in (1, 2, 3))),
    **_names("reshapes, shuffles or resamples its input: no parameters", "ChannelShuffle",
             "Flatten", "Unflatten", "Fold", "Unfold", "PixelShuffle", "PixelUnshuffle",
             "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d", "Identity"),
    **_names("a distance between its inputs: no parameters", "CosineSimilarity",
             "PairwiseDistance"),
    **_names("local response normalization: a fixed formula, no parameters",
             "CrossMapLRN2d", "LocalResponseNorm"),
    **_names("a container or the base class: no parameters of its own, the modules it "
             "holds are walked with their own types", "Module", "Container", "Sequential",
             "ModuleList", "ModuleDict"),
    **_names("a wrapper: no parameters of its own, the module it wraps is walked",
             "DataParallel"),
}
"""Public ``torch.nn`` module classes without parameters or buffers of their own, and why
(``tests/test_layer_introspection.py`` builds each it can and checks)."""

NOT_COVERED: dict[str, str] = {
    **_names("holds the user's own parameters (no layer, no default law): walked as "
             "unknown tensors, fans guessed from the shape", "ParameterList",
             "ParameterDict"),
    "torch.nn.RNNCellBase": "the undocumented base (no page in the torch.nn reference) of "
                            "RNNCell, LSTMCell and GRUCell, which are registered",
}
"""Public ``torch.nn`` module classes that have (or can hold) parameters but no handler,
and why."""


def public_layer_classes() -> dict[str, type]:
    """Every public ``torch.nn`` class that subclasses ``torch.nn.Module``, by registry
    name."""
    import torch

    return public_classes(torch.nn, torch.nn.Module, layer_name)


def _in_transformer(site: Site, role: Role) -> Role:
    """``nn.Transformer`` redraws its parameters of two or more dimensions."""
    import torch

    if len(site.shape) < 2 or not any(isinstance(p, torch.nn.Transformer)
                                      for p in site.parents):
        return role
    citation = cite("Transformer", "transformer.py Transformer._reset_parameters")
    law_of = variance_scaling(1.0, "fan_avg", "uniform", citation,
                              "xavier_uniform_ on every parameter with dim > 1")
    rebuilt = fan_role(role.role, role.semantic_fans, torch_fans(tuple(site.shape)), law_of)
    return replace(role, framework_fans=rebuilt.framework_fans, default=rebuilt.default,
                   semantic_default=rebuilt.semantic_default,
                   note="; ".join(filter(None, [role.note, "nn.Transformer redraws it with "
                                                "xavier_uniform_ over the layer's default"])),
                   doc_note="the nn.Transformer page does not state this redraw; it is from "
                            "the source")


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    role = (_inside_attention(site) or (handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "oihw", "(out, in, *kernel)"))
    return _in_transformer(site, role)


# --- walking and building ------------------------------------------------------------

def walk(model: object) -> list[Param]:
    """Every parameter and buffer of ``model`` once; a tied tensor with all its names."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"api 'torch' walks a torch.nn.Module, got {type(model).__name__}: "
                         "pass the model itself")
    modules = dict(model.named_modules(remove_duplicate=False))
    found: dict[int, tuple[list[str], object, bool]] = {}
    for buffer, listing in ((False, model.named_parameters(remove_duplicate=False)),
                            (True, model.named_buffers(remove_duplicate=False))):
        for name, tensor in listing:
            if tensor is None:
                continue
            entry = found.setdefault(id(tensor), ([], tensor, buffer))
            entry[0].append(name)
    params = []
    for names, tensor, buffer in found.values():
        prefix, _, local = names[0].rpartition(".")
        owner = modules[prefix]
        parts = prefix.split(".") if prefix else []
        parents = tuple(modules[".".join(parts[:i])] for i in range(len(parts)))
        site = Site(owner, local, tuple(tensor.shape), parents, parts[-1] if parts else "")
        array, dtype = to_numpy(tensor)
        params.append(Param(names=tuple(names), array=array, dtype=dtype,
                            layer=layer_name(type(owner)), local=local, role=role_of(site),
                            buffer=buffer, trainable=bool(tensor.requires_grad) and not buffer))
    return params


def _layer_class(name: str) -> type:
    """The registered class of the catalog name ``nn.Linear`` (or a dotted path such as
    ``transformers.pytorch_utils.Conv1D``)."""
    import importlib

    import torch

    if name.startswith("nn."):
        cls = getattr(torch.nn, name[3:], None)
    else:
        module, _, attribute = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attribute, None) if module else None
        except ImportError:
            cls = None
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        raise ValueError(f"torch layer {name!r} is not in the registry: use one of "
                         f"{', '.join(sorted(HANDLERS))} (as nn.Name)")
    return cls


def _construct(name: str, kwargs: dict) -> object:
    return _layer_class(name)(**kwargs)


def build(name: str, kwargs: dict) -> object:
    """A module of the catalog name ``nn.Linear`` (or ``transformers.pytorch_utils.Conv1D``)
    built with ``kwargs``. A layer argument written ``{"layer": "nn.TransformerEncoderLayer",
    "kwargs": {...}}`` is built first. A lazy module (``nn.LazyLinear``) creates its
    parameters on one call, in eval mode (running statistics untouched), on zeros of
    ``kwargs["input_shape"]``."""
    import torch

    cls = _layer_class(name)
    input_shape = kwargs.pop("input_shape", None)
    try:
        module = cls(**nested_layers(kwargs, _construct))
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"cannot build torch {name} with {kwargs}: {error}") from None
    if isinstance(module, torch.nn.modules.lazy.LazyModuleMixin) \
            and module.has_uninitialized_params():
        if input_shape is None:
            raise ValueError(f"torch {name} is lazy: give kwargs['input_shape'] (with the "
                             "batch axis), the shape of the input that creates its parameters")
        training = module.training
        try:
            with torch.no_grad():
                module.eval()(torch.zeros(tuple(input_shape)))
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"cannot call torch {name} on an input of shape "
                             f"{tuple(input_shape)}: {error}") from None
        module.train(training)
    return module
