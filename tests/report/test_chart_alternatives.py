"""Each chart is described by its caption, and the charts whose numbers no table of the page
gives carry a table of them (R22-F8: a chart's only text alternative was its name)."""

from __future__ import annotations

import re
from html import unescape

import numpy as np

from mesh.report import render_report
from tests.report import companions
from tests.report.channels import channel_analysis

NAMES = ["meta_prospecting", "google_search", "tiktok"]


def _analysis():
    analysis = channel_analysis(NAMES)
    for c in analysis.attribution.channels:
        spend = np.linspace(0.0, 2 * c.spend.amount, 11)
        curve = analysis.attribution.response_curves.add(channel=c.channel)
        curve.spend.extend(spend)
        curve.outcome.extend(3.0 * spend)  # 3 per unit of spend: the table reads 3x
        curve.lower.extend(2.0 * spend)
        curve.upper.extend(4.0 * spend)
        analysis.attribution.response_models.add(
            channel=c.channel, carryover=[0.4, 0.2, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01]
        )
    return analysis


def _data(html: str, kind: str) -> str:
    m = re.search(rf'data-figure="{kind}".*?<details class="data"[^>]*>(.*?)</details>', html, re.S)
    assert m, f"no numbers under {kind}"
    return m.group(1)


def _rows(fragment: str) -> list[list[str]]:
    return [
        [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
        for r in re.findall(r"<tr>(.*?)</tr>", fragment, re.S)
        if "<td" in r
    ]


def test_every_chart_is_described_and_the_curves_have_their_numbers() -> None:
    analysis = _analysis()
    budget = companions.budget(analysis)
    forecast = companions.forecast(days=30)
    html = render_report(analysis, budget=budget, forecast=forecast, design=companions.design())
    # Every chart points at its caption (and its numbers, where it has them), by ids on the page.
    described = re.findall(r'<svg [^>]*aria-describedby="([^"]+)"', html)
    assert len(described) == html.count('<figure class="fig"') >= 6
    for ids in described:
        for i in ids.split():
            assert html.count(f'id="{i}"') == 1, i
    # Response curves: the spend as run and the outcome the curve gives there (3x spend).
    curves = {r[0]: r for r in _rows(_data(html, "response-curves"))}
    assert set(curves) == set(NAMES)
    assert curves["meta_prospecting"][1:3] == ["30,000", "90,000"]
    recommended = {a.channel: a.optimal_spend for a in budget.allocations}
    assert curves["tiktok"][3] == f"{recommended['tiktok']:,.0f}"
    # Carry-over: day 0 … 7 and the rest summed.
    adstock = _rows(_data(html, "adstock"))
    assert adstock[0] == [
        "meta_prospecting",
        "40%",
        "20%",
        "10%",
        "10%",
        "5%",
        "5%",
        "4%",
        "3%",
        "3%",
    ]
    assert len(_rows(_data(html, "forecast"))) == 30
    power = _rows(_data(html, "power-curve"))
    assert [r[0] for r in power] == [str(7 * w) for w in range(1, 9)]
    shift = {r[0]: r for r in _rows(_data(html, "budget-shift"))}
    assert set(shift) == set(NAMES)
