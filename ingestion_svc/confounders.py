"""Confounder detectors: what else, besides the marketing, moves a row's outcome — and its
spend — on that day.

Each detector returns, per row, a value (the measurement), a strength in [0, 1] (how much
the confounder is in play) and a description; a row carries a confounder when its strength
is at least :data:`MIN_STRENGTH`. Detectors are platform-specific through
:data:`PROFILES`: search spend is capped by query volume, so a jump in it is demand moving the
budget at a smaller step than on social; retention email/SMS has no auction to respond to.

Detectors
---------
holiday_proximity (HOLIDAY)
    In play on the days a holiday moves demand: the holiday itself (the calendar lists every
    day of the Black Friday – Cyber Monday weekend as a retail event); value = 0 on it. Days
    around a holiday are not confounded by
    it: measured against the simulator's truth, a week's window on each side flagged five
    rows for each one the holiday moved (bench/confounder_detection.py).
retail_peak_season (SEASONALITY)
    The gift season, 1–21 December (shipping cut-offs end it before Christmas), on every
    platform; value = days to Christmas. A Q4 window from 1 November flagged two rows for
    each one in the peak.
weekly_seasonality (SEASONALITY)
    The series' conversions on this weekday vs its 28-day mean, from its own history;
    value = relative difference, reported only when larger than twice its Poisson standard
    error (Cleveland et al. 1990 frame seasonality the same way: a component that the noise
    cannot explain).
budget_response (BUDGET_RESPONSE)
    The day's budgets moving together: the mean, over the batch's series of that day, of
    log spend against the median of each series' previous 28 days, in play from 0.28 in
    logs (a quarter of a day's budget plus a margin for the move's measurement error:
    ``ingestion_svc.confounder_budget``); value = that common log move. One campaign's own
    jump is its pacing, not demand.
promotional_campaign (PROMOTION)
    A promotion named in the campaign (sale, offer, BFCM…).
<factor name> (PROMOTION / MACRO / COMPETITOR / MARKET)
    The org's registered external series on the row's day and geo, in play when the day is
    at least half a standard deviation from the series' mean (competitor activity: above
    it — a quiet competitor confounds nothing); strength ``|z| / 2``. A promotion series is
    in play where its value is positive. A macro index is in play instead when it stands
    at least 2.2 of its own daily steps from its mean (``ingestion_svc.confounder_macro``:
    its standard deviation over a few months is too unstable a yardstick); value the
    index, strength ``steps / 4.4``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ingestion_svc.confounder_budget import FLAG_LOG_MOVE, common_move
from ingestion_svc.confounder_macro import MACRO_STEPS
from ingestion_svc.external_factors import JoinedFactor
from mesh.runtime.holiday_rules import GIFT_SEASON, gift_season

__all__ = ["MIN_STRENGTH", "PROFILES", "Detected", "Profile", "detect"]

MIN_STRENGTH = 0.1
# An external series is in play this many standard deviations from its mean.
FACTOR_Z = 0.5
PROMOTION_WORDS = r"(?i)\bsale\b|\bpromo|discount|% ?off|\boffers?\b|\bdeals?\b|\bbfcm\b|black friday|cyber|clearance|coupon"
_PROMOTION = re.compile(PROMOTION_WORDS)
_FACTOR_TYPES = {
    "promotion": "promotion",
    "macro": "macro",
    "competitor": "competitor",
    "demand": "market",
    "weather": "market",
    "season": "seasonality",
}


@dataclass(frozen=True, slots=True)
class Profile:
    """A platform's detector parameters."""

    budget_threshold: float | None  # |common log move of the day's spend| that flags it


# Paid platforms' budgets can chase demand; email and SMS follow a send calendar.
PROFILES: dict[str, Profile] = {
    "meta": Profile(FLAG_LOG_MOVE),
    "tiktok": Profile(FLAG_LOG_MOVE),
    "google_ads": Profile(FLAG_LOG_MOVE),
    "klaviyo": Profile(None),
    "generic": Profile(None),
    # offline media (TV, radio, out of home) runs in planned flights: on/off, not demand-chasing
    # day by day, so its spend moves are no budget response
    "generic_media": Profile(None),
}
# The gift season: demand peaks from 1 December until the last shipping days before Christmas.
PEAK = GIFT_SEASON  # the mesh's one rule (mesh.runtime.holiday_rules)


