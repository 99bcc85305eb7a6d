"""Haiku's layer types (``haiku`` and ``haiku.nets``): roles, semantic fans and defaults,
and the walker.

Defaults were read in the installed source (``haiku/_src/*.py``) and cited with the API
page. The layers' weight default is ``hk.initializers.TruncatedNormal(stddev=1 /
sqrt(fan_in))``, whose ``stddev`` is that of the normal *before* truncation at two of
them (so the variance is ``0.7737 / fan_in``), with the fan-in computed in the layer from
its input: ``Linear`` the input size, ``ConvND`` ``prod(w_shape[:-1])``, ``ConvNDTranspose``
``prod(kernel_shape) * input_channels``, ``DepthwiseConvND`` ``prod(kernel_shape)``.
Biases, offsets and statistics are zeros, scales ones. Only ``hk.Linear`` documents the
scale of its default; the convolutions document "truncated normal" without one (their
``doc_note`` says so).

A tensor's default is Haiku's default even where the module was built with its own
``w_init`` / ``b_init`` (its role's note says so): the audit then measures it as the
model's own scheme, as for the other frameworks. ``MultiHeadAttention`` has no default
(``w_init`` must be given), so the kernels of its ``Linear`` children have none either.

Layouts (``hwio``): ``Linear.w`` ``(in, out)``, ``ConvND.w`` ``(*k, in / groups, out)``,
``ConvNDTranspose.w`` ``(*k, out, in)``, ``DepthwiseConvND.w`` ``(*k, 1, multiplier *
in)``, ``GRU.w_i`` ``(in, 3 * hidden)``, the ``Linear`` of ``LSTM`` ``(in + hidden, 4 *
hidden)``, gates stacked on the last axis.

The walker takes what ``hk.transform_with_state(forward_fn).init`` returns: ``(forward_fn,
params, state, *example_inputs)`` (the layer of each module path then comes from one
traced call of ``apply`` under ``hk.intercept_methods``, with the module's own attributes:
strides, groups, initializers), or a bare ``params`` mapping (layer types then come from
Haiku's automatic module names, ``conv2_d_1`` -> ``hk.Conv2D``, with the class defaults).
Tensors are named ``module/path/param`` (``mlp/~/linear_0/w``); state entries are buffers.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from verify.laws import TensorLaw
from verify.layers.common import (
    Fans,
    Handler,
    LawOf,
    Site,
    as_tuple,
    composite,
    constant_law,
    conv_fans,
    fan_role,
    find_handler,
    is_nested_layer,
    normal_law,
    public_classes,
    qualified_name,
    to_numpy,
    unknown_role,
    variance_scaling,
)
from verify.layers.records import Param, Role

DOCS = "https://dm-haiku.readthedocs.io/en/latest/api.html#haiku.{}"
UNDOCUMENTED = "the documentation does not state the init; it is from the source"
UNSCALED = ("the docstring says 'By default, truncated normal.' without a scale; the "
            "scale is from the source")

WITHOUT_WEIGHTS: dict[str, str] = {
    "haiku.AvgPool": "a pooling window: no parameters",
    "haiku.MaxPool": "a pooling window: no parameters",
    "haiku.Flatten": "a reshape: no parameters",
    "haiku.Reshape": "a reshape: no parameters",
    "haiku.IdentityCore": "an RNN core that returns its input: no parameters",
}
"""Public Haiku module classes that create no parameters or state, and why."""

NOT_COVERED: dict[str, str] = {
    "haiku.Module": "the abstract base of every module",
    "haiku.RNNCore": "the abstract base of the recurrent cores",
    **{f"haiku.nets.{name}": "a whole network made of registered layers (Conv2D, BatchNorm, "
                             "Linear), which own all its parameters; audit it as a model "
                             "(a --api haiku builder)"
       for name in ("ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
                    "ResNet200", "MobileNetV1")},
}
"""Public Haiku module classes that can hold parameters but have no handler, and why."""


def cite(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; haiku/_src/{source}"


def layer_name(cls: type) -> str:
    import haiku as hk

    return qualified_name(cls, [("haiku", hk), ("haiku.nets", hk.nets)])


# --- laws ----------------------------------------------------------------------------

def haiku_fans(shape: tuple[int, ...], fan_in_axes: tuple[int, ...] | None = None) -> Fans:
    """The fans ``hk.initializers.VarianceScaling`` reads from a shape
    (``haiku/_src/initializers.py`` ``_compute_fans``): a scalar ``(1, 1)``, a vector
    ``(n, n)``, a matrix ``(shape[0], shape[1])`` (``fan_in_axes`` is not read for fewer
    than three dimensions), else ``fan_in_axes`` or the convolution reading ``(prod(shape[:-1]),
    shape[-1] * prod(shape[:-2]))``."""
    shape = tuple(int(d) for d in shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    if fan_in_axes is not None:
        axes = {a % len(shape) for a in fan_in_axes}
        return (math.prod(shape[a] for a in axes),
                math.prod(d for a, d in enumerate(shape) if a not in axes))
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def truncated_fan_in(citation: str, rule: str) -> LawOf:
    """``TruncatedNormal(stddev=1 / sqrt(fan_in))``: ``N(0, 1/fan_in)`` cut at two of its
    standard deviations, no correction."""

    def law_of(fans: Fans) -> TensorLaw | None:
        if not fans[0] > 0:
            return None
        std = 1 / math.sqrt(fans[0])
        return TensorLaw(family="truncated_normal", std=std, low=-2 * std, high=2 * std,
                         source="default", citation=citation, rule=rule)

    return law_of


def variance_scaling_of(init: object, shape: tuple[int, ...],
                        citation: str) -> tuple[LawOf, Fans]:
    """The law of an ``hk.initializers.VarianceScaling`` object as a function of the fans,
    and the fans Haiku reads from ``shape`` for it."""
    rule = (f"VarianceScaling({init.scale}, {init.mode!r}, {init.distribution!r}"
            + (f", fan_in_axes={init.fan_in_axes}" if init.fan_in_axes is not None else "")
            + ")")
    return (variance_scaling(init.scale, init.mode, init.distribution, citation, rule),
            haiku_fans(shape, init.fan_in_axes))


def _is_default_variance_scaling(init: object) -> bool:
    """``VarianceScaling()``: scale 1, ``fan_in``, ``truncated_normal``."""
    import haiku as hk

    return (isinstance(init, hk.initializers.VarianceScaling)
            and (init.scale, init.mode, init.distribution, init.fan_in_axes)
            == (1.0, "fan_in", "truncated_normal", None))


def _given_note(given: object, fields: dict) -> dict:
    """``fields`` with a note that the module was built with its own initializer."""
    if given is None:
        return fields
    name = getattr(given, "__name__", type(given).__name__)
    note = (f"built with its own initializer ({name}): the default is Haiku's, the tensor "
            "is measured as the model's own scheme")
    return {**fields, "note": "; ".join(filter(None, [fields.get("note", ""), note]))}


def weight_role(role: str, given: object, semantic: Fans | None, default_fans: Fans | None,
                default_law: LawOf | None, **fields) -> Role:
    """A tensor whose default is ``default_law`` of ``default_fans``; ``given`` is the
    initializer the module was built with instead, if any."""
    return fan_role(role, semantic, default_fans, default_law, **_given_note(given, fields))


def _constant(role: str, given: object, value: float, citation: str, rule: str,
              **fields) -> Role:
    """A bias, offset or scale: a constant by default (``jnp.zeros``/``jnp.ones``);
    ``given`` is the initializer the module was built with."""
    import jax.numpy as jnp

    if given is (jnp.ones if value else jnp.zeros):
        given = None
    return Role(role=role, default=constant_law(value, citation, rule), random=False,
                **_given_note(given, fields))


# --- handlers ------------------------------------------------------------------------

def _parent_named(site: Site, *names: str) -> object | None:
    parent = site.parent
    if parent is not None and any(c.__name__ in names for c in type(parent).__mro__):
        return parent
    return None


def linear(site: Site) -> Role | None:
    layer = site.layer
    citation = cite("Linear", "basic.py Linear.__call__")
    shape = tuple(site.shape)
    lstm = _parent_named(site, "LSTM")
    given = getattr(layer, "w_init", None)
    if site.local == "b":
        return _constant("recurrent.bias" if lstm else "linear.bias",
                         getattr(layer, "b_init", None), 0.0, citation,
                         "b_init: 'By default, zero.'",
                         note="the forget gate's +1 is added at call time" if lstm else "")
    if site.local != "w" or len(shape) != 2:
        return None
    law = truncated_fan_in(citation, "TruncatedNormal(stddev=1 / sqrt(fan_in))")
    if lstm is not None:
        hidden = int(lstm.hidden_size)
        return weight_role("recurrent.kernel", given, (shape[0], hidden), (shape[0], hidden),
                           law, layout="(in + hidden, 4 gates * hidden)", blocks=4,
                           block_axis=1, note="one Linear on [inputs, hidden]: each gate unit "
                                              "sums in + hidden inputs")
    if _parent_named(site, "MultiHeadAttention") is not None:
        return Role(role="linear.kernel", fan_in=shape[0], fan_out=shape[1],
                    layout="(in, out)",
                    note="MultiHeadAttention has no default w_init (it must be given): the "
                         "one it is built with is the model's own scheme")
    return weight_role("linear.kernel", given, shape, shape, law, layout="(in, out)")


def bias(site: Site) -> Role | None:
    if site.local != "b":
        return None
    return _constant("bias.bias", getattr(site.layer, "b_init", None), 0.0,
                     cite("Bias", "bias.py Bias.__init__"), "b_init: 'Default to zeros.'")


def _strides(layer: object, rank: int) -> tuple[int, ...]:
    return as_tuple(getattr(layer, "stride", 1), rank)


def conv(site: Site) -> Role | None:
    layer = site.layer
    citation = cite(type(layer).__name__, "conv.py ConvND.__call__")
    cell = _parent_named(site, "ConvNDLSTM")
    if site.local == "b":
        return _constant("recurrent.bias" if cell else "conv.bias",
                         getattr(layer, "b_init", None), 0.0, citation,
                         "b_init: 'By default, zeros.'")
    shape = tuple(site.shape)
    if site.local != "w" or len(shape) < 3:
        return None
    groups = int(getattr(layer, "feature_group_count", 1) or 1)
    kernel, rank = shape[:-2], len(shape) - 2
    law = truncated_fan_in(citation, "TruncatedNormal(stddev=1 / sqrt(prod(w_shape[:-1])))")
    given = getattr(layer, "w_init", None)
    if cell is not None:
        hidden = int(cell.output_channels)
        semantic, note = conv_fans(shape[-2], hidden, kernel, _strides(layer, rank))
        return weight_role("recurrent.conv_kernel", given, semantic,
                           (math.prod(shape[:-1]), semantic[1]), law,
                           layout="(*kernel, in, 4 gates * hidden)", blocks=4,
                           block_axis=len(shape) - 1, note=note, doc_note=UNSCALED)
    semantic, note = conv_fans(shape[-2], shape[-1] // groups, kernel, _strides(layer, rank))
    return weight_role("conv.kernel", given, semantic, (math.prod(shape[:-1]), semantic[1]),
                       law, layout="(*kernel, in / groups, out)", note=note, doc_note=UNSCALED)


def conv_transpose(site: Site) -> Role | None:
    layer = site.layer
    citation = cite(type(layer).__name__, "conv.py ConvNDTranspose.__call__")
    if site.local == "b":
        return _constant("conv_transpose.bias", getattr(layer, "b_init", None), 0.0, citation,
                         "b_init: 'By default, zeros.'")
    shape = tuple(site.shape)
    if site.local != "w" or len(shape) < 3:
        return None
    kernel = shape[:-2]
    semantic, note = conv_fans(shape[-1], shape[-2], kernel, _strides(layer, len(kernel)),
                               transposed=True)
    law = truncated_fan_in(citation, "TruncatedNormal(stddev=1 / sqrt(prod(kernel_shape) * "
                                     "input_channels))")
    return weight_role("conv_transpose.kernel", getattr(layer, "w_init", None), semantic,
                       (math.prod(kernel) * shape[-1], semantic[1]), law,
                       layout="(*kernel, out, in)", note=note, doc_note=UNSCALED)


def depthwise(site: Site) -> Role | None:
    layer = site.layer
    citation = cite(type(layer).__name__, "depthwise_conv.py DepthwiseConvND.__call__")
    if site.local == "b":
        return _constant("depthwise_conv.bias", getattr(layer, "b_init", None), 0.0, citation,
                         "b_init: 'By default, zeros.'")
    shape = tuple(site.shape)
    if site.local != "w" or len(shape) < 3:
        return None
    kernel = shape[:-2]
    multiplier = int(getattr(layer, "channel_multiplier", 1) or 1)
    semantic, note = conv_fans(1, multiplier, kernel, _strides(layer, len(kernel)))
    law = truncated_fan_in(citation, "TruncatedNormal(stddev=1 / sqrt(prod(w_shape[:-1])))")
    return weight_role("depthwise_conv.kernel", getattr(layer, "w_init", None), semantic,
                       (math.prod(shape[:-1]), semantic[1]), law,
                       layout="(*kernel, 1, multiplier * in)", note=note, doc_note=UNSCALED)


def embed(site: Site) -> Role | None:
    """``TruncatedNormal()`` by default: ``N(0, 1)`` cut at -2 and 2."""
    import haiku as hk

    if site.local != "embeddings":
        return None
    init = getattr(site.layer, "w_init", None)
    default = isinstance(init, hk.initializers.TruncatedNormal) and (
        init.stddev, init.mean, init.lower, init.upper) == (1.0, 0.0, -2.0, 2.0)
    law = TensorLaw(family="truncated_normal", std=1.0, low=-2.0, high=2.0, source="default",
                    citation=cite("Embed", "embed.py Embed.__init__"),
                    rule="hk.initializers.TruncatedNormal(): 'As a default, embeddings are "
                         "initialized via a truncated normal distribution'")
    return fan_role("embedding.weight", (1, int(site.shape[-1])), None, law=law,
                    layout="(vocab_size, embed_dim)",
                    **_given_note(None if default or init is None else init, {
                        "note": "a row lookup: semantic fan_in 1; the law uses no fan"}))


NORM_PARAMS = {"scale": ("norm.scale", 1.0, "scale_init", "'By default, one.'"),
               "offset": ("norm.bias", 0.0, "offset_init", "'By default, zero.'")}


def norm(site: Site) -> Role | None:
    if site.local not in NORM_PARAMS:
        return None
    name = type(site.layer).__name__
    role, value, attribute, words = NORM_PARAMS[site.local]
    source = {"BatchNorm": "batch_norm.py", "GroupNorm": "group_norm.py",
              "RMSNorm": "rms_norm.py"}.get(name, "layer_norm.py")
    return _constant(role, getattr(site.layer, attribute, None), value,
                     cite(name, f"{source} {name}.__init__"), f"{attribute}: {words}")


FIRST_CALL = ("created by hk.set_state in the first call (the one init runs), from that "
              "call's input: no law of its own")


def ema(site: Site) -> Role | None:
    """``ExponentialMovingAverage``'s state: ``hidden`` zeros and ``counter``
    ``-warmup_length`` (``hk.get_state`` initializers); ``average`` is only set, by the
    first call."""
    layer = site.layer
    citation = cite("ExponentialMovingAverage", "moving_averages.py "
                    "ExponentialMovingAverage.__call__")
    kind = {"mean_ema": "norm.running_mean", "var_ema": "norm.running_var"}.get(
        site.attribute, "ema")
    if site.local == "hidden":
        return Role(role=f"{kind}.hidden", random=False, doc_note=UNDOCUMENTED,
                    default=constant_law(0.0, citation, "jnp.zeros"))
    if site.local == "counter":
        warmup = int(getattr(layer, "warmup_length", 0) or 0)
        return Role(role=f"{kind}.counter", random=False, doc_note=UNDOCUMENTED,
                    default=constant_law(-warmup, citation, "Constant(-warmup_length)"))
    if site.local == "average":
        return Role(role=f"{kind}.average", random=False, note=FIRST_CALL)
    return None


def spectral_norm(site: Site) -> Role | None:
    """``u0`` drawn ``RandomNormal()`` by ``hk.get_state``; ``sigma`` only set, by the
    first call."""
    citation = cite("SpectralNorm", "spectral_norm.py SpectralNorm.__call__")
    if site.local == "u0":
        return Role(role="spectral_norm.u", doc_note=UNDOCUMENTED,
                    default=normal_law(1.0, citation, "hk.initializers.RandomNormal()"),
                    note="the power iteration's start vector (its update in init's call is "
                         "not kept: the state keeps its initializer's value)")
    if site.local == "sigma":
        return Role(role="spectral_norm.sigma", random=False, note=FIRST_CALL)
    return None


GRU_TENSORS = {"w_i": ("recurrent.kernel", "w_i_init", "in"),
               "w_h": ("recurrent.recurrent_kernel", "w_h_init", "hidden")}


def gru(site: Site) -> Role | None:
    """``w_i`` ``(in, 3 * hidden)``, ``w_h`` ``(hidden, 3 * hidden)``: ``VarianceScaling()``
    by default (LeCun's truncated normal, fans read from the stored matrix); ``b`` zeros."""
    import haiku as hk

    layer = site.layer
    citation = cite("GRU", "recurrent.py GRU.__init__")
    if site.local == "b":
        return _constant("recurrent.bias", getattr(layer, "b_init", None), 0.0, citation,
                         "jnp.zeros", doc_note=UNDOCUMENTED, blocks=3)
    if site.local not in GRU_TENSORS:
        return None
    role, attribute, rows = GRU_TENSORS[site.local]
    shape = tuple(site.shape)
    init = getattr(layer, attribute, None)
    law_of, fans = variance_scaling_of(hk.initializers.VarianceScaling(), shape, citation)
    return weight_role(role, None if init is None or _is_default_variance_scaling(init)
                       else init, (shape[0], shape[1] // 3), fans, law_of,
                       layout=f"({rows}, 3 gates * hidden)", blocks=3, block_axis=1,
                       doc_note=UNDOCUMENTED)


def vector_quantizer(site: Site) -> Role | None:
    """The codebook ``(embedding_dim, num_embeddings)``: ``VarianceScaling(distribution=
    "uniform")``; inputs are compared with it through ``inputs @ embeddings``, a
    ``embedding_dim -> num_embeddings`` map."""
    import haiku as hk

    if site.local != "embeddings":
        return None
    name = type(site.layer).__name__
    shape = tuple(site.shape)
    law_of, fans = variance_scaling_of(
        hk.initializers.VarianceScaling(distribution="uniform"), shape,
        cite(f"nets.{name}", f"nets/vqvae.py {name}.embeddings"))
    return fan_role("vq.embeddings", shape, fans, law_of,
                    layout="(embedding_dim, num_embeddings)", doc_note=UNDOCUMENTED)


HANDLERS: dict[str, Handler] = {
    "haiku.Linear": linear,
    "haiku.Bias": bias,
    **{f"haiku.Conv{rank}": conv for rank in ("ND", "1D", "2D", "3D")},
    **{f"haiku.Conv{rank}Transpose": conv_transpose for rank in ("ND", "1D", "2D", "3D")},
    **{f"haiku.DepthwiseConv{rank}D": depthwise for rank in (1, 2, 3)},
    "haiku.Embed": embed,
    **{f"haiku.{name}": norm for name in ("LayerNorm", "InstanceNorm", "RMSNorm", "GroupNorm",
                                          "BatchNorm")},
    "haiku.ExponentialMovingAverage": ema,
    "haiku.SpectralNorm": spectral_norm,
    "haiku.GRU": gru,
    "haiku.nets.VectorQuantizer": vector_quantizer,
    "haiku.nets.VectorQuantizerEMA": vector_quantizer,
    **{f"haiku.{name}": composite for name in (
        "MultiHeadAttention", "LSTM", "VanillaRNN", "Conv1DLSTM", "Conv2DLSTM", "Conv3DLSTM",
        "DeepRNN", "ResetCore", "Sequential", "SeparableDepthwiseConv2D", "EMAParamsTree",
        "SNParamsTree")},
    "haiku.nets.MLP": composite,
}


def public_layer_classes() -> dict[str, type]:
    """Every public class of ``haiku`` and ``haiku.nets`` that subclasses ``hk.Module``, by
    registry name."""
    import haiku as hk

    return {**public_classes(hk, hk.Module, layer_name),
            **public_classes(hk.nets, hk.Module, layer_name)}


def role_of(site: Site) -> Role:
    handler = (find_handler(type(site.layer), HANDLERS, layer_name)
               if site.layer is not None else None)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "hwio", "(*kernel, in, out)"))


