"""A draw with no effect (scale 0: the non-negative fit at its boundary) has a marginal return of
0 at zero spend, not 0 · ∞ = NaN (J's note, s19: `optimize --bound CH=0:0` on a channel whose
draws include 0 gave NaN marginal ROAS, and INTERNAL where warnings are errors)."""

from __future__ import annotations

import warnings

import numpy as np

from surfacing_svc.curves import HillCurve


def test_a_zero_draw_has_zero_slope_at_zero_spend() -> None:
    curve = HillCurve(
        "tiktok", 100.0, 30, scale=np.array([0.0, 5.0]), half_saturation=np.array([1.0, 1.0]),
        shape=np.array([0.8, 0.8]),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at_zero = curve.marginal(0.0)
        both = curve.marginal(np.array([0.0, 50.0]))
    assert at_zero[0] == 0.0
    assert at_zero[1] == np.inf  # S < 1: the curve's slope at 0 is unbounded, honestly
    assert both[0].tolist() == [0.0, 0.0]
    assert np.isfinite(both[1, 1]) and both[1, 1] > 0
