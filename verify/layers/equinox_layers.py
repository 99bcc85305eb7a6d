"""Equinox's layer types (``equinox.nn``): roles, semantic fans and defaults, and the
walker.

Equinox documents no default law: its API pages render the constructors' docstrings,
which name the ``key`` but not what is drawn with it
(https://github.com/patrick-kidger/equinox/issues/1143: "look at the source code"). Every
default here was read in the installed source (``equinox/nn/*.py``) and carries
:data:`UNDOCUMENTED` as its ``doc_note``. Equinox follows PyTorch ("that is what PyTorch
does", https://github.com/patrick-kidger/equinox/issues/179): ``default_init``
(``equinox/nn/_misc.py``) draws ``U(-lim, lim)`` with ``lim = 1 / sqrt(fan_in)``, biases
included, the fan-in computed from constructor arguments.

Layouts (``oihw``): ``Linear.weight`` ``(out, in)``, ``Conv.weight`` ``(out, in / groups,
*k)``, ``ConvTranspose.weight`` ``(out, in / groups, *k)`` (the kernel of the forward
convolution ``__call__`` runs on the stride-dilated input: axis 1 holds the transposed
layer's input channels), conv biases ``(out, 1, ..., 1)``, recurrent cells' gates stacked
on axis 0 (``(3 * hidden, in)``, ``(4 * hidden, in)``).

The walker visits a module's dataclass fields (static fields excepted), lists, tuples and
dicts, and reports each array once (a shared array with all its paths, dotted: ``layers.0
.weight``). The initial values an ``eqx.nn.StateIndex`` holds (batch statistics, a
spectral norm's power-iteration vectors) are buffers of the layer that holds the index;
a model made with ``eqx.nn.make_with_state`` is walked as ``(model, state)``, the values
then read from the ``State``.
"""

from __future__ import annotations

import dataclasses
import inspect
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
    normal_law,
    public_classes,
    qualified_name,
    to_numpy,
    unknown_role,
)
from verify.layers.records import Param, Role

DOCS = "https://docs.kidger.site/equinox/api/nn/{}/"
UNDOCUMENTED = ("the documentation does not state the init (issue 1143: 'look at the "
                "source code'); it is from the source")

WITHOUT_WEIGHTS: dict[str, str] = {
    **{f"equinox.nn.{kind}Pool{rank}d": "a pooling window: no parameters"
       for kind in ("Avg", "Max", "AdaptiveAvg", "AdaptiveMax") for rank in (1, 2, 3)},
    "equinox.nn.Pool": "the general pooling window: no parameters",
    "equinox.nn.AdaptivePool": "the general adaptive pooling window: no parameters",
    "equinox.nn.Dropout": "a random mask drawn at call time: no parameters",
    "equinox.nn.Identity": "returns its input: no parameters",
    "equinox.nn.Lambda": "wraps a function: no parameters of its own",
    "equinox.nn.RotaryPositionalEmbedding": "sines and cosines computed (and cached) at "
                                            "call time, not stored in the module",
    "equinox.nn.StatefulLayer": "the abstract base that marks a layer stateful: no fields",
}
"""Public ``equinox.nn`` module classes that hold no arrays, and why."""

NOT_COVERED: dict[str, str] = {
    "equinox.nn.StateIndex": "holds the initial state of the layer that owns it: the walker "
                             "reports its arrays as that layer's buffers",
    "equinox.nn.Shared": "ties nodes chosen by two callables (where, get), which have no JSON "
                         "form for an example; its tensors are walked as those of the "
                         "layers it holds",
}
"""Public ``equinox.nn`` module classes that can hold arrays but have no handler, and why."""


