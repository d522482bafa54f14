"""Recommend's product actions, from a product analysis (AnalyzeProducts): where to move a
channel's spend between product campaigns, and which promotions only cannibalise. Pure.

**Shift spend between product campaigns.** Within a channel, a category campaign's next unit
of spend returns its *marginal* margin: the analysis's marginal return of the cell at the
period's spend (the response's slope there, ``marginal_roas``) times the category's margin
rate net of refunds (the margin rate times one less the category's refund rate: the extra
sales assumed refunded at the category's rate, the goods restocked; issue 20). Its interval is the analysis's, drawn over the curve's slope at zero, saturation point
and decay together: the marginal hangs on the saturation point far more than the cell's total
does (slope ``1 / (1 + A/K)^2``), and an interval rescaled from the total's (what this module
did before) covered the truth's marginal in about half of the cells and moved spend the wrong
way (``bench/products_moves.py``). A cell without that interval (an analysis from before it)
is never moved. Spend moves within a channel only where the intervals separate: the
receiver's lower bound above the giver's upper bound (of the separated pairs, the widest
gap); a share (``SHIFT_SHARE``) of the giver's spend, small enough that the marginal returns
stay near where they were measured. The move's margin interval combines the two cells'
intervals as a difference of independent estimates (the categories are separate equations)
by the MOVER rule (Zou & Donner 2008, Stat. Med. 27(10)), which keeps their asymmetry.

**Stop a promotion that mostly cannibalises.** A promoted product whose category keeps less
than ``1 - CANNIBAL_SHARE`` of its lift — the lift plus its cross-effects on *every* sibling
(cannibalisation negative, halo positive), claimed or not — adds little to its category:
stopping it (or its discount) gives up that net category lift (its margin net of refunds)
and saves its spend. The rule
is a claim, made at the analysis's claim level: the upper bound of the net less half the lift
must lie below zero, and at least one pair must be a claimed cannibalisation (the victims the action names).
Its standard deviation is the analysis's own, from the lift's, the sibling changes' and the
net's joint intervals (``ProductAnalysisResult.promotion_nets``, mesh.runtime.promotions):
the terms come from different equations that share days and all read the promoted product's
predicted lift, so their errors are correlated and no pair interval says by how much. An
analysis stored before those intervals falls back to the sum of the pairs' standard
deviations, the bound that holds whatever their correlation (on 365-day simulator worlds
the z-scores of the sums had sd 1.31 taken as independent), which left the rule no power:
no stop, right or false, on any world of ``bench/products_moves.py``. The rule before this
(until issue 20's false-stop fix) summed only the claimed pairs and compared the point
estimate with half the lift: a claim is selected for being far below zero, and where a pair's
standard error is a large share of the lift nearly every claim passed, so a false claim (1.2%
of the null pairs, ~50 a world) became a "stop promoting": 21 false stops in 15 of 40
simulator worlds with no cannibalisation planted, and 23 of 27 stops wrong on 20 365-day
worlds that had it (``bench/products_moves.py``, ``--no-cannibalisation``). (The share taken alone is not the rule either: a
promotion that takes 51% of its lift from one sibling while its halo lifts two others can
leave the category 80% of the lift, which is not "mostly cannibalises".)

**Cut the spend of a cell shown to lose money.** A channel's category campaign whose whole
interval of incremental margin net of refunds is below its spend loses money on the category
(R20-F7: the product view said so while Recommend answered "no recommendations"). Recommend
cuts a share (``SHIFT_SHARE``) of its spend. The cell's response is its coefficients times a
concave function of its spend with none at zero (``K hill(A / K)``, the carry-over ``A``
linear in spend, :mod:`causal_svc.products.category`), so a cut of a share ``q`` loses at most
``q`` of a positive margin and none of a negative one: the impact given is the least it saves,
``q (spend - max(margin, 0))`` at each bound, above zero exactly where the margin's interval
is below the spend. (The bound holds where the cell's product coefficients share a sign;
where they differ, a day whose spend went mostly to the positive ones can lose more.) A cell
a shift already takes spend from is left to the shift and named in the warnings instead
(:func:`losing_cells`); no shift moves spend into a cell shown to lose money (its next unit
returning more than the giver's does not make it pay), so such a cell is only ever cut.

**Intervals and confidence.** An action's impact interval is at the analysis's interval
level (its tables' level: the category cells' and the pairs' intervals are at it; the pairs'
claim level only decides which pairs count). Its confidence is the probability that the
impact is above zero under a normal with that interval — the interval's level or more only
when the interval excludes zero, below one half when its estimate is negative — so a
confidence never claims more than the interval next to it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

from mesh.runtime.promotions import (
    CANNIBAL_SHARE,
    joint_sd,
    mostly_cannibalises,
    net_category_lift,
    rule_words,
)

__all__ = [
    "CANNIBAL_SHARE",
    "SHIFT_SHARE",
    "CategoryCell",
    "NetCell",
    "PairCell",
    "ProductAction",
    "ProductCell",
    "ProductEvidence",
    "losing_cells",
    "net_lift",
    "product_actions",
]

SHIFT_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Span:
    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class CategoryCell:
    channel: str
    category: str
    spend: float
    revenue: Span
    initial_roas: float
    half_saturation: float  # per day; inf = linear
    margin_rate: float
    # Revenue of the next unit of spend at the period's spend, with the analysis's interval
    # (None: the analysis does not report it, and the cell is not moved).
    marginal: Span | None = None
    # The category's refunds over its net sales: the share of the margin refunds take back.
    refund_rate: float = 0.0
    # The margin rate of the cell's own lift (its products and days, as the analysis weighed
    # them; NaN: use margin_rate, the category's).
    lift_margin_rate: float = math.nan
    # The cell's incremental margin over the period, before refunds, with the analysis's
    # interval (None: not reported).
    margin: Span | None = None


@dataclass(frozen=True, slots=True)
class ProductCell:
    channel: str
    category: str
    product_id: str
    spend: float


@dataclass(frozen=True, slots=True)
class PairCell:
    category: str
    promoted: str
    affected: str
    change: Span
    promoted_lift: float
    kind: str  # halo | cannibalisation | none


@dataclass(frozen=True, slots=True)
class NetCell:
    """A promoted product's lift, its sibling changes' sum and the net, with the analysis's
    joint intervals (``PromotionNetEffect``)."""

    promoted: str
    lift: Span
    siblings: Span
    net: Span


@dataclass(frozen=True, slots=True)
class ProductEvidence:
    """What a product analysis says, as the actions need it."""

    analysis_id: str
    currency: str
    days: int
    level: float
    claim_level: float
    cells: tuple[CategoryCell, ...]
    products: tuple[ProductCell, ...]
    pairs: tuple[PairCell, ...]
    nets: tuple[NetCell, ...] = ()  # empty for an analysis stored before them
    # product id -> catalogue title (a product without one is named by its id alone)
    titles: Mapping[str, str] = field(default_factory=dict)

    def name(self, product_id: str) -> str:
        """A product as every line names it: "Title (id)", or the id where it has no title."""
        title = self.titles.get(product_id, "")
        return f"{title} ({product_id})" if title and title != product_id else product_id


@dataclass(frozen=True, slots=True)
class ProductAction:
    kind: str  # shift_product_spend | stop_promotion | cut_product_spend
    channel: str
    category: str
    product_id: str
    target_category: str
    target_product_id: str
    action: str
    rationale: str
    impact: Span  # margin over the analysed period
    confidence: float  # P(impact > 0) under a normal with the impact's interval
    level: float  # the impact interval's level
    current_spend: float
    proposed_spend: float
    facts: tuple[tuple[str, Span | None, str], ...] = field(default_factory=tuple)


def _confidence(impact: Span, level: float) -> float:
    """P(impact > 0) under a normal whose ``level`` interval is the impact's."""
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    sd = (impact.upper - impact.lower) / (2.0 * z)
    if not sd > 0:
        return 1.0 if impact.estimate > 0 else 0.0
    return NormalDist().cdf(impact.estimate / sd)


