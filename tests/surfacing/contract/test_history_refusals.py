"""DesignExperiment and PredictPerformance say what is wrong with a history they cannot use
(audit R18-F4), over real servers: a weekly export is called weekly (not "1450 days and 0 geos
... at least 28 days and 1 geos are needed"), and a conversions-only org is told to ask for
conversions (not "no first-party outcome rows"), which then works."""

from __future__ import annotations

import datetime as dt

import grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from tests.surfacing.worlds import geo_history, history_records

from .test_design_and_forecast import mesh  # noqa: F401 - the module's real mesh fixture

HISTORY = geo_history(n_geos=8, n_days=140, seed=5)


def _write(mesh, org: str, records: list) -> None:  # noqa: F811
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"].address))
    memory.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]))


def _stub(mesh) -> surfacing_grpc.SurfacingServiceStub:  # noqa: F811
    return surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))


def _refusal(call) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION, error.details()
        return error
    raise AssertionError("the call should have been refused")


def test_a_weekly_history_is_called_weekly(mesh) -> None:  # noqa: F811
    first = HISTORY.dates[0].item()
    weekly = [r for r in history_records(HISTORY, "weekly") if _days(r, first) % 7 == 0]
    _write(mesh, "weekly", weekly)
    stub = _stub(mesh)
    for call in (
        lambda: stub.DesignExperiment(pb.DesignExperimentRequest(org_id="weekly", channel="meta")),
        lambda: stub.PredictPerformance(pb.PredictPerformanceRequest(org_id="weekly", horizon_days=28)),
    ):  # fmt: skip
        said = _refusal(call).details() or ""
        assert "0 geo(s) qualify" in said and "so the data looks weekly" in said, said
        assert f"every outcome date is a {first:%A}" in said, said


def test_a_conversions_only_org_is_told_to_ask_for_conversions(mesh) -> None:  # noqa: F811
    records = history_records(HISTORY, "orders")
    for r in records:
        r.revenue = 0.0
    _write(mesh, "orders", records)
    stub = _stub(mesh)
    design = _refusal(lambda: stub.DesignExperiment(
        pb.DesignExperimentRequest(org_id="orders", channel="meta"))).details() or ""  # fmt: skip
    assert design == (
        "the first-party rows in the history window carry conversions but no revenue: ask for "
        "conversions (DesignExperiment's metric; `liftos design --metric conversions`)"
    )
    predict = _refusal(lambda: stub.PredictPerformance(
        pb.PredictPerformanceRequest(org_id="orders", horizon_days=28))).details() or ""  # fmt: skip
    assert (
        "carry conversions but no revenue" in predict and "PredictPerformance's outcome" in predict
    )
    conversions = common_pb.OUTCOME_METRIC_CONVERSIONS
    reply = stub.DesignExperiment(pb.DesignExperimentRequest(
        org_id="orders", channel="meta", metric=conversions, seed=7))  # fmt: skip
    assert reply.history_days == 140
    forecast = stub.PredictPerformance(pb.PredictPerformanceRequest(
        org_id="orders", horizon_days=28, outcome=conversions))  # fmt: skip
    assert len(forecast.points) == 28


def _days(record, first: dt.date) -> int:
    d = record.local_date
    return (dt.date(d.year, d.month, d.day) - first).days
