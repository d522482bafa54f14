"""Attribution, surfacing and explanation sections, opened in the report tests' Chromium."""

from __future__ import annotations

import re
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
from liftos.v1 import causal_pb2 as causal_pb

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
        "model-fit", "contributions", "roas", "decomposition", "response-curves", "adstock",
        "budget-shift", "forecast", "power-curve",
    ]  # fmt: skip
    # The health verdict and its checks come before any ROI.
    health = attribution.attribution.health
    assert health.verdict and health.checks
    assert html.index('id="verdict"') < html.index('data-figure="model-fit"')
    assert html.index('data-figure="model-fit"') < html.index('data-figure="contributions"')
    for check in health.checks:
        assert f'id="health-{check.name}"' in html
    assert "naive regression" in html and "Naive ROAS" in html
    # The explanation comes first; the model's health before any channel figure.
    order = [m.group(1) for m in re.finditer(r'<section id="([^"]+)"', html)]
    assert order[:4] == ["explanation", "health", "channels", "decomposition"]
    for channel in attribution.attribution.channels:
        assert f'id="channel-{channel.channel}"' in html
    assert "Recommendations" in opened.text and "Raise spend by 25%" in opened.text
    # The table's mROAS is the point fit's; the plans' is the planning curve's (R2-F4).
    assert "mROAS: the return of the next unit of spend at the model's point fit" in opened.text
    assert "computed on the planning curve, the mean over the model's parameter draws" in (
        opened.text
    )


def test_the_identification_and_the_intervals_are_said_once_and_fully(attribution) -> None:
    """Re-audit: the strategy's sentence printed twice (it also leads the assumptions), and
    intervals printed bare '(a to b)' with no level."""
    html = render_report(attribution)
    reason = attribution.attribution.identification.reason
    assert reason and html.count(html_escape(reason)) == 1
    assert ", 90%)" in html
    assert not re.search(r"\([0-9−.,]+ to [0-9−.,]+\)", html)  # every interval has its level


def test_the_design_section_names_its_channel_power_and_caveats(attribution) -> None:
    """Re-audit N2: the design section never said which channel it tests nor what the
    recommended duration buys, and left out the design's warnings."""
    design = companions.design()
    point = design.cells[0].power_curve[4]  # 35 days, the recommended duration
    point.power_at_expected, point.expected_lift = 0.91, 0.05
    design.warnings.append("meta_prospecting at the lower bound of the analysis's 90% interval: "
                           "no duration up to 56 days reaches 80% power")  # fmt: skip
    html = render_report(attribution, design=design, design_channel="meta_prospecting")
    section = html[html.index('id="design"') :]
    assert "A geo test of meta_prospecting." in section
    assert "35 days (power 91% at the expected effect, minimum detectable lift 5.4%)" in section
    assert "geo-10, geo-11" in section and "no duration up to 56 days" in section


def test_the_design_section_qualifies_its_duration_by_the_interval_lower_bound(
    attribution,
) -> None:
    """E3: the report recommended "7 days" unqualified while the design said the test may
    come back null at the analysis interval's lower bound; the note and the power there now
    sit next to the recommended duration, and the warnings do not repeat the note."""
    design = companions.design()
    cell = design.cells[0]
    point = cell.power_curve[4]  # 35 days, the recommended duration
    point.power_at_expected, point.power_at_conservative = 0.91, 0.28
    cell.conservative = (
        "meta_prospecting at the lower bound of the analysis's 90% interval (ROAS 0.94 against "
        "3.65 expected; a 1.9% change in revenue): power 28% at 35 days; no duration up to 56 "
        "days reaches 80% power at the interval's lower bound: the test may come back null"
    )
    design.warnings.extend([cell.conservative, "3 geos have no outcome"])
    html = render_report(attribution, design=design, design_channel="meta_prospecting")
    section = html[html.index('id="design"') :]
    said = html_escape(cell.conservative)
    assert (
        "35 days (power 91% at the expected effect, 28% at the interval's lower bound, "
        "minimum detectable lift 5.4%)" in section
    )
    paragraph = section[: section.index("</p>")]
    assert paragraph.index("35 days") < paragraph.index(said)  # next to it, in one paragraph
    assert section.count(said) == 1 and "<li>3 geos have no outcome</li>" in section


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
    assert {"model-fit", "decomposition"} <= {f["kind"] for f in opened.figures}
    # Six channels named, the other 24 stacked as one layer the legend says.
    assert "other 24 channels" in _figure(html, "decomposition")
    assert len(html.encode()) < 5_000_000


def _figure(html: str, kind: str) -> str:
    start = html.index(f'data-figure="{kind}"')
    return html[start : html.index("</figure>", start)]


