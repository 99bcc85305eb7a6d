"""Signal propagation experiments: PyTorch on CPU, batched over independent networks.

Every experiment runs ``networks`` independent networks at once (a leading batch
axis on every weight and activation), each with its own weights, inputs and
readout, so per-network statistics are independent replicates for the tests of
:mod:`verify.stats`.

* :class:`Plain`: ``h_l = W_l phi(h_{l-1}) + b_l`` (``phi`` not applied to the
  input), widths ``n_0 .. n_L``, weights from a scheme (``lecun``, ``glorot``,
  ``he``, ``fixed`` = standard normal) or ``Var[W] = sigma_w^2 / fan_in``.
* :class:`Residual`: ``z_{l+1} = z_l + alpha W2 phi(W1 z_l)``, with ``Var[W1] =
  sigma_1^2 / n`` (by default the activation's He-type gain, which makes the branch
  preserve the second moment for ReLU-like units) and ``Var[W2] = sigma_2^2 / n``.

Gaussian weights are drawn in float32, as initializers draw them, and the network
then runs in the requested dtype (float64 keeps the range and the arithmetic of
deep nets exact enough; drawing in float64 would cost five times as much).

A :class:`Trace` holds, per network and layer, the forward second moment (of
``h_l``, or of ``z_l``), the post-activation second moment (plain nets), and the
backward second moment of ``dL/dh_l`` (or ``dL/dz_l``) for the loss ``L = sum v *
h_L`` with ``v ~ N(0, 1)`` drawn per network: the gradient arriving at the top has
second moment 1 and is independent of the weights.

The backward pass is written out (``dL/dh_{l-1} = phi'(h_{l-1}) * (W_l^T dL/dh_l)``)
rather than left to autograd so that weights need not all be held in memory: the
forward pass keeps them while they fit in :data:`KEEP_WEIGHTS_BYTES`, and beyond
that each layer's weights are drawn again from the generator state saved on the way
up (the same tensors either way; drawing them twice doubles the cost of a run).
``tests/test_propagation.py`` checks it against autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from verify import theory
from verify.seeding import derive_seed

__all__ = ["INITS", "Plain", "Residual", "Trace", "run", "sweep", "torch_activation",
           "weight_variance"]

INITS = ("lecun", "glorot", "he", "fixed")
DISTRIBUTIONS = ("normal", "uniform", "orthogonal")
MAX_WIDTH = 4096
MAX_DEPTH = 1000
KEEP_WEIGHTS_BYTES = 2**30
"""The forward pass keeps a run's weights for the backward pass up to this size."""

TorchFunction = Callable[[torch.Tensor], torch.Tensor]


def torch_activation(activation) -> tuple[TorchFunction, TorchFunction]:
    """``(phi, phi')`` as torch functions, for a name or any :class:`verify.theory.Activation`
    (a custom one runs through NumPy)."""
    act = theory.resolve(activation)
    name = act.name
    if name == "linear":
        return (lambda h: h), torch.ones_like
    if name == "tanh":
        return torch.tanh, lambda h: 1 - torch.tanh(h) ** 2
    if name == "logistic":
        def logistic_derivative(h):
            s = torch.sigmoid(h)
            return s * (1 - s)
        return torch.sigmoid, logistic_derivative
    if name == "relu":
        return torch.relu, lambda h: (h > 0).to(h.dtype)
    if name.startswith("leaky_relu"):
        slope = act.negative_slope
        return (lambda h: torch.nn.functional.leaky_relu(h, slope),
                lambda h: torch.ones_like(h).masked_fill(h <= 0, slope))
    if name == "selu":
        scale, alpha = theory.selu_constants()
        return torch.selu, lambda h: scale * torch.where(h > 0, 1.0, alpha * torch.exp(h))
    if name == "gelu":
        def gelu_derivative(h):
            cdf = 0.5 * (1 + torch.erf(h / math.sqrt(2)))
            return cdf + h * torch.exp(-h * h / 2) / math.sqrt(2 * math.pi)
        return torch.nn.functional.gelu, gelu_derivative
    if name == "erf":
        return torch.erf, lambda h: 2 / math.sqrt(math.pi) * torch.exp(-h * h)

    def through_numpy(function):
        def apply(h: torch.Tensor) -> torch.Tensor:
            return torch.as_tensor(np.asarray(function(h.numpy()), dtype=np.float64)).to(h.dtype)
        return apply

    return through_numpy(act.phi), through_numpy(act.derivative)


