"""The grounded writer: an explanation in which every sentence is generated from facts.

Deterministic and offline. Each sentence is built from a template whose every figure is a
fact of the analysis (or a figure derived from facts, named as such: the relative effect is
``point_estimate / baseline``, the confidence level is ``1 - alpha``), and each figure carries
a citation to its fact. No sentence states more than its effect's state allows:

==================  ========================================================================
effect state        wording
==================  ========================================================================
established         "{cause} increased {outcome} by {x} {currency}, the {estimand} per
                    {observation} ({level}% CI {lo} to {hi} {currency})"; a decrease
                    "reduced {outcome}: {-x} ({level}% CI {lo} to {hi})", one sign throughout
checks warned       "The estimate suggests {cause} may have increased …, but the {check}
                    raised a warning, so treat it as indicative rather than established"
interval spans 0    "We could not detect an effect of {cause} on {outcome}: …includes zero"
checks failed       "The estimate … is not supported: it failed the {checks}, so it should not
                    be read as causal"
correlation only    "… is a correlation from a naive regression, not a causal estimate"
==================  ========================================================================

The audience decides which sentences are written and in what order: executives get the
decision first and no diagnostics, analysts the method and the checks, data scientists the
estimand, standard error, every check's statistic and every assumption (an attribution's
estimand once, for every channel). An analysis that reports no estimate (a failed model)
starts with that and why. A question is answered from the figures only: the explanation keeps
to the causes it names and says so, or says it names none (the LLM writer reads it itself).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from llm_svc.claims.judge import causes_named
from llm_svc.evidence import (
    Analysis,
    Audience,
    Check,
    CheckOutcome,
    Effect,
    Identification,
    Metric,
)
from llm_svc.numbers import fmt, fmt_pct
from llm_svc.vocabulary import (
    IDENTIFICATION_LABELS,
    capitalised,
    label,
    listing,
    method_label,
    plain_check,
    whole_name,
)
from mesh.runtime.estimand import estimand_words

__all__ = ["Cite", "Sentence", "write"]


@dataclass(frozen=True, slots=True)
class Cite:
    """A citation: ``start:end`` of a sentence's text backs onto ``fact`` of an analysis."""

    analysis_id: str
    fact: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an explanation and the facts behind its figures.

    ``quotes`` is set when the sentence quotes the analysis's own words (a check's
    interpretation, a warning, an assumption) or only states its facts (its window, its
    health verdict): the guardrail checks what the writer composes, and a quoted fact is
    the evidence itself.
    """

    text: str
    cites: tuple[Cite, ...]
    quotes: bool = False


class _Builder:
    """Accumulates a sentence's text, recording a citation for each fact-backed piece."""

    def __init__(self, analysis_id: str) -> None:
        self._id = analysis_id
        self._parts: list[str] = []
        self._cites: list[Cite] = []
        self._len = 0

    def t(self, text: str) -> _Builder:
        self._parts.append(text)
        self._len += len(text)
        return self

    def f(self, fact: str, text: str) -> _Builder:
        self._cites.append(Cite(self._id, fact, self._len, self._len + len(text)))
        return self.t(text)

    def build(self, *, quotes: bool = False) -> Sentence:
        text = "".join(self._parts)
        return Sentence(capitalised(text), tuple(self._cites), quotes)


def _level(b: _Builder, e: Effect) -> _Builder:
    return b.f("derived:level = 1 - alpha", f"{e.level}%")


def _interval(b: _Builder, e: Effect, *, prose: bool = False, unit: str = "") -> _Builder:
    """``90% CI 2,667 to 7,998`` (``unit``: the currency after the upper bound)."""
    lo, lo_fact = e.lower, e.prefix + e.lower_fact
    hi, hi_fact = e.upper, e.prefix + e.upper_fact
    after = f" {unit}" if unit else ""
    if prose:
        _level(b.t("its "), e).t(" interval, ")
        return b.f(lo_fact, fmt(lo)).t(" to ").f(hi_fact, fmt(hi)).t(f"{after},")
    _level(b, e).t(" CI ")
    return b.f(lo_fact, fmt(lo)).t(" to ").f(hi_fact, fmt(hi)).t(after)


