"""The queries of the PostgreSQL store that depend on a filter, with ``%s`` placeholders.

They return what their SQLite twins in ``memory_svc.store_sql`` return, row for row: text
columns are ``COLLATE "C"``, byte order as SQLite's, so keys sort and page alike.
"""

from __future__ import annotations

from memory_svc import store_sql
from memory_svc.store import RecordFilter

__all__ = [
    "CAMPAIGN_DAY_ROWS",
    "CAMPAIGN_NAMES",
    "CURRENCY_DAY_ROWS",
    "GEO_DAY_ROWS",
    "filter_sql",
    "scan_sql",
]


def filter_sql(org_id: str, flt: RecordFilter) -> tuple[str, list[object]]:
    """Conditions on ``records r`` for an org and filter: the SQLite store's, with ``%s``
    placeholders and lists bound as arrays."""
    return store_sql.filter_sql(org_id, flt, mark="%s", arrays=True)


def scan_sql(
    org_id: str,
    flt: RecordFilter,
    after: tuple[int, str] | None,
    limit: int,
    with_embeddings: bool,
) -> tuple[str, list[object]]:
    """One page of a scan in (timestamp, id) order after the cursor ``after``: the page's
    keys first (an ordered walk of ``records_time``), then only their payloads."""
    where, params = filter_sql(org_id, flt)
    if after is not None:
        where += " AND (r.timestamp_us, r.id) > (%s, %s)"
        params.extend(after)
    emb = ", v.embedding" if with_embeddings else ", NULL::bytea"
    join = " JOIN vectors v ON v.seq = r.seq" if with_embeddings else ""
    sql = (
        f"SELECT r.seq, r.timestamp_us, r.id, p.payload{emb} FROM ("
        f"SELECT r.seq, r.timestamp_us, r.id FROM records r WHERE {where} "
        "ORDER BY r.timestamp_us, r.id LIMIT %s"
        f") r JOIN payloads p ON p.seq = r.seq{join} ORDER BY r.timestamp_us, r.id"
    )
    return sql, [*params, limit]


# An org's sums rows in key order, as memory_svc.org_sums reads them (``records`` is bigint:
# no cast needed; SUM over it would be numeric).
_SUMS = "spend, impressions, conversions, revenue, records"
GEO_DAY_ROWS = (
    f"SELECT day, geo, source, channel, {_SUMS} FROM geo_day_sums WHERE org_id = %s "
    "AND records > 0 ORDER BY day, geo, source, channel"
)
CAMPAIGN_DAY_ROWS = (
    f"SELECT day, campaign_id, source, channel, {_SUMS} FROM campaign_day_sums "
    "WHERE org_id = %s AND records > 0 ORDER BY day, campaign_id, source, channel"
)
CURRENCY_DAY_ROWS = (
    f"SELECT day, currency, source, channel, {_SUMS} FROM currency_day_sums "
    "WHERE org_id = %s AND records > 0 ORDER BY day, currency, source, channel"
)
# store_sql.CAMPAIGN_NAMES: the ids bound as an array. Parameters: org, ids.
CAMPAIGN_NAMES = (
    "SELECT j.c, (SELECT r.campaign_name FROM records r WHERE r.org_id = %s "
    "AND r.campaign_id = j.c AND r.campaign_name <> '' "
    "ORDER BY r.timestamp_us DESC, r.seq DESC LIMIT 1) FROM unnest(%s::text[]) AS j(c)"
)
