"""The exact law of a continuous law's values rounded to nearest in ``float16``/``bfloat16``.

Both dtypes hold 2^16 bit patterns, so the law of the rounded values is an explicit
discrete law: every finite value ``g`` the dtype holds gets the mass of the reals that
round to it, the interval between the midpoints to its neighbours. The grid is built from
the bit patterns themselves (``bfloat16`` is the upper half of a ``float32``), so no
bfloat16 library is needed.

:class:`RoundedLaw` answers what the battery asks of a law (``mean``, ``var``, ``stats``,
``support``, ``cdf``, ``logcdf``, ``logsf``, ``ppf``), and what a discrete law needs on
top: ``cdf_before(x) = P(R < x)`` (the Kolmogorov-Smirnov statistic of a law with atoms
compares the empirical CDF left of a point with it) and ``logsf_inclusive(x) = log P(R >=
x)`` (the law of the minimum of ``n`` draws, ``P(min >= m) = P(R >= m)^n``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

LOW_PRECISION = ("float16", "bfloat16")


@functools.lru_cache(maxsize=4)
def grid(dtype: str) -> np.ndarray:
    """Every finite value of ``dtype`` (``float16`` or ``bfloat16``), as sorted float64,
    with the two zeros as one."""
    patterns = np.arange(2**16, dtype=np.uint32)
    with np.errstate(invalid="ignore"):  # the NaN patterns
        return _finite_sorted(patterns, dtype)


def _finite_sorted(patterns: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "float16":
        values = patterns.astype(np.uint16).view(np.float16).astype(np.float64)
    elif dtype == "bfloat16":
        values = (patterns << 16).view(np.float32).astype(np.float64)
    else:
        raise ValueError(f"no rounding grid for {dtype!r}: use one of {LOW_PRECISION}")
    values = np.unique(values[np.isfinite(values)])  # sorted; -0.0 == 0.0 merge
    values.setflags(write=False)
    return values


@functools.lru_cache(maxsize=4)
def _even(dtype: str) -> np.ndarray:
    """Whether each value of :func:`grid` has an even bit pattern (the tie-breaking rule)."""
    points = grid(dtype)
    if dtype == "float16":
        patterns = points.astype(np.float16).view(np.uint16).astype(np.uint32)
    else:
        patterns = points.astype(np.float32).view(np.uint32) >> 16
    return (patterns & 1) == 0


def round_to(values: np.ndarray | float, dtype: str) -> np.ndarray:
    """``values`` rounded to the nearest value of ``dtype``, ties to even (IEEE 754)."""
    points = grid(dtype)
    middles = (points[:-1] + points[1:]) / 2
    x = np.asarray(values, dtype=np.float64)
    index = np.searchsorted(middles, x)  # middles[index - 1] < x <= middles[index]
    tie = (index < len(middles)) & (x == middles[np.minimum(index, len(middles) - 1)])
    index = np.where(tie & ~_even(dtype)[index], index + 1, index)
    return points[index]


def representable(values: np.ndarray, dtype: str) -> bool:
    """Whether every entry of ``values`` is a value of ``dtype`` (no rounding needed)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return bool(np.array_equal(round_to(finite, dtype), finite))


