"""The executor on real Dask processes: a ``dask scheduler`` and two ``dask worker``
processes on loopback, an embedded ``LocalCluster``, a worker killed mid-run, a run
interrupted and resumed, a hung unit ended. Every wait is bounded, and everything a test
starts is stopped, also when it fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("distributed")

from tests.dask_cluster import ENVIRONMENT, ROOT, _stop, _wait_for
from verify.execute import Options, Unit, run_units
from verify.execute.cluster import ClusterMismatch, check_workers
from verify.execute.store import Store

TIMINGS = ("seconds", "generation_seconds")
SMALL = ["conformance", "--library", "torch", "--dtype", "float32", "--examples", "2",
         "--no-fingerprint", "--json"]


def verify(*arguments: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", *arguments], capture_output=True,
                          text=True, env=ENVIRONMENT, timeout=timeout, cwd=ROOT)


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The small torch catalog on the embedded LocalCluster (2 workers)."""
    out = tmp_path_factory.mktemp("embedded")
    done = verify(*SMALL, "--workers", "2", "--out", str(out))
    assert done.returncode in (0, 1), done.stderr
    assert "(embedded LocalCluster)" in done.stderr
    return json.loads(done.stdout)


def test_an_existing_cluster_gives_the_embedded_clusters_results(cluster, embedded, tmp_path):
    done = verify(*SMALL, "--scheduler", cluster["address"], "--out", str(tmp_path))
    assert done.returncode in (0, 1), done.stderr
    assert f"on 2 Dask workers at {cluster['address']}" in done.stderr
    remote = json.loads(done.stdout)
    assert len(remote["entries"]) == len(embedded["entries"]) >= 20
    assert _without_timings(remote["entries"]) == _without_timings(embedded["entries"])


def test_in_process_gives_the_same_results(embedded, tmp_path):
    done = verify(*SMALL, "--workers", "0", "--out", str(tmp_path))
    assert done.returncode in (0, 1), done.stderr
    assert "Dask" not in done.stderr
    assert _without_timings(json.loads(done.stdout)["entries"]) == \
        _without_timings(embedded["entries"])


def test_a_worker_killed_mid_run_loses_no_unit(cluster, embedded, tmp_path):
    """SIGKILL to one worker process once a few units have finished: its unit runs again
    elsewhere (its nanny starts a fresh worker), and every unit is in the results."""
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "verify", *SMALL, "--scheduler",
                            cluster["address"], "--out", str(out)], env=ENVIRONMENT, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        _wait_for(lambda: len(list((out / "units").glob("*.json"))) >= 3, 300,
                  "three finished units")
        import psutil

        nanny = psutil.Process(cluster["processes"][1].pid)
        workers = nanny.children(recursive=True)
        assert workers, "the nanny has no worker process"
        for worker in workers:
            worker.kill()
        print(f"killed worker process(es) {[w.pid for w in workers]} of nanny {nanny.pid}")
        stdout, stderr = run.communicate(timeout=600)
    finally:
        _stop(run)
    assert run.returncode in (0, 1), stderr
    entries = json.loads(stdout)["entries"]
    assert len(entries) == len(embedded["entries"])
    print(f"{len(entries)} units accounted for; verdicts "
          f"{sorted({e['verdict'] for e in entries})}")
    assert _without_timings(entries) == _without_timings(embedded["entries"])
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_an_interrupted_run_stops_everything_and_resumes(tmp_path):
    import psutil

    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "verify", *SMALL, "--workers", "2",
                            "--out", str(out)], env=ENVIRONMENT, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        _wait_for(lambda: len(list((out / "units").glob("*.json"))) >= 2, 300,
                  "two finished units")
        children = psutil.Process(run.pid).children(recursive=True)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=120)
    finally:
        _stop(run)
    assert run.returncode == 130, stderr
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running: {[p.pid for p in alive]}"
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert not [p for p in (out / "units").iterdir() if not p.name.endswith(".json")
                or p.name.startswith(".")], "a half-written file is left"
    finished = len(list((out / "units").glob("*.json")))
    done = verify(*SMALL, "--workers", "2", "--out", str(out), "--resume")
    assert done.returncode in (0, 1), done.stderr
    assert f"{finished} of " in done.stderr and "unchanged since the stored run" in done.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert len(json.loads(done.stdout)["entries"]) >= 20


def test_a_hung_call_ends_its_unit_on_a_worker(tmp_path):
    """A call bounded at 1 s that sleeps 600 s: an error with the reason, the other units
    done, the run over in well under the sleep."""
    units = [Unit(f"unit {i}", _sleepy, {"seconds": 600 if i == 1 else 0})
             for i in range(3)]
    start = time.monotonic()
    records = run_units(units, Options(workers=2, timeout=1.0),
                        store=Store(tmp_path, command="test", context={}, resume=False))
    assert time.monotonic() - start < 180
    statuses = {r.key: (r.status, r.error) for r in records}
    assert statuses["unit 0"] == ("done", "") and statuses["unit 2"] == ("done", "")
    status, error = statuses["unit 1"]
    assert status == "error" and error.startswith("timeout:") and "1 s" in error


def test_a_session_keeps_one_cluster_for_several_runs():
    """Two runs inside ``session``: the same two embedded workers serve both (a cluster
    per run would bring two new worker addresses)."""
    from verify.execute import session

    options = Options(workers=2)
    units = [Unit(f"unit {i}", _sleepy, {"seconds": 0}) for i in range(4)]
    with session(options):
        records = run_units(units, options) + run_units(units, options)
    assert all(r.status == "done" for r in records)
    workers = {r.worker for r in records}
    assert len(workers) <= 2 and all(w.startswith("tcp://") for w in workers), workers


