"""Residual and plain MLPs as ``torch.nn`` modules, for the exact residual identities.

A block maps width ``n_in`` to ``n_out``: the branch is ``Linear(n_in, n_out) ->
phi -> Linear(n_out, n_out)`` scaled by ``alpha``; the shortcut is the identity
when the width is kept and a bias-free projection ``Linear(n_in, n_out)`` (ResNet
"option B") when it changes. The plain network has the same branches and no
shortcuts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from verify.propagation import torch_activation


class Block(nn.Module):
    def __init__(self, n_in: int, n_out: int, activation: str, alpha: float = 1.0,
                 residual: bool = True) -> None:
        super().__init__()
        self.first = nn.Linear(n_in, n_out)
        self.second = nn.Linear(n_out, n_out)
        self.phi = torch_activation(activation)[0]
        self.alpha = alpha
        self.residual = residual
        self.shortcut = (nn.Linear(n_in, n_out, bias=False) if residual and n_in != n_out
                         else None)

    def branch(self, z: torch.Tensor) -> torch.Tensor:
        """``F(z) = alpha * second(phi(first(z)))``."""
        return self.alpha * self.second(self.phi(self.first(z)))

    def skip(self, z: torch.Tensor) -> torch.Tensor:
        return z if self.shortcut is None else self.shortcut(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return self.branch(z)
        return self.skip(z) + self.branch(z)


class MLP(nn.Module):
    """Blocks of widths ``widths[0] -> widths[1] -> ...``; ``residual`` adds the skips."""

    def __init__(self, widths: Sequence[int], activation: str, alpha: float = 1.0,
                 residual: bool = True) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(a, b, activation, alpha, residual)
            for a, b in itertools.pairwise(widths)
        )

    def forward(self, z: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """``z_stop`` from ``z_start``: the blocks ``start .. stop - 1``."""
        for block in self.blocks[start:stop]:
            z = block(z)
        return z

    def states(self, z: torch.Tensor) -> list[torch.Tensor]:
        """``[z_0, z_1, ..., z_L]``."""
        out = [z]
        for block in self.blocks:
            out.append(block(out[-1]))
        return out


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(widths: Sequence[int], activation: str, alpha: float, residual: bool,
          seed: int) -> MLP:
    """A float64 MLP whose default PyTorch initialization draws from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        # the CPU generator directly: torch.manual_seed also does CUDA's bookkeeping, 0.3
        # to 1.2 ms a call
        torch.default_generator.manual_seed(int(seed) % 2**63)
        return MLP(widths, activation, alpha, residual).double()
