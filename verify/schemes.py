"""The textbook's initialization schemes as variance laws.

Every scheme in this module is one instance of a single law,

    Var[w] = gain**2 / fan(mode),    fan_avg = (fan_in + fan_out) / 2,

which is how PyTorch (``gain``) and JAX/Keras (``scale = gain**2``) both write it:

=======  ========  ============  ==================================================
scheme   mode      default gain  variance
=======  ========  ============  ==================================================
lecun    fan_in    1             1 / fan_in            (LeCun et al. 1998)
glorot   fan_avg   1             2 / (fan_in + fan_out) (Glorot & Bengio 2010)
he       fan_in    sqrt(2)       2 / fan_in            (He et al. 2015)
=======  ========  ============  ==================================================

For a leaky ReLU with negative slope ``a`` the He gain is ``sqrt(2 / (1 + a**2))``
(He et al. 2015, eq. 15), :func:`leaky_relu_gain`.

A scheme is offered in three distributions with that variance: normal, uniform on
``(-a, a)`` with ``a = sqrt(3 Var)``, and a normal truncated at two standard
deviations whose scale is corrected so that the truncated law has the variance
(:mod:`verify.distributions`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from scipy import stats

from verify.distributions import INIT_FAMILIES, Family
from verify.fans import Fans, Layout, compute_fans

MODES = ("fan_in", "fan_out", "fan_avg")


@dataclass(frozen=True)
class Scheme:
    """A named variance-scaling scheme: the fan it divides by and its default gain."""

    name: str
    mode: str
    gain: float
    reference: str

    def variance(self, fans: Fans, *, gain: float | None = None, mode: str | None = None) -> float:
        """The scheme's weight variance for these fans (``gain``/``mode`` override)."""
        return variance(fans, mode=mode or self.mode, gain=self.gain if gain is None else gain)


SCHEMES: dict[str, Scheme] = {
    "lecun": Scheme(
        "lecun", "fan_in", 1.0, "LeCun, Bottou, Orr & Mueller 1998, Efficient BackProp"
    ),
    "glorot": Scheme(
        "glorot", "fan_avg", 1.0, "Glorot & Bengio 2010, Understanding the difficulty of ..."
    ),
    "he": Scheme("he", "fan_in", math.sqrt(2.0), "He, Zhang, Ren & Sun 2015, Delving Deep ..."),
}


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name``; a clear error for an unknown one."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(
            f"unknown scheme {name!r}: use one of {', '.join(SCHEMES)}"
        ) from None


def validate_gain(gain: float) -> float:
    gain = float(gain)
    if not math.isfinite(gain) or gain <= 0:
        raise ValueError(f"gain must be a positive finite number, got {gain}")
    return gain


def variance(fans: Fans, *, mode: str, gain: float = 1.0) -> float:
    """``gain**2 / fan(mode)``: the one variance law every scheme instantiates."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    return validate_gain(gain) ** 2 / fans.fan(mode)


def leaky_relu_gain(negative_slope: float) -> float:
    """He gain for a leaky ReLU: keeps ``(1/2)(1 + a^2) n_in Var[w] = 1``."""
    return math.sqrt(2.0 / (1.0 + negative_slope**2))


def family(dist: str) -> Family:
    """The initialization distribution called ``dist`` (normal, uniform, truncated_normal)."""
    try:
        return INIT_FAMILIES[dist]
    except KeyError:
        raise ValueError(
            f"unknown distribution {dist!r}: use one of {', '.join(INIT_FAMILIES)}"
        ) from None


def weight_law(dist: str, var: float) -> stats.rv_continuous:
    """The ``scipy.stats`` law of one weight: family ``dist`` with variance ``var``."""
    return family(dist).law(math.sqrt(var))


@functools.lru_cache(maxsize=4096)  # samplers ask for the same shapes again and again
def _spec_variance(spec: InitSpec, shape: tuple[int, ...]) -> float:
    scheme = get_scheme(spec.scheme)
    return scheme.variance(spec.fans(shape), gain=spec.gain, mode=spec.mode)


@dataclass(frozen=True)
class InitSpec:
    """What an initializer claims: scheme, distribution and how to read its tensors.

    The law of a weight follows once a shape is given: :meth:`fans`,
    :meth:`variance` and :meth:`law` take the shape.
    """

    scheme: str
    dist: str
    layout: Layout = "oihw"
    mode: str | None = None
    gain: float | None = None
    groups: int = 1
    transposed: bool = False

    def __post_init__(self) -> None:
        get_scheme(self.scheme)
        family(self.dist)
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.gain is not None:
            validate_gain(self.gain)
        if self.groups < 1:
            raise ValueError(f"groups must be a positive integer, got {self.groups}")

    def fans(self, shape: tuple[int, ...]) -> Fans:
        return compute_fans(shape, self.layout, groups=self.groups, transposed=self.transposed)

    def variance(self, shape: tuple[int, ...]) -> float:
        return _spec_variance(self, tuple(shape))

    def law(self, shape: tuple[int, ...]) -> stats.rv_continuous:
        return weight_law(self.dist, self.variance(shape))

    @property
    def family(self) -> Family:
        return family(self.dist)

    def describe(self) -> str:
        parts = [f"{self.scheme}-{self.dist}", f"layout={self.layout}"]
        if self.mode:
            parts.append(f"mode={self.mode}")
        if self.gain is not None:
            parts.append(f"gain={self.gain:g}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.transposed:
            parts.append("transposed")
        return " ".join(parts)
