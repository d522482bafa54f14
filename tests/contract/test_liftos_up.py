"""`liftos up` runs five processes that answer health and stop cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_base_port() -> int:
    """A base port whose next five ports are all free right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 60000:
            continue
        ok = True
        for p in range(base, base + 5):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("no free port range")


def test_up_status_and_clean_stop(tmp_path: Path, grpcurl: str) -> None:
    base = _free_base_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    cmd = [sys.executable, "-m", "mesh.cli"]
    up = subprocess.Popen(
        [*cmd, "up", "--base-port", str(base), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline:
            status = subprocess.run(
                [*cmd, "status", "--base-port", str(base)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if status.returncode == 0:
                break
            assert up.poll() is None, up.communicate()
            time.sleep(0.5)
        assert status is not None and status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("SERVING") == 5
        listed = subprocess.run(
            [grpcurl, "-plaintext", f"127.0.0.1:{base + 2}", "list"], capture_output=True, text=True
        )
        assert "liftos.v1.CausalService" in listed.stdout
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=60)
    assert up.returncode == 0, err
    assert "stopped" in out
    down = subprocess.run(
        [*cmd, "status", "--base-port", str(base)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert down.returncode == 1 and down.stdout.count("UNREACHABLE") == 5
    assert (tmp_path / "data" / "ingestion.log").exists()
