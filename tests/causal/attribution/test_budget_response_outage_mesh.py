"""A tracking outage through the service (audit R50 F2): an org whose budgets truly chase demand
(the simulator's ``confounded`` world, 10 geos) and the same org whose orders export lost three
days in every geo (spend ran on). The fit leaves the days out; the budget-response finding, and
what AUTO identification chooses from it, must not follow the outage either. Before the fix the
lost days read as zero orders: the finding fell from ~40% of geo-days to ~6% and the health
check lost its REVIEW. Detector-level cases: tests/causal/test_budget_response_outage.py."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim

from .records import world_mesh, world_records

WHOLE, OUTAGE = "whole", "outage"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pb.AttributionResult]:
    world = sim.simulate("confounded", seed=3, dirt=False, n_geos=10)
    dates = sorted(world.outcomes["date"].dt.date.unique())
    lost = {d.isoformat() for d in dates[200:203]}
    outage = [r for r in world_records(world, OUTAGE)
              if not (r.channel == "first_party" and r.natural_key.rsplit("|", 1)[1] in lost)]  # fmt: skip
    with world_mesh(tmp_path_factory.mktemp("mesh"), {WHOLE: world},
                    extra={OUTAGE: outage}) as services:  # fmt: skip
        stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))

        def analyse(org: str) -> pb.AttributionResult:
            request = pb.AnalyzeAttributionRequest(org_id=org)
            return list(stub.AnalyzeAttribution(request, timeout=600))[-1].result

        return {org: analyse(org) for org in (WHOLE, OUTAGE)}


def _check(result: pb.AttributionResult, name: str) -> pb.HealthCheck:
    return next(c for c in result.health.checks if c.name == name)


def test_the_budget_response_finding_survives_a_three_day_outage(results) -> None:  # type: ignore[no-untyped-def]
    whole, outage = (
        _check(results[WHOLE], "budget_response"),
        _check(results[OUTAGE], "budget_response"),
    )
    assert whole.value > 0.3  # budgets chase demand here: a true finding
    assert outage.value == pytest.approx(whole.value, abs=0.02)
    assert outage.verdict == whole.verdict == pb.HEALTH_VERDICT_REVIEW
    # what AUTO identification reads from the finding is the same too
    assert results[OUTAGE].identification_used == results[WHOLE].identification_used