@dataclass(frozen=True, slots=True)
class Detected:
    """One confounder on the rows: value NaN where the row does not carry it."""

    name: str
    type: str
    detector: str
    value: np.ndarray
    strength: np.ndarray
    description: np.ndarray  # object array of str


def _matches(names: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    """Regex search per distinct name (a batch repeats few campaign names)."""
    distinct = {name: pattern.search(name) is not None for name in set(names.tolist()) if name}
    return np.fromiter((distinct.get(name, False) for name in names.tolist()), bool, len(names))


def _keep(value: np.ndarray, strength: np.ndarray) -> np.ndarray:
    live = np.isfinite(value) & (strength >= MIN_STRENGTH)
    return np.where(live, value, np.nan)


def holiday_proximity(calendar: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(value, strength, description) on the days a holiday moves demand: the holiday (the
    Black Friday – Cyber Monday weekend's days are retail events of the calendar's own)."""
    to_next = calendar["cal_days_to_next_holiday"].to_numpy(np.float64)
    since = calendar["cal_days_since_last_holiday"].to_numpy(np.float64)
    today = calendar["cal_holiday_name"].to_numpy(dtype=object)
    live = (to_next == 0) | (since == 0)
    value = np.where(live, 0.0, np.nan)
    text = [
        f"{name} today" if ok else ""
        for ok, name in zip(live.tolist(), today.tolist(), strict=True)
    ]
    return value, live.astype(np.float64), np.array(text, dtype=object)


def peak_season(days: np.ndarray) -> np.ndarray:
    """Days to 25 December inside the gift season (:data:`PEAK`), NaN outside."""
    dates = days.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.full(days.size, np.nan)
    for year in np.unique(years).tolist():
        first = np.datetime64(dt.date(year, *PEAK[0]), "D")
        last = np.datetime64(dt.date(year, *PEAK[1]), "D")
        christmas = np.datetime64(dt.date(year, 12, 25), "D")
        inside = (years == year) & (dates >= first) & (dates <= last)
        out[inside] = (christmas - dates[inside]).astype(np.int64)
    return out


def weekly_seasonality(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relative weekday effect, strength) from conversions 7/14/21/28 days back vs the mean
    of the previous 28 days; NaN unless ≥3 same-weekday and ≥14 days are known and the
    effect exceeds twice its Poisson standard error."""
    conv = cube[:, 1:, 1]
    same = conv[:, [6, 13, 20, 27]]
    n_same = (~np.isnan(same)).sum(axis=1)
    n_all = (~np.isnan(conv)).sum(axis=1)
    sum_same = np.nansum(same, axis=1)
    sum_all = np.nansum(conv, axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        effect = (sum_same / n_same) / (sum_all / n_all) - 1.0
        se = np.sqrt(1.0 / sum_same + 1.0 / sum_all) * (1.0 + effect)
    ok = (n_same >= 3) & (n_all >= 14) & (sum_same > 0) & (np.abs(effect) > 2 * se)
    effect = np.where(ok, effect, np.nan)
    return effect, np.clip(np.abs(effect) / 0.5, 0.0, 1.0)


def detect(
    source: str,
    calendar: pd.DataFrame | None,
    country: str,
    days: np.ndarray,
    cube: np.ndarray,
    rolling7: np.ndarray,
    campaign_names: pd.Series,
    factors: Sequence[JoinedFactor],
    macro_step_ratios: Mapping[str, float] | None = None,
) -> list[Detected]:
    """Every detector for ``source`` on the rows; see the module docstring.
    ``macro_step_ratios``: :func:`ingestion_svc.confounder_macro.step_ratios` of the loaded
    factors (a macro factor without one is read by its z-score)."""
    profile = PROFILES[source]
    n = days.size
    out: list[Detected] = []

    def add(name: str, kind: str, detector: str, value, strength, text) -> None:  # type: ignore[no-untyped-def]
        value = _keep(np.asarray(value, dtype=np.float64), np.asarray(strength, dtype=np.float64))
        if np.isfinite(value).any():
            if isinstance(text, str):
                text = np.full(n, text, dtype=object)
            out.append(
                Detected(name, kind, f"{source}.{detector}", value, np.asarray(strength), text)
            )

    if calendar is not None and n:
        value, strength, described = holiday_proximity(calendar)
        add("holiday_proximity", "holiday", "holiday", value, strength, described)
    # where the country has the gift season (25 December a holiday); unknown country: as before
    if n and (not country or gift_season(country)):
        peak = peak_season(days)
        add(
            "retail_peak_season",
            "seasonality",
            "peak_season",
            peak,
            np.where(np.isnan(peak), 0.0, 1.0),
            "inside the gift season (1-21 December), when demand runs hot",
        )
    effect, strength = weekly_seasonality(cube)
    add(
        "weekly_seasonality",
        "seasonality",
        "weekly",
        effect,
        strength,
        "this weekday's conversions differ from the series' 28-day mean beyond noise",
    )
    if profile.budget_threshold is not None:
        move, series = common_move(days, cube)
        moved = np.abs(np.nan_to_num(move)) >= profile.budget_threshold
        add(
            "budget_response",
            "budget_response",
            "budget",
            np.where(moved, move, np.nan),
            np.clip(np.abs(np.nan_to_num(move)), 0.0, 1.0),
            np.array(
                [
                    f"the day's budgets moved {m:+.0%} together over {k} series" if ok else ""
                    for ok, m, k in zip(
                        moved.tolist(),
                        np.expm1(np.nan_to_num(move)).tolist(),
                        series.tolist(),
                        strict=True,
                    )
                ],
                dtype=object,
            ),
        )
    named = _matches(campaign_names.to_numpy(dtype=object), _PROMOTION)
    add(
        "promotional_campaign",
        "promotion",
        "campaign_name",
        np.where(named, 1.0, np.nan),
        np.full(n, 0.6),
        "the campaign is named for a promotion",
    )
    for f in factors:
        kind = _FACTOR_TYPES.get(f.type)
        if kind is None:
            continue
        if kind == "promotion" or f.type == "season":
            # On/off calendars: a z-score would flag every off day once the season is long.
            live = np.nan_to_num(f.value) > 0
            strength = np.where(live, np.clip(np.nan_to_num(f.value), 0.0, 1.0), 0.0)
            text: Any = f"{'promotion' if kind == 'promotion' else 'season'} {f.name} running"
        elif kind == "macro" and f.name in (macro_step_ratios or {}):
            steps = np.nan_to_num(f.zscore) * (macro_step_ratios or {})[f.name]
            live = np.abs(steps) >= MACRO_STEPS
            strength = np.where(
                live, np.clip(np.abs(steps) / (2.0 * MACRO_STEPS), MIN_STRENGTH, 1.0), 0.0
            )
            text = np.array(
                [
                    f"{f.name} {v:+.1f} daily steps from its mean" if ok else ""
                    for ok, v in zip(live.tolist(), steps.tolist(), strict=True)
                ],
                dtype=object,
            )
        else:
            z = np.nan_to_num(f.zscore)
            live = (z >= FACTOR_Z) if kind == "competitor" else (np.abs(z) >= FACTOR_Z)
            strength = np.where(live, np.clip(np.abs(z) / 2.0, MIN_STRENGTH, 1.0), 0.0)
            text = np.array(
                [
                    f"{f.name} {v:+.1f} sd from its mean" if np.isfinite(v) else ""
                    for v in f.zscore.tolist()
                ],
                dtype=object,
            )
        add(f.name, kind, f"factor.{f.type}", f.value, strength, text)
    return out


def confounder_columns(detected: Sequence[Detected]) -> dict[str, object]:
    """``mesh.runtime.frames`` confounder column families for the detected confounders."""
    cols: dict[str, object] = {}
    for d in detected:
        live = np.isfinite(d.value)
        cols[f"confounder__{d.name}"] = d.value
        cols[f"confounder_strength__{d.name}"] = np.where(live, d.strength, np.nan)
        cols[f"confounder_type__{d.name}"] = np.where(live, d.type, "")
        cols[f"confounder_detector__{d.name}"] = np.where(live, d.detector, "")
        cols[f"confounder_description__{d.name}"] = np.where(live, d.description, "")
    return cols
