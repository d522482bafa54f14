"""A fit stopped by its iteration limit: failed when it is still far from its optimum, reviewed
when it was creeping along a flat direction (issue 17: three misallocated worlds lost their
analysis to 100 iterations ending at scaled gradients of 0.0002-0.007)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from causal_svc.attribution import MMMFit, ModelSpec, fit_mmm
from causal_svc.attribution import fit as fit_module
from causal_svc.attribution.fit import Convergence
from causal_svc.attribution.health import MAX_CREEP_GRADIENT, Verdict, assess

from .world import World


def _convergence_check(fit: MMMFit) -> tuple[Verdict, str, Verdict]:
    report = assess(fit, holdout=False)
    (check,) = [c for c in report.checks if c.name == "convergence"]
    return check.verdict, check.message, report.verdict


def test_creeping_fit_is_reviewed_with_its_gradient(demo_fit: MMMFit) -> None:
    """The demo fit's own estimates, stopped at the limit with a gradient of 0.002 standard
    errors' worth: the analysis stands, flagged for review, and the message says why."""
    assert demo_fit.convergence.converged
    creeping = replace(demo_fit, convergence=Convergence(
        False, 100, "iteration limit reached", 0.002, ()))  # fmt: skip
    verdict, message, overall = _convergence_check(creeping)
    assert verdict is Verdict.REVIEW
    assert overall is not Verdict.FAIL
    assert "iteration limit (100 iterations)" in message and "0.002" in message
    on_box = replace(demo_fit, convergence=Convergence(
        False, 100, "iteration limit reached", 0.002, ("log_k[tiktok]",)))  # fmt: skip
    assert "on their bounds: log_k[tiktok]" in _convergence_check(on_box)[1]


@pytest.mark.parametrize("gradient", [MAX_CREEP_GRADIENT, 0.5, float("nan")])
def test_fit_short_of_its_optimum_still_fails(demo_fit: MMMFit, gradient: float) -> None:
    stopped = replace(demo_fit, convergence=Convergence(
        False, 100, "iteration limit reached", gradient, ()))  # fmt: skip
    verdict, message, overall = _convergence_check(stopped)
    assert verdict is Verdict.FAIL and overall is Verdict.FAIL
    assert "did not converge (iteration limit reached)" in message


def test_real_fit_cut_short_fails(demo: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The optimiser itself stopped after two steps: its gradient is far above the creep
    threshold, so the fit fails as before (without warm restarts: with them, this world's
    last pass converges in 8 iterations from where the two-step first pass left it)."""
    monkeypatch.setattr(fit_module, "_MAX_ITER", 2)
    monkeypatch.setattr(fit_module, "_WARM_RESTARTS", 0)
    fit = fit_mmm(demo.panel, ModelSpec())
    assert not fit.convergence.converged
    assert fit.convergence.scaled_gradient > MAX_CREEP_GRADIENT
    assert _convergence_check(fit)[0] is Verdict.FAIL
