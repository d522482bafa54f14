"""CausalMarketingData batches ↔ pandas columns: the one place that does this conversion.

The causal service turns Scan batches into DataFrames with :func:`records_to_frame`; the
ingestion service builds record batches from DataFrames with :func:`frame_to_records`; the
memory service reads the columns it embeds and indexes from the same frame. The column
schema is :data:`FRAME_SCHEMA` (fixed columns) plus :data:`DYNAMIC_COLUMNS` (one column per
confounder / external factor / economic indicator / conceptual space name).

Conventions
-----------
* One row per record, in input order; the index is a plain RangeIndex.
* Enums become their short lower-case names: ``DATA_SOURCE_META`` → ``"meta"``,
  ``TREATMENT_GROUP_NOT_IN_EXPERIMENT`` → ``"not_in_experiment"``, zero → ``"unspecified"``.
* ``timestamp`` and the metadata instants are ``datetime64[us, UTC]`` (NaT when unset);
  ``local_date`` and ``cal_date`` are naive ``datetime64[s]`` at midnight (NaT when unset).
* Optional lag features (proto3 ``optional``) are NaN when unset; a dynamic column is NaN / ""
  on rows that do not carry that name.
* Repeated strings (``knowledge_graph_nodes``, ``meta_notes``) are tuples in object columns.
* The calendar message is written back only when ``cal_date`` is set; the causal metadata only
  when any ``meta_`` / ``quality_`` column is non-default; a confounder/factor/indicator only
  where its value column is not NaN.
"""

from __future__ import annotations

import gc
import importlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.exceptions import InvalidInput

__all__ = [
    "ALL_GROUPS",
    "DYNAMIC_COLUMNS",
    "FRAME_SCHEMA",
    "HOLIDAY_COLUMNS",
    "Column",
    "date_column",
    "enum_name",
    "enum_value",
    "frame_to_records",
    "records_to_frame",
]


@dataclass(frozen=True, slots=True)
class Column:
    """One fixed column: its name, pandas dtype, column group and the proto field it holds."""

    name: str
    dtype: str
    group: str
    field: str


def _c(name: str, dtype: str, group: str, field: str) -> Column:
    return Column(name, dtype, group, field)


_TS = "datetime64[us, UTC]"
_DATE = "datetime64[s]"

