"""Budget response found over a stored window (causal_svc.confounders_retro), scored against the
simulator's own truth (sim.confounders): planted demand chasing is recovered, a world whose
budgets ignore demand is left alone, and a window too short to measure against is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from causal_svc.confounders_retro import MIN_DAYS, detect_budget_response
from causal_svc.errors import InsufficientData
from mesh.runtime.aggregates import sum_column
from sim.confounders import confounder_truth


def _memory_sums(result: sim.SimResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The world's panel summed as memory's AggregateRecords answers (wide geo × day table,
    long campaign × day table): paid spend, Klaviyo recipients as impressions, the store's
    orders as first-party ("generic") conversions; dates as days since 1970-01-01."""
    panel = result.panel
    day = (pd.to_datetime(panel["date"]) - pd.Timestamp("1970-01-01")).dt.days
    panel = panel.assign(day=day, geo="US-" + panel["region"].astype(str))
    media = panel.groupby(["day", "geo", "source", "channel"], as_index=False).agg(
        spend=("spend_org", "sum"), impressions=("sends", "sum")
    )
    wide = media.pivot_table(
        index=["day", "geo"], columns=["source", "channel"], values=["spend", "impressions"]
    )
    columns = {}
    for (measure, source, channel), values in wide.items():
        if values.abs().sum() > 0:
            columns[sum_column(source, channel, measure)] = values.to_numpy(np.float64)
    orders = panel.groupby(["day", "geo"])["fp_orders"].first()
    geo_days = pd.DataFrame(columns, index=wide.index)
    geo_days[sum_column("generic", "", "conversions")] = orders.reindex(wide.index).to_numpy()
    geo_days = geo_days.fillna(0.0).reset_index().rename(columns={"day": "date"})
    campaign_days = panel.groupby(["day", "campaign_id", "source", "channel"], as_index=False)[
        "spend_org"
    ].sum()
    campaign_days = campaign_days.rename(columns={"day": "date", "spend_org": "spend"})
    return geo_days, campaign_days


def _scored(result: sim.SimResult) -> tuple[float, float, int]:
    """(recall, precision, active rows) over the paid campaign × geo × day rows."""
    geo_days, campaign_days = _memory_sums(result)
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


def test_budgets_that_ignore_demand_are_not_flagged() -> None:
    result = sim.simulate("demo", seed=13, dirt=False, confounding=0.0)
    geo_days, campaign_days = _memory_sums(result)
    found = detect_budget_response(geo_days, campaign_days)
    assert not confounder_truth(result)["budget_response"].any()
    assert found.flagged_share < 0.01
    assert abs(found.elasticity) < 0.3  # budgets do not move with the orders


def test_a_window_too_short_is_refused() -> None:
    geo_days, campaign_days = _memory_sums(sim.simulate("demo", seed=13, dirt=False, days=40))
    first = geo_days["date"].min()
    geo_days = geo_days.loc[geo_days["date"] < first + MIN_DAYS - 1]
    with pytest.raises(InsufficientData, match="at least 28 days"):
        detect_budget_response(geo_days, campaign_days)
