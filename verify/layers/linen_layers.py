"""``flax.linen``'s layer types and the walker (the handlers are in
:mod:`verify.layers.flax_common`).

Linen modules are lazy: the layer owning a variable is found, in this order,

1. with example inputs, from one traced call (``jax.eval_shape`` of ``module.apply`` under
   ``nn.intercept_methods``), which records every submodule by its scope path, those
   defined in ``setup`` and in ``@nn.compact`` methods alike;
2. without, from the module bound to its variables: the attributes ``setup`` defines;
3. else from the automatic name of a compact child, ``Dense_0`` -> ``flax.linen.Dense``
   (its attributes then are the class defaults: strides and groups are taken as 1);
4. else the tensor is unknown, with fans guessed from a kernel's shape.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from verify.layers import flax_common as fc
from verify.layers.common import (
    Handler,
    Site,
    as_tuple,
    composite,
    constant_role,
    conv_fans,
    fan_role,
    find_handler,
    lecun_normal,
    nested_layers,
    public_classes,
    qualified_name,
    to_numpy,
    unknown_role,
)
from verify.layers.records import Param, Role

LINEN = fc.LINEN
NORM_DOCS = ("https://flax.readthedocs.io/en/latest/api_reference/flax.linen/layers.html"
             "#normalization")


def layer_name(cls: type) -> str:
    import flax.linen as nn

    return qualified_name(cls, [("flax.linen", nn)])


def _tuple(value: object) -> tuple:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def dense(site: Site) -> Role | None:
    return fc.dense(site, LINEN, "linen", "flax.linen.Dense")


def dense_general(site: Site) -> Role | None:
    layer = site.layer
    return fc.dense_general(site, len(_tuple(layer.batch_dims)) if layer.batch_dims else 0,
                            len(_tuple(layer.axis)), len(_tuple(layer.features)),
                            LINEN.cite("flax.linen.DenseGeneral",
                                       "linear.py DenseGeneral.__call__ kernel_init_wrap"))


def einsum(site: Site) -> Role | None:
    return fc.einsum(site, LINEN.cite("flax.linen.Einsum", "linear.py Einsum.__call__"))


def conv(site: Site) -> Role | None:
    inside_cell = conv_lstm_gate(site)
    if inside_cell is not None:
        return inside_cell
    return fc.conv(site, LINEN.cite("flax.linen.Conv", "linear.py _Conv.__call__"))


def conv_lstm_gate(site: Site) -> Role | None:
    """The ``ih`` and ``hh`` convolutions of a ``ConvLSTMCell``: ``4 * features`` outputs,
    the gates i, g, f, o stacked on the kernel's last axis, each gate a convolution with
    ``features`` outputs; both ``Conv``'s default (lecun_normal kernel, zero bias). ``hh``
    reads the cell's ``features``-channel hidden state."""
    cell = site.parent
    if cell is None or not any(cls.__name__ == "ConvLSTMCell" for cls in type(cell).__mro__):
        return None
    citation = LINEN.cite("flax.linen.ConvLSTMCell", "recurrent.py ConvLSTMCell.__call__")
    if site.local == "bias":
        return fc.zero_bias("recurrent.bias", citation)
    if site.local != "kernel":
        return None
    shape = tuple(int(d) for d in site.shape)
    features = shape[-1] // 4
    strides = as_tuple(getattr(site.layer, "strides", None), len(shape) - 2)
    semantic, note = conv_fans(shape[-2], features, shape[:-2], strides)
    role = "recurrent.recurrent_kernel" if site.attribute == "hh" else "recurrent.kernel"
    return fan_role(role, semantic, fc.jax_fans(shape), lecun_normal(citation),
                    layout="(*kernel, in, 4 gates * features)", blocks=4,
                    block_axis=len(shape) - 1, note=note)


def conv_local(site: Site) -> Role | None:
    """``ConvLocal``: an unshared kernel per output position, ``(*out_positions, prod(k) *
    in, features)``; each output reads ``prod(k) * in`` inputs. Its default lecun_normal
    reads the shape with ``in_axis=-2``, ``out_axis=-1``: the output positions become a
    receptive field, so its fan-in is ``prod(out_positions) * prod(k) * in``."""
    layer = site.layer
    citation = LINEN.cite("flax.linen.ConvLocal", "linear.py _Conv.__call__ "
                                                  "(shared_weights=False)")
    if site.local == "bias":
        return fc.zero_bias("conv_local.bias", citation)
    if site.local != "kernel":
        return None
    shape = tuple(int(d) for d in site.shape)
    kernel_size = _tuple(layer.kernel_size)
    rank = len(kernel_size)
    inputs = shape[-2] // math.prod(kernel_size)
    semantic, note = conv_fans(inputs, shape[-1], kernel_size,
                               as_tuple(getattr(layer, "strides", None), rank))
    return fan_role("conv_local.kernel", semantic, fc.jax_fans(shape), lecun_normal(citation),
                    layout="(*out_positions, prod(kernel) * in, features)",
                    note="; ".join(filter(None, [
                        "the initializer counts the output positions in both fans", note])))


