"""The figures of an effect-estimate report, one function per plot, each returning a Figure.

Every function takes the wire message (or parts of it) and the outcome's name; axes say what
they measure and in which units, time axes carry dates, and colours come from the Okabe–Ito
palette with a second cue (marker fill, line style) so nothing depends on colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.dates as mdates
import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mesh.report import _data
from mesh.report._svg import (
    BLUE,
    GREY,
    INK,
    LIGHT_GREY,
    ORANGE,
    VERMILLION,
    new_figure,
    short_label,
)

MAX_FOREST_ROWS = 30


def _dates(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _x(labels: Sequence[str]) -> tuple[list[Any], bool]:
    """Plot positions of index labels and whether they are dates."""
    a = _data.axis(labels)
    if a.kind == "category":
        return list(range(len(labels))), False
    return list(a.values), a.kind == "date"


def _start_line(ax: Axes, x: object, label: str = "treatment starts") -> None:
    ax.axvline(x, color=INK, linestyle=(0, (4, 3)), linewidth=0.9)  # type: ignore[arg-type]
    if not label:
        return
    ax.annotate(
        label, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),  # type: ignore[arg-type]
        textcoords="offset points", fontsize=7.5, color=INK, va="top",
    )  # fmt: skip


def _legend_above(ax: Axes, ncols: int = 3) -> None:
    """The legend in a row above the plot, where it never covers data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=ncols, borderaxespad=0.3)


def _zero(ax: Axes) -> None:
    ax.axhline(0, color=GREY, linewidth=0.8)


def _whisker(
    ax: Axes, y: float, point: float, lo: float, hi: float, color: str, filled: bool
) -> None:
    left, right = ax.get_xlim()
    lo_d = lo if math.isfinite(lo) else left
    hi_d = hi if math.isfinite(hi) else right
    ax.plot([lo_d, hi_d], [y, y], color=color, linewidth=2.4, solid_capstyle="butt")
    ax.plot(
        [point], [y], marker="o", markersize=8, color=color,
        markerfacecolor=color if filled else "white", markeredgewidth=1.8,
    )  # fmt: skip


def estimate_vs_naive(e: causal_pb.EffectEstimate, outcome: str, method: str) -> Figure:
    """The causal estimate and the naive comparison, each with its interval, on one axis."""
    rows = [(f"Causal estimate\n({method})", e.point_estimate, e.ci_lower, e.ci_upper, BLUE, True)]
    if e.HasField("naive_estimate"):
        n = e.naive_estimate
        rows.append(
            (
                "Naive comparison\n(no adjustment)",
                n.estimate,
                n.ci_lower,
                n.ci_upper,
                VERMILLION,
                False,
            )
        )
    fig, (ax,) = new_figure(0.55 + 0.55 * len(rows))
    values = [v for r in rows for v in r[1:4] if math.isfinite(v)] + [0.0]
    span = (max(values) - min(values)) or 1.0
    ax.set_xlim(min(values) - 0.08 * span, max(values) + 0.08 * span)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    for i, (_, point, lo, hi, color, filled) in enumerate(rows):
        _whisker(ax, len(rows) - 1 - i, point, lo, hi, color, filled)
    ax.axvline(0, color=GREY, linewidth=0.8)
    ax.set_yticks(range(len(rows)), [short_label(r[0]) for r in reversed(rows)])
    ax.grid(axis="y", visible=False)
    level = round((1 - (e.alpha or 0.05)) * 100)
    name = short_label(outcome)
    ax.set_xlabel(f"Effect on {name} ({name} units; bars: {level}% interval)")
    return fig


