"""A recorded lift whose window misses the analysed period is named where it matters (R5-F7:
an analysis ending before a recorded test's window dropped it without a word): one that starts
after the period ends, or ended within a year before it starts, gets a warning saying which
side it is on; older ones stay quiet; overlapping ones are kept."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.peers import RegistryReader
from ingestion_svc.app import build as ingestion_build
from ingestion_svc.experiments import ExperimentRegistry
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import Build, running_services

ORG = "outside_shop"
START, END = dt.date(2024, 9, 15), dt.date(2025, 1, 12)
WINDOWS = {
    "inside": (dt.date(2024, 12, 16), dt.date(2025, 1, 12)),
    "next_quarter": (dt.date(2025, 1, 20), dt.date(2025, 3, 2)),
    "last_summer": (dt.date(2024, 6, 1), dt.date(2024, 6, 28)),
    "two_years_ago": (dt.date(2022, 6, 1), dt.date(2022, 6, 28)),
}


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def test_tests_outside_the_period_are_named_by_side(tmp_path) -> None:
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path) as services:
        address = services["ingestion"].address
        stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(address))
        for eid, (first, last) in WINDOWS.items():
            stub.CreateExperiment(ingestion_pb.CreateExperimentRequest(
                experiment=md_pb.CausalExperiment(
                    org_id=ORG, experiment_id=eid, start_date=_date(first), end_date=_date(last),
                    randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO, channel="tiktok",
                    treatment_units=["CA"], control_units=["TX"],
                    treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT)))  # fmt: skip
            stub.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
                org_id=ORG, experiment_id=eid, result=md_pb.ExperimentResult(
                    lift_absolute=100_000.0, lift_std_error=40_000.0, spend_delta=-300_000.0)))  # fmt: skip

        async def run() -> tuple[set[str], list[str]]:
            reader = RegistryReader(address)
            try:
                got = await reader.lift_tests(ORG, START, END, outcome="revenue")
            finally:
                await reader.close()
            return {r.result.experiment_id for r in got}, got.skipped

        kept, skipped = asyncio.run(run())
    assert kept == {"inside"}
    assert sorted(skipped) == sorted(
        [
            "registry experiment next_quarter (tiktok, 2025-01-20..2025-03-02) not used: it starts "
            "after the analysed period ends (2025-01-12); an analysis whose period reaches "
            "2025-01-20..2025-03-02 can be calibrated by it",
            "registry experiment last_summer (tiktok, 2024-06-01..2024-06-28) not used: it ended "
            "before the analysed period starts (2024-09-15); an analysis whose period reaches back "
            "to 2024-06-01..2024-06-28 can be calibrated by it",
        ]
    )


def test_a_stored_result_without_a_channel_is_named(tmp_path) -> None:
    """R12-F13: a result recorded before the registry required a channel was skipped without a
    word; it is named, with what to do."""
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path) as services:
        address = services["ingestion"].address
        stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(address))
        first, last = WINDOWS["inside"]
        stub.CreateExperiment(ingestion_pb.CreateExperimentRequest(
            experiment=md_pb.CausalExperiment(
                org_id=ORG, experiment_id="bf-holdout", start_date=_date(first),
                end_date=_date(last), randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                treatment_units=["CA"], control_units=["TX"],
                treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT)))  # fmt: skip
        stored = stub.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
            org_id=ORG, experiment_id="bf-holdout", result=md_pb.ExperimentResult(
                channel="tiktok", lift_absolute=100_000.0, lift_std_error=40_000.0,
                spend_delta=-300_000.0))).experiment  # fmt: skip
        # as an older registry stored it: the result without a channel
        stored.result.channel = ""
        (db,) = tmp_path.rglob("registry.sqlite")
        old = ExperimentRegistry(db)
        try:
            old.replace_payload(ORG, "bf-holdout", stored.SerializeToString())
        finally:
            old.close()

        async def run() -> tuple[int, list[str]]:
            reader = RegistryReader(address)
            try:
                got = await reader.lift_tests(ORG, START, END, outcome="revenue")
            finally:
                await reader.close()
            return len(got), got.skipped

        kept, skipped = asyncio.run(run())
    assert kept == 0
    assert skipped == [
        "registry experiment bf-holdout not used: its result names no channel (record it again "
        "with the channel the test changed)"
    ]
