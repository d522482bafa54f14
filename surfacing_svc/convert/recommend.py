"""Recommend: the question and the ranked actions."""

from __future__ import annotations

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.protoconv import date_from_proto, timestamp_to_datetime
from surfacing_svc.convert.fields import ACTION_KINDS, MAX_HORIZON_DAYS, MAX_MONEY, FieldChecks
from surfacing_svc.convert.forecast import interval_to_proto
from surfacing_svc.planning import (
    EffectEvidence,
    PlanningModel,
    Recommendations,
    RecommendQuestion,
    effect_channel,
)
from surfacing_svc.recommend import ActionKind
from surfacing_svc.reversals import AnalysisListed

# -- Recommend ----------------------------------------------------------------------------


def recommend_question(request: pb.RecommendRequest) -> RecommendQuestion:
    check = FieldChecks()
    check.org(request.org_id)
    if len(request.analysis_ids) > 20:
        check.add("analysis_ids", "at most 20 analyses")
    for i, a in enumerate(request.analysis_ids[:20]):
        if not a:
            check.add(f"analysis_ids[{i}]", "analysis id is empty")
    max_results = request.max_results or 10
    if not 1 <= max_results <= 100:
        check.add("max_results", f"max_results {request.max_results} must be 1..100")
    # Unset (0) stays None: revenue is worth itself, a conversion's worth only the caller knows
    # (planning.outcome_value, which also bounds a revenue multiplier by 100: a conversion can
    # be worth hundreds).
    value = request.value_per_outcome or None
    if value is not None:
        check.number(value, "value_per_outcome", 0.0, MAX_MONEY, open_low=True)
    if not 0 <= request.horizon_days <= MAX_HORIZON_DAYS:
        check.add(
            "horizon_days", f"horizon_days {request.horizon_days} must be 0..{MAX_HORIZON_DAYS}"
        )
    level = check.level(request.alpha, "alpha", 0.9)
    check.metric(request.objective, "objective")
    risk = check.risk(request)
    check.done()
    design = request.design_tests if request.HasField("design_tests") else True
    return RecommendQuestion(request.org_id, tuple(request.analysis_ids), value,
                             request.horizon_days, level, max_results, design, risk)  # fmt: skip


def recommendations_to_proto(
    answer: Recommendations,
    question: RecommendQuestion,
    experiments: dict[str, md_pb.CausalExperiment],
) -> pb.RecommendResponse:
    out = []
    for rank, a in enumerate(answer.actions, start=1):
        rec = pb.Recommendation(
            recommendation_id=f"{question.analysis_ids[0]}-{rank}", kind=ACTION_KINDS[a.kind],  # type: ignore[arg-type]
            channel=a.channel, action=a.action, rationale=a.rationale,
            expected_impact=interval_to_proto(a.impact), confidence=a.confidence,
            analysis_ids=list(question.analysis_ids), priority=rank,
            facts=[pb.Fact(name=f.name, text=f.text,
                           value=interval_to_proto(f.value) if f.value is not None else None)
                   for f in a.facts],
            current_spend=a.current_spend, proposed_spend=a.proposed_spend,
        )  # fmt: skip
        if a.channel in experiments and a.kind is ActionKind.TEST:
            rec.proposed_experiment.CopyFrom(experiments[a.channel])
        out.append(rec)
    return pb.RecommendResponse(recommendations=out, warnings=list(answer.warnings))


def effect_evidence(
    analyses: list[causal_pb.Analysis], model: PlanningModel
) -> tuple[EffectEvidence, ...]:
    """The effect estimates among ``analyses`` that are about one of the model's channels
    (other attribution analyses and estimates of no single channel are left out)."""
    channels = [c.channel for c in model.curves]
    out = []
    for a in analyses:
        if a.WhichOneof("result") != "estimate" or a.analysis_id == model.analysis_id:
            continue
        est = a.estimate
        name = effect_channel(list(a.request.records.channels),
                              est.treatment or a.request.roles.treatment, channels)  # fmt: skip
        if name is not None:
            out.append(EffectEvidence(a.analysis_id, name, est.supported,
                                      "; ".join(f"{c.name}: {c.interpretation}" for c in est.checks
                                                if c.outcome == causal_pb.CHECK_OUTCOME_FAILED)))  # fmt: skip
    return tuple(out)


def listed_analyses(summaries: list[causal_pb.AnalysisSummary]) -> list[AnalysisListed]:
    """ListAnalyses' attribution summaries as Recommend compares them (newest first)."""
    return [
        AnalysisListed(
            s.analysis_id, timestamp_to_datetime(s.create_time), s.outcome,
            date_from_proto(s.date_range.start_date, "date_range.start_date", required=False),
            date_from_proto(s.date_range.end_date, "date_range.end_date", required=False),
        )
        for s in summaries
    ]  # fmt: skip