def _sleepy(seconds: float) -> str:
    from verify.execute.watchdog import bounded

    with bounded(1.0, "a sleepy call"):
        time.sleep(seconds)
    return "slept"


class _Client:
    class scheduler:
        address = "tcp://127.0.0.1:1"

    def __init__(self, identities):
        self.identities = identities

    def run(self, function, *arguments):
        return self.identities


def test_workers_with_other_versions_are_refused():
    from verify.execute.cluster import identity

    here = identity(["torch"])
    assert check_workers(_Client({"tcp://w:1": dict(here)}), ["torch"]) == 1
    other = {**here, "torch": "1.0.0"}
    with pytest.raises(ClusterMismatch, match=r"runs torch 1\.0\.0"):
        check_workers(_Client({"tcp://w:1": here, "tcp://w:2": other}), ["torch"])
    with pytest.raises(ClusterMismatch, match="this project's code"):
        check_workers(_Client({"tcp://w:1": {**here, "code": "0" * 16}}), ["torch"])


def test_pytest_split_groups_are_disjoint_and_cover_the_module():
    """The README's recipe for many hosts: --splits N --group k (pytest-split)."""
    pytest.importorskip("pytest_split")

    def collected(*extra: str) -> set[str]:
        done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_fans.py",
                               "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        return {line for line in done.stdout.splitlines() if "::" in line}

    whole = collected()
    groups = [collected("--splits", "2", "--group", str(k)) for k in (1, 2)]
    assert all(groups) and len(whole) >= 10
    assert sum(len(g) for g in groups) == len(whole) and set().union(*groups) == whole


def test_several_models_are_units_with_the_same_results(tmp_path):
    arguments = ["audit", "torch:nn.Linear", "torch:nn.Conv2d", "--examples", "0", "--json"]
    embedded = verify(*arguments, "--workers", "2", "--out", str(tmp_path / "a"))
    alone = verify(*arguments, "--workers", "0", "--out", str(tmp_path / "b"))
    assert embedded.returncode == alone.returncode == 0, embedded.stderr + alone.stderr
    assert "(embedded LocalCluster)" in embedded.stderr and "Dask" not in alone.stderr
    timings = ("elapsed",)

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in timings}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    assert strip(json.loads(embedded.stdout)["audits"]) == \
        strip(json.loads(alone.stdout)["audits"])
    assert len(list((tmp_path / "a" / "units").glob("*.json"))) == 2


def test_progress_counts_the_units_executing_not_those_queued_behind_them(cluster):
    """A worker holds more units than its one thread runs (``Client.processing``); the
    progress line counts those it runs: one per single-threaded worker."""
    from distributed import Client

    from verify.execute.cluster import _status

    with Client(cluster["address"], timeout="30s") as client:
        futures = [client.submit(time.sleep, 20, key=f"sleep-{i}", pure=False)
                   for i in range(6)]
        try:
            _wait_for(lambda: sum(map(len, client.processing().values())) > 2, 60,
                      "more units on the workers than their two threads")
            _wait_for(lambda: "2 running" in _status(
                client, {f.key: f.key for f in futures}, 0, 0, 6), 30, "two executing")
            line = _status(client, {f.key: f.key for f in futures}, 0, 0, 6)
            assert line == "0/6 units done, 2 running, 0 failed"
            assert max(map(len, client.processing().values())) > 1  # queued ones exist
        finally:
            client.cancel(futures, force=True)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's reaper may be slow, or absent in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("wrapped", [True, False], ids=["bound", "plain"])
def test_a_units_bound_child_ends_with_the_process_that_started_it(wrapped):
    """``history``'s pip and release children are bound (verify.execute.lifetime): a
    worker killed mid-unit (Ctrl-C, a restart) takes them with it. A plain child, the
    control, outlives its parent."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         "from verify.execute.lifetime import bound\n"
         f"command = {sleeper!r}\n"
         f"child = subprocess.Popen(bound(command) if {wrapped} else command)\n"
         "print(child.pid, flush=True)\ntime.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, env=ENVIRONMENT, cwd=ROOT)
    child = 0
    try:
        child = int(parent.stdout.readline())
        time.sleep(1.0)  # the wrapper has exec'd the sleeper
        assert _running(child)
        parent.kill()
        parent.wait(timeout=30)
        if wrapped:
            _wait_for(lambda: not _running(child), 30, "the bound child to end")
        else:
            time.sleep(2.0)
            assert _running(child)
    finally:
        parent.kill()
        if child and _running(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("command", [
    ["conformance", "--library", "torch", "--only", "torch:zeros_"],
    ["audit", "torch:nn.Linear", "torch:nn.Conv2d"],
    ["audit", "--zoo", "transformers", "--only", "GPT2Model"],
    ["report", "--quick", "--store"],
], ids=["conformance", "audit", "zoo", "report"])
def test_a_results_store_that_is_a_file_is_one_line_and_exit_2(command, tmp_path, capsys):
    """Found by hand: conformance --out FILE ended in a NotADirectoryError traceback."""
    from verify.cli import main

    if command[0] == "audit" and command[1] == "--zoo":
        pytest.importorskip("transformers")
    a_file = tmp_path / "file"
    a_file.write_text("mine")
    option = [] if command[-1] == "--store" else ["--out"]
    extra = ["--out", str(tmp_path / "report")] if command[0] == "report" else []
    status = main([*command, *option, str(a_file), *extra])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "is a file, not a directory" in captured.err
    assert a_file.read_text() == "mine" and not (tmp_path / "report").exists()
