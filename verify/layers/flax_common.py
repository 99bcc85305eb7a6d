"""The layer handlers Flax's two APIs share (``flax.nnx`` and ``flax.linen`` store their
tensors the same way and draw them with the same ``jax.nn.initializers``).

Layouts: a dense kernel is ``(in, out)``, a convolution kernel ``(*k, in / groups, out)``,
a transposed convolution kernel ``(*k, in, out)`` (``(*k, out, in)`` with
``transpose_kernel``), a general dense kernel ``(*batch, *in, *out)``. JAX's
``variance_scaling`` reads the fans from the shape it is given (``in_axis=-2``,
``out_axis=-1``, the other axes a receptive field); ``LinearGeneral``/``DenseGeneral`` give
it the kernel flattened to ``(prod(batch) * prod(in), prod(out))``.

Defaults, read in ``flax/nnx/nn/*.py`` and ``flax/linen/*.py``: kernels
``lecun_normal()`` (``variance_scaling(1, 'fan_in', 'truncated_normal')``), biases zeros,
norm scales ones, ``Embed`` ``variance_scaling(1, 'fan_in', 'normal', out_axis=0)``,
recurrent cells' hidden-to-hidden kernels ``orthogonal()``.
"""

from __future__ import annotations

import math

from verify.layers.common import (
    Site,
    as_tuple,
    constant_role,
    conv_fans,
    einsum_fans,
    fan_role,
    lecun_normal,
    shape_fans,
    split_einsum,
    variance_scaling,
)
from verify.layers.records import Role


def jax_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``jax.nn.initializers``' fans of a shape with the default axes."""
    return shape_fans(shape, "hwio")


class Flavour:
    """Where one Flax API documents its layers and keeps its source."""

    def __init__(self, docs: str, source: str) -> None:
        self.docs = docs
        self.source = source

    def cite(self, anchor: str, source: str) -> str:
        return f"{self.docs}#{anchor} ; {self.source}{source}"


NNX = Flavour("https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/linear.html",
              "flax/nnx/nn/")
LINEN = Flavour("https://flax.readthedocs.io/en/latest/api_reference/flax.linen/layers.html",
                "flax/linen/")


def zero_bias(role: str, citation: str) -> Role:
    return constant_role(role, 0.0, citation, "zeros_init()")


# --- recurrent cells: a dense child's role depends on its parent cell ---------------------

CELL_NAMES = ("LSTMCell", "OptimizedLSTMCell", "GRUCell", "SimpleCell", "MGUCell")


def _cell_of(site: Site) -> object | None:
    parent = site.parent
    if parent is None or not any(cls.__name__ in CELL_NAMES for cls in type(parent).__mro__):
        return None
    return parent


def _recurrent_child(site: Site) -> bool:
    """A cell's hidden-to-hidden dense: ``hi``/``hf``/``hr``/``h``/``dense_h``..."""
    return site.attribute.startswith(("h", "dense_h"))


