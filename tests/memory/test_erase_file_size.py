"""Clearing a committed deletion's bytes that fails for a limit of the host (the VACUUM's copy
past the file-size limit, or a full disk) is said as such (s20 FF_notes 5): the store's writer
raises those as StorageFailure, which the clearer's ``except sqlite3.Error`` missed, so its
thread logged "clearing the deleted records of o failed" with a traceback and not what to do.
Now one ERROR line: the deletion is committed, clearing failed (the limit named), VACUUM with
memory stopped.

A real SQLite store and ErasureClearer in a child process that lowers its own RLIMIT_FSIZE
below the store's size, so the VACUUM's write is refused by the kernel (EFBIG)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A 2 MB store with a committed deletion marked to clear; the file-size limit is then lowered
# to 1 MB and a clearer started: what its logger said, and whether close() raised.
_CHILD = """
import json, logging, resource, sys, threading, time
from pathlib import Path
from memory_svc.sqlite_erase import ErasureClearer, mark_pending
from mesh.runtime.sqlite_db import connect_durable
d = Path(sys.argv[1])
db = connect_durable(d / "m.sqlite", owner="memory")
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
db.execute("CREATE TABLE t (x BLOB)")
for _ in range(40):
    db.execute("INSERT INTO t VALUES (randomblob(50000))")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("DELETE FROM t WHERE rowid <= 2")
mark_pending(db, "o")
lines = []
class Keep(logging.Handler):
    def emit(self, r):
        lines.append([r.levelname, r.getMessage(), r.exc_info is not None])
log = logging.getLogger("memory_svc.sqlite_erase")
log.addHandler(Keep())
log.setLevel(logging.INFO)
log.propagate = False
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
clearer = ErasureClearer(db, threading.Lock(), lambda: 1 << 30, "m.sqlite")
end = time.monotonic() + 60
while not any(level == "ERROR" for level, *_ in lines) and time.monotonic() < end:
    time.sleep(0.02)
closed = "ok"
try:
    clearer.close()
except Exception as exc:
    closed = f"{type(exc).__name__}: {exc}"
print(json.dumps({"lines": lines, "closed": closed}))
"""


def test_clearing_past_the_file_size_limit_says_so_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    errors = [(message, traced) for level, message, traced in got["lines"] if level == "ERROR"]
    assert len(errors) == 1, got
    message, traced = errors[0]
    assert not traced, message  # the cause is known: no traceback
    assert message.startswith(
        "the deletion of records of o is committed, but clearing their bytes from m.sqlite "
        "failed (memory's file "
    ), message
    assert "reached the file-size limit (1,048,576 bytes" in message, message
    assert message.endswith("VACUUM the store with memory stopped"), message
    assert got["closed"] == "ok"
