"""What a claim's figure is measured in, against the effect it is judged by: its currency (a
money figure in another currency than the analysis's cannot be compared: no rate is applied)
and its period (a rate "per day" is compared with the window's total put per that period)."""

from __future__ import annotations

from dataclasses import replace

from llm_svc.claims.extract import Claim, outcome_synonyms
from llm_svc.evidence import Effect, Metric
from llm_svc.numbers import fmt

__all__ = ["other_currency", "per_period"]

# ISO codes a bare "$" or "¥" may stand for
_DOLLARS = {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN"}
_YEN_YUAN = {"JPY", "CNY"}


def other_currency(claim: Claim, e: Effect) -> str:
    """Why a money figure the claim writes in another currency than the analysis's cannot be
    judged ("" when the currencies agree or either is unknown). No exchange rate is applied:
    the service knows none, and a made-up one would decide the verdict."""
    if e.metric is not Metric.OUTCOME or not e.currency:
        return ""
    if outcome_synonyms(e.outcome)[0] not in ("revenue", "profit"):
        return ""  # a count (orders, conversions): the currency is its spend's, not its own
    theirs = e.currency.upper()
    for q in (claim.magnitude, claim.interval):
        said = q.currency if q is not None else ""
        if not said or said == theirs:
            continue
        if (said == "$" and theirs in _DOLLARS) or (said == "¥" and theirs in _YEN_YUAN):
            continue
        written = {"$": "dollars", "¥": "yen or yuan"}.get(said, said)
        return (
            f"the analysis reports {e.outcome} in {theirs}; the claim's figure is in {written}, "
            "and CheckClaims converts no currency, so it cannot be compared"
        )
    return ""


def per_period(claim: Claim, e: Effect) -> tuple[Effect | None, str]:
    """The effect put per the claim's period (its window's total over the window's days times
    the period's) and a note saying so; or None and why a rate cannot be compared with it."""
    period, days = claim.period, claim.period_days
    assert days is not None
    if claim.spend_change:
        return None, (
            f"the claim gives a spend change's effect per {period}; the analysis's counterfactual "
            "of a change is over its whole window, so a rate cannot be compared with it"
        )
    if not e.over_window:
        return None, (
            f"the claim gives a figure per {period}, but the analysis reports the effect of "
            f"{e.treatment} per observation, not as a total over a period, so the two cannot be "
            "compared"
        )
    if e.window is None:
        return None, (
            f"the claim gives a figure per {period}, but the analysis names no window, so its "
            "total cannot be put per " + period
        )
    n = (e.window[1] - e.window[0]).days + 1
    k = days / n

    def scaled(x: float | None) -> float | None:
        return None if x is None else x * k

    per = replace(
        e, point=e.point * k, lower=e.lower * k, upper=e.upper * k,
        baseline=scaled(e.baseline), share_total=scaled(e.share_total), spend=scaled(e.spend),
    )  # fmt: skip
    return per, (
        f" per {period} (the {e.level}% interval over the analysis's {n}-day window, "
        f"{fmt(e.lower)} to {fmt(e.upper)}, put per {period})"
    )
