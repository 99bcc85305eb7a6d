"""fingerprint recovers what the reference implementations do, in every layout, and
explains deliberately broken initializers; compare tells equal from different."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import strategies as st

from verify.compare import compare
from verify.fingerprint import fingerprint
from verify.reference import ReferenceSampler
from verify.schemes import InitSpec
from verify.stats import Verdict

from .test_conformance import (
    clamped_instead_of_truncated,
    fan_out_instead_of_fan_in,
    heavy_tails_right_variance,
    missing_factor_two,
    no_receptive_field,
    repeated_rows,
    std_set_to_the_variance,
)

CONV = st.just((8, 8, 3, 3))
NAMES = {("lecun", "fan_in"): "lecun", ("glorot", "fan_avg"): "glorot", ("he", "fan_in"): "he",
         ("he", "fan_out"): "he", ("lecun", "fan_out"): "lecun"}
GAINS = {"lecun": 1.0, "glorot": 1.0, "he": math.sqrt(2)}
DEFAULT_MODES = {"lecun": "fan_in", "glorot": "fan_avg", "he": "fan_in"}


def _reference(scheme, dist, layout, mode=None, gain=None):
    spec = InitSpec(scheme, dist, layout=layout, mode=mode, gain=gain)
    return spec, ReferenceSampler(spec, backend="torch")


@pytest.mark.parametrize("layout", ["oihw", "hwio", "ohwi"])
@pytest.mark.parametrize("scheme", ["lecun", "glorot", "he"])
@pytest.mark.parametrize("dist", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("rank", [2, 4])
def test_references_are_recognized(layout, scheme, dist, rank):
    _, sampler = _reference(scheme, dist, layout)
    shapes = CONV if rank == 4 else None
    fp = fingerprint(sampler, layout=layout, shapes=shapes, seed=3)
    assert fp.scheme == scheme, fp.describe()
    assert fp.mode == DEFAULT_MODES[scheme]
    assert fp.gain == pytest.approx(GAINS[scheme], rel=0.01)
    assert fp.gain_interval[0] <= GAINS[scheme] <= fp.gain_interval[1] or \
        abs(fp.gain / GAINS[scheme] - 1) < 0.005
    assert fp.family.name == dist, fp.describe()
    if dist == "truncated_normal":
        assert fp.family.truncation == pytest.approx(2.0, abs=0.1)
    assert fp.law.reading.receptive_field or rank == 2
    assert fp.confidence == "high", fp.notes
    assert fp.independence.verdict is not Verdict.FAIL


@pytest.mark.parametrize("scheme,mode", [("he", "fan_out"), ("lecun", "fan_out")])
def test_fan_out_modes(scheme, mode):
    _, sampler = _reference(scheme, "normal", "oihw", mode=mode)
    fp = fingerprint(sampler, shapes=CONV, seed=5)
    assert (fp.scheme, fp.mode) == (NAMES[(scheme, mode)], mode)


def test_custom_gain_and_the_standard_uniform():
    _, sampler = _reference("lecun", "uniform", "oihw", gain=1 / math.sqrt(3))
    fp = fingerprint(sampler, seed=1)
    assert fp.scheme == "standard" and fp.mode == "fan_in", fp.describe()
    _, sampler = _reference("he", "normal", "oihw", gain=0.8)
    fp = fingerprint(sampler, seed=1)
    assert fp.scheme == "custom" and fp.mode == "fan_in"
    assert fp.gain == pytest.approx(0.8, rel=0.01)


def test_a_constant_variance_is_named():
    def fixed(shape, seed):
        return np.random.default_rng(seed).normal(0, 0.02, shape)

    fp = fingerprint(fixed, seed=1)
    assert fp.scheme == "constant"
    assert 1 / fp.law.coefficients[0] == pytest.approx(0.02**2, rel=0.01)
    assert "std 0.02" in fp.describe()


# --- broken initializers: the fingerprint explains the bug ---------------------------


def test_fan_confusion_shows_as_fan_out_mode():
    fp = fingerprint(fan_out_instead_of_fan_in, shapes=CONV, seed=2)
    assert (fp.scheme, fp.mode) == ("he", "fan_out"), fp.describe()


def test_missing_factor_two_shows_as_lecun():
    fp = fingerprint(missing_factor_two, shapes=CONV, seed=2)
    assert fp.scheme == "lecun", fp.describe()


def test_no_receptive_field_is_seen():
    fp = fingerprint(no_receptive_field, shapes=CONV, seed=2)
    assert fp.scheme == "he" and not fp.law.reading.receptive_field, fp.describe()
    assert "fan_in = shape[1]," in fp.describe()


def test_std_set_to_the_variance_fits_no_law():
    fp = fingerprint(std_set_to_the_variance, shapes=CONV, seed=2)
    assert fp.law is None and fp.confidence == "low", fp.describe()
    assert "no variance law" in fp.describe()


def test_heavy_tails_and_clamping_are_other_families():
    heavy = fingerprint(heavy_tails_right_variance, shapes=CONV, seed=2)
    assert heavy.scheme == "he" and heavy.family.name == "other"
    assert heavy.family.kurtosis == pytest.approx(6.0, rel=0.1)
    clamped = fingerprint(clamped_instead_of_truncated, shapes=CONV, seed=2)
    assert clamped.family.name != "truncated_normal" or clamped.family.pvalue < 1e-3


def test_repeated_rows_are_not_independent():
    fp = fingerprint(repeated_rows, shapes=CONV, seed=2)
    assert fp.independence.verdict is Verdict.FAIL
    assert any("not independent" in note for note in fp.notes)


def test_a_shifted_mean_is_noted():
    def shifted(shape, seed):
        return np.random.default_rng(seed).uniform(0, 1, shape) / math.sqrt(shape[1])

    fp = fingerprint(shifted, seed=2)
    assert any("mean is not 0" in note for note in fp.notes)


def test_explanation_names_the_claimed_and_measured_fans():
    spec, _ = _reference("he", "normal", "oihw")
    fp = fingerprint(fan_out_instead_of_fan_in, shapes=CONV, seed=2)
    text = fp.explain(spec)
    assert "the claim has fan_in=" in text and "ratio" in text


# --- compare ---------------------------------------------------------------------------


def test_the_same_law_in_two_layouts_is_equivalent():
    _, a = _reference("he", "uniform", "oihw")
    _, b = _reference("he", "uniform", "hwio")
    result = compare(a, b, layouts=("oihw", "hwio"), seed=4)
    assert result.equivalent, result.render()


def test_different_laws_differ_by_the_expected_ratio():
    _, a = _reference("lecun", "normal", "oihw")
    _, b = _reference("he", "uniform", "ohwi")
    result = compare(a, b, layouts=("oihw", "ohwi"), seed=4, layers=[(32, 64), (64, 32, 3, 3)])
    assert not result.equivalent
    for layer in result.layers:
        assert layer.interval[0] <= 2.0 <= layer.interval[1]
        assert not layer.same_distribution
    assert "fan_in" in result.ratio_law()
