"""What the report says, built from ``report.json`` alone: the blocks both renderings
share. (So a stored ``report.json`` can be rendered again.)"""

from __future__ import annotations

from collections import Counter

from verify.matrix import label as row_label
from verify.report.models_document import models_blocks, models_summary
from verify.report.parity import parity_blocks
from verify.report.render import Block, Cell, Figure, Heading, Paragraph, Table, cell, number
from verify.report.zoo import zoo_blocks, zoo_summary

TITLE = "Weight initialization, verified"


def _figure_link(name: str | None, figures: dict) -> Cell:
    if not name or name not in figures:
        return Cell("")
    return Cell(figures[name]["title"], href=f"#{name}")


def _key(row: dict) -> str:
    key = row.get("key_numbers")
    if key is None:
        return "; ".join(row["evidence"]["facts"])[:400]
    interval = key["interval"]
    return (f"{key['check']}: {number(key['estimate'])} vs {number(key['expected'])}, "
            f"95% [{number(interval[0])}, {number(interval[1])}], n = {key['n']:,}, "
            f"p = {number(key['pvalue'], 2)} ({key['case']})")


def _shape(example: dict | None) -> str:
    return "x".join(map(str, example["shape"])) if example else ""


def _percent(value: float | None) -> str:
    return "not reached" if value is None else f"{value:+.2%}"


def summary_blocks(doc: dict) -> list[Block]:
    claims = doc["claims"]
    rows = [r for r in doc["conformance"]["rows"]
            if r["verdict"] not in ("skipped", "not supported")]
    counts = Counter(c["verdict"] for c in claims)
    verdicts = Counter(r["verdict"] for r in rows)
    fw = doc["statistics"]["family_wise"]
    blocks: list[Block] = [Heading("Summary", "summary")]
    text = (f"{len(claims)} claims of the textbook: "
            + ", ".join(f"{n} {v}" for v, n in counts.items())
            + f". {len(rows)} initializers of {', '.join(doc['conformance']['libraries'])}: "
            + ", ".join(f"{n} {v}" for v, n in verdicts.items())
            + f". {fw['checks']:,} statistical checks decided these verdicts, each of size "
              f"{fw['per_check_size']:g} with power {fw['power']:g} against a "
              f"{fw['effect']:.0%} error where the budget allows: the probability that any "
              f"of them alarmed falsely is at most {fw['family_wise_bound']:.2g}.")
    blocks.append(Paragraph(text))
    if doc.get("models") is not None:
        blocks.append(Paragraph(f"Models: {models_summary(doc['models'])}"))
    if doc.get("zoo") is not None:
        blocks.append(Paragraph(f"Model zoo (a stored run): {zoo_summary(doc['zoo'])}."))
    if doc["settings"]["quick"]:
        blocks.append(Paragraph(
            f"This is a --quick smoke run: {len(claims)} of "
            f"{len(claims) + len(doc['claims_not_run'])} claims, one hypothesis example per "
            "exploration, tiny measurement budgets, two model audits. Its verdicts are honest "
            "but its evidence is thin; run without --quick for the report."))
    skipped = doc["conformance"]["skipped"]
    if skipped:
        blocks.append(Paragraph("Not installed, so not checked: " + "; ".join(
            f"{library} ({reason})" for library, reason in skipped.items())))
    return blocks


def claims_blocks(doc: dict) -> list[Block]:
    figures = doc["figures"]
    rows = []
    for row in doc["claims"]:
        rows.append((Cell(row["id"], code=True), cell(row["statement"]),
                     Cell(row["verdict"], verdict=row["verdict"]), cell(row["conditions"]),
                     cell(_key(row)), _figure_link(row.get("figure"), figures),
                     cell(" ".join(row["errata"]))))
    return [Heading("Claims", "claims"),
            Paragraph("Each claim of the source, tested on the cases hypothesis drew (fans, "
                      "distributions, activations, depths). Key numbers: the counterexample's "
                      "worst check if the claim fails, else the check with the smallest "
                      "p-value."),
            Table(("ID", "statement", "verdict", "conditions", "key numbers", "figure",
                   "errata of the source"), tuple(rows), anchor="claims-table", fit=True)]


