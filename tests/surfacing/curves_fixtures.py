"""Response curves with known answers for the optimiser and recommendation tests."""

from __future__ import annotations

import numpy as np

from surfacing_svc.curves import HillCurve


def hill(
    channel: str,
    *,
    spend: float,
    scale: float,
    kappa: float,
    shape: float = 1.0,
    spread: float = 0.0,
    draws: int = 200,
    seed: int = 0,
    identified: bool = True,
    days: int = 30,
) -> HillCurve:
    """A one-node Hill curve; ``spread`` is the sd of its log-scale draws (0: no uncertainty)."""
    rng = np.random.default_rng(seed)
    return HillCurve(
        channel=channel,
        reference_spend=spend,
        period_days=days,
        scale=scale * np.exp(rng.normal(0.0, spread, draws) - spread**2 / 2),
        half_saturation=np.full(draws, kappa),
        shape=np.full(draws, shape),
        identified=identified,
        note="" if identified else "failed its placebo check",
    )
