"""tinygrad's layer types: roles, semantic fans and defaults, and the walker.

tinygrad's layers are plain classes holding ``Tensor`` attributes (``tinygrad.nn``); a
model is any object whose attributes, lists and dicts hold layers or tensors, listed by
``tinygrad.nn.state.get_state_dict``. Layouts (``oihw``, as PyTorch): ``Linear.weight``
``(out, in)``, ``Conv2d.weight`` ``(out, in / groups, *k)``, ``ConvTranspose2d.weight``
``(in, out / groups, *k)``, ``Embedding.weight`` ``(vocab_size, embed_size)``,
``LSTMCell.weight_ih`` ``(4 * hidden, input)`` with the gates i, f, g, o on axis 0.

The defaults were read in the installed source (``tinygrad/nn/__init__.py``, each layer's
``__init__``). The docstrings state no initialization: the layers' say "See:" and link
PyTorch's page of the same layer; ``doc_note`` says where that page's law differs from
what tinygrad draws. ``Conv1d`` and ``ConvTranspose1d`` are functions that return a
``Conv2d`` and a ``ConvTranspose2d``: registered under their names too, so that
``audit tinygrad:nn.Conv1d`` builds one, and walked as the class they return.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from verify.layers.common import (
    Fans,
    Handler,
    Site,
    as_tuple,
    bias_role,
    constant_role,
    conv_fans,
    fan_role,
    find_handler,
    glorot_uniform,
    inverse_sqrt_uniform,
    qualified_name,
    unknown_role,
)
from verify.layers.records import Param, Role

DOCS = "https://docs.tinygrad.org/nn/#tinygrad.nn.{}"
TORCH_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}"
FROM_SOURCE = "the documentation states no init; it is from the source"

NOT_COVERED: dict[str, str] = {}
"""Public layer classes of ``tinygrad.nn`` with tensors but no handler, and why (none)."""
WITHOUT_WEIGHTS: dict[str, str] = {}
"""Public layer classes of ``tinygrad.nn`` that hold no tensor (none: every one does)."""


def cite(page: str, source: str) -> str:
    return f"{DOCS.format(page)} ; tinygrad/nn/__init__.py {source}"


def layer_name(cls: type) -> str:
    import tinygrad.nn

    return qualified_name(cls, [("tinygrad.nn", tinygrad.nn)])


def _linked(page: str, law: str) -> str:
    return (f"the docs state no init; the docstring links PyTorch's {page} page "
            f"({TORCH_DOCS.format(page)}), which documents {law}")


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape)


def linear(site: Site) -> Role | None:
    out, inputs = _shape(site.layer.weight)
    fans = (inputs, out)
    citation = cite("Linear", "Linear.__init__")
    law_of = inverse_sqrt_uniform(citation, "Tensor.uniform(out_features, in_features, "
                                  "low=-1/sqrt(in_features), high=1/sqrt(in_features))")
    note = _linked("Linear", "the same law, U(-sqrt(k), sqrt(k)), k = 1 / in_features")
    if site.local == "weight":
        return fan_role("linear.weight", fans, fans, law_of, layout="(out, in)",
                        doc_note=note)
    if site.local == "bias":
        return bias_role("linear.bias", fans, fans, law_of, doc_note=note)
    return None


def conv(site: Site) -> Role | None:
    """``Conv2d`` (any number of kernel axes) and ``ConvTranspose2d``: both draw with
    ``scale = 1 / sqrt(in_channels * prod(kernel_size))``, groups left out; the bias of
    both uses the same scale."""
    import tinygrad.nn

    layer = site.layer
    transposed = isinstance(layer, tinygrad.nn.ConvTranspose2d)
    shape = _shape(layer.weight)
    kernel, rank = shape[2:], len(shape) - 2
    groups = int(getattr(layer, "groups", 1) or 1)
    strides = as_tuple(getattr(layer, "stride", 1), rank)
    name = "ConvTranspose2d" if transposed else "Conv2d"
    citation = cite(name, f"{name}.__init__")
    if transposed:  # (in, out / groups, *k)
        in_channels = shape[0]
        semantic, note = conv_fans(in_channels // groups, shape[1], kernel, strides,
                                   transposed=True)
        documented = ("k = groups / (C_out * prod(kernel_size)); tinygrad's k is "
                      "1 / (C_in * prod(kernel_size))")
    else:  # (out, in / groups, *k)
        in_channels = shape[1] * groups
        semantic, note = conv_fans(shape[1], shape[0] // groups, kernel, strides)
        documented = ("k = groups / (C_in * prod(kernel_size)); tinygrad's k leaves groups "
                      "out: 1 / (C_in * prod(kernel_size))" if groups > 1 else
                      "the same law, U(-sqrt(k), sqrt(k)), k = 1 / (C_in * prod(kernel_size))")
    doc_note = _linked(name, documented)
    framework: Fans = (in_channels * math.prod(kernel), semantic[1])
    law_of = inverse_sqrt_uniform(citation, "Tensor.uniform(..., low=-scale, high=scale), "
                                  "scale = 1 / sqrt(in_channels * prod(kernel_size))")
    role = "conv_transpose" if transposed else "conv"
    if site.local == "bias":
        return bias_role(f"{role}.bias", semantic, framework, law_of, doc_note=doc_note)
    if site.local != "weight":
        return None
    return fan_role(f"{role}.weight", semantic, framework, law_of,
                    layout="(in, out / groups, *kernel)" if transposed
                    else "(out, in / groups, *kernel)", note=note, doc_note=doc_note)


def embedding(site: Site) -> Role | None:
    if site.local != "weight":
        return None
    vocab, dims = _shape(site.layer.weight)
    citation = cite("Embedding", "Embedding.__init__")
    law_of = glorot_uniform(citation, "Tensor.glorot_uniform(vocab_size, embed_size): "
                            "U(-a, a), a = sqrt(6 / (vocab_size + embed_size))")
    # Tensor.glorot_uniform reads shape[0] as the fan-out and prod(shape[1:]) as the fan-in
    return fan_role("embedding.weight", (1, dims), (dims, vocab), law_of,
                    layout="(vocab_size, embed_size)",
                    note="a row lookup: semantic fans (1, embed_size); tinygrad's "
                    "glorot_uniform sums vocab_size and embed_size",
                    doc_note=_linked("Embedding", "N(0, 1), not tinygrad's glorot_uniform"))


def lstm_cell(site: Site) -> Role | None:
    """Both weights ``U(-1/sqrt(hidden), 1/sqrt(hidden))``, four gates stacked on axis 0;
    both biases zeros (PyTorch's ``LSTMCell`` draws its biases from the weights' law)."""
    layer = site.layer
    hidden = int(layer.weight_hh.shape[1])
    input_size = int(layer.weight_ih.shape[1])
    citation = cite("LSTMCell", "LSTMCell.__init__")
    if site.local in ("bias_ih", "bias_hh"):
        return constant_role(f"recurrent.{site.local}", 0.0, citation,
                             "Tensor.zeros(hidden_size * 4)", doc_note=FROM_SOURCE,
                             note="PyTorch's nn.LSTMCell draws its biases from "
                             "U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)); tinygrad's are 0")
    if site.local not in ("weight_ih", "weight_hh"):
        return None
    semantic = (input_size, hidden) if site.local == "weight_ih" else (hidden, hidden)
    law_of = inverse_sqrt_uniform(citation, "Tensor.uniform(hidden_size * 4, n, "
                                  "low=-stdv, high=stdv), stdv = 1 / sqrt(hidden_size)")
    return fan_role(f"recurrent.{site.local}", semantic, (hidden, hidden), law_of, blocks=4,
                    block_axis=0, layout="(4 gates * hidden, in)", doc_note=FROM_SOURCE)


NORM_CONSTANTS = {"weight": ("norm.scale", 1.0, "Tensor.ones"),
                  "bias": ("norm.bias", 0.0, "Tensor.zeros"),
                  "running_mean": ("norm.running_mean", 0.0, "Tensor.zeros"),
                  "running_var": ("norm.running_var", 1.0, "Tensor.ones"),
                  "num_batches_tracked": ("norm.num_batches_tracked", 0.0, "Tensor.zeros")}


def norm(site: Site) -> Role | None:
    if site.local not in NORM_CONSTANTS:
        return None
    name = type(site.layer).__name__
    role, value, rule = NORM_CONSTANTS[site.local]
    return constant_role(role, value, cite(name, f"{name}.__init__"), rule)


FACTORIES = {"Conv1d": "Conv2d", "ConvTranspose1d": "ConvTranspose2d"}
"""``tinygrad.nn`` functions that build a layer, and the class they return."""

HANDLERS: dict[str, Handler] = {
    "tinygrad.nn.Linear": linear,
    "tinygrad.nn.Conv2d": conv,
    "tinygrad.nn.ConvTranspose2d": conv,
    **{f"tinygrad.nn.{name}": conv for name in FACTORIES},
    "tinygrad.nn.Embedding": embedding,
    "tinygrad.nn.LSTMCell": lstm_cell,
    **{f"tinygrad.nn.{name}": norm for name in ("BatchNorm", "GroupNorm", "InstanceNorm",
                                                 "LayerNorm", "LayerNorm2d", "RMSNorm")},
}


def role_of(site: Site) -> Role:
    handler = find_handler(type(site.layer), HANDLERS, layer_name)
    return ((handler(site) if handler else None)
            or unknown_role(site.local, site.shape, "oihw", "(out, in, *kernel)"))


# --- walking ---------------------------------------------------------------------------


def _child(value: Any, part: str) -> Any:
    """The item ``get_state_dict`` names ``part`` under ``value``."""
    if hasattr(value, "_asdict"):
        return value._asdict()[part]
    if isinstance(value, dict):
        return next(item for key, item in value.items() if str(key) == part)
    if isinstance(value, list | tuple):
        return value[int(part)]
    return vars(value)[part]


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list | tuple) or hasattr(value, "_asdict")


def to_numpy(tensor: Any) -> tuple[np.ndarray, str]:
    """A tinygrad tensor's values (realized) as NumPy, float16 and bfloat16 as float32, and
    its dtype as tinygrad prints it (``dtypes.float``, ``dtypes.half``, ``dtypes.bfloat16``,
    ``dtypes.long``)."""
    from tinygrad import dtypes

    dtype = tensor.dtype
    if dtype in (dtypes.float16, dtypes.bfloat16):
        tensor = tensor.cast(dtypes.float32)
    return tensor.numpy(), str(dtype)


def walk(model: object) -> list[Param]:
    """Every tensor ``tinygrad.nn.state.get_state_dict(model)`` lists, once (a tensor held
    under two names, tied, with both); a tensor marked ``is_param_(False)`` (a norm's
    running statistics) is a buffer. Its layer is the innermost non-container object on its
    path."""
    from tinygrad import Tensor
    from tinygrad.nn.state import get_state_dict

    if isinstance(model, Tensor):
        raise ValueError("api 'tinygrad' walks an object holding tensors (a layer or a "
                         "model), got a single Tensor: wrap it, e.g. {'weight': tensor}")
    found: dict[int, tuple[list[str], Any]] = {}
    for name, tensor in get_state_dict(model).items():
        found.setdefault(id(tensor), ([], tensor))[0].append(name)
    if not found and not hasattr(model, "__dict__") and not _is_container(model):
        raise ValueError(f"api 'tinygrad' walks an object holding tensors, got "
                         f"{type(model).__name__}")
    params = []
    for names, tensor in found.values():
        parts = names[0].split(".")
        chain = [model]
        for part in parts[:-1]:
            chain.append(_child(chain[-1], part))
        layers = [i for i, value in enumerate(chain) if not _is_container(value)]
        cut = layers[-1] if layers else 0
        owner = chain[cut]
        local = ".".join(parts[cut:])
        parents = tuple(chain[i] for i in layers[:-1])
        array, dtype = to_numpy(tensor)
        site = Site(owner, local, tuple(array.shape), parents, parts[cut - 1] if cut else "")
        buffer = not getattr(tensor, "is_param", True)
        params.append(Param(names=tuple(names), array=array, dtype=dtype,
                            layer=layer_name(type(owner)), local=local, role=role_of(site),
                            buffer=buffer, trainable=not buffer))
    return params


def build(name: str, kwargs: dict) -> object:
    """The layer of the catalog name ``nn.Linear`` (or a factory, ``nn.Conv1d``) built on the
    CPU device with ``kwargs`` (JSON lists become tuples: kernel sizes, strides)."""
    import tinygrad.nn

    from verify.adapters.tinygrad import on_cpu

    short = name.removeprefix("tinygrad.").removeprefix("nn.")
    if f"tinygrad.nn.{short}" not in HANDLERS:
        raise ValueError(f"tinygrad layer {name!r} is not in the registry: use nn.<Name> with "
                         f"one of {', '.join(sorted(n.split('.')[-1] for n in HANDLERS))}")
    make = getattr(tinygrad.nn, short)
    arguments = {key: tuple(value) if isinstance(value, list) else value
                 for key, value in kwargs.items()}
    try:
        with on_cpu():
            return make(**arguments)
    except (TypeError, ValueError, AssertionError) as error:
        raise ValueError(f"cannot build tinygrad {short} with {kwargs}: {error}") from None
