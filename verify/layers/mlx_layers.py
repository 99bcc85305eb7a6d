"""MLX's layer types: roles, semantic fans and documented defaults, and the walker.

Defaults were read in the installed source (``mlx/nn/layers/*.py``, each layer's
``__init__``); MLX computes its scales from constructor arguments, not from a fan helper.
Layouts: ``Linear.weight`` ``(out, in)``, ``ConvNd.weight`` ``(out, *k, in / groups)``,
``ConvTransposeNd.weight`` ``(out, *k, in)``, ``Bilinear.weight`` ``(out, in2, in1)``.
Only ``Linear``, ``Bilinear`` and the norms document their init in the docstring; for the
others ``doc_note`` says the default is from the source.
"""

from __future__ import annotations

import math

from verify.layers.common import (
    Fans,
    Handler,
    Site,
    as_tuple,
    bias_role,
    composite,
    constant_role,
    conv_fans,
    fan_role,
    find_handler,
    inverse_sqrt_uniform,
    public_classes,
    qualified_name,
    to_numpy,
    unknown_role,
    variance_scaling,
)
from verify.layers.records import Param, Role

DOCS = "https://ml-explore.github.io/mlx/build/html/python/nn/_autosummary/mlx.nn.{}.html"
UNDOCUMENTED = "the documentation does not state the init; it is from the source"


