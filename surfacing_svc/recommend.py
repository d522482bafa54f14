"""``recommend``: ranked actions from an attribution model — scale, cut, hold, reallocate, or
test — each with its expected impact and interval, a confidence, and the facts it rests on.

Per identified channel, the model's draws of the marginal return at current spend decide:
with ``v`` the value of one unit of outcome (1 for revenue; the margin for profit), a channel
is worth more spend when ``v · f'(s) > 1`` in at least ``CONFIDENT`` of the draws (*scale*),
worth less when ``v · f'(s) < 1`` in at least that share (*cut*), and otherwise *held*: the
data cannot tell which way to move it. *Reallocate* is the optimiser's move at equal total
spend, when it beats the current mix in ``CONFIDENT`` of the draws.

Every budget move is OptimizeBudget's own answer under its default bound (no channel moves
more than ``±max_change`` of its current spend, ``optimizer.change_bounds``), so the two RPCs
never disagree on one analysis: scale and cut move the channel to its spend in the
optimiser's target-efficiency mode at the break-even return ``1 / v`` (OptimizeBudget with
``target_marginal_roas = 1 / v``); reallocate is its allocation of the current total
(OptimizeBudget with ``total_budget`` = the current spend). A move's impact is the change in
``v · outcome − spend``, per draw.

A channel whose effect was not identified, or whose estimate failed its checks, is never
given a budget move: it gets *test it*, with a proposed geo experiment when one was designed.
Its impact is zero with an interval of ± its spend (the test may show the spend wasted or
worth scaling; the model cannot say which); it ranks after every move that improves the
objective.

A channel the analysis did not establish (its own interval of the incremental outcome
includes zero: its test of no effect did not reject) is never *scaled*, whatever the draws of
the curve say: more spend on it would bet on an effect the analysis could not tell from none.
It is held, and the hold says so; nor does the reallocation raise it (nor OptimizeBudget:
``unproven_bounds``; a cut stands), and its facts say why. Its facts quote the analysis's own estimate and interval
(what ``analyze`` shows), and the curve draws' mean separately, labelled as such: the two
differ where the draws are skewed (a mean of Hill curves over uncertain parameters).

A channel whose identification the analysis itself puts at risk is never given *more* spend
on the model's word alone (:func:`identification_at_risk`). The analysis measures, over its
window, how often paid budgets moved with demand (its budget-response finding: the share of
geo-days on which demand moved budgets by >= 25%). Where budgets chase demand, the model can
credit that demand to the media, and its draws then overstate the channel's return (on the
simulator's ``confounded`` world with 10 geos, 41% of geo-days flagged, Meta prospecting read
2.5x its true effect and would have been scaled at 96% confidence, a move that truly loses
money). So when at least :data:`DEMAND_CHASE_SHARE` of the geo-days are flagged, every channel
with spend that no lift test calibrates in the analysis is *at risk*: where the draws say
*scale*, it gets *test it* instead (with a proposed experiment, the unidentified channel's
route), and the reallocation may not raise its spend (OptimizeBudget at the same total with
``max_ratio = 1`` on it). A *cut* or a *hold* stands: the bias that demand-chasing budgets
cause inflates the effect, so a cut the inflated draws already support is, if anything,
understated; the move's facts name the risk. A channel calibrated by a lift test is exempt:
the experiment, not the budgets' variation, anchors its effect. The threshold sits between the
simulator's ``demo`` worlds (4-6% over seeds 0-2 and 3-20 geos: a few national holiday days,
which the model's day effects absorb) and ``confounded`` (31-41% over seeds 3-4 and 10-40
geos). The finding is read from the analysis's warnings (the
AttributionResult has no structured field for it; a ``budget_response`` health check with its
share as value is read first, should the causal service add one). The finding names no
channel, so channels whose sends follow a calendar (Klaviyo SMS), which it does not flag, are
held to the rule too. OptimizeBudget is unchanged: it answers the question asked of the
curves; Recommend is what acts on them.

A channel whose registered experiment runs, or has ended without its result recorded, in or
near the analysis window is *held* whatever the draws say, naming the test and its read-out
(:mod:`surfacing_svc.registered_holds`, R42-F1); the reallocation does not move it either.

A test, or a hold of a channel not established or at risk, carries the value of testing it
(:mod:`surfacing_svc.test_value`: what knowing its response adds to the reallocation over the
draws); tests rank among themselves by it. It is a fact, not the test's impact: an upper bound
before the test's cost, for a plan that is the reallocation's (its gain would count twice).

Actions are ranked by expected impact (objective units over the horizon). A move's
``confidence`` is the share of the model's draws in which it improves the objective (a
test's: the proposed experiment's power against a channel that just pays for itself, the
effect the test exists to tell from zero, NaN where no experiment was designed; a hold's: how
evenly the draws split).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from surfacing_svc.actions import Action, ActionKind, AnalysisEffect, Fact, Units
from surfacing_svc.curves import HillCurve
from surfacing_svc.design import ExperimentDesign
from surfacing_svc.errors import NotAnAttribution
from surfacing_svc.intervals import Interval
from surfacing_svc.optimizer import (
    DEFAULT_MAX_CHANGE,
    DEFAULT_RISK,
    BudgetPlan,
    ChannelBounds,
    ChannelPlan,
    Objective,
    change_bounds,
    optimize_budget,
)
from surfacing_svc.recommend_experiment import testing_action
from surfacing_svc.registered_holds import hold_for_test
from surfacing_svc.spend_moves import same_spend
from surfacing_svc.test_value import InformationValue, information_values, value_order, with_value
from surfacing_svc.usual_spend import RegisteredTest

__all__ = [
    "CONFIDENT", "DEMAND_CHASE_SHARE", "Action", "ActionKind", "AnalysisEffect", "Fact",
    "RecommendPlans", "Units", "draws_lean", "identification_at_risk", "over_draws", "ranked",
    "recommend", "recommend_plans", "share_up", "unproven_channels", "with_counterfactual",
]  # fmt: skip

# Share of draws that must agree before the model's answer is acted on.
CONFIDENT = 0.8
# Share of geo-days on which paid budgets moved with demand from which more spend on a channel
# needs a lift test behind it (see the module docstring).
DEMAND_CHASE_SHARE = 0.10
# A reallocation worth less than this share of the current outcome is not worth the churn.
_MIN_REALLOCATION_GAIN = 0.005
# Why the reallocation holds a channel the analysis did not establish at its current spend.
_UNPROVEN = (
    "the analysis did not establish its effect (its interval of the incremental outcome "
    "includes zero): more spend on it would bet on an effect the analysis could not tell from "
    "none; a geo experiment (liftos design) would measure it"
)


def _table_facts(effect: AnalysisEffect, units: Units) -> list[Fact]:
    """The analysis's own figures of the channel, as ``analyze`` shows them."""
    over = f"over the analysed {effect.period_days} days"
    if effect.established:
        text = f"the analysis estimates it added {effect.incremental.text('{:,.0f}')} of outcome {over}"
    else:
        text = (f"the analysis does not establish that it added anything {over}: its estimate "
                f"is {effect.incremental.text('{:,.0f}')}, an interval that includes zero (its test of no "
                "effect did not reject)")  # fmt: skip
    out = [Fact("incremental_outcome", effect.incremental, text)]
    if effect.roas is not None:
        out.append(Fact("incremental_roas", effect.roas,
                        f"the analysis's incremental return per unit of spend: "
                        f"{units.table(effect.roas)}"))  # fmt: skip
    return out


