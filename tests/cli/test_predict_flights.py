"""``liftos predict --daily CHANNEL=AMOUNT@START..END`` (R51-F6): a flighted plan as one spend
per horizon day; the mistakes a planner makes with it are refused with the fix, before any
call. (The plan through real servers: tests/surfacing/contract/test_predict_flight.py.)"""

from __future__ import annotations

import datetime as dt

import pytest

from mesh.cli.flights import Flight, flights, per_day, plan_line

FIRST = dt.date(2024, 10, 5)


def test_dated_ranges_become_one_spend_per_day_and_the_rest_stay_as_given() -> None:
    plain, dated = flights(["meta=100", "tiktok=17571@2024-11-01..2024-11-03",
                            "tiktok=5@2024-10-05..2024-10-05"])  # fmt: skip
    assert plain == ["meta=100"]
    days = per_day("tiktok", dated["tiktok"], FIRST, 30)
    assert days[0] == 5.0 and days[27:30] == [17571.0] * 3
    assert sum(1 for v in days if v) == 4
    assert plan_line("tiktok", dated["tiktok"], 30) == (
        "plan: tiktok 5 a day on 2024-10-05..2024-10-05 (1 day), 17,571 a day on "
        "2024-11-01..2024-11-03 (3 days); 0 on the horizon's other 26 days"
    )


@pytest.mark.parametrize(
    ("items", "said"),
    [
        (["tiktok=1@2024-11-01"], "CHANNEL=AMOUNT@START..END"),
        (["tiktok=x@2024-11-01..2024-11-02"], "'x' is not a number"),
        (["tiktok=1@2024-11-31..2024-12-02"], "'2024-11-31' is not a date"),
        (["tiktok=1@2024-12-02..2024-11-01"], "ends before it starts"),
        (["tiktok=1", "tiktok=2@2024-11-01..2024-11-02"], "both an amount for every day"),
    ],
)
def test_a_malformed_flight_is_refused_naming_the_form(items: list[str], said: str) -> None:
    with pytest.raises(SystemExit) as info:
        flights(items)
    assert said in str(info.value), info.value


def test_a_range_outside_the_horizon_says_how_many_days_reach_it() -> None:
    late = [Flight(1.0, dt.date(2024, 11, 1), dt.date(2024, 12, 31))]
    with pytest.raises(SystemExit) as info:
        per_day("tiktok", late, FIRST, 30)
    assert "is not inside the horizon 2024-10-05..2024-11-03" in str(info.value)
    assert "--days 88 reaches 2024-12-31" in str(info.value)
    early = [Flight(1.0, dt.date(2024, 10, 1), dt.date(2024, 10, 9))]
    with pytest.raises(SystemExit, match="not inside the horizon"):
        per_day("tiktok", early, FIRST, 30)
    both = [Flight(1.0, FIRST, FIRST + dt.timedelta(3)), Flight(2.0, FIRST + dt.timedelta(3),
                                                                FIRST + dt.timedelta(5))]  # fmt: skip
    with pytest.raises(SystemExit, match="2024-10-08 is in two ranges"):
        per_day("tiktok", both, FIRST, 30)
