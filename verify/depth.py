"""The claims about depth: residual networks, signal propagation, mean-field theory.

Exact identities (``residual.block``, ``residual.param-count``,
``residual.unrolled``, ``residual.jacobian``) run in float64 with autograd and are
checked to floating-point tolerance. Statistical claims run networks batched over
independent seeds (:mod:`verify.propagation`); each network contributes one
statistic, so the tests of :mod:`verify.stats` see independent replicates.

Where theory is exact at every width (ReLU-like units with symmetric weights: the
second moments of ``z`` and of ``dL/dz`` follow ``(1 + alpha^2)^L`` and
``(n sigma^2 / 2)^L`` exactly in expectation), the test is a point null at the
policy's size. Where theory is the infinite-width limit (tanh, SELU, erf, ...), a
finite width is biased by about ``c / n``; the check then measures at a small and a
large width and tests (1) agreement with theory at the large width and (2) that
the error does not grow with width, and reports both errors (see
:func:`convergence`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from verify import propagation as prop
from verify import resnets, stats, theory
from verify.decisions import Context, Decision, explore_claim, fixed_cases, identity_check
from verify.explore import Exploration
from verify.seeding import derive_seed
from verify.stats import DEFAULT_POLICY, CheckResult, Policy, Verdict
from verify.training import train_pair

HOMOGENEOUS = ("linear", "relu", "leaky_relu:0.2")
"""Activations with ``phi(c x) = c phi(x)`` for ``c > 0``: branches ``W2 phi(W1 z)`` with
the He-type gain preserve ``E||z||^2`` exactly, at every width."""
SMOOTH = ("tanh", "erf", "logistic", "selu", "gelu")
RECOMMENDED = {"linear": "glorot", "tanh": "glorot", "logistic": "glorot", "relu": "he",
               "leaky_relu:0.2": "he", "selu": "lecun"}
"""The textbook's pairing (softmax is an output, not a hidden activation)."""


EXACT_EXAMPLES = 25
"""Cases drawn for an exact identity (they take milliseconds each)."""


def _networks(ctx_or_scale: Context | float, base: int, minimum: int = 8) -> int:
    scale = ctx_or_scale.scale if isinstance(ctx_or_scale, Context) else ctx_or_scale
    return max(minimum, round(base * scale))


# --- exact checks ---------------------------------------------------------------------


def exact_match(name: str, actual: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray,
                tolerance: float = 1e-12) -> CheckResult:
    """``max |actual - expected| / max(|expected|, 1)``, which must be below ``tolerance``."""
    actual = torch.as_tensor(actual, dtype=torch.float64).detach()
    expected = torch.as_tensor(expected, dtype=torch.float64).detach()
    scale = max(float(expected.abs().max()) if expected.numel() else 0.0, 1.0)
    error = float((actual - expected).abs().max()) / scale if expected.numel() else 0.0
    holds = error <= tolerance
    return CheckResult(name, error, 0.0, (error, error), error, 1.0 if holds else 0.0, 0,
                       tolerance, "exact", Verdict.PASS if holds else Verdict.FAIL,
                       detail=f"max relative difference {error:.2g}, tolerance {tolerance:g}")


@dataclass(frozen=True)
class StackCase:
    widths: tuple[int, ...]
    activation: str
    alpha: float
    earlier: int = 0

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def describe(self) -> str:
        return (f"widths={'-'.join(map(str, self.widths))} {self.activation} "
                f"alpha={self.alpha:.4g} l={self.earlier}")


def activations(names: Sequence[str] = theory.NAMES) -> st.SearchStrategy[str]:
    return st.sampled_from(list(names))


def _alphas() -> st.SearchStrategy[float]:
    return st.one_of(st.just(1.0), st.just(0.0), st.floats(0.0, 2.0))


@st.composite
def stack_cases(draw, max_width: int = 16, max_depth: int = 6, same_width: bool = True,
                names: Sequence[str] = theory.NAMES) -> StackCase:
    depth = draw(st.integers(1, max_depth))
    if same_width:
        widths = (draw(st.integers(1, max_width)),) * (depth + 1)
    else:
        widths = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth + 1,
                                     max_size=depth + 1)))
    return StackCase(widths, draw(activations(names)), draw(_alphas()),
                     draw(st.integers(0, depth - 1)))


def _inputs(case: StackCase, seed: int, batch: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed % 2**63)
    return torch.randn((batch, case.widths[0]), generator=generator, dtype=torch.float64)


def check_block(case: StackCase, seed: int) -> Iterable[CheckResult]:
    """``residual.block``: a block computes ``F(x) + x``, ``F`` = linear-activation-linear,
    recomputed here from the block's own weight matrices."""
    model = resnets.build(case.widths[:2], case.activation, case.alpha, True, seed)
    block = model.blocks[0]
    x = _inputs(case, seed)
    phi = theory.resolve(case.activation).phi
    with torch.no_grad():
        hidden = x @ block.first.weight.T + block.first.bias
        branch = torch.as_tensor(phi(hidden.numpy())) @ block.second.weight.T + block.second.bias
        skip = x if block.shortcut is None else x @ block.shortcut.weight.T
        yield exact_match("block(x) vs x + alpha F(x)", block(x), skip + case.alpha * branch)


def check_param_count(case: StackCase, seed: int) -> Iterable[CheckResult]:
    """``residual.param-count``: residual and plain nets of the same blocks."""
    residual = resnets.parameter_count(resnets.build(case.widths, case.activation, 1.0, True, 0))
    plain = resnets.parameter_count(resnets.build(case.widths, case.activation, 1.0, False, 0))
    projections = sum(a * b for a, b in zip(case.widths[:-1], case.widths[1:], strict=True)
                      if a != b)
    yield identity_check("parameters: residual vs plain", residual, plain, rel_tol=0.0)
    yield identity_check("extra parameters vs sum n_in n_out of projection shortcuts",
                         residual - plain, projections, rel_tol=0.0)