def _channel_facts(
    c: HillCurve, units: Units, level: float, effect: AnalysisEffect | None = None
) -> tuple[Fact, ...]:
    value = units.value
    m = Interval.from_draws(c.marginal(c.reference_spend) * value, level)
    out = Interval.from_draws(c.outcome(c.reference_spend), level)
    avg = out * (1.0 / c.reference_spend)
    # The curve's figures are means over the model's parameter draws (what the moves are
    # computed on); the table's point estimate can differ a lot, so each is labelled.
    draws = "the mean over the model's parameter draws, with their interval"
    if effect is not None:
        table = _table_facts(effect, units)
        curve = [Fact("incremental_outcome_draws", out,
                      f"on the response curve the moves are computed on, its outcome at current "
                      f"spend is {out.text('{:,.0f}')}: {draws}, not the analysis's estimate")]  # fmt: skip
    else:
        table = []
        curve = [
            Fact("incremental_outcome", out, f"it adds {out.text('{:,.0f}')} of outcome ({draws})"),
            Fact("incremental_roas", avg, f"incremental return per unit of spend "
                 f"{units.table(avg)} ({draws})"),
        ]  # fmt: skip
    return (
        Fact(
            "current_spend",
            None,
            f"{c.channel} spends {c.reference_spend:,.0f} over {c.period_days} days",
        ),
        *table,
        *curve,
        Fact(
            "marginal_roas",
            m,
            f"the next unit of spend returns {m.text('{:.2f}')} ({draws}, the planning curve; "
            + (f"valued {units.at()}" if units.valued else f"value per unit of outcome {value:g}")
            + "; break-even is 1)"
            + (
                f"; the analysis's table shows mROAS {units.table(effect.marginal)}, "
                "its point fit, which the plans are not computed on"
                if effect is not None and effect.marginal is not None
                else ""
            ),
        ),
    )


