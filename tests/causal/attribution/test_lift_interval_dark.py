"""The model's interval of each lift test's lift is taken over the contrast the fit compared
(R26 F6): a dark cell's restored spend (it was computed over a multiplier of the spend as run,
which is nothing there, and floored at 0 where a cut's lift is negative)."""

from __future__ import annotations

from causal_svc.attribution import ModelSpec, fit_mmm
from causal_svc.attribution.stages import score

from .test_lift_conventions import dark  # noqa: F401  (the fixture)
from .world import World


def test_a_dark_cells_interval_holds_its_prediction(demo: World, dark) -> None:  # noqa: F811
    fit = fit_mmm(demo.panel, ModelSpec(), [dark])
    (interval,) = score(fit.state()).lift_intervals
    pred = float(fit.lift_predictions[0])
    assert pred < 0
    assert interval.estimate == pred
    assert interval.lower < pred < interval.upper < 0
