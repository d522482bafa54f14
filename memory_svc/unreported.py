"""The records whose platform conversions were not reported
(``CausalMarketingData.conversions_unreported``), summed per day × campaign × source ×
channel, and AggregateRecords' ``campaign_days`` columns that say so.

Such a record adds 0 to its campaign-day's conversions and revenue: a placeholder, not the
platform's figure. The sums tables cannot tell it from a reported 0, so attribution (the
platforms' claims per channel and campaign) needs how many of a row's records, and how much
of its spend, are unreported. They are read from ``measures`` (its ``unreported`` flag) through
a partial index that holds the unreported rows only: a write of reported records costs no index
entry, and an org with none reads nothing. A store keeps the per-org sums tables as they were
(``memory_svc.org_sums``); this read is apart from theirs, so a commit landing between the two
could make the counts of one day disagree with its sums — the merge caps them at the row's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from memory_svc.store import Aggregate

__all__ = ["INDEX", "Executes", "UnreportedRow", "unreported_sql", "with_unreported"]

# (day, campaign_id, source, channel, records, spend)
UnreportedRow = tuple[int, str, str, str, int, float]

# Created after the column exists (an older database gets it added first).
INDEX = (
    "CREATE INDEX IF NOT EXISTS measures_unreported ON measures (org_id, day) WHERE unreported <> 0"
)


class Executes(Protocol):
    """A DB-API connection (sqlite3, psycopg): ``execute(sql, params)`` → a cursor."""

    def execute(self, sql: Any, params: Any = ...) -> Any: ...


def unreported_sql(
    org_id: str,
    start_day: int | None,
    end_day: int | None,
    sources: Sequence[str],
    *,
    postgres: bool = False,
) -> tuple[str, list[object]]:
    """The query of the unreported records' sums in an inclusive day range and sources (empty:
    all), rows in (day, campaign_id, source, channel) order, as :data:`UnreportedRow`."""
    mark = "%s" if postgres else "?"
    clauses = [f"org_id = {mark}", "unreported <> 0"]
    params: list[object] = [org_id]
    if start_day is not None:
        clauses.append(f"day >= {mark}")
        params.append(start_day)
    if end_day is not None:
        clauses.append(f"day <= {mark}")
        params.append(end_day)
    if sources and postgres:
        clauses.append("source = ANY(%s::text[])")
        params.append(list(sources))
    elif sources:
        clauses.append(f"source IN ({','.join('?' * len(sources))})")
        params.extend(sources)
    total = "SUM(spend)" if postgres else "TOTAL(spend)"
    sql = (
        f"SELECT day, campaign_id, source, channel, COUNT(*), {total} FROM measures "
        f"WHERE {' AND '.join(clauses)} GROUP BY day, campaign_id, source, channel "
        "ORDER BY day, campaign_id, source, channel"
    )
    return sql, params


def with_unreported(
    agg: Aggregate,
    db: Executes,
    org_id: str,
    start_day: int | None,
    end_day: int | None,
    sources: Sequence[str],
    *,
    postgres: bool = False,
) -> Aggregate:
    """``agg`` with the unreported records' sums of its window (:attr:`Aggregate.unreported`)."""
    sql, params = unreported_sql(org_id, start_day, end_day, sources, postgres=postgres)
    rows = [
        (int(d), str(c), str(s), str(ch), int(n), float(v or 0.0))
        for d, c, s, ch, n, v in db.execute(sql, params).fetchall()
    ]
    return dataclasses.replace(agg, unreported=rows) if rows else agg
