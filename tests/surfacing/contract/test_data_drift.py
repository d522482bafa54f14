"""PredictPerformance and DesignExperiment of a stored analysis say when the data under its
window changed since it was made (restated or late rows), over real servers: memory holds a
simulated world, the causal service fits and stores the analysis, the surfacing service reads
both (audit R5-F3); Recommend and OptimizeBudget, which plan on the analysis as it was made,
say it first (audit s18 R33-F1)."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from tests.causal.attribution.records import world_mesh
from tests.surfacing import drift_world as w

CHANGED = "changed since it was made"
HELD = "are already in memory"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, surfacing=True) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    return w.analyze(mesh["causal"].address)


def _asks(mesh, analysis_id: str) -> tuple[list[str], list[str]]:
    """The warnings of a forecast and of a design on the analysis."""
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    forecast = stub.PredictPerformance(
        pb.PredictPerformanceRequest(org_id=w.ORG, analysis_id=analysis_id, horizon_days=14),
        timeout=120,
    )
    design = stub.DesignExperiment(
        pb.DesignExperimentRequest(org_id=w.ORG, channel="meta_prospecting",
                                   analysis_id=analysis_id, duration_days=[28], seed=1),
        timeout=120,
    )  # fmt: skip
    return list(forecast.warnings), list(design.warnings)


def _plans(mesh, analysis_id: str) -> tuple[list[str], list[str]]:
    """The warnings of Recommend (no id: the latest analysis) and of OptimizeBudget on it."""
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    recommend = stub.Recommend(pb.RecommendRequest(org_id=w.ORG, design_tests=False), timeout=120)
    optimize = stub.OptimizeBudget(
        pb.OptimizeBudgetRequest(org_id=w.ORG, analysis_id=analysis_id,
                                 total_budget=common_pb.Money(amount=1e6)),
        timeout=120,
    )  # fmt: skip
    return list(recommend.warnings), list(optimize.warnings)


def test_restated_days_are_named_later_days_are_not(mesh, analysis) -> None:
    analysis_id = analysis.analysis_id
    forecast, design = _asks(mesh, analysis_id)
    assert not [x for x in forecast + design if CHANGED in x], (forecast, design)
    assert not [x for x in forecast if HELD in x], forecast
    recommend, optimize = _plans(mesh, analysis_id)
    assert not [x for x in recommend + optimize if CHANGED in x], (recommend, optimize)
    # Days after the window are new data, not a change of the analysis's own: no warning.
    w.write(mesh["memory"].address, w.records(after=w.CUT))
    forecast, design = _asks(mesh, analysis_id)
    assert not [x for x in forecast + design if CHANGED in x], (forecast, design)
    # ... but the forecast's days are no longer future, and it says how it fared on them.
    (held,) = [x for x in forecast if HELD in x]
    days = [w.CUT + dt.timedelta(days=k) for k in range(1, 15)]
    assert held.startswith(
        f"14 of this forecast's 14 days {HELD} (2024-12-09..2024-12-22): actual revenue "
        f"{w.first_party_revenue(days):,.0f} against the forecast's "
    ), held
    assert "re-run analyze on a window that includes them" in held
    # A later pull restates three days of the window: revenue +5%, Meta prospecting's spend +10%.
    spend_before = {c.channel: c.spend.amount for c in analysis.channels}
    w.write(mesh["memory"].address,
            w.restated(w.RESTATED, revenue=1.05, channel="meta_prospecting", spend=1.10))  # fmt: skip
    size = 0.05 * w.first_party_revenue(w.RESTATED)
    forecast, design = _asks(mesh, analysis_id)
    for answer, warnings in (("forecast", forecast), ("design", design)):
        outcome, spend = [x for x in warnings if CHANGED in x]
        assert outcome.startswith(
            "the outcome of 3 days in this analysis's window changed since it was made "
            "(2024-12-06..2024-12-08, +"
        ), outcome
        assert f"+{size:,.0f} in all" in outcome
        assert f"this {answer} reads the data as it is now; re-run analyze" in outcome
        assert spend.startswith(
            "channel spend over this analysis's window changed since it "
            f"was made (meta_prospecting {spend_before['meta_prospecting']:,.0f} -> "
        )
        assert spend.count(" -> ") == 1, spend  # the other channels did not move
    # The plans are the analysis's as made: they say so, first (R33-F1: they said nothing).
    recommend, optimize = _plans(mesh, analysis_id)
    for answer, warnings in (("recommendation", recommend), ("plan", optimize)):
        outcome, spend = warnings[:2]
        assert outcome.startswith(
            "the outcome of 3 days in this analysis's window changed since it was made "
            "(2024-12-06..2024-12-08, +"
        ), warnings
        assert f"+{size:,.0f} in all" in outcome
        assert (f"this {answer} is computed from the analysis as it was made, not from the data "
                "as it is now; re-run analyze to refit") in outcome  # fmt: skip
        assert spend.startswith("channel spend over this analysis's window changed since it "
                                f"was made (meta_prospecting {spend_before['meta_prospecting']:,.0f} -> ")  # fmt: skip
        assert len([x for x in warnings if CHANGED in x]) == 2, warnings
