"""Synthetic CausalMarketingData for tests, benchmarks and demos (not used by the service).

Campaign × geo × day rows with campaign-level spend scales, a geo experiment on some
campaigns, Black Friday / Christmas calendar effects and confounders, so embeddings, spaces
and filters see the structure real data has (clustered, not random Gaussian).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import numpy as np
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

_CAMPAIGNS: tuple[tuple[str, Any, str, Any], ...] = (
    ("Black Friday Retargeting", md_pb.CAMPAIGN_OBJECTIVE_SALES, "meta_retargeting", 1),
    ("Prospecting Broad Lookalike", md_pb.CAMPAIGN_OBJECTIVE_SALES, "meta_prospecting", 1),
    ("Brand Search Exact", md_pb.CAMPAIGN_OBJECTIVE_SALES, "google_search", 2),
    ("Performance Max Catalog", md_pb.CAMPAIGN_OBJECTIVE_SALES, "google_pmax", 2),
    ("YouTube Awareness Q4", md_pb.CAMPAIGN_OBJECTIVE_AWARENESS, "google_video", 2),
    ("Email Winback Flow", md_pb.CAMPAIGN_OBJECTIVE_RETENTION, "klaviyo_email", 3),
    ("SMS Cyber Monday Blast", md_pb.CAMPAIGN_OBJECTIVE_SALES, "klaviyo_sms", 3),
    ("TikTok Spark Ads Creators", md_pb.CAMPAIGN_OBJECTIVE_TRAFFIC, "tiktok_prospecting", 4),
    ("Lead Gen Webinar", md_pb.CAMPAIGN_OBJECTIVE_LEADS, "meta_leads", 1),
    ("App Install Spring", md_pb.CAMPAIGN_OBJECTIVE_APP_PROMOTION, "tiktok_app", 4),
)
_GEOS = ("US-CA", "US-NY", "US-TX", "US-FL", "US-WA", "US-IL", "US-GA", "US-OH")
_HOLIDAYS = {(11, 28): "Black Friday", (12, 1): "Cyber Monday", (12, 25): "Christmas Day"}
_SEASONS = {
    12: md_pb.SEASON_WINTER,
    1: md_pb.SEASON_WINTER,
    2: md_pb.SEASON_WINTER,
    3: md_pb.SEASON_SPRING,
    4: md_pb.SEASON_SPRING,
    5: md_pb.SEASON_SPRING,
    6: md_pb.SEASON_SUMMER,
    7: md_pb.SEASON_SUMMER,
    8: md_pb.SEASON_SUMMER,
}


def record_id(org_id: str, natural_key: str) -> str:
    """The contract's stable id: a hash of org_id and natural_key."""
    return hashlib.sha256(f"{org_id}|{natural_key}".encode()).hexdigest()[:32]


