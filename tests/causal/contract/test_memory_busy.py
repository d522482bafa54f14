"""Causal's reads of memory shed for load (s18 R, noticed by S2 and V2): memory refuses with
RESOURCE_EXHAUSTED TOO_MANY_CALLS and a RetryInfo while an ingest holds its slots, and
AnalyzeAttribution, AnalyzeProducts and EstimateEffect from records answered INTERNAL (the
raw peer error). Now RESOURCE_EXHAUSTED PEER_BUSY naming memory, "retry shortly", and
memory's own delay as RetryInfo (the SDK waits it and retries). Real memory (one call at a
time, an open WriteStream holding it), ingestion and causal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.interceptor import RETRY_AFTER_S
from mesh.runtime.status import decode_status
from tests.busy_memory import held
from tests.surfacing import drift_world as w


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    data = tmp_path_factory.mktemp("mesh")
    with running_services({"memory": memory_build}, data, max_inflight=1) as m:
        peers = replace(PeerConfig.from_env(), memory=m["memory"].address)
        builds = {"ingestion": ingestion_build, "causal": causal_build}
        with running_services(builds, data, peers=peers) as s:  # type: ignore[arg-type]
            w.write(m["memory"].address, w.records(until=w.CUT))
            yield {**m, **s}


def _calls(stub: causal_grpc.CausalServiceStub) -> dict[str, Callable[[], object]]:
    attribution = pb.AnalyzeAttributionRequest(
        org_id=w.ORG, identification=pb.ATTRIBUTION_IDENTIFICATION_NATIONAL
    )
    estimate = pb.EstimateEffectRequest(
        org_id=w.ORG, method=pb.ESTIMATION_METHOD_DID,
        records=pb.RecordQuery(channels=["meta_prospecting"]),
        roles=pb.EffectRoles(outcome="revenue", treatment="spend", unit="geo", time="day"),
    )  # fmt: skip
    return {
        "AnalyzeAttribution": lambda: list(stub.AnalyzeAttribution(attribution, timeout=120)),
        "AnalyzeProducts": lambda: list(
            stub.AnalyzeProducts(pb.AnalyzeProductsRequest(org_id=w.ORG), timeout=120)
        ),
        "EstimateEffect": lambda: stub.EstimateEffect(estimate, timeout=120),
    }


def test_memory_busy_is_resource_exhausted_with_memorys_delay(mesh) -> None:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    errors: dict[str, grpc.RpcError] = {}
    with held(mesh["memory"].address, w.ORG):
        for rpc, call in _calls(stub).items():
            with pytest.raises(grpc.RpcError) as info:
                call()
            errors[rpc] = info.value
    for rpc, error in errors.items():
        status, details = decode_status(error), error.details() or ""
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, (rpc, details)
        assert status.reason == "PEER_BUSY", (rpc, status.reason)
        assert status.retry_after_s == pytest.approx(RETRY_AFTER_S), rpc
        busy = f"the memory service at {mesh['memory'].address} is busy"
        assert details.startswith(busy), (rpc, details)
        assert "TOO_MANY_CALLS" in details and "retry shortly" in details, rpc
    # memory free again: the same call answers
    assert list(stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(
        org_id=w.ORG, identification=pb.ATTRIBUTION_IDENTIFICATION_NATIONAL), timeout=300))  # fmt: skip
