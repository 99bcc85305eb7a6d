"""The cost of the checks, against the cost of what they check.

``Check`` runs the battery at one shape at default power (``check_shape``: about
1.4 million entries for a normal law) on ``torch.nn.init.kaiming_normal_``, and
times the initializer drawing the same tensors bare (no harness). The target: the
checks cost at most 1x the initializer's own generation time on top of it, that
is ``track_overhead`` at most 1. ``CheckCommand`` is the whole ``check`` of the
command line (hypothesis draws 8 shapes), whose report separates the time spent
inside the initializer.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

from verify import stats
from verify.catalog import load
from verify.conformance import check, shape_results

from .common import best_time

ENTRY = "torch:kaiming_normal_"
CHECK_SHAPES = {
    "64x64": (64, 64),
    "256x512": (256, 512),
    "1024x1024": (1024, 1024),
    "conv 64x32x3x3": (64, 32, 3, 3),
}
if os.environ.get("VERIFY_BENCH_SMOKE"):  # see common.py
    CHECK_SHAPES = {"conv 64x32x3x3": CHECK_SHAPES["conv 64x32x3x3"]}


def _entry():
    entry = load(["torch"]).find(ENTRY)
    return entry, entry.build()


def _bare_generation(shape: tuple[int, ...], calls: int):
    """The initializer alone, for as many calls as the check makes at ``shape``."""
    def generate():
        for seed in range(calls):
            torch.nn.init.kaiming_normal_(torch.empty(shape),
                                          generator=torch.Generator().manual_seed(seed))
    return generate


def _calls(shape: tuple[int, ...], claim) -> int:
    """Calls the check makes: the sample at default power, plus two fresh-draw calls."""
    law = claim.law(shape)
    target = stats.variance_sample_size(kurtosis=float(law.stats(moments="k")) + 3.0,
                                        gaussian=claim.dist == "normal")
    return math.ceil(target / math.prod(shape)) + 2


class Check:
    """``check_shape`` of ``torch.nn.init.kaiming_normal_`` at default power."""

    params = [list(CHECK_SHAPES)]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.entry, self.target = _entry()
        self.shape = CHECK_SHAPES[shape]
        self.generate = _bare_generation(self.shape, _calls(self.shape, self.entry.claim))
        self.generate()

    def run_check(self):
        return shape_results(self.target.sample, self.entry.claim, self.shape, seed=0)

    def time_check(self, shape):
        self.run_check()

    def time_generation(self, shape):
        self.generate()

    def peakmem_check(self, shape):
        self.run_check()

    def track_overhead(self, shape):
        """(check - generation) / generation, both measured in this process."""
        checking = best_time(self.run_check, budget=0.2)
        generating = best_time(self.generate, budget=0.2)
        return (checking - generating) / generating

    track_overhead.unit = "ratio"


class Battery:
    """The statistics alone on a sample drawn once: ``stats.Sample`` and the tests."""

    params = [list(CHECK_SHAPES)]
    param_names = ["shape"]

    def setup(self, shape):
        entry, target = _entry()
        shape = CHECK_SHAPES[shape]
        self.law = entry.claim.law(shape)
        calls = _calls(shape, entry.claim) - 2
        self.sample = np.stack([target.sample(shape, seed) for seed in range(calls)])

    def time_battery(self, shape):
        sample = stats.Sample(self.sample)
        stats.mean_test(sample)
        stats.variance_test(sample, self.law.var(), gaussian=True)
        stats.support_test(sample, self.law)
        stats.shape_test(sample, self.law.cdf)
        stats.independence_test(sample)


class CheckCommand:
    """``conformance.check`` as the command line runs it: 8 hypothesis-drawn shapes."""

    number, repeat, rounds = 1, 1, 1
    timeout = 600

    def setup(self):
        self.entry, self.target = _entry()

    def _run(self):
        return check(self.target.sample, self.entry.claim, seed=0,
                     shapes=self.entry.shapes() if self.entry.shapes else None)

    def time_check(self):
        self._run()

    def track_overhead(self):
        """Time outside the initializer over time inside it (the report's own split)."""
        report = self._run()
        return (report.seconds - report.generation_seconds) / report.generation_seconds

    track_overhead.unit = "ratio"


class Fingerprint:
    """``fingerprint`` of ``torch.nn.init.kaiming_normal_`` (six design shapes)."""

    timeout = 300

    def setup(self):
        self.entry, self.target = _entry()

    def time_fingerprint(self):
        from verify.fingerprint import fingerprint

        fingerprint(self.target.sample, layout=self.target.layout, seed=0,
                    name=self.target.name)


class Propagation:
    """One propagation experiment: a plain ReLU network with He weights, depth 50,
    width 512, 16 independent networks (seeds), forward and backward."""

    timeout = 300

    def setup(self):
        from verify.propagation import Plain

        self.net = Plain.square(512, 50, activation="relu", init="he")

    def time_propagation(self):
        from verify.propagation import run

        run(self.net, 16, seed=0)


class Claims:
    """The full ``claims`` run: every claim at default settings, seed fixed."""

    number, repeat, rounds = 1, 1, 1
    timeout = 1800

    def track_claims_wall_time(self):
        from verify.claims import CLAIMS, Context, run_claim
        from verify.seeding import DEFAULT_SEED

        start = time.perf_counter()
        context = Context(seed=DEFAULT_SEED)
        for claim in CLAIMS.values():
            run_claim(claim, context)
        return time.perf_counter() - start

    track_claims_wall_time.unit = "seconds"
