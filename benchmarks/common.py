"""Shared parameters of the benchmarks, and a same-run ratio timer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

SHAPES: dict[str, tuple[int, ...]] = {
    "64x64": (64, 64),
    "256x256": (256, 256),
    "1024x1024": (1024, 1024),
    "4096x4096": (4096, 4096),
    "conv 256x128x3x3": (256, 128, 3, 3),
}
"""Weight shapes, from a small dense layer to 16 Mi entries, and a conv kernel."""

SCHEMES = ["lecun", "glorot", "he"]
DISTRIBUTIONS = ["normal", "uniform", "truncated_normal"]

if os.environ.get("VERIFY_BENCH_SMOKE"):
    # CI's smoke run (.ci/run): every benchmark function once, on the smallest dense
    # shape and the conv kernel and one scheme, so that a broken benchmark cannot
    # land without CI spending 20 minutes on timings nobody reads.
    SHAPES = {name: SHAPES[name] for name in ("64x64", "conv 256x128x3x3")}
    SCHEMES = ["he"]


def best_time(function: Callable[[], object], budget: float = 0.05) -> float:
    """Best time of one call, over enough calls to fill ``budget`` seconds per repeat."""
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget / once))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def ratio(function: Callable[[], object], baseline: Callable[[], object],
          rounds: int = 3) -> float:
    """``time(function) / time(baseline)``, measured in this process, interleaved
    (so that both see the same machine load), best of ``rounds``."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(best_time(function))
        theirs.append(best_time(baseline))
    return min(ours) / min(theirs)
