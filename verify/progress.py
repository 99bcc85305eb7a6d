"""Status of a long run on stderr: one line redrawn in place on a terminal, plain lines in
a log (CI, a pipe, a file), where escape codes would only be noise.

Commands build their own displays on :class:`StatusLine` (the report's sections in
:mod:`verify.report.progress`).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

_CLEAR = "\r\033[K"  # back to the start of the line, erase it


def clock(seconds: float) -> str:
    """``m:ss``."""
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class StatusLine:
    """``draw(text)`` replaces the status line (on a terminal only), ``line(text)`` writes a
    line that stays (in a log, the only kind), ``clear()`` erases the status line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.shown = False

    def draw(self, text: str) -> None:
        if not self.tty:
            return
        self._write(_CLEAR + text[:self._columns() - 1])  # a wrapped line could not be redrawn
        self.shown = True

    def line(self, text: str) -> None:
        self._write((_CLEAR if self.shown else "") + text + "\n")
        self.shown = False

    def clear(self) -> None:
        if self.shown:
            self._write(_CLEAR)
            self.shown = False

    def _columns(self) -> int:
        """The width of the stream's own terminal (stdout may be a file while stderr is a
        terminal); a terminal that does not know its size counts as 100 wide."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # not a file: a test's stream
            columns = 0
        return columns if columns > 0 else shutil.get_terminal_size((100, 20)).columns

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
