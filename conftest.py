"""Shared pytest set-up: hypothesis profiles, the run seed, the calibration summary.

Profiles (choose with ``--hypothesis-profile NAME``; default ``dev``):

* ``ci``: derandomized, so a CI run is reproducible; 20 examples per property
  (statistical properties use a fifth of that, each example being a full
  statistical check);
* ``dev``: the same budget, randomized;
* ``thorough``: 500 examples per property, randomized.
"""

from __future__ import annotations

import os

from verify.threads import one_thread_per_process

if os.environ.get("PYTEST_XDIST_WORKER"):
    # -n auto starts one worker per core: threads of their own would oversubscribe the
    # cores (see verify.threads). Set before NumPy and PyTorch load; subprocesses inherit it.
    one_thread_per_process()

# The commands' units run in this process unless a test asks for a cluster
# (tests/test_execute.py starts real Dask schedulers and workers): an embedded
# LocalCluster per command run would start two worker processes inside every test.
os.environ.setdefault("VERIFY_WORKERS", "0")

import importlib.util

if importlib.util.find_spec("paddle") is not None:
    # Paddle before TensorFlow, which many tests load: TensorFlow then Paddle crashes the
    # process at import (paddlepaddle 3.3.1, tensorflow 2.21.0); this order works, so the
    # Paddle tests run in every worker
    import paddle  # noqa: F401

from hypothesis import HealthCheck, settings

from verify.seeding import run_seed

pytest_plugins = ["tests.dask_cluster"]  # the `cluster` fixture: a real Dask scheduler

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("ci", max_examples=20, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=20, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

def pytest_report_header(config) -> str:
    return f"verify run seed: {run_seed()} (set VERIFY_SEED to change)"


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the observed error rates the calibration tests recorded (works under xdist,
    which carries ``user_properties`` back with each report)."""
    lines = [value for outcome in ("passed", "failed")
             for report in terminalreporter.stats.get(outcome, [])
             for name, value in getattr(report, "user_properties", ()) if name == "calibration"]
    if lines:
        terminalreporter.section("calibration of the statistical engine")
        for line in sorted(lines):
            terminalreporter.write_line(line)
