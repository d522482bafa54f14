"""An org's geo × day history, built from memory's records: the first-party outcome per geo-day
and each channel's spend per geo-day. DesignExperiment powers designs on it and
PredictPerformance forecasts from its national totals.

First-party rows (the business's own orders, ingested with the generic source) carry the
outcome; platform rows carry spend. A platform's own conversions are never the outcome here:
they over-claim, and a design powered on them would be powered on the wrong thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mesh.runtime.aggregates import melt_geo_days
from surfacing_svc.errors import InsufficientData

__all__ = ["FIRST_PARTY_SOURCE", "GeoHistory", "frame_from_sums", "history_from_frame"]

FIRST_PARTY_SOURCE = "generic"
# A geo missing more than this share of its days is left out rather than filled with zeros.
_MAX_MISSING_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class GeoHistory:
    """A balanced geo × day panel of an org's history.

    Attributes
    ----------
    geos : tuple of str, length G
    dates : ndarray, shape (T,), datetime64[D], consecutive days
    outcome : ndarray, shape (G, T)
        First-party outcome (revenue or conversions) per geo-day.
    spend : mapping channel -> ndarray, shape (G, T)
        Each channel's spend per geo-day (platform rows, account currency).
    inputs : mapping channel -> ndarray, shape (G, T)
        Each channel's impressions (sends, for email) per geo-day: the response input of a
        channel without spend.
    outcome_name : str
        ``"revenue"`` or ``"conversions"``.
    warnings : tuple of str
    """

    geos: tuple[str, ...]
    dates: np.ndarray
    outcome: np.ndarray
    spend: Mapping[str, np.ndarray] = field(default_factory=dict)
    outcome_name: str = "revenue"
    warnings: tuple[str, ...] = ()
    inputs: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_geos(self) -> int:
        return len(self.geos)

    @property
    def n_days(self) -> int:
        return int(self.dates.size)

    def national(self) -> np.ndarray:
        """The outcome summed over geos, (T,)."""
        return self.outcome.sum(axis=0)

    def national_spend(self) -> dict[str, np.ndarray]:
        """Each channel's spend summed over geos, (T,) per channel."""
        return {c: s.sum(axis=0) for c, s in self.spend.items()}

    def national_input(self) -> dict[str, np.ndarray]:
        """Each channel's impressions (sends) summed over geos, (T,) per channel."""
        return {c: s.sum(axis=0) for c, s in self.inputs.items()}


_MEASURES = ("spend", "impressions", "conversions", "revenue")


def frame_from_sums(wide: pd.DataFrame) -> pd.DataFrame:
    """Memory's per day × geo sums (AggregateRecords' ``geo_days``) as the long frame
    :func:`history_from_frame` reads: one row per day × geo × source × channel."""
    long = melt_geo_days(wide, _MEASURES).rename(columns={"source": "data_source"})
    long.insert(0, "local_date", pd.to_datetime(long.pop("date").to_numpy(np.int64), unit="D"))
    return long


