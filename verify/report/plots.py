"""The report's own figures, drawn from the results the sections computed.

Each function takes JSON-ready results (or result objects) and returns a
``matplotlib.figure.Figure``; nothing here draws random numbers except
:func:`qq_plots`, which draws its samples from the seed it is given.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from scipy import stats as scipy_stats

from verify.stats import DEFAULT_POLICY

VERDICT_COLOURS = {"pass": "#2a7f3f", "suspicious": "#d08c00", "fail": "#c0392b"}


def claims_evidence(results: Sequence) -> Figure | None:
    """Every relative check of every claim example: measured / expected - 1 with its
    interval, one row per claim, on a scale linear within +-1% and logarithmic beyond."""
    rows = []
    for result in results:
        points = []
        for exploration in result.explorations:
            for example in exploration.examples:
                for check in example.results:
                    if check.effect_unit != "relative" or not math.isfinite(check.relative_error):
                        continue
                    low, high = (value / check.expected - 1 for value in check.interval)
                    points.append((check.relative_error, min(low, high), max(low, high),
                                   check.verdict.value))
        if points:
            rows.append((result.id, result.verdict, points))
    if not rows:
        return None
    figure = Figure(figsize=(8.0, 0.42 * len(rows) + 1.6), layout="constrained")
    ax = figure.subplots()
    rng = np.random.default_rng(0)  # vertical jitter only, so that points do not overlap
    for index, (_, _, points) in enumerate(rows):
        y = len(rows) - 1 - index
        for error, low, high, verdict in points:
            offset = float(rng.uniform(-0.25, 0.25))
            colour = VERDICT_COLOURS.get(verdict, "0.3")
            ax.plot([low, high], [y + offset] * 2, color=colour, lw=0.8, alpha=0.6)
            ax.plot(error, y + offset, "o", ms=3, color=colour)
    effect = DEFAULT_POLICY.effect
    ax.axvspan(-effect, effect, color="0.92", zorder=0)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_xscale("symlog", linthresh=effect)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{claim} ({verdict})" for claim, verdict, _ in reversed(rows)],
                       fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("measured / expected - 1 (linear within +-1%, log beyond)")
    ax.set_title("Claims: every relative check of every example hypothesis drew, with its\n"
                 "95% interval (green: pass, amber: suspicious, red: fail);\ngrey band: the "
                 "1% effect each check is powered to detect", fontsize=9)
    return figure


def conformance_variance(row: dict) -> Figure:
    """Measured against claimed variance at each fingerprint shape of one entry, with the
    line where they agree and the law the fingerprint fitted."""
    printed = row["fingerprint"]
    shapes = printed["shapes"]
    figure = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = figure.subplots()
    claimed = np.array([s["claimed_variance"] for s in shapes])
    measured = np.array([s["variance"] for s in shapes])
    low = np.array([s["interval"][0] for s in shapes])
    high = np.array([s["interval"][1] for s in shapes])
    ax.errorbar(claimed, measured, yerr=[measured - low, high - measured], fmt="o",
                color=VERDICT_COLOURS["fail"], label="measured (95% interval)")
    for s, x, y in zip(shapes, claimed, measured, strict=True):
        ax.annotate("x".join(map(str, s["shape"])), (x, y), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    span = np.array([min(claimed.min(), measured.min()) / 1.5,
                     max(claimed.max(), measured.max()) * 1.5])
    ax.plot(span, span, "--", color="0.4", lw=1, label="measured = claimed")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("claimed variance (documented law)")
    ax.set_ylabel("measured variance")
    ax.set_title(f"{row['target']}\nclaims {row['claim']}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return figure


def qq_plots(cases: Sequence[tuple[str, str, Callable, object, tuple[int, ...]]],
             seed: int) -> Figure | None:
    """Sample quantiles against the claimed law's, one panel per ``(title, subtitle,
    sampler, claim, shape)``, both standardized by the claimed standard deviation."""
    if not cases:
        return None
    columns = min(3, len(cases))
    rows = math.ceil(len(cases) / columns)
    figure = Figure(figsize=(3.3 * columns, 3.2 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, (title, subtitle, sampler, claim, shape) in enumerate(cases):
        ax = axes[index // columns][index % columns]
        law = claim.law(shape)
        scale = float(law.std())
        sample = np.asarray(sampler(shape, seed), dtype=np.float64).ravel()
        (theoretical, ordered), _ = scipy_stats.probplot(sample, dist=law)
        step = max(1, len(ordered) // 2000)  # every quantile in the tails, thinned inside
        keep = np.zeros(len(ordered), bool)
        keep[::step] = True
        keep[:50] = keep[-50:] = True
        ax.plot(theoretical[keep] / scale, ordered[keep] / scale, ".", ms=2,
                color=VERDICT_COLOURS["fail"])
        line = np.array([theoretical.min(), theoretical.max()]) / scale
        ax.plot(line, line, "--", color="0.4", lw=1)
        ax.set_title("\n".join([title, *textwrap.wrap(subtitle, 48)[:2]]), fontsize=7.5)
        ax.set_xlabel("claimed quantile / sd", fontsize=8)
        ax.set_ylabel("sample quantile / sd", fontsize=8)
    for index in range(len(cases), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.suptitle("Q-Q plots against the claimed law (dashed: agreement)", fontsize=10)
    return figure


def size_and_power(measured: dict) -> Figure:
    """Left: observed false-alarm rates against nominal. Right: the default check's
    detection probability against the relative variance error, with theory."""
    figure = Figure(figsize=(10.0, 4.2), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.4])
    null = measured["null"]
    names = [*null["tests"], "battery", "sequential"]
    found = [*(t["single_stage"] for t in null["tests"].values()),
             null["battery_single_stage"], null["battery_two_stage"]]
    for index, item in enumerate(found):
        low, high = item["interval"]
        left.errorbar(index, item["rate"], yerr=[[item["rate"] - low], [high - item["rate"]]],
                      fmt="o", color="C0")
        left.plot([index - 0.3, index + 0.3], [item["nominal"]] * 2, color="k", lw=1.5)
    left.set_yscale("symlog", linthresh=0.001)
    left.set_xticks(range(len(names)))
    left.set_xticklabels(names, rotation=30, fontsize=8)
    left.set_ylabel("false-alarm rate")
    left.set_title(f"Size at level {null['level']:g}: {null['runs']} checks of correct "
                   "initializers\n(black: nominal or its bound; 95% intervals)", fontsize=9)
    power = measured["power"]
    errors = np.array([p["error"] for p in power["points"]])
    rates = np.array([p["detected"]["rate"] for p in power["points"]])
    lows = np.array([p["detected"]["interval"][0] for p in power["points"]])
    highs = np.array([p["detected"]["interval"][1] for p in power["points"]])
    theory = np.array([p["theory"] for p in power["points"]])
    right.errorbar(errors, rates, yerr=[rates - lows, highs - rates], fmt="o", color="C3",
                   label=f"measured ({power['trials']} trials per point)")
    right.plot(errors, theory, "-", color="0.3", lw=1, label="theory (variance test)")
    right.axhline(DEFAULT_POLICY.power, color="0.6", ls=":", lw=1)
    _error_axis(right)
    right.set_xlabel("relative variance error")
    right.set_ylabel("detection probability")
    right.set_ylim(-0.03, 1.03)
    right.set_title(f"Power of the default check at {'x'.join(map(str, power['shape']))} "
                    f"(n = {power['sample_size']:,})", fontsize=9)
    right.legend(fontsize=8)
    return figure


def _error_axis(ax) -> None:
    """Signed relative errors from 0.25% to 300% on a symmetric log scale."""
    ax.set_xscale("symlog", linthresh=0.002, linscale=0.3)
    ticks = [-1, -0.1, -0.01, 0.01, 0.1, 1]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:+.0%}" for t in ticks], fontsize=8)


def peer_comparison(peers: dict) -> Figure:
    """Left: detection rate of each mutant by each approach. Right: detection against a
    pure variance error, per approach."""
    mutants = peers["mutants"]
    approaches = list(dict.fromkeys(name for row in mutants for name in row["detected"]))
    figure = Figure(figsize=(11.0, 0.26 * len(mutants) + 2.4), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1.25, 1])
    grid = np.full((len(mutants), len(approaches)), np.nan)
    for i, row in enumerate(mutants):
        for j, name in enumerate(approaches):
            if name in row["detected"]:
                grid[i, j] = row["detected"][name]["rate"]
    left.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(grid[i, j]):
                left.text(j, i, f"{grid[i, j]:.2g}", ha="center", va="center", fontsize=6)
    left.set_xticks(range(len(approaches)))
    left.set_xticklabels(approaches, rotation=35, ha="right", fontsize=7)
    left.set_yticks(range(len(mutants)))
    left.set_yticklabels([row["mutant"] for row in mutants], fontsize=7)
    left.set_title("Mutants: fraction of trials that detect the bug", fontsize=9)
    for index, (name, points) in enumerate(peers["curves"].items()):
        errors = np.array([p["error"] for p in points])
        rates = np.array([p["detected"]["rate"] for p in points])
        right.plot(errors, rates, "o-", ms=3, color=f"C{index}", label=name)
    right.axhline(DEFAULT_POLICY.power, color="0.6", ls=":", lw=1)
    _error_axis(right)
    right.set_xlabel("relative variance error (He normal)")
    right.set_ylabel("detection probability")
    right.set_title(f"Pure variance errors, {peers['trials']} trials per point", fontsize=9)
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return figure


def _legend_name(pattern: str, points: Sequence[dict], width: int = 46) -> str:
    """A tensor pattern for the legend (``.weight`` dropped, long ones cut at the left),
    with the expected std's expression and value when it depends on the depth."""
    name = pattern.removesuffix(".weight")
    name = name if len(name) <= width else "..." + name[-(width - 3):]
    point = next((p for p in points if p["depth_law"]), None)
    if point is None:
        return name
    law = re.search(r"std=(.*)\)$", point["expected_rule"])
    expression = law.group(1) if law else point["expected_rule"]
    lines = textwrap.wrap(f"expected std = {expression} = {point['expected_std']:.3g}", width,
                          initial_indent="  ", subsequent_indent="    ")
    return "\n".join([name, *lines])


