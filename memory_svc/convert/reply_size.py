"""AggregateRecords' reply kept under the server's message limit (s18, R35 F2).

The reply is one message. Its campaign_geo_days is dense — 8 bytes per day × geo × campaign,
recorded or not — so 1,000 campaigns over two years of 51 geos came to 314 MB: gRPC refused
to send it and the caller saw INTERNAL. Its size is known from the other sums before the
store builds it (rows: the (day, geo) pairs with spend; columns: the campaigns with spend),
so a table that would pass the limit is never built: it is left out and
``campaign_geo_days_omitted`` says why. The rest alone passing the limit is refused
RESOURCE_EXHAUSTED REPLY_TOO_LARGE, naming the size, the limit and a date range that fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.convert import _campaign_geo_table, _columns, aggregate_response
from memory_svc.store import Aggregate, CampaignGeoDays
from memory_svc.writer import MEASURES
from mesh.runtime.aggregates import campaign_column
from mesh.runtime.exceptions import ResourceExhausted

__all__ = ["REPLY_TOO_LARGE", "aggregate_reply", "campaign_geo_bytes", "reply_budget"]

REPLY_TOO_LARGE = "REPLY_TOO_LARGE"

# Bytes a Table column adds besides its values and name: the column's, the typed list's and
# the packed field's tags and lengths.
_COLUMN_BYTES = 16
# A date as a varint (days since 1970 up to 2^21: the year 7711); a geo string's tag and length.
_DATE_BYTES, _STRING_BYTES = 3, 2


def reply_budget(limit: int) -> int:
    """The bytes a reply may take under a message limit: a 32nd kept back, so an estimate a
    little short (or gRPC's framing) still fits."""
    return limit - limit // 32


def campaign_geo_bytes(agg: Aggregate) -> tuple[int, int, int]:
    """(estimated wire bytes, rows, columns) of the campaign_geo_days the sums ``agg`` imply:
    a row per (day, geo) of geo_days with spend, a double column per (source, channel,
    campaign_id) of campaign_days with spend — what the store's wide table holds, read
    without building it."""
    gcols = _columns(agg.geo_days, 2 + len(agg.geo_columns))
    n = len(agg.geo_days)
    spent = np.zeros(n, dtype=bool)
    for i, (_, _, measure) in enumerate(agg.geo_columns):
        if measure == "spend":
            spent |= np.asarray(gcols[2 + i], dtype=np.float64) != 0
    rows = int(spent.sum())
    geos = [str(g) for g, s in zip(gcols[1], spent.tolist(), strict=True) if s] if n else []
    ccols = _columns(agg.campaign_days, 9)
    keys: set[tuple[str, str, str]] = set()
    if len(agg.campaign_days):
        paid = np.flatnonzero(np.asarray(ccols[4], dtype=np.float64) != 0).tolist()
        ids, sources, channels = ccols[1], ccols[2], ccols[3]
        keys = {(str(sources[i]), str(channels[i]), str(ids[i])) for i in paid}
    names = sum(len(campaign_column(*k).encode()) for k in keys)
    size = (
        rows * (8 * len(keys) + _DATE_BYTES + _STRING_BYTES)
        + sum(len(g.encode()) for g in geos)
        + names
        + _COLUMN_BYTES * (len(keys) + 2)
    )
    return size, rows, len(keys)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _limit(limit: int) -> str:
    mib = limit / (1 << 20)
    return f"{mib:g} MiB" if mib == int(mib) else f"{limit:,} bytes"


def _days(agg: Aggregate) -> int:
    gcols = _columns(agg.geo_days, 2 + len(agg.geo_columns))
    return int(np.unique(np.asarray(gcols[0], dtype=np.int64)).size) if len(agg.geo_days) else 0


def _fit(days: int, budget: int, size: int) -> str:
    """How many of the window's days fit, as a clause (the reply grows about linearly)."""
    fit = days * budget // max(size, 1)
    if fit < 1:
        return "not even one day fits: ask for fewer sources"
    return f"~{fit:,} of its {days:,} days fit"


def aggregate_reply(
    agg: Aggregate,
    measures: Sequence[str],
    *,
    campaign_geo: Callable[[], CampaignGeoDays] | None,
    limit: int,
    org_id: str,
) -> memory_pb.AggregateRecordsResponse:
    """The AggregateRecords reply of ``agg`` within ``limit`` bytes; ``campaign_geo`` (None:
    not asked) reads the spend per day × geo × campaign, called only when it fits.

    Raises
    ------
    ResourceExhausted
        REPLY_TOO_LARGE: the reply without campaign_geo_days passes the limit.
    """
    budget = reply_budget(limit)
    response = aggregate_response(agg, measures or MEASURES)
    base = response.ByteSize()
    if base > budget:
        days = _days(agg)
        raise ResourceExhausted(
            f"AggregateRecords for org {org_id!r} would answer ~{_mb(base)} "
            f"({len(agg.geo_days):,} geo_days rows, {len(agg.campaign_days):,} campaign_days "
            f"rows over {days:,} days), over this server's {_limit(limit)} message limit; ask "
            f"for a narrower date_range ({_fit(days, budget, base)}) or fewer sources",
            reason=REPLY_TOO_LARGE,
        )
    if campaign_geo is None:
        return response
    estimate, rows, columns = campaign_geo_bytes(agg)
    if base + estimate <= budget:
        _campaign_geo_table(response.campaign_geo_days, campaign_geo())
        total = response.ByteSize()
        if total <= budget:
            return response
        response.ClearField("campaign_geo_days")  # the estimate fell short: still not sent
        estimate = total - base
    days = _days(agg)
    response.campaign_geo_days_omitted = (
        f"campaign_geo_days left out: {rows:,} rows (day × geo) × {columns:,} campaigns is "
        f"~{_mb(estimate)}, which with the rest ({_mb(base)}) passes this server's "
        f"{_limit(limit)} message limit; ask for a narrower date_range "
        f"({_fit(days, budget, base + estimate)}) or fewer sources"
    )
    return response
