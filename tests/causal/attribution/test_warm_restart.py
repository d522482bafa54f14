"""Warm restarts of the optimiser (s19 R42 F4): a routine analysis failed health on "iteration
limit reached" (100 iterations, scaled gradient 0.019) and continued from where it stopped it
converges. A fit stopped by the limit now runs again from its stopping point, damping reset, up
to ``_WARM_RESTARTS`` times; a fit that converged within the first run is unchanged, to the bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution import MMMFit, ModelSpec, fit_mmm
from causal_svc.attribution import fit as fit_module
from causal_svc.attribution.health import Verdict, assess

from .world import World, world


@pytest.fixture(scope="module")
def stops_at_the_limit() -> World:
    # A demo world of the findings' size (5 geos, 7 campaigns, 180 days) whose one run stops at
    # 100 iterations with a scaled gradient of 0.047, over the creep threshold (FAIL).
    return world("demo", 31, days=180, n_geos=5, n_campaigns=7)


def _convergence(fit: MMMFit) -> Verdict:
    (check,) = [c for c in assess(fit, holdout=False).checks if c.name == "convergence"]
    return check.verdict


def test_a_fit_stopped_by_the_limit_converges_when_continued(
    stops_at_the_limit: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = fit_mmm(stops_at_the_limit.panel, ModelSpec())
    conv = fit.convergence
    assert conv.converged and conv.iterations > fit_module._MAX_ITER, conv
    assert conv.message.endswith("after 1 warm restart"), conv.message
    assert _convergence(fit) is Verdict.PASS
    # One run, as before the restarts: stopped by the limit, far from the optimum (FAIL).
    monkeypatch.setattr(fit_module, "_WARM_RESTARTS", 0)
    once = fit_mmm(stops_at_the_limit.panel, ModelSpec())
    assert not once.convergence.converged and once.convergence.iterations == fit_module._MAX_ITER
    assert once.convergence.message == "iteration limit reached"
    assert _convergence(once) is Verdict.FAIL
    # The restarts reach the optimum one uninterrupted run reaches, given the iterations.
    monkeypatch.setattr(fit_module, "_MAX_ITER", 1000)
    long = fit_mmm(stops_at_the_limit.panel, ModelSpec())
    assert long.convergence.converged
    se = fit.stderr()
    assert np.max(np.abs(fit.theta - long.theta) / se) < 0.05


def test_a_fit_that_converged_in_one_run_is_unchanged(
    demo_fit: MMMFit, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert demo_fit.convergence.converged
    assert demo_fit.convergence.iterations < fit_module._MAX_ITER
    monkeypatch.setattr(fit_module, "_WARM_RESTARTS", 0)
    once = fit_mmm(demo_fit.panel, ModelSpec())
    assert np.array_equal(once.theta, demo_fit.theta)
    assert np.array_equal(once.cov, demo_fit.cov)
    assert once.convergence == demo_fit.convergence


def test_restarts_are_bounded(stops_at_the_limit: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Cut to 2 iterations a run, three restarts still leave the fit far from its optimum: it
    # fails, after 8 iterations, and says it was restarted.
    monkeypatch.setattr(fit_module, "_MAX_ITER", 2)
    fit = fit_mmm(stops_at_the_limit.panel, ModelSpec())
    conv = fit.convergence
    assert not conv.converged and conv.iterations == 2 * (1 + fit_module._WARM_RESTARTS)
    assert conv.message == "iteration limit reached after 3 warm restarts"
    assert _convergence(fit) is Verdict.FAIL
