"""The checks other libraries' test suites use for their own initializers, as functions.

They are the baseline :mod:`verify.measure` compares this project's checks with,
each at its own sample budget (the shapes its suite draws):

* **PyTorch** (``test/nn/test_init.py``, ``TestNNInit``): a tensor with 2 or 4
  dimensions of random sides (20 to 25 in the Kaiming and Xavier tests, 30 to 50 in
  ``normal_``/``uniform_``), filled once, then ``scipy.stats.kstest`` against the
  claimed, fully specified law; the test passes when ``p > 1e-4``.
* **Keras** (``keras/src/initializers/random_initializers_test.py``): one 25x20
  tensor; ``assertAllClose(np.std(values), expected_std, atol=1e-1)``.

Each check answers ``detected(tensor, law) -> bool`` on one tensor, so a user can
run the same comparison on an initializer of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

KS_THRESHOLD = 1e-4
"""PyTorch's tests pass an initializer when the KS p-value exceeds this."""
STD_ATOL = 0.1
"""Keras' tests pass an initializer whose sample std is within this of the claim's."""


@dataclass(frozen=True)
class Peer:
    """A peer check: how its suite draws a shape, and how it decides."""

    name: str
    source: str
    budget: str
    draw_shape: Callable[[np.random.Generator], tuple[int, ...]]
    detected: Callable[[np.ndarray, object], bool]
    """``detected(tensor, law)``: ``law`` is the claim's scipy distribution at the shape."""


def pytorch_shape(rng: np.random.Generator) -> tuple[int, ...]:
    """2-D with sides 20 to 50, or 4-D with sides 20 to 25, as ``TestNNInit`` draws them."""
    if rng.random() < 0.5:
        return tuple(int(side) for side in rng.integers(20, 51, size=2))
    return tuple(int(side) for side in rng.integers(20, 26, size=4))


def keras_shape(rng: np.random.Generator) -> tuple[int, ...]:
    return (25, 20)


def ks_detects(tensor: np.ndarray, law) -> bool:
    """PyTorch: ``kstest(samples, cdf).pvalue > 1e-4`` passes.

    The same decision as ``scipy.stats.kstest`` (exact ``kstwo`` p-value), reached
    faster: where the limiting law's p-value, which lies above the exact one, is
    already at most 1e-4, the exact one is too, and its far tail (up to 250 ms a
    call) is never computed."""
    x = np.sort(np.asarray(tensor, dtype=np.float64).ravel())
    n = x.size
    probabilities = law.cdf(x)
    distance = max(float(np.max(np.arange(1, n + 1) / n - probabilities)),
                   float(np.max(probabilities - np.arange(n) / n)))
    if stats.kstwobign.sf(distance * math.sqrt(n)) <= KS_THRESHOLD:
        return True
    return not stats.kstwo.sf(distance, n) > KS_THRESHOLD


def std_detects(tensor: np.ndarray, law) -> bool:
    """Keras: ``|np.std(values) - expected_std| <= 0.1`` passes (``assertAllClose``
    with ``atol=0.1`` and its default ``rtol=1e-6``)."""
    expected = float(law.std())
    measured = float(np.std(np.asarray(tensor, dtype=np.float64)))
    return not abs(measured - expected) <= STD_ATOL + 1e-6 * abs(expected)


PEERS = (
    Peer("pytorch-ks", "PyTorch test/nn/test_init.py: kstest p > 1e-4",
         "one tensor, 2-D sides 20-50 or 4-D sides 20-25", pytorch_shape, ks_detects),
    Peer("keras-std", "Keras random_initializers_test.py: |std - expected| <= 0.1",
         "one 25x20 tensor", keras_shape, std_detects),
)


def expected_entries(peer: Peer, draws: int = 4000, seed: int = 0) -> float:
    """Mean tensor size of ``peer``'s shapes (its sample budget)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([math.prod(peer.draw_shape(rng)) for _ in range(draws)]))