def cell_dense(site: Site, flavour: Flavour, kind: str) -> Role | None:
    """The kernel and bias of a dense layer inside a recurrent cell."""
    cell = _cell_of(site)
    if cell is None:
        return None
    hidden = int(getattr(cell, "hidden_features", 0) or getattr(cell, "features", 0))
    citation = flavour.cite(type(cell).__name__, "recurrent.py")
    shape = tuple(site.shape)
    if site.local == "bias":
        if type(cell).__name__ == "MGUCell" and site.attribute == "if":
            return constant_role("recurrent.bias", 1.0, citation,
                                 "forget_bias_init=ones_init() (the forget gate)")
        return zero_bias("recurrent.bias", citation)
    if site.local != "kernel" or len(shape) != 2 or not hidden:
        return None
    gates = max(1, shape[1] // hidden)
    layout = f"(in, {gates} gates * hidden)" if gates > 1 else "(in, hidden)"
    if _recurrent_child(site):
        return Role(role="recurrent.recurrent_kernel", fan_in=shape[0], fan_out=hidden,
                    layout=layout, blocks=gates, block_axis=1,
                    note=f"default orthogonal() on the whole {shape} matrix (in {kind} "
                         f"{type(cell).__name__}): no law of the TensorLaw families")
    return fan_role("recurrent.kernel", (shape[0], hidden), jax_fans(shape),
                    lecun_normal(citation), layout=layout, blocks=gates, block_axis=1)


# --- dense -------------------------------------------------------------------------------

def dense(site: Site, flavour: Flavour, kind: str, anchor: str) -> Role | None:
    """``Linear``/``Dense``: kernel ``(in, out)``, lecun_normal; bias zeros."""
    inside_cell = cell_dense(site, flavour, kind)
    if inside_cell is not None:
        return inside_cell
    citation = flavour.cite(anchor, "linear.py default_kernel_init")
    if site.local == "kernel":
        shape = tuple(site.shape)
        return fan_role("linear.kernel", (shape[0], shape[1]), jax_fans(shape),
                        lecun_normal(citation), layout="(in, out)")
    if site.local == "bias":
        return zero_bias("linear.bias", citation)
    return None


def dense_general(site: Site, batch: int, inputs: int, outputs: int,
                  citation: str) -> Role | None:
    """Kernel ``(*batch, *in, *out)`` with ``batch``, ``inputs``, ``outputs`` axes: the
    semantic fans are ``(prod(in), prod(out))`` (each batch slice is its own map); the
    initializer is given ``(prod(batch) * prod(in), prod(out))``."""
    if site.local == "bias":
        return zero_bias("linear_general.bias", citation)
    if site.local != "kernel":
        return None
    shape = tuple(int(d) for d in site.shape)
    in_size = math.prod(shape[batch:batch + inputs])
    out_size = math.prod(shape[len(shape) - outputs:])
    framework = (math.prod(shape[:batch]) * in_size, out_size)
    note = (f"{batch} batch axes count in neither semantic fan; the initializer sees them as "
            "fan-in" if batch else "")
    return fan_role("linear_general.kernel", (in_size, out_size), framework,
                    lecun_normal(citation), layout="(*batch, *in, *out), flattened for init",
                    note=note)


def einsum(site: Site, citation: str) -> Role | None:
    if site.local == "bias":
        return zero_bias("einsum.bias", citation)
    if site.local != "kernel":
        return None
    shape = tuple(int(d) for d in site.shape)
    inputs, kernel, output = split_einsum(site.layer.einsum_str)
    semantic, note = einsum_fans(inputs, kernel, output, shape)
    return fan_role("einsum.kernel", semantic, jax_fans(shape), lecun_normal(citation),
                    layout=f"einsum {site.layer.einsum_str}",
                    note="; ".join(filter(None, [note, "the initializer reads the shape with "
                                                       "in_axis=-2, out_axis=-1"])))


# --- convolutions ----------------------------------------------------------------------

def conv(site: Site, citation: str) -> Role | None:
    if site.local == "bias":
        return zero_bias("conv.bias", citation)
    if site.local != "kernel":
        return None
    layer = site.layer
    shape = tuple(int(d) for d in site.shape)
    groups = int(getattr(layer, "feature_group_count", 1) or 1)
    rank = len(shape) - 2
    semantic, note = conv_fans(shape[-2], shape[-1] // groups, shape[:-2],
                               as_tuple(getattr(layer, "strides", 1), rank))
    return fan_role("conv.kernel", semantic, jax_fans(shape), lecun_normal(citation),
                    layout="(*kernel, in / groups, out)", note=note)


def conv_transpose(site: Site, citation: str) -> Role | None:
    if site.local == "bias":
        return zero_bias("conv_transpose.bias", citation)
    if site.local != "kernel":
        return None
    layer = site.layer
    shape = tuple(int(d) for d in site.shape)
    rank = len(shape) - 2
    flipped = bool(getattr(layer, "transpose_kernel", False))
    inputs, outputs = (shape[-1], shape[-2]) if flipped else (shape[-2], shape[-1])
    semantic, note = conv_fans(inputs, outputs, shape[:-2],
                               as_tuple(getattr(layer, "strides", None), rank),
                               transposed=True)
    return fan_role("conv_transpose.kernel", semantic, jax_fans(shape),
                    lecun_normal(citation),
                    layout="(*kernel, out, in)" if flipped else "(*kernel, in, out)", note=note)


# --- embeddings and norms ------------------------------------------------------------

def embed(site: Site, citation: str) -> Role | None:
    """``variance_scaling(1, 'fan_in', 'normal', out_axis=0)`` on ``(num, features)``:
    ``in_axis=-2`` and ``out_axis=0`` are the same axis, the receptive field is
    ``features / num``, so the fan-in it divides by is ``features``: ``N(0, 1/features)``."""
    if site.local != "embedding":
        return None
    features = int(site.shape[-1])
    law_of = variance_scaling(1.0, "fan_in", "normal", citation,
                              "variance_scaling(1.0, 'fan_in', 'normal', out_axis=0)")
    return fan_role("embedding.weight", (1, features), (features, features), law_of,
                    layout="(num_embeddings, features)",
                    note="a row lookup: semantic fan_in 1; the initializer's fan_in is "
                         "features, the fan of Embed.attend's (features -> num) projection")


NORM_CONSTANTS = {"scale": ("norm.scale", 1.0, "ones_init()"),
                  "bias": ("norm.bias", 0.0, "zeros_init()"),
                  "mean": ("norm.running_mean", 0.0, "zeros"),
                  "var": ("norm.running_var", 1.0, "ones")}


def norm(site: Site, citation: str) -> Role | None:
    if site.local not in NORM_CONSTANTS:
        return None
    role, value, rule = NORM_CONSTANTS[site.local]
    return constant_role(role, value, citation, rule)
