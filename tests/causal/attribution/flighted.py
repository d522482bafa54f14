"""A world whose geos are flighted independently and whose budgets ignore demand (the audit's
R4-F11 world, smaller): 12 US states, a year of days, each paid channel on its own weekly
flight per state (log-sd 0.35) plus daily noise, geometric adstock, true iROAS known. Where
``AUTO`` identification must pick GEO. As long frames (:func:`.panel_from_frames`), as the
sums memory answers (the budget-response detector's input) and as the records memory holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution import MediaPanel, panel_from_frames
from causal_svc.confounders_retro import _adstock  # the same normalised geometric carry-over
from mesh.runtime.aggregates import sum_column

from .records import _record

STATES = {"CA": 39, "TX": 30, "NY": 19, "FL": 22, "IL": 12, "PA": 13, "OH": 12, "GA": 11,
          "NC": 11, "MI": 10, "WA": 8, "AZ": 7}  # fmt: skip
# channel: (national daily spend, true iROAS, adstock decay)
CHANNELS = {"google_search": (6000.0, 2.0, 0.3), "google_social": (5000.0, 1.5, 0.5),
            "google_display": (3000.0, 0.5, 0.4), "google_video": (4000.0, 1.0, 0.6)}  # fmt: skip
START = dt.date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class Flighted:
    outcome: pd.DataFrame  # geo, date, value (revenue), orders
    media: pd.DataFrame  # geo, date, channel, spend, impressions, platform_outcome
    truth: dict[str, float]


def flighted(days: int = 364, seed: int = 7) -> Flighted:
    rng = np.random.default_rng(seed)
    dates = pd.date_range(START, periods=days, freq="D")
    pop = np.array(list(STATES.values()), dtype=np.float64)
    share = pop / pop.sum()
    season = 1 + 0.15 * np.sin(2 * np.pi * np.arange(days) / 364) + 0.1 * (dates.day_of_week >= 5)
    media, outcome = [], []
    for gi, state in enumerate(STATES):
        geo = f"US-{state}"
        rev = 4000 * pop[gi] * season * np.exp(rng.normal(0, 0.04, days))
        for channel, (level, roi, decay) in CHANNELS.items():
            flight = np.repeat(np.exp(rng.normal(0, 0.35, days // 7 + 1)), 7)[:days]
            spend = level * share[gi] * flight * np.exp(rng.normal(0, 0.1, days))
            rev = rev + roi * _adstock(spend, decay)
            media.append(pd.DataFrame({"geo": geo, "date": dates, "channel": channel,
                                       "spend": spend.round(2),
                                       "impressions": np.round(spend / 8 * 1000),
                                       "platform_outcome": 0.0}))  # fmt: skip
        outcome.append(pd.DataFrame({"geo": geo, "date": dates, "value": rev.round(2),
                                     "orders": np.round(rev / 80)}))  # fmt: skip
    truth = {c: v[1] for c, v in CHANNELS.items()}
    return Flighted(pd.concat(outcome, ignore_index=True), pd.concat(media, ignore_index=True),
                    truth)  # fmt: skip


def panel(w: Flighted) -> MediaPanel:
    return panel_from_frames(w.outcome[["geo", "date", "value"]], w.media)


def sums(w: Flighted) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(geo_days, campaign_days) as memory's AggregateRecords answers them (days since
    1970-01-01; one campaign per channel; the orders as first-party conversions)."""
    m = w.media.assign(day=(w.media["date"] - pd.Timestamp("1970-01-01")).dt.days)
    wide = m.pivot_table(index=["day", "geo"], columns="channel", values=["spend", "impressions"])
    geo_days = pd.DataFrame(
        {sum_column("google_ads", ch, measure): v.to_numpy(np.float64)
         for (measure, ch), v in wide.items()},
        index=wide.index,
    )  # fmt: skip
    o = w.outcome.assign(day=(w.outcome["date"] - pd.Timestamp("1970-01-01")).dt.days)
    orders = o.set_index(["day", "geo"])["orders"].reindex(wide.index)
    geo_days[sum_column("generic", "", "conversions")] = orders.to_numpy(np.float64)
    geo_days = geo_days.fillna(0.0).reset_index().rename(columns={"day": "date"})
    campaign_days = (
        m.assign(campaign_id=m["channel"], source="google_ads")
        .groupby(["day", "campaign_id", "source", "channel"], as_index=False)["spend"].sum()
        .rename(columns={"day": "date"})
    )  # fmt: skip
    return geo_days, campaign_days


def records(w: Flighted, org: str) -> Iterator[md_pb.CausalMarketingData]:
    """The world as memory holds it after ingestion: Google Ads rows per channel × geo × day
    (one campaign per channel), and the store's orders and revenue as first-party rows."""
    m = w.media
    for channel, geo, day, spend, imps in zip(
        m["channel"], m["geo"].str[3:], m["date"].dt.date, m["spend"], m["impressions"],
        strict=True,
    ):  # fmt: skip
        yield _record(org, common_pb.DATA_SOURCE_GOOGLE_ADS, "google_ads", channel, channel, geo,
                      day, float(spend), int(imps), 0.0, 0.0)  # fmt: skip
    o = w.outcome
    for geo, day, orders, revenue in zip(
        o["geo"].str[3:], o["date"].dt.date, o["orders"], o["value"], strict=True
    ):
        yield _record(org, common_pb.DATA_SOURCE_GENERIC, "generic", "first_party",
                      "first_party", geo, day, 0.0, 0, float(orders), float(revenue))  # fmt: skip