def cite(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; mlx/nn/layers/{source}"


def layer_name(cls: type) -> str:
    import mlx.nn

    return qualified_name(cls, [("mlx.nn", mlx.nn)])


def _uniform(citation: str, rule: str):
    return inverse_sqrt_uniform(citation, rule)


def linear(site: Site) -> Role | None:
    out, inputs = (int(d) for d in site.layer.weight.shape)
    fans = (inputs, out)
    citation = cite("Linear", "linear.py Linear.__init__")
    law_of = _uniform(citation, "uniform(-sqrt(1/input_dims), sqrt(1/input_dims))")
    if site.local == "weight":
        return fan_role("linear.weight", fans, fans, law_of, layout="(out, in)")
    if site.local == "bias":
        return bias_role("linear.bias", fans, fans, law_of)
    return None


def sharded_linear(site: Site) -> Role | None:
    """``AllToShardedLinear`` (each of the group's ``N`` members holds ``out / N`` rows,
    ``(out / N, in)``) and ``ShardedToAllLinear`` (``in / N`` columns, ``(out, in / N)``,
    the members' outputs summed): shards of one ``in -> out`` map, whose fans they have.
    Both draw ``U(-sqrt(1/input_dims), sqrt(1/input_dims))`` with the whole map's
    ``input_dims``."""
    layer = site.layer
    name = type(layer).__name__
    members = int(layer.group.size())
    rows, columns = (int(d) for d in layer.weight.shape)
    if name == "ShardedToAllLinear":
        fans, layout = (columns * members, rows), "(out, in / N): the input sharded"
    else:
        fans, layout = (columns, rows * members), "(out / N, in): the output sharded"
    citation = cite(name, f"distributed.py {name}.__init__")
    law_of = _uniform(citation, "uniform(-sqrt(1/input_dims), sqrt(1/input_dims)), "
                                "input_dims of the whole map")
    note = f"a shard (group of {members}) of the {fans[0]} -> {fans[1]} map: its fans"
    if site.local == "weight":
        return fan_role("linear.weight", fans, fans, law_of, layout=layout, note=note,
                        doc_note=UNDOCUMENTED)
    if site.local == "bias":
        return bias_role("linear.bias", fans, fans, law_of, note=note, doc_note=UNDOCUMENTED)
    return None


def qq_linear(site: Site) -> Role | None:
    """``QQLinear`` keeps its ``(out, in)`` weight in float while training (the default
    mode), drawn as ``Linear``'s; ``eval()`` quantizes it in place (``nvfp4`` or ``mxfp8``:
    packed integers and scales, no law of the families)."""
    import mlx.core as mx

    layer = site.layer
    citation = cite("QQLinear", "quantized.py QQLinear.__init__")
    if site.local == "scales":
        return Role(role="quantized.scales", random=False,
                    note="the quantization's scales (eval mode): derived from the weight")
    if site.local != "weight":
        return None
    out, stored = (int(d) for d in layer.weight.shape)
    if layer.weight.dtype == mx.uint32:
        inputs = stored * 32 // int(layer.bits)
        return Role(role="linear.weight", fan_in=inputs, fan_out=out,
                    layout=f"(out, in) packed {layer.bits}-bit ({layer.mode})",
                    note="quantized in place (eval mode): packed integers, no law to check")
    fans = (stored, out)
    return fan_role("linear.weight", fans, fans,
                    _uniform(citation, "uniform(-sqrt(1/input_dims), sqrt(1/input_dims)), "
                                       "kept in float in train mode"),
                    layout="(out, in)", doc_note=UNDOCUMENTED)


def bilinear(site: Site) -> Role | None:
    """``(out, in2, in1)``; the semantic fan-in counts the ``in1 * in2`` products of one
    output, MLX's bound uses ``input1_dims`` alone."""
    out, in2, in1 = (int(d) for d in site.layer.weight.shape)
    semantic, framework = (in1 * in2, out), (in1, out)
    citation = cite("Bilinear", "linear.py Bilinear.__init__")
    law_of = _uniform(citation, "uniform(-sqrt(1/input1_dims), sqrt(1/input1_dims))")
    if site.local == "weight":
        return fan_role("bilinear.weight", semantic, framework, law_of,
                        layout="(out, in2, in1)")
    if site.local == "bias":
        return bias_role("bilinear.bias", semantic, framework, law_of)
    return None


def conv(site: Site) -> Role | None:
    layer = site.layer
    shape = tuple(int(d) for d in layer.weight.shape)
    name = type(layer).__name__
    transposed = "Transpose" in name
    kernel, rank = shape[1:-1], len(shape) - 2
    groups = int(getattr(layer, "groups", 1) or 1)
    out, stored_in = shape[0], shape[-1]
    strides = as_tuple(getattr(layer, "stride", 1), rank)
    source = "convolution_transpose.py" if transposed else "convolution.py"
    citation = cite(name, f"{source} {name}.__init__")
    if site.local == "bias":
        return constant_role("conv_transpose.bias" if transposed else "conv.bias", 0.0,
                             citation, "zeros", doc_note=UNDOCUMENTED)
    if site.local != "weight":
        return None
    semantic, note = conv_fans(stored_in, out // groups, kernel, strides,
                               transposed=transposed)
    framework: Fans = (stored_in * math.prod(kernel), semantic[1])
    rule = ("uniform(-sqrt(1/(in_channels * prod(k))), ...)" if transposed
            else "uniform(-sqrt(1/(in_channels / groups * prod(k))), ...)")
    return fan_role("conv_transpose.weight" if transposed else "conv.weight", semantic,
                    framework, _uniform(citation, rule),
                    layout="(out, *kernel, in)" if transposed else "(out, *kernel, in / groups)",
                    note=note, doc_note=UNDOCUMENTED)


def embedding(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    dims = int(site.shape[-1])
    citation = cite("Embedding", "embedding.py Embedding.__init__")
    law_of = variance_scaling(1.0, "fan_in", "normal", citation,
                              "normal(scale=sqrt(1/dims))")
    return fan_role("embedding.weight", (1, dims), (dims, dims), law_of,
                    layout="(num_embeddings, dims)", doc_note=UNDOCUMENTED,
                    note="a row lookup: semantic fan_in 1; MLX scales by 1/sqrt(dims)")


RECURRENT = {"RNN": {"Wxh": ("weight_ih", 1, "ih"), "Whh": ("weight_hh", 1, "hh"),
                     "bias": ("bias", 1, "ih")},
             "GRU": {"Wx": ("weight_ih", 3, "ih"), "Wh": ("weight_hh", 3, "hh"),
                     "b": ("bias", 3, "ih"), "bhn": ("bias_hn", 1, "hh")},
             "LSTM": {"Wx": ("weight_ih", 4, "ih"), "Wh": ("weight_hh", 4, "hh"),
                      "bias": ("bias", 4, "ih")}}
"""Per layer, local name -> (role, gates stacked, the map whose fans its law stands for)."""


def recurrent(site: Site) -> Role | None:
    """Every tensor ``U(-1/sqrt(hidden), 1/sqrt(hidden))``; gates stacked along axis 0.
    Semantic fans per gate: input-to-hidden ``(input, hidden)``, hidden-to-hidden
    ``(hidden, hidden)``; a bias follows its map (MLX's law stands for a fan-in of
    ``hidden`` in all)."""
    layer = site.layer
    name = type(layer).__name__
    known = RECURRENT.get(name, {})
    if site.local not in known:
        return None
    which, gates, of = known[site.local]
    hidden = int(layer.hidden_size)
    input_size = int((layer.Wxh if name == "RNN" else layer.Wx).shape[1])
    semantic = (input_size, hidden) if of == "ih" else (hidden, hidden)
    citation = cite(name, f"recurrent.py {name}.__init__")
    law_of = _uniform(citation, "uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size))")
    if which.startswith("bias"):
        return bias_role(f"recurrent.{which}", semantic, (hidden, hidden), law_of,
                         blocks=gates, doc_note=UNDOCUMENTED)
    return fan_role(f"recurrent.{which}", semantic, (hidden, hidden), law_of, blocks=gates,
                    block_axis=0, layout=f"({gates} gates * hidden, in)" if gates > 1
                    else "(hidden, in)", doc_note=UNDOCUMENTED)


NORM_CONSTANTS = {"weight": ("norm.scale", 1.0), "bias": ("norm.bias", 0.0),
                  "running_mean": ("norm.running_mean", 0.0),
                  "running_var": ("norm.running_var", 1.0)}


def norm(site: Site) -> Role | None:
    if site.local not in NORM_CONSTANTS:
        return None
    name = type(site.layer).__name__
    role, value = NORM_CONSTANTS[site.local]
    return constant_role(role, value, cite(name, f"normalization.py {name}.__init__"),
                         "ones" if value else "zeros")


def prelu(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    return constant_role("prelu.weight", 0.25, cite("PReLU", "activations.py PReLU.__init__"),
                         "full(init=0.25) (the documented default of the init argument)")


HANDLERS: dict[str, Handler] = {
    "mlx.nn.Linear": linear,
    "mlx.nn.Bilinear": bilinear,
    **{f"mlx.nn.{kind}{rank}d": conv for kind in ("Conv", "ConvTranspose")
       for rank in (1, 2, 3)},
    "mlx.nn.Embedding": embedding,
    **{f"mlx.nn.{name}": recurrent for name in RECURRENT},
    **{f"mlx.nn.{name}": norm for name in ("LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm",
                                           "InstanceNorm")},
    "mlx.nn.PReLU": prelu,
    **{f"mlx.nn.{name}": composite for name in (
        "MultiHeadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
        "TransformerEncoder", "TransformerDecoder", "Transformer")},
    "mlx.nn.AllToShardedLinear": sharded_linear,
    "mlx.nn.ShardedToAllLinear": sharded_linear,
    "mlx.nn.QQLinear": qq_linear,
}


def _names(reason: str, *names: str) -> dict[str, str]:
    return dict.fromkeys((f"mlx.nn.{name}" for name in names), reason)


WITHOUT_WEIGHTS: dict[str, str] = {
    **_names("an activation without parameters", "CELU", "ELU", "GELU", "GLU", "HardShrink",
             "HardTanh", "Hardswish", "LeakyReLU", "LogSigmoid", "LogSoftmax", "Mish", "ReLU",
             "ReLU2", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax", "Softmin", "Softplus",
             "Softshrink", "Softsign", "Step", "Tanh"),
    **_names("pooling: no parameters", *(f"{kind}Pool{rank}d" for kind in ("Avg", "Max")
                                         for rank in (1, 2, 3))),
    **_names("dropout: a random mask drawn at call time, no parameters", "Dropout",
             "Dropout2d", "Dropout3d"),
    **_names("a positional encoding computed at call time (SinusoidalPositionalEncoding's "
             "frequencies are a private attribute, not a parameter)", "ALiBi", "RoPE",
             "SinusoidalPositionalEncoding"),
    **_names("resamples or passes its input: no parameters", "Upsample", "Identity"),
    **_names("a container or the base class: no parameters of its own, the modules it "
             "holds are walked with their own types", "Module", "Sequential"),
}
"""Public ``mlx.nn`` module classes without arrays of their own, and why
(``tests/test_layer_introspection.py`` builds each it can and checks)."""

NOT_COVERED: dict[str, str] = {
    **_names("quantized weights: packed integers with per-group scales and biases "
             "(mx.quantize of a Linear's or an Embedding's draw), not a law of the "
             "families; a float bias, where there is one, is not checked either",
             "QuantizedLinear", "QuantizedEmbedding", "QuantizedAllToShardedLinear",
             "QuantizedShardedToAllLinear"),
    "mlx.nn.FullyShardedModule": "a wrapper whose module's parameters are replaced by 1-D "
                                 "shards across the group: the wrapped layer's handler would "
                                 "read fans from a shard's shape",
}
"""Public ``mlx.nn`` module classes with arrays but no handler, and why."""


def public_layer_classes() -> dict[str, type]:
    """Every public ``mlx.nn`` class that subclasses ``mlx.nn.Module``, by registry name."""
    import mlx.nn

    return public_classes(mlx.nn, mlx.nn.Module, layer_name)


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "ohwi", "(out, *kernel, in)"))


def walk(model: object) -> list[Param]:
    import mlx.nn
    from mlx.utils import tree_flatten

    if not isinstance(model, mlx.nn.Module):
        raise ValueError(f"api 'mlx' walks an mlx.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    trainable = {name for name, _ in tree_flatten(model.trainable_parameters())}
    found: dict[int, tuple[object, list[str]]] = {}
    for name, value in tree_flatten(model.parameters()):
        found.setdefault(id(value), (value, []))[1].append(name)
    params = []
    for value, names in found.values():
        parts = names[0].split(".")
        cut = max(i for i in range(len(parts)) if ".".join(parts[:i]) in modules)
        owner = modules[".".join(parts[:cut])]
        parents = tuple(modules[".".join(parts[:i])] for i in range(cut)
                        if ".".join(parts[:i]) in modules)
        local = ".".join(parts[cut:])
        array, dtype = to_numpy(value)
        site = Site(owner, local, tuple(array.shape), parents, parts[cut - 1] if cut else "")
        is_trainable = names[0] in trainable
        params.append(Param(names=tuple(names), array=array, dtype=dtype,
                            layer=layer_name(type(owner)), local=local, role=role_of(site),
                            buffer=local.startswith("running_"), trainable=is_trainable))
    return params


def build(name: str, kwargs: dict) -> object:
    import mlx.nn

    short = name.removeprefix("mlx.").removeprefix("nn.")
    cls = getattr(mlx.nn, short, None)
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        raise ValueError(f"mlx layer {name!r} is not in the registry: use nn.<Name> with one "
                         f"of {', '.join(sorted(n.split('.')[-1] for n in HANDLERS))}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build mlx {short} with {kwargs}: {error}") from None
