"""A conversions analysis's returns are conversions per unit of spend: no break-even at 1,
words that say conversions (R22-F3 / R20-F1); a break-even only where a value per conversion is
given, at 1 / that value."""

from __future__ import annotations

import re
from html import unescape

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as llm_pb

from mesh.report import render_report
from tests.report.channels import channel_analysis
from tests.report.test_chart_text import svg_texts

NAMES = ["meta_prospecting", "google_search", "tiktok"]
CONVERSIONS = common_pb.OUTCOME_METRIC_CONVERSIONS
WORDS = llm_pb.ExplanationDone(text="Meta prospecting added conversions.")


def _roas_figure(html: str) -> tuple[str, str]:
    """(the return chart's SVG, its caption's text)."""
    m = re.search(
        r'data-figure="roas">(<svg.*?</svg>)\s*<figcaption[^>]*>(.*?)</figcaption>', html, re.S
    )
    assert m, "no return chart"
    return m.group(1), unescape(re.sub(r"<[^>]+>", "", m.group(2)))


def _ticks(svg: str) -> list[float]:
    return [float(t) for t in svg_texts(svg) if re.fullmatch(r"−?\d+(\.\d+)?", t)]


def test_conversions_without_a_value_draw_no_break_even() -> None:
    html = render_report(channel_analysis(NAMES, outcome=CONVERSIONS, roas=0.01), explanation=WORDS)
    svg, caption = _roas_figure(html)
    texts = svg_texts(svg)
    # Before: "Return per USD of spend (dashed: break-even at 1)" on a 0–1 axis, and the caption
    # "below the dashed line a unit of spend returns less than it costs".
    assert "Incremental conversions per USD of spend" in texts
    assert not any("break-even" in t for t in texts)
    assert "returns less than it costs" not in caption
    assert "needs the value of one conversion" in caption
    # The axis fits the returns (0.005–0.045), not 0–1.
    assert max(_ticks(svg)) < 0.1
    page = unescape(html)
    assert "iROAS = incremental conversions per unit of spend" in page
    assert "incremental revenue per unit of spend" not in page
    assert "Conv/spend (iROAS)" in page and "Marginal conv/spend (mROAS)" in page


def test_a_value_per_conversion_places_the_break_even() -> None:
    html = render_report(
        channel_analysis(NAMES, outcome=CONVERSIONS, roas=0.01), value_per_outcome=100.0
    )
    svg, caption = _roas_figure(html)
    assert (
        "Incremental conversions per USD of spend (dashed: break-even at 0.01, one conversion "
        "worth 100 USD)" in svg_texts(svg)
    )
    assert "With one conversion worth 100 USD, a unit of spend pays for itself at 0.01" in caption
    assert max(_ticks(svg)) < 0.1


def test_revenue_keeps_its_break_even_at_one() -> None:
    html = render_report(channel_analysis(NAMES), explanation=WORDS)
    svg, caption = _roas_figure(html)
    assert "Return per USD of spend (dashed: break-even at 1)" in svg_texts(svg)
    assert "below the dashed line a unit of spend returns less than it costs" in caption
    page = unescape(html)
    assert "iROAS = incremental revenue per unit of spend" in page
    assert '<th class="num">iROAS</th>' in html
