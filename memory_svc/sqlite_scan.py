"""Scans of the SQLite store: a page's query, and the read transactions that hold one Scan's
snapshot (``memory_svc.scan_snapshots``) on connections of their own, kept in a small pool.

A snapshot's connection drops its page cache after every page (``PRAGMA shrink_memory``): a
Scan whose client stopped reading then pins the connection, not the pages it read (audit
R14-F3 bounds what a stalled Scan holds); the next page reads them back from the OS cache.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing

from memory_svc.scan_replies import take_page
from memory_svc.store import RecordFilter, ScanRow
from memory_svc.store_sql import scan_sql

__all__ = ["SQLiteScans", "scan_page"]

# Idle snapshot connections kept for the next Scan (opening one costs ~0.3 ms and its
# schema parse); more are opened when more Scans read at once, and closed after.
_IDLE = 4


def scan_page(
    db: sqlite3.Connection,
    org_id: str,
    flt: RecordFilter,
    after: tuple[int, str] | None,
    limit: int,
    with_embeddings: bool,
    max_bytes: int | None,
) -> list[ScanRow]:
    sql, params = scan_sql(org_id, flt, after, limit, with_embeddings)
    # a page cut by bytes leaves its statement unfinished: closed now, not at gc
    with closing(db.execute(sql, params)) as cursor:
        return take_page((ScanRow(*row) for row in cursor), max_bytes)


class _Snapshot:
    """One read transaction (``ReadTransaction``), begun at construction."""

    def __init__(
        self, db: sqlite3.Connection, org_id: str, release: Callable[[sqlite3.Connection], None]
    ) -> None:
        self._db = db
        self._org_id = org_id
        self._release = release
        db.execute("BEGIN")
        try:
            # a WAL read transaction starts at its first read, not at BEGIN
            db.execute("SELECT max_seq FROM orgs WHERE org_id = ?", (org_id,)).fetchall()
        except BaseException:
            db.execute("ROLLBACK")
            release(db)
            raise

    def scan_page(
        self,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
        max_bytes: int | None,
    ) -> list[ScanRow]:
        try:
            return scan_page(self._db, self._org_id, flt, after, limit, with_embeddings, max_bytes)
        finally:
            self._db.execute("PRAGMA shrink_memory")

    def end(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            self._release(self._db)


class SQLiteScans:
    """Read transactions for Scans, on pooled connections from ``connect()``."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def begin(self, org_id: str) -> _Snapshot:
        with self._lock:
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._connect()
        return _Snapshot(db, org_id, self._give_back)

    def _give_back(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed and not db.in_transaction and len(self._idle) < _IDLE:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
