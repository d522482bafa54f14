"""When a promotion mostly moves sales between siblings: one rule for Recommend's
STOP_PROMOTION (surfacing_svc.products), the report's verdict (mesh.report.products) and the
explanation's sentence (llm_svc.product_writer), so the three never disagree.

A promoted product's category keeps its lift plus its effects on *every* sibling (cannibalisation
negative, halo positive), claimed or not. The promotion "mostly cannibalises" when that net is
shown, at the analysis's claim level, to be below ``1 - CANNIBAL_SHARE`` of the lift: the upper
bound of ``net - (1 - CANNIBAL_SHARE) lift`` (the sibling changes plus ``CANNIBAL_SHARE`` of the
lift) lies below zero.

Its standard deviation comes from the analysis's own joint intervals where it reports them
(``ProductAnalysisResult.promotion_nets``: the lift, the sibling changes' sum and the net, built
from the terms' shared errors; the three carry the lift's covariance with the sum,
:func:`joint_sd`). An analysis stored before them has only the pairs' separate intervals, and
the pairs of one promoted product share errors (they all read its predicted lift): there the sd
is the *sum* of the pairs' sds, the bound that holds whatever their correlation
(:func:`net_category_lift`), the lift taken as known. That bound left the rule no power — no
stop, right or false, on any simulator world of ``bench/products_moves.py``; the net's joint
sd is a median 0.66-0.70 of it there (0.78 at 3,000 orders a day). The claimed pairs' share
alone is no showing at all: a claim is selected for lying far below zero, and on simulator
worlds without planted cannibalisation that rule stopped promotions in 15 of 40
(docs/performance.md, issue 20).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

__all__ = [
    "CANNIBAL_SHARE",
    "joint_sd",
    "kept_less_half",
    "mostly_cannibalises",
    "net_category_lift",
    "rule_words",
]

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


def joint_sd(
    lift: tuple[float, float, float],
    siblings: tuple[float, float, float],
    net: tuple[float, float, float],
    level: float,
) -> float:
    """The sd of ``net - (1 - CANNIBAL_SHARE) lift`` from the analysis's joint intervals
    ``(estimate, lower, upper)`` at ``level`` (``PromotionNetEffect``): with ``s`` the share,
    ``var(siblings + s lift) = var(siblings) + s^2 var(lift) + s (var(net) - var(lift) -
    var(siblings))``, the last term twice ``s`` times the covariance that ``var(net)`` holds.
    NaN where an interval is not finite."""
    z = _z(level)
    v_l, v_s, v_n = (((i[2] - i[1]) / (2.0 * z)) ** 2 for i in (lift, siblings, net))
    share = CANNIBAL_SHARE
    var = v_s + share**2 * v_l + share * (v_n - v_l - v_s)
    return math.sqrt(max(var, 0.0)) if math.isfinite(var) else float("nan")


def mostly_cannibalises(lift: float, net: float, sd: float, claim_level: float) -> bool:
    """Whether the category is shown at ``claim_level`` to keep less than half the lift;
    ``sd`` is that of ``net - (1 - CANNIBAL_SHARE) lift`` (:func:`joint_sd`, or
    :func:`net_category_lift`'s bound with the lift taken as known)."""
    return lift > 0 and net + _z(claim_level) * sd < (1.0 - CANNIBAL_SHARE) * lift


def kept_less_half(
    lift: float, net: float, sd: float, claim_level: float
) -> tuple[float, float, float]:
    """``(estimate, lower, upper)`` of the quantity the rule judges, the net less ``1 -
    CANNIBAL_SHARE`` of the lift, with its interval at ``claim_level`` (``sd`` as
    :func:`mostly_cannibalises` takes it): the rule holds exactly where ``upper`` is below
    zero. The net's own interval is not the rule's: the lift is uncertain too, and shares
    errors with the net (R25-F2: a net interval reaching above half the lift stood beside
    "below half the lift at 95%")."""
    d = net - (1.0 - CANNIBAL_SHARE) * lift
    z = _z(claim_level)
    return d, d - z * sd, d + z * sd


def rule_words(lift: float, net: float, sd: float, claim_level: float, currency: str) -> str:
    """The rule's evidence as Recommend's stop and the report's verdict print it (the report
    restates this wording, as it restates the rule): the judged quantity, its interval at the
    claim level, and which side of zero that interval lies."""
    unit = f" {currency}" if currency else ""
    d, lower, upper = kept_less_half(lift, net, sd, claim_level)
    side = (
        "wholly below zero: shown to keep less than half the lift"
        if lift > 0 and upper < 0
        else "not wholly below zero: not shown to keep less than half the lift"
    )
    return (
        f"the net less half the lift ({(1.0 - CANNIBAL_SHARE) * lift:,.0f}{unit}) is "
        f"{d:,.0f}{unit}, {claim_level:.0%} interval (the claim level) "
        f"{lower:,.0f} to {upper:,.0f}{unit}, {side}"
    )