def event_study(s: causal_pb.Series, outcome: str) -> Figure:
    """Event-time coefficients with intervals; the pre-period shaded, zero marked."""
    x = [float(v) for v in _data.positions(s)]
    y, lo, hi = _data.finite(s.values), _data.finite(s.lower), _data.finite(s.upper)
    fig, (ax,) = new_figure(2.8)
    ax.axvspan(min(x) - 0.5, -0.5, color=LIGHT_GREY, alpha=0.45, linewidth=0)
    ax.annotate(
        "before treatment", xy=(0.01, 0.97), xycoords="axes fraction", va="top", fontsize=7.5
    )
    _zero(ax)
    for xi, yi, li, hi_ in zip(x, y, lo, hi, strict=True):
        reference = yi == 0 and li == 0 and hi_ == 0
        color = GREY if xi < 0 else BLUE
        if not reference and math.isfinite(li) and math.isfinite(hi_):
            ax.plot([xi, xi], [li, hi_], color=color, linewidth=1.6)
        ax.plot(
            [xi], [yi], marker="o", markersize=5, color=color,
            markerfacecolor="white" if reference else color,
        )  # fmt: skip
    ax.set_xlabel(
        "Periods relative to the first treated period (0 = first treated; hollow = reference)"
    )
    ax.set_ylabel(f"Effect on {outcome}")
    ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    return fig


def trajectories(
    treated: causal_pb.Series, synthetic: causal_pb.Series, gap: causal_pb.Series | None,
    placebos: Sequence[causal_pb.Series], start: int | None, outcome: str, synthetic_label: str,
) -> Figure:  # fmt: skip
    """Treated vs synthetic over time; below, the gap with the placebo units' gaps and band."""
    x, dated = _x(list(treated.index))
    fig, (top, bottom) = new_figure(4.4, nrows=2, sharex=True, height_ratios=(1.3, 1))
    top.plot(x, treated.values, color=BLUE, label="treated")
    top.plot(x, synthetic.values, color=ORANGE, linestyle=(0, (5, 2)), label=synthetic_label)
    top.set_ylabel(outcome)
    _legend_above(top)
    values = gap.values if gap is not None else np.subtract(treated.values, synthetic.values)
    for i, p in enumerate(placebos):
        label = "placebo units (each donor as if treated)" if i == 0 else "_nolegend_"
        bottom.plot(x, p.values, color=LIGHT_GREY, linewidth=0.8, label=label)
    if gap is not None and len(gap.lower) == len(gap.values):
        bottom.fill_between(
            x, gap.lower, gap.upper, color=BLUE, alpha=0.15, linewidth=0,  # type: ignore[arg-type]
            label="permutation interval",
        )  # fmt: skip
    bottom.plot(x, values, color=BLUE, label="treated − " + synthetic_label)
    _zero(bottom)
    bottom.set_ylabel(f"Gap in {outcome}")
    _legend_above(bottom)
    if start is not None and 0 <= start < len(x):
        _start_line(top, x[start])
        _start_line(bottom, x[start], "")
    if dated:
        _dates(bottom)
    bottom.set_xlabel("Date" if dated else "Period")
    return fig


def group_trends(
    treated: causal_pb.Series, control: causal_pb.Series, start: int | None, outcome: str
) -> Figure:
    """Mean outcome per period of the treated and comparison groups: before the start the two
    lines should move together (parallel trends); after it, the gap is the effect."""
    x, dated = _x(list(treated.index))
    fig, (ax,) = new_figure(2.8)
    ax.plot(
        x, _data.finite(treated.values), color=BLUE, marker="o", markersize=3, label="treated units"
    )
    ax.plot(x, _data.finite(control.values), color=ORANGE, linestyle=(0, (5, 2)), marker="s",
            markersize=3, label="comparison units")  # fmt: skip
    if start is not None and 0 <= start < len(x):
        _start_line(ax, x[start])
    if dated:
        _dates(ax)
    ax.set_xlabel("Date" if dated else "Period")
    ax.set_ylabel(f"Mean {outcome}")
    _legend_above(ax)
    return fig