# The fixed columns. `field` is the proto path; `group` lets callers skip what they do not need.
FRAME_SCHEMA: tuple[Column, ...] = (
    _c("id", "str", "core", "id"),
    _c("org_id", "str", "core", "org_id"),
    _c("timestamp", _TS, "core", "timestamp"),
    _c("local_date", _DATE, "core", "local_date"),
    _c("data_source", "str", "core", "data_source (enum short name)"),
    _c("account_id", "str", "core", "account_id"),
    _c("campaign_id", "str", "core", "campaign_id"),
    _c("campaign_name", "str", "core", "campaign_name"),
    _c("campaign_objective", "str", "core", "campaign_objective (enum short name)"),
    _c("channel", "str", "core", "channel"),
    _c("geo", "str", "core", "geo"),
    _c("currency_code", "str", "core", "currency_code"),
    _c("treatment_group", "str", "core", "treatment_group (enum short name)"),
    _c("treatment_intensity", "float64", "core", "treatment_intensity"),
    _c("randomization_unit", "str", "core", "randomization_unit (enum short name)"),
    _c("experiment_id", "str", "core", "experiment_id"),
    _c("spend", "float64", "core", "spend"),
    _c("impressions", "int64", "core", "impressions"),
    _c("clicks", "int64", "core", "clicks"),
    _c("conversions", "float64", "core", "conversions"),
    _c("revenue", "float64", "core", "revenue"),
    _c("data_quality_score", "float64", "core", "data_quality_score"),
    _c("natural_key", "str", "core", "natural_key"),
    _c("version", "int64", "core", "version"),
    _c("cal_date", _DATE, "calendar", "calendar_features.date"),
    _c("cal_year", "int64", "calendar", "calendar_features.year"),
    _c("cal_quarter", "int64", "calendar", "calendar_features.quarter"),
    _c("cal_month", "int64", "calendar", "calendar_features.month"),
    _c("cal_week", "int64", "calendar", "calendar_features.week"),
    _c("cal_day_of_week", "str", "calendar", "calendar_features.day_of_week (enum short name)"),
    _c("cal_is_weekend", "bool", "calendar", "calendar_features.is_weekend"),
    _c("cal_is_holiday", "bool", "calendar", "calendar_features.is_holiday"),
    _c("cal_holiday_name", "str", "calendar", "calendar_features.holiday_name"),
    _c("cal_season", "str", "calendar", "calendar_features.season (enum short name)"),
    _c("cal_country_code", "str", "calendar", "calendar_features.country_code"),
    _c("cal_iso_year", "int64", "calendar", "calendar_features.iso_year"),
    _c("cal_day_of_year", "int64", "calendar", "calendar_features.day_of_year"),
    _c("cal_days_to_next_holiday", "int64", "calendar", "calendar_features.days_to_next_holiday"),
    _c("cal_next_holiday_name", "str", "calendar", "calendar_features.next_holiday_name"),
    _c(
        "cal_days_since_last_holiday",
        "int64",
        "calendar",
        "calendar_features.days_since_last_holiday",
    ),
    _c("cal_is_month_start", "bool", "calendar", "calendar_features.is_month_start"),
    _c("cal_is_month_end", "bool", "calendar", "calendar_features.is_month_end"),
    _c(
        "cal_demand_index",
        "float64",
        "calendar",
        "calendar_features.market_conditions.demand_index",
    ),
    _c(
        "cal_competitor_index",
        "float64",
        "calendar",
        "calendar_features.market_conditions.competitor_index",
    ),
    _c(
        "cal_promotion_active",
        "bool",
        "calendar",
        "calendar_features.market_conditions.promotion_active",
    ),
    _c(
        "cal_promotion_name",
        "str",
        "calendar",
        "calendar_features.market_conditions.promotion_name",
    ),
    *(
        _c(f"{m}_lag_{d}", "float64", "lags", f"lag_features.{m}_lag_{d} (NaN when unset)")
        for m in ("spend", "conversions", "revenue")
        for d in (1, 7, 14, 28)
    ),
    _c("adstock_spend", "float64", "lags", "lag_features.adstock_spend"),
    _c("adstock_decay", "float64", "lags", "lag_features.adstock_decay"),
    _c("spend_rolling_mean_7", "float64", "lags", "lag_features.spend_rolling_mean_7 (NaN unset)"),
    _c("lag_history_days", "int64", "lags", "lag_features.history_days"),
    _c("meta_ingested_at", _TS, "metadata", "causal_metadata.ingested_at"),
    _c("meta_pulled_at", _TS, "metadata", "causal_metadata.pulled_at"),
    _c("meta_batch_id", "str", "metadata", "causal_metadata.batch_id"),
    _c("meta_account_timezone", "str", "metadata", "causal_metadata.account_timezone"),
    _c("meta_out_of_order", "bool", "metadata", "causal_metadata.out_of_order"),
    _c("meta_late_days", "int64", "metadata", "causal_metadata.late_days"),
    _c("meta_is_restatement", "bool", "metadata", "causal_metadata.is_restatement"),
    _c("meta_replaced_version", "int64", "metadata", "causal_metadata.replaced_version"),
    _c("meta_notes", "object", "metadata", "causal_metadata.notes (tuple of str)"),
    _c("meta_attribution_window", "str", "metadata", "causal_metadata.attribution_window"),
    _c("meta_raw_row_sha256", "str", "metadata", "causal_metadata.raw_row_sha256"),
    *(
        _c(f"quality_{q}", "float64", "metadata", f"causal_metadata.quality.{q}")
        for q in (
            "temporal_consistency",
            "confounder_coverage",
            "treatment_assignment",
            "outcome_measurement",
            "external_validity",
        )
    ),
    _c("conceptual_space", "str", "memory", "conceptual_space"),
    _c("knowledge_graph_nodes", "object", "memory", "knowledge_graph_nodes (tuple of str)"),
    _c("embedding", "object", "embedding", "embedding_vector (float32 ndarray; opt-in)"),
    _c("payload", "object", "payload", "the serialised record (bytes; opt-in)"),
)