def _magnitude(b: _Builder, e: Effect, unit: str = "") -> _Builder:
    """``by 3.78`` — the absolute point estimate (its sign is in the verb), and its currency."""
    b.f(f"derived:abs({e.prefix}{e.point_fact})", fmt(abs(e.point)))
    return b.t(f" {unit}") if unit else b


# Outcomes that are amounts of money: written with the analysis's currency (R10-F14: the
# explanation said "increased revenue by 12,108,989" where every other surface names USD).
MONEY_OUTCOMES = frozenset({"revenue", "margin"})


def money(analysis: Analysis, e: Effect) -> str:
    """The currency ``e``'s figures are in ("USD"), or "" (a count, a ROAS, no currency)."""
    if e.metric is Metric.ROAS or e.outcome not in MONEY_OUTCOMES:
        return ""
    return analysis.currency


def _change(b: _Builder, e: Effect, unit: str = "") -> _Builder:
    """After the verb: `` by 3,780 USD`` for an increase; a decrease as its signed change,
    ``: -426,535 USD``, so the amount and the interval after it read in one sign convention
    (R10-F14: "cut … by 426,535 (90% CI -510,588 to -342,482)")."""
    if e.point >= 0:
        return _magnitude(b.t(" by "), e, unit)
    return _amount(b.t(": "), e.prefix + e.point_fact, e.point, unit)


def _amount(b: _Builder, fact: str, value: float, unit: str) -> _Builder:
    """A signed figure and its currency: ``12,108,989 USD``."""
    b.f(fact, fmt(value))
    return b.t(f" {unit}") if unit else b


def _verb(e: Effect, *, past: bool = True) -> str:
    up = e.point >= 0
    if past:
        return "increased" if up else "reduced"
    return "increase" if up else "reduce"


def _cause(e: Effect) -> str:
    return label(e.treatment)


def _scope(analysis: Analysis) -> str:
    """An effect estimate's estimand per observation, in the words the demo, the estimate CLI
    and the report use (mesh.runtime.estimand); "" where the analysis names none."""
    if analysis.kind != "effect_estimate" or not analysis.estimand:
        return ""
    return estimand_words(analysis.estimand, analysis.observation)


def roas(analysis: Analysis, e: Effect) -> Sentence | None:
    """An attribution channel's established incremental ROAS, written after its headline in
    outcome units: a return per unit of spend is not an amount of the outcome, so it is never
    worded as one. Nothing for an ROAS its evidence does not establish: the headline in
    outcome units already says what the evidence supports about the channel."""
    if e.metric is not Metric.ROAS or not e.established:
        return None
    b = _Builder(analysis.analysis_id)
    b.t(f"{_cause(e)}'s incremental ROAS is ").f(e.prefix + e.point_fact, fmt(e.point)).t(" (")
    _interval(b, e).t(f") of {label(e.outcome)} per unit of spend.")
    return b.build()


def _roas_of(analysis: Analysis, e: Effect) -> Sentence | None:
    """The ROAS sentence that follows an attribution channel's headline, if established."""
    for other in analysis.effects:
        if other.metric is Metric.ROAS and other.treatment == e.treatment:
            return roas(analysis, other)
    return None


