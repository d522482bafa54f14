"""An org's geo × day history, built from memory's records: the first-party outcome per geo-day
and each channel's spend per geo-day. DesignExperiment powers designs on it and
PredictPerformance forecasts from its national totals.

First-party rows (the business's own orders, ingested with the generic source) carry the
outcome; platform rows carry spend. A platform's own conversions are never the outcome here:
they over-claim, and a design powered on them would be powered on the wrong thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mesh.runtime.aggregates import melt_geo_days
from mesh.runtime.cadence import looks_weekly
from surfacing_svc.errors import InsufficientData, InvalidRequest

__all__ = [
    "FIRST_PARTY_SOURCE", "GeoHistory", "frame_from_sums", "history_from_frame",
    "refuse_start_within",
]  # fmt: skip

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
    frame: pd.DataFrame, *, metric: str = "revenue", min_days: int = 28, min_geos: int = 1,
    switch: str = "",
) -> GeoHistory:  # fmt: skip
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
    switch : str
        How the caller asks for the other metric (its field or flag; ``{other}`` names it),
        said when the first-party rows carry only that one.

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
        raise InsufficientData(_no_outcome_message(data.loc[first_party], metric, switch),
                               subject="outcome")  # fmt: skip
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
            _too_few_message(len(dates), len(wide.index), min_days, min_geos, observed, dropped),
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


def _no_outcome_message(first_party: pd.DataFrame, metric: str, switch: str) -> str:
    """No first-party ``metric`` in the window, said with the fix: where the rows carry the
    other metric, ask for it (R18-F4: a conversions-only org was told it had no first-party
    rows, while `analyze --outcome conversions` worked on them)."""
    other = "conversions" if metric == "revenue" else "revenue"
    values = first_party[other] if other in first_party else pd.Series(dtype=np.float64)
    if bool(values.fillna(0.0).ne(0.0).any()):
        return (f"the first-party rows in the history window carry {other} but no {metric}: "
                f"ask for {other}" + (f" ({switch.format(other=other)})" if switch else ""))  # fmt: skip
    return (
        "no first-party outcome rows (the business's own orders per geo and day, ingested "
        "with the generic source) in the history window"
    )


def _too_few_message(
    n_days: int, n_geos: int, min_days: int, min_geos: int, observed: pd.Series,
    dropped: list[str],
) -> str:  # fmt: skip
    """Why the history is too small, in the user's terms (R18-F4, as attribution's
    ``too_few_message``): "1450 days and 0 geos ... at least 28 days and 1 geos" read as met
    for a weekly file whose every geo lacked six days in seven."""
    msg = (f"the history needs at least {min_days} days and {min_geos} geo(s) with a "
           f"first-party outcome on at least {1 - _MAX_MISSING_SHARE:.0%} of the days; it spans "
           f"{n_days} days and {n_geos} geo(s) qualify")  # fmt: skip
    days = observed.to_numpy().astype("datetime64[D]").astype(np.int64)
    day = looks_weekly(days)
    if day:
        msg += (f": every outcome date is a {day} ({np.unique(days).size} dates), so the data "
                "looks weekly; the history needs daily rows (an outcome per geo and day)")  # fmt: skip
    elif dropped:
        msg += (f": {len(dropped)} geo(s) left out because they lack an outcome on more than "
                f"{_MAX_MISSING_SHARE:.0%} of the days ({', '.join(dropped[:10])})")  # fmt: skip
    return msg


def refuse_start_within(start: dt.date | None, history: GeoHistory) -> None:
    """A test to run starts after the history it is powered on (R21-F7: a start inside or
    before it was powered and registered as a draft, and its estimate would read business as
    usual as a test)."""
    last = history.dates[-1].item()
    if start is not None and start <= last:
        raise InvalidRequest(
            f"start_date {start} is on or before the history's last day {last}: a test is run "
            f"after the history it is designed on; give a start_date from "
            f"{last + dt.timedelta(days=1)} (the default)",
            field="start_date",
        )
