"""Experiment registry through the Python SDK (betterproto2 dataclasses) on a real server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.app import build as ingestion_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk.client import LiftOS, RpcFailure, dc
from tests.support import error_details


def _client(address: str, org: str = "acme") -> LiftOS:
    return LiftOS(PeerConfig.from_env().with_overrides(ingestion=address), org_id=org)


def _experiment(eid: str, **kw: object) -> dc.CausalExperiment:
    fields: dict[str, object] = dict(
        experiment_id=eid,
        name=f"test {eid}",
        start_date=dc.Date(year=2024, month=11, day=1),
        end_date=dc.Date(year=2024, month=11, day=30),
        randomization_unit=dc.RandomizationUnit.GEO,
        treatment_type=dc.TreatmentType.HOLDOUT,
        treatment_units=["US-CA", "US-TX"],
        control_units=["US-NY", "US-FL"],
        treatment_config=dc.TreatmentConfig(spend_multiplier=0.0, intensity=1.0),
        control_config=dc.TreatmentConfig(spend_multiplier=1.0),
        causal_graph=dc.CausalGraph(
            nodes=[dc.CausalNode(id="assignment", role=dc.NodeRole.INSTRUMENT, observed=True)],
            edges=[dc.CausalEdge(source="assignment", target="spend")],
        ),
    )
    fields.update(kw)
    return dc.CausalExperiment(**fields)  # type: ignore[arg-type]


@pytest.fixture()
def ingestion(tmp_path: Path):
    with running_services({"ingestion": ingestion_build}, tmp_path) as services:
        yield services["ingestion"]


def test_create_get_list_round_trip(ingestion) -> None:
    with _client(ingestion.address) as client:
        created = client.create_experiment(_experiment("geo-holdout-1"))
        assert created.org_id == "acme"
        assert created.status == dc.ExperimentStatus.DRAFT
        assert isinstance(created.create_time, dt.datetime)
        assert abs((dt.datetime.now(dt.UTC) - created.create_time).total_seconds()) < 60
        got = client.get_experiment("geo-holdout-1")
        assert got == created
        assert got.causal_graph.edges[0].target == "spend"
        assert got.treatment_units == ["US-CA", "US-TX"]
        client.create_experiment(_experiment("geo-holdout-2"))
        listed = list(client.list_experiments())
        assert [e.experiment_id for e in listed] == ["geo-holdout-2", "geo-holdout-1"]


def test_list_pages_and_active_filter(ingestion) -> None:
    with _client(ingestion.address, org="paged") as client:
        for i in range(7):
            month = 1 + i
            client.create_experiment(
                _experiment(
                    f"e{i}",
                    start_date=dc.Date(year=2024, month=month, day=1),
                    end_date=dc.Date(year=2024, month=month, day=20),
                )
            )
        paged = [e.experiment_id for e in client.list_experiments(page_size=3)]
        assert paged == [f"e{i}" for i in reversed(range(7))]
        active = [e.experiment_id for e in client.list_experiments(active_on=dt.date(2024, 3, 10))]
        assert active == ["e2"]
    # Another org sees none of them.
    with _client(ingestion.address, org="other") as client:
        assert list(client.list_experiments()) == []
        with pytest.raises(RpcFailure) as info:
            client.get_experiment("e1")
        assert info.value.code is grpc.StatusCode.NOT_FOUND


def _pb_experiment(**kw: object) -> md_pb.CausalExperiment:
    base = dict(
        org_id="acme",
        experiment_id="bad-1",
        start_date=common_pb.Date(year=2024, month=11, day=10),
        end_date=common_pb.Date(year=2024, month=11, day=20),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
    )
    base.update(kw)
    return md_pb.CausalExperiment(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_date": common_pb.Date(year=2024, month=11, day=1)}, "experiment.end_date"),
        ({"org_id": ""}, "experiment.org_id"),
        ({"experiment_id": ""}, "experiment.experiment_id"),
        ({"start_date": common_pb.Date(year=2024, month=2, day=30)}, "experiment.start_date"),
        ({"randomization_unit": 0}, "experiment.randomization_unit"),
        ({"treatment_share": 1.5}, "experiment.treatment_share"),
        ({"treatment_units": ["a"], "control_units": ["a"]}, "experiment.control_units"),
    ],
)
def test_bad_experiments_name_the_field(ingestion, change: dict, field: str) -> None:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(experiment=_pb_experiment(**change))
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    reason, fields = error_details(info.value)
    assert field in fields
    assert reason


def test_duplicate_experiment_is_already_exists(ingestion) -> None:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    stub.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(experiment=_pb_experiment(experiment_id="dup"))
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(experiment=_pb_experiment(experiment_id="dup"))
        )
    assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert "dup" in info.value.details()
    assert error_details(info.value)[0] == "EXPERIMENT_EXISTS"


def test_missing_org_on_get_and_list(ingestion) -> None:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    for call, request in (
        (stub.GetExperiment, ingestion_pb.GetExperimentRequest(experiment_id="x")),
        (stub.ListExperiments, ingestion_pb.ListExperimentsRequest()),
    ):
        with pytest.raises(grpc.RpcError) as info:
            call(request)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(info.value)[1] == ["org_id"]
    with pytest.raises(grpc.RpcError) as info:
        stub.ListExperiments(
            ingestion_pb.ListExperimentsRequest(org_id="acme", page_token="garbage")
        )
    assert error_details(info.value)[1] == ["page_token"]


def test_an_empty_experiment_id_is_a_missing_field_not_an_unknown_experiment(ingestion) -> None:
    """GetExperiment and RecordExperimentResult without an experiment_id: INVALID_ARGUMENT
    naming the field (R1-F8), as every RPC names its missing id, not NOT_FOUND "experiment ''"."""
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    result = md_pb.ExperimentResult(channel="meta", lift_absolute=1.0, lift_std_error=0.5)
    for call, request in (
        (stub.GetExperiment, ingestion_pb.GetExperimentRequest(org_id="acme")),
        (stub.RecordExperimentResult,
         ingestion_pb.RecordExperimentResultRequest(org_id="acme", result=result)),
    ):  # fmt: skip
        with pytest.raises(grpc.RpcError) as info:
            call(request)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert error_details(info.value)[1] == ["experiment_id"]
        assert "experiment_id is required" in (info.value.details() or "")


def test_restart_keeps_experiments(tmp_path: Path) -> None:
    with (
        running_services({"ingestion": ingestion_build}, tmp_path) as services,
        _client(services["ingestion"].address) as client,
    ):
        client.create_experiment(_experiment("survivor"))
    with (
        running_services({"ingestion": ingestion_build}, tmp_path) as services,
        _client(services["ingestion"].address) as client,
    ):
        got = client.get_experiment("survivor")
        assert got.treatment_units == ["US-CA", "US-TX"]
        assert [e.experiment_id for e in client.list_experiments()] == ["survivor"]


def test_a_result_for_an_experiment_without_a_channel_must_name_one(ingestion) -> None:
    """R12-F13: README's CreateExperiment registers no channel; a result naming none was stored
    and then skipped by every analysis without a word. Refused naming result.channel; a result
    that names its channel is stored with it."""
    client = _client(ingestion.address)
    client.create_experiment(_experiment("nochan"))  # no channel registered
    result = dc.ExperimentResult(
        lift_absolute=195_563.0, lift_std_error=40_000.0, spend_delta=-97_781.0
    )
    with pytest.raises(RpcFailure) as info:
        client.record_experiment_result("nochan", result)
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "result.channel" in str(info.value) and "registers no channel" in str(info.value)
    result.channel = "meta_prospecting"
    stored = client.record_experiment_result("nochan", result)
    assert stored.result is not None and stored.result.channel == "meta_prospecting"
