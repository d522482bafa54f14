"""The recommendations' table: each row's action, why, expected impact and what its
confidence figure measures."""

from __future__ import annotations

import math

from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.report._format import enum_name, esc, interval_cell, prose
from mesh.report._page import table
from mesh.report._warnings import names_channel, warning_mark

_R = surfacing_pb
_GAINS = "share of the model's draws in which the move gains"
# One column, several meanings: each cell says what its figure is (R6-F4: a hold's 89% is the
# model at its least sure, read as "89% sure holding is right").
_CONFIDENCE_WHAT = {
    _R.RECOMMENDATION_KIND_INCREASE_BUDGET: _GAINS,
    _R.RECOMMENDATION_KIND_DECREASE_BUDGET: _GAINS,
    _R.RECOMMENDATION_KIND_REALLOCATE: _GAINS,
    _R.RECOMMENDATION_KIND_SHIFT_PRODUCT_SPEND: _GAINS,
    _R.RECOMMENDATION_KIND_STOP_PROMOTION: _GAINS,
    _R.RECOMMENDATION_KIND_CUT_PRODUCT_SPEND: _GAINS,
    _R.RECOMMENDATION_KIND_RUN_EXPERIMENT: "the test's power against a channel that just pays "
    "for itself",
    _R.RECOMMENDATION_KIND_HOLD: "how evenly the draws split on more spend: 100% is a coin "
    "flip (the model cannot tell), not certainty that holding is right",
}
# The kinds whose impact is a budget move's change in value · outcome − spend.
_BUDGET_KINDS = (_R.RECOMMENDATION_KIND_INCREASE_BUDGET, _R.RECOMMENDATION_KIND_DECREASE_BUDGET,
                 _R.RECOMMENDATION_KIND_REALLOCATE, _R.RECOMMENDATION_KIND_HOLD,
                 _R.RECOMMENDATION_KIND_RUN_EXPERIMENT)  # fmt: skip


def _confidence_cell(r: surfacing_pb.Recommendation) -> str:
    if math.isnan(r.confidence):
        return "—"
    what = _CONFIDENCE_WHAT.get(r.kind, "")
    return f"{r.confidence:.0%}" + (f'<span class="ci">{esc(what)}</span>' if what else "")


def _row_marks(r: surfacing_pb.Recommendation, warned: dict[str, list[int]]) -> str:
    """The warning markers of a recommendation's row: its channel's, or for a row about
    several channels (a reallocation) each warned channel its action names."""
    if r.channel:
        return warning_mark(warned.get(r.channel, []))
    return "".join(warning_mark(n, ch) for ch, n in warned.items() if names_channel(r.action, ch))


def recommendations_table(
    response: surfacing_pb.RecommendResponse, cur: str = "", days: int = 0,
    conversions: bool = False, warned: dict[str, list[int]] | None = None,
) -> str:  # fmt: skip
    ranked = sorted(response.recommendations, key=lambda r: r.priority)
    warned = warned or {}
    realloc = [r for r in ranked if r.kind == _R.RECOMMENDATION_KIND_REALLOCATE]
    channel_rows = [r for r in ranked if r.channel and r.kind in _BUDGET_KINDS]
    rows = [
        [
            str(r.priority),
            esc(enum_name(surfacing_pb.RecommendationKind.Name(r.kind), "RECOMMENDATION_KIND_")),
            esc(r.channel) + _row_marks(r, warned),
            ("<strong>Alternative to the per-channel rows:</strong> "
             if r in realloc and channel_rows else "") + prose(r.action),
            prose(r.rationale), interval_cell(r.expected_impact), _confidence_cell(r),
        ]
        for r in ranked
    ]  # fmt: skip
    period = f"{days} days" if days else "the analysis window"
    unit = f"{cur}, over {period}" if cur else f"over {period}"
    out = ""
    if realloc and channel_rows:
        # The rows are two plans, not one list to add up (R6-F3): the reallocation moves the
        # same total between channels, and may move a channel a per-channel row holds or moves
        # by another amount.
        nums = ", ".join(f"#{r.priority}" for r in realloc)
        out += (
            f'<p class="alternatives">{esc(nums)} (reallocate) and the per-channel rows are '
            "alternatives, not steps of one plan: the reallocation keeps the total spend and "
            "moves it between channels, so it may move a channel that a per-channel row holds "
            "or moves by another amount. Act on the reallocation or on the per-channel rows, "
            "and do not add their expected impacts.</p>"
        )
    out += table(
        [("#", True), ("Kind", False), ("Channel", False), ("Action", False), ("Why", False),
         (f"Expected impact ({unit})", True), ("Confidence (per row)", True)],
        rows,
        cls="recommendations",
    )  # fmt: skip
    if channel_rows or realloc:
        money = esc(cur) or "the spend's currency"
        value = ("the change in conversions times the value given per conversion"
                 if conversions else "the change in revenue (times the value per unit of revenue "
                 "where one was given)")  # fmt: skip
        what = "conversions' value" if conversions else "revenue"
        out += (
            f'<p class="note">Expected impact: {value} less the change in spend, over '
            f"{esc(period)}, in {money}: the mean over the model's draws, with its interval. A "
            f"cut that saves more spend than the {what} it loses shows a gain; the reallocation "
            f"keeps the total spend, so its impact is the {what} change alone; a hold's is 0, "
            "and a test's interval is ± the channel's spend (the test may show it wasted or "
            "worth more). Confidence: each cell says what its figure measures.</p>"
        )  # fmt: skip
    if response.warnings:
        out += (
            '<ul class="plain">'
            + "".join(f"<li>{prose(w)}</li>" for w in response.warnings)
            + "</ul>"
        )
    return out
