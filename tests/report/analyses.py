"""Stored analyses for the report tests: real estimator outputs on simulated marketing data.

Each builder simulates a small world with a known effect (geo × day panels with dates, a
loyalty-score threshold, confounded ad exposure), runs it through the causal pipeline —
estimate, then checks — and wraps the result as GetAnalysis returns it, so the report is
tested against what the estimators really send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb

from causal_svc import convert
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect

START = dt.date(2026, 1, 5)  # a Monday


def _dates(n: int, step: int = 1) -> list[dt.date]:
    return [START + dt.timedelta(days=step * i) for i in range(n)]


def geo_panel(
    *,
    n_geos: int = 30,
    n_periods: int = 26,
    step: int = 7,
    starts: dict[int, int] | None = None,
    lift: float = 120.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Weekly revenue by geo; geos in ``starts`` (geo → first treated period) get ``lift``."""
    rng = np.random.default_rng(seed)
    dates = _dates(n_periods, step)
    size = rng.lognormal(7.0, 0.3, n_geos)
    season = 1 + 0.15 * np.sin(np.arange(n_periods) / n_periods * 2 * np.pi)
    rows = []
    for g in range(n_geos):
        start = (starts or {}).get(g)
        for t, day in enumerate(dates):
            treated = int(start is not None and t >= start)
            y = size[g] * season[t] + lift * treated + rng.normal(0, 40)
            rows.append(
                {"geo": f"geo-{g:02d}", "date": pd.Timestamp(day), "revenue": y,
                 "treated_post": treated, "population": size[g] / 10}
            )  # fmt: skip
    return pd.DataFrame(rows)


