"""Catalog targets drawn in a child process: for libraries that cannot share one process.

Two cases need it:

* **Keras backends.** Keras 3 fixes its backend when it is imported (``KERAS_BACKEND``), so
  a run that covers several backends draws each one's entries in its own child, started
  with that backend in its environment;
* **PaddlePaddle after TensorFlow.** Importing ``tensorflow`` and then ``paddle`` in one
  process crashes it (a segmentation fault at import, seen with tensorflow 2.21.0 and
  paddlepaddle 3.3.1; the other order works). When TensorFlow is already loaded, the
  Paddle entries are drawn in a child.

A :class:`Child` is one persistent interpreter (``python -m verify.adapters.remote``) that
loads a library's catalog entries and answers ``sample`` and ``stacked`` calls over a
socket pair (pickled NumPy arrays; a round trip costs about 0.1 ms plus the copy).
:func:`remote_target` wraps an entry as a :class:`~verify.adapters.Target` whose draws come
from the child: the seeds, and so the tensors, are the same as in-process.

A call that is interrupted (a ``--timeout``, Ctrl-C) leaves the child mid-answer: it is
ended, and the next call starts a new one, which builds its targets again. A child that
cannot load its library (a backend that is not installed, an import that crashes) makes
the entries :class:`~verify.adapters.LibraryMissing`, with the child's own last line.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from verify.adapters import ContractError, DtypeUnsupported, LibraryMissing, Target

QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2", "PYTHONWARNINGS": "ignore"}
"""Environment that keeps TensorFlow's and Paddle's start-up logs out of the child's
error file (they are not errors)."""


class RemoteError(Exception):
    """An exception raised in the child, by the library: ``str(error)`` is its type and
    message."""


class Child:
    """One child interpreter with ``environment`` added to this process's environment."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)
        self.process: subprocess.Popen | None = None
        self.connection: Connection | None = None
        self.recipes: list[tuple] = []
        """The loads and builds that succeeded: a new child replays them."""
        self.errors: Any = None

    # -- life cycle ----------------------------------------------------------------------

    def _start(self) -> None:
        parent, child = socket.socketpair()
        self.errors = tempfile.TemporaryFile()
        environment = {**os.environ, **QUIET, **self.environment}
        environment.setdefault("OMP_NUM_THREADS", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "verify.adapters.remote", str(child.fileno())],
            pass_fds=(child.fileno(),), env=environment, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self.errors)
        child.close()
        self.connection = Connection(parent.detach())

    def close(self) -> None:
        """End the child (it exits when its socket closes; killed if it does not)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.errors is not None:
            self.errors.close()
            self.errors = None

    def _last_error_line(self) -> str:
        if self.errors is None:
            return ""
        self.errors.seek(0)
        lines = [line.strip() for line in self.errors.read().decode(errors="replace")
                 .splitlines() if line.strip()]
        return lines[-1] if lines else ""

    # -- calls ---------------------------------------------------------------------------

    def call(self, *message: Any) -> Any:
        """Send ``message``, return the answer. A child found dead is started again (its
        loads and builds replayed) and asked once more: a draw is a function of its seed,
        so asking twice is harmless; a child that dies twice is reported."""
        for attempt in (1, 2):
            try:
                return self._answer(self._exchange(message))
            except _Ended as ended:
                if attempt == 2:
                    raise LibraryMissing(f"the child process for {self.describe()} ended "
                                         f"({ended})") from None
        raise AssertionError("unreachable")

    def _exchange(self, message: tuple) -> tuple:
        if self.process is None or self.process.poll() is not None:
            self.close()
            self._start()
            for replay in self.recipes:
                self._answer(self._send(replay))
        return self._send(message)

    def _send(self, message: tuple) -> tuple:
        try:
            self.connection.send(message)
            return self.connection.recv()
        except (EOFError, OSError):
            code = self.process.wait() if self.process is not None else None
            line = self._last_error_line()
            self.close()
            raise _Ended(f"exit status {code}{': ' + line if line else ''}") from None
        except BaseException:  # interrupted mid-answer (a timeout, Ctrl-C): start afresh
            self.kill()
            raise

    @staticmethod
    def _answer(answer: tuple) -> Any:
        status, *value = answer
        if status == "ok":
            return value[0]
        if status == "contract":
            raise ContractError(value[0], value[1])
        if status == "missing":
            raise LibraryMissing(value[0])
        if status == "unsupported":
            raise DtypeUnsupported(value[0])
        raise RemoteError(value[0])

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
        self.close()

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.environment.items()) or "a library"

    def load(self, library: str) -> dict:
        """Load ``library``'s catalog in the child: ``{"backend": KERAS_BACKEND or ""}``."""
        return self._remember("load", library)

    def build(self, library: str, name: str, dtype: str = "float32") -> dict:
        """Build the target of the entry ``name`` asked for ``dtype`` in the child: its
        name, layout, reproduction and whether it has a stacked draw."""
        self.load(library)
        return self._remember("build", library, name, dtype)

    def _remember(self, *message: Any) -> Any:
        answer = self.call(*message)
        if message not in self.recipes:
            self.recipes.append(message)
        return answer


