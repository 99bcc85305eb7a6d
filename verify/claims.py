"""The claims registry: claim ID -> statement, source, the experiment that decides it.

Each claim of ``CLAIMS.md`` implemented so far is decided by one or more
*explorations* (:mod:`verify.explore`): hypothesis draws cases (fans,
distributions, widths, depths) and each case runs statistical checks at the
policy's size. Expected values are written here from the textbook's formula,
literally, never taken from :mod:`verify.schemes` (which is what the reference
implementations use, and part of what is under test).

Verdicts: ``holds``; ``holds-with-conditions`` (the conditions in plain words);
``fails``; ``erratum`` (a misprint in the source).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as scipy_stats

from verify import depth, stats, strategies
from verify.conformance import draw_tensors, variance_check
from verify.decisions import (
    VERDICTS,
    Context,
    Decision,
    explore_claim,
    identity_check,
    verdict_if_all_hold,
)
from verify.distributions import NORMAL, UNIFORM, ZERO_MEAN_FAMILIES, Family, student_t
from verify.explore import Exploration
from verify.layer import (
    Experiment,
    UnitLaw,
    batch_for,
    iid_layer_second_moment,
    mean_value,
    measure,
    tensor_layer_second_moment,
)
from verify.reference import ReferenceSampler
from verify.schemes import InitSpec, leaky_relu_gain
from verify.stats import DEFAULT_POLICY, Policy

SOURCE = "Murphy, Probabilistic Machine Learning: An Introduction, sec. 13.4"


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    source: str
    decide: Callable[[Context], Decision]


@dataclass
class ClaimResult:
    id: str
    statement: str
    source: str
    verdict: str
    conditions: str
    explorations: list[Exploration]
    facts: list[str]
    seed: int
    seconds: float
    table: list[dict] = field(default_factory=list)

    @property
    def checks_run(self) -> int:
        return sum(e.checks_run for e in self.explorations)

    @property
    def statistical_checks(self) -> int:
        """Checks that are statistical tests (exact identities excluded)."""
        return sum(1 for e in self.explorations for x in e.examples for r in x.results
                   if r.effect_unit != "exact")

    def key_numbers(self) -> str:
        """The headline evidence in one line."""
        if not self.explorations:
            return "; ".join(self.facts)
        return " | ".join(e.summary() for e in self.explorations)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "statement": self.statement,
            "source": self.source,
            "conditions": self.conditions,
            "evidence": {
                "explorations": [e.to_dict() for e in self.explorations],
                "facts": self.facts,
                "table": self.table,
                "checks": self.checks_run,
            },
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
        }


# --- cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearCase:
    """One linear layer: fans, the weights' family and std, and the inputs' law."""

    n_in: int
    n_out: int
    weights: Family
    weight_std: float
    inputs: UnitLaw

    def describe(self) -> str:
        return (
            f"n_in={self.n_in} n_out={self.n_out} "
            f"w~{self.weights.label}(std={self.weight_std:.4g}) x~{self.inputs.describe()}"
        )


@dataclass(frozen=True)
class SchemeCase:
    """A reference initializer at a dense shape ``(n_out, n_in)``, with inputs."""

    scheme: str
    dist: str
    n_in: int
    n_out: int
    inputs: UnitLaw
    negative_slope: float = 0.0

    def sampler(self, gain: float | None = None) -> ReferenceSampler:
        return ReferenceSampler(InitSpec(self.scheme, self.dist, gain=gain))

    def describe(self) -> str:
        slope = f" a={self.negative_slope:.4g}" if self.negative_slope else ""
        return (
            f"{self.scheme}-{self.dist} n_in={self.n_in} n_out={self.n_out}{slope} "
            f"x~{self.inputs.describe()}"
        )


@dataclass(frozen=True)
class BoundCase:
    """The half-width ``a`` of ``U(-a, a)``."""

    a: float

    def describe(self) -> str:
        return f"a={self.a:.6g}"


@dataclass(frozen=True)
class DepthCase:
    width: int
    depth: int

    def describe(self) -> str:
        return f"width={self.width} depth={self.depth}"


def _stds() -> st.SearchStrategy[float]:
    return st.one_of(st.just(1.0), st.floats(0.05, 20.0))


def zero_mean_inputs() -> st.SearchStrategy[UnitLaw]:
    return st.builds(UnitLaw, strategies.weight_families(), _stds())


def rectified_inputs() -> st.SearchStrategy[UnitLaw]:
    """ReLU of a symmetric zero-mean variable: inputs with ``E[x] != 0``."""
    return st.builds(UnitLaw, strategies.weight_families(heavy_tails=False), _stds(),
                     st.just("relu"))


def linear_cases(
    inputs: st.SearchStrategy[UnitLaw],
    weights: st.SearchStrategy[Family] | None = None,
    fans: st.SearchStrategy[tuple[int, int]] | None = None,
) -> st.SearchStrategy[LinearCase]:
    fans = fans if fans is not None else strategies.fan_pairs(1, 512)
    weights = weights if weights is not None else strategies.weight_families()
    return st.builds(
        lambda pair, w, std, x: LinearCase(pair[0], pair[1], w, std, x),
        fans, weights, _stds(), inputs,
    )


def scheme_cases(
    scheme: str,
    inputs: st.SearchStrategy[UnitLaw],
    fans: st.SearchStrategy[tuple[int, int]] | None = None,
    dists: st.SearchStrategy[Family] | None = None,
) -> st.SearchStrategy[SchemeCase]:
    fans = fans if fans is not None else strategies.fan_pairs(1, 256)
    dists = dists if dists is not None else strategies.init_families()
    return st.builds(
        lambda dist, pair, x: SchemeCase(scheme, dist.name, pair[0], pair[1], x),
        dists, fans, inputs,
    )


# --- checks shared by several claims ----------------------------------------------------


# --- the decisions ------------------------------------------------------------------------


def check_linear_mean(case: LinearCase, seed: int, policy: Policy = DEFAULT_POLICY):
    """``E[o] = 0``; effects in units of the output's standard deviation."""
    output_std = math.sqrt(case.n_in * case.weight_std**2 * case.inputs.second_moment)
    yield iid_layer_second_moment(
        case.n_in, case.weights, case.weight_std, case.inputs, 0.0,
        rng=np.random.default_rng(seed), policy=policy, statistic=mean_value, name="E[o]",
        scale=output_std,
    )