# --- the walker ----------------------------------------------------------------------

_CAMEL = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
"""Haiku's ``camel_to_snake`` (``haiku/_src/utils.py``): a module's default name."""
AUTO_NAME = re.compile(r"^(.*?)(?:_\d+)?$")
STAND_IN_NOTE = ("layer found by its automatic name only (walk (forward_fn, params, state, "
                 "*inputs) for its attributes): class defaults assumed")


def default_name(cls: type) -> str:
    """The name Haiku gives an instance of ``cls`` without a ``name``: ``Conv2D`` ->
    ``conv2_d``."""
    return _CAMEL.sub(r"_\1", cls.__name__).lower()


def _classes_by_default_name() -> dict[str, type]:
    """The public module classes by the name Haiku gives an instance without a ``name``."""
    return {default_name(cls): cls for cls in public_layer_classes().values()}


def _stand_in(cls: type) -> object:
    instance = object.__new__(cls)
    object.__setattr__(instance, "_verify_stand_in", True)
    return instance


def _traced(forward: Callable, params: Mapping, state: Mapping,
            inputs: tuple) -> dict[str, object]:
    """Every module instance one call of ``forward`` uses, by its module name."""
    import haiku as hk
    import jax

    found: dict[str, object] = {}

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        name = getattr(context.module, "module_name", None)
        if name:
            found.setdefault(name, context.module)
        return out

    transformed = hk.transform_with_state(forward)
    with hk.intercept_methods(record):
        jax.eval_shape(lambda: transformed.apply(params, state, jax.random.key(0), *inputs))
    return found