def break_even_plan(
    curves: Sequence[HillCurve], value: float, level: float, max_change: float
) -> BudgetPlan:
    """The optimiser's target-efficiency answer at the break-even return: each channel at the
    spend where ``value · f'`` meets one, within its default bound (OptimizeBudget with
    ``target_marginal_roas = 1 / value``)."""
    return optimize_budget(
        curves, objective=Objective.REVENUE, budget=None, target_roas=1.0 / value,
        bounds=change_bounds(curves, max_change, None), level=level,
    )  # fmt: skip


def equal_budget_plan(
    curves: Sequence[HillCurve], level: float, max_change: float, risk: float = DEFAULT_RISK,
    capped: Collection[str] = (),
) -> BudgetPlan:  # fmt: skip
    """The optimiser's allocation of the current total under the default bound and risk
    adjustment (OptimizeBudget with ``total_budget`` = the current spend and no constraint;
    the ``capped`` channels, whose identification is at risk or whose effect the analysis did
    not establish, with ``max_ratio = 1``)."""
    total = float(sum(c.reference_spend for c in curves))
    field = "not raised by Recommend"
    bounds = [
        replace(b, upper=min(b.upper or math.inf, _spend(curves, b.channel)), field=field)
        if b.channel in capped else b
        for b in change_bounds(curves, max_change, total)
    ]  # fmt: skip
    # Without the default bound (max_change 0), a capped channel still gets its ceiling.
    named = {b.channel for b in bounds}
    bounds += [ChannelBounds(c.channel, None, c.reference_spend, field=field)
               for c in curves if c.channel in capped and c.channel not in named and c.identified]  # fmt: skip
    return optimize_budget(
        curves, objective=Objective.REVENUE, budget=total, bounds=bounds, level=level, risk=risk,
    )  # fmt: skip


def _spend(curves: Sequence[HillCurve], channel: str) -> float:
    return next(c.reference_spend for c in curves if c.channel == channel)