def check_unrolled(case: StackCase, seed: int) -> Iterable[CheckResult]:
    """``residual.unrolled``: ``z_L = z_l + sum_{i=l}^{L-1} F_i(z_i)``."""
    model = resnets.build(case.widths, case.activation, case.alpha, True, seed)
    with torch.no_grad():
        zs = model.states(_inputs(case, seed))
        total = zs[case.earlier] + sum(model.blocks[i].branch(zs[i])
                                       for i in range(case.earlier, case.depth))
    yield exact_match("z_L vs z_l + sum F_i(z_i)", zs[-1], total)


def check_jacobian(case: StackCase, seed: int) -> Iterable[CheckResult]:
    """``residual.jacobian`` with autograd: ``dz_L/dz_l = I + sum_i dF_i(z_i)/dz_l`` and
    ``dL/dtheta_l = (dz_l/dtheta_l)^T (dz_L/dz_l)^T dL/dz_L`` for ``L = v . z_L``."""
    model = resnets.build(case.widths, case.activation, case.alpha, True, seed)
    n, start, depth = case.widths[0], case.earlier, case.depth
    x = _inputs(case, seed, batch=1)[0]
    jacobian = torch.func.jacrev
    with torch.no_grad():
        zs = model.states(x)
    full = jacobian(lambda z: model(z, start, depth))(zs[start])
    total = torch.eye(n, dtype=torch.float64)
    for i in range(start, depth):
        d_branch = jacobian(model.blocks[i].branch)(zs[i])
        d_state = jacobian(lambda z, i=i: model(z, start, i))(zs[start])
        total = total + d_branch @ d_state
    yield exact_match("dz_L/dz_l vs I + sum dF_i/dz_l", full, total, tolerance=1e-10)

    # the parameter gradient, for theta_l = the second weight of the block producing z_l
    if start == 0:
        return
    block = model.blocks[start - 1]
    generator = torch.Generator().manual_seed((seed + 1) % 2**63)
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    model.zero_grad()
    (v @ model(x)).backward()
    autograd = block.second.weight.grad.reshape(-1)
    params = dict(block.named_parameters())

    def state_from(weight):
        replaced = {**params, "second.weight": weight}
        return torch.func.functional_call(block, replaced, (zs[start - 1],))

    with torch.no_grad():
        d_theta = jacobian(state_from)(block.second.weight.detach()).reshape(n, -1)
    formula = d_theta.T @ full.T @ v
    yield exact_match("dL/dtheta_l vs (dz_l/dtheta_l)^T (dz_L/dz_l)^T dL/dz_L", autograd,
                      formula, tolerance=1e-10)


# --- statistical checks: residual growth ----------------------------------------------


@dataclass(frozen=True)
class ResidualCase:
    width: int
    depth: int
    alpha: float
    activation: str = "relu"

    def describe(self) -> str:
        return (f"width={self.width} depth={self.depth} alpha={self.alpha:.4g} "
                f"{self.activation}")


@st.composite
def residual_cases(draw, names: Sequence[str] = HOMOGENEOUS, min_alpha: float = 0.0,
                   max_depth: int = 30) -> ResidualCase:
    depth = draw(st.integers(1, max_depth))
    alpha = draw(st.one_of(st.just(1 / math.sqrt(depth)), st.just(1.0),
                           st.floats(min_alpha, 1.0)))
    if min_alpha > 0 and alpha < min_alpha:
        alpha = min_alpha
    return ResidualCase(draw(st.sampled_from([32, 64, 128])), depth, alpha,
                        draw(st.sampled_from(list(names))))


def _unit_inputs(networks: int, batch: int, width: int, seed: int) -> torch.Tensor:
    """Inputs with ``||z_0||^2 = width`` exactly, so second moments are growth factors."""
    generator = torch.Generator().manual_seed(derive_seed(seed, "inputs") % 2**63)
    z = torch.randn((networks, batch, width), generator=generator, dtype=torch.float64)
    return z * (math.sqrt(width) / z.norm(dim=-1, keepdim=True))


def residual_trace(case: ResidualCase, seed: int, networks: int, batch: int = 8) -> prop.Trace:
    net = prop.Residual(case.width, case.depth, case.activation, case.alpha)
    inputs = _unit_inputs(networks, batch, case.width, seed)
    return prop.run(net, networks, seed=seed, batch=batch, dtype=torch.float64, inputs=inputs)


def check_forward_growth(case: ResidualCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                         networks: int = 128, claimed=theory.residual_growth):
    """``E||z_L||^2 / ||z_0||^2 = (1 + alpha^2)^L``, one replicate per network."""
    trace = residual_trace(case, seed, networks)
    yield stats.replicate_test(trace.forward[:, -1], float(claimed(case.alpha, case.depth)),
                               policy=policy, name="E||z_L||^2/||z_0||^2 vs (1+alpha^2)^L")


def check_gradient_growth(case: ResidualCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                          networks: int = 128, claimed=theory.residual_growth):
    """``E||dL/dz_0||^2 / E||dL/dz_L||^2 = (1 + alpha^2)^L`` (the top gradient has unit
    second moment by construction), one replicate per network."""
    trace = residual_trace(case, seed, networks)
    yield stats.replicate_test(trace.backward[:, 0], float(claimed(case.alpha, case.depth)),
                               policy=policy, name="E||dL/dz_0||^2/E||dL/dz_L||^2 vs formula")


