"""Channels that start or stop inside the analysis window (R48-F2): a shop adds a channel in
its first weeks, and its window-mean spend counts the days before the launch as none, so a
plan's "current" spend read as that mean (``liftos optimize``) understated a channel launched
on day 40 of 90 by 1.8×, and "+27%" was a 29% cut. The panel says so, naming the days and both
daily figures; a pause between days with input is :func:`.panel._channel_holes`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["EDGE_DAYS", "Span", "span_notes", "spans"]

# A week or more without input at the window's start (or end) is a launch (or a stop), as a
# week without input between days with it is a pause.
EDGE_DAYS = 7
# Always on over its own span (a pause of a week or more aside): a flighted channel's days off
# are its pattern, not a launch.
_ALWAYS_ON = 0.9


def _daily(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.3g}"


@dataclass(frozen=True, slots=True)
class Span:
    """The days ``first..last`` (indices into the window's ``window`` days) of a channel with
    input on part of the window only."""

    first: int
    last: int
    window: int

    @property
    def days(self) -> int:
        return self.last - self.first + 1

    @property
    def late(self) -> bool:
        return self.first >= EDGE_DAYS

    @property
    def stopped(self) -> bool:
        return self.window - 1 - self.last >= EDGE_DAYS


def spans(names: Sequence[str], x: np.ndarray) -> dict[str, Span]:
    """The always-on channels whose first day with input comes ``EDGE_DAYS`` or more after the
    window's first day, or whose last comes as long before its last (one pause of a week or
    more aside). ``x`` (C, G, T): each channel's input per geo-day."""
    n = x.shape[-1]
    out = {}
    for i, name in enumerate(names):
        on = np.flatnonzero(x[i].sum(axis=0) != 0)
        if on.size < 2:
            continue
        span = Span(int(on[0]), int(on[-1]), n)
        gaps = np.diff(on) - 1
        long = gaps[gaps >= EDGE_DAYS]
        if not (span.late or span.stopped) or long.size > 1:
            continue
        if on.size / (span.days - long.sum()) < _ALWAYS_ON:
            continue
        out[name] = span
    return out


def span_notes(
    names: Sequence[str], x: np.ndarray, has_spend: np.ndarray, dates: np.ndarray
) -> list[str]:
    """One note per channel of :func:`spans`: the days it ran, and its mean daily input over
    the window beside that over the days it ran. ``x`` (C, G, T): each channel's input per
    geo-day."""
    days = dates.astype("datetime64[D]")
    n = days.size
    found = spans(names, x)
    out = []
    for i, name in enumerate(names):
        if (s := found.get(name)) is None:
            continue
        first, last, span, late, early = s.first, s.last, s.days, s.late, s.stopped
        what = "spend" if has_spend[i] else "impressions"
        window = float(x[i].sum()) / n
        running = float(x[i][:, first : last + 1].sum()) / span
        if late and early:
            when = f"only from {days[first]} to {days[last]}"
            said = "a launch and a stop"
        elif late:
            when = f"only from {days[first]}"
            said = "a launch"
        else:
            when = f"only until {days[last]}"
            said = "a stop"
        out.append(
            f"{name} has {what} {when} ({span} of the window's {n} days), read as {said} "
            f"inside the window: its effect rests on those days, and its mean daily {what} "
            f"over the window ({_daily(window)}) counts the other {n - span} days as none, "
            f"against {_daily(running)} a day over the days it ran"
            + (
                " and none since; a plan that reads the window's mean as its current spend "
                "(liftos optimize) keeps a channel that no longer spends"
                if early
                else "; a plan that reads the window's mean as its current spend (liftos "
                "optimize) understates what it spends now"
            )
        )
    return out
