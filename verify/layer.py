"""Experiments on one linear layer ``o = W x``: moments of outputs and of gradients.

Entries of ``X @ W`` are dependent (an entry shares its row of ``X`` and its column
of ``W`` with others), so they are never treated as independent samples. Each
*replicate* draws fresh ``X`` and ``W`` and contributes one statistic, for
example the mean of ``(X @ W)**2``; replicates are independent and
:func:`verify.stats.replicate_test` tests their mean. The number of replicates
comes from a pilot run: enough for the policy's target effect and power
(:func:`verify.stats.replicate_count`), within a budget of random numbers.

Forward and backward passes are the same computation with the roles of the fans
swapped: ``o = W x`` sums over ``n_in`` inputs, and ``dL/dx = W^T dL/do`` sums
over ``n_out`` output gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from verify import stats
from verify.conformance import Sampler
from verify.distributions import Family
from verify.stats import DEFAULT_POLICY, CheckResult, Policy

Draw = Callable[[np.random.Generator, int], np.ndarray]
"""``draw(rng, count)``: ``count`` independent blocks, stacked on a leading axis."""

ACTIVATIONS = ("identity", "relu", "leaky_relu")

PILOT_REPLICATES = 64
DEFAULT_BUDGET = 2**27
"""At most this many random numbers per measurement (about 1 s): a design that would
need more runs with fewer replicates and reports its larger minimum detectable effect."""
_CHUNK_NUMBERS = 2**22  # random numbers generated at once


def activate(values: np.ndarray, activation: str, negative_slope: float = 0.0) -> np.ndarray:
    """Apply ``identity``, ``relu`` or ``leaky_relu`` (with ``negative_slope``)."""
    if activation == "identity":
        return values
    if activation == "relu":
        return np.maximum(values, 0.0)
    if activation == "leaky_relu":
        return np.where(values >= 0, values, negative_slope * values)
    raise ValueError(f"unknown activation {activation!r}: use one of {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class UnitLaw:
    """Law of the entries feeding a layer: ``activation(z)``, ``z`` from ``family`` with
    standard deviation ``std`` (pre-activations, or incoming gradients)."""

    family: Family
    std: float = 1.0
    activation: str = "identity"
    negative_slope: float = 0.0

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        z = self.family.sample(rng, size, self.std, dtype=np.float32)
        return activate(z, self.activation, self.negative_slope)

    def _expect(self, power: int) -> float:
        """``E[activation(z)^power]`` by quadrature (``scipy``'s ``expect``)."""
        law = self.family.law(self.std)

        def function(z):
            return activate(np.asarray(z, dtype=np.float64), self.activation,
                            self.negative_slope) ** power

        if self.family.is_continuous:
            # quad splits the integral at the median, 0, where the activation has its kink
            return float(law.expect(lambda z: float(function(z)), limit=200))
        return float(law.expect(function))

    @property
    def mean(self) -> float:
        """``E[x]``."""
        return self._expect(1)

    @property
    def second_moment(self) -> float:
        """``E[x^2]``."""
        return self._expect(2)

    @property
    def variance(self) -> float:
        """``Var[x] = E[x^2] - E[x]^2`` (the textbook's ``gamma^2``)."""
        return self.second_moment - self.mean**2

    def describe(self) -> str:
        inner = f"{self.family.label}(std={self.std:g})"
        if self.activation == "identity":
            return inner
        if self.activation == "leaky_relu":
            return f"leaky_relu[{self.negative_slope:g}]({inner})"
        return f"{self.activation}({inner})"


def block_sizes(fan: int) -> tuple[int, int]:
    """``(batch, units)`` of one replicate of a layer summing over ``fan`` terms.

    A replicate of side ``s`` costs about ``2 s fan`` random numbers and ``s^2 fan``
    multiply-adds, and its statistic has squared coefficient of variation about
    ``2/s^2 + 2c/(s fan)`` (``c`` the excess kurtosis). Minimizing the total cost of
    the replicates a target precision needs gives ``s`` near ``sqrt(10 fan)``.
    """
    side = int(min(256, max(4, round(math.sqrt(10 * fan)))))
    return side, side


def iid_weights(family: Family, std: float, fan: int, units: int) -> Draw:
    """Weight blocks ``(count, fan, units)`` with iid entries from ``family(std)``."""
    return lambda rng, count: family.sample(rng, (count, fan, units), std, dtype=np.float32)


def iid_units(law: UnitLaw, batch: int, fan: int) -> Draw:
    """Input blocks ``(count, batch, fan)`` with iid entries from ``law``."""
    return lambda rng, count: law.sample(rng, (count, batch, fan))


@dataclass(frozen=True)
class Experiment:
    """``run(rng, count)`` performs ``count`` independent replicates of an experiment
    and stacks their outputs on a leading axis; each replicate uses about
    ``numbers_per_replicate`` random numbers (this bounds memory and time)."""

    run: Callable[[np.random.Generator, int], np.ndarray]
    numbers_per_replicate: int


def linear_layer(draw_inputs: Draw, draw_weights: Draw, numbers_per_replicate: int) -> Experiment:
    """Outputs ``X @ W`` of one linear layer, fresh ``X`` and ``W`` per replicate."""
    return Experiment(
        lambda rng, count: np.matmul(draw_inputs(rng, count), draw_weights(rng, count)),
        numbers_per_replicate,
    )


def replicate_statistics(
    experiment: Experiment,
    replicates: int,
    rng: np.random.Generator,
    statistic: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """One ``statistic`` per replicate; ``statistic`` maps ``(count, ...)`` to ``(count,)``."""
    chunk = max(1, _CHUNK_NUMBERS // experiment.numbers_per_replicate)
    values = []
    remaining = replicates
    while remaining > 0:
        count = min(chunk, remaining)
        values.append(statistic(experiment.run(rng, count)))
        remaining -= count
    return np.concatenate(values)


def mean_square(outputs: np.ndarray) -> np.ndarray:
    axes = tuple(range(1, outputs.ndim))
    return np.mean(np.square(outputs, dtype=np.float64), axis=axes)


def mean_value(outputs: np.ndarray) -> np.ndarray:
    return np.mean(outputs, axis=tuple(range(1, outputs.ndim)), dtype=np.float64)


def measure(
    experiment: Experiment,
    expected: float,
    *,
    rng: np.random.Generator,
    statistic: Callable[[np.ndarray], np.ndarray] = mean_square,
    policy: Policy = DEFAULT_POLICY,
    name: str = "second moment",
    budget: int = DEFAULT_BUDGET,
    scale: float | None = None,
) -> CheckResult:
    """Test ``E[statistic(outputs)] = expected`` with enough independent replicates.

    A pilot of :data:`PILOT_REPLICATES` replicates estimates the spread; it is then
    discarded, and the test runs on fresh replicates (resampled while suspicious).
    When ``expected`` is 0, effects are measured in units of ``scale`` (for example the
    standard deviation of one output) and the target is ``policy.effect`` of it.
    """
    if not expected and not scale:
        raise ValueError("a zero expected value needs a scale to measure effects in")
    pilot = replicate_statistics(experiment, PILOT_REPLICATES, rng, statistic)
    unit = abs(expected) if expected else float(scale)
    # An upper 90% confidence bound on the spread, so the pilot rarely undersizes.
    dof = PILOT_REPLICATES - 1
    cv = float(pilot.std(ddof=1)) / unit * math.sqrt(dof / scipy_stats.chi2.ppf(0.1, dof))
    affordable = max(PILOT_REPLICATES, budget // experiment.numbers_per_replicate)
    count = min(affordable, stats.replicate_count(cv, policy=policy))

    def draw(replicates: int, generator: np.random.Generator) -> np.ndarray:
        return replicate_statistics(experiment, replicates, generator, statistic)

    def test(values: np.ndarray) -> CheckResult:
        return stats.replicate_test(values, expected, policy=policy, name=name, scale=scale)

    return stats.resolve(test, draw, count, rng, policy=policy)


def iid_layer_second_moment(
    fan: int,
    weight_family: Family,
    weight_std: float,
    inputs: UnitLaw,
    expected: float,
    *,
    rng: np.random.Generator,
    policy: Policy = DEFAULT_POLICY,
    statistic: Callable[[np.ndarray], np.ndarray] = mean_square,
    name: str = "Var[o]",
    scale: float | None = None,
) -> CheckResult:
    """``E[statistic]`` of ``x @ W``, a sum over ``fan`` terms with iid weights.

    Forward, ``fan = n_in`` and ``x`` are the layer's inputs; backward, ``fan = n_out``
    and ``x`` are the gradients ``dL/do``. The number of units on the other side
    does not change the law of one output, so a replicate uses a block of its own size.
    """
    batch, units = block_sizes(fan)
    experiment = linear_layer(
        iid_units(inputs, batch, fan),
        iid_weights(weight_family, weight_std, fan, units),
        fan * (batch + units),
    )
    return measure(experiment, expected, rng=rng, policy=policy, statistic=statistic, name=name,
                   scale=scale)


def tensor_weights(sampler: Sampler, n_out: int, n_in: int, *, transpose: bool) -> Draw:
    """Weight blocks from a sampler of ``(n_out, n_in)`` tensors, as ``(count, n_in,
    n_out)`` for the forward pass (``transpose``) or ``(count, n_out, n_in)`` for the
    backward pass. Uses the sampler's ``sample_many`` when it has one."""

    def draw(rng: np.random.Generator, count: int) -> np.ndarray:
        many = getattr(sampler, "sample_many", None)
        if many is not None:
            blocks = many((n_out, n_in), count, rng)
        else:
            seeds = rng.integers(0, 2**63 - 1, size=count)
            blocks = np.stack([np.asarray(sampler((n_out, n_in), int(s))) for s in seeds])
        return np.swapaxes(blocks, 1, 2) if transpose else blocks

    return draw


def batch_for(units: int) -> int:
    """Input rows per replicate so one replicate has about 4096 outputs."""
    return int(min(256, max(8, math.ceil(4096 / units))))


def tensor_layer_second_moment(
    sampler: Sampler, n_in: int, n_out: int, inputs: UnitLaw, expected: float, *,
    backward: bool, seed: int, policy: Policy = DEFAULT_POLICY, name: str = "E[o^2]",
) -> CheckResult:
    """Second moment of ``W x`` (forward) or ``W^T g`` (backward) for weights drawn by
    ``sampler`` at shape ``(n_out, n_in)``."""
    fan, units = (n_out, n_in) if backward else (n_in, n_out)
    batch = batch_for(units)
    experiment = linear_layer(
        iid_units(inputs, batch, fan),
        tensor_weights(sampler, n_out, n_in, transpose=not backward),
        batch * fan + n_in * n_out,
    )
    return measure(experiment, expected, rng=np.random.default_rng(seed), policy=policy, name=name)
