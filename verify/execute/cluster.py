"""Units on Dask: an embedded ``LocalCluster``, or an existing cluster's scheduler.

An embedded cluster has one single-threaded worker process per core (``--workers N``),
each with one BLAS thread, not daemonic (a unit may start processes of its own: Keras's
other backends, Paddle beside TensorFlow), and a scheduler that runs a unit again on
another worker when its worker dies, at most :data:`~verify.execute.RETRIES` more times.
An existing cluster keeps its own settings; its workers must run this project's code and
the same versions of the libraries under test (:func:`check_workers`), else the run stops
before it submits anything (:class:`ClusterMismatch`, exit 2).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ClusterMismatch(ValueError):
    """The cluster cannot run this command as this process would: one line, exit 2."""


def identity(libraries: Sequence[str]) -> dict[str, str]:
    """What must agree between this process and every worker."""
    from verify.execute.store import code_digest
    from verify.versions import versions

    found = versions(*libraries)
    found.pop("python", None)
    return {"code": code_digest()[:16], **found}


def check_workers(client, libraries: Sequence[str]) -> int:
    """The number of workers; :class:`ClusterMismatch` with the first difference."""
    here = identity(libraries)
    try:
        theirs = client.run(identity, list(libraries))
    except Exception as error:
        raise ClusterMismatch(f"cannot ask the cluster's workers their versions: {error}; "
                              "install this project on them (pip install -e .)") from None
    if not theirs:
        raise ClusterMismatch("the cluster has no workers: start some with "
                              f"dask worker {client.scheduler.address}")
    for worker, found in theirs.items():
        for name, version in here.items():
            if found.get(name) != version:
                what = "this project's code" if name == "code" else name
                raise ClusterMismatch(
                    f"worker {worker} runs {what} {found.get(name, 'not installed')}, this "
                    f"process {version}: install the same versions on every worker")
    return len(theirs)


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


_KEPT: dict = {}
"""Inside :func:`kept`: its options, and the connection once a run has made it."""


@contextlib.contextmanager
def kept(options):
    """One connection (and embedded cluster) for every run on ``options`` inside, made
    when a run first needs it; closed at the end."""
    if _KEPT:  # a session inside a session: the outer one keeps the cluster
        yield
        return
    _KEPT["options"] = options
    try:
        yield
    finally:
        client, cluster = _KEPT.pop("connection", (None, None))
        _KEPT.clear()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _connection(options) -> tuple:
    """``(client, cluster, owned)``: a kept connection (not ``owned``: the session closes
    it), else a new one this run closes."""
    if _KEPT.get("options") != options:
        return (*connect(options), True)
    if "connection" not in _KEPT:
        _KEPT["connection"] = connect(options)
    return (*_KEPT["connection"], False)


def connect(options) -> tuple:
    """``(client, cluster)``: ``cluster`` is the embedded one, ``None`` for an existing."""
    import dask
    from distributed import Client, LocalCluster

    # the scheduler of an embedded cluster, and the client, log in this process at INFO,
    # which reaches any root handler a library under test installed (Paddle's prints them)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="15s")
        except OSError as error:
            raise ClusterMismatch(f"cannot reach the Dask scheduler at {options.scheduler}: "
                                  f"{error}") from None
        try:
            check_workers(client, options.libraries)
        except BaseException:
            client.close()
            raise
        return client, None
    settings = {"distributed.scheduler.allowed-failures": options.retries,
                "distributed.worker.daemon": False,
                "distributed.admin.tick.limit": "1h",
                "logging.distributed": "error",
                # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, which
                # also stops glibc from raising its mmap threshold: every large tensor is
                # then mapped and unmapped afresh. A report's training claim took 67 s on a
                # worker against 24 s in this process, 64 s here with the variable set.
                "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=options.workers or _cores(), threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR, env=dict(THREADS))
    return Client(cluster), cluster


def run_on_cluster(units, options, finished: Callable, say: Callable[[str], None]) -> None:
    from distributed import as_completed

    from verify.execute import Record, call_unit

    client, cluster, owned = _connection(options)
    run = uuid.uuid4().hex[:8]
    futures = {}
    try:
        workers = len(client.scheduler_info()["workers"])
        say(f"{len(units)} units on {workers} Dask workers"
            + (f" at {options.scheduler}" if options.scheduler else " (embedded LocalCluster)"))
        for index, unit in enumerate(units):
            future = client.submit(call_unit, unit.function, unit.arguments, True,
                                   key=f"verify-{run}-{index}", pure=False)
            futures[future] = unit
        names = {future.key: unit.key for future, unit in futures.items()}
        done = failed = 0
        shown = 0.0
        for future, outcome in as_completed(futures, with_results=True, raise_errors=False):
            unit = futures[future]
            if future.status == "error" or isinstance(outcome, BaseException):
                error = outcome if isinstance(outcome, BaseException) else future.exception()
                record = Record(unit.key, "error",
                                error=f"the unit's worker died {options.retries + 1} times "
                                f"running it ({type(error).__name__}: {error})")
            else:
                record = Record(unit.key, outcome["status"], outcome.get("result"),
                                outcome.get("error", ""), outcome.get("worker", ""),
                                outcome.get("seconds", 0.0))
                if outcome.get("hung"):
                    _restart(client, outcome.get("worker"), say)
            finished(unit, record)
            done += 1
            failed += record.status == "error"
            now = time.monotonic()
            if now - shown > (0.2 if sys.stderr.isatty() else 2.0) or done == len(units):
                say(_status(client, names, done, failed, len(units)))
                shown = now
    except KeyboardInterrupt:
        client.cancel(list(futures), force=True)  # this run's own work only
        raise
    finally:
        if owned:
            client.close()
            if cluster is not None:
                cluster.close()


def _restart(client, worker: str | None, say) -> None:
    """End a hung unit's thread: restart the worker that holds it (its nanny starts a
    fresh one)."""
    if not worker:
        return
    try:
        client.restart_workers([worker], timeout=60)
        say(f"restarted worker {worker}: a unit hung there")
    except Exception as error:  # the run goes on; the unit is already recorded
        say(f"could not restart worker {worker} ({error})")


def _executing(dask_worker) -> list[str]:
    """The keys a worker is executing now (run on each worker by :func:`_status`)."""
    return [task.key for task in dask_worker.state.executing]


def _status(client, names: dict, done: int, failed: int, total: int) -> str:
    """``done/total, running, failed``, and on a terminal each worker's unit. Running
    means executing: a worker also holds units queued behind its thread
    (``Client.processing``), which are not counted."""
    try:
        executing = client.run(_executing, on_error="return")
    except Exception:
        executing = {}
    running = {worker: [names[k] for k in keys if k in names]
               for worker, keys in executing.items() if isinstance(keys, list)}
    count = sum(len(keys) for keys in running.values())
    line = f"{done}/{total} units done, {count} running, {failed} failed"
    if sys.stderr.isatty():
        parts = [f"{worker.rsplit(':', 1)[-1]}: {keys[0]}" for worker, keys in running.items()
                 if keys]
        if parts:
            line += " | " + "; ".join(parts)
    return line
