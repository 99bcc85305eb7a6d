"""The results store: one directory per command run, one JSON file per unit, streamed as
units finish, that a later run resumes from (``--out DIR``, ``--resume``).

Layout::

    DIR/run.json             the run: command, seed, settings, versions, code, status
    DIR/units/<digest>.json  one unit: its key, inputs, status, result or error

A unit's digest hashes everything its result depends on: its key and arguments, the run
seed and settings, the versions of this project and of the libraries, and this project's
own code (:func:`code_digest`). ``--resume`` takes a stored unit whose digest matches
instead of running it again; anything changed, and the unit runs. Every file is written
whole (a temporary file, then a rename): an interrupted run leaves finished units and
nothing half-written.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

UNITS = "units"
RUN = "run.json"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over this project's Python sources (``verify/**/*.py``) and specs."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.toml")]):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stable(value) -> str:
    """A text for a value JSON cannot hold that is the same in every run: a function or a
    class by its import path (its ``str`` holds a memory address), else its ``repr`` (a
    dataclass's lists its fields; an object whose ``repr`` has an address changes the
    digest each run, so its unit runs again: never a stale result)."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return repr(value)


def unit_digest(key: str, arguments: dict, context: dict) -> str:
    text = json.dumps({"key": key, "arguments": arguments, "context": context},
                      sort_keys=True, default=_stable)
    return hashlib.sha256(text.encode()).hexdigest()


PICKLED = "pickled"
"""The key of a stored result that JSON cannot hold (a report's claim result, a figure's
PNG bytes): the value pickled, in base64. A store is read back only by the runs of the
user who wrote it (``--resume``): loading a pickle runs code, so take no store from
elsewhere."""


def encode_result(value):
    """``value`` as it is when it is JSON (a command's rows), else ``{PICKLED: base64}``."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        pass
    return {PICKLED: base64.b64encode(pickle.dumps(value)).decode("ascii")}


def decode_result(value):
    """The value :func:`encode_result` stored."""
    if isinstance(value, dict) and set(value) == {PICKLED}:
        return pickle.loads(base64.b64decode(value[PICKLED]))
    return value


def write_json(path: Path, value) -> None:
    """``value`` as JSON at ``path``, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(value, stream, indent=1, default=str)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Store:
    """The results of one command's run in ``directory``."""

    def __init__(self, directory: Path | str, *, command: str, context: dict,
                 resume: bool) -> None:
        self.directory = Path(directory)
        self.command, self.context, self.resume = command, context, resume
        self.units = self.directory / UNITS
        self.cached: dict[str, dict] = {}
        if resume and self.units.is_dir():
            for path in self.units.glob("*.json"):
                try:
                    record = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue  # not ours, or unreadable: the unit runs again
                if record.get("status") in ("done", "error") and record.get("final", True):
                    self.cached[path.stem] = record
        elif self.units.is_dir():
            for path in self.units.glob("*.json"):  # a new run: the old results go
                path.unlink(missing_ok=True)
        self.units.mkdir(parents=True, exist_ok=True)
        self.started = time.time()

    def digest(self, key: str, arguments: dict) -> str:
        return unit_digest(key, arguments, self.context)

    def lookup(self, key: str, arguments: dict) -> dict | None:
        """The stored record of an unchanged unit (``--resume``), else ``None``."""
        return self.cached.get(self.digest(key, arguments))

    def put(self, key: str, arguments: dict, record: dict) -> None:
        digest = self.digest(key, arguments)
        write_json(self.units / f"{digest}.json",
                   {"key": key, "arguments": arguments, "digest": digest, **record})

    def mark(self, status: str, **extra) -> None:
        """The run's manifest: ``running``, ``complete`` or ``interrupted``."""
        write_json(self.directory / RUN, {
            "command": self.command, "status": status, "context": self.context,
            "started": self.started, "updated": time.time(), **extra})
