"""A server answers RESOURCE_EXHAUSTED with RetryInfo past its in-flight limit (health
aside) and the SDK waits and retries; every file a service writes is 0600 in 0700 dirs."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk.client import LiftOS, dc, retry_delay
from tests.support import error_details

ROOT = Path(__file__).resolve().parents[2]
CALENDAR = ingestion_pb.GetCalendarRequest(
    country="US",
    start_date=common_pb.Date(year=2024, month=11, day=28),
    end_date=common_pb.Date(year=2024, month=11, day=28),
)


class HeldStreams:
    """Ingest streams that stay open, sending nothing, until released."""

    def __init__(self, channel: grpc.Channel, count: int) -> None:
        self._release = threading.Event()
        stub = ingestion_grpc.IngestionServiceStub(channel)
        self.calls = [stub.Ingest(self._nothing(), timeout=60) for _ in range(count)]

    def _nothing(self) -> Iterator[ingestion_pb.IngestRequest]:
        self._release.wait(60)
        return
        yield ingestion_pb.IngestRequest()

    def release(self, *, strict: bool = True) -> None:
        self._release.set()
        for call in self.calls:
            try:
                list(call)
            except grpc.RpcError:
                if strict:
                    raise


def _until_refused(stub: ingestion_grpc.IngestionServiceStub, held: HeldStreams) -> grpc.RpcError:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(c.done() for c in held.calls):
            # A probe reached the server before a held stream did and took its slot: the
            # stream was refused, so the limit cannot be reached with this pair.
            raise _HeldRefused
        try:
            stub.GetCalendar(CALENDAR, timeout=10)
        except grpc.RpcError as error:
            return error
        time.sleep(0.05)
    raise AssertionError("the server never reached its in-flight limit")


class _HeldRefused(Exception):
    pass


def _hold_and_refuse(
    channel: grpc.Channel, stub: ingestion_grpc.IngestionServiceStub
) -> tuple[HeldStreams, grpc.RpcError]:
    """Two held streams and the call the full server refused (a few tries: on a loaded
    machine a probe can overtake the second held stream and take its slot)."""
    for _ in range(5):
        held = HeldStreams(channel, 2)
        try:
            return held, _until_refused(stub, held)
        except _HeldRefused:
            held.release(strict=False)
    raise AssertionError("the held streams were refused five times")


@pytest.fixture()
def limited(tmp_path: Path):
    with running_services({"ingestion": ingestion_build}, tmp_path, max_inflight=2) as s:
        channel = grpc.insecure_channel(s["ingestion"].address)
        yield s["ingestion"].address, channel
        channel.close()


def test_past_the_limit_calls_are_refused_with_retry_info(limited) -> None:
    _, channel = limited
    stub = ingestion_grpc.IngestionServiceStub(channel)
    held, error = _hold_and_refuse(channel, stub)
    try:
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_details(error)[0] == "TOO_MANY_CALLS"
        assert retry_delay(error) is not None and retry_delay(error) > 0  # type: ignore[operator]
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING  # health is exempt
    finally:
        held.release()
    # The slots come back: a released stream's slot is freed as its handler returns, which on
    # a loaded machine can trail the client's seeing the stream end by a moment.
    deadline = time.monotonic() + 10
    while True:
        try:
            assert stub.GetCalendar(CALENDAR, timeout=10).days
            break
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            assert time.monotonic() < deadline, "the released streams' slots never came back"
            time.sleep(0.05)


def test_the_sdk_waits_and_retries_an_overloaded_call(
    limited, caplog: pytest.LogCaptureFixture
) -> None:
    address, channel = limited
    held, _ = _hold_and_refuse(channel, ingestion_grpc.IngestionServiceStub(channel))
    caplog.set_level("INFO", logger="liftos.rpc")
    caplog.clear()
    result: list[object] = []
    peers = PeerConfig.from_env().with_overrides(ingestion=address)
    with LiftOS(peers) as client:
        worker = threading.Thread(
            target=lambda: result.append(
                client.calendar("US", dt.date(2024, 11, 28), dt.date(2024, 11, 28))
            )
        )
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while not any("GetCalendar RESOURCE_EXHAUSTED" in r.message for r in caplog.records):
                assert time.monotonic() < deadline, "the SDK's call was never refused"
                time.sleep(0.05)
        finally:
            held.release()
        worker.join(60)
    assert len(result) == 1  # refused at least once, then answered
    assert bool(result[0].loc[0, "is_holiday"])  # type: ignore[attr-defined]


def _modes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    dirs, files = {}, {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        (dirs if path.is_dir() else files)[str(path.relative_to(root))] = mode
    return dirs, files


def _assert_private(root: Path) -> None:
    dirs, files = _modes(root)
    assert files, "no files written"
    assert {p: m for p, m in dirs.items() if m != 0o700} == {}
    assert {p: m for p, m in files.items() if m != 0o600} == {}


def test_in_process_services_write_private_files(tmp_path: Path) -> None:
    world = sim.simulate("demo", seed=1)
    account = {**next(a for a in world.accounts if a["source"] == "meta"), "country": "US"}
    lines = [json.dumps(world.raw["meta"].base_row(k)) for k in range(60)]
    data = tmp_path / "data"
    before = os.umask(0o022)
    try:
        builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
        with running_services(builds, data) as services:
            peers = PeerConfig.from_env().with_overrides(
                **{s: r.address for s, r in services.items()}
            )
            with LiftOS(peers, org_id="org_a") as client:
                summary = client.ingest("meta", lines, account=account, batch_size=20)
                assert summary.written == 60
                client.create_experiment(
                    dc.CausalExperiment(
                        experiment_id="e1",
                        start_date=dc.Date(year=2024, month=11, day=1),
                        end_date=dc.Date(year=2024, month=11, day=2),
                        randomization_unit=dc.RandomizationUnit.GEO,
                    )
                )
                list(client.list_experiments(page_size=1))  # makes the page-token secret
        assert os.umask(0o022) == 0o022  # the runner gave the umask back
    finally:
        os.umask(before)
    _assert_private(data)
    _, files = _modes(data)
    assert any(p.endswith("memory.sqlite-wal") or p.endswith("memory.sqlite") for p in files)
    assert any("registry.sqlite" in p for p in files)


def test_a_service_process_writes_private_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    # a permissive umask inherited, set here rather than in a preexec_fn: that would fork()
    # with gRPC's fork handlers, which can abort the child (tests/runtime/test_supervised.py)
    before = os.umask(0o022)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion_svc", "--port", "0", "--data-dir", str(data)],
            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    finally:
        os.umask(before)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "serving" in line:
                break
        else:
            pytest.fail("ingestion did not start")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    _assert_private(data)
    _, files = _modes(data)
    assert any("ledger.sqlite" in p for p in files)
