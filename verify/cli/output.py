"""What the commands print on stderr while they work (stdout keeps only the result)."""

from __future__ import annotations

import sys


def progress(text: str) -> None:
    """One status line: redrawn in place on a terminal, one line each in a log."""
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def end_progress() -> None:
    """End the status line on a terminal, so that what follows starts a clean line."""
    if sys.stderr.isatty():
        print(file=sys.stderr)
