"""The health check on each channel's daily spend against its usual level (audit s21 R50 F5,
F6): one mis-keyed day (display ×100: 1.47M where ~6k is usual) and a week booked on one day
(search: 7× its day, then 6 days of none) went through unflagged while they moved a channel's
credit by 25-84%. The panel's other checks see a weekly channel (:func:`.panel._weekly_channels`)
and a hole of 7 days or more (:func:`.panel._channel_holes`) only.

Both shapes are named, not corrected: a real one-day burst looks like a mis-keyed day, and
only the user knows which it was (the model reads a real burst well: R50's ``spike`` world,
display ×100 in the world itself, kept every truth inside its interval).
"""

from __future__ import annotations

import numpy as np

from .health_outcome import HealthCheck, Verdict, _factor, _robust_scale, _rolling_nanmedian
from .panel import MediaPanel

__all__ = ["LUMP_RATIO", "SPIKE_RATIO", "SPIKE_Z", "spend_spikes"]

# A day of a channel's national input (spend, or impressions where it has none) is a spike
# when it is this factor above the median of its positive days within ``LOCAL_DAYS`` either
# side AND this many robust standard deviations of the channel's log deviations from that
# level. Measured on the simulator's clean worlds (docs/performance.md, s21 FX3; development
# seeds 200-219, the rate on seeds 0-19 of demo and confounded and 0-1 of nine other
# scenarios: no channel-day named): the largest factor of a day one channel alone pushes is
# under 3, while confounded's Black Friday is ×7-13 in every paid channel at once (excused
# below), and a smooth channel's deviations reach 60 robust standard deviations, so the
# factor is what separates an error (×10 and more: an extra zero, cents read as units) from
# a burst; the z keeps a channel whose every day jumps from being named for one more jump.
SPIKE_RATIO = 10.0
SPIKE_Z = 8.0
LOCAL_DAYS = 7
# A week (or any run of days) booked on one day: a day this factor above its usual level
# with a run of at least ``LUMP_EMPTY`` days without input right after (or before) it, in a
# channel that has input on ``ALWAYS_ON`` of its other days, and the day's amount about the
# run's worth (within a factor 2 of ``(run + 1)`` usual days). A flighted channel's dark
# spells are not runs inside an always-on series.
LUMP_RATIO = 3.0
LUMP_EMPTY = 2
ALWAYS_ON = 0.9
MIN_DAYS = 28
# A keying error is a one-off (review V1 F1): a channel with more than ``MAX_ONE_OFF`` days at
# least a factor ``1 / RECUR_SPAN`` of a spike's size (and ``LUMP_RATIO`` above its usual day)
# has such days as its calendar — an email list's weekly campaign blast is ×10-40 its daily
# flow sends, every week — and none of them is named.
MAX_ONE_OFF = 2
RECUR_SPAN = 4.0


def _usual(x: np.ndarray) -> np.ndarray:
    """(C, T) each channel's local usual day: the median of its positive days within
    ``LOCAL_DAYS`` either side (NaN where there is none)."""
    return np.exp(_rolling_nanmedian(np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan),
                                     LOCAL_DAYS))  # fmt: skip


def _empty_run(on: np.ndarray, t: int, step: int) -> int:
    """Days without input right after (``step`` 1) or before (-1) day ``t``, up to the next
    day with input; 0 where the run reaches the window's edge (a stop, not a lump)."""
    k, i = 0, t + step
    while 0 <= i < on.size and not on[i]:
        k, i = k + 1, i + step
    return k if 0 <= i < on.size else 0


def _to_edge(x: np.ndarray, t: int, level: float) -> bool:
    """Whether every day from ``t`` to the window's end (or its start to ``t``) is at least
    ``LUMP_RATIO`` × ``level``: a budget step at the edge, whose later (earlier) days the
    one-sided median has not yet taken in (review V1 F7: ×12 from the last 1-5 days)."""
    floor = LUMP_RATIO * level
    return bool((x[t:] >= floor).all() or (x[: t + 1] >= floor).all())


