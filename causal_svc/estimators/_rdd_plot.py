"""What an RD plot shows: binned means of the outcome on each side of the cutoff and the local
polynomial fits inside the bandwidth, as :class:`~.result.Series` with ``positions``.

Bins are evenly spaced over each side's range (rdplot's ``es`` scheme with a fixed count, so
the plot is cheap and the same for every caller); the fits use the estimate's own order,
kernel and bandwidth, so the jump the plot shows is the conventional estimate.
"""

from __future__ import annotations

import numpy as np

from ._rdd_local import kernel_weights
from .result import Series

BINS_PER_SIDE = 20
FIT_POINTS = 50


def rdd_plot_series(
    x: np.ndarray, y: np.ndarray, c: float, h: float, p: int, kernel: str, *, z: float,
    weights: np.ndarray | None = None,
) -> tuple[Series, ...]:  # fmt: skip
    """``bins:below`` / ``bins:above`` (mean outcome per bin at the bin's mean running
    variable; ``lower``/``upper`` are ± ``z`` standard errors of the bin mean) and
    ``fit:below`` / ``fit:above`` (the weighted local polynomial of order ``p`` on [c − h, c)
    and [c, c + h], evaluated from the cutoff to the bandwidth's edge or the last data point)."""
    out: list[Series] = []
    for side, mask in (("below", x < c), ("above", x >= c)):
        xs, ys = x[mask], y[mask]
        lo, hi = float(xs.min()), float(xs.max())
        out.append(_bins(f"bins:{side}", xs, ys, lo, hi, z))
        w = kernel_weights(xs, c, h, kernel)
        if weights is not None:
            w = w * weights[mask]
        inside = w > 0
        if inside.sum() > p:
            coef = np.polyfit(xs[inside] - c, ys[inside], p, w=np.sqrt(w[inside]))
            # From the cutoff (the fits' limits there are the estimate) to the bandwidth's edge.
            edge = (max(c - h, lo), c) if side == "below" else (c, min(c + h, hi))
            grid = np.linspace(edge[0], edge[1], FIT_POINTS)
            fitted = np.polyval(coef, grid - c)
            out.append(
                Series(
                    f"fit:{side}",
                    tuple(f"{g:.6g}" for g in grid),
                    tuple(float(v) for v in fitted),
                    positions=tuple(float(g) for g in grid),
                )
            )
    return tuple(out)


def _bins(name: str, xs: np.ndarray, ys: np.ndarray, lo: float, hi: float, z: float) -> Series:
    edges = np.linspace(lo, hi, BINS_PER_SIDE + 1)
    which = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, BINS_PER_SIDE - 1)
    count = np.bincount(which, minlength=BINS_PER_SIDE)
    keep = count > 0
    mean_x = np.bincount(which, weights=xs, minlength=BINS_PER_SIDE)[keep] / count[keep]
    mean_y = np.bincount(which, weights=ys, minlength=BINS_PER_SIDE)[keep] / count[keep]
    sq = np.bincount(which, weights=ys**2, minlength=BINS_PER_SIDE)[keep] / count[keep]
    n = count[keep]
    se = np.sqrt(np.maximum(sq - mean_y**2, 0.0) * n / np.maximum(n - 1, 1) / n)
    return Series(
        name,
        tuple(f"{v:.6g}" for v in mean_x),
        tuple(float(v) for v in mean_y),
        tuple(float(v) for v in mean_y - z * se),
        tuple(float(v) for v in mean_y + z * se),
        positions=tuple(float(v) for v in mean_x),
    )
