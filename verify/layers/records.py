"""The registry's records: :class:`Role` (what a tensor of a layer is) and :class:`Param`
(one tensor of a built model). :mod:`verify.layers` re-exports both."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from verify.laws import TensorLaw


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
    shape, where its default law depends on fans; None otherwise.

    Where the framework's law uses a constructor argument rather than the shape (the
    ``hidden_size`` of a PyTorch or MLX recurrent layer, MLX's ``input_dims``), these are
    the fans that argument stands for, and the fan the law does not use is reported equal
    to the semantic one. For a bias whose law uses its layer weight's fans (``nn.Linear``'s
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``), these are the weight's fans."""
    default: TensorLaw | None = None
    """The documented default law (source ``default``, with citation); None if unknown,
    or not one of :data:`verify.laws.TENSOR_FAMILIES` (orthogonal: see ``note``)."""
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
    block_defaults: tuple[TensorLaw, ...] = ()
    """Where the blocks of a packed tensor have different laws (a Keras LSTM bias with
    ``unit_forget_bias``: zeros, ones, zeros, zeros), one law per block; ``default`` is
    then None."""
    zero_rows: tuple[int, ...] = ()
    """Rows (indices along axis 0) the default sets to zero after drawing, e.g. an
    embedding's ``padding_idx``: they are excluded from ``default``'s law."""
    note: str = ""
    """What a reader needs beyond the numbers: the fan convention chosen, an orthogonal
    default, a layer that overrides its child's default."""
    doc_note: str = ""
    """Where the framework's documentation and its installed source disagree, or the
    documentation is silent and the default comes from the source only."""

    @property
    def semantic_fans(self) -> tuple[int, int] | None:
        if self.fan_in is None or self.fan_out is None:
            return None
        return (self.fan_in, self.fan_out)

    @property
    def fan_mismatch(self) -> bool:
        """The fans the framework's default uses differ from the semantic ones."""
        return self.semantic_default is not None

    @property
    def law_mismatch(self) -> bool:
        """The default drawn with the semantic fans would be a different law."""
        return self.semantic_default is not None and not same_law(self.default,
                                                                  self.semantic_default)


def same_law(first: TensorLaw | None, second: TensorLaw | None, rel_tol: float = 1e-9) -> bool:
    """Two laws are numerically the same (citations and rules aside)."""
    if first is None or second is None:
        return first is second
    if first.family != second.family:
        return False

    def close(a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-15)

    return all(close(getattr(first, key), getattr(second, key))
               for key in ("std", "mean", "low", "high", "value"))


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
