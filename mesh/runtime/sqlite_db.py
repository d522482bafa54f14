"""Durable SQLite connections for the services' own small stores.

WAL lets readers run beside the writer; ``synchronous=FULL`` fsyncs every commit, so what a
service acknowledged survives a power cut, not only a process kill. A database is created
0600 in a 0700 directory whatever the umask (SQLite gives its -wal and -shm files the
database file's mode).

A full or unwritable disk reaches a statement as ``sqlite3.OperationalError`` ("database or
disk is full", "attempt to write a readonly database"); the connections here raise it as
``mesh.runtime.storage.StorageFailure`` instead (RESOURCE_EXHAUSTED to a caller, naming the
directory), so every store gets the same answer without mapping errors itself. SQLite has
rolled the transaction back by then when the failure was the COMMIT's: a store's ROLLBACK
checks ``in_transaction`` first, or its "cannot rollback - no transaction is active" hides the
cause (audit R19-F-DISKFULL).

Deleted rows leave the files, not only the answers (erasure requests, s19 V1 F3): every
connection sets ``secure_delete`` (SQLite's own default is off, and a host's build may keep it
so), which zeroes a deleted row's cells and freed pages, and a store that erased rows
VACUUMs (stale copies in page gaps) and empties its write-ahead log, whose older frames still
hold them (:meth:`LockedSQLite._erased`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from mesh.runtime.storage import StorageFailure, check_writable, storage_failure

__all__ = [
    "LockedSQLite",
    "StorageConnection",
    "connect_durable",
    "sqlite_files",
    "transaction",
]

_LOGGER = logging.getLogger(__name__)

NOTHING_STORED = "nothing of this call was stored — send it again"
# Between tries to empty a write-ahead log a reader keeps in use: doubling from the first,
# up to the last (a replica's read holds it for a statement, so the first retries succeed).
_TRUNCATE_RETRY_S = (0.25, 30.0)
# A store up to this size is VACUUMed after an erasure (it needs as much free disk, and holds
# the store's lock meanwhile); these stores are megabytes, memory's bound is the same.
ERASE_VACUUM_BYTES = 2 << 30


class StorageConnection(sqlite3.Connection):
    """A connection whose statements raise a full or unwritable disk as
    :class:`StorageFailure` (``owner``'s disk at ``where``; ``lost`` says what the caller
    lost and how to re-send it). Cursors' own ``execute`` is not covered: the stores run
    their statements on the connection."""

    owner = "this service"
    where = ""
    lost = NOTHING_STORED

    def _raise(self, exc: sqlite3.Error) -> NoReturn:
        """``exc`` as a storage failure when it is a full or unwritable disk, else as it is."""
        failure = storage_failure(exc, self.where, owner=self.owner, lost=self.lost)
        if failure is None:
            raise exc
        raise failure from exc

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            self._raise(exc)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            self._raise(exc)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.Error as exc:
            self._raise(exc)


def sqlite_files(path: Path) -> tuple[Path, Path, Path]:
    """A database and its WAL-mode companions."""
    return path, Path(f"{path}-wal"), Path(f"{path}-shm")


def connect_durable(
    path: Path, *, owner: str | None = None, lost: str = NOTHING_STORED
) -> StorageConnection:
    """An autocommit connection (explicit BEGIN where a store needs a transaction) usable
    from any thread, in WAL mode with fsynced commits, deleted content overwritten with zeros
    (``secure_delete``). ``owner`` (default: the name of the database's directory, a
    service's part of the data dir) and ``lost`` word the error a full disk gives
    (:class:`StorageConnection`)."""
    # Created 0600 before SQLite opens it, and only when it does not exist: closing any
    # descriptor of an open database file drops every POSIX lock this process holds on it
    # (fcntl semantics), so reopening it here would let another process checkpoint and
    # delete the WAL under this process's connections.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    db = sqlite3.connect(
        path, check_same_thread=False, isolation_level=None, factory=StorageConnection
    )
    db.owner = owner or path.parent.name
    db.where = str(path.parent)
    db.lost = lost
    _enter_wal(db)
    db.execute("PRAGMA synchronous=FULL")
    # Whatever the host build's default: a deleted row must not stay in the file's free space.
    db.execute("PRAGMA secure_delete=ON")
    return db


def _enter_wal(db: sqlite3.Connection, patience: float = 30.0) -> None:
    """Switch ``db`` to WAL, waiting while another process holds the lock the switch needs.
    SQLite does not call the busy handler for it, so two replicas opening a new database at
    once failed "database is locked" at start-up (one causal replica of two died in CI)."""
    deadline = time.monotonic() + patience
    pause = 0.005
    while True:
        try:
            (mode,) = db.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 0.1)
            continue
        if str(mode).lower() != "wal":  # e.g. a filesystem without shared memory
            raise sqlite3.OperationalError(f"cannot use WAL journal mode here (got {mode!r})")
        return


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection: BEGIN IMMEDIATE (other processes
    wait), COMMIT when the block ends; on any error rolled back — unless SQLite already did,
    as after a COMMIT that failed on a full disk, where a second ROLLBACK would raise "no
    transaction is active" over the real error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class LockedSQLite:
    """One durable connection, its schema applied, shared by worker threads under a lock
    (``self._lock`` guards every use of ``self._db``). Its directory and files must be
    writable when it opens (``mesh.runtime.storage.StorageUnwritable`` otherwise: the service
    exits naming the path rather than serve and fail every write)."""

    def __init__(self, path: Path, schema: str) -> None:
        check_writable(path.parent, sqlite_files(path))
        self._lock = threading.Lock()
        self._db = connect_durable(path)
        self._db.executescript(schema)
        self._path = path
        self._closing = threading.Event()
        self._retrying: threading.Thread | None = None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """:func:`transaction` on this store's connection, under its lock."""
        with self._lock, transaction(self._db) as db:
            yield db

    def _erased(self) -> None:
        """Call once a transaction that erased rows has committed (not holding the lock).
        secure_delete zeroed their cells, but older copies stay in page gaps (VACUUM: see
        :meth:`_compact`) and in the write-ahead log's earlier frames: copy the log into the
        database and truncate it. Another connection using the log (a replica reading or
        writing) keeps it; this call then does not wait for it (the caller's reply would) but
        a background thread tries again until it is done."""
        with self._lock:
            self._compact()
            if self._truncate_log() or self._retrying is not None:
                return
            self._retrying = threading.Thread(
                target=self._retry_truncate, name=f"truncate {self._path.name}", daemon=True
            )
            self._retrying.start()
        _LOGGER.info(
            "%s: the erased rows stay in its write-ahead log while another connection uses "
            "it; emptying it as soon as that ends", self._path,
        )  # fmt: skip

    def _compact(self) -> None:
        """VACUUM (caller holds the lock): secure_delete zeroes a deleted cell, not the stale
        copies a page split or merge left earlier in a page's unallocated gap (seen: 6 of a
        deleted factor series' names in a 6 MB store). It rewrites the whole file, so past
        :data:`ERASE_VACUUM_BYTES` the deletion only warns. A failure (another replica's long
        write, a full disk) leaves the deletion as it is, with a warning."""
        (pages,) = self._db.execute("PRAGMA page_count").fetchone()
        (page,) = self._db.execute("PRAGMA page_size").fetchone()
        if int(pages) * int(page) > ERASE_VACUUM_BYTES:
            _LOGGER.warning(
                "%s is %d MiB, over the %d MiB a deletion VACUUMs: fragments of the erased "
                "rows may stay in page gaps until a VACUUM (run it with the service stopped)",
                self._path, (int(pages) * int(page)) >> 20, ERASE_VACUUM_BYTES >> 20,
            )  # fmt: skip
            return
        try:
            self._db.execute("VACUUM")
        except (sqlite3.Error, StorageFailure) as exc:
            _LOGGER.warning(
                "%s: the erased rows are deleted, but fragments may stay in page gaps until "
                "a VACUUM succeeds: %s", self._path, exc,
            )  # fmt: skip

    def _truncate_log(self) -> bool:
        """One try at ``wal_checkpoint(TRUNCATE)`` that waits for no other connection
        (caller holds the lock); whether the log is now empty. False also when it could not
        be written: the rows are deleted all the same, and the next try may succeed."""
        if self._closing.is_set():
            return True  # the last connection's close checkpoints (or a replica's erasure)
        (patience,) = self._db.execute("PRAGMA busy_timeout").fetchone()
        self._db.execute("PRAGMA busy_timeout=0")
        try:
            (busy, _, _) = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except (sqlite3.Error, StorageFailure) as exc:
            _LOGGER.warning("%s: could not empty its write-ahead log: %s", self._path, exc)
            busy = 1
        finally:
            self._db.execute(f"PRAGMA busy_timeout={int(patience)}")
        return not busy

    def _retry_truncate(self) -> None:
        """The background tries, until one empties the log or the store closes. Done under
        the lock with the last try, so an erasure after it starts a new thread."""
        pause, longest = _TRUNCATE_RETRY_S
        while not self._closing.wait(pause):
            with self._lock:
                if self._truncate_log():
                    self._retrying = None
                    _LOGGER.info("%s: write-ahead log emptied of the erased rows", self._path)
                    return
            pause = min(2 * pause, longest)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            retrying = self._retrying
        if retrying is not None:
            retrying.join()
        with self._lock:
            self._db.close()
