"""An analysis whose sums pass memory's message limit (s18 R35 F2: ~1,000 campaigns over
two years answered `INTERNAL: internal error`). Memory's limit is lowered so a small world
passes it: real memory (restarted on the same data and port with each limit), ingestion and
causal. campaign_geo_days left out → the analysis runs, its budget response read per
channel, and a warning says so and why; the rest past the limit too → RESOURCE_EXHAUSTED
REPLY_TOO_LARGE naming --start/--end, never INTERNAL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from causal_svc.errors import ReplyTooLarge
from causal_svc.peers import _memory_failure
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from memory_svc.convert.reply_size import reply_budget
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.exceptions import ResourceExhausted
from mesh.runtime.inprocess import BackgroundLoop, RunningService, running_services
from mesh.runtime.protoconv import campaign_sources
from mesh.runtime.status import decode_status
from tests.causal.attribution.records import write_world
from tests.ports import free_port_block

ORG = "bigshop"
BIG = 64 << 20


class Memory:
    """A memory server on one port and data dir, restarted with another message limit."""

    def __init__(self, loop: BackgroundLoop, data: Path) -> None:
        self.loop, self.data, self.port = loop, data, free_port_block(1)
        self.running: RunningService | None = None

    def start(self, limit: int) -> str:
        self.stop()
        config = ServerConfig(service="memory", host="127.0.0.1", port=self.port,
                              data_dir=self.data, peers=PeerConfig.from_env(),
                              max_message_bytes=limit)  # fmt: skip
        self.running = RunningService(self.loop, "memory", memory_build, config)
        return self.running.address

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Memory]:
    loop = BackgroundLoop()
    server = Memory(loop, tmp_path_factory.mktemp("memory"))
    try:
        yield server
    finally:
        server.stop()
        loop.close()


@pytest.fixture(scope="module")
def sizes(memory: Memory) -> tuple[int, int]:
    """The world written; (bytes of causal's AggregateRecords without campaign_geo_days,
    with it) under the default limit."""
    address = memory.start(BIG)
    options = [("grpc.max_receive_message_length", BIG)]
    with grpc.insecure_channel(address, options=options) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        write_world(stub, sim.simulate("demo", seed=1, dirt=False, n_geos=10), ORG)
        ask = memory_pb.AggregateRecordsRequest(org_id=ORG, sources=campaign_sources())
        plain = stub.AggregateRecords(ask, timeout=60).ByteSize()
        ask.campaign_geo_spend = True
        full = stub.AggregateRecords(ask, timeout=60)
    assert full.campaign_geo_days.row_count and not full.campaign_geo_days_omitted
    return plain, full.ByteSize()


@pytest.fixture(scope="module")
def causal(
    tmp_path_factory: pytest.TempPathFactory, memory: Memory, sizes: tuple[int, int]
) -> Iterator[causal_grpc.CausalServiceStub]:
    peers = PeerConfig.from_env().with_overrides(memory=f"127.0.0.1:{memory.port}")
    builds = {"ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh"), peers=peers) as services:
        yield causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))


def _analyze(stub: causal_grpc.CausalServiceStub) -> tuple[list[str], pb.AttributionResult]:
    """The analysis, once causal's channel has found memory again after its restart (the
    channel backs off reconnecting: UNAVAILABLE naming memory until then)."""
    for _ in range(40):
        try:
            return _analyze_once(stub)
        except grpc.RpcError as error:
            status = decode_status(error)
            if status.metadata.get("dependency") != "memory":
                raise
        time.sleep(0.5)
    return _analyze_once(stub)


def _analyze_once(stub: causal_grpc.CausalServiceStub) -> tuple[list[str], pb.AttributionResult]:
    messages, result = [], None
    for event in stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=ORG), timeout=180):
        if event.WhichOneof("event") == "progress":
            messages.append(event.progress.message)
        else:
            result = event.result
    assert result is not None
    return messages, result


def test_campaign_geo_days_left_out_runs_per_channel_and_says_why(
    memory: Memory, sizes: tuple[int, int], causal: causal_grpc.CausalServiceStub
) -> None:
    plain, full = sizes
    limit = (plain + full) // 2
    assert plain < reply_budget(limit) < full
    memory.start(limit)
    messages, result = _analyze(causal)
    (budget,) = [w for w in result.warnings if w.startswith("budget response")]
    assert "geo-days" in budget, budget  # assessed, from each channel's spend
    assert "each geo's spend read per channel, not per campaign: campaign_geo_days left out" in (
        budget
    )
    assert f"this server's {limit:,} bytes message limit" in budget
    assert "date_range" in budget and "--start/--end" in budget
    assert any(budget in m for m in messages)  # said at the confounders step too


def test_sums_past_the_limit_are_refused_naming_the_window(
    memory: Memory, sizes: tuple[int, int], causal: causal_grpc.CausalServiceStub
) -> None:
    plain, _ = sizes
    memory.start(plain // 2)
    with pytest.raises(grpc.RpcError) as caught:
        _analyze(causal)
    status = decode_status(caught.value)
    assert status.code is grpc.StatusCode.RESOURCE_EXHAUSTED, status
    assert status.reason == "REPLY_TOO_LARGE"
    assert status.retry_after_s is None
    assert "liftos analyze --start/--end" in status.message
    assert "message limit" in status.message and "days fit" in status.message


def _failure(code: grpc.StatusCode, details: str) -> Exception:
    error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)
    return _memory_failure(error, "127.0.0.1:1", "AggregateRecords", ORG)


def test_a_memory_that_cannot_send_its_reply_reads_as_the_window_too_large() -> None:
    """gRPC's own refusal (a memory from before REPLY_TOO_LARGE, or this side's receive
    limit) is the same advice, not INTERNAL; an overload's RESOURCE_EXHAUSTED is not."""
    too_large = _failure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                         "SERVER: Sent message larger than max (314288446 vs. 67108864)")  # fmt: skip
    assert isinstance(too_large, ReplyTooLarge) and too_large.reason == "REPLY_TOO_LARGE"
    assert "(314288446 vs. 67108864)" in too_large.message
    # memory's words as a field (the attribution's product-spend note quotes them): before,
    # the note split them back out of this message's text
    assert too_large.memory_says == "SERVER: Sent message larger than max (314288446 vs. 67108864)"
    assert "liftos analyze --start/--end" in too_large.message
    busy = _failure(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many calls in flight")
    # not the window's size; memory's own overload (with RetryInfo) is PEER_BUSY: test_memory_busy
    assert isinstance(busy, ResourceExhausted) and busy.reason != "REPLY_TOO_LARGE"
