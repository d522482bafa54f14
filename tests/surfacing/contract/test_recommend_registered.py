"""Recommend's proposed tests over real servers, as DesignExperiment designs them: a registered
holdout's window is not business as usual (R5-F4), geos it treated lately are named, and the
history the proposal reads is said to differ from the analysis's when rows were restated under
its window (R5-F3). The simulator's ``confounded`` world (10 geos) makes Recommend read
history: its budgets chase demand, so Meta prospecting is tested, not scaled."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from tests.causal.attribution.records import world_mesh, world_records, write_records

ORG = "conf"
CHANNEL = "meta_prospecting"


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("confounded", seed=3, dirt=False, n_geos=10)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def _recommend(mesh, analysis_id: str, design: bool = True) -> pb.RecommendResponse:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    request = pb.RecommendRequest(org_id=ORG, analysis_ids=[analysis_id], design_tests=design)
    return stub.Recommend(request, timeout=300)


def _proposal(reply: pb.RecommendResponse) -> pb.Recommendation:
    (test,) = [r for r in reply.recommendations
               if r.channel == CHANNEL and r.kind == pb.RECOMMENDATION_KIND_RUN_EXPERIMENT]  # fmt: skip
    assert test.HasField("proposed_experiment")
    return test


def _first_party(world: sim.SimResult, days: set[dt.date]) -> list[md_pb.CausalMarketingData]:
    """The world's first-party rows on ``days``, as memory holds them."""
    return [
        r for r in world_records(world, ORG)
        if r.data_source == common_pb.DATA_SOURCE_GENERIC
        and dt.date(r.local_date.year, r.local_date.month, r.local_date.day) in days
    ]  # fmt: skip


def test_recommends_proposal_names_a_registered_holdout_and_restated_days(
    mesh, analysis, world
) -> None:
    analysis_id = analysis.analysis_id
    end = dt.date(analysis.date_range.end_date.year, analysis.date_range.end_date.month,
                  analysis.date_range.end_date.day)  # fmt: skip
    first = _recommend(mesh, analysis_id)
    geos = list(_proposal(first).proposed_experiment.treatment_units)
    assert not [w for w in first.warnings if "proposed test of" in w or "changed since" in w]
    # A holdout of the channel over the window's last 28 days, in two of the proposed geos.
    start = end - dt.timedelta(days=27)
    registry = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    registry.CreateExperiment(ingestion_pb.CreateExperimentRequest(experiment=md_pb.CausalExperiment(
        org_id=ORG, experiment_id="meta-holdout", channel=CHANNEL,
        status=md_pb.EXPERIMENT_STATUS_COMPLETED, start_date=_date(start), end_date=_date(end),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO, treatment_units=geos[:2],
        treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT)))  # fmt: skip
    # Ended without its result in the window: the channel is held, naming the test, whether
    # Recommend designs tests or not (R42-F1: `recommend --no-design` read no registry).
    for design in (True, False):
        waiting = _recommend(mesh, analysis_id, design)
        (held,) = [r for r in waiting.recommendations if r.channel == CHANNEL]
        assert held.kind == pb.RECOMMENDATION_KIND_HOLD, held
        assert f"meta-holdout ended {end} without a recorded result: record it" in held.action
        assert f"ended {end} and no result is recorded" in held.rationale
        assert any("meta-holdout" in w and f"{CHANNEL} is held" in w for w in waiting.warnings)
    # Its result recorded: the hold is lifted, and the channel is proposed a test as before.
    registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id="meta-holdout", result=md_pb.ExperimentResult(
            lift_absolute=50_000.0, lift_std_error=20_000.0, spend_delta=-40_000.0)))  # fmt: skip
    seen = _recommend(mesh, analysis_id)
    _proposal(seen)
    usual = [w for w in seen.warnings
             if w.startswith(f"proposed test of {CHANNEL}: {CHANNEL}'s business-as-usual spend")]  # fmt: skip
    assert len(usual) == 1 and "meta-holdout" in usual[0], seen.warnings
    assert f"{start:%Y-%m-%d}..{end:%Y-%m-%d}" in usual[0] and "completed" in usual[0]
    assert any("meta-holdout" in w and "placebo windows that meet them are left out" in w
               for w in seen.warnings)  # fmt: skip
    carry = [w for w in seen.warnings if "meta-holdout" in w and "carry its effect" in w]
    after = end + dt.timedelta(days=1)  # the proposed test starts the day after the history
    said = f"ended {end:%Y-%m-%d}, 1 day before the test's start {after:%Y-%m-%d}"
    assert len(carry) == 1 and said in carry[0], seen.warnings
    # A later pull restates three days of the window (revenue +5%): the proposal says so.
    days = {end - dt.timedelta(days=k) for k in (10, 11, 12)}
    restated = []
    for r in _first_party(world, days):
        c = md_pb.CausalMarketingData()
        c.CopyFrom(r)
        c.version = r.version + 1
        c.revenue = round(r.revenue * 1.05, 2)
        restated.append(c)
    write_records(memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"].address)),
                  ORG, restated)  # fmt: skip
    drifted = _recommend(mesh, analysis_id)
    # Said first for the actions (the analysis as made, R33-F1), then for the proposed design
    # (which reads the data as it is now).
    plan, changed = [w for w in drifted.warnings if "changed since it was made" in w]
    assert drifted.warnings[0] == plan
    first_day = min(days)
    for said in (plan, changed):
        assert said.startswith(
            f"the outcome of 3 days in this analysis's window changed since it was made "
            f"({first_day}..{max(days)}, +"
        ), said
    assert "this recommendation is computed from the analysis as it was made" in plan
    assert "this proposed test design reads the data as it is now; re-run analyze" in changed