def weight_variance(init: str | float, activation, fan_in: int, fan_out: int) -> float:
    """``Var[W]`` for a scheme name or a ``sigma_w^2`` (then ``sigma_w^2 / fan_in``).

    ``he`` uses the activation's He gain: ``2 / (1 + a^2)`` for a leaky ReLU of slope
    ``a``, 2 otherwise (what ``torch.nn.init.kaiming_normal_`` does by default).
    """
    if isinstance(init, int | float) and not isinstance(init, bool):
        if not (init > 0 and math.isfinite(init)):
            raise ValueError(f"sigma_w^2 must be positive and finite, got {init}")
        return float(init) / fan_in
    if init == "lecun":
        return 1.0 / fan_in
    if init == "glorot":
        return 2.0 / (fan_in + fan_out)
    if init == "he":
        return he_gain2(activation) / fan_in
    if init == "fixed":
        return 1.0
    raise ValueError(f"unknown init {init!r}: use one of {', '.join(INITS)} or a number")


def he_gain2(activation) -> float:
    act = theory.resolve(activation)
    return 2.0 / (1.0 + act.negative_slope**2)


def _check_size(widths: Sequence[int], depth: int) -> None:
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")
    if any(not 1 <= n <= MAX_WIDTH for n in widths):
        raise ValueError(f"widths must be between 1 and {MAX_WIDTH}, got {list(widths)}")


@dataclass(frozen=True)
class Plain:
    """A plain MLP with ``widths = (n_0, ..., n_L)``."""

    widths: tuple[int, ...]
    activation: str | theory.Activation = "relu"
    init: str | float = "he"
    bias_variance: float = 0.0
    distribution: str = "normal"

    def __post_init__(self) -> None:
        if len(self.widths) < 2:
            raise ValueError("a plain net needs an input width and at least one layer")
        _check_size(self.widths, len(self.widths) - 1)
        weight_variance(self.init, self.activation, 1, 1)  # validates the init
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {self.distribution!r}: use one of "
                             f"{', '.join(DISTRIBUTIONS)}")

    @classmethod
    def square(cls, width: int, depth: int, **kwargs) -> Plain:
        return cls((width,) * (depth + 1), **kwargs)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def variances(self) -> list[float]:
        return [weight_variance(self.init, self.activation, fan_in, fan_out)
                for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:], strict=True)]

    def describe(self) -> str:
        return (f"plain {theory.resolve(self.activation).name}/{self.init} "
                f"widths={_widths(self.widths)}")


@dataclass(frozen=True)
class Residual:
    """``depth`` residual blocks ``z + alpha W2 phi(W1 z)`` of ``width``."""

    width: int
    depth: int
    activation: str | theory.Activation = "relu"
    alpha: float = 1.0
    first_variance: float | None = None
    second_variance: float = 1.0
    distribution: str = "normal"

    def __post_init__(self) -> None:
        _check_size([self.width], self.depth)
        if not math.isfinite(self.alpha):
            raise ValueError(f"alpha must be finite, got {self.alpha}")

    @property
    def sigma1(self) -> float:
        """``sigma_1^2`` of ``W1``: the activation's He-type gain unless given."""
        if self.first_variance is not None:
            return self.first_variance
        name = theory.resolve(self.activation).name
        return 1.0 if name == "linear" else he_gain2(self.activation)

    def describe(self) -> str:
        return (f"residual {theory.resolve(self.activation).name} width={self.width} "
                f"depth={self.depth} alpha={self.alpha:.4g}")


def _widths(widths: Sequence[int]) -> str:
    if len(set(widths)) == 1:
        return f"{widths[0]}x{len(widths) - 1}"
    return "-".join(map(str, widths))