def check_linear_variance(case: LinearCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                          form: str = "gamma"):
    """``Var[o] = n_in sigma^2 gamma^2`` (``form="gamma"``) or ``n_in sigma^2 E[x^2]``."""
    moment = case.inputs.variance if form == "gamma" else case.inputs.second_moment
    expected = case.n_in * case.weight_std**2 * moment
    yield iid_layer_second_moment(
        case.n_in, case.weights, case.weight_std, case.inputs, expected,
        rng=np.random.default_rng(seed), policy=policy,
        name="Var[o] vs n_in sigma^2 " + ("gamma^2" if form == "gamma" else "E[x^2]"),
    )


def check_backward_variance(case: LinearCase, seed: int, policy: Policy = DEFAULT_POLICY):
    """``Var[dL/dx_j] = n_out sigma^2 Var[dL/do_i]``: a sum over the ``n_out`` outputs."""
    expected = case.n_out * case.weight_std**2 * case.inputs.variance
    yield iid_layer_second_moment(
        case.n_out, case.weights, case.weight_std, case.inputs, expected,
        rng=np.random.default_rng(seed), policy=policy, name="Var[dL/dx]",
    )


def check_glorot(case: SchemeCase, seed: int, policy: Policy = DEFAULT_POLICY):
    n_in, n_out = case.n_in, case.n_out
    sampler = case.sampler()
    seeds = np.random.SeedSequence(seed).generate_state(3)
    yield variance_check(sampler, sampler.spec, (n_out, n_in), 2 / (n_in + n_out),
                         seed=int(seeds[0]), policy=policy)
    gamma2 = case.inputs.variance
    yield tensor_layer_second_moment(
        sampler, n_in, n_out, case.inputs, 2 * n_in / (n_in + n_out) * gamma2, backward=False,
        seed=int(seeds[1]), policy=policy, name="forward Var[o]",
    )
    yield tensor_layer_second_moment(
        sampler, n_in, n_out, case.inputs, 2 * n_out / (n_in + n_out) * gamma2, backward=True,
        seed=int(seeds[2]), policy=policy, name="backward Var[dL/dx]",
    )


