"""``flax.nnx``'s layer types and the walker (the handlers are in
:mod:`verify.layers.flax_common`).

The walker follows the module graph with ``nnx.graph.iter_children`` (so a shared
variable is reached, and named, by every path to it), reports ``nnx.Param`` variables as
parameters and every other variable (``BatchStat``...) as a buffer, and leaves out
random-number state (``nnx.RngState``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from verify.layers import flax_common as fc
from verify.layers.common import (
    Handler,
    Site,
    composite,
    find_handler,
    nested_layers,
    qualified_name,
    to_numpy,
    unknown_role,
)
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


HANDLERS: dict[str, Handler] = {
    "flax.nnx.Linear": linear,
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


def _checked(name: str, kwargs: dict) -> type:
    """The class of ``name``, once its constructor accepts ``kwargs`` (and ``rngs``)."""
    cls = _layer_class(name)
    try:
        inspect.signature(cls.__init__).bind(None, **kwargs, rngs=None)
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
    cls = _checked(name, kwargs)

    def make(rngs: object) -> object:
        def construct(inner: str, arguments: dict) -> object:
            return _layer_class(inner)(**arguments, rngs=rngs)

        return cls(**nested_layers(kwargs, construct), rngs=rngs)

    return make