def conformance_blocks(doc: dict) -> list[Block]:
    figures = doc["figures"]
    conformance = doc["conformance"]
    rows = conformance["rows"]
    def library(row: dict) -> str:  # a Keras backend counts as a library of its own here
        return f"{row['library']} [{row['backend']}]" if row.get("backend") else row["library"]

    libraries = list(dict.fromkeys(library(r) for r in rows))
    verdicts = ("pass", "fail", "suspicious", "error", "not supported", "skipped")
    overview = []
    for name in libraries:
        found = Counter(r["verdict"] for r in rows if library(r) == name)
        overview.append((Cell(name, code=True), *(
            Cell(str(found[v]) if found[v] else "", verdict=v if found[v] else None)
            for v in verdicts)))
    matrix = []
    for row in rows:
        example = row.get("counterexample")
        printed = row.get("fingerprint") or {}
        figure = row.get("figure") or row.get("qq_figure")
        fingerprint = printed.get("summary", "")
        if printed.get("explanation"):
            fingerprint += f" {printed['explanation']}"
        documented = row.get("documented", "")
        if row.get("reason"):
            documented = f"{documented} {row['reason']}".strip()
        if row.get("convention"):
            documented += f" Documented convention: {row['convention']}"
        ratio = (example or {}).get("variance_ratio")
        matrix.append((
            Cell(library(row), code=True), Cell(row_label(row).split(":", 1)[-1], code=True),
            cell(row.get("kind", "")), Cell(row["verdict"], verdict=row["verdict"]),
            cell(row.get("claim", "")), cell(documented), cell(fingerprint or row.get("error")),
            cell(_shape(example)), cell("" if ratio is None else number(ratio)),
            Cell(example["reproduce"], code=True) if example else Cell(""),
            _figure_link(figure, figures)))
    return [
        Heading("Conformance", "conformance"),
        Paragraph("Every public initializer and default layer initialization of the installed "
                  "libraries, checked against the law its documentation names at every shape "
                  "hypothesis drew. For an initializer that does not conform: the minimal "
                  "failing shape hypothesis shrank to, the measured/claimed variance there, a "
                  "command that reproduces it, and its fingerprint (what it does instead)."),
        Table(("library", *verdicts), tuple(overview), anchor="conformance-overview",
              caption="Entries per library and verdict"),
        Table(("library", "initializer", "kind", "verdict", "documented law", "documentation",
               "fingerprint", "minimal failing shape", "variance ratio", "reproduce",
               "figure"), tuple(matrix), anchor="conformance-matrix"),
        *dtype_blocks(rows, verdicts),
        *parity_blocks(rows),
    ]


def dtype_blocks(rows: list[dict], verdicts: tuple[str, ...]) -> list[Block]:
    """Verdicts per dtype: how the catalog fares when asked for each dtype."""
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows if r.get("dtype")))
    if len(dtypes) < 2:
        return []
    table = []
    for dtype in dtypes:
        found = Counter(r["verdict"] for r in rows if r.get("dtype") == dtype)
        table.append((Cell(dtype, code=True), *(
            Cell(str(found[v]) if found[v] else "", verdict=v if found[v] else None)
            for v in verdicts[:-1])))
    return [
        Heading("Dtypes", "conformance-dtypes", level=3),
        Paragraph("Each initializer asked for every dtype its entry takes, through its dtype "
                  "argument or the tensor it fills, never cast afterwards. In float16 and "
                  "bfloat16 the claimed law is the law of its values rounded to the dtype; a "
                  "complex dtype is checked through E|w|^2 and its real and imaginary parts. "
                  "'not supported': the library refuses the dtype (its reason is in the "
                  "matrix)."),
        Table(("dtype", *verdicts[:-1]), tuple(table), anchor="conformance-dtypes-table"),
    ]


def figure_blocks(doc: dict) -> list[Block]:
    blocks: list[Block] = [Heading("Figures", "figures")]
    for name, meta in doc["figures"].items():
        blocks.append(Figure(name, meta["title"], meta["caption"], meta["file"], meta["width"],
                             meta["height"]))
    return blocks


