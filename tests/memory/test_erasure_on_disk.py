"""An erased account's bytes leave memory's SQLite files (database and WAL) by the time
DeleteRecords replies, whatever the host's SQLite build defaults to (R40 F3: on a build
without SQLITE_SECURE_DELETE the erased campaign name stayed 578 times; with it, a campaign
id stayed in an index page's unallocated gap)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from memory_svc.sqlite_store import SQLiteRecordStore

from .erasure_data import ERASED, SECRET, SECRET_ID, erase, serving, write_both


@pytest.fixture
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQLite connection opens as on a build without SQLITE_SECURE_DELETE (SQLite's
    documented default: freed content stays where it was)."""
    plain = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = plain(*args, **kwargs)  # type: ignore[call-overload]
        db.execute("PRAGMA secure_delete=OFF")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)


def _found(data: Path) -> dict[str, dict[str, int]]:
    """Occurrences of the erased account's strings in each of memory's SQLite files."""
    files = sorted(data.glob("memory.sqlite*"))
    return {
        needle: {f.name: f.read_bytes().count(needle.encode()) for f in files}
        for needle in (SECRET, SECRET_ID, ERASED)
    }


@pytest.mark.usefixtures("build_without_secure_delete")
def test_an_erased_account_is_not_in_the_database_files(tmp_path: Path) -> None:
    data = tmp_path / "memory"
    with serving(tmp_path) as stub:
        write_both(stub)
        assert sum(_found(data)[SECRET].values()) > 0
        erase(stub)
        # read while memory runs, before any stop's checkpoint
        assert not any(n for counts in _found(data).values() for n in counts.values()), _found(data)


@pytest.mark.usefixtures("build_without_secure_delete")
def test_a_store_over_the_vacuum_bound_says_what_may_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the size a deletion VACUUMs, the freed cells are still zeroed and the WAL
    truncated, and a warning says that page gaps may keep fragments."""
    plain = SQLiteRecordStore.__init__

    def small_bound(self: SQLiteRecordStore, path: Path, **kwargs: int) -> None:
        plain(self, path, **kwargs, erase_vacuum_bytes=0)

    monkeypatch.setattr(SQLiteRecordStore, "__init__", small_bound)
    data = tmp_path / "memory"
    with serving(tmp_path) as stub:
        write_both(stub)
        with caplog.at_level(logging.WARNING, logger="memory_svc.sqlite_delete"):
            erase(stub)
        found = _found(data)
        assert not any(found[SECRET].values()), found
        assert found[SECRET].get("memory.sqlite-wal", 0) == 0
    assert any("until a VACUUM" in r.getMessage() for r in caplog.records)
