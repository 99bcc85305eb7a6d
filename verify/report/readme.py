"""Write the README's excerpt of a report: the conformance matrix and one figure.

    python -m verify.report.readme [REPORT_DIR] [--readme README.md]

reads ``REPORT_DIR/report.json`` (default ``reports``), replaces the part of the
README between the two markers below, and copies the figure to ``reports/readme/``
(committed, unlike the rest of ``reports/``). Nothing here computes a result: every
number comes from the report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

from verify.matrix import label
from verify.report.render import Cell, Table, cell, markdown_table, number

START = "<!-- report:start: python -m verify.report.readme writes this part -->"
END = "<!-- report:end -->"
FIGURE = "depth-second-moments"
ASSETS = Path("reports/readme")
VERDICTS = ("pass", "fail", "suspicious", "error", "not supported", "skipped")


def _shape(example: dict | None) -> str:
    return "x".join(map(str, example["shape"])) if example else ""


def excerpt(doc: dict, figure: str) -> str:
    rows = doc["conformance"]["rows"]
    def library(row: dict) -> str:  # a Keras backend counts as a library of its own here
        return f"{row['library']} [{row['backend']}]" if row.get("backend") else row["library"]

    libraries = list(dict.fromkeys(library(r) for r in rows))
    checked = [r for r in rows if r["verdict"] not in ("skipped", "not supported")]
    versions = doc["versions"]
    installed = ", ".join(f"{name} {versions[name]}" for name in
                          ("torch", "jax", "flax", "keras", "mlx", "scikit-learn",
                           "tensorflow", "tf-keras", "equinox", "dm-haiku", "tinygrad",
                           "paddlepaddle")
                          if name in versions)
    claims = Counter(c["verdict"] for c in doc["claims"])
    lines = [
        f"From `{doc['command']}` on {doc['started'][:10]} ({installed}; "
        f"{doc['wall_seconds'] / 60:.0f} min on {doc['machine'].split(',')[0]}): "
        f"{len(doc['claims'])} claims, " + ", ".join(f"{n} {v}" for v, n in claims.items())
        + f"; {len(checked)} initializers, " + ", ".join(
            f"{n} {v}" for v, n in Counter(r["verdict"] for r in checked).items()) + ".",
        "",
    ]
    overview = []
    for name in libraries:
        found = Counter(r["verdict"] for r in rows if library(r) == name)
        overview.append((Cell(name, code=True),
                         *(cell(found[v] if found[v] else "") for v in VERDICTS)))
    lines += markdown_table(Table(("library", *VERDICTS), tuple(overview)))
    deviating = []
    for row in checked:
        if row["verdict"] == "pass":
            continue
        example = row.get("counterexample")
        ratio = (example or {}).get("variance_ratio")
        printed = (row.get("fingerprint") or {}).get("summary", row.get("error", ""))
        deviating.append((Cell(label(row), code=True), cell(row["verdict"]),
                          cell(_shape(example)), cell("" if ratio is None else number(ratio, 3)),
                          cell(printed), cell(row.get("convention") or "undocumented")))
    if deviating:
        lines += markdown_table(Table(
            ("entry", "verdict", "minimal failing shape", "variance ratio", "fingerprint: what "
             "it does", "documented convention"), tuple(deviating)))
    matrix = [(Cell(library(r), code=True), Cell(r["target"].split(":", 1)[-1], code=True),
               cell(r.get("kind", "")), cell(r["verdict"]), cell(r.get("claim", r.get("reason"))))
              for r in rows]
    lines += [f"<details><summary>The whole matrix: {len(rows)} entries</summary>", ""]
    lines += markdown_table(Table(("library", "initializer", "kind", "verdict",
                                   "documented law"), tuple(matrix)))
    lines += ["</details>", ""]
    meta = doc["figures"][figure]
    lines += [f"![{meta['title']}]({ASSETS.as_posix()}/{figure}.png)", "",
              f"*{meta['title']}.* {meta['caption']}"]
    return "\n".join(lines)


def update(readme: Path, report_dir: Path, figure: str = FIGURE) -> None:
    doc = json.loads((report_dir / "report.json").read_text())
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme} has no report markers: add the lines {START} and {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    assets = readme.parent / ASSETS
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report_dir / doc["figures"][figure]["file"], assets / f"{figure}.png")
    readme.write_text(f"{head}{START}\n{excerpt(doc, figure)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.report.readme",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", default="reports", help="the report's directory")
    parser.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    try:
        update(Path(args.readme), Path(args.report))
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"updated {args.readme} from {args.report}/report.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
