"""Figures of attribution and planning results: channel contributions, response curves, budget
shift, forecast, power curve. Built for many channels: one row per channel on a category axis
(labels never collide), small multiples with few ticks, compact money labels."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from mesh.report._effect_plots import _dates, _legend_above
from mesh.report._svg import (
    BLUE,
    GREY,
    INK,
    LIGHT_GREY,
    ORANGE,
    PAGE_WIDTH_IN,
    VERMILLION,
    new_figure,
    short_label,
)

ROW_IN = 0.24  # height per channel row: 30 channels fit on one A4 page


def compact(x: float, _pos: object = None) -> str:
    """1,234 → 1.23k, 3,400,000 → 3.4M, 3.17e15 → 3,170T: tick labels short enough for small
    multiples. Three significant digits within a unit; from 1,000 of the largest unit, whole
    units with separators (R30 F4: a trillion read "3.17e+03B"); a value that rounds up to
    the next unit takes it (999,999 → 1M); nan and ±inf as themselves. The CLI's
    ``mesh.cli.attribution.short`` with a typographic minus."""
    if not math.isfinite(x):
        return str(x).replace("-", "−")
    ax = abs(x)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if ax >= div * 0.9995:  # rounds to 1.00 of this unit at three digits
            v = x / div
            text = f"{v:.3g}" if abs(v) < 999.5 else f"{v:,.0f}"
            return f"{text}{suffix}".replace("-", "−")
    return f"{x:.3g}".replace("-", "−")


def wrap_name(name: str, width: int = 24) -> str:
    """A long channel name over lines of at most ``width`` characters, broken after '_' or '-'
    where it can be (small-multiple titles must not run into their neighbours)."""
    lines, line = [], ""
    for piece in re.findall(r"[^_\-\s]+[_\-\s]?", name) or [name]:
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        while len(piece) > width:
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    return "\n".join([*lines, line] if line else lines)


def _money_axis(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(compact))


def naive_outcome(c: causal_pb.ChannelAttribution) -> float | None:
    """What the naive regression credits the channel with: its ROAS times the channel's input."""
    if not c.HasField("naive_regression_roas"):
        return None
    return c.naive_regression_roas * (c.media_input or c.spend.amount)


