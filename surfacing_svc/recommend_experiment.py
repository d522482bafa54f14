"""Recommend's *test it* action: for a channel the model could not identify, or one whose
identification is at risk where the draws asked for more spend (the rules are in
:mod:`surfacing_svc.recommend`'s docstring)."""

from __future__ import annotations

import math

from surfacing_svc.actions import Action, ActionKind, Fact, Units
from surfacing_svc.curves import HillCurve
from surfacing_svc.design import ExperimentDesign
from surfacing_svc.design.power import power_at
from surfacing_svc.intervals import Interval

__all__ = ["testing_action"]


def testing_action(
    c: HillCurve,
    level: float,
    design: ExperimentDesign | None,
    instead: Action | None = None,
    risk: str = "",
    value_per_outcome: float = 1.0,
    units: Units | None = None,
) -> Action:
    """*Test it*: for a channel the model could not identify, or (``instead`` the scale the
    draws asked for, ``risk`` why it is not acted on) one whose identification is at risk."""
    spend = c.reference_spend
    if instead is None:
        facts = [
            Fact("current_spend", None, f"{c.channel} spends {spend:,.0f} over {c.period_days} days"),
            Fact("identification", None, f"its effect is not identified: {c.note or 'no reason given'}"),
        ]  # fmt: skip
        why = (f"the analysis could not identify {c.channel}'s effect, so no budget move on it "
               "can be justified; an experiment measures it directly")  # fmt: skip
    else:
        facts = [
            *instead.facts,
            Fact("identification", None, f"its identification is at risk: {risk}"),
        ]
        why = (f"the model's draws ask to {instead.action} (impact "
               f"{instead.impact.text('{:+,.0f}')}, gaining in {instead.confidence:.0%} of them), "
               f"but {risk}; so more spend on it is not recommended on the model's word: an "
               "experiment measures its effect directly (a cut or a hold would stand: the bias "
               "inflates the effect)")  # fmt: skip
    # What is at stake: the test may show the spend is wasted (a cut saves up to all of it) or
    # that it pays (worth scaling); the model cannot say which, so no point estimate either way.
    unknown = Interval(0.0, -spend, spend, level)
    action = f"test {c.channel} with a geo experiment before moving its budget"
    confidence = math.nan  # no design, no power: unknown rather than a coin's 50%
    if design is not None:
        cell = design.cells[0]
        point = cell.recommended
        action = (
            f"test {c.channel}: {cell.spec.kind.value.replace('_', '-')} in "
            f"{len(cell.treatment_geos)} geos against {len(design.control_geos)} for "
            f"{point.duration_days} days"
        )
        # The test's question is whether the spend pays for itself: its power at the
        # break-even return (outcome worth the spend) is how likely it is to answer it.
        break_even = 1.0 / value_per_outcome
        lift = break_even * point.spend_change / (cell.daily_outcome * point.duration_days)
        confidence = power_at(lift, point.noise, design.alpha)
        # Returns in the outcome's units per unit of spend: a conversion's are small figures.
        roas = (f"{{:.3g}} {units.per_spend()}" if units is not None and units.valued
                else "{:.2f}")  # fmt: skip
        facts.append(
            Fact(
                "design",
                None,
                f"the test detects a {point.mde_lift:.1%} change in outcome with "
                f"{design.target_power:.0%} power (an iROAS of "
                f"{roas.format(point.min_detectable_roas)} or more), and has {confidence:.0%} "
                f"power against a channel that just pays for itself (iROAS "
                f"{roas.format(break_even)}): the confidence"
                + ("" if cell.feasible else f"; {cell.reason}"),
            )
        )
    return Action(
        ActionKind.TEST, c.channel, action, why, unknown, confidence, tuple(facts), spend, spend,
        design,
    )  # fmt: skip
