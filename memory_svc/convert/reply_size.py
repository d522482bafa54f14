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

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.convert import (
    _campaign_geo_table,
    _columns,
    aggregate_products_response,
    aggregate_response,
)
from memory_svc.product_table import (
    CATALOGUE_COLUMNS,
    SALES_COLUMNS,
    SPEND_COLUMNS,
    ProductAggregate,
)
from memory_svc.store import Aggregate, CampaignGeoDays
from memory_svc.writer import MEASURES
from mesh.runtime.aggregates import campaign_column
from mesh.runtime.reply_limit import (
    REPLY_TOO_LARGE,
    days_fit,
    first_days_fit,
    limit_words,
    mb,
    reply_budget,
    reply_too_large,
)

__all__ = [
    "REPLY_TOO_LARGE",
    "aggregate_reply",
    "campaign_geo_bytes",
    "product_row_bytes",
    "product_table_bytes",
    "products_reply",
    "reply_budget",
]

# Bytes a Table column adds besides its values and name: the column's, the typed list's and
# the packed field's tags and lengths.
_COLUMN_BYTES = 16
_EPOCH = dt.date(1970, 1, 1)
# A date as a varint (days since 1970 up to 2^21: the year 7711); a geo string's tag and length.
_DATE_BYTES, _STRING_BYTES = 3, 2


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


def _days(agg: Aggregate) -> int:
    gcols = _columns(agg.geo_days, 2 + len(agg.geo_columns))
    return int(np.unique(np.asarray(gcols[0], dtype=np.int64)).size) if len(agg.geo_days) else 0


def _fit(days: int, budget: int, size: int) -> str:
    """How many of the window's days fit, as a clause (the reply grows about linearly)."""
    return days_fit(days, budget, size, other="ask for fewer sources")


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
        raise reply_too_large(
            f"AggregateRecords for org {org_id!r} would answer ~{mb(base)} "
            f"({len(agg.geo_days):,} geo_days rows, {len(agg.campaign_days):,} campaign_days "
            f"rows over {days:,} days), over this server's {limit_words(limit)} message limit; ask "
            f"for a narrower date_range ({_fit(days, budget, base)}) or fewer sources"
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
        f"~{mb(estimate)}, which with the rest ({mb(base)}) passes this server's "
        f"{limit_words(limit)} message limit; ask for a narrower date_range "
        f"({_fit(days, budget, base + estimate)}) or fewer sources"
    )
    return response


def _varint_bytes(values: np.ndarray) -> np.ndarray:
    """Wire bytes of each int64 of ``values`` as a varint (a negative takes ten)."""
    v = values.astype(np.uint64)
    size = np.ones(v.size, dtype=np.int64)
    for k in range(1, 10):
        size += v >= np.uint64(1 << (7 * k))
    return size


def product_row_bytes(rows: Sequence[tuple], columns: Sequence[tuple[str, str]]) -> np.ndarray:  # type: ignore[type-arg]
    """Estimated wire bytes of each row of a product Table (``memory_svc.product_table``'s
    ``columns``), read off the rows without building it: strings' UTF-8 bytes with a tag and
    length each ("None" counted for a missing one, a little over the "" sent), varints'
    exact widths, 8 bytes a double."""
    n = len(rows)
    size = np.zeros(n, dtype=np.int64)
    for i, (_, kind) in enumerate(columns):
        if not n:
            break
        values = [r[i] for r in rows]
        if kind == "str":
            lengths = np.fromiter(map(len, map(str.encode, map(str, values))), np.int64, n)
            size += 1 + lengths + _varint_bytes(lengths)
        elif kind == "int64":
            size += _varint_bytes(np.fromiter((0 if v is None else v for v in values), np.int64, n))
        else:
            size += 8
    return size


def product_table_bytes(rows: Sequence[tuple], columns: Sequence[tuple[str, str]]) -> int:  # type: ignore[type-arg]
    """Estimated wire bytes of a product Table of ``rows``: its rows' (product_row_bytes) and
    each column's name, tags and lengths."""
    heads = sum(_COLUMN_BYTES + len(name) for name, _ in columns)
    return _COLUMN_BYTES + heads + int(product_row_bytes(rows, columns).sum())


def _day_bytes(agg: ProductAggregate) -> tuple[np.ndarray, list[dt.date]]:
    """(estimated bytes of each day's sales and spend rows, the days) in date order."""
    sales = product_row_bytes(agg.sales, SALES_COLUMNS)
    spend = product_row_bytes(agg.spend, SPEND_COLUMNS)
    day = np.fromiter((r[0] for r in (*agg.sales, *agg.spend)), np.int64, len(sales) + len(spend))
    days, at = np.unique(day, return_inverse=True)
    per_day = np.bincount(at, weights=np.concatenate([sales, spend]), minlength=len(days))
    return per_day.astype(np.int64), [_EPOCH + dt.timedelta(days=int(d)) for d in days]


def products_reply(
    agg: ProductAggregate, *, limit: int, org_id: str, spend_only: bool
) -> memory_pb.AggregateProductsResponse:
    """The AggregateProducts reply of ``agg`` within ``limit`` bytes. Its size is estimated
    from the summed rows first, so a reply that would pass the limit is never encoded; an
    estimate short of the encoded reply is caught on it.

    Raises
    ------
    ResourceExhausted
        REPLY_TOO_LARGE: the reply passes the limit, naming the days from the window's first
        that fit. The catalogue is undated (sent whole whatever the range): the days fit in
        the room it leaves.
    """
    budget = reply_budget(limit)
    sales = product_table_bytes(agg.sales, SALES_COLUMNS)
    spend = product_table_bytes(agg.spend, SPEND_COLUMNS)
    catalogue = product_table_bytes(agg.catalogue, CATALOGUE_COLUMNS)
    size = sales + spend + catalogue + _COLUMN_BYTES
    if size <= budget:
        response = aggregate_products_response(agg)
        encoded = response.ByteSize()
        if encoded <= budget:
            return response
        size = encoded  # the estimate fell short: still not sent
    per_day, dates = _day_bytes(agg)
    room = budget - (size - int(per_day.sum()))  # less the catalogue and the tables' heads
    if spend_only:
        remedy = ""
        fit = first_days_fit(per_day, room, dates, other="a single day's spend passes it")
    else:
        remedy = "ask with spend_only (sales and catalogue not sent)"
        if spend <= budget:
            remedy = f"ask with spend_only (the spend table alone is ~{mb(spend)})"
        fit = first_days_fit(per_day, room, dates, other=remedy)
        remedy = "" if remedy in fit else f", or {remedy}"
    rows = f"{len(agg.spend):,} spend rows"
    if not spend_only:
        rows = f"{len(agg.sales):,} sales rows and {rows}"
    undated = (
        f", a catalogue of {len(agg.catalogue):,} products: ~{mb(catalogue)}, sent whole "
        "whatever the range" if agg.catalogue else ""
    )  # fmt: skip
    raise reply_too_large(
        f"AggregateProducts for org {org_id!r} would answer ~{mb(size)} ({rows} over "
        f"{len(dates):,} days{undated}), over "
        f"this server's {limit_words(limit)} message limit; ask for a narrower date_range "
        f"({fit}){remedy}"
    )
