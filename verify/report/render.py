"""The report's document as blocks (headings, paragraphs, tables, figures), and its two
renderings: one self-contained HTML page (figures embedded) and Markdown for a
repository page (figures linked)."""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    verdict: str | None = None
    code: bool = False


@dataclass(frozen=True)
class Heading:
    text: str
    anchor: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """``fit``: the HTML table is never wider than the page; its long cells wrap instead.
    Otherwise a table too wide for the screen scrolls sideways in its own box."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    anchor: str = ""
    caption: str = ""
    fit: bool = False


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    caption: str
    file: str
    width: int
    height: int


Block = Heading | Paragraph | Table | Figure


def cell(value, **kwargs) -> Cell:
    return value if isinstance(value, Cell) else Cell("" if value is None else str(value),
                                                       **kwargs)


def number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}"


# --- Markdown ------------------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(c: Cell) -> str:
    text = _md_escape(c.text)
    if c.code and text:
        text = f"`{text}`"
    if c.verdict and text:
        text = f"**{text}**"
    if c.href and text:
        text = f"[{text}]({c.href})"
    return text


def markdown_table(table: Table) -> list[str]:
    lines = [table.caption, ""] if table.caption else []
    lines.append("| " + " | ".join(table.headers) + " |")
    lines.append("|" + "---|" * len(table.headers))
    for row in table.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return [*lines, ""]


def markdown(title: str, blocks: list[Block]) -> str:
    lines = [f"# {title}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += [f"{'#' * block.level} {block.text}", ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Table):
            lines += markdown_table(block)
        elif isinstance(block, Figure):
            lines += [f'<a id="{block.name}"></a>', f"**{block.title}.** {block.caption}", "",
                      f"![{block.title}]({block.file})", ""]
    return "\n".join(lines)


# --- HTML ----------------------------------------------------------------------------------

STYLE = """
:root { --fg: #1d2329; --muted: #5b6570; --line: #d9dee3; --bg: #ffffff; --band: #f5f7f9;
        --pass: #1e7b34; --fail: #b3261e; --warn: #a86400; --info: #2c5d9e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 12px 16px 48px; }
h1 { font-size: 1.6rem; margin: 0.4em 0 0.2em; }
h2 { font-size: 1.25rem; margin: 1.8em 0 0.5em; border-bottom: 1px solid var(--line);
     padding-bottom: 0.2em; }
h3 { font-size: 1.05rem; margin: 1.4em 0 0.4em; }
p { margin: 0.5em 0; max-width: 72em; }
nav { position: sticky; top: 0; background: var(--bg); border-bottom: 1px solid var(--line);
      padding: 6px 0; z-index: 1; display: flex; flex-wrap: wrap; gap: 2px 14px; }
nav a { color: var(--info); text-decoration: none; font-size: 0.92rem; }
.scroll, .frame { margin: 0.6em 0 1em; border: 1px solid var(--line); border-radius: 6px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.86rem; }
caption { text-align: left; padding: 6px 8px; color: var(--muted); caption-side: top; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: var(--band); position: sticky; top: 0; white-space: nowrap; }
tr:last-child td { border-bottom: none; }
td { min-width: 4em; }
td.wide { min-width: 16em; }
code { font: 0.84em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: var(--band); padding: 1px 4px; border-radius: 4px;
       overflow-wrap: anywhere; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
           font-weight: 600; font-size: 0.8rem; white-space: nowrap; }
.v-pass, .v-holds { background: var(--pass); }
.v-holds-with-conditions { background: var(--info); }
.v-fail, .v-fails, .v-error { background: var(--fail); }
.v-suspicious, .v-erratum { background: var(--warn); }
.v-skipped, .v-waived { background: #7b8794; }
.v-informational { background: var(--info); }
figure { margin: 1.2em 0 2em; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 6px; background: #fff; }
figcaption { color: var(--muted); font-size: 0.88rem; margin-top: 6px; max-width: 72em; }
.meta { color: var(--muted); font-size: 0.9rem; }
td.nowrap code { white-space: nowrap; overflow-wrap: normal; }
/* A table that fits the page: headers wrap, and long cells give up width, breaking a word
   (a formula, an address) that is wider than their column. Short cells keep their words. */
table.fit th { white-space: normal; }
table.fit td.wide { min-width: 8em; overflow-wrap: anywhere; }
@media (max-width: 1100px) {  /* a narrow window: long cells narrower, IDs and verdicts wrap */
  table.fit td.wide { min-width: 0; }
  table.fit td.nowrap { min-width: 9em; }
  table.fit td.nowrap code { white-space: normal; overflow-wrap: anywhere; }
  table.fit .verdict { white-space: normal; }
}
@media (max-width: 820px) {  /* narrower still, until the phone layout: any word may break */
  table.fit td { overflow-wrap: anywhere; }
}
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: 8px 10px 32px; }
  h1 { font-size: 1.3rem; }
  .scroll, .frame { overflow-x: visible; border: none; }
  table, tbody, tr, td, caption { display: block; width: 100%; }
  thead { display: none; }
  tr { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 10px; padding: 4px 0; }
  td, td.wide { border: none; padding: 2px 8px; min-width: 0; overflow-wrap: anywhere; }
  td:empty { display: none; }
  td::before { content: attr(data-label); display: block; font-size: 0.75rem;
               color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em; }
  td.nowrap code { white-space: normal; overflow-wrap: anywhere; }
}
"""


def _html_cell(c: Cell, header: str) -> str:
    text = html.escape(c.text)
    if c.code and text:  # a dotted name may break after a dot, where a column is narrow
        text = "<code>" + re.sub(r"\.(?=[A-Za-z_])", ".<wbr>", text) + "</code>"
    if c.verdict and text:
        text = f'<span class="verdict v-{html.escape(c.verdict)}">{text}</span>'
    if c.href and text:
        text = f'<a href="{html.escape(c.href)}">{text}</a>'
    kind = "wide" if len(c.text) > 60 else "nowrap" if c.code and len(c.text) <= 40 else ""
    attribute = f' class="{kind}"' if kind else ""
    return f'<td data-label="{html.escape(header)}"{attribute}>{text}</td>'


def _image(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def page(title: str, subtitle: str, blocks: list[Block], directory: Path) -> str:
    """The whole page; figures are read from ``directory`` and embedded."""
    nav = "".join(f'<a href="#{b.anchor}">{html.escape(b.text)}</a>' for b in blocks
                  if isinstance(b, Heading) and b.level == 2)
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f'<h{block.level} id="{block.anchor}">{html.escape(block.text)}'
                        f'</h{block.level}>')
        elif isinstance(block, Paragraph):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            anchor = f' id="{block.anchor}"' if block.anchor else ""
            kind = ' class="fit"' if block.fit else ""
            holder = "frame" if block.fit else "scroll"
            caption = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            rows = "".join("<tr>" + "".join(_html_cell(c, h) for c, h in
                                            zip(row, block.headers, strict=True)) + "</tr>"
                           for row in block.rows)
            body.append(f'<div class="{holder}"><table{anchor}{kind}>{caption}'
                        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>")
        elif isinstance(block, Figure):
            source = _image(directory / block.file)
            body.append(f'<figure id="{block.name}"><img src="{source}" '
                        f'alt="{html.escape(block.title)}" width="{block.width}" '
                        f'height="{block.height}" loading="eager">'
                        f"<figcaption><b>{html.escape(block.title)}.</b> "
                        f"{html.escape(block.caption)}</figcaption></figure>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(subtitle)}</p>
<nav>{nav}</nav>
{chr(10).join(body)}
</main>
</body>
</html>
"""
