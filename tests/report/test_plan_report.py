"""Attribution, surfacing and explanation sections, opened in the report tests' Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mesh.report import render_report
from mesh.report._plan_plots import wrap_name
from tests.report import companions
from tests.report.conftest import open_report


@pytest.fixture(scope="module")
def attribution():
    return companions.attribution_analysis()


def _clean(opened) -> None:
    assert not opened.errors, opened.errors
    assert not opened.overlaps, opened.overlaps
    for f in opened.figures:
        assert f["width"] > 100 and f["height"] > 50 and f["marks"] > 10, f


def test_attribution_with_its_plan_and_explanation(attribution, browser, tmp_path: Path) -> None:
    explanation = companions.explanation(attribution)
    html = render_report(
        attribution, explanation=explanation, budget=companions.budget(attribution),
        forecast=companions.forecast(), design=companions.design(),
        recommendations=companions.recommendations(attribution),
    )  # fmt: skip
    opened = open_report(browser, html, tmp_path / "attribution.html")
    _clean(opened)
    kinds = [f["kind"] for f in opened.figures]
    assert kinds == [
        "contributions", "roas", "response-curves", "adstock", "budget-shift", "forecast",
        "power-curve",
    ]  # fmt: skip
    # The health verdict and its checks come before any ROI.
    health = attribution.attribution.health
    assert health.verdict and health.checks
    assert html.index('id="verdict"') < html.index('data-figure="contributions"')
    for check in health.checks:
        assert f'id="health-{check.name}"' in html
    assert "naive regression" in html and "Naive ROAS" in html
    # The explanation comes first; the model's health before any channel figure.
    order = [m.group(1) for m in re.finditer(r'<section id="([^"]+)"', html)]
    assert order[:3] == ["explanation", "health", "channels"]
    for channel in attribution.attribution.channels:
        assert f'id="channel-{channel.channel}"' in html
    assert "Recommendations" in opened.text and "Raise spend by 25%" in opened.text


def test_every_citation_links_to_an_element_on_the_page(attribution) -> None:
    from tests.report.analyses import effect_analysis

    for analysis in (attribution, effect_analysis("event_study")):
        explanation = companions.explanation(analysis)
        assert explanation.citations
        html = render_report(analysis, explanation=explanation)
        ids = set(re.findall(r'\bid="([^"]+)"', html))
        links = re.findall(r'<a class="cite" href="#([^"]+)"', html)
        assert len(links) >= len(explanation.citations) // 2
        assert set(links) <= ids, set(links) - ids
        assert set(links) - {"summary"}, "citations should reach specific numbers"


def test_thirty_channels_stay_readable(browser, tmp_path: Path) -> None:
    big = companions.big_attribution(30)
    html = render_report(
        big, budget=companions.budget(big), forecast=companions.forecast(365),
        recommendations=companions.recommendations(big),
    )  # fmt: skip
    opened = open_report(browser, html, tmp_path / "big.html", screenshot=False)
    _clean(opened)
    assert len(html.encode()) < 5_000_000


def test_long_names_wrap_at_separators() -> None:
    assert wrap_name("google_campaign_19_prospecting", 20) == "google_campaign_19_\nprospecting"
    assert wrap_name("tiktok", 20) == "tiktok"
    assert all(len(line) <= 20 for line in wrap_name("x" * 50, 20).splitlines())


def test_a_failed_model_shows_its_diagnostics_and_no_roi() -> None:
    from liftos.v1 import causal_pb2 as causal_pb

    analysis = causal_pb.Analysis(analysis_id="an-failed", org_id="acme")
    result = analysis.attribution
    result.health.verdict = causal_pb.HEALTH_VERDICT_FAIL
    result.health.checks.add(
        name="holdout", verdict=causal_pb.HEALTH_VERDICT_FAIL, value=-0.4, threshold=0.3,
        message="the held-out days are predicted worse than their mean",
    )  # fmt: skip
    html = render_report(analysis)
    assert "Failed: the model is not usable, so no ROI is shown" in html
    assert "the held-out days are predicted worse than their mean" in html
    assert "data-figure" not in html