def _lump(on: np.ndarray, t: int, factor: float) -> tuple[int, int] | None:
    """(direction, days) of the empty run a day of ``factor`` × usual stands for, or None."""
    for step in (1, -1):
        k = _empty_run(on, t, step)
        if k < LUMP_EMPTY:
            continue
        rest = np.ones(on.size, dtype=bool)
        lo, hi = (t + 1, t + k + 1) if step == 1 else (t - k, t)
        rest[lo:hi] = False
        if on[rest].mean() >= ALWAYS_ON and 0.5 * (k + 1) <= factor <= 2.0 * (k + 1):
            return step, k
    return None


def spend_spikes(panel: MediaPanel) -> HealthCheck | None:
    """Channels with a day of input far above their usual level, or a run of days booked on
    one day, named with the channel, the day, the amount, the usual day and the share of the
    channel's window; REVIEW (see the module docstring and the thresholds' comments)."""
    if panel.n_days < MIN_DAYS or not panel.channels:
        return None
    x = panel.media.sum(axis=1)  # (C, T) national input per channel
    has_spend = panel.spend.sum(axis=(1, 2)) > 0
    usual = _usual(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.log(np.where(x > 0, x, np.nan) / usual)
    scale = _robust_scale(dev)
    # a day most channels push together (a sale, Black Friday: ×8-11 in every paid channel of
    # the simulator's confounded worlds) is a campaign; a keying error is in one export
    high = np.nan_to_num(dev, nan=-np.inf) >= np.log(LUMP_RATIO)
    live = (x > 0).sum(axis=0)
    found: list[tuple[float, str]] = []
    share_max = 0.0
    for c, name in enumerate(panel.channels):
        on = x[c] > 0
        d = np.nan_to_num(dev[c], nan=-np.inf)
        what = "spend" if has_spend[c] else "sends or impressions"
        window = float(x[c].sum())
        claimed: set[tuple[int, int]] = set()  # an empty run is one lump's, the largest's
        for t in sorted(np.flatnonzero(d >= np.log(LUMP_RATIO)), key=lambda i: -d[i]):
            factor = float(np.exp(d[t]))
            lump = _lump(on, int(t), factor)
            if lump is not None:
                run = (
                    (int(t) + 1, int(t) + lump[1])
                    if lump[0] == 1
                    else (int(t) - lump[1], int(t) - 1)
                )
                lump = None if run in claimed else lump
                claimed.add(run)
            spike = (
                d[t] >= np.log(SPIKE_RATIO)
                and (not scale[c] > 0 or d[t] >= SPIKE_Z * scale[c])
                and int((d >= max(np.log(LUMP_RATIO), d[t] - np.log(RECUR_SPAN))).sum())
                <= MAX_ONE_OFF
                and not _to_edge(x[c], int(t), float(usual[c, t]))
            )
            others = live[t] - 1
            if others > 0 and high[:, t].sum() - 1 >= 0.5 * others:
                continue
            if lump is None and not spike:
                continue
            share = float(x[c, t]) / window
            share_max = max(share_max, share)
            found.append((share, _words(panel, name, what, int(t), float(x[c, t]),
                                        float(usual[c, t]), factor, share, lump)))  # fmt: skip
    if not found:
        return None
    found.sort(key=lambda f: -f[0])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return HealthCheck(
        "spend_spikes", Verdict.REVIEW, share_max, SPIKE_RATIO,
        f"{len(found)} channel-day(s) of input far above their usual day, which the model "
        "reads as that day's spend, so the channel's effect, and the other channels' through "
        "it, rest on them: " + "; ".join(f for _, f in found[:3]) + more
        + "; correct each at the source and re-ingest it, or keep it if the money was spent "
        "that day",
    )  # fmt: skip


def _words(
    panel: MediaPanel,
    name: str,
    what: str,
    t: int,
    value: float,
    usual: float,
    factor: float,
    share: float,
    lump: tuple[int, int] | None,
) -> str:
    day = panel.dates[t]
    head = (
        f"{name}'s {what} on {day} is {value:,.0f} where ~{usual:,.0f} is usual "
        f"(×{_factor(factor)}, {share:.0%} of its {what} in the window)"
    )
    if lump is None:
        slip = "an extra zero, cents read as units" if what == "spend" else "an extra zero"
        return head + f": a mis-keyed figure ({slip}) or a real burst?"
    step, k = lump
    side = "after" if step == 1 else "before"
    return (
        head + f" and the {k} days {side} it have none: {k + 1} days booked on one day (a "
        "weekly invoice entered as a day)? spread the amount over its days and re-ingest"
    )
