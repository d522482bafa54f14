"""The plain-language summary's unit of the effect (causal_svc.summary)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.estimators.result import EffectEstimate, EffectSpec, Estimand, Method
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect
from causal_svc.summary import summarize


def _estimate(n_treated: int | None) -> EffectEstimate:
    return EffectEstimate(
        Method.DID, Estimand.ATT, 1.88576, 0.2, 1.45, 2.32, 1e-5, 120,
        n_treated=n_treated, n_control=None if n_treated is None else 8,
    )  # fmt: skip


def test_the_effect_is_per_observation_as_the_estimand_says() -> None:
    """R27-F6: "d increased y by 1.89 per unit" beside "ATT per geo-day"."""
    est = _estimate(4)
    text = summarize(est, outcome="y", treatment="d", unit="geo", time="day")
    assert text.startswith("Supported: d increased y by 1.89 per geo-day (ATT; 95% CI 1.45")
    assert "per unit" not in summarize(est, outcome="y", treatment="d")
    assert "by 1.89 (ATT; 95% CI" in summarize(est, outcome="y", treatment="d")
    dose = summarize(_estimate(None), outcome="y", treatment="spend")
    assert "by 1.89 per unit of spend (ATT;" in dose


def test_the_pipeline_words_a_panel_effect_per_geo_day() -> None:
    """The summary on the wire names the observation a panel's roles give (R27-F6: the
    pipeline called ``summarize`` without them, so every panel effect read "per unit")."""
    rng = np.random.default_rng(3)
    units, days = 30, 20
    unit = np.repeat(np.arange(units), days)
    day = np.tile(np.arange(days), units)
    treated = (unit < 15) & (day >= 10)
    y = 5.0 + 0.3 * unit + 0.1 * day + 2.0 * treated + rng.normal(0, 1, unit.size)
    frame = pd.DataFrame({"y": y, "d": treated.astype(float), "geo": unit, "day": day})
    spec = EffectSpec(outcome="y", treatment="d", unit="geo", time="day")
    analysis = estimate_effect(
        frame, spec, Method.DID, options=EstimationOptions(), skip_refutation=True
    )
    assert "per geo-day" in analysis.summary, analysis.summary
    assert "per unit" not in analysis.summary