class _Ended(Exception):
    """The child process ended during a call."""


_CHILDREN: dict[tuple[tuple[str, str], ...], Child] = {}


def child(environment: Mapping[str, str]) -> Child:
    """The shared child for ``environment`` (started at its first call)."""
    key = tuple(sorted(environment.items()))
    if key not in _CHILDREN:
        _CHILDREN[key] = Child(environment)
    return _CHILDREN[key]


@atexit.register
def close_all() -> None:
    """End every child (at exit, and after a run)."""
    for running in _CHILDREN.values():
        running.close()


def remote_target(library: str, name: str, environment: Mapping[str, str],
                  dtype: str = "float32") -> Target:
    """The catalog entry ``name`` of ``library`` asked for ``dtype``, drawn in the child for
    ``environment``."""
    worker = child(environment)
    info = worker.build(library, name, dtype)
    key = (name, dtype)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        return worker.call("sample", key, tuple(int(d) for d in shape), int(seed))

    def stacked(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
        return worker.call("stacked", key, tuple(int(d) for d in shape), int(count),
                           int(seed))

    return Target(info["name"], library, sample, layout=info["layout"],
                  reproduce=info["reproduce"], stacked=stacked if info["stacked"] else None,
                  dtype=dtype)


# -- the child's side ----------------------------------------------------------------------


def serve(fd: int) -> None:
    """Answer calls on the socket ``fd`` until it closes."""
    from verify import catalog

    connection = Connection(fd)
    entries: dict[str, Any] = {}
    targets: dict[str, Target] = {}
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        op, *arguments = message
        try:
            if op == "load":
                (library,) = arguments
                try:
                    found = catalog.load([library])
                except Exception as error:  # an import that fails otherwise: skipped too
                    raise LibraryMissing(f"{library} cannot be loaded here: "
                                         f"{type(error).__name__}: {error}") from None
                if library in found.skipped:
                    raise LibraryMissing(found.skipped[library])
                entries.update({e.name: e for e in found.entries})
                reply: Any = {"backend": os.environ.get("KERAS_BACKEND", "")}
            elif op == "build":
                _, name, dtype = arguments
                target = entries[name].target(dtype)
                targets[(name, dtype)] = target
                reply = {"name": target.name, "layout": target.layout,
                         "reproduce": target.reproduce, "stacked": target.stacked is not None}
            elif op == "sample":
                name, shape, seed = arguments
                reply = np.asarray(targets[name].sample(shape, seed))
            elif op == "stacked":
                name, shape, count, seed = arguments
                reply = np.asarray(targets[name].stacked(shape, count, seed))
            else:
                raise ValueError(f"unknown call {op!r}")
            answer: tuple = ("ok", reply)
        except ContractError as error:
            answer = ("contract", error.check, str(error))
        except LibraryMissing as error:
            answer = ("missing", str(error))
        except DtypeUnsupported as error:
            answer = ("unsupported", str(error))
        except Exception as error:  # the library raised: the parent reports it
            answer = ("error", f"{type(error).__name__}: {error}")
        try:
            connection.send(answer)
        except (OSError, BrokenPipeError):
            return


if __name__ == "__main__":
    serve(int(sys.argv[1]))
