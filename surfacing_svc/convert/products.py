"""Recommend's product half: a stored product analysis → :class:`ProductEvidence`, and the
product actions → Recommendation messages."""

from __future__ import annotations

import math

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb

from surfacing_svc.products import (
    CategoryCell,
    NetCell,
    PairCell,
    ProductAction,
    ProductCell,
    ProductEvidence,
    Span,
)

__all__ = ["product_evidence", "product_recommendations"]

_KINDS = {
    causal_pb.CROSS_EFFECT_KIND_HALO: "halo",
    causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION: "cannibalisation",
}
_ACTIONS = {
    "shift_product_spend": pb.RECOMMENDATION_KIND_SHIFT_PRODUCT_SPEND,
    "stop_promotion": pb.RECOMMENDATION_KIND_STOP_PROMOTION,
    # not DECREASE_BUDGET, a channel's action: a product cut is one category's campaigns
    "cut_product_spend": pb.RECOMMENDATION_KIND_CUT_PRODUCT_SPEND,
}


def _span(i: common_pb.Interval) -> Span:
    return Span(i.estimate, i.lower, i.upper)


def product_evidence(analysis: causal_pb.Analysis) -> ProductEvidence:
    """What Recommend reads of a product analysis (``analysis.products`` must be set)."""
    r = analysis.products
    rate = {c.category: c.margin_rate for c in r.categories}

    def cell_rate(c: causal_pb.ChannelCategoryEffect) -> float:
        # the cell's own margin rate (its lift's products and days), as the analysis took it
        inc, margin = c.incremental_revenue.estimate, c.incremental_margin.estimate
        if inc > 0 and math.isfinite(margin) and margin != 0:
            return margin / inc
        return math.nan

    # refunds over net sales, as the analysis (and the product view) take them off the margin
    refund = {
        c.category: min(max(c.refunds / c.revenue, 0.0), 1.0) if c.revenue > 0 else 0.0
        for c in r.categories
    }
    cells = tuple(
        CategoryCell(
            c.channel,
            c.category,
            c.spend.amount,
            _span(c.incremental_revenue),
            c.initial_roas,
            c.half_saturation if c.HasField("half_saturation") else math.inf,
            rate.get(c.category, math.nan),
            _span(c.marginal_roas) if c.HasField("marginal_roas") else None,
            refund.get(c.category, 0.0),
            cell_rate(c),
            _span(c.incremental_margin) if c.HasField("incremental_margin") else None,
        )
        for c in r.cells
    )
    products = tuple(
        ProductCell(p.channel, p.category, p.product_id, p.spend.amount) for p in r.product_cells
    )
    pairs = tuple(
        PairCell(
            q.category,
            q.promoted_product_id,
            q.affected_product_id,
            _span(q.revenue_change),
            q.promoted_lift,
            _KINDS.get(q.kind, "none"),
        )
        for q in r.pairs
    )
    nets = tuple(
        NetCell(
            n.promoted_product_id,
            _span(n.promoted_lift),
            _span(n.sibling_change),
            _span(n.net_category_change),
        )
        for n in r.promotion_nets
    )
    return ProductEvidence(
        analysis.analysis_id, r.currency_code, r.day_count, r.interval_level, r.claim_level,
        cells, products, pairs, nets, {p.product_id: p.title for p in r.products},
    )  # fmt: skip


def product_recommendations(
    actions: list[ProductAction], analysis_id: str, first_rank: int, currency: str
) -> list[pb.Recommendation]:
    out = []
    for rank, a in enumerate(actions, start=first_rank):
        rec = pb.Recommendation(
            recommendation_id=f"{analysis_id}-p{rank - first_rank + 1}",
            kind=_ACTIONS[a.kind],  # type: ignore[arg-type]
            channel=a.channel, action=a.action, rationale=a.rationale,
            expected_impact=common_pb.Interval(estimate=a.impact.estimate, lower=a.impact.lower,
                                               upper=a.impact.upper, level=a.level),
            confidence=a.confidence, analysis_ids=[analysis_id], priority=rank,
            current_spend=a.current_spend, proposed_spend=a.proposed_spend,
            product=pb.ProductScope(category=a.category, product_id=a.product_id),
            facts=[
                pb.Fact(name=name, text=f"{text} ({currency})",
                        value=None if v is None else common_pb.Interval(
                            estimate=v.estimate, lower=v.lower, upper=v.upper))
                for name, v, text in a.facts
            ],
        )  # fmt: skip
        if a.target_category:
            rec.target_product.CopyFrom(
                pb.ProductScope(category=a.target_category, product_id=a.target_product_id)
            )
        out.append(rec)
    return out
