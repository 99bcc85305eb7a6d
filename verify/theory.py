"""Infinite-width (mean-field) predictions, and the exact finite-width law for ReLU.

Everything here is computed: Gaussian expectations by Gauss quadrature with nodes
from :mod:`scipy.special`, fixed points by root finding, nothing typed in.

Quadrature: composite Gauss-Legendre (``scipy.special.roots_legendre``) on panels
that start at the activation's kink (or at 0) and double in length outward, over
``z in [-12, 12]`` (the Gaussian mass beyond is below 1e-32). Plain Gauss-Hermite
(``roots_hermitenorm``) was measured and rejected as the main rule: across a kink it
converges only like ``1/nodes`` (an error of 1e-3 at 1,000 nodes for
``E[selu'(z)^2]``), and for tanh at ``q = 3`` it is good to 1e-8 only. The composite
rule agrees with the closed forms for ReLU, leaky ReLU and erf, and with adaptive
integration elsewhere, to about 1e-14 (``tests/test_theory.py``).

Notation (Poole et al. 2016; Schoenholz et al. 2017): pre-activations
``h_l = W_l phi(h_{l-1}) + b_l`` with ``Var[W_ij] = sigma_w^2 / n`` and
``Var[b] = sigma_b^2``; their second moment ``q_l`` follows the *length map*
``q_l = sigma_w^2 E_z[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2``, ``z ~ N(0, 1)``; a
gradient's second moment is multiplied per layer (going down) by
``sigma_w^2 E_z[phi'(sqrt(q) z)^2]``, which is ``chi_1`` at the fixed point ``q*``.

``activation`` is a name (:data:`NAMES`; ``"leaky_relu"`` takes PyTorch's slope
0.01, ``"leaky_relu:0.2"`` another), an :class:`Activation`, or a pair
``(phi, phi_prime)`` of NumPy callables.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

__all__ = [
    "NAMES",
    "Activation",
    "chi1",
    "critical_weight_variance",
    "expectation",
    "fixed_point",
    "gradient_factor",
    "length_map",
    "length_trajectory",
    "relu_log_norm_moments",
    "relu_log_norm_variance_asymptotic",
    "residual_backward_factor",
    "residual_growth",
    "residual_length_map",
    "resolve",
    "selu_constants",
    "selu_fixed_point",
    "selu_moment_map",
]

Function = Callable[[np.ndarray], np.ndarray]

NAMES = ("linear", "tanh", "logistic", "relu", "leaky_relu", "selu", "gelu", "erf")
LEAKY_DEFAULT_SLOPE = 0.01
_SQRT_2PI = math.sqrt(2 * math.pi)
"""PyTorch's default negative slope for ``leaky_relu``."""

