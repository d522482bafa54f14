"""A channel's spend far above its usual day (audit s21 R50 F5, F6): a week of search booked on
its first day moved ~84% of credit to two other channels, and one display day keyed ×100 made
display "established" and its CUT target larger than the real spend; neither was named. Now
the health check names the channel, the day, the amount and the shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from causal_svc.attribution import MediaPanel, Verdict
from causal_svc.attribution.health_spend import spend_spikes

from .world import World

DAY = 40
Edit = Callable[[np.ndarray], None]  # edits one channel's (G, T) array in place


def _with_spend(panel: MediaPanel, channel: str, edit: Edit) -> MediaPanel:
    c = panel.channels.index(channel)
    spend, media = panel.spend.copy(), panel.media.copy()
    edit(spend[c])
    edit(media[c])
    return dataclasses.replace(panel, spend=spend, media=media)


def _times(factor: float, day: int = DAY) -> Edit:
    def edit(x: np.ndarray) -> None:
        x[:, day] *= factor

    return edit


def _lump(first: int, days: int, *, last: bool = False) -> Edit:
    def edit(x: np.ndarray) -> None:
        week = x[:, first : first + days].sum(axis=1)
        x[:, first : first + days] = 0.0
        x[:, first + days - 1 if last else first] = week

    return edit


def test_one_day_keyed_x100_is_named(demo: World) -> None:
    p = demo.panel
    check = spend_spikes(_with_spend(p, "tiktok", _times(100.0)))
    assert check is not None and check.verdict is Verdict.REVIEW
    assert check.message.startswith(
        f"1 channel-day(s) of input far above their usual day, which the model reads as that day's "
        f"spend, so the channel's effect, and the other channels' through it, rest on them: "
        f"tiktok's spend on {p.dates[DAY]} is "
    ), check.message
    factor = float(check.message.split("(×")[1].split(",")[0].replace(",", ""))
    assert 60 < factor < 160, check.message
    assert "a mis-keyed figure (an extra zero, cents read as units) or a real burst?" in (
        check.message
    )
    assert "; correct each at the source and re-ingest it" in check.message


def test_a_week_booked_on_one_day_is_named_as_such(demo: World) -> None:
    p = demo.panel
    check = spend_spikes(_with_spend(p, "google_search", _lump(DAY, 7)))
    assert check is not None and check.verdict is Verdict.REVIEW
    assert f"google_search's spend on {p.dates[DAY]} is " in check.message, check.message
    assert "and the 6 days after it have none: 7 days booked on one day" in check.message
    assert "spread the amount over its days and re-ingest" in check.message
    # booked on the week's last day: the days before it are empty
    check = spend_spikes(_with_spend(p, "google_search", _lump(DAY, 7, last=True)))
    assert check is not None
    assert f"google_search's spend on {p.dates[DAY + 6]} is " in check.message, check.message
    assert "and the 6 days before it have none" in check.message


def test_clean_spend_and_a_day_every_channel_pushes_are_not_named(demo: World) -> None:
    p = demo.panel
    assert spend_spikes(p) is None
    # a sale every paid channel pushes (Black Friday: x8-11 in the confounded worlds)
    paid = np.flatnonzero(p.spend.sum(axis=(1, 2)) > 0)
    spend, media = p.spend.copy(), p.media.copy()
    spend[paid, :, DAY] *= 12
    media[paid, :, DAY] *= 12
    assert spend_spikes(dataclasses.replace(p, spend=spend, media=media)) is None
    # x3 on one channel's day is a burst, not a keying error, and no run is empty after it
    assert spend_spikes(_with_spend(p, "tiktok", _times(3.0))) is None


def _weekly(panel: MediaPanel, factor: float, weekday: int) -> Edit:
    """Every ``weekday`` (0 = Monday) ×``factor``: a campaign calendar, not a keying error."""
    days = (panel.dates.astype("datetime64[D]").astype(np.int64) + 3) % 7 == weekday

    def edit(x: np.ndarray) -> None:
        x[:, days] *= factor

    return edit


def test_a_weekly_campaign_blast_is_the_channel_s_calendar_not_an_error(demo: World) -> None:
    """Review V1 F1: klaviyo_email blasting its list every Tuesday at ×10-40 its flow sends was
    named as up to 16 mis-keyed days (PASS -> REVIEW on every analysis); a blast recurring
    every week is the channel's pattern. A one-off ×100 in the same channel is still named,
    in the channel's own words (sends, not spend or "cents read as units")."""
    p = demo.panel
    for factor in (10.0, 20.0, 40.0):
        blasts = _with_spend(p, "klaviyo_email", _weekly(p, factor, 1))
        assert spend_spikes(blasts) is None, (factor, spend_spikes(blasts))
    glitch = _with_spend(p, "klaviyo_email", _times(100.0))
    check = spend_spikes(glitch)
    assert check is not None, "a one-off x100 in a sends channel"
    assert f"klaviyo_email's sends or impressions on {p.dates[DAY]} is " in check.message
    assert "a mis-keyed figure (an extra zero) or a real burst?" in check.message
    assert "cents" not in check.message


def test_a_budget_step_in_the_window_s_last_days_is_not_a_spike(demo: World) -> None:
    """Review V1 F7: tiktok ×12 from the last 1-5 days (a budget raise just before the
    analysis) was named as a spike, the rolling median seeing only the days before it; a run
    of high days that reaches the window's edge is a change. The same at the window's start."""
    p = demo.panel
    t = p.n_days

    def from_day(first: int, last: int) -> Edit:
        def edit(x: np.ndarray) -> None:
            x[:, first:last] *= 12.0

        return edit

    for k in (1, 3, 5):
        assert spend_spikes(_with_spend(p, "tiktok", from_day(t - k, t))) is None, k
        assert spend_spikes(_with_spend(p, "tiktok", from_day(0, k))) is None, k
    # the same day inside the window is a spike
    assert spend_spikes(_with_spend(p, "tiktok", from_day(DAY, DAY + 1))) is not None
