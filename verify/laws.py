"""What an initializer claims to draw, as something a check can test at any shape.

* :class:`verify.schemes.InitSpec`: a variance-scaling scheme (LeCun, Glorot, He)
  in a distribution; the law depends on the shape through the fans.
* :class:`FixedLaw`: a law that does not depend on the shape, e.g. ``N(0, 0.05^2)``
  or ``U(0, 1)`` (``torch.nn.init.normal_``, ``keras.initializers.RandomUniform``).
* :class:`ShapeLaw`: a law that depends on the shape other than through the fans, e.g.
  ``U(-1/sqrt(numel), 1/sqrt(numel))`` (tinygrad's ``Tensor.scaled_uniform``).
* :class:`Orthogonal`: a (scaled) orthogonal matrix after flattening.
* :class:`Exact`: a deterministic tensor (zeros, ones, a constant, the identity).

A *statistical* claim (the first three) provides ``law(shape)``, ``cdf(shape)`` and
``gaussian``; the battery of :mod:`verify.conformance` tests it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from verify.fans import Layout
from verify.schemes import InitSpec


@dataclass(frozen=True, eq=False)
class FixedLaw:
    """A shape-independent law, given as a ``scipy.stats`` frozen distribution."""

    distribution: stats.rv_continuous = field(repr=False)
    label: str
    gaussian: bool = False

    def law(self, shape: tuple[int, ...]) -> stats.rv_continuous:
        return self.distribution

    def cdf(self, shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
        return self.distribution.cdf

    def describe(self) -> str:
        return self.label


@dataclass(frozen=True, eq=False)
class ShapeLaw:
    """A law that depends on the shape, but not through the fans a scheme divides by:
    ``law_of(shape)`` gives the ``scipy.stats`` frozen law at ``shape``, ``label`` states
    the rule in words (``U(-1/sqrt(numel), 1/sqrt(numel))``)."""

    law_of: Callable[[tuple[int, ...]], stats.rv_continuous] = field(repr=False)
    label: str
    gaussian: bool = False

    def law(self, shape: tuple[int, ...]) -> stats.rv_continuous:
        return self.law_of(tuple(int(d) for d in shape))

    def cdf(self, shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
        return self.law(shape).cdf

    def describe(self) -> str:
        return self.label


def normal(std: float, mean: float = 0.0) -> FixedLaw:
    return FixedLaw(stats.norm(mean, std), f"N({mean:g}, {std:g}^2)", gaussian=True)


def uniform(low: float, high: float) -> FixedLaw:
    return FixedLaw(stats.uniform(low, high - low), f"U({low:g}, {high:g})")


def truncated_normal(std: float, low: float, high: float, mean: float = 0.0) -> FixedLaw:
    """``N(mean, std^2)`` truncated to ``[low, high]`` (absolute bounds, no variance
    correction), as ``torch.nn.init.trunc_normal_`` documents."""
    law = stats.truncnorm((low - mean) / std, (high - mean) / std, loc=mean, scale=std)
    return FixedLaw(law, f"N({mean:g}, {std:g}^2) truncated to [{low:g}, {high:g}]")


@dataclass(frozen=True)
class Orthogonal:
    """``W`` flattened to a matrix is orthogonal: ``W W^T = gain^2 I`` (rows <= columns)
    or ``W^T W = gain^2 I`` (rows > columns).

    ``rows``: ``"first"`` flattens ``(shape[0], prod(shape[1:]))`` (PyTorch, MLX);
    ``"last"`` flattens ``(prod(shape[:-1]), shape[-1])`` (JAX, Keras: the last axis
    is the column axis).
    """

    gain: float = 1.0
    rows: str = "first"

    def matrix(self, tensor: np.ndarray) -> np.ndarray:
        if self.rows == "first":
            return tensor.reshape(tensor.shape[0], -1)
        return tensor.reshape(-1, tensor.shape[-1])

    def describe(self) -> str:
        return f"orthogonal(gain={self.gain:g}, rows={self.rows})"


@dataclass(frozen=True, eq=False)
class Exact:
    """A deterministic tensor: ``expected(shape)`` gives it."""

    expected: Callable[[tuple[int, ...]], np.ndarray] = field(repr=False)
    label: str

    def describe(self) -> str:
        return self.label


def constant(value: float) -> Exact:
    return Exact(lambda shape: np.full(shape, value, dtype=np.float64), f"constant {value:g}")


Claim = InitSpec | FixedLaw | ShapeLaw | Orthogonal | Exact
StatisticalClaim = InitSpec | FixedLaw | ShapeLaw


def is_statistical(claim: Claim) -> bool:
    return isinstance(claim, InitSpec | FixedLaw | ShapeLaw)


def claim_cdf(claim: StatisticalClaim, shape: tuple[int, ...]):
    """The claimed CDF at ``shape``, using the fast closed forms where they exist."""
    if isinstance(claim, InitSpec):
        return claim.family.cdf(math.sqrt(claim.variance(shape)))
    return claim.cdf(shape)


def claim_is_gaussian(claim: StatisticalClaim) -> bool:
    return claim.dist == "normal" if isinstance(claim, InitSpec) else claim.gaussian


def claim_layout(claim: Claim) -> Layout | None:
    return claim.layout if isinstance(claim, InitSpec) else None


# --- the law of one tensor of a model (audit) -----------------------------------------

TENSOR_FAMILIES = ("normal", "uniform", "truncated_normal", "constant")
SOURCES = ("default", "config", "paper", "spec")


@dataclass(frozen=True, kw_only=True)
class TensorLaw:
    """The law each entry of one model tensor is expected to follow, and where it comes from.

    * ``normal``: ``N(mean, std^2)``;
    * ``uniform``: ``U(low, high)``;
    * ``truncated_normal``: ``N(mean, std^2)`` (``std`` of the normal *before*
      truncation) cut to the absolute bounds ``[low, high]``;
    * ``constant``: every entry equals ``value``.

    ``source`` is one of :data:`SOURCES`: the framework's documented default, the
    model's config, the model's paper, or a spec file; ``citation`` says where exactly
    (a URL, a file and line); ``rule`` is the law as the source writes it, e.g.
    ``normal(std=initializer_range / sqrt(2 * n_layer))``.
    """

    family: str
    std: float | None = None
    mean: float = 0.0
    low: float | None = None
    high: float | None = None
    value: float | None = None
    source: str = "default"
    citation: str = ""
    rule: str = ""

    def __post_init__(self) -> None:
        if self.family not in TENSOR_FAMILIES:
            raise ValueError(f"unknown family {self.family!r}: use one of "
                             f"{', '.join(TENSOR_FAMILIES)}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}: use one of {', '.join(SOURCES)}")
        if self.family in ("normal", "truncated_normal") and not (
                self.std is not None and self.std > 0 and math.isfinite(self.std)):
            raise ValueError(f"a {self.family} law needs a positive, finite std, got {self.std}")
        if self.family in ("uniform", "truncated_normal") and not (
                self.low is not None and self.high is not None and self.low < self.high):
            raise ValueError(f"a {self.family} law needs bounds low < high, "
                             f"got {self.low}, {self.high}")
        if self.family == "constant" and self.value is None:
            raise ValueError("a constant law needs a value")

    @property
    def random(self) -> bool:
        return self.family != "constant"

    def distribution(self) -> stats.rv_continuous:
        """The ``scipy.stats`` frozen law (random families only)."""
        if self.family == "constant":
            raise ValueError("a constant law has no distribution")
        return _frozen(self.family, self.mean, self.std, self.low, self.high)

    @property
    def variance(self) -> float:
        if self.family == "constant":
            return 0.0
        return float(self.distribution().var())

    @property
    def expected_mean(self) -> float:
        if self.family == "constant":
            return float(self.value)
        return float(self.distribution().mean())

    @property
    def gaussian(self) -> bool:
        return self.family == "normal"

    def describe(self) -> str:
        if self.family == "normal":
            return f"N({self.mean:g}, {self.std:.4g}^2)"
        if self.family == "uniform":
            return f"U({self.low:.4g}, {self.high:.4g})"
        if self.family == "truncated_normal":
            return (f"N({self.mean:g}, {self.std:.4g}^2) truncated to "
                    f"[{self.low:.4g}, {self.high:.4g}]")
        return f"constant {self.value:g}"

    def to_dict(self) -> dict:
        data = {"family": self.family, "law": self.describe(), "std": self.std,
                "mean": self.mean, "low": self.low, "high": self.high, "value": self.value,
                "source": self.source, "citation": self.citation, "rule": self.rule}
        return {key: value for key, value in data.items() if value is not None}


@functools.lru_cache(maxsize=1024)
def _frozen(family: str, mean: float, std: float | None, low: float | None,
            high: float | None) -> stats.rv_continuous:
    """Frozen scipy laws, made once each: freezing one costs 3 ms, and an audit asks for
    the same few laws thousands of times."""
    if family == "normal":
        return stats.norm(mean, std)
    if family == "uniform":
        return stats.uniform(low, high - low)
    return stats.truncnorm((low - mean) / std, (high - mean) / std, loc=mean, scale=std)


def uniform_bound(bound: float, **where) -> TensorLaw:
    """``U(-bound, bound)``."""
    return TensorLaw(family="uniform", low=-bound, high=bound, **where)
