"""Every causal request is checked at the edge: out-of-range numbers, unknown enum values,
dates outside 1900-2200 and oversized strings or lists are INVALID_ARGUMENT naming the field,
before any data is read or any estimate starts (issue 13's hostile-probe findings)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import table_pb2 as table_pb

from causal_svc import limits
from causal_svc.app import build as causal_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table
from tests.support import error_details

INT32_MAX = 2**31 - 1


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory):
    # No memory service: a records query that got past the checks would fail UNAVAILABLE, not
    # INVALID_ARGUMENT, so these tests also show the checks run before any peer call.
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("causal")) as services:
        channel = grpc.insecure_channel(services["causal"].address)
        yield causal_grpc.CausalServiceStub(channel)
        channel.close()


def _table_request() -> pb.EstimateEffectRequest:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"y": rng.normal(size=60), "t": np.repeat([0, 1], 30)})
    return pb.EstimateEffectRequest(
        org_id="acme",
        method=pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS,
        table=frame_to_table(frame),
        roles=pb.EffectRoles(outcome="y", treatment="t"),
        options=pb.EstimationOptions(skip_refutation=True),
    )


def _records_request() -> pb.EstimateEffectRequest:
    return pb.EstimateEffectRequest(
        org_id="acme",
        method=pb.ESTIMATION_METHOD_DID,
        records=pb.RecordQuery(experiment_id="exp-1"),
        roles=pb.EffectRoles(outcome="revenue", treatment="treated_post", unit="geo", time="day"),
    )


def _set_date(which: str, year: int) -> Callable[[pb.EstimateEffectRequest], None]:
    def change(r: pb.EstimateEffectRequest) -> None:
        getattr(r.records.date_range, which).CopyFrom(common_pb.Date(year=year, month=6, day=1))

    return change


def _wide_table(r: pb.EstimateEffectRequest) -> None:
    for i in range(limits.MAX_TABLE_COLUMNS):
        r.table.columns.add(name=f"c{i}", doubles=table_pb.DoubleValues(values=[0.0] * 60))


def _big_graph(r: pb.EstimateEffectRequest) -> None:
    for i in range(limits.MAX_GRAPH_NODES + 1):
        r.graph.nodes.add(id=f"n{i}")


def _node_role(r: pb.EstimateEffectRequest) -> None:
    r.graph.nodes.add(id="y", role=99)  # type: ignore[arg-type]


# (id, how to spoil a valid request, the field the error must name)
ESTIMATE_CASES: list[tuple[str, Callable[[pb.EstimateEffectRequest], None], str]] = [
    ("estimand 999", lambda r: setattr(r, "estimand", 999), "estimand"),
    ("method 999", lambda r: setattr(r, "method", 999), "method"),
    (
        "event_study_leads 2^31-1",
        lambda r: setattr(r.options, "event_study_leads", INT32_MAX),
        "options.event_study_leads",
    ),
    (
        "event_study_lags negative",
        lambda r: setattr(r.options, "event_study_lags", -1),
        "options.event_study_lags",
    ),
    (
        "refutation_simulations 2^31-1",
        lambda r: setattr(r.options, "refutation_simulations", INT32_MAX),
        "options.refutation_simulations",
    ),
    ("seed negative", lambda r: setattr(r.options, "seed", -1), "options.seed"),
    ("seed past 32 bits", lambda r: setattr(r.options, "seed", 2**40), "options.seed"),
    ("caliper nan", lambda r: setattr(r.options, "caliper", float("nan")), "options.caliper"),
    ("caliper huge", lambda r: setattr(r.options, "caliper", 1e9), "options.caliper"),
    ("bandwidth inf", lambda r: setattr(r.options, "bandwidth", float("inf")), "options.bandwidth"),
    (
        "propensity_trim 0.7",
        lambda r: setattr(r.options, "propensity_trim", 0.7),
        "options.propensity_trim",
    ),
    ("cutoff inf", lambda r: setattr(r.roles, "cutoff", float("inf")), "roles.cutoff"),
    ("alpha nan", lambda r: setattr(r, "alpha", float("nan")), "alpha"),
    ("outcome 10k chars", lambda r: setattr(r.roles, "outcome", "y" * 10_000), "roles.outcome"),
    (
        "too many covariates",
        lambda r: r.roles.covariates.extend(f"x{i}" for i in range(limits.MAX_COVARIATES + 1)),
        "roles.covariates",
    ),
    (
        "too many instruments",
        lambda r: r.roles.instruments.extend(f"z{i}" for i in range(limits.MAX_INSTRUMENTS + 1)),
        "roles.instruments",
    ),
    ("row_count 2^40", lambda r: setattr(r.table, "row_count", 2**40), "table.row_count"),
    ("too many columns", _wide_table, "table.columns"),
    ("graph too big", _big_graph, "graph.nodes"),
    ("graph node role 99", _node_role, "graph.nodes[0].role"),
]


@pytest.mark.parametrize(
    ("case", "change", "field"), ESTIMATE_CASES, ids=[c[0] for c in ESTIMATE_CASES]
)
def test_estimate_effect_rejects_out_of_range_input(stub, case: str, change, field: str) -> None:
    request = _table_request()
    change(request)
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request, timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert error_details(info.value)[1] == [field]
    assert len(info.value.details()) < 700  # oversized input is quoted clipped, not echoed
    if "too many" in case or "chars" in case:
        # refused for its size, not for naming columns the table lacks
        assert "at most" in info.value.details(), info.value.details()


RECORD_CASES: list[tuple[str, Callable[[pb.EstimateEffectRequest], None], str]] = [
    ("start year 1", _set_date("start_date", 1), "records.date_range.start_date"),
    ("end year 9999", _set_date("end_date", 9999), "records.date_range.end_date"),
    (
        "aggregation 999",
        lambda r: setattr(r.records, "aggregation", 999),
        "records.aggregation",
    ),
    ("source 999", lambda r: r.records.sources.append(999), "records.sources[0]"),
    (
        "too many campaign ids",
        lambda r: r.records.campaign_ids.extend(
            f"c{i}" for i in range(limits.MAX_CAMPAIGN_IDS + 1)
        ),
        "records.campaign_ids",
    ),
    (
        "experiment id 1k chars",
        lambda r: setattr(r.records, "experiment_id", "e" * 1000),
        "records.experiment_id",
    ),
]


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in RECORD_CASES], ids=[c[0] for c in RECORD_CASES]
)
def test_records_query_is_checked_before_memory_is_read(stub, change, field: str) -> None:
    request = _records_request()
    change(request)
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request, timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    reason, fields = error_details(info.value)
    assert fields == [field]
    if "date_range" in field:
        assert reason == "DATE_OUT_OF_RANGE"


GRAPH_CASES: list[tuple[str, Callable[[pb.BuildGraphRequest], None], str]] = [
    ("treatment 1k chars", lambda r: setattr(r, "treatment", "t" * 1000), "treatment"),
    (
        "too many edges",
        lambda r: r.add_edges.extend(
            md_pb.CausalEdge(source=f"a{i}", target=f"b{i}")
            for i in range(limits.MAX_GRAPH_EDGES + 1)
        ),
        "add_edges",
    ),
    (
        "too many nodes",
        lambda r: r.nodes.extend(
            md_pb.CausalNode(id=f"n{i}") for i in range(limits.MAX_GRAPH_NODES + 1)
        ),
        "nodes",
    ),
    ("node role 999", lambda r: r.nodes.add(id="x", role=999), "nodes[0].role"),  # type: ignore[arg-type]
    ("node label 10k chars", lambda r: r.nodes.add(id="x", label="l" * 10_000), "nodes[0].label"),
]


@pytest.mark.parametrize(("case", "change", "field"), GRAPH_CASES, ids=[c[0] for c in GRAPH_CASES])
def test_build_graph_rejects_oversized_or_unknown_input(
    stub, case: str, change, field: str
) -> None:
    request = pb.BuildGraphRequest(org_id="acme", treatment="spend", outcome="revenue")
    change(request)
    with pytest.raises(grpc.RpcError) as info:
        stub.BuildGraph(request, timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert error_details(info.value)[1] == [field]
    if "too many" in case or "chars" in case:
        assert "at most" in info.value.details(), info.value.details()


def test_get_analysis_rejects_an_oversized_id(stub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.GetAnalysis(pb.GetAnalysisRequest(org_id="acme", analysis_id="a" * 5000), timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(info.value)[1] == ["analysis_id"]


def test_bounds_themselves_are_accepted(stub) -> None:
    """The largest allowed values still give an estimate (the bounds are not off by one)."""
    request = _table_request()
    request.options.seed = limits.MAX_SEED
    request.options.event_study_leads = limits.MAX_EVENT_STUDY_WINDOW
    request.options.caliper = limits.MAX_CALIPER
    request.estimand = pb.ESTIMAND_ATE
    reply = stub.EstimateEffect(request, timeout=60)
    assert reply.estimate.method == pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS
