"""R6-F15 on the attribution page: units and figures read one way everywhere. The forecast's
axis keeps the currency code's case, a MAPE is a percentage wherever it is shown, the Share
column says what it is a share of, and the forecast's total says its days, dates and unit."""

from __future__ import annotations

import re
from html import unescape

import pytest

from mesh.report import render_report
from tests.report import companions


@pytest.fixture(scope="module")
def attribution():
    return companions.attribution_analysis()


def _text(html: str) -> str:
    """The page's words without tags or the figures' SVG."""
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _figure(html: str, kind: str) -> str:
    start = html.index(f'data-figure="{kind}"')
    return html[start : html.index("</figure>", start)]


def test_the_forecast_axis_keeps_the_currency_code(attribution) -> None:
    html = render_report(attribution, forecast=companions.forecast(56))
    fig = _figure(html, "forecast")
    assert "Revenue (USD)" in fig and "Revenue (usd)" not in fig


def test_the_forecast_total_says_its_days_dates_and_currency(attribution) -> None:
    forecast = companions.forecast(56)  # 2026-07-01, 56 days
    text = " ".join(_text(render_report(attribution, forecast=forecast)).split())
    total = forecast.total.estimate
    assert f"total over the 56 days 2026-07-01..2026-08-25, in USD: {total:,.0f} (" in text, text


def test_a_mape_is_a_percentage_everywhere_on_the_page(attribution) -> None:
    h = attribution.attribution.health
    mape = h.holdout_mape or attribution.attribution.model.validation_metrics.holdout_mape
    assert 0 < mape < 1
    text = " ".join(_text(render_report(attribution)).split())
    assert f"Holdout MAPE {mape:.1%}" in text, text
    # No MAPE printed as a fraction: every "MAPE" on the page is followed by a percentage.
    for shown in re.findall(r"MAPE[^0-9]{0,3}([0-9][0-9.,]*%?)", text):
        assert shown.endswith("%"), shown


def test_the_share_column_says_what_it_is_a_share_of(attribution) -> None:
    text = " ".join(_text(render_report(attribution)).split())
    assert "Share of incremental" in text
    assert (
        "Share of incremental: the channel's part of every channel's incremental outcome summed "
        "(not of the total outcome)" in text
    )