def contributions(channels: Sequence[causal_pb.ChannelAttribution], outcome_label: str) -> Figure:
    """Per channel: the causal incremental outcome (with its interval) beside what a naive
    regression and the platform itself credit the channel with."""
    rows = list(channels)
    naive = [naive_outcome(c) for c in rows]
    with_naive = any(v is not None for v in naive)
    bars = 3 if with_naive else 2
    height = 0.8 / bars
    fig, (ax,) = new_figure(0.9 + (ROW_IN + 0.06 * bars) * len(rows))
    y = np.arange(len(rows))[::-1].astype(float)
    offsets = np.linspace(height * (bars - 1) / 2, -height * (bars - 1) / 2, bars)
    causal = [c.incremental_outcome.estimate for c in rows]
    lo = [c.incremental_outcome.lower for c in rows]
    hi = [c.incremental_outcome.upper for c in rows]
    ax.barh(y + offsets[0], causal, height=height, color=BLUE, label="causal (incremental)")
    ax.errorbar(causal, y + offsets[0], xerr=[np.subtract(causal, lo), np.subtract(hi, causal)],
                fmt="none", ecolor=INK, elinewidth=0.9, capsize=2)  # fmt: skip
    if with_naive:
        ax.barh(y + offsets[1], [v or 0.0 for v in naive], height=height, color="white",
                edgecolor=VERMILLION, linewidth=1.0, label="naive regression")  # fmt: skip
    # no bar where the platform reported nothing: its 0 is no claim
    claims = [np.nan if c.platform_unreported_share >= 1 - 1e-9 else c.platform_reported_outcome
              for c in rows]  # fmt: skip
    ax.barh(y + offsets[-1], claims, height=height,
            color=ORANGE, hatch="///", edgecolor="white", linewidth=0, label="platform-reported")  # fmt: skip
    ax.axvline(0, color=GREY, linewidth=0.8)
    ax.set_yticks(y, [short_label(c.channel) for c in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    _money_axis(ax)
    ax.set_xlabel(outcome_label)
    _legend_above(ax)
    return fig


def adstock(models: Sequence[causal_pb.ChannelResponseModel]) -> Figure:
    """Each channel's carry-over: the share of a day's effect that lands 0, 1, 2 … days later."""
    rows = [m for m in models if len(m.carryover)]
    lags = max(len(m.carryover) for m in rows)
    grid = np.full((len(rows), lags), np.nan)
    for i, m in enumerate(rows):
        grid[i, : len(m.carryover)] = m.carryover
    fig, (ax,) = new_figure(0.9 + ROW_IN * len(rows))
    image = ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0.0, vmax=float(np.nanmax(grid)),
                      interpolation="nearest")  # fmt: skip
    ax.set_yticks(range(len(rows)), [short_label(m.channel) for m in rows])
    ax.set_xticks(range(lags), [str(d) for d in range(lags)])
    ax.xaxis.set_major_locator(MaxNLocator(12, integer=True))
    ax.grid(False)
    ax.set_xlabel("Days after the spend (0 = same day)")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("Share of the effect")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    return fig


def break_even(revenue: bool, value_per_outcome: float = 0.0) -> float | None:
    """The return at which a unit of spend pays for itself: 1 / the value of one unit of the
    outcome (revenue at face value: 1); none for conversions without a value per conversion,
    where the analysis cannot say whether a channel pays."""
    if value_per_outcome > 0:
        return 1.0 / value_per_outcome
    return 1.0 if revenue else None


def roas(
    channels: Sequence[causal_pb.ChannelAttribution], currency: str, *, revenue: bool = True,
    value_per_outcome: float = 0.0,
) -> Figure:  # fmt: skip
    """Incremental and marginal return on spend per channel, with intervals; break-even marked
    where there is one (see :func:`break_even`). A conversions analysis's returns are
    conversions per unit of spend, labelled so, on an axis fitted to them."""
    rows = [c for c in channels if c.HasField("incremental_roas")]
    fig, (ax,) = new_figure(0.9 + ROW_IN * len(rows))
    y = np.arange(len(rows))[::-1]
    per = currency or "unit"
    average, marginal = (
        ("incremental ROAS (average)", "marginal ROAS (next unit)") if revenue
        else (f"conversions per {per} (average)", f"conversions per {per} (next unit)")
    )  # fmt: skip
    for shift, field, color, label, filled in (
        (0.15, "incremental_roas", BLUE, average, True),
        (-0.15, "marginal_roas", VERMILLION, marginal, False),
    ):
        iv = [getattr(c, field) for c in rows]
        est = [i.estimate for i in iv]
        ax.errorbar(
            est, y + shift, xerr=[np.subtract(est, [i.lower for i in iv]), np.subtract([i.upper for i in iv], est)],
            fmt="o", color=color, markerfacecolor=color if filled else "white", markersize=5,
            elinewidth=1.2, label=label,
        )  # fmt: skip
    line = break_even(revenue, value_per_outcome)
    if line is not None:
        ax.axvline(line, color=INK, linestyle=(0, (4, 3)), linewidth=0.9)
    ax.set_yticks(y, [short_label(c.channel) for c in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    if revenue:
        worth = (f", a unit of revenue worth {value_per_outcome:g}"
                 if value_per_outcome > 0 and value_per_outcome != 1 else "")  # fmt: skip
        ax.set_xlabel(f"Return per {per} of spend (dashed: break-even at {line:.3g}{worth})")
    else:
        dashed = (f" (dashed: break-even at {line:.3g}, one conversion worth {value_per_outcome:g} "
                  f"{per})" if line is not None else "")  # fmt: skip
        ax.set_xlabel(f"Incremental conversions per {per} of spend{dashed}")
    _legend_above(ax)
    return fig


def response_curves(
    curves: Sequence[causal_pb.ResponseCurve], current: Mapping[str, float],
    optimal: Mapping[str, float], currency: str, outcome_label: str,
) -> Figure:  # fmt: skip
    """Small multiples: each channel's curve with its band, current spend (solid) and the
    recommended spend (dashed) marked."""
    n = len(curves)
    cols = 3 if n <= 9 else 4
    rows = math.ceil(n / cols)
    width = 24 if cols == 3 else 20
    height = 0.7 + 1.6 * rows
    fig, axes = new_figure(
        height, nrows=rows, ncols=cols, width_in=PAGE_WIDTH_IN, constrained=False
    )
    # A fixed grid: room for two-line titles above each panel and tick labels beside it.
    fig.subplots_adjust(left=0.09, right=0.985, bottom=0.45 / height, top=1 - 0.38 / height,
                        wspace=0.42, hspace=0.36 / 1.6 + 0.45)  # fmt: skip
    for ax, c in zip(axes, curves, strict=False):
        ax.fill_between(c.spend, c.lower, c.upper, color=BLUE, alpha=0.18, linewidth=0)  # type: ignore[arg-type]
        ax.plot(c.spend, c.outcome, color=BLUE, linewidth=1.4)
        if c.channel in current:
            ax.axvline(current[c.channel], color=INK, linewidth=1.0)
        if c.channel in optimal:
            ax.axvline(optimal[c.channel], color=VERMILLION, linewidth=1.2, linestyle=(0, (3, 2)))
        title = wrap_name(short_label(c.channel, 2 * width - 2), width)
        if current.get(c.channel, 0.0) <= 0:  # email on sends: its x axis is not spend
            title += "\nno spend: x is its input"
        ax.set_title(title, fontsize=7.5, fontweight="normal")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(3))
            axis.set_major_formatter(FuncFormatter(compact))
        ax.tick_params(labelsize=6.5)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.supxlabel(
        f"Spend over the period ({currency}; a channel without spend: its input, e.g. sends); "
        "solid: current, dashed: recommended",
        fontsize=8, y=0.08 / height,
    )  # fmt: skip
    fig.supylabel(outcome_label, fontsize=8, x=0.01)
    return fig


def budget_shift(allocations: Sequence[surfacing_pb.ChannelAllocation], currency: str) -> Figure:
    """Current → recommended spend per channel; the bounds drawn, a binding one marked."""
    rows = sorted(allocations, key=lambda a: -a.current_spend)
    fig, (ax,) = new_figure(0.9 + ROW_IN * len(rows))
    y = np.arange(len(rows))[::-1]
    for yi, a in zip(y, rows, strict=True):
        if a.max_spend > 0:
            ax.plot(
                [a.min_spend, a.max_spend],
                [yi, yi],
                color=LIGHT_GREY,
                linewidth=5,
                solid_capstyle="butt",
            )
        color = BLUE if a.optimal_spend >= a.current_spend else VERMILLION
        ax.annotate("", xy=(a.optimal_spend, yi), xytext=(a.current_spend, yi),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.4, "shrinkA": 0, "shrinkB": 0})  # fmt: skip
        ax.plot([a.current_spend], [yi], "o", color=INK, markerfacecolor="white", markersize=4.5)
        if a.bound_status in (surfacing_pb.BOUND_STATUS_LOWER, surfacing_pb.BOUND_STATUS_UPPER):
            ax.plot(
                [a.optimal_spend], [yi], marker="|", color=INK, markersize=11, markeredgewidth=2
            )
        if a.bound_status == surfacing_pb.BOUND_STATUS_HELD:
            ax.plot([a.current_spend], [yi], marker="s", color=GREY, markersize=5)
    ax.set_yticks(y, [short_label(a.channel) for a in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    _money_axis(ax)
    ax.set_xlabel(f"Spend over the horizon ({currency})")
    return fig


def forecast(points: Sequence[surfacing_pb.ForecastPoint], outcome_label: str) -> Figure:
    """The daily forecast as a fan when the answer has one (nested bands, the widest palest),
    else with its one interval."""
    x = [dt.date(p.date.year, p.date.month, p.date.day) for p in points]
    fig, (ax,) = new_figure(2.6)
    levels = len(points[0].fan) if all(len(p.fan) == len(points[0].fan) for p in points) else 0
    if levels:
        order = sorted(range(levels), key=lambda i: -points[0].fan[i].level)  # widest first
        for rank, i in enumerate(order):
            ax.fill_between(x, [p.fan[i].lower for p in points], [p.fan[i].upper for p in points],  # type: ignore[arg-type]
                            color=BLUE, alpha=0.14 + 0.5 * rank / max(levels, 2), linewidth=0,
                            label=f"{points[0].fan[i].level:.0%}")  # fmt: skip
    else:
        ax.fill_between(x, [p.outcome.lower for p in points], [p.outcome.upper for p in points],  # type: ignore[arg-type]
                        color=BLUE, alpha=0.2, linewidth=0,
                        label=f"{points[0].outcome.level:.0%} interval" if points[0].outcome.level
                        else "interval")  # fmt: skip
    ax.plot(x, [p.outcome.estimate for p in points], color=INK if levels else BLUE,  # type: ignore[arg-type]
            label="forecast")  # fmt: skip
    _dates(ax)
    _money_axis(ax, "y")
    ax.set_ylabel(outcome_label)
    ax.set_xlabel("Date")
    _legend_above(ax, ncols=levels + 1 if levels else 3)
    return fig


def power_curve(points: Sequence[surfacing_pb.PowerPoint], target_power: float) -> Figure:
    """Power (and the detectable lift) by test duration."""
    days = [p.duration_days for p in points]
    fig, (a, b) = new_figure(3.2, nrows=2, sharex=True)
    power = [p.power if math.isfinite(p.power) else p.power_at_expected for p in points]
    a.plot(days, power, "o-", color=BLUE)
    a.axhline(target_power, color=INK, linestyle=(0, (4, 3)), linewidth=0.9)
    a.set_ylim(0, 1.02)
    a.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    a.set_ylabel("Power")
    b.plot(days, [p.minimum_detectable_lift for p in points], "s-", color=ORANGE)
    b.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1%}"))
    b.set_ylabel("Detectable lift")
    b.set_xlabel("Test duration (days); dashed: target power")
    return fig
