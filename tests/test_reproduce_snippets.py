"""Every catalog entry's ``reproduce`` snippet runs without this project and makes the
very values its target draws.

One child process per library (and per Keras backend) runs with ``python -I`` and
``verify`` made unimportable, so a snippet that still needs this project fails there. It
runs every snippet of the library at a small shape and seed; this process draws the same
shape and seed through the target and the two must be equal, bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find

from verify import catalog
from verify.adapters import ContractError, DtypeUnsupported
from verify.upstream.snippets import PRELUDE, draw_function

SEED = 20261201

CHILD = '''
import json, sys, traceback
sys.modules["verify"] = None  # this project is not there: import verify fails
import numpy as np
jobs = json.load(sys.stdin)
out = {}
for key, source in jobs.items():
    try:
        namespace = {}
        exec(compile(source, key, "exec"), namespace)
        w = namespace["draw"](SEED)
        w = np.asarray(w).astype(np.complex128)
        out[key] = {"real": w.real.ravel().tolist(), "imag": w.imag.ravel().tolist(),
                    "shape": list(w.shape)}
    except BaseException:
        out[key] = {"error": traceback.format_exc(limit=3)}
print(json.dumps(out))
'''.replace("SEED", str(SEED))

GROUPS = [(name, None) for name in catalog.LIBRARIES if name != "keras"] + [
    ("keras", backend) for backend in catalog.KERAS_BACKENDS]


def _shape(entry) -> tuple[int, ...]:
    """A small shape the entry takes, with at least 6 entries where it can."""
    if entry.shapes is None:
        return (3, 5)
    strategy = entry.shapes()
    try:
        return tuple(find(strategy, lambda s: math.prod(s) >= 6))
    except Exception:
        return tuple(find(strategy, lambda s: True))


@pytest.mark.parametrize("library, backend", GROUPS,
                         ids=[f"{n}-{b}" if b else n for n, b in GROUPS])
def test_snippets_run_alone_and_agree(library, backend):
    found = catalog.load([library], backends=[backend] if backend else None)
    if not found.entries:
        pytest.skip("; ".join(found.skipped.values()) or f"{library} has no entries")
    jobs, expected = {}, {}
    for entry in found.entries:
        shape = _shape(entry)
        for dtype in entry.dtypes:
            try:
                target = entry.target(dtype)
            except DtypeUnsupported:
                continue
            key = f"{entry.label} [{dtype}]"
            assert target.reproduce, f"{key}: no reproduce snippet"
            assert "verify" not in target.reproduce, f"{key} imports this project"
            jobs[key] = PRELUDE + draw_function(target.reproduce, shape)
            try:
                expected[key] = np.asarray(target.sample(shape, SEED)).astype(np.complex128)
            except (DtypeUnsupported, ContractError):  # refused, or not the dtype asked for:
                jobs.pop(key)  # no values to compare (its conformance row says why)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if backend:
        environment["KERAS_BACKEND"] = backend
    # A snippet that turns JAX's x64 on changes JAX's default dtype for every later one in
    # its process: those run in a child of their own.
    results: dict = {}
    for x64 in (False, True):
        group = {key: source for key, source in jobs.items()
                 if ("jax_enable_x64" in source) == x64}
        if not group:
            continue
        done = subprocess.run([sys.executable, "-I", "-c", CHILD], input=json.dumps(group),
                              capture_output=True, text=True, timeout=900, env=environment)
        assert done.returncode == 0, done.stderr[-3000:]
        results.update(json.loads(done.stdout.strip().splitlines()[-1]))
    problems = []
    for key, want in expected.items():
        got = results[key]
        if "error" in got:
            problems.append(f"{key}: {got['error']}")
            continue
        values = (np.asarray(got["real"]) + 1j * np.asarray(got["imag"])).reshape(got["shape"])
        if values.shape != want.shape:
            problems.append(f"{key}: shape {values.shape}, the target draws {want.shape}")
        elif not np.array_equal(values, want, equal_nan=True):
            problems.append(f"{key}: values differ from the target's "
                            f"(max |difference| {np.max(np.abs(values - want)):.3g})")
    assert not problems, f"{len(problems)} of {len(jobs)} snippets:\n" + "\n".join(problems)
