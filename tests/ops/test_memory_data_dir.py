"""One memory server per data dir: a second one on the same --data-dir refuses to start, naming
the dir and the pid that holds it (audit R8-F2: two servers' FAISS indexes diverged)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}


def _memory(data: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data)],
            cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _wait_serving(proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not re.search(r"serving .* on ", log.read_text()):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


@pytest.fixture
def first(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    data = tmp_path / "data"
    proc = _memory(data, tmp_path / "first.log")
    try:
        _wait_serving(proc, tmp_path / "first.log")
        yield proc, data
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_second_memory_server_on_the_same_data_dir_is_refused(
    first: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    proc, data = first
    second = subprocess.run(
        [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode != 0, second.stdout + second.stderr
    message = second.stderr.strip().splitlines()[-1]
    assert f"a memory server runs on {data} (pid {proc.pid}, a memory server)" in message, message
    assert "--data-dir" in message
    assert proc.poll() is None  # the first one keeps serving
    # Stopped, the dir is free again for the next server.
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    again = _memory(data, tmp_path / "again.log")
    try:
        _wait_serving(again, tmp_path / "again.log")
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)
