"""The models section's blocks, built from ``report.json``'s ``models`` alone."""

from __future__ import annotations

import re
from collections import Counter

from verify.audit.findings import INFORMATIONAL
from verify.report.render import Block, Cell, Heading, Paragraph, Table, cell

SHOWN_TENSORS = 4


def abbreviate(tensors: list[str]) -> str:
    """Tensor names with their layer indices written ``*``, each pattern once, at most
    :data:`SHOWN_TENSORS` of them: ``h.*.attn.c_proj.weight (2 tensors)``."""
    counts = Counter(re.sub(r"(?<=\.)\d+(?=\.)", "*", name) for name in tensors)
    shown = [f"{name} ({count} tensors)" if count > 1 else name
             for name, count in list(counts.items())[:SHOWN_TENSORS]]
    rest = len(counts) - SHOWN_TENSORS
    return ", ".join(shown) + (f" and {rest} more patterns" if rest > 0 else "")


def _status(finding: dict) -> str:
    if finding.get("waived"):
        return "waived"
    return "fail" if finding["blocking"] else "informational"


def findings_by_kind(findings: list[dict]) -> str:
    """``2 fan-mismatch, 1 doc-mismatch (informational)``."""
    counts = Counter((f["kind"], _status(f)) for f in findings)
    return ", ".join(f"{n} {kind}" + ("" if status == "fail" else f" ({status})")
                     for (kind, status), n in counts.items())


def _expected_measured(finding: dict) -> str:
    parts = []
    if finding.get("expected"):
        parts.append(f"expected {finding['expected']}")
    if finding.get("measured"):
        parts.append(f"measured {finding['measured']}")
    return "; ".join(parts)


def _detail(finding: dict) -> str:
    text = finding["detail"].rstrip()
    text += "" if text.endswith(".") else "."
    if finding.get("law_unchanged"):
        text += (" The law is the same with either fans: the fan that differs is one the "
                 "default does not use.")
    if finding.get("config"):
        text += f" Minimal config: {finding['config']}."
    if finding.get("waived"):
        text += f" Waived: {finding['waived'].get('reason', '')}."
    if finding.get("citation"):
        text += f" Source: {finding['citation']}"
    return text


def _counts(counter: Counter) -> str:
    return ", ".join(f"{n} {key}" for key, n in counter.most_common()) or "none"


def models_summary(models: dict) -> str:
    """One sentence for the report's summary."""
    rows = models["rows"]
    architectures = sum(r["kind"] == "architecture" for r in rows)
    findings = [f for r in rows for f in r["findings"]]
    blocking = sum(f["blocking"] for f in findings)
    return (f"{architectures} transformers architectures and {len(rows) - architectures} "
            f"layer types audited whole: {_counts(Counter(r['verdict'] for r in rows))}; "
            f"{len(findings)} findings ({blocking} failing, the rest informational or "
            f"waived): {_counts(Counter(f['kind'] for f in findings))}.")


def models_blocks(doc: dict) -> list[Block]:
    models = doc.get("models")
    if models is None:  # a report.json from before the section
        return []
    rows = models["rows"]
    figure = models.get("figure")
    apis = list(dict.fromkeys(r["api"] for r in rows if r["kind"] == "layer"))
    explored = (f", with {models['examples']} configs explored around each"
                if models["examples"] else "")
    informational = sum(f["kind"] in INFORMATIONAL for r in rows for f in r["findings"])
    blocks: list[Block] = [
        Heading("Models", "models"),
        Paragraph(
            f"Whole models audited tensor by tensor (python -m verify audit): every "
            f"transformers architecture with a built-in spec, at its small starting "
            f"config{explored}, and every registered layer type of "
            f"{', '.join(apis) or 'no framework'}, at the constructor arguments of "
            f"verify.layers.examples (chosen so that semantic fans differ from the stored "
            f"shape's). {models_summary(models)} The {informational} doc-mismatch findings "
            f"are informational: the library's documentation and its code disagree, and "
            f"the spec says which it follows; they never fail a run."
            + (" The figure 'Models: std against layer index' (under Figures) shows the "
               "measured std of each layer against its expected law." if figure else "")),
    ]
    if models.get("not_installed"):
        blocks.append(Paragraph("Not installed, so not audited: " + "; ".join(
            f"{name} ({reason})" for name, reason in models["not_installed"].items())))
    table = []
    for row in rows:
        found = row["error"] or findings_by_kind(row["findings"])
        link = f"#{row['anchor']}" if row["findings"] else None
        table.append((Cell(row["target"], code=True),
                      Cell(row["verdict"], verdict=row["verdict"]), cell(row["builds"]),
                      Cell(found, href=link), cell(f"{row['seconds']:.1f}"),
                      Cell("std against layer index", href=f"#{figure}")
                      if row.get("in_figure") else Cell("")))
    blocks.append(Table(("target", "verdict", "builds", "findings by kind", "seconds",
                         "figure"), tuple(table), anchor="models-table", fit=True,
                        caption=f"{len(rows)} audits, seed {doc['seed']}"))
    for row in rows:
        if not row["findings"]:
            continue
        blocks.append(Heading(row["target"], row["anchor"], level=3))
        findings = []
        for finding in row["findings"]:
            status = _status(finding)
            findings.append((
                Cell(finding["kind"] + ("" if status == "fail" else f" ({status})"),
                     verdict=status),
                cell(abbreviate(finding["tensors"])), cell(_detail(finding)),
                cell(_expected_measured(finding)),
                Cell(finding.get("replay") or row["replay"] or "", code=True)))
        blocks.append(Table(("kind", "tensors", "what was seen", "expected / measured",
                             "replay"), tuple(findings), anchor=f"{row['anchor']}-findings",
                            fit=True))
    return blocks