def prelu(site: Site) -> Role | None:
    if site.local != "negative_slope":
        return None
    return constant_role("prelu.negative_slope", 0.01,
                         "https://flax.readthedocs.io/en/latest/api_reference/flax.linen/"
                         "activation_functions.html#flax.linen.PReLU ; flax/linen/"
                         "activation.py PReLU.__call__",
                         "negative_slope_init=0.01 (documented default)")


def weight_norm(site: Site) -> Role | None:
    """``WeightNorm``'s scales, parameters named ``<layer>/<path>/scale`` in its own
    ``params``: ``scale_init`` ones."""
    if not site.local.endswith("/scale"):
        return None
    return constant_role("weight_norm.scale", 1.0,
                         f"{NORM_DOCS} ; flax/linen/normalization.py WeightNorm",
                         "scale_init=ones")


def conv_transpose(site: Site) -> Role | None:
    return fc.conv_transpose(site, LINEN.cite("flax.linen.ConvTranspose",
                                              "linear.py ConvTranspose.__call__"))


def embed(site: Site) -> Role | None:
    return fc.embed(site, LINEN.cite("flax.linen.Embed", "linear.py default_embed_init"))


def norm(site: Site) -> Role | None:
    name = type(site.layer).__name__
    return fc.norm(site, f"{NORM_DOCS} ; flax/linen/normalization.py {name}")


HANDLERS: dict[str, Handler] = {
    "flax.linen.Dense": dense,
    "flax.linen.recurrent.DenseParams": dense,
    "flax.linen.DenseGeneral": dense_general,
    "flax.linen.Einsum": einsum,
    "flax.linen.Conv": conv,
    "flax.linen.ConvTranspose": conv_transpose,
    "flax.linen.Embed": embed,
    **{f"flax.linen.{name}": norm for name in ("LayerNorm", "RMSNorm", "BatchNorm",
                                               "GroupNorm", "InstanceNorm")},
    **{f"flax.linen.{name}": composite for name in (
        "MultiHeadDotProductAttention", "MultiHeadAttention", "LSTMCell",
        "OptimizedLSTMCell", "GRUCell", "SimpleCell", "MGUCell", "RNN")},
    "flax.linen.ConvLocal": conv_local,
    "flax.linen.PReLU": prelu,
    "flax.linen.WeightNorm": weight_norm,
    **{f"flax.linen.{name}": composite for name in ("ConvLSTMCell", "SelfAttention",
                                                    "Bidirectional")},
}


def _names(reason: str, *names: str) -> dict[str, str]:
    return dict.fromkeys((f"flax.linen.{name}" for name in names), reason)


WITHOUT_WEIGHTS: dict[str, str] = {
    **_names("dropout: a random mask drawn at call time, no weights", "Dropout"),
    **_names("a container, a base class or the module base: no weights of its own, the "
             "modules it holds are walked with their own types", "Module", "Sequential",
             "RNNCellBase"),
}
"""Public ``flax.linen`` module classes without weights, and why
(``tests/test_layer_introspection.py`` initializes each it can and checks)."""

NOT_COVERED: dict[str, str] = {
    "flax.linen.SpectralNorm": "its __call__ takes update_stats as a required keyword, which "
                               "(module, *example_inputs) cannot carry: it cannot be built "
                               "or traced alone. Its batch_stats are u, jax.random.normal "
                               "(N(0, 1)), and sigma, ones; the wrapped layer's tensors are "
                               "its own",
    **_names("FP8 scaling state of a dot_general or einsum op (the _overwrite_with_gradient "
             "collection: amax histories of zeros, scales of ones), called with operands "
             "and dimension numbers rather than an input: bookkeeping, not a layer's "
             "weights", "Fp8DotGeneralOp", "Fp8DirectDotGeneralOp", "NANOOFp8DotGeneralOp",
             "Fp8Einsum"),
}
"""Public ``flax.linen`` module classes with variables but no handler, and why."""