def headline(analysis: Analysis, e: Effect) -> Sentence:
    """The one sentence that says what the evidence supports about this effect."""
    if e.role is not None:  # a product analysis's cell, product or pair
        from llm_svc.product_writer import product_headline  # it builds on this module

        return product_headline(analysis, e)
    sentence = roas(analysis, e)
    if sentence is not None:
        return sentence
    b = _Builder(analysis.analysis_id)
    cause, outcome = _cause(e), label(e.outcome)
    unit = money(analysis, e)
    if not e.causal:
        higher = "higher" if e.point >= 0 else "lower"
        b.t(f"{outcome} was ")
        _magnitude(b, e, unit).t(f" {higher} where {cause} was on (")
        _interval(b, e, unit=unit).t("), but this is a correlation from ")
        b.f("method", method_label(analysis.method)).t(", not a causal estimate.")
        return b.build()
    if not e.supported and not analysis.failed_checks and "identification" in e.failed_checks:
        b.t(f"the data could not identify the effect of {cause} on {outcome}: its estimate (")
        _amount(b, e.prefix + e.point_fact, e.point, unit).t(", ")
        _interval(b, e, unit=unit).t(
            ") is the model's prior, not evidence, so it should not be read as causal."
        )
        return b.build()
    if not e.supported:
        b.t(f"the estimate of the effect of {cause} on {outcome} (")
        _amount(b, e.prefix + e.point_fact, e.point, unit).t(", ")
        _interval(b, e, unit=unit).t(") is not supported: it failed the ")
        _checks(b, [c for c in analysis.failed_checks])
        return b.t(", so it should not be read as causal.").build()
    if e.spans_zero:
        b.t(f"we could not detect an effect of {cause} on {outcome}: the estimate is ")
        _amount(b, e.prefix + e.point_fact, e.point, unit).t(" and ")
        _interval(b, e, prose=True, unit=unit).t(" includes zero.")
        return b.build()
    scope = _scope(analysis)
    if e.warning_checks or e.at_risk:
        # the checks that warned about this effect (a paid-budget check not about an unpaid one),
        # or that put its identification at risk (as CheckClaims judges it, so the guardrail
        # never rejects what the writer states, R10-F9)
        warned = [c for c in analysis.warning_checks if c.label in e.warning_checks]
        warned = warned or list(analysis.warning_checks)
        b.t(f"the estimate suggests {cause} may have {_verb(e)} {outcome}")
        _change(b, e, unit).t(f", the {scope} (" if scope else " (")
        _interval(b, e, unit=unit).t("), but the ")
        _checks(b, warned)
        verb = "raised a warning" if len(warned) == 1 else "raised warnings"
        return b.t(f" {verb}, so treat it as indicative rather than established.").build()
    b.t(f"{cause} {_verb(e)} {outcome}")
    _change(b, e, unit).t(f", the {scope} (" if scope else " (")
    _interval(b, e, unit=unit).t(").")
    return b.build()


def _checks(
    b: _Builder, checks: Sequence[Check], *, noun: bool = False, ids: bool = True
) -> _Builder:
    """The checks' labels listed; ``noun``: each as a check ("holdout check", but never
    "convergence check check": R22-F7); not ``ids``: without the client's ids, once a kind."""
    if not ids:
        checks = list({c.kind_label: c for c in reversed(checks)}.values())[::-1]
    for i, c in enumerate(checks):
        if i:
            b.t(" and " if i == len(checks) - 1 else ", ")
        b.f(c.fact, c.label if ids else c.kind_label)
        if noun and not re.search(r"\b(?:check|test|analysis|calibration)\b", c.label):
            b.t(" check")
    return b


def relative(analysis: Analysis, e: Effect) -> Sentence | None:
    """The effect as a percentage of its baseline, for established effects with a baseline."""
    rel = e.relative()
    # an attribution's "baseline" is the outcome without any channel; a channel's percentage
    # is over the outcome without that channel alone: judged (CheckClaims), not written here,
    # so the text keeps one meaning of "baseline"
    if rel is None or not e.established or analysis.kind == "attribution":
        return None
    b = _Builder(analysis.analysis_id)
    word = "lift" if e.point >= 0 else "drop"
    b.t(f"for {_cause(e)}, that is a ")
    b.f(
        f"derived:relative_effect = {e.prefix}{e.point_fact} / {e.baseline_fact}",
        fmt_pct(abs(rel[0])),
    )
    b.t(f" {word} over the baseline of ").f(e.baseline_fact, fmt(e.baseline or 0.0))
    b.t(" (").f(f"derived:relative_ci = CI / {e.baseline_fact}", fmt_pct(rel[1]))
    b.t(" to ").f(f"derived:relative_ci = CI / {e.baseline_fact}", fmt_pct(rel[2])).t(").")
    return b.build()


