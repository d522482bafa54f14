"""TikTok's purchases (audit R15-F8): ``conversion`` counts the campaign's optimisation event
(landing-page views for a traffic campaign), not purchases. Without ``complete_payment`` the
row's purchases are unknown, not the 350 landing-page views the fallback stored."""

from __future__ import annotations

import copy

import sim
from ingestion_svc import connectors
from ingestion_svc.connectors.tiktok import NO_PURCHASES
from tests.ingestion.conftest import account_of, clean_line, dumps, raw_batch


def test_conversion_without_complete_payment_is_not_purchases(world: sim.SimResult) -> None:
    paid = copy.deepcopy(clean_line(world, "tiktok"))
    paid["metrics"].update(conversion="9", complete_payment="9", total_complete_payment_rate="540")
    traffic = copy.deepcopy(paid)
    traffic["metrics"]["objective_type"] = "TRAFFIC"
    traffic["metrics"]["conversion"] = "350"
    del traffic["metrics"]["complete_payment"], traffic["metrics"]["total_complete_payment_rate"]
    rows = [dumps(r) for r in (paid, traffic)]
    out = connectors.normalise(raw_batch("tiktok", rows, account_of(world, "tiktok")))
    f = out.frame
    assert not out.rejections
    assert f["conversions"].tolist() == [9.0, 0.0] and f["revenue"].tolist() == [540.0, 0.0]
    assert f["outcome_reported"].tolist() == [True, False]
    assert f["note"].tolist() == ["", NO_PURCHASES]
    assert f["spend"].iloc[1] == float(paid["metrics"]["spend"])  # the spend still lands
