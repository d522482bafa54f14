"""Channels whose days start hours apart from the outcome's (audit R31 F5).

The panel joins spend and outcome by their local date, and each account reports in its own
time zone: a Meta account in Europe/Berlin closes its "15 September" nine hours before a Google
Ads account in America/Los_Angeles, and six before the orders of a New York store. Every record
keeps the UTC instant its local day starts (``timestamp``), so how far apart two sources' days
are is known; this says so when a channel's days start ``MIN_HOURS`` or more from the
outcome's, once per offset (the channels of one account zone together), for every zone a
channel's records carry (a channel with a New York and a Berlin account is named for Berlin's). Nothing is shifted: daily rows cannot be re-bucketed into another zone's days (the
hours are not in them), and a shift by a whole day would be wrong by the rest. The warning
names the offset and which end of each channel day is read against another outcome day, so
the timing the model reads (same-day effect against lag) is taken with that in mind, or the
account re-exported in the store's zone where the platform allows it (hourly breakdowns can be
re-bucketed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MIN_HOURS", "day_alignment_warnings", "day_start_offsets"]

# More than the US coasts' three hours (Europe against the US, five and more). A store and
# its ad accounts on two US coasts are the common case, and a daily model reads those three
# night hours (few orders, little delivery) as noise; saying so on every such analysis
# buried the warnings that matter (the demo's own Eastern Google account against its
# Pacific store printed it three times).
MIN_HOURS = 4.0
FIRST_PARTY_SOURCE = "generic"
_HOUR_S = 3600.0
# Offsets of one channel this close are one account zone in summer and winter time.
_DST_HOURS = 1.0


def day_start_offsets(records: pd.DataFrame) -> pd.DataFrame:
    """Per (source, channel) and account zone: the UTC offset of its days (local midnight minus
    the day's UTC start, in hours: +2 for Berlin in summer, -4 for New York), its records
    (``records``) and the pair's (``total``); the pair's largest zone first.

    ``records``: memory's records (columns ``data_source``, ``channel``, ``local_date``,
    ``timestamp``). Offsets within ``_DST_HOURS`` of a more common one of the pair are one zone
    (summer and winter time), shown at the more common offset; a channel's accounts in two
    zones further apart are two rows (audit s17 V2 F5: only the most common was compared, so
    a channel's second account six hours off was never named)."""
    if records.empty:
        return pd.DataFrame(
            {"source": [], "channel": [], "offset_h": [], "records": [], "total": []}
        )
    local = pd.to_datetime(records["local_date"]).to_numpy("datetime64[s]").astype(np.int64)
    stamp = pd.to_datetime(records["timestamp"], utc=True).dt.tz_localize(None)
    start = stamp.to_numpy("datetime64[s]").astype(np.int64)
    frame = pd.DataFrame(
        {
            "source": records["data_source"].astype(str).to_numpy(),
            "channel": records["channel"].astype(str).to_numpy(),
            "offset_h": np.round((local - start) / _HOUR_S, 2),
        }
    )
    counts = frame.groupby(["source", "channel", "offset_h"]).size().rename("records")
    counts = counts.reset_index().sort_values(
        ["source", "channel", "records", "offset_h"], ascending=[True, True, False, True]
    )
    zones: dict[tuple[str, str], dict[float, int]] = {}
    for src, ch, off, n in counts.itertuples(index=False):
        kept = zones.setdefault((str(src), str(ch)), {})
        near = next((z for z in kept if abs(z - float(off)) <= _DST_HOURS), None)
        if near is None:
            kept[float(off)] = int(n)
        else:
            kept[near] += int(n)
    rows = [
        (src, ch, off, n, sum(kept.values()))
        for (src, ch), kept in zones.items()
        for off, n in sorted(kept.items(), key=lambda z: (-z[1], z[0]))
    ]
    return pd.DataFrame(rows, columns=["source", "channel", "offset_h", "records", "total"])


def _utc(offset_h: float) -> str:
    hours = int(abs(offset_h))
    minutes = round((abs(offset_h) - hours) * 60)
    sign = "+" if offset_h >= 0 else "-"
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def _start(offset_h: float) -> str:
    """The UTC time of day a local midnight falls on."""
    minutes = round((-offset_h % 24) * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d} UTC"


def day_alignment_warnings(
    records: pd.DataFrame, channels: tuple[str, ...] = (), min_hours: float = MIN_HOURS
) -> list[str]:
    """A warning per day-start offset of media channels ``min_hours`` or more from the
    outcome's (first-party records), naming the channels, both offsets and what it means;
    none when the records hold no outcome. ``channels``: the model's (empty: every media channel)."""
    offsets = day_start_offsets(records)
    if offsets.empty:
        return []
    outcome = offsets[offsets["source"] == FIRST_PARTY_SOURCE]
    if outcome.empty:
        return []
    base = float(outcome.sort_values("records", ascending=False)["offset_h"].iloc[0])
    media = offsets[offsets["source"] != FIRST_PARTY_SOURCE]
    if channels:
        media = media[media["channel"].isin(channels)]
    gaps: dict[float, list[str]] = {}
    for channel, offset, n, total in sorted(
        {
            (str(c), float(o), int(n), int(t))
            for c, o, n, t in zip(
                media["channel"], media["offset_h"], media["records"], media["total"], strict=True
            )
        }
    ):
        if abs(offset - base) >= min_hours:
            part = (
                ""
                if n == total
                else f"{channel}'s accounts in {_utc(offset)} ({n:,} of its {total:,} records)"
            )
            gaps.setdefault(offset, []).append(part or channel)
    out = []
    for offset in sorted(gaps, key=lambda o: -abs(o - base)):  # the farthest first
        out.append(_warning(gaps[offset], offset, base))
    return out


def _warning(channels: list[str], offset: float, base: float) -> str:
    gap = offset - base
    hours = f"{abs(gap):g}"
    # a channel named whole reads "meta_feed's days"; a part of one ("meta_feed's accounts
    # in UTC+2 (20 of its 50 records)") reads "the days of ..."
    one = len(channels) == 1 and "'s accounts in " not in channels[0]
    names = channels[0] if len(channels) == 1 else ", ".join(channels[:-1]) + f" and {channels[-1]}"
    each = f"each {channels[0]} day" if one else "each of their days"
    end = (
        f"the first {hours} hours of {each} fall on the outcome's previous day"
        if gap > 0
        else f"the last {hours} hours of {each} fall on the outcome's next day"
    )
    return (f"{names}'s days start" if one else f"the days of {names} start") + (
        f" at {_start(offset)} ({_utc(offset)}, {'its' if one else 'their'} account's time "
        f"zone) and the outcome's at {_start(base)} ({_utc(base)}): {hours} hours apart. Days "
        f"are joined by their local date, so {end}: a same-day effect is read partly as a lag "
        "(or the reverse), and the channel's timing against the outcome is off by that much. "
        "Re-export the account in the store's time zone where the platform allows it (hourly "
        "breakdowns can be re-bucketed), or read its timing with this in mind"
    )
