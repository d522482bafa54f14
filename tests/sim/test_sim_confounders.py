"""The simulator's confounder truth: per campaign × geo × day, read from the world it ran,
without changing anything the world already produced."""

from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from sim.confounders import BUDGET_LOG_MOVE, KINDS, MACRO_LOG_MOVE, confounder_truth


def test_truth_follows_the_demand_model_and_leaves_the_world_unchanged() -> None:
    result = sim.simulate("demo", seed=3, dirt=False)
    before = result.panel.copy()
    truth = confounder_truth(result)
    pd.testing.assert_frame_equal(result.panel, before)
    assert len(truth) == len(result.panel)
    assert list(truth.columns[-len(KINDS) :]) == list(KINDS)
    demand = result.truth["orgs"]["org_001"]["demand"]
    series = demand["params"]["series"]
    dates = pd.to_datetime(pd.Series(result.truth["dates"]))
    day = pd.to_datetime(truth["date"]).map({d: i for i, d in enumerate(dates)}).to_numpy()
    holidays = {d for d, (_, lift) in demand["holidays"].items() if lift}
    assert (truth["holiday"] == dates.dt.strftime("%Y-%m-%d").isin(holidays).to_numpy()[day]).all()
    assert (truth["promotion"] == (np.asarray(series["promo"])[day] > 0)).all()
    assert (truth["competitor_push"] == (np.asarray(series["competitor_intensity"])[day] > 0)).all()
    macro = np.asarray(series["macro_index"])
    moves = demand["params"]["macro_coef"] * np.abs(macro - macro.mean()) >= MACRO_LOG_MOVE
    assert (truth["macro_shock"] == moves[day]).all()
    december = dates.dt.month.eq(12) & dates.dt.day.le(21)
    assert (truth["seasonal_peak"] == december.to_numpy()[day]).all()
    # demand-chased budgets: paid campaigns only, and it varies by geo within a day
    email = truth["source"].eq("klaviyo")
    assert not truth.loc[email, "budget_response"].any()
    assert 0 < truth.loc[~email, "budget_response"].mean() < 0.5
    by_day = truth.loc[~email].groupby("date")["budget_response"].nunique()
    assert (by_day > 1).any()
    assert BUDGET_LOG_MOVE == 0.25
