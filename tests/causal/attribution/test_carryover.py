"""The carry-over shape chosen per channel by the data, the effect prior's tail, and analyses
stored before either existed."""

from __future__ import annotations

import dataclasses

import numpy as np

from causal_svc.attribution import ModelSpec, fit_mmm, restore_fit, state_from_bytes, state_to_bytes
from causal_svc.attribution.spec import Priors
from causal_svc.attribution.transforms import AdstockKind
from tests.support import pickled_without

from .world import World, world


def test_a_state_stored_before_the_new_priors_restores_as_it_was_fitted(demo: World) -> None:
    """A stored Priors unpickles its fields by position: one stored before the carry-over
    family and the effect prior's tail restores with a half-normal effect prior (the model it
    was fitted with), not the current default, and predicts exactly as before."""
    spec = ModelSpec(adstock=AdstockKind.GEOMETRIC,
                     priors=dataclasses.replace(Priors(), effect_df=float("inf")))  # fmt: skip
    fit = fit_mmm(demo.panel, spec)
    with pickled_without(Priors, ("carryover_log_shape", "carryover_log_scale", "effect_df")):
        blob = state_to_bytes(fit.state())
    restored = state_from_bytes(blob)
    assert restored.spec.priors.effect_df == float("inf")
    assert restored.spec.priors.roi_scale == spec.priors.roi_scale
    again = restore_fit(restored)
    np.testing.assert_allclose(again.contributions(), fit.contributions())
    np.testing.assert_allclose(again.objective.evaluate(fit.theta, jacobian=False)[0],
                               fit.objective.evaluate(fit.theta, jacobian=False)[0],
                               atol=1e-12)  # fmt: skip


def test_a_chosen_carryover_fit_converges_where_it_crept_to_the_iteration_limit() -> None:
    """Demo seed 3: with every channel's shape left to the data, LM crept along a weakly
    measured channel's shape–scale ridge for 100 iterations; the absolute-gain stop ends it."""
    w = world("demo", 3)
    fit = fit_mmm(w.panel, ModelSpec(adstock=None), [w.experiment] if w.experiment else [])
    assert fit.convergence.converged and fit.convergence.iterations < 60
    assert all(k is AdstockKind.WEIBULL for k in fit.layout.kinds)
