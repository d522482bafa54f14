"""Budgets chasing demand put attribution's identification at risk, and the health verdict
says so: a `confounded` world at 10 geos (budgets chase demand on ~40% of geo-days; a 10-geo
analysis there read Meta prospecting at 2.5x its truth with a PASS verdict) is REVIEW with a
budget_response check naming the share; a `demo` world (~5%) passes it. The rule on the
report, below."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from causal_svc.attribution import (
    HealthCheck,
    HealthReport,
    Verdict,
    with_budget_response,
    with_omitted_channels,
)

from .records import world_mesh

CHASED, CALM = "chased", "calm"


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory):
    worlds = {
        CHASED: sim.simulate("confounded", seed=3, dirt=False, n_geos=10),
        CALM: sim.simulate("demo", seed=0, dirt=False, n_geos=10),
    }
    with world_mesh(tmp_path_factory.mktemp("mesh"), worlds) as services:
        yield causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))


def _health(stub, org: str, channels: tuple[str, ...] = ()) -> pb.ModelHealth:
    request = pb.AnalyzeAttributionRequest(org_id=org, channels=channels)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result.health


def test_budgets_chasing_demand_make_the_verdict_review(stub) -> None:
    health = _health(stub, CHASED)
    (check,) = [c for c in health.checks if c.name == "budget_response"]
    assert check.verdict == pb.HEALTH_VERDICT_REVIEW and check.value >= 0.25, check
    assert check.threshold == pytest.approx(0.10)
    assert "may be inflated" in check.message
    assert health.verdict in (pb.HEALTH_VERDICT_REVIEW, pb.HEALTH_VERDICT_FAIL)


def test_a_world_whose_budgets_barely_chase_passes_the_check(stub) -> None:
    health = _health(stub, CALM)
    (check,) = [c for c in health.checks if c.name == "budget_response"]
    assert check.verdict == pb.HEALTH_VERDICT_PASS and check.value < 0.10, check


def test_channels_left_out_of_the_model_make_the_verdict_review(stub) -> None:
    """A request naming two channels fits a model without the others' spend, which can credit
    their effect to the two (the audit's demo: Google search at 4.9x its truth, PASS)."""
    health = _health(stub, CALM, ("meta_prospecting", "google_search"))
    (check,) = [c for c in health.checks if c.name == "omitted_channels"]
    assert check.verdict == pb.HEALTH_VERDICT_REVIEW and health.verdict != pb.HEALTH_VERDICT_PASS
    for left_out in ("tiktok", "google_pmax", "meta_retargeting"):
        assert left_out in check.message
    assert "klaviyo_email (sends or impressions, no spend)" in check.message  # an input too
    assert "meta_prospecting" not in check.message and "generic" not in check.message
    assert not [c for c in _health(stub, CALM).checks if c.name == "omitted_channels"]


def test_the_rule_on_the_report() -> None:
    ok = HealthCheck("holdout", Verdict.PASS, 0.8, 0.3, "fine")
    report = HealthReport(Verdict.PASS, (ok,), None, 0.9, ())
    assert with_budget_response(report, None) is report  # not assessed: nothing added
    calm = with_budget_response(report, 0.05)
    assert calm.verdict is Verdict.PASS and calm.checks[-1].name == "budget_response"
    chased = with_budget_response(report, 0.41)
    assert chased.verdict is Verdict.REVIEW and chased.checks[-1].value == pytest.approx(0.41)
    failed = HealthReport(Verdict.FAIL, (ok,), None, 0.9, ())
    assert with_budget_response(failed, 0.41).verdict is Verdict.FAIL  # never softens a FAIL
    assert with_omitted_channels(report, {}) is report
    omitted = with_omitted_channels(report, {"tiktok": 10.0, "pmax": 30.0})
    assert omitted.verdict is Verdict.REVIEW
    assert omitted.checks[-1].message.index("pmax") < omitted.checks[-1].message.index("tiktok")
