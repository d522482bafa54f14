"""Rows a LockedSQLite store erases leave its files (s19 V1 F3): every durable connection
zeroes deleted content whatever the host build's default, and the store empties its WAL after
an erasure — at once when no other connection reads it, else in the background, which a
close ends without waiting for the reader. Real SQLite files."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mesh.runtime.sqlite_db import LockedSQLite, connect_durable
from tests.support import open_without_secure_delete

SECRET = b"Zebra-Client-Secret-Note"


class Notes(LockedSQLite):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "CREATE TABLE IF NOT EXISTS notes (org TEXT, body BLOB);")

    def add(self, org: str, n: int) -> None:
        with self._transaction() as db:
            db.executemany("INSERT INTO notes VALUES (?, ?)", [(org, SECRET * 40)] * n)

    def erase(self, org: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM notes WHERE org = ?", (org,))
        self._erased()


@pytest.fixture(autouse=True)
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    open_without_secure_delete(monkeypatch)


def _held(path: Path) -> int:
    return sum(p.read_bytes().count(SECRET) for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_durable_connection_zeroes_deleted_content(tmp_path: Path) -> None:
    db = connect_durable(tmp_path / "a.sqlite")
    assert db.execute("PRAGMA secure_delete").fetchone() == (1,)
    db.close()


def test_an_erasure_leaves_the_database_and_its_log(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    notes = Notes(path)
    notes.add("gone", 200)
    notes.add("kept", 1)
    assert _held(path) >= 200 * 40
    notes.erase("gone")
    assert _held(path) == 40  # the kept org's note only, the store still open
    notes.close()


def test_a_reader_delays_the_clean_up_and_a_close_does_not_wait_for_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    notes = Notes(path)
    notes.add("gone", 50)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM notes").fetchone() == (50,)
    notes.erase("gone")  # returns while the reader keeps the log
    assert _held(path) > 0
    notes.close()  # ends the background retries; does not wait for the reader
    assert _held(path) > 0
    reader.execute("COMMIT")
    reader.close()  # the last connection: SQLite checkpoints and removes the log
    assert _held(path) == 0


def test_the_background_retry_empties_the_log_once_the_reader_is_done(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    notes = Notes(path)
    notes.add("gone", 50)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM notes").fetchone()
        notes.erase("gone")
        reader.execute("COMMIT")  # the reader stays connected, reading nothing
        cleared_in_the_background(path, lambda: _held(path))
    finally:
        reader.close()
        notes.close()


def cleared_in_the_background(path: Path, copies: Callable[[], int]) -> None:
    """Wait (60 s at most: a bound, not a timing claim) for the store at ``path`` to hold no
    ``copies()`` and its WAL to be truncated, then assert both. Both: the log is emptied
    before the VACUUM as well as after it (mesh.runtime.sqlite_db.clear_erased)."""
    wal = Path(f"{path}-wal")
    deadline = time.monotonic() + 60
    while (copies() or wal.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert copies() == 0
    assert wal.stat().st_size == 0  # truncated, not only reset
