"""A catalog of realistic broken initializers (mutants), each with the claim it breaks.

Every mutant is a sampler ``sample(shape, seed) -> float32 array`` that claims a
scheme (:class:`~verify.schemes.InitSpec`) and gets one thing wrong, the way real
initialization code goes wrong: a fan confused, a factor lost, a truncation that
is not one, a tensor that repeats, a family swapped at the right variance, a bug
that hides at most shapes. ``tests/test_mutants.py`` asserts that ``check`` at its
default settings catches each one with a minimal failing shape; ``verify.measure``
(the report) measures how often this project's checks and the checks of other
libraries' test suites catch them.

The mutants compute their fans with their own few lines (``_fans``), as the code
they imitate would: nothing here leans on the library under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from verify.schemes import InitSpec

Sampler = Callable[[tuple[int, ...], int], np.ndarray]

TRUNCATION = 2.0
TRUNCATED_STD = 0.8796256610342398
"""Standard deviation of N(0, 1) truncated to [-2, 2] (the textbook truncated normal)."""


@dataclass(frozen=True)
class Mutant:
    """A broken initializer and what it breaks."""

    name: str
    bug: str
    """What the code gets wrong, in one line."""
    claim: InitSpec
    """What it claims to implement."""
    breaks: str
    """The claim of CLAIMS.md it contradicts, or the documented property it violates."""
    sample: Sampler = field(repr=False)
    shows: Callable[[tuple[int, ...]], bool] = field(default=lambda shape: True, repr=False)
    """Where the bug is visible at all (some hide at most shapes)."""

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        return self.sample(tuple(shape), seed)


def _fans(shape: tuple[int, ...], layout: str = "oihw") -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape: PyTorch's ``oihw`` or Keras' ``hwio``."""
    if layout == "oihw":
        receptive = math.prod(shape[2:])
        return shape[1] * receptive, shape[0] * receptive
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _normal(shape, seed, std) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * std).astype(np.float32)


def _uniform(shape, seed, bound) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-bound, bound, shape).astype(np.float32)


def _he_std(shape) -> float:
    return math.sqrt(2 / _fans(shape)[0])


def _truncated(rng: np.random.Generator, shape, std: float, bound: float) -> np.ndarray:
    """N(0, std^2) restricted to [-bound, bound], by redrawing what falls outside."""
    draws = rng.standard_normal(shape) * std
    outside = np.abs(draws) > bound
    while outside.any():
        draws[outside] = rng.standard_normal(int(outside.sum())) * std
        outside = np.abs(draws) > bound
    return draws


HE_NORMAL = InitSpec("he", "normal")
HE_UNIFORM = InitSpec("he", "uniform")
GLOROT_UNIFORM = InitSpec("glorot", "uniform")
LECUN_TRUNCATED = InitSpec("lecun", "truncated_normal")
LEAKY_SLOPE = 0.2  # LeakyReLU(0.2), the GAN default
HE_LEAKY_NORMAL = InitSpec("he", "normal", gain=math.sqrt(2 / (1 + LEAKY_SLOPE**2)))
HE_NORMAL_HWIO = InitSpec("he", "normal", layout="hwio")
FAN_CAP = 1024


# --- the variance law: fans and factors ---------------------------------------------------

def fan_out_for_fan_in(shape, seed):
    return _normal(shape, seed, math.sqrt(2 / _fans(shape)[1]))


def std_is_the_variance(shape, seed):
    return _normal(shape, seed, 2 / _fans(shape)[0])


def missing_factor_two(shape, seed):
    return _normal(shape, seed, math.sqrt(1 / _fans(shape)[0]))


def glorot_bound_missing_factor_three(shape, seed):
    fan_in, fan_out = _fans(shape)
    return _uniform(shape, seed, math.sqrt(2 / (fan_in + fan_out)))


def leaky_slope_not_squared(shape, seed):
    return _normal(shape, seed, math.sqrt(2 / ((1 + LEAKY_SLOPE) * _fans(shape)[0])))


def conv_fans_without_receptive_field(shape, seed):
    return _normal(shape, seed, math.sqrt(2 / shape[1]))


def fans_for_the_wrong_layout(shape, seed):
    """Claims Keras' ``hwio`` kernel layout, reads the fans as PyTorch's ``oihw``."""
    return _normal(shape, seed, math.sqrt(2 / _fans(shape, "oihw")[0]))


def squeezed_before_fans(shape, seed):
    """Drops size-1 axes before computing fans (meant for ``(n, 1)`` kernels); a 1-D
    shape then counts its length as both fans, as Keras does."""
    squeezed = tuple(d for d in shape if d != 1)
    if len(squeezed) >= 2:
        fan_in = _fans(squeezed)[0]
    else:
        fan_in = squeezed[0] if squeezed else 1
    return _normal(shape, seed, math.sqrt(2 / fan_in))