def identification_at_risk(
    curves: Sequence[HillCurve], flagged_share: float | None, calibrated: Collection[str] = (),
    omitted: str = "",
) -> dict[str, str]:  # fmt: skip
    """Channel -> why more spend on it needs an experiment first: every identified channel
    with spend that no lift test calibrates, once the analysis flagged at least
    :data:`DEMAND_CHASE_SHARE` of its geo-days for budgets moving with demand (None: the
    analysis did not assess it), or when it left channels with spend out of its model
    (``omitted``: its omitted_channels check's words; their effect can be credited to the
    channels modelled). Empty otherwise."""
    if omitted:

        def why(ch: str) -> str:
            return (f"the analysis left channels out of its model ({omitted}), so its draws "
                    f"may credit their effect to {ch}")  # fmt: skip
    elif flagged_share is not None and flagged_share >= DEMAND_CHASE_SHARE:

        def why(ch: str) -> str:
            return (
                f"the analysis found paid budgets moving with demand on {flagged_share:.0%} of "
                f"its geo-days (its budget-response finding; {DEMAND_CHASE_SHARE:.0%} or more "
                "puts its identification at risk): where budgets chase demand the model can "
                f"credit that demand to the media, so its draws may overstate {ch}'s return"
            )
    else:
        return {}
    return {
        c.channel: f"{why(c.channel)}, and no lift test calibrates {c.channel} in this analysis"
        for c in curves
        if c.identified and c.channel not in calibrated
    }


def refuse_spend_in_doubt(analysis_id: str, doubt: str) -> None:
    """Refuse to recommend from an analysis whose spend_scale check doubts a channel's unit
    (cents, micros): every channel's estimate then carries the error, so a cut or a scale read
    from it is not a finding (audit R18 #1: every channel 'cut' at confidence 100%)."""
    if doubt:
        raise NotAnAttribution(
            f"analysis {analysis_id!r} doubts a channel's spend unit ({doubt}), and every "
            "channel's estimate carries that error: no budget move is recommended from it; "
            "fix the spend's unit at ingest and run the analysis again",
            subject="analysis",
            reason="SPEND_UNIT_IN_DOUBT",
        )


def _mroas_words(c: HillCurve, units: Units, effect: AnalysisEffect | None) -> str:
    """The two next-unit returns side by side: the planning curve's mean over the draws (what
    the move is decided on) and, where given, the analysis table's point-fit mROAS (what
    ``analyze`` shows); they differ where the draws are skewed, even across break-even."""
    mean = float(np.mean(c.marginal(c.reference_spend) * units.value))
    out = (f"{units.at()}: " if units.valued else "") + f"planning curve mean mROAS {mean:.2f}"
    if effect is not None and effect.marginal is not None:
        table = effect.marginal * units.value
        shown = (f" ({effect.marginal.estimate:.3g} {units.per_spend()} as the table shows it)"
                 if units.valued else "")  # fmt: skip
        out += (f", the analysis table's point-fit mROAS {table.estimate:.2f}{shown}, which the "
                "plans are not computed on")  # fmt: skip
    return out


def share_up(c: HillCurve, value: float) -> float:
    """Share of the draws in which the next unit of spend on ``c`` returns more than it costs."""
    return float(np.mean(c.marginal(c.reference_spend) * value > 1.0))


def draws_lean(c: HillCurve, value: float) -> ActionKind:
    """The move the draws alone agree on at current spend (SCALE or CUT: at least
    :data:`CONFIDENT` of them; else HOLD), before a hold for an unestablished effect, a test for
    a channel at risk or a hold for a registered test overrides it: :func:`_move`'s rule."""
    if share_up(c, value) >= CONFIDENT:
        return ActionKind.SCALE
    # (not 1 − p_up: 1 − 0.8 < 0.2 in floats)
    down = float(np.mean(c.marginal(c.reference_spend) * value < 1.0))
    return ActionKind.CUT if down >= CONFIDENT else ActionKind.HOLD


