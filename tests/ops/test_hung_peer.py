"""A peer that hangs (SIGSTOP: its port open, nothing answering) ends an analysis with
UNAVAILABLE naming the peer, never a call that waits forever (audit R8-F3).

Real processes (`liftos up`'s Mesh): memory, ingestion and causal; memory is stopped with
SIGSTOP after causal's channel to it is open, as an operator would find a wedged server.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh.cli.commands import main as cli_main
from mesh.cli.processes import Mesh, fresh_health
from mesh.runtime.config import DEFAULT_PORTS, PeerConfig
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure
from tests.ports import free_port_block

SERVICES = ("memory", "ingestion", "causal")


def _mesh(tmp_path: Path) -> Iterator[tuple[Mesh, PeerConfig]]:
    base = free_port_block(5)
    ports = {s: base + i for i, s in enumerate(DEFAULT_PORTS)}
    mesh = Mesh(tmp_path / "data", ports=ports, services=SERVICES)
    peers = PeerConfig(**{s: f"127.0.0.1:{p}" for s, p in ports.items()})
    mesh.start()
    try:
        status = mesh.wait_serving(fresh_health(lambda: LiftOS(peers)))
        assert all(status.get(s) == "SERVING" for s in SERVICES), (status, mesh.tail_log("causal"))
        yield mesh, peers
    finally:
        os.kill(mesh.procs["memory"].pid, signal.SIGCONT)
        mesh.stop()


def _analyze_with_memory_stopped(
    mesh: Mesh, peers: PeerConfig, timeout: float | None, bound: float = 120
) -> BaseException | None:
    """Warm causal's channel to memory with one analysis (no records: refused after memory
    answered), stop memory, analyse again; what that call raised (None: it hung ``bound`` s)."""
    with LiftOS(peers, org_id="org_hung") as client:
        with pytest.raises(RpcFailure) as first:
            client.analyze(start="2024-01-01", end="2024-03-31", timeout=60)
        assert "memory" not in first.value.message.lower() or "unavailable" not in str(first.value)
        os.kill(mesh.procs["memory"].pid, signal.SIGSTOP)
        raised: list[BaseException] = []

        def call() -> None:
            try:
                client.analyze(start="2024-01-01", end="2024-03-31", timeout=timeout)
            except BaseException as exc:  # handed to the test thread
                raised.append(exc)

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(bound)
        return raised[0] if raised else None


@pytest.fixture
def keepalive_mesh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Mesh, PeerConfig]]:
    # Fast pings so the test is short; the services read them when they open channels.
    monkeypatch.setenv("LIFTOS_KEEPALIVE_S", "1")
    monkeypatch.setenv("LIFTOS_KEEPALIVE_TIMEOUT_S", "2")
    yield from _mesh(tmp_path)


def test_a_stopped_memory_is_dropped_by_keepalive(keepalive_mesh: tuple[Mesh, PeerConfig]) -> None:
    """The caller allows 100 s; keepalive finds memory silent long before and causal answers
    UNAVAILABLE naming memory and the call it was making."""
    # Pings every 1 s, dropped after 2 s, a reconnect given 2 s: a few seconds. 45 s is far
    # above that and below gRPC's own 60 s ping timeout, which the channels must override.
    error = _analyze_with_memory_stopped(*keepalive_mesh, timeout=100, bound=45)
    assert isinstance(error, RpcFailure), error
    assert error.code.name == "UNAVAILABLE", error
    assert "memory service at 127.0.0.1:" in error.message, error
    assert "unavailable during AggregateRecords" in error.message, error


@pytest.fixture
def slow_keepalive_mesh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Mesh, PeerConfig]]:
    monkeypatch.setenv("LIFTOS_KEEPALIVE_S", "600")  # keepalive out of the picture
    monkeypatch.setenv("LIFTOS_ANALYSIS_TIMEOUT", "6")  # the SDK's default deadline, from env
    yield from _mesh(tmp_path)


def test_the_sdk_default_deadline_ends_a_hung_analysis_naming_the_peer(
    slow_keepalive_mesh: tuple[Mesh, PeerConfig],
) -> None:
    """No timeout passed: the SDK's default (LIFTOS_ANALYSIS_TIMEOUT) bounds the call, and
    causal's call to memory gets a little less of it than the caller has, so its own deadline
    passes first and the caller is told memory did not answer, not a bare DEADLINE_EXCEEDED."""
    error = _analyze_with_memory_stopped(*slow_keepalive_mesh, timeout=None)
    assert isinstance(error, RpcFailure), error
    assert error.code.name == "UNAVAILABLE", error
    assert "memory service at 127.0.0.1:" in error.message, error
    assert "(DEADLINE_EXCEEDED)" in error.message, error


def test_the_cli_timeout_flag_bounds_a_hung_analysis(
    slow_keepalive_mesh: tuple[Mesh, PeerConfig],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`liftos analyze --timeout 3` wins over LIFTOS_ANALYSIS_TIMEOUT (600 here): the call ends
    after the flag's seconds, naming memory, with the CLI's exit code for a failed call."""
    mesh, peers = slow_keepalive_mesh
    monkeypatch.setenv("LIFTOS_ANALYSIS_TIMEOUT", "600")
    base = int(peers.memory.rsplit(":", 1)[1]) - list(DEFAULT_PORTS).index("memory")
    os.kill(mesh.procs["memory"].pid, signal.SIGSTOP)
    code: list[int] = []
    args = ["analyze", "--org", "org_hung", "--start", "2024-01-01", "--end", "2024-03-31",
            "--timeout", "3", "--base-port", str(base)]  # fmt: skip
    worker = threading.Thread(target=lambda: code.append(cli_main(args)), daemon=True)
    worker.start()
    worker.join(45)  # the env's 600 s would exceed it
    # causal's UNAVAILABLE naming memory: retry (mesh.cli.exits; 2 before s19 R41-F1)
    assert code == [4], capsys.readouterr().err
    err = capsys.readouterr().err
    assert "memory service at 127.0.0.1:" in err and "DEADLINE_EXCEEDED" in err, err