class RoundedLaw:
    """The law of ``round(X)``, ``X ~ law`` (a frozen SciPy law), in ``dtype``."""

    def __init__(self, law, dtype: str) -> None:
        self.law, self.dtype = law, dtype
        points = grid(dtype)
        middles = (points[:-1] + points[1:]) / 2
        self.points, self.middles = points, middles
        # mass of (middle[i-1], middle[i]): from the CDF left of the median, from the
        # survival function right of it, so that neither tail cancels
        below = np.concatenate([[0.0], law.cdf(middles), [1.0]])
        above = np.concatenate([[1.0], law.sf(middles), [0.0]])
        left = middles < float(law.median())
        left_mass = np.diff(below)
        right_mass = -np.diff(above)
        use_left = np.concatenate([left, [False]])
        masses = np.where(use_left, left_mass, right_mass)
        masses = np.clip(masses, 0.0, None)
        masses /= masses.sum()
        atoms = masses > 0
        self.atoms, self.masses = points[atoms], masses[atoms]
        center = float(np.dot(self.masses, self.atoms))
        deviation = self.atoms - center
        self._mean = center
        self._var = float(np.dot(self.masses, deviation**2))
        self._kurtosis = float(np.dot(self.masses, deviation**4)) / self._var**2 - 3.0 \
            if self._var > 0 else math.nan

    def __repr__(self) -> str:
        return f"RoundedLaw({self.law.dist.name}{self.law.args}{self.law.kwds}, {self.dtype})"

    # -- moments ---------------------------------------------------------------------------

    def mean(self) -> float:
        return self._mean

    def var(self) -> float:
        return self._var

    def std(self) -> float:
        return math.sqrt(self._var)

    def coincidence(self) -> float:
        """The chance that two independent values are equal: ``sum P(R = g)^2``."""
        return float(np.dot(self.masses, self.masses))

    def median(self) -> float:
        return float(self.ppf(0.5))

    def stats(self, moments: str = "mv"):
        table = {"m": self._mean, "v": self._var, "s": 0.0, "k": self._kurtosis}
        found = tuple(np.float64(table[m]) for m in moments)
        return found[0] if len(found) == 1 else found

    # -- support and distribution function --------------------------------------------------

    def support(self) -> tuple[float, float]:
        """The continuous law's bounds rounded to the dtype; an unbounded side stays so."""
        low, high = (float(b) for b in self.law.support())
        return (float(round_to(low, self.dtype)) if math.isfinite(low) else low,
                float(round_to(high, self.dtype)) if math.isfinite(high) else high)

    def reached(self) -> tuple[float, float]:
        """The extremes that count as reaching a finite bound: one value of the dtype inside
        it. Rounding to nearest reaches the bound itself (the reals within half a unit
        below it), but a library that draws a low-precision uniform on a grid of
        ``[a, b)`` never returns ``b``: both are the rounded law up to a mass of half a
        unit at the bound, which the support test does not call a deviation."""
        low, high = self.support()
        index_low = int(np.searchsorted(self.points, low)) if math.isfinite(low) else 0
        index_high = int(np.searchsorted(self.points, high)) if math.isfinite(high) else 0
        return (float(self.points[index_low + 1]) if math.isfinite(low) else low,
                float(self.points[index_high - 1]) if math.isfinite(high) else high)

    def _index(self, x, side: str) -> np.ndarray:
        return np.searchsorted(self.points, np.asarray(x, dtype=np.float64), side=side)

    def _at_middles(self, function, index: np.ndarray, outside: float) -> np.ndarray:
        """``function(middle[index])``, ``outside`` where ``index`` is off the middles."""
        valid = (index >= 0) & (index < len(self.middles))
        values = np.full(index.shape, outside, dtype=np.float64)
        values[valid] = function(self.middles[index[valid]])
        return values

    def cdf(self, x):
        """``P(R <= x)``: up to the middle above the largest value ``<= x``."""
        index = np.atleast_1d(self._index(x, "right") - 1)
        found = self._at_middles(self.law.cdf, index, 0.0)
        found[index >= len(self.middles)] = 1.0
        return found if np.ndim(x) else float(found[0])

    def cdf_before(self, x):
        """``P(R < x)``: up to the middle below the smallest value ``>= x``."""
        index = np.atleast_1d(self._index(x, "left") - 1)
        found = self._at_middles(self.law.cdf, index, 0.0)
        found[index >= len(self.middles)] = 1.0
        return found if np.ndim(x) else float(found[0])

    def logcdf(self, x):
        index = np.atleast_1d(self._index(x, "right") - 1)
        found = self._at_middles(self.law.logcdf, index, -math.inf)
        found[index >= len(self.middles)] = 0.0
        return found if np.ndim(x) else float(found[0])

    def sf(self, x):
        """``P(R > x)``."""
        value = 1.0 - np.asarray(self.cdf(x))
        return value if np.ndim(x) else float(value)

    def logsf(self, x):
        """``log P(R > x)``: from the middle above the largest value ``<= x``."""
        index = np.atleast_1d(self._index(x, "right") - 1)
        found = self._at_middles(self.law.logsf, index, 0.0)
        found[index >= len(self.middles)] = -math.inf
        return found if np.ndim(x) else float(found[0])

    def logsf_inclusive(self, x):
        """``log P(R >= x)``: from the middle below the smallest value ``>= x``."""
        index = np.atleast_1d(self._index(x, "left") - 1)
        found = self._at_middles(self.law.logsf, index, 0.0)
        found[index >= len(self.middles)] = -math.inf
        return found if np.ndim(x) else float(found[0])

    def ppf(self, q):
        """The continuous quantile rounded to the dtype: the smallest value whose ``cdf``
        reaches ``q`` but where ``q`` falls on a rounding midpoint exactly."""
        value = round_to(self.law.ppf(q), self.dtype)
        return value if np.ndim(q) else float(value)


_CACHE: dict[tuple, RoundedLaw] = {}


def rounded(law, dtype: str):
    """``law`` rounded to ``dtype`` for ``float16``/``bfloat16``; ``law`` itself for
    ``float32``/``float64`` (see :mod:`verify.precision`). Cached per law and dtype: a
    rounded law costs a few milliseconds (65,536 CDF values)."""
    if dtype not in LOW_PRECISION:
        return law
    key = (law.dist.name, tuple(map(float, law.args)),
           tuple(sorted((k, float(v)) for k, v in law.kwds.items())), dtype)
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = RoundedLaw(law, dtype)
    return _CACHE[key]
