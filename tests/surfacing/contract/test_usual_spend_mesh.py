"""A registered test's window is not business as usual, over real servers (R5-F4): the
surfacing service reads the org's experiments from ingestion's registry, and a design's spend
change is the channel's usual spend before the holdout, with a warning naming the test; a draft
that never ran moves nothing."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from surfacing_svc.app import build as surfacing_build
from tests.surfacing.test_usual_spend import DAYS, TEST_DAYS, _dark_history
from tests.surfacing.worlds import history_records

BUILDS = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build,
          "surfacing": surfacing_build}  # fmt: skip
ORG = "dark"


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def test_a_design_after_a_registered_holdout_removes_the_spend_before_it(tmp_path) -> None:
    history, test = _dark_history()
    with running_services(BUILDS, tmp_path) as mesh:
        records = history_records(history, ORG)
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"].address))
        memory.Write(iter(memory_pb.WriteRequest(org_id=ORG, records=records[i : i + 2000])
                          for i in range(0, len(records), 2000)))  # fmt: skip
        stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
        ask = pb.DesignExperimentRequest(org_id=ORG, channel="meta", duration_days=[28], seed=1)
        blind = stub.DesignExperiment(ask)
        registry = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(mesh["ingestion"].address)
        )

        def register(eid: str, status: int, geos: slice = slice(None, None, 2)) -> None:
            registry.CreateExperiment(ingestion_pb.CreateExperimentRequest(
                experiment=md_pb.CausalExperiment(
                    org_id=ORG, experiment_id=eid, channel="meta", status=status,  # type: ignore[arg-type]
                    start_date=_date(test.start), end_date=_date(test.end),
                    randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                    treatment_units=list(history.geos[geos]),
                    treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT)))  # fmt: skip

        # Never ran: business as usual. In the other geos: a second meta test on the same
        # days and geos is refused by the registry (R26-F3).
        register("a-draft", md_pb.EXPERIMENT_STATUS_DRAFT, slice(1, None, 2))
        drafted = stub.DesignExperiment(ask)
        register("meta-dark", md_pb.EXPERIMENT_STATUS_COMPLETED)
        seen = stub.DesignExperiment(ask)
    assert (
        drafted.cells[0].power_curve[0].spend_change == blind.cells[0].power_curve[0].spend_change
    )
    assert not any("a-draft" in w for w in drafted.warnings)
    treated = [history.geos.index(g) for g in seen.cells[0].treatment_units]
    usual = history.spend["meta"][treated][:, DAYS - 2 * TEST_DAYS : DAYS - TEST_DAYS]
    assert seen.cells[0].power_curve[0].spend_change == pytest.approx(
        -28 * usual.sum(axis=0).mean(), rel=1e-4
    )  # records hold cents
    (note,) = [w for w in seen.warnings if "meta-dark" in w and "business-as-usual" in w]
    assert f"{test.start:%Y-%m-%d}..{test.end:%Y-%m-%d}" in note and "completed" in note
    # The same test's days are named for the placebo windows (here too few lie outside it, so
    # all are kept, said), and it ended the history in geos the
    # design treats or controls on: both said (surfacing_svc.design.registered).
    assert any("the history holds the days of registered experiment(s) meta-dark" in w
               for w in seen.warnings)  # fmt: skip
    assert any("meta-dark" in w and "carry its effect" in w for w in seen.warnings)
