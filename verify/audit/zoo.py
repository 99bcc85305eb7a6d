"""A model zoo: every architecture of a model library audited from a small config.

``python -m verify audit --zoo transformers`` audits each base model class of the
installed transformers' auto mapping (``MODEL_MAPPING_NAMES``: one class per model type,
each class once), one unit per architecture on the executor (:mod:`verify.execute`):

* its **starting config** (:func:`verify.audit.hf.starting_config`): the first of an
  all-small config, one with the default widths, one with only the layer counts small,
  that the config class accepts and that builds under the cap of entries;
* its **expected laws**: the built-in spec where there is one, else the generic init's
  documented config semantics where the model keeps it
  (:mod:`verify.audit.specs.generic`), else its layers' framework defaults; and the
  anomaly checks in every case;
* :data:`EXAMPLES` configs drawn around it by hypothesis (``--examples``);
* a build count that depends on the model alone (:data:`BUDGET`: at most
  :data:`ENTRIES` entries kept over all builds, no bound in seconds), so that the results
  are the same on any executor, given the seed.

An architecture that does not build from a small config (its config class rejects every
candidate, its model raises or needs a library that is not installed, it stays above the
cap) is *not buildable*, with the reason in one line; a unit whose audit itself breaks is
an *error*, with the reason.
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Sequence

from verify.audit.engine import Budget

EXAMPLES = 2
"""Configs hypothesis draws around each architecture's starting config (``--examples``)."""
ENTRIES = 2**23
"""Entries kept over all builds of one audit: about 60 builds of a 140k-entry model, 2 of
a model above 4 M entries (8.4 M float64 values, 64 MiB)."""
BUDGET = Budget(seconds=None, entries=ENTRIES)
LIBRARIES = ("transformers",)
FINDING_FIELDS = ("kind", "tensors", "detail", "expected", "measured", "citation",
                  "blocking", "waived", "config", "replay")
TIMINGS = ("elapsed", "seconds", "wall_seconds")
"""The fields of a zoo's JSON that are timings (the rest is the same on every executor)."""


def architectures(library: str = "transformers") -> list[tuple[str, tuple[str, ...]]]:
    """``(model class, model types)`` of every base model class in the library's auto
    mapping, each class once with every model type that maps to it, sorted by class
    name."""
    if library not in LIBRARIES:
        raise ValueError(f"no zoo for {library!r}: use one of {', '.join(LIBRARIES)}")
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    found: dict[str, tuple[str, ...]] = {}
    for model_type, names in MODEL_MAPPING_NAMES.items():
        for name in (names,) if isinstance(names, str) else names:
            found[name] = (*found.get(name, ()), model_type)
    return sorted(found.items(), key=lambda item: item[0].lower())


def _matches(name: str, kinds: tuple[str, ...], pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(text, pattern) for text in (name, *kinds))


def select(found: Sequence[tuple[str, tuple[str, ...]]], patterns: Sequence[str] | None
           ) -> list[tuple[str, tuple[str, ...]]]:
    """The architectures whose class name or one of whose model types matches one of
    ``patterns`` (shell-style, case-sensitive: ``'GPT2*'``, ``'llama'``); all of them
    without patterns. A pattern that matches none is a ``ValueError``."""
    if not patterns:
        return list(found)
    for pattern in patterns:
        if not any(_matches(name, kinds, pattern) for name, kinds in found):
            raise ValueError(f"--only {pattern!r} matches no architecture of the installed "
                             "transformers: give a model class such as 'GPT2Model' or a "
                             "model type such as 'gpt2' (shell-style patterns)")
    return [(name, kinds) for name, kinds in found
            if any(_matches(name, kinds, pattern) for pattern in patterns)]


def audit_architecture(model_class: str, *, seed: int, examples: int = EXAMPLES,
                       timeout: float = 60.0) -> dict:
    """One architecture's row: its verdict (``pass``, ``fail``, ``not buildable``,
    ``error``), why when it was not audited, and its findings."""
    from verify.audit import BuildError, audit_model

    start = time.perf_counter()
    row = {"architecture": model_class, "target": f"transformers:{model_class}"}
    try:
        result = audit_model(row["target"], seed=seed, examples=examples, timeout=timeout,
                             budget=BUDGET)
    except BuildError as error:
        return {**row, "verdict": "not buildable", "reason": _one_line(str(error)),
                **_empty(start)}
    except Exception as error:  # the audit itself broke: an error row, the zoo goes on
        return {**row, "verdict": "error",
                "reason": _one_line(f"{type(error).__name__}: {error}"), **_empty(start)}
    findings = [{key: value for key, value in finding.to_dict().items()
                 if key in FINDING_FIELDS} for finding in result.findings]
    return {**row, "verdict": result.verdict, "reason": None,
            "expected": _expectation(result.spec), "spec": result.spec,
            "builds": result.builds, "tensors": len(result.tensors),
            "explored": (result.explored or {}).get("audits", 0),
            "findings": findings,
            "replay": result.replay.replace("{seed}", str(result.seed))
            if result.replay else None,
            "elapsed": round(time.perf_counter() - start, 3)}


