"""The nuisance projections equal explicit least squares on the full dummy design."""

from __future__ import annotations

import numpy as np

from causal_svc.attribution.within import Projection, annual_basis

RNG = np.random.default_rng(7)
G, T = 5, 40


def _dense_geo_design(w: np.ndarray, basis: np.ndarray, z: np.ndarray) -> np.ndarray:
    cols = []
    for t in range(T):  # day dummies
        d = np.zeros((G, T))
        d[:, t] = 1.0
        cols.append(d.ravel())
    for g in range(G):  # geo × basis
        for k in range(basis.shape[1]):
            d = np.zeros((G, T))
            d[g] = basis[:, k]
            cols.append(d.ravel())
    cols.append(z.ravel())
    return np.column_stack(cols)


def test_geo_projection_is_weighted_least_squares_on_the_full_design() -> None:
    w = RNG.uniform(0.5, 2.0, G)
    basis = annual_basis(T, np.arange(T) + 100)
    z = RNG.normal(size=(G, T))
    y = RNG.normal(size=(G, T))
    ours = Projection(w, basis, {"z": z}).geo(y)
    x = _dense_geo_design(w, basis, z)
    sw = np.repeat(np.sqrt(w), T)
    coef, *_ = np.linalg.lstsq(x * sw[:, None], y.ravel() * sw, rcond=None)
    np.testing.assert_allclose(ours.ravel(), y.ravel() - x @ coef, atol=1e-9)


def test_national_projection_is_least_squares_of_the_day_mean() -> None:
    w = RNG.uniform(0.5, 2.0, G)
    basis = annual_basis(T, np.arange(T) + 100)
    design = RNG.normal(size=(T, 3))
    y = RNG.normal(size=(G, T))
    ours = Projection(w, basis, national=design).national(y)
    mean = (w[:, None] * y).sum(axis=0) / w.sum()
    x = np.column_stack([basis, design])
    coef, *_ = np.linalg.lstsq(x, mean, rcond=None)
    np.testing.assert_allclose(ours, mean - x @ coef, atol=1e-10)


def test_a_control_without_variation_left_is_dropped() -> None:
    basis = annual_basis(T, np.arange(T))
    geo_constant = np.repeat(RNG.normal(size=(G, 1)), T, axis=1)
    p = Projection(np.ones(G), basis, {"flat": geo_constant})
    assert p.dropped_controls == ("flat",) and p.controls == ()