@dataclass
class Trace:
    """Per-network, per-layer second moments (arrays of shape ``(networks, layers)``)."""

    forward: np.ndarray
    backward: np.ndarray | None
    post: np.ndarray | None = None
    post_mean: np.ndarray | None = None
    labels: dict = field(default_factory=dict)

    @property
    def networks(self) -> int:
        return self.forward.shape[0]

    def gradient_ratio(self) -> np.ndarray:
        """``E[(dL/dh_l)^2] / E[(dL/dh_L)^2]`` per network and layer."""
        return self.backward / self.backward[:, -1:]

    def forward_ratio(self) -> np.ndarray:
        return self.forward / self.forward[:, :1]


def _draw(generator: torch.Generator, shape: tuple[int, ...], variance: float,
          distribution: str, dtype: torch.dtype) -> torch.Tensor:
    if distribution == "normal":
        # Drawn in float32, as initializers draw weights, whatever the network's dtype:
        # PyTorch's float64 normal costs five times as much (17 against 3.4 ns a number).
        standard = torch.randn(shape, generator=generator, dtype=torch.float32)
        return standard.to(dtype).mul_(math.sqrt(variance))
    if distribution == "uniform":
        bound = math.sqrt(3 * variance)
        return torch.rand(shape, generator=generator, dtype=dtype).mul_(2).sub_(1).mul_(bound)
    # orthogonal: Q of a Gaussian matrix with the signs of R's diagonal (Haar measure),
    # scaled so that Var = variance, as torch.nn.init.orthogonal_ with gain sqrt(n var)
    *batch, rows, cols = shape
    tall = rows >= cols
    gaussian = torch.randn((*batch, max(rows, cols), min(rows, cols)), generator=generator,
                           dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    q = q if tall else q.transpose(-2, -1)
    return (q * math.sqrt(variance * max(rows, cols))).to(dtype)


def _fits(shapes: Sequence[tuple[int, ...]], dtype: torch.dtype) -> bool:
    """Whether weights of these shapes fit in :data:`KEEP_WEIGHTS_BYTES`."""
    size = torch.empty((), dtype=dtype).element_size()
    return sum(math.prod(shape) for shape in shapes) * size <= KEEP_WEIGHTS_BYTES


def _mean_square(x: torch.Tensor) -> torch.Tensor:
    return x.square().mean(dim=tuple(range(1, x.ndim)), dtype=torch.float64)


def _run_plain(net: Plain, networks: int, batch: int, generator: torch.Generator,
               backward: bool, dtype: torch.dtype, inputs: torch.Tensor | None) -> Trace:
    phi, derivative = torch_activation(net.activation)
    variances = net.variances()
    depth = net.depth
    if inputs is None:
        x = torch.randn((networks, batch, net.widths[0]), generator=generator, dtype=dtype)
    else:
        x = inputs.to(dtype)
    forward = torch.empty((networks, depth), dtype=torch.float64)
    post = torch.empty((networks, depth), dtype=torch.float64)
    post_mean = torch.empty((networks, depth), dtype=torch.float64)
    shapes = [(networks, n_out, n_in) for n_in, n_out in zip(net.widths[:-1], net.widths[1:],
                                                             strict=True)]
    keep = backward and _fits(shapes, dtype)
    states, pre, kept = [], [], []
    for layer in range(depth):
        shape = shapes[layer]
        if backward and not keep:
            states.append(generator.get_state())
        weights = _draw(generator, shape, variances[layer], net.distribution, dtype)
        if keep:
            kept.append(weights)
        h = torch.matmul(x, weights.transpose(-2, -1))
        if net.bias_variance:
            h = h + torch.randn((networks, 1, shape[1]), generator=generator,
                                dtype=dtype) * math.sqrt(net.bias_variance)
        forward[:, layer] = _mean_square(h)
        x = phi(h)
        post[:, layer] = _mean_square(x)
        post_mean[:, layer] = x.mean(dim=(1, 2), dtype=torch.float64)
        if backward:
            pre.append(h)
    if not backward:
        return Trace(forward.numpy(), None, post.numpy(), post_mean.numpy())
    after = generator.get_state()
    gradients = torch.empty((networks, depth), dtype=torch.float64)
    g = torch.randn(pre[-1].shape, generator=generator, dtype=dtype)
    gradients[:, -1] = _mean_square(g)
    for layer in range(depth - 1, 0, -1):
        if keep:
            weights = kept[layer]
        else:
            generator.set_state(states[layer])
            weights = _draw(generator, shapes[layer], variances[layer], net.distribution, dtype)
        g = torch.matmul(g, weights) * derivative(pre[layer - 1])
        gradients[:, layer - 1] = _mean_square(g)
    generator.set_state(after)
    return Trace(forward.numpy(), gradients.numpy(), post.numpy(), post_mean.numpy())


def _run_residual(net: Residual, networks: int, batch: int, generator: torch.Generator,
                  backward: bool, dtype: torch.dtype, inputs: torch.Tensor | None) -> Trace:
    phi, derivative = torch_activation(net.activation)
    n, depth = net.width, net.depth
    shape = (networks, n, n)
    z = (torch.randn((networks, batch, n), generator=generator, dtype=dtype) if inputs is None
         else inputs.to(dtype))
    forward = torch.empty((networks, depth + 1), dtype=torch.float64)
    forward[:, 0] = _mean_square(z)
    keep = backward and _fits([shape] * (2 * depth), dtype)
    states, hidden, kept = [], [], []
    for block in range(depth):
        if backward and not keep:
            states.append(generator.get_state())
        first = _draw(generator, shape, net.sigma1 / n, net.distribution, dtype)
        second = _draw(generator, shape, net.second_variance / n, net.distribution, dtype)
        if keep:
            kept.append((first, second))
        u = torch.matmul(z, first.transpose(-2, -1))
        z = z + net.alpha * torch.matmul(phi(u), second.transpose(-2, -1))
        forward[:, block + 1] = _mean_square(z)
        if backward:
            hidden.append(u)
    if not backward:
        return Trace(forward.numpy(), None)
    after = generator.get_state()
    gradients = torch.empty((networks, depth + 1), dtype=torch.float64)
    g = torch.randn(z.shape, generator=generator, dtype=dtype)
    gradients[:, -1] = _mean_square(g)
    for block in range(depth - 1, -1, -1):
        if keep:
            first, second = kept[block]
        else:
            generator.set_state(states[block])
            first = _draw(generator, shape, net.sigma1 / n, net.distribution, dtype)
            second = _draw(generator, shape, net.second_variance / n, net.distribution, dtype)
        branch = torch.matmul(torch.matmul(g, second) * derivative(hidden[block]), first)
        g = g + net.alpha * branch
        gradients[:, block] = _mean_square(g)
    generator.set_state(after)
    return Trace(forward.numpy(), gradients.numpy())


def run(net: Plain | Residual, networks: int, *, seed: int, batch: int = 16,
        backward: bool = True, dtype: torch.dtype = torch.float32,
        inputs: torch.Tensor | None = None) -> Trace:
    """Run ``networks`` independent copies of ``net`` on ``batch`` inputs each.

    Inputs are iid ``N(0, 1)`` unless ``inputs`` (shape ``(networks, batch, n_0)``)
    are given. Everything is drawn from one ``torch.Generator`` seeded with ``seed``.
    """
    if networks < 1 or batch < 1:
        raise ValueError("networks and batch must be positive")
    generator = torch.Generator().manual_seed(int(seed) % 2**63)
    with torch.no_grad():
        if isinstance(net, Plain):
            trace = _run_plain(net, networks, batch, generator, backward, dtype, inputs)
        else:
            trace = _run_residual(net, networks, batch, generator, backward, dtype, inputs)
    trace.labels = {"net": net.describe(), "networks": networks, "batch": batch, "seed": seed}
    return trace


def sweep(make: Callable[[int], Plain | Residual], widths: Sequence[int], networks: int, *,
          seed: int, **kwargs) -> dict[int, Trace]:
    """:func:`run` at each width (``make(width)`` builds the net); one seed per width."""
    return {width: run(make(width), networks, seed=derive_seed(seed, "width", width), **kwargs)
            for width in widths}