def bias_counted_in_fan_in(shape, seed):
    return _normal(shape, seed, math.sqrt(2 / (_fans(shape)[0] + 1)))


def fan_in_capped(shape, seed):
    """``min(fan_in, 1024)``: meant to keep large layers from getting tiny weights."""
    return _normal(shape, seed, math.sqrt(2 / min(_fans(shape)[0], FAN_CAP)))


def variance_one_percent_high(shape, seed):
    return _normal(shape, seed, _he_std(shape) * math.sqrt(1.01))


# --- truncation --------------------------------------------------------------------------

def truncated_without_variance_correction(shape, seed):
    std = math.sqrt(1 / _fans(shape)[0])
    rng = np.random.default_rng(seed)
    return _truncated(rng, shape, std, TRUNCATION * std).astype(np.float32)


def clamped_instead_of_truncated(shape, seed):
    std = math.sqrt(1 / _fans(shape)[0]) / TRUNCATED_STD
    draws = np.random.default_rng(seed).standard_normal(shape) * std
    return np.clip(draws, -TRUNCATION * std, TRUNCATION * std).astype(np.float32)


def truncation_in_absolute_units(shape, seed):
    """``trunc_normal_(w, std=s)`` keeps PyTorch's default bounds ``a=-2, b=2``, absolute
    units: for the small ``s`` of most layers nothing is cut at all."""
    std = math.sqrt(1 / _fans(shape)[0]) / TRUNCATED_STD
    return _truncated(np.random.default_rng(seed), shape, std, 2.0).astype(np.float32)


def trunc_normal_used_as_normal(shape, seed):
    """Claims He-normal, calls ``trunc_normal_(w, std=s)`` (absolute bounds +-2): the
    cut only bites where ``s`` is large, at small fans."""
    return _truncated(np.random.default_rng(seed), shape, _he_std(shape), 2.0).astype(np.float32)


# --- mean and support --------------------------------------------------------------------

def shifted_uniform(shape, seed):
    """``a * 2 * u`` instead of ``a * (2 * u - 1)``: U(0, 2a)."""
    bound = math.sqrt(3) * _he_std(shape)
    return (np.random.default_rng(seed).random(shape) * 2 * bound).astype(np.float32)


def one_sided_uniform(shape, seed):
    """``a * u`` instead of ``a * (2 * u - 1)``: U(0, a)."""
    bound = math.sqrt(3) * _he_std(shape)
    return (np.random.default_rng(seed).random(shape) * bound).astype(np.float32)


# --- the distribution family at the right variance ----------------------------------------

def laplace_right_variance(shape, seed):
    scale = _he_std(shape) / math.sqrt(2)
    return np.random.default_rng(seed).laplace(0, scale, shape).astype(np.float32)


def uniform_instead_of_normal(shape, seed):
    return _uniform(shape, seed, math.sqrt(3) * _he_std(shape))


def normal_instead_of_uniform(shape, seed):
    fan_in, fan_out = _fans(shape)
    return _normal(shape, seed, math.sqrt(2 / (fan_in + fan_out)))


# --- independence: repeats within a tensor and between calls ------------------------------

def repeated_rows(shape, seed):
    row = _normal((1, *shape[1:]), seed, _he_std(shape))
    return np.repeat(row, shape[0], axis=0)


def broadcast_over_input_channels(shape, seed):
    kernel = _normal((shape[0], 1, *shape[2:]), seed, _he_std(shape))
    return np.ascontiguousarray(np.broadcast_to(kernel, shape))


def ignores_its_seed(shape, seed):
    return _normal(shape, 0, _he_std(shape))


_CACHE: dict[tuple[int, ...], np.ndarray] = {}


def cached_per_shape(shape, seed):
    """Memoized on the shape alone: every later call returns the first call's tensor."""
    if shape not in _CACHE:
        if len(_CACHE) >= 32:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[shape] = _normal(shape, seed, _he_std(shape))
    return _CACHE[shape].copy()


# --- where each bug shows ----------------------------------------------------------------

def _differs(ratio: Callable[[tuple[int, ...]], float]) -> Callable[[tuple[int, ...]], bool]:
    return lambda shape: abs(ratio(shape) - 1) > 1e-12


def _squeezed_fan_in(shape) -> int:
    squeezed = tuple(d for d in shape if d != 1)
    if len(squeezed) >= 2:
        return _fans(squeezed)[0]
    return squeezed[0] if squeezed else 1