def impact(
    observed: causal_pb.Series, counterfactual: causal_pb.Series, pointwise: causal_pb.Series,
    cumulative: causal_pb.Series, one_step: causal_pb.Series | None, outcome: str,
) -> Figure:  # fmt: skip
    """The CausalImpact layout: observed vs counterfactual, pointwise effect, cumulative effect."""
    x_all, dated = _x(list(observed.index))
    n_pre = len(observed.values) - len(counterfactual.values)
    x_post = x_all[n_pre:]
    fig, (a, b, c) = new_figure(5.6, nrows=3, sharex=True, height_ratios=(1.4, 1, 1))
    a.plot(x_all, observed.values, color=INK, linewidth=1.2, label="observed")
    if one_step is not None and len(one_step.values) == n_pre:
        x_pre = x_all[:n_pre]
        a.fill_between(
            x_pre,
            _data.finite(one_step.lower),
            _data.finite(one_step.upper),
            color=BLUE,
            alpha=0.15,
            linewidth=0,
        )  # type: ignore[arg-type]
        a.plot(
            x_pre,
            _data.finite(one_step.values),
            color=BLUE,
            linestyle=(0, (4, 2)),
            linewidth=1.2,
            label="model (one step ahead)",
        )
        pre_effect = np.subtract(observed.values[:n_pre], one_step.values)
        b.plot(x_pre, pre_effect, color=GREY, linewidth=1.0)
    a.fill_between(
        x_post, counterfactual.lower, counterfactual.upper, color=BLUE, alpha=0.2, linewidth=0
    )  # type: ignore[arg-type]
    a.plot(x_post, counterfactual.values, color=BLUE, linestyle=(0, (4, 2)), label="counterfactual")
    a.set_ylabel(outcome)
    _legend_above(a)
    b.fill_between(x_post, pointwise.lower, pointwise.upper, color=BLUE, alpha=0.2, linewidth=0)  # type: ignore[arg-type]
    b.plot(x_post, pointwise.values, color=BLUE)
    b.set_ylabel("Pointwise effect")
    c.fill_between(x_post, cumulative.lower, cumulative.upper, color=BLUE, alpha=0.2, linewidth=0)  # type: ignore[arg-type]
    c.plot(x_post, cumulative.values, color=BLUE)
    c.set_ylabel("Cumulative effect")
    for ax in (b, c):
        _zero(ax)
    lo, hi = np.nanmin(observed.values), np.nanmax(observed.values)
    pad = 0.25 * (hi - lo or 1.0)
    a.set_ylim(
        min(lo, min(counterfactual.lower, default=lo)) - pad * 0.2,
        max(hi, max(counterfactual.upper, default=hi)) + pad,
    )
    if x_post:
        for ax, label in ((a, "intervention"), (b, ""), (c, "")):
            _start_line(ax, x_post[0], label)
    if dated:
        _dates(c)
    c.set_xlabel("Date" if dated else "Period")
    fig.align_ylabels([a, b, c])
    return fig


def rdd(
    bins: Sequence[causal_pb.Series], fits: Sequence[causal_pb.Series], cutoff: float,
    bandwidth: float | None, running: str, outcome: str,
) -> Figure:  # fmt: skip
    """Binned means with their intervals on each side of the cutoff and the local fits."""
    fig, (ax,) = new_figure(3.0)
    if bandwidth:
        ax.axvspan(
            cutoff - bandwidth, cutoff + bandwidth, color=LIGHT_GREY, alpha=0.35, linewidth=0
        )
    for s, color in zip(bins, (ORANGE, BLUE), strict=False):
        x = _data.positions(s)
        ax.errorbar(
            x, s.values, yerr=[np.subtract(s.values, s.lower), np.subtract(s.upper, s.values)],
            fmt="o", markersize=3.5, color=color, elinewidth=0.8, alpha=0.9,
        )  # fmt: skip
    for s in fits:
        ax.plot(_data.positions(s), s.values, color=INK, linewidth=2.0)
    _start_line(ax, cutoff, f"cutoff {cutoff:g}")
    ax.set_xlabel(f"{running} (shaded: the bandwidth either side of the cutoff)")
    ax.set_ylabel(f"Mean {outcome} per bin")
    return fig


