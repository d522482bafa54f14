"""Claims about spending: a change of a channel's spend by part read on the response curve,
a marginal ROAS against the table's marginal return, and profitability against break-even
(R10-F2/F3/F4)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from llm_svc.claims.extract import Claim
from llm_svc.claims.verdict import Verdict
from llm_svc.evidence import Effect, Metric
from llm_svc.numbers import QuantityKind, fmt, fmt_pct

__all__ = [
    "ChangeAsk",
    "ChangeInterval",
    "ChangeKey",
    "Counterfactuals",
    "breakeven_verdict",
    "change_ask",
    "change_verdict",
    "marginal_effect",
]

# (analysis_id, channel, spend multiplier over the analysis window), the multiplier rounded so
# the key the judge computes and the one the service asked match
ChangeKey = tuple[str, str, float]


@dataclass(frozen=True)
class ChangeInterval:
    """The analysis's own Counterfactual of one change: the outcome's change with its interval
    at ``level`` percent."""

    point: float
    lower: float
    upper: float
    level: int


@dataclass(frozen=True)
class ChangeAsk:
    """A change of spend a claim is about, to ask the analysis's Counterfactual of."""

    key: ChangeKey
    level: int  # percent: the analysis's own interval level


# each change asked: its interval, or why the causal service gave none (a note for the reason)
Counterfactuals = Mapping[ChangeKey, ChangeInterval | str]
_NONE: Counterfactuals = {}


def _new_spend(claim: Claim, spend: float) -> float | None:
    """The spend the claim's change leads to (None: no amount named)."""
    amount = claim.spend_amount
    if amount is None:
        return None
    sign = claim.spend_change
    if amount.kind is QuantityKind.PERCENT:
        return spend * (1 + sign * amount.value)
    if amount.kind is QuantityKind.MULTIPLE:
        return spend * amount.value
    return spend + sign * amount.value


def _key(e: Effect, new: float) -> ChangeKey:
    assert e.spend
    return e.analysis_id, e.treatment, round(new / e.spend, 6)


def change_ask(claim: Claim, e: Effect) -> ChangeAsk | None:
    """The Counterfactual that would decide ``claim`` about ``e``'s spend, if one would: a
    sized change by part of an attribution channel's spend (not a cut to zero)."""
    if not claim.spend_change or e.spend is None or e.spend <= 0:
        return None
    if claim.magnitude is None and claim.interval is None:
        return None
    new = _new_spend(claim, e.spend)
    if new is None or new <= 0:
        return None
    return ChangeAsk(_key(e, new), e.level)


def marginal_effect(e: Effect) -> Effect | None:
    """An attribution channel's marginal ROAS as an effect of its own (cited by its facts)."""
    if e.marginal is None:
        return None
    point, lower, upper = e.marginal
    return replace(
        e, point=point, lower=lower, upper=upper, prefix=e.marginal_fact, point_fact="estimate",
        lower_fact="lower", upper_fact="upper", marginal=None,
    )  # fmt: skip


def breakeven_verdict(claim: Claim, e: Effect) -> tuple[Verdict, str]:
    """Whether "X is profitable / pays for itself" (+1) or "X lost money" (-1): the return on spend
    against break-even, 1 unit of revenue per unit of spend (before the cost of the goods
    sold, which no attribution knows). The average incremental ROAS decides, the marginal one
    where the claim is about the next unit of spend; a conversions analysis has no break-even
    (a conversion's value is not in it)."""
    if e.role is not None:
        return _cell_breakeven(claim, e)
    if e.metric is not Metric.ROAS:
        return Verdict.UNSUPPORTED, (
            f"the analysis gives no return on spend for {e.treatment} (it has no spend), so "
            "whether it pays for itself cannot be judged"
        )
    if e.outcome != "revenue":
        return Verdict.UNSUPPORTED, (
            f"the analysis measured {e.outcome} per unit of spend, not revenue: break-even "
            f"needs the value of one unit of {e.outcome}, which the analysis does not have, so "
            "whether the channel pays for itself cannot be judged from it"
        )
    what = "incremental ROAS"
    if claim.marginal:
        marginal = marginal_effect(e)
        if marginal is None:
            return Verdict.UNSUPPORTED, (
                f"the analysis reports no marginal ROAS for {e.treatment}, so whether its next "
                "unit of spend pays for itself cannot be judged"
            )
        e, what = marginal, "marginal ROAS (the return on the next unit of spend)"
    unit = e.currency or "unit"
    where = (
        f"{e.treatment}'s {what} is {fmt(e.point)} ({e.level}% interval {fmt(e.lower)} to "
        f"{fmt(e.upper)}) against break-even at 1 {unit} of revenue per {unit} of spend "
        "(before the cost of the goods sold)"
    )
    return _against_line(claim, where, e.lower, e.upper, 1.0, "break-even")