def check_lecun(case: SchemeCase, seed: int, policy: Policy = DEFAULT_POLICY):
    sampler = case.sampler()
    seeds = np.random.SeedSequence(seed).generate_state(2)
    yield variance_check(sampler, sampler.spec, (case.n_out, case.n_in), 1 / case.n_in,
                         seed=int(seeds[0]), policy=policy)
    yield tensor_layer_second_moment(
        sampler, case.n_in, case.n_out, case.inputs, case.inputs.variance, backward=False,
        seed=int(seeds[1]), policy=policy, name="Var[o] vs gamma^2",
    )


def check_lecun_equals_glorot(case: SchemeCase, seed: int, policy: Policy = DEFAULT_POLICY):
    """LeCun weights against Glorot's variance ``2 / (n_in + n_out)``."""
    sampler = case.sampler()
    yield variance_check(sampler, sampler.spec, (case.n_out, case.n_in),
                         2 / (case.n_in + case.n_out), seed=seed, policy=policy,
                         name="Var[w_lecun] vs 2/(n_in+n_out)")


def check_he(case: SchemeCase, seed: int, policy: Policy = DEFAULT_POLICY):
    """He weights keep the pre-activation second moment through a (leaky) ReLU layer:
    ``E[o^2] = q`` when the inputs are ``leaky_relu(z)``, ``Var[z] = q``."""
    a = case.negative_slope
    sampler = case.sampler(gain=leaky_relu_gain(a) if a else None)
    seeds = np.random.SeedSequence(seed).generate_state(2)
    yield variance_check(sampler, sampler.spec, (case.n_out, case.n_in),
                         2 / ((1 + a**2) * case.n_in), seed=int(seeds[0]), policy=policy)
    q = case.inputs.std**2
    yield tensor_layer_second_moment(
        sampler, case.n_in, case.n_out, case.inputs, q, backward=False,
        seed=int(seeds[1]), policy=policy, name="E[o^2] vs Var[z] of previous layer",
    )


def check_uniform_moments(case: BoundCase, seed: int, policy: Policy = DEFAULT_POLICY):
    a = case.a
    density = 1 / (2 * a)
    mean, _ = integrate.quad(lambda x: x * density, -a, a)
    second, _ = integrate.quad(lambda x: x * x * density, -a, a)
    yield identity_check("E[w] by quadrature", mean, 0.0)
    yield identity_check("Var[w] by quadrature", second - mean**2, a * a / 3)
    size = stats.variance_sample_size(policy=policy, kurtosis=1.8, gaussian=False)
    rng = np.random.default_rng(seed)
    samples = rng.uniform(-a, a, size)
    yield stats.mean_test(samples, policy=policy)
    yield stats.variance_test(samples, a * a / 3, gaussian=False, policy=policy,
                              name="Var[w] vs a^2/3")


def check_glorot_uniform_bound(case: SchemeCase, seed: int, policy: Policy = DEFAULT_POLICY):
    n_in, n_out = case.n_in, case.n_out
    a = math.sqrt(6 / (n_in + n_out))
    yield identity_check("a^2/3 vs 2/(n_in+n_out)", a * a / 3, 2 / (n_in + n_out))
    sampler = case.sampler()
    rng = np.random.default_rng(seed)
    size = stats.variance_sample_size(policy=policy, kurtosis=1.8, gaussian=False)
    samples = draw_tensors(sampler, (n_out, n_in), min(size, 20_000 * n_in * n_out), rng)
    yield stats.support_test(samples, scipy_stats.uniform(-a, 2 * a), policy=policy)
    yield stats.variance_test(samples, 2 / (n_in + n_out), gaussian=False, policy=policy,
                              name="Var[w] vs 2/(n_in+n_out)")


WeightDraw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def deep_linear(width: int, depth: int, batch: int, weights: WeightDraw) -> Experiment:
    """Outputs of ``depth`` square linear layers of ``width``, from N(0, 1) inputs."""

    def run(rng: np.random.Generator, count: int) -> np.ndarray:
        signal = NORMAL.sample(rng, (count, batch, width), dtype=np.float32)
        for _ in range(depth):
            signal = np.matmul(signal, weights(rng, (count, width, width)))
        return signal

    return Experiment(run, width * (batch + depth * width))


