"""The frame schema: the fixed columns, the dynamic column families, the column groups, and
the record fields each column holds (shared by the decoder, the encoder and the wire encoder)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Column:
    """One fixed column: its name, pandas dtype, column group and the proto field it holds."""

    name: str
    dtype: str
    group: str
    field: str


QUALITY_SCORES = (
    "temporal_consistency",
    "confounder_coverage",
    "treatment_assignment",
    "outcome_measurement",
    "external_validity",
)


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
    _c("conversions_unreported", "bool", "core", "conversions_unreported"),
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
        for q in QUALITY_SCORES
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


# The record fields behind the fixed columns, by kind: the decoder, the encoder and the wire
# encoder walk the same lists.
LAG_OPTIONAL = (
    *tuple(f"{m}_lag_{d}" for m in ("spend", "conversions", "revenue") for d in (1, 7, 14, 28)),
    "spend_rolling_mean_7",
)

STRING_FIELDS = (
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
FLOAT_FIELDS = ("treatment_intensity", "spend", "conversions", "revenue", "data_quality_score")
INT_FIELDS = ("impressions", "clicks", "version")
BOOL_FIELDS = ("conversions_unreported",)
ENUM_FIELDS = (
    ("data_source", "data_source"),
    ("campaign_objective", "campaign_objective"),
    ("treatment_group", "treatment_group"),
    ("randomization_unit", "randomization_unit"),
)

NAT_US = np.iinfo(np.int64).min  # NaT's int64 representation (µs)


def families(frame: pd.DataFrame, prefix: str) -> list[str]:
    """The names of one dynamic column family in a frame (``confounder__`` → its names)."""
    return sorted(c[len(prefix) :] for c in frame.columns if c.startswith(prefix))