def method(analysis: Analysis, *, estimated: bool = True) -> Sentence:
    """How the estimate was identified and on how much data (how the analysis was meant to
    identify it, when it reports none)."""
    b = _Builder(analysis.analysis_id)
    b.t("the estimate comes from " if estimated else "the analysis fitted ")
    b.f("method", method_label(analysis.method))
    if analysis.kind == "attribution" and analysis.strategy_reason:
        # its own words: "adjustment for the observed confounders" beside a confounder the
        # data lacks (demand) overstated it; the strategy says how it gets around that one
        b.t(", identified as its strategy says: ")
        b.f("strategy.reason", _clause(analysis.strategy_reason))
        return b.t(".").build(quotes=True)
    b.t(", identified by ").f("strategy.kind", IDENTIFICATION_LABELS[analysis.identification])
    if analysis.n:
        b.t(", on ").f("n", f"{analysis.n:,}").t(" observations")
        if analysis.n_treated and analysis.n_control:
            b.t(" (").f("n_treated", f"{analysis.n_treated:,}").t(" treated, ")
            b.f("n_control", f"{analysis.n_control:,}").t(" control)")
    return b.t(".").build()


def assumptions(analysis: Analysis, *, every: bool) -> list[Sentence]:
    """One sentence per assumption (the first only, unless ``every``)."""
    chosen = analysis.assumptions if every else analysis.assumptions[:1]
    out = []
    for i, text in enumerate(chosen):
        b = _Builder(analysis.analysis_id)
        b.t("it rests on this assumption: " if i == 0 else "another assumption: ")
        out.append(b.f(f"strategy.assumptions[{i}]", _clause(text)).t(".").build(quotes=True))
    return out


def _clause(text: str) -> str:
    """An assumption quoted mid-sentence: no capital, no final stop."""
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def checks_summary(analysis: Analysis, *, detailed: bool) -> list[Sentence]:
    """What the checks found; a data scientist gets each check's statistic."""
    ran = [c for c in analysis.checks if c.outcome is not CheckOutcome.SKIPPED]
    if not ran:
        return []
    out: list[Sentence] = []
    passed = [c for c in ran if c.outcome is CheckOutcome.PASSED]
    if detailed:
        for c in ran:
            b = _Builder(analysis.analysis_id)
            b.t("the ").f(c.fact, c.label).t(f" {_outcome_words(c.outcome)}")
            if c.statistic is not None and math.isfinite(c.statistic):
                b.t(" (statistic ").f(f"{c.fact}.statistic", fmt(c.statistic))
                if c.p_value is not None and math.isfinite(c.p_value):
                    b.t(", p = ").f(f"{c.fact}.p_value", fmt(c.p_value))
                b.t(")")
            elif c.p_value is not None and math.isfinite(c.p_value):
                b.t(" (p = ").f(f"{c.fact}.p_value", fmt(c.p_value)).t(")")
            out.append(b.t(".").build())
        return out
    if passed:
        b = _Builder(analysis.analysis_id)
        b.t("the ")
        _checks(b, passed)
        b.t(" passed.")
        out.append(b.build())
    for c in ran:
        if c.outcome in (CheckOutcome.FAILED, CheckOutcome.WARNING) and c.interpretation:
            b = _Builder(analysis.analysis_id)
            b.t("the ").f(c.fact, c.label).t(f" {_outcome_words(c.outcome)}: ")
            b.f(f"{c.fact}.interpretation", _clause(c.interpretation))
            out.append(b.t(".").build(quotes=True))
    return out


def _outcome_words(outcome: CheckOutcome) -> str:
    return {
        CheckOutcome.PASSED: "passed",
        CheckOutcome.FAILED: "failed",
        CheckOutcome.WARNING: "raised a warning",
        CheckOutcome.SKIPPED: "was skipped",
    }[outcome]