def overlap(treated: causal_pb.Series, control: causal_pb.Series) -> Figure:
    """Mirrored histograms of the propensity score: treated above the axis, control below."""
    fig, (ax,) = new_figure(2.6)
    x = _data.positions(treated)
    width = (x[1] - x[0]) * 0.92 if len(x) > 1 else 0.02
    ax.bar(x, treated.values, width=width, color=BLUE, label="treated")
    ax.bar(
        x,
        np.negative(control.values),
        width=width,
        color=ORANGE,
        label="control",
        hatch="///",
        edgecolor="white",
        linewidth=0,
    )
    _zero(ax)
    ax.set_xlim(0, 1)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v) * 100:.4g}%")
    ax.set_xlabel("Propensity score: P(treated | covariates)")
    ax.set_ylabel("Share of arm's units")
    _legend_above(ax)
    return fig


def love_plot(rows: Sequence[causal_pb.BalanceRow], threshold: float = 0.1) -> Figure:
    """|Standardised mean difference| per covariate before and after adjustment."""
    ordered = sorted(rows, key=lambda r: abs(r.smd_before))
    fig, (ax,) = new_figure(0.9 + 0.24 * len(ordered))
    y = list(range(len(ordered)))
    ax.scatter(
        [abs(r.smd_before) for r in ordered],
        y,
        s=30,
        facecolors="white",
        edgecolors=VERMILLION,
        linewidths=1.5,
        label="before",
        zorder=3,
    )
    ax.scatter([abs(r.smd_after) for r in ordered], y, s=30, color=BLUE, label="after", zorder=3)
    for yi, r in zip(y, ordered, strict=True):
        ax.plot(
            [abs(r.smd_before), abs(r.smd_after)], [yi, yi], color=LIGHT_GREY, linewidth=1, zorder=2
        )
    ax.axvline(threshold, color=INK, linestyle=(0, (4, 3)), linewidth=0.9)
    ax.set_yticks(y, [short_label(r.covariate) for r in ordered])
    ax.set_ylim(-0.7, len(ordered) - 0.3)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"|Standardised mean difference| (dashed: {threshold})")
    ax.grid(axis="y", visible=False)
    _legend_above(ax)
    return fig


def forest(rows: Sequence[causal_pb.Coefficient], xlabel: str) -> Figure:
    """Coefficients with their intervals, one row each (at most MAX_FOREST_ROWS)."""
    rows = list(rows)[:MAX_FOREST_ROWS]
    fig, (ax,) = new_figure(0.8 + 0.26 * len(rows))
    y = list(range(len(rows)))[::-1]
    for yi, r in zip(y, rows, strict=True):
        if math.isfinite(r.ci_lower) and math.isfinite(r.ci_upper):
            ax.plot([r.ci_lower, r.ci_upper], [yi, yi], color=BLUE, linewidth=1.8)
        ax.plot([r.estimate], [yi], marker="o", markersize=5, color=BLUE)
    ax.axvline(0, color=GREY, linewidth=0.8)
    ax.set_yticks(y, [short_label(r.name) for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    return fig


def weights(ws: causal_pb.WeightSet, label: str, top: int = 15) -> Figure:
    """The largest weights of a weight set as horizontal bars."""
    items = sorted(ws.weights.items(), key=lambda kv: -kv[1])[:top]
    items = [kv for kv in items if kv[1] > 0] or items
    fig, (ax,) = new_figure(0.7 + 0.22 * len(items))
    y = list(range(len(items)))[::-1]
    ax.barh(y, [v for _, v in items], color=BLUE, height=0.7)
    ax.set_yticks(y, [short_label(k) for k, _ in items])
    ax.set_xlabel(label)
    ax.grid(axis="y", visible=False)
    return fig
