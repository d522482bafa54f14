"""Caller authentication, org isolation across services, and TLS, on real servers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import sync_channel
from mesh.runtime.config import PeerConfig, TlsConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records
from mesh.sdk.client import LiftOS, Records, RpcFailure
from tests.support import error_details

KEYS = AuthConfig.parse(
    "key-a:org_a,key-b:org_b,"
    "load-a:org_a:public+records.write,load-b:org_b:public+records.write,"
    "svc-ing:service=ingestion,svc-causal:service=causal"
)
# Each service calls its peers with its own principal's key, scoped to what it calls.
SERVICE_KEYS = {"ingestion": "svc-ing", "causal": "svc-causal"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(
        builds, tmp_path_factory.mktemp("auth"), auth=KEYS, api_keys=SERVICE_KEYS
    ) as services:
        yield services


def _stub(cls, address: str, key: str | None):  # type: ignore[no-untyped-def]
    return cls(sync_channel(address, api_key=key or ""))


def test_health_needs_no_key(secured) -> None:
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(secured["memory"].address))
    assert (
        health.Check(health_pb2.HealthCheckRequest()).status
        == health_pb2.HealthCheckResponse.SERVING
    )


def test_missing_or_unknown_key_is_unauthenticated(secured) -> None:
    for key in (None, "stolen"):
        memory = _stub(memory_grpc.MemoryServiceStub, secured["memory"].address, key)
        with pytest.raises(grpc.RpcError) as info:
            memory.Search(memory_pb.SearchRequest(org_id="org_a", text="x", k=1))
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert error_details(info.value)[0] == "UNAUTHENTICATED"


def test_a_key_acts_only_for_its_org(secured) -> None:
    records = synthetic_records("org_a", 400, campaigns=2, geos=4)
    as_a = _stub(memory_grpc.MemoryServiceStub, secured["memory"].address, "load-a")
    as_b = _stub(memory_grpc.MemoryServiceStub, secured["memory"].address, "load-b")
    written = as_a.Write(iter([memory_pb.WriteRequest(org_id="org_a", records=records)]))
    assert written.inserted_count == 400
    with pytest.raises(grpc.RpcError) as info:  # reading another org
        list(as_b.Scan(memory_pb.ScanRequest(org_id="org_a")))
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as info:  # writing into another org, mid-stream
        as_b.Write(iter([memory_pb.WriteRequest(org_id="org_a", records=records[:1])]))
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    ingestion = _stub(ingestion_grpc.IngestionServiceStub, secured["ingestion"].address, "key-b")
    experiment = md_pb.CausalExperiment(
        org_id="org_a", experiment_id="sneaky", randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
        start_date=common_pb.Date(year=2024, month=11, day=1), end_date=common_pb.Date(year=2024, month=11, day=2),
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as info:  # the org inside the resource counts too
        ingestion.CreateExperiment(ingestion_pb.CreateExperimentRequest(experiment=experiment))
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_services_call_each_other_with_their_own_key(secured) -> None:
    memory = _stub(memory_grpc.MemoryServiceStub, secured["memory"].address, "load-a")
    memory.Write(
        iter(
            [
                memory_pb.WriteRequest(
                    org_id="org_a",
                    records=synthetic_records("org_a", 8 * 4 * 90, campaigns=4, geos=8),
                )
            ]
        )
    )
    peers = PeerConfig.from_env().with_overrides(causal=secured["causal"].address)
    with LiftOS(peers, org_id="org_a", api_key="key-a") as client:
        reply = client.estimate(
            Records(experiment_id="exp-bf", start=dt.date(2024, 9, 1)), method="did", outcome="spend",
            treatment="treated_post", unit="geo", time="day", skip_refutation=True,
        )  # fmt: skip
    assert reply.estimate.n > 0  # causal read org_a's records from memory with its own key
    with (
        LiftOS(peers, org_id="org_a", api_key="key-b") as client,
        pytest.raises(RpcFailure) as failure,
    ):
        client.estimate(
            Records(experiment_id="exp-bf"), method="did", outcome="spend", treatment="treated_post"
        )
    assert failure.value.code is grpc.StatusCode.PERMISSION_DENIED
    stub = _stub(causal_grpc.CausalServiceStub, secured["causal"].address, None)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetAnalysis(causal_pb.GetAnalysisRequest(org_id="org_a", analysis_id="x"))
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_ingestion_writes_to_memory_with_its_own_key(secured) -> None:
    """A user's key reaches ingestion; ingestion's write to memory goes out under its own
    service key (memory refuses a user's key there, and an unauthenticated call)."""
    world = sim.simulate("demo", seed=1)
    account = {**next(a for a in world.accounts if a["source"] == "meta"), "country": "US"}
    lines = [json.dumps(world.raw["meta"].base_row(k)) for k in range(40)]
    memory = _stub(memory_grpc.MemoryServiceStub, secured["memory"].address, "key-a")

    def stored() -> int:
        return sum(len(p.records) for p in memory.Scan(memory_pb.ScanRequest(org_id="org_a")))

    before = stored()
    peers = PeerConfig.from_env().with_overrides(ingestion=secured["ingestion"].address)
    with LiftOS(peers, org_id="org_a", api_key="key-a") as client:
        summary = client.ingest("meta", lines, account=account, batch_size=20, retries=0)
    assert (summary.accepted, summary.written, summary.retries) == (40, 40, 0)
    assert stored() == before + 40


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "server.pem", tmp / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls(tmp_path: Path, grpcurl: str) -> None:
    cert, key = _self_signed(tmp_path)
    tls = TlsConfig.from_files(cert, key)
    with running_services(
        {"ingestion": ingestion_build}, tmp_path / "data", tls=tls, host="localhost"
    ) as s:
        address = s["ingestion"].address
        peers = PeerConfig.from_env().with_overrides(ingestion=address)
        with LiftOS(peers, tls_ca=str(cert)) as client:
            frame = client.calendar("US", dt.date(2024, 11, 28), dt.date(2024, 11, 28))
        assert bool(frame.loc[0, "is_holiday"])
        with LiftOS(peers, timeout=5) as plaintext, pytest.raises(RpcFailure) as failure:
            plaintext.calendar("US", dt.date(2024, 11, 28), dt.date(2024, 11, 28))
        assert failure.value.code is grpc.StatusCode.UNAVAILABLE
        out = subprocess.run(
            [grpcurl, "-cacert", str(cert), address, "list"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert "liftos.v1.IngestionService" in out.stdout
