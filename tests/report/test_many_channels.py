"""At many channels the charts draw the largest by spend and stay within a printed page; the
tables keep every channel (R22-F9: 37 channels made 1,500 px charts that split across pages
without their axis)."""

from __future__ import annotations

import re

import numpy as np

from mesh.report import render_report
from mesh.report.plan import MAX_CHART_CHANNELS
from tests.report import companions
from tests.report.channels import channel_analysis
from tests.report.test_chart_alternatives import _data, _rows
from tests.report.test_chart_text import svg_texts

NAMES = [f"offline_{i:02d}" for i in range(37)]
# An A4 page's height less its 14 mm margins, in points (the SVGs' viewBox unit).
PAGE_PT = (297 - 2 * 14) / 25.4 * 72


def _figures(html: str) -> dict[str, tuple[str, str]]:
    """kind → (its SVG, its caption)."""
    return {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(
            r'data-figure="([^"]+)">(<svg.*?</svg>)\s*<figcaption[^>]*>(.*?)</figcaption>',
            html,
            re.S,
        )
    }


def test_charts_draw_the_top_channels_and_the_tables_keep_all() -> None:
    analysis = channel_analysis(NAMES)  # spend falls with the index: offline_00 the largest
    for c in analysis.attribution.channels:
        spend = np.linspace(0.0, 2 * c.spend.amount, 5)
        curve = analysis.attribution.response_curves.add(channel=c.channel)
        curve.spend.extend(spend)
        curve.outcome.extend(2 * spend)
        curve.lower.extend(spend)
        curve.upper.extend(3 * spend)
        analysis.attribution.response_models.add(channel=c.channel, carryover=[0.6, 0.3, 0.1])
    html = render_report(analysis, budget=companions.budget(analysis))
    figures = _figures(html)
    top, rest = NAMES[:MAX_CHART_CHANNELS], NAMES[MAX_CHART_CHANNELS:]
    for kind in ("contributions", "roas", "adstock", "budget-shift", "response-curves"):
        svg, caption = figures[kind]
        drawn = {t for t in svg_texts(svg) if t.startswith("offline_")}
        assert drawn == set(top), (kind, sorted(drawn))
        assert f"the other {len(rest)} (offline_20, offline_21, offline_22, …)" in caption, kind
        height = float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', svg).group(1))
        assert height < PAGE_PT, (kind, height)
    for name in NAMES:
        assert f'id="channel-{name}"' in html
    assert len(_rows(_data(html, "response-curves"))) == len(NAMES)
    assert len(_rows(_data(html, "budget-shift"))) == len(NAMES)


def test_a_few_channels_are_all_drawn() -> None:
    html = render_report(channel_analysis(NAMES[:MAX_CHART_CHANNELS]))
    svg, caption = _figures(html)["contributions"]
    assert len({t for t in svg_texts(svg) if t.startswith("offline_")}) == MAX_CHART_CHANNELS
    assert "are in the table" not in caption
