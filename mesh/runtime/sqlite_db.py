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
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from mesh.runtime.storage import check_writable, storage_failure

__all__ = [
    "LockedSQLite",
    "StorageConnection",
    "connect_durable",
    "sqlite_files",
    "transaction",
]

NOTHING_STORED = "nothing of this call was stored — send it again"


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
    from any thread, in WAL mode with fsynced commits. ``owner`` (default: the name of the
    database's directory, a service's part of the data dir) and ``lost`` word the error a full
    disk gives (:class:`StorageConnection`)."""
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

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """:func:`transaction` on this store's connection, under its lock."""
        with self._lock, transaction(self._db) as db:
            yield db

    def close(self) -> None:
        with self._lock:
            self._db.close()