@dataclass(frozen=True)
class PlainCase:
    width: int
    depth: int
    activation: str = "relu"
    init: str | float = "lecun"

    def describe(self) -> str:
        return f"width={self.width} depth={self.depth} {self.activation}/{self.init}"


def check_plain_gradient_decay(case: PlainCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                               networks: int = 128, claimed_factor: float | None = None):
    """Plain ReLU net with a mismatched (LeCun) init: the gradient's second moment is
    multiplied by ``n sigma^2 / 2 = 1/2`` per layer, ``E[(dL/dh_1)^2] = (1/2)^(L-1)``
    (``claimed_factor`` replaces the per-layer factor)."""
    net = prop.Plain.square(case.width, case.depth, activation=case.activation, init=case.init)
    inputs = _unit_inputs(networks, 8, case.width, seed)
    trace = prop.run(net, networks, seed=seed, batch=8, dtype=torch.float64, inputs=inputs)
    factor = claimed_factor or (net.variances()[0] * case.width
                                * theory.gradient_factor(case.activation, 1.0, 1.0))
    yield stats.replicate_test(trace.backward[:, 0], factor ** (case.depth - 1), policy=policy,
                               name="E[(dL/dh_1)^2] vs (n sigma^2/2)^(L-1)")


# --- statistical checks: finite width against infinite-width theory -------------------


def convergence(name: str, small: np.ndarray, large: np.ndarray, theory_value: float,
                widths: tuple[int, int], policy: Policy = DEFAULT_POLICY) -> list[CheckResult]:
    """Finite-width replicates at a small and a large width against an infinite-width value.

    1. A replicate t-test at the large width: theory must hold there, to within the
       reported minimum detectable effect.
    2. The error must not grow with width: a one-sided test of ``|e_large| <=
       |e_small|`` (``e`` the relative error), which fails only if the large-width error
       is significantly the larger one. Its detail reports both errors, the evidence
       that the measurement approaches the theory.
    """
    at_large = stats.replicate_test(large, theory_value, policy=policy,
                                    name=f"{name} at width {widths[1]} vs theory")
    unit = abs(theory_value) if theory_value else 1.0

    def error(values: np.ndarray) -> tuple[float, float]:
        return ((float(values.mean()) - theory_value) / unit,
                float(values.std(ddof=1)) / math.sqrt(values.size) / unit)

    (e_small, se_small), (e_large, se_large) = error(small), error(large)
    spread = math.hypot(se_small, se_large)
    excess = abs(e_large) - abs(e_small)
    statistic = excess / spread if spread > 0 else (math.inf if excess > 0 else -math.inf)
    pvalue = float(scipy_stats.norm.sf(statistic))
    shrink = CheckResult(
        f"{name}: |error| at width {widths[1]} <= at width {widths[0]}", abs(e_large),
        abs(e_small), (abs(e_large) - 1.96 * se_large, abs(e_large) + 1.96 * se_large),
        statistic, pvalue, small.size + large.size,
        (stats._z(policy.alpha) + stats._z(1 - policy.power)) * spread, "relative",
        policy.classify(pvalue),
        detail=(f"relative error {e_small:+.2%} (+-{se_small:.2%}) at width {widths[0]}, "
                f"{e_large:+.2%} (+-{se_large:.2%}) at width {widths[1]}"),
        confidence=policy.confidence)
    return [at_large, shrink]


@dataclass(frozen=True)
class MeanFieldCase:
    activation: str
    weight_variance: float
    bias_variance: float
    depth: int

    def describe(self) -> str:
        return (f"{self.activation} sigma_w^2={self.weight_variance:.4g} "
                f"sigma_b^2={self.bias_variance:.4g} depth={self.depth}")


@st.composite
def mean_field_cases(draw, names: Sequence[str] = SMOOTH, max_depth: int = 8) -> MeanFieldCase:
    return MeanFieldCase(draw(st.sampled_from(list(names))), draw(st.floats(0.5, 2.5)),
                         draw(st.one_of(st.just(0.0), st.floats(0.0, 0.3))),
                         draw(st.integers(1, max_depth)))


MEAN_FIELD_WIDTHS = (16, 256)


def check_mean_field(case: MeanFieldCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                     scale: float = 1.0, widths: tuple[int, int] = MEAN_FIELD_WIDTHS,
                     theory_weight_variance: float | None = None):
    """``meanfield.length-map``: ``q_L`` and the gradient ratio through ``L`` layers
    against the iterated length map and the product of per-layer factors.
    ``theory_weight_variance`` computes the theory for another ``sigma_w^2`` than the
    networks use (to show that a wrong prediction is rejected)."""
    claimed = theory_weight_variance or case.weight_variance
    q1 = claimed + case.bias_variance  # inputs N(0, 1)
    q, g = theory.length_trajectory(case.activation, claimed, case.bias_variance, q1, case.depth)
    runs = []
    for width, base in zip(widths, (2048, 128), strict=True):
        net = prop.Plain.square(width, case.depth, activation=case.activation,
                                init=case.weight_variance, bias_variance=case.bias_variance)
        runs.append(prop.run(net, _networks(scale, base, 32), seed=derive_seed(seed, width),
                             batch=8, dtype=torch.float64))
    small, large = runs
    yield from convergence("q_L", small.forward[:, -1], large.forward[:, -1], float(q[-1]),
                           widths, policy)
    if case.depth > 1:
        yield from convergence("E[(dL/dh_1)^2]", small.backward[:, 0], large.backward[:, 0],
                               float(g[0]), widths, policy)


@dataclass(frozen=True)
class SeluCase:
    depth: int
    input_mean: float
    input_variance: float

    def describe(self) -> str:
        return (f"depth={self.depth} inputs mean={self.input_mean:.3g} "
                f"variance={self.input_variance:.3g}")


