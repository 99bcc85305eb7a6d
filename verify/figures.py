"""Figures of the depth experiments, measured against the theory the project computes.

Each function runs its experiment and returns a ``matplotlib.figure.Figure`` (no
pyplot, no display needed); :func:`write_depth_figures` writes them all as PNG
files, which is what the report calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from verify import depth as depth_claims
from verify import propagation as prop
from verify import theory
from verify.seeding import derive_seed

COLOURS = {"lecun": "#1f77b4", "he": "#d62728"}
SCHEME_LABELS = {"lecun": "Glorot = LeCun", "he": "He"}


def _mean_curve(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over networks with a 95% normal interval, per layer."""
    mean = values.mean(axis=0)
    half = 1.96 * values.std(axis=0, ddof=1) / math.sqrt(values.shape[0])
    return mean, np.maximum(mean - half, mean * 1e-3), mean + half


def second_moment_vs_depth(seed: int, *, width: int = 256, depth: int = 50,
                           networks: int = 16, names=tuple(depth_claims.RECOMMENDED)) -> Figure:
    """Forward ``q_l / q_1`` and backward ``E[(dL/dh_l)^2] / E[(dL/dh_L)^2]`` through a
    plain net, for each activation and scheme, with the mean-field prediction."""
    names = list(names)
    figure = Figure(figsize=(3.1 * len(names), 6.4), layout="constrained")
    axes = figure.subplots(2, len(names), squeeze=False)
    layers = np.arange(1, depth + 1)
    for column, name in enumerate(names):
        for scheme in ("lecun", "he"):
            net = prop.Plain.square(width, depth, activation=name, init=scheme)
            sigma_w2 = net.variances()[0] * width
            q, g = theory.length_trajectory(name, sigma_w2, 0.0, sigma_w2, depth)
            tiny = min(q.min() / q[0], g.min()) < 1e-30  # below float32's range
            trace = prop.run(net, networks, seed=derive_seed(seed, "figure", name, scheme),
                             batch=8, dtype=torch.float64 if tiny else torch.float32)
            recommended = depth_claims.RECOMMENDED[name] in (scheme, "glorot" if scheme ==
                                                             "lecun" else "")
            label = SCHEME_LABELS[scheme] + (" (recommended)" if recommended else "")
            for row, (measured, predicted) in enumerate([
                (trace.forward / trace.forward[:, :1], q / q[0]),
                (trace.backward / trace.backward[:, -1:], g),
            ]):
                ax = axes[row][column]
                mean, low, high = _mean_curve(np.maximum(measured, 1e-300))
                ax.fill_between(layers, low, high, color=COLOURS[scheme], alpha=0.2, lw=0)
                ax.plot(layers, mean, color=COLOURS[scheme], lw=1.8 if recommended else 1.0,
                        label=f"{label}, measured")
                ax.plot(layers, np.maximum(predicted, 1e-300), color=COLOURS[scheme], ls="--",
                        lw=1.0, label=f"{label}, theory")
        for row in range(2):
            ax = axes[row][column]
            ax.set_yscale("log")
            ax.axhspan(0.5, 2.0, color="0.9", zorder=0)
            ax.set_xlabel("layer l")
        axes[0][column].set_title(name)
    axes[0][0].set_ylabel("q_l / q_1 (forward)")
    axes[1][0].set_ylabel("E[(dL/dh_l)^2] / E[(dL/dh_L)^2]")
    axes[0][0].legend(fontsize=7, loc="lower left")
    figure.suptitle(f"Second moments through {depth} layers of width {width} "
                    f"({networks} networks; dashed: mean-field theory; grey: within 2x)")
    return figure