MUTANTS: list[Mutant] = [
    Mutant("fan_out_for_fan_in", "He with fan_out where the claim says fan_in", HE_NORMAL,
           "he.variance", fan_out_for_fan_in,
           _differs(lambda s: _fans(s)[0] / _fans(s)[1])),
    Mutant("std_is_the_variance", "passes 2/fan_in as the standard deviation", HE_NORMAL,
           "he.variance", std_is_the_variance, lambda s: _fans(s)[0] != 2),
    Mutant("missing_factor_two", "LeCun's 1/fan_in under He's name", HE_NORMAL, "he.variance",
           missing_factor_two),
    Mutant("glorot_bound_missing_factor_three", "bound sqrt(2/(fan_in+fan_out)): the "
           "variance formula used as the bound, a third of the variance", GLOROT_UNIFORM,
           "glorot.uniform-bound", glorot_bound_missing_factor_three),
    Mutant("leaky_slope_not_squared", "He gain sqrt(2/(1+a)) for LeakyReLU(0.2) instead of "
           "sqrt(2/(1+a^2))", HE_LEAKY_NORMAL, "he.leaky", leaky_slope_not_squared),
    Mutant("conv_fans_without_receptive_field", "convolution fan_in = in_channels, without "
           "the kernel's receptive field", HE_NORMAL, "he.variance",
           conv_fans_without_receptive_field, lambda s: math.prod(s[2:]) > 1),
    Mutant("fans_for_the_wrong_layout", "Keras hwio kernel, fans read as PyTorch oihw",
           HE_NORMAL_HWIO, "he.variance", fans_for_the_wrong_layout,
           _differs(lambda s: _fans(s, "hwio")[0] / _fans(s, "oihw")[0])),
    Mutant("squeezed_before_fans", "drops size-1 axes before computing the fans",
           HE_NORMAL, "he.variance", squeezed_before_fans,
           lambda s: _squeezed_fan_in(s) != _fans(s)[0]),
    Mutant("bias_counted_in_fan_in", "fan_in + 1 (the bias counted as an input): visible "
           "at small fans only", HE_NORMAL, "he.variance", bias_counted_in_fan_in,
           lambda s: _fans(s)[0] <= 200),
    Mutant("fan_in_capped", f"min(fan_in, {FAN_CAP}): too much variance at large fans only",
           HE_NORMAL, "he.variance", fan_in_capped, lambda s: _fans(s)[0] > FAN_CAP),
    Mutant("variance_one_percent_high", "variance 1% too high", HE_NORMAL, "he.variance",
           variance_one_percent_high),
    Mutant("truncated_without_variance_correction", "cut at +-2 std with no rescaling: "
           "variance 0.774 of the claim", LECUN_TRUNCATED, "lecun.variance",
           truncated_without_variance_correction),
    Mutant("clamped_instead_of_truncated", "np.clip at +-2 std: point masses at the bounds",
           LECUN_TRUNCATED, "lecun.variance", clamped_instead_of_truncated),
    Mutant("truncation_in_absolute_units", "trunc_normal_ with its default bounds +-2 in "
           "absolute units: no cut at the usual scales", LECUN_TRUNCATED,
           "documented law: normal truncated at 2 std", truncation_in_absolute_units),
    Mutant("trunc_normal_used_as_normal", "trunc_normal_(std=s) for a normal: cut at +-2 "
           "absolute, visible at small fans only", HE_NORMAL,
           "documented law: untruncated normal", trunc_normal_used_as_normal,
           lambda s: _fans(s)[0] <= 16),
    Mutant("shifted_uniform", "U(0, 2a): forgot to subtract a", HE_UNIFORM, "linear.mean",
           shifted_uniform),
    Mutant("one_sided_uniform", "U(0, a): forgot 2u - 1", HE_UNIFORM, "uniform.moments",
           one_sided_uniform),
    Mutant("laplace_right_variance", "Laplace weights with He's variance (heavy tails)",
           HE_NORMAL, "documented law: normal", laplace_right_variance),
    Mutant("uniform_instead_of_normal", "uniform weights with He's variance", HE_NORMAL,
           "documented law: normal", uniform_instead_of_normal),
    Mutant("normal_instead_of_uniform", "normal weights with Glorot's variance",
           GLOROT_UNIFORM, "documented law: uniform on (-a, a)", normal_instead_of_uniform),
    Mutant("repeated_rows", "one row drawn, repeated for every output channel", HE_NORMAL,
           "weights iid (linear.variance)", repeated_rows, lambda s: s[0] > 1),
    Mutant("broadcast_over_input_channels", "one kernel per output channel broadcast over "
           "the input channels", HE_NORMAL, "weights iid (linear.variance)",
           broadcast_over_input_channels, lambda s: s[1] > 1),
    Mutant("ignores_its_seed", "seeds its generator with 0 on every call", HE_NORMAL,
           "fresh draws per call", ignores_its_seed),
    Mutant("cached_per_shape", "memoized on the shape: later calls return the first tensor",
           HE_NORMAL, "fresh draws per call", cached_per_shape),
]

BY_NAME = {mutant.name: mutant for mutant in MUTANTS}
