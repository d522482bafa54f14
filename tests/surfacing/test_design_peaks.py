"""design_experiment against the peak days (R51-F3): which calendar it checks (the country's
retail events and gift weeks, the org's registered seasons standing for them), and a test
clear of them says nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np

from surfacing_svc.design import DesignSpec, design_experiment
from tests.surfacing.worlds import geo_history

# 150 days to 2024-10-04: no year earlier to price the peak from.
HISTORY = replace(geo_history(n_geos=12, n_days=150, seed=4),
                  dates=np.datetime64("2024-05-08") + np.arange(150).astype("timedelta64[D]"))  # fmt: skip


def _notes(start: dt.date, **spec) -> list[str]:
    design = design_experiment(
        HISTORY,
        DesignSpec("meta", lift=0.05, durations=(14,), rerandomisations=20, start=start, **spec),
    )
    return [w for w in design.warnings if "runs into" in w]


def test_the_countrys_calendar_is_checked() -> None:
    (us,) = _notes(dt.date(2024, 11, 25))
    assert "the 14-day test (2024-11-25 to 2024-12-08) runs into Black Friday to Cyber Monday " \
           "(2024-11-29 to 2024-12-02), Christmas shopping season (2024-12-01 to 2024-12-21)" in us  # fmt: skip
    assert (
        "the latest start whose 14 days end before Black Friday to Cyber Monday is 2024-11-15" in us
    )
    assert "the first 14-day window clear of the peaks starts on 2024-12-22" in us
    assert "does not hold these days a year earlier" in us
    (gb,) = _notes(dt.date(2024, 11, 25), country="GB")  # GB keeps both
    assert "Black Friday to Cyber Monday" in gb and "Christmas shopping season" in gb
    assert _notes(dt.date(2024, 11, 25), country="JP") == []  # neither is Japan's
    assert _notes(dt.date(2024, 10, 5)) == []  # 5-18 October: clear


def test_the_orgs_registered_season_stands_for_the_gift_weeks_and_recurs() -> None:
    """Registered for December 2023 only (8-28 December), it recurs on 2024's same dates and
    replaces the built-in 1-21 December; a short season of the org's runs beside them."""
    weeks = {dt.date(2023, 12, 1) + dt.timedelta(k): float(8 <= 1 + k <= 28) for k in range(31)}
    (note,) = _notes(dt.date(2024, 12, 3), seasons={"gift_weeks": weeks})
    assert "runs into gift_weeks (2024-12-08 to 2024-12-28)" in note
    assert "Christmas shopping season" not in note
    assert "the latest start whose 14 days end before gift_weeks is 2024-11-24" in note
    launch = {dt.date(2023, 12, 2): 1.0, dt.date(2023, 12, 3): 1.0}
    (both,) = _notes(dt.date(2024, 12, 3), seasons={"launch": launch})
    assert "Christmas shopping season (2024-12-01 to 2024-12-21)" in both
    assert "launch (2024-12-02 to 2024-12-03)" in both


def test_a_test_that_cannot_end_before_the_peak_says_so() -> None:
    """From the day after the history (2024-10-05), 14 days end before Black Friday; a test
    asked to start on 20 November cannot, and nothing checked ends before it."""
    design = design_experiment(HISTORY, DesignSpec("meta", lift=0.05, durations=(56,),
                                                   rerandomisations=20))  # fmt: skip
    (note,) = [w for w in design.warnings if "runs into" in w]
    assert "the 56-day test (2024-10-05 to 2024-11-29)" in note
    assert "no test checked ends before Black Friday to Cyber Monday from the earliest start " \
           "(2024-10-05): 55 days remain before it" in note  # fmt: skip
