"""Geo-days without first-party outcome rows on a day other geos have them: missing, not zero.

An orders export that lost one region's day reads, in a dense panel, as a day on which that
region sold nothing. In the log model that is an outlier of several log points on one geo-day,
and it drags the day's national row down with the spend unchanged (the last session measured
the whole-day case: eight zeroed days took every channel's iROAS to ~0). A day with no outcome
in any geo is left out of the fit already (:func:`.fit.gap_days`); this module handles the
partial case in the panel, before the fit:

- a day on which fewer than half the geos have outcome rows is made a whole-day gap (every
  geo's outcome 0, so the fit leaves the day out as unobserved): the few geos present cannot
  say what the rest sold;
- otherwise each geo-day without rows is filled with an estimate: the outcome of the geos
  present that day times the geo's ratio to them on the ``WINDOW`` days either side on which
  all of them and it have rows. The day's national row is then the observed geos' scaled up,
  not short by a region, and the geo row is the geo's usual share of the day instead of a zero.

A real zero stays: a geo-day whose rows are present with 0 (``present`` says which rows exist)
is a day without sales. So does an absent day where it may be one: a geo lacking rows on more
than ``MAX_ABSENT_SHARE`` of the days keeps its zeros (the panel drops such a geo when it builds
from rows; from memory's sums, whose rows other sources also make, it stays, and an export that
leaves out days without orders is the likelier reading than lost days) — unless its median
day has ``MIN_ORDERS`` first-party orders or more (a day without any is then below 1%
likely under Poisson counts) and it lacks rows on at most ``MAX_ABSENT_SHARE_BUSY`` of the
days: a busy region whose export lost a week.

From memory's sums (the service's path) a first-party row is known by a non-zero sum, or by the
``source:channel:records`` count memory sends for the pairs that have a row whose sums are all
zero, so a day without sales stays a real zero there too.

Measured (demo worlds, seeds 0-2, the sums with first-party rows lost; the paid channels'
|iROAS change| from the world as exported, mean): 8 geo-days scattered over the 4 largest geos
0.27 / 0.51 / 0.43 read as zero, 0.02 / 0.05 / 0.04 read as missing; the largest geo's week
0.11 / 0.18 / 0.18 and 0.01 / 0.05 / 0.06.

Each fill is said — a warning naming the geos and dates, and a REVIEW health check, as for a
whole-day gap: the window's outcome totals hold estimates, and the export has a hole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_ABSENT_SHARE", "PartialGaps", "fill_partial_gaps"]

MAX_ABSENT_SHARE = 0.02
MAX_ABSENT_SHARE_BUSY = 0.2
MIN_ORDERS = 5.0
MIN_PRESENT_SHARE = 0.5
WINDOW = 14


@dataclass(frozen=True, slots=True)
class PartialGaps:
    """The outcome with the partial gaps handled, what was done, and the words for it."""

    outcome: np.ndarray  # (G, T)
    filled: np.ndarray  # (G, T) bool: the geo-days filled with an estimate
    emptied: np.ndarray  # (T,) bool: days made whole-day gaps (too few geos present)
    warnings: tuple[str, ...]
    check: str | None  # the health check's message, None when nothing was done


def _spans(days: np.ndarray, dates: np.ndarray) -> list[str]:
    """Day indexes as runs of dates: '2024-03-05', '2024-03-07..2024-03-09'."""
    runs = np.split(days, np.flatnonzero(np.diff(days) > 1) + 1)
    return [str(dates[r[0]]) if r.size == 1 else f"{dates[r[0]]}..{dates[r[-1]]}" for r in runs]


def _estimate(y: np.ndarray, present: np.ndarray, g: int, t: int, ok: np.ndarray) -> float:
    """Geo ``g``'s outcome on day ``t`` from the geos present that day (``ok`` marks them):
    their outcome times g's ratio to them over the nearby days all of them and g have rows.
    Without such days, g's share over every day with rows in g and in them."""
    lo, hi = max(t - WINDOW, 0), min(t + WINDOW + 1, y.shape[1])
    for a, b in ((lo, hi), (0, y.shape[1])):
        days = np.arange(a, b)
        days = days[present[g, a:b] & present[ok][:, a:b].all(axis=0)]
        peers = float(y[ok][:, days].sum())
        if days.size and peers > 0:
            return float(y[ok, t].sum()) * float(y[g, days].sum()) / peers
    return 0.0


def fill_partial_gaps(
    y: np.ndarray,
    present: np.ndarray,
    geos: tuple[str, ...],
    dates: np.ndarray,
    orders: np.ndarray | None = None,
) -> PartialGaps:
    """The outcome ``y`` (G, T) with the geo-days ``present`` marks as without first-party rows
    read as missing (module docstring); ``orders`` (G, T): first-party orders, where known."""
    n_geos = y.shape[0]
    count = present.sum(axis=0)
    some = count > 0
    emptied = some & (count < MIN_PRESENT_SHARE * n_geos)
    absent_share = (~present & some[None]).sum(axis=1) / max(int(some.sum()), 1)
    eligible = absent_share <= MAX_ABSENT_SHARE
    if orders is not None:
        busy = np.array(
            [np.median(o[p]) if p.any() else 0.0 for o, p in zip(orders, present, strict=True)]
        )
        eligible |= (busy >= MIN_ORDERS) & (absent_share <= MAX_ABSENT_SHARE_BUSY)
    cells = ~present & (some & ~emptied)[None] & eligible[:, None]
    out = y.copy()
    out[:, emptied] = 0.0
    for g, t in zip(*np.nonzero(cells), strict=True):
        out[g, t] = _estimate(y, present, int(g), int(t), present[:, t])
    warnings: list[str] = []
    if cells.any():
        per_geo = [f"{geos[g]} on {', '.join(_spans(np.flatnonzero(cells[g]), dates)[:4])}"
                   for g in np.flatnonzero(cells.any(axis=1))]  # fmt: skip
        more = f" and {len(per_geo) - 5} more geos" if len(per_geo) > 5 else ""
        share = float(out[cells].sum() / max(float(out.sum()), 1e-300))
        warnings.append(
            f"{int(cells.sum())} geo-day(s) have no first-party outcome rows while other geos "
            f"have them that day ({'; '.join(per_geo[:5])}{more}): read as missing, not as zero "
            "sales, each is filled with its geo's usual ratio to the geos present that day "
            f"(the fills are {share:.2%} of the window's outcome); re-export those days, or, "
            "where `liftos ingest` rejected their rows (its 'rejected' lines name them), "
            "correct and re-send those rows (if a geo truly sold nothing on one, the fill "
            "overstates it by that much)"
        )
    if emptied.any():
        spans = _spans(np.flatnonzero(emptied), dates)
        warnings.append(
            f"{int(emptied.sum())} day(s) have first-party outcome rows in fewer than half the "
            f"geos ({', '.join(spans[:4])}{' and more' if len(spans) > 4 else ''}): the fit "
            "leaves them out as unobserved, as a day without outcome in any geo; re-export "
            "those days, or correct and re-send the rows `liftos ingest` rejected there"
        )
    lacks = [f"{int(cells.sum())} geo-day(s) on days other geos have (filled with estimates)"
             if cells.any() else "", f"{int(emptied.sum())} day(s) in most geos (left out)"
             if emptied.any() else ""]  # fmt: skip
    check = None
    if warnings:
        check = (
            f"the outcome export lacks {' and '.join(x for x in lacks if x)}: the outcome "
            "totals hold estimates; see the warnings for the geos and dates"
        )
    return PartialGaps(out, cells, emptied, tuple(warnings), check)
