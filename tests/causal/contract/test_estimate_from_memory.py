"""EstimateEffect on records read from a real memory service (RecordQuery → Scan → table)."""

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
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records
from tests.support import error_details

GEOS, CAMPAIGNS, DAYS = 8, 4, 90  # 2024-09-01 .. 2024-11-29; the experiment starts 2024-11-01


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    with running_services(
        {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build},
        tmp_path_factory.mktemp("mesh"),
    ) as services:
        records = synthetic_records("shop", GEOS * CAMPAIGNS * DAYS, campaigns=CAMPAIGNS, geos=GEOS)
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        memory.Write(
            iter(
                [
                    memory_pb.WriteRequest(org_id="shop", records=records[i : i + 1000])
                    for i in range(0, len(records), 1000)
                ]
            )
        )
        yield services


def _request(**query: object) -> pb.EstimateEffectRequest:
    return pb.EstimateEffectRequest(
        org_id="shop",
        method=pb.ESTIMATION_METHOD_DID,
        records=pb.RecordQuery(**query),  # type: ignore[arg-type]
        roles=pb.EffectRoles(outcome="spend", treatment="treated_post", unit="geo", time="day"),
        options=pb.EstimationOptions(refutation_simulations=3),
    )


def test_geo_experiment_did_from_memory(mesh) -> None:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    reply = stub.EstimateEffect(
        _request(experiment_id="exp-bf", aggregation=pb.AGGREGATION_LEVEL_GEO_DAY)
    )
    e = reply.estimate
    assert e.n == GEOS * DAYS  # one row per geo and day
    assert e.n_treated == GEOS // 2
    assert e.ci_upper < 0  # treated geos went dark on campaigns 0 and 1: spend fell
    assert any("first-party" in w for w in e.warnings)
    assert any("not in the registry" in w for w in e.warnings)
    stored = stub.GetAnalysis(
        pb.GetAnalysisRequest(org_id="shop", analysis_id=reply.analysis_id)
    ).analysis
    assert stored.request.records.experiment_id == "exp-bf"


def test_date_range_and_campaign_filters_reach_memory(mesh) -> None:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    window = common_pb.DateRange(
        start_date=common_pb.Date(year=2024, month=10, day=1),
        end_date=common_pb.Date(year=2024, month=11, day=29),
    )
    reply = stub.EstimateEffect(
        _request(experiment_id="exp-bf", date_range=window, campaign_ids=["c0", "c1"])
    )
    assert reply.estimate.n == GEOS * (dt.date(2024, 11, 29) - dt.date(2024, 10, 1)).days + GEOS
    # R5-F5: the listing says which window the estimate read (and no record count: the
    # estimate reports observations, not records)
    listed = stub.ListAnalyses(pb.ListAnalysesRequest(org_id="shop"))
    (summary,) = [a for a in listed.analyses if a.analysis_id == reply.analysis_id]
    assert summary.date_range == window and not summary.HasField("record_count")


def test_unknown_experiment_and_unknown_org(mesh) -> None:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(_request(experiment_id="nope"))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(info.value)[1] == ["records.experiment_id"]
    # An id the registry refuses as malformed (a space, a leading '-') is the caller's
    # INVALID_ARGUMENT on the same field, in the registry's words; it was INTERNAL.
    for bad in (" ", "-rf"):
        with pytest.raises(grpc.RpcError) as info:
            stub.EstimateEffect(_request(experiment_id=bad))
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert error_details(info.value)[1] == ["records.experiment_id"]
        assert "registry refuses the id" in info.value.details()
    other = _request(experiment_id="exp-bf")
    other.org_id = "empty-org"
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(other)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION


def test_a_query_memory_refuses_is_the_callers_mistake(mesh) -> None:
    """A campaign or channel the org has no records of: INVALID_ARGUMENT naming the query's
    field (it was INTERNAL: memory's refusal surfaced as an unexpected peer error)."""
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = _request(experiment_id="exp-bf")
    request.records.campaign_ids.extend(["no-such-campaign", ""])
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    reason, fields = error_details(info.value)
    assert fields == ["records.campaign_ids[0]", "records.campaign_ids[1]"]
    assert reason == "UNKNOWN_FILTER_VALUE"


