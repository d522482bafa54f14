"""Meta's purchases as the Insights API returns them (audit R15-F3): region rows carry no
off-Meta (pixel) actions at all, so a region pull with no purchase action anywhere has its
purchases unknown, not 0; purchases reported under ``omni_purchase`` or ``purchase`` are read,
one action type per row and never summed (they overlap)."""

from __future__ import annotations

import copy
from typing import Any

import sim
from ingestion_svc import connectors
from ingestion_svc.connectors.meta import UNREPORTED
from tests.ingestion.conftest import account_of, clean_line, dumps, raw_batch


def _run(world: sim.SimResult, rows: list[dict[str, Any]]) -> connectors.Normalised:
    return connectors.normalise(
        raw_batch("meta", [dumps(r) for r in rows], account_of(world, "meta"))
    )


def _row(world: sim.SimResult, actions: list[Any], values: list[Any] | None = None) -> Any:
    row = copy.deepcopy(clean_line(world, "meta"))
    row.pop("actions", None), row.pop("action_values", None)
    row["clicks"], row["impressions"] = "311", "20451"
    row["actions"] = actions
    if values is not None:
        row["action_values"] = values
    return row


def _act(kind: str, value: str, **windows: str) -> dict[str, str]:
    return {"action_type": kind, "value": value, **windows}


def test_a_region_pull_without_purchase_actions_reports_no_outcome(world: sim.SimResult) -> None:
    on_meta = [_act("link_click", "311"), _act("post_engagement", "402")]
    out = _run(world, [_row(world, on_meta), _row(world, on_meta[:1])])
    f = out.frame
    assert not out.rejections and len(f) == 2
    assert f["outcome_reported"].tolist() == [False, False]
    assert f["conversions"].tolist() == [0.0, 0.0] and f["revenue"].tolist() == [0.0, 0.0]
    assert f["note"].tolist() == [UNREPORTED] * 2


def test_a_missing_purchase_is_zero_when_the_batch_reports_purchases(world: sim.SimResult) -> None:
    bought = _row(world, [_act("offsite_conversion.fb_pixel_purchase", "3", **{"7d_click": "2",
                  "1d_view": "1"})], [_act("offsite_conversion.fb_pixel_purchase", "120.00")])  # fmt: skip
    out = _run(world, [bought, _row(world, [_act("link_click", "311")])])
    assert out.frame["outcome_reported"].tolist() == [True, True]
    assert out.frame["conversions"].tolist() == [3.0, 0.0]
    assert out.frame["note"].tolist() == ["", ""]


def test_omni_purchase_is_preferred_and_never_summed_with_the_others(
    world: sim.SimResult,
) -> None:
    windows = {"7d_click": "6", "1d_view": "3"}
    both = _row(
        world,
        [_act("omni_purchase", "9", **windows), _act("purchase", "9", **windows),
         _act("offsite_conversion.fb_pixel_purchase", "7", **{"7d_click": "5", "1d_view": "2"})],
        [_act("omni_purchase", "745.50"), _act("purchase", "745.50"),
         _act("offsite_conversion.fb_pixel_purchase", "600.00")],
    )  # fmt: skip
    legacy = _row(world, [_act("purchase", "4", **{"7d_click": "4"})], [_act("purchase", "80")])
    out = _run(world, [both, legacy])
    assert not out.rejections
    assert out.frame["conversions"].tolist() == [9.0, 4.0]
    assert out.frame["revenue"].tolist() == [745.5, 80.0]
    assert out.frame["attribution_ok"].tolist() == [True, True]
    assert out.frame["outcome_reported"].tolist() == [True, True]


def test_a_bad_purchase_count_names_its_action_type(world: sim.SimResult) -> None:
    good = _row(world, [_act("omni_purchase", "2", **{"7d_click": "2"})])
    bad = _row(world, [_act("omni_purchase", "two")])
    out = _run(world, [good, bad])
    assert out.frame["row"].tolist() == [0]
    (r,) = out.rejections
    assert (r.row_index, r.field, r.reason) == (1, "actions[omni_purchase].value", "invalid_number")
