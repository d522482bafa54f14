"""Prometheus metrics: real memory + ingestion servers with --metrics-port, real calls through
the SDK, and the real HTTP endpoints scraped and parsed."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.channels import sync_channel
from mesh.runtime.config import PeerConfig, ServerConfig, add_server_arguments
from mesh.runtime.config import server_config_from_args as config_from_args
from mesh.runtime.inprocess import BackgroundLoop, RunningService, private_files
from mesh.runtime.main import private_data_dir
from mesh.runtime.metrics import MetricsHooks, OrgSize, ServiceMetrics
from mesh.sdk import LiftOS

ACCOUNT = {"account_id": "shop", "timezone": "UTC", "currency": "USD", "country": "US"}
MAPPING = {"date": "date", "conversions": "orders", "revenue": "revenue"}
INGEST = ("liftos.v1.IngestionService", "Ingest")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of http://127.0.0.1:port/metrics: (name, sorted labels) → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        assert reply.status == 200
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def settled(port: int, name: str, expected: float, seconds: float = 5.0, **labels: str) -> float:
    """The sample once it reads ``expected`` (or its last value after ``seconds``). A call is
    counted after its status reaches the client (the interceptor counts in gRPC's done
    callback, so that cancelled streams are counted right): a scrape made the moment the client
    returns can precede it."""
    got = value(scrape(port), name, **labels)
    for _ in range(int(seconds / 0.05)):
        if got == expected:
            break
        threading.Event().wait(0.05)
        got = value(scrape(port), name, **labels)
    return got


class Mesh:
    def __init__(self, tmp: Path) -> None:
        self.loop = BackgroundLoop()
        self.ports = {"memory": free_port(), "ingestion": free_port()}
        base = ServerConfig(
            service="memory", host="127.0.0.1", port=0, data_dir=tmp, peers=PeerConfig.from_env()
        )
        self.memory = RunningService(
            self.loop, "memory", memory_build, replace(base, metrics_port=self.ports["memory"])
        )
        self.ingestion = RunningService(
            self.loop, "ingestion", ingestion_build,
            replace(
                base, service="ingestion", metrics_port=self.ports["ingestion"],
                peers=base.peers.with_overrides(memory=self.memory.address),
            ),
        )  # fmt: skip

    def close(self) -> None:
        self.ingestion.stop()
        self.memory.stop()
        self.loop.close()


@pytest.fixture()
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    with private_files():
        private_data_dir(tmp_path)
        m = Mesh(tmp_path)
        try:
            yield m
        finally:
            m.close()


def rows(n: int, start: dt.date = dt.date(2025, 1, 1)) -> list[dict]:
    return [
        {"date": (start + dt.timedelta(days=i)).isoformat(), "orders": 3, "revenue": 30.0}
        for i in range(n)
    ]


def test_calls_rows_and_org_sizes_on_the_endpoints(mesh: Mesh) -> None:
    peers = PeerConfig.from_env().with_overrides(
        memory=mesh.memory.address, ingestion=mesh.ingestion.address
    )
    bad = [{"date": "2025-03-01", "orders": 1, "revenue": -5.0}, "not json {"]
    pulled = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    with LiftOS(peers) as client:
        acme = [*rows(12), *bad]
        first = client.ingest(
            "generic", acme, account=ACCOUNT, org_id="acme", mapping=MAPPING, pulled_at=pulled
        )
        client.ingest("generic", rows(5), account=ACCOUNT, org_id="beta", mapping=MAPPING)
        again = client.ingest(  # the same batch again: replayed from the ledger
            "generic", acme, account=ACCOUNT, org_id="acme", mapping=MAPPING, pulled_at=pulled
        )
    assert (first.accepted, first.rejected, again.replayed_batches) == (12, 2, 1)
    channel = sync_channel(mesh.ingestion.address)
    with pytest.raises(grpc.RpcError) as missing:
        ingestion_grpc.IngestionServiceStub(channel).GetExperiment(
            ingestion_pb.GetExperimentRequest(org_id="acme", experiment_id="nope")
        )
    channel.close()
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    port = mesh.ports["ingestion"]
    service, method = INGEST
    calls = {"service": service, "method": method, "code": "OK"}
    assert settled(port, "liftos_rpc_handled_total", 3, **calls) == 3
    assert settled(port, "liftos_rpc_duration_seconds_count", 3, **calls) == 3
    assert settled(
        port, "liftos_rpc_handled_total", 1, service=service, method="GetExperiment",
        code="NOT_FOUND",
    ) == 1  # fmt: skip
    ing = scrape(port)
    assert value(ing, "liftos_ingest_batches_total", result="processed") == 2
    assert value(ing, "liftos_ingest_batches_total", result="replayed") == 1
    assert value(ing, "liftos_ingest_rows_total", outcome="accepted", reason="") == 12 + 5
    for reason in ("REJECTION_REASON_NEGATIVE_VALUE", "REJECTION_REASON_MALFORMED"):
        assert value(ing, "liftos_ingest_rows_total", outcome="rejected", reason=reason) == 1
    in_flight = {"service": service, "method": method, "type": "bidi_stream"}
    assert value(ing, "liftos_rpc_in_flight", **in_flight) == 0
    assert value(ing, "process_resident_memory_bytes") > 0

    writes = settled(
        mesh.ports["memory"], "liftos_rpc_handled_total", 2,
        service="liftos.v1.MemoryService", method="WriteStream", code="OK",
    )  # fmt: skip
    assert writes == 2  # one stream per Ingest that wrote (the replay wrote nothing)
    mem = scrape(mesh.ports["memory"])
    assert value(mem, "liftos_memory_records", org="acme") == 12
    assert value(mem, "liftos_memory_records", org="beta") == 5
    assert value(mem, "liftos_memory_index_bytes", org="acme") >= 12 * 4 * 8  # loaded: floats
    assert value(mem, "liftos_memory_orgs") == 2


def test_a_stream_is_in_flight_until_it_ends(mesh: Mesh) -> None:
    release = threading.Event()

    def requests() -> Iterator[ingestion_pb.IngestRequest]:
        release.wait(10)
        return
        yield  # a generator that sends nothing until released

    channel = sync_channel(mesh.ingestion.address)
    try:
        call = ingestion_grpc.IngestionServiceStub(channel).Ingest(requests())
        labels = {"service": INGEST[0], "method": INGEST[1], "type": "bidi_stream"}
        seen = 0.0
        for _ in range(50):  # the call reaches the server's handler shortly
            seen = value(scrape(mesh.ports["ingestion"]), "liftos_rpc_in_flight", **labels)
            if seen:
                break
            threading.Event().wait(0.05)
        assert seen == 1
        release.set()
        assert list(call) == []
        port = mesh.ports["ingestion"]
        assert settled(port, "liftos_rpc_in_flight", 0, **labels) == 0
        del labels["type"]
        assert settled(port, "liftos_rpc_handled_total", 1, **labels, code="OK") == 1
    finally:
        release.set()
        channel.close()


def test_orgs_beyond_the_cap_are_summed_as_other() -> None:
    sizes = [OrgSize(f"org{i}", records=10 * (i + 1), index_bytes=i) for i in range(5)]
    readers: set[int] = set()

    def read() -> Iterator[OrgSize]:
        readers.add(threading.get_ident())
        return iter(sizes)

    metrics = ServiceMetrics(
        "memory", hooks=[MetricsHooks(org_sizes=read)], max_orgs=2, process=False
    )
    scrapes = [threading.Thread(target=generate_latest, args=(metrics.registry,)) for _ in range(3)]
    for t in scrapes:
        t.start()
        t.join()
    # each scrape on its own thread, the store read on one (a store keeps a reader per thread)
    assert len(readers) == 1 and threading.get_ident() not in readers
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    records = {dict(k[1])["org"]: v for k, v in samples.items() if k[0] == "liftos_memory_records"}
    assert records == {"org4": 50, "org3": 40, "other": 10 + 20 + 30}
    held = {dict(k[1])["org"]: v for k, v in samples.items() if k[0] == "liftos_memory_index_bytes"}
    assert held == {"org4": 4, "org3": 3, "other": 0 + 1 + 2}
    assert samples[("liftos_memory_orgs", ())] == 5


def test_metrics_port_flag_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    def parse(argv: list[str]) -> ServerConfig:
        parser = argparse.ArgumentParser()
        add_server_arguments(parser, "causal")
        return config_from_args(parser.parse_args(argv), "causal")

    monkeypatch.delenv("LIFTOS_METRICS_PORT", raising=False)
    assert parse([]).metrics_port is None  # off by default
    assert parse(["--metrics-port", "9464"]).metrics_port == 9464
    monkeypatch.setenv("LIFTOS_METRICS_PORT", "9465")
    assert parse([]).metrics_port == 9465
    monkeypatch.setenv("LIFTOS_METRICS_PORT", "nine")
    with pytest.raises(SystemExit):
        parse([])
