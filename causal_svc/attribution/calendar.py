"""The national design: calendar and external series that move demand — and budgets — in every
geo at once, as columns for the national rows of the fit (:mod:`.within`).

Columns: day of week (six dummies), one dummy per public holiday and retail event in the
window, the December gifting weeks (1–21 December, when retail demand runs above its seasonal
curve), and each national external series (macro index, competitor activity, own promotions:
the org's registered factors). Trend and annual seasonality are in the geo basis already.

Which days are holidays, which countries keep Black Friday–Cyber Monday and the gift season:
:mod:`mesh.runtime.holiday_rules`, the rule the ingestion calendar and the forecast read too.
Whose holidays: :func:`model_calendar` reads them from the panel's geos ("GB-ENG", "US-CA"), as
the records name them. The design is one calendar for all geos, so a day counts as a holiday
when the geos observing it hold more than half of the window's outcome: England's Easter Monday
for an org selling mostly in England, not Scotland's 2 January; in a panel across countries,
the holidays of the countries holding most of the outcome (the analysis warns, naming them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mesh.runtime.holiday_rules import LAST_YEAR, gift_season, holiday_table, split_geo

from .geo_size import geo_population

__all__ = ["ModelCalendar", "model_calendar", "national_design"]

# The calendar when no geo names a country ("DMA-501", bare "TX"): the mesh's default market.
DEFAULT_COUNTRY = "US"


@dataclass(frozen=True, slots=True)
class ModelCalendar:
    """The holidays the model controls, resolved from the geos' countries and subdivisions.

    Attributes
    ----------
    label : str
        Whose calendar, for the analysis's progress ("GB (ENG 84%, SCT 16% of revenue)").
    days : tuple of (date, name)
        Every controlled holiday and retail event of the window's years.
    gift_season : bool
        Whether the December gift season is controlled.
    note : str
        What the analysis must warn about the calendar ("" when nothing).
    country : str
        The ISO country holding most of the outcome, whose holidays a forecast from the
        analysis uses (PredictPerformance's default country_code).
    """

    label: str
    days: tuple[tuple[dt.date, str], ...]
    gift_season: bool
    note: str = ""
    country: str = DEFAULT_COUNTRY

    def __str__(self) -> str:
        return self.label


def model_calendar(
    geos: Sequence[str], outcome: np.ndarray, dates: np.ndarray, outcome_name: str = "revenue"
) -> ModelCalendar:
    """The calendar of a panel: ``geos`` (G,), ``outcome`` (G, T) and ``dates`` (T,).

    Each geo observes its country's holidays and its subdivision's (``GB-ENG``); a day is
    controlled when the geos observing it hold more than half of the outcome. A bare US state
    code ("TX") is that state, as the model's geo sizes read it (:mod:`.geo_size`); other geos
    naming no country (a DMA) are left out of the shares; none naming one: the US calendar,
    with a warning.
    """
    weights: dict[tuple[str, str | None], float] = {}
    total = np.nansum(np.asarray(outcome, dtype=np.float64), axis=1)
    use_counts = not np.isfinite(total).all() or float(total.clip(min=0).sum()) <= 0
    unknown: list[str] = []
    for g, w in zip(geos, total.tolist(), strict=True):
        key = split_geo(g)
        if key is None and geo_population(g) is not None:
            key = split_geo(g, DEFAULT_COUNTRY)
        if key is None:
            unknown.append(g)
            continue
        weights[key] = weights.get(key, 0.0) + (1.0 if use_counts else max(w, 0.0))
    years = sorted({int(y) for y in dates.astype("datetime64[Y]").astype(np.int64) + 1970})
    notes: list[str] = []
    if not weights:
        shown = ", ".join(repr(g) for g in unknown[:3])
        notes.append(
            f"no geo names its country ({shown}{'…' if len(unknown) > 3 else ''}): the "
            f"{DEFAULT_COUNTRY} holiday calendar is controlled; ingest with the account's "
            "country so geos carry ISO 3166-2 codes (GB-ENG) and the model uses their holidays"
        )
        weights = {(DEFAULT_COUNTRY, None): 1.0}
    whole = sum(weights.values()) or 1.0
    share = {k: v / whole for k, v in weights.items()}
    by_country: dict[str, float] = {}
    for (country, _), s in share.items():
        by_country[country] = by_country.get(country, 0.0) + s
    window = {dt.date.fromisoformat(str(d)) for d in dates.astype("datetime64[D]")}
    observed: dict[dt.date, float] = {}
    names: dict[dt.date, tuple[bool, float, str]] = {}
    for (country, sub), s in share.items():
        # a national holiday is observed in every geo of the country (the US states' own
        # lists leave some federal ones out); a subdivision adds its own (England's Easter
        # Monday, which the UK-wide list lacks)
        national = dict(_table(country, None, years[0], years[-1]))
        local = dict(_table(country, sub, years[0], years[-1])) if sub else {}
        for day, name in {**local, **national}.items():
            if day not in window:
                continue
            observed[day] = observed.get(day, 0.0) + s
            rank = (day in national, s, name)
            if rank[:2] > names.get(day, (False, -1.0, ""))[:2]:
                names[day] = rank
    kept = tuple(sorted((d, names[d][2]) for d, s in observed.items() if s > 0.5))
    gifting = sum(s for c, s in by_country.items() if gift_season(c)) > 0.5
    if len(by_country) > 1:
        left = sorted({names[d][2] for d in observed} - {n for _, n in kept})
        parts = ", ".join(
            f"{c} {s:.0%}" for c, s in sorted(by_country.items(), key=lambda x: -x[1])
        )
        notes.append(
            f"the geos are in several countries ({parts} of the {outcome_name}) and the model "
            "has one holiday calendar for all of them: it controls the holidays observed where "
            "most of the outcome is"
            + (
                f"; not controlled: {', '.join(left[:6])}{'…' if len(left) > 6 else ''}"
                if left
                else ""
            )
            + "; analyse each country's geos on their own for each one's holidays"
        )
    if years[-1] > LAST_YEAR:
        notes.append(
            f"public holidays are not known after {LAST_YEAR}: the days after "
            f"{LAST_YEAR}-12-31 have no holiday controls"
        )
    # ties (an even split) go to the first code, so the same panel always names one country
    majority = min(by_country, key=lambda c: (-by_country[c], c))
    return ModelCalendar(
        _label(share, by_country, outcome_name), kept, gifting, "; ".join(notes), majority
    )


def _label(
    share: Mapping[tuple[str, str | None], float], by_country: Mapping[str, float], what: str
) -> str:
    parts = []
    for country, s in sorted(by_country.items(), key=lambda x: -x[1]):
        subs = sorted(((k[1], v / s) for k, v in share.items() if k[0] == country and k[1]),
                      key=lambda x: -x[1])  # fmt: skip
        inner = ", ".join(f"{sub} {v:.0%}" for sub, v in subs[:4])
        more = "…" if len(subs) > 4 else ""
        head = country if len(by_country) == 1 else f"{country} {s:.0%} of {what}"
        parts.append(f"{head} (subdivisions by {what}: {inner}{more})" if inner else head)
    return "; ".join(parts)


@lru_cache(maxsize=256)
def _table(
    country: str, subdivision: str | None, first: int, last: int
) -> tuple[tuple[dt.date, str], ...]:
    try:
        return tuple(sorted(holiday_table(country, subdivision, first, last).items()))
    except NotImplementedError:
        return ()


def national_design(
    dates: np.ndarray,
    external: Mapping[str, np.ndarray] | None = None,
    country: str | ModelCalendar = DEFAULT_COUNTRY,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """National design matrix over the panel's days.

    Parameters
    ----------
    dates : ndarray (T,), datetime64[D]
    external : mapping name -> ndarray (T,)
        National external series (missing days as NaN are filled with the series mean).
    country : str or ModelCalendar
        ISO country of the holiday calendar (its national holidays), or the calendar
        :func:`model_calendar` resolved from the panel's geos.

    Returns
    -------
    design : ndarray (T, K)
    names : tuple of str
    """
    days = [dt.date.fromisoformat(str(d)) for d in dates.astype("datetime64[D]")]
    n = len(days)
    cols: list[np.ndarray] = []
    names: list[str] = []
    dow = np.array([d.weekday() for d in days])
    for k in range(1, 7):
        cols.append((dow == k).astype(np.float64))
        names.append(f"weekday_{k}")
    index = {d: i for i, d in enumerate(days)}
    if isinstance(country, ModelCalendar):
        table, gifting = country.days, country.gift_season
    else:
        first, last = (
            min(d.year for d in days) if days else 2000,
            max(d.year for d in days) if days else 2000,
        )
        table, gifting = _table(country, None, first, last), gift_season(country)
    for day, name in table:
        i = index.get(day)
        if i is not None:
            col = np.zeros(n)
            col[i] = 1.0
            cols.append(col)
            names.append(f"holiday:{day.isoformat()}:{name}")
    gifting_days = np.array([1.0 if d.month == 12 and d.day <= 21 else 0.0 for d in days])
    if gifting and 0 < gifting_days.sum() < n:
        cols.append(gifting_days)
        names.append("december_gifting_weeks")
    for name, series in (external or {}).items():
        v = np.asarray(series, dtype=np.float64)
        if v.shape != (n,) or not np.isfinite(v).any():
            continue
        v = np.where(np.isfinite(v), v, np.nanmean(v))
        if float(v.std()) > 0:
            cols.append(v)
            names.append(f"external:{name}")
    design = np.column_stack(cols) if cols else np.zeros((n, 0))
    return design, tuple(names)
