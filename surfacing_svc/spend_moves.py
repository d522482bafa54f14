"""When a planned spend is a move: one rule for the optimiser's output, Recommend's moves and
the Counterfactual it asks (causal_svc.attribution.counterfactual.SAME_SPEND_RTOL, the same
tolerance; services share no code, so each states it).

An optimiser's answer for a channel held at its current spend comes back as float noise around
it (1106822.1999999988 for 1106822.2). Counted as a move, it joined the Counterfactual of
Recommend's reallocation as a changed, unestablished channel and widened the plan's interval
past zero, and printed as "-0%" (R20-F5).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAME_SPEND_RTOL", "same_spend", "snap_to"]

# Relative: spends run from a few units to hundreds of millions.
SAME_SPEND_RTOL = 1e-9


def same_spend(planned: float, current: float) -> bool:
    """Whether ``planned`` is ``current`` within :data:`SAME_SPEND_RTOL` (not a move)."""
    return abs(planned - current) <= SAME_SPEND_RTOL * max(abs(current), abs(planned), 1.0)


def snap_to(planned: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``planned`` with every spend that is :func:`same_spend` as its ``current`` set to it
    exactly."""
    scale = np.maximum(np.maximum(np.abs(current), np.abs(planned)), 1.0)
    return np.where(np.abs(planned - current) <= SAME_SPEND_RTOL * scale, current, planned)
