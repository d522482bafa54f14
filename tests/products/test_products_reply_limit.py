"""A product analysis whose sums pass memory's message limit (s18, R32 F3's class): memory
refuses AggregateProducts REPLY_TOO_LARGE, and AnalyzeProducts answers RESOURCE_EXHAUSTED
REPLY_TOO_LARGE naming its own remedy, liftos analyze-products --start/--end, with memory's
words (the size, the limit, the days that fit) — not INTERNAL, nor attribution's command.
Memory's limit is lowered so a small org passes it: a real memory server (written under the
default limit, restarted on the same data with the low one) and a real causal server."""

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

from causal_svc.app import build as causal_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.inprocess import BackgroundLoop, RunningService, running_services
from mesh.runtime.status import RichStatus, decode_status
from tests.memory.conftest import write
from tests.memory.test_products_reply_size import ORG, product_records

BIG = 64 << 20


def _memory(loop: BackgroundLoop, data: Path, limit: int) -> RunningService:
    config = ServerConfig(service="memory", host="127.0.0.1", port=0, data_dir=data,
                          peers=PeerConfig.from_env(), max_message_bytes=limit)  # fmt: skip
    return RunningService(loop, "memory", memory_build, config)


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """(address, limit) of a memory server whose AggregateProducts reply for ORG passes its
    message limit (half the reply)."""
    loop = BackgroundLoop()
    data = tmp_path_factory.mktemp("memory")
    server = _memory(loop, data, BIG)
    try:
        options = [("grpc.max_receive_message_length", BIG)]
        with grpc.insecure_channel(server.address, options=options) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)
            write(stub, ORG, product_records(), batch=1000)
            ask = memory_pb.AggregateProductsRequest(org_id=ORG)
            size = stub.AggregateProducts(ask, timeout=60).ByteSize()
        server.stop()
        server = _memory(loop, data, size // 2)
        yield server.address, size // 2
    finally:
        server.stop()
        loop.close()


def _analyze_products(causal: causal_grpc.CausalServiceStub) -> RichStatus:
    """AnalyzeProducts' failure, once causal's channel reaches memory (UNAVAILABLE naming
    memory while it connects)."""
    for _ in range(40):
        with pytest.raises(grpc.RpcError) as caught:
            for _event in causal.AnalyzeProducts(
                pb.AnalyzeProductsRequest(org_id=ORG), timeout=120
            ):
                pass
        status = decode_status(caught.value)
        if status.metadata.get("dependency") != "memory":
            return status
        time.sleep(0.5)
    return status


def test_analyze_products_past_memorys_limit_names_its_start_and_end(
    tmp_path: Path, memory: tuple[str, int]
) -> None:
    address, limit = memory
    peers = PeerConfig.from_env().with_overrides(memory=address)
    with (
        running_services({"causal": causal_build}, tmp_path, peers=peers) as services,
        grpc.insecure_channel(services["causal"].address) as channel,
    ):
        status = _analyze_products(causal_grpc.CausalServiceStub(channel))
    assert status.code is grpc.StatusCode.RESOURCE_EXHAUSTED, status
    assert status.reason == "REPLY_TOO_LARGE", status
    assert status.retry_after_s is None  # the same window never fits
    assert "liftos analyze-products --start/--end" in status.message, status.message
    # memory's words: its size, its limit and the days that fit
    assert f"this server's {limit:,} bytes message limit" in status.message, status.message
    assert "days fit" in status.message, status.message
