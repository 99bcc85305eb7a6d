"""The Keras parity matrix: each catalog entry of Keras 3 on every backend it ran on.

Keras promises one behaviour whatever the backend; its initializers call each backend's own
random functions (``keras/src/backend/<backend>/random.py``), so a law can differ by
backend. :func:`parity` lines the rows of one entry up by backend and names the backends
whose verdict differs from the others, with what was measured there.
"""

from __future__ import annotations

from collections import Counter

from verify.report.render import Block, Cell, Heading, Paragraph, Table, cell, number


def parity(rows: list[dict]) -> tuple[list[str], list[dict]]:
    """``(backends, entries)``: the backends in the order they ran, and per Keras entry
    ``{"target", "verdicts": {backend: verdict}, "deviation": text}``; ``deviation`` names
    the backends whose verdict is not the most common one (ties: the ones that do not pass),
    with their failed checks, minimal failing shape, variance ratio and fingerprint."""
    keras = [r for r in rows if r.get("backend") and r["verdict"] != "skipped"]
    backends = list(dict.fromkeys(r["backend"] for r in keras))
    by_target: dict[str, dict[str, dict]] = {}
    for row in keras:
        dtype = row.get("dtype", "float32")
        target = row["target"] + ("" if dtype == "float32" else f" [{dtype}]")
        by_target.setdefault(target, {})[row["backend"]] = row
    entries = []
    for target, found in by_target.items():
        verdicts = {b: found[b]["verdict"] for b in backends if b in found}
        counts = Counter(verdicts.values())
        deviation = ""
        if len(counts) > 1:
            top = max(counts.values())
            common = [v for v, n in counts.items() if n == top]
            usual = "pass" if "pass" in common else common[0]
            odd = [b for b, v in verdicts.items() if v != usual]
            deviation = "; ".join(_described(b, found[b]) for b in odd)
            deviation += f" (the other backends: {usual})"
        entries.append({"target": target, "verdicts": verdicts, "deviation": deviation})
    return backends, entries


def _described(backend: str, row: dict) -> str:
    words = [f"{backend}: {row['verdict']}"]
    example = row.get("counterexample")
    if example:
        words.append(f"failed {', '.join(example.get('failed') or ['?'])} at shape "
                     f"{'x'.join(map(str, example['shape']))}")
        if example.get("variance_ratio") is not None:
            words.append(f"measured/claimed variance {number(example['variance_ratio'])}")
    if row.get("error"):
        words.append(row["error"])
    printed = (row.get("fingerprint") or {}).get("summary")
    if printed:
        words.append(f"fingerprint: {printed}")
    return ", ".join(words)


def parity_blocks(rows: list[dict]) -> list[Block]:
    backends, entries = parity(rows)
    if len(backends) < 2:
        return []
    table = [(Cell(e["target"].split(":", 1)[-1], code=True),
              *(Cell(e["verdicts"].get(b, ""), verdict=e["verdicts"].get(b)) for b in backends),
              cell(e["deviation"])) for e in entries]
    differing = sum(bool(e["deviation"]) for e in entries)
    return [
        Heading("Keras backends", "keras-parity", level=3),
        Paragraph(f"Each Keras 3 catalog entry on the {len(backends)} backends it ran on "
                  f"({', '.join(backends)}), each backend in its own process, with the same "
                  f"seeds and shapes. {differing} of {len(entries)} entries do not get the "
                  "same verdict on every backend; the last column says where and what was "
                  "measured there."),
        Table(("entry", *backends, "deviation"), tuple(table), anchor="keras-parity-matrix"),
    ]
