"""Memory records → an analysis table whose columns the estimators' roles can name.

Platform rows carry media (spend, impressions, clicks) and what the platform *claims* it caused
(``platform_conversions``, ``platform_revenue``). First-party rows (the generic source, e.g. the
store's orders) carry the business outcome. ``conversions``/``revenue`` are the first-party
outcome when the query holds first-party rows, else the platform claims — with a warning,
because platform-attributed outcomes over-claim and are not a causal outcome.

Columns (aggregated per level): ``date`` (UTC midnight of the local date), ``day`` (integer
days since the first date), ``spend``, ``impressions``, ``clicks``, ``conversions``, ``revenue``,
``platform_conversions``, ``platform_revenue``, ``spend__<channel>`` per channel,
``treatment_intensity`` (spend-weighted mean), ``data_quality_score`` (mean), one
``external__<factor>`` per registered external factor (mean), and with an experiment id:
``treated`` (the unit was assigned to treatment), ``post`` (the date is inside the window in
which records carry the experiment) and ``treated_post`` (their product: the 0/1 treatment of
treated unit-periods that DiD and event studies take).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.experiment_units import require_arms_found, unit_matches

FIRST_PARTY_SOURCE = "generic"
MEDIA_SUMS = ("spend", "impressions", "clicks")


@dataclass(frozen=True, slots=True)
class ExperimentDesign:
    """The registry's view of an experiment: its window, its pre-period's first day where the
    design or registration stated one, and, when explicit, its arms."""

    experiment_id: str
    start: dt.date
    end: dt.date
    treatment_units: tuple[str, ...] = ()
    control_units: tuple[str, ...] = ()
    pre_period_start: dt.date | None = None

    @property
    def pre_period(self) -> tuple[dt.date, bool]:
        """The pre-period's first day, and whether it is the registered one (False: none was
        registered, and the pre-period is as long as the test)."""
        if self.pre_period_start is not None and self.pre_period_start < self.start:
            return self.pre_period_start, True
        return self.start - (self.end - self.start + dt.timedelta(days=1)), False


def experiment_window(
    design: ExperimentDesign, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """The records window for an experiment's estimate where the query leaves it open: the
    registered pre-period (R26-F4: a design powered on 56-91 days of pre-period was estimated
    on a pre-period as long as the test, a third of it, and read "no detectable effect"), else
    one as long as the test, through the test's last day (a bound the other one leaves no
    room for stays open). Read unbounded, the days after the test are untreated again, which
    the panel methods ``auto`` picks refuse ("unit-periods switch it off"); an explicit bound
    is kept."""
    first, _ = design.pre_period
    if start is None and (end is None or end >= first):
        start = first
    if end is None and (start is None or start <= design.end):
        end = design.end
    return start, end


class Aggregation(enum.StrEnum):
    GEO_DAY = "geo_day"
    CAMPAIGN_DAY = "campaign_day"
    CHANNEL_DAY = "channel_day"
    DAY = "day"
    RECORD = "record"


_KEYS = {
    Aggregation.GEO_DAY: ["geo", "date"],
    Aggregation.CAMPAIGN_DAY: ["campaign_id", "channel", "date"],
    Aggregation.CHANNEL_DAY: ["channel", "date"],
    Aggregation.DAY: ["date"],
}


def _prepared(records: pd.DataFrame) -> pd.DataFrame:
    frame = records.copy()
    frame["date"] = pd.to_datetime(frame["local_date"]).dt.tz_localize("UTC")
    first_party = frame["data_source"].eq(FIRST_PARTY_SOURCE)
    # A row whose platform reported no conversions holds 0 as a placeholder: missing (NaN)
    # here, so a sum leaves it out and a group with only such rows stays missing.
    unreported = (
        frame["conversions_unreported"].fillna(False).to_numpy(bool)
        if "conversions_unreported" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    unknown = unreported & ~first_party.to_numpy()
    frame["platform_unknown"] = unknown
    frame["platform_conversions"] = np.where(first_party, 0.0, frame["conversions"])
    frame["platform_revenue"] = np.where(first_party, 0.0, frame["revenue"])
    frame.loc[unknown, ["platform_conversions", "platform_revenue"]] = np.nan
    # the platform rows that report: what a group's platform sums add up
    for c in ("conversions", "revenue"):
        frame[f"reported_{c}"] = frame[c].where(~(first_party.to_numpy() | unknown))
    frame["kpi_conversions"] = np.where(first_party, frame["conversions"], 0.0)
    frame["kpi_revenue"] = np.where(first_party, frame["revenue"], 0.0)
    frame["intensity_x_spend"] = frame["treatment_intensity"] * frame["spend"]
    frame["is_first_party"] = first_party
    return frame


def analysis_table(
    records: pd.DataFrame,
    aggregation: Aggregation = Aggregation.GEO_DAY,
    *,
    experiment_id: str = "",
    design: ExperimentDesign | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Aggregate records (a :func:`mesh.runtime.frames.records_to_frame` frame); returns (table, warnings).

    Raises
    ------
    InsufficientData
        No records matched the query.
    InvalidSpec
        The experiment id is set but no record carries it.
    """
    if records.empty:
        raise InsufficientData("no records match the query", subject="records")
    frame = _prepared(records)
    warnings: list[str] = []
    has_kpi = bool(frame["is_first_party"].any())
    unknown = int(frame["platform_unknown"].sum())
    if unknown:
        warnings.append(
            f"{unknown} platform record(s) carry no reported conversions (the platform did not "
            "report them, e.g. Meta's region breakdown): their platform_conversions and "
            "platform_revenue are missing, not 0"
        )
    if not has_kpi:
        warnings.append(
            "no first-party outcome rows in the query: conversions/revenue are the platforms' "
            "own attributed figures, which over-claim and are not a causal outcome"
        )
    externals = [
        c
        for c in frame.columns
        if c.startswith("external__") and not c.startswith("external__type")
    ]
    externals = [c for c in externals if pd.api.types.is_numeric_dtype(frame[c])]
    if aggregation is Aggregation.RECORD:
        table = frame
    else:
        keys = _KEYS[aggregation]
        grouped = frame.groupby(keys, sort=True, observed=True)
        table = grouped[[*MEDIA_SUMS, "kpi_conversions", "kpi_revenue",
                         "intensity_x_spend"]].sum()  # fmt: skip
        # Summed over the reported rows; missing where the group's platform rows all are
        # unreported (unknown is not 0), 0 where it has none (first-party rows claim nothing).
        platform = grouped[["reported_conversions", "reported_revenue"]].sum(min_count=1)
        platform.columns = ["platform_conversions", "platform_revenue"]
        table[platform.columns] = platform.where(
            platform.notna() | grouped["platform_unknown"].any().to_numpy()[:, None], 0.0
        )
        table["data_quality_score"] = grouped["data_quality_score"].mean()
        for c in externals:
            table[c] = grouped[c].mean()
        media = frame.loc[~frame["is_first_party"]]
        # Spend by channel as columns, unless channel is a key already (one column would do).
        if "channel" not in keys and not media.empty:
            by_channel = media.pivot_table(
                index=keys, columns="channel", values="spend", aggfunc="sum", fill_value=0.0
            )
            by_channel.columns = [f"spend__{c}" for c in by_channel.columns]
            table = table.join(by_channel, how="left")
        table = table.reset_index()
        spend = table["spend"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            table["treatment_intensity"] = np.where(
                spend > 0, table["intensity_x_spend"] / spend, 0.0
            )
    if has_kpi and aggregation in (Aggregation.CAMPAIGN_DAY, Aggregation.CHANNEL_DAY):
        warnings.append(
            "first-party outcomes are not attributable to campaigns/channels; using platform figures"
        )
        has_kpi = False
    table["conversions"] = table["kpi_conversions"] if has_kpi else table["platform_conversions"]
    table["revenue"] = table["kpi_revenue"] if has_kpi else table["platform_revenue"]
    table["day"] = (table["date"] - table["date"].min()).dt.days.astype(np.int64)
    if experiment_id:
        if design is None:
            warnings.append(
                f"experiment {experiment_id!r} is not in the registry: its window and arms are "
                "inferred from the records that carry it"
            )
        table = _mark_experiment(frame, table, aggregation, experiment_id, design)
    drop = [
        c
        for c in (
            "kpi_conversions",
            "kpi_revenue",
            "intensity_x_spend",
            "is_first_party",
            "platform_unknown",
            "reported_conversions",
            "reported_revenue",
        )
        if c in table
    ]
    spend_cols = [c for c in table.columns if c.startswith("spend__")]
    table[spend_cols] = table[spend_cols].fillna(0.0)
    return table.drop(columns=drop).reset_index(drop=True), tuple(warnings)


def _mark_experiment(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    aggregation: Aggregation,
    experiment_id: str,
    design: ExperimentDesign | None,
) -> pd.DataFrame:
    in_exp = frame["experiment_id"].eq(experiment_id)
    if design is not None:
        start = pd.Timestamp(design.start, tz="UTC")
        end = pd.Timestamp(design.end, tz="UTC")
    elif in_exp.any():
        window = frame.loc[in_exp, "date"]
        start, end = window.min(), window.max()
    else:
        raise InvalidSpec(
            f"no record carries experiment {experiment_id!r} and the registry has no such experiment",
            field="records.experiment_id",
        )
    table["post"] = ((table["date"] >= start) & (table["date"] <= end)).astype(np.int64)
    if design is not None and design.treatment_units and aggregation is Aggregation.GEO_DAY:
        # Explicit arms: control geos that went dark have no platform rows, so the registry,
        # not the records, says who is in the experiment; a unit no geo matches is refused,
        # not dropped (R34-F8: 3 vs 3 registered, 3 vs 2 estimated, without a word).
        require_arms_found(
            design.experiment_id,
            {"treatment": design.treatment_units, "control": design.control_units},
            table["geo"].unique(),
            table["date"].min().date(),
            table["date"].max().date(),
        )
        arms = design.treatment_units + design.control_units
        table = table.loc[unit_matches(table["geo"], arms)].copy()
        table["treated"] = unit_matches(table["geo"], design.treatment_units).astype(np.int64)
        table["treated_post"] = table["treated"] * table["post"]
        return table
    unit = {Aggregation.GEO_DAY: "geo", Aggregation.CAMPAIGN_DAY: "campaign_id",
            Aggregation.CHANNEL_DAY: "channel", Aggregation.RECORD: "id"}.get(aggregation)  # fmt: skip
    treated_rows = frame.loc[in_exp & frame["treatment_group"].eq("treatment")]
    if unit is None:  # DAY: one series, nothing to assign
        table["treated"] = table["post"]
        table["treated_post"] = table["post"]
        return table
    if unit == "geo":
        treated_units = set(treated_rows["geo"])
        assigned = set(frame.loc[in_exp, "geo"])
        table = table.loc[table["geo"].isin(assigned)].copy()
    elif unit == "id":
        treated_units = set(treated_rows["id"])
    else:
        treated_units = set(treated_rows[unit])
    table["treated"] = table[unit].isin(treated_units).astype(np.int64)
    table["treated_post"] = table["treated"] * table["post"]
    return table
