"""A registry lift test calibrates only an analysis of the outcome it measured (R2-F3): the
causal service's registry reader, against a real ingestion registry, keeps a result whose
metric is the analysis's outcome (or unspecified) and skips one measured in another unit with
a warning naming the experiment and both units."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.peers import RegistryReader
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import Build, RunningService, running_services

ORG = "metric_shop"
START, END = dt.date(2024, 10, 1), dt.date(2024, 10, 28)
METRICS = {
    "exp_revenue": common_pb.OUTCOME_METRIC_REVENUE,
    "exp_orders": common_pb.OUTCOME_METRIC_CONVERSIONS,
    "exp_unsaid": common_pb.OUTCOME_METRIC_UNSPECIFIED,
}


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("metric")) as services:
        running: RunningService = services["ingestion"]
        stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(running.address))
        for experiment_id, metric in METRICS.items():
            # One test recorded per metric: copies on the same days and geos (R26-F3).
            stub.CreateExperiment(ingestion_pb.CreateExperimentRequest(allow_overlap=True,
                experiment=md_pb.CausalExperiment(
                    org_id=ORG, experiment_id=experiment_id, name=experiment_id,
                    start_date=_date(START), end_date=_date(END),
                    randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                    channel="meta_prospecting", treatment_units=["CA"], control_units=["TX"],
                    treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT,
                )))  # fmt: skip
            stub.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
                org_id=ORG, experiment_id=experiment_id, result=md_pb.ExperimentResult(
                    experiment_id=experiment_id, channel="meta_prospecting", metric=metric,
                    lift_absolute=590_894.0, lift_std_error=151_617.0,
                    spend_baseline=800.0, spend_delta=-800.0,
                    treatment_unit_count=1, control_unit_count=1,
                ),
            ))  # fmt: skip
        yield running.address


def _lifts(address: str, outcome: str | None) -> tuple[set[str], list[str]]:
    async def run() -> tuple[set[str], list[str]]:
        reader = RegistryReader(address)
        try:
            got = await reader.lift_tests(ORG, START, END, outcome=outcome)
        finally:
            await reader.close()
        return {r.result.experiment_id for r in got}, got.skipped

    return asyncio.run(run())


def test_a_revenue_lift_does_not_calibrate_a_conversions_analysis(registry: str) -> None:
    kept, skipped = _lifts(registry, "conversions")
    assert kept == {"exp_orders", "exp_unsaid"}
    assert skipped == [
        "registry experiment exp_revenue not used: it measured revenue, the analysis models "
        "conversions (a lift in another unit cannot calibrate it)"
    ]


def test_a_conversions_lift_does_not_calibrate_a_revenue_analysis(registry: str) -> None:
    kept, skipped = _lifts(registry, "revenue")
    assert kept == {"exp_revenue", "exp_unsaid"}
    assert len(skipped) == 1 and "exp_orders not used: it measured conversions" in skipped[0]


def test_without_an_outcome_every_result_is_read(registry: str) -> None:
    """The reader's old behaviour, for a caller that does not say its outcome."""
    kept, skipped = _lifts(registry, None)
    assert kept == set(METRICS) and skipped == []
