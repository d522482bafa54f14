"""Content ingestion has seen superseded, per record: the raw-row hashes of versions a later
version replaced, so a version sent again is told from a restatement.

Versions order by pull time, and an export sent again gets a later one (the SDK stamps
``pulled_at`` now; the CLI takes a copied file's modification time). A restated day is a
preliminary line and, later in the export, the platform's re-send; when the two fall in
different batches, the re-sent export's preliminary line is newer than the stored re-send by
its pull time alone. Memory keeps the replaced versions but its Scan does not return them, so
ingestion keeps their hashes here and refuses to write one back (audit R19 #1).

One row per superseded version ``(org_id, record_id, sha)``: restated days are a small share
of an export, and the primary key is the only index a lookup needs. The file lives beside the
batch ledger in ingestion's part of the data dir (replicas share it, WAL lets readers run
beside a writer) but is a database of its own, so its writes never queue behind the ledger's
reservations. Writes are idempotent (a retried batch adds nothing), one transaction a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from mesh.runtime.sqlite_db import LockedSQLite

__all__ = ["SupersededLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS superseded (
    org_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    sha TEXT NOT NULL,
    PRIMARY KEY (org_id, record_id, sha)
) WITHOUT ROWID;
"""
# SQLite's default limit on a statement's parameters is 999 on older builds.
_CHUNK = 900


class SupersededLog(LockedSQLite):
    """SQLite-backed (WAL, synchronous=FULL); safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def add(self, org_id: str, entries: Iterable[tuple[str, str]]) -> None:
        """Remember ``(record_id, sha)`` pairs as superseded versions of ``org_id``'s records."""
        rows = [(org_id, rid, sha) for rid, sha in set(entries)]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO superseded VALUES (?, ?, ?)", rows)

    def find(self, org_id: str, record_ids: Sequence[str]) -> set[tuple[str, str]]:
        """The superseded ``(record_id, sha)`` pairs of these records."""
        ids = sorted(set(record_ids))
        found: set[tuple[str, str]] = set()
        with self._lock:
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(part))
                found.update(
                    (str(rid), str(sha))
                    for rid, sha in self._db.execute(
                        "SELECT record_id, sha FROM superseded "
                        f"WHERE org_id = ? AND record_id IN ({marks})",
                        (org_id, *part),
                    )
                )
        return found

    def count(self, org_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM superseded WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(n)
