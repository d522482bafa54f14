"""The causal service as a real child process (``python -m causal_svc --port 0``), and the CPU
its whole process tree (server, forkserver, workers) burns, read from /proc."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from liftos.v1 import causal_pb2_grpc as causal_grpc

ROOT = Path(__file__).resolve().parents[3]
_SERVING = re.compile(r"causal serving .* on [\d.]+:(\d+)")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and every live descendant, by pid."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out[pid] = stats[pid][1]
            todo += children.get(pid, [])
    return out


def workers(root: int) -> dict[int, float]:
    """CPU seconds of ``root``'s grandchildren, by pid: the compute pool's workers (children
    of its forkserver; the other child, the resource tracker, has none)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = found
    middle = {pid for pid, (ppid, _) in stats.items() if ppid == root}
    # a worker the pool ended may wait a moment to be reaped: it is gone, not a second worker
    return {pid: cpu for pid, (ppid, cpu) in stats.items() if ppid in middle and not _zombie(pid)}


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True  # gone


def cpu_burned(root: int, seconds: float) -> float:
    """CPU seconds the tree burns over the next ``seconds`` (processes that start count whole;
    processes that end count up to their last reading)."""
    before = tree_cpu(root)
    time.sleep(seconds)
    after = tree_cpu(root)
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class CausalProcess:
    """``python -m causal_svc`` on a free port, logging to a file, with a stub to it."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.log_path = data_dir / "causal.log"
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith("LIFTOS_")
        }  # no keys, no peers from the caller's shell
        full_env |= {"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "OPENBLAS_NUM_THREADS": "1", **env}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "causal_svc", "--host", "127.0.0.1", "--port", "0",
                 "--data-dir", str(data_dir), "--memory-addr", "127.0.0.1:9",
                 "--ingestion-addr", "127.0.0.1:9"],
                cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.port = self._wait_port(timeout=120)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = causal_grpc.CausalServiceStub(self.channel)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _SERVING.search(self.log())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"causal service exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"causal service did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
