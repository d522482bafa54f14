"""RecordExperimentResult with keep_existing re-sent after a lost reply (s18 R32): the first
one was recorded, so the identical retry is that write done (OK, the stored experiment), not
FAILED_PRECONDITION "this result was not recorded"; another result is still refused, and
racing identical retries all succeed. Real ingestion registry (and memory) on localhost."""

from __future__ import annotations

import threading

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

import sim
from tests.causal.contract.test_record_experiment_result import _experiment, _result
from tests.ingestion.conftest import rich_error

ORG = "simshop"  # the org _experiment and _result name


@pytest.fixture()
def registry(services) -> ingestion_grpc.IngestionServiceStub:  # type: ignore[no-untyped-def]
    return ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))


def _keep(world: sim.SimResult, experiment_id: str, lift: float):  # type: ignore[no-untyped-def]
    return ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id=experiment_id, keep_existing=True,
        result=_result(world, experiment_id="", channel="", lift_absolute=lift,
                       analysis_id="external-1"),
    )  # fmt: skip


def _create(registry, world: sim.SimResult, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    registry.CreateExperiment(ingestion_pb.CreateExperimentRequest(
        allow_overlap=True, experiment=_experiment(world.experiments[0], experiment_id)))  # fmt: skip


def test_an_identical_retry_is_ok_and_another_result_refused(
    registry, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    _create(registry, world, "e2")
    first = registry.RecordExperimentResult(_keep(world, "e2", 5000.0), timeout=30)
    again = registry.RecordExperimentResult(_keep(world, "e2", 5000.0), timeout=30)
    assert again.experiment == first.experiment
    assert first.experiment.result.lift_absolute == 5000.0
    assert (first.already_recorded, again.already_recorded) == (False, True)
    with pytest.raises(grpc.RpcError) as refused:
        registry.RecordExperimentResult(_keep(world, "e2", 5001.0), timeout=30)
    code, reason, _, _ = rich_error(refused.value)
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "EXPERIMENT_RESULT_CHANGED")
    said = refused.value.details() or ""
    assert "lift 5,000" in said and "re-sent" in said
    got = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id="e2")
    ).experiment.result
    assert got == first.experiment.result


def test_racing_identical_retries_all_succeed(registry, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    _create(registry, world, "e3")
    codes: list[grpc.StatusCode] = []
    recorded: list[bool] = []
    start = threading.Barrier(6)

    def record() -> None:
        start.wait()
        try:
            reply = registry.RecordExperimentResult(_keep(world, "e3", 42.0), timeout=30)
            codes.append(grpc.StatusCode.OK)
            recorded.append(reply.already_recorded)
        except grpc.RpcError as e:
            codes.append(e.code())

    threads = [threading.Thread(target=record) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [grpc.StatusCode.OK] * 6
    assert sorted(recorded) == [False] + [True] * 5  # one wrote it, five found it written
