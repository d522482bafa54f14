"""R6-F16: one channel's four returns on a page (the design's "planning curve ROAS 0.93 against
3.61 expected", Recommend's "planning curve mean mROAS 2.58", the table's iROAS 4.02 and mROAS
3.00) each say what they are: average or next unit, at which spend, on which curve; the
design's average return is named iROAS, as the table's is."""

from __future__ import annotations

import re
from html import unescape

import pytest
from liftos.v1 import causal_pb2 as causal_pb

from mesh.report import render_report
from mesh.report._format import num
from surfacing_svc.convert.design import analysis_text
from surfacing_svc.design import CellSpec, DesignSpec, TreatmentKind, design_experiment
from tests.report import companions
from tests.surfacing.worlds import geo_history


@pytest.fixture(scope="module")
def attribution() -> causal_pb.Analysis:
    return companions.attribution_analysis()


@pytest.fixture(scope="module")
def history():
    return geo_history(n_geos=24, n_days=240)


def _text(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_a_holdouts_return_is_the_planning_curves_iroas_labelled(history) -> None:
    cell = CellSpec(TreatmentKind.GO_DARK, 0.0, roas=3.0, roas_low=1.0, level=0.9,
                    roas_from="planning curve")  # fmt: skip
    said = design_experiment(history, DesignSpec("meta", cells=(cell,))).cells[0].conservative
    assert (
        "(33% of the estimate; planning curve iROAS 1 against 3 expected, average returns "
        "(the revenue the test turns off per unit of the spend it turns off, at the spend as "
        "run) on the curve's mean over the model's draws scaled to that bound, not the analysis "
        "table's point-fit iROAS; a " in said
    ), said


def test_an_unestablished_channels_detectable_return_is_named(history) -> None:
    cell = CellSpec(TreatmentKind.GO_DARK, 0.0, roas=3.0, roas_low=0.0, level=0.9,
                    roas_from="planning curve")  # fmt: skip
    c = design_experiment(history, DesignSpec("meta", cells=(cell,))).cells[0]
    longest = c.power_curve[-1]
    assert (
        f"change in revenue (an iROAS of {longest.min_detectable_roas:.3g} or more) with 80% "
        "power" in c.conservative
    ), c.conservative


def test_a_heavy_ups_return_is_the_added_spends(history) -> None:
    cells = (
        CellSpec(TreatmentKind.GO_DARK, 0.0, roas=3.0, roas_low=1.0, level=0.9),
        CellSpec(TreatmentKind.HEAVY_UP, 2.0, roas=2.0, roas_low=0.5, level=0.9),
    )
    d = design_experiment(history, DesignSpec("meta", cells=cells, treatment_share=0.6))
    assert "; iROAS 1 against 3 expected, average returns " in d.warnings[0]
    assert (
        "; added-spend ROAS 0.5 against 2 expected, returns of the added spend (its revenue "
        "per unit of it); a " in d.warnings[1]
    ), d.warnings[1]


def test_the_page_names_each_return_of_the_tested_channel(attribution) -> None:
    tested = next(c for c in attribution.attribution.channels if c.HasField("marginal_roas"))
    design = companions.design()
    design.analysis = analysis_text(0.05)  # the surfacing service's words, without a full stop
    html = render_report(attribution, design=design, design_channel=tested.channel)
    text = _text(html)
    i, m = tested.incremental_roas.estimate, tested.marginal_roas.estimate
    assert (
        f"The contribution table's point-fit returns for {tested.channel}: iROAS {num(i)} "
        f"(average, over the window) and mROAS {num(m)} (next unit, at the spend as run)."
    ) in text
    assert "over re-randomisations of the design. Recommended duration" in text
    # Under the table: what the table's and the planning curve's returns are.
    assert (
        "iROAS: the average return, the incremental outcome per unit of all the spend over the "
        "window; mROAS: the return of the next unit of spend at the model's point fit, at the "
        "spend as run."
    ) in text
    assert (
        "quoted as 'planning curve iROAS' (average) and 'planning curve mean mROAS' (next "
        "unit), are the same two quantities on that curve"
    ) in text
