"""Complex initializers: the real and imaginary parts, and ``E|w|^2`` against the law.

A complex initializer's documented law is stated for the complex value: PyTorch's
``torch.randn`` ('a complex normal distribution with zero mean and unit variance',
real and imaginary parts each of variance 1/2), and the variance-scaling rules of JAX and
Keras ('the variance of the complex value', split evenly between the parts). So the
checks are:

* ``complex variance``: the mean of ``|w - mu|^2`` against the claimed variance (a t-test
  on the squared moduli; ``mu`` the claimed mean);
* ``real part``/``imaginary part`` variance: each part against half of it (circular
  symmetry);
* ``real part``/``imaginary part`` mean: the claimed mean's real part and 0;
* ``parts uncorrelated``: the correlation of the two parts, 0;
* ``real part shape``/``imaginary part shape``: for a claimed normal law only, each part
  against ``N(mean, variance / 2)`` (Kolmogorov-Smirnov): a circular complex normal.
  Other families leave the parts' law open (a uniform disk, a uniform square, ...): not
  claimed, not tested.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy import stats as scipy_stats

from verify import stats
from verify.laws import claim_is_gaussian
from verify.stats import DEFAULT_POLICY, CheckResult, Policy


def complex_results(sampler, claim, shape: tuple[int, ...], *, seed: int,
                    policy: Policy = DEFAULT_POLICY, max_calls: int) -> list[CheckResult]:
    """The complex battery of ``claim`` at ``shape``: one sample of up to the power target's
    size (capped at ``max_calls`` calls), tests at ``policy``'s level each."""
    from verify.conformance import draw_tensors, sample_size

    law = claim.law(shape)
    mean, variance = float(law.mean()), float(law.var())
    target = min(sample_size(claim, law, policy), max_calls * math.prod(shape))
    values = draw_tensors(sampler, shape, target, np.random.default_rng(seed))
    if not np.all(np.isfinite(values)):
        from verify.conformance import TargetError

        raise TargetError(f"the initializer returned NaN or Inf at shape {shape}")
    real = np.ascontiguousarray(values.real, dtype=np.float64)
    imaginary = np.ascontiguousarray(values.imag, dtype=np.float64)
    moduli = (real - mean) ** 2 + imaginary**2
    results = [
        _renamed(stats.mean_test(moduli.reshape(-1), variance, policy=policy),
                 "complex variance", "E|w - mean|^2 against the claimed variance (t-test)"),
        _renamed(stats.variance_test(real, variance / 2, gaussian=False, policy=policy),
                 "real part variance", "half the claimed variance"),
        _renamed(stats.variance_test(imaginary, variance / 2, gaussian=False, policy=policy),
                 "imaginary part variance", "half the claimed variance"),
        _renamed(stats.mean_test(real, mean, policy=policy), "real part mean", ""),
        _renamed(stats.mean_test(imaginary, 0.0, policy=policy), "imaginary part mean", ""),
        _correlation(real.reshape(-1), imaginary.reshape(-1), policy),
    ]
    if claim_is_gaussian(claim):
        part = scipy_stats.norm(mean, math.sqrt(variance / 2))
        results += [
            _renamed(stats.shape_test(real, part.cdf, policy=policy), "real part shape",
                     "against N(mean, variance / 2)"),
            _renamed(stats.shape_test(imaginary, scipy_stats.norm(0, part.std()).cdf,
                                      policy=policy), "imaginary part shape",
                     "against N(0, variance / 2)"),
        ]
    return results


def _renamed(result: CheckResult, name: str, detail: str) -> CheckResult:
    from dataclasses import replace

    return replace(result, name=name,
                   detail="; ".join(d for d in (detail, result.detail) if d))


def _correlation(x: np.ndarray, y: np.ndarray, policy: Policy) -> CheckResult:
    """Pearson correlation of the two parts against 0: ``sqrt(n) r`` is asymptotically
    standard normal under independence."""
    n = x.size
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    r = float(np.dot(x, y)) / denominator if denominator > 0 else 0.0
    z = r * math.sqrt(n)
    pvalue = float(2 * special.ndtr(-abs(z)))
    half = stats._z((1 - policy.confidence) / 2) / math.sqrt(n)
    mde = (stats._z(policy.alpha / 2) + stats._z(1 - policy.power)) / math.sqrt(n)
    return CheckResult("parts uncorrelated", r, 0.0, (r - abs(half), r + abs(half)), z, pvalue,
                       n, mde, "correlation", policy.classify(pvalue),
                       detail="correlation of the real and imaginary parts",
                       confidence=policy.confidence)