def residual_gradient_ratio(seed: int, *, width: int = 128, depth: int = 30,
                            networks: int = 48) -> Figure:
    """``E||dL/dz_l||^2 / E||dL/dz_L||^2`` through ReLU residual blocks at several ``alpha``,
    with ``(1 + alpha^2)^(L - l)``; and the plain ReLU net with a LeCun init."""
    figure = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = figure.subplots()
    layers = np.arange(depth + 1)
    alphas = [("0", 0.0), ("1/sqrt(L)", 1 / math.sqrt(depth)), ("0.5", 0.5), ("1", 1.0)]
    for index, (label, alpha) in enumerate(alphas):
        case = depth_claims.ResidualCase(width, depth, alpha)
        trace = depth_claims.residual_trace(case, derive_seed(seed, "figure residual", alpha),
                                            networks)
        mean, low, high = _mean_curve(trace.backward / trace.backward[:, -1:])
        colour = f"C{index}"
        ax.fill_between(layers, low, high, color=colour, alpha=0.2, lw=0)
        ax.plot(layers, mean, color=colour, lw=1.8, label=f"alpha = {label}")
        ax.plot(layers, theory.residual_growth(alpha, depth - layers), color="k", ls=":",
                lw=1.2, zorder=5, label="(1 + alpha^2)^(L-l)" if index == 0 else None)
    plain = prop.Plain.square(width, depth, activation="relu", init="lecun")
    trace = prop.run(plain, networks, seed=derive_seed(seed, "figure plain"), batch=8)
    mean, _, _ = _mean_curve(trace.backward / trace.backward[:, -1:])
    ax.plot(np.arange(1, depth + 1), mean, color="k", lw=1.2,
            label="plain ReLU net, LeCun init")
    ax.plot(np.arange(1, depth + 1), 0.5 ** (depth - np.arange(1, depth + 1)), color="0.5",
            ls=":", lw=1.2, zorder=5, label="(1/2)^(L-l)")
    ax.set_yscale("log")
    ax.set_xlabel("block l")
    ax.set_ylabel("E||dL/dz_l||^2 / E||dL/dz_L||^2")
    ax.set_title(f"Residual ReLU nets, width {width}, {networks} networks: gradient ratio "
                 "against theory (dotted)", fontsize=10)
    ax.legend(fontsize=8)
    return figure


def fluctuations(seed: int, *, networks: int = 1500,
                 designs: tuple[tuple[int, int], ...] = ((16, 4), (16, 12), (32, 8), (32, 24),
                                                         (64, 12), (64, 40), (128, 40))) -> Figure:
    """``Var[log ||x_L||^2 / ||x_0||^2]`` of He-normal ReLU nets against ``sum 1/n_l``:
    measured, the exact law, and ``5 sum 1/n_l``."""
    figure = Figure(figsize=(6.5, 4.8), layout="constrained")
    ax = figure.subplots()
    betas, measured, intervals, exact = [], [], [], []
    for width, layers in designs:
        case = depth_claims.FluctuationCase((width,) * (layers + 1))
        logs = depth_claims.relu_log_norms(case, derive_seed(seed, "figure fluct", width, layers),
                                           networks)
        total = logs[np.all(np.isfinite(logs), axis=1)].sum(axis=1)
        variance = float(total.var(ddof=1))
        spread = variance * math.sqrt(2 / (total.size - 1))
        betas.append(case.beta)
        measured.append(variance)
        intervals.append(1.96 * spread)
        exact.append(layers * theory.relu_log_norm_moments(width, width)[1])
    betas = np.array(betas)
    ax.errorbar(betas, measured, yerr=intervals, fmt="o", color="C0",
                label="measured (95% interval)")
    ax.plot(betas, exact, "x", color="C3", markersize=8, label="exact law (binomial chi-square)")
    line = np.linspace(0, betas.max() * 1.05, 50)
    ax.plot(line, 5 * line, "--", color="0.4", label="5 sum 1/n_l")
    for beta, value, (width, layers) in zip(betas, measured, designs, strict=True):
        ax.annotate(f"{width}x{layers}", (beta, value), textcoords="offset points",
                    xytext=(5, -10), fontsize=7)
    ax.set_xlabel("sum over layers of 1/n_l")
    ax.set_ylabel("Var[log ||x_L||^2 / ||x_0||^2]")
    ax.set_title("He-initialized ReLU nets: fluctuations grow with sum 1/n_l", fontsize=10)
    ax.legend(fontsize=8)
    return figure


FIGURES: dict[str, Callable[..., Figure]] = {
    "depth-second-moments": second_moment_vs_depth,
    "residual-gradient-ratio": residual_gradient_ratio,
    "finite-width-fluctuations": fluctuations,
}
QUICK = {
    "depth-second-moments": {"width": 64, "depth": 20, "networks": 8},
    "residual-gradient-ratio": {"width": 64, "depth": 15, "networks": 16},
    "finite-width-fluctuations": {"networks": 300, "designs": ((16, 4), (32, 8), (64, 12))},
}


def write_depth_figures(directory: str | Path, seed: int, *, quick: bool = False,
                        dpi: int = 110) -> dict[str, Path]:
    """Run the experiments and write each figure as ``<name>.png`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    with torch.no_grad():
        for name, make in FIGURES.items():
            figure = make(seed, **(QUICK[name] if quick else {}))
            path = directory / f"{name}.png"
            figure.savefig(path, dpi=dpi)
            written[name] = path
    return written
