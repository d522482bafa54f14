"""A promotion whose category keeps less than half its lift "mostly cannibalises", and the verdict
says what the category still gained (it said "ONLY CANNIBALISES" beside Recommend's "the
category gained 569,639 USD net"); `liftos products --top` must list at least one."""

from __future__ import annotations

import pytest

from mesh.cli.commands import build_parser
from mesh.report.products import Promotion


def test_the_verdict_states_the_net_category_gain() -> None:
    taken = Promotion("p1", "shoes", lift=1_000_000.0, cannibalised=600_000.0, halo=69_639.0,
                      victims=("p2",))  # fmt: skip
    assert taken.mostly_cannibalises and taken.net == pytest.approx(469_639.0)
    assert taken.verdict("USD") == (
        "mostly cannibalises (the category gained 469,639 USD net, 47% of the lift)"
    )
    # the audit's case: half the lift taken from a sibling, but the halo leaves the category
    # 80% of it — not "mostly cannibalises" (the share taken alone said it was)
    audited = Promotion("p5", "bottoms", lift=407_644.0, cannibalised=207_590.0,
                        halo=127_030.0, victims=("p6",))  # fmt: skip
    assert audited.share > 0.5 and not audited.mostly_cannibalises
    fair = Promotion("p3", "shoes", lift=1_000_000.0, cannibalised=200_000.0, halo=0.0,
                     victims=("p4",))  # fmt: skip
    assert not fair.mostly_cannibalises and fair.verdict("USD") == "adds net revenue"


@pytest.mark.parametrize("top", ["0", "-1"])
def test_products_top_must_list_at_least_one(top: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["products", "an-1", "--top", top])
    assert "must be at least 1" in capsys.readouterr().err
