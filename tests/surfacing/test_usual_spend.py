"""Business-as-usual spend leaves out a registered test's window (R5-F4): predict's default
plan and design's spend change read the channel's usual days, not a holdout's, and say so
naming the experiment; optimize names its own "current" (the analysis window's mean)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from surfacing_svc.design import DesignSpec, design_experiment
from surfacing_svc.history import GeoHistory
from surfacing_svc.optimizer import Objective
from surfacing_svc.planning import (
    DesignQuestion,
    ForecastQuestion,
    OptimizeQuestion,
    PlanEntry,
    PlanningModel,
    answer_design,
    answer_forecast,
    answer_optimize,
)
from surfacing_svc.usual_spend import RegisteredTest, RegisteredTests, usual_days
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.worlds import geo_history

DAYS = 150
TEST_DAYS = 28


def _dark_history() -> tuple[GeoHistory, RegisteredTest]:
    """A history that ends with meta dark in half the geos for 28 days, and that test."""
    h = geo_history(n_geos=12, n_days=DAYS, seed=3)
    spend = h.spend["meta"].copy()
    spend[::2, DAYS - TEST_DAYS :] = 0.0
    days = [d.item() for d in h.dates.astype("datetime64[D]")]
    test = RegisteredTest("meta-dark", "meta", days[DAYS - TEST_DAYS], days[-1], "completed")
    return replace(h, spend={"meta": spend}), test


def _frame(h: GeoHistory) -> pd.DataFrame:
    """The history as the long records frame memory's sums become."""
    rows = []
    for g, geo in enumerate(h.geos):
        for t, day in enumerate(h.dates):
            rows.append((day, "generic", "first_party", geo, 0.0, h.outcome[g, t]))
            rows.append((day, "meta", "meta", geo, h.spend["meta"][g, t], 0.0))
    frame = pd.DataFrame(rows, columns=["local_date", "data_source", "channel", "geo", "spend",
                                        "revenue"])  # fmt: skip
    return frame.assign(conversions=frame["revenue"] / 80.0, impressions=0.0)


def test_usual_days_are_the_weeks_before_a_test_that_ends_the_history() -> None:
    h, test = _dark_history()
    usual = usual_days(h.dates, "meta", [test])
    assert list(usual.index) == list(range(DAYS - 2 * TEST_DAYS, DAYS - TEST_DAYS))
    assert "meta-dark" in usual.note and f"{test.start:%Y-%m-%d}..{test.end:%Y-%m-%d}" in usual.note
    # Another channel's test, or none: the last 28 days, nothing said.
    other = usual_days(h.dates, "google", [test])
    assert list(other.index) == list(range(DAYS - TEST_DAYS, DAYS)) and other.note == ""
    # A test inside the last weeks: the 28 latest days outside it.
    days = [d.item() for d in h.dates.astype("datetime64[D]")]
    middle = RegisteredTest("mid", "meta", days[DAYS - 20], days[DAYS - 11])
    inside = usual_days(h.dates, "meta", [middle])
    assert inside.index.size == TEST_DAYS and not set(inside.index) & set(
        range(DAYS - 20, DAYS - 10)
    )
    assert inside.index[-1] == DAYS - 1 and "28 latest days outside the test" in inside.note
    assert "(2024-04-22..2024-05-09, 2024-05-20..2024-05-29)" in inside.note


MODEL = PlanningModel(
    analysis_id="a", outcome="revenue", start=dt.date(2024, 1, 1), end=dt.date(2024, 5, 29),
    curves=(hill("meta", spend=400_000.0, scale=2e6, kappa=2.0, days=DAYS),),
    baseline_total=1.4e8,
)  # fmt: skip


def test_predicts_default_plan_keeps_the_spend_before_the_holdout_and_names_it() -> None:
    h, test = _dark_history()
    frame = _frame(h)
    q = ForecastQuestion("o", "a", horizon=28, level=0.9)
    before = float(h.spend["meta"][:, DAYS - 2 * TEST_DAYS : DAYS - TEST_DAYS].sum(axis=0).mean())
    during = float(h.spend["meta"][:, DAYS - TEST_DAYS :].sum(axis=0).mean())
    assert during < 0.85 * before  # the holdout's level is not the channel's usual one
    usual = answer_forecast(frame, q, MODEL, tests=RegisteredTests([test]))
    pinned = answer_forecast(frame, replace(q, plan=(PlanEntry("meta", "p", before),)), MODEL)
    holdout = answer_forecast(frame, replace(q, plan=(PlanEntry("meta", "p", during),)), MODEL)
    assert usual.media_total.estimate == pytest.approx(pinned.media_total.estimate, rel=1e-9)
    assert usual.media_total.estimate > holdout.media_total.estimate
    (note,) = [w for w in usual.warnings if "meta-dark" in w]
    assert "meta's business-as-usual spend" in note and "2024-04-04..2024-05-01" in note
    (kept,) = [w for w in usual.warnings if "keep their business-as-usual spend" in w]
    assert "where a registered test ran in them" in kept and "analysis window's mean" in kept
    # A multiplier scales the usual level, not the holdout's.
    scaled = answer_forecast(frame, replace(q, plan=(PlanEntry("meta", "plan[0]", multiplier=1.0),)),
                             MODEL, tests=[test])  # fmt: skip
    assert scaled.media_total.estimate == pytest.approx(pinned.media_total.estimate, rel=1e-9)
    # A registry that could not be read is said, and the last days are used.
    blind = answer_forecast(frame, q, MODEL, tests=RegisteredTests([], "ListExperiments: down"))
    assert blind.media_total.estimate == pytest.approx(holdout.media_total.estimate, rel=1e-9)
    assert any("registered experiments could not be read" in w for w in blind.warnings)


def test_a_design_removes_the_usual_spend_not_the_holdouts_and_names_the_test() -> None:
    h, test = _dark_history()
    spec = DesignSpec("meta", durations=(28,))
    blind = design_experiment(h, spec)
    seen = design_experiment(h, spec, [test])
    treated = [h.geos.index(g) for g in seen.cells[0].treatment_geos]
    before = h.spend["meta"][treated][:, DAYS - 2 * TEST_DAYS : DAYS - TEST_DAYS].sum(axis=0).mean()
    assert seen.cells[0].power_curve[0].spend_change == pytest.approx(-28 * before)
    assert abs(seen.cells[0].power_curve[0].spend_change) > abs(
        blind.cells[0].power_curve[0].spend_change
    )
    assert any("meta-dark" in w and "not from the test window" in w for w in seen.warnings)
    assert not any("meta-dark" in w for w in blind.warnings)
    # Through the planning entry, as the service calls it.
    design, _ = answer_design(_frame(h), DesignQuestion("o", spec, "revenue", None, None), None,
                              RegisteredTests([test]))  # fmt: skip
    assert design.cells[0].daily_spend == pytest.approx(seen.cells[0].daily_spend)


def test_optimize_names_its_current_spend_as_the_analysis_windows_mean() -> None:
    q = OptimizeQuestion("o", "a", budget=4e5, horizon_days=90, objective=Objective.REVENUE,
                         metric=None)  # fmt: skip
    plan, _ = answer_optimize(MODEL, q)
    (note,) = [w for w in plan.warnings if w.startswith("current spend is")]
    assert "2024-01-01..2024-05-29 (150 days), scaled to the 90-day horizon" in note
    assert np.isclose(plan.channels[0].current_spend, 400_000.0 * 90 / 150)