def test_memory_down_is_unavailable(tmp_path) -> None:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path) as services:
        services["memory"].stop()
        stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        with pytest.raises(grpc.RpcError) as info:
            stub.EstimateEffect(_request(experiment_id="exp-bf"), timeout=30)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
        assert error_details(info.value)[0] == "MEMORY_UNAVAILABLE"


def test_registered_arms_decide_who_is_control(mesh) -> None:
    """Control geos that went dark have no platform rows in the window: the registry's arms
    (spelled as subdivisions, "CA" for "US-CA") still put them in the comparison."""
    geos = sorted(
        {r.geo for r in synthetic_records("shop", GEOS * CAMPAIGNS, campaigns=CAMPAIGNS, geos=GEOS)}
    )
    treated, control = geos[:2], geos[2:6]
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(mesh["ingestion"].address)
    )
    ingestion.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            experiment=md_pb.CausalExperiment(
                org_id="shop", experiment_id="registered", randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                start_date=common_pb.Date(year=2024, month=11, day=1), end_date=common_pb.Date(year=2024, month=11, day=29),
                treatment_units=[g.split("-")[-1] for g in treated], control_units=control,
            )
        )
    )  # fmt: skip
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    # The records carry "exp-bf"; the registry's design for "registered" names its own arms and window.
    request = _request(experiment_id="registered")
    reply = stub.EstimateEffect(request)
    e = reply.estimate
    # No date range: the test's 29 days and a pre-period as long (B's M17: all 90 days were
    # read, and the days after a test that ends early switch the treatment off).
    assert e.n == 6 * 58 and e.n_treated == 2
    assert not any("not in the registry" in w for w in e.warnings)
    assert (
        "records read from 2024-10-03 (a pre-period as long as the 29-day test: none is "
        "registered) to 2024-11-29 (the test's last day) for experiment 'registered': the query "
        "set no date (set records.date_range to choose)"
    ) in e.warnings
    request.records.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=1))
    e = stub.EstimateEffect(request).estimate  # an explicit start is kept, the end filled
    assert e.n == 6 * DAYS
    # R26 F10: the start the query set was described as a defaulted pre-period
    assert (
        "records read from 2024-09-01 (the query's start) to 2024-11-29 (the test's last day) "
        "for experiment 'registered': the query set no end (set records.date_range to choose)"
    ) in e.warnings
    request.records.date_range.end_date.CopyFrom(common_pb.Date(year=2024, month=11, day=29))
    e = stub.EstimateEffect(request).estimate  # both set: nothing to say
    assert e.n == 6 * DAYS and not any("records read from" in w for w in e.warnings)


def test_an_experiment_that_ended_before_the_records_is_read_to_its_end(mesh) -> None:
    """B's M17: a test ending before the last record, read with no date range, had untreated
    days after it, which sdid refuses ("unit-periods switch it off"); now the 14-day test and
    14 days before it."""
    geos = sorted(
        {r.geo for r in synthetic_records("shop", GEOS * CAMPAIGNS, campaigns=CAMPAIGNS, geos=GEOS)}
    )
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(mesh["ingestion"].address)
    )
    ingestion.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            experiment=md_pb.CausalExperiment(
                org_id="shop", experiment_id="ends-early", randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                start_date=common_pb.Date(year=2024, month=11, day=1), end_date=common_pb.Date(year=2024, month=11, day=14),
                treatment_units=geos[:2], control_units=geos[2:],
            )
        )
    )  # fmt: skip
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = _request(experiment_id="ends-early")
    request.method = pb.ESTIMATION_METHOD_SDID
    e = stub.EstimateEffect(request).estimate
    assert e.n == GEOS * 28
    assert (
        "records read from 2024-10-18 (a pre-period as long as the 14-day test: none is "
        "registered) to 2024-11-14 (the test's last day)" in " ".join(e.warnings)
    )