def public_layer_classes() -> dict[str, type]:
    """Every public ``flax.linen`` class that subclasses ``flax.linen.Module``, by registry
    name (``Fp8DotGeneral``, an alias of ``Fp8DirectDotGeneralOp``, once)."""
    import flax.linen as nn

    return public_classes(nn, nn.Module, layer_name)


def role_of(site: Site) -> Role:
    handler = (find_handler(type(site.layer), HANDLERS, layer_name)
               if site.layer is not None else None)
    try:
        role = handler(site) if handler else None
    except AttributeError:  # a stand-in lacks a required attribute (DenseGeneral.features)
        role = None
    return _in_weight_norm(site, role or unknown_role(site.local, site.shape, "hwio",
                                                      "(*kernel, in, out)"))


def _in_weight_norm(site: Site, role: Role) -> Role:
    """Inside a ``WeightNorm``, the tensors its ``variable_filter`` names (``kernel`` by
    default) are stored l2-normalized at initialization: each slice along the feature axes
    (a dense kernel's column) has norm ``scale`` = 1, a direction, not a law of the
    families. (``flax.nnx.WeightNorm`` keeps them as drawn and normalizes at call time.)"""
    owner = next((parent for parent in reversed(site.parents)
                  if any(cls.__name__ == "WeightNorm" for cls in type(parent).__mro__)), None)
    if owner is None:
        return role
    names = getattr(owner, "variable_filter", None) or ()
    if not any(name in site.local for name in names):
        return role
    return replace(role, default=None, semantic_default=None, note="; ".join(filter(None, [
        role.note, "WeightNorm stores it l2-normalized over the non-feature axes at "
                   "initialization (norm = scale = 1): no law of the families"])))


# --- finding the module of a path --------------------------------------------------------

AUTO_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)_\d+$")


def _traced_modules(module: object, variables: dict, inputs: tuple) -> dict[tuple, object]:
    import flax.linen as nn
    import jax

    found: dict[tuple, object] = {}

    def record(next_fun, args, kwargs, context):
        found.setdefault(tuple(context.module.path), context.module)
        return next_fun(*args, **kwargs)

    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    with nn.intercept_methods(record):
        jax.eval_shape(lambda: module.apply(variables, *inputs, mutable=True, rngs=rngs))
    return found


def _module_at(root: object, bound: object, path: tuple[str, ...],
               traced: dict[tuple, object]) -> tuple[object | None, tuple[object, ...]]:
    """The module at ``path`` and the modules above it (root first)."""
    import flax.linen as nn

    if traced:
        chain = [traced.get(tuple(path[:i])) for i in range(len(path) + 1)]
        return chain[-1], tuple(m for m in chain[:-1] if m is not None)
    chain, current = [root], bound
    for part in path:
        child = _setup_child(current, part) if current is not None else None
        if not isinstance(child, nn.Module):
            match = AUTO_NAME.match(part)
            cls = getattr(nn, match.group(1), None) if match else None
            child = _stand_in(cls) if isinstance(cls, type) else None
        chain.append(child)
        current = child
    return chain[-1], tuple(m for m in chain[:-1] if m is not None)


def _setup_child(module: object, part: str) -> object | None:
    """The child ``setup`` assigned as ``part``, or as item ``i`` of a list ``name``
    (Flax names it ``name_i``)."""
    try:
        child = getattr(module, part, None)
        match = AUTO_NAME.match(part)
        if child is None and match:
            listed = getattr(module, match.group(1), None)
            index = int(part.rsplit("_", 1)[1])
            if isinstance(listed, list | tuple) and index < len(listed):
                child = listed[index]
    except Exception:  # a setup that fails without inputs: fall back to the names
        return None
    return child


class _StandIn:
    """Marks an instance made without its constructor (see :func:`_stand_in`)."""


STAND_IN_NOTE = ("layer found by its automatic name only (pass example inputs to walk): "
                 "strides and groups taken as 1")


