"""SIGKILL of the `liftos up` supervisor takes the services (and causal's worker processes)
with it: none is left orphaned serving the data dir (audit R8-F1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def _children() -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z":
            out[int(entry.name)] = int(fields[1])
    return out


def _descendants(root: int) -> set[int]:
    table = _children()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def test_sigkill_of_up_stops_every_service(tmp_path: Path) -> None:
    base = free_port_block(5)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "LIFTOS_CAUSAL_WORKERS": "2"}
    up = subprocess.Popen(
        [sys.executable, "-m", "mesh.cli", "up", "--base-port", str(base),
         "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    children: set[int] = set()
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if "Ctrl-C" in line:
                break
        else:
            raise AssertionError(f"liftos up never came up (rc {up.wait()})")
        children = _descendants(up.pid)
        # five services, and causal's worker processes under causal
        assert len(children) > 5, children
        up.send_signal(signal.SIGKILL)
        up.wait(10)
        deadline = time.monotonic() + 60  # bounds the test only: they drain as on Ctrl-C
        left = children & set(_children())
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = children & set(_children())
        assert not left, {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in left}
    finally:
        for pid in children & set(_children()):
            os.kill(pid, signal.SIGKILL)
        if up.poll() is None:
            up.kill()
            up.wait()
