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

from verify.adapters import ContractError, LibraryMissing, Target
from verify.conformance import DEFAULT_MAX_CALLS, TargetError, check
from verify.stats import Verdict


def with_timeout(sampler, seconds: float):
    """Abort a call that takes longer than ``seconds`` (main thread only). A
    :class:`~verify.adapters.Target` stays one, with its stacked draw timed too."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return sampler

    def expired(signum, frame):
        raise ContractError("timeout", f"one call took longer than {seconds:g} s; raise "
                            "--timeout if the initializer is just slow")

    def timed(function):
        def call(*arguments):
            # The handler stays installed between calls, and only the timer is armed and
            # disarmed per call: signal.signal costs 3 us a call, 17 us on a loaded machine.
            if signal.getsignal(signal.SIGALRM) is not expired:
                signal.signal(signal.SIGALRM, expired)
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                return function(*arguments)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)

        return call

    if isinstance(sampler, Target):
        return dataclasses.replace(sampler, sample=timed(sampler.sample),
                                   stacked=sampler.stacked and timed(sampler.stacked))
    return timed(sampler)


def fingerprint_entry(entry, target, seed: int, timeout: float, layout=None):
    from verify.fingerprint import fingerprint

    return fingerprint(with_timeout(target, timeout), layout=layout or target.layout,
                       shapes=entry.shapes() if entry is not None and entry.shapes else None,
                       seed=seed, name=target.name,
                       max_calls=entry.max_calls if entry is not None else DEFAULT_MAX_CALLS)


def conformance_row(entry, *, seed: int, examples: int, timeout: float,
                    fingerprint: bool = True, progress=None) -> dict:
    """Check one catalog entry against its documented claim; fingerprint it if it fails.

    ``progress(text)`` is told when the fingerprint starts (it takes seconds)."""
    start = time.perf_counter()
    row = {"target": entry.name, "library": entry.library, "kind": entry.kind,
           "claim": entry.claim.describe(), "documented": entry.documented,
           "convention": entry.convention,
           "claimed_distribution": getattr(entry.claim, "dist", None)}
    try:
        target = entry.build()
        report = check(with_timeout(target, timeout), entry.claim,
                       shapes=entry.shapes() if entry.shapes else None, seed=seed,
                       max_examples=examples, name=entry.name,
                       reproduce=f"python -m verify check {shlex.quote(entry.name)} "
                       f"--shape {{shape}} --seed {seed}", max_calls=entry.max_calls)
        row.update(verdict=report.verdict.value, counterexample=report.counterexample,
                   shapes_tested=len(report.shapes_tested),
                   checks=report.exploration.checks_run,
                   generation_seconds=round(report.generation_seconds, 2))
        if report.verdict is not Verdict.PASS and fingerprint and hasattr(entry.claim, "law"):
            if progress is not None:
                progress("fingerprinting")
            found = fingerprint_entry(entry, target, seed, timeout)
            printed = found.to_dict()
            if hasattr(entry.claim, "variance"):
                for shape in printed["shapes"]:
                    shape["claimed_variance"] = float(entry.claim.variance(tuple(shape["shape"])))
            row["fingerprint"] = {**printed, "explanation": found.explain(entry.claim)}
    except (TargetError, ContractError, LibraryMissing) as error:
        row.update(verdict="error", error=str(error), counterexample=None)
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def skipped_rows(skipped: dict[str, str]) -> list[dict]:
    """Rows for the libraries that are not installed."""
    return [{"target": f"{library}:*", "library": library, "verdict": "skipped",
             "reason": reason} for library, reason in skipped.items()]