def _modules(path: str, traced: dict[str, object],
             classes: dict[str, type]) -> tuple[object | None, tuple[object, ...]]:
    """The module at ``path`` and those above it (root first), traced or stand-ins."""
    parts = path.split("/")
    chain = []
    for end in range(1, len(parts) + 1):
        if parts[end - 1] == "~":
            continue
        prefix = "/".join(parts[:end])
        module = traced.get(prefix)
        if module is None and not traced:
            cls = classes.get(AUTO_NAME.match(parts[end - 1]).group(1))
            module = _stand_in(cls) if cls is not None else None
        chain.append(module)
    owner = chain[-1] if chain else None
    return owner, tuple(m for m in chain[:-1] if m is not None)


def walk(model: object) -> list[Param]:
    """``model`` is ``(forward_fn, params, state, *example_inputs)`` or a ``params``
    mapping (``{module_name: {name: array}}``)."""
    if isinstance(model, Mapping):
        forward, params, state, inputs = None, model, {}, ()
    elif (isinstance(model, tuple) and len(model) >= 3 and callable(model[0])
          and isinstance(model[1], Mapping) and isinstance(model[2], Mapping)):
        forward, params, state, *inputs = model
    else:
        raise ValueError("api 'haiku' walks (forward_fn, params, state, *example_inputs), "
                         "params and state as hk.transform_with_state(forward_fn).init "
                         f"returns them, or a params mapping; got {type(model).__name__}")
    traced = _traced(forward, params, state, tuple(inputs)) if forward is not None else {}
    classes = _classes_by_default_name()
    found: dict[int, tuple[object, list[str], str, str, bool]] = {}
    for collection, buffer in ((params, False), (state, True)):
        for module_name, tensors in collection.items():
            for local, value in tensors.items():
                entry = found.setdefault(id(value), (value, [], module_name, local, buffer))
                entry[1].append(f"{module_name}/{local}")
    walked = []
    for value, names, module_name, local, buffer in found.values():
        owner, parents = _modules(module_name, traced, classes)
        array, dtype = to_numpy(value)
        attribute = module_name.split("/")[-1]
        site = Site(owner, local, tuple(array.shape), parents, AUTO_NAME.match(attribute)
                    .group(1) if not traced else attribute)
        role = role_of(site)
        if getattr(owner, "_verify_stand_in", False):
            role = replace(role, note="; ".join(filter(None, [role.note, STAND_IN_NOTE])))
        walked.append(Param(names=tuple(names), array=array, dtype=dtype,
                            layer=layer_name(type(owner)) if owner is not None else "unknown",
                            local=local, role=role, buffer=buffer, trainable=not buffer))
    return walked


