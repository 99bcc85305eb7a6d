"""Are two initializers statistically the same on the same layers?

Each layer is given abstractly, ``(in_channels, out_channels, *kernel)``; each
initializer gets the weight shape of that layer in its own layout (PyTorch's
``(out, in, kh, kw)``, Flax's ``(kh, kw, in, out)``, ...). Per layer: the ratio of the
variances with a kurtosis-corrected interval and a test of ratio 1, and a two-sample
KS test of the standardized samples (same family?). Both initializers are also
fingerprinted, so a difference is stated as a law in the fans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from verify.conformance import Sampler, validate_output
from verify.fans import Layout
from verify.fingerprint import Fingerprint, _rank_of, build_shape, fingerprint
from verify.stats import DEFAULT_POLICY, Policy, Verdict, variance_ratio_test

SAMPLES = 2**18
DENSE_LAYERS = ((64, 256), (256, 64))
CONV_LAYERS = ((32, 64, 3, 3), (64, 32, 3, 3))


@dataclass
class LayerComparison:
    layer: tuple[int, ...]
    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    variances: tuple[float, float]
    ratio: float
    interval: tuple[float, float]
    variance_pvalue: float
    ks_statistic: float
    ks_pvalue: float
    policy: Policy = DEFAULT_POLICY

    @property
    def same_variance(self) -> bool:
        return self.policy.classify(self.variance_pvalue) is not Verdict.FAIL

    @property
    def same_distribution(self) -> bool:
        return self.policy.classify(self.ks_pvalue) is not Verdict.FAIL

    def to_dict(self) -> dict:
        return {"layer": list(self.layer), "shapes": [list(s) for s in self.shapes],
                "variances": list(self.variances), "ratio_b_over_a": self.ratio,
                "ratio_interval": list(self.interval), "variance_pvalue": self.variance_pvalue,
                "ks_statistic": self.ks_statistic, "ks_pvalue": self.ks_pvalue,
                "same_variance": self.same_variance,
                "same_distribution": self.same_distribution}


@dataclass
class Comparison:
    names: tuple[str, str]
    layers: list[LayerComparison]
    fingerprints: tuple[Fingerprint, Fingerprint]
    notes: list[str] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        return all(c.same_variance and c.same_distribution for c in self.layers)

    def ratio_law(self) -> str:
        """``Var_B / Var_A`` as a function of the fans, from the two fingerprints."""
        a, b = (f.law for f in self.fingerprints)
        if a is None or b is None:
            return "no variance law fits one of them"
        return (f"Var_B / Var_A = ({a.describe().removeprefix('1/Var = ').split(' (')[0]}) / "
                f"({b.describe().removeprefix('1/Var = ').split(' (')[0]})")

    def to_dict(self) -> dict:
        return {"targets": list(self.names), "equivalent": self.equivalent,
                "layers": [c.to_dict() for c in self.layers],
                "ratio_law": self.ratio_law(),
                "fingerprints": [f.to_dict() for f in self.fingerprints], "notes": self.notes}

    def render(self) -> str:
        a, b = self.names
        lines = [f"A = {a}", f"    {self.fingerprints[0].describe()}",
                 f"B = {b}", f"    {self.fingerprints[1].describe()}", "",
                 f"{'layer (in,out,kernel)':24} {'Var A':>11} {'Var B':>11} {'B/A':>8} "
                 f"{'95% interval':>20} {'p':>9} {'KS p':>9}"]
        for c in self.layers:
            lines.append(f"{','.join(map(str, c.layer)):24} {c.variances[0]:11.5g} "
                         f"{c.variances[1]:11.5g} {c.ratio:8.4g} "
                         f"[{c.interval[0]:8.4g}, {c.interval[1]:8.4g}] "
                         f"{c.variance_pvalue:9.2g} {c.ks_pvalue:9.2g}")
        lines.append("")
        if self.equivalent:
            lines.append("equivalent on every layer (variance and distribution, alpha = "
                         f"{self.layers[0].policy.alpha:g})")
        else:
            lines.append("they differ: " + self.ratio_law())
            if not all(c.same_distribution for c in self.layers):
                lines.append(f"distributions differ: {self.fingerprints[0].family.describe()} "
                             f"vs {self.fingerprints[1].family.describe()}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _draw(sampler: Sampler, shape: tuple[int, ...], rng: np.random.Generator,
          samples: int) -> np.ndarray:
    calls = max(1, math.ceil(samples / math.prod(shape)))
    seeds = rng.integers(0, 2**63 - 1, size=calls)
    return np.concatenate([validate_output(sampler(shape, int(s)), shape)
                           .astype(np.float64).reshape(-1) for s in seeds])


def default_layers(shapes: tuple[st.SearchStrategy | None, st.SearchStrategy | None],
                   names: tuple[str, str]) -> tuple[tuple[int, ...], ...]:
    """Two dense layers, or two 3x3 (3x3x3, ...) convolutions, for the samplers' rank."""
    ranks = (_rank_of(shapes[0]), _rank_of(shapes[1]))
    if ranks[0] != ranks[1]:
        raise ValueError(f"{names[0]} takes {ranks[0]}-D weights and {names[1]} "
                         f"{ranks[1]}-D ones: give --layer explicitly")
    if ranks[0] == 2:
        return DENSE_LAYERS
    return tuple((i, o, *(3,) * (ranks[0] - 2)) for i, o, *_ in CONV_LAYERS)


def compare(first: Sampler, second: Sampler, *, layers: Sequence[tuple[int, ...]] | None = None,
            seed: int = 0, layouts: tuple[Layout, Layout] = ("oihw", "oihw"),
            shapes: tuple[st.SearchStrategy | None, st.SearchStrategy | None] = (None, None),
            names: tuple[str, str] = ("A", "B"), samples: int = SAMPLES,
            policy: Policy = DEFAULT_POLICY) -> Comparison:
    """Compare two samplers on ``layers`` (default: two dense or two 3x3 conv layers,
    whichever rank the samplers take)."""
    if layers is None:
        layers = default_layers(shapes, names)
    from verify.conformance import MAX_NUMEL

    for layer in layers:
        if len(layer) < 2 or min(layer) < 1 or math.prod(layer) > MAX_NUMEL:
            raise ValueError(f"layer {tuple(layer)}: give in_channels,out_channels[,kernel...] "
                             f"of positive sizes, at most {MAX_NUMEL} weights")
    rng = np.random.default_rng(seed)
    results = []
    for layer in layers:
        inp, out, *kernel = layer
        layer_shapes = tuple(build_shape(out, inp, kernel, layout) for layout in layouts)
        x = _draw(first, layer_shapes[0], rng, samples)
        y = _draw(second, layer_shapes[1], rng, samples)
        ratio_test = variance_ratio_test(x, y, policy=policy)
        sx = (x - x.mean()) / x.std() if x.std() > 0 else x
        sy = (y - y.mean()) / y.std() if y.std() > 0 else y
        ks = scipy_stats.ks_2samp(sx[:100_000], sy[:100_000])
        results.append(LayerComparison(tuple(layer), layer_shapes,
                                       (float(x.var(ddof=1)), float(y.var(ddof=1))),
                                       ratio_test.estimate, ratio_test.interval,
                                       ratio_test.pvalue, float(ks.statistic),
                                       float(ks.pvalue), policy))
    prints = (fingerprint(first, layout=layouts[0], shapes=shapes[0], seed=seed + 1,
                          name=names[0]),
              fingerprint(second, layout=layouts[1], shapes=shapes[1], seed=seed + 2,
                          name=names[1]))
    return Comparison(names, results, prints)
