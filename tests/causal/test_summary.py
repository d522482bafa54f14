"""The plain-language summary's unit of the effect (causal_svc.summary)."""

from __future__ import annotations

from causal_svc.estimators.result import EffectEstimate, Estimand, Method
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
