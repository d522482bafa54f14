"""What the charts print is the data as given: names with dollar signs are not TeX (R22-F1),
and the SVG's number trimming cuts coordinates, never the text a reader sees (R22-F2)."""

from __future__ import annotations

import re
from html import unescape

from mesh.report import render_report
from tests.report.channels import channel_analysis


def svg_texts(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", html)]


NAMES = ["Promo $$ Sale", "TV $5 off $10 & more", "deal $\\x$ y"]


def test_names_with_dollars_are_drawn_as_written() -> None:
    # Before: "Promo $$ Sale" raised ParseException out of matplotlib (no report at all), and
    # "TV $5 off $10" was drawn as math ("TV 5*off*10").
    html = render_report(channel_analysis(NAMES))
    texts = svg_texts(html)
    for name in NAMES:
        # contribution chart and return chart: one tick label each
        assert texts.count(name) >= 2, (name, [t for t in texts if name[:4] in t])
