"""The page: one self-contained HTML document (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mesh.report._format import esc

CSS = """
:root { --ink:#222; --muted:#5f5f5f; --line:#d9d9d9; --pass:#009E73; --fail:#D55E00;
        --warn:#B07800; --skip:#7f7f7f; --accent:#0072B2; }
* { box-sizing: border-box; }
html { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
       font-size: 10.5pt; color: var(--ink); background: #fff; }
body { margin: 0 auto; max-width: 190mm; padding: 12mm 10mm 16mm; line-height: 1.45; }
h1 { font-size: 17pt; margin: 0 0 2pt; }
h2 { font-size: 13pt; margin: 18pt 0 6pt; border-bottom: 1px solid var(--line); padding-bottom: 2pt; }
h3 { font-size: 11pt; margin: 12pt 0 4pt; }
p { margin: 4pt 0 8pt; }
.meta { color: var(--muted); font-size: 9pt; margin-bottom: 10pt; }
.meta span + span::before { content: " · "; }
.verdict { border-left: 5pt solid var(--skip); background: #f6f6f6; padding: 8pt 10pt;
           margin: 10pt 0; break-inside: avoid; }
.verdict strong { font-size: 12pt; }
.verdict.supported { border-color: var(--pass); }
.verdict.unsupported { border-color: var(--fail); }
.verdict.null { border-color: var(--warn); }
.headline { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6pt; margin: 8pt 0; }
.headline div { border: 1px solid var(--line); padding: 5pt 7pt; break-inside: avoid; }
.headline .label { color: var(--muted); font-size: 8.5pt; display: block; }
.headline .value { font-size: 13pt; font-weight: bold; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 4pt 0 10pt; }
th, td { text-align: left; vertical-align: top; padding: 3pt 5pt; border-bottom: 1px solid var(--line); }
th { font-weight: bold; border-bottom: 1.5px solid #999; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .ci { display: block; color: var(--muted); font-size: 8pt; }
.scroll { overflow-x: auto; }
tr { break-inside: avoid; }
.badge { display: inline-block; font-weight: bold; font-size: 8.5pt; padding: 1pt 5pt;
         border-radius: 3pt; color: #fff; white-space: nowrap; }
.badge.passed { background: var(--pass); } .badge.failed { background: var(--fail); }
.badge.warning { background: var(--warn); } .badge.skipped { background: var(--skip); }
figure.fig { margin: 8pt 0 14pt; break-inside: avoid; page-break-inside: avoid; }
figure.fig svg.plot { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 8.5pt; margin-top: 3pt; }
details.data { font-size: 8.5pt; margin-top: 3pt; }
details.data summary { color: var(--accent); cursor: pointer; }
ul.plain { padding-left: 14pt; margin: 4pt 0 8pt; }
.note { color: var(--muted); font-size: 9pt; }
.explanation { background: #f3f8fc; border-left: 5pt solid var(--accent); padding: 8pt 10pt; }
.explanation a.cite { color: var(--accent); text-decoration: none; border-bottom: 1px dotted; }
.explanation sup a { text-decoration: none; color: var(--accent); }
footer { margin-top: 20pt; color: var(--muted); font-size: 8pt; border-top: 1px solid var(--line);
         padding-top: 4pt; }
@page { margin: 14mm 12mm; }
@media print {
  html { font-size: 9.5pt; }
  body { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  a { color: inherit; }
  /* Paper does not scroll: a table wider than the page lost its last columns (R22-F4). Every
     table fits the page's width (smaller type, numbers and long words wrap), its header repeats
     on each page, and a row taller than a page may break. */
  .scroll { overflow: visible; }
  table { font-size: 7.5pt; table-layout: auto; }
  th, td { padding: 2pt 3pt; overflow-wrap: anywhere; }
  td.num, th.num { white-space: normal; overflow-wrap: normal; }
  thead { display: table-header-group; }
  tr { break-inside: auto; }
  table.channels th:first-child { width: 17%; }
  /* The recommendations' prose gets the room; the short columns stay short. */
  table.recommendations th:nth-child(1) { width: 3%; }
  table.recommendations th:nth-child(2), table.recommendations th:nth-child(3) { width: 11%; }
  table.recommendations th:nth-child(4) { width: 19%; }
  table.recommendations th:nth-child(5) { width: 32%; }
  table.recommendations th:nth-child(6), table.recommendations th:nth-child(7) { width: 12%; }
}
"""


CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the page: its anchor, heading and HTML body."""

    anchor: str
    title: str
    body: str


def page(title: str, meta: Sequence[str], sections: Sequence[Section], footer: str) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # The page needs no script and fetches nothing: say so to the browser, so that one
        # missed escape of a data string could not run or load anything (R22-F11).
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header><h1>{esc(title)}</h1><div class="meta">'
        + "".join(f"<span>{esc(m)}</span>" for m in meta)
        + "</div></header>",
    ]
    for s in sections:
        heading = f"<h2>{esc(s.title)}</h2>" if s.title else ""
        parts.append(f'<section id="{esc(s.anchor)}">{heading}{s.body}</section>')
    parts.append(f"<footer>{esc(footer)}</footer></body></html>")
    return "\n".join(parts)


def figure(fig_id: str, kind: str, svg: str, caption: str, data: str = "") -> str:
    """A figure block; ``data-figure`` names the plot kind for tests and citations. The chart
    is described by its caption (a screen reader reads it after the title) and, where
    ``data`` gives one, by a table of its numbers, folded under the caption."""
    described = f"{fig_id}-caption" + (f" {fig_id}-data" if data else "")
    svg = svg.replace('role="img"', f'role="img" aria-describedby="{esc(described)}"', 1)
    numbers = (
        f'<details class="data" id="{esc(fig_id)}-data"><summary>The numbers behind this chart'
        f"</summary>{data}</details>"
        if data
        else ""
    )
    return (
        f'<figure class="fig" id="{esc(fig_id)}" data-figure="{esc(kind)}">{svg}'
        f'<figcaption id="{esc(fig_id)}-caption">{caption}</figcaption>{numbers}</figure>'
    )


def table(
    headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], *, cls: str = ""
) -> str:
    """An HTML table; each header says whether its column is numeric. Cells are HTML already."""
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if n else f"<th>{esc(h)}</th>" for h, n in headers
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if headers[i][1] else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    klass = f' class="{esc(cls)}"' if cls else ""
    # a table wider than the page scrolls on its own instead of pushing columns off screen
    return (
        f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