# Dynamic column families: pattern → (dtype, group, proto source). `{name}` is the
# confounder / factor / indicator name, `{space}` the conceptual space.
DYNAMIC_COLUMNS: dict[str, tuple[str, str, str]] = {
    "confounder__{name}": ("float64", "confounders", "confounders[].value"),
    "confounder_strength__{name}": ("float64", "confounders", "confounders[].strength"),
    "confounder_type__{name}": ("str", "confounders", "confounders[].type (enum short name)"),
    "confounder_detector__{name}": ("str", "confounder_details", "confounders[].detector"),
    "confounder_description__{name}": ("str", "confounder_details", "confounders[].description"),
    "external__{name}": ("float64", "external", "external_factors[].value"),
    "external_type__{name}": ("str", "external", "external_factors[].type (enum short name)"),
    "external_source__{name}": ("str", "external", "external_factors[].source"),
    "econ__{name}": ("float64", "economic", "calendar_features.economic_indicators[].value"),
    "econ_unit__{name}": ("str", "economic", "calendar_features.economic_indicators[].unit"),
    "econ_source__{name}": ("str", "economic", "calendar_features.economic_indicators[].source"),
    "region__{space}": ("str", "memory", "conceptual_assignments[].region"),
    "region_distance__{space}": ("float64", "memory", "conceptual_assignments[].distance"),
}

# Calendar columns a reader that only names the day needs (memory's causal text): the
# "holidays" group reads these alone, a fifth of the calendar group's cost.
HOLIDAY_COLUMNS = (
    "cal_day_of_week",
    "cal_season",
    "cal_holiday_name",
    "cal_days_to_next_holiday",
    "cal_next_holiday_name",
)

# Groups on by default; "embedding" and "payload" are opt-in (they dominate the size), and
# "holidays" is the subset of "calendar" in HOLIDAY_COLUMNS.
ALL_GROUPS: frozenset[str] = frozenset(
    {
        "core",
        "calendar",
        "lags",
        "metadata",
        "confounders",
        "confounder_details",
        "external",
        "economic",
        "memory",
    }
)


def _enum_table(enum: Any, prefix: str) -> tuple[np.ndarray, dict[str, int]]:
    items = enum.items()
    top = max(v for _, v in items)
    names = np.array(["unknown"] * (top + 2), dtype=object)
    lookup: dict[str, int] = {}
    for full, value in items:
        short = full.removeprefix(prefix).lower()
        names[value] = short
        lookup[short] = value
    return names, lookup


_ENUMS: dict[str, tuple[np.ndarray, dict[str, int]]] = {
    "data_source": _enum_table(common_pb.DataSource, "DATA_SOURCE_"),
    "campaign_objective": _enum_table(md_pb.CampaignObjective, "CAMPAIGN_OBJECTIVE_"),
    "treatment_group": _enum_table(md_pb.TreatmentGroup, "TREATMENT_GROUP_"),
    "randomization_unit": _enum_table(common_pb.RandomizationUnit, "RANDOMIZATION_UNIT_"),
    "day_of_week": _enum_table(md_pb.DayOfWeek, "DAY_OF_WEEK_"),
    "season": _enum_table(md_pb.Season, "SEASON_"),
    "confounder_type": _enum_table(md_pb.ConfounderType, "CONFOUNDER_TYPE_"),
    "external_factor_type": _enum_table(md_pb.ExternalFactorType, "EXTERNAL_FACTOR_TYPE_"),
}


def enum_name(enum: str, value: int) -> str:
    """Short lower-case name of an enum value (``enum_name("data_source", 1) == "meta"``)."""
    names = _ENUMS[enum][0]
    return str(names[value]) if 0 <= value < len(names) else "unknown"


def enum_value(enum: str, name: str, *, field: str | None = None) -> int:
    """Enum number for a short name; InvalidInput naming ``field`` when unknown."""
    lookup = _ENUMS[enum][1]
    if not name:
        return 0
    try:
        return lookup[name]
    except KeyError:
        raise InvalidInput(
            f"{name!r} is not a {enum} (one of {', '.join(sorted(lookup))})",
            field=field or enum,
        ) from None


def _enum_codes(enum: str, values: Sequence[int]) -> np.ndarray:
    """Enum numbers as indexes into the name table, out of range → the "unknown" slot."""
    codes = np.array(values, dtype=np.int64)
    top = len(_ENUMS[enum][0]) - 1
    return np.where((codes >= 0) & (codes < top), codes, top)


