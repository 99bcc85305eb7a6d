"""Statistical tests with known size and power, and the policy that turns them into verdicts.

Every test returns a :class:`CheckResult` carrying the estimate, a confidence
interval, the relative error against the claim, ``n``, the p-value, the minimum
detectable effect at the policy's power and the verdict. The policy
(:class:`Policy`, DESIGN.md "Statistical policy"):

* ``p < alpha`` (default ``1e-9``): **fail**;
* ``alpha <= p < suspicious`` (default ``1e-3``): **suspicious**; :func:`resolve`
  draws a fresh sample, ``growth`` times larger, and decides on that sample
  alone, at most ``max_resamples`` times. Each round decides on fresh data, so
  the probability of a false *fail* stays below ``alpha * (1 + suspicious + ...)``
  ``< 1.001 alpha``, while a real but small deviation gets the larger sample it
  needs;
* otherwise **pass**.

A conformance check of one shape is *sequential* (:func:`sequential`): it looks at its
growing sample at sizes ``first_look, 4 first_look, ...`` up to the power target
(:func:`look_sizes`), spends ``alpha`` over the looks by Bonferroni, half of it on the
last look (:func:`look_levels`), and stops at the first look that fails. The last look
is sized for the power target at its own share of ``alpha`` (2.6% more entries than a
single look at the full ``alpha`` for the default policy); a gross deviation fails
after a few thousand entries. Suspicious results of the last look are resolved as
above; the looks spend ``alpha (1 - suspicious - suspicious^2)``, so that looks and
resampling together fail a correct sampler with probability at most ``alpha``.
The smallest look has 4,096 entries: there the asymptotic (kurtosis-corrected) law of
a non-Gaussian sample variance is used in its far tail, where its two-sided error is
of second order (the skewness terms of the two tails cancel).

Null distributions:

* variance of a Gaussian sample: exact, ``(n-1) s^2 / sigma^2 ~ chi2(n-1)``;
* variance of any other sample: the asymptotic normal law of ``s^2`` with the
  sample kurtosis, ``Var[s^2] = sigma^4 (kappa - (n-3)/(n-1)) / n``;
* dependent designs (entries of ``W @ X`` share rows and columns): a t-test on
  independent replicate statistics (batch means), :func:`replicate_test`;
* mean: one-sample t-test; shape: Kolmogorov-Smirnov against the fully specified
  claimed CDF (the ``scipy.stats.kstwo`` law); support: a hard bound check plus
  the exact law of the sample extremes, ``P(max <= m) = F(m)^n``; independence:
  lag-1 correlations of values and of magnitude signs along every axis,
  ``sqrt(m) r -> N(0, 1)``;
* two samples (a model and its port): the log of the variance ratio with both samples'
  kurtosis-corrected standard errors, Welch's statistic for the means, and the
  two-sample Kolmogorov-Smirnov test of the standardized samples.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import Enum

import numpy as np
from scipy import optimize, special, stats
from threadpoolctl import ThreadpoolController


class Verdict(str, Enum):
    PASS = "pass"
    SUSPICIOUS = "suspicious"
    FAIL = "fail"

    def __str__(self) -> str:
        return self.value


def overall_verdict(results: Sequence[CheckResult]) -> Verdict:
    verdicts = {r.verdict for r in results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.SUSPICIOUS in verdicts:
        return Verdict.SUSPICIOUS
    return Verdict.PASS


@dataclass(frozen=True)
class Policy:
    """Thresholds and targets shared by every check of a run."""

    alpha: float = 1e-9
    suspicious: float = 1e-3
    effect: float = 0.01
    power: float = 0.99
    confidence: float = 0.95
    max_resamples: int = 2
    growth: int = 4
    first_look: int = 4096
    """Entries of the smallest look of a sequential check (:func:`look_sizes`)."""
    look_growth: int = 4
    """Each look of a sequential check has this many times the entries of the one before."""
    final_share: float = 0.5
    """The share of the looks' size that the last look gets (:func:`look_levels`)."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= self.suspicious < 1:
            raise ValueError("need 0 < alpha <= suspicious < 1")
        if not 0 < self.power < 1 or not 0 < self.confidence < 1:
            raise ValueError("power and confidence must lie in (0, 1)")
        if self.effect <= 0:
            raise ValueError("the target effect must be positive")
        if self.first_look < 3 or self.look_growth < 2 or not 0 < self.final_share <= 1:
            raise ValueError("need first_look >= 3, look_growth >= 2 and 0 < final_share <= 1")

    @property
    def resample_share(self) -> float:
        """The share of ``alpha`` that resampling may spend: a round is reached only after
        a suspicious result (probability at most ``suspicious`` under the claim, per
        round), and decides at ``alpha`` on fresh data."""
        return sum(self.suspicious**k for k in range(1, self.max_resamples + 1))

    @property
    def final_alpha(self) -> float:
        """The size of a sequential check's last look: the final share of what the looks
        may spend, ``alpha (1 - resample_share)``."""
        return self.alpha * (1 - self.resample_share) * self.final_share

    def classify(self, pvalue: float) -> Verdict:
        if not pvalue >= self.alpha:  # NaN fails too
            return Verdict.FAIL
        if pvalue < self.suspicious:
            return Verdict.SUSPICIOUS
        return Verdict.PASS


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one statistical check (compare ``scipy.stats`` result objects).

    ``effect_unit`` says how ``min_detectable_effect`` is measured: ``relative``
    (fraction of the expected value), ``sd`` (standard deviations), ``ks`` (CDF
    distance) or ``correlation``.
    """

    name: str
    estimate: float
    expected: float
    interval: tuple[float, float]
    statistic: float
    pvalue: float
    n: int
    min_detectable_effect: float
    effect_unit: str
    verdict: Verdict
    attempts: int = 1
    detail: str = ""
    confidence: float = field(default=DEFAULT_POLICY.confidence)

    @property
    def relative_error(self) -> float:
        if self.expected == 0 or not math.isfinite(self.expected):
            return math.nan
        return self.estimate / self.expected - 1.0

    def confidence_interval(self) -> tuple[float, float]:
        return self.interval

    def to_dict(self) -> dict:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["interval"] = list(self.interval)
        data["relative_error"] = self.relative_error
        return {k: _json_number(v) for k, v in data.items()}

    def summary(self) -> str:
        rel = self.relative_error
        rel_text = f" ({rel:+.3%})" if math.isfinite(rel) else ""
        low, high = self.interval
        return (
            f"{self.name}: {self.verdict} estimate={self.estimate:.6g}{rel_text} "
            f"expected={self.expected:.6g} CI{self.confidence:.0%}=[{low:.6g}, {high:.6g}] "
            f"p={self.pvalue:.3g} n={self.n} mde={self.min_detectable_effect:.3g} "
            f"{self.effect_unit}" + (f" ({self.detail})" if self.detail else "")
        )


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return [_json_number(v) for v in value]
    return value


def _two_sided(cdf: float, sf: float) -> float:
    return float(min(1.0, 2.0 * min(cdf, sf)))


def _z(probability: float) -> float:
    """The upper ``probability`` quantile of N(0, 1) (``scipy.stats.norm.isf``, without
    the frozen-distribution overhead: checks call it thousands of times)."""
    return float(-special.ndtri(probability))


# The chi-square law through the regularized incomplete gamma functions, as
# ``scipy.stats.chi2`` computes it, without its per-call overhead (about 100 us).
def _chi2_cdf(x: float, dof: float) -> float:
    return float(special.gammainc(dof / 2, x / 2))


def _chi2_sf(x: float, dof: float) -> float:
    return float(special.gammaincc(dof / 2, x / 2))


def _chi2_ppf(probability: float, dof: float) -> float:
    return float(2 * special.gammaincinv(dof / 2, probability))


def _chi2_isf(probability: float, dof: float) -> float:
    return float(2 * special.gammainccinv(dof / 2, probability))


# --- power analysis -------------------------------------------------------------------


def _variance_power_function(
    n: int, *, alpha: float, kurtosis: float = 3.0, gaussian: bool = True
) -> Callable[[float], float]:
    """``effect -> power`` of the variance test of size ``alpha`` with ``n`` samples
    (the critical values are computed once)."""
    if gaussian:
        dof = n - 1
        low, high = _chi2_ppf(alpha / 2, dof), _chi2_isf(alpha / 2, dof)

        def power(effect: float) -> float:
            ratio = 1.0 + effect
            if ratio <= 0:
                return 1.0
            return _chi2_sf(high / ratio, dof) + _chi2_cdf(low / ratio, dof)

        return power
    se = math.sqrt(max(kurtosis - (n - 3) / (n - 1), 1e-12) / n)
    z = _z(alpha / 2)

    def normal_power(effect: float) -> float:
        ratio = 1.0 + effect
        if ratio <= 0:
            return 1.0
        return float(special.ndtr((ratio - 1 - z * se) / (ratio * se))
                     + special.ndtr((1 - z * se - ratio) / (ratio * se)))

    return normal_power


def variance_power(
    n: int, effect: float, *, alpha: float, kurtosis: float = 3.0, gaussian: bool = True
) -> float:
    """Probability that the variance test of size ``alpha`` detects a true variance of
    ``(1 + effect)`` times the claimed one, with ``n`` samples."""
    return _variance_power_function(n, alpha=alpha, kurtosis=kurtosis, gaussian=gaussian)(effect)


def variance_min_detectable_effect(
    n: int, *, policy: Policy = DEFAULT_POLICY, kurtosis: float = 3.0, gaussian: bool = True
) -> float:
    """Smallest relative variance error, up or down, detected with ``policy.power``."""
    if n < 3:
        return math.inf
    if gaussian:  # the same n comes back for every shape of a run
        return _gaussian_min_detectable_effect(n, policy)
    return _min_detectable_effect(n, policy, kurtosis, gaussian)


@functools.lru_cache(maxsize=1024)
def _gaussian_min_detectable_effect(n: int, policy: Policy) -> float:
    return _min_detectable_effect(n, policy, 3.0, True)


def _min_detectable_effect(n: int, policy: Policy, kurtosis: float, gaussian: bool) -> float:
    power = _variance_power_function(n, alpha=policy.alpha, kurtosis=kurtosis, gaussian=gaussian)

    def shortfall(effect: float) -> float:
        return min(power(effect), power(-effect)) - policy.power

    high = 0.5
    while shortfall(high) < 0:
        if high > 1e6:
            return math.inf
        high *= 2
    return float(optimize.brentq(shortfall, 1e-9, high, xtol=1e-7))


@functools.lru_cache(maxsize=256)  # a pure function, asked again for every shape
def variance_sample_size(
    *, policy: Policy = DEFAULT_POLICY, kurtosis: float = 3.0, gaussian: bool = True
) -> int:
    """Smallest ``n`` whose variance test detects ``policy.effect`` with ``policy.power``."""
    low, high = 3, 16
    while variance_min_detectable_effect(high, policy=policy, kurtosis=kurtosis,
                                         gaussian=gaussian) > policy.effect:
        low, high = high, high * 2
    while high - low > max(1, low // 1000):  # within 0.1%: enough for a sample size
        middle = (low + high) // 2
        mde = variance_min_detectable_effect(
            middle, policy=policy, kurtosis=kurtosis, gaussian=gaussian
        )
        low, high = (low, middle) if mde <= policy.effect else (middle, high)
    return high


def replicate_count(cv: float, *, policy: Policy = DEFAULT_POLICY, minimum: int = 30) -> int:
    """Replicates for :func:`replicate_test` to detect ``policy.effect`` when the
    replicate statistic has coefficient of variation ``cv`` (from a pilot run)."""
    needed = ((_z(policy.alpha / 2) + _z(1 - policy.power)) * cv / policy.effect) ** 2
    return max(minimum, math.ceil(needed))


# --- one pass over a sample ---------------------------------------------------------

BLOCK = 1 << 15
"""Entries per block of :class:`Sample`'s pass (256 KiB of float64: stays in cache)."""

