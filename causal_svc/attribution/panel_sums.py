"""The :class:`~causal_svc.attribution.panel.MediaPanel` from memory's sums
(``AggregateRecords``: wide per day × geo, long per day × campaign), as the service reads
them: where the outcome is observed, which media days fall outside it, the platforms' claims
and the campaigns' arrays. The long-frame builder and the shared assembly live in
:mod:`causal_svc.attribution.panel`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData
from mesh.runtime.aggregates import MEASURES, RECORDS, melt_geo_days

from .panel import (
    FIRST_PARTY_SOURCE,
    MIN_DAYS,
    MIN_GEOS,
    MediaPanel,
    _assemble,
    _CampaignArrays,
    _Grids,
    _uncovered,
    no_outcome_message,
    panel_from_frames,
    too_few_message,
)

__all__ = ["panel_from_aggregates", "spend_outside"]


def panel_from_aggregates(
    geo_days: pd.DataFrame,
    campaign_days: pd.DataFrame | None = None,
    *,
    outcome_name: str = "revenue",
    channels: tuple[str, ...] = (),
    national: Mapping[str, np.ndarray] | None = None,
    currency: str = "",
) -> MediaPanel:
    """The panel from memory's sums (``AggregateRecords``): first-party rows give the outcome,
    platform rows the media; what the platforms claim comes from the campaign sums when they
    are given (platform claims per geo-day are not needed). The panel spans the days from the
    first to the last non-zero outcome and the geos with one; media outside them is left out,
    with a warning that counts it.

    Parameters
    ----------
    geo_days : DataFrame
        Memory's wide form (``date``, ``geo``, one ``source:channel:sum`` column per sum; see
        :mod:`mesh.runtime.aggregates`), or long (``date``, ``geo``, ``source``, ``channel``,
        ``spend``, ``impressions``, ``conversions``, ``revenue``); ``date`` in days since
        1970-01-01. The wide form is built with numpy alone (~30 ms for a year of 50 geos, where
        melting it and pivoting in pandas took ~1 s); both give the same panel.
    campaign_days : DataFrame, optional
        Long, with ``campaign_id`` for ``geo``.
    outcome_name : {"revenue", "conversions"}
    currency : str
        The sums' one currency (ISO code), for the spend unit check's prices; "" unknown.
    """
    if "source" in geo_days.columns:
        panel = _panel_from_long(geo_days, campaign_days, outcome_name, channels, currency)
    else:
        panel = _panel_from_wide(geo_days, campaign_days, outcome_name, channels, currency)
    if national:
        n = panel.n_days
        panel = replace(panel, national={k: np.asarray(v)[:n] for k, v in national.items()})
    return panel


def _platform_campaigns(campaign_days: pd.DataFrame | None) -> pd.DataFrame | None:
    if campaign_days is None or not len(campaign_days):
        return None
    return campaign_days.loc[~campaign_days["source"].astype(str).eq(FIRST_PARTY_SOURCE)]


def _claimed(
    panel: MediaPanel, camps: pd.DataFrame, outcome_name: str, day: np.ndarray
) -> MediaPanel:
    """Platform claims per channel from the campaign sums (the geo sums may leave them out),
    over the panel's days (``day``: days since 1970-01-01), and the share of each channel's
    and campaign's spend whose claims were not reported (:func:`_unreported_shares`)."""
    first = int(panel.dates[0].astype(np.int64))
    inside = (day >= first) & (day < first + panel.n_days)
    rows = camps.loc[inside]
    channel = rows["channel"].astype(str).to_numpy(object)
    platform_outcome = rows[outcome_name].to_numpy(np.float64)
    claimed = {c: float(platform_outcome[channel == c].sum()) for c in panel.channels}
    panel = replace(panel, platform_outcome=np.array([claimed[c] for c in panel.channels]))
    if UNREPORTED[0] not in rows.columns:  # a memory from before the flag: all reported
        return panel
    campaign = rows["campaign_id"].astype(str).to_numpy(object)
    return replace(
        panel,
        platform_unreported_share=_unreported_shares(rows, channel, panel.channels),
        campaign_platform_unreported_share=_unreported_shares(rows, campaign, panel.campaigns),
    )


# campaign_days' columns of the records whose platform conversions were not reported
UNREPORTED = ("unreported_records", "unreported_spend")


