"""The forecast's days memory already holds: which are compared, their actual outcome, and
the note's words (audit R5-F3)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from surfacing_svc.intervals import Interval
from surfacing_svc.observed_days import observed_days

DATES = np.arange("2025-01-01", "2025-01-06", dtype="datetime64[D]")  # 5 forecast days
DAILY = [Interval(100.0, 80.0, 120.0, 0.95)] * 5


def _rows(cells: list[tuple[str, str, float]], source: str = "generic") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "local_date": pd.to_datetime([d for d, _, _ in cells]),
            "data_source": source,
            "channel": "",
            "geo": [g for _, g, _ in cells],
            "spend": 0.0,
            "revenue": [v for _, _, v in cells],
            "conversions": 0.0,
        }
    )


def test_complete_days_are_compared_partial_ones_counted() -> None:
    # Days 1-3 complete (day 3 outside the interval), day 4 from one geo only, day 5 a
    # first-party 0 (ad rows, no orders yet): not observed.
    cells = [("2025-01-01", "a", 40.0), ("2025-01-01", "b", 50.0),
             ("2025-01-02", "a", 60.0), ("2025-01-02", "b", 55.0),
             ("2025-01-03", "a", 100.0), ("2025-01-03", "b", 90.0),
             ("2025-01-04", "a", 70.0),
             ("2025-01-05", "a", 0.0), ("2025-01-05", "b", 0.0)]  # fmt: skip
    # A geo outside the history and an ad row are not the outcome.
    frame = pd.concat([_rows(cells), _rows([("2025-01-04", "z", 500.0)]),
                       _rows([("2025-01-04", "b", 999.0)], source="meta")])  # fmt: skip
    seen = observed_days(frame, ("a", "b"), "revenue", DATES, DAILY)
    assert seen.dates == (dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3))
    assert seen.actual == (90.0, 115.0, 190.0)
    assert (seen.inside, seen.partial, seen.horizon) == (2, 1, 5)
    note = seen.note("revenue", planned=True)
    assert note is not None
    assert note.startswith(
        "3 of this forecast's 5 days are already in memory (2025-01-01..2025-01-03): actual "
        "revenue 395 against the forecast's 300 on those days (+31.7%), inside the daily 95% "
        "interval on 2 of 3 days."
    ), note
    assert "not of the spend that ran on those days" in note
    assert note.endswith("1 more day(s) have outcomes from only some geos and are not compared")


def test_nothing_held_says_nothing() -> None:
    seen = observed_days(_rows([("2024-12-31", "a", 5.0)]), ("a",), "revenue", DATES, DAILY)
    assert seen.dates == () and seen.partial == 0
    assert seen.note("revenue", planned=False) is None
    only_some = observed_days(_rows([("2025-01-02", "a", 5.0)]), ("a", "b"), "revenue", DATES,
                              DAILY)  # fmt: skip
    assert only_some.note("revenue", planned=False) == (
        "memory holds outcomes from only some geos on 1 of this forecast's 5 days, so they are "
        "not compared with it"
    )
