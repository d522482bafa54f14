"""``Identification.PACING``: the local-demand control function, and a fit that uses it."""

from __future__ import annotations

import numpy as np

from causal_svc.attribution import Evaluator, Identification, ModelSpec, fit_mmm
from causal_svc.attribution.within import pacing_controls

from .world import World


def test_control_is_the_local_chase_less_the_other_geos() -> None:
    """log spend = geo level + common pacing + chase of local demand: the lag-0 control is the
    chase less the other geos' mean chase, whatever the pacing; a go-dark cell gets none."""
    rng = np.random.default_rng(0)
    g, t = 8, 30
    level = rng.normal(0, 1, (g, 1))
    pacing = np.cumsum(rng.normal(0, 0.1, t))[None]
    chase = rng.normal(0, 0.05, (g, t))
    media = np.exp(level + pacing + chase)[None]
    out = pacing_controls(media, media, ("meta",), lags=2)
    c = chase - chase.mean(axis=1, keepdims=True)
    expected = c - (c.sum(axis=0, keepdims=True) - c) / (g - 1)
    np.testing.assert_allclose(out["pacing_control:meta:lag0"], expected, atol=1e-12)
    np.testing.assert_allclose(out["pacing_control:meta:lag1"][:, 1:], expected[:, :-1])
    dark = media.copy()
    dark[0, :2, 20:] = 0.0
    got = pacing_controls(dark, dark, ("meta",), lags=1)["pacing_control:meta:lag0"]
    assert np.all(got[:2, 20:] == 0.0)
    assert pacing_controls(media, np.zeros_like(media), ("email",)) == {}  # no spend: no chase


def test_pacing_fit_controls_local_demand_and_clusters_by_week(demo: World) -> None:
    fit = fit_mmm(demo.panel, ModelSpec(identification=Identification.PACING))
    assert fit.convergence.converged
    assert any(name.startswith("pacing_control:") for name in fit.projection.controls)
    assert fit.residuals.shape == (demo.panel.n_geos, demo.panel.n_days)
    assert fit.df == -(-demo.panel.n_days // 7) - 1  # weeks, not geos
    ev = Evaluator(fit)
    for c in range(demo.panel.n_channels):
        iv = ev.interval(*ev.effect(c))
        assert np.isfinite(iv.stderr) and iv.lower <= iv.estimate <= iv.upper