def synthetic_records(
    org_id: str,
    n: int,
    *,
    seed: int = 0,
    start: dt.date = dt.date(2024, 9, 1),
    campaigns: int = 10,
    geos: int = 8,
    version: int = 1,
) -> list[md_pb.CausalMarketingData]:
    """``n`` records: campaign × geo × day in that order of variation, deterministic in seed.

    Campaign ``c`` has id ``"c{c}"``; campaigns 0 and 1 run a geo experiment ``exp-bf``
    (even geos treated). Ids follow the contract (hash of org and natural key) and are
    unique within the org for ``n <= campaigns × geos × days`` (no cap on days).
    """
    rng = np.random.default_rng(seed)
    k = min(campaigns, 10_000)
    g = min(geos, len(_GEOS) * 100)
    camp = np.arange(n) % k
    geo = (np.arange(n) // k) % g
    day = np.arange(n) // (k * g)
    scale = np.exp(rng.normal(4.5, 1.0, size=k))  # campaign-level daily spend scale
    roas_base = np.exp(rng.normal(0.6, 0.5, size=k))
    out: list[md_pb.CausalMarketingData] = []
    noise = rng.lognormal(0.0, 0.35, size=n)
    conv_noise = rng.lognormal(0.0, 0.4, size=n)
    for i in range(n):
        c, gi, d = int(camp[i]), int(geo[i]), int(day[i])
        name, objective, channel, source = _CAMPAIGNS[c % len(_CAMPAIGNS)]
        if c >= len(_CAMPAIGNS):
            name = f"{name} {c // len(_CAMPAIGNS)}"
        geo_code = _GEOS[gi % len(_GEOS)] + ("" if gi < len(_GEOS) else f"-{gi // len(_GEOS)}")
        date = start + dt.timedelta(days=d)
        holiday = _HOLIDAYS.get((date.month, date.day), "")
        bf = dt.date(date.year, 11, 28)
        days_to_bf = (bf - date).days
        near_bf = 0 <= days_to_bf <= 7 or -4 <= days_to_bf < 0
        in_exp = c in (0, 1) and date >= dt.date(2024, 11, 1)
        treated = in_exp and gi % 2 == 0
        spend = float(scale[c] * noise[i] * (1.8 if near_bf else 1.0) * (0.0 if treated else 1.0))
        cpa = 40.0 / roas_base[c]
        conversions = float(round(spend / cpa * conv_noise[i], 2)) if spend else 0.0
        revenue = float(round(conversions * 80.0 * (1.2 if near_bf else 1.0), 2))
        impressions = int(spend * 120 * noise[i]) if spend else 0
        clicks = int(impressions * 0.012)
        nk = f"{common_pb.DataSource.Name(source).lower().removeprefix('data_source_')}|act-1|c{c}|{geo_code}|{date.isoformat()}"
        r = md_pb.CausalMarketingData(
            id=record_id(org_id, nk),
            org_id=org_id,
            data_source=source,
            campaign_id=f"c{c}",
            campaign_name=name,
            campaign_objective=objective,
            treatment_group=(
                (md_pb.TREATMENT_GROUP_TREATMENT if treated else md_pb.TREATMENT_GROUP_CONTROL)
                if in_exp
                else md_pb.TREATMENT_GROUP_NOT_IN_EXPERIMENT
            ),
            treatment_intensity=1.0 if treated else 0.0,
            randomization_unit=(
                common_pb.RANDOMIZATION_UNIT_GEO
                if in_exp
                else common_pb.RANDOMIZATION_UNIT_UNSPECIFIED
            ),
            experiment_id="exp-bf" if in_exp else "",
            spend=round(spend, 2),
            impressions=impressions,
            clicks=clicks,
            conversions=conversions,
            revenue=revenue,
            data_quality_score=float(np.clip(0.55 + 0.4 * rng.random(), 0, 1)),
            account_id="act-1",
            geo=geo_code,
            currency_code="USD",
            natural_key=nk,
            version=version,
            channel=channel,
        )
        r.timestamp.FromDatetime(dt.datetime(date.year, date.month, date.day, 8, tzinfo=dt.UTC))
        r.local_date.year, r.local_date.month, r.local_date.day = date.year, date.month, date.day
        cal = r.calendar_features
        cal.date.year, cal.date.month, cal.date.day = date.year, date.month, date.day
        cal.year, cal.month, cal.quarter = date.year, date.month, (date.month - 1) // 3 + 1
        cal.day_of_week = date.isoweekday()  # type: ignore[assignment]  # ISO = enum order
        cal.is_weekend = date.isoweekday() >= 6
        cal.season = _SEASONS.get(date.month, md_pb.SEASON_AUTUMN)
        cal.is_holiday = bool(holiday)
        cal.holiday_name = holiday
        cal.country_code = "US"
        if 0 <= days_to_bf <= 30:
            cal.days_to_next_holiday = days_to_bf
            cal.next_holiday_name = "Black Friday"
        cal.market_conditions.demand_index = 1.0 + (0.6 if near_bf else 0.0)
        if near_bf:
            r.confounders.add(
                name="black_friday_proximity",
                type=md_pb.CONFOUNDER_TYPE_HOLIDAY,
                value=float(days_to_bf),
                strength=0.9,
                detector="calendar.holiday",
            )
        r.confounders.add(
            name="weekly_seasonality",
            type=md_pb.CONFOUNDER_TYPE_SEASONALITY,
            value=float(date.isoweekday()),
            strength=0.6 if date.isoweekday() >= 6 else 0.2,
            detector="stats.seasonality",
        )
        q = r.causal_metadata.quality
        q.temporal_consistency, q.confounder_coverage = 1.0, 0.7
        r.causal_metadata.pulled_at.FromDatetime(
            dt.datetime(date.year, date.month, date.day, 12, tzinfo=dt.UTC)
        )
        out.append(r)
    return out
