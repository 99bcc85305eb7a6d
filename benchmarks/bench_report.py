"""The report's sections, each at the settings of ``python -m verify report --quick``
(``Settings.quick_run``: the quick claims, PyTorch's catalog, one example each, the
smallest budgets), called as :func:`verify.report.run` calls them. The deviations
section takes the conformance section's rows, computed once in ``setup_cache``.

These are the quick run's costs, a smoke test's: the default report's sections are
timed by the report itself (``report.json``, ``sections``).
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tempfile
from pathlib import Path

from verify.report import sections
from verify.report.models import run_models
from verify.report.progress import Progress
from verify.seeding import DEFAULT_SEED

SECTIONS = {
    "claims": sections.run_claims,
    "depth": sections.run_depth,
    "conformance": sections.run_conformance,
    "deviations": sections.run_deviations,
    "statistics": sections.run_statistics,
    "models": run_models,
}


SMOKE = bool(os.environ.get("VERIFY_BENCH_SMOKE"))  # see common.py


def _settings() -> sections.Settings:
    quick = sections.Settings.quick_run(DEFAULT_SEED)
    if SMOKE:  # one claim, and no conformance rows for the deviations (see setup_cache)
        return dataclasses.replace(quick, claims=quick.claims[:1])
    return quick


class ReportSections:
    """One section of ``report --quick``."""

    params = [list(SECTIONS)]
    param_names = ["section"]
    number, repeat, rounds = 1, 1, 1
    timeout = 900

    def setup_cache(self):
        """The conformance rows the deviations section reads (none in the smoke run)."""
        if SMOKE:
            return []
        figures = Path(tempfile.mkdtemp(prefix="bench-report-"))
        try:
            section = sections.run_conformance(_settings(), Progress(len(SECTIONS), io.StringIO()),
                                               figures)
        finally:
            shutil.rmtree(figures, ignore_errors=True)
        return section.data["rows"]

    setup_cache.timeout = 900

    def setup(self, rows, section):
        self.figures = Path(tempfile.mkdtemp(prefix="bench-report-"))
        self.arguments = (_settings(), Progress(len(SECTIONS), io.StringIO()), self.figures)
        if section == "deviations":
            self.arguments += ([dict(row) for row in rows],)

    def teardown(self, rows, section):
        shutil.rmtree(self.figures, ignore_errors=True)

    def time_section(self, rows, section):
        SECTIONS[section](*self.arguments)