def check_standard_uniform(case: DepthCase, seed: int, policy: Policy = DEFAULT_POLICY):
    n = case.width
    bound = 1 / math.sqrt(n)

    def weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    rng = np.random.default_rng(seed)
    size = stats.variance_sample_size(policy=policy, kurtosis=1.8, gaussian=False)
    yield stats.variance_test(weights(rng, (size,)), 1 / (3 * n), gaussian=False, policy=policy,
                              name="Var[w] vs 1/(3 n_in)")
    experiment = deep_linear(n, case.depth, batch_for(n), weights)
    yield measure(experiment, (1 / 3) ** case.depth, rng=rng, policy=policy,
                  name=f"E[z_L^2] vs (1/3)^L, L={case.depth}")


def check_fixed_variance(case: DepthCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                         claimed_growth: Callable[[int], float] = float):
    """Standard normal weights: each layer multiplies ``||z||^2`` by ``n sigma^2 = n``.

    Exact design: given ``z_l``, the entries of ``W z_l / ||z_l||`` are iid ``N(0,
    sigma^2)`` (rotation invariance), so pooled over layers and replicates they are an
    iid Gaussian sample whose variance is the growth per layer divided by ``n``.
    ``claimed_growth(n)`` is the claimed per-layer factor: ``n sigma^2 = n`` by the
    claim (the default, ``float(n)``).
    """
    n, depth = case.width, case.depth
    rng = np.random.default_rng(seed)
    target = stats.variance_sample_size(policy=policy, kurtosis=3.0, gaussian=True)
    replicates = max(1, math.ceil(target / (n * depth)))
    normalized = np.empty((replicates, depth, n), dtype=np.float64)
    log_growth = np.zeros(replicates)
    signal = rng.standard_normal((replicates, n))
    for layer in range(depth):
        norms = np.linalg.norm(signal, axis=1, keepdims=True)
        weights = rng.standard_normal((replicates, n, n), dtype=np.float32)
        signal = np.einsum("rij,rj->ri", weights, signal / norms)
        normalized[:, layer] = signal
        log_growth += np.log10(np.sum(signal**2, axis=1))
    result = stats.variance_test(normalized, claimed_growth(n) / n, gaussian=True, policy=policy,
                                 name="per-layer growth / n")
    mean_log = float(log_growth.mean())
    yield replace(
        result,
        detail=(f"{result.detail}; mean log10 ||z_L||^2/||z_0||^2 = {mean_log:.2f} over "
                f"{depth} layers, (n sigma^2)^L predicts log10 E = {depth * math.log10(n):.2f}"),
    )


def decide_linear_mean(ctx: Context) -> Decision:
    inputs = st.one_of(zero_mean_inputs(), rectified_inputs())
    return verdict_if_all_hold([
        explore_claim(ctx, "linear.mean", "any inputs, iid zero-mean weights", linear_cases(inputs),
                 lambda c, s: check_linear_mean(c, s, ctx.policy)),
    ], "requires only E[w] = 0 and w independent of x; E[x] may be non-zero")


def decide_linear_variance(ctx: Context) -> Decision:
    zero = explore_claim(ctx, "linear.variance", "gamma^2 form, zero-mean inputs",
                    linear_cases(zero_mean_inputs()),
                    lambda c, s: check_linear_variance(c, s, ctx.policy))
    shifted = explore_claim(ctx, "linear.variance", "gamma^2 form, ReLU inputs (E[x] != 0)",
                       linear_cases(rectified_inputs()),
                       lambda c, s: check_linear_variance(c, s, ctx.policy))
    general = explore_claim(ctx, "linear.variance", "E[x^2] form, any inputs",
                       linear_cases(st.one_of(zero_mean_inputs(), rectified_inputs())),
                       lambda c, s: check_linear_variance(c, s, ctx.policy, form="second"))
    explorations = [zero, shifted, general]
    if zero.holds and general.holds and not shifted.holds:
        return Decision(
            "holds-with-conditions",
            "Var[o] = n_in sigma^2 gamma^2 holds only for zero-mean inputs (E[x] = 0). The "
            "derivation really gives Var[o] = n_in sigma^2 E[x^2], which holds for any inputs "
            "independent of the zero-mean weights, e.g. ReLU outputs; with ReLU inputs the "
            "gamma^2 form underestimates Var[o].",
            explorations,
        )
    if zero.holds and general.holds and shifted.holds:
        return Decision("holds", "", explorations)
    return Decision("fails", "", explorations)