GRID = 4096
"""Cells of the grid the shape test counts large samples on."""

EXACT_KS_MAX = 1 << 16
KS_LIMIT_LAW_FROM = 10_000
"""Samples up to this size get the exact Kolmogorov-Smirnov statistic (one sort)."""

_SUBSAMPLE = 1 << 15
_SCRATCH_MAX = 1 << 25  # entries: larger samples get buffers of their own
_scratch = threading.local()
_ONES = np.ones(BLOCK)


def _buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Float64 and boolean work arrays of ``n`` entries, reused between samples: a
    fresh array of millions of entries costs more in page faults than the pass."""
    if n > _SCRATCH_MAX:
        return np.empty(n), np.empty(n, dtype=bool)
    values = getattr(_scratch, "values", None)
    if values is None or values.size < n:
        _scratch.values = values = np.empty(max(n, BLOCK))
        _scratch.flags = np.empty(values.size, dtype=bool)
    return values[:n], _scratch.flags[:n]


def _block_pass(flat: np.ndarray, values: np.ndarray, flags: np.ndarray, shift: float,
                threshold: float, cells: tuple[float, float, float, float] | None,
                start: int, stop: int) -> tuple[np.ndarray, float, float, np.ndarray]:
    """One pass over ``flat[start:stop]`` in cache-sized blocks: the power sums of
    ``y = x - shift`` (``y`` is also written to ``values``), the extremes, the
    magnitude flags ``y^2 > threshold`` and the grid counts."""
    sums = np.zeros(4)
    counts = np.zeros(GRID + 2, dtype=np.int64)
    smallest, largest = math.inf, -math.inf
    work = np.empty(min(stop - start, BLOCK))
    with np.errstate(invalid="ignore", over="ignore"):
        for begin in range(start, stop, BLOCK):
            block = flat[begin:min(begin + BLOCK, stop)]
            size = block.size
            y, square = values[begin:begin + size], work[:size]
            if shift:
                np.subtract(block, shift, out=y, dtype=np.float64)
            else:
                np.copyto(y, block)
            np.multiply(y, y, out=square)
            # dot products (BLAS) are the fastest float64 sums numpy offers
            sums += (y @ _ONES[:size], y @ y, square @ y, square @ square)
            first, last = float(block.min()), float(block.max())
            smallest, largest = min(smallest, first), max(largest, last)
            np.greater(square, threshold, out=flags[begin:begin + size])
            if cells is None or not (math.isfinite(first) and math.isfinite(last)):
                continue  # NaN has no cell; the tests fail such a sample anyway
            scale, offset, low, high = cells
            np.multiply(y, scale, out=square)
            square += offset
            if first < low or last >= high:  # rare: beyond the widened range
                np.clip(square, 0, GRID + 1, out=square)
            counts += np.bincount(square.astype(np.intp), minlength=GRID + 2)
    return sums, smallest, largest, counts


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """A context in which NumPy's BLAS runs on one thread (8 us to enter).

    The pass over a sample makes thousands of dot products of 32 Ki entries. With
    OpenBLAS's default of one thread per core, each one wakes the other threads,
    which spin while waiting: on 2 busy cores (pytest-xdist workers, the other
    checks of a run) a pass over 1.4 M entries was measured at 0.1 to 2.5 s instead
    of 16 ms."""
    return _blas_controller().limit(limits=1, user_api="blas")


class Sample:
    """Everything the battery needs from a sample, computed in one pass over it.

    The checks of a conformance run test about a million entries at a time, which
    the initializer drew in a few milliseconds: the checks must not cost more. So
    the entries are read once, in cache-sized blocks, and each block yields its
    share of

    * the power sums of ``y = x - c``: mean, variance and fourth central moment
      (``c`` is 0, or the mean of a strided subsample when that lies more than one
      standard deviation from 0, so that the sums are free of cancellation);
    * the extremes, in the samples' own dtype;
    * the counts on a grid of :data:`GRID` cells spanning the subsample's range and
      a quarter more each side, plus one cell each side for the rest (the shape
      test's statistic);
    * the magnitude indicator ``|y| > t``, ``t`` the subsample's median of ``|y|``.

    Then the lag-1 sums of the independence test, along every axis, of ``y`` and of
    the indicator: each is one dot product of the flat array with itself shifted
    by the axis's stride.

    The tests (:func:`mean_test`, :func:`variance_test`, ...) take a ``Sample`` or
    an array; several tests of one sample share one ``Sample``.
    """

    def __init__(self, samples) -> None:
        array = np.asarray(samples)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"samples must be numbers, got dtype {array.dtype}")
        if array.dtype.kind != "f":
            array = array.astype(np.float64)
        self.array = array
        self.shape = array.shape
        self.n = n = array.size
        flat = array.reshape(-1)
        sub = flat[::max(1, n // _SUBSAMPLE)].astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            low, high = (float(sub.min()), float(sub.max())) if n else (0.0, 1.0)
            center, spread = (float(sub.mean()), float(sub.std())) if n else (0.0, 0.0)
            # Power sums about 0 lose no accuracy unless the mean is far from 0; then
            # they are taken about the subsample's mean (one more operation per entry).
            self.shift = center if not abs(center) <= spread else 0.0
            sub -= self.shift
            np.abs(sub, out=sub)
            self.threshold = float(np.partition(sub, sub.size // 2)[sub.size // 2]) if n else 0.0
        if not all(map(math.isfinite, (low, high, self.shift, self.threshold))) or high <= low:
            low, high = (low, low + 1.0) if math.isfinite(low) else (0.0, 1.0)
        margin = (high - low) / 4
        low, high = low - margin, high + margin
        self.edges = np.linspace(low, high, GRID + 1)
        scale = GRID / (high - low)
        offset = 1.0 - (low - self.shift) * scale

        values, flags = _buffers(n)
        cells = (scale, offset, low, high) if n > EXACT_KS_MAX else None  # else exact KS
        # One thread: splitting the pass over two threads was measured slower, as
        # the threads' BLAS calls compete for the same two cores.
        with one_blas_thread():
            self._pass(flat, values, flags, cells)

    def _pass(self, flat: np.ndarray, values: np.ndarray, flags: np.ndarray,
              cells: tuple[float, float, float, float] | None) -> None:
        n = self.n
        parts = [_block_pass(flat, values, flags, self.shift, self.threshold**2, cells, 0, n)]
        self.sums = sum(part[0] for part in parts)  # of y, y^2, y^3, y^4
        self.min = min(part[1] for part in parts) if n else math.inf
        self.max = max(part[2] for part in parts) if n else -math.inf
        self.counts = sum(part[3] for part in parts)
        self.finite = bool(np.all(np.isfinite(self.sums)) and math.isfinite(self.min)
                           and math.isfinite(self.max))
        self.lags: dict[tuple[int, str], tuple[float, float, float, int]] = {}
        if self.finite:
            for axis, length in enumerate(self.shape):
                if length > 1:
                    self.lags[axis, "values"] = self._lag_sums(values, axis)
                    self.lags[axis, "magnitudes"] = self._lag_sums(flags, axis)

    @classmethod
    def of(cls, samples) -> Sample:
        return samples if isinstance(samples, Sample) else cls(samples)

    @property
    def mean(self) -> float:
        return self.shift + self.sums[0] / self.n

    @property
    def central(self) -> tuple[float, float]:
        """The second and fourth central moments (divided by ``n``)."""
        s1, s2, s3, s4 = self.sums / self.n
        d = s1  # the mean of y
        m2 = s2 - d * d
        m4 = s4 - 4 * d * s3 + 6 * d * d * s2 - 3 * d**4
        return float(max(m2, 0.0)), float(max(m4, 0.0))

    def lag_sums(self, axis: int, kind: str) -> tuple[float, float, float, int]:
        """Lag-1 sums along ``axis`` of the values (``kind="values"``) or of the
        magnitude indicator (``"magnitudes"``), each centered at its mean: the sum of
        the products of neighbours, the sums of squares of the left and of the right
        members, and the number of pairs."""
        return self.lags[axis, kind]

    def _lag_sums(self, flat: np.ndarray, axis: int) -> tuple[float, float, float, int]:
        # The pairs (i, i + stride) of the flat array: neighbours along the axis, and,
        # for 1/length of them, the last entry of one slice with the first of the
        # next. Under independence every pair of distinct entries is uncorrelated, so
        # the wrapped pairs keep the test's size; all the sums are over contiguous
        # memory (one dot product, and the heads and tails of the array).
        stride = math.prod(self.shape[axis + 1:])
        pairs = self.n - stride
        left, right = flat[:-stride], flat[stride:]
        head, tail = flat[:stride], flat[-stride:]
        if flat.dtype == bool:
            total = squares = float(np.count_nonzero(flat))
            cross = float(np.count_nonzero(left & right))
            left_sum = left_sq = total - np.count_nonzero(tail)
            right_sum = right_sq = total - np.count_nonzero(head)
        else:
            total, squares = float(self.sums[0]), float(self.sums[1])
            cross = float(left @ right)
            left_sum, right_sum = total - float(tail.sum()), total - float(head.sum())
            left_sq, right_sq = squares - float(tail @ tail), squares - float(head @ head)
        d = total / self.n  # center every member at the sample's mean
        centered = cross - d * (left_sum + right_sum) + pairs * d * d
        left_sq += -2 * d * left_sum + pairs * d * d
        right_sq += -2 * d * right_sum + pairs * d * d
        return centered, left_sq, right_sq, pairs


def _nonfinite(name: str, n: int, expected: float, unit: str,
               policy: Policy) -> CheckResult:
    return CheckResult(name, math.nan, float(expected), (math.nan, math.nan), math.nan,
                       math.nan, n, math.nan, unit, Verdict.FAIL,
                       detail="the sample holds NaN or Inf", confidence=policy.confidence)


# --- tests ----------------------------------------------------------------------------


def _flat64(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples).reshape(-1).astype(np.float64, copy=False)


def variance_test(
    samples: np.ndarray | Sample,
    expected: float,
    *,
    gaussian: bool,
    policy: Policy = DEFAULT_POLICY,
    name: str = "variance",
) -> CheckResult:
    """Is the variance of iid ``samples`` equal to ``expected``?

    ``gaussian=True`` uses the exact chi-square law (the samples are claimed to be
    normal); otherwise the kurtosis-corrected asymptotic law, with the sample
    kurtosis, so that a wrong tail does not masquerade as a wrong variance.
    """
    sample = Sample.of(samples)
    n = sample.n
    if n < 3:
        raise ValueError(f"the variance test needs at least 3 samples, got {n}")
    if not sample.finite:
        return _nonfinite(name, n, expected, "relative", policy)
    m2, m4 = sample.central
    s2 = m2 * n / (n - 1)
    level = 1 - policy.confidence
    if gaussian:
        dof = n - 1
        statistic = dof * s2 / expected
        pvalue = _two_sided(_chi2_cdf(statistic, dof), _chi2_sf(statistic, dof))
        interval = (dof * s2 / _chi2_isf(level / 2, dof), dof * s2 / _chi2_ppf(level / 2, dof))
        kurtosis = 3.0
    else:
        kurtosis = m4 / (m2 * m2) if m2 > 0 else 3.0
        spread = math.sqrt(max(kurtosis - (n - 3) / (n - 1), 0.0) / n)
        if spread > 0:
            statistic = (s2 / expected - 1.0) / spread
            pvalue = float(2 * special.ndtr(-abs(statistic)))
        else:  # a constant sample (Rademacher-like): exact or certainly wrong
            statistic = math.copysign(math.inf, s2 - expected)
            pvalue = float(s2 == expected)
        half = _z(level / 2) * spread * s2
        interval = (s2 - half, s2 + half)
    mde = variance_min_detectable_effect(n, policy=policy, kurtosis=kurtosis, gaussian=gaussian)
    detail = "exact chi-square" if gaussian else f"kurtosis-corrected, kurtosis={kurtosis:.3f}"
    return CheckResult(
        name, s2, float(expected), interval, float(statistic), pvalue, n, mde, "relative",
        policy.classify(pvalue), detail=detail, confidence=policy.confidence,
    )


def replicate_test(
    values: np.ndarray,
    expected: float,
    *,
    policy: Policy = DEFAULT_POLICY,
    name: str = "replicate mean",
    scale: float | None = None,
) -> CheckResult:
    """Is the mean of independent replicate statistics equal to ``expected``?

    Use this when the raw samples are dependent (entries of ``W @ X`` share a row of
    ``W`` or a column of ``X``): each replicate draws fresh ``W`` and ``X`` and
    contributes one statistic, for example the mean of ``(W @ X)**2``; replicates
    are independent, so the t-test on them has its nominal size.

    The minimum detectable effect is relative to ``expected``, or, when ``expected``
    is 0, in units of ``scale`` (say, the standard deviation of one output).
    """
    v = _flat64(values)
    r = v.size
    if r < 2:
        raise ValueError(f"the replicate test needs at least 2 replicates, got {r}")
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    se = sd / math.sqrt(r)
    dof = r - 1
    statistic = (mean - expected) / se if se > 0 else math.copysign(math.inf, mean - expected)
    pvalue = float(2 * stats.t.sf(abs(statistic), dof)) if se > 0 else float(mean == expected)
    half = float(stats.t.isf((1 - policy.confidence) / 2, dof)) * se
    unit = abs(expected) if expected else (scale or math.nan)
    quantiles = float(stats.t.isf(policy.alpha / 2, dof) + stats.t.isf(1 - policy.power, dof))
    return CheckResult(
        name, mean, float(expected), (mean - half, mean + half), float(statistic), pvalue, r,
        quantiles * se / unit, "relative" if expected else "sd", policy.classify(pvalue),
        detail=f"t-test on {r} replicates",
        confidence=policy.confidence,
    )


def mean_test(
    samples: np.ndarray | Sample, expected: float = 0.0, *, policy: Policy = DEFAULT_POLICY
) -> CheckResult:
    """One-sample t-test that the mean equals ``expected``; effects in standard deviations.

    The statistic and interval are those of ``scipy.stats.ttest_1samp``, computed
    from the sample's moments.
    """
    sample = Sample.of(samples)
    n = sample.n
    mde = (_z(policy.alpha / 2) + _z(1 - policy.power)) / math.sqrt(n)
    if not sample.finite:
        return _nonfinite("mean", n, expected, "sd", policy)
    mean = sample.mean
    se = math.sqrt(sample.central[0] / (n - 1)) if n > 1 else math.nan
    dof = n - 1
    if se > 0:
        statistic = (mean - expected) / se
        pvalue = float(2 * stats.t.sf(abs(statistic), dof))
        half = float(stats.t.isf((1 - policy.confidence) / 2, dof)) * se
    else:  # a constant sample is a result here, not a warning
        statistic = math.copysign(math.inf, mean - expected) if mean != expected else math.nan
        pvalue, half = float(mean == expected), 0.0
    return CheckResult(
        "mean", mean, float(expected), (mean - half, mean + half), statistic, pvalue, n, mde,
        "sd", policy.classify(pvalue), detail="one-sample t-test", confidence=policy.confidence,
    )


def _max_abs_quantile(law, n: int, probability: float) -> float:
    """The ``probability`` quantile of ``max |x|`` over ``n`` draws from a symmetric law."""
    return float(law.ppf((1 + probability ** (1.0 / n)) / 2))


def support_test(samples: np.ndarray | Sample, law, *,
                 policy: Policy = DEFAULT_POLICY) -> CheckResult:
    """Do the samples respect the claimed support and reach as far as they should?

    Any sample outside a finite bound fails at once (p = 0), with a tolerance of a
    few units in the last place of the samples' dtype. The extremes are tested with
    their exact law ``P(max <= m) = F(m)^n``: a maximum too small (a clamped or
    narrowed distribution) or, where the support is unbounded, too large (heavy
    tails) is improbable under the claim. The interval is the claim's central range
    for ``max |x|``.
    """
    sample = Sample.of(samples)
    n = sample.n
    if not sample.finite:
        return _nonfinite("support", n, math.nan, "relative", policy)
    low, high = (float(b) for b in law.support())
    tolerance_ulps = 4 * np.finfo(sample.array.dtype).eps
    outside = 0
    if math.isfinite(high) and sample.max > high + tolerance_ulps * abs(high):
        outside += int(np.count_nonzero(sample.array > high + tolerance_ulps * abs(high)))
    if math.isfinite(low) and sample.min < low - tolerance_ulps * abs(low):
        outside += int(np.count_nonzero(sample.array < low - tolerance_ulps * abs(low)))
    largest, smallest = sample.max, sample.min
    estimate = max(abs(largest), abs(smallest))
    expected = _max_abs_quantile(law, n, 0.5)
    level = 1 - policy.confidence
    interval = (_max_abs_quantile(law, n, level / 2), _max_abs_quantile(law, n, 1 - level / 2))
    if outside:
        return CheckResult(
            "support", estimate, expected, interval, math.inf, 0.0, n, math.nan, "relative",
            Verdict.FAIL, detail=f"{outside} samples outside [{low:.6g}, {high:.6g}]",
            confidence=policy.confidence,
        )
    # P(max <= observed) and P(min >= observed), on the support (float rounding).
    u_max = math.exp(n * float(law.logcdf(min(largest, high))))
    # P(min >= observed): a law with atoms (rounded values) counts the observed value's own
    u_min = math.exp(n * float(getattr(law, "logsf_inclusive", law.logsf)(max(smallest, low))))
    # a low-precision law: an extreme one value inside a finite bound reaches it
    # (verify.precision.RoundedLaw.reached)
    reach_low, reach_high = law.reached() if hasattr(law, "reached") else (low, high)
    if math.isfinite(high) and largest >= reach_high:
        u_max = 1.0
    if math.isfinite(low) and smallest <= reach_low:
        u_min = 1.0
    # A bounded side can only be "not reached"; an unbounded side can also overshoot.
    p_max = u_max if math.isfinite(high) else _two_sided(u_max, 1 - u_max)
    p_min = u_min if math.isfinite(low) else _two_sided(u_min, 1 - u_min)
    pvalue = min(1.0, 2 * min(p_max, p_min))
    return CheckResult(
        "support", estimate, expected, interval, float(min(u_max, u_min)), pvalue, n, math.nan,
        "relative", policy.classify(pvalue),
        detail=f"min={smallest:.6g} max={largest:.6g} support=[{low:.6g}, {high:.6g}]",
        confidence=policy.confidence,
    )


def _dkw(n: int, probability: float) -> float:
    """Dvoretzky-Kiefer-Wolfowitz: ``P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2)``."""
    return math.sqrt(math.log(2 / probability) / (2 * n))


def shape_test(
    samples: np.ndarray | Sample, cdf: Callable[[np.ndarray], np.ndarray], *,
    policy: Policy = DEFAULT_POLICY,
    cdf_before: Callable[[np.ndarray], np.ndarray] | None = None,
) -> CheckResult:
    """Kolmogorov-Smirnov test against the fully specified, continuous claimed CDF.

    For a law with atoms (values rounded to a low-precision dtype,
    :class:`verify.precision.RoundedLaw`), ``cdf_before(x) = P(X < x)``: the statistic
    then compares ``F_n(x-)`` with it, and ``F_n(x)`` with ``cdf(x)``, so that an atom is
    not counted as a gap; the ``kstwo`` p-value of a discrete null is conservative. On the
    grid below, an atom on an edge may be counted on either side of it: ``F_n(e-)`` is
    compared with the interval ``[cdf_before(e), cdf(e)]``, still at most ``D``.

    Up to :data:`EXACT_KS_MAX` samples, the exact statistic ``D = sup |F_n - F|``
    (one sort). Above, no sort: ``D`` is taken over the :class:`Sample`'s grid of
    edges, ``D_grid = max_j |F_n(e_j-) - F(e_j)| <= D``, so the ``kstwo`` p-value
    of ``D_grid`` bounds the true one from above: the test keeps its size (it can
    only be conservative). A law at CDF distance ``eps`` from the claim shows at
    an edge at least ``eps`` minus the claimed mass of one cell, which the minimum
    detectable effect adds (about 0.001 for a normal, 0.00024 for a uniform).
    Null law: ``scipy.stats.kstwo`` up to :data:`KS_LIMIT_LAW_FROM` samples; above,
    the limiting Kolmogorov law ``kstwobign`` of ``sqrt(n) D``, whose tail lies above
    the exact one (checked from 10^4 to 2 * 10^5 samples, ``sqrt(n) D`` from 0.3 to 6:
    the ratio exact / limit stays below 1), so the p-value is conservative, and costs
    0.1 ms where ``kstwo`` takes up to 250 ms in the far tail.
    """
    sample = Sample.of(samples)
    n = sample.n
    mde = _dkw(n, policy.alpha) + _dkw(n, 1 - policy.power)
    if not sample.finite:
        return _nonfinite("shape", n, 0.0, "ks", policy)
    if n <= EXACT_KS_MAX:
        x = np.sort(sample.array.reshape(-1).astype(np.float64))
        probabilities = np.asarray(cdf(x), dtype=np.float64)
        above = np.arange(1, n + 1, dtype=np.float64) / n - probabilities
        before = probabilities if cdf_before is None \
            else np.asarray(cdf_before(x), dtype=np.float64)
        below = before - np.arange(0, n, dtype=np.float64) / n
        distance = float(max(above.max(), below.max()))
        detail = "Kolmogorov-Smirnov, exact CDF"
    else:
        probabilities = np.asarray((cdf_before or cdf)(sample.edges), dtype=np.float64)
        empirical = np.cumsum(sample.counts[:-1]) / n  # F_n(e_j-), j = 0..GRID
        # An atom that sits on an edge falls in the cell on either side of it, as the
        # rounding of the cell arithmetic decides (bfloat16 values of U(-0.5, 0.25) land on
        # the edges of its grid): F_n(e-) is then F_n(e), so it is compared with the
        # interval [P(X < e), P(X <= e)], which is no wider than one atom's mass there.
        through = probabilities if cdf_before is None \
            else np.asarray(cdf(sample.edges), dtype=np.float64)
        distance = float(max(0.0, np.max(np.maximum(empirical - through,
                                                     probabilities - empirical))))
        cell = float(max(probabilities[0], np.max(np.diff(probabilities)),
                         1 - probabilities[-1]))
        mde += cell
        detail = (f"Kolmogorov-Smirnov on a grid of {GRID + 1} edges (conservative), "
                  f"exact CDF")
    if n < KS_LIMIT_LAW_FROM:
        pvalue = float(stats.kstwo.sf(distance, n))
    else:
        pvalue = float(stats.kstwobign.sf(distance * math.sqrt(n)))
    return CheckResult(
        "shape", distance, 0.0, (0.0, distance + _dkw(n, 1 - policy.confidence)), distance,
        pvalue, n, mde, "ks", policy.classify(pvalue), detail=detail,
        confidence=policy.confidence,
    )


def independence_test(samples: np.ndarray | Sample, *,
                      policy: Policy = DEFAULT_POLICY) -> CheckResult:
    """Are neighbouring entries uncorrelated, in value and in magnitude, along every axis?

    ``samples`` keeps its structure, for example ``(calls, out, in, *kernel)``, so
    repeated rows, repeated calls and a per-row scale all show up as a lag-1
    correlation along some axis: of the values, and of the magnitude indicator
    ``|x - c| > t`` (``t`` about the median of ``|x - c|``, :class:`Sample`), each
    centered at its mean. Under independence ``sqrt(m) r`` is asymptotically
    standard normal (``m`` pairs; products of overlapping pairs are uncorrelated).
    Magnitudes are scored by an indicator, not squared, because the squares of
    heavy-tailed samples converge too slowly: their lag correlation was measured
    at size 0.017 for a nominal 0.01 on Laplace samples. The sub-tests are
    combined by Bonferroni.
    """
    sample = Sample.of(samples)
    n = sample.n
    if not sample.finite:
        return _nonfinite("independence", n, 0.0, "correlation", policy)
    found = []
    for axis, length in enumerate(sample.shape):
        if length < 2:
            continue
        for kind in ("values", "magnitudes"):
            cross, left, right, pairs = sample.lag_sums(axis, kind)
            denominator = math.sqrt(max(left, 0.0) * max(right, 0.0))
            if denominator > 0:
                r = cross / denominator
                z = r * math.sqrt(pairs)
                found.append((float(2 * special.ndtr(-abs(z))), r, z, pairs, f"{kind} axis {axis}"))
    if not found:
        return CheckResult(
            "independence", math.nan, 0.0, (math.nan, math.nan), math.nan, 1.0, n, math.inf,
            "correlation", Verdict.PASS, detail="no axis with two or more entries",
            confidence=policy.confidence,
        )
    worst = min(found, key=lambda item: item[0])
    pvalue = min(1.0, len(found) * worst[0])
    _, r, z, pairs, where = worst
    half = _z((1 - policy.confidence) / 2) / math.sqrt(pairs)
    fewest = min(item[3] for item in found)
    mde = (_z(policy.alpha / (2 * len(found))) + _z(1 - policy.power)) / math.sqrt(fewest)
    return CheckResult(
        "independence", r, 0.0, (r - half, r + half), z, pvalue, n, mde, "correlation",
        policy.classify(pvalue), detail=f"worst: lag-1 {where} of {len(found)} sub-tests",
        confidence=policy.confidence,
    )


# --- two samples -----------------------------------------------------------------------


def _moments(samples: np.ndarray, block: int = 1 << 20) -> tuple[int, float, float, float]:
    """``n``, the mean, and the second and fourth central moments (divided by ``n``), in
    blocks: an embedding table of 10^8 entries needs no float64 copies of itself."""
    flat = np.asarray(samples).reshape(-1)
    n = flat.size
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = float(np.mean(flat, dtype=np.float64))
    m2 = m4 = 0.0
    for start in range(0, n, block):
        centered = flat[start:start + block].astype(np.float64) - mean
        centered *= centered
        m2 += float(centered.sum())
        m4 += float(centered @ centered)
    return n, mean, m2 / n, m4 / n


def _log_variance(n: int, m2: float, m4: float) -> tuple[float, float]:
    """``log s^2`` and its standard error, ``sqrt((kappa - (n-3)/(n-1)) / n)`` with the
    sample kurtosis ``kappa`` (the delta method on :func:`variance_test`'s law)."""
    s2 = m2 * n / (n - 1)
    kurtosis = m4 / (m2 * m2) if m2 > 0 else 3.0
    return (math.log(s2) if s2 > 0 else -math.inf), \
        math.sqrt(max(kurtosis - (n - 3) / (n - 1), 0.0) / n)


def variance_ratio_test(first: np.ndarray, second: np.ndarray, *,
                        policy: Policy = DEFAULT_POLICY) -> CheckResult:
    """Do two iid samples have the same variance? The estimate is ``s2_second / s2_first``.

    The log of the ratio is asymptotically normal with variance the sum of the two
    samples' ``Var[log s^2] = (kappa - (n-3)/(n-1)) / n``, each with its own sample
    kurtosis ``kappa``: the interval is ``exp(log ratio +- z se)``. For normal samples
    this is the F test's large-sample form; unlike the F test it keeps its size for
    uniform or heavy-tailed samples. A sample of zero variance is exact: the ratio is 0
    or infinite (p = 0), or undefined when both are (p = 1).
    """
    (n_a, _, m2_a, m4_a), (n_b, _, m2_b, m4_b) = _moments(first), _moments(second)
    if min(n_a, n_b) < 3:
        raise ValueError(f"the variance ratio test needs 3 entries per sample, "
                         f"got {n_a} and {n_b}")
    if not all(map(math.isfinite, (m2_a, m4_a, m2_b, m4_b))):
        return _nonfinite("variance_ratio", n_a + n_b, 1.0, "relative", policy)
    (log_a, se_a), (log_b, se_b) = _log_variance(n_a, m2_a, m4_a), _log_variance(n_b, m2_b, m4_b)
    spread = math.hypot(se_a, se_b)
    mde = math.expm1((_z(policy.alpha / 2) + _z(1 - policy.power)) * spread)
    if m2_a > 0 and m2_b > 0 and spread > 0:
        difference = log_b - log_a
        statistic = difference / spread
        pvalue = float(2 * special.ndtr(-abs(statistic)))
        half = _z((1 - policy.confidence) / 2) * spread
        ratio = math.exp(difference)
        interval = (math.exp(difference - half), math.exp(difference + half))
    else:  # a constant sample: its variance is known exactly
        ratio = math.nan if m2_a == m2_b == 0 else (math.inf if m2_a == 0 else 0.0)
        statistic, pvalue = math.nan, float(m2_a == m2_b)
        interval = (ratio, ratio)
    return CheckResult(
        "variance_ratio", ratio, 1.0, interval, statistic, pvalue, n_a + n_b, mde, "relative",
        policy.classify(pvalue), confidence=policy.confidence,
        detail=f"log-variance difference, kurtosis-corrected ({n_a} and {n_b} entries)",
    )


def mean_difference_test(first: np.ndarray, second: np.ndarray, *,
                         policy: Policy = DEFAULT_POLICY) -> CheckResult:
    """Do two iid samples have the same mean? Welch's statistic with the normal law (the
    samples have thousands of entries); the estimate is ``mean_second - mean_first`` and
    the minimum detectable effect is in standard deviations of the samples."""
    (n_a, mean_a, m2_a, _), (n_b, mean_b, m2_b, _) = _moments(first), _moments(second)
    if min(n_a, n_b) < 2:
        raise ValueError(f"the mean difference test needs 2 entries per sample, "
                         f"got {n_a} and {n_b}")
    mde = (_z(policy.alpha / 2) + _z(1 - policy.power)) * math.sqrt(1 / n_a + 1 / n_b)
    difference = mean_b - mean_a
    if not math.isfinite(difference) or not math.isfinite(m2_a + m2_b):
        return _nonfinite("mean_difference", n_a + n_b, 0.0, "sd", policy)
    se = math.sqrt(m2_a / (n_a - 1) + m2_b / (n_b - 1))
    if se > 0:
        statistic = difference / se
        pvalue = float(2 * special.ndtr(-abs(statistic)))
        half = _z((1 - policy.confidence) / 2) * se
    else:
        statistic = math.copysign(math.inf, difference) if difference else math.nan
        pvalue, half = float(difference == 0), 0.0
    return CheckResult(
        "mean_difference", difference, 0.0, (difference - half, difference + half), statistic,
        pvalue, n_a + n_b, mde, "sd", policy.classify(pvalue), confidence=policy.confidence,
        detail="Welch's z",
    )


def same_shape_test(first: np.ndarray, second: np.ndarray, *, rng: np.random.Generator,
                    policy: Policy = DEFAULT_POLICY, max_samples: int = EXACT_KS_MAX
                    ) -> CheckResult:
    """Do two iid samples have the same distribution up to location and scale?

    Each sample is standardized by its own mean and standard deviation, reduced to at
    most ``max_samples`` entries drawn without replacement, and the two are compared by
    the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``). Estimating the
    location and scale makes the test conservative: it keeps its size. The minimum
    detectable effect is the CDF distance the test finds with ``policy.power``
    (the two-sample DKW bound).
    """
    samples = []
    for sample in (first, second):
        x = np.asarray(sample).reshape(-1)
        if x.size > max_samples:
            x = x[rng.choice(x.size, size=max_samples, replace=False)]
        samples.append(x.astype(np.float64))
    n_a, n_b = samples[0].size, samples[1].size
    scale = math.sqrt((n_a + n_b) / (n_a * n_b)) if n_a and n_b else math.inf
    mde = scale * (math.sqrt(math.log(2 / policy.alpha) / 2)
                   + math.sqrt(math.log(2 / (1 - policy.power)) / 2))
    if not all(np.isfinite(x).all() for x in samples):
        return _nonfinite("same_shape", n_a + n_b, 0.0, "ks", policy)
    standardized = [(x - x.mean()) / x.std() if x.size and x.std() > 0 else x - x.mean()
                    for x in samples]
    result = stats.ks_2samp(*standardized)
    distance, pvalue = float(result.statistic), float(result.pvalue)
    half = scale * math.sqrt(math.log(2 / (1 - policy.confidence)) / 2)
    return CheckResult(
        "same_shape", distance, 0.0, (0.0, distance + half), distance, pvalue, n_a + n_b, mde,
        "ks", policy.classify(pvalue), confidence=policy.confidence,
        detail="two-sample Kolmogorov-Smirnov of the standardized samples",
    )


# --- sequential looks ------------------------------------------------------------------


def look_sizes(final: int, *, policy: Policy = DEFAULT_POLICY, unit: int = 1) -> tuple[int, ...]:
    """The sample sizes at which a sequential check looks, ending at ``final``.

    Going down from ``final`` by ``policy.look_growth``, down to the last size that is
    at least ``policy.first_look``; each size is rounded up to a whole number of
    ``unit`` entries (one call of a sampler), and equal sizes are merged. A ``final``
    below ``first_look`` is one look. Example, default policy: 1,436,400 entries are
    looked at after 5,611, 22,444, 89,775, 359,100 and 1,436,400 entries.
    """
    if final < 1 or unit < 1:
        raise ValueError(f"need final >= 1 and unit >= 1, got {final} and {unit}")
    calls = [math.ceil(final / unit)]
    size = final / policy.look_growth
    while size >= policy.first_look:
        calls.append(math.ceil(size / unit))
        size /= policy.look_growth
    return tuple(unit * c for c in sorted(set(calls)))


def look_levels(looks: int, *, policy: Policy = DEFAULT_POLICY) -> tuple[float, ...]:
    """The size of each look: ``alpha`` spent over the looks (Bonferroni).

    The looks may spend ``alpha (1 - resample_share)``: resampling a suspicious last
    look spends the rest (:attr:`Policy.resample_share`), so that the probability of a
    false *fail* over the whole procedure is at most ``alpha``, whatever the
    dependence between looks (they share their entries). The last look gets
    ``final_share`` of it, :attr:`Policy.final_alpha`, whatever the number of looks,
    so that its sample size follows from the power target alone; the earlier looks
    share the rest equally.
    """
    if looks < 1:
        raise ValueError(f"need at least one look, got {looks}")
    spendable = policy.alpha * (1 - policy.resample_share)
    if looks == 1:
        return (policy.final_alpha,)
    early = (spendable - policy.final_alpha) / (looks - 1)
    return (early,) * (looks - 1) + (policy.final_alpha,)


@dataclass(frozen=True)
class Sequential:
    """What a sequential check saw: the results of the look it stopped at, and when."""

    results: tuple[CheckResult, ...]
    look: int
    """Index of the look it stopped at (0 for the first)."""
    sizes: tuple[int, ...]
    """Every planned look's sample size; ``sizes[look]`` entries were tested last."""

    @property
    def stopped_early(self) -> bool:
        return self.look < len(self.sizes) - 1

    @property
    def n(self) -> int:
        return self.sizes[self.look]


def sequential(
    tests: Sequence[Callable[[Sample, Policy], CheckResult]],
    sample_at: Callable[[int], np.ndarray],
    sizes: Sequence[int],
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Sequential:
    """Test a growing sample at ``sizes`` entries, stopping at the first look where a
    test fails.

    ``sample_at(n)`` returns the first ``n`` entries of one sample (looks are nested:
    later looks reuse the entries of earlier ones, so a check that passes draws no
    more than its last look). At look ``k`` every test runs at the size
    ``look_levels(...)[k]``; a *fail* there stops the check. The last look classifies
    with :attr:`Policy.final_alpha` and ``policy.suspicious``: its suspicious results
    are for :func:`resolve` to resample, as a single-look check's are.
    """
    levels = look_levels(len(sizes), policy=policy)
    for look, (size, level) in enumerate(zip(sizes, levels, strict=True)):
        sample = Sample.of(sample_at(size))
        at_look = replace(policy, alpha=level)
        results = tuple(test(sample, at_look) for test in tests)
        if look == len(sizes) - 1 or any(r.verdict is Verdict.FAIL for r in results):
            return Sequential(results, look, tuple(sizes))
    raise AssertionError("unreachable")


# --- resolving suspicious results ------------------------------------------------------


def resolve(
    test: Callable[[np.ndarray], CheckResult],
    draw: Callable[[int, np.random.Generator], np.ndarray],
    n: int,
    rng: np.random.Generator,
    *,
    policy: Policy = DEFAULT_POLICY,
    first: CheckResult | None = None,
) -> CheckResult:
    """Run ``test`` on ``draw(n, rng)``; while suspicious, redraw a fresh, larger sample.

    ``first`` is a result already computed on a first sample (several tests share
    one sample); only tests that come out suspicious draw again, each for itself.
    """
    result = first if first is not None else test(draw(n, rng))
    attempts = 1
    while result.verdict is Verdict.SUSPICIOUS and attempts <= policy.max_resamples:
        n *= policy.growth
        result = test(draw(n, rng))
        attempts += 1
    return replace(result, attempts=attempts)
