"""``check`` shows its progress on stderr: one line per shape in a log, a redrawn status
line on a terminal; stdout keeps only the result."""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys

import pytest
from hypothesis import strategies as st

from verify.check_progress import CheckProgress
from verify.explore import Example, explore
from verify.stats import CheckResult, Verdict

USER_MODULE = '''
import math
import numpy as np

def he(shape, rng):
    fan_in = shape[1] * math.prod(shape[2:])
    return rng.standard_normal(shape).astype(np.float32) * math.sqrt(2 / fan_in)

def doubled(shape, rng):  # twice He's standard deviation: four times its variance
    fan_in = shape[1] * math.prod(shape[2:])
    return rng.standard_normal(shape).astype(np.float32) * 2 * math.sqrt(2 / fan_in)
'''

LOG_LINE = re.compile(r"^\[(exploring|shrinking)\] shape (\d+) (\([\d, ]+\)): "
                      r"(pass|suspicious|fail), variance ratio ([\d.]+) \([\d.]+ s\)"
                      r"(, best so far)?$")


@pytest.fixture
def user_env(tmp_path):
    (tmp_path / "progressinit.py").write_text(USER_MODULE)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), os.environ.get("PYTHONPATH", "")])}


def check_command(function: str, examples: int) -> list[str]:
    return [sys.executable, "-m", "verify", "check", f"progressinit:{function}", "--api",
            "numpy", "--scheme", "he", "--dist", "normal", "--examples", str(examples),
            "--seed", "3", "--json"]


def progress_lines(stderr: str) -> list[re.Match]:
    lines = stderr.splitlines()
    assert lines[0].startswith("checking progressinit:"), stderr
    matches = [LOG_LINE.match(line) for line in lines[1:]]
    assert all(matches), stderr  # nothing but progress lines, no escape codes
    assert [int(m[2]) for m in matches] == list(range(1, len(matches) + 1))
    return matches


def shape_text(shape: list[int]) -> str:
    return str(tuple(shape))


