"""The executor: the independent units of a command, run in this process, on an embedded
Dask ``LocalCluster``, or on an existing Dask cluster.

A :class:`Unit` is a key (its identity: what it computes, never its position), a function
importable on the workers, and JSON-ready keyword arguments. Its result must not depend
on where or in which order it runs: every unit derives its seeds from the run seed and
its own identity, and every worker has one BLAS thread (:mod:`verify.threads`).

:func:`run_units` runs them: in this process for a single unit or ``--workers 0``;
otherwise on a ``LocalCluster`` of ``--workers`` processes (default: every core), or on the
cluster at ``--scheduler`` (or ``$VERIFY_DASK_SCHEDULER``), after checking that its
workers run this project's code and the libraries' versions (:mod:`.cluster`). Results are
streamed into a :class:`~verify.execute.store.Store` as they finish, and ``--resume``
takes the stored results of unchanged units. A command that calls it several times (a
round or a section at a time) keeps one cluster for all of them inside :func:`session`.

Faults: a unit's own exception is its result (an error, with the reason; not retried:
it would fail again). A worker that dies mid-unit makes the scheduler run the unit
elsewhere, up to :data:`RETRIES` times, then the unit is an error with the reason. A
bounded call that hangs (``--timeout``) ends the unit as an error and restarts its
worker; a hang is not retried. Ctrl-C cancels this run's units (and stops an embedded
cluster) and leaves the finished units in the store.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

RETRIES = 2
"""Runs of a unit after the first, on other workers, when its worker dies."""


@dataclass(frozen=True)
class Unit:
    key: str
    function: Callable[..., Any]
    arguments: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """How to run: ``workers`` (None: every core; 0: in this process), ``scheduler``
    (an address: an existing cluster), the bound of one call (``timeout``), and the
    distributions whose versions the workers must share."""

    workers: int | None = None
    scheduler: str | None = None
    timeout: float = 60.0
    libraries: tuple[str, ...] = ()
    retries: int = RETRIES

    @classmethod
    def from_args(cls, args, libraries: Sequence[str] = ()) -> Options:
        """From ``--workers`` (else ``$VERIFY_WORKERS``), ``--scheduler`` (else
        ``$VERIFY_DASK_SCHEDULER``) and ``--timeout``."""
        workers = getattr(args, "workers", None)
        if workers is None and os.environ.get("VERIFY_WORKERS", "").strip():
            text = os.environ["VERIFY_WORKERS"].strip()
            if not text.isdigit():
                raise ValueError(f"VERIFY_WORKERS={text!r} is not a non-negative integer")
            workers = int(text)
        return cls(workers=workers,
                   scheduler=getattr(args, "scheduler", None)
                   or os.environ.get("VERIFY_DASK_SCHEDULER") or None,
                   timeout=getattr(args, "timeout", 60.0) or 0.0,
                   libraries=tuple(libraries))


@dataclass
class Record:
    """A unit's outcome: ``done`` with its ``result``, or ``error`` with the reason."""

    key: str
    status: str
    result: Any = None
    error: str = ""
    worker: str = ""
    seconds: float = 0.0
    cached: bool = False

    def to_store(self) -> dict:
        from verify.execute.store import encode_result

        return {"status": self.status, "result": encode_result(self.result), "error": self.error,
                "worker": self.worker, "seconds": round(self.seconds, 3)}


def call_unit(function: Callable[..., Any], arguments: dict, watched: bool) -> dict:
    """What a worker runs: the unit, with its exception as a result and, off the main
    thread, under the watchdog. Returns ``{"status", "result" | "error", "hung"}``."""
    from verify.execute.watchdog import Hung, run_watched

    start = time.perf_counter()
    worker = _worker_name()
    try:
        value = run_watched(function, arguments) if watched else function(**arguments)
        return {"status": "done", "result": value, "worker": worker,
                "seconds": time.perf_counter() - start}
    except Hung as error:
        return {"status": "error", "error": f"timeout: {error}", "hung": True,
                "worker": worker, "seconds": time.perf_counter() - start}
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return {"status": "error", "error": f"{type(error).__name__}: {first}",
                "trace": traceback.format_exc(limit=6), "worker": worker,
                "seconds": time.perf_counter() - start}


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "in-process"


def run_units(units: Sequence[Unit], options: Options, *, store=None,
              progress: Callable[[str], None] | None = None,
              finished: Callable[[Record], None] | None = None,
              last: bool = True) -> list[Record]:
    """Run ``units``; their records, in the order given. ``finished`` is told each record
    as it is known (taken from the store, or as its unit ends). ``last=False``: a round of
    a command that runs several (``history``), which marks its store complete itself."""
    from verify.execute.store import decode_result

    say = progress or (lambda text: None)
    told = finished or (lambda record: None)
    records: dict[str, Record] = {}
    pending = []
    for unit in units:
        stored = store.lookup(unit.key, unit.arguments) if store is not None else None
        if stored is not None:
            records[unit.key] = Record(unit.key, stored["status"],
                                       decode_result(stored.get("result")),
                                       stored.get("error", ""), stored.get("worker", ""),
                                       stored.get("seconds", 0.0), cached=True)
            told(records[unit.key])
        else:
            pending.append(unit)
    if store is not None:
        store.mark("running", units=len(units), cached=len(units) - len(pending))
        if len(pending) < len(units):
            say(f"{len(units) - len(pending)} of {len(units)} units unchanged since the "
                "stored run: not run again")

    def done(unit: Unit, record: Record) -> None:
        records[unit.key] = record
        if store is not None:
            store.put(unit.key, unit.arguments, record.to_store())
        told(record)

    try:
        if pending and (options.scheduler or (len(pending) > 1 and options.workers != 0)):
            from verify.execute.cluster import run_on_cluster

            run_on_cluster(pending, options, done, say)
        else:
            for index, unit in enumerate(pending, 1):
                say(f"[{index}/{len(pending)}] {unit.key} ...")
                outcome = call_unit(unit.function, unit.arguments, watched=False)
                done(unit, _record(unit, outcome))
    except KeyboardInterrupt:
        if store is not None:
            store.mark("interrupted", units=len(units), finished=len(records))
        raise
    if store is not None and last:
        store.mark("complete", units=len(units),
                   errors=sum(r.status == "error" for r in records.values()))
    return [records[unit.key] for unit in units]


@contextlib.contextmanager
def session(options: Options) -> Iterator[None]:
    """Keep one cluster for every :func:`run_units` call inside, for a command that runs
    its units in several rounds (``history``'s bisection, ``report``'s sections): the
    embedded cluster starts once, when a call first needs it, and stops at the end (also
    on an exception); a connection to ``--scheduler`` is made once."""
    from verify.execute.cluster import kept

    with kept(options):
        yield


def _record(unit: Unit, outcome: dict) -> Record:
    return Record(unit.key, outcome["status"], outcome.get("result"),
                  outcome.get("error", ""), outcome.get("worker", ""),
                  outcome.get("seconds", 0.0))
