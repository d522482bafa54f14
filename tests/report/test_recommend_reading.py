"""The Recommendations and Budget shift sections read literally (audit R6): the reallocation
row is an alternative to the per-channel rows, not a step to add up with them (F3); each
confidence cell says what its figure measures, a hold's being an even split (F4); the
expected impact names its unit and period (F5); the shadow price is the risk-adjusted
objective's (F8); the budget's spends are totals over its days (F9). Opened in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from liftos.v1 import surfacing_pb2 as pb

from mesh.report import render_report
from tests.report import companions
from tests.report.conftest import open_report


@pytest.fixture(scope="module")
def attribution():
    return companions.attribution_analysis()


def _recommendations(analysis) -> pb.RecommendResponse:
    """Recommend's shape on the audit's demo analysis: a reallocation first, then per-channel
    rows, one of which holds a channel the reallocation moves."""
    channels = [c.channel for c in analysis.attribution.channels if c.spend.amount > 0]
    out = pb.RecommendResponse()
    rows = [
        (pb.RECOMMENDATION_KIND_REALLOCATE, "", f"reallocate at the same total spend: "
         f"{channels[0]} 100 → 80, {channels[1]} 100 → 120", 0.97, 1500.0),
        (pb.RECOMMENDATION_KIND_DECREASE_BUDGET, channels[0], f"cut {channels[0]} spend by 30% "
         "to 70", 0.93, 680.0),
        (pb.RECOMMENDATION_KIND_HOLD, channels[1], f"hold {channels[1]} at its current spend",
         0.89, 0.0),
        (pb.RECOMMENDATION_KIND_RUN_EXPERIMENT, channels[2], f"test {channels[2]}", 0.45, 0.0),
    ]  # fmt: skip
    for priority, (kind, channel, action, confidence, impact) in enumerate(rows, start=1):
        r = out.recommendations.add(
            recommendation_id=f"rec-{priority}", kind=kind, channel=channel, action=action,
            rationale="why", confidence=confidence, priority=priority,
            analysis_ids=[analysis.analysis_id],
        )  # fmt: skip
        r.expected_impact.estimate, r.expected_impact.level = impact, 0.9
        r.expected_impact.lower, r.expected_impact.upper = impact - 500.0, impact + 500.0
    return out


def _section(text: str, title: str, until: str) -> str:
    start = text.index(title)
    return text[start : text.index(until, start + len(title))]


def test_the_recommendations_read_as_two_alternatives_with_measured_columns(
    attribution, browser, tmp_path: Path
) -> None:
    budget = companions.budget(attribution)  # 28 days
    budget.risk_aversion = 1.0
    html = render_report(attribution, budget=budget, recommendations=_recommendations(attribution))
    opened = open_report(browser, html, tmp_path / "recommend.html", screenshot=False)
    assert not opened.errors, opened.errors
    rec = _section(opened.text, "Recommendations", "Budget shift")
    # F3: said before the table, and on the reallocation's own row.
    assert "#1 (reallocate) and the per-channel rows are alternatives" in rec
    assert "do not add their expected impacts" in rec
    assert rec.index("are alternatives") < rec.index("Expected impact (USD, over 28 days)")
    assert "Alternative to the per-channel rows: reallocate at the same total spend" in rec
    # F5: the column's unit and period, and what the figure is.
    assert "Expected impact (USD, over 28 days)" in rec
    assert (
        "the change in revenue (times the value per unit of revenue where one was given) "
        "less the change in spend, over 28 days, in USD" in rec
    )
    # F4: each confidence cell says what it measures; the hold's is an even split.
    assert rec.count("share of the model's draws in which the move gains") == 2
    assert "89%\nhow evenly the draws split on more spend: 100% is a coin flip" in rec
    assert "45%\nthe test's power against a channel that just pays for itself" in rec
    # F8, F9: the budget shift's price and amounts.
    shift = _section(opened.text, "Budget shift", "Current → recommended spend")
    assert "every spend here is a total over those 28 days" in shift
    assert (
        "one more USD of budget would add 1.40 USD to the risk-adjusted objective the plan "
        "maximises (the gain's mean less 1 sd over the model's draws), not 1.40 USD of "
        "expected revenue" in shift
    )


def test_without_a_reallocation_no_alternatives_are_announced(attribution) -> None:
    response = _recommendations(attribution)
    del response.recommendations[0]
    html = render_report(attribution, recommendations=response)
    assert "are alternatives" not in html and "Alternative to the per-channel rows" not in html
    # No budget answer on the page: the period is the analysis window, in words.
    assert "Expected impact (USD, over the analysis window)" in html


def test_a_channel_a_warning_names_is_marked_and_the_window_is_said(
    attribution, browser, tmp_path: Path
) -> None:
    # R6-F7: "Healthy: every check passed" above a warning that a channel's estimate rests on a
    # misread, with that channel's row unmarked; R6-F14: the table's totals had no period.
    analysis = type(attribution)()
    analysis.CopyFrom(attribution)
    result = analysis.attribution
    names = [c.channel for c in result.channels]
    named = names[0]
    del result.warnings[:]
    result.warnings.append(f"{named}'s spend falls on Tuesdays only (17 of 120 days), so its "
                           "effect and interval rest on that")  # fmt: skip
    opened = open_report(browser, render_report(analysis), tmp_path / "warned.html",
                         screenshot=False)  # fmt: skip
    assert not opened.errors, opened.errors
    table = _section(opened.text, "Contribution by channel", "mROAS: the return")
    marked = [n for n in names if f"{n}\n⚠ see warning 1" in table]
    assert marked == [named], marked
    start, end = result.date_range.start_date, result.date_range.end_date
    assert (f"totals over the analysis window {start.year:04d}-{start.month:02d}-{start.day:02d}"
            f"..{end.year:04d}-{end.month:02d}-{end.day:02d}") in table  # fmt: skip
