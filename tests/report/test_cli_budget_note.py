"""The budget-response line, which every analysis keeps, prints as a note where its health
check passed (R30 F5: "warning: ... on 0 of 4,380 geo-days (0.0%)" on every run)."""

from __future__ import annotations

from liftos_dc.liftos.v1 import AttributionResult, HealthCheck, HealthVerdict, ModelHealth

from mesh.cli.attribution import warning_lines


def _result(verdict: HealthVerdict | None, line: str) -> AttributionResult:
    checks = [] if verdict is None else [HealthCheck(name="budget_response", verdict=verdict)]
    return AttributionResult(
        health=ModelHealth(checks=checks), warnings=[line, "the fills are 4.81% of the outcome"]
    )


def test_the_budget_line_is_a_note_unless_its_check_flags() -> None:
    line = "budget response: paid budgets moved with demand by >= 25% (in logs) on 0 of 4,380"
    quiet = warning_lines(_result(HealthVerdict.PASS, line))
    assert quiet == [f"note: {line}", "warning: the fills are 4.81% of the outcome"]
    assert warning_lines(_result(HealthVerdict.REVIEW, line))[0] == f"warning: {line}"
    # not weighed by any check (not assessed, or an analysis stored before the check)
    missing = "budget response not assessed: the window is too short"
    assert warning_lines(_result(None, missing))[0] == f"warning: {missing}"
    assert warning_lines(_result(None, line))[0] == f"warning: {line}"
