"""Counterfactual outcomes under a changed spend plan, read from a fitted model's curves.

A plan names channels and, for each, a multiplier of the spend as run or an absolute spend
over the window. The window is a span of the analysed days (default all of them), or the next
``future_days`` days, which are taken to look like the last ``future_days`` analysed days
(baseline demand and each channel's spend pattern repeat; the plan scales the spend).

The outcome change is evaluated over the window plus the carry-over that follows it inside
the data, so cutting spend at the end of a window still loses the sales it would have carried
into the next days. Changes add over channels (each channel adds its own share of baseline
demand), so a plan's delta is the sum of the channels' deltas and its interval comes from the
summed gradient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from causal_svc.errors import InvalidSpec

from .fit import FitState, restore_fit
from .inference import Evaluator, Interval

__all__ = ["ChannelChange", "CounterfactualResult", "SpendChange", "counterfactual", "plan"]


@dataclass(frozen=True, slots=True)
class SpendChange:
    """One channel's new spend: a multiplier of the spend as run, or an absolute amount."""

    channel: str
    multiplier: float | None = None
    spend: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelChange:
    channel: str
    reference_spend: float
    counterfactual_spend: float
    delta: Interval


@dataclass(frozen=True, slots=True)
class CounterfactualResult:
    """The outcome over the evaluated days as observed (reference) and under the plan."""

    start: dt.date
    end: dt.date
    evaluated_days: int
    reference_outcome: Interval
    counterfactual_outcome: Interval
    delta: Interval
    channels: tuple[ChannelChange, ...]


def _window(
    ev: Evaluator, start: dt.date | None, end: dt.date | None, future_days: int
) -> tuple[int, int]:
    panel = ev.fit.panel
    if future_days:
        if future_days < 1 or future_days > panel.n_days:
            raise InvalidSpec(
                f"future window must be 1..{panel.n_days} days (the analysed period), got "
                f"{future_days}",
                field="future_days",
            )
        return panel.n_days - future_days, panel.n_days
    a = 0 if start is None else panel.day_index(np.datetime64(start, "D"))
    b = panel.n_days if end is None else panel.day_index(np.datetime64(end, "D")) + 1
    first, last = panel.dates[0], panel.dates[-1]
    if (
        (start is not None and np.datetime64(start, "D") > last)
        or (end is not None and np.datetime64(end, "D") < first)
        or b <= a
    ):
        raise InvalidSpec(
            f"reference period {start}..{end} is outside the analysed period {first}..{last}",
            field="reference_period",
        )
    return a, b


def counterfactual(
    ev: Evaluator,
    changes: Sequence[SpendChange],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    future_days: int = 0,
) -> CounterfactualResult:
    """The outcome under ``changes`` with an interval.

    Raises
    ------
    InvalidSpec
        No change, an unknown channel, a channel named twice, a negative or non-finite
        multiplier or spend, both or neither of multiplier and spend, a window outside the
        analysed period, or an absolute spend for a channel with no spend in the window.
    """
    panel = ev.fit.panel
    if not changes:
        raise InvalidSpec("a counterfactual needs at least one spend change", field="changes")
    a, b = _window(ev, start, end, future_days)
    # Future windows are evaluated on their template days only; past ones keep their tail.
    until = b if future_days else min(panel.n_days, b + ev.fit.spec.max_lag)
    seen: set[str] = set()
    total = 0.0
    grad = np.zeros(ev.size)
    out = []
    for i, ch in enumerate(changes):
        field = f"changes[{i}]"
        c = panel.channel_index(ch.channel, field_name=f"{field}.channel")
        if ch.channel in seen:
            raise InvalidSpec(f"channel {ch.channel!r} is changed twice", field=f"{field}.channel")
        seen.add(ch.channel)
        if (ch.multiplier is None) == (ch.spend is None):
            raise InvalidSpec(
                "give exactly one of multiplier and spend", field=f"{field}.multiplier"
            )
        ref_spend = float(panel.spend[c][:, a:b].sum())
        ref_input = float(panel.media[c][:, a:b].sum())
        if ch.multiplier is not None:
            mult = float(ch.multiplier)
            if not (np.isfinite(mult) and mult >= 0):
                raise InvalidSpec(
                    f"multiplier must be >= 0, got {mult}", field=f"{field}.multiplier"
                )
        else:
            target = float(ch.spend)  # type: ignore[arg-type]
            if not (np.isfinite(target) and target >= 0):
                raise InvalidSpec(f"spend must be >= 0, got {target}", field=f"{field}.spend")
            if ref_spend <= 0:
                raise InvalidSpec(
                    f"channel {ch.channel!r} has no spend in the window to rescale; use a "
                    "multiplier of its impressions",
                    field=f"{field}.spend",
                )
            mult = target / ref_spend
        if ref_input <= 0:
            mult = 1.0
        # effect() is outcome(as run) − outcome(multiplied): the plan's delta is its negative.
        value, g = ev.effect(c, a=a, b=b, multiplier=mult, until=until)
        total -= value
        grad -= g
        out.append(
            ChannelChange(
                ch.channel, ref_spend, ref_spend * mult, ev.interval(-value, -g, floor=None)
            )
        )
    reference = float(panel.outcome[:, a:until].sum())
    delta = ev.interval(total, grad, floor=None)
    cf = Interval(reference + delta.estimate, delta.stderr, reference + delta.lower,
                  reference + delta.upper, delta.level)  # fmt: skip
    ref = Interval(reference, 0.0, reference, reference, delta.level)
    day = [dt.date.fromisoformat(str(d)) for d in panel.dates[[a, b - 1]]]
    return CounterfactualResult(day[0], day[1], until - a, ref, cf, delta, tuple(out))


def plan(
    state: FitState,
    changes: Sequence[SpendChange],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    future_days: int = 0,
    level: float | None = None,
) -> CounterfactualResult:
    """:func:`counterfactual` on a stored fit (at interval ``level``, default the fit's)."""
    if level is not None:
        state = replace(state, spec=replace(state.spec, interval_level=level))
    return counterfactual(Evaluator(restore_fit(state)), changes, start=start, end=end,
                          future_days=future_days)  # fmt: skip
