"""The objective's analytic Jacobian (panel rows, priors, effect priors, a lift test) against
central differences, in both identifications."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causal_svc.attribution import Identification, LiftTest, MediaPanel, ModelSpec, fit_mmm
from causal_svc.attribution.objective import t_residual
from causal_svc.attribution.transforms import AdstockKind

from .world import World


def _small(w: World) -> MediaPanel:
    p = w.panel
    g, t = slice(0, 6), slice(0, 70)
    return dataclasses.replace(
        p,
        geos=p.geos[g], dates=p.dates[t], outcome=p.outcome[g, t], media=p.media[:, g, t],
        spend=p.spend[:, g, t], population=p.population[g],
        national={k: v[t] for k, v in p.national.items()},
        campaigns=(), campaign_channel=np.zeros(0, dtype=np.int64),
        campaign_spend=np.zeros((0, 70)), campaign_media=np.zeros((0, 70)),
        campaign_platform_outcome=np.zeros(0),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("identification", "chosen"),
    [*((i, False) for i in Identification), (Identification.NATIONAL, True)],
)
def test_jacobian_matches_central_differences(
    demo: World, identification: Identification, chosen: bool
) -> None:
    """``chosen``: every carry-over left to the data and a Student-t effect prior."""
    panel = _small(demo)
    lift = LiftTest(panel.channels[4], panel.dates[30].item(), panel.dates[50].item(), 5e4, 2e4,
                    geos=panel.geos[:3], counterfactual_multiplier=0.5)  # fmt: skip
    spec = ModelSpec(
        identification=identification,
        adstock={panel.channels[4]: AdstockKind.WEIBULL, panel.channels[2]: AdstockKind.WEIBULL},
    )
    if chosen:
        spec = dataclasses.replace(
            spec, adstock=None, priors=dataclasses.replace(spec.priors, effect_df=1.0)
        )
    fit = fit_mmm(panel, spec, [lift])
    obj = fit.objective
    rng = np.random.default_rng(0)
    theta = fit.theta.copy()
    theta[: panel.n_channels] = rng.uniform(0.02, 0.2, panel.n_channels)
    theta[panel.n_channels :] += rng.normal(0, 0.1, theta.size - panel.n_channels)
    _, jac = obj.evaluate(theta, jacobian=True)
    assert jac is not None
    for i in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        numeric = (obj.evaluate(up, jacobian=False)[0] - obj.evaluate(down, jacobian=False)[0]) / (
            2 * h
        )
        scale = max(float(np.abs(numeric).max()), 1e-8)
        np.testing.assert_allclose(jac[:, i], numeric, atol=1e-5 * scale, rtol=1e-4,
                                   err_msg=fit.layout.names[i])  # fmt: skip


def test_student_t_prior_row_keeps_the_normal_curvature_and_fades() -> None:
    """Near zero the t row is the normal row (a null effect is shrunk as before); far out its
    pull ``r · dr/dx`` falls below the normal's ``x`` and then decreases."""
    for nu in (1.0, 3.0):
        r, slope = t_residual(1e-4, nu)
        assert r == pytest.approx(1e-4, rel=1e-6) and slope == pytest.approx(1.0, rel=1e-6)
        pulls = []
        for x in (0.5, 1.0, 2.0, 4.0, 8.0):
            r, slope = t_residual(x, nu)
            h = 1e-6
            numeric = (t_residual(x + h, nu)[0] - t_residual(x - h, nu)[0]) / (2 * h)
            assert slope == pytest.approx(numeric, rel=1e-5)
            assert r * r / 2 == pytest.approx((nu + 1) / 2 * np.log1p(x * x / (nu + 1)))
            pulls.append(r * slope)
            assert r * slope < x
        assert pulls[-1] < pulls[-2] < pulls[-3]
    assert t_residual(3.0, float("inf")) == (3.0, 1.0)
