"""Progress of a report run on stderr: a bar per section with the item at hand on a
terminal, one line per finished item in a log (CI, a pipe)."""

from __future__ import annotations

import time
from typing import TextIO

from verify.progress import StatusLine, clock


class Progress:
    """``start(section, total)``, then ``item(label)`` when an item begins, ``done(label,
    status)`` when it ends (or ``fraction(done, total)`` for long inner loops), then
    ``finish(summary)``."""

    def __init__(self, sections: int, stream: TextIO | None = None) -> None:
        self.status = StatusLine(stream)
        self.tty = self.status.tty
        self.sections, self.index = sections, 0
        self.name, self.total, self.count = "", 0, 0
        self.label, self.started, self.item_started = "", 0.0, 0.0
        self.inner: tuple[int, int] | None = None

    def start(self, name: str, total: int) -> None:
        self.index += 1
        self.name, self.total, self.count = name, total, 0
        self.started = time.perf_counter()
        self.label, self.inner = "", None
        if not self.tty:
            self.status.line(f"[{self.index}/{self.sections}] {name}: {total} items")
        self._draw()

    def item(self, label: str) -> None:
        self.label, self.inner = label, None
        self.item_started = time.perf_counter()
        self._draw()

    def fraction(self, done: int, total: int) -> None:
        """An inner loop's progress within the current item (a tty redraws; a log
        gets a line every tenth)."""
        previous = self.inner
        self.inner = (done, total)
        if self.tty:
            self._draw()
        elif previous is None or 10 * done // total != 10 * previous[0] // previous[1]:
            self.status.line(f"    {self.label}: {done}/{total}")

    def done(self, label: str, status: str = "", *, seconds: float | None = None) -> None:
        """Item ``label`` ended; ``seconds`` it took, where it did not run between
        :meth:`item` and now (a unit on a worker)."""
        self.count += 1
        if seconds is None:
            seconds = time.perf_counter() - self.item_started
        if not self.tty:
            tail = f": {status}" if status else ""
            self.status.line(f"    [{self.count}/{self.total}] {label}{tail} ({seconds:.1f} s)")
        self.label, self.inner = "", None
        self._draw()

    def finish(self, summary: str) -> float:
        elapsed = time.perf_counter() - self.started
        self.status.line(f"[{self.index}/{self.sections}] {self.name}: {summary} "
                   f"({clock(elapsed)})")
        return elapsed

    def note(self, text: str) -> None:
        self.status.line(text)

    def executor(self, text: str) -> None:
        """A line of the executor (:mod:`verify.execute`: the unit starting in this
        process, or the cluster's units done and running): on a terminal, the item at
        hand; in a log, a line."""
        if self.tty:
            self.label, self.inner = text, None
            self.item_started = time.perf_counter()
            self._draw()
        else:
            self.status.line(f"    {text}")

    def _draw(self) -> None:
        if not self.tty:
            return
        width = 24
        filled = int(width * self.count / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        inner = f" {self.inner[0]}/{self.inner[1]}" if self.inner else ""
        elapsed = clock(time.perf_counter() - self.started)
        text = (f"[{self.index}/{self.sections}] {self.name} [{bar}] {self.count}/{self.total} "
                f"{elapsed} {self.label}{inner}")
        self.status.draw(text)