def selu_cases() -> st.SearchStrategy[SeluCase]:
    return st.builds(SeluCase, st.integers(5, 30), st.floats(-1.0, 1.0), st.floats(0.2, 3.0))


def selu_theory(case: SeluCase) -> tuple[float, float]:
    """The network-level map for LeCun-normal weights: pre-activations are ``N(0, s)``
    with ``s = E[x^2]`` of the previous activations; iterate ``s -> E[selu(sqrt(s) z)^2]``
    and return the last activations' ``(mean, variance)``."""
    act = theory.resolve("selu")
    s = case.input_variance + case.input_mean**2
    for _ in range(case.depth - 1):
        s = theory.length_map(act, 1.0, 0.0, s)
    mean = theory.expectation(act.phi, s, kink=0.0)
    second = theory.length_map(act, 1.0, 0.0, s)
    return mean, second - mean * mean


def check_selu(case: SeluCase, seed: int, policy: Policy = DEFAULT_POLICY, *, scale: float = 1.0,
               widths: tuple[int, int] = MEAN_FIELD_WIDTHS,
               target: tuple[float, float] | None = None):
    """``selu.fixed-point`` in a network: from inputs with any mean and variance, the
    activations of a LeCun-normal SELU net approach mean 0 and variance 1 (``target``
    replaces the computed ``(mean, variance)``)."""
    mean, variance = target or selu_theory(case)
    runs = []
    for width, base in zip(widths, (1024, 96), strict=True):
        networks = _networks(scale, base, 32)
        generator = torch.Generator().manual_seed(derive_seed(seed, "x", width) % 2**63)
        inputs = case.input_mean + math.sqrt(case.input_variance) * torch.randn(
            (networks, 8, width), generator=generator, dtype=torch.float64)
        net = prop.Plain.square(width, case.depth, activation="selu", init="lecun")
        runs.append(prop.run(net, networks, seed=derive_seed(seed, width), batch=8,
                             dtype=torch.float64, inputs=inputs, backward=False))
    small, large = runs
    # per network: mean and variance of the last activations, pooled over batch and units
    stats_of = [(r.post_mean[:, -1], r.post[:, -1] - r.post_mean[:, -1] ** 2) for r in runs]
    yield from convergence("activation mean", stats_of[0][0], stats_of[1][0], mean, widths,
                           policy)
    yield from convergence("activation variance", stats_of[0][1], stats_of[1][1], variance,
                           widths, policy)
    del small, large


@dataclass(frozen=True)
class FluctuationCase:
    widths: tuple[int, ...]

    def describe(self) -> str:
        return f"widths={'-'.join(map(str, self.widths))}"

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def beta(self) -> float:
        """``sum_l 1/n_l`` over the hidden layers."""
        return float(np.sum(1.0 / np.asarray(self.widths[1:], dtype=float)))


@st.composite
def fluctuation_cases(draw, min_width: int = 16, max_width: int = 64,
                      max_depth: int = 12) -> FluctuationCase:
    depth = draw(st.integers(2, max_depth))
    widths = draw(st.lists(st.integers(min_width, max_width), min_size=depth + 1,
                           max_size=depth + 1))
    return FluctuationCase(tuple(widths))