def attribution_estimand(analysis: Analysis) -> Sentence:
    """What every channel's figure of an attribution estimates, said once (a data scientist's
    "estimand" for each channel would be the same sentence repeated)."""
    outcome = label(next((e.outcome for e in analysis.effects), "outcome"))
    return (
        _Builder(analysis.analysis_id)
        .t(
            f"the estimand of each channel is its incremental {outcome} over the window (the "
            f"{outcome} as run less the model's {outcome} with that channel's input at zero) "
            "and, for a channel with spend, that amount per unit of spend (its incremental ROAS)."
        )
        .build()
    )


def failure_lead(analysis: Analysis) -> list[Sentence]:
    """For an analyst or data scientist, an analysis that reports no estimate starts with
    that, and why, before how it was fitted."""
    failed = list(analysis.failed_checks)
    b = _Builder(analysis.analysis_id)
    if not failed:
        return [b.t("this analysis reports no estimate.").build()]
    b.t("this analysis reports no estimate: the model failed its ")
    _checks(b, failed, noun=True)
    return [b.t(", so it reports no channel effects.").build()]


def focus(analysis: Analysis, question: str) -> tuple[list[Effect] | None, Sentence | None]:
    """What the grounded writer does with a question: the effects of the causes it names (None:
    every effect) and a sentence saying how the question was used. It answers from the
    analysis's figures only; the LLM writer reads the question itself."""
    if not question.strip():
        return None, None
    b = _Builder(analysis.analysis_id)
    if analysis.kind == "products":  # its cells and pairs are not narrowed by a name
        b.t(
            "the grounded writer explains a product analysis whole and does not answer the "
            "question (the LLM writer reads the question itself)."
        )
        return None, b.build()
    named = causes_named(question, analysis.effects)
    if not named:
        b.t(
            "the question names no channel of this analysis, and the grounded writer answers "
            "only from the analysis's figures, so what follows is the whole explanation (the "
            "LLM writer reads the question itself)."
        )
        return None, b.build()
    chosen = [e for e in analysis.effects if e.treatment in named]
    them = "it" if len(named) == 1 else "them"
    b.t(
        f"the question names {listing([label(n) for n in named])}: what the analysis found "
        f"about {them} follows, from its figures only (the LLM writer answers the question "
        "itself)."
    )
    return chosen, b.build()


def statistics(analysis: Analysis, e: Effect) -> Sentence | None:
    """Estimand, standard error and p-value (for data scientists)."""
    b = _Builder(analysis.analysis_id)
    b.t("the estimand is the ").f("estimand", _scope(analysis) or "effect")
    if analysis.std_error is not None and math.isfinite(analysis.std_error):
        b.t(", with a standard error of ").f("std_error", fmt(analysis.std_error))
    if e.p_value is not None and math.isfinite(e.p_value):
        b.t(" and p = ").f("p_value", fmt(e.p_value))
    return b.t(".").build()


def window(analysis: Analysis) -> Sentence | None:
    if analysis.window is None:
        return None
    start, end = analysis.window
    b = _Builder(analysis.analysis_id)
    b.t("these figures describe the data from ").f("window.start", start.isoformat())
    b.t(" to ").f("window.end", end.isoformat()).t(" and say nothing about other periods")
    # Which analysis, made when (R33-F7): a pasted paragraph must trace back to it. Every part
    # of the sentence is a cited fact of the analysis and none is a claim, so it is passed as
    # the analysis's own words: the claim reader would take an id such as "an-products" for a
    # cause the analysis does not speak to.
    b.t(" (analysis ").f("analysis_id", analysis.analysis_id)
    if analysis.create_time is not None:
        b.t(", made ").f("create_time", f"{analysis.create_time:%Y-%m-%d}")
    return b.t(").").build(quotes=True)


def caveats(analysis: Analysis) -> list[Sentence]:
    out = []
    for i, text in enumerate(analysis.warnings):
        b = _Builder(analysis.analysis_id)
        out.append(b.t("caveat: ").f(f"warnings[{i}]", _clause(text)).t(".").build(quotes=True))
    return out


