"""A channel that starts or stops inside the analysis window is named, with the days it ran
and its daily spend over the window beside that over those days (audit R48 F2: Meta launched
on day 40 of 90 was shown nowhere as such, and optimize's "current" was its window mean with
the 40 days before counted as none, 1.8× under what it spent; a pause was already named)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import panel_from_frames
from causal_svc.attribution.channel_span import span_notes
from tests.causal.attribution.world import frames, simulate

DATES = np.arange("2024-01-01", "2024-03-31", dtype="datetime64[D]")  # 90 days


def _grid(on: np.ndarray, daily: float = 30.0) -> np.ndarray:
    """One channel on 3 geos: ``daily`` over the geos on the days ``on`` marks."""
    return np.broadcast_to(np.where(on, daily / 3, 0.0), (1, 3, on.size)).copy()


def test_a_launch_inside_the_window_is_named_with_both_daily_figures() -> None:
    on = np.arange(DATES.size) >= 40  # launched on day 40 of 90, ~33 a day since
    (note,) = span_notes(("meta",), _grid(on, 33.0), np.array([True]), DATES)
    assert note.startswith(
        "meta has spend only from 2024-02-10 (50 of the window's 90 days), read as a launch "
        "inside the window: its effect rests on those days, and its mean daily spend over the "
        "window (18) counts the other 40 days as none, against 33 a day over the days it ran; "
    )
    assert "(liftos optimize) understates what it spends now" in note


def test_a_stop_inside_the_window_is_named() -> None:
    on = np.arange(DATES.size) < 75
    (note,) = span_notes(("google",), _grid(on, 12.0), np.array([True]), DATES)
    assert note.startswith("google has spend only until 2024-03-15 (75 of the window's 90 days), "
                           "read as a stop inside the window")  # fmt: skip
    assert "against 12 a day over the days it ran and none since" in note


def test_a_launch_with_a_pause_after_it_is_still_a_launch() -> None:
    on = np.arange(DATES.size) >= 20
    on[55:69] = False  # two weeks paused: _channel_holes names the pause
    (note,) = span_notes(("meta",), _grid(on), np.array([True]), DATES)
    assert "only from 2024-01-21 (70 of the window's 90 days)" in note


@pytest.mark.parametrize("case", ["always on", "six days late", "flighted", "sparse"])
def test_what_is_not_a_launch_or_a_stop(case: str) -> None:
    on = np.ones(DATES.size, bool)
    if case == "six days late":
        on[:6] = False  # a week is the bar
    elif case == "flighted":
        on = (np.arange(DATES.size) // 14) % 2 == 1  # two weeks off, two on: its pattern
    elif case == "sparse":
        on = (np.arange(DATES.size) % 3 == 0) & (np.arange(DATES.size) >= 30)
    assert span_notes(("tv",), _grid(on), np.array([True]), DATES) == []


def test_the_panel_carries_the_note_for_a_channel_launched_in_its_window() -> None:
    outcome, media, campaigns = frames(simulate("demo", 0, n_geos=5))
    start = pd.Timestamp(outcome["date"].min()) + pd.Timedelta(days=30)
    late = (media["channel"] == "tiktok") & (pd.to_datetime(media["date"]) < start)
    media = media.loc[~late]
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    (note,) = [w for w in panel.warnings if "read as a launch" in w]
    assert note.startswith(f"tiktok has spend only from {start:%Y-%m-%d} (")
    # The simulator's other channels run throughout: nothing said of them.
    assert not [w for w in panel.warnings if "read as a stop" in w]
