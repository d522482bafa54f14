"""A proposed geo test against the org's peak days (R51-F3), over real memory, ingestion and
surfacing servers: a shop whose history (2023-09-01 .. 2024-10-04) holds last year's Black
Friday weekend (x1.8) and gift weeks (x1.25). DesignExperiment said nothing of either: its
56-day default from the day after the history ended on Black Friday, and a go-dark over the
peak was priced at ordinary days."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import grpc
import numpy as np
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from surfacing_svc.app import build as surfacing_build
from tests.surfacing.worlds import geo_history, history_records

BUILDS = {"memory": memory_build, "ingestion": ingestion_build, "surfacing": surfacing_build}
START, N = dt.date(2023, 9, 1), 400  # to 2024-10-04
DAYS = [START + dt.timedelta(k) for k in range(N)]


def _lift(day: dt.date) -> float:
    if dt.date(2023, 11, 24) <= day <= dt.date(2023, 11, 27):
        return 1.8  # Black Friday to Cyber Monday 2023
    return 1.25 if day.month == 12 and day.day <= 21 else 1.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    base = geo_history(n_geos=12, n_days=N, seed=7)
    lift = np.array([_lift(d) for d in DAYS])
    history = replace(base, dates=np.datetime64(START) + np.arange(N).astype("timedelta64[D]"),
                      outcome=base.outcome * lift[None, :])  # fmt: skip
    with running_services(BUILDS, tmp_path_factory.mktemp("mesh")) as services:
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        records = history_records(history, "shop")
        memory.Write(iter(memory_pb.WriteRequest(org_id="shop", records=records[i : i + 2000])
                          for i in range(0, len(records), 2000)))  # fmt: skip
        yield services


def _design(mesh, **fields) -> pb.DesignExperimentResponse:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    return stub.DesignExperiment(pb.DesignExperimentRequest(org_id="shop", channel="meta", seed=3,
                                                            **fields))  # fmt: skip


def _peak_note(reply: pb.DesignExperimentResponse) -> str:
    (note,) = [w for w in reply.warnings if "runs into" in w]
    return note


def test_the_default_test_that_ends_on_black_friday_is_said_with_one_that_ends_before(mesh):
    reply = _design(mesh, minimum_detectable_lift=0.005, duration_days=[28, 56])
    (cell,) = reply.cells
    assert cell.recommended_duration_days == 56  # 0.5% reaches no power: the longest
    note = _peak_note(reply)
    assert (
        "the 56-day test (2024-10-05 to 2024-11-29) runs into Black Friday to Cyber Monday " in note
    )
    assert "(2024-11-29 to 2024-12-02)" in note and "too late to set its budget" in note
    # It cannot end before the peak from the day after the history; 28 days can.
    assert "the longest checked that does is 28 days from 2024-10-05" in note
    assert "the first 56-day window clear of the peaks starts on 2024-12-22" in note


def test_a_go_dark_over_the_peak_is_said_and_priced_at_last_years_level(mesh):
    reply = _design(mesh, duration_days=[28], expected_roas=3.0,
                    start_date=common_pb.Date(year=2024, month=11, day=18))  # fmt: skip
    note = _peak_note(reply)
    assert "the 28-day test (2024-11-18 to 2024-12-15) runs into" in note
    assert "Black Friday to Cyber Monday (2024-11-29 to 2024-12-02)" in note
    assert "Christmas shopping season (2024-12-01 to 2024-12-21)" in note
    assert "turns the channel off in the treatment geos" in note
    assert "the latest start whose 28 days end before Black Friday to Cyber Monday is " in note
    assert "2024-11-01" in note
    # Last year's same days (around Black Friday 2023, and 2023-12-01..15): 28 days with 4
    # at x1.8 and 15 at x1.25 run ~1.22x the usual level (the geos' own drift moves it).
    ratio = float(re.search(r"brought the treatment geos ([\d.]+)× their usual", note)[1])
    assert 1.1 < ratio < 1.4
    (cell,) = reply.cells
    usual = float(re.search(r"at the usual ([\d,]+)\)", note)[1].replace(",", ""))
    season = float(re.search(r"the test's days hold about ([\d,]+) of", note)[1].replace(",", ""))
    assert season == pytest.approx(ratio * usual, rel=0.01)
    cost = float(re.search(r"expected to cost about ([\d,]+) of", note)[1].replace(",", ""))
    assert cost == pytest.approx(abs(cell.power_curve[0].expected_lift) * season, rel=0.01)


def test_the_orgs_own_season_is_the_one_checked(mesh):
    """The org registers its gift season (history only) a week later than the built-in one,
    8-28 December: the test is checked against it, recurred, and not against 1-21 December."""
    registry = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    values = {d: float(d.month == 12 and 8 <= d.day <= 28) for d in DAYS}
    registry.RegisterExternalFactor(ingestion_pb.RegisterExternalFactorRequest(
        org_id="shop", series=ingestion_pb.ExternalFactorSeries(
            name="gift_weeks", type=md_pb.EXTERNAL_FACTOR_TYPE_SEASON, values=[
                ingestion_pb.DatedValue(value=v, date=common_pb.Date(
                    year=d.year, month=d.month, day=d.day)) for d, v in values.items()])))  # fmt: skip
    reply = _design(mesh, duration_days=[14], minimum_detectable_lift=0.05,
                    start_date=common_pb.Date(year=2024, month=12, day=3))  # fmt: skip
    note = _peak_note(reply)
    assert "gift_weeks (2024-12-08 to 2024-12-28)" in note
    assert "Christmas shopping season" not in note