def _marginal(c: CategoryCell) -> Span | None:
    """Marginal margin net of refunds per unit of spend at the period's spend, with its
    interval."""
    m = c.marginal
    if m is None or not all(math.isfinite(v) for v in (m.estimate, m.lower, m.upper)):
        return None
    own = c.lift_margin_rate if math.isfinite(c.lift_margin_rate) else c.margin_rate
    rate = (own if math.isfinite(own) else 1.0) * (1.0 - c.refund_rate)
    return Span(m.estimate * rate, m.lower * rate, m.upper * rate)


def _difference(hi: Span, lo: Span) -> Span:
    """``hi - lo`` of two independent estimates, their intervals combined by MOVER (each
    bound from the nearer bounds' distances, so skewed intervals stay skewed)."""
    d = hi.estimate - lo.estimate
    down = math.hypot(hi.estimate - hi.lower, lo.upper - lo.estimate)
    up = math.hypot(hi.upper - hi.estimate, lo.estimate - lo.lower)
    return Span(d, d - down, d + up)


def _shifts(e: ProductEvidence) -> list[ProductAction]:
    out = []
    by_channel: dict[str, list[tuple[CategoryCell, Span]]] = defaultdict(list)
    for c in e.cells:
        m = _marginal(c)
        if c.spend > 0 and m is not None:
            by_channel[c.channel].append((c, m))
    for channel, cells in sorted(by_channel.items()):
        # never into a cell shown to lose money: there spend loses money on average, whatever
        # its next unit returns against another cell's (that cell is cut instead)
        separated = [(r, g) for r in cells for g in cells
                     if r is not g and r[1].lower > g[1].upper and _loss(r[0]) is None]  # fmt: skip
        if not separated:
            continue  # every pair of intervals overlaps: the evidence does not say which way
        (best, hi), (worst, lo) = max(separated, key=lambda rg: rg[0][1].lower - rg[1][1].upper)
        moved = SHIFT_SHARE * worst.spend
        diff = _difference(hi, lo)
        gain = Span(moved * diff.estimate, moved * diff.lower, moved * diff.upper)
        cur = e.currency
        out.append(
            ProductAction(
                "shift_product_spend",
                channel,
                worst.category,
                "",
                best.category,
                "",
                f"move {moved:,.0f} {cur} of {channel} spend from {worst.category} to "
                f"{best.category} campaigns",
                f"on {channel}, the next {cur} in {best.category} returns "
                f"{hi.estimate:.2f} {cur} of margin [{hi.lower:.2f}, {hi.upper:.2f}] against "
                f"{lo.estimate:.2f} [{lo.lower:.2f}, {lo.upper:.2f}] in {worst.category} "
                f"({e.level:.0%} intervals of the next unit's return at the period's spend, over the "
                "response curve's slope, saturation and decay)",
                gain,
                _confidence(gain, e.level),
                e.level,
                worst.spend + best.spend,
                worst.spend + best.spend,
                (
                    (f"marginal_margin_{best.category}", hi, f"{best.category} on {channel}"),
                    (f"marginal_margin_{worst.category}", lo, f"{worst.category} on {channel}"),
                    ("incremental_revenue_" + best.category, best.revenue, "over the period"),
                    ("incremental_revenue_" + worst.category, worst.revenue, "over the period"),
                ),
            )
        )
    return out


