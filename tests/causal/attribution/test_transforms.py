"""Adstock and Hill: against the simulator's own transforms, and derivatives against central
differences."""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution.transforms import (
    AdstockKind,
    adstock_weights,
    apply_lags,
    hill,
    hill_derivatives,
    lag_stack,
)
from sim.media import geometric_adstock, weibull_adstock

RNG = np.random.default_rng(3)
X = RNG.gamma(2.0, 50.0, size=(4, 200))


def test_weights_are_normalised() -> None:
    for kind, params in ((AdstockKind.GEOMETRIC, [0.4]), (AdstockKind.WEIBULL, [1.6, 4.0])):
        w, _ = adstock_weights(kind, np.array(params))
        assert w.sum() == pytest.approx(1.0)
        assert (w >= 0).all()


def test_geometric_matches_the_recursive_filter() -> None:
    w, _ = adstock_weights(AdstockKind.GEOMETRIC, np.array([0.3]), 60)
    ours = apply_lags(lag_stack(X, 60), w)
    # Truncation at 60 lags leaves 0.3**60 of the mass: nothing.
    np.testing.assert_allclose(ours, geometric_adstock(X, 0.3), rtol=1e-9, atol=1e-9)


def test_weibull_matches_the_simulator() -> None:
    w, _ = adstock_weights(AdstockKind.WEIBULL, np.array([2.0, 6.0]), 28)
    np.testing.assert_allclose(apply_lags(lag_stack(X, 28), w), weibull_adstock(X, 2.0, 6.0, 28))


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_weibull_of_shape_one_is_the_geometric_decay(scale: float) -> None:
    """The family the data choose a carry-over from holds geometric exactly (shape 1, decay
    exp(−1/scale)), down to scales whose density underflows outside logs."""
    w, _ = adstock_weights(AdstockKind.WEIBULL, np.array([1.0, scale]))
    g, _ = adstock_weights(AdstockKind.GEOMETRIC, np.array([np.exp(-1.0 / scale)]))
    np.testing.assert_allclose(w, g, rtol=1e-9, atol=1e-300)
    w, _ = adstock_weights(AdstockKind.WEIBULL, np.array([3.0, 0.08]))
    assert np.isfinite(w).all() and w[0] == pytest.approx(1.0)


@pytest.mark.parametrize(("kind", "params"), [(AdstockKind.GEOMETRIC, [0.45]),
                                              (AdstockKind.WEIBULL, [1.3, 5.0])])  # fmt: skip
def test_weight_derivatives(kind: AdstockKind, params: list[float]) -> None:
    p = np.array(params)
    _, dw = adstock_weights(kind, p, grad=True)
    assert dw is not None
    for i in range(p.size):
        h = 1e-6
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        numeric = (adstock_weights(kind, up)[0] - adstock_weights(kind, down)[0]) / (2 * h)
        np.testing.assert_allclose(dw[i], numeric, rtol=1e-4, atol=1e-8)


def test_hill_values_and_derivatives() -> None:
    u = np.array([0.0, 0.5, 1.0, 3.0, 10.0])
    h, dh_du, dh_dk, dh_ds = hill_derivatives(u, 2.0, 1.5)
    assert h[0] == 0.0 and hill(np.array([2.0]), 2.0, 1.5)[0] == pytest.approx(0.5)
    eps = 1e-6
    np.testing.assert_allclose(dh_du[1:], (hill(u + eps, 2.0, 1.5) - hill(u - eps, 2.0, 1.5))[1:]
                               / (2 * eps), rtol=1e-5)  # fmt: skip
    k_up, k_dn = 2.0 * np.exp(eps), 2.0 * np.exp(-eps)
    np.testing.assert_allclose(dh_dk, (hill(u, k_up, 1.5) - hill(u, k_dn, 1.5)) / (2 * eps),
                               rtol=1e-5, atol=1e-12)  # fmt: skip
    s_up, s_dn = 1.5 * np.exp(eps), 1.5 * np.exp(-eps)
    np.testing.assert_allclose(dh_ds, (hill(u, 2.0, s_up) - hill(u, 2.0, s_dn)) / (2 * eps),
                               rtol=1e-5, atol=1e-12)  # fmt: skip


def test_hill_shape_derivative_is_finite_where_the_input_underflows_the_ratio() -> None:
    # A Weibull tail's adstock can be a denormal: u / K underflows to 0 and log 0 = -inf,
    # while the Hill value (and so its shape derivative) is 0 there.
    u = np.array([5e-324, 1e-310, 1e-200, 1.0])
    h, dh_du, dh_dk, dh_ds = hill_derivatives(u, 1e10, 1.2)
    for part in (h, dh_du, dh_dk, dh_ds):
        assert np.all(np.isfinite(part))
    assert np.all(dh_ds[:2] == 0.0) and np.all(dh_ds[2:] < 0.0)
