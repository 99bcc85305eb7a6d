"""Timeouts that hold off the main thread.

``signal.setitimer`` works only in the main thread, and a Dask worker runs its tasks in
threads of its own. There, a unit runs in a thread of its own while the task's thread
watches a :class:`Clock`: every bounded call (an initializer's call, a model's build)
starts and stops it, and a call running past its bound ends the watch. The unit is then
recorded as an error with the reason; the thread that hangs cannot be stopped from
Python, so the worker that holds it is restarted (:mod:`verify.execute.cluster`), and a
hang is not retried.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

CLOCK: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("verify_clock",
                                                                      default=None)


class Hung(Exception):
    """A call ran past its bound: ``str(error)`` says which and how long."""


class Clock:
    """The bounded call now running in a unit's thread, and since when."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._call: tuple[str, float, float] | None = None  # (what, start, bound)

    @contextlib.contextmanager
    def bound(self, seconds: float, what: str):
        with self._lock:
            self._call = (what, time.monotonic(), seconds)
        try:
            yield
        finally:
            with self._lock:
                self._call = None

    def overdue(self) -> str | None:
        """Why the running call is overdue, or ``None``."""
        with self._lock:
            call = self._call
        if call is None:
            return None
        what, start, seconds = call
        elapsed = time.monotonic() - start
        if elapsed > seconds:
            return (f"{what} did not return within {seconds:g} s (hung {elapsed:.0f} s; "
                    "raise --timeout if it is just slow)")
        return None


@contextlib.contextmanager
def bounded(seconds: float, what: str):
    """Bound a call off the main thread: a no-op unless a unit's clock is set."""
    clock = CLOCK.get()
    if clock is None or not seconds or seconds <= 0:
        yield
        return
    with clock.bound(seconds, what):
        yield


def run_watched(function: Callable[..., Any], arguments: dict, *,
                poll: float = 0.2) -> Any:
    """``function(**arguments)`` in a thread of its own, under a fresh :class:`Clock`;
    :class:`Hung` if a bounded call in it overruns (the thread is left behind)."""
    clock = Clock()
    context = contextvars.copy_context()
    context.run(CLOCK.set, clock)
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = context.run(function, **arguments)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, name="verify-unit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll)
        late = clock.overdue()
        if late is not None and thread.is_alive():
            raise Hung(late)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
