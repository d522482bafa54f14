"""Small synthetic histories for the surfacing tests (numpy only; the simulator is for the
benchmarks): geos with their own level, a shared weekly pattern and national swings, and
persistent geo shocks."""

from __future__ import annotations

import numpy as np

from surfacing_svc.history import GeoHistory


def geo_history(
    *, n_geos: int = 20, n_days: int = 200, seed: int = 0, shock_sd: float = 0.05
) -> GeoHistory:
    """A history with one channel, ``meta``, spending ~3% of revenue in every geo."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_days)
    level = np.exp(rng.normal(8.0, 0.8, n_geos))
    weekly = 0.05 * np.sin(2 * np.pi * t / 7)
    national = np.cumsum(rng.normal(0, 0.01, n_days))
    shock = np.zeros((n_geos, n_days))
    eps = rng.normal(0, shock_sd * np.sqrt(1 - 0.7**2), (n_geos, n_days))
    for d in range(1, n_days):
        shock[:, d] = 0.7 * shock[:, d - 1] + eps[:, d]
    mean = level[:, None] * np.exp(weekly + national + shock)[None, :].squeeze(0)
    outcome = rng.poisson(mean).astype(np.float64)
    spend = 0.03 * mean * np.exp(rng.normal(0, 0.1, mean.shape))
    dates = np.datetime64("2024-01-01") + np.arange(n_days).astype("timedelta64[D]")
    return GeoHistory(
        geos=tuple(f"G{i:02d}" for i in range(n_geos)),
        dates=dates,
        outcome=outcome,
        spend={"meta": spend},
    )


def history_records(history: GeoHistory, org_id: str) -> list:  # list[CausalMarketingData]
    """The history as memory records: one first-party (generic) row per geo-day carrying the
    outcome, and one platform row per channel × geo-day carrying its spend."""
    import datetime as dt

    from liftos.v1 import common_pb2 as common_pb
    from liftos.v1 import marketing_data_pb2 as md_pb

    from mesh.runtime.synthetic_records import record_id

    out = []
    days = [d.item() for d in history.dates.astype("datetime64[D]")]
    rows = [("generic", common_pb.DATA_SOURCE_GENERIC, "orders", "first_party", None)]
    rows += [("meta", common_pb.DATA_SOURCE_META, f"c-{c}", c, s) for c, s in history.spend.items()]
    for source, enum, campaign, channel, spend in rows:
        for g, geo in enumerate(history.geos):
            for t, day in enumerate(days):
                nk = f"{source}|act-1|{campaign}|{geo}|{day.isoformat()}"
                r = md_pb.CausalMarketingData(
                    id=record_id(org_id, nk), org_id=org_id, data_source=enum,
                    campaign_id=campaign, account_id="act-1", geo=geo, currency_code="USD",
                    natural_key=nk, version=1, channel=channel,
                    spend=round(float(spend[g, t]), 2) if spend is not None else 0.0,
                    revenue=round(float(history.outcome[g, t]), 2) if spend is None else 0.0,
                    conversions=round(float(history.outcome[g, t]) / 80.0, 2) if spend is None else 0.0,
                )  # fmt: skip
                r.timestamp.FromDatetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
                r.local_date.year, r.local_date.month, r.local_date.day = (
                    day.year,
                    day.month,
                    day.day,
                )
                out.append(r)
    return out