def _t(s: Span) -> tuple[float, float, float]:
    return s.estimate, s.lower, s.upper


def net_lift(
    pairs: list[PairCell], level: float, joint: NetCell | None = None
) -> tuple[float, float, float, float]:
    """``(net, low, high, sd)``: a promoted product's lift plus its effects on every sibling,
    its interval at ``level`` and the sd the rule judges (of the net less half the lift):
    the analysis's joint ones where it reports them (``joint``), else the pairs' sds summed,
    which holds whatever their correlation (mesh.runtime.promotions)."""
    if joint is not None:
        sd = joint_sd(_t(joint.lift), _t(joint.siblings), _t(joint.net), level)
        return joint.net.estimate, joint.net.lower, joint.net.upper, sd
    changes = [(q.change.estimate, q.change.lower, q.change.upper) for q in pairs]
    net, sd = net_category_lift(pairs[0].promoted_lift, changes, level)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    return net, net - z * sd, net + z * sd, sd


def _stops(e: ProductEvidence) -> list[ProductAction]:
    out = []
    spend: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in e.products:
        spend[p.product_id][p.channel] += p.spend
    by_promoted: dict[str, list[PairCell]] = defaultdict(list)
    for q in e.pairs:
        by_promoted[q.promoted].append(q)
    # the margin the category keeps per unit of net sales: its margin rate net of refunds
    rate = {
        c.category: c.margin_rate * (1.0 - c.refund_rate)
        for c in e.cells
        if math.isfinite(c.margin_rate)
    }
    joint = {n.promoted: n for n in e.nets}
    for promoted, pairs in sorted(by_promoted.items()):
        lift = pairs[0].promoted_lift
        taken = [q for q in pairs if q.kind == "cannibalisation"]
        if not taken or lift <= 0:
            continue
        net, net_low, net_high, sd = net_lift(pairs, e.level, joint.get(promoted))
        if not mostly_cannibalises(lift, net, sd, e.claim_level):
            continue  # not shown that the category keeps less than half the lift
        lost = -sum(q.change.estimate for q in taken)
        channels = spend.get(promoted, {})
        saved = sum(channels.values())
        category = pairs[0].category
        m = rate.get(category, 1.0)
        channel = max(channels, key=lambda c: channels[c]) if channels else ""
        victims = ", ".join(e.name(q.affected) for q in taken)
        name = e.name(promoted)
        impact = Span(saved - net * m, saved - net_high * m, saved - net_low * m)
        cur = e.currency
        out.append(
            ProductAction(
                "stop_promotion",
                channel,
                category,
                promoted,
                "",
                "",
                f"stop promoting {name} (or its discount): its lift mostly comes out of {victims}",
                f"promoting {name} lifted it by {lift:,.0f} {cur}, of which {lost:,.0f} "
                f"({lost / lift:.0%}) was taken from {victims}; with its effects on every "
                f"sibling the category kept {net:,.0f} {cur} net ({net / lift:.0%} of the lift); "
                f"{rule_words(lift, net, sd, e.claim_level, cur)}; for {saved:,.0f} {cur} of "
                "spend",
                impact,
                _confidence(impact, e.level),
                e.level,
                saved,
                0.0,
                (
                    *(
                        (
                            f"cannibalised_{q.affected}",
                            q.change,
                            f"{e.name(q.affected)}'s revenue change",
                        )
                        for q in taken
                    ),
                    ("net_category_lift", Span(net, net_low, net_high), "over the period"),
                ),
            )
        )
    return out


