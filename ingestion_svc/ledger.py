"""The batch ledger: every acked batch id with the ack that was sent, so a re-sent batch is
answered from here without touching the memory service again; and the batch ids being
written now, so two calls never write one batch id at once.

A batch id is *reserved* (org, batch id, fingerprint of the request) in one transaction
before the batch is staged: a second call with the id finds either the ack (a replay, or
BATCH_ID_REUSED when its rows differ) or the reservation (refused at once when its rows
differ; told to wait for the first's answer when they are the same). An ack is written only
after the batch's records are durable in memory and just before it leaves, and it replaces
the reservation in the same transaction. A batch that fails (memory down, the call
cancelled) releases its reservation, so its retry runs in full — memory's idempotency by id
and version makes that retry write nothing twice. The ack is stored as opaque bytes (the
servicer's serialised message) beside the fingerprint, so reusing a batch id for different
rows is caught.

Replicas of the service share the ledger file (one host, ``liftos serve --replicas``): a
reservation names its owner's process, and one whose process has died (killed mid-batch,
no chance to release) is taken over by the next call that needs the id.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mesh.runtime.sqlite_db import LockedSQLite

__all__ = ["BatchLedger", "InFlight", "LedgerEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    org_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ack BLOB NOT NULL,
    acked_at_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, batch_id)
);
CREATE TABLE IF NOT EXISTS reservations (
    org_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    owner TEXT NOT NULL,
    reserved_at_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, batch_id)
);
"""

# Ledgers open in this process ("pid:uuid"): a reservation of this pid by any other is left
# from an earlier run of a process that had our pid (a restarted container's pid 1).
_OPEN: set[str] = set()
_OPEN_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A batch acked before: the request's fingerprint and the ack sent."""

    fingerprint: str
    ack: bytes


@dataclass(frozen=True, slots=True)
class InFlight:
    """A batch id another call is writing now: the fingerprint of its request."""

    fingerprint: str


class BatchLedger(LockedSQLite):
    """SQLite-backed (WAL, synchronous=FULL); safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        self._instance = f"{os.getpid()}:{uuid.uuid4().hex}"
        with _OPEN_LOCK:
            _OPEN.add(self._instance)
        with self._lock:
            stale = [
                owner
                for (owner,) in self._db.execute("SELECT DISTINCT owner FROM reservations")
                if _dead(owner)
            ]
            self._db.executemany("DELETE FROM reservations WHERE owner = ?", [(o,) for o in stale])

    def owner(self, caller: str) -> str:
        """The owner name a reservation of ``caller`` (e.g. one Ingest stream) carries."""
        return f"{self._instance}:{caller}"

    def close(self) -> None:
        with _OPEN_LOCK:
            _OPEN.discard(self._instance)
        super().close()

    def get(self, org_id: str, batch_id: str) -> LedgerEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, ack FROM batches WHERE org_id = ? AND batch_id = ?",
                (org_id, batch_id),
            ).fetchone()
        return LedgerEntry(row[0], bytes(row[1])) if row else None

    def reserve(
        self, org_id: str, batch_id: str, fingerprint: str, owner: str
    ) -> LedgerEntry | InFlight | None:
        """Reserve the batch id for ``owner`` (:meth:`owner`), in one transaction: None when
        it is now reserved; the ack when the id was acked before; :class:`InFlight` when
        another call holds it (``owner`` itself included: a stream that sends one batch
        twice)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # other processes wait: one reserves
            try:
                out = self._reserve(org_id, batch_id, fingerprint, owner)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return out

    def _reserve(
        self, org_id: str, batch_id: str, fingerprint: str, owner: str
    ) -> LedgerEntry | InFlight | None:
        key = (org_id, batch_id)
        row = self._db.execute(
            "SELECT fingerprint, ack FROM batches WHERE org_id = ? AND batch_id = ?", key
        ).fetchone()
        if row is not None:
            return LedgerEntry(row[0], bytes(row[1]))
        held = self._db.execute(
            "SELECT fingerprint, owner FROM reservations WHERE org_id = ? AND batch_id = ?", key
        ).fetchone()
        if held is not None and not _dead(held[1]):
            return InFlight(held[0])
        self._db.execute(
            "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?, ?)",
            (*key, fingerprint, owner, int(time.time() * 1e6)),
        )
        return None

    def release(self, org_id: str, batch_id: str, owner: str) -> None:
        """Give up ``owner``'s reservation of a batch id that was not acked (nothing when
        it holds none)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM reservations WHERE org_id = ? AND batch_id = ? AND owner = ?",
                (org_id, batch_id, owner),
            )

    def put(self, org_id: str, batch_id: str, fingerprint: str, ack: bytes) -> None:
        """Record an ack (a second put of the same batch keeps the first), ending the batch
        id's reservation."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?)",
                    (org_id, batch_id, fingerprint, ack, int(time.time() * 1e6)),
                )
                self._db.execute(
                    "DELETE FROM reservations WHERE org_id = ? AND batch_id = ?",
                    (org_id, batch_id),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def count(self, org_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM batches WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(n)


def _dead(owner: str) -> bool:
    """Whether the process that wrote a reservation ("pid:uuid:caller") has ended."""
    pid_text, _, rest = owner.partition(":")
    instance = f"{pid_text}:{rest.partition(':')[0]}"
    try:
        pid = int(pid_text)
    except ValueError:
        return True
    if pid == os.getpid():
        with _OPEN_LOCK:
            return instance not in _OPEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
