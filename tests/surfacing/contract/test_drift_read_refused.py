"""OptimizeBudget, Recommend and CheckAnalysisData answer when memory sheds their drift read
(audit s18 V2-F8): the plan is the analysis's as made, so the check is advice, and a memory
busy with an ingest (RESOURCE_EXHAUSTED, its admission control) is said as "could not be
checked (RESOURCE_EXHAUSTED: ...)"; they answered INTERNAL. Real servers: memory admits one
call at a time and an open WriteStream (a concurrent ingest) holds it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from surfacing_svc.app import build as surfacing_build
from tests.busy_memory import held
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


def test_a_shed_drift_read_is_said_and_the_plan_answered(mesh) -> None:
    analysis_id = w.analyze(mesh["causal"].address).analysis_id
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    with held(mesh["memory"].address, w.ORG):
        plan = stub.OptimizeBudget(pb.OptimizeBudgetRequest(
            org_id=w.ORG, analysis_id=analysis_id, total_budget=common_pb.Money(amount=1e6)),
            timeout=120)  # fmt: skip
        recommend = stub.Recommend(pb.RecommendRequest(
            org_id=w.ORG, analysis_ids=[analysis_id], design_tests=False), timeout=120)  # fmt: skip
        check = stub.CheckAnalysisData(
            pb.CheckAnalysisDataRequest(org_id=w.ORG, analysis_id=analysis_id), timeout=120
        )
    assert plan.allocations
    assert recommend.recommendations
    for answer, warnings in (("plan", plan.warnings), ("recommendation", recommend.warnings),
                             ("answer", check.warnings)):  # fmt: skip
        first = warnings[0]
        assert UNCHECKED in first, (answer, list(warnings))
        assert first.endswith(f"this {answer} is computed from the analysis as it was made")
    assert check.compared_days == 0