def history_from_frame(
    frame: pd.DataFrame, *, metric: str = "revenue", min_days: int = 28, min_geos: int = 1
) -> GeoHistory:
    """The geo × day history from a records frame (:func:`mesh.runtime.frames.records_to_frame`
    columns ``local_date``, ``data_source``, ``channel``, ``geo``, ``spend``, ``revenue``,
    ``conversions``).

    Parameters
    ----------
    frame : DataFrame
    metric : {"revenue", "conversions"}
        Which first-party figure is the outcome.
    min_days, min_geos : int
        Fewer days or geos with outcomes raise :class:`InsufficientData`.

    Raises
    ------
    InsufficientData
        No first-party outcome rows, or too few days or geos.
    """
    if metric not in ("revenue", "conversions"):
        raise ValueError(f"metric must be revenue or conversions, got {metric!r}")
    if frame.empty:
        raise InsufficientData("the org has no records in the history window", subject="history")
    data = frame.assign(day=pd.to_datetime(frame["local_date"]).dt.normalize())
    data["geo"] = data["geo"].astype(str)
    first_party = data["data_source"].astype(str).eq(FIRST_PARTY_SOURCE)
    outcome = data.loc[first_party & data["geo"].ne("") & data[metric].notna()]
    # The history spans the days the outcome is observed: first to last day with a non-zero
    # outcome in some geo. Memory's wide sums give a day with ad rows but no orders a
    # first-party 0 (or NaN); such a day is not a zero-revenue day.
    observed = outcome.loc[outcome[metric].ne(0.0), "day"]
    if observed.empty:
        raise InsufficientData(
            "no first-party outcome rows (the business's own orders per geo and day, ingested "
            "with the generic source) in the history window",
            subject="outcome",
        )
    dates = pd.date_range(observed.min(), observed.max(), freq="D")
    outcome = outcome.loc[outcome["day"].between(dates[0], dates[-1])]
    wide = outcome.pivot_table(index="geo", columns="day", values=metric, aggfunc="sum")
    wide = wide.reindex(columns=dates)
    complete = wide.notna().mean(axis=1)
    keep = complete >= 1.0 - _MAX_MISSING_SHARE
    media = data.loc[~first_party & data["channel"].astype(str).ne("")]
    warnings: list[str] = _outside(media["day"], dates)
    dropped = sorted(str(g) for g in wide.index[~keep.to_numpy()])
    if dropped:
        warnings.append(
            f"{len(dropped)} geo(s) left out for missing outcome days: {', '.join(dropped[:10])}"
        )
    wide = wide.loc[keep.to_numpy()]
    if len(dates) < min_days or len(wide.index) < min_geos:
        raise InsufficientData(
            f"the history has {len(dates)} days and {len(wide.index)} geos with first-party "
            f"outcomes; at least {min_days} days and {min_geos} geos are needed",
            subject="history",
        )
    geos = pd.Index(sorted(str(g) for g in wide.index))
    y = wide.reindex(index=geos).fillna(0.0).to_numpy(np.float64)
    spend: dict[str, np.ndarray] = {}
    inputs: dict[str, np.ndarray] = {}
    if not media.empty:
        g = geos.get_indexer(media["geo"])
        t = dates.get_indexer(media["day"])
        ok = (g >= 0) & (t >= 0)
        channels = media["channel"].astype(str).to_numpy()
        values = media["spend"].to_numpy(np.float64)
        # A frame without impressions (an export of spend alone) has no input to plan by.
        shown = (media["impressions"].to_numpy(np.float64) if "impressions" in media
                 else np.zeros(len(media)))  # fmt: skip
        for name in sorted(set(channels[ok])):
            sel = ok & (channels == name)
            grid = np.zeros((len(geos), len(dates)))
            np.add.at(grid, (g[sel], t[sel]), values[sel])
            spend[name] = grid
            grid = np.zeros((len(geos), len(dates)))
            np.add.at(grid, (g[sel], t[sel]), np.nan_to_num(shown[sel]))
            inputs[name] = grid
    return GeoHistory(
        geos=tuple(geos),
        dates=dates.to_numpy().astype("datetime64[D]"),
        outcome=y,
        spend=spend,
        outcome_name=metric,
        warnings=tuple(warnings),
        inputs=inputs,
    )


def _outside(media_days: pd.Series, dates: pd.DatetimeIndex) -> list[str]:
    """What the history leaves out: the days with ad rows before the first or after the last
    day with first-party outcomes (the history spans the outcome's own days)."""
    out = []
    days = pd.DatetimeIndex(media_days.unique())
    for side, sel, edge in (("before the first", days < dates[0], dates[0]),
                            ("after the last", days > dates[-1], dates[-1])):  # fmt: skip
        if sel.any():
            left = days[sel]
            out.append(
                f"ad rows on {len(left)} day(s) {side} day with first-party outcomes "
                f"({edge:%Y-%m-%d}) are left out of the history: {left.min():%Y-%m-%d}.."
                f"{left.max():%Y-%m-%d}"
            )
    return out