# --- building ------------------------------------------------------------------------

RNN_CORES = ("LSTM", "GRU", "VanillaRNN", "Conv1DLSTM", "Conv2DLSTM", "Conv3DLSTM", "DeepRNN",
             "IdentityCore")
TRAINING = ("BatchNorm", "VectorQuantizer", "VectorQuantizerEMA")
TREES = ("EMAParamsTree", "SNParamsTree")
DEFAULT_INPUT_SHAPES = {"Embed": (2, 5), "MultiHeadAttention": (2, 5, 8),
                        "SpectralNorm": (8, 6), "InstanceNorm": (2, 4, 4, 8),
                        "GroupNorm": (2, 4, 8)}
"""Example input shapes (with a batch axis) when ``kwargs`` has no ``input_shape``: a
convolution ``(2, 8, ..., 8, 4)`` with as many 8s as its spatial axes, others ``(2, 8)``."""


def _class(name: str) -> type:
    import haiku as hk

    short = name.removeprefix("haiku.")
    cls = hk
    for part in short.split("."):
        cls = getattr(cls, part, None)
    if not isinstance(cls, type) or layer_name(cls) not in HANDLERS:
        raise ValueError(f"haiku layer {name!r} is not in the registry: use one of "
                         f"{', '.join(sorted(n.removeprefix('haiku.') for n in HANDLERS))}")
    return cls


