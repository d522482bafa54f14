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
hold them (:func:`clear_erased`, the one clean-up every store's deletion runs).
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
    "ERASE_VACUUM_BYTES",
    "LockedSQLite",
    "StorageConnection",
    "clear_erased",
    "connect_durable",
    "sqlite_files",
    "transaction",
]

_LOGGER = logging.getLogger(__name__)

NOTHING_STORED = "nothing of this call was stored — send it again"
# Between tries to clear erased rows while a reader keeps the write-ahead log in use: doubling
# from the first, up to the last (a replica's read holds it for a statement, so the first
# retries succeed).
_CLEAR_RETRY_S = (0.25, 30.0)
# A store up to this size is VACUUMed after an erasure (it needs as much free disk, and holds
# the store's lock meanwhile); these stores are megabytes. Memory's store uses the same bound,
# after each deletion's reply (measured: 264 MiB in 9.5 s wall, 1.1 s CPU, on a loaded 2-core
# box; docs/performance.md); past it the clearing logs what is left instead.
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


def clear_erased(
    db: sqlite3.Connection, vacuumed: bool | None, *, vacuum_bytes: int, name: object,
    whose: str,
) -> tuple[bool | None, bool]:  # fmt: skip
    """One try at clearing rows a committed deletion erased from ``db``'s files (the caller
    holds the store's write lock), waiting for no other connection. secure_delete zeroed their
    cells, but two copies stay: the write-ahead log's frames of the pages as they were, until a
    truncating checkpoint; and stale copies of moved cells in the unallocated gap of pages
    SQLite split or merged earlier, which only a VACUUM rewrites (seen: 6 of a deleted factor
    series' names in a 6 MB store). So: empty the log (so what the VACUUM writes to it holds
    none of the old pages), VACUUM, empty it again. A store over ``vacuum_bytes`` is not
    VACUUMed (it needs as much free disk and holds the lock meanwhile): a warning names
    ``name``'s size and says fragments of ``whose`` may stay.

    ``vacuumed`` carries between the tries of one clean-up: None (not VACUUMed yet), True
    (VACUUMed) or False (not: over the bound). Returns it and whether the files are clear:
    not while a reader keeps the log in use (try again later). Any other failure (a full
    disk) raises."""
    timeout = int(db.execute("PRAGMA busy_timeout").fetchone()[0])
    db.execute("PRAGMA busy_timeout=0")
    try:
        if vacuumed is None:
            if not _truncated(db):
                return None, False
            size = int(db.execute("PRAGMA page_count").fetchone()[0]) * int(
                db.execute("PRAGMA page_size").fetchone()[0]
            )
            if size > vacuum_bytes:
                _LOGGER.warning(
                    "%s is %d MiB, over the %d MiB a deletion VACUUMs: fragments of %s may "
                    "stay in the unallocated space of pages still in use until a VACUUM with "
                    "the service stopped (docs/deploy.md, erasure)",
                    name, size >> 20, vacuum_bytes >> 20, whose,
                )  # fmt: skip
                return False, True
            try:
                db.execute("VACUUM")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return None, False  # a reader started meanwhile: later
                raise
            vacuumed = True
        return vacuumed, _truncated(db)
    finally:
        db.execute(f"PRAGMA busy_timeout={timeout}")


def _truncated(db: sqlite3.Connection) -> bool:
    """A truncating checkpoint (that waits for no reader when busy_timeout is 0); whether it
    emptied the log."""
    return not db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]


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
        self._vacuumed: bool | None = None  # clear_erased's state for the erasure in hand

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """:func:`transaction` on this store's connection, under its lock."""
        with self._lock, transaction(self._db) as db:
            yield db

    def _erased(self) -> None:
        """Call once a transaction that erased rows has committed (not holding the lock):
        :func:`clear_erased` now, and while another connection uses the log (a replica
        reading or writing) a background thread tries again until it can; this call does not
        wait for it (the caller's reply would)."""
        with self._lock:
            self._vacuumed = None  # this erasure's rows: VACUUM again, even after an earlier one
            if self._clear() or self._retrying is not None:
                return
            self._retrying = threading.Thread(
                target=self._retry_clear, name=f"clear {self._path.name}", daemon=True
            )
            self._retrying.start()
        _LOGGER.info(
            "%s: the erased rows stay in its write-ahead log while another connection uses "
            "it; clearing them as soon as that ends", self._path,
        )  # fmt: skip

    def _clear(self) -> bool:
        """One :func:`clear_erased` try (caller holds the lock); whether it is done. A failure
        (a full disk: the VACUUM needs the store's size again) leaves the deletion as it is,
        with a warning; the next erasure tries again."""
        if self._closing.is_set():
            return True  # the last connection's close checkpoints (or a replica's erasure)
        try:
            self._vacuumed, clear = clear_erased(
                self._db, self._vacuumed, vacuum_bytes=ERASE_VACUUM_BYTES, name=self._path,
                whose="the erased rows",
            )  # fmt: skip
        except (sqlite3.Error, StorageFailure) as exc:
            _LOGGER.warning(
                "%s: the erased rows are deleted, but copies may stay in its write-ahead log "
                "or page gaps until a checkpoint and a VACUUM succeed: %s", self._path, exc,
            )  # fmt: skip
            return True
        return clear

    def _retry_clear(self) -> None:
        """The background tries, until one clears the files or the store closes. Done under
        the lock with the last try, so an erasure after it starts a new thread."""
        pause, longest = _CLEAR_RETRY_S
        while not self._closing.wait(pause):
            with self._lock:
                if self._clear():
                    self._retrying = None
                    _LOGGER.info("%s: the erased rows are cleared from its files", self._path)
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
