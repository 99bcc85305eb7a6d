"""A real Dask cluster for tests: a ``dask scheduler`` and two single-threaded ``dask
worker`` processes (with nannies) on 127.0.0.1, each a process group of its own, stopped
at the end of the module that uses :func:`cluster`, also when a test fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
               "VERIFY_WORKERS": ""}
"""For the commands a test runs: this checkout first, and the executor's own default
(conftest.py runs the rest of the suite in-process)."""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(15)


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds:g} s for {what}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real scheduler and two single-threaded workers (with nannies), each a process
    group of its own; their address and PIDs."""
    from distributed import Client

    directory = tmp_path_factory.mktemp("dask")
    scheduler_file = directory / "scheduler.json"
    started = []
    try:
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            env=ENVIRONMENT, cwd=directory, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for(scheduler_file.exists, 60, "the scheduler's file")
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            started.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                 "1", "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1",
                 "--local-directory", str(directory)],
                env=ENVIRONMENT, cwd=directory, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
        yield {"address": address, "processes": started}
    finally:
        for process in reversed(started):
            _stop(process)


