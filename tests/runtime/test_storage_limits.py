"""The host's limits on a store's files read as what they are (audit R49 F2-F4), not as
"internal error" (INTERNAL, which ingestion turned into a permanent MEMORY_REFUSED):

- out of file descriptors (EMFILE; SQLite's "unable to open database file"): RESOURCE_EXHAUSTED
  OPEN_FILE_LIMIT with a RetryInfo, naming the open-file limit and ``ulimit -n``;
- past the file-size limit (EFBIG; SQLite's "disk I/O error"): RESOURCE_EXHAUSTED
  FILE_SIZE_LIMIT (no RetryInfo) naming the file, the limit and ``ulimit -f``; the
  checkpointer says so too, and backs off while it fails (s21: both had reused a reason,
  RESOURCE_EXHAUSTED and STORAGE_FULL, so a client could not tell them from a full disk);
- SQLite's temporary-file directory full while the data dir has room: STORAGE_FULL naming
  that directory and SQLITE_TMPDIR, not "the disk is full at <data dir>".

The limits are real (a child process lowers its own RLIMIT_NOFILE / RLIMIT_FSIZE, so the
errors are the kernel's and SQLite's own); only the temporary directory's free space is
stood in for (``os.statvfs``: filling a real file system needs a mount, i.e. root)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest
from google.rpc import code_pb2

from memory_svc import sqlite_checkpoint
from memory_svc.sqlite_checkpoint import Checkpointer
from mesh.runtime import storage
from mesh.runtime.sqlite_db import connect_durable
from mesh.runtime.status import to_rpc_status
from mesh.runtime.storage import StorageFailure, storage_failure

ROOT = Path(__file__).resolve().parents[2]
LOST = "the batch was not stored — retry it"

# Lowers its own open-file limit to a few above what it holds, then opens connections the two
# ways the stores do (connect_durable: an OSError; sqlite3.connect: SQLite's CANTOPEN) until
# they fail, and prints how storage_failure reads each failure.
_OUT_OF_FDS = """
import json, os, resource, sqlite3, sys
from pathlib import Path
from mesh.runtime.sqlite_db import connect_durable
from mesh.runtime.storage import storage_failure
d = Path(sys.argv[1])
connect_durable(d / "m.sqlite").close()
held = len(os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (held + 6, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
out, keep = [], []
for how in ("connect_durable", "sqlite3.connect"):
    try:
        for _ in range(100):
            keep.append(connect_durable(d / "m.sqlite") if how == "connect_durable"
                        else sqlite3.connect(d / "m.sqlite"))
            keep[-1].execute("SELECT 1").fetchall()
    except Exception as exc:
        failure = storage_failure(exc, d, owner="memory", lost=sys.argv[2])
        out.append([how, type(exc).__name__, str(exc), failure and failure.reason,
                    failure and failure.retry_after_s, failure and failure.message])
    for db in keep:
        db.close()
    keep.clear()
print(json.dumps({"limit": held + 6, "out": out}))
"""

# Lowers its own file-size limit and writes a store past it; prints what the store raised and
# what the checkpointer logs for the WAL it can no longer copy into the grown database.
_PAST_FILE_SIZE = """
import json, logging, resource, sqlite3, sys, time
from pathlib import Path
from memory_svc.sqlite_checkpoint import Checkpointer
from mesh.runtime.sqlite_db import connect_durable
d = Path(sys.argv[1])
db = connect_durable(d / "m.sqlite", owner="memory", lost=sys.argv[2])
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute("CREATE TABLE t (x BLOB)")
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
got = None
try:
    for _ in range(100):
        db.execute("INSERT INTO t VALUES (randomblob(100000))")
except Exception as exc:
    got = [type(exc).__name__, getattr(exc, "reason", None), str(exc),
           str(exc.__cause__) if exc.__cause__ else None]
lines = []
class Keep(logging.Handler):
    def emit(self, record): lines.append(record.getMessage())
logging.getLogger("memory_svc.sqlite_checkpoint").addHandler(Keep())
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 19, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
ckpt = Checkpointer(lambda: sqlite3.connect(d / "m.sqlite", check_same_thread=False,
                    isolation_level=None), lambda: 0.01, str(d / "m.sqlite"))
end = time.monotonic() + 60
while ckpt.failures < 3 and time.monotonic() < end:
    time.sleep(0.01)
ckpt.stop()
print(json.dumps({"raised": got, "failures": ckpt.failures, "logged": lines}))
"""


def _child(script: str, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), LOST],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_out_of_file_descriptors_is_a_retryable_resource_exhausted(tmp_path: Path) -> None:
    got = _child(_OUT_OF_FDS, tmp_path)
    assert [o[0] for o in got["out"]] == ["connect_durable", "sqlite3.connect"], got
    for how, kind, words, reason, retry, message in got["out"]:
        assert (reason, retry) == ("OPEN_FILE_LIMIT", storage.OPEN_FILES_RETRY_S), (
            how,
            kind,
            words,
        )
        assert message.startswith("memory is out of file descriptors ("), message
        assert f"its open-file limit is {got['limit']:,}" in message
        assert f"{LOST} in a few seconds" in message and "ulimit -n" in message
    # the connect's own failure is the kernel's EMFILE, SQLite's is CANTOPEN (it says no more)
    assert got["out"][0][1] == "OSError" and got["out"][1][2] == "unable to open database file"
    failure = StorageFailure("m", reason="OPEN_FILE_LIMIT", retry_after_s=2.0)
    status = to_rpc_status(failure)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert any("RetryInfo" in d.type_url for d in status.details)  # the caller may retry


def test_past_the_file_size_limit_names_the_limit_and_the_checkpointer_backs_off(
    tmp_path: Path,
) -> None:
    got = _child(_PAST_FILE_SIZE, tmp_path)
    kind, reason, message, cause = got["raised"]
    assert (kind, reason) == ("StorageFailure", "FILE_SIZE_LIMIT"), got
    assert cause in ("disk I/O error", "database or disk is full")  # SQLite's own words
    assert f"memory's file {tmp_path / 'm.sqlite'}" in message
    assert "reached the file-size limit (1,048,576 bytes" in message
    assert f"{LOST} after raising memory's file-size limit (ulimit -f unlimited" in message
    assert got["failures"] >= 3
    (line,) = got["logged"]  # once, naming the limit (not "disk I/O error" alone)
    assert line.startswith(f"checkpointing {tmp_path / 'm.sqlite'} failed (")
    assert "reached the file-size limit (524,288 bytes" in line
    assert "the checkpoint succeeds after raising" in line and "ulimit -f" in line


def test_the_checkpointer_spaces_out_failing_rounds_and_resumes_its_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pauses between rounds, as the thread asks for them: doubling while checkpoints
    fail, at most 64 intervals, the interval again after one succeeds."""
    pauses: list[float] = []
    failing = threading.Event()
    failing.set()

    class Recorded(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            if timeout is not None:
                pauses.append(timeout)
                if len(pauses) == 10:
                    failing.clear()  # space freed
                if len(pauses) >= 14:
                    self.set()
            return super().wait(0)

    class Disk(sqlite3.Connection):
        def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:
            if failing.is_set() and "wal_checkpoint" in sql:
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, parameters)  # type: ignore[arg-type]

    monkeypatch.setattr(
        sqlite_checkpoint,
        "threading",
        types.SimpleNamespace(Event=Recorded, Thread=threading.Thread),
    )
    path = tmp_path / "c.sqlite"
    checkpointer = Checkpointer(
        lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=Disk),
        lambda: 0.5, str(path),
    )  # fmt: skip
    checkpointer._thread.join(timeout=60)
    assert pauses[:10] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0, 32.0, 32.0], pauses
    assert pauses[10:12] == [0.5, 0.5], pauses  # the round after the 10th pause succeeded
    assert checkpointer.rounds >= 1


