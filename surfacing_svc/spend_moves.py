"""When a planned spend is a move: the optimiser's output and Recommend's moves read the
mesh's one tolerance (:mod:`mesh.runtime.spend_moves`), as the Counterfactual they ask does."""

from __future__ import annotations

import numpy as np

from mesh.runtime.spend_moves import SAME_SPEND_RTOL

__all__ = ["SAME_SPEND_RTOL", "same_spend", "snap_to"]


def same_spend(planned: float, current: float) -> bool:
    """Whether ``planned`` is ``current`` within :data:`SAME_SPEND_RTOL` (not a move)."""
    return abs(planned - current) <= SAME_SPEND_RTOL * max(abs(current), abs(planned), 1.0)


def snap_to(planned: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``planned`` with every spend that is :func:`same_spend` as its ``current`` set to it
    exactly."""
    scale = np.maximum(np.maximum(np.abs(current), np.abs(planned)), 1.0)
    return np.where(np.abs(planned - current) <= SAME_SPEND_RTOL * scale, current, planned)
