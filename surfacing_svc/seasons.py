"""Retail seasons in a forecast: the built-in calendar and the org's own registered seasons.

A season is a span of days on which demand stands apart from the level the rest of the year
gives (a gift season, the peak weeks of a garden shop). The forecast names one itself — the
Christmas shopping weeks, 1–21 December, US — and an org registers its own with ingestion as an
external factor of type SEASON (nonzero on a day inside, 0 outside), which may run into the
future: a merchant knows next year's peak weeks.

How they combine (:func:`resolve_seasons`):

- **A registered season recurs** past the last day the org registered a value for: each later
  day takes the value of the same date a year (or more) earlier, or — where the org's last two
  seasons moved with a holiday (a season that opens on Black Friday) — of the same day around
  that holiday (:func:`_recurrence`). An org that registers its season as its history holds it
  (the exports' way) keeps it next year, and the forecast says it assumed so. Days the org
  registered, past or future, are read as registered: next year's dates, once registered, win.
- **An org's season replaces the built-in one it overlaps**: a built-in season is dropped when
  one of the org's seasons is on (registered, or put there by its recurrence) for at least half
  of the built-in span's days in some year. The org knows its own peak better than a national
  calendar; a built-in season the org's do not cover stays (a cyber week on 1-2 December does
  not stand for the gift weeks). Where the horizon reaches a dropped built-in span, the
  forecast says which season stands for it.
- **A season the history holds a week of** is a regressor of the baseline: its effect is
  estimated from those days and applied to its days ahead (the built-in ones only ever this
  way, as before).
- **A registered season with fewer days than that in the history** cannot be estimated from
  its own days. If the history holds *the same dates a year (or more) earlier* — days the org
  registered no value for, so not known to be outside — the season is estimated from those
  days instead, and the forecast says so.
- **Otherwise its effect is unknown**: the forecast leaves it out of the estimate, widens its
  days by an unknown effect drawn per path (:data:`UNSEEN_SEASON_SD`, as for a holiday the
  history has not seen), reads today's level without any of its days the history ends on, and
  says so. A registered season is not assumed to be a peak: an org may register a lull.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mesh.runtime.holiday_rules import GIFT_SEASON, gift_season, holiday_table

__all__ = [
    "BUILT_IN_SEASON",
    "MIN_SEASON_DAYS",
    "UNSEEN_SEASON_SD",
    "Seasons",
    "built_in",
    "resolve_seasons",
    "season_spans",
]

# Built-in retail seasons per country: name -> ((month, day) first, (month, day) last). The
# Christmas shopping weeks stand above the level the year's smooth season gives and end with
# the last shipping days before Christmas; a history that ends inside them would otherwise
# carry their level past their end (180-day histories ending 14–21 December: the next weeks
# 15% below every path).
# Kept where the mesh's one rule keeps the gift season (mesh.runtime.holiday_rules: where 25
# December is a public holiday), as the ingestion calendar and the attribution model do.
BUILT_IN_SEASON = "Christmas shopping season"


def built_in(country: str) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
    """The country's built-in retail seasons."""
    return {BUILT_IN_SEASON: GIFT_SEASON} if gift_season(country) else {}


# Days of a season the history must hold for its effect to be estimated.
MIN_SEASON_DAYS = 7
# How near a season's days a holiday that moved as it did must fall to be what it recurs
# around (a sale from Black Friday); one farther off says only that it keeps its weekdays.
NEAR_HOLIDAY_DAYS = 14
# Log-scale sd of a registered season's effect when the history cannot estimate it: seasons
# move demand by tens of percent (US e-commerce's December about +30% on the autumn, a gift
# retailer's far more), in the direction the org knows and the forecast does not (a season may
# be a lull). The same sd as an unseen holiday's; drawn as a factor of mean one, so the
# estimate leaves the season out: −52% to +78% at 90%.
UNSEEN_SEASON_SD = 0.4
_UNSEEN_RANGE = tuple(
    float(np.expm1(-(UNSEEN_SEASON_SD**2) / 2.0 + z * UNSEEN_SEASON_SD)) for z in (-1.645, 1.645)
)


