"""Recommend's proposed tests are designed the way DesignExperiment designs them (R5-F4 on
Recommend's path): a registered holdout's window is not the channel's business as usual, and
the response says so."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from surfacing_svc.planning import PlanningModel, RecommendQuestion, answer_recommend
from surfacing_svc.recommend import ActionKind
from surfacing_svc.usual_spend import RegisteredTests
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.test_usual_spend import DAYS, TEST_DAYS, _dark_history, _frame

MODEL = PlanningModel(
    analysis_id="a", outcome="revenue", start=dt.date(2024, 1, 1), end=dt.date(2024, 5, 29),
    curves=(hill("meta", spend=400_000.0, scale=2e6, kappa=2.0, days=DAYS, identified=False),),
    baseline_total=1.4e8,
)  # fmt: skip


def test_recommends_proposed_test_reads_usual_spend_before_a_registered_holdout() -> None:
    h, test = _dark_history()
    # Its result recorded: a holdout still awaiting its read-out holds the channel instead of
    # proposing another test of it (R42-F1, tests/surfacing/test_recommend_held.py).
    test = replace(test, read_out=True)
    frame = _frame(h)
    q = RecommendQuestion("o", ("a",))
    blind = answer_recommend(MODEL, q, frame)
    seen = answer_recommend(MODEL, q, frame, tests=RegisteredTests([test]))
    (action,) = [a for a in seen.actions if a.kind is ActionKind.TEST]
    (before,) = [a for a in blind.actions if a.kind is ActionKind.TEST]
    assert action.design is not None and before.design is not None
    cell = action.design.cells[0]
    treated = [h.geos.index(g) for g in cell.treatment_geos]
    usual = h.spend["meta"][treated][:, DAYS - 2 * TEST_DAYS : DAYS - TEST_DAYS]
    assert cell.daily_spend == pytest.approx(usual.sum(axis=0).mean())
    # Without the registry the holdout's last 28 days were read as usual (what Recommend did).
    dark = h.spend["meta"][[h.geos.index(g) for g in before.design.cells[0].treatment_geos]]
    assert before.design.cells[0].daily_spend == pytest.approx(
        dark[:, DAYS - TEST_DAYS :].sum(axis=0).mean()
    )
    assert cell.daily_spend > 1.5 * before.design.cells[0].daily_spend
    (note,) = [w for w in seen.warnings if "meta-dark" in w and "business-as-usual" in w]
    assert note.startswith("proposed test of meta: meta's business-as-usual spend is read from")
    assert not any("meta-dark" in w for w in blind.warnings)
    unread = answer_recommend(MODEL, q, frame, tests=RegisteredTests([], "ListExperiments: down"))
    assert any("registered experiments could not be read" in w for w in unread.warnings)