def _enum_col(enum: str, values: Sequence[int]) -> np.ndarray:
    """Enum numbers → their short names (object array); out of range → "unknown"."""
    return _ENUMS[enum][0][_enum_codes(enum, values)]


_NAT = np.iinfo(np.int64).min  # NaT's int64 representation


def _us(parents: Sequence[Any], field: str) -> np.ndarray:
    """A Timestamp field of ``parents`` → int64 µs since the epoch, NaT's value where unset."""
    rows, stamps = _set_rows(parents, field)
    s = np.array([t.seconds for t in stamps], dtype=np.int64)
    ns = np.array([t.nanos for t in stamps], dtype=np.int64)
    return _spread(rows, len(parents), s * 1_000_000 + ns // 1000, _NAT)


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
        return _str(_enum_col(enum, values))
    table = _arrow.array(_ENUMS[enum][0].tolist(), type=_arrow.large_string())
    return pd.array(table.take(_arrow.array(_enum_codes(enum, values))), dtype="str")


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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while many sub-message wrappers are alive.

    upb gives every sub-message read a GC-tracked wrapper; holding one per record triggers
    collections that rescan them all, measured at ≈ 20 % of a conversion. Reference counting
    still frees everything at once. Nested or concurrent callers leave the collector as the
    first one found it: only a caller that saw it enabled turns it back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    with _gc_paused():
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
            types = _enum_col("external_factor_type", [f.type for f in items])
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


def _confounder_columns(
    recs: list[md_pb.CausalMarketingData], n: int, wanted: set[str]
) -> dict[str, Any]:
    items, rows = _flatten([r.confounders for r in recs])
    floats: dict[str, list[float]] = {}
    strs: dict[str, list[str] | np.ndarray] = {}
    if "confounders" in wanted:
        floats["confounder__"] = [c.value for c in items]
        floats["confounder_strength__"] = [c.strength for c in items]
        strs["confounder_type__"] = _enum_col("confounder_type", [c.type for c in items])
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


_LAG_OPTIONAL = (
    *tuple(f"{m}_lag_{d}" for m in ("spend", "conversions", "revenue") for d in (1, 7, 14, 28)),
    "spend_rolling_mean_7",
)


def _lag_columns(cols: dict[str, Any], recs: list[md_pb.CausalMarketingData]) -> None:
    n = len(recs)
    rows, lags = _set_rows(recs, "lag_features")
    for name in _LAG_OPTIONAL:
        cols[name] = _spread(rows, n, _optional(lags, name), np.nan)
    for name in ("adstock_spend", "adstock_decay"):
        cols[name] = _spread(rows, n, [getattr(lf, name) for lf in lags], 0.0, np.float64)
    cols["lag_history_days"] = _spread(rows, n, [lf.history_days for lf in lags], 0, np.int64)


_QUALITY = (
    "temporal_consistency",
    "confounder_coverage",
    "treatment_assignment",
    "outcome_measurement",
    "external_validity",
)


def _metadata_columns(cols: dict[str, Any], recs: list[md_pb.CausalMarketingData]) -> None:
    n = len(recs)
    rows, meta = _set_rows(recs, "causal_metadata")
    for name in ("ingested_at", "pulled_at"):
        cols[f"meta_{name}"] = _ts(_spread(rows, n, _us(meta, name), _NAT))
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
    for q in _QUALITY:
        values = [getattr(x, q) for x in quality]
        cols[f"quality_{q}"] = _spread(q_rows, n, values, 0.0, np.float64)


# --------------------------------------------------------------------------- frame → records
#
# Each row becomes a dict of exactly the fields the old field-by-field writer set (nested dicts
# for sub-messages, lists for repeated fields), built column by column; the message is then
# made in one constructor call, or, over a parsed payload, written field by field.

_STRING_FIELDS = (
    "id",
    "org_id",
    "account_id",
    "campaign_id",
    "campaign_name",
    "channel",
    "geo",
    "currency_code",
    "experiment_id",
    "natural_key",
)
_FLOAT_FIELDS = ("treatment_intensity", "spend", "conversions", "revenue", "data_quality_score")
_INT_FIELDS = ("impressions", "clicks", "version")
_ENUM_FIELDS = (
    ("data_source", "data_source"),
    ("campaign_objective", "campaign_objective"),
    ("treatment_group", "treatment_group"),
    ("randomization_unit", "randomization_unit"),
)
# Repeated fields a column replaces on a parsed payload (the other repeated fields append).
_REPLACED = frozenset({"knowledge_graph_nodes", "conceptual_assignments", "embedding_vector"})


def _list(frame: pd.DataFrame, name: str, default: Any, n: int) -> list[Any]:
    if name not in frame.columns:
        return [default] * n
    values = frame[name].tolist()
    if isinstance(default, str):
        return [v if isinstance(v, str) else default for v in values]
    if isinstance(default, float) and not math.isnan(default):
        return [
            default if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values
        ]
    return values


# Numeric and boolean columns, numpy or nullable (Int64, Float64, boolean): a missing value
# (NaN, NA) becomes the field's default, as None and NaN do in object columns.


def _floats(frame: pd.DataFrame, name: str, n: int) -> list[float]:
    """``float(v)`` per row, None / NaN / NA / a missing column → 0.0."""
    if name in frame.columns and frame[name].dtype.kind in "fiub":
        x = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(x), 0.0, x).tolist()
    return [float(v) for v in _list(frame, name, 0.0, n)]