def _unreported_shares(rows: pd.DataFrame, key: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Per name: the share of its rows' spend that is unreported — of its records, where it
    has no spend (a channel of sends) — in [0, 1]; 0 for a name without rows."""
    sums = (
        rows[["spend", "records", *UNREPORTED]]
        .astype(np.float64)
        .groupby(key)
        .sum()
        .reindex(list(names), fill_value=0.0)
    )
    spend, records = sums["spend"].to_numpy(), sums["records"].to_numpy()
    gone_spend, gone_records = sums["unreported_spend"].to_numpy(), sums[UNREPORTED[0]].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            spend > 0, gone_spend / spend, np.where(records > 0, gone_records / records, 0.0)
        )
    return np.clip(np.nan_to_num(share), 0.0, 1.0)


def _panel_from_long(
    geo_days: pd.DataFrame,
    campaign_days: pd.DataFrame | None,
    outcome_name: str,
    channels: tuple[str, ...],
    currency: str = "",
) -> MediaPanel:
    def dated(f: pd.DataFrame) -> pd.DataFrame:
        days = f["date"].to_numpy(np.int64).astype("datetime64[D]")
        return f.assign(date=pd.to_datetime(days))

    geo = dated(geo_days)
    first = geo["source"].astype(str).eq(FIRST_PARTY_SOURCE)
    fp = _observed(geo.loc[first], outcome_name)
    other = "conversions" if outcome_name == "revenue" else "revenue"
    if fp.empty and geo.loc[first, other].to_numpy(np.float64).any():
        raise InsufficientData(no_outcome_message(outcome_name, other_measure=True),
                               subject="outcome")  # fmt: skip
    recorded = fp[list(MEASURES)].to_numpy(np.float64).any(axis=1)
    if RECORDS in fp.columns:
        recorded |= fp[RECORDS].to_numpy(np.float64) > 0
    outcome = pd.DataFrame({"geo": fp["geo"], "date": fp["date"], "value": fp[outcome_name],
                            "observed": recorded, "orders": fp["conversions"]})  # fmt: skip
    plat = geo.loc[~first]
    media = pd.DataFrame({
        "geo": plat["geo"], "date": plat["date"], "channel": plat["channel"],
        "spend": plat["spend"], "impressions": plat["impressions"],
        "platform_outcome": plat[outcome_name],
    })  # fmt: skip
    cd = _platform_campaigns(campaign_days)
    camps, camp_days = None, np.zeros(0, dtype=np.int64)
    if cd is not None:
        camp_days = cd["date"].to_numpy(np.int64)
        cd = dated(cd)
        camps = pd.DataFrame({
            "campaign": cd["campaign_id"], "channel": cd["channel"], "date": cd["date"],
            "spend": cd["spend"], "impressions": cd["impressions"],
            "platform_outcome": cd[outcome_name],
        })  # fmt: skip
    panel = panel_from_frames(outcome, media, outcome_name=outcome_name, campaigns=camps,
                              channels=channels, currency=currency)  # fmt: skip
    if cd is None:
        return panel
    return _claimed(panel, cd, outcome_name, camp_days)


def _observed(fp: pd.DataFrame, outcome_name: str) -> pd.DataFrame:
    """Memory's first-party rows over the days and geos the outcome is observed: from its
    first to its last non-zero day, in geos with a non-zero outcome. Sums carry no row
    presence (a (day, geo) another source has reads 0 here), so a zero at the edges is no
    outcome, not zero sales; inside the span zeros stay (a quiet geo-day)."""
    seen = fp[outcome_name].to_numpy(np.float64) != 0
    if not seen.any():
        return fp.iloc[:0]
    days = fp["date"].to_numpy()[seen]
    geos = fp["geo"].astype(str)
    inside = (fp["date"] >= days.min()) & (fp["date"] <= days.max())
    return fp.loc[inside & geos.isin(set(geos[seen]))]


def _wide_pairs(wide: pd.DataFrame) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """(source, channel) → sum name (or ``records``) → the wide table's column, in column
    order."""
    pairs: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for col in wide.columns:
        parts = str(col).split(":")
        if len(parts) == 3 and (parts[2] in MEASURES or parts[2] == RECORDS):
            pairs.setdefault((parts[0], parts[1]), {})[parts[2]] = wide[col].to_numpy(np.float64)
    return pairs


def _recorded(cols: dict[str, np.ndarray], zero: np.ndarray) -> np.ndarray:
    """1.0 where a first-party (source, channel) has a record in the wide row: a non-zero sum,
    or its records count where memory sends one (sums alone carry no row presence)."""
    on = cols.get(RECORDS, zero) > 0
    for m in MEASURES:
        if m in cols:
            on |= cols[m] != 0
    return on.astype(np.float64)


def _panel_from_wide(
    wide: pd.DataFrame,
    campaign_days: pd.DataFrame | None,
    outcome_name: str,
    channels: tuple[str, ...],
    currency: str = "",
) -> MediaPanel:
    """:func:`panel_from_frames` on memory's wide sums, with the same checks in the same order
    and the same panel, in numpy: every (day, geo) row stands for a first-party and a platform
    row of each (source, channel), as melting it would give, over the days and geos the
    outcome is observed (:func:`_observed`)."""
    pairs = _wide_pairs(wide) if len(wide) else {}
    first_party = [cols for (src, _), cols in pairs.items() if src == FIRST_PARTY_SOURCE]
    platform = [(ch, cols) for (src, ch), cols in pairs.items() if src != FIRST_PARTY_SOURCE]
    if not first_party:
        raise InsufficientData(
            "no first-party outcome rows in the window: attribution needs the business's own "
            "orders or revenue per geo and day (e.g. ingested with the generic source)",
            subject="outcome",
        )
    zero = np.zeros(len(wide))
    if not platform or sum(
        float(np.abs(c.get("spend", zero)).sum() + np.abs(c.get("impressions", zero)).sum())
        for _, c in platform
    ) == 0:  # fmt: skip
        raise InsufficientData("no media spend or impressions in the window", subject="spend")
    day = wide["date"].to_numpy(np.int64)
    geo_names = np.array([str(g) for g in wide["geo"].to_numpy(object)], dtype=object)
    y_cols = [c[outcome_name] for c in first_party if outcome_name in c]
    seen = np.zeros(len(wide), dtype=bool)
    for v in y_cols:
        seen |= v != 0
    if not seen.any():
        other = "conversions" if outcome_name == "revenue" else "revenue"
        has_other = any(np.any(c[other] != 0) for c in first_party if other in c)
        raise InsufficientData(no_outcome_message(outcome_name, other_measure=has_other),
                               subject="outcome")  # fmt: skip
    # The outcome's days and geos (see _observed); media outside them is left out, and said.
    first_day, last_day = int(day[seen].min()), int(day[seen].max())
    outcome_geos = set(geo_names[seen].tolist())
    active = np.zeros(len(wide), dtype=bool)
    for _, c in platform:
        active |= (c.get("spend", zero) != 0) | (c.get("impressions", zero) != 0)
    if set(geo_names[active].tolist()) - outcome_geos:
        # media on geos without an outcome: the long rows' builder spreads national rows over
        # the geos and names the rest with its channels and spend (coverage.py, R18 F2)
        return _panel_from_long(melt_geo_days(wide), campaign_days, outcome_name, channels,
                                currency)  # fmt: skip
    n_days = last_day - first_day + 1
    warnings = _uncovered(
        day[active], geo_names[active], np.array([first_day, last_day]), outcome_geos,
        n_days - np.unique(day[seen]).size,
    )  # fmt: skip
    inside = (day >= first_day) & (day <= last_day) & np.isin(geo_names, list(outcome_geos))
    geos_all = sorted(outcome_geos)
    code = {g: i for i, g in enumerate(geos_all)}
    g_all = np.fromiter((code.get(g, -1) for g in geo_names), np.int64, len(geo_names))
    t = day - first_day
    present = np.zeros((len(geos_all), n_days), dtype=bool)
    present[g_all[inside], t[inside]] = True
    # A geo missing more than 2% of its days cannot sit in a balanced panel without inventing
    # outcomes; a few missing days are read as zero (a day with no orders has no row).
    keep = present.mean(axis=1) >= 0.98
    dropped = [g for g, k in zip(geos_all, keep, strict=True) if not k]
    if dropped:
        warnings.append(
            f"{len(dropped)} geo(s) dropped for missing outcome days: {', '.join(dropped[:10])}"
        )
    geos = tuple(g for g, k in zip(geos_all, keep, strict=True) if k)
    if n_days < MIN_DAYS or len(geos) < MIN_GEOS:
        raise InsufficientData(
            too_few_message(n_days, len(geos), geos_all, day[seen], dropped),
            subject="date_range",
        )
    kept = np.cumsum(keep) - 1  # geo code → row of the kept geos
    rows = inside & keep[np.maximum(g_all, 0)]
    g, t = kept[g_all[rows]], t[rows]
    shape = (len(geos), n_days)

    def grid(values: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(shape)
        for v in values:  # column order, as the long rows' sum adds them
            np.add.at(out, (g, t), v[rows])
        return out

    y = grid(y_cols)
    fp_rows = grid([_recorded(c, zero) for c in first_party]) > 0
    orders = grid([c["conversions"] for c in first_party if "conversions" in c])
    names = tuple(sorted({ch for ch, _ in platform}))

    def by_channel(measure: str) -> np.ndarray:
        return np.stack([grid([c[measure] for ch, c in platform if ch == name and measure in c])
                         for name in names])  # fmt: skip

    grids = _Grids(names, by_channel("spend"), by_channel("impressions"),
                   by_channel(outcome_name).sum(axis=(1, 2)))  # fmt: skip
    dates = (first_day + np.arange(n_days)).astype("datetime64[D]")
    camps = _platform_campaigns(campaign_days)
    panel = _assemble(
        geos, dates, y, grids, warnings, present=fp_rows, orders=orders, channels=channels,
        population=None, controls={},
        outcome_name=outcome_name,
        campaigns=lambda chosen, has_spend: _campaign_arrays(
            camps, chosen, has_spend, first_day, n_days, outcome_name),
        currency=currency,
    )  # fmt: skip
    if camps is None:
        return panel
    return _claimed(panel, camps, outcome_name, camps["date"].to_numpy(np.int64))


def _campaign_arrays(
    camps: pd.DataFrame | None,
    channels: tuple[str, ...],
    has_spend: np.ndarray,
    first_day: int,
    n_days: int,
    outcome_name: str,
) -> _CampaignArrays:
    """:func:`_campaigns` on memory's campaign sums (days since 1970-01-01), in numpy."""
    empty = np.zeros((0, n_days))
    if camps is None:
        return (), np.zeros(0, dtype=np.int64), empty, empty, np.zeros(0)
    channel_of = {c: i for i, c in enumerate(channels)}
    row_channel = np.array([channel_of.get(c, -1) for c in camps["channel"].astype(str)])
    on = row_channel >= 0
    campaign = camps["campaign_id"].astype(str).to_numpy(object)[on]
    row_channel = row_channel[on]
    names = tuple(sorted(set(campaign.tolist())))
    k = np.fromiter(map({n: i for i, n in enumerate(names)}.__getitem__, campaign), np.int64,
                    campaign.size)  # fmt: skip
    # a campaign belongs to the channel of its first row
    first = np.full(len(names), campaign.size, dtype=np.int64)
    np.minimum.at(first, k, np.arange(campaign.size))
    chan = row_channel[first]
    spend = camps["spend"].to_numpy(np.float64)[on]
    value = np.where(has_spend[chan[k]], spend, camps["impressions"].to_numpy(np.float64)[on])
    t = camps["date"].to_numpy(np.int64)[on] - first_day
    ok = (t >= 0) & (t < n_days)
    x = np.zeros((len(names), n_days))
    np.add.at(x, (k[ok], t[ok]), value[ok])
    spend_grid = np.zeros((len(names), n_days))
    np.add.at(spend_grid, (k[ok], t[ok]), spend[ok])
    platform = np.zeros(len(names))
    np.add.at(platform, k[ok], camps[outcome_name].to_numpy(np.float64)[on][ok])
    return names, chan.astype(np.int64), spend_grid, x, platform


def spend_outside(
    geo_days: pd.DataFrame, channels: Sequence[str], days: np.ndarray
) -> dict[str, float]:
    """Spend per channel, over ``days`` (int64 days since 1970-01-01), of the channels with an
    input (spend, or impressions / sends for a channel without spend: 0.0) that are not in
    ``channels`` (empty ``channels``: none is left out). Memory's wide form
    (``source:channel:sum`` columns) or long (``source``, ``channel``, ``spend``, ...)."""
    if not channels or not len(geo_days):
        return {}
    long = geo_days if "source" in geo_days.columns else melt_geo_days(geo_days)
    inside = np.isin(long["date"].to_numpy(np.int64), days)
    rows = long.loc[inside & ~long["channel"].astype(str).isin(channels)
                    & ~long["source"].astype(str).eq(FIRST_PARTY_SOURCE)]  # fmt: skip
    sums = rows.groupby(rows["channel"].astype(str))[["spend", "impressions"]].sum()
    return {str(ch): float(r["spend"]) for ch, r in sums.iterrows()
            if r["spend"] > 0 or r["impressions"] > 0}  # fmt: skip
