"""``check`` at its default settings catches every mutant of ``tests/mutants.py``,
each with a minimal failing shape where its bug is visible; where a bug hides, the
same checks pass."""

from __future__ import annotations

import math

import pytest

from tests.mutants import MUTANTS, Mutant
from verify.claims import CLAIMS
from verify.conformance import check, check_shape
from verify.seeding import run_seed
from verify.stats import Verdict


def test_the_catalog_is_large_and_each_mutant_names_what_it_breaks():
    assert len(MUTANTS) >= 20
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        claim_ids = [word.strip("()") for word in mutant.breaks.split()]
        assert any(word in CLAIMS for word in claim_ids) or \
            mutant.breaks.startswith(("documented law", "fresh draws")), mutant.name


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_check_at_default_settings_catches_the_mutant(mutant: Mutant, record_property):
    report = check(mutant, mutant.claim, seed=run_seed(), name=mutant.name,
                   reproduce="--shape {shape}")
    assert report.verdict is Verdict.FAIL, report.table()
    counterexample = report.counterexample
    assert counterexample is not None, report.table()
    shape = tuple(counterexample["shape"])
    assert mutant.shows(shape), f"{mutant.name} fails at {shape}, where its bug does not show"
    assert counterexample["reproduce"] == "--shape " + ",".join(map(str, shape))
    record_property("mutant", f"{mutant.name}: {shape} {counterexample['failed']}")


# Shapes at which a bug hides: the checks must pass there (they are not just failing
# everything), at the same default settings.
HIDDEN = {
    "fan_out_for_fan_in": (48, 48),
    "conv_fans_without_receptive_field": (32, 24, 1, 1),
    "fans_for_the_wrong_layout": (3, 3, 16, 3),
    "squeezed_before_fans": (16, 12, 3, 3),
    "bias_counted_in_fan_in": (8, 2048),
    "fan_in_capped": (64, 1000),
    "trunc_normal_used_as_normal": (64, 256),
    "repeated_rows": (1, 300),
    "broadcast_over_input_channels": (300, 1),
}


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_where_the_bug_hides_the_checks_pass(name):
    mutant = next(m for m in MUTANTS if m.name == name)
    shape = HIDDEN[name]
    assert not mutant.shows(shape)
    result = check_shape(mutant, mutant.claim, shape, seed=run_seed())
    assert result.verdict is Verdict.PASS, result.summary()
    assert math.isclose(result.variance_ratio, 1, rel_tol=0.02)