def cite(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; equinox/nn/{source}"


def layer_name(cls: type) -> str:
    import equinox.nn

    return qualified_name(cls, [("equinox.nn", equinox.nn)])


def _uniform(citation: str, rule: str):
    return inverse_sqrt_uniform(citation, rule)


def linear(site: Site) -> Role | None:
    out, inputs = (int(d) for d in site.layer.weight.shape)
    fans = (inputs, out)
    citation = cite("linear", "_linear.py Linear.__init__")
    law_of = _uniform(citation, "default_init: uniform(-1/sqrt(in_features), "
                                "1/sqrt(in_features))")
    if site.local == "weight":
        return fan_role("linear.weight", fans, fans, law_of, layout="(out, in)",
                        doc_note=UNDOCUMENTED)
    if site.local == "bias":
        return bias_role("linear.bias", fans, fans, law_of, doc_note=UNDOCUMENTED)
    return None


def conv(site: Site) -> Role | None:
    """``Conv`` and ``ConvTranspose``: ``lim = 1 / sqrt(in_channels // groups * prod(k))``,
    weight and bias."""
    import equinox.nn

    layer = site.layer
    transposed = isinstance(layer, equinox.nn.ConvTranspose)
    shape = tuple(int(d) for d in layer.weight.shape)
    out, in_per_group, kernel = shape[0], shape[1], shape[2:]
    groups = int(layer.groups)
    semantic, note = conv_fans(in_per_group, out // groups, kernel,
                               as_tuple(layer.stride, len(kernel)), transposed=transposed)
    framework: Fans = (in_per_group * math.prod(kernel), semantic[1])
    kind = "conv_transpose" if transposed else "conv"
    name = "ConvTranspose" if transposed else "Conv"
    law_of = _uniform(cite("conv", f"_conv.py {name}.__init__"),
                      "default_init: uniform(-lim, lim), lim = 1/sqrt(in_channels // groups "
                      "* prod(kernel_size))")
    if site.local == "weight":
        return fan_role(f"{kind}.weight", semantic, framework, law_of,
                        layout="(out, in / groups, *kernel)", note=note, doc_note=UNDOCUMENTED)
    if site.local == "bias":
        return bias_role(f"{kind}.bias", semantic, framework, law_of, doc_note=UNDOCUMENTED)
    return None


def embedding(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    law = normal_law(1.0, cite("embedding", "_embedding.py Embedding.__init__"),
                     "jax.random.normal(key, (num_embeddings, embedding_size))")
    return fan_role("embedding.weight", (1, int(site.shape[-1])), None, law=law,
                    layout="(num_embeddings, embedding_size)", doc_note=UNDOCUMENTED,
                    note="a row lookup: semantic fan_in 1; the law uses no fan")


RECURRENT = {"GRUCell": {"weight_ih": (3, "ih"), "weight_hh": (3, "hh"), "bias": (3, "ih"),
                         "bias_n": (1, "hh")},
             "LSTMCell": {"weight_ih": (4, "ih"), "weight_hh": (4, "hh"), "bias": (4, "ih")}}
"""Per cell, tensor -> (gates stacked on axis 0, the map whose fans its law stands for)."""


def recurrent(site: Site) -> Role | None:
    """Every tensor ``U(-1/sqrt(hidden), 1/sqrt(hidden))``. Semantic fans per gate:
    input-to-hidden ``(input, hidden)``, hidden-to-hidden ``(hidden, hidden)``; Equinox's
    law stands for a fan-in of ``hidden`` in all."""
    layer = site.layer
    name = type(layer).__name__
    known = RECURRENT.get(name, {})
    if site.local not in known:
        return None
    gates, of = known[site.local]
    hidden, inputs = int(layer.hidden_size), int(layer.input_size)
    semantic = (inputs, hidden) if of == "ih" else (hidden, hidden)
    law_of = _uniform(cite("rnn", f"_rnn.py {name}.__init__"),
                      "default_init: uniform(-sqrt(1/hidden_size), sqrt(1/hidden_size))")
    if site.local.startswith("bias"):
        return bias_role(f"recurrent.{site.local}", semantic, (hidden, hidden), law_of,
                         blocks=gates, doc_note=UNDOCUMENTED)
    return fan_role(f"recurrent.{site.local}", semantic, (hidden, hidden), law_of,
                    blocks=gates, block_axis=0,
                    layout=f"({gates} gates * hidden, {'in' if of == 'ih' else 'hidden'})",
                    doc_note=UNDOCUMENTED)


NORM_CONSTANTS = {"weight": ("norm.scale", 1.0, "jnp.ones"),
                  "bias": ("norm.bias", 0.0, "jnp.zeros")}
BATCH_STATE = {"batch_state_index.init.0": ("norm.running_mean", 0.0, "jnp.zeros"),
               "batch_state_index.init.1": ("norm.running_var", 1.0, "jnp.ones"),
               "batch_counter.init": ("norm.counter", 0.0, "jnp.array(0)"),
               "ema_first_time_index.init": ("norm.first_time", 1.0, "jnp.array(True)")}
EMA_BUFFERS = ("ema_state_index.init.0", "ema_state_index.init.1")


def norm(site: Site) -> Role | None:
    name = type(site.layer).__name__
    source = "_batch_norm.py" if name == "BatchNorm" else "_normalisation.py"
    citation = cite("normalisation", f"{source} {name}.__init__")
    if site.local in NORM_CONSTANTS:
        role, value, rule = NORM_CONSTANTS[site.local]
        return constant_role(role, value, citation, rule)
    if site.local in BATCH_STATE:
        role, value, rule = BATCH_STATE[site.local]
        return constant_role(role, value, citation, rule, doc_note=UNDOCUMENTED)
    if site.local in EMA_BUFFERS:
        which = "running_mean" if site.local.endswith("0") else "running_var"
        return Role(role=f"norm.{which}", random=False, doc_note=UNDOCUMENTED,
                    note="mode='ema': jnp.empty, overwritten by the first batch's statistics "
                         "(ema_first_time_index); no law")
    return None


def prelu(site: Site) -> Role | None:
    if site.local != "negative_slope":
        return None
    return constant_role("prelu.weight", 0.25, cite("activations", "_activations.py PReLU"),
                         "jnp.asarray(init_alpha), init_alpha default 0.25 (documented)")


def spectral_norm(site: Site) -> Role | None:
    """The power iteration's vectors ``u0``, ``v0``: ``jax.random.normal`` draws, then 15
    power iterations on the wrapped weight in ``__init__``, so unit estimates of its top
    singular vectors: no law of their own."""
    vectors = {"uv_index.init.0": "spectral_norm.u", "uv_index.init.1": "spectral_norm.v"}
    if site.local not in vectors:
        return None
    return Role(role=vectors[site.local], random=False, doc_note=UNDOCUMENTED,
                note="jax.random.normal, then 15 power iterations on the weight "
                     "(_spectral_norm.py SpectralNorm.__init__): a unit singular-vector "
                     "estimate, no law")


def weight_norm(site: Site) -> Role | None:
    if site.local != "g":
        return None
    return Role(role="weight_norm.g", random=False,
                note="the norm of the wrapped layer's weight along every axis but one: a "
                     "function of that weight, with no law of its own")


HANDLERS: dict[str, Handler] = {
    "equinox.nn.Linear": linear,
    **{f"equinox.nn.{kind}{rank}": conv for kind in ("Conv", "ConvTranspose")
       for rank in ("", "1d", "2d", "3d")},
    "equinox.nn.Embedding": embedding,
    "equinox.nn.GRUCell": recurrent,
    "equinox.nn.LSTMCell": recurrent,
    **{f"equinox.nn.{name}": norm for name in ("LayerNorm", "RMSNorm", "GroupNorm",
                                               "BatchNorm")},
    "equinox.nn.PReLU": prelu,
    "equinox.nn.SpectralNorm": spectral_norm,
    "equinox.nn.WeightNorm": weight_norm,
    **{f"equinox.nn.{name}": composite for name in ("MultiheadAttention", "MLP",
                                                    "Sequential")},
}


def public_layer_classes() -> dict[str, type]:
    """Every public ``equinox.nn`` class that subclasses ``equinox.Module``, by registry
    name."""
    import equinox
    import equinox.nn

    return public_classes(equinox.nn, equinox.Module, layer_name)


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "oihw", "(out, in, *kernel)"))


