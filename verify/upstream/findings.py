"""Bug reports from what the commands found: a conformance row, an audit finding, a
release history."""

from __future__ import annotations

import math
import shlex

from verify.upstream.program import calls_for, facts, program
from verify.upstream.report import BugReport
from verify.upstream.snippets import PRELUDE, draw_function

KERAS_BACKEND_DISTRIBUTIONS = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow",
                               "numpy": "numpy"}


def distributions(library: str, backend: str = "") -> tuple[str, ...]:
    """The distributions whose versions a report names: the library's own, and Keras's
    backend."""
    from verify.history import library as spec

    found = spec(library)
    names = (found.requirement.split("[")[0], *found.own)
    if library == "tf_keras":
        names += ("tensorflow",)
    if backend:
        names += (KERAS_BACKEND_DISTRIBUTIONS.get(backend, backend),)
    return names


def library_versions(library: str, backend: str = "") -> dict[str, str]:
    from verify.versions import versions

    names = distributions(library, backend)
    found = versions(*names)
    # the library first, under its catalog name, then the rest
    ordered = {library: found.get(names[0], "not installed")}
    ordered.update({k: v for k, v in found.items() if k != names[0]})
    return ordered


def _number(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def measured_rows(checks: list[dict]) -> list[dict]:
    """The check results of a conformance counterexample as report rows."""
    rows = []
    for check in checks:
        low, high = (check.get("interval") or [None, None])[:2]
        interval = f"[{_number(low)}, {_number(high)}]" if low is not None else ""
        rows.append({"check": check.get("name", ""), "documented": _number(check.get("expected")),
                     "measured": _number(check.get("estimate")), "interval": interval,
                     "p": _number(check.get("pvalue")), "n": _number(check.get("n")),
                     "verdict": check.get("verdict", "")})
    return rows


def from_conformance(entry, row: dict, target, *, seed: int, history: dict | None = None,
                     found_by: str | None = None) -> BugReport | None:
    """The report of a conformance row that failed (or broke its contract); ``None`` for a
    row that passed. ``target`` is the entry's target at the row's dtype (its snippet)."""
    if row.get("verdict") not in ("fail", "error"):
        return None
    backend = row.get("backend", "")
    dtype = row.get("dtype", "float32")
    label = entry.label if hasattr(entry, "label") else entry.name
    example = row.get("counterexample") or {}
    shape = tuple(example["shape"]) if example.get("shape") else None
    found_by = found_by or (f"python -m verify conformance --library {entry.library} --only "
                f"{shlex.quote(entry.name)}" + (f" --backend {backend}" if backend else "")
                + f" --dtype {dtype} --seed {seed}")
    if example.get("reproduce"):
        found_by += "\n" + example["reproduce"]
    ratio = example.get("variance_ratio")
    failed = ", ".join(example.get("failed", [])) or row.get("error", "an error")
    where = f" ({dtype}" + (f", Keras on {backend}" if backend else "") + ")"
    if row["verdict"] == "error":
        title = f"{label}{where} breaks its calling contract: {row.get('error', '')}"
    elif ratio is not None and abs(ratio - 1) > 0.01:
        title = (f"{label}{where} draws {ratio:.3g}x the documented variance at shape "
                 f"{'x'.join(map(str, shape))}")
    else:
        title = f"{label}{where} departs from its documented law ({failed})"
    instead = (row.get("fingerprint") or {}).get("explanation", "")
    snippet = getattr(target, "reproduce", "")
    code, note = None, ""
    if snippet and shape is not None:
        calls = calls_for(entry.claim, shape, dtype, entry.max_calls)
        try:
            documented = facts(entry.claim, shape, dtype, calls * math.prod(shape))
        except ValueError as error:
            documented, note = None, str(error)
        if documented is not None:
            code = program(title=f"{label}{where}: {entry.claim.describe()} at shape {shape}",
                           snippet=snippet, shape=shape, documented=documented, calls=calls,
                           header=f"Reproduction: {title}.\n\nNeeds only {entry.library} "
                           "and NumPy. Exit status 1 while the deviation is there.")
    elif snippet:
        shape = shape or (3, 5)
        code = (PRELUDE + "\n\n" + draw_function(snippet, shape) + "\n\nw = draw(0)\n"
                "print(w.dtype, w.shape)\nprint(w)\n")
        note = (f"The check stopped on: {row.get('error', '')}. The script makes the same "
                "call; what it prints (or raises) shows it.")
    return BugReport(library=entry.library, target=label, title=title,
                     versions=library_versions(entry.library, backend),
                     documented=entry.documented, claim=entry.claim.describe(),
                     found_by=found_by, measured=measured_rows(example.get("checks", [])),
                     shape=shape, dtype=dtype, backend=backend, convention=entry.convention,
                     instead=instead, program=code, program_note=note, history=history)
