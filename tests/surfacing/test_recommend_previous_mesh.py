"""R42-F2 over real servers: Recommend on an analysis reads the org's previous one of the same
outcome (ListAnalyses, then one GetAnalysis), compares each channel's call with what that one
recommends, and never reverses its move; the first analysis of the org is "not compared".
Memory holds a simulated world, the causal service fits and stores three analyses whose windows
are a week apart, the surfacing service reads them: each is compared with the one a week before
(the newest earlier one, not the first)."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from tests.causal.attribution.records import world_mesh
from tests.surfacing import drift_world as w

WEEK = dt.timedelta(days=7)
MOVES = {pb.RECOMMENDATION_KIND_INCREASE_BUDGET, pb.RECOMMENDATION_KIND_DECREASE_BUDGET}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, surfacing=True) as services:
        w.write(services["memory"].address, w.records(until=w.CUT + 2 * WEEK))
        yield services


def _analyze(address: str, start: dt.date, end: dt.date) -> str:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(address))
    request = causal_pb.AnalyzeAttributionRequest(
        org_id=w.ORG, identification=causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL
    )
    for field, d in (("start_date", start), ("end_date", end)):
        getattr(request.date_range, field).CopyFrom(
            common_pb.Date(year=d.year, month=d.month, day=d.day)
        )
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result.analysis_id


@pytest.fixture(scope="module")
def analyses(mesh) -> list[str]:
    return [_analyze(mesh["causal"].address, w.START + k * WEEK, w.CUT + k * WEEK)
            for k in range(3)]  # fmt: skip


def _recommend(mesh, analysis_id: str) -> pb.RecommendResponse:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    return stub.Recommend(
        pb.RecommendRequest(org_id=w.ORG, analysis_ids=[analysis_id], design_tests=False),
        timeout=120,
    )


def _compared(now: pb.RecommendResponse, before: pb.RecommendResponse, previous: str,
              window: str) -> int:  # fmt: skip
    """How many channels ``now`` compared with ``before`` (the analysis ``previous``), checking
    that none reverses its move and that a hold after a move says the previous call first."""
    (said,) = [x for x in now.warnings if x.startswith("compared with")]
    assert said.startswith(f"compared with the previous analysis {previous} ({window}): ")
    assert not [x for x in now.warnings if x.startswith("not compared")]
    then = {r.channel: r for r in before.recommendations if r.channel}
    compared = 0
    for r in now.recommendations:
        if not r.channel or r.kind == pb.RECOMMENDATION_KIND_RUN_EXPERIMENT:
            continue
        (fact,) = [f for f in r.facts if f.name == "previous_analysis"]
        assert f"the previous analysis {previous} ({window}) said " in fact.text
        compared += 1
        old = then[r.channel]
        # Never the opposite move of the previous analysis's.
        if r.kind in MOVES and old.kind in MOVES:
            assert r.kind == old.kind, (r.channel, r.action, old.action)
        # A hold after a move, or a move held, says the previous call first.
        if r.kind == pb.RECOMMENDATION_KIND_HOLD and old.kind in MOVES:
            assert r.rationale.startswith(f"last analysis {previous} said "), r.rationale
    return compared


def test_each_analysis_is_compared_with_the_one_before_and_never_reverses_it(
    mesh, analyses
) -> None:
    first, second, _ = analyses
    replies = [_recommend(mesh, a) for a in analyses]
    (alone,) = [x for x in replies[0].warnings if x.startswith("not compared")]
    assert alone == (
        "not compared with a previous analysis (no attribution analysis of revenue made before "
        "it has a window that overlaps 2024-09-15..2024-12-08): a move here that reverses an "
        "earlier recommendation is not caught"
    )
    assert not [f for r in replies[0].recommendations for f in r.facts
                if f.name == "previous_analysis"]  # fmt: skip
    assert _compared(replies[1], replies[0], first, "2024-09-15..2024-12-08") >= 3
    assert _compared(replies[2], replies[1], second, "2024-09-22..2024-12-15") >= 3
