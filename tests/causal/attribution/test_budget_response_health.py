"""The health checks for an identification at risk, on the report: budgets chasing demand on
>= 10% of geo-days (budget_response) and channels with spend left out of the model
(omitted_channels) make the verdict REVIEW, never softening a FAIL. Over a real mesh (a
confounded world at 10 geos, demo, a two-channel request):
tests/surfacing/contract/test_identification_risk.py, which analyses the same worlds."""

from __future__ import annotations

import pytest

from causal_svc.attribution import (
    HealthCheck,
    HealthReport,
    Verdict,
    with_budget_response,
    with_omitted_channels,
)


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
