"""An experiment's page names the experiment (R22-F6), and the naive comparison says which rows
it ran on where they are not the estimate's (R20-F9)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect
from mesh.report import render_report
from tests.report.analyses import effect_analysis, geo_panel


def _caption(html: str) -> str:
    m = re.search(r'data-figure="estimate">.*?<figcaption[^>]*>(.*?)</figcaption>', html, re.S)
    assert m, "no estimate figure"
    return unescape(re.sub(r"<[^>]+>", "", m.group(1)))


def test_an_experiments_page_is_titled_by_the_experiment() -> None:
    analysis = effect_analysis("did")
    analysis.request.records.experiment_id = "exp_org_001_001"
    html = render_report(analysis)
    # Before: "Effect of treated_post on revenue", the experiment never named.
    assert "<title>Experiment exp_org_001_001: effect on revenue</title>" in html
    assert "<h1>Experiment exp_org_001_001: effect on revenue</h1>" in html
    assert "treatment column treated_post" in html
    # A page from a data set keeps the treatment column as its subject.
    plain = render_report(effect_analysis("did"))
    assert "<title>Effect of treated_post on revenue</title>" in plain


def test_the_naive_comparison_names_its_rows_where_they_differ() -> None:
    analysis = effect_analysis("did")
    e = analysis.estimate
    assert e.HasField("naive_estimate") and e.naive_estimate.n == e.n
    assert "beside the naive comparison (hollow) on the same rows." in _caption(
        render_report(analysis)
    )
    # A geo test's estimate on the geos' test-window means, its naive comparison on every
    # geo-day of the input (the demo's: 20 against 1,680).
    e.n, e.naive_estimate.n = 20, 1680
    caption = _caption(render_report(analysis))
    assert "on the same rows" not in caption
    assert "over all 1,680 input rows, not the estimate's 20 observations" in caption


def test_a_panel_experiments_naive_comparison_is_on_the_estimates_units() -> None:
    # A randomised geo test's geo x week panel: half the geos treated from week 18, after a
    # season that lifts every geo in the pre-period (as the demo's Black Friday did).
    panel = geo_panel(n_geos=20, starts={g: 18 for g in range(0, 20, 2)}, lift=120.0)
    spec = EffectSpec("revenue", "treated_post", unit="geo", time="date")
    result = estimate_effect(
        panel, spec, Method.DIFFERENCE_IN_MEANS, options=EstimationOptions(seed=7),
        randomised=True, refutation_simulations=2,
    )  # fmt: skip
    e, naive = result.estimate, result.naive
    assert naive is not None
    # Before: the naive regression ran on all 520 geo-weeks (pre-period included), n 520 beside
    # an estimate on 20 geos.
    assert naive.nobs == e.nobs == 20
    post = panel[panel["date"] >= sorted(panel["date"].unique())[18]]
    means = post.groupby("geo").agg(revenue=("revenue", "mean"), t=("treated_post", "max"))
    raw = means.loc[means.t == 1, "revenue"].mean() - means.loc[means.t == 0, "revenue"].mean()
    assert naive.estimate == pytest.approx(raw, rel=1e-9)
    assert "means over the treatment window" in naive.name