def _ints(frame: pd.DataFrame, name: str, n: int) -> list[int]:
    """``int(v)`` per row, None / NaN / NA / a missing column → 0."""
    if name in frame.columns and frame[name].dtype.kind in "ib":
        return frame[name].fillna(0).to_numpy(dtype=np.int64).tolist()
    return [int(v) for v in _list(frame, name, 0.0, n)]


def _bools(frame: pd.DataFrame, name: str, n: int) -> list[bool]:
    if name in frame.columns and frame[name].dtype.kind == "b":
        return frame[name].fillna(False).to_numpy(dtype=bool).tolist()
    return [bool(v) for v in _list(frame, name, False, n)]


def _strings(frame: pd.DataFrame, name: str, n: int) -> list[str]:
    """The strings of a column, "" for anything else (NaN, None) or a missing column."""
    if name in frame.columns and isinstance(frame[name].dtype, pd.StringDtype):
        return frame[name].to_numpy(dtype=object, na_value="").tolist()
    return _list(frame, name, "", n)


def _instants(frame: pd.DataFrame, name: str, n: int) -> list[dict[str, int] | None]:
    """Timestamp field values ({seconds, nanos}) in UTC, None for NaT / a missing column."""
    if name not in frame.columns:
        return [None] * n
    col = pd.to_datetime(frame[name], utc=True)
    us = col.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view(np.int64)
    seconds, micros = np.divmod(us, 1_000_000)
    return [
        None if missing else {"seconds": s, "nanos": m * 1000}
        for missing, s, m in zip(
            col.isna().to_numpy().tolist(), seconds.tolist(), micros.tolist(), strict=True
        )
    ]


def _dates(frame: pd.DataFrame, name: str, n: int) -> list[dict[str, int] | None]:
    """Date field values ({year, month, day}), None for NaT / a missing column."""
    if name not in frame.columns:
        return [None] * n
    col = pd.to_datetime(frame[name])
    if getattr(col.dt, "tz", None) is not None:
        col = col.dt.tz_localize(None)
    missing = col.isna().to_numpy().tolist()
    y = col.dt.year.fillna(0).astype(np.int64).tolist()
    m = col.dt.month.fillna(0).astype(np.int64).tolist()
    d = col.dt.day.fillna(0).astype(np.int64).tolist()
    return [
        None if x else {"year": a, "month": b, "day": c}
        for x, a, b, c in zip(missing, y, m, d, strict=True)
    ]


def _enum_values(frame: pd.DataFrame, column: str, enum: str, n: int) -> list[int]:
    """Enum numbers for short names ("" / NaN → 0); an unknown name raises InvalidInput
    naming the first row that has it."""
    if column not in frame.columns:
        return [0] * n
    lookup = _ENUMS[enum][1]
    values = frame[column].tolist()
    table: dict[Any, int] = {}
    try:
        distinct = list(dict.fromkeys(values))
    except TypeError:  # unhashable cells (lists…): none of them is a name
        values = [v if isinstance(v, str) else "" for v in values]
        distinct = list(dict.fromkeys(values))
    for v in distinct:
        if not isinstance(v, str) or not v:
            continue
        code = lookup.get(v)
        if code is None:
            raise InvalidInput(
                f"{v!r} is not a {enum} (one of {', '.join(sorted(lookup))})",
                field=f"{column}[{values.index(v)}]",
            )
        table[v] = code
    return [table.get(v, 0) for v in values]