def _by_pattern(points: Sequence[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for point in points:
        found.setdefault(point["pattern"], []).append(point)
    return {name: sorted(members, key=lambda p: p["layer_index"])
            for name, members in found.items()}


def model_depth_profiles(rows: Sequence[dict]) -> Figure:
    """Std against layer index, one panel per audited model (a row of the models
    section): each tensor pattern's measured std with its 95% interval (failing tensors
    ringed red), and its expected std as a dashed line of the same colour; the legend
    writes out the expected std where it depends on the depth."""
    legends = [[_legend_name(pattern, points)
                for pattern, points in _by_pattern(row["profile"]).items()] for row in rows]
    heights = [max(2.6, 0.13 * sum(label.count("\n") + 1 for label in labels) + 0.9)
               for labels in legends]
    figure = Figure(figsize=(9.0, sum(heights) + 0.4), layout="constrained")
    axes = figure.subplots(len(rows), 1, squeeze=False, height_ratios=heights)[:, 0]
    markers = "osD^v<>ph"
    for ax, row, labels in zip(axes, rows, legends, strict=True):
        by_pattern = _by_pattern(row["profile"])
        count = len(by_pattern)
        for index, (points, label) in enumerate(zip(by_pattern.values(), labels, strict=True)):
            colour = _colour(index, count)
            offset = (index - (count - 1) / 2) * min(0.05, 0.6 / max(count, 1))
            x = np.array([p["layer_index"] for p in points], dtype=float) + offset
            std = np.array([p["std"] for p in points])
            low = np.array([p["std_interval"][0] for p in points])
            high = np.array([p["std_interval"][1] for p in points])
            ax.errorbar(x, std, yerr=[std - low, high - std], fmt=markers[index % len(markers)],
                        ms=4, color=colour, lw=1, label=label)
            failing = [i for i, p in enumerate(points) if p["verdict"] == "fail"]
            if failing:
                ax.plot(x[failing], std[failing], "o", ms=9, mfc="none",
                        mec=VERDICT_COLOURS["fail"], mew=1.2)
            expected = [(xi, p["expected_std"]) for xi, p in zip(x, points, strict=True)
                        if p["expected_std"] is not None]
            if expected:
                ex, ey = zip(*expected, strict=True)
                ax.plot([min(ex) - 0.15, *ex, max(ex) + 0.15], [ey[0], *ey, ey[-1]], "--",
                        color=colour, lw=1, alpha=0.8)
        ax.set_yscale("log")
        indices = sorted({p["layer_index"] for p in row["profile"]})
        ax.set_xticks(indices)
        ax.set_xlim(min(indices) - 0.5, max(indices) + 0.5)
        ax.set_xlabel("layer index", fontsize=8)
        ax.set_ylabel("std", fontsize=8)
        ax.tick_params(labelsize=7)
        fails = sum(f["blocking"] and f["kind"] in ("variance", "depth-law")
                    for f in row["findings"])
        ax.set_title(f"{row['target'].split(':', 1)[-1]}: {row['verdict']}"
                     + (f", {fails} variance or depth-law finding(s)" if fails else ""),
                     fontsize=9)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.suptitle("Std against layer index: measured (95% interval, red ring: fails its "
                    "law) and expected (dashed)", fontsize=10)
    return figure


def _colour(index: int, count: int) -> tuple:
    """A distinct colour for each of ``count`` series (tab10, then tab20)."""
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"](index % 10)
    return colormaps["tab20"](index % 20)
