"""Records → frame: :func:`records_to_frame`, one column per field, read column by column."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.frames.enums import ENUMS, enum_codes, enum_names
from mesh.runtime.frames.gc_pause import gc_paused
from mesh.runtime.frames.schema import ALL_GROUPS, LAG_OPTIONAL, NAT_US, QUALITY_SCORES

# A valid Timestamp's seconds (0001-01-01 to 9999-12-31, google.protobuf.Timestamp). Seconds
# outside are clipped to them before scaling to µs: int64 µs wrap silently past ±2^63 / 1e6 s,
# and a wrapped 2^62 read as 1970, inside every range check (audit R7-F1). A clipped value is
# still outside 1900-2200, so mesh.runtime.record_rules refuses it.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def _us(parents: Sequence[Any], field: str) -> np.ndarray:
    """A Timestamp field of ``parents`` → int64 µs since the epoch, NaT's value where unset."""
    rows, stamps = _set_rows(parents, field)
    s = np.array([t.seconds for t in stamps], dtype=np.int64)
    ns = np.array([t.nanos for t in stamps], dtype=np.int64)
    s = np.clip(s, _MIN_SECONDS, _MAX_SECONDS)
    return _spread(rows, len(parents), s * 1_000_000 + ns // 1000, NAT_US)


def _ts(us: np.ndarray) -> Any:
    """int64 µs (NaT's value where unset) → a datetime64[us, UTC] array."""
    return pd.Series(us.view("datetime64[us]")).dt.tz_localize("UTC").array


def date_column(dates: Sequence[common_pb.Date]) -> np.ndarray:
    """Proto dates as naive datetime64[s] midnights (NaT where unset)."""
    y = np.array([d.year for d in dates], dtype=np.int64)
    m = np.array([d.month for d in dates], dtype=np.int64)
    d = np.array([d.day for d in dates], dtype=np.int64)
    unset = (y == 0) | (m == 0) | (d == 0)
    out = (
        (np.where(unset, 1970, y) - 1970).astype("datetime64[Y]").astype("datetime64[M]")
        + (np.where(unset, 1, m) - 1).astype("timedelta64[M]")
    ).astype("datetime64[D]") + (np.where(unset, 1, d) - 1).astype("timedelta64[D]")
    out = out.astype("datetime64[s]")
    out[unset] = np.datetime64("NaT")
    return out


# pandas backs its "str" dtype with pyarrow when pyarrow is installed; handing it an arrow
# array then skips pandas' per-element checks (protobuf strings are always str), ≈ 15 % of
# a write-path conversion. Without pyarrow the same columns come out python-backed.
_arrow: Any = (
    importlib.import_module("pyarrow")
    if pd.StringDtype(na_value=np.nan).storage == "pyarrow"
    else None
)


def _str(values: list[str] | np.ndarray) -> Any:
    if _arrow is not None:
        return pd.array(_arrow.array(values, type=_arrow.large_string()), dtype="str")
    return pd.array(values, dtype="str")


def _enum_str(enum: str, values: Sequence[int]) -> Any:
    """An enum column as short names, dtype str (one lookup per distinct name with arrow)."""
    if _arrow is None:
        return _str(enum_names(enum, values))
    table = _arrow.array(ENUMS[enum][0].tolist(), type=_arrow.large_string())
    return pd.array(table.take(_arrow.array(enum_codes(enum, values))), dtype="str")


def _set_rows(parents: Sequence[Any], field: str) -> tuple[np.ndarray | None, list[Any]]:
    """Rows whose sub-message ``field`` is set, and those sub-messages (rows None: all set).

    An unset sub-message reads as all defaults; skipping it saves building its wrapper.
    """
    has = np.array([p.HasField(field) for p in parents], dtype=bool)
    if has.all():
        return None, [getattr(p, field) for p in parents]
    rows = np.flatnonzero(has)
    return rows, [getattr(parents[i], field) for i in rows.tolist()]


def _spread(rows: np.ndarray | None, n: int, values: Any, fill: Any, dtype: Any = None) -> Any:
    """Values of the set rows → a column of n, ``fill`` elsewhere (rows None: all rows)."""
    values = np.asarray(values, dtype=dtype)
    if rows is None:
        return values
    out = np.full(n, fill, dtype=values.dtype)
    out[rows] = values
    return out


def _spread_list(rows: np.ndarray | None, n: int, values: list[Any], fill: Any) -> list[Any]:
    if rows is None:
        return values
    out = [fill] * n
    for row, value in zip(rows.tolist(), values, strict=True):
        out[row] = value
    return out


def _spread_str(rows: np.ndarray | None, n: int, values: list[str]) -> Any:
    if rows is None:
        return _str(values)
    out = np.full(n, "", dtype=object)
    out[rows] = values
    return _str(out)


def _optional(lags: list[Any], name: str) -> np.ndarray:
    values = np.array([getattr(lf, name) for lf in lags], dtype=np.float64)
    values[~np.array([lf.HasField(name) for lf in lags], dtype=bool)] = np.nan
    return values


def _flatten(containers: list[Any]) -> tuple[list[Any], np.ndarray]:
    """The items of one repeated field across records, and the record (row) of each."""
    counts = np.fromiter(map(len, containers), dtype=np.int64, count=len(containers))
    items = [item for container in containers for item in container]
    return items, np.repeat(np.arange(len(containers)), counts)


def _pivot(
    n: int,
    rows: np.ndarray,
    names: list[str],
    floats: Mapping[str, Sequence[float]],
    strs: Mapping[str, Sequence[str] | np.ndarray],
) -> dict[str, Any]:
    """Named items (a confounder, factor, indicator, region) → one column per prefix and name.

    ``floats`` / ``strs`` map a column prefix to the items' values. A cell without an item
    is NaN / ""; when a record repeats a name, its last item wins.
    """
    out: dict[str, Any] = {}
    if not names:
        return out
    codes, uniques = pd.factorize(np.asarray(names, dtype=object))
    key = rows * len(uniques) + codes
    order = np.argsort(key, kind="stable")
    last = np.ones(len(order), dtype=bool)
    last[:-1] = key[order][1:] != key[order][:-1]
    keep = order[last]
    kept_rows, kept_codes = rows[keep], codes[keep]
    float_values = {p: np.asarray(v, dtype=np.float64)[keep] for p, v in floats.items()}
    str_values = {p: np.asarray(v, dtype=object)[keep] for p, v in strs.items()}
    for code, name in enumerate(uniques.tolist()):
        sel = kept_codes == code
        at = kept_rows[sel]
        for prefix, fv in float_values.items():
            col = np.full(n, np.nan)
            col[at] = fv[sel]
            out[f"{prefix}{name}"] = col
        for prefix, sv in str_values.items():
            scol = np.full(n, "", dtype=object)
            scol[at] = sv[sel]
            out[f"{prefix}{name}"] = _str(scol)
    return out


def records_to_frame(
    records: Sequence[md_pb.CausalMarketingData],
    *,
    groups: Iterable[str] = ALL_GROUPS,
    include_embeddings: bool = False,
    include_payload: bool = False,
) -> pd.DataFrame:
    """One row per record with the columns of :data:`FRAME_SCHEMA` and :data:`DYNAMIC_COLUMNS`.

    ``groups`` selects column groups (default all but ``embedding`` and ``payload``, which
    ``include_embeddings`` / ``include_payload`` add); a group not asked for is never read.
    Each column is one list comprehension over the records (or over a sub-message read once
    per record); repeated named items are flattened once and pivoted with numpy. Cost is
    linear in records × columns selected.
    """
    recs = list(records)
    n = len(recs)
    wanted = set(groups)
    cols: dict[str, Any] = {}
    wide: dict[str, Any] = {}
    with gc_paused():
        if "core" in wanted:
            _core_columns(cols, recs)
        if wanted & {"calendar", "holidays", "economic"}:
            cal = [r.calendar_features for r in recs]
            if "calendar" in wanted:
                _calendar_columns(cols, cal)
            elif "holidays" in wanted:
                _holiday_columns(cols, cal)
            if "economic" in wanted:
                items, rows = _flatten([c.economic_indicators for c in cal])
                floats = {"econ__": [e.value for e in items]}
                strs = {"econ_unit__": [e.unit for e in items]}
                strs["econ_source__"] = [e.source for e in items]
                wide.update(_pivot(n, rows, [e.name for e in items], floats, strs))
            del cal
        if "lags" in wanted:
            _lag_columns(cols, recs)
        if "metadata" in wanted:
            _metadata_columns(cols, recs)
        if "confounders" in wanted or "confounder_details" in wanted:
            wide.update(_confounder_columns(recs, n, wanted))
        if "external" in wanted:
            items, rows = _flatten([r.external_factors for r in recs])
            floats = {"external__": [f.value for f in items]}
            strs = {"external_source__": [f.source for f in items]}
            types = enum_names("external_factor_type", [f.type for f in items])
            wide.update(
                _pivot(n, rows, [f.name for f in items], floats, {**strs, "external_type__": types})
            )
        if "memory" in wanted:
            cols["conceptual_space"] = _str([r.conceptual_space for r in recs])
            nodes = np.empty(n, dtype=object)
            nodes[:] = [tuple(r.knowledge_graph_nodes) for r in recs]
            cols["knowledge_graph_nodes"] = nodes
            items, rows = _flatten([r.conceptual_assignments for r in recs])
            floats = {"region_distance__": [a.distance for a in items]}
            strs = {"region__": [a.region for a in items]}
            wide.update(_pivot(n, rows, [a.space for a in items], floats, strs))
        for name in sorted(wide):
            cols[name] = wide[name]
        if include_embeddings:
            emb = np.empty(n, dtype=object)
            emb[:] = [np.asarray(r.embedding_vector, dtype=np.float32) for r in recs]
            cols["embedding"] = emb
        if include_payload:
            payload = np.empty(n, dtype=object)
            payload[:] = [r.SerializeToString() for r in recs]
            cols["payload"] = payload
    return pd.DataFrame(cols, index=pd.RangeIndex(n))


def _core_columns(cols: dict[str, Any], recs: list[md_pb.CausalMarketingData]) -> None:
    cols["id"] = _str([r.id for r in recs])
    cols["org_id"] = _str([r.org_id for r in recs])
    cols["timestamp"] = _ts(_us(recs, "timestamp"))
    cols["local_date"] = date_column([r.local_date for r in recs])
    cols["data_source"] = _enum_str("data_source", [r.data_source for r in recs])
    cols["account_id"] = _str([r.account_id for r in recs])
    cols["campaign_id"] = _str([r.campaign_id for r in recs])
    cols["campaign_name"] = _str([r.campaign_name for r in recs])
    cols["campaign_objective"] = _enum_str(
        "campaign_objective", [r.campaign_objective for r in recs]
    )
    cols["channel"] = _str([r.channel for r in recs])
    cols["geo"] = _str([r.geo for r in recs])
    cols["currency_code"] = _str([r.currency_code for r in recs])
    cols["treatment_group"] = _enum_str("treatment_group", [r.treatment_group for r in recs])
    cols["treatment_intensity"] = np.array([r.treatment_intensity for r in recs], dtype=np.float64)
    cols["randomization_unit"] = _enum_str(
        "randomization_unit", [r.randomization_unit for r in recs]
    )
    cols["experiment_id"] = _str([r.experiment_id for r in recs])
    cols["spend"] = np.array([r.spend for r in recs], dtype=np.float64)
    cols["impressions"] = np.array([r.impressions for r in recs], dtype=np.int64)
    cols["clicks"] = np.array([r.clicks for r in recs], dtype=np.int64)
    cols["conversions"] = np.array([r.conversions for r in recs], dtype=np.float64)
    cols["revenue"] = np.array([r.revenue for r in recs], dtype=np.float64)
    cols["data_quality_score"] = np.array([r.data_quality_score for r in recs], dtype=np.float64)
    cols["natural_key"] = _str([r.natural_key for r in recs])
    cols["version"] = np.array([r.version for r in recs], dtype=np.int64)
    cols["conversions_unreported"] = np.array([r.conversions_unreported for r in recs], dtype=bool)


def _confounder_columns(
    recs: list[md_pb.CausalMarketingData], n: int, wanted: set[str]
) -> dict[str, Any]:
    items, rows = _flatten([r.confounders for r in recs])
    floats: dict[str, list[float]] = {}
    strs: dict[str, list[str] | np.ndarray] = {}
    if "confounders" in wanted:
        floats["confounder__"] = [c.value for c in items]
        floats["confounder_strength__"] = [c.strength for c in items]
        strs["confounder_type__"] = enum_names("confounder_type", [c.type for c in items])
    if "confounder_details" in wanted:
        strs["confounder_detector__"] = [c.detector for c in items]
        strs["confounder_description__"] = [c.description for c in items]
    return _pivot(n, rows, [c.name for c in items], floats, strs)


def _calendar_columns(cols: dict[str, Any], cal: list[md_pb.CalendarDimension]) -> None:
    cols["cal_date"] = date_column([c.date for c in cal])
    for name in ("year", "quarter", "month", "week"):
        cols[f"cal_{name}"] = np.array([getattr(c, name) for c in cal], dtype=np.int64)
    cols["cal_day_of_week"] = _enum_str("day_of_week", [c.day_of_week for c in cal])
    cols["cal_is_weekend"] = np.array([c.is_weekend for c in cal], dtype=bool)
    cols["cal_is_holiday"] = np.array([c.is_holiday for c in cal], dtype=bool)
    cols["cal_holiday_name"] = _str([c.holiday_name for c in cal])
    cols["cal_season"] = _enum_str("season", [c.season for c in cal])
    cols["cal_country_code"] = _str([c.country_code for c in cal])
    for name in ("iso_year", "day_of_year", "days_to_next_holiday"):
        cols[f"cal_{name}"] = np.array([getattr(c, name) for c in cal], dtype=np.int64)
    cols["cal_next_holiday_name"] = _str([c.next_holiday_name for c in cal])
    cols["cal_days_since_last_holiday"] = np.array(
        [c.days_since_last_holiday for c in cal], dtype=np.int64
    )
    cols["cal_is_month_start"] = np.array([c.is_month_start for c in cal], dtype=bool)
    cols["cal_is_month_end"] = np.array([c.is_month_end for c in cal], dtype=bool)
    market = [c.market_conditions for c in cal]
    cols["cal_demand_index"] = np.array([m.demand_index for m in market], dtype=np.float64)
    cols["cal_competitor_index"] = np.array([m.competitor_index for m in market], dtype=np.float64)
    cols["cal_promotion_active"] = np.array([m.promotion_active for m in market], dtype=bool)
    cols["cal_promotion_name"] = _str([m.promotion_name for m in market])


def _holiday_columns(cols: dict[str, Any], cal: list[md_pb.CalendarDimension]) -> None:
    cols["cal_day_of_week"] = _enum_str("day_of_week", [c.day_of_week for c in cal])
    cols["cal_season"] = _enum_str("season", [c.season for c in cal])
    cols["cal_holiday_name"] = _str([c.holiday_name for c in cal])
    cols["cal_days_to_next_holiday"] = np.array(
        [c.days_to_next_holiday for c in cal], dtype=np.int64
    )
    cols["cal_next_holiday_name"] = _str([c.next_holiday_name for c in cal])


def _lag_columns(cols: dict[str, Any], recs: list[md_pb.CausalMarketingData]) -> None:
    n = len(recs)
    rows, lags = _set_rows(recs, "lag_features")
    for name in LAG_OPTIONAL:
        cols[name] = _spread(rows, n, _optional(lags, name), np.nan)
    for name in ("adstock_spend", "adstock_decay"):
        cols[name] = _spread(rows, n, [getattr(lf, name) for lf in lags], 0.0, np.float64)
    cols["lag_history_days"] = _spread(rows, n, [lf.history_days for lf in lags], 0, np.int64)


def _metadata_columns(cols: dict[str, Any], recs: list[md_pb.CausalMarketingData]) -> None:
    n = len(recs)
    rows, meta = _set_rows(recs, "causal_metadata")
    for name in ("ingested_at", "pulled_at"):
        cols[f"meta_{name}"] = _ts(_spread(rows, n, _us(meta, name), NAT_US))
    cols["meta_batch_id"] = _spread_str(rows, n, [m.batch_id for m in meta])
    cols["meta_account_timezone"] = _spread_str(rows, n, [m.account_timezone for m in meta])
    for name in ("out_of_order", "late_days", "is_restatement", "replaced_version"):
        dtype = bool if name in ("out_of_order", "is_restatement") else np.int64
        cols[f"meta_{name}"] = _spread(rows, n, [getattr(m, name) for m in meta], 0, dtype)
    notes = np.empty(n, dtype=object)
    notes[:] = _spread_list(rows, n, [tuple(m.notes) for m in meta], ())
    cols["meta_notes"] = notes
    cols["meta_attribution_window"] = _spread_str(rows, n, [m.attribution_window for m in meta])
    cols["meta_raw_row_sha256"] = _spread_str(rows, n, [m.raw_row_sha256 for m in meta])
    q_rows, quality = _set_rows(meta, "quality")
    if rows is not None and q_rows is not None:
        q_rows = rows[q_rows]
    elif rows is not None:
        q_rows = rows
    for q in QUALITY_SCORES:
        values = [getattr(x, q) for x in quality]
        cols[f"quality_{q}"] = _spread(q_rows, n, values, 0.0, np.float64)