def _initializer(value: object) -> object:
    """``{"initializer": NAME, "kwargs": {...}}`` as ``hk.initializers.NAME(**kwargs)``, so
    that an initializer argument (``MultiHeadAttention``'s ``w_init``) stays JSON."""
    import haiku as hk

    if isinstance(value, Mapping) and "initializer" in value and set(value) <= {
            "initializer", "kwargs"}:
        return getattr(hk.initializers, str(value["initializer"]))(**value.get("kwargs", {}))
    return value


def _arguments(kwargs: Mapping) -> dict:
    """Constructor arguments with layers and initializers (also in lists) built."""
    def built(value: object) -> object:
        if is_nested_layer(value):
            return _class(str(value["layer"]))(**_arguments(value.get("kwargs", {})))
        if isinstance(value, list) and any(is_nested_layer(v) for v in value):
            return [built(v) for v in value]
        return _initializer(value)

    return {key: built(value) for key, value in kwargs.items()}


def _example_inputs(cls: type, kwargs: dict, shape: object) -> tuple:
    import jax.numpy as jnp

    short = cls.__name__
    if shape is None and "input_shape" in inspect.signature(cls.__init__).parameters:
        shape = (1, *kwargs["input_shape"], kwargs.pop("input_channels", 4))
    if shape is None:
        rank = int(kwargs.get("num_spatial_dims", 0)) or _spatial_rank(cls)
        shape = (2, *(8,) * rank, 4) if rank else DEFAULT_INPUT_SHAPES.get(short, (2, 8))
    if short == "Embed":
        return (jnp.zeros(tuple(shape), jnp.int32),)
    if short in TREES:
        return ({"layer": {"w": jnp.ones(tuple(shape), jnp.float32)}},)
    shapes = shape if shape and isinstance(shape[0], list | tuple) else [shape]
    if short == "MultiHeadAttention" and len(shapes) == 1:
        shapes = shapes * 3
    return tuple(jnp.ones(tuple(s), jnp.float32) for s in shapes)


