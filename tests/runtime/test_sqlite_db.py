"""A second connection of a durable SQLite store must not drop the process's locks on the
database file: closing any descriptor of an open file releases every POSIX lock the process
holds on it, after which another process closing its own connection took itself for the last
one, checkpointed and deleted the WAL under the store's open connections (re-audit R3-N4: a
read-only `sqlite3` query against a live memory store; later writes failed "disk I/O error")."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from mesh.runtime.sqlite_db import connect_durable
from tests.at_once import failures, run_at_once


def test_another_process_closing_does_not_delete_the_wal_under_us(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    writer = connect_durable(path)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the WAL keeps what is written
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = connect_durable(path)  # the store opens one connection per reader thread
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    subprocess.run(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM t').fetchone(); c.close()", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    assert wal.exists() and wal.stat().st_size > 0, "the other process deleted our WAL"
    writer.execute("INSERT INTO t VALUES (2)")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (2,)
    # created private, as before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_replicas_opening_a_new_store_at_once_all_start(tmp_path: Path) -> None:
    """Two replicas of a service open its new database at the same moment: switching it to WAL
    takes a lock SQLite's busy handler does not wait for, and one replica died "database is
    locked" (CI, tests/runtime/test_replicas.py; 16 of 40 fresh files with 4 openers)."""
    trials = 12
    seen = run_at_once(
        "from mesh.runtime.sqlite_db import LockedSQLite",
        'LockedSQLite(path.with_suffix(".sqlite"), "CREATE TABLE IF NOT EXISTS t (x);").close()',
        tmp_path, trials=trials,
    )  # fmt: skip
    assert failures(seen) == []
    for i in range(trials):
        db = connect_durable((tmp_path / str(i)).with_suffix(".sqlite"))
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