def test_decomposition_and_fit_read_the_daily_series(attribution) -> None:
    from mesh.report._series_plots import layers

    daily = attribution.attribution.daily
    assert len(daily.dates) == attribution.attribution.day_count
    parts = layers(daily)
    assert parts[0][0] == "baseline (no media)"
    # The stack is the model's prediction: the layers add up to it on every day.
    np.testing.assert_allclose(np.sum([v for _, v in parts], axis=0), daily.predicted_outcome,
                               rtol=1e-9)  # fmt: skip
    html = render_report(attribution)
    fit = _figure(html, "model-fit")
    holdout = sum(daily.holdout)
    assert holdout == attribution.attribution.health.holdout_days > 0
    assert f"holdout ({holdout} days)" in fit and f"the last {holdout} days" in fit
    assert "Revenue (USD)" in fit and "Revenue (USD)" in _figure(html, "decomposition")
    # Dates on the time axes: the month names of the window.
    assert re.search(r">(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)<", fit)


def test_an_attribution_without_daily_series_still_renders(attribution) -> None:

    older = causal_pb.Analysis()
    older.CopyFrom(attribution)
    older.attribution.ClearField("daily")
    html = render_report(older)
    assert 'data-figure="contributions"' in html
    assert 'data-figure="model-fit"' not in html and 'data-figure="decomposition"' not in html


def test_the_forecast_is_a_fan_when_the_answer_has_bands(browser, tmp_path: Path) -> None:
    big = companions.big_attribution(8)
    fan = render_report(big, forecast=companions.forecast(56, fan=(0.5, 0.8, 0.95)))
    plain = render_report(big, forecast=companions.forecast(56))
    fan_fig, plain_fig = _figure(fan, "forecast"), _figure(plain, "forecast")
    for level in ("50%", "80%", "95%"):
        assert f">{level}<" in fan_fig
    assert "fan of nested intervals" in fan_fig and "90% interval" in plain_fig
    # Three bands drawn where one was.
    assert fan_fig.count("<path") >= plain_fig.count("<path") + 2
    _clean(open_report(browser, fan, tmp_path / "fan.html", screenshot=False))


@pytest.mark.parametrize(("paper", "width_mm"), [("A4", 210), ("Letter", 216)])
def test_the_attribution_page_prints_within_the_paper(
    paper: str, width_mm: int, browser, tmp_path: Path
) -> None:
    big = companions.big_attribution(30)
    path = tmp_path / "print.html"
    path.write_text(render_report(big, forecast=companions.forecast(56, fan=(0.5, 0.9))),
                    encoding="utf-8")  # fmt: skip
    width_px = round(width_mm / 25.4 * 96)
    page = browser.new_page(viewport={"width": width_px, "height": 1100})
    page.emulate_media(media="print")
    page.goto(path.as_uri(), wait_until="load")
    rights = page.evaluate(
        "() => [...document.querySelectorAll('figure.fig svg')].map(s => s.getBoundingClientRect().right)"
    )
    assert len(rights) >= 6 and max(rights) <= width_px
    pdf = page.pdf(format=paper, print_background=True)
    page.close()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pdf.startswith(b"%PDF") and pages >= 3, pages


def test_long_names_wrap_at_separators() -> None:
    assert wrap_name("google_campaign_19_prospecting", 20) == "google_campaign_19_\nprospecting"
    assert wrap_name("tiktok", 20) == "tiktok"
    assert all(len(line) <= 20 for line in wrap_name("x" * 50, 20).splitlines())


def test_a_failed_model_shows_its_diagnostics_and_no_roi() -> None:

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


def test_a_failed_model_shows_its_fit_but_no_decomposition() -> None:
    """A FAIL model's daily series carry the fit (a diagnostic) and no split into channels."""
    big = companions.big_attribution(6)
    result = big.attribution
    result.health.verdict = causal_pb.HEALTH_VERDICT_FAIL
    for name in ("channels", "response_curves", "response_models"):
        result.ClearField(name)
    result.daily.ClearField("channels")
    result.daily.ClearField("baseline_outcome")
    html = render_report(big)
    assert "Failed: the model is not usable, so no ROI is shown" in html
    assert 'data-figure="model-fit"' in html
    assert 'data-figure="decomposition"' not in html and 'data-figure="contributions"' not in html


def test_very_long_channel_names_stay_inside_the_decomposition(browser, tmp_path: Path) -> None:
    big = companions.big_attribution(8)
    for i, c in enumerate(big.attribution.daily.channels):
        c.channel = f"{i}_" + "very_long_channel_name_from_an_ad_platform_export_" * 2
    opened = open_report(browser, render_report(big), tmp_path / "long.html", screenshot=False)
    _clean(opened)