def _spatial_rank(cls: type) -> int:
    """The spatial axes of a convolution class (``Conv2D`` -> 2), 0 for other layers."""
    match = re.search(r"(\d)D", cls.__name__)
    return int(match.group(1)) if match and "LSTM" not in cls.__name__ else 0


def build(name: str, kwargs: dict) -> tuple:
    """``(forward_fn, *example_inputs)`` for ``haiku.<name>(**kwargs)`` (``nets.MLP`` for
    ``haiku.nets.MLP``): ``forward_fn`` builds the module inside the transform and calls it
    (a recurrent core on ``(inputs, initial_state)``, ``BatchNorm`` and the vector
    quantizers with ``is_training=True``, ``MultiHeadAttention`` on query, key, value, the
    ``*ParamsTree`` modules on ``{"layer": {"w": inputs}}``). ``kwargs['input_shape']`` (a
    shape with its batch axis, or three for attention) or :data:`DEFAULT_INPUT_SHAPES`
    gives the inputs; a class whose constructor takes ``input_shape`` (``Conv2DLSTM``)
    keeps it and takes ``input_channels`` for the inputs. A layer argument is written
    ``{"layer": NAME, "kwargs": {...}}`` and an initializer ``{"initializer": NAME,
    "kwargs": {...}}``."""
    import haiku as hk
    import jax
    import jax.numpy as jnp

    cls = _class(name)
    short = cls.__name__
    own_input_shape = "input_shape" in inspect.signature(cls.__init__).parameters
    shape = None if own_input_shape else kwargs.pop("input_shape", None)
    inputs = _example_inputs(cls, kwargs, shape)
    try:
        inspect.signature(cls.__init__).bind(None, **kwargs)
    except TypeError as error:
        raise ValueError(f"haiku {short} does not take {kwargs}: {error}") from None

    def forward(*args):
        module = cls(**_arguments(kwargs))
        if short in RNN_CORES:
            return module(args[0], module.initial_state(args[0].shape[0]))
        if short == "ResetCore":
            resets = jnp.zeros(args[0].shape[:1], bool)
            return module((args[0], resets), module.initial_state(args[0].shape[0]))
        if short in TRAINING:
            return module(args[0], is_training=True)
        return module(*args)

    try:  # the arguments are checked now: a wrong one is bad usage, before any audit
        jax.eval_shape(lambda: hk.transform_with_state(forward).init(jax.random.key(0),
                                                                     *inputs))
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build haiku {short} with {kwargs} on inputs of shape "
                         f"{[getattr(x, 'shape', '?') for x in inputs]}: "
                         f"{str(error).strip().splitlines()[0]}") from None
    return (forward, *inputs)
