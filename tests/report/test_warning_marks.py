"""R6-F7: a caveat sits next to the numbers it qualifies. The warnings are numbered; a channel a
warning names carries "⚠ see warning N" (linked to it) in its contribution-table row and in
every recommendation row about it, a reallocation row naming which of its channels; the
verdict says which channels' figures the warnings qualify. Channels are matched as whole
identifiers: a channel whose name is a prefix of another's is not marked by the other's
warning."""

from __future__ import annotations

import re
from html import unescape

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.report import render_report
from tests.report import companions

WARNINGS = [
    "meta_retargeting's spend falls on Tuesdays only (17 of 120 days), so its effect and "
    "interval rest on that",
    "the baseline's 90% interval is widened should some channels have no effect",
    "tiktok/tiktok: EUR converted to USD with fx_eur_usd (rate 1.08 on average)",
    "meta-retargeting campaign names were merged into one channel",
]


@pytest.fixture(scope="module")
def analysis() -> causal_pb.Analysis:
    """The demo attribution (its channels include meta_retargeting and tiktok) with
    meta_prospecting renamed meta, a prefix of meta_retargeting, and the audit's kinds of
    warnings (one naming meta_retargeting, the FX note)."""
    out = companions.attribution_analysis()
    result = out.attribution
    names = {c.channel for c in result.channels}
    assert {"meta_prospecting", "meta_retargeting", "tiktok"} <= names, names
    for c in result.channels:
        if c.channel == "meta_prospecting":
            c.channel = "meta"
    del result.warnings[:]
    result.warnings.extend(WARNINGS)
    return out


def _recommendations() -> pb.RecommendResponse:
    out = pb.RecommendResponse()
    rows = [
        (pb.RECOMMENDATION_KIND_REALLOCATE, "", "reallocate at the same total spend: meta 100 → "
         "120, tiktok 100 → 80"),
        (pb.RECOMMENDATION_KIND_HOLD, "meta_retargeting", "hold meta_retargeting at its current "
         "spend"),
        (pb.RECOMMENDATION_KIND_INCREASE_BUDGET, "meta", "raise meta spend by 30% to 130"),
        (pb.RECOMMENDATION_KIND_DECREASE_BUDGET, "tiktok", "cut tiktok spend by 30% to 70"),
    ]  # fmt: skip
    for priority, (kind, channel, action) in enumerate(rows, start=1):
        r = out.recommendations.add(
            recommendation_id=f"rec-{priority}", kind=kind, channel=channel, action=action,
            rationale="why", confidence=0.9, priority=priority,
        )  # fmt: skip
        r.expected_impact.level = 0.9
    return out


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _rows(html: str, section: str) -> list[str]:
    """The text of each table row of one section."""
    start = html.index(f'<section id="{section}">')
    body = html[start : html.index("</section>", start)]
    return [_text(r) for r in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


def _row(rows: list[str], first: str) -> str:
    """The row whose first cells begin with ``first`` (exactly, then a space)."""
    found = [r for r in rows if r.startswith(first + " ")]
    assert len(found) == 1, (first, rows)
    return found[0]


def test_names_channel_matches_whole_identifiers_only() -> None:
    from mesh.report.plan import names_channel

    assert names_channel("meta_retargeting's spend falls on Tuesdays", "meta_retargeting")
    assert not names_channel("meta_retargeting's spend falls on Tuesdays", "meta")
    assert not names_channel("meta-retargeting campaign names were merged", "meta")
    assert names_channel("moved to meta.", "meta") and names_channel("tiktok/tiktok: EUR", "tiktok")
    assert not names_channel("google_search_brand", "google_search")


def test_the_warned_channels_rows_point_at_their_warning(analysis) -> None:
    html = render_report(analysis, recommendations=_recommendations())
    # The warnings are numbered, each an anchor the markers link to.
    for i in range(1, len(WARNINGS) + 1):
        assert f'<li id="warning-{i}"><strong>Warning {i}.</strong> ' in html
    assert '<a href="#warning-1">1</a>' in html and '<a href="#warning-3">3</a>' in html
    table = _rows(html, "channels")
    assert "⚠ see warning 1" in _row(table, "meta_retargeting")
    assert "⚠ see warning 3" in _row(table, "tiktok")
    # meta is a prefix of meta_retargeting, and "meta-retargeting" is another name: unmarked.
    assert "⚠" not in _row(table, "meta")
    recs = _rows(html, "recommendations")
    assert "⚠ see warning 1" in _row(recs, "2 hold meta_retargeting")
    assert "⚠ see warning 3" in _row(recs, "4 decrease budget tiktok")
    assert "⚠" not in _row(recs, "3 increase budget meta")
    # The reallocation moves meta and tiktok: only tiktok's warning, and named.
    realloc = _row(recs, "1 reallocate")
    assert "⚠ see warning 3 (tiktok)" in realloc and "warning 1" not in realloc
    # The verdict says which figures the warnings qualify.
    health = _text(html[html.index('id="verdict"') : html.index('id="warnings"')])
    assert "Warnings below qualify the figures of meta_retargeting (warning 1); tiktok " in health


def test_a_page_without_warnings_marks_nothing(analysis) -> None:
    quiet = causal_pb.Analysis()
    quiet.CopyFrom(analysis)
    del quiet.attribution.warnings[:]
    html = render_report(quiet, recommendations=_recommendations())
    assert "⚠" not in html and "qualify the figures" not in html
