"""``Identification.INSTRUMENTED``: leave-one-out instruments and the nonlinear 2SLS fit."""

from __future__ import annotations

import numpy as np

from causal_svc.attribution import Evaluator, Identification, ModelSpec, fit_mmm
from causal_svc.attribution.within import leave_one_out_inputs

from .world import World


def test_instrument_is_the_other_geos_day_at_this_geos_level() -> None:
    """log x = geo level + common pacing + local chase: a geo's instrument is its own level
    plus the other geos' mean deviation that day — its own chase that day never enters."""
    rng = np.random.default_rng(0)
    g, t = 8, 30
    level = rng.normal(0, 1, (g, 1))
    pacing = np.cumsum(rng.normal(0, 0.1, t))[None]
    chase = rng.normal(0, 0.05, (g, t))
    media = np.exp(level + pacing + chase)[None]
    got = leave_one_out_inputs(media)[0]
    lx = np.log(media[0])
    dev = lx - lx.mean(axis=1, keepdims=True)
    expected = lx.mean(axis=1, keepdims=True) + (dev.sum(axis=0, keepdims=True) - dev) / (g - 1)
    np.testing.assert_allclose(np.log(got), expected, atol=1e-12)
    # Moving geo 0's spend on day 5 (keeping its level) leaves its own instrument that day.
    moved = media.copy()
    moved[0, 0, 5] *= 1.5
    moved[0, 0, 6] /= 1.5
    np.testing.assert_allclose(leave_one_out_inputs(moved)[0, 0, 5], got[0, 5], rtol=1e-12)
    # A go-dark cell (a planned holdout) stays dark; the others' days ignore it.
    dark = media.copy()
    dark[0, :2, 20:] = 0.0
    out = leave_one_out_inputs(dark)[0]
    assert np.all(out[:2, 20:] == 0.0) and np.all(out[2:] > 0.0)


def test_instrumented_fit_is_2sls_with_geo_clusters(demo: World) -> None:
    fit = fit_mmm(demo.panel, ModelSpec(identification=Identification.INSTRUMENTED))
    obj = fit.objective
    assert fit.convergence.converged
    assert obj.moments is not None
    g, t = demo.panel.n_geos, demo.panel.n_days
    assert obj.n_full == g * t and obj.n_data == obj.moments.shape[1] <= fit.layout.size + 1
    assert fit.residuals.shape == (g, t)
    assert fit.df == g - 1  # geos are the clusters
    # The covariance from its definition: bread (J̃ᵀJ̃)⁻¹ over the projected rows plus the
    # prior and lift rows; meat Σ_geo (Σ_rows P_Z J r)(…)ᵀ · G/(G−1) plus those rows' own.
    r, jfull = obj.data_rows(fit.theta, jacobian=True)
    _, jac = obj.evaluate(fit.theta, jacobian=True)
    assert jfull is not None and jac is not None
    q = obj.moments
    np.testing.assert_allclose(jac[: obj.n_data], q.T @ jfull, rtol=1e-9, atol=1e-12)
    bread = np.linalg.pinv(jac.T @ jac)
    xhat = q @ (q.T @ jfull)
    scores = (xhat * r[:, None]).reshape(g, t, -1).sum(axis=1)
    rest = jac[obj.n_data :]
    meat = scores.T @ scores * g / (g - 1) + rest.T @ rest
    np.testing.assert_allclose(fit.cov, bread @ meat @ bread, rtol=1e-6, atol=1e-12)
    ev = Evaluator(fit)
    for c in range(demo.panel.n_channels):
        iv = ev.interval(*ev.effect(c))
        assert np.isfinite(iv.stderr) and iv.lower <= iv.estimate <= iv.upper