def _families(frame: pd.DataFrame, prefix: str) -> list[str]:
    return sorted(c[len(prefix) :] for c in frame.columns if c.startswith(prefix))


def _unused(values: list[Any]) -> bool:
    """Every value is its proto3 default (0, 0.0, False, ""; -0.0 is not a default)."""
    if any(values):
        return False
    # the converters above give one Python type per column
    return not (values and isinstance(values[0], float) and np.signbit(values).any())


def _rows(n: int, columns: Mapping[str, Any], prune: bool) -> list[dict[str, Any]]:
    """One dict per row of the columns (leaving out, when ``prune``, those :func:`_unused`)."""
    keep = {k: v for k, v in columns.items() if not (prune and _unused(v))}
    if not keep:
        return [{} for _ in range(n)]
    keys = list(keep)
    return [dict(zip(keys, values, strict=True)) for values in zip(*keep.values(), strict=True)]


def _put(rows: list[dict[str, Any]], key: str, values: Sequence[Any]) -> None:
    """Set ``key`` on the rows whose value is not None."""
    for row, value in zip(rows, values, strict=True):
        if value is not None:
            row[key] = value


def _sparse(n: int, columns: Mapping[str, tuple[list[Any], np.ndarray]]) -> list[Any]:
    """Per row, a dict of the fields whose ``mask`` is true there, or None when no field is —
    for sub-messages written only where they carry something."""
    out: list[dict[str, Any] | None] = [None] * n
    for key, (values, mask) in columns.items():
        for i in np.flatnonzero(mask).tolist():
            row = out[i]
            if row is None:
                row = out[i] = {}
            row[key] = values[i]
    return out


def _truthy(values: list[Any]) -> np.ndarray:
    return np.fromiter(map(bool, values), dtype=bool, count=len(values))


def _given(values: list[Any]) -> np.ndarray:
    return np.array([v is not None for v in values], dtype=bool)


def frame_to_records(frame: pd.DataFrame) -> list[md_pb.CausalMarketingData]:
    """Build one CausalMarketingData per row from columns named as in :data:`FRAME_SCHEMA`.

    Missing columns leave their fields at the proto default; enum columns take the short
    names :func:`records_to_frame` writes (unknown names raise InvalidInput naming
    ``column[row]``). A ``payload`` column, when present, is parsed first and the other
    columns present are written over it.
    """
    with _gc_paused():  # millions of small dicts, all alive until the messages are built
        return _frame_to_records(frame)


def _frame_to_records(frame: pd.DataFrame) -> list[md_pb.CausalMarketingData]:
    n = len(frame)
    scalar: dict[str, list[Any]] = {}
    for name in _STRING_FIELDS:
        if name in frame.columns:
            scalar[name] = _strings(frame, name, n)
    for name in _FLOAT_FIELDS:
        if name in frame.columns:
            scalar[name] = _floats(frame, name, n)
    for name in _INT_FIELDS:
        if name in frame.columns:
            scalar[name] = _ints(frame, name, n)
    for name, enum in _ENUM_FIELDS:
        if name in frame.columns:
            scalar[name] = _enum_values(frame, name, enum, n)
    # Over a payload every column present is written; on a fresh message a column that holds
    # only proto3 defaults writes nothing, so it is left out (each field set costs ≈ 0.1 µs).
    fresh = "payload" not in frame.columns
    rows = _rows(n, scalar, fresh)
    _put(rows, "timestamp", _instants(frame, "timestamp", n))
    _put(rows, "local_date", _dates(frame, "local_date", n))
    _put(rows, "calendar_features", _calendar_rows(frame, n, fresh))
    _put(rows, "lag_features", _lag_rows(frame, n))
    _put(rows, "causal_metadata", _metadata_rows(frame, n))
    _put(rows, "confounders", _confounder_rows(frame, n))
    _put(rows, "external_factors", _external_rows(frame, n))
    _memory_rows(frame, n, rows)
    if "embedding" in frame.columns:
        _put(
            rows,
            "embedding_vector",
            [
                np.asarray(e, dtype=np.float32).tolist() if e is not None and len(e) else None
                for e in frame["embedding"].tolist()
            ],
        )
    message = md_pb.CausalMarketingData
    if "payload" not in frame.columns:
        return [message(**row) for row in rows]
    out = []
    for payload, row in zip(frame["payload"].tolist(), rows, strict=True):
        r = message()
        if payload is not None:
            r.ParseFromString(payload)
        _assign(r, row)
        out.append(r)
    return out