# --- the walker ----------------------------------------------------------------------


def _arrays(model: object, state: object | None) -> dict[int, tuple[object, list]]:
    """Each array once (by identity) with every ``(path, owner, parents, buffer)`` that
    reaches it, depth first."""
    import equinox as eqx

    found: dict[int, tuple[object, list]] = {}

    def value_of(index: object) -> object:
        if state is None:
            return index.init
        try:  # make_with_state moved the initial value into the State
            return state.get(index)
        except (KeyError, ValueError, TypeError):
            return index.init

    def visit(value: object, path: tuple, owner: object | None, parents: tuple,
              at: int, buffer: bool) -> None:
        if isinstance(value, eqx.nn.StateIndex):
            visit(value_of(value), (*path, "init"), owner, parents, at, True)
        elif isinstance(value, eqx.Module):
            if any(value is p for p in (*parents, owner)):
                return  # a reference back up the tree
            chain = (*parents, owner) if owner is not None else parents
            for field in dataclasses.fields(value):
                if not field.metadata.get("static", False):
                    visit(getattr(value, field.name, None), (*path, field.name), value,
                          chain, len(path), buffer)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(item, (*path, str(index)), owner, parents, at, buffer)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, (*path, str(key)), owner, parents, at, buffer)
        elif eqx.is_array(value):
            found.setdefault(id(value), (value, []))[1].append((path, owner, parents, at,
                                                                buffer))

    visit(model, (), None, (), 0, False)
    return found


