"""Budget response found over a stored window (causal_svc.confounders_retro), scored against the
simulator's own truth (sim.confounders): planted demand chasing is recovered, a world whose
budgets ignore demand is left alone, and a window too short to measure against is refused."""

from __future__ import annotations

import pytest

import sim
from bench.confounder_detection import simulated_sums
from causal_svc.confounders_retro import MIN_DAYS, budget_response_line, detect_budget_response
from causal_svc.errors import InsufficientData
from sim.confounders import confounder_truth


def _scored(result: sim.SimResult) -> tuple[float, float, int]:
    """(recall, precision, active rows) over the paid campaign × geo × day rows."""
    geo_days, campaign_days = simulated_sums(result)
    found = detect_budget_response(geo_days, campaign_days)
    truth = confounder_truth(result)
    paid = truth.loc[truth["source"] != "klaviyo"]
    flagged = found.flags_for("US-" + paid["region"].astype(str), paid["date"])
    active = paid["budget_response"].to_numpy(bool)
    tp = int((active & flagged).sum())
    return tp / max(int(active.sum()), 1), tp / max(int(flagged.sum()), 1), int(active.sum())


def test_planted_demand_chasing_is_recovered() -> None:
    # a world the detector was not tuned on (tuned on 1-9 and 60-79)
    recall, precision, active = _scored(sim.simulate("demo", seed=13, dirt=False))
    assert active > 300  # the world plants enough budget response to score
    assert recall >= 0.9, (recall, precision)
    assert precision >= 0.85, (recall, precision)


def test_the_line_reports_what_was_found() -> None:
    geo_days, campaign_days = simulated_sums(sim.simulate("demo", seed=13, dirt=False))
    found = detect_budget_response(geo_days, campaign_days)
    flagged = int(found.geo_days["budget_response"].sum())
    assert flagged > 0
    assert f"on {flagged:,} of {len(found.geo_days):,} geo-days" in found.line()
    assert budget_response_line(geo_days, campaign_days) == found.line()


def test_budgets_that_ignore_demand_are_not_flagged() -> None:
    result = sim.simulate("demo", seed=13, dirt=False, confounding=0.0)
    geo_days, campaign_days = simulated_sums(result)
    found = detect_budget_response(geo_days, campaign_days)
    assert not confounder_truth(result)["budget_response"].any()
    assert found.flagged_share < 0.01
    assert abs(found.elasticity) < 0.3  # budgets do not move with the orders


def test_a_window_too_short_is_refused() -> None:
    geo_days, campaign_days = simulated_sums(sim.simulate("demo", seed=13, dirt=False, days=40))
    first = geo_days["date"].min()
    geo_days = geo_days.loc[geo_days["date"] < first + MIN_DAYS - 1]
    with pytest.raises(InsufficientData, match="at least 28 days"):
        detect_budget_response(geo_days, campaign_days)
    # the attribution around it goes on, saying why
    line = budget_response_line(geo_days, campaign_days)
    assert line.startswith("budget response not assessed: ") and "28 days" in line
