"""Has the data under a stored analysis changed since it was made?

A verb that works from a stored analysis (PredictPerformance, DesignExperiment) reads the org's
history from memory as it is now, while the analysis's curves were fitted on the history as it
was then. Restated or late rows inside the analysis's window make the two differ, and the verb's
answer moves with no visible cause (audit R5-F2/F3). The analysis keeps what it read: the
national outcome of each day of its window (``AttributionResult.daily.actual_outcome``) and
each channel's spend over it. This module compares those with the history read now and words
the difference, so the verb can say "the data under this analysis changed; re-run analyze".

Reading the history now as the analysis read it (the attribution panel's rules,
``causal_svc.attribution.panel_sums``): the outcome is the first-party rows' sum over the geos
with an outcome in the window, less any geo with rows on fewer than 98% of its days (the panel
drops those); spend is summed over the same geos. Days on which some kept geo has no outcome
while others have one are not compared: the analysis may have filled them with estimates (its
partial-gap rule), so they would differ without any change in the data. Such a day compares
again once its missing rows arrive, and then a change is a real one (late rows).

National media (a TV file without a geo column: rows on the country's geo or on none) are read
as the panel reads them (``causal_svc.attribution.coverage``): spread over the kept geos by
each outcome geo's share of the window's outcome, so a channel bought nationally compares with
what the analysis counted, not as 0 (s18 V2-F2: every plan of such an org said "tv -> 0,
-100%" on unchanged data). When the outcome itself changed, the shares moved with it: the
national channels' spend per geo is then not compared (the outcome's line says the change).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mesh.runtime.drift_words import WINDOW_CHANGED
from mesh.runtime.national_geo import is_national

__all__ = ["DataDrift", "StoredReading", "data_drift", "unchecked"]

FIRST_PARTY_SOURCE = "generic"
# The attribution panel keeps a geo with rows on at least this share of the window's days.
_MIN_PRESENT_SHARE = 0.98
# Sums of the same rows in another order differ by float rounding, not by data.
_REL_TOL = 1e-6
_ABS_TOL = 0.01
_MAX_SPANS = 4


@dataclass(frozen=True, slots=True)
class StoredReading:
    """What a stored analysis read from the history.

    Attributes
    ----------
    analysis_id : str
    dates : ndarray (T,) datetime64[D]
        The days of its window, in order.
    outcome : ndarray (T,)
        The national outcome it read on each day.
    outcome_name : {"revenue", "conversions"}
    spend : mapping channel -> float
        Each channel's spend over the window, as the analysis reports it.
    """

    analysis_id: str
    dates: np.ndarray
    outcome: np.ndarray
    outcome_name: str = "revenue"
    spend: Mapping[str, float] = field(default_factory=dict)
    # Each channel's spend per date (T,) and per geo of ``geos``, as the analysis read it
    # (empty for an analysis stored before they were kept): spend moved between days or
    # geos keeps the channel's total (a reporting-day or region restatement, R33-F3).
    daily_spend: Mapping[str, np.ndarray] = field(default_factory=dict)
    geos: tuple[str, ...] = ()
    geo_spend: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DataDrift:
    """How the history read now differs from what an analysis read.

    Attributes
    ----------
    changed : tuple of (date, then, now)
        The days whose national outcome differs.
    spend : tuple of (channel, then, now)
        The channels whose spend over the window differs.
    compared_days : int
        Days compared (the window's, less those not comparable: see the module docstring).
    moved : tuple of (channel, where, count, example, then, now)
        The channels whose window total held but whose spend per day (``where`` "days") or
        per geo ("geos") differs: how many days or geos, and the one that moved most.
    """

    changed: tuple[tuple[dt.date, float, float], ...] = ()
    spend: tuple[tuple[str, float, float], ...] = ()
    compared_days: int = 0
    moved: tuple[tuple[str, str, int, str, float, float], ...] = ()

    @property
    def delta(self) -> float:
        """The outcome now less then, summed over the changed days."""
        return sum(now - then for _, then, now in self.changed)

    def warnings(self, answer: str, *, as_made: bool = False) -> tuple[str, ...]:
        """The difference in words, for an ``answer`` ("forecast", "design") read from the
        history as it is now, or (``as_made``: a plan, a recommendation) computed from the
        analysis as it was made; none when nothing changed."""
        tail = (
            f"this {answer} is computed from the analysis as it was made, not from the data as "
            "it is now; re-run analyze to refit"
            if as_made
            else f"this {answer} reads the data as it is now; re-run analyze to refit"
        )
        out = []
        if self.changed:
            n = len(self.changed)
            days = _spans([d for d, _, _ in self.changed])
            out.append(
                f"the outcome of {n} day{'s' if n != 1 else ''} in {WINDOW_CHANGED} ({days}, {self.delta:+,.0f} in all): {tail}"
            )
        if self.spend:
            moves = ", ".join(
                f"{c} {then:,.0f} -> {now:,.0f}" + (f" ({now / then - 1:+.1%})" if then else "")
                for c, then, now in self.spend
            )
            out.append(f"channel spend over {WINDOW_CHANGED} "
                       f"({moves}): {tail}")  # fmt: skip
        if self.moved:
            moves = "; ".join(
                f"{c}: {n} {where} differ, most {example} {then:,.0f} -> {now:,.0f}"
                for c, where, n, example, then, now in self.moved
            )
            out.append(f"channel spend in {WINDOW_CHANGED}, "
                       f"its total held (moved between days or geos: {moves}): {tail}")  # fmt: skip
        return tuple(out)


def unchecked(answer: str, why: str) -> str:
    """The line for an ``answer`` computed from the analysis as it was made when the history
    under its window could not be read (``why``: "CODE: details"): the answer stands."""
    return (f"whether the data under {WINDOW_CHANGED} could not be checked ({why}); this {answer} is computed from the analysis as it was "
            "made")  # fmt: skip


def _spans(days: list[dt.date]) -> str:
    """Days as runs: '2024-12-06..2024-12-08, 2024-12-20' (the first few runs, then a count)."""
    runs: list[list[dt.date]] = []
    for d in sorted(days):
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    text = [f"{r[0]}" if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs[:_MAX_SPANS]]
    if len(runs) > _MAX_SPANS:
        text.append(f"and {len(runs) - _MAX_SPANS} more runs")
    return ", ".join(text)


def _differs(then: np.ndarray, now: np.ndarray) -> np.ndarray:
    return np.abs(now - then) > _ABS_TOL + _REL_TOL * np.maximum(np.abs(then), np.abs(now))


def data_drift(
    frame: pd.DataFrame,
    stored: StoredReading,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> DataDrift:
    """Compare ``stored`` with the history ``frame`` (memory's sums as
    :func:`surfacing_svc.history.frame_from_sums` gives them) over the analysis's window.

    ``start``/``end``: the range the frame was read for (open: unbounded); days of the window
    outside it are not compared (the frame has no rows there). The spend is compared only when
    the frame covers the whole window.
    """
    dates = pd.DatetimeIndex(stored.dates.astype("datetime64[D]"))
    if dates.empty or frame.empty:
        return DataDrift()
    day = pd.to_datetime(frame["local_date"]).dt.normalize()
    inside = day.between(dates[0], dates[-1]).to_numpy()
    data = frame.loc[inside]
    t = dates.get_indexer(day[inside])
    geo = data["geo"].astype(str).to_numpy(object)
    first_party = data["data_source"].astype(str).eq(FIRST_PARTY_SOURCE).to_numpy()
    metric = stored.outcome_name
    y = data[metric].fillna(0.0).to_numpy(np.float64) if metric in data else np.zeros(len(data))
    fp = first_party & (geo != "") & (t >= 0)
    outcome_geos = np.unique(geo[fp & (y != 0.0)])
    if outcome_geos.size == 0:
        outcome_geos = np.array([], dtype=object)
    gi = pd.Index(outcome_geos).get_indexer(geo)
    ok = (gi >= 0) & (t >= 0)
    shape = (outcome_geos.size, len(dates))
    present = np.zeros(shape, dtype=bool)  # any row of the geo-day, of any source (the panel's)
    present[gi[ok], t[ok]] = True
    keep = present.mean(axis=1) >= _MIN_PRESENT_SHARE if shape[0] else np.zeros(0, bool)
    sel = ok & fp
    grid = np.zeros(shape)
    np.add.at(grid, (gi[sel], t[sel]), y[sel])
    grid_all = grid
    grid = grid[keep]
    national = grid.sum(axis=0)
    with_rows = (grid != 0.0).sum(axis=0)
    # A day some kept geo lacks while others have it: the analysis may have filled it.
    comparable = (with_rows == 0) | (with_rows == grid.shape[0])
    lo = pd.Timestamp(start) if start is not None else dates[0]
    hi = pd.Timestamp(end) if end is not None else dates[-1]
    comparable &= np.asarray((dates >= lo) & (dates <= hi))
    then = np.asarray(stored.outcome, np.float64)
    hits = np.flatnonzero(comparable & _differs(then, national))
    changed = tuple(
        (dates[i].date(), float(then[i]), float(national[i])) for i in hits
    )  # fmt: skip
    spend: list[tuple[str, float, float]] = []
    moved: tuple[tuple[str, str, int, str, float, float], ...] = ()
    if lo <= dates[0] and hi >= dates[-1] and stored.spend:
        # the panel's geos where the analysis kept them, else the ones its rules keep now
        kept = list(stored.geos) if stored.geos else outcome_geos[keep].tolist()
        media = (~first_party) & (t >= 0) & np.isin(geo, kept)
        chan = data["channel"].astype(str).to_numpy(object)
        amounts = data["spend"].fillna(0.0).to_numpy(np.float64)
        known = set(outcome_geos.tolist())
        nat = (
            (~first_party)
            & (t >= 0)
            & np.isin(geo, [g for g in np.unique(geo[~first_party]) if is_national(str(g), known)])
        )
        # the outcome's share of every geo with one, dropped geos included (the panel's)
        weights = np.clip(grid_all.sum(axis=1), 0.0, None)
        spread = _spread(chan[nat], t[nat], amounts[nat], kept, pd.Index(outcome_geos), weights)
        m_chan, m_t, m_geo, m_amt = (
            np.concatenate([a[media], b])
            for a, b in zip((chan, t, geo, amounts), spread, strict=True)
        )
        totals = pd.Series(m_amt).groupby(m_chan).sum()
        # the outcome moved the shares the national rows are spread by (a dropped geo's share
        # included): their channels' spread amounts move with it, which is no spend change
        # (review V4 F3); the outcome's own line says what changed
        no_geos = set(chan[nat].tolist()) if changed else set()
        for c, before in sorted(stored.spend.items()):
            now = float(totals.get(c, 0.0))
            if c not in no_geos and _differs(np.array([before]), np.array([now]))[0]:
                spend.append((c, float(before), now))
        held = sorted(set(stored.spend) - {c for c, _, _ in spend})
        moved = _moved(stored, held, dates, m_chan, m_t, m_geo, m_amt, no_geos)
    return DataDrift(changed=changed, spend=tuple(spend), compared_days=int(comparable.sum()),
                     moved=moved)  # fmt: skip


def _spread(
    chan: np.ndarray, t: np.ndarray, amounts: np.ndarray, kept: list[str],
    outcome_geos: pd.Index, weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """National media rows (``chan``, day index ``t``, ``amounts``) as the panel spreads them:
    one row per kept geo, each carrying its share of the outcome of every geo with one
    (``weights`` over ``outcome_geos``); a geo the panel dropped loses its part. Nothing when
    no geo has an outcome (the panel then leaves national rows out)."""
    total = float(weights.sum())
    if not len(chan) or not kept or total <= 0:
        empty = np.zeros(0)
        return empty.astype(object), empty.astype(np.int64), empty.astype(object), empty
    at = outcome_geos.get_indexer(kept)
    share = np.where(at >= 0, weights[np.maximum(at, 0)], 0.0) / total
    n, k = len(chan), len(kept)
    return (
        np.repeat(chan, k),
        np.repeat(t, k),
        np.tile(np.asarray(kept, dtype=object), n),
        np.repeat(amounts, k) * np.tile(share, n),
    )


def _moved(
    stored: StoredReading, channels: list[str], dates: pd.DatetimeIndex, chan: np.ndarray,
    t: np.ndarray, geo: np.ndarray, amounts: np.ndarray, no_geos: set[str],
) -> tuple[tuple[str, str, int, str, float, float], ...]:  # fmt: skip
    """The ``channels`` (window totals unchanged) whose spend per day or per geo, read now from
    the media rows (``chan``, day index ``t``, ``geo``, ``amounts``), differs from what the
    analysis kept; per channel its days first, then its geos (not for ``no_geos``)."""
    out = []
    gi = pd.Index(stored.geos).get_indexer(geo) if stored.geos else np.full(len(geo), -1)
    for c in channels:
        rows = chan == c
        parts = []
        then_days = stored.daily_spend.get(c)
        if then_days is not None and len(then_days) == len(dates):
            now = np.zeros(len(dates))
            np.add.at(now, t[rows], amounts[rows])
            labels = [f"{d:%Y-%m-%d}" for d in dates]
            parts.append(("days", np.asarray(then_days, np.float64), now, labels))
        then_geos = stored.geo_spend.get(c)
        if c not in no_geos and then_geos is not None and len(then_geos) == len(stored.geos):
            now = np.zeros(len(stored.geos))
            ok = rows & (gi >= 0)
            np.add.at(now, gi[ok], amounts[ok])
            parts.append(("geos", np.asarray(then_geos, np.float64), now, list(stored.geos)))
        for where, then, now, labels in parts:
            hits = np.flatnonzero(_differs(then, now))
            if hits.size:
                top = int(hits[np.argmax(np.abs(now[hits] - then[hits]))])
                out.append((c, where, int(hits.size), labels[top], float(then[top]),
                            float(now[top])))  # fmt: skip
    return tuple(out)
