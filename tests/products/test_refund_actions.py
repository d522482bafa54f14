"""Recommend's product moves judge a category's next unit on the margin it keeps, net of its
refunds (issue 20): a category that refunds a large share of its sales returns less than its
margin before refunds says, enough to make a move between two categories look (or not) worth
making."""

from __future__ import annotations

import math

import pytest

from surfacing_svc.products import CategoryCell, ProductEvidence, Span, product_actions


def _evidence(*cells: CategoryCell) -> ProductEvidence:
    return ProductEvidence("an-1", "USD", 100, 0.9, 0.95, cells, (), ())


def _cell(category: str, marginal: Span, refund_rate: float) -> CategoryCell:
    revenue = Span(20_000.0, 10_000.0, 30_000.0)
    return CategoryCell(
        "google_shopping", category, 10_000.0, revenue, 2.0, math.inf, 0.5, marginal, refund_rate
    )


def test_a_move_is_priced_and_decided_on_the_margin_net_of_refunds() -> None:
    bags = Span(3.0, 2.6, 3.4)
    tops = Span(2.0, 1.8, 2.2)
    # before refunds Bags' next unit keeps 1.5 [1.3, 1.7] of margin against Tops' 1.0 [0.9, 1.1]
    (a,) = product_actions(_evidence(_cell("Bags", bags, 0.0), _cell("Tops", tops, 0.0)))
    assert (a.category, a.target_category) == ("Tops", "Bags")
    assert a.impact.estimate == pytest.approx(2_000 * (1.5 - 1.0))
    # Bags refunding 10% keeps 1.35 [1.17, 1.53]: the move gains less
    (b,) = product_actions(_evidence(_cell("Bags", bags, 0.1), _cell("Tops", tops, 0.0)))
    assert b.impact.estimate == pytest.approx(2_000 * (1.35 - 1.0))
    kept = next(v for name, v, _ in b.facts if name == "marginal_margin_Bags")
    assert kept is not None
    assert (kept.estimate, kept.lower, kept.upper) == pytest.approx((1.35, 1.17, 1.53))
    # refunding 40% it keeps 0.9 [0.78, 1.02]: no longer clearly above Tops, nothing moves
    assert product_actions(_evidence(_cell("Bags", bags, 0.4), _cell("Tops", tops, 0.0))) == []
