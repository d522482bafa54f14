"""Content ingestion has seen superseded, per record: the raw-row hashes of versions a later
version replaced, so a version sent again is told from a restatement.

Versions order by pull time, and an export sent again gets a later one (the SDK stamps
``pulled_at`` now; the CLI takes a copied file's modification time). A restated day is a
preliminary line and, later in the export, the platform's re-send; when the two fall in
different batches, the re-sent export's preliminary line is newer than the stored re-send by
its pull time alone. Memory keeps the replaced versions but its Scan does not return them, so
ingestion keeps their hashes here (audit R19 #1).

A version comes back only when the batch says it corrects stored rows (IngestRequest's
``restore_replaced``: the user's right file after a wrong one, s18 R33 F0) and its pull is
later than the replacing one. A pull time alone cannot say it: a copied or restored export
folder gets new file times, which the CLI takes as the pull time, and written back by them
its old versions would silently revert every restatement since (s18 V1 F7). So each row
keeps what a correction is judged by: ``replaced_at``, the pull time (µs) of the version
that replaced it, and ``in_pull``, whether the replacing pull's own export held it before the
replacing line (the export restated it itself, so any re-send of that export carries it
again). A version sent again is a copy without ``restore_replaced``, and with it when
``in_pull`` or its pull is not later than ``replaced_at``; rows from before these columns
(``replaced_at`` NULL) are copies whatever the pull, as they were then.

One row per superseded version ``(org_id, record_id, sha)``: restated days are a small share
of an export, and the primary key is the only index a lookup needs. The file lives beside the
batch ledger in ingestion's part of the data dir (replicas share it, WAL lets readers run
beside a writer) but is a database of its own, so its writes never queue behind the ledger's
reservations. Writes are idempotent (a retried batch adds nothing), one transaction a batch.

A row holds the hash of a whole raw row (an order's JSON with its customer's email), so the
versions of records memory deleted are dropped when ingestion forgets the org's batches
(:func:`forget_erased`, from ForgetBatches, after every DeleteRecords). Only theirs: the log
is asked about records memory holds only, so those rows decide nothing more, while a held
record's rows are what keep an old export sent again from reverting its restatement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mesh.runtime.sqlite_db import LockedSQLite

__all__ = ["Replaced", "SupersededLog", "forget_erased"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS superseded (
    org_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    sha TEXT NOT NULL,
    replaced_at INTEGER,
    in_pull INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, record_id, sha)
) WITHOUT ROWID;
"""
# A log written before a version's replacing pull was kept gets the columns (NULL: unknown).
_UPGRADE = (
    ("replaced_at", "ALTER TABLE superseded ADD COLUMN replaced_at INTEGER"),
    ("in_pull", "ALTER TABLE superseded ADD COLUMN in_pull INTEGER NOT NULL DEFAULT 0"),
)
# Superseded again: the latest replacing pull, and in a pull's own export if ever (NULL, not
# known, stays: max() of a NULL is NULL).
_ADD = (
    "INSERT INTO superseded VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (org_id, record_id, sha) DO UPDATE SET "
    "replaced_at = max(replaced_at, excluded.replaced_at), "
    "in_pull = max(in_pull, excluded.in_pull)"
)
# SQLite's default limit on a statement's parameters is 999 on older builds.
_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Replaced:
    """How a version was replaced: the replacing pull's time (µs; None: not known, a row
    from before it was kept) and whether that pull's own export held this version first."""

    at: int | None
    in_pull: bool

    def merged(self, other: Replaced) -> Replaced:
        """Both replacements as one (as the log merges a version superseded again)."""
        at = None if self.at is None or other.at is None else max(self.at, other.at)
        return Replaced(at, self.in_pull or other.in_pull)

    def copies(self, pulled_at_us: int, restore: bool) -> bool:
        """Whether this version sent in a pull of ``pulled_at_us`` is a copy of an old export
        rather than a correction: only a batch that says it corrects (``restore``) restores
        it, by a later pull than the replacing one, and never one of the export that
        replaced it itself."""
        return not restore or self.in_pull or self.at is None or pulled_at_us <= self.at


class SupersededLog(LockedSQLite):
    """SQLite-backed (WAL, synchronous=FULL); safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        with self._transaction() as db:  # replicas may upgrade at once: checked inside
            have = {str(row[1]) for row in db.execute("PRAGMA table_info(superseded)")}
            for column, statement in _UPGRADE:
                if column not in have:
                    db.execute(statement)

    def add(self, org_id: str, entries: Iterable[tuple[str, str, bool]], replaced_at: int) -> None:
        """Remember ``(record_id, sha, in_pull)`` as superseded versions of ``org_id``'s
        records, replaced by a pull of ``replaced_at`` (µs)."""
        rows = [(org_id, rid, sha, replaced_at, int(inside)) for rid, sha, inside in set(entries)]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany(_ADD, rows)

    def find(self, org_id: str, record_ids: Sequence[str]) -> dict[tuple[str, str], Replaced]:
        """The superseded ``(record_id, sha)`` versions of these records, and how each was
        replaced."""
        ids = sorted(set(record_ids))
        found: dict[tuple[str, str], Replaced] = {}
        with self._lock:
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(part))
                found.update(
                    ((str(rid), str(sha)), Replaced(None if at is None else int(at), bool(inside)))
                    for rid, sha, at, inside in self._db.execute(
                        "SELECT record_id, sha, replaced_at, in_pull FROM superseded "
                        f"WHERE org_id = ? AND record_id IN ({marks})",
                        (org_id, *part),
                    )
                )
        return found

    def record_ids(self, org_id: str) -> set[str]:
        """The org's records with a superseded version logged."""
        with self._lock:
            return {
                str(r[0])
                for r in self._db.execute(
                    "SELECT DISTINCT record_id FROM superseded WHERE org_id = ?", (org_id,)
                )
            }

    def drop(self, org_id: str, record_ids: Iterable[str]) -> int:
        """Forget every logged version of these records of the org (memory no longer holds
        them); returns how many versions went. They leave the database file and its
        write-ahead log (:meth:`LockedSQLite._erased`)."""
        ids = sorted(set(record_ids))
        dropped = 0
        with self._transaction() as db:
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(part))
                dropped += db.execute(
                    f"DELETE FROM superseded WHERE org_id = ? AND record_id IN ({marks})",
                    (org_id, *part),
                ).rowcount
        if dropped:
            self._erased()  # the hashes of erased rows leave the files, not only the answers
        return dropped

    def count(self, org_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM superseded WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(n)


async def forget_erased(
    log: SupersededLog, org_id: str, held: Callable[[set[str]], Awaitable[set[str]]]
) -> int:
    """Drop the logged versions of the org's records that memory no longer holds (``held``:
    which of the ids it does); returns how many versions went. Records first logged after
    the ids are read are not touched. A batch of the org written during the delete may log a
    version of a record read here before memory stores it again; that row goes too, which
    costs only that an old export re-sent later restates that record (as before the log)."""
    ids = await asyncio.to_thread(log.record_ids, org_id)
    if not ids:
        return 0
    gone = ids - await held(ids)
    return await asyncio.to_thread(log.drop, org_id, gone) if gone else 0