@dataclass(frozen=True, slots=True)
class Seasons:
    """How each season enters a forecast of the days after a history of ``n`` days."""

    names: tuple[str, ...]  # the seasons estimated as regressors
    columns: np.ndarray  # (n + H, len(names)): 1 on a day inside
    # Seasons whose effect is unknown: name and, per horizon day, whether it is inside.
    unseen: tuple[tuple[str, np.ndarray], ...]
    # Per history day, whether an unseen season runs (today's level is read without them).
    held_out: np.ndarray
    warnings: tuple[str, ...]


def _days(dates: np.ndarray) -> list[dt.date]:
    return [d.item() for d in np.asarray(dates).astype("datetime64[D]")]


def _in_span(day: dt.date, span: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    first, last = span
    return first <= (day.month, day.day) <= last


def _covers(values: Mapping[dt.date, float], span: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether a registered season is on for at least half of a built-in season's days in some
    year: the org's own version of it. A short season inside it (a cyber week on 1-2 December)
    is not, and the built-in season stays beside it."""
    first, last = span
    length = (dt.date(2001, *last) - dt.date(2001, *first)).days + 1
    per_year: dict[int, int] = {}
    for d, v in values.items():
        if v != 0 and _in_span(d, span):
            per_year[d.year] = per_year.get(d.year, 0) + 1
    return any(2 * k >= length for k in per_year.values())


def _years_earlier(day: dt.date, years: int) -> dt.date | None:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return None


def _span_text(days: list[dt.date]) -> str:
    return f"{days[0]}" if len(days) == 1 else f"{days[0]} to {days[-1]}"


def _day_runs(days: list[dt.date]) -> list[list[dt.date]]:
    """Sorted days as their runs of consecutive days."""
    runs: list[list[dt.date]] = []
    for d in days:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def _runs_text(days: list[dt.date]) -> str:
    """Sorted days as their runs of consecutive days: "2024-12-01 to 2024-12-21, 2024-12-26"."""
    return ", ".join(_span_text(r) for r in _day_runs(days))


def _holiday_dates(country: str, first: int, last: int) -> dict[str, dict[int, dt.date]]:
    """Per holiday name of ``country``, its (first) date in each of the years."""
    try:
        table = holiday_table(country, None, first, last) if country else {}
    except NotImplementedError:  # a country the calendar package does not know: no holidays
        table = {}
    out: dict[str, dict[int, dt.date]] = {}
    for day, name in sorted(table.items()):
        out.setdefault(name, {}).setdefault(day.year, day)
    return out


def _recurrence(
    values: Mapping[dt.date, float], holidays: Mapping[str, Mapping[int, dt.date]]
) -> str | None:
    """The holiday a registered season's dates move with, or None for the same calendar dates.

    A season recurs on its calendar dates unless the org's last two years of it say otherwise:
    where the later year's days are the earlier's moved by exactly as much as a holiday moved
    (Thanksgiving, Easter), it recurs around that holiday. One year of it cannot tell, so the
    calendar dates — what a gift season or a summer sale keeps — stand."""
    inside = sorted(d for d, v in values.items() if v != 0)
    years = sorted({d.year for d in inside})
    if len(years) < 2:
        return None
    a, b = years[-2], years[-1]
    earlier = {d for d in inside if d.year == a}
    later = [d for d in inside if d.year == b]
    if {_years_earlier(d, b - a) for d in later} == earlier:
        return None
    # Every holiday kept on a weekday of a week moves by 52 or 53 weeks, as does a season kept
    # on weekdays: of those that moved as the season did, the nearest one names it (V2-F8).
    near = [
        (min(abs((d - dates[b]).days) for d in later), name)
        for name, dates in holidays.items()
        if a in dates and b in dates and {d - (dates[b] - dates[a]) for d in later} == earlier
    ]
    return min(near)[1] if near else None


def _how(
    values: Mapping[dt.date, float],
    mover: str | None,
    holidays: Mapping[str, Mapping[int, dt.date]],
) -> str:
    """How a season recurs, in words: on its calendar dates, around the holiday it moves with
    where that holiday is within :data:`NEAR_HOLIDAY_DAYS` of its days, else on its weekdays
    (a holiday far from it that moved as it did says no more than that)."""
    if mover is None:
        return "the same calendar dates"
    last = max(d.year for d, v in values.items() if v != 0)
    day = holidays[mover][last]
    if any(abs((d - day).days) <= NEAR_HOLIDAY_DAYS for d, v in values.items()
           if v != 0 and d.year == last):  # fmt: skip
        return f"the same days around {mover}"
    return "the same weekdays (whole weeks on, not the calendar dates)"


def _source(
    day: dt.date, years: int, mover: str | None, holidays: Mapping[str, Mapping[int, dt.date]]
) -> dt.date | None:
    """The day ``years`` occurrences before ``day`` of a season that recurs on its calendar
    dates (``mover`` None) or around the holiday ``mover``."""
    dates = holidays.get(mover, {}) if mover is not None else {}
    near = [y for y in (day.year - 1, day.year, day.year + 1) if y in dates]
    if not near:
        return _years_earlier(day, years)
    anchor = min(near, key=lambda y: abs((dates[y] - day).days))
    if anchor - years not in dates:
        return _years_earlier(day, years)
    return dates[anchor - years] + (day - dates[anchor])


def _recur(
    values: Mapping[dt.date, float],
    days: list[dt.date],
    mover: str | None,
    holidays: Mapping[str, Mapping[int, dt.date]],
) -> tuple[dict[dt.date, float], dict[dt.date, dt.date]]:
    """``values`` with every day of ``days`` after the last registered one given the value of
    its date in the latest earlier year the org registered (a day of that year it left out is
    outside, as it reads); a day no registered year reaches stays without one. With the day
    each recurred day was read from."""
    out = dict(values)
    read: dict[dt.date, dt.date] = {}
    if not values:
        return out, read
    first, last = min(values), max(values)
    for day in (d for d in days if d > last):
        for years in range(1, day.year - first.year + 2):
            source = _source(day, years, mover, holidays)
            if source is None:
                continue
            if source < first:
                break
            if source <= last:
                out[day] = values.get(source, 0.0)
                read[day] = source
                break
    return out, read


def _recurring(
    registered: Mapping[str, Mapping[dt.date, float]], days: list[dt.date], country: str
) -> tuple[dict[str, dict[dt.date, float]], dict[str, str], dict[str, dict[dt.date, dt.date]]]:
    """Per registered season: its values with ``days`` past its last registered one recurred
    (:func:`_recur`), how it recurs in words (:func:`_how`), and the day each recurred day
    was read from."""
    holidays = _holiday_dates(country, min(d.year for d in days) - 1, days[-1].year + 1)
    recurred, hows, reads = {}, {}, {}
    for name, values in registered.items():
        mover = _recurrence(values, holidays)
        recurred[name], reads[name] = _recur(values, days, mover, holidays)
        hows[name] = _how(values, mover, holidays)
    return recurred, hows, reads


def season_spans(
    first: dt.date,
    last: dt.date,
    country: str,
    registered: Mapping[str, Mapping[dt.date, float]] | None = None,
) -> list[tuple[str, dt.date, dt.date]]:
    """The season spans (name, first day, last day) that meet ``first``..``last``, as a
    forecast reads them: the org's registered seasons, recurred past their last registered
    day, and the built-in ones no registered season stands for (each year's, whether or not a
    history holds them). What a test plan checks its window against."""
    days = [first + dt.timedelta(k) for k in range((last - first).days + 1)]
    recurred, _, _ = _recurring(registered or {}, days, country) if registered else ({}, {}, {})
    on: dict[str, list[dt.date]] = {
        name: [d for d in days if values.get(d, 0.0) != 0] for name, values in recurred.items()
    }
    for name, span in built_in(country).items():
        if not any(_covers(values, span) for values in recurred.values()):
            on[name] = [d for d in days if _in_span(d, span)]
    spans = [(name, r[0], r[-1]) for name, inside in on.items() for r in _day_runs(inside)]
    return sorted(spans, key=lambda s: (s[1], s[0]))


def resolve_seasons(
    dates: np.ndarray,
    n: int,
    country: str,
    registered: Mapping[str, Mapping[dt.date, float]] | None = None,
) -> Seasons:
    """The seasons of a forecast over ``dates`` (the history's ``n`` days, then the horizon's):
    the built-in ones of ``country`` and the org's ``registered`` ones (name -> day -> value,
    nonzero inside; a day without a value is not known to be inside). See the module's
    docstring for how they combine."""
    days = _days(dates)
    past, ahead = days[:n], days[n:]
    first_day, last_day = past[0], past[-1]
    registered = registered or {}
    names: list[str] = []
    columns: list[np.ndarray] = []
    unseen: list[tuple[str, np.ndarray]] = []
    held_out = np.zeros(n, dtype=bool)
    warnings: list[str] = []

    recurred, hows, reads = _recurring(registered, days, country)
    for name in sorted(registered):
        read = reads[name]
        later = [d for d in ahead if d in read]
        if not later:
            continue  # registered over the whole horizon (or nothing to recur from)
        how = hows[name]
        on = [d for d in later if recurred[name][d] != 0]
        if not on and max(registered[name]) > last_day:
            # Registered ahead, as the note asks, and nothing put on past it (V2-F9).
            continue
        said = ", ".join(str(y) for y in sorted({read[d].year for d in later}))
        warnings.append(
            f"season {name!r} is registered up to {max(registered[name])}: the forecast assumes it recurs "
            f"on {how} as in {said}, "
            + (f"so {_runs_text(on)} in the horizon is inside it" if on else
               f"when it was not on, so the horizon's {_span_text(later)} is outside it")
            + "; register its dates ahead if they differ"
        )  # fmt: skip

    for name, span in built_in(country).items():
        owners = sorted(own for own, values in recurred.items() if _covers(values, span))
        col = np.array([_in_span(d, span) for d in days], dtype=np.float64)
        if owners:  # the org's own season replaces it; said where the horizon reaches it
            span_ahead = [d for d in ahead if _in_span(d, span)]
            covered = [d for d in span_ahead
                       if any(recurred[o].get(d, 0.0) != 0 for o in owners)]  # fmt: skip
            if span_ahead:
                warnings.append(
                    f"the built-in {name} ({_span_text(span_ahead)} in the horizon) is left out: "
                    f"the org's season {', '.join(repr(o) for o in owners)} overlaps it and "
                    "stands for it"
                    + ("" if covered else ", and is not on any of those days, so the forecast "
                       "holds no season lift there")
                )  # fmt: skip
            continue
        if col[:n].sum() >= MIN_SEASON_DAYS:
            names.append(name)
            columns.append(col)

    for name in sorted(registered):
        values = registered[name]
        known = recurred[name]
        col = np.array([known.get(d, 0.0) != 0 for d in days], dtype=bool)
        if any(v not in (0.0, 1.0) for v in values.values()):
            warnings.append(
                f"season {name!r} holds values other than 0 and 1: a day is read as inside the "
                "season where its value is nonzero"
            )
        held, on_ahead = int(col[:n].sum()), col[n:]
        if held >= MIN_SEASON_DAYS:
            names.append(name)
            columns.append(col.astype(np.float64))
            continue
        if not on_ahead.any():
            held_out |= col[:n]  # a season the history ends in, and none ahead: not the level
            continue
        # The same dates a year (or more) earlier, where the org registered nothing for them.
        proxy = col[:n].copy()
        index = {d: i for i, d in enumerate(past)}
        for d in (d for d, on in zip(ahead, on_ahead, strict=True) if on):
            for years in range(1, (d.year - first_day.year) + 1):
                earlier = _years_earlier(d, years)
                if earlier is None or not first_day <= earlier <= last_day:
                    continue
                if earlier not in values:
                    proxy[index[earlier]] = True
        season_ahead = [d for d, on in zip(ahead, on_ahead, strict=True) if on]
        if proxy.sum() >= MIN_SEASON_DAYS:
            names.append(name)
            columns.append(np.concatenate([proxy, on_ahead]).astype(np.float64))
            earlier_days = [
                d for d, on, own in zip(past, proxy, col[:n], strict=True) if on and not own
            ]
            warnings.append(
                f"season {name!r} has {held} registered days in the history; its effect "
                f"({_span_text(season_ahead)} in the horizon) is estimated from the same dates "
                f"a year earlier ({_span_text(earlier_days)})"
            )
            continue
        unseen.append((name, on_ahead))
        held_out |= col[:n]
        warnings.append(
            f"season {name!r} ({_span_text(season_ahead)} in the horizon) has {held} days in "
            f"the history, too few to estimate its effect (at least {MIN_SEASON_DAYS}), and the "
            "history does not reach its dates a year earlier: the estimate leaves it out and the "
            f"interval allows {_UNSEEN_RANGE[0]:+.0%} to {_UNSEEN_RANGE[1]:+.0%} on its days"
        )

    width = n + len(ahead)
    return Seasons(
        names=tuple(names),
        columns=np.column_stack(columns) if columns else np.zeros((width, 0)),
        unseen=tuple(unseen),
        held_out=held_out,
        warnings=tuple(warnings),
    )
