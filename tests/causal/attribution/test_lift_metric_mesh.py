"""A registry lift test calibrates only an analysis of the outcome it measured, end to end:
a geo holdout whose recorded lift is revenue calibrates AnalyzeAttribution on revenue and is
set aside, with a warning naming it, on conversions (units a revenue lift cannot speak to)."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

import sim

from .records import world_mesh

ORG = "liftmetric"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        e = world.experiments[0]

        def day(text: str) -> common_pb.Date:
            d = dt.date.fromisoformat(text[:10])
            return common_pb.Date(year=d.year, month=d.month, day=d.day)

        registry = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        registry.CreateExperiment(ingestion_pb.CreateExperimentRequest(experiment=md_pb.CausalExperiment(
            org_id=ORG, experiment_id=e["experiment_id"], name=e["name"],
            start_date=day(e["start_date"]), end_date=day(e["end_date"]),
            randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO, channel=e["channel"],
            treatment_units=e["treatment_units"], control_units=e["control_units"],
            treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT,
        )))  # fmt: skip
        lift = float(world.truth["experiments"][0]["incremental_revenue_treated"])
        registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
            org_id=ORG, experiment_id=e["experiment_id"], result=md_pb.ExperimentResult(
                experiment_id=e["experiment_id"], channel=e["channel"], lift_absolute=lift,
                lift_std_error=lift / 3, spend_baseline=800.0, spend_delta=-800.0,
                treatment_unit_count=len(e["treatment_units"]),
                control_unit_count=len(e["control_units"]),
                metric=common_pb.OUTCOME_METRIC_REVENUE,
            ),
        ))  # fmt: skip
        yield services, e["experiment_id"]


def _analyze(services, outcome: str) -> pb.AttributionResult:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
    metric = {"revenue": common_pb.OUTCOME_METRIC_REVENUE,
              "conversions": common_pb.OUTCOME_METRIC_CONVERSIONS}[outcome]  # fmt: skip
    request = pb.AnalyzeAttributionRequest(org_id=ORG, outcome=metric)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


def test_a_revenue_lift_calibrates_revenue_and_not_conversions(mesh) -> None:
    services, experiment = mesh
    revenue = _analyze(services, "revenue")
    assert len(revenue.calibration) == 1
    assert not [w for w in revenue.warnings if experiment in w and "not used" in w]
    orders = _analyze(services, "conversions")
    assert len(orders.calibration) == 0
    (why,) = [w for w in orders.warnings if experiment in w and "not used" in w]
    assert "revenue" in why and "conversions" in why