def _move(
    c: HillCurve, planned: ChannelPlan, units: Units, level: float,
    effect: AnalysisEffect | None = None,
) -> Action:  # fmt: skip
    s0 = c.reference_spend
    value = units.value
    p_up = share_up(c, value)
    lean = draws_lean(c, value)
    facts = _channel_facts(c, units, level, effect)
    if lean is ActionKind.SCALE and effect is not None and not effect.established:
        return Action(
            ActionKind.HOLD, c.channel, f"hold {c.channel} at its current spend",
            f"the next unit of spend on {c.channel} returns more than it costs in {p_up:.0%} of "
            f"the model's draws ({_mroas_words(c, units, effect)}), but the analysis did not establish that it has any effect "
            "(its interval of the incremental outcome includes zero), so more spend on it is "
            "not recommended; a geo experiment (liftos design) would measure it; the "
            "confidence is how evenly the draws split",
            Interval.exact(0.0, level), 1.0 - abs(2 * p_up - 1.0), facts, s0, s0,
        )  # fmt: skip
    p_down = float(np.mean(c.marginal(s0) * value < 1.0))
    if lean is ActionKind.HOLD:
        return Action(
            ActionKind.HOLD, c.channel, f"hold {c.channel} at its current spend",
            f"the model cannot tell whether more spend on {c.channel} pays: the next unit "
            f"returns more than it costs in {p_up:.0%} of its draws "
            f"({_mroas_words(c, units, effect)}; hold is about break-even: a "
            "reallocation at the same total compares channels with one another and may still "
            "move it); the confidence is how evenly the draws split",
            Interval.exact(0.0, level), 1.0 - abs(2 * p_up - 1.0), facts, s0, s0,
        )  # fmt: skip
    kind = lean
    # The optimiser's break-even spend, on the side the draws agree on.
    target = (max if kind is ActionKind.SCALE else min)(planned.optimal_spend, s0)
    gain = value * (c.outcome(target) - c.outcome(s0)) - (target - s0)
    impact = Interval.from_draws(gain, level)
    change = (target - s0) / s0
    verb = "raise" if kind is ActionKind.SCALE else "cut"
    share = p_up if kind is ActionKind.SCALE else p_down
    why = (
        f"the next unit of spend on {c.channel} returns "
        f"{'more' if kind is ActionKind.SCALE else 'less'} than it costs in {share:.0%} of the "
        f"model's draws ({_mroas_words(c, units, effect)})"
    )
    bound = planned.upper_bound if kind is ActionKind.SCALE else planned.lower_bound
    if planned.bound.value != "none" and abs(target - bound) <= 1e-6 * max(s0, 1.0):
        why += (
            f"; the step stops at {target:,.0f}, OptimizeBudget's default bound (±"
            f"{abs(bound / s0 - 1):.0%} of current spend): beyond it the curve is "
            "extrapolation, and the break-even spend lies further"
        )
    else:
        why += f"; at {target:,.0f} its marginal return meets break-even"
    confidence = float(np.mean(gain > 0))
    why += (f"; the move changes the objective by {impact.text('{:+,.0f}')}, the mean over the "
            f"model's draws, and gains in {confidence:.0%} of them: its confidence")  # fmt: skip
    return Action(
        kind, c.channel, f"{verb} {c.channel} spend by {abs(change):.0%} to {target:,.0f}",
        why, impact, confidence, facts, s0, target,
    )  # fmt: skip


