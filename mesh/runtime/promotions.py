"""When a promotion mostly moves sales between siblings: one rule for Recommend's
STOP_PROMOTION (surfacing_svc.products), the report's verdict (mesh.report.products) and the
explanation's sentence (llm_svc.product_writer), so the three never disagree.

A promoted product's category keeps its lift plus its effects on *every* sibling (cannibalisation
negative, halo positive), claimed or not. The promotion "mostly cannibalises" when that net is
shown, at the analysis's claim level, to be below ``1 - CANNIBAL_SHARE`` of the lift. The net's
standard deviation is the *sum* of the pairs' (each from its symmetric interval): the wire
carries no covariance between them, the pairs of one promoted product share errors (they all
read its predicted lift), and the sum bounds the sd whatever their correlation. The claimed
pairs' share alone is no such showing: a claim is selected for lying far below zero, and on
simulator worlds without planted cannibalisation that rule stopped promotions in 15 of 40
(docs/performance.md, issue 20).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

__all__ = ["CANNIBAL_SHARE", "mostly_cannibalises", "net_category_lift"]

CANNIBAL_SHARE = 0.5


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def net_category_lift(
    lift: float, changes: Iterable[tuple[float, float, float]], level: float
) -> tuple[float, float]:
    """``(net, sd)``: ``lift`` plus every pair's revenue change ``(estimate, lower, upper)`` at
    interval ``level`` (non-finite estimates left out), and the sum of their sds."""
    net, sd, z = lift, 0.0, _z(level)
    for estimate, lower, upper in changes:
        if not math.isfinite(estimate):
            continue
        net += estimate
        width = upper - lower
        if math.isfinite(width) and width > 0:
            sd += width / (2.0 * z)
    return net, sd


def mostly_cannibalises(lift: float, net: float, sd: float, claim_level: float) -> bool:
    """Whether the category is shown at ``claim_level`` to keep less than half the lift."""
    return lift > 0 and net + _z(claim_level) * sd < (1.0 - CANNIBAL_SHARE) * lift
