"""Proto ↔ domain for the LLM service. Bad input raises InvalidRequest naming the field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import replace

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as llm_pb

from llm_svc.claims import Judgement, Verdict
from llm_svc.context import Prompt
from llm_svc.evidence import (
    Analysis,
    Check,
    CheckOutcome,
    Effect,
    Identification,
    Metric,
    ProductRole,
)
from llm_svc.explain import Done
from llm_svc.guardrail import Flagged, Resolution
from llm_svc.insights import Insight, InsightKind
from llm_svc.writer import Cite
from mesh.runtime.estimand import observation

# -- analyses ----------------------------------------------------------------------------------

_IDENTIFICATION = {
    causal_pb.IdentificationKind.Value(f"IDENTIFICATION_KIND_{k.name}"): k
    for k in Identification
    if k is not Identification.UNKNOWN
}
_CHECK_OUTCOMES = {
    causal_pb.CHECK_OUTCOME_PASSED: CheckOutcome.PASSED,
    causal_pb.CHECK_OUTCOME_FAILED: CheckOutcome.FAILED,
    causal_pb.CHECK_OUTCOME_WARNING: CheckOutcome.WARNING,
    causal_pb.CHECK_OUTCOME_SKIPPED: CheckOutcome.SKIPPED,
}
_NAIVE = causal_pb.ESTIMATION_METHOD_NAIVE_REGRESSION


def _enum_name(descriptor: object, value: int, prefix: str) -> str:
    try:
        name = descriptor.values_by_number[value].name  # type: ignore[attr-defined]
    except KeyError:
        return ""
    return name.removeprefix(prefix).lower()


def _opt(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _check(c: causal_pb.Check) -> Check:
    kind = _enum_name(causal_pb.CheckKind.DESCRIPTOR, c.kind, "CHECK_KIND_") or c.name
    return Check(
        name=c.name,
        kind=kind if kind != "unspecified" else c.name.lower().replace(" ", "_"),
        outcome=_CHECK_OUTCOMES.get(c.outcome, CheckOutcome.SKIPPED),
        interpretation=c.interpretation,
        statistic=_opt(c.statistic) if c.HasField("statistic") else None,
        p_value=_opt(c.p_value) if c.HasField("p_value") else None,
        threshold=_opt(c.threshold) if c.HasField("threshold") else None,
    )


def _date(d: object) -> dt.date | None:
    year, month, day = (getattr(d, "year", 0), getattr(d, "month", 0), getattr(d, "day", 0))
    return dt.date(year, month, day) if year and month and day else None


def _window(request: causal_pb.EstimateEffectRequest) -> tuple[dt.date, dt.date] | None:
    if request.WhichOneof("data") != "records" or not request.records.HasField("date_range"):
        return None
    r = request.records.date_range
    start, end = _date(r.start_date), _date(r.end_date)
    return (start, end) if start and end else None


def _baseline(stats: dict[str, float]) -> tuple[float | None, str]:
    """The outcome level without the treatment, when the estimator reports one."""
    for key in ("average_counterfactual", "mean_control"):
        value = stats.get(key)
        if value is not None and math.isfinite(value) and value > 0:
            return value, f"statistics.{key}"
    return None, ""


def _effect_analysis(a: causal_pb.Analysis) -> Analysis:
    e = a.estimate
    checks = tuple(_check(c) for c in e.checks)
    kind = _IDENTIFICATION.get(e.strategy.kind, Identification.UNKNOWN)
    if e.method == _NAIVE or e.strategy.method == _NAIVE:
        kind = Identification.NONE
    stats = {k: float(v) for k, v in e.statistics.items()}
    baseline, baseline_fact = _baseline(stats)
    effect = Effect(
        analysis_id=a.analysis_id,
        treatment=e.treatment or a.request.roles.treatment or "treatment",
        outcome=e.outcome or a.request.roles.outcome or "outcome",
        point=e.point_estimate,
        lower=e.ci_lower,
        upper=e.ci_upper,
        alpha=e.alpha if 0 < e.alpha < 1 else 0.05,
        p_value=_opt(e.p_value),
        supported=e.supported,
        causal=kind is not Identification.NONE,
        baseline=baseline,
        baseline_fact=baseline_fact,
        failed_checks=tuple(c.label for c in checks if c.outcome is CheckOutcome.FAILED),
        warning_checks=tuple(c.label for c in checks if c.outcome is CheckOutcome.WARNING),
    )
    return Analysis(
        analysis_id=a.analysis_id,
        kind="effect_estimate",
        method=_enum_name(causal_pb.EstimationMethod.DESCRIPTOR, e.method, "ESTIMATION_METHOD_"),
        estimand=_enum_name(causal_pb.Estimand.DESCRIPTOR, e.estimand, "ESTIMAND_").replace(
            "unspecified", ""
        ),
        identification=kind,
        strategy_reason=e.strategy.reason,
        assumptions=tuple(e.strategy.assumptions),
        adjustment_set=tuple(e.strategy.adjustment_set),
        effects=(effect,),
        checks=checks,
        warnings=tuple(e.warnings),
        statistics=stats,
        std_error=_opt(e.std_error),
        n=e.n,
        n_treated=e.n_treated,
        n_control=e.n_control,
        window=_window(a.request),
        create_time=a.create_time.ToDatetime(tzinfo=dt.UTC) if a.HasField("create_time") else None,
        naive=_naive(e),
        observation=observation(a.request.roles.unit, a.request.roles.time),
    )


def _naive(e: causal_pb.EffectEstimate) -> tuple[float, float, float] | None:
    if not e.HasField("naive_estimate"):
        return None
    n = e.naive_estimate
    return (n.estimate, n.ci_lower, n.ci_upper)


_IDENTIFICATION_RISKS = frozenset({"budget_response", "omitted_channels"})
_PAID_ONLY_CHECKS = frozenset({"budget_response"})

_HEALTH_OUTCOMES = {
    causal_pb.HEALTH_VERDICT_PASS: CheckOutcome.PASSED,
    causal_pb.HEALTH_VERDICT_REVIEW: CheckOutcome.WARNING,
    causal_pb.HEALTH_VERDICT_FAIL: CheckOutcome.FAILED,
}


def _attribution_analysis(a: causal_pb.Analysis) -> Analysis:
    """One incremental-outcome and one incremental-ROAS effect per channel. The model's health
    checks are the analysis's checks: a channel's effect is supported only when the model passed
    them and the data identified the channel (a REVIEW model's effects carry its warnings)."""
    r = a.attribution
    checks = tuple(
        Check(
            name=c.name,
            kind=c.name,
            outcome=_HEALTH_OUTCOMES.get(c.verdict, CheckOutcome.SKIPPED),
            interpretation=c.message,
            statistic=c.value if c.HasField("value") else None,
            threshold=c.threshold if c.HasField("threshold") else None,
        )
        for c in r.health.checks
    )
    failed = tuple(c.label for c in checks if c.outcome is CheckOutcome.FAILED)
    warned = tuple(c.label for c in checks if c.outcome is CheckOutcome.WARNING)
    # the budget-response check is about paid budgets chasing demand: it does not speak to a
    # channel without spend (email and SMS on sends)
    unpaid_warned = tuple(
        c.label for c in checks
        if c.outcome is CheckOutcome.WARNING and c.kind not in _PAID_ONLY_CHECKS
    )  # fmt: skip
    if r.health.verdict == causal_pb.HEALTH_VERDICT_FAIL and not failed:
        failed = ("model health",)
    if r.health.verdict == causal_pb.HEALTH_VERDICT_UNSPECIFIED:
        warned = (*warned, "model health (not assessed)")
    unidentified = set(r.health.unidentified_channels)
    # budgets chasing demand, or channels left out of the model, can inflate an uncalibrated
    # channel's effect: the analysis says so in these checks (causal_svc.attribution.health)
    # (one rule with the warnings above: the budget-response risk is a paid channel's only,
    # so the writer, BuildContext and CheckClaims agree on an unpaid channel, R10-F9; in the
    # audit's confounded world klaviyo_email's 14.85M [6.47M, 23.2M] held its true 15.10M)
    risks = [(c.name, c.message) for c in r.health.checks
             if c.name in _IDENTIFICATION_RISKS
             and c.verdict == causal_pb.HEALTH_VERDICT_REVIEW]  # fmt: skip

    def risk_of(paid: bool) -> str:
        return "; ".join(m for name, m in risks if paid or name not in _PAID_ONLY_CHECKS)

    calibrated = {c.channel for c in r.calibration}
    outcome = _enum_name(common_pb.OutcomeMetric.DESCRIPTOR, r.outcome, "OUTCOME_METRIC_")
    outcome = "outcome" if outcome in ("", "unspecified") else outcome
    # A channel's percentage lift is over the outcome without that channel: the observed total
    # less the channel's incremental outcome (baseline_outcome is the outcome without *any*
    # channel, the wrong denominator for one channel's claim).
    total = math.fsum(r.daily.actual_outcome) if r.daily.actual_outcome else math.nan
    # contribution_share is a channel's estimate over every channel's estimate summed: that
    # sum turns a channel's interval into an interval of its share
    incremental = math.fsum(
        ch.incremental_outcome.estimate for ch in r.channels if ch.HasField("incremental_outcome")
    )
    curves = {
        c.channel: tuple(
            (float(x), float(y), float(lo), float(hi))
            for x, y, lo, hi in zip(c.spend, c.outcome, c.lower, c.upper, strict=False)
        )
        for c in r.response_curves
    }
    curve_index = {c.channel: i for i, c in enumerate(r.response_curves)}
    effects: list[Effect] = []
    for ch in r.channels:
        # A channel without spend can still have caused a lot (email and SMS run on sends):
        # only a channel the analysis gave no effect is left out, or one where nothing went
        # in (no spend, no sends) and nothing came out.
        inc = ch.incremental_outcome
        idle = ch.spend.amount <= 0 and ch.media_input <= 0
        if not ch.HasField("incremental_outcome") or (
            idle and inc.estimate == inc.lower == inc.upper == 0
        ):
            continue
        identified = ch.identified and ch.channel not in unidentified
        without = total - inc.estimate
        baseline = without if math.isfinite(without) and without > 0 else None
        fact = (
            f"derived:baseline = sum(daily.actual_outcome) - channels[{ch.channel}]"
            ".incremental_outcome.estimate"
            if baseline is not None
            else ""
        )
        for name, interval, metric in (
            ("incremental_outcome", ch.incremental_outcome, Metric.OUTCOME),
            # no return on spend without spend
            *((("incremental_roas", ch.incremental_roas, Metric.ROAS),)
              if ch.HasField("incremental_roas") else ()),
        ):  # fmt: skip
            effects.append(
                _interval_effect(
                    a, interval, treatment=ch.channel, outcome=outcome, metric=metric,
                    prefix=f"channels[{ch.channel}].{name}.", unset_level=0.95,
                    supported=not failed and identified,
                    failed_checks=failed if identified else (*failed, "identification"),
                    warning_checks=warned if ch.spend.amount > 0 else unpaid_warned,
                    baseline=baseline if metric is Metric.OUTCOME else None,
                    baseline_fact=fact if metric is Metric.OUTCOME else "",
                )
            )  # fmt: skip
            risk = risk_of(ch.spend.amount > 0)
            if risk and ch.channel not in calibrated:
                effects[-1] = replace(effects[-1], at_risk=risk)
            if ch.spend.amount > 0:
                # what a claim about a change of the channel's spend, or about its next unit of
                # spend, is judged against (CheckClaims)
                e = replace(effects[-1], spend=ch.spend.amount, currency=ch.spend.currency_code)
                if metric is Metric.OUTCOME and ch.channel in curve_index:
                    e = replace(
                        e, curve=curves[ch.channel],
                        curve_fact=f"response_curves[{curve_index[ch.channel]}].",
                    )  # fmt: skip
                if metric is Metric.ROAS and ch.HasField("marginal_roas"):
                    m = ch.marginal_roas
                    e = replace(
                        e, marginal=(m.estimate, m.lower, m.upper),
                        marginal_fact=f"channels[{ch.channel}].marginal_roas.",
                    )  # fmt: skip
                effects[-1] = e
            if metric is Metric.OUTCOME and incremental > 0:
                effects[-1] = replace(
                    effects[-1], share=ch.contribution_share, share_total=incremental,
                    share_fact=f"channels[{ch.channel}].contribution_share",
                )  # fmt: skip
    # A failed model reports no channel (causal_svc drops its scores) but still names the
    # channels it modelled: a claim about one is then judged against the failure, not answered
    # "no analysis speaks to it".
    reported = {e.treatment for e in effects}
    withheld = tuple(
        Effect(
            analysis_id=a.analysis_id, treatment=channel, outcome=outcome, point=math.nan,
            lower=math.nan, upper=math.nan, supported=False, failed_checks=failed,
            reported=False,
        )
        for channel in dict.fromkeys(r.model.model_config.channels)
        if failed and channel and channel not in reported
    )  # fmt: skip
    window = None
    if r.HasField("date_range"):
        start, end = _date(r.date_range.start_date), _date(r.date_range.end_date)
        window = (start, end) if start and end else None
    # how the channels are identified, in the analysis's words: an attribution gets around the
    # demand it lacks (national spend movements, lift tests), it does not adjust for it
    reason = r.identification.reason
    return Analysis(
        analysis_id=a.analysis_id,
        kind="attribution",
        method="causal_mmm",
        identification=Identification.BACKDOOR,
        strategy_reason=reason,
        assumptions=tuple(x for x in r.identification.assumptions if x != reason),
        effects=tuple(effects),
        withheld=withheld,
        currency=next((c.spend.currency_code for c in r.channels if c.spend.currency_code), ""),
        checks=checks,
        warnings=tuple(r.warnings),
        window=window,
        create_time=a.create_time.ToDatetime(tzinfo=dt.UTC) if a.HasField("create_time") else None,
    )


_CROSS = {
    causal_pb.CROSS_EFFECT_KIND_HALO: "halo",
    causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION: "cannibalisation",
}


def _interval_effect(
    a: causal_pb.Analysis,
    interval: common_pb.Interval,
    *,
    treatment: str,
    outcome: str,
    prefix: str,
    role: ProductRole | None = None,
    metric: Metric = Metric.OUTCOME,
    names: tuple[str, ...] = (),
    supported: bool = True,
    failed_checks: tuple[str, ...] = (),
    warning_checks: tuple[str, ...] = (),
    unset_level: float = 0.9,
    baseline: float | None = None,
    baseline_fact: str = "",
) -> Effect:
    """One interval of a stored analysis as an effect, its figures cited as ``prefix`` +
    estimate / lower / upper; an interval without its level is read at ``unset_level``."""
    level = interval.level if 0 < interval.level < 1 else unset_level
    return Effect(
        analysis_id=a.analysis_id,
        treatment=treatment,
        outcome=outcome,
        point=interval.estimate,
        lower=interval.lower,
        upper=interval.upper,
        alpha=1 - level,
        metric=metric,
        prefix=prefix,
        point_fact="estimate",
        lower_fact="lower",
        upper_fact="upper",
        names=names,
        role=role,
        supported=supported,
        failed_checks=failed_checks,
        warning_checks=warning_checks,
        baseline=baseline,
        baseline_fact=baseline_fact,
    )


def _product_analysis(a: causal_pb.Analysis) -> Analysis:
    """A product analysis as effects: per channel x category cell its incremental revenue,
    margin and ROAS; per channel x product its incremental revenue; per ordered product pair
    the revenue change promoting one caused the other. Cells and products without spend are
    left out (nothing was caused). A treatment names every word a text would use for the
    cause (channel, category, product titles), so CheckClaims tells the cells apart; product
    titles are also ``names``, matched whole (they hold digits: "Trail Boot 2")."""
    r = a.products
    title = {p.product_id: p.title or f"product {p.product_id}" for p in r.products}
    category = {p.product_id: p.category for p in r.products}

    def named(pid: str) -> tuple[str, str]:
        return title.get(pid, f"product {pid}"), f"products[{pid}].title"

    rates = refund_rates(r)
    effects: list[Effect] = []
    for c in r.cells:
        if c.spend.amount <= 0:
            continue
        role = ProductRole("cell", c.channel, c.category)
        where = f"cells[{c.channel}/{c.category}]."
        cause = f"{c.channel}.{c.category}"
        # the margin as the product view shows it: net of the category's refunds (the wire's
        # incremental_margin is before refunds, as its revenue is)
        keep = 1.0 - rates.get(c.category, 0.0)
        m = c.incremental_margin
        net = common_pb.Interval(
            estimate=m.estimate * keep, lower=m.lower * keep, upper=m.upper * keep, level=m.level
        )
        net_name = "incremental_margin_net_of_refunds"
        for name, interval, outcome, metric in (
            ("incremental_revenue", c.incremental_revenue, "revenue", Metric.OUTCOME),
            (net_name, net, "margin", Metric.OUTCOME),
            ("incremental_roas", c.incremental_roas, "revenue", Metric.ROAS),
        ):
            if name == "incremental_roas" and not c.HasField("incremental_roas"):
                continue
            effects.append(
                replace(
                    _interval_effect(
                        a, interval, treatment=cause, outcome=outcome, prefix=f"{where}{name}.",
                        role=role, metric=metric,
                    ),
                    spend=c.spend.amount, currency=c.spend.currency_code,
                    net_margin=(net.estimate, net.lower, net.upper),
                    net_margin_fact=f"{where}{net_name}.",
                )
            )  # fmt: skip
    for pc in r.product_cells:
        if pc.spend.amount <= 0:
            continue
        name, fact = named(pc.product_id)
        role = ProductRole("product", pc.channel, pc.category, name, fact)
        effects.append(
            _interval_effect(
                a, pc.incremental_revenue, treatment=f"{pc.channel}.{pc.category}.{name}",
                outcome="revenue", role=role, names=(name,),
                prefix=f"product_cells[{pc.channel}/{pc.product_id}].incremental_revenue.",
            )
        )  # fmt: skip
    for q in r.pairs:
        promoted, promoted_fact = named(q.promoted_product_id)
        affected, affected_fact = named(q.affected_product_id)
        pair = f"pairs[{q.promoted_product_id}>{q.affected_product_id}]."
        role = ProductRole(
            "pair", "", q.category or category.get(q.promoted_product_id, ""), promoted,
            promoted_fact, affected, affected_fact, _CROSS.get(q.kind, "none"),
            lift=q.promoted_lift,
            share=q.share_of_promoted_lift if q.HasField("share_of_promoted_lift") else None,
            pair_fact=pair,
        )  # fmt: skip
        # excluding zero at the interval's level but not at the claim's: indicative only
        unclaimed = (
            role.cross == "none" and not q.revenue_change.lower <= 0 <= q.revenue_change.upper
        )
        effects.append(
            _interval_effect(
                a, q.revenue_change, treatment=f"{promoted} > {affected}", outcome="revenue",
                prefix=f"{pair}revenue_change.", role=role, names=(promoted, affected),
                warning_checks=("pair claim level",) if unclaimed else (),
            )
        )  # fmt: skip
    window = None
    if r.HasField("date_range"):
        start, end = _date(r.date_range.start_date), _date(r.date_range.end_date)
        window = (start, end) if start and end else None
    return Analysis(
        analysis_id=a.analysis_id,
        kind="products",
        method=r.method or "product_model",
        currency=r.currency_code,
        # the baseline (trend, seasonality, calendar per category) is the adjustment set
        identification=Identification.BACKDOOR,
        assumptions=tuple(r.assumptions),
        effects=tuple(effects),
        warnings=tuple(r.warnings),
        # a cell's spend, so the writer can say where its margin does not cover it
        statistics={
            "interval_level": r.interval_level,
            "claim_level": r.claim_level,
            **{f"cells[{c.channel}/{c.category}].spend": c.spend.amount for c in r.cells},
            **{f"categories[{k}].refund_rate": v for k, v in rates.items()},
            # a promoted product's joint intervals, which the "mostly moves sales" rule reads
            **{
                f"promotion_nets[{n.promoted_product_id}].{name}.{bound}": getattr(
                    getattr(n, name), bound
                )
                for n in r.promotion_nets
                for name in ("promoted_lift", "sibling_change", "net_category_change")
                for bound in ("estimate", "lower", "upper")
            },
        },
        window=window,
        create_time=a.create_time.ToDatetime(tzinfo=dt.UTC) if a.HasField("create_time") else None,
    )


def analysis_from_proto(a: causal_pb.Analysis) -> Analysis:
    """The causal service's stored analysis as the LLM service reads it."""
    which = a.WhichOneof("result")
    if which == "attribution":
        analysis = _attribution_analysis(a)
        calibrated = len(a.attribution.calibration) > 0
    elif which == "products":
        analysis, calibrated = _product_analysis(a), False
    else:
        analysis, calibrated = _effect_analysis(a), False

    # each effect carries what tells its analysis apart from another of the same cause
    def stamped(e: Effect) -> Effect:
        return replace(
            e, window=analysis.window, created=analysis.create_time, calibrated=calibrated,
            over_window=analysis.kind != "effect_estimate" and e.metric is Metric.OUTCOME,
            currency=e.currency or analysis.currency,
        )  # fmt: skip

    return replace(
        analysis,
        effects=tuple(map(stamped, analysis.effects)),
        withheld=tuple(map(stamped, analysis.withheld)),
    )


def refund_rates(r: causal_pb.ProductAnalysisResult) -> dict[str, float]:
    """Each category's refunds over its net sales in the window, the rate the product view
    takes off its margin (mesh.report.products.refund_rates, the same rule; not imported: that
    module draws the report's figures)."""
    return {
        c.category: min(max(c.refunds / c.revenue, 0.0), 1.0) if c.revenue > 0 else 0.0
        for c in r.categories
    }


# -- responses ---------------------------------------------------------------------------------

_INSIGHT_KINDS = {
    InsightKind.SUPPORTED_EFFECT: llm_pb.INSIGHT_KIND_SUPPORTED_EFFECT,
    InsightKind.UNSUPPORTED_EFFECT: llm_pb.INSIGHT_KIND_UNSUPPORTED_EFFECT,
    InsightKind.CAVEAT: llm_pb.INSIGHT_KIND_CAVEAT,
    InsightKind.NEXT_STEP: llm_pb.INSIGHT_KIND_NEXT_STEP,
}
_VERDICTS = {
    Verdict.SUPPORTED: llm_pb.CLAIM_VERDICT_SUPPORTED,
    Verdict.CONTRADICTED: llm_pb.CLAIM_VERDICT_CONTRADICTED,
    Verdict.UNSUPPORTED: llm_pb.CLAIM_VERDICT_UNSUPPORTED,
}
_RESOLUTIONS = {
    Resolution.REMOVED: llm_pb.CLAIM_RESOLUTION_REMOVED,
    Resolution.REWRITTEN: llm_pb.CLAIM_RESOLUTION_REWRITTEN,
}


def _citation(c: Cite) -> llm_pb.Citation:
    return llm_pb.Citation(analysis_id=c.analysis_id, fact=c.fact, start=c.start, end=c.end)


def context_response(
    insights: Sequence[Insight], context: str, prompts: Sequence[Prompt]
) -> llm_pb.BuildContextResponse:
    return llm_pb.BuildContextResponse(
        insights=[
            llm_pb.Insight(
                kind=_INSIGHT_KINDS[i.kind],
                text=i.text,
                analysis_ids=list(i.analysis_ids),
                confidence=i.confidence,
                citations=[_citation(c) for c in i.cites],
            )
            for i in insights
        ],
        context=context,
        prompts=[llm_pb.PromptMessage(role=p.role, content=p.content) for p in prompts],
    )


def claim_check(
    j: Judgement, *, start: int | None = None, end: int | None = None
) -> llm_pb.ClaimCheck:
    return llm_pb.ClaimCheck(
        claim=j.claim.text,
        start=j.claim.start if start is None else start,
        end=j.claim.end if end is None else end,
        verdict=_VERDICTS[j.verdict],
        reason=j.reason,
        analysis_ids=list(j.analysis_ids),
    )


def claims_response(judgements: Sequence[Judgement]) -> llm_pb.CheckClaimsResponse:
    return llm_pb.CheckClaimsResponse(claims=[claim_check(j) for j in judgements])


def _flagged(f: Flagged) -> llm_pb.ClaimCheck:
    out = claim_check(f.judgement, start=f.start, end=f.end)
    out.resolution = _RESOLUTIONS[f.resolution]
    return out


def delta_response(text: str) -> llm_pb.ExplainResponse:
    return llm_pb.ExplainResponse(text_delta=text)


def done_response(done: Done) -> llm_pb.ExplainResponse:
    writer = llm_pb.EXPLANATION_WRITER_LLM if done.model else llm_pb.EXPLANATION_WRITER_GROUNDED
    return llm_pb.ExplainResponse(
        done=llm_pb.ExplanationDone(
            text=done.text,
            citations=[_citation(c) for c in done.cites],
            unsupported_claims=[_flagged(f) for f in done.flagged],
            writer=writer,
            model=done.model,
        )
    )
