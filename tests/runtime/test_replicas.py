"""Stateless replicas: two processes of each of ingestion, causal, llm and surfacing behind
one round-robin target, one of each killed (SIGKILL) mid-load, and no idempotent call fails;
the survivors' metrics endpoints show the calls by code."""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf import descriptor_pool
from liftos.v1 import (
    causal_pb2,
    causal_pb2_grpc,
    common_pb2,
    ingestion_pb2,
    ingestion_pb2_grpc,
    llm_pb2,
    llm_pb2_grpc,
    memory_pb2,
    surfacing_pb2,
    surfacing_pb2_grpc,
)
from prometheus_client.parser import text_string_to_metric_families

from mesh.cli.processes import STATELESS, Mesh
from mesh.runtime.channels import IDEMPOTENT, NOT_IDEMPOTENT, sync_channel
from mesh.runtime.config import PeerConfig, replicas_target
from mesh.sdk import LiftOS
from tests.ports import is_free

ORG = "acme"
ACCOUNT = {"account_id": "shop", "timezone": "UTC", "currency": "USD", "country": "US"}
MAPPING = {"date": "date", "spend": "spend", "conversions": "orders", "revenue": "revenue"}


def test_every_rpc_is_marked_idempotent_or_not() -> None:
    for module in (ingestion_pb2, memory_pb2, causal_pb2, llm_pb2, surfacing_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yes = method.name in IDEMPOTENT.get(service.full_name, ())
                no = method.name in NOT_IDEMPOTENT.get(service.full_name, {})
                assert yes != no, f"{service.full_name}/{method.name}: mark it in exactly one table"
    pool = descriptor_pool.Default()
    for service, methods in IDEMPOTENT.items():
        for method in methods:  # no stale names: each one exists
            assert pool.FindServiceByName(service).FindMethodByName(method) is not None


def test_replica_targets() -> None:
    assert replicas_target("127.0.0.1", [1]) == "127.0.0.1:1"
    assert replicas_target("127.0.0.1", [1, 2]) == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert replicas_target("::1", [1, 2]) == "ipv6:[::1]:1,[::1]:2"
    assert replicas_target("localhost", [1, 2]).startswith("ipv4:127.")


def replica_ports(first: int = 31051) -> tuple[dict[str, int], int]:
    """gRPC base ports (replica k at +100k) and a metrics base, all free now (bases tried from
    ``first``; the load bench starts elsewhere so it can run beside the tests)."""
    for base in range(first, first + 9000, 997):
        ports = {
            s: base + i for i, s in enumerate(("ingestion", "memory", "causal", "llm", "surfacing"))
        }
        grpc_ports = [p + k * 100 for p in ports.values() for k in (0, 1)]
        metrics = base + 500
        if all(is_free(p) for p in [*grpc_ports, *range(metrics, metrics + 9)]):
            return ports, metrics
    raise RuntimeError("no free ports")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    ports, metrics = replica_ports()
    m = Mesh(
        tmp_path_factory.mktemp("replicas"), ports=ports, replicas=2, metrics_port=metrics,
        log_level="WARNING",
    )  # fmt: skip
    m.start()
    try:
        peers = PeerConfig(**{s: m.address(s) for s in ports})

        def health() -> dict[str, str]:
            # New channels each poll: a reused one backs off after each refused connect (1 s,
            # then x1.6 per try) and saw a service that had started seconds late.
            with LiftOS(peers) as fresh:
                return fresh.health()

        with LiftOS(peers) as client:
            status = m.wait_serving(health, timeout=240)
            not_serving = {k: v for k, v in status.items() if v != "SERVING"}
            assert not not_serving and len(status) >= 9, (not_serving, m.dead())
            start = dt.date(2025, 1, 1)
            history = [
                {"date": (start + dt.timedelta(days=i)).isoformat(), "spend": 100.0 + i % 7,
                 "orders": 10 + i % 5, "revenue": 500.0 + 3 * (i % 11)}
                for i in range(120)
            ]  # fmt: skip
            client.ingest("generic", history, account=ACCOUNT, org_id=ORG, mapping=MAPPING)
        yield m
    finally:
        m.stop()
        for name in m.procs:
            print(f"--- {name}\n{m.tail_log(name, 5)}")


def idempotent_calls(
    mesh: Mesh, options: list[tuple[str, object]] | None = None
) -> dict[str, Callable[[], object]]:
    """One idempotent call per stateless service, each over its balanced target (``options``
    for the channels, e.g. retries off)."""
    ch = {s: sync_channel(mesh.address(s), options=options or []) for s in STATELESS}
    ingestion = ingestion_pb2_grpc.IngestionServiceStub(ch["ingestion"])
    causal = causal_pb2_grpc.CausalServiceStub(ch["causal"])
    llm = llm_pb2_grpc.LlmServiceStub(ch["llm"])
    surfacing = surfacing_pb2_grpc.SurfacingServiceStub(ch["surfacing"])
    calendar = ingestion_pb2.GetCalendarRequest(
        country="US",
        start_date=common_pb2.Date(year=2025, month=1, day=1),
        end_date=common_pb2.Date(year=2025, month=1, day=31),
    )
    return {
        "GetCalendar": lambda: ingestion.GetCalendar(calendar, timeout=30),
        "ListAnalyses": lambda: causal.ListAnalyses(
            causal_pb2.ListAnalysesRequest(org_id=ORG), timeout=30
        ),
        "CheckClaims": lambda: llm.CheckClaims(
            llm_pb2.CheckClaimsRequest(org_id=ORG, text="Meta ads caused a 20% lift in revenue."),
            timeout=30,
        ),
        "PredictPerformance": lambda: surfacing.PredictPerformance(
            surfacing_pb2.PredictPerformanceRequest(org_id=ORG, horizon_days=14), timeout=60
        ),
    }


def run_load(
    mesh: Mesh, seconds: float, kill_at: float, workers: int = 4
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """``workers`` threads calling round the four RPCs for ``seconds``; at ``kill_at`` the
    second replica of every stateless service is SIGKILLed. (method, code) counts, and the
    calls started after the kill (and answered OK) by method."""
    calls = idempotent_calls(mesh)
    codes: Counter[tuple[str, str]] = Counter()
    after: Counter[str] = Counter()
    killed = threading.Event()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work(offset: int) -> None:
        names = list(calls)
        i = offset
        while time.monotonic() < stop_at:
            name = names[i % len(names)]
            i += 1
            started_after_kill = killed.is_set()  # then only a survivor can answer it
            try:
                calls[name]()
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            with lock:
                codes[(name, code)] += 1
                if started_after_kill and code == "OK":
                    after[name] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    time.sleep(kill_at)
    for service in STATELESS:
        mesh.kill(f"{service}.1")
    killed.set()
    for t in threads:
        t.join()
    return codes, after


def scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def test_killing_a_replica_of_each_mid_load_fails_no_idempotent_call(mesh: Mesh) -> None:
    codes, after = run_load(mesh, seconds=12, kill_at=4)
    failed = {k: n for k, n in codes.items() if k[1] != "OK"}
    assert not failed, f"failed calls: {failed} (all: {dict(codes)})"
    for method in ("GetCalendar", "ListAnalyses", "CheckClaims", "PredictPerformance"):
        assert after[method] > 0, f"no {method} answered after the kill: {dict(codes)}"
    assert all(p.poll() is not None for n, p in mesh.procs.items() if n.endswith(".1"))
    # The survivors' endpoints count the calls by code, including those after the kill.
    ports = mesh.metrics_ports()
    handled: Counter[tuple[str, str]] = Counter()
    for service in STATELESS:
        for name, labels, value in scrape(ports[service]):
            if name == "liftos_rpc_handled_total":
                handled[(labels["method"], labels["code"])] += int(value)
    for method, n in after.items():
        assert handled[(method, "OK")] >= n, (method, n, dict(handled))
    assert not [k for k in handled if k[1] != "OK"], dict(handled)
