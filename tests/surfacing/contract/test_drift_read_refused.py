"""OptimizeBudget, Recommend and CheckAnalysisData answer when memory sheds their drift read
(audit s18 V2-F8): the plan is the analysis's as made, so the check is advice, and a memory
busy with an ingest (RESOURCE_EXHAUSTED, its admission control) is said as "could not be
checked (RESOURCE_EXHAUSTED: ...)"; they answered INTERNAL. Real servers: memory admits one
call at a time and an open WriteStream (a concurrent ingest) holds it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from surfacing_svc.app import build as surfacing_build
from tests.surfacing import drift_world as w

UNCHECKED = "changed since it was made could not be checked (RESOURCE_EXHAUSTED: "


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


def _drain(stream: Iterator[object]) -> None:
    try:
        for _ in stream:
            pass
    except grpc.RpcError:  # cancelled when the test lets memory go
        pass


def _busy(address: str) -> tuple[queue.Queue, grpc.Future]:
    """Memory's one slot held by an open WriteStream, as a running ingest holds it."""
    q: queue.Queue = queue.Queue()
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    stream = stub.WriteStream(iter(q.get, None), timeout=120)
    threading.Thread(target=_drain, args=(stream,), daemon=True).start()
    # the slot is held once memory sheds a call of its own
    for _ in range(100):
        try:
            stub.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=w.ORG), timeout=30)
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                return q, stream
        threading.Event().wait(0.1)
    raise AssertionError("memory never shed a call while a WriteStream was open")


def test_a_shed_drift_read_is_said_and_the_plan_answered(mesh) -> None:
    analysis_id = w.analyze(mesh["causal"].address).analysis_id
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    q, stream = _busy(mesh["memory"].address)
    try:
        plan = stub.OptimizeBudget(pb.OptimizeBudgetRequest(
            org_id=w.ORG, analysis_id=analysis_id, total_budget=common_pb.Money(amount=1e6)),
            timeout=120)  # fmt: skip
        recommend = stub.Recommend(pb.RecommendRequest(
            org_id=w.ORG, analysis_ids=[analysis_id], design_tests=False), timeout=120)  # fmt: skip
        check = stub.CheckAnalysisData(
            pb.CheckAnalysisDataRequest(org_id=w.ORG, analysis_id=analysis_id), timeout=120
        )
    finally:
        q.put(None)
        stream.cancel()
    assert plan.allocations
    assert recommend.recommendations
    for answer, warnings in (("plan", plan.warnings), ("recommendation", recommend.warnings),
                             ("answer", check.warnings)):  # fmt: skip
        first = warnings[0]
        assert UNCHECKED in first, (answer, list(warnings))
        assert first.endswith(f"this {answer} is computed from the analysis as it was made")
    assert check.compared_days == 0
