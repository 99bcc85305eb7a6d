"""Train plain and residual MLPs from the same initial weights on a small synthetic task.

``networks`` independent pairs train at once (a leading batch axis on every
parameter; the loss is a sum of per-network losses, so their gradients and their
Adam states never mix). The task is regression on a fixed random dataset: inputs
``x ~ N(0, I_width)``, targets from a random two-layer tanh teacher, scaled to unit
variance. Both students have ``depth`` blocks ``W2 relu(W1 z)`` (He for ``W1``,
LeCun for ``W2``: the plain net keeps the second moment) and a linear readout;
the residual student adds the skip ``z + alpha * block(z)``. The initial
parameters are the same tensors, so the two differ only by the skips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TrainingRun:
    plain: np.ndarray  # final training loss per network
    residual: np.ndarray
    initial_plain: np.ndarray
    initial_residual: np.ndarray
    steps: int


def _forward(params: list[torch.Tensor], x: torch.Tensor, depth: int,
             alpha: float | None) -> torch.Tensor:
    z = x
    for block in range(depth):
        first, second = params[2 * block], params[2 * block + 1]
        branch = torch.relu(z @ first.transpose(-2, -1)) @ second.transpose(-2, -1)
        z = branch if alpha is None else z + alpha * branch
    return (z @ params[-1].transpose(-2, -1)).squeeze(-1)


def train_pair(*, width: int, depth: int, alpha: float, networks: int, seed: int,
               samples: int = 64, steps: int = 100, learning_rate: float = 1e-3) -> TrainingRun:
    """Train ``networks`` plain/residual pairs with Adam, full batch, for ``steps`` steps."""
    generator = torch.Generator().manual_seed(int(seed) % 2**63)
    dtype = torch.float32

    def normal(*shape: int, variance: float) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=dtype) * math.sqrt(variance)

    x = normal(networks, samples, width, variance=1.0)
    teacher_in = normal(networks, width, width, variance=1.0 / width)
    teacher_out = normal(networks, 1, width, variance=1.0 / width)
    y = (torch.tanh(x @ teacher_in.transpose(-2, -1)) @ teacher_out.transpose(-2, -1)).squeeze(-1)
    y = (y - y.mean(dim=1, keepdim=True)) / y.std(dim=1, keepdim=True)

    initial = []
    for _ in range(depth):
        initial.append(normal(networks, width, width, variance=2.0 / width))
        initial.append(normal(networks, width, width, variance=1.0 / width))
    initial.append(normal(networks, 1, width, variance=1.0 / width))

    def fit(skip: float | None) -> tuple[np.ndarray, np.ndarray]:
        params = [p.clone().requires_grad_() for p in initial]
        optimizer = torch.optim.Adam(params, lr=learning_rate)

        def losses() -> torch.Tensor:
            return (_forward(params, x, depth, skip) - y).square().mean(dim=1)

        with torch.no_grad():
            start = losses().numpy().copy()
        for _ in range(steps):
            optimizer.zero_grad()
            per_network = losses()
            per_network.sum().backward()
            optimizer.step()
        with torch.no_grad():
            return start, losses().numpy().copy()

    initial_plain, plain = fit(None)
    initial_residual, residual = fit(alpha)
    return TrainingRun(plain, residual, initial_plain, initial_residual, steps)
