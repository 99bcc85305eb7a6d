"""Zero-mean distribution families, each parametrized by its standard deviation.

The textbook's variance laws use only the first two moments (claim
``init.moments-only``), so the suite draws weights and inputs from several
families with the same mean and variance. Each family is a thin wrapper around a
``scipy.stats`` law, which supplies the CDF, the support and the moments; nothing
about a distribution is typed in here except how its scale relates to its
standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

TRUNCATION = 2.0
"""Truncated normals are cut at +-2 standard deviations of the untruncated normal."""

_TRUNCATED_STANDARD = stats.truncnorm(-TRUNCATION, TRUNCATION)
_TRUNCATED_STANDARD_STD = math.sqrt(_TRUNCATED_STANDARD.var())
# The truncated normal's mass lies between these values of the standard normal CDF.
TRUNCATED_CDF_LOW = float(special.ndtr(-TRUNCATION))
TRUNCATED_CDF_HIGH = float(special.ndtr(TRUNCATION))


CHUNK = 1 << 16
"""Entries drawn and scaled at a time (256 KiB of float32)."""


def _reject_beyond(values: np.ndarray, rng: np.random.Generator) -> None:
    """Replace, in place, the standard normals of ``values`` beyond +-TRUNCATION by
    fresh ones within.

    The replacements are drawn in a batch with a margin (4.6% of fresh normals are
    rejected too), so one round almost always suffices; a boolean mask is cheaper
    to apply than the indices of a sparse one are to find.
    """
    beyond = np.abs(values) > TRUNCATION
    needed = int(np.count_nonzero(beyond))
    if not needed:
        return
    kept = []
    while needed:
        fresh = rng.standard_normal(needed + needed // 8 + 8, dtype=values.dtype)
        fresh = fresh[np.abs(fresh) <= TRUNCATION][:needed]
        kept.append(fresh)
        needed -= fresh.size
    values[beyond] = kept[0] if len(kept) == 1 else np.concatenate(kept)


@dataclass(frozen=True)
class Family:
    """A zero-mean family of distributions; ``law(std)`` is the member with that std.

    ``df`` is the degrees of freedom of the Student-t family (more than 4, so that
    the fourth moment, which the variance tests need, is finite).
    """

    name: str
    df: float | None = None

    def law(self, std: float = 1.0) -> stats.rv_continuous | stats.rv_discrete:
        """The ``scipy.stats`` frozen law with mean 0 and standard deviation ``std``."""
        if std <= 0 or not math.isfinite(std):
            raise ValueError(f"std must be positive and finite, got {std}")
        if self.name == "normal":
            return stats.norm(scale=std)
        if self.name == "uniform":
            bound = self.scale(std)
            return stats.uniform(loc=-bound, scale=2 * bound)
        if self.name == "truncated_normal":
            return stats.truncnorm(-TRUNCATION, TRUNCATION, scale=self.scale(std))
        if self.name == "rademacher":
            return stats.rv_discrete(values=([-std, std], [0.5, 0.5]))
        if self.name == "laplace":
            return stats.laplace(scale=std / math.sqrt(2.0))
        if self.name == "student_t":
            if self.df is None or self.df <= 4:
                raise ValueError("the Student-t family needs df > 4 (finite fourth moment)")
            return stats.t(self.df, scale=std * math.sqrt((self.df - 2) / self.df))
        raise ValueError(f"unknown distribution family {self.name!r}")

    def scale(self, std: float) -> float:
        """The parameter a sampler multiplies by: the std (normal), the bound ``a`` of
        ``U(-a, a)`` (uniform, ``a = sqrt(3) std``), or the scale of the normal before
        truncation (truncated normal, corrected so the truncated law has ``std``)."""
        if self.name == "uniform":
            return math.sqrt(3.0) * std
        if self.name == "truncated_normal":
            return std / _TRUNCATED_STANDARD_STD
        if self.name == "normal":
            return std
        raise ValueError(f"no sampler scale for the {self.name} family")

    def cdf(self, std: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
        """The CDF of ``law(std)`` as a fast vectorized function."""
        if self.name == "truncated_normal":
            # scipy's truncnorm.cdf is exact but 25x slower than this closed form.
            scale = self.scale(std)

            def truncated_cdf(x: np.ndarray) -> np.ndarray:
                mass = TRUNCATED_CDF_HIGH - TRUNCATED_CDF_LOW
                unit = (special.ndtr(np.asarray(x) / scale) - TRUNCATED_CDF_LOW) / mass
                return np.clip(unit, 0.0, 1.0)

            return truncated_cdf
        if self.name == "normal":  # scipy's generic cdf adds 3x overhead at 10^6 points
            return lambda x: special.ndtr(np.asarray(x) / std)
        if self.name == "uniform":
            bound = self.scale(std)
            return lambda x: np.clip((np.asarray(x) + bound) / (2 * bound), 0.0, 1.0)
        return self.law(std).cdf

    @property
    def label(self) -> str:
        return f"student_t(df={self.df:g})" if self.name == "student_t" else self.name

    @property
    def kurtosis(self) -> float:
        """Fourth standardized moment ``E[x^4] / Var[x]^2`` (3 for the normal)."""
        return float(self.law().stats(moments="k")) + 3.0

    @property
    def is_continuous(self) -> bool:
        return self.name != "rademacher"

    def bounds(self, std: float = 1.0) -> tuple[float, float]:
        """The support's end points (infinite for unbounded families)."""
        if self.name == "rademacher":
            return -std, std
        low, high = self.law(std).support()
        return float(low), float(high)

    def sample(
        self,
        rng: np.random.Generator,
        size: int | tuple[int, ...],
        std: float = 1.0,
        dtype: type = np.float64,
    ) -> np.ndarray:
        """Independent draws from ``law(std)``, straight from ``rng``'s primitives and
        scaled in place, in chunks that stay in cache (no float64 intermediate when
        ``dtype`` is float32, no second array).

        The truncated normal is drawn by rejection: standard normals beyond +-2
        (4.6% of them) are drawn again until none is left, which is exact and costs
        about 1.05 normal fills (inversion, ``ndtri(U(Phi(-2), Phi(2)))``, costs 1.6).
        """
        if self.name in INIT_FAMILIES:
            if dtype not in (np.float32, np.float64):  # the Generator's float dtypes
                return self.sample(rng, size, std, dtype=np.float64).astype(dtype)
            scale = self.scale(std)
            count = math.prod(size) if isinstance(size, tuple) else int(size)
            if count <= CHUNK:  # one draw: no per-chunk overhead
                return self._fill(rng, None, size, scale, dtype)
            values = np.empty(size, dtype=dtype)
            flat = values.reshape(-1)
            for begin in range(0, count, CHUNK):  # scaled while in cache
                self._fill(rng, flat[begin:begin + CHUNK], None, scale, dtype)
            return values
        if self.name == "rademacher":
            values = rng.integers(0, 2, size=size).astype(dtype)
            values *= 2 * std
            values -= std
            return values
        if self.name == "laplace":
            return rng.laplace(scale=std / math.sqrt(2.0), size=size).astype(dtype, copy=False)
        values = rng.standard_t(self.df, size=size).astype(dtype, copy=False)
        values *= std * math.sqrt((self.df - 2) / self.df)
        return values


    def _fill(self, rng: np.random.Generator, out: np.ndarray | None,
              size: int | tuple[int, ...] | None, scale: float, dtype: type) -> np.ndarray:
        """Draw into ``out`` (or a new array of ``size``) from the primitive and scale."""
        if self.name == "uniform":
            values = rng.random(size, dtype=dtype, out=out)
            values *= 2 * scale
            values -= scale
            return values
        values = rng.standard_normal(size, dtype=dtype, out=out)
        if self.name == "truncated_normal":
            _reject_beyond(values.reshape(-1), rng)
        values *= scale
        return values


NORMAL = Family("normal")
UNIFORM = Family("uniform")
TRUNCATED_NORMAL = Family("truncated_normal")
RADEMACHER = Family("rademacher")
LAPLACE = Family("laplace")


def student_t(df: float) -> Family:
    """The scaled Student-t family with ``df`` degrees of freedom."""
    family = Family("student_t", df=float(df))
    family.law()  # validates df
    return family


ZERO_MEAN_FAMILIES: tuple[Family, ...] = (NORMAL, UNIFORM, TRUNCATED_NORMAL, RADEMACHER, LAPLACE)
"""Every family without a free shape parameter (Student-t takes ``df``)."""

INIT_FAMILIES: dict[str, Family] = {
    "normal": NORMAL,
    "uniform": UNIFORM,
    "truncated_normal": TRUNCATED_NORMAL,
}
"""The three distributions initialization schemes are offered in."""