def test_a_full_temporary_directory_is_named_not_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data, temp = tmp_path / "memory", tmp_path / "sqlite-tmp"
    data.mkdir()
    temp.mkdir()
    monkeypatch.setenv("SQLITE_TMPDIR", str(temp))
    assert storage.sqlite_temp_dir() == temp
    real = os.statvfs
    data_dev, temp_dev = os.stat(data).st_dev, os.stat(temp).st_dev

    def statvfs(path: str | os.PathLike[str]) -> os.statvfs_result:
        st = real(path)
        if Path(path) != temp:
            return st
        fields = list(st)
        fields[4] = fields[5] = 0  # f_bfree, f_bavail: the temporary directory is full
        return os.statvfs_result(fields)

    stat = os.stat

    def stat_of(path: str | os.PathLike[str], *args: object, **kwargs: object) -> os.stat_result:
        st = stat(path, *args, **kwargs)  # type: ignore[arg-type]
        if Path(path) == temp and data_dev == temp_dev:  # another file system, as /tmp often is
            fields = list(st)
            fields[2] = data_dev + 1  # st_dev
            return os.stat_result(fields)
        return st

    monkeypatch.setattr(storage.os, "statvfs", statvfs)
    monkeypatch.setattr(storage.os, "stat", stat_of)
    db = connect_durable(data / "m.sqlite", owner="memory", lost=LOST)
    db.execute("CREATE TABLE t (x BLOB)")
    full = sqlite3.connect(tmp_path / "full.sqlite")  # SQLite's SQLITE_FULL, as the temp's gives
    full.execute("CREATE TABLE t (x BLOB)")
    full.execute(f"PRAGMA max_page_count={full.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError) as err:
        full.execute("INSERT INTO t VALUES (zeroblob(100000))")
    caplog.set_level(logging.ERROR, logger="mesh.runtime.storage")
    failure = storage_failure(err.value, data, owner="memory", lost=LOST)
    assert failure is not None and failure.reason == "STORAGE_FULL"
    assert failure.message.startswith(f"memory's temporary-file directory {temp} is full (")
    assert f"not to the data dir {data}, which has room" in failure.message
    assert "point SQLITE_TMPDIR at a directory with room" in failure.message
    assert "disk is full at" not in failure.message
    assert [r.getMessage() for r in caplog.records] == [failure.message]
    # room in the temporary directory: the data dir's words, as before
    monkeypatch.setattr(storage.os, "statvfs", real)
    data_full = storage_failure(err.value, data, owner="memory", lost=LOST)
    assert data_full is not None and data_full.message.startswith(
        f"memory's disk is full at {data}"
    )
    db.close()
    full.close()


_AT_START = """
import logging, resource, sys
from pathlib import Path
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stdout)
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (10 << 20, hard))
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from mesh.runtime.storage import check_writable
check_writable(Path(sys.argv[1]) / "a")
check_writable(Path(sys.argv[1]) / "b")  # a store's own check later: said once
"""


def test_small_limits_are_warned_of_once_at_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _AT_START, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("WARNING this process may write files of at most 10,485,760 bytes")
    assert "ulimit -f unlimited" in lines[0]
    assert lines[1].startswith("WARNING this process may hold 256 open files (RLIMIT_NOFILE)")
    assert "ulimit -n" in lines[1]
