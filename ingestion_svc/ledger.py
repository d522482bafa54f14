"""The batch ledger: every acked batch id with the ack that was sent, so a re-sent batch is
answered from here without touching the memory service again.

An entry is written only after the batch's records are durable in memory and just before
its ack leaves, so a batch that failed (memory down, server killed) has no entry and its
retry runs in full — memory's idempotency by id and version makes that retry write nothing
twice. The ack is stored as opaque bytes (the servicer's serialised message) beside a
fingerprint of the request, so reusing a batch id for different rows is caught.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mesh.runtime.sqlite_db import LockedSQLite

__all__ = ["BatchLedger", "LedgerEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    org_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ack BLOB NOT NULL,
    acked_at_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, batch_id)
);
"""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A batch acked before: the request's fingerprint and the ack sent."""

    fingerprint: str
    ack: bytes


class BatchLedger(LockedSQLite):
    """SQLite-backed (WAL, synchronous=FULL); safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def get(self, org_id: str, batch_id: str) -> LedgerEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, ack FROM batches WHERE org_id = ? AND batch_id = ?",
                (org_id, batch_id),
            ).fetchone()
        return LedgerEntry(row[0], bytes(row[1])) if row else None

    def put(self, org_id: str, batch_id: str, fingerprint: str, ack: bytes) -> None:
        """Record an ack (a second put of the same batch keeps the first)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?)",
                (org_id, batch_id, fingerprint, ack, int(time.time() * 1e6)),
            )

    def count(self, org_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM batches WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(n)