def relu_log_norms(case: FluctuationCase, seed: int, networks: int) -> np.ndarray:
    """``log(||x_l||^2 / ||x_{l-1}||^2)`` per network and layer, He-normal ReLU net,
    one input per network (``x_l = relu(h_l)``; ``x_0`` the input)."""
    net = prop.Plain(case.widths, activation="relu", init="he")
    generator = torch.Generator().manual_seed(derive_seed(seed, "x") % 2**63)
    inputs = torch.randn((networks, 1, case.widths[0]), generator=generator, dtype=torch.float64)
    trace = prop.run(net, networks, seed=seed, batch=1, dtype=torch.float64, inputs=inputs,
                     backward=False)
    norms = np.concatenate([inputs.square().sum(dim=(1, 2)).numpy()[:, None],
                            trace.post * np.asarray(case.widths[1:])], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(norms[:, 1:] / norms[:, :-1])


def check_fluctuations(case: FluctuationCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                       networks: int = 1500, asymptotic: bool = False):
    """``finite-width.fluctuations``: the variance of ``log ||x_L||^2`` against the exact
    law (or, with ``asymptotic``, against ``5 sum 1/n_l``).

    Per layer the log-ratios are independent (rotation invariance), so they are
    tested pooled, standardized by each layer's exact mean and the claimed standard
    deviation (variance 1 if the claim holds); the end-to-end log-norm is tested
    across networks. Dead networks (no active unit, probability ``2^-n`` per layer)
    are dropped, as the exact law conditions on survival.
    """
    logs = relu_log_norms(case, seed, networks)
    alive = np.all(np.isfinite(logs), axis=1)
    logs = logs[alive]
    moments = [theory.relu_log_norm_moments(a, b)
               for a, b in zip(case.widths[:-1], case.widths[1:], strict=True)]
    means = np.array([m for m, _ in moments])
    if asymptotic:
        variances = 5.0 / np.asarray(case.widths[1:], dtype=float)
        label = "5/n_l"
    else:
        variances = np.array([v for _, v in moments])
        label = "exact law"
    standardized = (logs - means) / np.sqrt(variances)
    yield stats.variance_test(standardized, 1.0, gaussian=False, policy=policy,
                              name=f"per-layer Var[log ratio] / {label}")
    total = logs.sum(axis=1)
    claimed = float(variances.sum())
    yield stats.variance_test(total, claimed, gaussian=False, policy=policy,
                              name=f"Var[log ||x_L||^2/||x_0||^2] vs {label} = {claimed:.4g}")
    yield stats.replicate_test(total, float(means.sum()), policy=policy,
                               name="E[log ||x_L||^2/||x_0||^2] vs exact law",
                               scale=math.sqrt(claimed))


@dataclass(frozen=True)
class IsometryCase:
    width: int
    depth: int

    def describe(self) -> str:
        return f"width={self.width} depth={self.depth}"


def _product(networks: int, width: int, depth: int, distribution: str,
             seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed % 2**63)
    jacobian = torch.eye(width, dtype=torch.float64).expand(networks, width, width)
    for _ in range(depth):
        weights = prop._draw(generator, (networks, width, width), 1.0 / width, distribution,
                             torch.float64)
        jacobian = weights @ jacobian
    return jacobian


def check_isometry(case: IsometryCase, seed: int, policy: Policy = DEFAULT_POLICY, *,
                   scale: float = 1.0, widths: tuple[int, int] = (8, 128)):
    """``orthogonal.isometry``: the input-output Jacobian of a deep linear net.

    Orthogonal weights: every singular value is 1 (to rounding). Gaussian (LeCun)
    weights: the mean of ``s^4`` minus 1 (the variance of the squared singular values
    about their mean 1) approaches the free-probability value ``L`` (the Fuss-Catalan
    moment ``m_2 - 1``, computed from its closed form) as width grows.
    """
    orthogonal = _product(4, case.width, case.depth, "orthogonal", derive_seed(seed, "o"))
    singular = torch.linalg.svdvals(orthogonal)
    yield exact_match("orthogonal: singular values vs 1", singular, torch.ones_like(singular),
                      tolerance=1e-10 * case.depth)
    spreads = []
    for width, base in zip(widths, (512, 64), strict=True):
        jacobian = _product(_networks(scale, base, 32), width, case.depth, "normal",
                            derive_seed(seed, "g", width))
        squares = torch.linalg.svdvals(jacobian) ** 2
        spreads.append((squares**2).mean(dim=1).numpy() - 1.0)
    fuss_catalan = math.comb(2 * case.depth + 2, 2) / (2 * case.depth + 1) - 1  # m_2 - 1 = L
    yield from convergence("Gaussian: E[s^4] - 1", spreads[0], spreads[1], fuss_catalan, widths,
                           policy)


# --- training -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingCase:
    depth: int
    alpha: float
    width: int = 32
    networks: int = 40

    def describe(self) -> str:
        return f"depth={self.depth} alpha={self.alpha:.4g} width={self.width}"


def check_training(case: TrainingCase, seed: int, policy: Policy = DEFAULT_POLICY):
    """``residual.easier-to-train``: exact sign test over independent pairs.

    The check fails when the residual net ends with a *higher* loss significantly
    often (one-sided binomial p-value below alpha). Its detail also carries the
    p-value in the claim's favour, which the decision needs to say ``holds``.
    """
    run = train_pair(width=case.width, depth=case.depth, alpha=case.alpha,
                     networks=case.networks, seed=seed)
    better = int(np.sum(run.residual < run.plain))
    n = case.networks
    worse_p = float(scipy_stats.binomtest(better, n, 0.5, alternative="less").pvalue)
    better_p = float(scipy_stats.binomtest(better, n, 0.5, alternative="greater").pvalue)
    interval = scipy_stats.binomtest(better, n).proportion_ci(policy.confidence)
    ratio = float(np.median(run.residual / run.plain))
    yield CheckResult(
        "P(residual loss < plain loss)", better / n, 0.5, (interval.low, interval.high), better,
        worse_p, n, math.nan, "probability", policy.classify(worse_p),
        detail=(f"{better}/{n} pairs favour the residual net, p={better_p:.2g} in its favour; "
                f"median final loss residual {np.median(run.residual):.3g} vs plain "
                f"{np.median(run.plain):.3g} (ratio {ratio:.3g}) after {run.steps} Adam steps"),
        confidence=policy.confidence)


def training_supports(exploration: Exploration, policy: Policy) -> bool:
    """Whether every example's sign test favours the residual net at the policy's size."""
    for example in exploration.examples:
        for result in example.results:
            n = result.n
            better = round(result.estimate * n)
            p = scipy_stats.binomtest(better, n, 0.5, alternative="greater").pvalue
            if not p < policy.alpha:
                return False
    return bool(exploration.examples)


# --- fixed-variance (adds ReLU to the linear check in verify.claims) ------------------


def check_relu_fixed_variance(width: int, depth: int, seed: int,
                              policy: Policy = DEFAULT_POLICY, *, claimed: float | None = None):
    """N(0, 1) weights with ReLU: ``||x_{l+1}||^2 / ||x_l||^2`` is ``chi^2_K``, ``K ~
    Bin(n, 1/2)`` (rotation invariance), independent across layers: mean ``n/2``."""
    case = FluctuationCase((width,) * (depth + 1))
    net = prop.Plain(case.widths, activation="relu", init="fixed")
    networks = max(2, math.ceil(20_000 / depth))
    generator = torch.Generator().manual_seed(derive_seed(seed, "x") % 2**63)
    inputs = torch.randn((networks, 1, width), generator=generator, dtype=torch.float64)
    trace = prop.run(net, networks, seed=seed, batch=1, dtype=torch.float64, inputs=inputs,
                     backward=False)
    norms = np.concatenate([inputs.square().sum(dim=(1, 2)).numpy()[:, None],
                            trace.post * width], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = norms[:, 1:] / norms[:, :-1]
    # after a layer dies (all units off, ratio 0) the next ratios are 0/0: given a live
    # input each ratio is chi^2_K, zeros included, so keep every defined one
    ratios = ratios[np.isfinite(ratios)]
    expected = width / 2 if claimed is None else claimed
    yield stats.replicate_test(ratios, expected, policy=policy,
                               name="per-layer growth of ||x||^2 vs n sigma^2 / 2")


# --- init.nonlinear-recommendations: a table over (activation, scheme) ----------------


def _ratio_summary(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    mean = float(values.mean())
    half = float(scipy_stats.t.isf((1 - confidence) / 2, values.size - 1)
                 * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def _within_two(low: float, high: float) -> str:
    if 0.5 <= low and high <= 2.0:
        return "kept"
    if high < 0.5 or low > 2.0:
        return "not kept"
    return "borderline"


def recommendation_table(seed: int, *, width: int = 256, depth: int = 50, networks: int = 32,
                         batch: int = 8, names: Sequence[str] = tuple(RECOMMENDED)) -> list[dict]:
    """For every activation and scheme: how the pre-activation second moment
    (``q_L / q_1``) and the gradient's (``E[(dL/dh_1)^2] / E[(dL/dh_L)^2]``) change over
    ``depth`` square layers, measured (mean over networks, 95% interval) and predicted
    by the mean-field theory. Square layers make Glorot and LeCun the same scheme.

    ``kept`` means the 95% interval of the ratio lies within a factor of 2 of 1;
    ``not kept`` that it lies outside; otherwise ``borderline``.
    """
    rows = []
    for name in names:
        for scheme in ("lecun", "he"):
            net = prop.Plain.square(width, depth, activation=name, init=scheme)
            trace = prop.run(net, networks, seed=derive_seed(seed, name, scheme), batch=batch)
            sigma_w2 = net.variances()[0] * width
            q, g = theory.length_trajectory(name, sigma_w2, 0.0, sigma_w2, depth)
            forward = _ratio_summary(trace.forward[:, -1] / trace.forward[:, 0])
            backward = _ratio_summary(trace.backward[:, 0] / trace.backward[:, -1])
            recommended = RECOMMENDED[name]
            rows.append({
                "activation": name,
                "scheme": "glorot=lecun" if scheme == "lecun" else "he",
                "recommended": recommended == scheme or (recommended == "glorot"
                                                         and scheme == "lecun"),
                "sigma_w2": sigma_w2,
                "forward_ratio": forward[0], "forward_interval": forward[1:],
                "forward_theory": float(q[-1] / q[0]),
                "backward_ratio": backward[0], "backward_interval": backward[1:],
                "backward_theory": float(g[0]),
                "forward": _within_two(*forward[1:]),
                "backward": _within_two(*backward[1:]),
                "width": width, "depth": depth, "networks": networks,
            })
    return rows


def _row_text(row: dict) -> str:
    return (f"{row['activation']} + {row['scheme']}: q_L/q_1 = {row['forward_ratio']:.3g} "
            f"(theory {row['forward_theory']:.3g}, {row['forward']}), gradient ratio "
            f"{row['backward_ratio']:.3g} (theory {row['backward_theory']:.3g}, "
            f"{row['backward']})")


# --- the decisions ----------------------------------------------------------------------


def decide_block(ctx: Context) -> Decision:
    exploration = explore_claim(ctx, "residual.block", "any width, activation, alpha",
                                stack_cases(max_width=32, max_depth=1),
                                check_block, examples=EXACT_EXAMPLES)
    verdict = "holds" if exploration.holds else "fails"
    return Decision(verdict, "", [exploration],
                    ["checked on the project's own ResidualMLP (torch.nn), whose identities and "
                     "depth experiments the other residual claims use"])


def decide_param_count(ctx: Context) -> Decision:
    same = explore_claim(ctx, "residual.param-count", "identity shortcuts (width kept)",
                         stack_cases(max_width=64, max_depth=8), check_param_count,
                         examples=EXACT_EXAMPLES)
    changing = explore_claim(
        ctx, "residual.param-count", "blocks that change width (projection shortcuts)",
        stack_cases(max_width=64, max_depth=8, same_width=False).filter(
            lambda c: len(set(c.widths)) > 1), check_param_count, examples=EXACT_EXAMPLES)
    if same.holds and not changing.holds:
        return Decision(
            "holds-with-conditions",
            "only with identity shortcuts, i.e. when every block keeps its width. A block that "
            "changes width n_in -> n_out needs a projection shortcut, which adds n_in * n_out "
            "parameters (the count of extra parameters matched that formula in every case).",
            [same, changing])
    return Decision("holds" if same.holds and changing.holds else "fails", "", [same, changing])


def decide_unrolled(ctx: Context) -> Decision:
    exploration = explore_claim(ctx, "residual.unrolled", "float64, any earlier layer l",
                                stack_cases(max_width=32, max_depth=12),
                                check_unrolled, examples=EXACT_EXAMPLES)
    return Decision("holds" if exploration.holds else "fails", "", [exploration],
                    ["F_i includes the branch scale alpha"])


def decide_jacobian(ctx: Context) -> Decision:
    exploration = explore_claim(ctx, "residual.jacobian", "autograd Jacobians, float64",
                                stack_cases(max_width=6, max_depth=5),
                                check_jacobian, examples=EXACT_EXAMPLES)
    return Decision(
        "holds" if exploration.holds else "fails", "", [exploration],
        ["in vector form the source's scalar 1 is the identity matrix I, and the chain rule "
         "reads dL/dtheta_l = (dz_l/dtheta_l)^T (dz_L/dz_l)^T dL/dz_L; both forms were "
         "checked against autograd"])


def _fixed(ctx: Context, label: str, cases: Sequence[object], check) -> Exploration:
    return fixed_cases(label, cases, lambda case: tuple(check(
        case, derive_seed(ctx.seed, label, repr(case)))))


def decide_depth_independence(ctx: Context) -> Decision:
    networks = _networks(ctx, 96)
    growth = explore_claim(
        ctx, "residual.depth-independence", "(b) gradient ratio vs (1+alpha^2)^(L-l)",
        residual_cases(), lambda c, s: check_gradient_growth(c, s, ctx.policy, networks=networks))
    plain = explore_claim(
        ctx, "residual.depth-independence", "(a) plain ReLU net, LeCun init: (1/2)^(L-1)",
        st.builds(PlainCase, st.sampled_from([32, 64, 128]), st.integers(2, 30)),
        lambda c, s: check_plain_gradient_decay(c, s, ctx.policy, networks=networks))
    flat = explore_claim(
        ctx, "residual.depth-independence", "(b) literal reading: ratio independent of depth",
        residual_cases(min_alpha=0.05),
        lambda c, s: check_gradient_growth(c, s, ctx.policy, networks=networks,
                                           claimed=lambda alpha, depth: 1.0))
    facts = []
    for alpha_label, alpha in [("0", 0.0), ("1/sqrt(L)", 1 / math.sqrt(20)), ("0.5", 0.5),
                               ("1", 1.0)]:
        case = ResidualCase(128, 20, alpha)
        trace = residual_trace(case, derive_seed(ctx.seed, "fact", alpha), networks)
        mean, low, high = _ratio_summary(trace.backward[:, 0])
        facts.append(
            f"alpha={alpha_label}, L=20, width 128: E||dL/dz_0||^2/E||dL/dz_L||^2 = {mean:.4g} "
            f"[{low:.4g}, {high:.4g}] vs (1+alpha^2)^L = {theory.residual_growth(alpha, 20):.4g}; "
            f"per block {max(mean, 1e-300) ** (1 / 20):.4f} vs {1 + alpha * alpha:.4f}")
    explorations = [plain, growth, flat]
    if plain.holds and growth.holds and not flat.holds:
        return Decision(
            "holds-with-conditions",
            "(a) holds: through residual blocks the gradient's second moment never decays (it is "
            "multiplied by 1 + alpha^2 >= 1 per block), while the plain ReLU net with a "
            "mismatched (LeCun) init loses a factor 2 per layer. (b) It is not independent of "
            "depth: it grows as (1 + alpha^2)^(L-l), as measured; it is flat only for alpha = "
            "0 and stays bounded (below e) only when alpha <= 1/sqrt(L).",
            explorations, facts)
    return Decision("fails", "", explorations, facts)


def decide_easier_to_train(ctx: Context) -> Decision:
    networks = _networks(ctx, 40, 16)
    scaled = _fixed(ctx, "residual.easier-to-train: alpha = 1/sqrt(L)",
                    [TrainingCase(depth, 1 / math.sqrt(depth), networks=networks)
                     for depth in (30, 40)],
                    lambda c, s: check_training(c, s, ctx.policy))
    unscaled = _fixed(ctx, "residual.easier-to-train: alpha = 1",
                      [TrainingCase(30, 1.0, networks=networks)],
                      lambda c, s: check_training(c, s, ctx.policy))
    explorations = [scaled, unscaled]
    scaled_wins = training_supports(scaled, ctx.policy)
    details = [f"{example.describe()}: {result.detail}" for exploration in explorations
               for example in exploration.examples for result in example.results]
    facts = ["task: regression on 64 fixed Gaussian inputs (width 32) onto a random tanh "
             "teacher; both students start from the same weights (He for the first layer of "
             "each block, LeCun for the second); full-batch Adam, learning rate 1e-3", *details]
    if scaled_wins and not unscaled.holds:
        return Decision(
            "holds-with-conditions",
            "when the residual branches are scaled down (alpha = 1/sqrt(L)), the residual net "
            "reached a lower training loss than the plain net in every pair at depths 30 and 40. "
            "With unscaled branches (alpha = 1) the forward signal grows as 2^L at this init, "
            "and the residual net trained worse than the plain one.",
            explorations, facts)
    if scaled_wins and unscaled.holds and training_supports(unscaled, ctx.policy):
        return Decision("holds", "", explorations, facts)
    return Decision("fails", "", explorations, facts)


def decide_forward_growth(ctx: Context) -> Decision:
    networks = _networks(ctx, 96)
    growth = explore_claim(ctx, "residual.forward-growth", "variance-preserving branches",
                           residual_cases(),
                           lambda c, s: check_forward_growth(c, s, ctx.policy, networks=networks))
    facts = []
    case = ResidualCase(128, 20, 1.0, "tanh")
    trace = prop.run(prop.Residual(128, 20, "tanh", 1.0, first_variance=1.0), networks,
                     seed=derive_seed(ctx.seed, "tanh"), batch=8, dtype=torch.float64,
                     inputs=_unit_inputs(networks, 8, 128, ctx.seed), backward=False)
    q = 1.0
    for _ in range(case.depth):
        q = theory.residual_length_map("tanh", 1.0, q, first_variance=1.0)
    facts.append(f"not variance-preserving: tanh branches (Glorot W1, LeCun W2), alpha=1, L=20: "
                 f"E||z_L||^2/||z_0||^2 = {trace.forward[:, -1].mean():.4g}, mean-field "
                 f"{q:.4g}, against (1+alpha^2)^L = {2.0**20:.4g}")
    if growth.holds:
        return Decision("holds-with-conditions",
                        "for branches that preserve the second moment exactly (linear, ReLU and "
                        "leaky ReLU with the He gain on W1 and LeCun W2): then it holds at every "
                        "width, not only in the limit. Saturating branches (tanh) grow far more "
                        "slowly, as the mean-field map predicts.", [growth], facts)
    return Decision("fails", "", [growth], facts)


def decide_recommendations(ctx: Context) -> Decision:
    rows = recommendation_table(ctx.seed, networks=_networks(ctx, 32))
    recommended = [r for r in rows if r["recommended"]]
    failing = [r for r in recommended if r["forward"] != "kept" or r["backward"] != "kept"]
    keeping = [r for r in recommended if r not in failing]
    mismatched_kept = [r for r in rows if not r["recommended"]
                       and r["forward"] == "kept" and r["backward"] == "kept"]
    facts = [_row_text(r) for r in rows]
    if not failing:
        return Decision("holds", "", [], facts, rows)
    conditions = (
        "over 50 square layers of width 256 (Glorot = LeCun there), these recommended pairs "
        "keep both second moments within a factor of 2: "
        + ", ".join(f"{r['activation']}+{r['scheme']}" for r in keeping)
        + ". These do not: "
        + "; ".join(_row_text(r) for r in failing)
        + ". The mean-field theory predicts each of these ratios (see the table).")
    if mismatched_kept:
        conditions += (" Mismatched pairs that also keep both: "
                       + ", ".join(f"{r['activation']}+{r['scheme']}" for r in mismatched_kept)
                       + ".")
    verdict = "holds-with-conditions" if keeping else "fails"
    return Decision(verdict, conditions, [], facts, rows)


def decide_selu(ctx: Context) -> Decision:
    scale, alpha = theory.selu_constants()
    point = theory.selu_fixed_point(start=(0.3, 1.4))

    def theory_check(case, seed):
        yield identity_check("lambda (computed) vs 1.0507", round(scale, 4), 1.0507)
        yield identity_check("alpha (computed) vs 1.6733", round(alpha, 4), 1.6733)
        yield identity_check("fixed-point mean", point.mean + 1.0, 1.0, rel_tol=1e-10)
        yield identity_check("fixed-point variance", point.variance, 1.0, rel_tol=1e-10)
        yield identity_check("attracting: spectral radius of the Jacobian < 1",
                             float(point.spectral_radius < 1), 1.0)

    computed = _fixed(ctx, "selu.fixed-point: the (mean, variance) map", ["omega=0 tau=1"],
                      theory_check)
    network = explore_claim(ctx, "selu.fixed-point", "LeCun-normal SELU networks", selu_cases(),
                            lambda c, s: check_selu(c, s, ctx.policy, scale=ctx.scale))
    facts = [f"computed lambda = {scale:.10f}, alpha = {alpha:.10f}; fixed point "
             f"({point.mean:.2g}, {point.variance:.12f}); Jacobian eigenvalues "
             f"{', '.join(f'{abs(e):.4f}' for e in np.linalg.eigvals(point.jacobian))}"]
    verdict = "holds" if computed.holds and network.holds else "fails"
    return Decision(verdict, "", [computed, network], facts)


def decide_length_map(ctx: Context) -> Decision:
    exploration = explore_claim(ctx, "meanfield.length-map", "smooth activations, with biases",
                                mean_field_cases(),
                                lambda c, s: check_mean_field(c, s, ctx.policy, scale=ctx.scale))
    facts = []
    for name in ("tanh", "relu", "erf", "selu"):
        critical = theory.critical_weight_variance(name, 0.05)
        facts.append(f"{name}: edge of chaos (chi_1 = 1) at sigma_w^2 = {critical:.4f} for "
                     f"sigma_b^2 = 0.05")
    if exploration.holds:
        return Decision("holds", "finite-width networks are biased by about c/n (e.g. tanh "
                        "q_L is several percent low at width 16) and approach the recursion as "
                        "width grows; at width 256 no deviation was detectable",
                        [exploration], facts)
    return Decision("fails", "", [exploration], facts)


def decide_fluctuations(ctx: Context) -> Decision:
    networks = _networks(ctx, 1500, 200)
    exact = explore_claim(ctx, "finite-width.fluctuations", "exact law (binomial chi-square)",
                          fluctuation_cases(),
                          lambda c, s: check_fluctuations(c, s, ctx.policy, networks=networks))
    approximate = explore_claim(ctx, "finite-width.fluctuations", "5 sum 1/n_l",
                                fluctuation_cases(),
                                lambda c, s: check_fluctuations(c, s, ctx.policy,
                                                                networks=networks,
                                                                asymptotic=True))
    ratios = {n: theory.relu_log_norm_moments(n, n)[1] * n / 5 for n in (16, 32, 64, 256)}
    facts = ["exact per-layer variance / (5/n): " + ", ".join(
        f"{v:.3f} at n={n}" for n, v in ratios.items())]
    explorations = [exact, approximate]
    if exact.holds and approximate.holds:
        return Decision("holds", "", explorations, facts)
    if exact.holds:
        return Decision(
            "holds-with-conditions",
            "the variance of log ||x_L||^2 grows linearly in the layers as the exact law "
            "sum_l Var[log chi^2_K / n] (K ~ Bin(n_l, 1/2)) says; 5 sum 1/n_l is its wide "
            "limit and underestimates narrow layers ("
            + ", ".join(f"x{v:.2f} at n={n}" for n, v in ratios.items()) + ")",
            explorations, facts)
    return Decision("fails", "", explorations, facts)


def decide_isometry(ctx: Context) -> Decision:
    exploration = explore_claim(ctx, "orthogonal.isometry", "deep linear nets",
                                st.builds(IsometryCase, st.integers(2, 64), st.integers(1, 20)),
                                lambda c, s: check_isometry(c, s, ctx.policy, scale=ctx.scale))
    if exploration.holds:
        return Decision("holds", "", [exploration],
                        ["Gaussian spread: the variance of the squared singular values is L in "
                         "the wide limit (Fuss-Catalan), larger at finite width"])
    return Decision("fails", "", [exploration])
