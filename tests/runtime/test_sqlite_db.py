"""A second connection of a durable SQLite store must not drop the process's locks on the
database file: closing any descriptor of an open file releases every POSIX lock the process
holds on it, after which another process closing its own connection took itself for the last
one, checkpointed and deleted the WAL under the store's open connections (re-audit R3-N4: a
read-only `sqlite3` query against a live memory store; later writes failed "disk I/O error")."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

from mesh.runtime.sqlite_db import connect_durable


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


OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from mesh.runtime.sqlite_db import LockedSQLite
first, trials, folder = float(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
failed = 0
for i in range(trials):
    while time.time() < first + 0.25 * i:
        pass
    try:
        LockedSQLite(folder / f"{i}.sqlite", "CREATE TABLE IF NOT EXISTS t (x);").close()
    except Exception as exc:
        failed += 1
        print(i, repr(exc), file=sys.stderr)
print(failed)
"""


def test_replicas_opening_a_new_store_at_once_all_start(tmp_path: Path) -> None:
    """Two replicas of a service open its new database at the same moment: switching it to WAL
    takes a lock SQLite's busy handler does not wait for, and one replica died "database is
    locked" (CI, tests/runtime/test_replicas.py; 16 of 40 fresh files with 4 openers)."""
    processes, trials = 6, 12
    first = time.time() + 3.0  # every process imported and spinning by then
    command = [sys.executable, "-c", OPEN_AT_ONCE, str(first), str(trials), str(tmp_path)]
    out = subprocess.PIPE
    procs = [subprocess.Popen(command, stdout=out, stderr=out, text=True) for _ in range(processes)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outcomes
    assert sum(int(out) for out, _ in outcomes) == 0, [err for _, err in outcomes if err]
    for i in range(trials):
        db = connect_durable(tmp_path / f"{i}.sqlite")
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
