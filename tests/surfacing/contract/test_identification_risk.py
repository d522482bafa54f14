"""Recommend on analyses whose identification the budgets put at risk (R2 audit, F2): on the
simulator's ``confounded`` world with 10 geos the attribution model overstates Meta
prospecting (the truth lies below its interval) while its budget-response finding flags 41%
of the geo-days; the draws ask to scale it, Recommend proposes a test instead. On ``demo``
(a few national holiday days flagged) the recommendations are the draws' own."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from surfacing_svc.convert.models import planning_model
from surfacing_svc.recommend import DEMAND_CHASE_SHARE, ActionKind, recommend
from tests.causal.attribution.records import world_mesh

WORLDS = {"demo": ("demo", 0), "conf": ("confounded", 3)}


@pytest.fixture(scope="module")
def worlds() -> dict[str, sim.SimResult]:
    return {org: sim.simulate(name, seed=seed, dirt=False, n_geos=10)
            for org, (name, seed) in WORLDS.items()}  # fmt: skip


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, worlds):
    with world_mesh(tmp_path_factory.mktemp("mesh"), worlds, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analyses(mesh) -> dict[str, causal_pb.AttributionResult]:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    return {
        org: list(
            causal.AnalyzeAttribution(causal_pb.AnalyzeAttributionRequest(org_id=org), timeout=300)
        )[-1].result
        for org in WORLDS
    }


@pytest.fixture(scope="module")
def stub(mesh) -> surfacing_grpc.SurfacingServiceStub:
    return surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))


def _model(result: causal_pb.AttributionResult, org: str):
    return planning_model(causal_pb.Analysis(analysis_id=result.analysis_id, org_id=org,
                                             attribution=result))  # fmt: skip


def test_an_overstated_channel_under_demand_chasing_budgets_is_tested_not_scaled(
    stub, analyses, worlds
) -> None:
    result = analyses["conf"]
    meta = next(c for c in result.channels if c.channel == "meta_prospecting")
    truth = worlds["conf"].truth["orgs"]["org_001"]["channels"]["meta_prospecting"][0]
    # The model's bias (not Recommend's to fix): the truth lies below the analysis's interval.
    assert truth["expected_incremental_revenue"] < meta.incremental_outcome.lower
    model = _model(result, "conf")
    assert model.budget_response_share is not None
    assert model.budget_response_share > 3 * DEMAND_CHASE_SHARE  # 41% of geo-days
    # On the draws alone, meta prospecting is scaled and a reallocation raises it.
    alone = recommend(model.curves, effects={e.channel: e for e in model.effects})
    assert any(a.kind is ActionKind.SCALE and a.channel == "meta_prospecting" for a in alone)
    reply = stub.Recommend(pb.RecommendRequest(org_id="conf", analysis_ids=[result.analysis_id]),
                           timeout=300)  # fmt: skip
    kinds = {(r.kind, r.channel) for r in reply.recommendations}
    assert (pb.RECOMMENDATION_KIND_INCREASE_BUDGET, "meta_prospecting") not in kinds
    assert not any(r.kind == pb.RECOMMENDATION_KIND_REALLOCATE for r in reply.recommendations)
    test = next(r for r in reply.recommendations if r.channel == "meta_prospecting")
    assert (
        test.kind == pb.RECOMMENDATION_KIND_RUN_EXPERIMENT
        and test.proposed_spend == test.current_spend
    )
    assert test.HasField("proposed_experiment") and "moving with demand" in test.rationale
    assert any("budgets moved with demand" in w for w in reply.warnings)
    # The cuts the draws support stand: the bias inflates effects.
    cuts = {a.channel for a in alone if a.kind is ActionKind.CUT}
    assert cuts and cuts <= {r.channel for r in reply.recommendations
                             if r.kind == pb.RECOMMENDATION_KIND_DECREASE_BUDGET}  # fmt: skip


def test_a_world_whose_budgets_barely_chase_demand_is_recommended_on_its_draws(
    stub, analyses
) -> None:
    result = analyses["demo"]
    model = _model(result, "demo")
    assert model.budget_response_share is not None  # assessed: a few holiday days
    assert 0 < model.budget_response_share < DEMAND_CHASE_SHARE and model.at_risk() == {}
    alone = recommend(model.curves, effects={e.channel: e for e in model.effects})
    reply = stub.Recommend(pb.RecommendRequest(org_id="demo", analysis_ids=[result.analysis_id]),
                           timeout=300)  # fmt: skip
    assert [(r.channel, r.proposed_spend) for r in reply.recommendations] == [
        (a.channel, pytest.approx(a.proposed_spend)) for a in alone
    ]
    # acted on its draws: moves, and none turned into a test for an identification at risk
    # (which channels cross the cut's line is the draws' business: google_pmax's 0.77 sits at
    # it, cut on 7 of 16 planning seeds before s20's draws and 3 of 16 after)
    assert {a.kind for a in alone} & {ActionKind.CUT, ActionKind.SCALE}
    assert not any("identification is at risk" in f.text for a in alone for f in a.facts)
    assert not any("budgets moved with demand" in w for w in reply.warnings)


def test_a_design_names_the_planning_curve_returns_it_quotes(stub, analyses) -> None:
    # R2-F5: the returns at the interval's lower bound are the planning curve's (its mean over
    # the draws, scaled by the bound's share of the estimate), not the analysis's iROAS.
    result = analyses["conf"]
    inc = next(c for c in result.channels if c.channel == "meta_prospecting").incremental_outcome
    assert inc.lower > 0  # established: the note quotes the bound
    reply = stub.DesignExperiment(pb.DesignExperimentRequest(
        org_id="conf", channel="meta_prospecting", analysis_id=result.analysis_id,
        duration_days=[14, 28]), timeout=300)  # fmt: skip
    said = reply.cells[0].conservative
    assert said.startswith("meta_prospecting at the lower bound of the analysis's 90% interval "
                           "of its incremental revenue")  # fmt: skip
    assert f"({inc.lower / inc.estimate:.0%} of the estimate; planning curve iROAS " in said, said
    assert "the curve's mean over the model's draws scaled to that bound, not the analysis " in (
        said
    )


NAMED = ["meta_prospecting", "google_search"]


@pytest.fixture(scope="module")
def two_channels(mesh) -> causal_pb.AttributionResult:
    """demo analysed with only two channels named (the others' spend left out of the model)."""
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    return list(causal.AnalyzeAttribution(
        causal_pb.AnalyzeAttributionRequest(org_id="demo", channels=NAMED), timeout=300
    ))[-1].result  # fmt: skip


def _check(result: causal_pb.AttributionResult, name: str) -> causal_pb.HealthCheck:
    (check,) = [c for c in result.health.checks if c.name == name]
    return check


def test_the_health_verdict_says_when_budgets_chase_demand(analyses) -> None:
    """causal's budget_response check (a 10-geo confounded analysis read Meta prospecting at
    2.5x its truth with a PASS verdict): REVIEW from 10% of geo-days, PASS on demo (~5%)."""
    chased = _check(analyses["conf"], "budget_response")
    assert chased.verdict == causal_pb.HEALTH_VERDICT_REVIEW and chased.value >= 0.25, chased
    assert chased.threshold == pytest.approx(0.10) and "may be inflated" in chased.message
    assert analyses["conf"].health.verdict != causal_pb.HEALTH_VERDICT_PASS
    calm = _check(analyses["demo"], "budget_response")
    assert calm.verdict == causal_pb.HEALTH_VERDICT_PASS and calm.value < 0.10, calm


def test_the_health_verdict_names_channels_left_out_of_the_model(analyses, two_channels) -> None:
    """A request naming two channels fits a model without the others' inputs (R2: Google
    search at 4.9x its truth, PASS): REVIEW, naming every channel left out."""
    check = _check(two_channels, "omitted_channels")
    assert check.verdict == causal_pb.HEALTH_VERDICT_REVIEW
    assert two_channels.health.verdict != causal_pb.HEALTH_VERDICT_PASS
    for left_out in ("tiktok", "google_pmax", "meta_retargeting"):
        assert left_out in check.message
    assert "klaviyo_email (sends or impressions, no spend)" in check.message  # an input too
    assert "meta_prospecting" not in check.message and "generic" not in check.message
    assert not [c for c in analyses["demo"].health.checks if c.name == "omitted_channels"]


def test_an_analysis_that_left_channels_out_scales_none_it_modelled(stub, two_channels) -> None:
    """R3-N1: a request naming two channels fits a model without the others' inputs, which can
    credit their effect to the two (the re-audit: Google search at 11.8M against a true 2.29M,
    Recommend 'SCALE +30%, 88%'). Its omitted_channels check puts both at risk: tested, not
    scaled, and no reallocation raises them."""
    result, named = two_channels, NAMED
    model = _model(result, "demo")
    assert "left out of the model" in model.omitted
    assert set(model.at_risk()) == {c.channel for c in model.curves if c.identified}
    reply = stub.Recommend(pb.RecommendRequest(org_id="demo", analysis_ids=[result.analysis_id]),
                           timeout=300)  # fmt: skip
    raised = {r.channel for r in reply.recommendations
              if r.kind in (pb.RECOMMENDATION_KIND_INCREASE_BUDGET,
                            pb.RECOMMENDATION_KIND_REALLOCATE)
              and r.proposed_spend > r.current_spend + 1e-6}  # fmt: skip
    assert not raised & set(named), reply.recommendations