def _expectation(origin: str | None) -> str:
    from verify.audit.specs.generic import ORIGIN

    if origin is None:
        return "layer defaults"
    return "generic init" if origin == ORIGIN else "built-in spec"


def _empty(start: float) -> dict:
    return {"expected": None, "spec": None, "builds": 0, "tensors": 0, "explored": 0,
            "findings": [], "replay": None, "elapsed": round(time.perf_counter() - start, 3)}


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def kind_label(finding: dict) -> str:
    """A finding's kind, marked when it does not fail a run: ``doc-mismatch
    (informational)``, ``variance (waived)``."""
    if finding.get("waived"):
        return f"{finding['kind']} (waived)"
    return finding["kind"] + ("" if finding["blocking"] else " (informational)")


def summary(rows: Sequence[dict], *, enumerated: int, wall_seconds: float) -> dict:
    """The zoo's summary: architectures audited, by verdict and by expectation, findings
    by kind (findings and architectures), the architectures not buildable with their
    reasons, the errors, and the wall time."""
    verdicts = Counter(row["verdict"] for row in rows)
    findings = Counter(kind_label(f) for row in rows for f in row["findings"])
    holders = Counter(kind for row in rows
                      for kind in {kind_label(f) for f in row["findings"]})
    audited = [row for row in rows if row["verdict"] in ("pass", "fail")]
    return {
        "library": "transformers",
        "architectures": enumerated,
        "selected": len(rows),
        "audited": len(audited),
        "verdicts": dict(sorted(verdicts.items())),
        "expected": dict(Counter(row["expected"] for row in audited)),
        "findings_by_kind": {kind: {"findings": count, "architectures": holders[kind]}
                             for kind, count in findings.most_common()},
        "not_buildable": [{"architecture": row["architecture"], "reason": row["reason"]}
                          for row in rows if row["verdict"] == "not buildable"],
        "errors": [{"architecture": row["architecture"], "reason": row["reason"]}
                   for row in rows if row["verdict"] == "error"],
        "builds": sum(row["builds"] for row in rows),
        "wall_seconds": round(wall_seconds, 1),
    }


def findings_text(row: dict) -> str:
    """``2 fan-mismatch, 1 doc-mismatch (informational)``, or the reason it was not
    audited."""
    if row["verdict"] in ("not buildable", "error"):
        return row["reason"] or ""
    counts = Counter(kind_label(f) for f in row["findings"])
    return ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "none"


def render(rows: Sequence[dict], zoo: dict) -> str:
    """The zoo as text: one line per audited architecture, one per architecture not
    built (with its reason), then the summary."""
    width = max([len(row["architecture"]) for row in rows] + [12])
    lines = [f"{'architecture':{width}}  {'verdict':8} {'expected':15} {'builds':>6} "
             f"{'seconds':>7}  findings by kind"]
    lines.append("-" * (len(lines[0]) + 20))
    for row in rows:
        if row["verdict"] not in ("pass", "fail"):
            continue
        lines.append(f"{row['architecture']:{width}}  {row['verdict']:8} "
                     f"{row['expected']:15} {row['builds']:>6} {row['elapsed']:>7.1f}  "
                     f"{findings_text(row)}")
    other = [row for row in rows if row["verdict"] not in ("pass", "fail")]
    if other:
        lines += ["", f"{len(other)} not audited:"]
        lines += [f"{row['architecture']}: {row['verdict']}: {row['reason']}" for row in other]
    lines += ["", summary_line(zoo)]
    return "\n".join(lines)


def summary_line(zoo: dict) -> str:
    kinds = ", ".join(f"{value['findings']} {kind} (in {value['architectures']})"
                      for kind, value in zoo["findings_by_kind"].items()) or "none"
    verdicts = zoo["verdicts"]
    return (f"{zoo['audited']} of {zoo['selected']} architectures audited "
            f"({verdicts.get('pass', 0)} pass, {verdicts.get('fail', 0)} fail), "
            f"{len(zoo['not_buildable'])} not buildable, {len(zoo['errors'])} errors; "
            f"findings by kind: {kinds}; {zoo['builds']} builds, wall time "
            f"{zoo['wall_seconds']:.0f} s")
