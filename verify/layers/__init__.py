"""The registry of layer types: each parameter's role, semantic fans and documented default.

One registry serves ``conformance`` and ``audit``. For every layer type of a framework
it says, for each of the layer's tensors:

* its **role** (``linear.weight``, ``conv.weight``, ``attention.in_proj.weight``,
  ``embedding.weight``, ``norm.scale``, ``recurrent.weight_ih``, ...);
* its **semantic fans**: the fan-in is the number of inputs of one output unit of the
  map the tensor implements, the fan-out the number of outputs fed by one input
  (a packed ``(3E, E)`` attention projection is three ``E -> E`` maps: fans ``E, E``;
  a grouped convolution's fan-in counts only its group's channels; a transposed
  convolution's fans are those of the map it implements, not of its stored shape);
* the fans the framework's own default computes from the stored shape, where it
  computes any (a difference from the semantic fans is a ``fan-mismatch`` finding);
* the framework's documented default law, with its citation.

:func:`walk` lists the tensors of a built model of any api as :class:`Param` records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from verify.laws import TensorLaw

APIS = ("torch", "keras", "nnx", "linen", "mlx", "arrays")


@dataclass(frozen=True, kw_only=True)
class Role:
    """What one tensor of a layer is, and what its layer's framework draws for it."""

    role: str
    """``<layer kind>.<tensor>``, e.g. ``linear.weight``, ``conv.bias``."""
    fan_in: int | None = None
    """Semantic fan-in (None for tensors without one: biases, norms, buffers)."""
    fan_out: int | None = None
    framework_fans: tuple[int, int] | None = None
    """``(fan_in, fan_out)`` as the framework's default computes them from the stored
    shape, where its default law depends on fans; None otherwise."""
    default: TensorLaw | None = None
    """The documented default law (source ``default``, with citation); None if unknown."""
    semantic_default: TensorLaw | None = None
    """The same scheme as ``default`` with the semantic fans, where ``framework_fans``
    differ from them; None when they agree or do not apply."""
    layout: str = ""
    """The storage layout in words, e.g. ``(out, in)`` or ``(in, out)`` (HF ``Conv1D``)."""
    random: bool = True
    """Expected to be a random draw (weights), as opposed to constants (norm scales,
    biases of zeros, buffers). Only random tensors are compared for twins."""
    blocks: int = 1
    """A packed tensor: the number of independent maps stacked along ``block_axis``."""
    block_axis: int = 0
    depth_scaled: bool = False
    """Its law is expected to depend on the layer index (e.g. residual projections)."""


@dataclass(frozen=True, kw_only=True)
class Param:
    """One tensor of a built model (a tied tensor once, with all its names)."""

    names: tuple[str, ...]
    array: np.ndarray = field(repr=False)
    """The values, as a NumPy array in their stored layout (float dtypes kept; bfloat16
    and float16 converted to float32)."""
    dtype: str
    """The tensor's own dtype, as the framework names it."""
    layer: str
    """The layer type, qualified: ``torch.nn.Linear``, ``transformers...Conv1D``."""
    local: str
    """The tensor's name within its layer: ``weight``, ``in_proj_weight``, ``kernel``."""
    role: Role
    buffer: bool = False
    trainable: bool = True

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)