def randomised_geos(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    pre = rng.lognormal(7, 0.4, n)
    treated = rng.permutation(np.repeat([0, 1], n // 2))
    revenue = 0.9 * pre + 60 * treated + rng.normal(0, 80, n)
    return pd.DataFrame({"revenue": revenue, "exposed": treated, "pre_revenue": pre})


def confounded_users(seed: int = 2) -> pd.DataFrame:
    """Ad exposure more likely for heavy past buyers: the naive comparison overstates the lift."""
    rng = np.random.default_rng(seed)
    n = 1500
    age = rng.normal(40, 10, n)
    past = rng.gamma(2.0, 20.0, n)
    logit = -2.0 + 0.03 * past - 0.02 * (age - 40)
    exposed = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    purchases = 5 + 0.4 * past - 0.05 * age + 4.0 * exposed + rng.normal(0, 6, n)
    return pd.DataFrame(
        {"purchases": purchases, "exposed": exposed, "age": age, "past_spend": past}
    )


def loyalty_threshold(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 2000
    score = rng.uniform(0, 100, n)
    spend = 20 + 0.6 * score + 0.002 * (score - 50) ** 2 + 8.0 * (score >= 50) + rng.normal(0, 5, n)
    return pd.DataFrame({"spend": spend, "loyalty_score": score})


def encouragement(seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    intent = rng.normal(0, 1, n)
    bid_boost = rng.binomial(1, 0.5, n)
    exposure = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 1.5 * bid_boost + 0.8 * intent))))
    conversions = 2 + 1.5 * exposure + 1.2 * intent + rng.normal(0, 1, n)
    return pd.DataFrame({"conversions": conversions, "exposure": exposure, "bid_boost": bid_boost})


def spend_and_sales(seed: int = 5, n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    demand = rng.normal(0, 1, n)
    season = rng.normal(0, 1, n)
    spend = 100 + 20 * demand + 10 * season + rng.normal(0, 10, n)
    sales = 50 + 1.8 * spend + 40 * demand + 15 * season + rng.normal(0, 20, n)
    return pd.DataFrame({"sales": sales, "spend": spend, "demand_index": demand, "season": season})


def market_series(seed: int = 6) -> pd.DataFrame:
    """Daily revenue in one market with a control market; a campaign from day 100 lifts it."""
    rng = np.random.default_rng(seed)
    n, start = 130, 100
    control = 1000 + np.cumsum(rng.normal(0, 8, n)) + 80 * np.sin(np.arange(n) * 2 * np.pi / 7)
    revenue = 0.8 * control + 150 + rng.normal(0, 15, n)
    post = (np.arange(n) >= start).astype(int)
    revenue = revenue + 90 * post
    dates = pd.to_datetime(_dates(n))
    return pd.DataFrame(
        {"date": dates, "revenue": revenue, "campaign": post, "control_market": control}
    )


Case = tuple[Callable[[], pd.DataFrame], EffectSpec, Method, dict]

CASES: dict[str, Case] = {
    "difference_in_means": (
        randomised_geos,
        EffectSpec("revenue", "exposed", pre_outcome="pre_revenue"),
        Method.DIFFERENCE_IN_MEANS,
        {"randomised": True},
    ),
    "did": (
        lambda: geo_panel(n_geos=20, starts={g: 18 for g in range(10)}),
        EffectSpec("revenue", "treated_post", unit="geo", time="date"),
        Method.DID,
        {},
    ),
    "event_study": (
        lambda: geo_panel(n_geos=20, starts={g: 14 for g in range(10)}),
        EffectSpec("revenue", "treated_post", unit="geo", time="date"),
        Method.EVENT_STUDY,
        {"event_study_leads": 6, "event_study_lags": 8},
    ),
    "staggered_did": (
        lambda: geo_panel(n_geos=24, starts={g: 10 + 4 * (g % 3) for g in range(12)}),
        EffectSpec("revenue", "treated_post", unit="geo", time="date"),
        Method.STAGGERED_DID,
        {},
    ),
    "synthetic_control": (
        lambda: geo_panel(n_geos=21, n_periods=40, starts={0: 30}, lift=250),
        EffectSpec("revenue", "treated_post", unit="geo", time="date"),
        Method.SYNTHETIC_CONTROL,
        {},
    ),
    "sdid": (
        lambda: geo_panel(n_geos=12, n_periods=20, starts={0: 14, 1: 14, 2: 14}),
        EffectSpec("revenue", "treated_post", unit="geo", time="date"),
        Method.SDID,
        {},
    ),
    "bsts": (
        market_series,
        EffectSpec("revenue", "campaign", time="date", covariates=("control_market",)),
        Method.BSTS,
        {},
    ),
    "rdd": (
        loyalty_threshold,
        EffectSpec("spend", "", running_variable="loyalty_score", cutoff=50.0),
        Method.RDD,
        {},
    ),
    "matching": (
        confounded_users,
        EffectSpec("purchases", "exposed", covariates=("age", "past_spend")),
        Method.MATCHING,
        {},
    ),
    "ipw": (
        confounded_users,
        EffectSpec("purchases", "exposed", covariates=("age", "past_spend")),
        Method.IPW,
        {},
    ),
    "aipw": (
        confounded_users,
        EffectSpec("purchases", "exposed", covariates=("age", "past_spend")),
        Method.AIPW,
        {},
    ),
    "iv": (
        encouragement,
        EffectSpec("conversions", "exposure", instruments=("bid_boost",)),
        Method.IV,
        {},
    ),
    "dml": (
        lambda: spend_and_sales(n=300),
        EffectSpec("sales", "spend", covariates=("demand_index", "season")),
        Method.DML,
        {},
    ),
    "naive_regression": (
        spend_and_sales,
        EffectSpec("sales", "spend"),
        Method.NAIVE_REGRESSION,
        {},
    ),
}


def effect_analysis(
    name: str, *, analysis_id: str | None = None, simulations: int = 3
) -> causal_pb.Analysis:
    """The stored Analysis of the named case, as GetAnalysis returns it (``simulations``
    re-estimates per refuter: few keep the tests fast)."""
    make, spec, method, extra = CASES[name]
    randomised = bool(extra.pop("randomised", False)) if "randomised" in extra else False
    options = EstimationOptions(seed=7, **{k: v for k, v in extra.items() if k != "randomised"})
    result = estimate_effect(
        make(),
        spec,
        method,
        options=options,
        randomised=randomised,
        refutation_simulations=simulations,
    )
    estimate = convert.estimate_to_proto(
        result.estimate,
        outcome=result.spec.outcome,
        treatment=result.spec.treatment,
        summary=result.summary,
        naive=result.naive,
    )
    estimate.strategy.CopyFrom(convert.strategy_to_proto(result.strategy))
    analysis = causal_pb.Analysis(
        analysis_id=analysis_id or f"an-{name.replace('_', '-')}",
        org_id="acme",
        kind=causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE,
        estimate=estimate,
    )
    analysis.request.method = convert.METHOD_TO_PROTO[method]
    analysis.request.roles.outcome = spec.outcome
    analysis.request.roles.treatment = spec.treatment
    analysis.request.roles.running_variable = spec.running_variable or ""
    analysis.create_time.FromDatetime(dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC))
    return analysis