def test_a_log_gets_one_line_per_shape_and_stdout_stays_one_json_document(user_env):
    result = subprocess.run(check_command("he", 3), capture_output=True, text=True,
                            env=user_env, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # nothing else on stdout
    assert "\033" not in result.stderr and "\r" not in result.stderr
    lines = progress_lines(result.stderr)
    assert len(lines) == 3  # a passing check tries --examples shapes
    assert [m[3] for m in lines] == [shape_text(s) for s in document["shapes_tested"]]
    assert {m[1] for m in lines} == {"exploring"}
    assert {m[4] for m in lines} == {"pass"}
    for line in lines:
        assert abs(float(line[5]) - 1) < 0.1


def test_a_failing_target_logs_the_shrinking_stage_and_the_best_counterexample(user_env):
    result = subprocess.run(check_command("doubled", 2), capture_output=True, text=True,
                            env=user_env, timeout=300)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    counterexample = document["counterexample"]
    lines = progress_lines(result.stderr)
    assert {m[3] for m in lines} == {shape_text(s) for s in document["shapes_tested"]}
    first = lines[0]  # the first failing shape is found while exploring
    assert (first[1], first[4], first[6]) == ("exploring", "fail", ", best so far")
    assert math.isclose(float(first[5]), 4, rel_tol=0.1)
    after = lines[1:]  # then hypothesis only shrinks (here: it replays the minimal shape)
    assert after and {m[1] for m in after} == {"shrinking"}
    best = [m for m in lines if m[6]][-1]
    assert best[3] == shape_text(counterexample["shape"])
    assert math.isclose(float(best[5]), counterexample["variance_ratio"], rel_tol=1e-3)


def test_a_terminal_gets_a_redrawn_status_line_that_is_cleared_at_the_end(user_env):
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    process = subprocess.Popen(check_command("doubled", 2), stdout=subprocess.PIPE,
                               stderr=follower, env=user_env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = process.stdout.read()
    assert process.wait(timeout=300) == 1
    os.close(leader)
    stderr = b"".join(chunks).decode()
    document = json.loads(stdout)
    shape = shape_text(document["counterexample"]["shape"])

    assert stderr.startswith("checking progressinit:doubled against he-normal")
    drawn = [part for part in stderr.split("\r\033[K") if part]
    assert "exploring | shape 1: " + shape in drawn[1]  # before the first shape's result
    assert any(f"shrinking | shape 2: {shape} | 1 tried, 0:" in part for part in drawn)
    assert any("| 2 tried, " in part and f"best counterexample {shape}, variance ratio 4."
               in part for part in drawn)
    assert stderr.endswith("\r\033[K")  # the status line is erased: the table starts clean
    assert not any(line.startswith("[") for line in stderr.splitlines())  # no log lines


# --- the observer, in-process ----------------------------------------------------------

def _results(variance: float) -> tuple[CheckResult, ...]:
    ok = variance < 1.5
    return (CheckResult("variance", variance, 1.0, (variance, variance), variance - 1,
                        1.0 if ok else 0.0, 100, 0.01, "relative",
                        Verdict.PASS if ok else Verdict.FAIL),)


def test_explore_tells_the_observer_each_case_and_the_stage():
    seen: list[tuple[str, object, str]] = []

    class Observer:
        def on_start(self, case, stage):
            seen.append(("start", case, stage))

        def on_example(self, example, stage):
            seen.append(("end", example.case, stage))

    exploration = explore("wide", st.integers(0, 1000),
                          lambda case, seed: _results(2.0 if case >= 100 else 1.0),
                          seed=1, max_examples=20, observer=Observer())
    assert exploration.counterexample.case == 100
    assert len(seen) == 2 * len(exploration.examples)
    for start, end, example in zip(seen[::2], seen[1::2], exploration.examples, strict=True):
        assert start[:2] == ("start", example.case) and end[:2] == ("end", example.case)
        assert start[2] == end[2]
    stages = [end[2] for end in seen[1::2]]
    first_failure = next(i for i, e in enumerate(exploration.examples) if e.case >= 100)
    assert set(stages[:first_failure + 1]) == {"exploring"}
    assert set(stages[first_failure + 1:]) == {"shrinking"}


def test_an_observer_that_raises_ends_the_search_and_is_not_shrunk():
    calls = []

    class ClosedPipe:
        def on_start(self, case, stage):
            calls.append(case)

        def on_example(self, example, stage):
            raise BrokenPipeError("stderr closed")

    with pytest.raises(BrokenPipeError):
        explore("pipe", st.integers(0, 1000), lambda case, seed: _results(1.0), seed=1,
                max_examples=20, observer=ClosedPipe())
    assert len(calls) == 1


def test_the_best_counterexample_follows_the_shrinking(monkeypatch):
    # a wide terminal: the status line is cut at the terminal's width, which a StringIO
    # does not have (shutil then reads COLUMNS, else stdout's terminal, else 100)
    monkeypatch.setenv("COLUMNS", "200")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = CheckProgress(stream)
    for case, variance, stage in [((64, 32), 1.0, "exploring"), ((9, 5, 3), 4.0, "exploring"),
                                  ((1, 5, 3), 1.0, "shrinking"), ((3, 1), 3.9, "shrinking")]:
        progress.on_start(case, stage)
        progress.on_example(Example(case, _results(variance)), stage)
    progress.on_start((2, 1), "shrinking")
    drawn = stream.getvalue().split("\r\033[K")
    assert drawn[-1].startswith("shrinking | shape 5: (2, 1) | 4 tried, 0:00 | "
                                "best counterexample (3, 1), variance ratio 3.9")
    progress.finish()
    assert stream.getvalue().endswith("\r\033[K")

    log = io.StringIO()
    progress = CheckProgress(log)
    for case, variance, stage in [((9, 5, 3), 4.0, "exploring"), ((9, 5, 3), 4.0, "shrinking"),
                                  ((3, 1), 3.9, "shrinking")]:
        progress.on_start(case, stage)
        progress.on_example(Example(case, _results(variance)), stage)
    lines = log.getvalue().splitlines()
    assert [bool(LOG_LINE.match(line)[6]) for line in lines] == [True, False, True]
