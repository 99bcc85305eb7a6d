"""Hypothesis strategies for initialization experiments: public, for your own tests too.

Every strategy is small and composable; compound values are ``@composite``. They
lean toward the places where initialization bugs hide: size-1 dimensions, small
fans, fan-in far from fan-out (in both directions), kernels of 3 or more
dimensions, and heavy-tailed or discrete distributions with the right variance.

Example::

    from hypothesis import given
    from verify import strategies as vst

    @given(vst.weight_shapes(layout="hwio"))
    def test_my_init(shape): ...
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from verify.distributions import INIT_FAMILIES, ZERO_MEAN_FAMILIES, Family, student_t
from verify.fans import LAYOUTS, MAX_DIMS, MIN_DIMS, Layout, arrange
from verify.schemes import MODES, SCHEMES, InitSpec

__all__ = [
    "distinct_fan_pairs",
    "fan_pairs",
    "fans",
    "gains",
    "init_families",
    "init_specs",
    "layouts",
    "modes",
    "negative_slopes",
    "schemes",
    "weight_families",
    "weight_shapes",
]


def fans(min_value: int = 1, max_value: int = 4096) -> st.SearchStrategy[int]:
    """A fan: small values (where bugs hide) as often as large ones."""
    if not 1 <= min_value <= max_value:
        raise ValueError("need 1 <= min_value <= max_value")
    small = min(max_value, max(min_value, 16))
    return st.one_of(
        st.integers(min_value, small),
        st.integers(min_value, max_value),
    ).filter(lambda n: min_value <= n <= max_value)


def fan_pairs(min_value: int = 1, max_value: int = 1024) -> st.SearchStrategy[tuple[int, int]]:
    """``(fan_in, fan_out)``: equal, close, or far apart in either direction."""
    one = fans(min_value, max_value)
    equal = one.map(lambda n: (n, n))
    return st.one_of(st.tuples(one, one), equal)


@st.composite
def distinct_fan_pairs(
    draw: st.DrawFn, min_value: int = 1, max_value: int = 1024, min_ratio: float = 1.1
) -> tuple[int, int]:
    """``(fan_in, fan_out)`` whose larger exceeds the smaller by at least ``min_ratio``:
    pairs for which a law that confuses the two fans is wrong by a detectable amount."""
    smaller = draw(fans(min_value, max(min_value, int(max_value / min_ratio))), label="smaller")
    larger = draw(st.integers(math.ceil(smaller * min_ratio), max_value), label="larger")
    fan_in_smaller = draw(st.booleans(), label="fan_in is smaller")
    return (smaller, larger) if fan_in_smaller else (larger, smaller)


def layouts() -> st.SearchStrategy[Layout]:
    return st.sampled_from(LAYOUTS)


@st.composite
def weight_shapes(
    draw: st.DrawFn,
    layout: Layout = "oihw",
    min_dims: int = MIN_DIMS,
    max_dims: int = MAX_DIMS,
    max_channels: int = 512,
    max_kernel: int = 7,
    max_numel: int = 2**22,
) -> tuple[int, ...]:
    """A weight shape in ``layout``: channels from 1 to ``max_channels`` (size 1 often),
    kernel sides from 1 to ``max_kernel``, at most ``max_numel`` entries."""
    ndim = draw(st.integers(min_dims, max_dims), label="ndim")
    kernel = tuple(
        draw(st.lists(st.integers(1, max_kernel), min_size=ndim - 2, max_size=ndim - 2),
             label="kernel")
    )
    receptive_field = math.prod(kernel)
    out_cap = max(1, min(max_channels, max_numel // receptive_field))
    out_channels = draw(fans(1, out_cap), label="out_channels")
    in_cap = max(1, min(max_channels, max_numel // (receptive_field * out_channels)))
    in_channels = draw(fans(1, in_cap), label="in_channels")
    return arrange(out_channels, in_channels, kernel, layout)


def schemes() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(SCHEMES))


def modes() -> st.SearchStrategy[str]:
    return st.sampled_from(MODES)


def gains(min_value: float = 0.1, max_value: float = 4.0) -> st.SearchStrategy[float]:
    """Positive gains, including the common ``1`` and ``sqrt(2)``."""
    return st.one_of(
        st.sampled_from([1.0, math.sqrt(2.0)]),
        st.floats(min_value, max_value, allow_nan=False, allow_infinity=False),
    )


def negative_slopes(max_value: float = 1.0) -> st.SearchStrategy[float]:
    """Leaky-ReLU negative slopes in ``[0, max_value]`` (0 is the plain ReLU)."""
    return st.one_of(
        st.sampled_from([0.0, 0.01, 0.2]),
        st.floats(0.0, max_value, allow_nan=False, allow_infinity=False),
    )


def init_families() -> st.SearchStrategy[Family]:
    """The distributions schemes come in: normal, uniform, truncated normal."""
    return st.sampled_from(list(INIT_FAMILIES.values()))


def weight_families(heavy_tails: bool = True) -> st.SearchStrategy[Family]:
    """Zero-mean families: normal, uniform, truncated normal, Rademacher, Laplace and
    (with ``heavy_tails``) scaled Student-t with 5 to 30 degrees of freedom."""
    light = st.sampled_from(ZERO_MEAN_FAMILIES)
    if not heavy_tails:
        return light
    return st.one_of(light, st.sampled_from([5, 6, 8, 12, 30]).map(student_t))


@st.composite
def init_specs(
    draw: st.DrawFn,
    layout: Layout | None = None,
    *,
    with_mode: bool = True,
    with_gain: bool = True,
) -> InitSpec:
    """A claimed initialization law: scheme, distribution, layout, and optionally a
    non-default mode and gain."""
    return InitSpec(
        scheme=draw(schemes(), label="scheme"),
        dist=draw(init_families(), label="dist").name,
        layout=layout or draw(layouts(), label="layout"),
        mode=draw(st.none() | modes(), label="mode") if with_mode else None,
        gain=draw(st.none() | gains(), label="gain") if with_gain else None,
    )
