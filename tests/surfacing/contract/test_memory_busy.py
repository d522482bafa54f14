"""Surfacing's history reads shed by a busy memory (s18 R, noticed by S2 and V2): memory
refuses with RESOURCE_EXHAUSTED TOO_MANY_CALLS and a RetryInfo while an ingest holds its
slots, and PredictPerformance, DesignExperiment and Recommend with design_tests (which need
the history, unlike the drift check: test_drift_read_refused) answered INTERNAL (sums_frame
passed memory's raw error on). Now RESOURCE_EXHAUSTED PEER_BUSY naming memory, "retry
shortly", and memory's own delay as RetryInfo. Real memory (one call at a time, an open
WriteStream holding it), ingestion, causal and surfacing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.interceptor import RETRY_AFTER_S
from mesh.runtime.status import decode_status
from surfacing_svc.app import build as surfacing_build
from tests.busy_memory import held
from tests.surfacing import drift_world as w


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    data = tmp_path_factory.mktemp("mesh")
    with running_services({"memory": memory_build}, data, max_inflight=1) as m:
        peers = replace(PeerConfig.from_env(), memory=m["memory"].address)
        builds = {"ingestion": ingestion_build, "causal": causal_build,
                  "surfacing": surfacing_build}  # fmt: skip
        with running_services(builds, data, peers=peers) as s:  # type: ignore[arg-type]
            w.write(m["memory"].address, w.records(until=w.CUT))
            yield {**m, **s}


def _calls(stub: surfacing_grpc.SurfacingServiceStub, analysis_id: str) -> dict[str, Callable]:
    return {
        "PredictPerformance": lambda: stub.PredictPerformance(
            pb.PredictPerformanceRequest(org_id=w.ORG, analysis_id=analysis_id, horizon_days=14),
            timeout=120,
        ),
        "DesignExperiment": lambda: stub.DesignExperiment(
            pb.DesignExperimentRequest(
                org_id=w.ORG, channel="meta_prospecting", duration_days=[28], seed=1
            ),
            timeout=120,
        ),
        "Recommend": lambda: stub.Recommend(
            pb.RecommendRequest(org_id=w.ORG, analysis_ids=[analysis_id], design_tests=True),
            timeout=120,
        ),
    }


def _leaving_one_out(address: str) -> str:
    """An analysis of every channel but one: its identification is at risk (a channel with
    spend left out), so Recommend's design_tests designs tests, which read the history."""
    channels = [c.channel for c in w.analyze(address).channels]
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(address))
    request = causal_pb.AnalyzeAttributionRequest(
        org_id=w.ORG, identification=causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL,
        channels=channels[:-1],
    )  # fmt: skip
    for field, d in (("start_date", w.START), ("end_date", w.CUT)):
        getattr(request.date_range, field).CopyFrom(
            common_pb.Date(year=d.year, month=d.month, day=d.day)
        )
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result.analysis_id


def test_memory_busy_is_resource_exhausted_with_memorys_delay(mesh) -> None:
    analysis_id = _leaving_one_out(mesh["causal"].address)
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    calls = _calls(stub, analysis_id)
    errors: dict[str, grpc.RpcError] = {}
    with held(mesh["memory"].address, w.ORG):
        for rpc, call in calls.items():
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
    # memory free again: each answers (Recommend's design_tests did read the history)
    for call in calls.values():
        call()