def walk(model: object) -> list[Param]:
    """``model`` is an ``equinox.Module``, or ``(module, state)`` as
    ``eqx.nn.make_with_state`` returns them."""
    import equinox as eqx

    state = None
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], eqx.nn.State):
        model, state = model
    if not isinstance(model, eqx.Module):
        raise ValueError(f"api 'equinox' walks an equinox.Module (or (module, state)), got "
                         f"{type(model).__name__}")
    params = []
    for value, paths in _arrays(model, state).values():
        path, owner, parents, at, buffer = paths[0]
        local = ".".join(path[at:])
        array, dtype = to_numpy(value)
        site = Site(owner, local, tuple(array.shape), parents, path[at - 1] if at else "")
        params.append(Param(names=tuple(".".join(each[0]) for each in paths), array=array,
                            dtype=dtype, layer=layer_name(type(owner)), local=local,
                            role=role_of(site), buffer=buffer, trainable=not buffer))
    return params


# --- building ------------------------------------------------------------------------


def _layer_class(name: str) -> type:
    import equinox.nn

    short = name.removeprefix("equinox.").removeprefix("nn.")
    cls = getattr(equinox.nn, short, None)
    if not isinstance(cls, type) or layer_name(cls) not in HANDLERS:
        raise ValueError(f"equinox layer {name!r} is not in the registry: use nn.<Name> with "
                         f"one of {', '.join(sorted(n.split('.')[-1] for n in HANDLERS))}")
    return cls


def _takes_key(cls: type) -> bool:
    return "key" in inspect.signature(cls.__init__).parameters


def _construct(name: str, kwargs: dict, key: object) -> object:
    """``equinox.nn.<name>(**kwargs)``, with ``key`` where the constructor takes one; layer
    arguments (``{"layer": NAME, "kwargs": {...}}``, also inside a list such as
    ``Sequential``'s ``layers``) are built first, each from its own split of ``key``."""
    import jax

    from verify.layers.common import is_nested_layer

    cls = _layer_class(name)
    nested = [value for value in kwargs.values() if is_nested_layer(value)] + [
        item for value in kwargs.values() if isinstance(value, list)
        for item in value if is_nested_layer(item)]
    keys = iter(jax.random.split(key, len(nested) + 1))
    own = next(keys)

    def built(value: object) -> object:
        if is_nested_layer(value):
            return _construct(str(value["layer"]), dict(value.get("kwargs", {})), next(keys))
        if isinstance(value, list) and any(is_nested_layer(item) for item in value):
            return [built(item) for item in value]
        return value

    arguments = {argument: built(value) for argument, value in kwargs.items()}
    if _takes_key(cls):
        arguments["key"] = own
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot build equinox {cls.__name__} with {kwargs}: {error}") \
            from None


def _checked(name: str, kwargs: dict) -> None:
    """``kwargs`` (and those of each layer argument) bind to the constructor's signature."""
    from verify.layers.common import is_nested_layer

    cls = _layer_class(name)
    for value in kwargs.values():
        for item in value if isinstance(value, list) else [value]:
            if is_nested_layer(item):
                _checked(str(item["layer"]), dict(item.get("kwargs", {})))
    extra = {"key": None} if _takes_key(cls) else {}
    try:
        inspect.signature(cls.__init__).bind(None, **kwargs, **extra)
    except TypeError as error:
        raise ValueError(f"equinox {cls.__name__} does not take {kwargs}: {error}") from None


def build(name: str, kwargs: dict) -> object:
    """``fn(key)`` building ``equinox.nn.<name>(**kwargs, key=key)`` (no key for a layer
    whose constructor takes none: norms, ``PReLU``, ``WeightNorm``). The name and the
    arguments' names are checked now, against the constructors' signatures."""
    _checked(name, kwargs)

    def make(key: object) -> object:
        return _construct(name, dict(kwargs), key)

    return make