def decide_backward(ctx: Context) -> Decision:
    return verdict_if_all_hold([
        explore_claim(ctx, "linear.backward-variance", "zero-mean gradients",
                 linear_cases(zero_mean_inputs()),
                 lambda c, s: check_backward_variance(c, s, ctx.policy)),
    ], "gradient variance is kept iff n_out sigma^2 = 1")


def decide_glorot(ctx: Context) -> Decision:
    return verdict_if_all_hold([
        explore_claim(ctx, "glorot.variance", "reference Glorot weights", scheme_cases(
            "glorot", zero_mean_inputs()), lambda c, s: check_glorot(c, s, ctx.policy)),
    ], "a compromise: the forward variance is multiplied by 2 n_in/(n_in+n_out) and the "
       "backward by 2 n_out/(n_in+n_out); both are kept only when n_in = n_out")


def decide_lecun(ctx: Context) -> Decision:
    return verdict_if_all_hold([
        explore_claim(ctx, "lecun.variance", "reference LeCun weights, zero-mean inputs",
                 scheme_cases("lecun", zero_mean_inputs()),
                 lambda c, s: check_lecun(c, s, ctx.policy)),
    ], "keeps Var[o] = gamma^2 for zero-mean inputs")


def decide_lecun_glorot(ctx: Context) -> Decision:
    square = strategies.fans(1, 256).map(lambda n: (n, n))
    equal = explore_claim(ctx, "lecun.equals-glorot", "n_in = n_out",
                     scheme_cases("lecun", zero_mean_inputs(), fans=square),
                     lambda c, s: check_lecun_equals_glorot(c, s, ctx.policy))
    control = explore_claim(ctx, "lecun.equals-glorot", "control: n_in != n_out (should differ)",
                       scheme_cases("lecun", zero_mean_inputs(),
                                    fans=strategies.distinct_fan_pairs(1, 256)),
                       lambda c, s: check_lecun_equals_glorot(c, s, ctx.policy))
    if equal.holds and not control.holds:
        return Decision("holds", "they coincide exactly when n_in = n_out and differ by the "
                        "factor (n_in + n_out) / (2 n_in) otherwise", [equal, control])
    return Decision("fails", "", [equal, control])


def decide_he(ctx: Context) -> Decision:
    relu = st.builds(UnitLaw, strategies.weight_families(heavy_tails=False), _stds(),
                     st.just("relu"))
    return verdict_if_all_hold([
        explore_claim(ctx, "he.variance", "reference He weights, ReLU inputs",
                 scheme_cases("he", relu), lambda c, s: check_he(c, s, ctx.policy)),
    ], "keeps the pre-activation second moment through ReLU layers when the "
       "pre-activations are symmetric about 0")


@st.composite
def _leaky_cases(draw: st.DrawFn) -> SchemeCase:
    a = draw(strategies.negative_slopes(), label="negative_slope")
    inputs = UnitLaw(draw(strategies.weight_families(heavy_tails=False)), draw(_stds()),
                     "leaky_relu", a)
    n_in, n_out = draw(strategies.fan_pairs(1, 256))
    return SchemeCase("he", draw(strategies.init_families()).name, n_in, n_out, inputs, a)


def decide_he_leaky(ctx: Context) -> Decision:
    return verdict_if_all_hold([
        explore_claim(ctx, "he.leaky", "He weights with gain sqrt(2/(1+a^2)), leaky-ReLU inputs",
                 _leaky_cases(), lambda c, s: check_he(c, s, ctx.policy)),
    ], "with symmetric pre-activations; a = 0 is the ReLU case")


