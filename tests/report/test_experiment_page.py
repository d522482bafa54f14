"""An experiment's page names the experiment (R22-F6)."""

from __future__ import annotations

from mesh.report import render_report
from tests.report.analyses import effect_analysis


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
