"""Stopping the compute pool while it starts (audit R17-F3): a stop during the workers'
warm-up ends it instead of waiting for it, quietly; a delayed warm-up not yet due is
cancelled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from causal_svc.compute import ComputePool, PoolSettings
from tests.causal.contract.service_process import CausalProcess, tree_cpu

ROOT = Path(__file__).resolve().parents[2]
# Only against a hang: a stop that waits for a frozen warm-up never ends, one that does not
# takes seconds (tens on a loaded box). How fast it is, is not this file's business.
HANG_S = 60.0

# Run in a child interpreter: killing the forkserver is process-wide, so it must not reach the
# pools of other test modules sharing this pytest process.
_CLOSE_DURING_PRELOAD = """
import json, logging, time
from multiprocessing import forkserver
from causal_svc.compute import ComputePool, PoolSettings
from causal_svc.jobs import PRELOAD

logging.basicConfig(level="INFO")
pool = ComputePool(PoolSettings(workers=1, queue=1), preload=PRELOAD, name="t")
thread = pool.start_in_background()
while forkserver._forkserver._forkserver_pid is None:  # spawned; now importing PRELOAD
    time.sleep(0.01)
server = forkserver._forkserver._forkserver_pid
pool.close()
thread.join(30)
try:
    pool.start()
    restart = "started"
except RuntimeError as exc:
    restart = str(exc)
print(json.dumps({"warm_alive": thread.is_alive(), "started": pool._started,
                  "forkserver": server, "restart": restart}))
"""


def _alive(pid: int) -> bool:
    """Running or sleeping (a zombie awaiting its parent's wait counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_close_during_the_preload_ends_it_instead_of_waiting() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CLOSE_DURING_PRELOAD],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # Waiting for the preload would have finished the start (started True).
    assert out == {
        "warm_alive": False,
        "started": False,
        "forkserver": out["forkserver"],
        "restart": "t pool is closed",
    }, done.stderr
    assert not _alive(out["forkserver"])
    assert "Traceback" not in done.stderr
    assert "t pool closed before its workers were warm" in done.stderr


def test_close_before_a_delayed_warm_up_cancels_it() -> None:
    pool = ComputePool(PoolSettings(workers=1, queue=1), name="t")
    thread = pool.start_in_background(after=600.0)
    pool.close()
    thread.join(10)
    assert not thread.is_alive()
    assert not pool._started
    assert pool.worker_pids() == []


def _forkserver(root: int) -> int | None:
    """The pid of ``root``'s multiprocessing forkserver child, if it has one yet (the resource
    tracker, another child, is started before it)."""
    for pid in tree_cpu(root):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"multiprocessing.forkserver import main" in cmdline:
            return pid
    return None


@pytest.mark.parametrize("when", ["serving", "warming"])
def test_sigterm_soon_after_start_exits_and_quietly(tmp_path: Path, when: str) -> None:
    """Ctrl-C just after ``liftos up``: right when the service serves, or while its workers'
    warm-up is under way. Either way the stop ends the warm-up instead of waiting for it, and
    logs no traceback.

    "Under way" is made to last: the forkserver is frozen (SIGSTOP) as soon as it exists, so
    its preload cannot finish however long the test waits — a stop that waited for the
    warm-up (R17-F3) would never exit, where a wall-clock bound only told a slow stop from a
    fast one on an idle box (R38-F4)."""
    svc = CausalProcess(tmp_path, {"LIFTOS_CAUSAL_WORKERS": "1"})
    frozen: int | None = None
    try:
        if when == "warming":
            deadline = time.monotonic() + HANG_S
            while (frozen := _forkserver(svc.pid)) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert frozen is not None, f"no forkserver within {HANG_S:g} s:\n{svc.log()}"
            os.kill(frozen, signal.SIGSTOP)
        tree = set(tree_cpu(svc.pid))
        svc.proc.send_signal(signal.SIGTERM)
        try:
            code = svc.proc.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {HANG_S:g} s after SIGTERM: the stop waits for the "
                        f"warm-up\n{svc.log()}")  # fmt: skip
        assert code == 0, svc.log()
        log = svc.log()
        assert "Traceback" not in log, log
        assert "causal shutting down" in log
        if when == "warming":
            assert frozen in tree
            assert "causal pool closed before its workers were warm" in log, log
        deadline = time.monotonic() + HANG_S
        while (alive := [p for p in tree if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"processes of the service outlived it: {alive}"
    finally:
        svc.stop()
        if frozen is not None and _alive(frozen):  # the old stop left it behind, frozen
            os.kill(frozen, signal.SIGKILL)
