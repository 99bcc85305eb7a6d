"""One tensor (or a pool of tensors with one law): what it holds, and does it follow a law?

The entries of one tensor, drawn over independent builds, are one sample; tensors of one
role and one law are also pooled across layers, so that small tensors (biases, norms,
small layers) reach the power target together. The battery is the one ``check`` runs
on an initializer: the variance (exact chi-square for a normal law, kurtosis-corrected
otherwise), the mean, the distribution (Kolmogorov-Smirnov against the exact CDF) and
the support (bounds, and how far the extremes reach). A constant law is checked exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from verify import stats
from verify.laws import TensorLaw
from verify.precision import rounded
from verify.stats import CheckResult, Policy, Verdict

TEST_KINDS = {"variance": "variance", "mean": "mean", "shape": "distribution",
              "support": "support", "constant": "constant"}
"""The finding kind of each failing test of the battery."""

MIN_ENTRIES = 16
"""Fewer entries than this (over all builds) are too few for the battery: reported as
measured, without a verdict against a random law."""


def as_sample(arrays: list[np.ndarray]) -> np.ndarray:
    """The entries of ``arrays`` (builds of one tensor, or several tensors) as one flat
    sample: float32 if they all are, else float64."""
    dtype = np.float32 if all(np.asarray(a).dtype == np.float32 for a in arrays) \
        else np.float64  # float32 kept: the support test's tolerance is the dtype's
    with np.errstate(invalid="ignore", over="ignore"):
        if len(arrays) == 1:
            return np.asarray(arrays[0], dtype=dtype).reshape(-1)
        return np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in arrays])


def battery(sample: np.ndarray, law: TensorLaw, *, policy: Policy,
            dtype: str = "float32") -> list[CheckResult]:
    """The checks of ``sample`` against ``law``, each at ``policy.alpha``."""
    if not law.random:
        return [constant_test(sample, float(law.value), dtype)]
    if sample.size < MIN_ENTRIES:
        return []
    values = stats.Sample.of(sample)
    distribution = law.distribution()
    variance, mean, gaussian, cdf_before = law.variance, law.expected_mean, law.gaussian, None
    low = low_precision(dtype)
    if low is not None:
        # the law of the values rounded to the tensor's dtype, not the float64 ideal
        # (verify.precision): atoms, and a variance and mean of their own
        distribution = rounded(distribution, low)
        variance, mean = float(distribution.var()), float(distribution.mean())
        gaussian, cdf_before = False, distribution.cdf_before
    results = [
        stats.variance_test(values, variance, gaussian=gaussian, policy=policy),
        stats.mean_test(values, mean, policy=policy),
        stats.shape_test(values, distribution.cdf, policy=policy, cdf_before=cdf_before),
    ]
    if law.family != "normal" or sample.size <= 1 << 22:
        results.append(stats.support_test(values, distribution, policy=policy))
    return results


def low_precision(dtype: str) -> str | None:
    """``float16`` or ``bfloat16`` for a half-precision dtype as a framework names it
    (``torch.bfloat16``, ``half``, ``float16``); ``None`` for any other."""
    name = str(dtype).lower()
    if "bfloat16" in name:
        return "bfloat16"
    if "float16" in name or "half" in name:
        return "float16"
    return None


def _rounded(value: float, dtype: str) -> tuple[float, float]:
    """``value`` as a tensor of ``dtype`` holds it, and the tolerance of that rounding:
    float32's nearest value exactly; half precision within its rounding (the walkers
    hand bfloat16 and float16 values over as float32)."""
    if "64" in dtype or "double" in dtype:
        return value, 0.0
    if "16" in dtype or "half" in dtype:
        return value, abs(value) * 2.0**-8
    return float(np.float32(value)), 0.0


def constant_test(sample: np.ndarray, value: float, dtype: str = "float32") -> CheckResult:
    """Does every entry equal ``value``, as the tensor's dtype rounds it? Exact: p = 1 if
    so, else 0."""
    value, tolerance = _rounded(value, dtype)
    different = int(np.count_nonzero(np.abs(sample - value) > tolerance))
    worst = float(sample[np.argmax(np.abs(sample - value))]) if sample.size else value
    verdict = Verdict.PASS if different == 0 else Verdict.FAIL
    return CheckResult(
        "constant", worst, value, (worst, worst), float(different), float(different == 0),
        int(sample.size), 0.0, "absolute", verdict,
        detail=f"{different} of {sample.size} entries differ from {value:g}" if different
        else f"every entry is {value:g}")


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.verdict is Verdict.FAIL]


def suspicious(results: list[CheckResult]) -> bool:
    return any(r.verdict is Verdict.SUSPICIOUS for r in results) and not failed(results)


@dataclass(kw_only=True)
class Measured:
    """What one tensor holds, whatever it was expected to hold."""

    n: int
    builds: int
    std: float
    std_interval: tuple[float, float]
    mean: float
    constant: bool
    family: str | None = None
    truncation: float | None = None
    """``max |x - mean| / std`` over the sample: about 2 for a normal cut at 2 sd (the
    truncated law's own sd is 0.88 of the untruncated one: 2.27 of its sd), 1.73 for a
    uniform, growing with ``n`` for an unbounded law."""
    finite: bool = True
    law_across_shapes: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = {"n": self.n, "builds": self.builds, "std": self.std,
                "std_interval": list(self.std_interval), "mean": self.mean,
                "family": self.family, "truncation": self.truncation,
                "constant": self.constant, "finite": self.finite,
                "law_across_shapes": self.law_across_shapes, **self.extra}
        return {key: _number(value) for key, value in data.items()}


def _number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value


def is_constant(arrays: list[np.ndarray]) -> bool:
    """Every entry of each build equal (for single entries: equal across builds)."""
    if all(a.size <= 1 for a in arrays):
        return all(np.array_equal(arrays[0], a) for a in arrays[1:])
    return all(a.size == 0 or bool(np.all(a == a.reshape(-1)[0])) for a in arrays)


FAMILY_SAMPLE = 1 << 14
"""Entries the family is named from (a random subsample): enough to tell a normal from a
uniform or a truncated normal, and the exact KS law of scipy costs milliseconds here
where it costs 20 ms at 10^5 entries."""


def measure(arrays: list[np.ndarray], *, rng: np.random.Generator,
            policy: Policy, family: bool = True) -> Measured:
    """The std (with its interval), mean, family and truncation of one tensor's builds."""
    with np.errstate(invalid="ignore", over="ignore"):
        sample = as_sample(arrays).astype(np.float64)
    n = int(sample.size)
    finite = bool(np.isfinite(sample).all())
    constant = is_constant(arrays)
    if not finite or n == 0:
        return Measured(n=n, builds=len(arrays), std=math.nan, std_interval=(math.nan,
                        math.nan), mean=math.nan, constant=False, finite=finite)
    mean = float(sample.mean())
    std = float(sample.std(ddof=1)) if n > 1 else 0.0
    interval = (math.nan, math.nan)
    family = truncation = None
    if n >= MIN_ENTRIES and std > 0:
        result = stats.variance_test(sample, std * std, gaussian=False, policy=policy)
        low, high = result.interval
        interval = (math.sqrt(max(low, 0.0)), math.sqrt(max(high, 0.0)))
        standardized = (sample - mean) / std
        truncation = float(np.max(np.abs(standardized)))
        if n >= 100 and family:
            from verify.fingerprint import identify_family

            if n > FAMILY_SAMPLE:
                standardized = standardized[rng.choice(n, FAMILY_SAMPLE, replace=False)]
            found = identify_family(standardized, rng)
            family = found.name if found.name != "truncated_normal" else \
                f"truncated_normal(+-{found.truncation:.3g} sd)"
    elif std == 0:
        interval = (0.0, 0.0)
    return Measured(n=n, builds=len(arrays), std=std, std_interval=interval, mean=mean,
                    constant=constant, family=family, truncation=truncation,
                    finite=finite)
