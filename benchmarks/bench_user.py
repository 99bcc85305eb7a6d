"""``check`` of an initializer a user brings, as ``python -m verify check MODULE:FN
--scheme he --dist normal`` runs it (default settings: 8 hypothesis-drawn shapes,
default power, the run's default seed; the target built by
:func:`verify.targets.user_target`, each call under the command's timeout).

``UserCheck`` times a correct He-normal ``fn(tensor)`` with and without a
``generator=`` parameter: the ratio of the two params is the cost of seeding PyTorch's
global generator (target: at most 1.2). ``MinimalFailingShape`` times ``check`` to its
verdict for the correct function and for three bugs, so that the time to the minimal
failing shape of a gross bug (fans swapped) over the time a correct function takes to
pass comes from one run (target: at most 0.5; the gross bugs are fans swapped and the
variance doubled), and that of a subtle bug (variance 1% too large) beside it.
"""

from __future__ import annotations

import os

from hypothesis import strategies as st

from verify.conformance import DEFAULT_MAX_CALLS, check
from verify.matrix import with_timeout
from verify.schemes import InitSpec
from verify.seeding import DEFAULT_SEED
from verify.stats import DEFAULT_POLICY, Policy
from verify.strategies import weight_shapes
from verify.targets import user_target

MODULE = f"{__package__}.user_inits" if __package__ else "user_inits"
TIMEOUT = 60.0  # the command's default --timeout
EXAMPLES = 8  # the command's default --examples
SMOKE = bool(os.environ.get("VERIFY_BENCH_SMOKE"))  # see common.py
POLICY = Policy(effect=0.2) if SMOKE else DEFAULT_POLICY
"""The smoke run detects 20% variance errors only: samples about 400 times smaller."""


def _shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """The command's shapes for a user target (tiny ones in the smoke run)."""
    return weight_shapes(layout="oihw", max_numel=64 if SMOKE else 2**20)


def run_check(function: str, *, shapes: st.SearchStrategy | None = None,
              policy: Policy = POLICY, examples: int = 2 if SMOKE else EXAMPLES):
    """``check`` of ``MODULE:function`` against He normal, as the command runs it."""
    target = user_target(f"{MODULE}:{function}", "torch", {})
    return check(with_timeout(target, TIMEOUT), InitSpec("he", "normal", "oihw"),
                 shapes=_shapes() if shapes is None else shapes, seed=DEFAULT_SEED,
                 policy=policy, max_examples=examples, name=target.name,
                 max_calls=DEFAULT_MAX_CALLS)


def warm_up(function: str) -> None:
    """One tiny check, so that the timed one does not pay for first-call work (lazy
    imports, hypothesis's set-up: 1.6 s)."""
    run_check(function, shapes=st.just((2, 2)), policy=Policy(effect=0.5), examples=1)


class UserCheck:
    """A correct He normal ``fn(tensor)``, with and without ``generator=``."""

    params = [[True, False]]
    param_names = ["generator"]
    number, repeat, rounds = 1, 1, 1
    timeout = 1800

    def setup(self, generator):
        self.function = "he_normal_generator" if generator else "he_normal"
        warm_up(self.function)

    def time_check(self, generator):
        run_check(self.function)


BUGS = {
    "none": "he_normal_generator",
    "fans swapped": "he_normal_fans_swapped",
    "variance x2": "he_normal_variance_doubled",
    "variance +1%": "he_normal_variance_one_percent_high",
}


class MinimalFailingShape:
    """``check`` to its verdict: a pass for ``none``, else the minimal failing shape."""

    params = [list(BUGS)]
    param_names = ["bug"]
    number, repeat, rounds = 1, 1, 1
    timeout = 3600

    def setup(self, bug):
        warm_up(BUGS[bug])

    def time_to_verdict(self, bug):
        run_check(BUGS[bug])
