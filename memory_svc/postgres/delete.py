"""ListAccounts and DeleteRecords on the PostgreSQL store, as ``memory_svc.sqlite_delete``
does them on SQLite (see there for what a deletion removes and why the sums are recomputed).

A deletion is one transaction that first takes ``meta.next_seq``'s row lock, as a commit
does: commits of every process wait for it, so no write lands between the choice of the
records and their removal; a Scan's REPEATABLE READ snapshot keeps reading them as they were.
"""

from __future__ import annotations

import logging

import numpy as np
import psycopg

from memory_svc.accounts import (
    ACCOUNTS,
    LISTED,
    UNKNOWN,
    AccountSummary,
    DecodeAccounts,
    Deletion,
    DeletionFilter,
    chosen_sql,
    listed,
    said_filled,
    summaries,
    unknown_found,
)
from memory_svc.graph import GraphDelta
from memory_svc.postgres.commit import apply_graph
from memory_svc.store import seq_checksum
from memory_svc.store_sql import SUMS_TABLES

__all__ = ["accounts", "delete_records"]

_LOGGER = logging.getLogger(__name__)


def accounts(
    conn: psycopg.Connection, org_id: str, decode: DecodeAccounts | None
) -> list[AccountSummary]:
    """The org's current records per (source, account); the account of a row whose column
    is "" read from its payload (``memory_svc.accounts``)."""
    rows = conn.execute(LISTED.format(mark="%s"), (org_id, org_id)).fetchall()  # type: ignore[arg-type]
    return listed(rows, decode)


# The history rows of the records with these seqs: the versions they replaced.
_HISTORY = (
    "FROM history WHERE org_id = %s AND (id IN (SELECT id FROM records WHERE "
    "seq = ANY(%s::int8[])) OR natural_key IN (SELECT natural_key FROM records WHERE "
    "seq = ANY(%s::int8[]) AND natural_key <> ''))"
)


def delete_records(
    conn: psycopg.Connection,
    org_id: str,
    flt: DeletionFilter,
    *,
    dry_run: bool,
    now_us: int,
    decode: DecodeAccounts | None = None,
) -> Deletion:
    """Delete the org's records ``flt`` picks (``dry_run``: count them only) in one
    transaction of ``conn`` (the store's writer, under its write lock); the org's rows whose
    account column is "" get the account their payloads name first (``decode``)."""
    counted: Deletion | None = None
    with conn.transaction() as tx:
        cur = conn.cursor()
        cur.execute("SELECT value FROM meta WHERE key = 'next_seq' FOR UPDATE")
        # filled in the transaction so the choice sees the accounts; only a commit keeps it
        filled = _fill_unknown(cur, org_id, decode)
        where, params = chosen_sql(org_id, flt, mark="%s")
        doomed = [r[0] for r in cur.execute(  # type: ignore[arg-type]
            f"SELECT m.seq FROM measures m WHERE {where} ORDER BY m.seq", params).fetchall()]  # fmt: skip
        seqs = np.array(doomed, dtype=np.int64)
        chosen = summaries(cur.execute(ACCOUNTS.format(where=where), params).fetchall())  # type: ignore[arg-type]
        state = cur.execute(
            "SELECT record_count, checksum, max_seq FROM orgs WHERE org_id = %s", (org_id,)
        ).fetchone()
        count, checksum, max_seq = state if state else (0, 0, 0)
        if dry_run or not doomed:
            got = cur.execute(f"SELECT COUNT(*) {_HISTORY}", (org_id, doomed, doomed)).fetchone()
            history = int(got[0]) if got else 0
            counted = Deletion(seqs, history, chosen, count, max_seq, dry_run)
            said_filled(_LOGGER, org_id, filled, done=False)
            raise psycopg.Rollback(tx)  # leaves the block: nothing written
        history = cur.execute(f"DELETE {_HISTORY}", (org_id, doomed, doomed)).rowcount
        max_seq = _remove(cur, org_id, doomed, now_us)
        count -= len(doomed)
        cur.execute(
            "UPDATE orgs SET record_count = %s, checksum = %s, max_seq = %s, updated_us = %s "
            "WHERE org_id = %s",
            (count, checksum ^ seq_checksum(seqs), max_seq, now_us, org_id),
        )
    if counted is not None:
        return counted
    said_filled(_LOGGER, org_id, filled, done=True)
    return Deletion(seqs, history, chosen, count, max_seq, False)


def _fill_unknown(cur: psycopg.Cursor, org_id: str, decode: DecodeAccounts | None) -> int:  # type: ignore[type-arg]
    """As ``memory_svc.sqlite_delete._fill_unknown``: rows an older replica wrote with "";
    returns how many."""
    found = unknown_found(cur.execute(UNKNOWN.format(mark="%s"), (org_id,)).fetchall(), decode)  # type: ignore[arg-type]
    if found:
        cur.execute(
            "UPDATE measures m SET account_id = u.value FROM unnest(%s::text[], %s::int8[]) "
            "AS u(value, seq) WHERE m.seq = u.seq",
            ([a for a, _ in found], [s for _, s in found]),
        )
    return len(found)


def _remove(cur: psycopg.Cursor, org_id: str, doomed: list[int], now_us: int) -> int:  # type: ignore[type-arg]
    """Remove the records and what derives from them; returns the deletion's seq."""
    delta = GraphDelta()
    for (nodes,) in cur.execute(
        "SELECT graph_nodes FROM records WHERE seq = ANY(%s::int8[])", (doomed,)
    ).fetchall():
        delta.add(nodes.split("\n") if nodes else (), -1)
    apply_graph(cur, org_id, delta)
    span = cur.execute(
        "SELECT MIN(day), MAX(day), array_agg(DISTINCT source) FROM measures "
        "WHERE seq = ANY(%s::int8[])",
        (doomed,),
    ).fetchone()
    cur.execute(
        "DELETE FROM record_regions WHERE org_id = %s AND seq = ANY(%s::int8[])", (org_id, doomed)
    )
    for table in ("records", "payloads", "vectors", "measures", "product_records"):
        cur.execute(f"DELETE FROM {table} WHERE seq = ANY(%s::int8[])", (doomed,))
    if span is not None and span[0] is not None:
        lo, hi, sources = int(span[0]), int(span[1]), list(span[2])
        where = "org_id = %s AND day BETWEEN %s AND %s AND source = ANY(%s::text[])"
        params = (org_id, lo, hi, sources)
        for table, key in SUMS_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE {where}", params)
            cur.execute(
                f"INSERT INTO {table} (org_id, day, {key}, source, channel, spend, impressions, "
                "conversions, revenue, records) "
                f"SELECT org_id, day, {key}, source, channel, SUM(spend), "
                "SUM(impressions), SUM(conversions), SUM(revenue), COUNT(*) FROM measures "
                f"WHERE {where} GROUP BY org_id, day, {key}, source, channel",
                params,
            )
    row = cur.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'next_seq' RETURNING value - 1"
    ).fetchone()
    assert row is not None, "meta.next_seq is missing (the first migration inserts it)"
    seq = int(row[0])
    cur.execute(
        "INSERT INTO history (org_id, id, natural_key, version, seq, replaced_at_seq, replaced_by_id, replaced_us, payload) "
        "SELECT %s, '', '', 0, u.seq, %s, '', %s, ''::bytea "
        "FROM unnest(%s::int8[]) AS u(seq)",
        (org_id, seq, now_us, doomed),
    )
    return seq
