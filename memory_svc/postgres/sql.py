"""The queries of the PostgreSQL store that depend on a filter, with ``%s`` placeholders.

They return what their SQLite twins in ``memory_svc.store_sql`` return, row for row: text
columns are ``COLLATE "C"``, byte order as SQLite's, so keys sort and page alike.
"""

from __future__ import annotations

from memory_svc.store import RecordFilter

__all__ = ["CAMPAIGN_DAY_ROWS", "GEO_DAY_ROWS", "filter_sql", "scan_sql"]


def filter_sql(org_id: str, flt: RecordFilter) -> tuple[str, list[object]]:
    """Conditions on ``records r`` for an org and filter (lists bind as arrays)."""
    clauses = ["r.org_id = %s"]
    params: list[object] = [org_id]
    if flt.start_us is not None:
        clauses.append("r.timestamp_us >= %s")
        params.append(flt.start_us)
    if flt.end_us is not None:
        clauses.append("r.timestamp_us < %s")
        params.append(flt.end_us)
    for column, values in (
        ("source", flt.sources),
        ("campaign_id", flt.campaign_ids),
        ("treatment_group", flt.treatment_groups),
        ("geo", flt.geos),
        ("channel", flt.channels),
    ):
        if values:
            clauses.append(f"r.{column} = ANY(%s::text[])")
            params.append(list(values))
    if flt.experiment_id:
        clauses.append("r.experiment_id = %s")
        params.append(flt.experiment_id)
    if flt.min_quality is not None:
        clauses.append("r.quality >= %s")
        params.append(flt.min_quality)
    if flt.region:
        clauses.append(
            "r.seq IN (SELECT seq FROM record_regions WHERE org_id = %s AND region = %s)"
        )
        params.extend([org_id, flt.region])
    return " AND ".join(clauses), params


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
