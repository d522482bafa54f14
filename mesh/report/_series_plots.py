"""Figures of an attribution model's daily series: the outcome split into baseline and channels
over time, and the model's fit with the holdout shaded.

Thirty stacked channels are thirty slivers no palette tells apart, so the decomposition names
the largest channels (Okabe–Ito colours) and stacks the rest as one "other" layer; the channel
figures above carry every channel. Over more than four months the layers are weekly averages of
daily values: a year of daily weekday cycles stacked eight deep is noise, not a picture.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from mesh.report._effect_plots import _dates, _legend_above
from mesh.report._plan_plots import compact, wrap_name
from mesh.report._svg import (
    BLUE,
    GREEN,
    GREY,
    INK,
    LIGHT_GREY,
    ORANGE,
    PAGE_WIDTH_IN,
    PURPLE,
    SKY,
    VERMILLION,
    new_figure,
    short_label,
)

NAMED_LAYERS = 6  # channels drawn as their own layer; the rest stack as "other"
WEEKLY_AFTER_DAYS = 120
_LAYER_COLOURS = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY)
_BASELINE = "#c9c9c9"


def dates(daily: causal_pb.DailyDecomposition) -> list[dt.date]:
    return [dt.date(d.year, d.month, d.day) for d in daily.dates]


def _weekly(x: list[dt.date], ys: np.ndarray) -> tuple[list[dt.date], np.ndarray]:
    """Per-day averages over 7-day blocks from the first day (the last block may be short),
    placed at each block's first day."""
    starts = list(range(0, len(x), 7))
    sums = np.add.reduceat(ys, starts, axis=-1)
    sizes = np.diff([*starts, len(x)])
    return [x[s] for s in starts], sums / sizes


def layers(
    daily: causal_pb.DailyDecomposition, named: int = NAMED_LAYERS
) -> list[tuple[str, np.ndarray]]:
    """(label, values per day) from the bottom up: the baseline, the ``named`` channels that
    contributed most, then the rest as one layer (channels credited with nothing are left
    out: they add nothing to the stack)."""
    # A channel the model credits with nothing adds no layer (and no legend entry).
    channels = sorted(
        (c for c in daily.channels if np.any(np.asarray(c.contribution) > 0)),
        key=lambda c: -float(np.sum(c.contribution)),
    )
    out = [("baseline (no media)", np.asarray(daily.baseline_outcome, dtype=float))]
    out += [(c.channel, np.asarray(c.contribution, dtype=float)) for c in channels[:named]]
    rest = channels[named:]
    if len(rest) == 1:
        out.append((rest[0].channel, np.asarray(rest[0].contribution, dtype=float)))
    elif rest:
        other = np.sum([c.contribution for c in rest], axis=0)
        out.append((f"other {len(rest)} channels", np.asarray(other, dtype=float)))
    return out


def _per(x_days: int) -> str:
    return "per day, weekly average" if x_days > WEEKLY_AFTER_DAYS else "per day"


def decomposition(daily: causal_pb.DailyDecomposition, outcome_label: str) -> Figure:
    """Stacked areas: baseline at the bottom, then each named channel's contribution, with the
    observed outcome as a line over them."""
    x = dates(daily)
    parts = layers(daily)
    stack = np.array([v for _, v in parts])
    actual = np.asarray(daily.actual_outcome, dtype=float)
    if len(x) > WEEKLY_AFTER_DAYS:
        xs, stack = _weekly(x, stack)
        _, actual_w = _weekly(x, actual[None])
        actual = actual_w[0]
    else:
        xs = x
    colours = [_BASELINE, *_LAYER_COLOURS[: len(parts) - 1]]
    if len(parts) - 1 > len(_LAYER_COLOURS):
        colours.append(GREY)
    labels = [
        wrap_name(short_label(p, 100), 56) for p, _ in parts
    ]  # a very long name goes over two lines
    ncols = _legend_columns([line for label in labels for line in label.splitlines()])
    legend_rows = -(-(len(parts) + 1) // ncols)
    fig, (ax,) = new_figure(2.7 + 0.19 * legend_rows)
    ax.stackplot(xs, stack, colors=colours, labels=labels, linewidth=0)  # type: ignore[arg-type]
    ax.plot(xs, actual, color=INK, linewidth=1.0, label="observed")  # type: ignore[arg-type]
    ax.set_ylim(0, float(max(stack.sum(axis=0).max(), actual.max())) * 1.04)
    _dates(ax)
    ax.yaxis.set_major_formatter(FuncFormatter(compact))
    ax.set_ylabel(f"{outcome_label}\n{_per(len(x))}")
    ax.set_xlabel("Date")
    _legend_above(ax, ncols=ncols)
    return fig


def _legend_columns(labels: Sequence[str]) -> int:
    """As many legend columns as the longest label leaves room for across the page (8 pt text
    is ~5 pt a character; the swatch and gap take ~35 pt)."""
    longest = max((len(s) for s in labels), default=10)
    return max(1, min(3, int(PAGE_WIDTH_IN * 72 // (5.2 * longest + 35))))


def _shade_holdout(ax: Axes, x: Sequence[dt.date], holdout: Sequence[bool], label: bool) -> None:
    days = [d for d, h in zip(x, holdout, strict=True) if h]
    if not days:
        return
    ax.axvspan(days[0] - dt.timedelta(hours=12), days[-1] + dt.timedelta(hours=12),  # type: ignore[arg-type]
               color=LIGHT_GREY, alpha=0.7, linewidth=0,
               label=f"holdout ({len(days)} days)" if label else None)  # fmt: skip


def model_fit(daily: causal_pb.DailyDecomposition, outcome_label: str) -> Figure:
    """Observed vs predicted per day (top) and the error as a share of the observed (bottom),
    the holdout's days shaded in both."""
    x = dates(daily)
    actual = np.asarray(daily.actual_outcome, dtype=float)
    predicted = np.asarray(daily.predicted_outcome, dtype=float)
    holdout = list(daily.holdout) if len(daily.holdout) == len(x) else [False] * len(x)
    fig, (top, bottom) = new_figure(3.9, nrows=2, sharex=True, height_ratios=(2.6, 1.0))
    _shade_holdout(top, x, holdout, label=True)
    top.plot(x, actual, color=INK, linewidth=0.9, label="observed")  # type: ignore[arg-type]
    # dashed: told from the observed line without colour (greyscale print), where they overlap
    top.plot(x, predicted, color=BLUE, linewidth=1.1, linestyle=(0, (4, 1.5)), label="model")  # type: ignore[arg-type]
    top.yaxis.set_major_formatter(FuncFormatter(compact))
    top.set_ylabel(f"{outcome_label}\nper day")
    _legend_above(top, ncols=3)
    _shade_holdout(bottom, x, holdout, label=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(actual > 0, (actual - predicted) / actual, np.nan)
    bottom.axhline(0, color=GREY, linewidth=0.8)
    bottom.plot(x, error, color=VERMILLION, linewidth=0.8)  # type: ignore[arg-type]
    finite = error[np.isfinite(error)]
    bound = float(np.abs(finite).max()) * 1.15 if finite.size else 0.1
    bottom.set_ylim(-max(bound, 0.01), max(bound, 0.01))
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0%}".replace("-", "−")))
    bottom.set_ylabel("Observed −\nmodel")
    bottom.set_xlabel("Date")
    _dates(bottom)
    return fig
