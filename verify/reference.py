"""Reference implementations of every scheme and distribution, in NumPy and PyTorch.

Each one fills a tensor of the requested shape and dtype straight from the
generator's primitive (standard normal or uniform) and scales it in place, so that
no float64 intermediate or extra copy is made (speed: ``benchmarks/``):

* normal: ``std * N(0, 1)``;
* uniform: ``U(-a, a)`` with ``a = sqrt(3 Var)``;
* truncated normal: ``scale * N(0, 1)`` conditioned on ``|N(0, 1)| <= 2`` by
  rejection (the 4.6% beyond are drawn again), exact and about 1.05 normal fills;
  ``scale`` is corrected so the truncated law has the scheme's variance.
  (Inversion, ``ndtri(U(Phi(-2), Phi(2)))``, is exact too but costs 1.6 normal
  fills in NumPy; ``torch.nn.init.trunc_normal_`` inverts with ``erfinv``.)

The NumPy samplers are :meth:`verify.distributions.Family.sample`; this module adds
the scheme's variance and the PyTorch versions.

The variance and the distribution parameters come from :mod:`verify.schemes`, the
one place the formulas live. Seeds: an ``int`` seed or a generator; the same seed
gives the same tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from verify.distributions import TRUNCATION
from verify.schemes import InitSpec

if TYPE_CHECKING:
    import torch


def numpy_init(
    spec: InitSpec,
    shape: tuple[int, ...],
    rng: np.random.Generator | int,
    dtype: type = np.float32,
) -> np.ndarray:
    """A weight tensor of ``shape`` drawn with NumPy's ``Generator``."""
    std = math.sqrt(spec.variance(shape))
    return spec.family.sample(np.random.default_rng(rng), shape, std, dtype=dtype)


def torch_init(
    spec: InitSpec,
    shape: tuple[int, ...],
    generator: torch.Generator | int,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """A weight tensor of ``shape`` drawn with a ``torch.Generator`` on the CPU
    (``dtype`` defaults to float32)."""
    import torch  # imported here so that the command line starts fast

    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(generator, torch.Generator):
        generator = torch.Generator().manual_seed(int(generator))
    dist = spec.dist
    scale = spec.family.scale(math.sqrt(spec.variance(shape)))
    weights = torch.empty(shape, dtype=dtype)
    if dist == "uniform":
        return weights.uniform_(-scale, scale, generator=generator)
    if dist == "normal":
        return weights.normal_(0.0, scale, generator=generator)
    weights.normal_(generator=generator)
    flat = weights.view(-1)
    redraw = torch.nonzero(flat.abs() > TRUNCATION).squeeze(1)
    while redraw.numel():  # one batch with a margin: one round almost always suffices
        fresh = torch.empty(redraw.numel() + redraw.numel() // 8 + 8, dtype=dtype)
        fresh = fresh.normal_(generator=generator)
        fresh = fresh[fresh.abs() <= TRUNCATION][:redraw.numel()]
        flat[redraw[:fresh.numel()]] = fresh
        redraw = redraw[fresh.numel():]
    return weights.mul_(scale)


BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class ReferenceSampler:
    """The sampler protocol ``sampler(shape, seed) -> numpy array`` for a reference init."""

    spec: InitSpec
    backend: str = "numpy"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}: use numpy or torch")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"unsupported dtype {self.dtype!r}: use float32 or float64")

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        if self.backend == "numpy":
            return numpy_init(self.spec, shape, seed, dtype=np.dtype(self.dtype).type)
        import torch

        return torch_init(self.spec, shape, seed, dtype=getattr(torch, self.dtype)).numpy()

    def sample_many(self, shape: tuple[int, ...], count: int,
                    rng: np.random.Generator) -> np.ndarray:
        """``count`` independent tensors of ``shape`` in one draw, ``(count, *shape)``.

        Equal in law to ``count`` calls (the entries are iid with the variance for
        ``shape``); experiments that need many small tensors use it to avoid the
        per-call overhead. Conformance checks call the sampler itself.
        """
        std = math.sqrt(self.spec.variance(shape))
        return self.spec.family.sample(rng, (count, *shape), std, dtype=np.dtype(self.dtype).type)

    def __str__(self) -> str:
        return f"reference[{self.backend},{self.dtype}] {self.spec.describe()}"

