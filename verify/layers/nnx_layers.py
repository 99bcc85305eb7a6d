"""``flax.nnx``'s layer types and the walker (the handlers are in
:mod:`verify.layers.flax_common`).

The walker follows the module graph with ``nnx.graph.iter_children`` (so a shared
variable is reached, and named, by every path to it), reports ``nnx.Param`` variables as
parameters and every other variable (``BatchStat``...) as a buffer, and leaves out
random-number state (``nnx.RngState``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping

from verify.layers import flax_common as fc
from verify.layers.common import (
    Handler,
    Site,
    composite,
    constant_law,
    constant_role,
    fan_role,
    find_handler,
    nested_layers,
    normal_law,
    public_classes,
    qualified_name,
    to_numpy,
    unknown_role,
    variance_scaling,
)
from verify.layers.flax_common import jax_fans
from verify.layers.records import Param, Role

NNX = fc.NNX
NORM_DOCS = "https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/normalization.html"


def layer_name(cls: type) -> str:
    from flax import nnx

    return qualified_name(cls, [("flax.nnx", nnx)])


def linear(site: Site) -> Role | None:
    return fc.dense(site, NNX, "nnx", "flax.nnx.Linear")


def linear_general(site: Site) -> Role | None:
    layer = site.layer
    return fc.dense_general(site, len(layer.batch_axis), len(layer.in_features),
                            len(layer.out_features),
                            NNX.cite("flax.nnx.LinearGeneral",
                                     "linear.py LinearGeneral.__init__ kernel_init_wrap"))


def einsum(site: Site) -> Role | None:
    return fc.einsum(site, NNX.cite("flax.nnx.Einsum", "linear.py Einsum.__init__"))


def conv(site: Site) -> Role | None:
    return fc.conv(site, NNX.cite("flax.nnx.Conv", "linear.py Conv.__init__"))


def conv_transpose(site: Site) -> Role | None:
    return fc.conv_transpose(site, NNX.cite("flax.nnx.ConvTranspose",
                                            "linear.py ConvTranspose.__init__"))


def embed(site: Site) -> Role | None:
    return fc.embed(site, NNX.cite("flax.nnx.Embed", "linear.py default_embed_init"))


def norm(site: Site) -> Role | None:
    name = type(site.layer).__name__
    return fc.norm(site, f"{NORM_DOCS}#flax.nnx.{name} ; flax/nnx/nn/normalization.py "
                         f"{name}.__init__")


NNX_DOCS = "https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/{}.html#flax.nnx.{}"


def _cited(page: str, name: str, source: str) -> str:
    return f"{NNX_DOCS.format(page, name)} ; flax/nnx/nn/{source}"


def prelu(site: Site) -> Role | None:
    if site.local != "negative_slope":
        return None
    return constant_role("prelu.negative_slope", 0.01,
                         _cited("activations", "PReLU", "activations.py PReLU.__init__"),
                         "negative_slope_init=0.01 (documented default)")


def lora(site: Site) -> Role | None:
    """``y = x @ lora_a @ lora_b``: ``lora_a`` ``(in, rank)`` is the ``in -> rank`` map,
    ``he_uniform`` (``variance_scaling(2, 'fan_in', 'uniform')``); ``lora_b`` ``(rank,
    out)`` is zeros, so the adapter adds nothing at initialization."""
    citation = _cited("lora", "LoRA", "lora.py LoRA.__init__")
    fans = tuple(int(d) for d in site.shape)
    if site.local == "lora_a":
        return fan_role("lora.a", fans, jax_fans(fans),
                        variance_scaling(2.0, "fan_in", "uniform", citation,
                                         "he_uniform: variance_scaling(2.0, 'fan_in', "
                                         "'uniform')"), layout="(in, rank)")
    if site.local == "lora_b":
        return Role(role="lora.b", fan_in=fans[0], fan_out=fans[1], random=False,
                    default=constant_law(0.0, citation, "zeros (documented default)"),
                    layout="(rank, out)")
    return None


SPECTRAL_STATISTIC = re.compile(r"^batch_stats\.\(.*'(u|sigma)',?\)$")


def spectral_norm(site: Site) -> Role | None:
    """``SpectralNorm``'s ``batch_stats``, keyed by the wrapped parameter's path plus ``u``
    or ``sigma``: the power iteration's start vector ``u`` ``(1, out)``, drawn
    ``initializers.normal()`` (``N(0, 0.01^2)``), and ``sigma`` ones."""
    match = SPECTRAL_STATISTIC.match(site.local)
    if match is None:
        return None
    citation = _cited("normalization", "SpectralNorm",
                      "normalization.py SpectralNorm.__init__ init_batch_stats")
    doc_note = "the documentation does not state these defaults; they are from the source"
    if match.group(1) == "sigma":
        return constant_role("spectral_norm.sigma", 1.0, citation, "initializers.ones",
                             doc_note=doc_note)
    return Role(role="spectral_norm.u", layout="(1, out)", doc_note=doc_note,
                default=normal_law(0.01, citation, "initializers.normal(): N(0, 0.01^2)"),
                note="the power iteration's start vector: a BatchStat, no fans")


def weight_norm(site: Site) -> Role | None:
    """``WeightNorm``'s ``scales``, one array per normalized parameter (keyed by its path),
    ``scale_init`` ones: plain arrays, not ``nnx.Param`` (so a buffer here)."""
    if not site.local.startswith("scales."):
        return None
    return constant_role("weight_norm.scale", 1.0,
                         _cited("normalization", "WeightNorm",
                                "normalization.py WeightNorm.__init__"),
                         "scale_init=ones (documented default)",
                         note="a plain array held as data, not an nnx.Param")


HANDLERS: dict[str, Handler] = {
    "flax.nnx.Linear": linear,
    "flax.nnx.LoRALinear": linear,
    "flax.nnx.LoRA": lora,
    "flax.nnx.PReLU": prelu,
    "flax.nnx.SpectralNorm": spectral_norm,
    "flax.nnx.WeightNorm": weight_norm,
    "flax.nnx.Bidirectional": composite,
    "flax.nnx.LinearGeneral": linear_general,
    "flax.nnx.Einsum": einsum,
    "flax.nnx.Conv": conv,
    "flax.nnx.ConvTranspose": conv_transpose,
    "flax.nnx.Embed": embed,
    **{f"flax.nnx.{name}": norm for name in ("LayerNorm", "RMSNorm", "BatchNorm", "GroupNorm",
                                             "InstanceNorm")},
    **{f"flax.nnx.{name}": composite for name in ("MultiHeadAttention", "LSTMCell",
                                                  "OptimizedLSTMCell", "GRUCell",
                                                  "SimpleCell", "RNN")},
}


def _names(reason: str, *names: str) -> dict[str, str]:
    return dict.fromkeys((f"flax.nnx.{name}" for name in names), reason)


WITHOUT_WEIGHTS: dict[str, str] = {
    **_names("dropout: a random mask drawn at call time (random-number state, which the "
             "walker leaves out), no weights", "Dropout"),
    **_names("a container, a base class or the module base: no weights of its own, the "
             "modules it holds are walked with their own types", "Module", "Sequential",
             "List", "Dict", "RNNCellBase"),
}
"""Public ``flax.nnx`` module classes without weights, and why
(``tests/test_layer_introspection.py`` builds each it can and checks)."""

NOT_COVERED: dict[str, str] = {}
"""Public ``flax.nnx`` module classes with weights but no handler: none."""


def public_layer_classes() -> dict[str, type]:
    """Every public ``flax.nnx`` class that subclasses ``flax.nnx.Module``, by registry
    name."""
    from flax import nnx

    return public_classes(nnx, nnx.Module, layer_name)


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "hwio", "(*kernel, in, out)"))


def _variables(model: object) -> dict[int, tuple[object, list[tuple]]]:
    """Each variable once (by identity) with every path to it, depth first."""
    from flax import nnx

    found: dict[int, tuple[object, list[tuple]]] = {}

    def visit(node: object, path: tuple, chain: tuple) -> None:
        children = dict(nnx.graph.iter_children(node))
        for key, child in children.items():
            reach(child, (*path, key), (*chain, node))
        for key in _container_attributes(node, children):
            reach(getattr(node, key), (*path, key), (*chain, node))

    def reach(value: object, path: tuple, chain: tuple) -> None:
        """``value`` at ``path``; ``chain`` holds the node (or container) of each key."""
        if isinstance(value, nnx.Variable) or _is_array(value):
            if not isinstance(value, nnx.RngState):
                found.setdefault(id(value), (value, []))[1].append((path, chain))
        elif any(value is ancestor for ancestor in chain):
            return  # a reference back up the graph
        elif nnx.graph.is_graph_node(value):
            visit(value, path, chain)
        elif isinstance(value, dict):
            for key, item in value.items():
                reach(item, (*path, key), (*chain, value))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                reach(item, (*path, index), (*chain, value))

    visit(model, (), ())
    return found


def _is_array(value: object) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type)


def _container_attributes(node: object, children: dict) -> list[str]:
    """A module's data attributes that ``iter_children`` does not list: plain dicts, lists
    and arrays (``SpectralNorm``'s ``batch_stats``, ``WeightNorm``'s ``scales``), which
    ``nnx.state`` does list. Read from Flax's record of data attributes, where it keeps
    one."""
    marked = getattr(node, "_pytree__nodes", None)
    if not isinstance(marked, Mapping):
        return []
    return [key for key, is_data in marked.items()
            if is_data and isinstance(key, str) and not key.startswith("_pytree__")
            and key not in children]


def walk(model: object) -> list[Param]:
    from flax import nnx

    if not isinstance(model, nnx.Module):
        raise ValueError(f"api 'nnx' walks a flax.nnx.Module, got {type(model).__name__}")
    params = []
    for variable, paths in _variables(model).values():
        path, chain = paths[0]
        modules = [i for i, node in enumerate(chain) if isinstance(node, nnx.Module)]
        owner_index = modules[-1]
        owner = chain[owner_index]
        local = ".".join(str(part) for part in path[owner_index:])
        parents = tuple(node for node in chain[:owner_index] if isinstance(node, nnx.Module))
        attribute = str(path[owner_index - 1]) if owner_index else ""
        if _is_array(variable):  # a plain array held as data: not an nnx.Param
            value = variable
        else:
            value = variable.get_value() if hasattr(variable, "get_value") else variable.value
        if not hasattr(value, "shape"):
            continue
        array, dtype = to_numpy(value)
        site = Site(owner, local, tuple(array.shape), parents, attribute)
        is_param = isinstance(variable, nnx.Param)
        params.append(Param(names=tuple(".".join(str(p) for p in each) for each, _ in paths),
                            array=array, dtype=dtype, layer=layer_name(type(owner)),
                            local=local, role=role_of(site), buffer=not is_param,
                            trainable=is_param))
    return params


def _layer_class(name: str) -> type:
    from flax import nnx

    short = name.removeprefix("flax.").removeprefix("nnx.")
    cls = getattr(nnx, short, None)
    if not isinstance(cls, type) or find_handler(cls, HANDLERS, layer_name) is None:
        raise ValueError(f"nnx layer {name!r} is not in the registry: use one of "
                         f"{', '.join(sorted(n.split('.')[-1] for n in HANDLERS))}")
    return cls


def _takes_rngs(cls: type) -> bool:
    return "rngs" in inspect.signature(cls.__init__).parameters


def _checked(name: str, kwargs: dict) -> type:
    """The class of ``name``, once its constructor accepts ``kwargs`` (and ``rngs``, where
    it takes one: ``PReLU`` does not)."""
    cls = _layer_class(name)
    rngs = {"rngs": None} if _takes_rngs(cls) else {}
    try:
        inspect.signature(cls.__init__).bind(None, **kwargs, **rngs)
    except TypeError as error:
        raise ValueError(f"nnx {cls.__name__} does not take {kwargs}: {error}") from None
    return cls


def build(name: str, kwargs: dict) -> object:
    """``fn(rngs)`` building ``flax.nnx.<name>(**kwargs, rngs=rngs)``; the arguments are
    checked against the constructor's signature now (``LinearGeneral``'s ``batch_axis`` may
    have JSON's string keys, ``{"0": 6}``). A layer argument written ``{"layer":
    "LSTMCell", "kwargs": {...}}`` (the cell of ``RNN``) is built first, from the same
    ``rngs``."""
    if isinstance(kwargs.get("batch_axis"), dict):  # JSON keys are strings; axes are ints
        kwargs["batch_axis"] = {int(axis): size for axis, size in kwargs["batch_axis"].items()}
    nested_layers(kwargs, _checked)
    _checked(name, kwargs)

    def make(rngs: object) -> object:
        def construct(inner: str, arguments: dict) -> object:
            layer_class = _layer_class(inner)
            if _takes_rngs(layer_class):
                return layer_class(**arguments, rngs=rngs)
            return layer_class(**arguments)

        return construct(name, nested_layers(kwargs, construct))

    return make