def _reallocation(
    plan: BudgetPlan, value: float, at_risk: Sequence[str] = (), unproven: Sequence[str] = (),
    draws: int = 0,
) -> Action | None:  # fmt: skip
    if sum(not p.held for p in plan.channels) < 2:
        return None
    total = plan.budget
    uplift = plan.uplift * value
    if plan.probability_better < CONFIDENT or uplift.estimate < _MIN_REALLOCATION_GAIN * abs(
        plan.current_outcome.estimate * value
    ):
        return None
    moves = sorted(
        (p for p in plan.channels if not p.held and abs(p.optimal_spend - p.current_spend) > 0.01 * total),
        key=lambda p: p.optimal_spend - p.current_spend,
    )  # fmt: skip
    if not moves:
        return None
    words = ", ".join(f"{p.channel} {p.current_spend:,.0f} → {p.optimal_spend:,.0f}" for p in moves)
    facts = tuple(
        Fact(
            f"proposed_spend[{p.channel}]",
            Interval.exact(p.optimal_spend, plan.uplift.level),
            f"{p.channel}: {p.current_spend:,.0f} → {p.optimal_spend:,.0f}"
            + (f" (held at its {p.bound.value} bound)" if p.bound.value != "none" else ""),
        )
        for p in moves
    ) + tuple(
        Fact(
            f"marginal_roas[{p.channel}]",
            p.marginal_current,
            f"{p.channel}: marginal return {p.marginal_current.estimate:.2f} now, "
            f"{p.marginal_optimal.estimate:.2f} after",
        )
        for p in moves
    )
    # Channels the reallocation may not raise, and why: their facts say so where they are
    # held at current spend (a cut of one stands; it is named among the moves).
    reasons = {ch: "its identification is at risk (budgets moved with demand)" for ch in at_risk}
    reasons.update({ch: _UNPROVEN for ch in unproven if ch not in reasons})
    facts += tuple(
        Fact(f"held[{p.channel}]", Interval.exact(p.optimal_spend, plan.uplift.level),
             f"{p.channel}: not raised above its current spend {p.current_spend:,.0f}, as "
             f"{reasons[p.channel]}" + (f"; the reallocation cuts it to {p.optimal_spend:,.0f}"
                                       if p.optimal_spend < p.current_spend * 0.99 else ""))
        for p in plan.channels if p.channel in reasons and not p.held
    )  # fmt: skip
    bound = any(p.bound.value != "none" for p in moves)
    return Action(
        ActionKind.REALLOCATE, "", f"reallocate at the same total spend: {words}",
        f"moving budget to where the next unit returns most raises the outcome by "
        f"{plan.uplift.estimate:,.0f} [{plan.uplift.lower:,.0f}, {plan.uplift.upper:,.0f}] at "
        f"equal spend: {over_draws(draws, plan.uplift.level)}, higher in "
        f"{plan.probability_better:.0%} of them; OptimizeBudget's "
        f"allocation at this total (its default bound, {_risk_words(plan.risk)}; neither raises a "
        "channel the analysis did not establish)"
        # OptimizeBudget answers the curves and may raise a channel at risk: said, with the
        # request that gives this plan (R6-F1).
        + (f", with {', '.join(at_risk)} also kept at or below current spend, which "
           f"OptimizeBudget does only when asked (--bound CHANNEL={1 - DEFAULT_MAX_CHANGE:g}:1 "
           "each)" if at_risk else "")
        + (" (channels held at its default bound are named)" if bound else "")
        + (f"; not raised above current spend, as their identification is at risk (budgets "
           f"moved with demand): {', '.join(at_risk)}" if at_risk else "")
        + (f"; not raised above current spend, as the analysis did not establish their effect "
           f"(its interval of the incremental outcome includes zero): {', '.join(unproven)}"
           if unproven else ""),
        uplift, plan.probability_better, facts, total, total,
        # Only the channels the plan moves: one left at its spend adds nothing to the
        # Counterfactual but, unestablished, would widen its interval (R20-F5).
        spends=tuple((p.channel, p.optimal_spend) for p in plan.channels
                     if not p.held and not same_spend(p.optimal_spend, p.current_spend)),
    )  # fmt: skip


def over_draws(draws: int, level: float) -> str:
    """What a planning gain is: the mean and interval over the analysis's draws, not the
    point fit Counterfactual evaluates (R10-F5: one reallocation read +1.58M [0.11M, 3.19M]
    here and +2.11M [-7k, 4.13M] from Counterfactual, and neither said why)."""
    n = f"{draws} " if draws else ""
    return (f"the mean and {level:.0%} interval over the analysis's {n}posterior draws of the "
            "response curves (Counterfactual on the same spends reads the analysis's point fit, "
            "with its own interval, so its figure differs)")  # fmt: skip


def with_counterfactual(action: Action, delta: Interval, value: float) -> Action:
    """The reallocation with Counterfactual's answer for its spends beside its own: the change
    of outcome (× ``value``) on the analysis's point fit."""
    said = (delta * value).text("{:+,.0f}")
    return replace(
        action,
        rationale=f"{action.rationale}; Counterfactual on the same spends: {said}",
        facts=(*action.facts, Fact("counterfactual_delta", delta * value,
                                   f"Counterfactual on the same spends (the analysis's point fit, "
                                   f"with its own interval and test of no effect): {said}")),
    )  # fmt: skip


