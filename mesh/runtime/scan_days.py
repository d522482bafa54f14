"""A Scan of local days: memory filters on UTC timestamps, and a record's local date can sit a
day either side of its UTC one, so the Scan asks a day wider on each side and the frame it
returns is then kept to the local days asked (causal's and surfacing's record reads)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from liftos.v1 import memory_pb2 as memory_pb

__all__ = ["scan_local_days", "within_local_days"]


def scan_local_days(
    request: memory_pb.ScanRequest, start: dt.date | None, end: dt.date | None
) -> None:
    """Set ``request``'s UTC time range to hold every record whose local date is in
    [start, end] (an open end, None, is left unset)."""
    if start is not None:
        request.time_range.start_time.FromDatetime(
            dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        )
    if end is not None:
        request.time_range.end_time.FromDatetime(
            dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
        )


def within_local_days(
    parts: list[pd.DataFrame], start: dt.date | None, end: dt.date | None
) -> pd.DataFrame:
    """The Scan's frames as one, kept to the local days [start, end]."""
    frame = pd.concat(parts, ignore_index=True)
    local = pd.to_datetime(frame["local_date"])
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= local >= pd.Timestamp(start)
    if end is not None:
        keep &= local <= pd.Timestamp(end)
    return frame.loc[keep].reset_index(drop=True)
