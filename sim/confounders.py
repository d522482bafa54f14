"""Which confounders are truly active, per campaign × geo × day: the truth the ingestion
detectors are scored against.

Read from a finished :class:`~sim.core.SimResult` (its truth file and panel), so it adds an
output without touching a random stream or any existing value. A confounder is *active* on a
row when the data-generating process moves that row's outcome, or its spend, through it:

=================  ============================================================================
kind               active when
=================  ============================================================================
holiday            the day carries a retail-calendar log lift (a US holiday, Black Friday
                   weekend, Cyber Monday): ``demand.holidays``
seasonal_peak      the gift season's lift is on (1–21 December, the demand model's
                   ``gift_season_lift``)
macro_shock        the macro index moves baseline demand by at least ``MACRO_LOG_MOVE`` from its
                   mean over the run (``macro_coef × |macro − mean|``)
competitor_push    a competitor promotion burst is running (``competitor_intensity > 0``)
promotion          the org's own sale is running (``promo == 1``)
budget_response    a paid campaign's budget is moved by demand by at least ``BUDGET_LOG_MOVE``
                   (``confounding × |log_index − its mean over the run|``, the marketers'
                   demand chasing of :func:`sim.spend.plan_inputs`); Klaviyo's sends,
                   planned on a calendar, never are
=================  ============================================================================

The national kinds are the same for every geo and campaign of a day; ``budget_response``
varies by geo and day (and only the ad platforms' campaigns carry it).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .core import SimResult
from .demand import combine_log_index

__all__ = ["BUDGET_LOG_MOVE", "KINDS", "MACRO_LOG_MOVE", "confounder_truth"]

KINDS = (
    "holiday",
    "seasonal_peak",
    "macro_shock",
    "competitor_push",
    "promotion",
    "budget_response",
)
# A macro move of 2% in baseline demand, and a demand-driven budget move of 25% (about a
# quarter of a day's spend), count as active.
MACRO_LOG_MOVE = 0.02
BUDGET_LOG_MOVE = 0.25


def _national(demand: dict, dates: list[dt.date]) -> dict[str, np.ndarray]:
    params = demand["params"]
    series = params["series"]
    holidays = {d for d, (_, lift) in demand["holidays"].items() if lift != 0}
    macro = np.asarray(series["macro_index"], dtype=float)
    return {
        "holiday": np.array([d.isoformat() in holidays for d in dates]),
        "seasonal_peak": np.array([d.month == 12 and d.day <= 21 for d in dates]),
        "macro_shock": params["macro_coef"] * np.abs(macro - macro.mean()) >= MACRO_LOG_MOVE,
        "competitor_push": np.asarray(series["competitor_intensity"], dtype=float) > 0,
        "promotion": np.asarray(series["promo"], dtype=float) > 0,
    }


def _demand_chase(demand: dict, n_days: int) -> np.ndarray:
    """(G, T) log budget move the marketers' demand chasing adds (before the confounding
    elasticity): log_index minus its mean over the run, per geo."""
    geo = demand["geo"]
    components = {k: np.asarray(v, dtype=float) for k, v in demand["components"].items()}
    log_index = combine_log_index(
        components,
        np.asarray(demand["yearly"], dtype=float),
        np.asarray(geo["season_loading"], dtype=float),
        np.asarray(geo["geo_trend"], dtype=float),
        np.asarray(demand["shock"], dtype=float).reshape(-1, n_days),
    )
    return log_index - log_index.mean(axis=1, keepdims=True)


def confounder_truth(result: SimResult) -> pd.DataFrame:
    """One row per campaign × geo × day the platforms report (the panel's rows): ``org_id``,
    ``campaign_id``, ``source``, ``region``, ``date`` and one boolean column per kind in
    :data:`KINDS`."""
    truth = result.truth
    dates = [dt.date.fromisoformat(d) for d in truth["dates"]]
    regions = [g["code"] for g in truth["geos"]]
    confounding = float(truth["config"]["confounding"])
    panel = result.panel
    day = pd.to_datetime(panel["date"]).dt.date.map({d: i for i, d in enumerate(dates)})
    geo = panel["region"].astype(str).map({r: i for i, r in enumerate(regions)})
    t, g = day.to_numpy(dtype=np.int64), geo.to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "org_id": panel["org_id"].astype(str).to_numpy(),
            "campaign_id": panel["campaign_id"].astype(str).to_numpy(),
            "source": panel["source"].astype(str).to_numpy(),
            "region": panel["region"].astype(str).to_numpy(),
            "date": pd.to_datetime(panel["date"]).to_numpy(),
        }
    )
    for kind in KINDS:
        out[kind] = False
    for org_id, org in truth["orgs"].items():
        rows = (out["org_id"] == org_id).to_numpy()
        demand = org["demand"]
        for kind, active in _national(demand, dates).items():
            out.loc[rows, kind] = active[t[rows]]
        chase = confounding * np.abs(_demand_chase(demand, len(dates)))
        # Klaviyo's email and SMS follow a send calendar, not demand (plan_inputs)
        paid = rows & (panel["source"].astype(str) != "klaviyo").to_numpy()
        out.loc[paid, "budget_response"] = chase[g[paid], t[paid]] >= BUDGET_LOG_MOVE
    return out
