"""GEO rows' covariance is CR2 (Bell & McCaffrey): each geo's residuals scaled by
``(I − H_gg)^(−1/2)`` of the full hat matrix (day effects, each geo's basis, controls, the media
terms' penalised leverage), not CR1's ``G/(G−1)``.

Checked against the dense computation — the hat matrix built column by column from the
projection itself, geo-days squared — on a small world (6 states, 84 days, one flighted channel,
with and without a geo-varying control). On this world CR1's standard errors are 0-15% under
CR2's (the media's leverage sits in the scores' direction), so the check fails on CR1's meat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import Identification, ModelSpec, fit_mmm, panel_from_frames
from causal_svc.attribution.fit import MMMFit, _inverse_sqrt

from .tv_world import tv_world


def _world(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    w = tv_world(seed, states=6, days=84, weekend=False, promo=True, noise=0.03)
    return w.outcome, w.media, w.controls


def _dense_cr2(fit: MMMFit) -> np.ndarray:
    """``H⁻¹ M H⁻¹`` with the CR2 meat from the dense hat matrix of the weighted data rows."""
    obj = fit.objective
    r, jac = obj.evaluate(fit.theta, jacobian=True)
    assert jac is not None
    n, g_n, t_n = obj.n_data, fit.panel.n_geos, fit.panel.n_days
    jd, rd, rest = jac[:n], r[:n], jac[n:]
    bread = np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True)
    # Column j of the residual-maker: the projection of the j-th unit geo-day.
    resid_maker = obj.projection.geo(np.eye(n).reshape(n, g_n, t_n)).reshape(n, n).T
    sw = np.broadcast_to(obj.sw, (g_n, t_n)).ravel()
    hat = np.eye(n) - sw[:, None] * resid_maker / sw[None, :] + jd @ bread @ jd.T
    scores = np.zeros((g_n, jac.shape[1]))
    for g in range(g_n):
        idx = np.arange(g * t_n, (g + 1) * t_n)
        scores[g] = jd[idx].T @ (_inverse_sqrt(np.eye(t_n) - hat[np.ix_(idx, idx)]) @ rd[idx])
    cov = bread @ (scores.T @ scores + rest.T @ rest) @ bread
    return (cov + cov.T) / 2.0


@pytest.mark.parametrize("with_control", [False, True])
def test_geo_covariance_is_the_dense_cr2(with_control: bool) -> None:
    outcome, media, controls = _world(3)
    panel = panel_from_frames(outcome, media, controls=controls if with_control else None)
    fit = fit_mmm(panel, ModelSpec(identification=Identification.GEO, holdout_days=0))
    assert bool(fit.objective.projection.controls) is with_control
    dense = _dense_cr2(fit)
    se, se_dense = np.sqrt(np.diag(fit.cov)), np.sqrt(np.diag(dense))
    np.testing.assert_allclose(se, se_dense, rtol=1e-6)
    np.testing.assert_allclose(fit.cov, dense, rtol=1e-6, atol=1e-12 * float(np.abs(dense).max()))
    assert fit.df == panel.n_geos - 1
