"""A channel that started or stopped inside the analysis window (R48-F2): causal's spans of
it (causal_svc/attribution/channel_span.py, sent as ChannelResponseModel.active_days and
stopped) are what its note says, and optimize's note gives the plan's change from what it
spends now."""

from __future__ import annotations

import numpy as np

from causal_svc.attribution.channel_span import Span, span_notes, spans
from surfacing_svc.usual_spend import RanDays, run_rate_notes

DATES = np.arange("2026-08-03", "2026-11-01", dtype="datetime64[D]")  # 90 days


def _grid(on: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.where(on, 8.0, 0.0), (1, 4, on.size)).copy()


def test_the_spans_are_the_days_the_note_names() -> None:
    days = np.arange(DATES.size)
    launched, stopped, always = _grid(days >= 40), _grid(days < 75), _grid(days >= 3)
    grid = np.concatenate([launched, stopped, always])
    found = spans(("meta ads", "google", "tiktok"), grid)
    assert found == {"meta ads": Span(40, 89, 90), "google": Span(0, 74, 90)}
    assert (found["meta ads"].days, found["meta ads"].stopped) == (50, False)
    assert (found["google"].days, found["google"].stopped) == (75, True)
    notes = span_notes(("meta ads", "google", "tiktok"), grid, np.array([True] * 3), DATES)
    assert [n.split(" (")[1].split(")")[0] for n in notes] == [
        "50 of the window's 90 days", "75 of the window's 90 days",
    ]  # fmt: skip


def test_a_launched_channel_gets_its_run_rate_and_the_plans_change_from_it() -> None:
    # R48's shop: meta's window mean 543 per 30 days, 977 since its launch; the plan's 687
    # was "+27%".
    (note,) = run_rate_notes([("meta", 543.0, 687.0), ("google", 777.0, 983.0)],
                             {"meta": RanDays(50, 90, False)}, 30)  # fmt: skip
    assert note.startswith(
        "meta: its current spend (543 over 30 days) is its mean over the analysis window, which "
        "counts the 40 days of the window's 90 it did not run as none: since it started it "
        "spends 977 per 30 days, against which the plan's 687 is -30%, not the +27% shown"
    )


def test_a_stopped_channel_is_a_restart() -> None:
    (note,) = run_rate_notes([("google", 700.0, 900.0)], {"google": RanDays(75, 90, True)}, 30)
    assert "it has spent nothing since it stopped, so the plan's 900 restarts it" in note


def test_a_plan_of_nothing_reads_as_off_or_a_stop() -> None:
    """s20 V1 F2: a plan of 0 (a bound the note itself suggests) read "the plan's 0 restarts
    it" and "the plan's 0 is -100%, not the -100% shown"."""
    (stopped,) = run_rate_notes([("google", 700.0, 0.0)], {"google": RanDays(75, 90, True)}, 30)
    assert "so the plan keeps it off (over the days it ran it spent" in stopped, stopped
    (launched,) = run_rate_notes([("meta", 543.0, 0.0)], {"meta": RanDays(50, 90, False)}, 30)
    assert launched.endswith("since it started it spends 977 per 30 days, which the plan stops")