def _on_curve(
    curve: Sequence[tuple[float, float, float, float]], spend: float
) -> tuple[float, float, float] | None:
    """(outcome, band lower, band upper) at ``spend``, read linearly between the curve's
    points; None outside them."""
    points = sorted(curve)
    if not points or spend < points[0][0] - 1e-9 or spend > points[-1][0] * (1 + 1e-9):
        return None
    for (x0, *v0), (x1, *v1) in itertools.pairwise(points):
        if x0 - 1e-9 <= spend <= x1 * (1 + 1e-9):
            w = 0.0 if x1 <= x0 else min(max((spend - x0) / (x1 - x0), 0.0), 1.0)
            a, b, c = (p + w * (q - p) for p, q in zip(v0, v1, strict=True))
            return a, b, c
    _, *last = points[-1]
    return last[0], last[1], last[2]


def change_verdict(
    claim: Claim, e: Effect, counterfactuals: Counterfactuals = _NONE
) -> tuple[Verdict, str] | None:
    """A claim about raising or cutting an attribution channel's spend by part ("raising
    PMax spend by 30% would add 1.65M"): what the analysis says of *that* change, not of the
    channel's whole effect (its spend switched off over the window). The stored analysis has
    the channel's response curve, an estimate and a band per spend level, but no interval for
    the difference of two levels: a size is contradicted only outside what both levels' bands
    allow together (a range covering the change at least 2 x level - 100% of the time), and
    otherwise left unsupported, with the curve's figure and the call that gives the change's
    interval. Where ``counterfactuals`` holds the analysis's own Counterfactual of the change
    (the service asks it), its interval decides instead. None: a cut to zero, judged as the
    whole effect."""
    assert e.spend is not None
    name, amount = e.treatment, claim.spend_amount
    if claim.magnitude is None and claim.interval is None:
        return None  # a direction only: the whole effect's sign speaks to it (curves rise)
    if amount is None:
        return Verdict.UNSUPPORTED, (
            f"not checkable from this analysis: the claim changes {name}'s spend without "
            f"saying by how much, and the analysis reports {name}'s whole effect (its spend "
            "switched off over the window) and its response by spend level; a size needs the "
            "change named (e.g. 'by 30%')"
        )
    sign = claim.spend_change
    new = _new_spend(claim, e.spend)
    assert new is not None
    if new <= 0:
        return None
    scale = new / e.spend
    change = (
        f"{'raising' if new > e.spend else 'cutting'} {name}'s spend from {fmt(e.spend)} to "
        f"{fmt(new)} (x{scale:.3g})"
    )
    call = f"`liftos counterfactual {e.analysis_id} --set {name}={scale:.3g}`"
    q = claim.magnitude
    total = e.baseline + e.point if e.baseline is not None else None
    if q is None or q.kind is QuantityKind.MULTIPLE:
        claimed: tuple[float, float] | None = None
    elif q.kind is QuantityKind.PERCENT:
        claimed = (q.value * total, (q.upper or q.value) * total) if total else None
    else:
        claimed = (q.value, q.upper if q.upper is not None else q.value)

    def rel(delta: float) -> str:
        return (
            f" ({fmt_pct(delta / total)} of the {e.outcome} as run, {fmt(total)})" if total else ""
        )

    asked = counterfactuals.get(_key(e, new))
    if isinstance(asked, ChangeInterval) and claimed is not None and q is not None:
        tol = q.tolerance * (total if q.kind is QuantityKind.PERCENT and total else 1.0)
        return _counterfactual_verdict(claim, claimed, tol, asked, change, rel(asked.point))
    # the Counterfactual could not be asked: today's reading of the curve, saying why
    note = (
        f" (the analysis's counterfactual could not be read: {asked})"
        if isinstance(asked, str)
        else ""
    )
    now, then = _on_curve(e.curve, e.spend), _on_curve(e.curve, new)
    if now is None or then is None:
        span = (
            f"its response curve covers spend up to {fmt(max(p[0] for p in e.curve))}"
            if e.curve
            else "it stores no response curve for the channel"
        )
        return Verdict.UNSUPPORTED, (
            f"not checkable from this analysis: the claim is about {change}, and {span}; "
            f"{call} answers it{note}"
        )
    delta = then[0] - now[0]
    low, high = then[1] - now[2], then[2] - now[1]
    figure = (
        f"the analysis's response curve puts {change} at {delta:+,.0f}{rel(delta)} on its point fit"
    )
    if claimed is not None and q is not None:
        way = (claim.direction or 1) * sign
        lo, hi = sorted(way * abs(v) for v in claimed)
        tol = q.tolerance * (total if q.kind is QuantityKind.PERCENT and total else 1.0)
        if hi + tol < low or lo - tol > high:
            return Verdict.CONTRADICTED, (
                f"{figure}; the claimed change is outside {fmt(low)} to {fmt(high)}, what the "
                f"curve's {e.level}% bands at the two spend levels allow together (a range "
                f"that holds the change at least {2 * e.level - 100}% of the time)"
            )
    return Verdict.UNSUPPORTED, (
        f"not checkable from this analysis: {figure}, but it stores an interval for each "
        f"spend level, not for a change between two, so it can neither confirm nor rule out "
        f"the claimed size; {call} gives the change with its interval{note}"
    )


