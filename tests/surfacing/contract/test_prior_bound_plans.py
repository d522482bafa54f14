"""s21 P1 (s20 R48-F1 per channel) over real servers: no planning move rests on a channel whose
effect is mostly the prior's. In the demo world meta_retargeting gets a few % of its effect's
precision from the data (R48: 3–14% on seeds 100–109), yet the analysis marks it estimated and
Recommend and OptimizeBudget moved its money on what is really the prior. Now the analysis's
planning model carries each channel's data share (``ChannelResponseModel.data_share``);
Recommend tests such a channel instead (saying the share), and OptimizeBudget holds it at its
current spend, optimising the others around it, unless the request bounds it itself."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from mesh.runtime.data_share import MIN_DATA_SHARE, prior_words
from tests.causal.attribution.records import world_mesh

ORG = "priorshop"
MOVES = (pb.RECOMMENDATION_KIND_INCREASE_BUDGET, pb.RECOMMENDATION_KIND_DECREASE_BUDGET)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    events = list(causal.AnalyzeAttribution(causal_pb.AnalyzeAttributionRequest(org_id=ORG),
                                            timeout=300))  # fmt: skip
    return events[-1].result


@pytest.fixture(scope="module")
def stub(mesh) -> surfacing_grpc.SurfacingServiceStub:
    return surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))


@pytest.fixture(scope="module")
def on_prior(analysis: causal_pb.AttributionResult) -> dict[str, float]:
    """The paid channels the analysis reports estimated whose effect is mostly the prior's."""
    paid = {c.channel for c in analysis.channels if c.spend.amount > 0}
    unidentified = set(analysis.health.unidentified_channels)
    return {m.channel: m.data_share for m in analysis.response_models
            if m.channel in paid and m.channel not in unidentified and m.identified
            and m.data_share < MIN_DATA_SHARE}  # fmt: skip


def test_the_planning_models_carry_each_channels_data_share(analysis, on_prior) -> None:
    for m in analysis.response_models:
        assert m.HasField("data_share") and 0.0 <= m.data_share <= 1.0, m.channel
    # the world measures some channels well, and the analysis reports retargeting estimated
    assert max(m.data_share for m in analysis.response_models) > 0.5
    assert "meta_retargeting" in on_prior, {m.channel: m.data_share
                                            for m in analysis.response_models}  # fmt: skip


def test_recommend_tests_a_channel_on_the_prior_instead_of_moving_it(
    stub, analysis, on_prior
) -> None:
    reply = stub.Recommend(pb.RecommendRequest(
        org_id=ORG, analysis_ids=[analysis.analysis_id], design_tests=False), timeout=300)  # fmt: skip
    by = {r.channel: r for r in reply.recommendations if r.channel}
    for channel, share in on_prior.items():
        r = by[channel]
        assert r.kind == pb.RECOMMENDATION_KIND_RUN_EXPERIMENT, (r.action, r.rationale)
        assert r.proposed_spend == pytest.approx(r.current_spend)
        words = prior_words(share)
        assert words.endswith("of its estimate's precision comes from the data; the rest is "
                              "the prior's")  # fmt: skip
        assert r.rationale.startswith(f"{channel}: {words}, so no budget move on it rests on a "
                                      "measurement"), r.rationale  # fmt: skip
        (fact,) = [f for f in r.facts if f.name == "data_share"]
        assert fact.text.startswith(words)
        # no move and no reallocation moves its money
        assert not [x for x in reply.recommendations if x.channel == channel and x.kind in MOVES]
    for x in reply.recommendations:
        if x.kind == pb.RECOMMENDATION_KIND_REALLOCATE:
            assert not set(on_prior) & {f.name.removeprefix("proposed_spend[").rstrip("]")
                                        for f in x.facts if f.name.startswith("proposed_spend[")}  # fmt: skip


def _paid(analysis: causal_pb.AttributionResult) -> dict[str, float]:
    return {c.channel: c.spend.amount for c in analysis.channels if c.spend.amount > 0}


def test_optimize_holds_a_channel_on_the_prior(stub, analysis, on_prior) -> None:
    """Held at its current spend, both bounds, with a warning naming it and why (the others
    optimised around it: tests/surfacing/test_prior_holds.py; on this world every paid
    channel is mostly the prior's)."""
    paid = _paid(analysis)
    reply = stub.OptimizeBudget(pb.OptimizeBudgetRequest(
        org_id=ORG, analysis_id=analysis.analysis_id,
        total_budget=common_pb.Money(amount=sum(paid.values()), currency_code="USD"),
    ), timeout=300)  # fmt: skip
    spend = {a.channel: a for a in reply.allocations}
    for channel, share in on_prior.items():
        a = spend[channel]
        assert a.optimal_spend == pytest.approx(a.current_spend, rel=1e-9)
        (said,) = [
            w for w in reply.warnings if w.startswith(f"{channel} held at its current spend: ")
        ]
        assert prior_words(share) in said


def test_a_bound_the_user_sets_wins_over_the_hold_and_says_so(stub, analysis, on_prior) -> None:
    paid = _paid(analysis)
    channel = "meta_retargeting"
    reply = stub.OptimizeBudget(pb.OptimizeBudgetRequest(
        org_id=ORG, analysis_id=analysis.analysis_id,
        # what is left once retargeting gives up half its spend
        total_budget=common_pb.Money(amount=sum(paid.values()) - 0.5 * paid[channel],
                                     currency_code="USD"),
        constraints=[pb.ChannelConstraint(channel=channel, max_ratio=0.5)],
    ), timeout=300)  # fmt: skip
    a = next(a for a in reply.allocations if a.channel == channel)
    # the explicit bound wins: cut to at most half, not held at its current spend
    assert a.optimal_spend <= 0.5 * a.current_spend * (1 + 1e-9)
    (said,) = [w for w in reply.warnings if w.startswith(f"{channel}: your constraint on it wins")]
    assert prior_words(on_prior[channel]) in said
    assert not [w for w in reply.warnings if w.startswith(f"{channel} held at its current")]