def _named(text: str, effects: Sequence[Effect]) -> list[str]:
    return [
        n for n in dict.fromkeys(e.treatment for e in effects) if re.search(whole_name(n), text)
    ]


def executive_caveats(analysis: Analysis, effects: Sequence[Effect]) -> list[Sentence]:
    """For an executive, at most two of the analysis's warnings: those about one or two
    channels whose figures were just given (and no other), the most specific first, so the
    figure they qualify is named; the analyst explanation carries every one."""
    given = {e.treatment for e in effects}
    ranked = sorted(
        (len(names), i, names[0])
        for i, text in enumerate(analysis.warnings)
        if (names := _named(text, analysis.effects)) and len(names) <= 2 and set(names) <= given
    )
    out = []
    for _, i, name in ranked[:2]:
        b = _Builder(analysis.analysis_id)
        b.t(f"caveat on {label(name)}'s figure: ")
        b.f(f"warnings[{i}]", _clause(analysis.warnings[i])).t(".")
        out.append(b.build(quotes=True))
    if len(analysis.warnings) > len(out):
        more = "the other caveats" if out else "its caveats"
        out.append(
            _Builder(analysis.analysis_id)
            .t(f"the analyst explanation (--audience analyst) lists {more} of this analysis.")
            .build()
        )
    return out


def _spends(analysis: Analysis, e: Effect) -> bool:
    """An attribution channel with spend (it has a return on spend; email run on sends has
    none)."""
    return any(o.metric is Metric.ROAS and o.treatment == e.treatment for o in analysis.effects)


def _step_effect(analysis: Analysis, effects: Sequence[Effect]) -> Effect:
    """What the next step is about: for an attribution, the first channel that spends (a
    budget is decided on spend; a channel without spend has none to plan), else the first."""
    if analysis.kind == "attribution":
        for e in effects:
            if _spends(analysis, e):
                return e
    return effects[0]


def budget_pointer(analysis: Analysis, effects: Sequence[Effect]) -> Sentence | None:
    """For an executive of an attribution with spending channels: where the budget moves are."""
    if analysis.kind != "attribution" or not any(_spends(analysis, e) for e in effects):
        return None
    return (
        _Builder(analysis.analysis_id)
        .t(
            "for how to move the budget between the channels that spend, liftos recommend on "
            "this analysis gives the moves its figures support."
        )
        .build()
    )


def next_step(analysis: Analysis, e: Effect) -> Sentence:
    """What to do with this result."""
    if e.role is not None:
        from llm_svc.product_writer import product_next_step

        return product_next_step(analysis, e)
    b = _Builder(analysis.analysis_id)
    cause = _cause(e)
    randomised = analysis.identification is Identification.RANDOMIZED
    if e.established:
        # name the effect the figure bounds: an attribution lists every channel before its one
        # next step, so "the interval" alone reads as the channel last mentioned
        up, unit = e.point >= 0, money(analysis, e)
        b.t(f"next step: plan {cause}'s effect on {label(e.outcome)} at the ")
        _level(b.t(f"{'lower' if up else 'upper'} bound of its "), e).t(" interval, ")
        bound = e.prefix + (e.lower_fact if up else e.upper_fact)
        _amount(b, bound, e.lower if up else e.upper, unit)
        b.t(" (the conservative end), rather than the point estimate, ")
        return _amount(b, e.prefix + e.point_fact, e.point, unit).t(".").build()
    if e.causal and e.supported and e.spans_zero:
        return b.t(
            f"next step: a larger or longer test of {cause} would narrow the interval enough "
            "to tell a small effect from none."
        ).build()
    if randomised and e.warning_checks:
        return b.t(f"next step: repeat the test of {cause} before relying on this figure.").build()
    return b.t(
        f"next step: run a randomised geo holdout of {cause} to measure its effect directly."
    ).build()


