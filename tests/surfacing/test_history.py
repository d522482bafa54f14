"""The org's history from memory's sums per day × geo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from surfacing_svc.errors import InsufficientData
from surfacing_svc.history import frame_from_sums, history_from_frame


def _sums(days: int = 40) -> pd.DataFrame:
    day0 = int(np.datetime64("2024-01-01", "D").astype(np.int64))
    rows = [(d, g) for d in range(days) for g in ("CA", "NY")]
    return pd.DataFrame({
        "date": [day0 + d for d, _ in rows], "geo": [g for _, g in rows],
        "generic:first_party:revenue": [100.0 + d for d, _ in rows],
        "generic:first_party:conversions": [1.0] * len(rows),
        "meta:meta_prospecting:spend": [5.0] * len(rows),
        "meta:meta_prospecting:impressions": [900.0] * len(rows),
    })  # fmt: skip


def test_sums_become_the_geo_day_history() -> None:
    h = history_from_frame(frame_from_sums(_sums()))
    assert h.geos == ("CA", "NY") and h.n_days == 40
    assert str(h.dates[0]) == "2024-01-01"
    assert h.outcome[0, :3].tolist() == h.outcome[1, :3].tolist() == [100.0, 101.0, 102.0]
    assert set(h.spend) == {"meta_prospecting"} and h.spend["meta_prospecting"].sum() == 400.0
    conversions = history_from_frame(frame_from_sums(_sums()), metric="conversions")
    assert conversions.outcome.sum() == 80.0


def test_no_first_party_rows_or_too_few_days_are_named() -> None:
    only_media = _sums().drop(columns=["generic:first_party:revenue",
                                       "generic:first_party:conversions"])  # fmt: skip
    with pytest.raises(InsufficientData, match="first-party"):
        history_from_frame(frame_from_sums(only_media))
    with pytest.raises(InsufficientData, match="28 days"):
        history_from_frame(frame_from_sums(_sums(days=10)))
    assert frame_from_sums(pd.DataFrame({"date": [], "geo": []})).empty


def test_the_history_spans_the_outcomes_days_and_names_the_ad_days_left_out() -> None:
    # Ad rows arrive before the orders export (3 days) and a few are future-dated (a year
    # on): those days have no orders, and are not zero-revenue days.
    sums = _sums()
    day0 = int(sums["date"].min())
    extra = pd.DataFrame({"date": [day0 + d for d in (40, 41, 42, 400) for _ in "AB"],
                          "geo": ["CA", "NY"] * 4, "meta:meta_prospecting:spend": 5.0})  # fmt: skip
    # Memory's wide table fills the first-party columns with 0 on those rows; NaN alike.
    for fill in (0.0, None):
        both = pd.concat([sums, extra], ignore_index=True)
        if fill is not None:
            both = both.fillna(fill)
        h = history_from_frame(frame_from_sums(both))
        assert h.geos == ("CA", "NY") and h.n_days == 40 and str(h.dates[-1]) == "2024-02-09"
        assert h.outcome.min() >= 100.0  # no day filled with a zero outcome
        assert h.spend["meta_prospecting"].sum() == 400.0
        (note,) = h.warnings
        assert "4 day(s) after the last day with first-party outcomes (2024-02-09)" in note
        assert "2024-02-10..2025-02-04" in note


def test_weekly_data_is_said_to_be_weekly_not_short() -> None:
    # R18-F4: "the history has 1450 days and 0 geos ...; at least 28 days and 1 geos are
    # needed" for a weekly file (every geo lacks six days in seven, so none qualifies).
    day0 = int(np.datetime64("2024-01-01", "D").astype(np.int64))  # a Monday
    weekly = _sums(days=210)
    weekly = weekly.loc[(weekly["date"] - day0) % 7 == 0]
    with pytest.raises(InsufficientData) as info:
        history_from_frame(frame_from_sums(weekly))
    said = str(info.value)
    assert "spans 204 days and 0 geo(s) qualify" in said
    assert "every outcome date is a Monday (30 dates), so the data looks weekly" in said
    assert "daily rows" in said


def test_a_geo_left_out_for_missing_days_is_named() -> None:
    sums = _sums(days=40)
    gappy = sums.loc[(sums["geo"] == "CA") | (sums["date"] % 3 == 0)]
    with pytest.raises(InsufficientData) as info:
        history_from_frame(frame_from_sums(gappy), min_geos=2)
    said = str(info.value)
    assert "at least 28 days and 2 geo(s)" in said and "1 geo(s) qualify" in said
    assert "1 geo(s) left out because they lack an outcome on more than 2% of the days (NY)" in (
        said
    )


@pytest.mark.parametrize(("have", "want"), [("conversions", "revenue"), ("revenue", "conversions")])
def test_rows_of_the_other_metric_name_the_switch(have: str, want: str) -> None:
    # R18-F4: a conversions-only org was told "no first-party outcome rows".
    other = "revenue" if have == "conversions" else "conversions"
    only = _sums().drop(columns=[f"generic:first_party:{other}"])
    with pytest.raises(InsufficientData) as info:
        history_from_frame(frame_from_sums(only), metric=want, switch="flag --metric {other}")
    assert str(info.value) == (
        f"the first-party rows in the history window carry {have} but no {want}: ask for "
        f"{have} (flag --metric {have})"
    )
    assert history_from_frame(frame_from_sums(only), metric=have).n_geos == 2
