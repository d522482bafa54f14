"""`LiftOS(timeout=)` (R45-F4): 0 was an already-passed deadline, so every unary call failed at
once with a bare "Deadline Exceeded", while `analyze(timeout=0)` means no limit. 0 (or None, or
a negative number) is now no deadline; and a call that outlives the client's deadline carries
a note (under its traceback) saying which deadline it was and how to allow longer."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import grpc
import pytest

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk import InvalidArgument, LiftOS, RpcFailure


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerConfig]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield PeerConfig.from_env().with_overrides(**{s: r.address for s, r in services.items()})


@pytest.mark.parametrize("timeout", [0, 0.0, None, -1])
def test_zero_is_no_deadline(peers: PeerConfig, timeout: float | None) -> None:
    with LiftOS(peers, org_id="t0", timeout=timeout) as client:
        assert list(client.list_experiments()) == []
        assert client.list_external_factors() == []


def test_a_timeout_that_is_not_a_number_is_refused_by_name(peers: PeerConfig) -> None:
    with pytest.raises(InvalidArgument, match="timeout must be a number"):
        LiftOS(peers, timeout="60")  # type: ignore[arg-type]


def test_the_clients_deadline_is_named_when_it_runs_out(peers: PeerConfig) -> None:
    """Ingestion's port accepts connections and never answers (a wedged server: the kernel
    completes the handshake, nothing speaks), so the call waits out the client's 1 s."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    try:
        wedged = peers.with_overrides(ingestion=f"127.0.0.1:{hung.getsockname()[1]}")
        with LiftOS(wedged, org_id="t1", timeout=1) as client, pytest.raises(RpcFailure) as info:
            list(client.list_experiments())
    finally:
        hung.close()
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    # a note, shown under the traceback; the message stays the CLI's to add its own hint to
    (note,) = info.value.__notes__
    assert "within this client's 1 s deadline" in note, note
    assert "LiftOS(timeout=SECONDS)" in note and "timeout=0 for none" in note, note
