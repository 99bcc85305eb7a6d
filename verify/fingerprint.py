"""Fingerprint an initializer: what it actually does, measured.

From a designed set of shapes that vary the output channels, the input channels and
the kernel size independently, :func:`fingerprint` estimates the variance at each
shape (with a confidence interval), fits the variance law

    1 / Var = c + a * fan_in + b * fan_out

by weighted least squares for each way of reading the tensor's axes (the layout's
own reading, in and out swapped, with or without the receptive field), keeps the
reading that fits best, and names it: the closest scheme (LeCun, Glorot, He, their
fan-out forms, the "standard" ``U(+-1/sqrt(fan_in))``, a constant variance, or
custom) and its gain. The pooled standardized samples identify the distribution
family (normal, uniform, truncated normal with its truncation point, or other, with
the kurtosis); the mean and the independence of entries are tested as ``check`` does.

Fans are stated in terms of the tensor's axes as the layout names them (``in``,
``out``, ``kernel``): "fan_in = in * kernel" is the textbook's reading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as scipy_stats

from verify import stats
from verify.adapters import ContractError
from verify.conformance import Sampler, TargetError, validate_output
from verify.fans import Layout, arrange, channel_axes

SAMPLES_PER_SHAPE = 2**17
RELATIVE_TOLERANCE = 0.01
"""Coefficients (or squared gains) within 1% count as equal even when the intervals are
narrower: a difference that small is below what any initializer means to encode."""
MIN_SHAPES = 4
"""At least this many design shapes must be accepted to fit a law of three terms."""
TRUNCATION_MAX = 3.5
"""A normal truncated beyond 3.5 sd is indistinguishable from a normal at these sample
sizes (its kurtosis differs by less than 0.02): call it normal."""
FIT_LEVEL = 1e-6
"""Below this p-value of the goodness of fit, no law of the form fits."""

NAMED_GAINS = {  # (mode, gain^2) -> name
    ("fan_in", 1.0): "lecun",
    ("fan_in", 2.0): "he",
    ("fan_avg", 1.0): "glorot",
    ("fan_out", 1.0): "lecun",
    ("fan_out", 2.0): "he",
    ("fan_avg", 2.0): "glorot (gain sqrt 2)",
    ("fan_in", 1.0 / 3.0): "standard",
}
"""``standard`` is ``U(+-1/sqrt(fan_in))``: Var = 1/(3 fan_in), PyTorch's default for
``nn.Linear`` and ``nn.ConvNd`` (``kaiming_uniform_(a=sqrt(5))``)."""


@dataclass(frozen=True)
class Reading:
    """Which tensor axes an initializer's fans come from."""

    swapped: bool
    receptive_field: bool

    def fans(self, out: int, inp: int, kernel: int) -> tuple[int, int]:
        k = kernel if self.receptive_field else 1
        fan_in, fan_out = inp * k, out * k
        return (fan_out, fan_in) if self.swapped else (fan_in, fan_out)

    def describe(self, rank: int | None = None, layout: Layout | None = None) -> str:
        """In the layout's axis names, or with ``rank`` and ``layout`` in tensor axes:
        ``fan_in = shape[1]*shape[2]*shape[3]``."""
        if rank is None or layout is None:
            k = " * kernel" if self.receptive_field else ""
            first, second = ("out", "in") if self.swapped else ("in", "out")
            return f"fan_in = {first}{k}, fan_out = {second}{k}"
        out_axis, in_axis, kernel_axes = channel_axes(rank, layout)
        if self.swapped:
            out_axis, in_axis = in_axis, out_axis
        k = "".join(f"*shape[{a}]" for a in kernel_axes) if self.receptive_field else ""
        return f"fan_in = shape[{in_axis}]{k}, fan_out = shape[{out_axis}]{k}"


READINGS = (Reading(False, True), Reading(False, False))
"""The layout's reading with and without the receptive field. Reading ``in`` and
``out`` the other way round is the same law with the fan-in and fan-out coefficients
exchanged, so it shows up as the mode (fan_out instead of fan_in), not as a reading."""


def build_shape(out: int, inp: int, spatial: Sequence[int], layout: Layout) -> tuple[int, ...]:
    return arrange(out, inp, tuple(spatial), layout)