def statistics_blocks(doc: dict) -> list[Block]:
    stats = doc["statistics"]
    fw = stats["family_wise"]
    null, power = stats["null"], stats["power"]
    blocks: list[Block] = [
        Heading("Statistics", "statistics"),
        Paragraph(f"Verdicts rest on {fw['checks']:,} statistical checks ({fw['claim_checks']:,} "
                  f"for the claims, {fw['conformance_checks']:,} for conformance). Each has size "
                  f"at most {fw['per_check_bound_with_resampling']:.3g}, spent over its "
                  f"sequential looks and the resampling of suspicious results, and is sized "
                  f"for power "
                  f"{fw['power']:g} against a {fw['effect']:.0%} error; the family-wise "
                  f"false-alarm probability is at most {fw['family_wise_bound']:.2g} "
                  f"(Bonferroni)."),
        Paragraph(f"Size, measured: the battery ran {null['runs']} times on correct "
                  f"initializers at the default sample sizes but at level {null['level']:g}, "
                  f"where false alarms can be counted (at {fw['per_check_size']:g} none can be "
                  f"observed; the uniformity of the exact tests' p-values and the "
                  f"conservatism of the others carry the size there)."),
    ]
    rows = []
    for name, test in null["tests"].items():
        single = test["single_stage"]
        rows.append((Cell(name, code=True), cell(test["null_law"]),
                     cell(f"{single['rate']:.3f} [{single['interval'][0]:.3f}, "
                          f"{single['interval'][1]:.3f}]"), cell(f"{single['nominal']:g}"),
                     cell(number(test["uniformity"]["ks_pvalue"], 2))))
    for label, item in (("any of the five", null["battery_single_stage"]),
                        ("sequential procedure", null["battery_two_stage"])):
        rows.append((cell(label), cell(""), cell(f"{item['rate']:.3f} [{item['interval'][0]:.3f},"
                                                  f" {item['interval'][1]:.3f}]"),
                     cell(f"<= {item['nominal']:.3g}"), cell("")))
    blocks.append(Table(("test", "null law", "false-alarm rate (95%)", "nominal",
                         "uniformity KS p"), tuple(rows), anchor="size-table",
                        caption=f"Size at level {null['level']:g}, {null['runs']} runs"))
    power_rows = tuple(
        (cell(f"{p['error']:+.2%}"), cell(f"{p['detected']['rate']:.2f} "
                                          f"({p['detected']['count']}/{p['detected']['runs']})"),
         cell(f"{p['theory']:.2f}")) for p in power["points"])
    mde = power["min_detectable_error"]
    blocks.append(Table(("variance error", "detected", "theory"), power_rows,
                        anchor="power-table",
                        caption=f"Power of the default check ({power['claim']} at "
                                f"{_shape(power)}, n = {power['sample_size']:,}, "
                                f"{power['trials']} trials per point): detects errors from "
                                f"{_percent(mde['up'])} up and {_percent(mde['down'])} down "
                                f"with probability {fw['power']:g}"))
    peers = stats.get("peers")
    if peers is None:
        blocks.append(Paragraph(f"Peer comparison unavailable: {stats.get('peers_unavailable')}"))
        return blocks
    approaches = list(dict.fromkeys(a for m in peers["mutants"] for a in m["detected"]))
    peer_rows = []
    for name in approaches:
        detected = sum(m["detected"][name]["rate"] >= 0.5 for m in peers["mutants"]
                       if name in m["detected"])
        total = sum(name in m["detected"] for m in peers["mutants"])
        found = peers["min_detectable_error"].get(name, {})
        budget = peers["approaches"].get(name, {}).get("budget", "")
        peer_rows.append((Cell(name, code=True), cell(budget),
                          cell(f"{detected}/{total}"), cell(_percent(found.get("up"))),
                          cell(_percent(found.get("down")))))
    if "ours-check" not in approaches:
        blocks.append(Paragraph(
            "The default check with shape exploration (hypothesis drawing shapes, as "
            "conformance runs it) is not rerun on the mutants here, as it takes minutes: "
            "python -m verify measure measures it, and tests/test_mutants.py requires it to "
            "catch every mutant."))
    blocks.append(Table(("approach", "budget", "mutants detected (in >= half the trials)",
                         "min. detectable error up", "down"), tuple(peer_rows),
                        anchor="peer-table",
                        caption=f"Peers: {len(peers['mutants'])} mutants, {peers['trials']} "
                                "trials each; minimum detectable variance error at detection "
                                f"probability {fw['power']:g}, on a grid"))
    return blocks


def environment_blocks(doc: dict) -> list[Block]:
    rows = [(Cell(name, code=True), cell(version)) for name, version in doc["versions"].items()]
    timing = [(cell(s["name"]), cell(s["items"]), cell(s["summary"]),
               cell(f"{s['seconds']:.1f}")) for s in doc["sections"]]
    settings = doc["settings"]
    return [
        Heading("Environment", "environment"),
        Paragraph(f"Seed {doc['seed']} (every draw descends from it); started "
                  f"{doc['started']}; wall time {doc['wall_seconds']:.0f} s. Reproduce with: "
                  f"{doc['command']}"),
        Table(("package", "version"), tuple(rows), anchor="versions"),
        Table(("section", "items", "result", "seconds"), tuple(timing), anchor="timings"),
        Paragraph("Settings: " + ", ".join(f"{k} = {v}" for k, v in settings.items())),
    ]


def blocks(doc: dict) -> list[Block]:
    return [*summary_blocks(doc), *claims_blocks(doc), *conformance_blocks(doc),
            *models_blocks(doc), *zoo_blocks(doc), *figure_blocks(doc), *statistics_blocks(doc),
            *environment_blocks(doc)]


def subtitle(doc: dict) -> str:
    return (f"{doc['started']} · seed {doc['seed']} · "
            f"{'quick smoke run · ' if doc['settings']['quick'] else ''}"
            f"{doc['wall_seconds']:.0f} s on {doc['machine']}")