_PANEL_NODES = 24
_RANGE = 12.0


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation ``phi`` with its derivative; ``kink`` is where ``phi'`` jumps
    (``None`` for a smooth one)."""

    name: str
    phi: Function
    derivative: Function
    kink: float | None = None
    negative_slope: float = 0.0

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


# --- the named activations ------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def selu_constants() -> tuple[float, float]:
    """``(lambda, alpha)`` of SELU, computed: ``alpha`` makes ``E[selu(z)] = 0`` and
    ``lambda`` makes ``E[selu(z)^2] = 1`` for ``z ~ N(0, 1)`` (Klambauer et al. 2017)."""

    def unscaled(alpha: float) -> Activation:
        return Activation(
            "selu1",
            lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
            lambda x: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))),
            kink=0.0,
        )

    def mean(alpha: float) -> float:
        return expectation(unscaled(alpha).phi, 1.0, kink=0.0)

    alpha = optimize.brentq(mean, 0.5, 5.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    second = expectation(lambda x: unscaled(alpha).phi(x) ** 2, 1.0, kink=0.0)
    return 1.0 / math.sqrt(second), float(alpha)


def _leaky(slope: float) -> Activation:
    return Activation(
        "leaky_relu" if slope == LEAKY_DEFAULT_SLOPE else f"leaky_relu:{slope:g}",
        lambda x: np.where(x > 0, x, slope * x),
        lambda x: np.where(x > 0, 1.0, slope),
        kink=0.0,
        negative_slope=slope,
    )


def _selu() -> Activation:
    scale, alpha = selu_constants()
    return Activation(
        "selu",
        lambda x: scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
        lambda x: scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))),
        kink=0.0,
    )


def _logistic_derivative(x: np.ndarray) -> np.ndarray:
    s = special.expit(x)
    return s * (1.0 - s)


def _named(name: str) -> Activation:
    if name == "linear":
        return Activation("linear", lambda x: np.asarray(x, dtype=float),
                          lambda x: np.ones_like(x, dtype=float))
    if name == "tanh":
        return Activation("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2)
    if name == "logistic":
        return Activation("logistic", special.expit, _logistic_derivative)
    if name == "relu":
        return Activation("relu", lambda x: np.maximum(x, 0.0),
                          lambda x: np.where(x > 0, 1.0, 0.0), kink=0.0)
    if name == "selu":
        return _selu()
    if name == "gelu":  # the exact form x Phi(x), as torch.nn.GELU() computes it
        return Activation("gelu", lambda x: x * special.ndtr(x),
                          lambda x: special.ndtr(x) + x * np.exp(-x * x / 2) / _SQRT_2PI)
    if name == "erf":
        return Activation("erf", special.erf,
                          lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x))
    if name == "leaky_relu":
        return _leaky(LEAKY_DEFAULT_SLOPE)
    if name.startswith("leaky_relu:"):
        try:
            slope = float(name.partition(":")[2])
        except ValueError:
            slope = math.nan
        if not math.isfinite(slope) or slope < 0:
            raise ValueError(f"bad leaky_relu slope in {name!r}: write e.g. 'leaky_relu:0.2'")
        return _leaky(slope)
    raise ValueError(f"unknown activation {name!r}: use one of {', '.join(NAMES)}, "
                     "or pass (phi, phi_prime)")


@functools.lru_cache(maxsize=64)
def _cached(name: str) -> Activation:
    return _named(name)


def resolve(activation: str | Activation | tuple[Function, Function]) -> Activation:
    """The :class:`Activation` for a name, an ``Activation`` or a ``(phi, phi')`` pair."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        return _cached(activation)
    if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
        phi, derivative = activation
        return Activation(getattr(phi, "__name__", "custom"), phi, derivative)
    raise TypeError("activation must be a name, an Activation, or a (phi, phi_prime) pair")


# --- Gaussian expectations ------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for ``E[f(z)]``, ``z ~ N(0, 1)`` (a cross-check)."""
    z, w = special.roots_hermitenorm(nodes)
    return z, w / w.sum()


@functools.lru_cache(maxsize=64)
def _panels(centre: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights for ``E[f(z)]``, ``z ~ N(0, 1)``,
    on ``[-RANGE, RANGE]`` with panels that double in length away from ``centre``,
    the first of length ``width``."""
    x, w = special.roots_legendre(_PANEL_NODES)
    edges = {-_RANGE, _RANGE}
    if -_RANGE < centre < _RANGE:
        edges.add(centre)
    for sign in (-1.0, 1.0):
        step = width
        while step < 2 * _RANGE:
            edge = centre + sign * step
            if -_RANGE < edge < _RANGE:
                edges.add(edge)
            step *= 2
    edges = np.array(sorted(edges))
    low, high = edges[:-1, None], edges[1:, None]
    half = (high - low) / 2
    nodes = (low + (x + 1) * half).ravel()
    weights = (w * half).ravel() * np.exp(-nodes * nodes / 2) / _SQRT_2PI
    return nodes, weights


def expectation(function: Function, variance: float, *, mean: float = 0.0,
                kink: float | None = None) -> float:
    """``E[function(u)]`` for ``u ~ N(mean, variance)``, by composite Gauss-Legendre
    quadrature in ``z = (u - mean) / sd``.

    The activations' features (a kink, the bend of tanh) sit near ``u = kink`` (or
    ``u = 0``) on a scale of 1, i.e. at ``z = (kink - mean) / sd`` on a scale of
    ``1 / sd``: panels start there at that length and double outward, so a wide
    Gaussian (large ``q``) is integrated as accurately as a narrow one. ``variance =
    0`` gives ``function(mean)`` (at a kink, the average of the one-sided limits).
    """
    if variance < 0 or not math.isfinite(variance):
        raise ValueError(f"variance must be finite and non-negative, got {variance}")
    scale = math.sqrt(variance)
    feature = 0.0 if kink is None else kink
    if scale == 0:
        if kink is not None and mean == kink:
            tiny = 1e-300
            return float((function(np.array(mean + tiny)) + function(np.array(mean - tiny))) / 2)
        return float(function(np.array(float(mean))))
    centre = float(np.clip((feature - mean) / scale, -2 * _RANGE, 2 * _RANGE))
    width = float(min(1.0, 1.0 / scale))
    z, w = _panels(round(centre, 15), float(f"{width:.3g}"))
    return float(np.sum(w * function(mean + scale * z)))


def _phi_squared(act: Activation) -> Function:
    return lambda x: act.phi(x) ** 2


def _derivative_squared(act: Activation) -> Function:
    return lambda x: act.derivative(x) ** 2


# --- the length map, its fixed point, chi_1 -------------------------------------------


def _check_variances(weight_variance: float, bias_variance: float) -> None:
    if not (weight_variance > 0 and math.isfinite(weight_variance)):
        raise ValueError(f"weight_variance must be positive and finite, got {weight_variance}")
    if not (bias_variance >= 0 and math.isfinite(bias_variance)):
        raise ValueError(f"bias_variance must be non-negative, got {bias_variance}")


def length_map(activation, weight_variance: float, bias_variance: float, q: float) -> float:
    """One step of ``q_l = sigma_w^2 E_z[phi(sqrt(q) z)^2] + sigma_b^2``."""
    act = resolve(activation)
    _check_variances(weight_variance, bias_variance)
    return weight_variance * expectation(_phi_squared(act), q, kink=act.kink) + bias_variance


def gradient_factor(activation, weight_variance: float, q: float) -> float:
    """``sigma_w^2 E_z[phi'(sqrt(q) z)^2]``: the factor by which a square layer
    multiplies a gradient's second moment, at pre-activation second moment ``q``."""
    act = resolve(activation)
    return weight_variance * expectation(_derivative_squared(act), q, kink=act.kink)


def length_trajectory(activation, weight_variance: float, bias_variance: float, q1: float,
                      depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Theory for a plain net of ``depth`` square layers whose first pre-activations
    have second moment ``q1``: ``(q, g)``, where ``q[l]`` is the second moment of
    ``h_{l+1}`` and ``g[l] = E[(dL/dh_{l+1})^2] / E[(dL/dh_depth)^2]``."""
    q = np.empty(depth)
    q[0] = q1
    for layer in range(1, depth):
        q[layer] = length_map(activation, weight_variance, bias_variance, float(q[layer - 1]))
    factors = np.array([gradient_factor(activation, weight_variance, float(v)) for v in q[:-1]])
    g = np.ones(depth)
    g[:-1] = np.cumprod(factors[::-1])[::-1]
    return q, g


_Q_MAX = 1e12
_Q_MIN = 1e-12


def fixed_point(activation, weight_variance: float, bias_variance: float, *,
                q0: float = 1.0) -> float:
    """``q*``: the fixed point of the length map that iterating from ``q0`` reaches.

    The length map is increasing in ``q``, so iterates move monotonically toward the
    nearest root of ``L(q) - q`` in the direction they start moving; that root is
    bracketed on a geometric grid and polished with Brent's method. Returns ``inf``
    when the second moment grows without bound (e.g. ReLU with ``sigma_w^2 > 2``), and
    0 when it decays to 0. Where every ``q`` is fixed (ReLU at ``sigma_w^2 = 2``,
    ``sigma_b = 0``), returns ``q0``.
    """
    def gap(q: float) -> float:
        return length_map(activation, weight_variance, bias_variance, q) - q

    start = gap(q0)
    tolerance = 1e-13 * max(q0, 1.0)
    if abs(start) <= tolerance:
        return float(q0)
    step = 2.0 if start > 0 else 0.5
    low = q0
    while True:
        high = low * step
        if high > _Q_MAX:
            return math.inf
        if high < _Q_MIN:
            return 0.0
        value = gap(high)
        if value == 0 or (value > 0) != (start > 0):
            if value == 0:
                return float(high)
            a, b = sorted((low, high))
            return float(optimize.brentq(gap, a, b, xtol=1e-15, rtol=1e-14))
        low = high


def chi1(activation, weight_variance: float, bias_variance: float, *, q0: float = 1.0) -> float:
    """``chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2]`` at the fixed point reached from ``q0``
    (ordered phase if below 1, chaotic if above). At ``q* = 0`` the limit ``q -> 0+``
    is used; at ``q* = inf`` (unbounded growth) the limit ``q -> inf``."""
    q = fixed_point(activation, weight_variance, bias_variance, q0=q0)
    q = min(max(q, 1e-24), _Q_MAX)
    return gradient_factor(activation, weight_variance, q)


def critical_weight_variance(activation, bias_variance: float = 0.0, *,
                             bracket: tuple[float, float] = (1e-3, 1e3)) -> float:
    """The ``sigma_w^2`` at which ``chi_1 = 1`` (the edge of chaos), by Brent's method."""

    def excess(weight_variance: float) -> float:
        return chi1(activation, weight_variance, bias_variance) - 1.0

    low, high = bracket
    if excess(low) > 0 or excess(high) < 0:
        raise ValueError(f"chi_1 = 1 is not bracketed by sigma_w^2 in {bracket}")
    return float(optimize.brentq(excess, low, high, xtol=1e-13, rtol=1e-12))


# --- SELU: the (mean, variance) map ---------------------------------------------------


def selu_moment_map(mean: float, variance: float, *, omega: float = 0.0,
                    tau: float = 1.0) -> tuple[float, float]:
    """Klambauer et al.'s map: activations with ``(mean, variance)`` feed a unit whose
    weights have ``sum w = omega`` and ``sum w^2 = tau``; its pre-activation is
    ``N(mean omega, variance tau)``; returns the SELU output's ``(mean, variance)``."""
    act = _cached("selu")
    loc, var = mean * omega, variance * tau
    first = expectation(act.phi, var, mean=loc, kink=0.0)
    second = expectation(_phi_squared(act), var, mean=loc, kink=0.0)
    return first, second - first * first


@dataclass(frozen=True)
class SeluFixedPoint:
    mean: float
    variance: float
    jacobian: np.ndarray
    spectral_radius: float

    @property
    def attracting(self) -> bool:
        return self.spectral_radius < 1


def selu_fixed_point(*, omega: float = 0.0, tau: float = 1.0,
                     start: tuple[float, float] = (0.1, 0.9)) -> SeluFixedPoint:
    """The fixed point of :func:`selu_moment_map` near ``start``, with the map's
    Jacobian there (central differences) and its spectral radius."""

    def gap(point: np.ndarray) -> np.ndarray:
        m, v = point
        return np.array(selu_moment_map(m, v, omega=omega, tau=tau)) - point

    point = optimize.root(gap, np.array(start, dtype=float), tol=1e-13).x
    if not np.max(np.abs(gap(point))) < 1e-11:
        raise ArithmeticError(f"no SELU fixed point found from {start}")
    step = 1e-6
    jacobian = np.empty((2, 2))
    for k in range(2):
        delta = np.zeros(2)
        delta[k] = step
        plus = np.array(selu_moment_map(*(point + delta), omega=omega, tau=tau))
        minus = np.array(selu_moment_map(*(point - delta), omega=omega, tau=tau))
        jacobian[:, k] = (plus - minus) / (2 * step)
    radius = float(np.max(np.abs(np.linalg.eigvals(jacobian))))
    return SeluFixedPoint(float(point[0]), float(point[1]), jacobian, radius)


# --- residual networks ----------------------------------------------------------------


def residual_growth(alpha: float, depth: int | np.ndarray) -> float | np.ndarray:
    """``(1 + alpha^2)^depth``: the growth of ``E||z||^2`` (forward) and of
    ``E||dL/dz||^2`` (backward) over ``depth`` residual blocks whose branches preserve
    the second moment, ``z -> z + alpha F(z)`` with ``E||F(z)||^2 = ||z||^2``."""
    return (1.0 + alpha * alpha) ** np.asarray(depth, dtype=float)


def residual_length_map(activation, alpha: float, q: float, *, first_variance: float,
                        second_variance: float = 1.0) -> float:
    """One block ``z + alpha W2 phi(W1 z)`` of width ``n`` with ``Var[W1] =
    first_variance / n``, ``Var[W2] = second_variance / n``: the next ``q = E[z^2]``,
    ``q + alpha^2 sigma_2^2 E[phi(sqrt(sigma_1^2 q) z)^2]`` (the cross term vanishes
    because ``W2`` has mean 0). For ReLU with ``sigma_1^2 = 2``, ``sigma_2^2 = 1`` this
    is ``(1 + alpha^2) q``."""
    act = resolve(activation)
    branch = second_variance * expectation(_phi_squared(act), first_variance * q, kink=act.kink)
    return q + alpha * alpha * branch


def residual_backward_factor(activation, alpha: float, q: float, *, first_variance: float,
                             second_variance: float = 1.0) -> float:
    """Per block, going down: ``E||dL/dz_l||^2 / E||dL/dz_{l+1}||^2 = 1 + alpha^2
    sigma_1^2 sigma_2^2 E[phi'(sqrt(sigma_1^2 q) z)^2]``."""
    act = resolve(activation)
    slope = expectation(_derivative_squared(act), first_variance * q, kink=act.kink)
    return 1.0 + alpha * alpha * first_variance * second_variance * slope


# --- the finite-width law of ReLU networks --------------------------------------------


@functools.lru_cache(maxsize=256)
def relu_log_norm_moments(fan_in: int, width: int) -> tuple[float, float]:
    """Exact mean and variance of ``log(||x_{l+1}||^2 / ||x_l||^2)`` for one He-normal
    ReLU layer (``x_{l+1} = relu(W x_l)``, ``W`` of shape ``(width, fan_in)`` with
    ``Var = 2 / fan_in``), given that the layer does not die (some unit is active).

    Given ``x_l``, the entries of ``W x_l / ||x_l||`` are iid ``N(0, 2/fan_in)``
    (rotation invariance), so ``||x_{l+1}||^2 / ||x_l||^2 = (2/fan_in) chi^2_K`` with
    ``K ~ Binomial(width, 1/2)`` active units, independent of everything before:
    ``E[log chi^2_k] = psi(k/2) + log 2`` and ``Var = psi'(k/2)`` (Hanin 2018). Summed
    over layers these give the law of ``log ||x_L||^2``; for large widths the variance
    is about ``5 / width`` per layer.
    """
    k = np.arange(1, width + 1)
    weights = np.exp(special.gammaln(width + 1) - special.gammaln(k + 1)
                     - special.gammaln(width - k + 1) - width * math.log(2))
    weights /= weights.sum()  # condition on K >= 1
    means = special.digamma(k / 2) + math.log(2) + math.log(2 / fan_in)
    mean = float(np.sum(weights * means))
    variance = float(np.sum(weights * (special.polygamma(1, k / 2) + (means - mean) ** 2)))
    return mean, variance


def relu_log_norm_variance_asymptotic(widths) -> float:
    """Hanin's large-width approximation ``5 * sum_l 1 / n_l``."""
    return float(5 * np.sum(1.0 / np.asarray(widths, dtype=float)))