def _risk_words(risk: float) -> str:
    if risk > 0:
        return f"risk weight {risk:g} (its mean gain less {risk:g} sd of the gain over draws)"
    return "risk weight 0 (the posterior-mean gain)"


@dataclass(frozen=True, slots=True)
class RecommendPlans:
    """The optimiser's two answers the actions are read from: each channel's break-even
    spend, and the reallocation of the current total (with the channels it may not raise
    that are so for want of an established effect; None: not asked for, no reallocation), and
    the value of testing the channels a test would measure (none without a reallocation)."""

    break_even: BudgetPlan
    equal_budget: BudgetPlan | None
    unproven: tuple[str, ...]
    test_values: Mapping[str, InformationValue] = field(default_factory=dict)


def unproven_channels(
    curves: Sequence[HillCurve], effects: Mapping[str, AnalysisEffect]
) -> list[str]:
    """The movable channels whose effect the analysis did not establish: neither Recommend's
    reallocation nor OptimizeBudget raises them (:mod:`surfacing_svc.unproven_bounds`)."""
    return [
        c.channel for c in curves
        if c.identified and (e := effects.get(c.channel)) is not None and not e.established
    ]  # fmt: skip


def recommend_plans(
    curves: Sequence[HillCurve],
    *,
    value_per_outcome: float = 1.0,
    level: float = 0.9,
    max_change: float = DEFAULT_MAX_CHANGE,
    risk: float = DEFAULT_RISK,
    effects: Mapping[str, AnalysisEffect] | None = None,
    at_risk: Mapping[str, str] | None = None,
    under_test: Collection[str] = (),
    reallocate: bool = True,
) -> RecommendPlans:
    """:func:`recommend`'s optimiser answers (its arguments' meanings; without ``reallocate``
    only the channels' calls: the reallocation is most of the work)."""
    at_risk = at_risk or {}
    # A channel under a registered test keeps its spend in the reallocation too (held, as
    # the optimiser holds an unidentified channel).
    fixed = tuple(replace(c, identified=False) if c.channel in under_test else c for c in curves)
    # Neither a channel at risk nor one the analysis did not establish is raised by the
    # reallocation (README: never more spend on an effect the analysis did not establish);
    # the draws' mean of such a channel is the prior's tail, not evidence (R4-F5).
    unproven = tuple(c for c in unproven_channels(curves, effects or {}) if c not in at_risk)
    plan = (equal_budget_plan(fixed, level, max_change, risk, capped=(*at_risk, *unproven))
            if reallocate else None)  # fmt: skip
    # What testing is worth for each channel a test would measure (not one already under test).
    tested = [c.channel for c in fixed if c.channel not in under_test
              and (not c.identified or c.channel in at_risk or c.channel in unproven)]  # fmt: skip
    values = {} if plan is None or not tested else information_values(
        fixed, plan, tested, value_per_outcome=value_per_outcome, risk=risk,
        max_change=max_change)  # fmt: skip
    return RecommendPlans(break_even_plan(curves, value_per_outcome, level, max_change), plan,
                          unproven, values)  # fmt: skip


