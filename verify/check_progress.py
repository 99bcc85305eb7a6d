"""What ``check`` is doing while it works, on stderr.

On a terminal, one line redrawn as each shape starts and ends::

    shrinking | shape 13: (3, 1) | 12 tried, 0:15 | best counterexample (7, 1), variance ratio 4.011

In a log (stderr is not a terminal), one line per shape tried, and nothing redrawn::

    [shrinking] shape 12 (7, 1): fail, variance ratio 4.011 (1.1 s), best so far
    [shrinking] shape 13 (3, 1): fail, variance ratio 3.996 (0.9 s), best so far

The stage is ``exploring`` until a first counterexample is found, ``shrinking`` after.
"""

from __future__ import annotations

import time
from typing import TextIO

from verify.conformance import Report
from verify.explore import Example
from verify.progress import StatusLine, clock
from verify.stats import Verdict


def _shape(case: object) -> str:
    return str(tuple(case))


class CheckProgress:
    """A :class:`verify.explore.Observer` for :func:`verify.conformance.check`: ``note(text)``
    for a line that stays, then the check's calls, then ``finish()``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.status = StatusLine(stream)
        self.started = time.perf_counter()
        self.case_started = self.started
        self.tried = 0
        self.best: Example | None = None
        """The smallest counterexample so far: every failing shape hypothesis tries while it
        shrinks is smaller than the last one."""

    def note(self, text: str) -> None:
        self.status.line(text)

    def on_start(self, case: object, stage: str) -> None:
        self.case_started = time.perf_counter()
        self._draw(stage, f"shape {self.tried + 1}: {_shape(case)}")

    def on_example(self, example: Example, stage: str) -> None:
        self.tried += 1
        seconds = time.perf_counter() - self.case_started
        smaller = example.verdict is Verdict.FAIL and (
            self.best is None or tuple(self.best.case) != tuple(example.case))
        if smaller:
            self.best = example
        if self.status.tty:
            self._draw(stage, f"shape {self.tried}: {_shape(example.case)} {example.verdict}")
            return
        self.status.line(f"[{stage}] shape {self.tried} {_shape(example.case)}: "
                         f"{example.verdict}{_ratio(example)} ({seconds:.1f} s)"
                         + (", best so far" if smaller else ""))

    def finish(self) -> None:
        """Erase the status line, so that what follows prints on a clean line."""
        self.status.clear()

    def _draw(self, stage: str, shape: str) -> None:
        if not self.status.tty:
            return
        parts = [stage, shape, f"{self.tried} tried, {clock(time.perf_counter() - self.started)}"]
        if self.best is not None:
            parts.append(f"best counterexample {_shape(self.best.case)}{_ratio(self.best)}")
        self.status.draw(" | ".join(parts))


def _ratio(example: Example) -> str:
    ratio = Report.variance_ratio(example.results)
    return "" if ratio is None else f", variance ratio {ratio:.4g}"