def _assign(msg: Any, fields: Mapping[str, Any]) -> None:
    """Write ``fields`` over a message field by field (what the constructor does on a fresh
    one): sub-messages are written into, repeated fields append unless in ``_REPLACED``."""
    for key, value in fields.items():
        if isinstance(value, dict):
            _assign(getattr(msg, key), value)
        elif isinstance(value, list):
            target = getattr(msg, key)
            if key in _REPLACED:
                del target[:]
            if value and isinstance(value[0], dict):
                for item in value:
                    target.add(**item)
            else:
                target.extend(value)
        else:
            setattr(msg, key, value)


def _calendar_rows(frame: pd.DataFrame, n: int, fresh: bool) -> list[dict[str, Any] | None]:
    if "cal_date" not in frame.columns:
        return [None] * n
    dates = _dates(frame, "cal_date", n)
    fields: dict[str, list[Any]] = {}
    for f in (
        "year",
        "quarter",
        "month",
        "week",
        "iso_year",
        "day_of_year",
        "days_to_next_holiday",
        "days_since_last_holiday",
    ):
        fields[f] = _ints(frame, f"cal_{f}", n)
    for f in ("is_weekend", "is_holiday", "is_month_start", "is_month_end"):
        fields[f] = _bools(frame, f"cal_{f}", n)
    for f in ("holiday_name", "country_code", "next_holiday_name"):
        fields[f] = _strings(frame, f"cal_{f}", n)
    fields["day_of_week"] = _enum_values(frame, "cal_day_of_week", "day_of_week", n)
    fields["season"] = _enum_values(frame, "cal_season", "season", n)
    market = {
        "demand_index": _floats(frame, "cal_demand_index", n),
        "competitor_index": _floats(frame, "cal_competitor_index", n),
        "promotion_active": _bools(frame, "cal_promotion_active", n),
        "promotion_name": _strings(frame, "cal_promotion_name", n),
    }
    out: list[dict[str, Any] | None] = []
    for date, row, conditions, econ in zip(
        dates, _rows(n, fields, fresh), _rows(n, market, fresh), _econ_rows(frame, n), strict=True
    ):
        if date is None:
            out.append(None)
            continue
        row["date"] = date
        row["market_conditions"] = conditions  # written even when empty, as before
        if econ:
            row["economic_indicators"] = econ
        out.append(row)
    return out


def _lag_rows(frame: pd.DataFrame, n: int) -> list[dict[str, Any] | None]:
    present = [c for c in _LAG_OPTIONAL if c in frame.columns]
    always = [c for c in ("adstock_spend", "adstock_decay") if c in frame.columns]
    if not present and not always and "lag_history_days" not in frame.columns:
        return [None] * n
    columns: dict[str, tuple[list[Any], np.ndarray]] = {}
    for c in present:
        if frame[c].dtype.kind in "fiub":
            x = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            columns[c] = (x.tolist(), ~np.isnan(x))
            continue
        values = _list(frame, c, math.nan, n)
        given = np.array([v is not None and not math.isnan(v) for v in values], dtype=bool)
        columns[c] = ([float(v) if ok else 0.0 for v, ok in zip(values, given, strict=True)], given)
    for c in always:
        fixed = _floats(frame, c, n)
        columns[c] = (fixed, _truthy(fixed))
    days = _ints(frame, "lag_history_days", n)
    columns["history_days"] = (days, _truthy(days))
    return _sparse(n, columns)


