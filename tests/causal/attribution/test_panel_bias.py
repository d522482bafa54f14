"""The panel's bias allowance against a lift test it disagrees with
(:mod:`causal_svc.attribution.panel_bias`): the calibrated lift is the random-effects
combination of the panel's prediction and the test, with its variance, and the allowance
travels with a stored analysis."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causal_svc.attribution import (
    Evaluator,
    FitState,
    LiftTest,
    MMMFit,
    ModelSpec,
    fit_mmm,
    restore_fit,
    state_from_bytes,
    state_to_bytes,
)
from causal_svc.attribution.null_test import sup_score
from causal_svc.attribution.panel_bias import allowance
from tests.support import pickled_without

from .world import World


def test_the_allowance_is_the_disagreement_beyond_both_sampling_errors() -> None:
    assert allowance(3.0, 4.0, 1.0, 1.0) == 0.0  # d² = 4 < V + s² = 5
    assert allowance(6.0, 4.0, 1.0, 1.0) == pytest.approx(25.0 - 5.0)
    assert allowance(-4.0, 4.0, 1.0, 1.0) == pytest.approx(25.0 - 5.0)  # either sign


def _lift(fit: MMMFit, test: LiftTest) -> tuple[float, float]:
    """The fit's prediction of ``test``'s lift and its standard error."""
    p = fit.lifts[0] if fit.lifts else None
    c = fit.panel.channels.index(test.channel)
    ev = Evaluator(fit)
    geos = p.geos if p is not None else None
    a = p.a if p is not None else 0
    b = p.b if p is not None else None
    if p is None:
        i = int((np.datetime64(test.start, "D") - fit.panel.dates[0]).astype(np.int64))
        a, b = i, i + (test.end - test.start).days + 1
        names = [g.upper() for g in fit.panel.geos]
        geos = np.array(sorted(names.index(g.upper()) for g in test.geos))
    value, grad = ev.effect(c, geos=geos, a=a, b=b, multiplier=test.counterfactual_multiplier)
    return value, float(np.sqrt(grad @ fit.cov @ grad))


@pytest.fixture(scope="module")
def far(demo: World) -> LiftTest:
    """The demo world's experiment, its lift read as zero: far below what the panel predicts
    (meta prospecting's true effect is positive)."""
    assert demo.experiment is not None
    return dataclasses.replace(demo.experiment, lift=0.0)


def test_a_disagreeing_test_gets_the_random_effects_weight_and_variance(
    demo: World, far: LiftTest
) -> None:
    panel_only = fit_mmm(demo.panel, ModelSpec())
    p, se_p = _lift(panel_only, far)
    s = far.stderr
    tau2 = allowance(p, se_p**2, far.lift, s)
    assert tau2 > 0.0  # the panel predicts a lift several standard errors above 0
    fit = fit_mmm(demo.panel, ModelSpec(), [far])
    (inflation, bias), = fit.state().lift_weights  # fmt: skip
    assert inflation > 1.0 and bias > 0.0
    got, se = _lift(fit, far)
    v = se_p**2
    re = (p / (v + tau2) + far.lift / s**2) / (1 / (v + tau2) + 1 / s**2)
    pooled = (p / v + far.lift / s**2) / (1 / v + 1 / s**2)
    # Nonlinear fit, linear formula: close to the random-effects value, far from the pooled.
    assert abs(got - re) < 0.25 * abs(pooled - re)
    assert se == pytest.approx(np.sqrt(1 / (1 / (v + tau2) + 1 / s**2)), rel=0.2)
    # The experiment alone says 0 ± s: the calibrated lift stays well within that, where the
    # pooled estimate (the panel at its sampling weight) is pulled most of a stderr above.
    assert got < 0.5 * s < pooled


def test_an_agreeing_test_is_weighed_at_its_own_stderr(demo: World) -> None:
    assert demo.experiment is not None
    panel_only = fit_mmm(demo.panel, ModelSpec())
    near = dataclasses.replace(demo.experiment, lift=_lift(panel_only, demo.experiment)[0])
    fit = fit_mmm(demo.panel, ModelSpec(), [near])
    assert fit.state().lift_weights == ((1.0, 0.0),)
    assert fit.objective.lifts[-1].stderr == near.stderr
    assert fit.objective.lifts[-1].variance == 1.0


def test_a_stored_analysis_keeps_its_allowance(demo: World, far: LiftTest) -> None:
    fit = fit_mmm(demo.panel, ModelSpec(), [far])
    again = restore_fit(state_from_bytes(state_to_bytes(fit.state())))
    assert again.objective.lifts[-1].stderr == fit.objective.lifts[-1].stderr
    np.testing.assert_allclose(again.small_sample().cov, fit.cov, rtol=1e-9, atol=0.0)
    # Stored before the allowance existed: its tests are read as stated.
    with pickled_without(FitState, ("lift_weights",)):
        blob = state_to_bytes(fit.state())
    old = restore_fit(state_from_bytes(blob))
    assert old.objective.lifts[-1].stderr == far.stderr
    assert old.objective.lifts[-1].variance == 1.0


def test_the_sup_score_draws_a_reweighted_row_at_its_variance() -> None:
    """One known row, no data: the standardised score is the row's residual over its
    standard deviation, so a residual variance of 4 halves the statistic."""
    x = np.array([[1.0]])
    resid = np.array([-2.0])
    clusters = np.zeros(0, dtype=np.int64)
    is_data = np.array([False])
    dfs = np.array([np.inf])
    stat, p = sup_score(x, resid, clusters, is_data, dfs)
    half, p_half = sup_score(x, resid, clusters, is_data, dfs,
                             inflation=np.array([3.0]), bias=np.array([1.0]))  # fmt: skip
    assert stat == pytest.approx(2.0) and half == pytest.approx(1.0)
    assert p == pytest.approx(0.023, abs=0.01) and p_half == pytest.approx(0.16, abs=0.025)
