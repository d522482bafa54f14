"""R6-F13: a cell whose incremental margin is below its spend read as profitable ("raised
Outerwear revenue by 2,922,851 …, and its margin by 1,279,390" on a spend of 1,536,983). The
explanation now says the margin is below the spend, citing the spend."""

from __future__ import annotations

import pytest

from llm_svc.evidence import Audience
from tests.llm.test_products import assert_grounded, stored


@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.value)
def test_a_cell_whose_margin_is_below_its_spend_says_it_loses_money(audience: Audience) -> None:
    proto = stored()
    (cell,) = [c for c in proto.products.cells
               if (c.channel, c.category) == ("google_shopping", "Footwear")]  # fmt: skip
    assert cell.incremental_margin.lower > 0  # an established margin, 43,687
    cell.spend.amount = 60_000.0
    text = assert_grounded(proto, audience).text
    assert (
        "and its margin by 43,687 (90% CI 16,199 to 71,175), below the 60,000 it spent there, "
        "so at that margin google shopping loses money on Footwear."
    ) in text
    # a cell whose margin covers its spend is not said to lose money
    assert text.count("loses money") == 1