def design(rank: int, layout: Layout) -> list[tuple[int, ...]]:
    """Shapes where out, in and kernel vary independently (multiples of 16, so grouped
    layers with up to 16 groups accept them)."""
    if rank == 2:
        pairs = [(256, 16), (16, 256), (64, 64), (128, 32), (32, 128), (256, 256)]
        return [build_shape(o, i, (), layout) for o, i in pairs]
    spatial_dims = rank - 2
    triples = [(64, 16, 1), (16, 64, 1), (32, 32, 1), (64, 16, 3), (16, 64, 3), (32, 32, 3)]
    return [build_shape(o, i, (s,) * spatial_dims, layout) for o, i, s in triples]


def _axes(shape: tuple[int, ...], layout: Layout) -> tuple[int, int, int]:
    out_axis, in_axis, kernel_axes = channel_axes(len(shape), layout)
    return shape[out_axis], shape[in_axis], math.prod(shape[a] for a in kernel_axes)


@dataclass
class ShapeVariance:
    shape: tuple[int, ...]
    out: int
    inp: int
    kernel: int
    variance: float
    interval: tuple[float, float]
    relative_se: float
    n: int
    mean: float

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "variance": self.variance,
                "interval": list(self.interval), "n": self.n, "mean": self.mean}


@dataclass
class Law:
    """``1/Var = constant + fan_in_coef * fan_in + fan_out_coef * fan_out``."""

    reading: Reading
    coefficients: np.ndarray  # constant, fan_in, fan_out
    covariance: np.ndarray
    chi2: float
    dof: int
    included: tuple[bool, bool, bool]

    @property
    def pvalue(self) -> float:
        return float(scipy_stats.chi2.sf(self.chi2, self.dof)) if self.dof > 0 else 1.0

    def interval(self, index: int) -> tuple[float, float]:
        value = float(self.coefficients[index])
        half = 1.96 * math.sqrt(max(float(self.covariance[index, index]), 0.0))
        return value - half, value + half

    def predict(self, fan_in: float, fan_out: float) -> float:
        c, a, b = self.coefficients
        return 1.0 / (c + a * fan_in + b * fan_out)

    def describe(self) -> str:
        c, a, b = self.coefficients
        terms = []
        if self.included[0]:
            terms.append(f"{c:.4g}")
        if self.included[1]:
            terms.append(f"{a:.4g} fan_in")
        if self.included[2]:
            terms.append(f"{b:.4g} fan_out")
        return "1/Var = " + " + ".join(terms) + f" ({self.reading.describe()})"

    def to_dict(self) -> dict:
        return {
            "constant": float(self.coefficients[0]), "constant_interval": self.interval(0),
            "fan_in_coef": float(self.coefficients[1]), "fan_in_interval": self.interval(1),
            "fan_out_coef": float(self.coefficients[2]), "fan_out_interval": self.interval(2),
            "fit_pvalue": self.pvalue, "fans": self.reading.describe(),
            "receptive_field": self.reading.receptive_field,
        }


def _fit(measured: list[ShapeVariance], reading: Reading,
         included: tuple[bool, bool, bool]) -> Law:
    rows, y, se = [], [], []
    for m in measured:
        fan_in, fan_out = reading.fans(m.out, m.inp, m.kernel)
        rows.append([1.0, fan_in, fan_out])
        y.append(1.0 / m.variance)
        se.append(m.relative_se / m.variance)
    x = np.array(rows)[:, list(included)]
    y, se = np.array(y), np.array(se)
    weighted = x / se[:, None]
    coefficients, *_ = np.linalg.lstsq(weighted, y / se, rcond=None)
    residual = (y - x @ coefficients) / se
    covariance_small = np.linalg.pinv(weighted.T @ weighted)
    full = np.zeros(3)
    covariance = np.zeros((3, 3))
    index = [i for i, keep in enumerate(included) if keep]
    full[index] = coefficients
    covariance[np.ix_(index, index)] = covariance_small
    return Law(reading, full, covariance, float(residual @ residual),
               len(measured) - len(index), included)


def fit_law(measured: list[ShapeVariance]) -> Law:
    """The best reading of the axes, then the simplest sub-model that fits as well
    (a coefficient is dropped when its 99.9% interval contains 0)."""
    full = [_fit(measured, reading, (True, True, True)) for reading in READINGS]
    smallest = min(law.chi2 for law in full)
    # the first reading that fits as well as the best (for 2-D tensors they coincide)
    law = next(law for law in full if law.chi2 <= smallest + 1e-6 * (1 + smallest))
    z = scipy_stats.norm.isf(0.0005)
    for _ in range(3):
        droppable = [i for i in range(3) if law.included[i]
                     and abs(law.coefficients[i]) <= z * math.sqrt(law.covariance[i, i])]
        if not droppable or sum(law.included) == 1:
            break
        weakest = min(droppable, key=lambda i: abs(law.coefficients[i])
                      / math.sqrt(law.covariance[i, i] or 1.0))
        included = tuple(keep and i != weakest for i, keep in enumerate(law.included))
        law = _fit(measured, law.reading, included)
    return law


