"""The next days' template (mesh.runtime.usual_days.usual_window, R10-F1): the latest run of
consecutive days clear of every registered test, whatever channel it tested."""

from __future__ import annotations

import datetime as dt

import numpy as np

from mesh.runtime.usual_days import RegisteredTest, usual_window

DAYS = 120
FIRST = dt.date(2024, 1, 1)
DATES = np.arange(np.datetime64(FIRST, "D"), np.datetime64(FIRST, "D") + DAYS)


def _day(i: int) -> dt.date:
    return FIRST + dt.timedelta(days=i)


def test_no_test_in_the_last_days_keeps_them_and_says_nothing() -> None:
    old = RegisteredTest("old", "tiktok", _day(10), _day(30), "completed")
    w = usual_window(DATES, [old], 28)
    assert w.index.tolist() == list(range(DAYS - 28, DAYS)) and w.note == ""


def test_a_test_ending_the_history_moves_the_template_before_it() -> None:
    end = RegisteredTest("end", "meta", _day(DAYS - 28), _day(DAYS - 1), "completed")
    w = usual_window(DATES, [end], 28)
    assert w.index.tolist() == list(range(DAYS - 56, DAYS - 28))
    assert "end (meta, completed" in w.note and f"({_day(DAYS - 56)}..{_day(DAYS - 29)})" in w.note


def test_the_run_must_be_consecutive_and_clear_of_every_channel_s_test() -> None:
    # google's test leaves 20 clear days after it and meta's 14 between them: both too few
    late = RegisteredTest("late", "google", _day(DAYS - 30), _day(DAYS - 21))
    early = RegisteredTest("early", "meta", _day(DAYS - 60), _day(DAYS - 45))
    w = usual_window(DATES, [late, early], 28)
    assert w.index.tolist() == list(range(DAYS - 88, DAYS - 60))
    assert "late (google" in w.note and "early" not in w.note


def test_no_clear_run_keeps_the_last_days_and_says_they_are_a_test_s() -> None:
    most = RegisteredTest("most", "tiktok", _day(5), _day(DAYS - 1), "running")
    w = usual_window(DATES, [most], 28)
    assert w.index.tolist() == list(range(DAYS - 28, DAYS))
    assert "no 28 consecutive days outside every test" in w.note
