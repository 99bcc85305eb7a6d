"""The conformance matrix: one row per catalog entry, as ``conformance`` prints it and
the report shows it.

A row is a JSON-ready dict: the entry (target, library, kind), what its documentation
claims and where (``documented``, ``convention``), the verdict of :func:`check`, the
minimal failing shape with its one-line reproduction, and for an entry that does not
conform, the fingerprint of what it does instead (with the measured and the claimed
variance at each of the fingerprint's shapes).
"""

from __future__ import annotations

import dataclasses
import shlex
import signal
import threading
import time

from verify.adapters import ContractError, DtypeUnsupported, LibraryMissing, Target
from verify.conformance import DEFAULT_MAX_CALLS, TargetError, check
from verify.precision import is_complex
from verify.stats import Verdict


def with_timeout(sampler, seconds: float):
    """Abort a call that takes longer than ``seconds``: SIGALRM in the main thread; off it
    (a Dask worker's thread), the unit's watchdog (:mod:`verify.execute.watchdog`). A
    :class:`~verify.adapters.Target` stays one, with its stacked draw timed too."""
    if seconds <= 0:
        return sampler
    if threading.current_thread() is not threading.main_thread():
        return _watched(sampler, seconds)
    timer = _Timeout(seconds)
    if isinstance(sampler, Target):
        return dataclasses.replace(sampler, sample=timer.bound(sampler.sample),
                                   stacked=sampler.stacked and timer.bound(sampler.stacked))
    return timer.bound(sampler)


def _watched(sampler, seconds: float):
    from verify.execute.watchdog import CLOCK

    clock = CLOCK.get()
    if clock is None:
        return sampler

    def bound(function):
        def call(*arguments):
            with clock.bound(seconds, "one call of the initializer"):
                return function(*arguments)

        stacked = getattr(function, "stacked", None)
        if stacked is not None:
            call.stacked = bound(stacked)
        return call

    if isinstance(sampler, Target):
        return dataclasses.replace(sampler, sample=bound(sampler.sample),
                                   stacked=sampler.stacked and bound(sampler.stacked))
    return bound(sampler)


class _Timeout:
    """Calls bounded by ``seconds`` of wall time each (SIGALRM).

    The handler is installed once, at the first call, and left in place: swapping
    handlers around every call cost 3 us, 17 us on a loaded machine, more than a small
    fill, and a check makes up to 20,000 calls per shape. Each call only arms and
    disarms the timer (1 us); an alarm that finds no call running goes to the handler
    that was there before.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running, self.installed, self.previous = False, False, None

    def _expired(self, signum, frame):
        if self.running:
            raise ContractError("timeout", f"one call took longer than {self.seconds:g} s; "
                                "raise --timeout if the initializer is just slow")
        if callable(self.previous):
            self.previous(signum, frame)

    def bound(self, function):
        def call(*arguments):
            if not self.installed:
                self.previous = signal.signal(signal.SIGALRM, self._expired)
                self.installed = True
            self.running = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            try:
                return function(*arguments)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                self.running = False

        stacked = getattr(function, "stacked", None)  # a plain sampler with a stacked fill
        if stacked is not None:
            call.stacked = self.bound(stacked)
        return call


def fingerprint_entry(entry, target, seed: int, timeout: float, layout=None):
    from verify.fingerprint import fingerprint

    return fingerprint(with_timeout(target, timeout), layout=layout or target.layout,
                       shapes=entry.shapes() if entry is not None and entry.shapes else None,
                       seed=seed, name=target.name,
                       max_calls=entry.max_calls if entry is not None else DEFAULT_MAX_CALLS)


def conformance_row(entry, *, seed: int, examples: int, timeout: float,
                    fingerprint: bool = True, progress=None, dtype: str = "float32") -> dict:
    """Check one catalog entry, asked for ``dtype``, against its documented claim;
    fingerprint it if it fails. A dtype the initializer refuses is the verdict
    ``not supported``, with the library's reason.

    ``progress(text)`` is told when the fingerprint starts (it takes seconds)."""
    start = time.perf_counter()
    backend = getattr(entry, "backend", "")
    row = {"target": entry.name, "library": entry.library,
           **({"backend": backend} if backend else {}), "dtype": dtype, "kind": entry.kind,
           "claim": entry.claim.describe(), "documented": entry.documented,
           "convention": entry.convention,
           "claimed_distribution": getattr(entry.claim, "dist", None)}
    try:
        target = entry.target(dtype) if hasattr(entry, "target") else entry.build()
        report = check(with_timeout(target, timeout), entry.claim,
                       shapes=entry.shapes() if entry.shapes else None, seed=seed,
                       max_examples=examples, name=entry.name,
                       reproduce=f"python -m verify check {shlex.quote(entry.name)} "
                       + (f"--backend {backend} " if backend else "")
                       + (f"--dtype {dtype} " if dtype != "float32" else "")
                       + f"--shape {{shape}} --seed {seed}", max_calls=entry.max_calls)
        row.update(verdict=report.verdict.value, counterexample=report.counterexample,
                   shapes_tested=len(report.shapes_tested),
                   checks=report.exploration.checks_run,
                   generation_seconds=round(report.generation_seconds, 2))
        # the fingerprint fits real laws: not a complex dtype's
        if report.verdict is not Verdict.PASS and fingerprint and hasattr(entry.claim, "law") \
                and not is_complex(dtype):
            if progress is not None:
                progress("fingerprinting")
            found = fingerprint_entry(entry, target, seed, timeout)
            printed = found.to_dict()
            if hasattr(entry.claim, "variance"):
                for shape in printed["shapes"]:
                    shape["claimed_variance"] = float(entry.claim.variance(tuple(shape["shape"])))
            row["fingerprint"] = {**printed, "explanation": found.explain(entry.claim)}
    except DtypeUnsupported as error:
        row.update(verdict="not supported", reason=str(error), counterexample=None)
    except (TargetError, ContractError, LibraryMissing) as error:
        row.update(verdict="error", error=str(error), counterexample=None)
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def skipped_rows(skipped: dict[str, str]) -> list[dict]:
    """Rows for the libraries that are not installed."""
    rows = []
    for library, reason in skipped.items():
        name, _, backend = library.partition("[")  # keras[torch]: one backend of Keras
        rows.append({"target": f"{name}:*", "library": name,
                     **({"backend": backend.rstrip("]")} if backend else {}),
                     "verdict": "skipped", "reason": reason})
    return rows


def label(row: dict) -> str:
    """A row's target, with its Keras backend and its dtype where it has them
    (``keras:GlorotUniform [torch, bfloat16]``; float32 is not named): the key of a row
    among several backends and dtypes."""
    extra = [part for part in (row.get("backend"), row.get("dtype")) if part
             and part != "float32"]
    return f"{row['target']} [{', '.join(extra)}]" if extra else row["target"]