def decide_moments_only(ctx: Context) -> Decision:
    families = [*ZERO_MEAN_FAMILIES, student_t(5)]
    explorations = [
        explore_claim(ctx, "init.moments-only", f"weights ~ {family.label}",
                 linear_cases(zero_mean_inputs(), weights=st.just(family)),
                 lambda c, s: check_linear_variance(c, s, ctx.policy),
                 examples=max(2, ctx.max_examples // 2))
        for family in families
    ]
    return verdict_if_all_hold(explorations, "any zero-mean weight law with finite variance; "
                                "the tests need a finite fourth moment (Student-t: df > 4)")


def decide_uniform_moments(ctx: Context) -> Decision:
    bounds = st.builds(BoundCase, st.floats(1e-3, 1e3, allow_nan=False))
    return verdict_if_all_hold([
        explore_claim(ctx, "uniform.moments", "U(-a, a)", bounds,
                 lambda a, s: check_uniform_moments(a, s, ctx.policy)),
    ])


def decide_uniform_bound(ctx: Context) -> Decision:
    cases = scheme_cases("glorot", st.just(UnitLaw(NORMAL)), dists=st.just(UNIFORM))
    return verdict_if_all_hold([
        explore_claim(ctx, "glorot.uniform-bound", "reference Glorot-uniform weights", cases,
                 lambda c, s: check_glorot_uniform_bound(c, s, ctx.policy)),
    ])


def decide_standard_uniform(ctx: Context) -> Decision:
    cases = st.builds(DepthCase, strategies.fans(1, 256), st.integers(1, 6))
    return verdict_if_all_hold([
        explore_claim(ctx, "glorot.standard-uniform", "U(-1/sqrt(n), 1/sqrt(n)) through depth",
                      cases, lambda c, s: check_standard_uniform(c, s, ctx.policy)),
    ], "the factor 1/3 per layer is on the variance (second moment); the standard deviation "
       "shrinks by 1/sqrt(3) = 0.577 per layer")


def decide_fixed_variance(ctx: Context) -> Decision:
    cases = st.builds(DepthCase, st.integers(2, 64), st.integers(2, 20))
    return verdict_if_all_hold([
        explore_claim(ctx, "init.fixed-variance-explodes", "N(0, 1) weights, linear layers",
                      cases, lambda c, s: check_fixed_variance(c, s, ctx.policy)),
        explore_claim(ctx, "init.fixed-variance-explodes", "N(0, 1) weights, ReLU layers",
                      st.builds(DepthCase, st.integers(3, 64), st.integers(2, 20)),
                      lambda c, s: depth.check_relu_fixed_variance(c.width, c.depth, s,
                                                                   ctx.policy)),
    ], "through linear layers the second moment grows by n sigma^2 per layer, through ReLU "
       "layers by n sigma^2 / 2: it explodes whenever n sigma^2 > 1 (linear) or > 2 (ReLU), "
       "which N(0, 1) weights give at any width n >= 3")


def _erratum(fact: str) -> Callable[[Context], Decision]:
    return lambda ctx: Decision("erratum", "", [], [fact])


CLAIMS: dict[str, Claim] = {claim.id: claim for claim in [
    Claim("linear.mean", "E[o_i] = 0.", SOURCE, decide_linear_mean),
    Claim("linear.variance", "Var[o_i] = n_in sigma^2 gamma^2 (general form: n_in sigma^2 "
          "E[x^2]).", SOURCE, decide_linear_variance),
    Claim("linear.backward-variance", "Var[dL/dx_j] = n_out sigma^2 Var[dL/do_i].", SOURCE,
          decide_backward),
    Claim("glorot.variance", "Xavier/Glorot: sigma^2 = 2/(n_in + n_out), satisfying "
          "(1/2)(n_in + n_out) sigma^2 = 1.", SOURCE, decide_glorot),
    Claim("lecun.variance", "LeCun: sigma^2 = 1/n_in.", SOURCE, decide_lecun),
    Claim("lecun.equals-glorot", "LeCun and Glorot coincide when n_in = n_out.", SOURCE,
          decide_lecun_glorot),
    Claim("he.variance", "He: sigma^2 = 2/n_in.", SOURCE, decide_he),
    Claim("he.variance.erratum", "The source names the author of the He scheme "
          "\"Ximing He\".", SOURCE, _erratum(
              "The scheme is from He, Zhang, Ren & Sun (2015), \"Delving Deep into Rectifiers\", "
              "arXiv:1502.01852; its first author is Kaiming He.")),
    Claim("he.leaky", "Leaky ReLU / PReLU with slope a: (1/2)(1 + a^2) n_in sigma^2 = 1.",
          "He et al. 2015, Delving Deep into Rectifiers", decide_he_leaky),
    Claim("init.moments-only", "The variance laws hold for any zero-mean weight distribution "
          "with variance sigma^2.", SOURCE, decide_moments_only),
    Claim("uniform.moments", "w ~ Unif(-a, a) has mean 0 and variance a^2/3.", SOURCE,
          decide_uniform_moments),
    Claim("glorot.uniform-bound", "Glorot-uniform uses a = sqrt(6/(n_in + n_out)).", SOURCE,
          decide_uniform_bound),
    Claim("glorot.uniform-bound.erratum", "The source prints the bound with \"n_ou\".", SOURCE,
          _erratum("The symbol n_ou is undefined; the bound is sqrt(6/(n_in + n_out)), "
                   "which glorot.uniform-bound verifies.")),
    Claim("glorot.standard-uniform", "U(-1/sqrt(n_in), 1/sqrt(n_in)) has Var = 1/(3 n_in) and "
          "shrinks signals by about 1/3 per linear layer.", "Glorot & Bengio 2010",
          decide_standard_uniform),
    Claim("init.fixed-variance-explodes", "Standard-normal weights make the activation second "
          "moment grow like (n sigma^2)^L through linear layers.", SOURCE, decide_fixed_variance),
    Claim("init.nonlinear-recommendations", "Paired as recommended (Glorot for linear, tanh, "
          "logistic; He for ReLU and variants; LeCun for SELU), the schemes keep the forward "
          "and backward second moments through depth.", SOURCE, depth.decide_recommendations),
    Claim("residual.block", "A residual block computes F'(x) = F(x) + x, F a shallow nonlinear "
          "map (linear-activation-linear).", SOURCE, depth.decide_block),
    Claim("residual.param-count", "A residual network has exactly the same number of "
          "parameters as the same network without the skips.", SOURCE, depth.decide_param_count),
    Claim("residual.unrolled", "z_L = z_l + sum_{i=l}^{L-1} F_i(z_i; theta_i).", SOURCE,
          depth.decide_unrolled),
    Claim("residual.jacobian", "dz_L/dz_l = I + sum_i dF_i(z_i)/dz_l, hence dL/dtheta_l = "
          "dz_l/dtheta_l dL/dz_L (I + sum ...).", SOURCE, depth.decide_jacobian),
    Claim("residual.depth-independence", "The gradient at layer l depends on the gradient at "
          "layer L in a way independent of the depth: (a) it does not vanish; (b) it does not "
          "change with L - l.", SOURCE, depth.decide_depth_independence),
    Claim("residual.easier-to-train", "A residual network is easier to train than the plain "
          "network with the same parameters (30+ layers).", SOURCE, depth.decide_easier_to_train),
    Claim("residual.forward-growth", "With variance-preserving branches scaled by alpha, "
          "E||z_L||^2 = (1 + alpha^2)^L ||z_0||^2.", "Fixup (Zhang et al. 2019); SkipInit (De & "
          "Smith 2020)", depth.decide_forward_growth),
    Claim("selu.fixed-point", "SELU with LeCun-normal weights: the (mean, variance) map has an "
          "attracting fixed point at (0, 1).", "Klambauer et al. 2017", depth.decide_selu),
    Claim("meanfield.length-map", "q_l = sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2 and "
          "gradients scale by sigma_w^2 E[phi'(sqrt(q) z)^2] per layer; finite widths approach "
          "it.", "Poole et al. 2016; Schoenholz et al. 2017", depth.decide_length_map),
    Claim("finite-width.fluctuations", "He-initialized ReLU nets: Var[log ||x_L||^2] grows "
          "with sum 1/n_l, about 5 sum 1/n_l.", "Hanin 2018; Hanin & Rolnick 2018",
          depth.decide_fluctuations),
    Claim("orthogonal.isometry", "Deep linear nets: orthogonal weights keep every singular "
          "value of the Jacobian at 1; Gaussian weights spread them wider with depth.",
          "Saxe et al. 2014; Pennington et al. 2017", depth.decide_isometry),
]}


def run_claim(claim: Claim, ctx: Context) -> ClaimResult:
    start = time.perf_counter()
    decision = claim.decide(ctx)
    if decision.verdict not in VERDICTS:
        raise AssertionError(f"claim {claim.id} produced an unknown verdict {decision.verdict}")
    return ClaimResult(
        claim.id, claim.statement, claim.source, decision.verdict, decision.conditions,
        decision.explorations, decision.facts, ctx.seed, time.perf_counter() - start,
        decision.table,
    )


def select(ids: Sequence[str] | None) -> list[Claim]:
    """The claims named by ``ids`` (all when empty); ``KeyError`` names an unknown ID."""
    if not ids:
        return list(CLAIMS.values())
    unknown = [i for i in ids if i not in CLAIMS]
    if unknown:
        raise KeyError(unknown[0])
    return [CLAIMS[i] for i in dict.fromkeys(ids)]

