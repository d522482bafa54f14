"""The record columns of a batch's rows to write (``mesh.runtime.frames``' schema): lags from the
stream's history, calendar, external factors, confounders, treatment assignment, quality
and the ingest metadata."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ingestion_svc import lags, quality
from ingestion_svc.assignment import assign
from ingestion_svc.calendar import calendar_columns
from ingestion_svc.confounder_macro import step_ratios
from ingestion_svc.confounders import Detected, confounder_columns, detect
from ingestion_svc.experiments import Experiment
from ingestion_svc.external_factors import FactorTable, JoinedFactor, join_factors
from ingestion_svc.history import StreamHistory
from ingestion_svc.raw_batch import RawBatch

__all__ = ["SOURCE_NOTES", "epoch_us", "record_columns"]

SOURCE_NOTES = {
    "meta": "conversions and revenue from actions[omni_purchase | purchase | offsite_conversion.fb_pixel_purchase] (7d_click + 1d_view)",
    "google_ads": "spend from metrics.costMicros / 1e6; omitted metrics are zero",
    "klaviyo": "impressions are recipients; geo from the message's audience segment",
    "tiktok": "conversions from complete_payment, revenue from total_complete_payment_rate",
    "generic": "columns read through the declared mapping",
    "generic_media": "a media channel's columns read through the declared mapping",
}


def epoch_us(t: dt.datetime) -> int:
    """µs since the epoch."""
    delta = t.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def record_columns(
    won: pd.DataFrame,
    keys: np.ndarray,
    batch: RawBatch,
    history: StreamHistory,
    experiments: Sequence[Experiment],
    factors: FactorTable,
    now: dt.datetime,
) -> tuple[pd.DataFrame, list[Detected], np.ndarray]:
    """The record columns of the rows to write."""
    n = len(won)
    source = batch.source
    c = {name: won[name].to_numpy() for name in won.columns}
    own = np.column_stack([c["spend"], c["conversions"], c["revenue"]]).astype(np.float64)

    def known(q: np.ndarray) -> np.ndarray:
        k = history.lookup(q)
        return np.column_stack([k.spend, k.conversions, k.revenue])

    cube = lags.history_cube(keys, own, lags.CubeLookup(keys, own, known))
    lag = lags.lag_features(cube, lags.ADSTOCK_DECAY[source])
    rolling7 = lag["spend_rolling_mean_7"].to_numpy()
    history_days = lag["lag_history_days"].to_numpy()
    days = c["day"].astype(np.int64)
    country = batch.account.country
    # each row's geo picks its subdivision's holidays (GB-ENG: Easter Monday, the August bank holiday)
    calendar = calendar_columns(country, days, won["geo"].to_numpy()) if country else None
    joined = join_factors(factors, days, won["geo"], won["geo_key"])
    names = pd.Series(c["campaign_name"], dtype=object)
    ratios = step_ratios(factors.frame)
    detected = detect(source, calendar, country, days, cube, rolling7, names, joined, ratios)
    assigned = assign(won, source, experiments)
    factor_kinds = {f.type: np.isfinite(f.value) for f in joined}
    no = np.zeros(n, dtype=bool)
    components = {
        "temporal_consistency": quality.temporal_consistency(
            c["out_of_order"].astype(bool),
            c["late_days"].astype(np.float64),
            c["tz_mismatch"].astype(bool),
            c["tz_ambiguous"].astype(bool),
        ),
        "confounder_coverage": quality.confounder_coverage(
            source,
            {
                "calendar": np.full(n, calendar is not None),
                "weekly": history_days >= 14,
                "budget": history_days >= 7,
                **{
                    k: factor_kinds.get(k, no)
                    for k in ("macro", "competitor", "promotion", "demand")
                },
            },
        ),
        "treatment_assignment": quality.treatment_assignment(
            assigned["treatment_group"].to_numpy() != "not_in_experiment", history_days
        ),
        "outcome_measurement": quality.outcome_measurement(
            c["outcome_reported"].astype(bool),
            own[:, 1],
            own[:, 2],
            c["attribution_ok"].astype(bool),
            c["modelled"].astype(bool),
        ),
        "external_validity": quality.external_validity(
            calendar["cal_is_holiday"].to_numpy(bool) if calendar is not None else no,
            np.full(n, calendar is not None),
            c["impressions"].astype(np.float64),
            own[:, 1],
            own[:, 0],
            rolling7,
        ),
    }
    score = quality.quality_score(components)
    base_note = SOURCE_NOTES[source]
    notes = np.empty(n, dtype=object)
    notes[:] = [(base_note, x) if x else (base_note,) for x in c["note"].tolist()]
    utc = pd.DatetimeIndex(c["timestamp"].astype("datetime64[us]")).tz_localize(dt.UTC)
    cols: dict[str, object] = {
        "id": c["id"],
        "org_id": _const(batch.org_id, n),
        "timestamp": utc,
        "local_date": c["local_date"],
        "data_source": _const(source, n),
        "account_id": c["account_id"],
        "campaign_id": c["campaign_id"],
        "campaign_name": c["campaign_name"],
        "campaign_objective": c["objective"],
        "channel": c["channel"],
        "geo": c["geo"],
        "currency_code": c["currency"],
        **{name: assigned[name].to_numpy() for name in assigned.columns},
        "spend": own[:, 0],
        "impressions": c["impressions"],
        "clicks": c["clicks"],
        "conversions": own[:, 1],
        "revenue": own[:, 2],
        # A platform that did not report the outcome at all (not a reported zero): its 0s are
        # placeholders, which the platform's claims downstream must leave out.
        "conversions_unreported": ~c["outcome_reported"].astype(bool),
        "data_quality_score": score,
        "natural_key": c["natural_key"],
        "version": c["version"],
        **{name: lag[name].to_numpy() for name in lag.columns},
        "meta_ingested_at": pd.DatetimeIndex(
            np.full(n, np.datetime64(epoch_us(now), "us"))
        ).tz_localize(dt.UTC),
        "meta_pulled_at": pd.DatetimeIndex(
            np.full(n, np.datetime64(epoch_us(batch.pulled_at), "us"))
        ).tz_localize(dt.UTC),
        "meta_batch_id": _const(batch.batch_id, n),
        "meta_account_timezone": c["timezone"],
        "meta_out_of_order": c["out_of_order"],
        "meta_late_days": c["late_days"],
        "meta_is_restatement": c["is_restatement"],
        "meta_replaced_version": c["replaced_version"],
        "meta_notes": notes,
        "meta_attribution_window": c["attribution_window"],
        "meta_raw_row_sha256": c["sha"],
        **{f"quality_{k}": v for k, v in components.items()},
        **confounder_columns(detected),
        **_factor_columns(joined),
    }
    if calendar is not None:
        cols.update({name: calendar[name].to_numpy() for name in calendar.columns})
        cols.update(_market_columns(joined, n))
    frame = pd.DataFrame(
        {
            k: pd.Series(v, dtype=object, copy=False)
            if isinstance(v, np.ndarray) and v.dtype.kind in "OU"
            else v
            for k, v in cols.items()
        },
        index=pd.RangeIndex(n),
    )
    return frame, detected, score


def _const(value: str, n: int) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _factor_columns(joined: Sequence[JoinedFactor]) -> dict[str, object]:
    cols: dict[str, object] = {}
    for f in joined:
        live = np.isfinite(f.value)
        cols[f"external__{f.name}"] = f.value
        cols[f"external_type__{f.name}"] = np.where(live, f.type, "")
        cols[f"external_source__{f.name}"] = np.where(live, f.source, "")
        if f.type == "macro":
            cols[f"econ__{f.name}"] = f.value
            cols[f"econ_unit__{f.name}"] = np.where(live, f.unit, "")
            cols[f"econ_source__{f.name}"] = np.where(live, f.source, "")
    return cols


def _market_columns(joined: Sequence[JoinedFactor], n: int) -> dict[str, object]:
    """The calendar's market conditions: first demand and competitor series, promotions."""
    demand = next((f.value for f in joined if f.type == "demand"), np.full(n, np.nan))
    competitor = next((f.value for f in joined if f.type == "competitor"), np.full(n, np.nan))
    active = np.zeros(n, dtype=bool)
    name = np.full(n, "", dtype=object)
    for f in joined:
        if f.type == "promotion":
            on = np.nan_to_num(f.value) > 0
            name[on & ~active] = f.name
            active |= on
    return {
        "cal_demand_index": demand,
        "cal_competitor_index": competitor,
        "cal_promotion_active": active,
        "cal_promotion_name": name,
    }
