"""Clearing deleted records' bytes from memory's SQLite files, after the deletion's reply.

``secure_delete`` (on every connection) zeroes a deleted row's cells and the pages it freed,
but two copies stay: the WAL's frames of the pages as they were before the deletion (until a
checkpoint truncates it), and stale copies of moved cells in the unallocated gap of pages SQLite
rebuilt when it split or merged them, which only a VACUUM rewrites (R40 F3). Both need every
reader off the WAL: a Scan's read snapshot (up to 120 s when its client stalls) keeps it in use.

This used to run inside the deletion under the write lock, waiting up to 60 s on an open Scan,
with every org's writes waiting and the reply late (s19 V1 F2: the CLI's 60 s deadline failed a
committed deletion). Now :class:`ErasureClearer` does it on its own thread, one round at a
time, after the deletion has replied. Each try takes the write lock and asks for a truncating
checkpoint without waiting (``busy_timeout`` 0): while a reader pins the WAL it lets go at once
and tries again later, so writes wait only while a checkpoint or the VACUUM actually runs.
Past ``patience_s`` it gives up with a WARNING; the log says when the files are clear.

The reply comes before the clearing, so "still to clear" must outlive the process: each
deletion marks its org in ``meta`` (``erase_pending:<org>``) in its own transaction
(:func:`mark_pending`), a round that clears the files removes the marks of its orgs, and a
store that opens with marks left (memory killed before its round ended, s19 V3 F1) starts a
round for them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from mesh.runtime.sqlite_db import clear_erased
from mesh.runtime.storage import StorageFailure

__all__ = ["CLEAR_PATIENCE_S", "ErasureClearer", "mark_pending"]

_LOGGER = logging.getLogger(__name__)

# How long a round keeps trying while readers hold the WAL before it gives up with a warning:
# well past a stalled Scan's 120 s, so only a reader stuck for good outlasts it.
CLEAR_PATIENCE_S = 600.0
_MAX_PAUSE_S = 1.0
# meta keys of the orgs whose deleted records may still be in the files
_MARK = "erase_pending:"


def mark_pending(db: sqlite3.Connection, org_id: str) -> None:
    """Mark ``org_id``'s deleted bytes as still to clear (inside the deletion's transaction,
    so a deletion that committed is one a later process knows to clear)."""
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, 1)", (_MARK + org_id,))


def _pending(db: sqlite3.Connection) -> list[str]:
    rows = db.execute(
        "SELECT key FROM meta WHERE substr(key, 1, ?) = ?", (len(_MARK), _MARK)
    ).fetchall()
    return [r[0][len(_MARK) :] for r in rows]


class ErasureClearer:
    """Clears the bytes of committed deletions from the store's files (``writer``, under
    ``lock``: the store's writer and its write lock), on a thread of its own. The store
    VACUUMs only while its size is at most ``vacuum_bytes()``."""

    def __init__(
        self,
        writer: sqlite3.Connection,
        lock: threading.Lock,
        vacuum_bytes: Callable[[], int],
        name: str,
        *,
        patience_s: float = CLEAR_PATIENCE_S,
    ) -> None:
        self._db = writer
        self._lock = lock
        self._vacuum_bytes = vacuum_bytes
        self._name = name
        self._patience_s = patience_s
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._orgs: list[str] = []  # deletions committed and not cleared yet, by org
        self._thread = threading.Thread(target=self._run, name="sqlite-erase", daemon=True)
        self._thread.start()
        with lock:
            left = _pending(writer)
        if left:  # a previous process committed these deletions and did not clear them
            _LOGGER.info(
                "clearing the deleted records of %s from %s: a deletion a previous run "
                "committed was not cleared before it stopped", _orgs(left), name,
            )  # fmt: skip
            with self._wake:
                self._orgs.extend(left)
                self._wake.notify()

    def deleted(self, org_id: str) -> None:
        """A deletion of ``org_id``'s records committed: clear its bytes (a round already
        running for earlier deletions is followed by another)."""
        with self._wake:
            self._orgs.append(org_id)
            self._wake.notify()

    def close(self) -> None:
        """Stop the thread; what is still to clear gets one last try (readers are closed by
        then), else a WARNING."""
        self._stopping.set()
        with self._wake:
            self._wake.notify()
        self._thread.join()
        orgs = self._take()
        if orgs and not self._round(orgs, time.monotonic(), last=True):
            self._gave_up(orgs, "memory stopped with a reader still on the WAL")

    def _take(self) -> list[str]:
        with self._wake:
            orgs, self._orgs = self._orgs, []
        return orgs

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                while not self._orgs and not self._stopping.is_set():
                    self._wake.wait()
            if self._stopping.is_set():
                return
            orgs = self._take()
            try:
                self._round(orgs, time.monotonic(), last=False)
            except Exception:  # never let the thread die: the next deletion tries again
                _LOGGER.exception("clearing the deleted records of %s failed", _orgs(orgs))

    def _round(self, orgs: list[str], started: float, *, last: bool) -> bool:
        """Truncate the WAL, VACUUM, truncate again, trying until ``patience_s`` has passed
        (``last``: once). Returns whether the files are clear (or could be no clearer)."""
        # None: not VACUUMed yet; True: VACUUMed; False: not, the store being over the bound
        vacuumed: bool | None = None
        pause = 0.02
        told_busy = False
        while True:
            try:
                with self._lock:
                    vacuumed, clear = self._try(vacuumed, orgs)
            # a full disk (the VACUUM needs the store's size again) or a file-size limit: the
            # writer's statements raise those as StorageFailure, SQLite's other errors as they are
            except (sqlite3.Error, StorageFailure) as exc:
                _LOGGER.error(
                    "the deletion of records of %s is committed, but clearing their bytes from "
                    "%s failed (%s): VACUUM the store with memory stopped",
                    _orgs(orgs), self._name, exc,
                )  # fmt: skip
                return False
            if clear:
                with self._lock:
                    self._unmark(orgs)
                _LOGGER.info(
                    "the deleted records of %s are cleared from %s and its WAL (%s), %.1f s "
                    "after the clearing began", _orgs(orgs), self._name,
                    "VACUUMed" if vacuumed else "not VACUUMed: over the bound",
                    time.monotonic() - started,
                )  # fmt: skip
                return True
            if last:
                return False
            if not told_busy:
                _LOGGER.info(
                    "clearing the deleted records of %s from %s waits for a read (a Scan) "
                    "that keeps the WAL in use; writes go on meanwhile", _orgs(orgs), self._name,
                )  # fmt: skip
                told_busy = True
            if time.monotonic() - started > self._patience_s:
                self._gave_up(orgs, f"a read kept the WAL in use for {self._patience_s:.0f} s")
                return False
            if self._stopping.wait(pause):  # close() makes the last try
                with self._wake:
                    self._orgs[:0] = orgs
                return False
            pause = min(2 * pause, _MAX_PAUSE_S)

    def _try(self, vacuumed: bool | None, orgs: list[str]) -> tuple[bool | None, bool]:
        """One try under the write lock, waiting for no reader (the runtime's one clean-up
        after a deletion): (``vacuumed`` as in :meth:`_round`, files clear)."""
        return clear_erased(
            self._db, vacuumed, vacuum_bytes=self._vacuum_bytes(), name=self._name,
            whose=f"the deleted records of {_orgs(orgs)}",
        )  # fmt: skip

    def _unmark(self, orgs: list[str]) -> None:
        """Remove the marks of the cleared ``orgs`` (under the write lock), but not of one a
        deletion since has queued again: its round is still to come."""
        with self._wake:
            again = set(self._orgs)
        done = [(_MARK + org,) for org in set(orgs) - again]
        self._db.executemany("DELETE FROM meta WHERE key = ?", done)

    def _gave_up(self, orgs: list[str], why: str) -> None:
        _LOGGER.warning(
            "the deleted records of %s are not cleared from %s (%s): the database file keeps "
            "the pages as they were before the deletion until a checkpoint truncates the WAL, "
            "and page gaps keep fragments until a VACUUM; the next deletion or start of memory "
            "tries again, or VACUUM the store with memory stopped",
            _orgs(orgs), self._name, why,
        )  # fmt: skip


def _orgs(orgs: list[str]) -> str:
    return ", ".join(sorted(set(orgs)))
