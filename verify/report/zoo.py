"""The report's model zoo table, from a stored zoo run (opt-in: ``report --zoo [DIR]``).

The zoo audits hundreds of architectures and takes most of an hour on two cores, so the
report never runs it: ``python -m verify audit --zoo transformers --out DIR`` writes its
units and, when it completes, ``DIR/zoo.json`` (the document ``--json`` prints), and
``python -m verify report --zoo DIR`` shows that run: the architectures audited, the
findings by kind, the wall time, every architecture's row and those that do not build,
with their reasons. ``--zoo`` alone reads ``reports/runs/audit-zoo``, ``audit --zoo``'s own
default ``--out``. Without ``--zoo`` the report is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

from verify.report.render import Block, Cell, Heading, Paragraph, Table, cell

FILE = "zoo.json"


class NoZoo(ValueError):
    """No complete zoo run where ``--zoo`` points: one line, exit 2."""


def load(directory: str | Path) -> dict:
    """The report's ``zoo`` data from the stored run in ``directory``: its summary, seed,
    versions, and one slim row per architecture (the findings as kinds)."""
    from verify.audit.zoo import findings_text

    path = Path(directory) / FILE
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoZoo(f"--zoo {directory}: no {FILE} there; run python -m verify audit --zoo "
                    f"transformers --out {directory} first (it is written when the run "
                    "completes)") from None
    except (OSError, ValueError) as error:
        raise NoZoo(f"--zoo {directory}: cannot read {path} ({error})") from None
    if not isinstance(stored, dict) or "zoo" not in stored or "architectures" not in stored:
        raise NoZoo(f"--zoo {directory}: {path} is not the document of a zoo run")
    rows = [{"architecture": row["architecture"], "verdict": row["verdict"],
             "expected": row.get("expected"), "builds": row.get("builds", 0),
             "seconds": row.get("elapsed", 0.0), "findings": findings_text(row),
             "replay": row.get("replay")} for row in stored["architectures"]]
    return {"directory": str(directory), "seed": stored.get("seed"),
            "versions": stored.get("versions", {}), "summary": stored["zoo"], "rows": rows}


def zoo_summary(zoo: dict) -> str:
    """One sentence for the report's summary."""
    from verify.audit.zoo import summary_line

    return summary_line(zoo["summary"])


def zoo_blocks(doc: dict) -> list[Block]:
    zoo = doc.get("zoo")
    if zoo is None:
        return []
    summary = zoo["summary"]
    versions = ", ".join(f"{k} {v}" for k, v in zoo["versions"].items()
                         if k in ("transformers", "torch"))
    expected = ", ".join(f"{n} against {what}" for what, n in summary["expected"].items())
    blocks: list[Block] = [
        Heading("Model zoo", "zoo"),
        Paragraph(
            f"Every architecture of the installed transformers' auto mapping "
            f"({summary['architectures']} base model classes; {versions}), each audited from "
            f"a small config of its own (python -m verify audit --zoo transformers, the "
            f"stored run in {zoo['directory']}, seed {zoo['seed']}): {zoo_summary(zoo)}. "
            f"Expected laws: {expected or 'none'} (a built-in spec; the generic init's "
            f"documented config semantics, where the model keeps PreTrainedModel's init; "
            f"else each layer's framework default), and the anomaly checks everywhere."),
    ]
    kinds = tuple((Cell(kind), cell(value["findings"]), cell(value["architectures"]))
                  for kind, value in summary["findings_by_kind"].items())
    if kinds:
        blocks.append(Table(("finding kind", "findings", "architectures"), kinds,
                            anchor="zoo-kinds"))
    audited = tuple(
        (Cell(row["architecture"], code=True), Cell(row["verdict"], verdict=row["verdict"]),
         cell(row["expected"]), cell(row["builds"]), cell(f"{row['seconds']:.1f}"),
         cell(row["findings"]))
        for row in zoo["rows"] if row["verdict"] in ("pass", "fail"))
    blocks.append(Table(("architecture", "verdict", "expected", "builds", "seconds",
                         "findings by kind"), audited, anchor="zoo-table", fit=True,
                        caption=f"{len(audited)} architectures audited"))
    others = tuple((Cell(row["architecture"], code=True),
                    Cell(row["verdict"], verdict="error"), cell(row["findings"]))
                   for row in zoo["rows"] if row["verdict"] not in ("pass", "fail"))
    if others:
        blocks.append(Table(("architecture", "", "why it was not audited"), others,
                            anchor="zoo-not-built", fit=True,
                            caption=f"{len(others)} architectures not audited"))
    return blocks
