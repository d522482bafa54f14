"""The retail events the mesh treats as holidays: Black Friday, its weekend and Cyber Monday.

One definition for every service that reads a calendar: the ingestion service lists them in
``GetCalendar`` (and so in every record's calendar features), and the attribution model
controls each of them with its own dummy — in the countries whose retail calendar has them
(:mod:`mesh.runtime.holiday_rules` lists those, with why), not everywhere. They move demand and budgets at least as much as
public holidays do, which makes them confounders; Saturday and Sunday are events of their own
because their lift differs from Friday's and Monday's.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["RETAIL_EVENTS", "retail_events", "thanksgiving"]

# (days after US Thanksgiving, name)
RETAIL_EVENTS: tuple[tuple[int, str], ...] = (
    (1, "Black Friday"),
    (2, "Black Friday Saturday"),
    (3, "Black Friday Sunday"),
    (4, "Cyber Monday"),
)


def thanksgiving(year: int) -> dt.date:
    """US Thanksgiving: the fourth Thursday of November."""
    nov1 = dt.date(year, 11, 1)
    return nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)


def retail_events(year: int) -> dict[dt.date, str]:
    """The year's retail events, date → name. They follow US Thanksgiving in every country
    (Black Friday is a retail date, not a national holiday)."""
    day = thanksgiving(year)
    return {day + dt.timedelta(days=offset): name for offset, name in RETAIL_EVENTS}
