"""Tensor layouts and fan computation.

A weight tensor of a dense or convolution layer stores two channel axes and, for
convolutions, kernel (spatial) axes. Libraries order them differently:

======  =====================  ==========================================
layout  axis order             used by
======  =====================  ==========================================
oihw    out, in, *kernel       PyTorch ``nn.Linear`` / ``nn.ConvNd``
hwio    *kernel, in, out       JAX, Flax, Keras, TensorFlow
ohwi    out, *kernel, in       MLX
paddle  2-D: in, out;          PaddlePaddle: ``nn.Linear`` stores ``(in,
        else out, in, *kernel  out)``, ``nn.ConvNd`` ``(out, in, *kernel)``
======  =====================  ==========================================

For a dense weight (2-D) the kernel is empty: ``oihw`` and ``ohwi`` are
``(out, in)``, ``hwio`` and ``paddle`` are ``(in, out)``. ``paddle`` is how Paddle's own
fan helper reads a stored shape (``Initializer._compute_fans`` in
``paddle/nn/initializer/initializer.py``: ``fan_in = shape[0]`` for 2-D, ``shape[1] *
prod(shape[2:])`` otherwise), so a Paddle initializer is checked in the layout of the
tensors it is given.

The fans follow the textbook (CLAIMS.md, notation): ``fan_in`` is the number of
inputs that feed one output unit and ``fan_out`` the number of outputs one input
unit feeds, so with a receptive field ``k = prod(kernel)``::

    fan_in  = in_channels_per_group  * k
    fan_out = out_channels_per_group * k

For a grouped convolution each output channel sees only ``in / groups`` input
channels, and each input channel feeds only ``out / groups`` output channels.
For a transposed convolution the tensor's two channel axes swap roles (PyTorch
stores ``ConvTransposeNd`` weights as ``(in, out / groups, *kernel)``); stride is
ignored, as every library does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Layout = Literal["oihw", "hwio", "ohwi", "paddle"]
LAYOUTS: tuple[Layout, ...] = ("oihw", "hwio", "ohwi", "paddle")

MIN_DIMS = 2
MAX_DIMS = 5


@dataclass(frozen=True)
class Fans:
    """Fans of one weight tensor, and what they were computed from."""

    fan_in: int
    fan_out: int
    in_channels: int
    out_channels: int
    receptive_field: int
    groups: int = 1

    def fan(self, mode: str) -> float:
        """The fan a variance-scaling mode divides by (``fan_avg`` is the mean)."""
        if mode == "fan_in":
            return float(self.fan_in)
        if mode == "fan_out":
            return float(self.fan_out)
        if mode == "fan_avg":
            return (self.fan_in + self.fan_out) / 2.0
        raise ValueError(f"unknown mode {mode!r}: use fan_in, fan_out or fan_avg")


def channel_axes(ndim: int, layout: Layout) -> tuple[int, int, tuple[int, ...]]:
    """Positions of the (out, in) channel axes and the kernel axes for a layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    if not MIN_DIMS <= ndim <= MAX_DIMS:
        raise ValueError(
            f"a weight tensor needs {MIN_DIMS} to {MAX_DIMS} dimensions, got {ndim}: "
            "fans are undefined for a bias or a scalar"
        )
    kernel = tuple(range(ndim - 2))
    if layout == "paddle":
        layout = "hwio" if ndim == 2 else "oihw"
    if layout == "oihw":
        return 0, 1, tuple(a + 2 for a in kernel)
    if layout == "hwio":
        return ndim - 1, ndim - 2, kernel
    return 0, ndim - 1, tuple(a + 1 for a in kernel)  # ohwi


def arrange(out_channels: int, in_channels: int, kernel: tuple[int, ...] | list[int],
            layout: Layout) -> tuple[int, ...]:
    """The shape of a weight with these channels and kernel, stored in ``layout``."""
    shape = [0] * (len(kernel) + 2)
    out_axis, in_axis, kernel_axes = channel_axes(len(shape), layout)
    shape[out_axis], shape[in_axis] = int(out_channels), int(in_channels)
    for axis, size in zip(kernel_axes, kernel, strict=True):
        shape[axis] = int(size)
    return tuple(shape)


def compute_fans(
    shape: tuple[int, ...],
    layout: Layout = "oihw",
    *,
    groups: int = 1,
    transposed: bool = False,
) -> Fans:
    """Fans of a weight of ``shape`` stored in ``layout``.

    ``groups`` is the convolution's group count. With ``transposed`` the axis the
    layout calls "out" holds the input channels and the one it calls "in" holds
    ``out_channels / groups``, as PyTorch stores transposed convolutions.
    Otherwise the "in" axis holds ``in_channels / groups``.
    """
    shape = tuple(int(d) for d in shape)
    if any(d < 1 for d in shape):
        raise ValueError(f"every dimension must be at least 1, got shape {shape}")
    if groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups}")
    out_axis, in_axis, kernel_axes = channel_axes(len(shape), layout)
    receptive_field = math.prod(shape[a] for a in kernel_axes)
    if transposed:
        in_channels = shape[out_axis]
        out_per_group = shape[in_axis]
        if in_channels % groups:
            raise ValueError(f"{in_channels} input channels do not split into {groups} groups")
        in_per_group = in_channels // groups
        out_channels = out_per_group * groups
    else:
        out_channels = shape[out_axis]
        in_per_group = shape[in_axis]
        if out_channels % groups:
            raise ValueError(f"{out_channels} output channels do not split into {groups} groups")
        out_per_group = out_channels // groups
        in_channels = in_per_group * groups
    return Fans(
        fan_in=in_per_group * receptive_field,
        fan_out=out_per_group * receptive_field,
        in_channels=in_channels,
        out_channels=out_channels,
        receptive_field=receptive_field,
        groups=groups,
    )
