"""A week or more without any input from an always-on channel, between days with it (audit R4
F18: a two-week hole in one channel's export was read as a pause and its estimate dropped,
without a word): the panel says so, naming the channel and the days. Flighted channels and the
simulator's worlds, which have no such hole, are not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution import panel_from_frames
from causal_svc.attribution.panel import _channel_holes
from tests.causal.attribution.world import frames, simulate

DATES = np.arange("2024-01-01", "2024-04-01", dtype="datetime64[D]")


def _grid(on: np.ndarray) -> np.ndarray:
    """One channel on 3 geos: spend on the days ``on`` marks."""
    return np.broadcast_to(np.where(on, 100.0, 0.0), (1, 3, on.size)).copy()


def test_a_hole_in_an_always_on_channel_is_named() -> None:
    on = np.ones(DATES.size, bool)
    on[40:54] = False  # 14 days of nothing in any geo
    (warning,) = _channel_holes(("tiktok",), _grid(on), np.array([True]), DATES)
    assert "tiktok has no spend in any geo from 2024-02-10 to 2024-02-23 (14 days)" in warning
    assert "its export lacks those days" in warning


@pytest.mark.parametrize("case", ["short gap", "flighted", "sparse", "starts late", "ends early"])
def test_what_is_not_a_hole(case: str) -> None:
    on = np.ones(DATES.size, bool)
    if case == "short gap":
        on[40:46] = False  # 6 days: a week is the bar
    elif case == "flighted":
        on = (np.arange(DATES.size) // 14) % 2 == 0  # two weeks on, two off
    elif case == "sparse":
        on = np.arange(DATES.size) % 3 == 0  # every third day: not always on
    elif case == "starts late":
        on[:30] = False  # launched in the window: no input before is no hole
    else:
        on[-30:] = False
    assert _channel_holes(("tv",), _grid(on), np.array([True]), DATES) == []


@pytest.mark.parametrize(("scenario", "seed"), [("demo", 0), ("confounded", 1)])
def test_the_simulators_worlds_raise_no_hole(scenario: str, seed: int) -> None:
    outcome, media, campaigns = frames(simulate(scenario, seed, n_geos=5))
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    assert not [w for w in panel.warnings if "in any geo from" in w]
