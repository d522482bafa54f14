"""Simulated worlds as attribution panels, with the truth to score them against.

Shared by the fast tests here and the benchmarks in ``bench/attribution_*.py``: one place that
knows how the simulator's frames map onto a :class:`MediaPanel` (the same aggregation the
memory service's geo × day × channel read performs on ingested records).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

import sim
from causal_svc.attribution import LiftTest, MediaPanel, panel_from_frames

EXTERNAL = ("macro_index", "competitor_intensity", "promo")


@dataclass(frozen=True, slots=True)
class World:
    """A simulated world as the model sees it, and its truth."""

    result: sim.SimResult
    panel: MediaPanel
    true_iroas: dict[str, float]  # channels with spend
    true_incremental: dict[str, float]  # every channel, expected incremental outcome
    true_without: dict[str, float]  # total outcome without each channel (realised)
    total_outcome: float
    spend: dict[str, float]
    experiment: LiftTest | None  # the registry's experiment, analysed by DiD
    experiment_truth: float | None  # its true lift


def simulate(scenario: str, seed: int, **overrides: object) -> sim.SimResult:
    return sim.simulate(scenario, seed=seed, dirt=False, **overrides)  # type: ignore[arg-type]


def frames(r: sim.SimResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(outcome, media, campaigns) long frames in the shapes :func:`panel_from_frames` reads."""
    p = r.panel
    fx = {a["account_id"]: a["fx_to_org_currency"] for a in r.accounts}
    rate = p["account_id"].astype(str).map(fx).to_numpy(np.float64)
    # Klaviyo reports recipients as impressions (ingestion maps them so).
    imps = np.where(p["source"].astype(str) == "klaviyo", p["sends"], p["impressions"])
    long = pd.DataFrame(
        {
            "geo": p["region"].astype(str),
            "date": p["date"],
            "channel": p["channel"].astype(str),
            "campaign": p["campaign_id"].astype(str),
            "spend": p["spend_org"].to_numpy(np.float64),
            "impressions": imps.astype(np.float64),
            "platform_outcome": p["platform_revenue"].to_numpy(np.float64) * rate,
        }
    )
    media = long.groupby(["geo", "date", "channel"], as_index=False, observed=True)[
        ["spend", "impressions", "platform_outcome"]
    ].sum()
    campaigns = long.groupby(["campaign", "channel", "date"], as_index=False, observed=True)[
        ["spend", "impressions", "platform_outcome"]
    ].sum()
    o = r.outcomes
    outcome = pd.DataFrame(
        {"geo": o["region"].astype(str), "date": o["date"], "value": o["revenue"]}
    )
    return outcome, media, campaigns


def experiment_lift(r: sim.SimResult, panel: MediaPanel) -> tuple[LiftTest, float] | None:
    """The registry's geo holdout analysed as an analyst would: difference in differences of
    revenue per resident between treatment and control geos, pre-period vs test window, scaled
    to the treatment geos' residents and days, with Welch's degrees of freedom; with its true
    lift."""
    if not r.experiments:
        return None
    e = r.experiments[0]
    truth = r.truth["experiments"][0]
    o = r.outcomes.assign(region=r.outcomes["region"].astype(str))
    pop = dict(zip(panel.geos, panel.population, strict=True))
    o = o.loc[o["region"].isin(pop)]
    o = o.assign(per=o["revenue"] / o["region"].map(pop))
    d = pd.to_datetime(o["date"])
    pre = (d >= pd.Timestamp(e["pre_period_start"])) & (d < pd.Timestamp(e["start_date"]))
    post = (d >= pd.Timestamp(e["start_date"])) & (d <= pd.Timestamp(e["end_date"]))
    diff = o.loc[post].groupby("region")["per"].mean() - o.loc[pre].groupby("region")["per"].mean()
    t = diff.loc[diff.index.isin(e["treatment_units"])]
    c = diff.loc[diff.index.isin(e["control_units"])]
    att = float(t.mean() - c.mean())
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    se = float(np.sqrt(vt + vc))
    # Welch–Satterthwaite: the standard error is estimated from the geos.
    df = float((vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1)))
    days = int(post.groupby(o["region"]).sum().max())
    residents = float(sum(pop[g] for g in t.index))
    lift = LiftTest(
        channel=e["channel"],
        start=pd.Timestamp(e["start_date"]).date(),
        end=pd.Timestamp(e["end_date"]).date(),
        lift=att * residents * days,
        stderr=se * residents * days,
        geos=tuple(e["treatment_units"]),
        counterfactual_multiplier=0.0,
        name=e["experiment_id"],
        df=df,
    )
    return lift, float(truth["incremental_revenue_treated"])


def world(scenario: str, seed: int, **overrides: object) -> World:
    r = simulate(scenario, seed, **overrides)
    outcome, media, campaigns = frames(r)
    org = next(iter(r.truth["orgs"]))
    t = r.truth["orgs"][org]
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    # The org's registered external series (the demo registers these with ingestion).
    series = t["demand"]["params"]["series"]
    panel = dataclasses.replace(
        panel, national={k: np.asarray(series[k], dtype=np.float64) for k in EXTERNAL}
    )
    chans = t["channels"]
    iroas = {c: w[0]["iroas"] for c, w in chans.items() if w[0]["iroas"] is not None}
    inc = {c: w[0]["expected_incremental_revenue"] for c, w in chans.items()}
    spend = {c: w[0]["spend"] for c, w in chans.items()}
    cf = t["counterfactual_daily"]
    without = {c: float(np.sum(v["revenue"])) for c, v in cf["without"].items()}
    total = float(np.sum(cf["revenue_observed"]))
    exp = experiment_lift(r, panel)
    return World(
        r, panel, iroas, inc, without, total, spend,
        exp[0] if exp else None, exp[1] if exp else None,
    )  # fmt: skip
