"""Children started with :func:`mesh.runtime.supervised.spawn` from a process that uses gRPC
start reliably, and still die with it.

CI of ce8a25a lost the llm service at start: its Popen had a ``preexec_fn`` (to arm
``PR_SET_PDEATHSIG``), so it forked with gRPC's fork handlers, the child's restarted poller found
its epoll fd closed by ``close_fds`` and the child aborted before exec (SIGABRT, "epoll_wait
error: Bad file descriptor"; 2–4 starts in 300 here). That the child still dies with its
supervisor is tests/ops/test_up_supervisor.py's and tests/cli/test_memory_import_signals.py's."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mesh.runtime.supervised import ENV, spawn

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's prctl")
TRUE = shutil.which("true") or "/bin/true"


@pytest.fixture
def health_stub() -> Iterator[health_pb2_grpc.HealthStub]:
    """A gRPC server and a channel in this process, so gRPC's event engine runs here."""
    server = grpc.server(futures.ThreadPoolExecutor(2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield health_pb2_grpc.HealthStub(channel)
    finally:
        channel.close()
        server.stop(None)


def test_children_of_a_grpc_process_start(health_stub: health_pb2_grpc.HealthStub) -> None:
    died = []
    for _ in range(600):  # with the preexec_fn, about one start in 70 aborted
        health_stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        child = spawn([TRUE], stderr=subprocess.PIPE)
        _, err = child.communicate(timeout=30)
        if child.returncode != 0:
            died.append((child.returncode, err.decode(errors="replace")[-200:]))
    assert died == []


def test_a_preexec_fn_is_refused() -> None:
    with pytest.raises(TypeError, match="preexec_fn"):
        spawn([TRUE], preexec_fn=lambda: None)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from mesh.runtime.supervised import die_with_supervisor\n"
         "die_with_supervisor()\n" + code],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


def test_a_child_whose_supervisor_is_gone_stops_at_once() -> None:
    """Its parent is this test, not the pid named: as when the supervisor died between the
    child's start and its prctl."""
    done = _python("print('ran on')", _env(**{ENV: str(os.getpid() + 1_000_000)}))
    assert done.returncode == -signal.SIGTERM and "ran on" not in done.stdout


def test_the_variable_is_not_handed_to_the_childs_own_children() -> None:
    done = _python(f"import os; print(os.environ.get({ENV!r}))", _env(**{ENV: str(os.getpid())}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_commands_run_as_another_user_run_as_that_user() -> None:
    """The throwaway PostgreSQL cluster runs initdb/pg_ctl as postgres when the tests run as
    root: through setpriv, not ``subprocess.run(user=...)``, whose uid change forks with gRPC's
    fork handlers (CI of 38efead: one initdb aborted, 30 tests errored; about 1 start in 3,000
    here, too rare to catch by repetition, so test_no_subprocess_call_forks guards it)."""
    import pwd

    from memory_svc.postgres.cluster import _as_user

    if os.geteuid() != 0:
        pytest.skip("only root changes user")
    assert _as_user(None) == []
    done = subprocess.run([*_as_user("nobody"), "id", "-u"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == pwd.getpwnam("nobody").pw_uid


# keyword arguments that make subprocess fork() rather than vfork()
_FORKING = {"preexec_fn", "user", "group", "extra_groups"}


def test_no_subprocess_call_forks() -> None:
    """Every process start in the code base goes through vfork: a call with one of _FORKING
    would run gRPC's fork handlers in whatever process makes it."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for folder in ("mesh", "sim", "bench", "tests", "memory_svc", "ingestion_svc",
                   "causal_svc", "llm_svc", "surfacing_svc"):  # fmt: skip
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                name = ast.unparse(node.func)
                if not name.startswith("subprocess.") and name not in ("Popen", "spawn"):
                    continue
                bad = {k.arg for k in node.keywords} & _FORKING
                if bad and path.name != "test_supervised.py":
                    found.append(f"{path.relative_to(root)}:{node.lineno} {name} {sorted(bad)}")
    assert found == []
