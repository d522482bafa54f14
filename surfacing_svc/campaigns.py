"""Campaigns inside a channel's plan: a campaign shares its channel's response curve (the
attribution model cannot tell one channel's campaigns apart), so the optimiser moves the
channel, and the channel's spend is split over its campaigns in their current proportions as
far as their own bounds allow — the split the model has evidence for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surfacing_svc.optimizer import BoundStatus

__all__ = ["CampaignPlan", "CampaignSpend", "split_channel"]

_BISECTIONS = 200


@dataclass(frozen=True, slots=True)
class CampaignSpend:
    """A campaign's spend over the analysis window, and its channel."""

    campaign_id: str
    channel: str
    spend: float


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    campaign_id: str
    channel: str
    current_spend: float
    optimal_spend: float
    lower_bound: float
    upper_bound: float
    bound: BoundStatus


def split_channel(
    total: float, current: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """``clip(θ · current, lower, upper)`` with ``θ`` such that it sums to ``total`` (bisection;
    increasing in ``θ``). Campaigns without current spend share equally. ``total`` must lie in
    ``[Σ lower, Σ upper]``; ``upper`` may be infinite."""
    weights = np.asarray(current, dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    weights = weights / weights.sum()
    if total <= lower.sum():
        return lower.astype(np.float64).copy()
    finite = np.isfinite(upper)
    if finite.all() and total >= upper.sum():
        return upper.astype(np.float64).copy()
    low, high = 0.0, 1.0
    while np.clip(high * total * weights, lower, upper).sum() < total:
        high *= 2.0
        if high > 1e12:  # only zero-weight campaigns left with room: they take the rest
            break
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2.0
        if np.clip(mid * total * weights, lower, upper).sum() < total:
            low = mid
        else:
            high = mid
    spend = np.clip(high * total * weights, lower, upper)
    gap = total - spend.sum()
    if gap > 1e-9 * max(total, 1.0):  # zero-weight campaigns with room absorb what is left
        room = np.where(weights == 0, upper - spend, 0.0)
        room = np.where(np.isfinite(room), room, gap)
        spend += room * min(gap / max(room.sum(), 1e-300), 1.0)
    return spend


def campaign_plans(
    channel: str,
    total: float,
    campaigns: list[tuple[CampaignSpend, float, float | None, float | None]],
) -> tuple[CampaignPlan, ...]:
    """The channel's ``total`` over its campaigns: each entry is (campaign, its current spend
    over the horizon, its lower and upper bound or None)."""
    current = np.array([c for _, c, _, _ in campaigns])
    lower = np.array([lo or 0.0 for _, _, lo, _ in campaigns])
    upper = np.array([np.inf if hi is None else hi for _, _, _, hi in campaigns])
    spend = split_channel(total, current, lower, upper)
    share = current / current.sum() * total if current.sum() > 0 else spend
    tol = 1e-6 * max(total, 1.0)
    out = []
    for (c, now, lo, hi), s, free in zip(campaigns, spend, share, strict=True):
        status = BoundStatus.NONE
        if lo is not None and s <= lo + tol and free < lo - tol:
            status = BoundStatus.LOWER
        elif hi is not None and s >= hi - tol and free > hi + tol:
            status = BoundStatus.UPPER
        out.append(CampaignPlan(c.campaign_id, channel, float(now), float(s), float(lo or 0.0),
                                float(total if hi is None else hi), status))  # fmt: skip
    return tuple(out)
