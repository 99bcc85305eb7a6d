"""Does a sampler draw weights from the law its scheme claims, at a given shape?

A *sampler* is any callable ``sampler(shape, seed) -> array`` (the protocol every
adapter provides). :func:`check_shape` draws as many tensors as the power target
needs (small tensors are drawn repeatedly, up to ``max_calls`` calls), then runs
the battery of :mod:`verify.stats` against the claimed law: mean, variance,
support, distribution shape and independence between entries, rows and calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from verify import stats
from verify.laws import StatisticalClaim, claim_cdf, claim_is_gaussian
from verify.schemes import InitSpec
from verify.stats import DEFAULT_POLICY, CheckResult, Policy, Verdict

Sampler = Callable[[tuple[int, ...], int], np.ndarray]

DEFAULT_MAX_CALLS = 20_000
"""At most this many calls per shape: tiny tensors get a larger, reported, MDE."""


def draw_tensors(
    sampler: Sampler, shape: tuple[int, ...], samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``(calls, *shape)``: enough calls with fresh seeds to hold ``samples`` entries."""
    calls = max(1, math.ceil(samples / math.prod(shape)))
    seeds = rng.integers(0, 2**63 - 1, size=calls)
    return np.stack([np.asarray(sampler(shape, int(seed))) for seed in seeds])


def overall_verdict(results: Sequence[CheckResult]) -> Verdict:
    verdicts = {r.verdict for r in results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.SUSPICIOUS in verdicts:
        return Verdict.SUSPICIOUS
    return Verdict.PASS


@dataclass(frozen=True)
class ShapeCheck:
    """The battery's results for one shape."""

    claim: StatisticalClaim
    shape: tuple[int, ...]
    results: tuple[CheckResult, ...]

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.results)

    @property
    def variance_ratio(self) -> float:
        """Measured over claimed variance."""
        variance = next(r for r in self.results if r.name == "variance")
        return variance.estimate / variance.expected

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.verdict is not Verdict.PASS]

    def summary(self) -> str:
        lines = [f"{self.claim.describe()} shape={self.shape}: {self.verdict}"]
        lines += [f"  {r.summary()}" for r in self.results]
        return "\n".join(lines)


def check_shape(
    sampler: Sampler,
    claim: StatisticalClaim,
    shape: tuple[int, ...],
    *,
    seed: int,
    policy: Policy = DEFAULT_POLICY,
    max_calls: int = DEFAULT_MAX_CALLS,
    variance: float | None = None,
) -> ShapeCheck:
    """Run the whole battery on tensors of ``shape`` drawn from ``sampler``.

    The claimed law is ``claim.law(shape)``; for a scheme (``InitSpec``) a test may
    pass its own, independently computed ``variance`` instead of the scheme's.
    """
    shape = tuple(int(d) for d in shape)
    if variance is not None and isinstance(claim, InitSpec):
        family = claim.family
        law = family.law(math.sqrt(variance))
        cdf = family.cdf(math.sqrt(variance))
    else:
        law = claim.law(shape)
        cdf = claim_cdf(claim, shape)
    mean, variance = float(law.mean()), float(law.var())
    kurtosis = float(law.stats(moments="k")) + 3.0
    gaussian = claim_is_gaussian(claim)
    target = stats.variance_sample_size(policy=policy, kurtosis=kurtosis, gaussian=gaussian)
    first_size = min(target, max_calls * math.prod(shape))
    rng = np.random.default_rng(seed)

    def draw(samples: int, generator: np.random.Generator) -> np.ndarray:
        tensors = draw_tensors(sampler, shape, samples, generator)
        if not np.all(np.isfinite(tensors)):
            raise ValueError(f"the sampler returned non-finite values at shape {shape}")
        return tensors

    tests: list[Callable[[np.ndarray], CheckResult]] = [
        lambda x: stats.mean_test(x, mean, policy=policy),
        lambda x: stats.variance_test(x, variance, gaussian=gaussian, policy=policy),
        lambda x: stats.support_test(x, law, policy=policy),
        lambda x: stats.shape_test(x, cdf, policy=policy),
        lambda x: stats.independence_test(x, policy=policy),
    ]
    sample = draw(first_size, rng)
    results = tuple(
        stats.resolve(test, draw, sample.size, rng, policy=policy, first=test(sample))
        for test in tests
    )
    return ShapeCheck(claim, shape, results)


def variance_check(
    sampler: Sampler, spec: InitSpec, shape: tuple[int, ...], expected: float, *, seed: int,
    policy: Policy = DEFAULT_POLICY, name: str = "Var[w]", max_calls: int = DEFAULT_MAX_CALLS,
) -> CheckResult:
    """Only the variance of a sampler's weights at ``shape``, against ``expected``
    (``spec`` says which distribution, hence which null law, to use)."""
    gaussian = spec.dist == "normal"
    size = stats.variance_sample_size(policy=policy, kurtosis=spec.family.kurtosis,
                                      gaussian=gaussian)
    size = min(size, max_calls * math.prod(shape))
    rng = np.random.default_rng(seed)

    def draw(count: int, generator: np.random.Generator) -> np.ndarray:
        return draw_tensors(sampler, shape, count, generator)

    def test(samples: np.ndarray) -> CheckResult:
        return stats.variance_test(samples, expected, gaussian=gaussian, policy=policy, name=name)

    return stats.resolve(test, draw, size, rng, policy=policy)
