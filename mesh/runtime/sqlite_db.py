"""Durable SQLite connections for the services' own small stores.

WAL lets readers run beside the writer; ``synchronous=FULL`` fsyncs every commit, so what a
service acknowledged survives a power cut, not only a process kill. A database is created
0600 in a 0700 directory whatever the umask (SQLite gives its -wal and -shm files the
database file's mode).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path


def connect_durable(path: Path) -> sqlite3.Connection:
    """An autocommit connection (explicit BEGIN where a store needs a transaction) usable
    from any thread, in WAL mode with fsynced commits."""
    # Created 0600 before SQLite opens it, and only when it does not exist: closing any
    # descriptor of an open database file drops every POSIX lock this process holds on it
    # (fcntl semantics), so reopening it here would let another process checkpoint and
    # delete the WAL under this process's connections.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


class LockedSQLite:
    """One durable connection, its schema applied, shared by worker threads under a lock
    (``self._lock`` guards every use of ``self._db``)."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = connect_durable(path)
        self._db.executescript(schema)

    def close(self) -> None:
        with self._lock:
            self._db.close()
