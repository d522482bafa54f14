"""What the charts print is the data as given: names with dollar signs are not TeX (R22-F1),
and the SVG's number trimming cuts coordinates, never the text a reader sees (R22-F2)."""

from __future__ import annotations

import re
from html import unescape

from mesh.report import render_report
from mesh.report._svg import house_style, new_figure, to_svg
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


def test_a_name_with_digits_is_drawn_whole() -> None:
    # Before: "Radio 101.12 FM" in every chart, "Radio 101.125 FM" in the table.
    texts = svg_texts(render_report(channel_analysis(["Radio 101.125 FM", "tv_30"])))
    assert texts.count("Radio 101.125 FM") >= 2
    assert not any("101.12 " in t for t in texts)


def test_text_keeps_its_digits_while_coordinates_are_trimmed() -> None:
    with house_style():
        fig, (ax,) = new_figure(2.0)
        ax.plot([0, 1], [0.0, 0.0125])
        ax.set_title("Campaign v2.12345 holdout at 0.875 share")
        svg = to_svg(fig, "t", title="Return 0.0025 per USD")
    texts = svg_texts(svg)
    # Before: "0.00, 0.00, 0.00, 0.01, 0.01" and "Campaign v2.12 holdout at 0.87 share".
    assert texts[6:12] == ["0.0000", "0.0025", "0.0050", "0.0075", "0.0100", "0.0125"]
    assert "Campaign v2.12345 holdout at 0.875 share" in texts
    assert "Return 0.0025 per USD" in svg
    # The coordinates are still cut to 0.01 pt.
    coordinates = " ".join(re.findall(r'\s(?:d|x|y|transform)="([^"]*)"', svg))
    assert re.search(r"\d\.\d{2}", coordinates)
    assert not re.search(r"\d\.\d{3}", coordinates)