def _loss(c: CategoryCell) -> Span | None:
    """The cell's incremental margin net of refunds when its whole interval is below its
    spend (the channel loses money on the category), else None."""
    if c.margin is None or not c.spend > 0:
        return None
    keep = 1.0 - c.refund_rate
    net = Span(c.margin.estimate * keep, c.margin.lower * keep, c.margin.upper * keep)
    return net if math.isfinite(net.upper) and net.upper < c.spend else None


def _givers(shifts: list[ProductAction]) -> dict[tuple[str, str], ProductAction]:
    return {(a.channel, a.category): a for a in shifts}


def _cuts(e: ProductEvidence, shifts: list[ProductAction]) -> list[ProductAction]:
    """Cut a share of the spend of each cell shown to lose money that no shift takes spend
    from (the module's docstring says why the impact is the least the cut saves)."""
    out = []
    givers = _givers(shifts)
    for c in e.cells:
        net = _loss(c)
        if net is None or (c.channel, c.category) in givers:
            continue
        cut = SHIFT_SHARE * c.spend
        # A negative margin (a negative coefficient) gives nothing up: the floor is the cut.
        floor = Span(
            *(cut - SHIFT_SHARE * max(m, 0.0) for m in (net.estimate, net.upper, net.lower))
        )
        cur = e.currency
        out.append(ProductAction(
            "cut_product_spend", c.channel, c.category, "", "", "",
            f"cut {c.channel} spend on {c.category} campaigns by {cut:,.0f} {cur} "
            f"({SHIFT_SHARE:.0%})",
            f"{c.channel} on {c.category}: incremental margin net of refunds "
            f"{net.estimate:,.0f} {cur} [{net.lower:,.0f}, {net.upper:,.0f}] ({e.level:.0%}) "
            f"against a spend of {c.spend:,.0f}: the whole interval is below the spend, so at "
            f"that margin the channel loses money on the category. Its response saturates, so "
            f"a {SHIFT_SHARE:.0%} cut loses at most {SHIFT_SHARE:.0%} of that margin: the impact "
            "is the least it saves (margin returns net of refunds, on the category's own sales)",
            floor, _confidence(floor, e.level), e.level, c.spend, c.spend - cut,
            ((f"incremental_margin_{c.category}", net, f"{c.channel} on {c.category}, net of "
              "refunds, over the period"),),
        ))  # fmt: skip
    return out


def losing_cells(e: ProductEvidence) -> list[str]:
    """What Recommend says, in words, of each cell shown to lose money (the whole interval of
    its incremental margin net of refunds below its spend) that no cut covers: a cell a shift
    takes spend from is given that one action, and the warning says it loses money too, so a
    reader of the shift alone does not take the cell for a sound one."""
    out = []
    givers = _givers(_shifts(e))
    for c in e.cells:
        net = _loss(c)
        shift = givers.get((c.channel, c.category))
        if net is None or shift is None:
            continue
        out.append(
            f"{c.channel} on {c.category}: incremental margin net of refunds "
            f"{net.estimate:,.0f} ({e.level:.0%} interval {net.lower:,.0f} to {net.upper:,.0f}) "
            f"against a spend of {c.spend:,.0f} {e.currency}: the whole interval is below the "
            "spend, so at that margin the channel loses money on the category. Recommend "
            f"proposes one action a cell, and for this one it is the shift of its spend to "
            f"{shift.target_category} campaigns (on their margin returns); cutting its spend "
            "would also save more than the margin it gives up"
        )
    return out


def product_actions(e: ProductEvidence) -> list[ProductAction]:
    """Every product action the evidence supports, the largest expected margin first."""
    shifts = _shifts(e)
    actions = shifts + _stops(e) + _cuts(e, shifts)
    return sorted(actions, key=lambda a: -a.impact.estimate)
