"""`liftos memory import` and its importer process live and die together (audit R19 #9):
the CLI killed (SIGKILL, a job runner's timeout) no longer leaves the importer running
detached on the data dir, SIGTERM to the CLI reaches the importer, and an importer killed by a
signal is reported (before: exit status 247 and no line). Re-running after a kill stores what
is missing: the same records as an import that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.app import open_engine
from memory_svc.bulk_import import delimited
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.synthetic_records import synthetic_records

ROOT = Path(__file__).resolve().parents[2]
ORG = "org_bf"
RECORDS = 20_000


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 messages of 1,000 records: a few seconds of importing."""
    records = synthetic_records(ORG, RECORDS, seed=3, campaigns=20, geos=50)
    path = tmp_path_factory.mktemp("bf") / "backfill.bin"
    path.write_bytes(b"".join(
        delimited(memory_pb.WriteRequest(org_id=ORG, records=records[i : i + 1000])
                  .SerializeToString())
        for i in range(0, RECORDS, 1000)
    ))  # fmt: skip
    return path


def _start(backfill: Path, data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mesh.cli", "memory", "import", str(backfill),
         "--data-dir", str(data), "--every", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _importer(data: Path, cli: subprocess.Popen[str]) -> int:
    """The importer's pid, once it holds the data dir (it writes its pid into the lock file,
    before it opens the store)."""
    owners = data / "memory" / ".owners"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert cli.poll() is None, cli.communicate()
        text = owners.read_text() if owners.exists() else ""
        if text.endswith("bulk import\n"):
            return int(text.split()[0])
        time.sleep(0.02)
    raise AssertionError("the importer never took the data dir")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # dead, not yet reaped by whoever adopted it


def _count(data: Path) -> tuple[int, int]:
    engine = open_engine(ServerConfig("memory", "127.0.0.1", 0, data, PeerConfig.from_env()))
    try:
        state = engine.store.org_state(ORG)  # None: killed before its first message
        return (state.record_count, state.checksum) if state is not None else (0, 0)
    finally:
        engine.close()


def _finish(backfill: Path, data: Path) -> str:
    cli = _start(backfill, data)
    out, err = cli.communicate(timeout=300)
    assert cli.returncode == 0, err
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_importer_dies_with_the_cli(backfill: Path, tmp_path: Path) -> None:
    cli = _start(backfill, tmp_path / "d")
    pid = _importer(tmp_path / "d", cli)
    cli.kill()  # SIGKILL: no handler of the CLI's runs
    cli.communicate()
    deadline = time.monotonic() + 60
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the importer kept running without its CLI"
    # stopped where it was, not left to run on: an orphan went on to store all 20,000
    assert _count(tmp_path / "d")[0] < RECORDS
    out = _finish(backfill, tmp_path / "d")  # not refused as 'in use'
    assert "20 messages: " in out and "0 replaced" in out
    clean = tmp_path / "clean"
    _finish(backfill, clean)
    assert _count(tmp_path / "d") == _count(clean) and _count(clean)[0] == RECORDS


def test_sigterm_to_the_cli_reaches_the_importer(backfill: Path, tmp_path: Path) -> None:
    cli = _start(backfill, tmp_path / "d")
    pid = _importer(tmp_path / "d", cli)
    cli.send_signal(signal.SIGTERM)
    _, err = cli.communicate(timeout=120)
    assert _gone(pid)
    assert cli.returncode == 128 + signal.SIGTERM
    assert f"import: the importer (pid {pid}) was stopped by SIGTERM" in err
    assert "running the same command again is safe" in err


def test_a_killed_importer_is_reported(backfill: Path, tmp_path: Path) -> None:
    cli = _start(backfill, tmp_path / "d")
    pid = _importer(tmp_path / "d", cli)
    os.kill(pid, signal.SIGKILL)
    _, err = cli.communicate(timeout=120)
    assert cli.returncode == 128 + signal.SIGKILL  # before: 247, and no line
    assert err.strip().endswith(
        f"import: the importer (pid {pid}) was stopped by SIGKILL before it finished; what "
        "it stored so far is kept (one transaction per message) and running the same command "
        "again is safe: records already stored are counted unchanged, not stored twice"
    )
    out = _finish(backfill, tmp_path / "d")
    assert "20 messages: " in out and "0 replaced" in out
    assert _count(tmp_path / "d")[0] == RECORDS
