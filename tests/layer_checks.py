"""Checks the layer-registry tests share: a tensor against a documented law, the walked
listing against the framework's own, the fans against hand-derived numbers.

The law check is a sanity check, not the project's statistical battery: the sample mean
and variance within six standard errors of the law's (the variance's standard error
kurtosis-corrected), every entry inside a bounded law's support, and, for tensors large
enough that missing it has probability below 1e-6, an entry within the outer tenth of
the support.
"""

from __future__ import annotations

import math

import numpy as np

from verify.laws import TensorLaw
from verify.layers import Param

SIGMAS = 6.0
FLOAT32_EPSILON = 2.0**-23


def _variance_error(law: TensorLaw, values: np.ndarray) -> tuple[float, float]:
    """The relative error of the sample variance, and its tolerance."""
    excess_kurtosis = float(law.distribution().stats(moments="k"))
    tolerance = SIGMAS * math.sqrt((2.0 + excess_kurtosis) / values.size)
    return float(values.var()) / law.variance - 1.0, tolerance


def assert_law(law: TensorLaw, values: np.ndarray, label: str = "") -> None:
    values = np.asarray(values, dtype=np.float64).ravel()
    if law.family == "constant":  # the value as float32 stores it (0.01 is not exact)
        assert np.allclose(values, law.value, rtol=FLOAT32_EPSILON, atol=0), (
            f"{label}: not all {law.value}")
        return
    n = values.size
    std = math.sqrt(law.variance)
    assert abs(values.mean() - law.expected_mean) <= SIGMAS * std / math.sqrt(n), (
        f"{label}: mean {values.mean():.4g} is not {law.describe()}'s")
    error, tolerance = _variance_error(law, values)
    assert abs(error) <= tolerance, (
        f"{label}: variance {values.var():.4g} vs {law.variance:.4g} of {law.describe()} "
        f"(relative error {error:.3f}, tolerance {tolerance:.3f}, n={n})")
    if law.family in ("uniform", "truncated_normal"):
        slack = 1e-6 * (law.high - law.low)
        assert values.min() >= law.low - slack and values.max() <= law.high + slack, (
            f"{label}: entries outside [{law.low:.4g}, {law.high:.4g}]")
        edge = law.high - 0.1 * (law.high - law.mean)
        if law.distribution().sf(edge) < 1 and (1 - law.distribution().sf(edge)) ** n < 1e-6:
            assert values.max() > edge, f"{label}: max {values.max():.4g} far from {law.high}"


def assert_not_law(law: TensorLaw, values: np.ndarray, label: str = "") -> None:
    """The tensor's variance is clearly not ``law``'s (a fan mismatch that matters)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    error, tolerance = _variance_error(law, values)
    assert abs(error) > tolerance, f"{label}: also consistent with {law.describe()}"


def by_name(params: list[Param]) -> dict[str, Param]:
    return {name: param for param in params for name in param.names}


def assert_listing(params: list[Param], expected: dict[str, tuple[int, ...]]) -> None:
    """Every name the framework lists, with its shape, and nothing else."""
    walked = {name: param.shape for param in params for name in param.names}
    assert walked == {name: tuple(shape) for name, shape in expected.items()}


def assert_fans(param: Param, fans: tuple[int, int] | None, *, role: str | None = None,
                mismatch: bool | None = None) -> None:
    assert param.role.semantic_fans == fans, (param.name, param.role)
    if role is not None:
        assert param.role.role == role, (param.name, param.role.role)
    if mismatch is not None:
        assert param.role.fan_mismatch == mismatch, (param.name, param.role)


def assert_defaults_hold(params: list[Param]) -> int:
    """Each tensor with a default law is drawn from it (zero rows excluded, blocks with
    their own laws checked one by one); returns how many tensors were checked."""
    checked = 0
    for param in params:
        role = param.role
        values = np.asarray(param.array, dtype=np.float64)
        if role.zero_rows:
            assert np.all(values[list(role.zero_rows)] == 0), param.name
            values = np.delete(values, list(role.zero_rows), axis=0)
        if role.block_defaults:
            for block, law in zip(np.split(values, role.blocks, axis=role.block_axis),
                                  role.block_defaults, strict=True):
                assert_law(law, block, param.name)
            checked += 1
        elif role.default is not None:
            assert_law(role.default, values, param.name)
            checked += 1
    return checked