def recommend(
    curves: Sequence[HillCurve],
    *,
    value_per_outcome: float = 1.0,
    designs: Mapping[str, ExperimentDesign] | None = None,
    level: float = 0.9,
    max_results: int = 10,
    max_change: float = DEFAULT_MAX_CHANGE,
    risk: float = DEFAULT_RISK,
    effects: Mapping[str, AnalysisEffect] | None = None,
    at_risk: Mapping[str, str] | None = None,
    plans: RecommendPlans | None = None,
    units: Units | None = None,
    under_test: Mapping[str, RegisteredTest] | None = None,
    end: dt.date | None = None,
) -> tuple[Action, ...]:
    """Ranked actions for the channels of an attribution model.

    Parameters
    ----------
    curves : sequence of HillCurve
        The analysis's curves over the horizon the actions are for.
    value_per_outcome : float
        What one unit of outcome is worth against one unit of spend (the margin for profit;
        1 for revenue).
    designs : mapping channel -> ExperimentDesign, optional
        Proposed experiments for the channels that need one.
    level : float
    max_results : int
    max_change : float
        The optimiser's default bound (OptimizeBudget's ``max_change``; 0: none).
    risk : float
        The reallocation's risk weight (OptimizeBudget's ``risk_aversion``; 0: posterior mean).
    effects : mapping channel -> AnalysisEffect, optional
        The analysis's own table: quoted in the facts, and a channel it did not establish is
        never scaled.
    at_risk : mapping channel -> reason, optional
        Channels whose identification the analysis puts at risk
        (:func:`identification_at_risk`): tested instead of scaled, and not raised by the
        reallocation.
    plans : RecommendPlans, optional
        :func:`recommend_plans` of the same arguments, made once by a caller that ranks twice
        (with and then without the experiments designed); computed here when not given.
    units : Units, optional
        The analysis's outcome and currency, how its returns are quoted beside the valued
        ones (its ``value`` is ``value_per_outcome``); revenue at face value when not given.
    under_test : mapping channel -> RegisteredTest, optional
        Channels whose registered test runs or awaits its read-out
        (:func:`surfacing_svc.registered_holds.awaiting_read_out`): held, the model's move
        said as what it alone would do; ``end`` is the analysis's last day.

    Returns
    -------
    tuple of Action, best first.
    """
    designs = designs or {}
    units = replace(units or Units(), value=value_per_outcome)
    actions: list[Action] = []
    at_risk = at_risk or {}
    under_test = under_test or {}
    if plans is None:
        plans = recommend_plans(curves, value_per_outcome=value_per_outcome, level=level,
                                max_change=max_change, risk=risk, effects=effects,
                                at_risk=at_risk, under_test=under_test)  # fmt: skip
    targets = plans.break_even.channels
    for c, planned in zip(curves, targets, strict=True):
        test = under_test.get(c.channel)
        if not c.identified:
            plan = testing_action(c, level, None if test else designs.get(c.channel),
                         value_per_outcome=value_per_outcome, units=units)  # fmt: skip
            actions.append(plan if test is None else hold_for_test(
                plan, test, end or test.end, level, share_up(c, value_per_outcome)))  # fmt: skip
            continue
        move = _move(c, planned, units, level, (effects or {}).get(c.channel))
        if test is not None:
            actions.append(hold_for_test(move, test, end or test.end, level,
                                         share_up(c, value_per_outcome),
                                         at_risk.get(c.channel, "")))  # fmt: skip
            continue
        risk_why = at_risk.get(c.channel)
        if risk_why is not None and move.kind is ActionKind.SCALE:
            move = testing_action(
                c, level, designs.get(c.channel), move, risk_why, value_per_outcome, units
            )
        elif risk_why is not None:
            move = replace(move, facts=(*move.facts, Fact(
                "identification", None, f"its identification is at risk: {risk_why}; a "
                f"{move.kind.value} stands, as the bias inflates the effect")))  # fmt: skip
        actions.append(move)
    actions = [with_value(a, plans.test_values) for a in actions]
    draws = max((c.n_draws for c in curves), default=0)
    realloc = None if plans.equal_budget is None else _reallocation(
        plans.equal_budget, value_per_outcome, tuple(at_risk), plans.unproven, draws
    )  # fmt: skip
    if realloc is not None:
        actions.append(realloc)
    return ranked(actions)[:max_results]


def ranked(actions: Sequence[Action]) -> tuple[Action, ...]:
    """Actions best first: by expected gain, then moves before holds before tests, each by the
    value of testing its channel (:func:`surfacing_svc.test_value.value_order`)."""
    order = {ActionKind.REALLOCATE: 0, ActionKind.SCALE: 1, ActionKind.CUT: 1,
             ActionKind.HOLD: 2, ActionKind.TEST: 3}  # fmt: skip
    return tuple(sorted(actions, key=lambda a: (-a.impact.estimate if a.impact.estimate > 0
                                                else 0.0, order[a.kind], value_order(a),
                                                a.channel)))  # fmt: skip