@dataclass(frozen=True)
class Family:
    name: str
    pvalue: float
    kurtosis: float
    truncation: float | None = None

    def describe(self) -> str:
        if self.name == "truncated_normal":
            return f"truncated normal at +-{self.truncation:.3g} sd of the untruncated normal"
        if self.name == "other":
            return f"other (kurtosis {self.kurtosis:.3g})"
        return self.name


def _truncation_for(kurtosis: float) -> float | None:
    """The symmetric truncation point ``t`` of a normal with the given kurtosis."""
    def excess(t: float) -> float:
        return float(scipy_stats.truncnorm(-t, t).stats(moments="k")) + 3 - kurtosis

    low, high = 0.3, 6.0
    if excess(low) * excess(high) > 0:
        return None
    return float(optimize.brentq(excess, low, high, xtol=1e-6))


def identify_family(standardized: np.ndarray, rng: np.random.Generator, *,
                    plain_level: float | None = None) -> Family:
    """The family whose exact CDF fits the standardized samples best (KS), or ``other``.

    With ``plain_level``, a normal or uniform fit whose p-value reaches it is preferred to
    a better-fitting truncated normal: the truncation point is fitted to the sample's
    kurtosis, which flatters the truncated normal's p-value, and a normal cut at 0.4 sd
    is a uniform for any sample size there is.
    """
    x = standardized[rng.permutation(standardized.size)[:100_000]]
    kurtosis = float(scipy_stats.kurtosis(standardized, fisher=False))
    candidates: dict[str, tuple[object, float | None]] = {
        "normal": (scipy_stats.norm(), None),
        "uniform": (scipy_stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)), None),
    }
    t = _truncation_for(kurtosis)
    if t is not None and t <= TRUNCATION_MAX:
        law = scipy_stats.truncnorm(-t, t)
        candidates["truncated_normal"] = (scipy_stats.truncnorm(-t, t, scale=1 / law.std()), t)
    results = {name: float(scipy_stats.kstest(x, law.cdf).pvalue)
               for name, (law, _) in candidates.items()}
    name = max(results, key=results.get)
    if name == "truncated_normal" and plain_level is not None:
        plain = max(("normal", "uniform"), key=results.get)
        name = plain if results[plain] >= plain_level else name
    if results[name] < FIT_LEVEL:
        return Family("other", results[name], kurtosis)
    return Family(name, results[name], kurtosis, candidates[name][1])


