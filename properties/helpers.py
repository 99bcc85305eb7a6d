"""Helpers shared by the property modules: settings for statistical properties, seeds."""

from __future__ import annotations

from hypothesis import settings

from verify.seeding import derive_seed, run_seed
from verify.stats import CheckResult, Verdict


def statistical(divisor: int = 5, minimum: int = 3) -> settings:
    """Settings for a property whose every example runs a full statistical check: a
    fraction of the active profile's examples (the ``thorough`` profile gets more)."""
    return settings(max_examples=max(minimum, settings().max_examples // divisor))


def seed_for(*labels: object) -> int:
    """The example's seed, derived from the run seed and the example itself."""
    return derive_seed(run_seed(), *labels)


def assert_holds(*results: CheckResult) -> None:
    for result in results:
        assert result.verdict is not Verdict.FAIL, result.summary()


def assert_rejected(*results: CheckResult) -> None:
    """The machinery must reject a deliberately wrong law: at least one check fails."""
    assert any(r.verdict is Verdict.FAIL for r in results), "\n".join(r.summary() for r in results)