def _metadata_rows(frame: pd.DataFrame, n: int) -> list[dict[str, Any] | None]:
    if not any(c.startswith(("meta_", "quality_")) for c in frame.columns):
        return [None] * n
    columns: dict[str, tuple[list[Any], np.ndarray]] = {}
    for f in ("ingested_at", "pulled_at"):
        stamps = _instants(frame, f"meta_{f}", n)
        columns[f] = (stamps, _given(stamps))
    for f in ("batch_id", "account_timezone", "attribution_window", "raw_row_sha256"):
        strs = _strings(frame, f"meta_{f}", n)
        columns[f] = (strs, _truthy(strs))
    for f in ("out_of_order", "is_restatement"):
        flags = _bools(frame, f"meta_{f}", n)
        columns[f] = (flags, _truthy(flags))
    for f in ("late_days", "replaced_version"):
        ints = _ints(frame, f"meta_{f}", n)
        columns[f] = (ints, _truthy(ints))
    notes = [
        list(v) if v is not None and len(v) else None for v in _list(frame, "meta_notes", None, n)
    ]
    columns["notes"] = (notes, _given(notes))
    quality: dict[str, tuple[list[Any], np.ndarray]] = {}
    for q in _QUALITY:
        scores = _floats(frame, f"quality_{q}", n)
        quality[q] = (scores, _truthy(scores))
    per_row = _sparse(n, quality)
    columns["quality"] = (per_row, _given(per_row))
    return _sparse(n, columns)


def _confounder_rows(frame: pd.DataFrame, n: int) -> list[list[dict[str, Any]] | None]:
    rows: list[list[dict[str, Any]] | None] = [None] * n
    for name in _families(frame, "confounder__"):
        values = frame[f"confounder__{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        strength = _floats(frame, f"confounder_strength__{name}", n)
        ctype = _enum_values(frame, f"confounder_type__{name}", "confounder_type", n)
        detector = _strings(frame, f"confounder_detector__{name}", n)
        description = _strings(frame, f"confounder_description__{name}", n)
        for i in np.flatnonzero(~np.isnan(values)).tolist():
            item = {
                "name": name,
                "type": ctype[i],
                "value": float(values[i]),
                "strength": float(strength[i]),
                "detector": detector[i],
                "description": description[i],
            }
            row = rows[i]
            if row is None:
                rows[i] = [item]
            else:
                row.append(item)
    return rows


def _external_rows(frame: pd.DataFrame, n: int) -> list[list[dict[str, Any]] | None]:
    rows: list[list[dict[str, Any]] | None] = [None] * n
    for name in _families(frame, "external__"):
        values = frame[f"external__{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        ftype = _enum_values(frame, f"external_type__{name}", "external_factor_type", n)
        source = _strings(frame, f"external_source__{name}", n)
        for i in np.flatnonzero(~np.isnan(values)).tolist():
            item = {"name": name, "type": ftype[i], "value": float(values[i]), "source": source[i]}
            row = rows[i]
            if row is None:
                rows[i] = [item]
            else:
                row.append(item)
    return rows


def _econ_rows(frame: pd.DataFrame, n: int) -> list[list[dict[str, Any]]]:
    rows: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for name in _families(frame, "econ__"):
        values = frame[f"econ__{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        unit = _strings(frame, f"econ_unit__{name}", n)
        source = _strings(frame, f"econ_source__{name}", n)
        for i in np.flatnonzero(~np.isnan(values)).tolist():
            rows[i].append(
                {"name": name, "value": float(values[i]), "unit": unit[i], "source": source[i]}
            )
    return rows


def _memory_rows(frame: pd.DataFrame, n: int, rows: list[dict[str, Any]]) -> None:
    if "conceptual_space" in frame.columns:
        _put(rows, "conceptual_space", [v or None for v in _strings(frame, "conceptual_space", n)])
    if "knowledge_graph_nodes" in frame.columns:
        nodes = frame["knowledge_graph_nodes"].tolist()
        _put(
            rows,
            "knowledge_graph_nodes",
            [list(v) if v is not None and len(v) else None for v in nodes],
        )
    spaces = _families(frame, "region__")
    if not spaces:
        return
    for row in rows:
        row["conceptual_assignments"] = []
    for s in spaces:
        regions = _strings(frame, f"region__{s}", n)
        distances = _floats(frame, f"region_distance__{s}", n)
        for i in np.flatnonzero(_truthy(regions)).tolist():
            rows[i]["conceptual_assignments"].append(
                {"space": s, "region": regions[i], "distance": float(distances[i])}
            )
