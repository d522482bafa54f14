"""How an org's registered season recurs past its last registered day, and when it stands for
the built-in one (surfacing_svc.seasons; R51-F2)."""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np

from surfacing_svc.seasons import BUILT_IN_SEASON, resolve_seasons


def _dates(start: str, n: int) -> tuple[np.ndarray, list[dt.date]]:
    dates = np.datetime64(start) + np.arange(n).astype("timedelta64[D]")
    return dates, [d.item() for d in dates.astype("datetime64[D]")]


def _on(seasons, name: str, days: list[dt.date], n: int) -> list[dt.date]:
    column = seasons.columns[n:, seasons.names.index(name)]
    return [days[n + i] for i in np.flatnonzero(column)]


def _thanksgiving(year: int) -> dt.date:
    return next(d for d, name in holidays.US(years=year).items() if "Thanksgiving" in name)


def test_a_season_that_moves_with_thanksgiving_recurs_around_it() -> None:
    """Thanksgiving to Cyber Monday, registered for 2022 and 2023 only: 2024's is the same days
    around the holiday (28 November - 2 December), not 2023's calendar dates (23-27)."""
    dates, days = _dates("2022-09-01", 770 + 120)  # history to 2024-10-09
    week = {d: float(0 <= (d - _thanksgiving(d.year)).days <= 4) for d in days[:770]}
    seasons = resolve_seasons(dates, 770, "US", {"cyber_week": week})
    assert _on(seasons, "cyber_week", days, 770) == [dt.date(2024, 11, 28) + dt.timedelta(k)
                                                     for k in range(5)]  # fmt: skip
    (said,) = [w for w in seasons.warnings if "recurs" in w]
    assert "around Black Friday" in said and "2024-11-28 to 2024-12-02" in said
    # Five days of 1-21 December do not make it the org's gift season: the built-in one stays.
    assert BUILT_IN_SEASON in seasons.names
    assert not any("left out" in w for w in seasons.warnings)


def test_one_year_of_a_season_recurs_on_its_calendar_dates_and_an_off_year_is_said() -> None:
    """Registered for one year (a summer sale, 1-14 July 2023): next July's same dates; a
    horizon that holds none of them is said to be outside it, and the built-in season, which
    it does not touch, stays."""
    dates, days = _dates("2023-01-01", 500 + 200)  # history to 2024-05-14
    sale = {d: float(d.month == 7 and d.day <= 14) for d in days[:500]}
    seasons = resolve_seasons(dates, 500, "US", {"summer_sale": sale})
    assert _on(seasons, "summer_sale", days, 500) == [dt.date(2024, 7, 1) + dt.timedelta(k)
                                                      for k in range(14)]  # fmt: skip
    assert BUILT_IN_SEASON in seasons.names
    short = resolve_seasons(dates[:530], 500, "US", {"summer_sale": sale})  # to 2024-06-13
    (said,) = [w for w in short.warnings if "recurs" in w]
    assert "when it was not on" in said and "2024-05-15 to 2024-06-13 is outside it" in said


def test_an_explicit_future_wins_and_a_season_off_next_december_is_said() -> None:
    """The org registers next December as outside its gift season (it moved the weeks to
    November): no recurrence, and the dropped built-in season is said to hold no lift."""
    dates, days = _dates("2023-09-01", 400 + 88)
    gift = {d: float(d.month == 12 and d.day <= 21) for d in days[:400]}
    gift |= {d: float(d.month == 11) for d in days[400:]}
    seasons = resolve_seasons(dates, 400, "US", {"gift_season": gift})
    assert BUILT_IN_SEASON not in seasons.names
    assert _on(seasons, "gift_season", days, 400)[0] == dt.date(2024, 11, 1)
    assert not any("recurs" in w for w in seasons.warnings)
    (said,) = [w for w in seasons.warnings if BUILT_IN_SEASON in w]
    assert "no season lift there" in said


def _span(first: str, last: str) -> dict[dt.date, float]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return {a + dt.timedelta(k): 1.0 for k in range((b - a).days + 1)}


def test_a_season_kept_on_its_weekdays_is_not_said_to_move_with_a_far_holiday() -> None:
    """A summer sale on Monday to Sunday, 10-16 July 2023 and 15-21 July 2024 (53 weeks on, as
    Black Friday and Columbus Day moved): 2025's is 14-20 July, said as its weekdays, not as
    "around Black Friday" (V2-F8: the alphabetically first holiday that moved as much)."""
    dates, days = _dates("2023-01-01", 970)  # to 2025-08-27
    n = days.index(dt.date(2024, 10, 4)) + 1
    sale = {**_span("2023-07-10", "2023-07-16"), **_span("2024-07-15", "2024-07-21")}
    seasons = resolve_seasons(dates, n, "US", {"summer_sale": sale})
    assert _on(seasons, "summer_sale", days, n) == list(_span("2025-07-14", "2025-07-20"))
    (said,) = [w for w in seasons.warnings if "recurs" in w]
    assert "recurs on the same weekdays (whole weeks on, not the calendar dates)" in said
    assert "around" not in said


def test_a_season_registered_ahead_is_not_asked_to_be_registered_ahead() -> None:
    """2023-12-01..21 and 2024-12-08..30 registered, the horizon to 2024-12-31: the one day past
    the registration is off as 2023-12-31 was, and no note asks for what the org did (V2-F9);
    a horizon that reaches next December, where the season is put on, is still said."""
    gift = {**_span("2023-12-01", "2023-12-21"), **_span("2024-12-08", "2024-12-30")}
    dates, days = _dates("2023-09-01", 488)  # to 2024-12-31
    n = days.index(dt.date(2024, 10, 4)) + 1
    seasons = resolve_seasons(dates, n, "US", {"gift": gift})
    assert _on(seasons, "gift", days, n) == list(_span("2024-12-08", "2024-12-30"))
    assert not any("recurs" in w for w in seasons.warnings)
    longer, days = _dates("2023-09-01", 853)  # to 2025-12-31
    (said,) = [w for w in resolve_seasons(longer, n, "US", {"gift": gift}).warnings
               if "recurs" in w]  # fmt: skip
    assert "so 2025-12-08 to 2025-12-30 in the horizon is inside it" in said