def no_effects(analysis: Analysis) -> list[Sentence]:
    """For an executive, an analysis that reports no effect (a model that failed its health
    checks reports none): that it gives nothing to act on, why in plain words, and what to do."""
    failed = list(analysis.failed_checks)
    b = _Builder(analysis.analysis_id)
    if not failed:
        b.t("this analysis reports no effects, so it gives no figure to base a decision on.")
        return [b.build()]
    b.t("this analysis gives no figure to base a decision on: the model failed its ")
    _checks(b, failed)
    b.t(" check" if len(failed) == 1 else " checks")
    plain = [p for p in dict.fromkeys(plain_check(c.kind) for c in failed) if p]
    if plain:
        b.t(f" ({'; '.join(plain)})")
    out = [b.t(", so it reports no channel effects.").build()]
    out.append(
        _Builder(analysis.analysis_id)
        .t(
            "next step: have the data or the analysis window fixed and the analysis rerun "
            "before using it; the analyst explanation lists every check."
        )
        .build()
    )
    return out


def _effects_in_order(analysis: Analysis) -> list[Effect]:
    """Established effects first, then by the size of the effect relative to its interval;
    an attribution channel's ROAS follows its headline instead (:func:`_roas_of`)."""

    def key(e: Effect) -> tuple[int, float]:
        half = max((e.upper - e.lower) / 2, 1e-12)
        return (0 if e.established else 1, -abs(e.point) / half)

    return sorted((e for e in analysis.effects if e.metric is not Metric.ROAS), key=key)


def _sentences(
    analysis: Analysis, audience: Audience, question: str = ""
) -> Iterator[Sentence | None]:
    chosen, lead = focus(analysis, question)
    yield lead
    if analysis.kind == "products":
        from llm_svc.product_writer import product_sentences

        yield from product_sentences(analysis, audience)
        return
    effects = _effects_in_order(analysis)
    if chosen is not None:
        effects = [e for e in effects if e in chosen]
    if audience is Audience.EXECUTIVE:
        if not effects:  # a failed model reports none: say why, not nothing
            yield from no_effects(analysis)
        else:
            from llm_svc.health_words import health  # it builds on this module's _Builder

            yield from health(analysis)
        for e in effects:
            yield headline(analysis, e)
            yield _roas_of(analysis, e)
            yield relative(analysis, e)
        if effects:
            yield from executive_caveats(analysis, effects)
            yield next_step(analysis, _step_effect(analysis, effects))
            yield budget_pointer(analysis, effects)
        yield window(analysis)
        return
    detailed = audience is Audience.DATA_SCIENTIST
    if not analysis.effects:  # a failed model: the failure first, not how it was fitted
        yield from failure_lead(analysis)
    attribution = analysis.kind == "attribution"
    for e in effects:
        yield headline(analysis, e)
        yield _roas_of(analysis, e)
        yield relative(analysis, e)
        if detailed and not attribution:
            yield statistics(analysis, e)
    if detailed and attribution and effects:
        yield attribution_estimand(analysis)
    yield method(analysis, estimated=bool(analysis.effects))
    if detailed and analysis.strategy_reason and not attribution:  # method() quoted it
        b = _Builder(analysis.analysis_id)
        yield (
            b.t("why this method: ")
            .f("strategy.reason", _clause(analysis.strategy_reason))
            .t(".")
            .build()
        )
    yield from assumptions(analysis, every=detailed)
    yield from checks_summary(analysis, detailed=detailed)
    yield from caveats(analysis)
    yield window(analysis)
    if effects:
        yield next_step(analysis, _step_effect(analysis, effects))
    elif not analysis.effects and analysis.failed_checks:
        yield (
            _Builder(analysis.analysis_id)
            .t("next step: have the data or the analysis window fixed and the analysis rerun.")
            .build()
        )


def write(analyses: Sequence[Analysis], audience: Audience, question: str = "") -> list[Sentence]:
    """The explanation of ``analyses`` for ``audience``, sentence by sentence; a ``question``
    that names causes of an analysis keeps its explanation to them (:func:`focus`)."""
    out: list[Sentence] = []
    for analysis in analyses:
        out += [s for s in _sentences(analysis, audience, question) if s is not None]
    return out
