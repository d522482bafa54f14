"""R6-F13: a cell whose incremental margin is below its spend read as profitable ("raised
Outerwear revenue by 2,922,851 …, and its margin by 1,279,390" on a spend of 1,536,983). The
explanation now says the margin is below the spend, citing the spend. The margin is the one
the product view shows, net of the category's refunds (helper C, commit 67c41ba), and a loss
is stated only where its whole interval is below the spend (R10-F6: "loses money" on a point
estimate whose interval reaches the spend is what CheckClaims judges not established)."""

from __future__ import annotations

import pytest

from llm_svc.claims import Verdict, check_claims
from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Audience
from llm_svc.numbers import fmt
from tests.llm.test_products import assert_grounded, stored


@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.value)
def test_a_cell_whose_margin_is_below_its_spend_says_it_loses_money(audience: Audience) -> None:
    proto = stored()
    (cell,) = [c for c in proto.products.cells
               if (c.channel, c.category) == ("google_shopping", "Footwear")]  # fmt: skip
    (footwear,) = [c for c in proto.products.categories if c.category == "Footwear"]
    keep = 1 - footwear.refunds / footwear.revenue  # 3.8% of Footwear's sales refunded
    m = cell.incremental_margin
    net = [fmt(x * keep) for x in (m.estimate, m.lower, m.upper)]
    assert m.lower > 0 and net == ["42,043", "15,589", "68,497"]  # before refunds 43,687
    cell.spend.amount = 80_000.0  # above the whole interval
    text = assert_grounded(proto, audience).text
    assert (
        f"and its margin net of refunds by {net[0]} USD (90% CI {net[1]} to {net[2]} USD), below "
        "the 80,000 USD it spent there, so at that margin google shopping loses money on Footwear."
    ) in text
    # a cell whose margin covers its spend is not said to lose money
    assert text.count("loses money") == 1
    (claim,) = check_claims(
        "Google shopping loses money on Footwear.", [analysis_from_proto(proto)]
    )
    assert claim.verdict is Verdict.SUPPORTED


@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.value)
def test_a_margin_whose_interval_reaches_the_spend_is_not_said_to_lose_money(
    audience: Audience,
) -> None:
    proto = stored()
    (cell,) = [c for c in proto.products.cells
               if (c.channel, c.category) == ("google_shopping", "Footwear")]  # fmt: skip
    cell.spend.amount = 60_000.0  # above the point (42,043), below the upper end (68,497)
    text = assert_grounded(proto, audience).text
    assert (
        "below the 60,000 USD it spent there on the point estimate, but its interval reaches that "
        "spend, so it is not established that google shopping loses money on Footwear."
    ) in text
    assert "loses money on Footwear." in text and text.count("so at that margin") == 0
    (claim,) = check_claims(
        "Google shopping loses money on Footwear.", [analysis_from_proto(proto)]
    )
    assert claim.verdict is Verdict.UNSUPPORTED and "includes the spend" in claim.reason


def test_the_explanations_margin_is_the_product_views() -> None:
    """One figure on both surfaces: every cell's margin in the explanation's evidence is the
    product view's margin net of refunds (mesh.report.products.net_margin), to the last digit."""
    from mesh.report.products import net_margin, refund_rates

    proto = stored()
    r = proto.products
    rates = refund_rates(r)
    assert any(v > 0 for v in rates.values())
    margins = {
        (e.role.channel, e.role.category): e
        for e in analysis_from_proto(proto).effects
        if e.role is not None and e.role.kind == "cell" and e.outcome == "margin"
    }
    cells = [c for c in r.cells if c.spend.amount > 0]
    assert cells and len(margins) == len(cells)
    for c in cells:
        view = net_margin(c, rates)
        e = margins[(c.channel, c.category)]
        assert (e.point, e.lower, e.upper) == (view.estimate, view.lower, view.upper)