def _stand_in(cls: type) -> object:
    """An instance of ``cls`` without its constructor: its type and its attributes'
    class defaults, for a compact child known only by its automatic name."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "_verify_stand_in", _StandIn)
    return instance


def walk(model: object) -> list[Param]:
    """``model`` is ``(module, variables)`` or ``(module, variables, *example_inputs)``."""
    import flax.linen as nn
    from flax.core import unfreeze
    from flax.traverse_util import flatten_dict

    if not (isinstance(model, tuple) and len(model) >= 2 and isinstance(model[0], nn.Module)):
        raise ValueError("api 'linen' walks (module, variables) or (module, variables, "
                         "*example_inputs), variables as module.init returns them; got "
                         f"{type(model).__name__}")
    module, variables, *inputs = model
    variables = unfreeze(variables)
    traced = _traced_modules(module, variables, tuple(inputs)) if inputs else {}
    bound = None if traced else module.bind(variables)
    found: dict[int, tuple[object, list[str], str, tuple[str, ...]]] = {}
    for collection, tree in variables.items():
        for path, value in flatten_dict(tree).items():
            name = ".".join(path) if collection == "params" else ".".join((collection, *path))
            entry = found.setdefault(id(value), (value, [], collection, tuple(path)))
            entry[1].append(name)
    params = []
    for value, names, collection, path in found.values():
        owner, parents = _module_at(module, bound, path[:-1], traced)
        array, dtype = to_numpy(value)
        site = Site(owner, path[-1], tuple(array.shape), parents,
                    path[-2] if len(path) > 1 else "")
        role = role_of(site)
        if getattr(owner, "_verify_stand_in", None) is _StandIn and not role.note:
            role = replace(role, note=STAND_IN_NOTE)
        elif getattr(owner, "_verify_stand_in", None) is _StandIn:
            role = replace(role, note=f"{role.note}; {STAND_IN_NOTE}")
        params.append(Param(names=tuple(names), array=array, dtype=dtype,
                            layer=layer_name(type(owner)) if owner is not None else "unknown",
                            local=path[-1], role=role,
                            buffer=collection != "params", trainable=collection == "params"))
    return params


DEFAULT_INPUT_SHAPES = {"Conv": "rank+2", "ConvTranspose": "rank+2", "Embed": (2, 5),
                        "MultiHeadDotProductAttention": (2, 5, 8),
                        "MultiHeadAttention": (2, 5, 8), "RNN": (2, 5, 8),
                        "Einsum": (2, 5, 8)}
"""Example input shapes for :func:`build` when ``kwargs`` has no ``input_shape``: a
convolution takes ``(2, 16, ..., 16, 4)`` with as many 16s as its kernel has axes, an
``Embed`` integer ids ``(2, 5)``, other layers ``(2, 8)``."""


def _layer_class(name: str) -> type:
    """The registered class of ``Dense`` or of a dotted path in the package,
    ``recurrent.DenseParams``."""
    import flax.linen as nn

    short = name.removeprefix("flax.").removeprefix("linen.")
    cls = nn
    for part in short.split("."):
        cls = getattr(cls, part, None)
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        raise ValueError(f"linen layer {name!r} is not in the registry: use one of "
                         f"{', '.join(sorted(n.removeprefix('flax.linen.') for n in HANDLERS))}")
    return cls


def _construct(name: str, kwargs: dict) -> object:
    return _layer_class(name)(**kwargs)


def build(name: str, kwargs: dict) -> tuple:
    """``(module, example_input)`` for ``flax.linen.<name>(**kwargs)`` (a recurrent cell:
    ``(module, carry, example_input)``); ``kwargs['input_shape']`` or
    :data:`DEFAULT_INPUT_SHAPES` gives the input's shape. A ``BatchNorm`` without
    ``use_running_average`` gets ``True``. A layer argument written ``{"layer": "LSTMCell",
    "kwargs": {...}}`` (the cell of ``RNN``) is constructed first."""
    import flax.linen as nn
    import jax.numpy as jnp

    cls = _layer_class(name)
    short = cls.__name__
    shape = kwargs.pop("input_shape", None)
    if short == "BatchNorm":
        kwargs.setdefault("use_running_average", True)
    try:
        module = cls(**nested_layers(kwargs, _construct))
    except TypeError as error:
        raise ValueError(f"linen {short} does not take {kwargs}: {error}") from None
    if shape is None:
        shape = DEFAULT_INPUT_SHAPES.get(short, (2, 8))
        if shape == "rank+2":
            rank = len(_tuple(module.kernel_size))
            shape = (2, *(16,) * rank, 4)
    if short == "Embed":
        return module, jnp.zeros(tuple(shape), dtype=jnp.int32)
    inputs = jnp.ones(tuple(shape), dtype=jnp.float32)
    if isinstance(module, nn.RNNCellBase):  # a cell is called on (carry, inputs)
        import jax

        return module, module.initialize_carry(jax.random.key(0), inputs.shape), inputs
    return module, inputs
