"""ListAccounts and DeleteRecords on the SQLite store (:class:`SQLiteAccounts`, a part of
``SQLiteRecordStore``).

A deletion is one write transaction (``BEGIN IMMEDIATE`` under the store's write lock, as a
commit): the records are chosen inside it (``measures`` by org, account, source and days:
``memory_svc.accounts``), so no write lands between the choice and the removal, and a Scan's snapshot (a read transaction begun before) keeps
reading the records as they were. Everything derived from the records goes with them: the
payload, vector, measures, product and region rows; the sums tables, recomputed from the
measures left for the days and sources the deleted records had (not decremented: a sum whose
records are all gone, or whose remaining records hold zeros, is then exactly what a memory
that never stored them holds, with no rounding residue that would make a zero sum a column);
the graph counts; the history of their replaced versions (a deletion is an erasure). The
deletion takes a seq of its own (the org's ``max_seq``) and leaves one history row per deleted
record at it with no payload, so the search index of a process that follows the store
(``IndexManager.follow``) or recovers from a saved index withdraws them as it withdraws
replaced versions.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

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
from memory_svc.key_seqs import KeyMap
from memory_svc.sqlite_commit import apply_graph
from memory_svc.sqlite_erase import ErasureClearer, mark_pending
from memory_svc.store import seq_checksum
from memory_svc.store_sql import SUMS_TABLES, marks

__all__ = ["SQLiteAccounts"]

_LOGGER = logging.getLogger(__name__)

# A deletion that failed on the store's disk (or a limit on its files) changed nothing.
_DELETION_LOST = "nothing was deleted — send the deletion again"


class _Store(Protocol):
    """The parts of ``SQLiteRecordStore`` a deletion uses."""

    _writer: sqlite3.Connection
    _write_lock: threading.Lock
    _keys: OrderedDict[str, tuple[KeyMap, KeyMap]]
    _sums: OrderedDict[str, Any]
    _sums_lock: threading.Lock
    _clearer: ErasureClearer
    decode_accounts: DecodeAccounts | None

    def _read(self) -> sqlite3.Connection: ...


class SQLiteAccounts:
    """An org's accounts and its records' deletion (mixed into ``SQLiteRecordStore``)."""

    def accounts(self: _Store, org_id: str) -> list[AccountSummary]:
        """The org's current records per (source, account); the account of a row whose
        column is "" read from its payload (``memory_svc.accounts``)."""
        rows = self._read().execute(LISTED.format(mark="?"), (org_id, org_id)).fetchall()
        return listed(rows, self.decode_accounts)

    def delete_records(
        self: _Store,
        org_id: str,
        flt: DeletionFilter,
        *,
        dry_run: bool,
        now_us: int,
    ) -> Deletion:
        """Delete the org's records ``flt`` picks (``dry_run``: count them only), in one
        write transaction."""
        with self._write_lock, _lost(self._writer, _DELETION_LOST):
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                # filled inside the transaction so the choice below sees the accounts; a dry
                # run's ROLLBACK undoes it, so only a commit may say it was filled (s19 V3 F3)
                filled = _fill_unknown(db, org_id, self.decode_accounts)
                seqs = _doomed(db, org_id, flt)
                accounts = summaries(db.execute(
                    ACCOUNTS.format(where="m.seq IN (SELECT seq FROM doomed)")).fetchall())  # fmt: skip
                history = _history(db, org_id, delete=not dry_run)
                state = db.execute(
                    "SELECT record_count, checksum, max_seq FROM orgs WHERE org_id = ?", (org_id,)
                ).fetchone()
                count, checksum, max_seq = state if state else (0, 0, 0)
                if dry_run or not len(seqs):
                    db.execute("ROLLBACK")
                    said_filled(_LOGGER, org_id, filled, done=False)
                    return Deletion(seqs, history, accounts, count, max_seq, dry_run)
                max_seq = _remove(db, org_id, seqs, now_us)
                count -= len(seqs)
                db.execute(
                    "UPDATE orgs SET record_count = ?, checksum = ?, max_seq = ?, updated_us = ? "
                    "WHERE org_id = ?",
                    (count, checksum ^ seq_checksum(seqs), max_seq, now_us, org_id),
                )
                db.execute("DELETE FROM doomed")
                mark_pending(db, org_id)  # cleared after the reply: durable till then
                db.execute("COMMIT")
                said_filled(_LOGGER, org_id, filled, done=True)
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            # the deleted rows' bytes leave the files after the reply, on the clearer's
            # thread: with a Scan open that waits for it, and writes must not (s19 V1 F2)
            self._clearer.deleted(org_id)
            maps = self._keys.get(org_id)
            if maps is not None:
                for keys in maps:
                    keys.withdraw(seqs)
            with self._sums_lock:
                self._sums.pop(org_id, None)
        return Deletion(seqs, history, accounts, count, max_seq, False)


@contextlib.contextmanager
def _lost(db: sqlite3.Connection, words: str) -> Iterator[None]:
    """What a storage failure on ``db`` meanwhile says the caller lost (the connection's own
    words are a Write's, "the batch was not stored"; R49-F4). The caller holds the write lock:
    no Write's failure reads these."""
    before = getattr(db, "lost", None)
    if before is None:  # not a StorageConnection: its failures are not worded here
        yield
        return
    db.lost = words  # type: ignore[attr-defined]
    try:
        yield
    finally:
        db.lost = before  # type: ignore[attr-defined]


def _fill_unknown(db: sqlite3.Connection, org_id: str, decode: DecodeAccounts | None) -> int:
    """The column of the org's rows a build that did not know it wrote ("") gets the account
    their payloads name, so that the deletion's choice below sees it (``memory_svc.accounts``).
    Returns how many rows; the caller says so once it knows whether they stay."""
    found = unknown_found(db.execute(UNKNOWN.format(mark="?"), (org_id,)).fetchall(), decode)
    if found:
        db.executemany("UPDATE measures SET account_id = ? WHERE seq = ?", found)
    return len(found)


def _doomed(db: sqlite3.Connection, org_id: str, flt: DeletionFilter) -> np.ndarray:
    """The seqs of the records ``flt`` picks, also put in a temporary table the statements
    below join on."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (seq INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM doomed")
    where, params = chosen_sql(org_id, flt)
    db.execute(f"INSERT INTO doomed (seq) SELECT m.seq FROM measures m WHERE {where}", params)
    rows = db.execute("SELECT seq FROM doomed ORDER BY seq").fetchall()
    return np.fromiter((r[0] for r in rows), np.int64, len(rows))


# The history rows of the doomed records: the versions they replaced, by id or natural key.
_HISTORY = (
    "FROM history WHERE org_id = ? AND (id IN (SELECT r.id FROM records r JOIN doomed d "
    "ON d.seq = r.seq) OR natural_key IN (SELECT r.natural_key FROM records r JOIN doomed d "
    "ON d.seq = r.seq WHERE r.natural_key != ''))"
)


def _history(db: sqlite3.Connection, org_id: str, *, delete: bool) -> int:
    """How many replaced versions of the doomed records history holds; erased with ``delete``."""
    if delete:
        return db.execute(f"DELETE {_HISTORY}", (org_id,)).rowcount
    return int(db.execute(f"SELECT COUNT(*) {_HISTORY}", (org_id,)).fetchone()[0])


def _remove(db: sqlite3.Connection, org_id: str, seqs: np.ndarray, now_us: int) -> int:
    """Remove the doomed records and what derives from them; returns the deletion's seq."""
    delta = GraphDelta()
    for (nodes,) in db.execute(
        "SELECT r.graph_nodes FROM records r JOIN doomed d ON d.seq = r.seq"
    ):
        delta.add(nodes.split("\n") if nodes else (), -1)
    apply_graph(db, org_id, delta)
    lo, hi = db.execute(
        "SELECT MIN(m.day), MAX(m.day) FROM measures m JOIN doomed d ON d.seq = m.seq"
    ).fetchone()
    sources = [r[0] for r in db.execute(
        "SELECT DISTINCT m.source FROM measures m JOIN doomed d ON d.seq = m.seq")]  # fmt: skip
    db.execute(
        "DELETE FROM record_regions WHERE org_id = ? AND seq IN (SELECT seq FROM doomed)",
        (org_id,),
    )
    for table in ("records", "payloads", "vectors", "measures", "product_records"):
        db.execute(f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM doomed)")
    if sources:
        _recompute_sums(db, org_id, int(lo), int(hi), sources)
    row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    seq = int(row[0]) if row else 1
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('next_seq', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
        (seq + 1, seq + 1),
    )
    db.execute(
        "INSERT INTO history (org_id, id, natural_key, version, seq, replaced_at_seq, replaced_by_id, replaced_us, payload) "
        "SELECT ?, '', '', 0, seq, ?, '', ?, X'' FROM doomed",
        (org_id, seq, now_us),
    )
    return seq


def _recompute_sums(
    db: sqlite3.Connection, org_id: str, lo: int, hi: int, sources: list[str]
) -> None:
    """Every sums row of the org's days ``lo``..``hi`` and ``sources`` from the measures
    left (the rows the deleted records added to, and more)."""
    where = f"org_id = ? AND day BETWEEN ? AND ? AND source IN ({marks(len(sources))})"
    params = (org_id, lo, hi, *sources)
    for table, key in SUMS_TABLES:
        db.execute(f"DELETE FROM {table} WHERE {where}", params)
        db.execute(
            f"INSERT INTO {table} (org_id, day, {key}, source, channel, spend, impressions, "
            "conversions, revenue, records) "
            f"SELECT m.org_id, m.day, m.{key}, m.source, m.channel, "
            "SUM(m.spend), SUM(m.impressions), SUM(m.conversions), SUM(m.revenue), COUNT(*) "
            "FROM records r JOIN measures m ON m.seq = r.seq WHERE r.org_id = ? "
            f"AND m.day BETWEEN ? AND ? AND m.source IN ({marks(len(sources))}) "
            f"GROUP BY m.org_id, m.day, m.{key}, m.source, m.channel",
            params,
        )
