"""A data dir a service cannot write is a start-up error (audit R19-F-RO): one line naming
the path and what is wrong, a non-zero exit, no traceback — before, ingestion started and
reported SERVING, then failed every write INTERNAL, and memory and causal died with a bare
traceback.

Tests run as root, for whom a file's mode stops no write, so the paths here fail for
anyone: a data dir under a regular file (ENOTDIR), and a service's own directory taken by a
file (EEXIST). (A read-only mount and a chmod-ed dir run as another user give the same line
with EROFS / EACCES: mesh.runtime.storage.check_writable.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITERS = ("memory", "causal", "ingestion")


def _start(service: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"{service}_svc", "--host", "127.0.0.1", "--port", "0",
         "--data-dir", str(data_dir), "--allow-insecure"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("service", WRITERS)
def test_a_data_dir_under_a_file(service: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    done = _start(service, blocker / "data")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == f"{service}: cannot write {blocker / 'data'}: Not a directory"


@pytest.mark.parametrize("service", WRITERS)
def test_the_services_own_directory_taken_by_a_file(service: str, tmp_path: Path) -> None:
    (tmp_path / service).write_text("x")
    done = _start(service, tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"{service}: cannot write {tmp_path / service}: File exists"
