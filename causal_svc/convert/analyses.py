"""GetAnalysis, ListAnalyses and DeleteAnalyses: ids, listing and deleting questions and stored
analyses' summaries."""

from __future__ import annotations

from dataclasses import dataclass

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from causal_svc import limits
from causal_svc.analyses import Deleted
from causal_svc.convert.fields import text
from causal_svc.errors import InvalidSpec
from mesh.runtime.protoconv import enum_from_proto, require_org


def analysis_id_from_proto(request: causal_pb.GetAnalysisRequest) -> tuple[str, str]:
    """(org, analysis id) of a GetAnalysis request."""
    org = require_org(request.org_id)
    if not request.analysis_id:
        raise InvalidSpec("analysis_id is required", field="analysis_id")
    return org, text(request.analysis_id, "analysis_id", limits.MAX_ID_CHARS)


# Ids one DeleteAnalyses may name (the proto's bound).
MAX_DELETE_IDS = 1000


@dataclass(frozen=True, slots=True)
class DeleteAnalysesQuestion:
    """A DeleteAnalyses request, checked: the org, the ids (None: every analysis), dry run."""

    org_id: str
    analysis_ids: tuple[str, ...] | None
    dry_run: bool


def delete_analyses_question(request: causal_pb.DeleteAnalysesRequest) -> DeleteAnalysesQuestion:
    org = require_org(request.org_id)
    if request.all and request.analysis_ids:
        raise InvalidSpec(
            "set analysis_ids or all, not both (all deletes every analysis of the org)",
            field="all",
        )
    if request.all:
        return DeleteAnalysesQuestion(org, None, request.dry_run)
    if not request.analysis_ids:
        raise InvalidSpec(
            "name the analyses to delete in analysis_ids, or set all for every analysis of the org",
            field="analysis_ids",
        )
    if len(request.analysis_ids) > MAX_DELETE_IDS:
        raise InvalidSpec(
            f"analysis_ids has {len(request.analysis_ids):,} entries; at most "
            f"{MAX_DELETE_IDS:,} a call (send the rest in another)",
            field="analysis_ids",
        )
    ids = []
    for i, analysis_id in enumerate(request.analysis_ids):
        if not analysis_id:
            raise InvalidSpec(f"analysis_ids[{i}] is empty", field=f"analysis_ids[{i}]")
        ids.append(text(analysis_id, f"analysis_ids[{i}]", limits.MAX_ID_CHARS))
    return DeleteAnalysesQuestion(org, tuple(ids), request.dry_run)


def deleted_to_proto(deleted: Deleted) -> causal_pb.DeleteAnalysesResponse:
    return causal_pb.DeleteAnalysesResponse(
        deleted_ids=deleted.deleted_ids, not_found=deleted.not_found
    )


# Stored kinds (causal_svc.analyses) ↔ the wire's AnalysisKind.
_ANALYSIS_KINDS = {
    causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE: "effect_estimate",
    causal_pb.ANALYSIS_KIND_ATTRIBUTION: "attribution",
    causal_pb.ANALYSIS_KIND_PRODUCTS: "products",
}


@dataclass(frozen=True, slots=True)
class ListAnalysesQuestion:
    """A ListAnalyses request, checked: org, stored kind ("" = all), page size and token."""

    org_id: str
    kind: str
    page_size: int
    page_token: str


def list_analyses_question(request: causal_pb.ListAnalysesRequest) -> ListAnalysesQuestion:
    org = require_org(request.org_id)
    enum_from_proto(request.kind, causal_pb.AnalysisKind.DESCRIPTOR, "kind")
    kind = _ANALYSIS_KINDS.get(request.kind, "")  # type: ignore[call-overload]
    return ListAnalysesQuestion(org, kind, request.page_size, request.page_token)


def analysis_summary(payload: bytes) -> causal_pb.AnalysisSummary:
    """What a list shows of a stored analysis (its serialised Analysis)."""
    analysis = causal_pb.Analysis.FromString(payload)
    out = causal_pb.AnalysisSummary(analysis_id=analysis.analysis_id, kind=analysis.kind)
    out.create_time.CopyFrom(analysis.create_time)
    result = analysis.WhichOneof("result")
    if result == "estimate":
        e = analysis.estimate
        out.method, out.outcome, out.treatment = e.method, e.outcome, e.treatment
        out.supported = e.supported
        # the requested record window (an inline table has none)
        if analysis.request.WhichOneof("data") == "records":
            out.date_range.CopyFrom(analysis.request.records.date_range)
    elif result in ("attribution", "products"):
        r = analysis.attribution if result == "attribution" else analysis.products
        out.date_range.CopyFrom(r.date_range)
        out.record_count = r.record_count
        if result == "attribution" and analysis.attribution.outcome:
            name = common_pb.OutcomeMetric.Name(analysis.attribution.outcome)
            out.outcome = name.removeprefix("OUTCOME_METRIC_").lower()
        if result == "attribution":  # which data it read (R33-F4)
            out.data_version = analysis.attribution.data_version
    return out
