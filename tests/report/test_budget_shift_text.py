"""The report's budget shift (R5-F6): a plan better in none of the model's draws reads "no
reallocation beats the current mix", not float noise as an uplift "better in 74% of draws";
amounts carry their unit; beside the recommendations it says why the two can differ."""

from __future__ import annotations

from html import unescape

from liftos.v1 import common_pb2 as common_pb

from mesh.report import render_report
from tests.report import companions


def _budget_text(html: str) -> str:
    section = html[html.index('id="budget"') :]
    return unescape(section[: section.index("</section>")])


def test_a_plan_better_in_no_draw_is_no_reallocation() -> None:
    analysis = companions.attribution_analysis()
    tie = companions.budget(analysis, shift=0.0)
    tie.probability_better = 0.0
    tie.uplift.estimate = tie.uplift.lower = tie.uplift.upper = 0.0
    tie.shadow_price = 0.326
    text = _budget_text(render_report(analysis, budget=tie))
    assert "no reallocation beats the current mix within this model's uncertainty" in text
    assert "better than the current allocation" not in text and "expected uplift" not in text
    assert "one more USD of budget would add 0.326 USD" in text
    # R10-F15: what a larger total buys through OptimizeBudget, whose default bound grows with it.
    assert "with each channel's bounds as OptimizeBudget sets them at that budget" in text
    assert "recommendations above" not in text  # no recommendations on this page


def test_a_real_shift_gives_its_uplift_in_money_and_why_it_differs_from_the_cuts() -> None:
    analysis = companions.attribution_analysis()
    budget = companions.budget(analysis)
    text = _budget_text(render_report(
        analysis, budget=budget, recommendations=companions.recommendations(analysis)))  # fmt: skip
    assert "better than the current allocation in 91% of the model's draws" in text
    expected = text[text.index("expected uplift") :]
    assert expected.split(")")[0].count("USD") == 2  # the estimate and its bounds, each in USD
    assert "may change the total spend" in text and "keeps the total" in text


def test_a_conversions_plan_is_in_conversions() -> None:
    analysis = companions.attribution_analysis()
    budget = companions.budget(analysis)
    budget.outcome = common_pb.OUTCOME_METRIC_CONVERSIONS
    text = _budget_text(render_report(analysis, budget=budget))
    assert "conversions (" in text and "of budget would add 1.40 conversions" in text
