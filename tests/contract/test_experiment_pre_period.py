"""The pre-period an experiment was designed on survives registration (R26-F4): the registry
keeps ``pre_period_start`` (from `liftos experiments create`'s file, as the simulator writes
it), refuses one that does not precede the test, and an estimate's records window starts there
instead of at a pre-period as long as the test."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.record_tables import ExperimentDesign, experiment_window
from ingestion_svc.app import build as ingestion_build
from mesh.cli import commands
from mesh.runtime.inprocess import RunningService, running_services
from tests.support import error_details

ORG = "org_001"


@pytest.fixture()
def ingestion(tmp_path: Path) -> Iterator[RunningService]:
    with running_services({"ingestion": ingestion_build}, tmp_path) as services:
        yield services["ingestion"]


def _entry(**kw: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "experiment_id": "exp-pre", "start_date": "2024-12-16", "end_date": "2025-01-12",
        "pre_period_start": "2024-10-21", "channel": "meta_prospecting",
        "treatment_units": ["TX", "NY"], "control_units": ["CA", "FL"], "status": "completed",
    }  # fmt: skip
    entry.update(kw)
    return entry


def _stored(ingestion: RunningService, eid: str) -> md_pb.CausalExperiment:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    return stub.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id=eid)
    ).experiment


def test_experiments_create_keeps_the_files_pre_period(
    ingestion: RunningService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", ingestion.address)
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps([_entry(), _entry(experiment_id="exp-none", pre_period_start="")]))
    # two copies of one test (with and without a pre-period): allowed to overlap (R26-F3)
    argv = ["experiments", "create", "--org", ORG, "--allow-overlap", str(path)]
    assert commands.main(argv) == 0
    kept = _stored(ingestion, "exp-pre")
    assert kept.HasField("pre_period_start")
    assert (kept.pre_period_start.year, kept.pre_period_start.month,
            kept.pre_period_start.day) == (2024, 10, 21)  # fmt: skip
    assert not _stored(ingestion, "exp-none").HasField("pre_period_start")


@pytest.mark.parametrize("day", [16, 20])  # the test's first day, a day inside the test
def test_a_pre_period_that_does_not_precede_the_test_is_refused(
    ingestion: RunningService, day: int
) -> None:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    experiment = md_pb.CausalExperiment(
        org_id=ORG, experiment_id="bad-pre",
        start_date=common_pb.Date(year=2024, month=12, day=16),
        end_date=common_pb.Date(year=2025, month=1, day=12),
        pre_period_start=common_pb.Date(year=2024, month=12, day=day),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateExperiment(ingestion_pb.CreateExperimentRequest(experiment=experiment))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "must precede start_date 2024-12-16" in (info.value.details() or "")
    assert error_details(info.value)[1] == ["experiment.pre_period_start"]


def test_an_estimates_window_starts_at_the_registered_pre_period() -> None:
    start, end = dt.date(2024, 12, 16), dt.date(2025, 1, 12)
    stated = ExperimentDesign("e", start, end, pre_period_start=dt.date(2024, 10, 21))
    assert experiment_window(stated, None, None) == (dt.date(2024, 10, 21), end)
    assert stated.pre_period == (dt.date(2024, 10, 21), True)
    # None registered: a pre-period as long as the 28-day test, said so.
    plain = ExperimentDesign("e", start, end)
    assert experiment_window(plain, None, None) == (dt.date(2024, 11, 18), end)
    assert plain.pre_period == (dt.date(2024, 11, 18), False)
    # A bound of the caller's is kept.
    assert experiment_window(stated, dt.date(2024, 12, 1), None) == (dt.date(2024, 12, 1), end)