@dataclass
class Fingerprint:
    name: str
    layout: Layout
    law: Law | None
    scheme: str
    mode: str | None
    gain: float | None
    gain_interval: tuple[float, float] | None
    family: Family
    mean: stats.CheckResult
    independence: stats.CheckResult
    shapes: list[ShapeVariance] = field(default_factory=list)
    confidence: str = "high"
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line: 'behaves as LeCun-uniform (gain 0.577), fan_in = in * kernel'."""
        if self.scheme.startswith("constant (zero"):
            return "a deterministic tensor (zero variance at some shape)"
        if self.law is None:
            return f"no variance law of the form fits; {self.family.describe()} weights"
        gain = "" if self.gain is None else f", gain {self.gain:.4g}"
        if self.scheme == "constant":
            variance = 1 / self.law.coefficients[0]
            scheme = f"a constant variance {variance:.4g} (std {math.sqrt(variance):.4g})"
        elif self.scheme == "custom" and self.mode:
            scheme = f"gain^2 / {self.mode}"
        elif self.scheme == "custom":
            scheme = f"a custom law, {self.law.describe().split(' (')[0]}"
        else:
            scheme = f"{self.scheme} ({self.mode})"
        rank = len(self.shapes[0].shape) if self.shapes else None
        fans = "" if self.scheme == "constant" else \
            f"; {self.law.reading.describe(rank, self.layout)}"
        return f"behaves as {scheme} with {self.family.describe()} weights{gain}{fans}"

    def explain(self, claim) -> str:
        """Where the measured law departs most from ``claim`` (an ``InitSpec`` or a law
        with ``variance(shape)``): the claimed and the measured fans and variances."""
        if self.law is None or not hasattr(claim, "variance") or not self.shapes:
            return ""
        worst, worst_ratio = None, 1.0
        for s in self.shapes:
            ratio = s.variance / claim.variance(s.shape)
            if worst is None or abs(math.log(ratio)) > abs(math.log(worst_ratio)):
                worst, worst_ratio = s, ratio
        fans = claim.fans(worst.shape)
        fan_in, fan_out = self.law.reading.fans(worst.out, worst.inp, worst.kernel)
        return (f"at shape {'x'.join(map(str, worst.shape))} the claim has fan_in={fans.fan_in}, "
                f"fan_out={fans.fan_out}, Var={claim.variance(worst.shape):.4g}; measured "
                f"Var={worst.variance:.4g} (ratio {worst_ratio:.4g}), as the fitted law with "
                f"fan_in={fan_in}, fan_out={fan_out} predicts "
                f"{self.law.predict(fan_in, fan_out):.4g}")

    def to_dict(self) -> dict:
        return {
            "target": self.name,
            "scheme": self.scheme,
            "gain": self.gain,
            "gain_interval": self.gain_interval,
            "mode": self.mode,
            "distribution": self.family.name,
            "distribution_detail": {"kurtosis": self.family.kurtosis,
                                    "truncation": self.family.truncation,
                                    "ks_pvalue": self.family.pvalue},
            "variance_law": None if self.law is None else {
                **self.law.to_dict(),
                "fans": self.law.reading.describe(len(self.shapes[0].shape), self.layout)},
            "layout": self.layout,
            "mean": self.mean.to_dict(),
            "independence": self.independence.to_dict(),
            "verdict_confidence": self.confidence,
            "summary": self.describe(),
            "notes": self.notes,
            "shapes": [s.to_dict() for s in self.shapes],
        }


def _rank_of(shapes: st.SearchStrategy | None) -> int:
    if shapes is None:
        return 2
    example = find(shapes, lambda s: True,
                   settings=settings(database=None, suppress_health_check=list(HealthCheck)))
    return len(example)


def measure_variances(sampler: Sampler, shapes: list[tuple[int, ...]], layout: Layout,
                      rng: np.random.Generator, *, samples: int = SAMPLES_PER_SHAPE,
                      max_calls: int = 20_000,
                      ) -> tuple[list[ShapeVariance], np.ndarray, np.ndarray, list]:
    """Variance per shape; also the pooled samples divided by their shape's standard
    deviation (not centred), and one raw draw."""
    measured, pooled, first, rejected = [], [], None, []
    for shape in shapes:
        calls = min(max_calls, max(1, math.ceil(samples / math.prod(shape))))
        seeds = rng.integers(0, 2**63 - 1, size=calls)
        try:
            draws = np.stack([validate_output(sampler(shape, int(s)), shape).astype(np.float64)
                              for s in seeds])
        except (TargetError, ContractError):  # a broken contract, a timeout: not a shape
            raise
        except Exception as error:  # a shape this initializer does not take
            rejected.append((shape, error))
            if len(rejected) > len(shapes) - MIN_SHAPES:
                raise ValueError(
                    f"the initializer refused {len(rejected)} of the {len(shapes)} design "
                    f"shapes (at {'x'.join(map(str, shape))}: {error}); a fingerprint needs "
                    f"{MIN_SHAPES} shapes that vary the fans independently") from None
            continue
        if first is None:
            first = draws
        x = draws.reshape(-1)
        n = x.size
        variance = float(x.var(ddof=1))
        centred = x - x.mean()
        m2 = float(np.mean(centred**2))
        kurtosis = float(np.mean(centred**4)) / (m2 * m2) if m2 > 0 else 3.0
        relative_se = math.sqrt(max(kurtosis - (n - 3) / (n - 1), 1e-12) / n)
        out, inp, kernel = _axes(shape, layout)
        half = 1.96 * relative_se * variance
        measured.append(ShapeVariance(shape, out, inp, kernel, variance,
                                      (variance - half, variance + half), relative_se, n,
                                      float(x.mean())))
        if variance > 0:
            pooled.append(x / math.sqrt(variance))  # not centred: the mean test needs it
    return measured, np.concatenate(pooled) if pooled else np.zeros(0), first, rejected


def name_scheme(law: Law, family: Family) -> tuple[str, str | None, float | None,
                                                     tuple[float, float] | None]:
    """``(scheme, mode, gain, gain interval)`` from a fitted law."""
    _, a, b = law.coefficients
    keep_c, keep_a, keep_b = law.included
    if not keep_a and not keep_b:
        return "constant", None, None, None
    if keep_c:
        return "custom", None, None, None
    if keep_a and not keep_b:
        mode, coefficient, index, scale = "fan_in", a, 1, 1.0
    elif keep_b and not keep_a:
        mode, coefficient, index, scale = "fan_out", b, 2, 1.0
    else:
        spread = math.sqrt(max(law.covariance[1, 1] + law.covariance[2, 2]
                               - 2 * law.covariance[1, 2], 0.0))
        differ = abs(a - b) > scipy_stats.norm.isf(0.0005) * spread
        if differ and abs(a / b - 1) > RELATIVE_TOLERANCE:  # a != b: no named mode
            return "custom", None, None, None
        mode, coefficient, index, scale = "fan_avg", (a + b) / 2, 1, 0.5
    # 1/Var = coefficient * fan(mode) / scale... with Var = gain^2 / fan(mode):
    # fan_in: 1/Var = fan_in / g^2 -> g^2 = 1/a; fan_avg: 1/Var = (fi + fo)/(2 g^2) -> g^2 = 1/(2a)
    gain2 = scale / coefficient
    low, high = law.interval(index)
    gain_interval = (math.sqrt(scale / high) if high > 0 else math.inf,
                     math.sqrt(scale / low) if low > 0 else math.inf)
    gain = math.sqrt(gain2) if gain2 > 0 else math.nan
    for (named_mode, named_gain2), name in NAMED_GAINS.items():
        if named_mode != mode:
            continue
        named_gain = math.sqrt(named_gain2)
        close = gain_interval[0] <= named_gain <= gain_interval[1] or \
            abs(gain / named_gain - 1) < RELATIVE_TOLERANCE / 2
        if close:
            if name == "standard" and family.name != "uniform":
                return f"{mode} gain 1/sqrt(3)", mode, gain, gain_interval
            return name, mode, gain, gain_interval
    return "custom", mode, gain, gain_interval


def fingerprint(sampler: Sampler, *, layout: Layout = "oihw",
                shapes: st.SearchStrategy | None = None, seed: int = 0, name: str = "",
                samples: int = SAMPLES_PER_SHAPE, max_calls: int = 20_000,
                design_shapes: list[tuple[int, ...]] | None = None) -> Fingerprint:
    """What ``sampler`` does: its variance law, scheme, gain, fans and distribution.

    ``shapes`` (a strategy of shapes the sampler accepts) sets the tensor rank of the
    design; default 2-D.
    """
    rng = np.random.default_rng(seed)
    chosen = design_shapes or design(_rank_of(shapes), layout)
    measured, standardized, first, rejected = measure_variances(
        sampler, chosen, layout, rng, samples=samples, max_calls=max_calls)
    family = identify_family(standardized - standardized.mean(), rng) if standardized.size \
        else Family(
        "other", 0.0, math.nan)
    mean = stats.mean_test(standardized) if standardized.size else stats.mean_test(
        np.zeros(3))
    independence = stats.independence_test(first)
    notes = [f"shape {'x'.join(map(str, shape))} not accepted: {error}"
             for shape, error in rejected]
    if any(m.variance == 0 for m in measured):
        return Fingerprint(name, layout, None, "constant (zero variance)", None, None, None,
                           family, mean, independence, measured, "high",
                           ["some shapes have zero variance: a deterministic tensor"])
    law = fit_law(measured)
    confidence = "high"
    if law.pvalue < FIT_LEVEL:
        notes.append(f"no law 1/Var = c + a fan_in + b fan_out fits (goodness of fit "
                     f"p={law.pvalue:.2g}); the closest is {law.describe()}")
        confidence = "low"
        scheme, mode, gain, interval = "custom", None, None, None
    else:
        scheme, mode, gain, interval = name_scheme(law, family)
        if law.pvalue < 1e-3 or family.pvalue < 1e-3:
            confidence = "medium"
    if family.name == "other":
        notes.append(f"no family fits: kurtosis {family.kurtosis:.3g}")
        confidence = "low" if confidence == "low" else "medium"
    if mean.verdict is stats.Verdict.FAIL:
        notes.append(f"mean is not 0: {mean.estimate:.3g} sd")
    if independence.verdict is stats.Verdict.FAIL:
        notes.append("entries are not independent: " + independence.detail)
    return Fingerprint(name, layout, None if law.pvalue < FIT_LEVEL else law, scheme, mode,
                       gain, interval, family, mean, independence, measured, confidence, notes)
