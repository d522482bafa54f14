"""The queries of the PostgreSQL store that depend on a filter, with ``%s`` placeholders.

They return what their SQLite twins in ``memory_svc.store_sql`` return, row for row: text
columns are ``COLLATE "C"`` (byte order, as SQLite's), sums of ``bigint`` are cast back from
``numeric`` and SQLite's ``TOTAL`` (0.0 over no rows) is ``COALESCE(SUM(…), 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from memory_svc.store import RecordFilter

__all__ = [
    "AGGREGATE_CAMPAIGN_DAYS",
    "AGGREGATE_PAIRS",
    "SUM_COLUMNS",
    "aggregate_filter",
    "filter_sql",
    "geo_days_pivot_sql",
    "scan_sql",
]

SUM_COLUMNS = ("spend", "impressions", "conversions", "revenue")


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


def aggregate_filter(
    org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
) -> tuple[str, list[object]]:
    """Conditions on a sums table for an org, an inclusive day range and sources."""
    clauses = ["org_id = %s"]
    params: list[object] = [org_id]
    if start_day is not None:
        clauses.append("day >= %s")
        params.append(start_day)
    if end_day is not None:
        clauses.append("day <= %s")
        params.append(end_day)
    if sources:
        clauses.append("source = ANY(%s::text[])")
        params.append(list(sources))
    return " AND ".join(clauses), params


AGGREGATE_PAIRS = (
    "SELECT source, channel, SUM((spend <> 0)::int), SUM((impressions <> 0)::int), "
    "SUM((conversions <> 0)::int), SUM((revenue <> 0)::int), SUM(records)::bigint "
    "FROM geo_day_sums WHERE {where} AND records > 0 GROUP BY source, channel "
    "ORDER BY source, channel"
)


def geo_days_pivot_sql(columns: Sequence[tuple[str, str, str]], where: str) -> str:
    """One row per (day, geo), one column per (source, channel, sum); parameters: a
    (source, channel) pair per column, then ``where``'s."""
    parts = [
        f"COALESCE(SUM(CASE WHEN source = %s AND channel = %s THEN {measure} END), 0)"
        for _, _, measure in columns
    ]
    return (
        f"SELECT day, geo, {', '.join(parts) or '0'} FROM geo_day_sums WHERE {where} "
        "AND records > 0 GROUP BY day, geo ORDER BY day, geo"
    )


AGGREGATE_CAMPAIGN_DAYS = (
    "SELECT day, campaign_id, source, channel, spend, impressions, conversions, revenue, "
    "records FROM campaign_day_sums WHERE {where} AND records > 0 "
    "ORDER BY day, campaign_id, source, channel"
)
