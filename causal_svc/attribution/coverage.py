"""What the panel does with media the first-party outcome does not cover: days outside the
outcome's, national rows, and geos without an outcome (audit R18 F2).

A media file without a geo column (TV, print, OOH bought nationally: Robyn's shape) is stored
on the country's geo (``US``) or, without ``--country``, on no geo (``""``); the outcome is per
state (``US-CA``, ...). Such rows used to be left out with one line naming the geo ("1 geo(s)
with media but no first-party outcome left out: US"): the channel vanished from the table, its
spend from the model and its effect went to the other channels (R18: tv, 10.3M of 22.7M
spend, absent; search read 4.49 against a truth of 2.0).

**National rows are spread over the panel's geos** by each geo's share of the outcome over the
window, and a warning says so, naming the channels and their spend. Meridian's documentation
tells its users to do the same with national media (by population); the outcome's share is
used here as every geo has one (a population is known for US states only). The shares are
fixed over the window, so the spread adds no variation across geos that the outcome does not
already have: the channel is identified by its changes over time, which is what a national
buy offers. A row is national when its geo is the country every outcome geo belongs to
(``US`` for ``US-CA`` ...) or empty.

**Any other geo without an outcome** (a market the business does not sell in, or a geo spelled
unlike the outcome's) is left out as before, now with the channels and spend it carries; when
that spend is ``MATERIAL_SHARE`` (5%) or more of the window's, a REVIEW check says the other
channels' estimates may carry its effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc.attribution.geo_overlap import spelling_twins
from mesh.runtime.national_geo import is_national  # the panel's rule, shared with surfacing

__all__ = ["MATERIAL_SHARE", "OffPanel", "is_national", "media_off_panel", "uncovered"]

MATERIAL_SHARE = 0.05


def _day_text(day: int | np.integer) -> str:
    return str(np.datetime64(int(day), "D"))


def uncovered(
    day: np.ndarray, geo: np.ndarray, span: np.ndarray, geos: set[str], silent_days: int
) -> list[str]:
    """What the panel leaves out because the outcome does not cover it, as warnings.

    ``day``/``geo``: the media rows with spend or impressions (days since 1970-01-01);
    ``span``: the outcome's first and last day; ``geos``: the geos with an outcome;
    ``silent_days``: days inside the span on which no geo has a non-zero outcome. The panel
    spans the outcome's days only: ad exports routinely run a few days past the orders export
    (and may carry stray future-dated rows), and such days read as zero sales would say spend
    sold nothing.
    """
    warnings: list[str] = []
    lo, hi = int(span[0]), int(span[1])
    outside = (day < lo) | (day > hi)
    if outside.any():
        days = np.unique(day[outside])
        cells = np.unique(np.stack([day[outside], pd.factorize(geo[outside])[0]]), axis=1)
        sides = [f"{n} {side} it ({_day_text(d.min())}..{_day_text(d.max())})"
                 for side, d in (("before", days[days < lo]), ("after", days[days > hi]))
                 for n in [d.size] if n]  # fmt: skip
        warnings.append(
            f"media on {days.size} day(s) outside the first-party outcome's days "
            f"{_day_text(lo)}..{_day_text(hi)} left out ({' and '.join(sides)}; "
            f"{cells.shape[1]} geo-day(s) with spend or impressions): the panel spans the days "
            "the outcome is observed, as a day without outcome rows is not a day without sales"
        )
    stray = sorted({str(g) for g in geo[~outside]} - geos)
    if stray:
        warnings.append(
            f"{len(stray)} geo(s) with media but no first-party outcome left out: "
            f"{', '.join(stray[:10])}"
        )
    if silent_days:
        warnings.append(
            f"{silent_days} day(s) inside the outcome's days have no first-party outcome in any "
            "geo: the fit leaves them out as unobserved; check the outcome export for missing "
            "days"
        )
    return warnings


@dataclass(frozen=True, slots=True)
class OffPanel:
    """The media rows as the panel reads them (national rows spread over the geos, other
    geos without an outcome dropped), the warnings that say what was done, and the share of
    the window's spend left out (``left_out``) with the check's words when it is material."""

    media: pd.DataFrame
    warnings: list[str]
    left_out: float
    check: str


def _pct(x: float) -> str:
    return f"{x:.1%}" if x < 0.1 else f"{x:.0%}"


def _amounts(rows: pd.DataFrame, total: float, currency: str) -> str:
    """Each channel of ``rows`` with its spend and share of ``total`` (impressions where it
    has no spend), largest first."""
    by = rows.groupby(rows["channel"].astype(str))[["spend", "impressions"]].sum()
    by = by.sort_values(["spend", "impressions"], ascending=False)
    unit = f" {currency}" if currency else ""
    parts = []
    for ch, r in by.iterrows():
        if r["spend"] > 0:
            share = f", {_pct(r['spend'] / total)} of the window's spend" if total > 0 else ""
            parts.append(f"{ch} {r['spend']:,.0f}{unit}{share}")
        elif r["impressions"] > 0:
            parts.append(f"{ch} ({r['impressions']:,.0f} impressions, no spend)")
    return "; ".join(parts)


def media_off_panel(
    media: pd.DataFrame,
    outcome_geos: list[str],
    kept: list[str],
    outcome_by_geo: np.ndarray,
    span: tuple[pd.Timestamp, pd.Timestamp],
    currency: str = "",
) -> OffPanel:
    """National media spread over the ``kept`` geos and other geos without an outcome left
    out, said (module docstring). ``media``: the long media rows (``geo``, ``date`` as
    normalised timestamps, ``channel``, ``spend``, ``impressions``, ``platform_outcome``);
    ``outcome_geos``: every geo with an outcome; ``kept``: the panel's geos, with
    ``outcome_by_geo`` their outcome over the window; ``span``: the window's first and last
    day."""
    geo = media["geo"].astype(str)
    live = (media["spend"].to_numpy(np.float64) != 0) | (
        media["impressions"].to_numpy(np.float64) != 0
    )
    inside = live & (media["date"] >= span[0]).to_numpy() & (media["date"] <= span[1]).to_numpy()
    off = inside & ~geo.isin(outcome_geos).to_numpy()
    if not off.any():
        return OffPanel(media, [], 0.0, "")
    total = float(media.loc[inside, "spend"].sum())
    # per distinct geo, not per row (a year of 50 geos' media is ~0.5 M rows)
    outcome_set = set(outcome_geos)
    nationals = [g for g in geo[off].unique() if is_national(g, outcome_set)]
    national = off & geo.isin(nationals).to_numpy()
    stray = off & ~national
    warnings: list[str] = []
    out = media.loc[~off]
    weights = np.clip(np.asarray(outcome_by_geo, dtype=np.float64), 0.0, None)
    if national.any() and kept and weights.sum() > 0:
        share = weights / weights.sum()
        rows = media.loc[national]
        spread = rows.iloc[np.repeat(np.arange(len(rows)), len(kept))].copy()
        spread["geo"] = np.tile(np.asarray(kept, dtype=object), len(rows))
        factor = np.tile(share, len(rows))
        for col in ("spend", "impressions", "platform_outcome"):
            if col in spread.columns:
                spread[col] = spread[col].to_numpy(np.float64) * factor
        out = pd.concat([out, spread], ignore_index=True)
        where = sorted({g or "no geo" for g in geo[national].unique()})
        warnings.append(
            f"national media ({', '.join(where)}: rows without a state or region) spread over "
            f"the {len(kept)} geos with an outcome by each one's share of it over the window, as "
            f"Meridian's documentation does with national media: {_amounts(rows, total, currency)}; "
            "the shares are fixed, so the effect is read from its changes over time; ingest "
            "the spend per geo where the platform reports it for a sharper estimate"
        )
    elif national.any():
        stray |= national
    if not stray.any():
        return OffPanel(out, warnings, 0.0, "")
    rows = media.loc[stray]
    left = float(rows["spend"].sum())
    share = left / total if total > 0 else 0.0
    names = sorted({g or "no geo" for g in geo[stray].unique()})
    warnings.append(
        f"media on {len(names)} geo(s) without a first-party outcome left out "
        f"({', '.join(names[:10])}): {_amounts(rows, total, currency)}; its effect can be "
        "credited to the channels modelled: ingest the outcome for those geos, or spell the "
        "media's geos as the outcome's (a national file: no geo column, with --country)"
        + _twins_said(names, outcome_geos)
    )
    check = ""
    if share >= MATERIAL_SHARE:
        check = (
            f"{_pct(share)} of the window's spend is on geo(s) without a first-party outcome "
            f"({', '.join(names[:5])}) and left out of the model; see the warnings: the "
            "channels modelled may carry its effect"
        )
    return OffPanel(out, warnings, share, check)


def _twins_said(names: Sequence[str], outcome_geos: Sequence[str]) -> str:
    """The media geos that print as an outcome geo but differ in Unicode form or case, shown
    as repr: 'spell them as the outcome's' cannot be acted on when both print alike."""
    twins = spelling_twins(names, outcome_geos)
    if not twins:
        return ""
    return (
        f"; {len(twins)} of them differ from an outcome geo only in Unicode form or letter "
        f"case ({'; '.join(twins[:5])}): re-ingest the media (ingestion now "
        "stores Unicode forms alike, and a region name its country's calendar knows in that "
        "spelling), or spell them as the outcome's"
    )
