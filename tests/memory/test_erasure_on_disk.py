"""An erased account's bytes leave memory's SQLite files (database and WAL) after DeleteRecords
replies (the clearing runs on its own thread: ``memory_svc.sqlite_erase``), whatever the
host's SQLite build defaults to (R40 F3: on a build
without SQLITE_SECURE_DELETE the erased campaign name stayed 578 times; with it, a campaign
id stayed in an index page's unallocated gap)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from memory_svc.sqlite_store import SQLiteRecordStore
from tests.support import open_without_secure_delete

from .erasure_data import (
    CLEARED_BOUND_S,
    SECRET,
    erase,
    found_on_disk,
    serving,
    when_cleared,
    write_both,
)


@pytest.fixture
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    open_without_secure_delete(monkeypatch)


@pytest.mark.usefixtures("build_without_secure_delete")
def test_an_erased_account_is_not_in_the_database_files(tmp_path: Path) -> None:
    data = tmp_path / "memory"
    with serving(tmp_path) as stub:
        write_both(stub)
        assert sum(found_on_disk(data)[SECRET].values()) > 0
        erase(stub)
        # read while memory runs, before any stop's checkpoint
        found = when_cleared(data)
        assert not any(n for counts in found.values() for n in counts.values()), found


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
        with caplog.at_level(logging.INFO, logger="memory_svc.sqlite_erase"):
            erase(stub)
            found = when_cleared(data, (SECRET,))
            assert not any(found[SECRET].values()), found
            assert found[SECRET].get("memory.sqlite-wal", 0) == 0
            # the warning comes before the line that says the files are as clear as they get
            _wait_for(caplog, "are cleared from")
    assert any("until a VACUUM" in r.getMessage() for r in caplog.records)


def _wait_for(caplog: pytest.LogCaptureFixture, text: str) -> None:
    stop = time.monotonic() + CLEARED_BOUND_S
    while not any(text in r.getMessage() for r in caplog.records):
        assert time.monotonic() < stop, f"no log line says {text!r}"
        time.sleep(0.2)
