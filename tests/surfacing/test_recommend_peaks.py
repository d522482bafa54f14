"""Recommend's proposed test is checked against the peaks `liftos design` checks (R51-F3 on
Recommend's path, V2-F6): the analysis's holiday country (else the US) and the org's registered
seasons, and the note the design makes reaches the answer. It was designed with the US calendar
and no seasons, and only the registry's caveats were kept: a go-dark into Black Friday was
proposed without a word."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np

from surfacing_svc.planning import PlanningModel, RecommendQuestion, answer_recommend
from surfacing_svc.recommend import ActionKind
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.test_usual_spend import _frame
from tests.surfacing.worlds import geo_history

DAYS = 150


def _model_and_frame(end: dt.date, country: str = ""):
    first = end - dt.timedelta(days=DAYS - 1)
    h = replace(geo_history(n_geos=12, n_days=DAYS, seed=4),
                dates=np.datetime64(first) + np.arange(DAYS).astype("timedelta64[D]"))  # fmt: skip
    model = PlanningModel(
        analysis_id="a", outcome="revenue", start=first, end=end,
        curves=(hill("meta", spend=400_000.0, scale=2e6, kappa=2.0, days=DAYS,
                     identified=False),),
        baseline_total=1.4e8, holiday_country=country,
    )  # fmt: skip
    return model, _frame(h)


def _proposal_notes(answer) -> list[str]:
    (test,) = [a for a in answer.actions if a.kind is ActionKind.TEST]
    assert test.design is not None
    return [
        w for w in answer.warnings if w.startswith("proposed test of meta: ") and "runs into" in w
    ]


def test_the_default_proposal_that_ends_on_black_friday_is_said() -> None:
    """V2's case: 5% is not reached, so the longest default duration, 56 days from the day
    after the history, whose last day is Black Friday."""
    model, frame = _model_and_frame(dt.date(2024, 10, 4))
    (note,) = _proposal_notes(answer_recommend(model, RecommendQuestion("o", ("a",)), frame))
    assert note.startswith("proposed test of meta: the 56-day test (2024-10-05 to 2024-11-29) "
                           "runs into Black Friday to Cyber Monday (2024-11-29 to 2024-12-02)")  # fmt: skip
    assert "too late to set its budget" in note and "the first 56-day window clear" in note


def test_the_proposed_test_is_checked_against_the_orgs_registered_season() -> None:
    model, frame = _model_and_frame(dt.date(2024, 10, 4))
    sale = {dt.date(2024, 10, 12) + dt.timedelta(k): 1.0 for k in range(9)}
    q = RecommendQuestion("o", ("a",))
    (note,) = _proposal_notes(answer_recommend(model, q, frame, seasons={"autumn_sale": sale}))
    assert "runs into autumn_sale (2024-10-12 to 2024-10-20), Black Friday" in note
    assert "it reads out after autumn_sale has started" in note
    (us_only,) = _proposal_notes(answer_recommend(model, q, frame))
    assert "autumn_sale" not in us_only


def test_the_proposed_test_reads_the_analysis_holiday_country() -> None:
    """From 2024-11-11 any test past 18 days meets Black Friday to Cyber Monday and the gift
    weeks on the US calendar; Japan keeps neither."""
    q = RecommendQuestion("o", ("a",))
    model, frame = _model_and_frame(dt.date(2024, 11, 10))
    (note,) = _proposal_notes(answer_recommend(model, q, frame))
    assert "runs into Black Friday to Cyber Monday (2024-11-29 to 2024-12-02)" in note
    japan, frame = _model_and_frame(dt.date(2024, 11, 10), country="JP")
    assert not _proposal_notes(answer_recommend(japan, q, frame))
