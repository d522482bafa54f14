"""Memory killed after DeleteRecords replied and before its clearing ran (s19 V3 F1): the
restarted memory clears the erased bytes and removes the mark.

The reply comes once the deletion commits; the bytes leave the files on the clearer's thread
after it. The "still to clear" state used to live only in that thread's list, so a SIGKILL (OOM,
node loss) in between left the erased account in memory.sqlite for good, with no log line. A
Scan held open in the killed process keeps the clearing waiting, so the kill lands in that
window for sure."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .erasure_data import ORG, SECRET, found_on_disk, serving, when_cleared

_KILLED = """
import os, signal, sys
from pathlib import Path
from liftos.v1 import memory_pb2 as memory_pb
from tests.memory.erasure_data import ORG, serving, write_both, erase
with serving(Path(sys.argv[1])) as stub:
    write_both(stub)
    scan = stub.Scan(memory_pb.ScanRequest(org_id=ORG, batch_size=1, include_embeddings=True),
                     timeout=600)
    next(scan)  # its read snapshot pins the WAL: the clearing waits
    erase(stub)  # replied: the deletion is committed
    print("replied", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close(): as an OOM kill or a node loss
"""


def _marks(db_path: Path) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [r[0] for r in db.execute("SELECT key FROM meta WHERE key LIKE 'erase_pending:%'")]
    finally:
        db.close()


def test_a_deletion_killed_before_its_clearing_is_cleared_when_memory_starts_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert died.returncode == -signal.SIGKILL and "replied" in died.stdout, died.stderr
    data = tmp_path / "memory"
    assert any(found_on_disk(data)[SECRET].values())  # the kill came before the clearing
    assert _marks(data / "memory.sqlite") == [f"erase_pending:{ORG}"]
    caplog.set_level(logging.INFO, logger="memory_svc.sqlite_erase")
    with serving(tmp_path):
        found = when_cleared(data)  # while serving: the restarted run's own round
        assert not any(n for per in found.values() for n in per.values()), found
        said = [r.getMessage() for r in caplog.records if r.name == "memory_svc.sqlite_erase"]
        assert any("a deletion a previous run committed" in m and ORG in m for m in said), said
    assert _marks(data / "memory.sqlite") == []