def _counterfactual_verdict(
    claim: Claim,
    claimed: tuple[float, float],
    tol: float,
    cf: ChangeInterval,
    change: str,
    rel: str,
) -> tuple[Verdict, str]:
    """A sized change against the analysis's Counterfactual of it: supported when the claimed
    size lies in its interval and the interval is all on the claimed side of no change,
    contradicted when the size lies outside the interval."""
    way = (claim.direction or 1) * claim.spend_change
    lo, hi = sorted(way * abs(v) for v in claimed)
    figure = (
        f"the analysis's counterfactual puts {change} at {cf.point:+,.0f}{rel}, {cf.level}% "
        f"interval {fmt(cf.lower)} to {fmt(cf.upper)},"
    )
    if hi + tol < cf.lower or lo - tol > cf.upper:
        return Verdict.CONTRADICTED, f"{figure} and the claimed change is outside it"
    inside = cf.lower - tol <= lo and hi <= cf.upper + tol
    one_side = cf.lower > 0 if way > 0 else cf.upper < 0
    if inside and one_side:
        return Verdict.SUPPORTED, f"{figure} and the claimed change is inside it"
    why = (
        "the interval includes no change, so the data cannot tell the change's direction"
        if not one_side
        else "the claimed range reaches beyond it"
    )
    return Verdict.UNSUPPORTED, f"not established: {figure} and {why}"


def _cell_breakeven(claim: Claim, e: Effect) -> tuple[Verdict, str]:
    """A product cell pays for itself when what its spend kept, its incremental margin net of
    refunds, exceeds the spend (its revenue return says nothing of the cost of the goods)."""
    if e.net_margin is None or e.spend is None or e.spend <= 0:
        return Verdict.UNSUPPORTED, (
            f"the analysis gives no margin and spend for {e.treatment}, so whether it pays for "
            "itself cannot be judged"
        )
    point, lower, upper = e.net_margin
    where = (
        f"{e.treatment}'s incremental margin net of refunds is {fmt(point)} ({e.level}% "
        f"interval {fmt(lower)} to {fmt(upper)}) against its spend of {fmt(e.spend)}"
    )
    return _against_line(claim, where, lower, upper, e.spend, "the spend")


def _against_line(
    claim: Claim, where: str, lower: float, upper: float, line: float, line_name: str
) -> tuple[Verdict, str]:
    """A profitability claim (``claim.breakeven`` > 0: pays for itself, < 0: loses money)
    against the interval [lower, upper] and the line it must clear (break-even, a spend)."""
    above, below = lower > line, upper < line
    if (claim.breakeven > 0 and above) or (claim.breakeven < 0 and below):
        return Verdict.SUPPORTED, f"{where}: the whole interval is on the claimed side"
    if (claim.breakeven > 0 and below) or (claim.breakeven < 0 and above):
        side = "below" if below else "above"
        return Verdict.CONTRADICTED, f"{where}: the whole interval is {side} {line_name}"
    return Verdict.UNSUPPORTED, (
        f"not established: {where}: the interval includes {line_name}, so the data cannot "
        "tell whether it pays for itself"
    )
