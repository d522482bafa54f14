"""The causal profile of a record: the text and numbers its embedding and conceptual-space
coordinates are computed from. Pure pandas/numpy over a ``mesh.runtime.frames`` frame.

Ratios follow the marketing definitions (ROAS = revenue / spend, CPA = spend / conversions,
CTR = clicks / impressions); where a ratio is undefined the convention is stated on the
column so a zero-spend (go-dark) row is not mistaken for an efficient one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CausalProfile", "causal_profile"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEASONS = ("winter", "spring", "summer", "autumn")
# Meteorological seasons, northern hemisphere: used only when the calendar is missing.
_SEASON_OF_MONTH = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 1])
# A confounder is named in the causal text when its detection strength is at least this.
CONFOUNDER_STRENGTH_IN_TEXT = 0.5


@dataclass(frozen=True, slots=True)
class CausalProfile:
    """Per-record quantities (arrays of length n) derived from a frame.

    Attributes
    ----------
    text : list[str]
        Causal text: campaign, objective, channel, source, treatment, experiment, season,
        weekday, holiday and the confounders in play.
    spend, impressions, roas, cpa, ctr, intensity, quality : ndarray
        ROAS is 0 when spend is 0; CPA is 0 when spend is 0 and equals spend when there are
        no conversions (a lower bound); CTR is 0 without impressions; intensity is clipped
        to [0, 3].
    season : ndarray of int
        1 winter … 4 autumn (from the calendar, else the month of the local date).
    weekday : ndarray of int
        1 Monday … 7 Sunday.
    assignment : ndarray of float
        +1 treatment, -1 control, 0 observational / unassigned.
    """

    text: list[str]
    spend: np.ndarray
    impressions: np.ndarray
    roas: np.ndarray
    cpa: np.ndarray
    ctr: np.ndarray
    intensity: np.ndarray
    quality: np.ndarray
    season: np.ndarray
    weekday: np.ndarray
    assignment: np.ndarray

    def __len__(self) -> int:
        return len(self.text)


def _col(frame: pd.DataFrame, name: str, default: object) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index)


def _local_dates(frame: pd.DataFrame) -> pd.Series:
    dates = pd.to_datetime(_col(frame, "local_date", pd.NaT))
    if not dates.isna().any():
        return dates
    stamps = _col(frame, "timestamp", pd.NaT)
    return dates.fillna(pd.to_datetime(stamps, utc=True).dt.tz_localize(None))


def _codes(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """1-based position of each value in ``names``, 0 where absent (one lookup per distinct
    value)."""
    codes, uniques = pd.factorize(values)
    table = np.array([names.index(u) + 1 if u in names else 0 for u in uniques] + [0])
    return table[codes]  # code -1 (missing) reads the trailing 0


def causal_profile(frame: pd.DataFrame) -> CausalProfile:
    """Derive the causal profile of every row of a ``mesh.runtime.frames`` frame.

    Parameters
    ----------
    frame : DataFrame, n rows
        Needs the ``core`` group; uses ``calendar`` and ``confounders`` columns when present.

    Returns
    -------
    CausalProfile
    """
    n = len(frame)
    spend = np.clip(_col(frame, "spend", 0.0).to_numpy(np.float64), 0.0, None)
    revenue = np.clip(_col(frame, "revenue", 0.0).to_numpy(np.float64), 0.0, None)
    conversions = np.clip(_col(frame, "conversions", 0.0).to_numpy(np.float64), 0.0, None)
    impressions = np.clip(_col(frame, "impressions", 0).to_numpy(np.float64), 0.0, None)
    clicks = np.clip(_col(frame, "clicks", 0).to_numpy(np.float64), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        roas = np.where(spend > 0, revenue / np.where(spend > 0, spend, 1.0), 0.0)
        cpa = np.where(conversions > 0, spend / np.where(conversions > 0, conversions, 1.0), spend)
        ctr = np.where(impressions > 0, clicks / np.where(impressions > 0, impressions, 1.0), 0.0)
    intensity = np.clip(_col(frame, "treatment_intensity", 0.0).to_numpy(np.float64), 0.0, 3.0)
    quality = np.clip(_col(frame, "data_quality_score", 0.0).to_numpy(np.float64), 0.0, 1.0)

    dates = _local_dates(frame)
    month = dates.dt.month.fillna(1).astype(np.int64).to_numpy()
    season_name = _col(frame, "cal_season", "unspecified").astype(str).to_numpy()
    season = _codes(season_name, _SEASONS)
    season = np.where(season > 0, season, _SEASON_OF_MONTH[month])
    dow_name = _col(frame, "cal_day_of_week", "unspecified").astype(str).to_numpy()
    weekday = _codes(dow_name, _WEEKDAYS)
    weekday = np.where(
        weekday > 0, weekday, dates.dt.day_of_week.fillna(0).astype(np.int64).to_numpy() + 1
    )
    group = _col(frame, "treatment_group", "unspecified").astype(str).to_numpy()
    assignment = np.select([group == "treatment", group == "control"], [1.0, -1.0], 0.0)

    text = _causal_text(frame, group, season, weekday, n)
    return CausalProfile(
        text=text,
        spend=spend,
        impressions=impressions,
        roas=np.clip(roas, 0.0, 50.0),
        cpa=cpa,
        ctr=ctr,
        intensity=intensity,
        quality=quality,
        season=season.astype(np.int64),
        weekday=weekday.astype(np.int64),
        assignment=assignment,
    )


def _words(value: str) -> str:
    return value.replace("_", " ").replace("|", " ").strip()


def _causal_text(
    frame: pd.DataFrame, group: np.ndarray, season: np.ndarray, weekday: np.ndarray, n: int
) -> list[str]:
    """The causal text of each row, built once per distinct combination of the columns it
    reads (campaign × day rows repeat it across geos)."""
    names = _col(frame, "campaign_name", "").astype(str).tolist()
    ids = _col(frame, "campaign_id", "").astype(str).tolist()
    objective = _col(frame, "campaign_objective", "unspecified").astype(str).tolist()
    channel = _col(frame, "channel", "").astype(str).tolist()
    source = _col(frame, "data_source", "unspecified").astype(str).tolist()
    experiment = _col(frame, "experiment_id", "").astype(str).tolist()
    holiday = _col(frame, "cal_holiday_name", "").astype(str).tolist()
    days_to = _col(frame, "cal_days_to_next_holiday", -1).to_numpy()
    soon = (days_to >= 0) & (days_to <= 14)
    next_holiday = [
        h if ok else ""
        for h, ok in zip(
            _col(frame, "cal_next_holiday_name", "").astype(str).tolist(),
            soon.tolist(),
            strict=True,
        )
    ]
    # confounders in play as a bit mask over the frame's confounder columns
    confounders: list[str] = []
    in_play = np.zeros(n, dtype=object)
    in_play[:] = 0
    for column in frame.columns:
        if column.startswith("confounder_strength__"):
            strength = frame[column].to_numpy(np.float64, na_value=np.nan)
            bit = 1 << len(confounders)
            in_play[strength >= CONFOUNDER_STRENGTH_IN_TEXT] += bit
            confounders.append(_words(column.removeprefix("confounder_strength__")))
    keys = zip(
        names,
        ids,
        objective,
        channel,
        source,
        group.tolist(),
        experiment,
        season.tolist(),
        weekday.tolist(),
        holiday,
        next_holiday,
        in_play.tolist(),
        strict=True,
    )
    texts: dict[tuple[object, ...], str] = {}
    out = []
    for key in keys:
        text = texts.get(key)
        if text is None:
            text = texts[key] = _text(*key, confounders)  # type: ignore[misc, call-arg]
        out.append(text)
    return out


def _text(
    name: str,
    campaign_id: str,
    objective: str,
    channel: str,
    source: str,
    group: str,
    experiment: str,
    season: int,
    weekday: int,
    holiday: str,
    next_holiday: str,
    in_play: int,
    confounders: list[str],
) -> str:
    parts = [
        f"campaign {name} {campaign_id}",
        f"objective {_words(objective)}",
        f"channel {_words(channel)}",
        f"source {_words(source)}",
    ]
    if group in ("treatment", "control"):
        parts.append(f"{group} group experiment {experiment}")
    else:
        parts.append("observational")
    parts.append(f"{_SEASONS[season - 1]} {_WEEKDAYS[weekday - 1]}")
    parts.append("weekend" if weekday >= 6 else "weekday")
    if holiday:
        parts.append(f"holiday {holiday}")
    if next_holiday:
        parts.append(f"before {next_holiday}")
    named = [c for j, c in enumerate(confounders) if in_play >> j & 1]
    if named:
        parts.append("confounders " + " ".join(named))
    return " ".join(parts).lower()
