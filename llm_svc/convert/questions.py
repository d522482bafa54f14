"""The LLM service's requests as domain questions. Bad input raises InvalidRequest naming the
field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from liftos.v1 import llm_pb2 as llm_pb

from llm_svc.errors import InvalidRequest
from llm_svc.evidence import Audience
from mesh.runtime.protoconv import enum_from_proto, require_org

__all__ = [
    "ClaimsQuestion",
    "ContextQuestion",
    "ExplainQuestion",
    "claims_question",
    "context_question",
    "explain_question",
]

MAX_ANALYSES = 20
MAX_ID_CHARS = 128
MAX_QUESTION_CHARS = 2_000
MAX_TEXT_CHARS = 20_000
MAX_MODEL_CHARS = 256

_AUDIENCES: dict[int, Audience] = {
    llm_pb.AUDIENCE_UNSPECIFIED: Audience.ANALYST,
    llm_pb.AUDIENCE_EXECUTIVE: Audience.EXECUTIVE,
    llm_pb.AUDIENCE_ANALYST: Audience.ANALYST,
    llm_pb.AUDIENCE_DATA_SCIENTIST: Audience.DATA_SCIENTIST,
}


def _audience(value: int) -> Audience:
    return _AUDIENCES[enum_from_proto(value, llm_pb.Audience.DESCRIPTOR, "audience")]


def _analysis_id(value: str, field: str) -> str:
    if not value:
        raise InvalidRequest(f"{field} is required", field=field)
    if len(value) > MAX_ID_CHARS:
        raise InvalidRequest(f"{field} is over {MAX_ID_CHARS} characters", field=field)
    return value


def _analysis_ids(values: Sequence[str], *, required: bool) -> tuple[str, ...]:
    if required and not values:
        raise InvalidRequest("analysis_ids needs at least one analysis id", field="analysis_ids")
    if len(values) > MAX_ANALYSES:
        raise InvalidRequest(
            f"analysis_ids has {len(values):,} ids; at most {MAX_ANALYSES}", field="analysis_ids"
        )
    ids = [_analysis_id(v, f"analysis_ids[{i}]") for i, v in enumerate(values)]
    return tuple(dict.fromkeys(ids))


def _question(value: str) -> str:
    if len(value) > MAX_QUESTION_CHARS:
        raise InvalidRequest(
            f"question is over {MAX_QUESTION_CHARS:,} characters", field="question"
        )
    return value


@dataclass(frozen=True, slots=True)
class ContextQuestion:
    org_id: str
    analysis_ids: tuple[str, ...]
    question: str
    audience: Audience


def context_question(request: llm_pb.BuildContextRequest) -> ContextQuestion:
    return ContextQuestion(
        require_org(request.org_id),
        _analysis_ids(request.analysis_ids, required=True),
        _question(request.question),
        _audience(request.audience),
    )


@dataclass(frozen=True, slots=True)
class ExplainQuestion:
    org_id: str
    analysis_id: str
    question: str
    audience: Audience
    writer: str  # "default" | "grounded" | "llm"
    llm_url: str
    llm_model: str


_WRITERS: dict[int, str] = {
    llm_pb.EXPLANATION_WRITER_UNSPECIFIED: "default",
    llm_pb.EXPLANATION_WRITER_GROUNDED: "grounded",
    llm_pb.EXPLANATION_WRITER_LLM: "llm",
}


def explain_question(request: llm_pb.ExplainRequest) -> ExplainQuestion:
    writer = _WRITERS[
        enum_from_proto(request.writer, llm_pb.ExplanationWriter.DESCRIPTOR, "writer")
    ]
    if len(request.llm.model) > MAX_MODEL_CHARS:
        raise InvalidRequest(f"llm.model is over {MAX_MODEL_CHARS} characters", field="llm.model")
    if writer == "grounded" and request.llm.url:
        raise InvalidRequest("llm.url names an endpoint but writer is GROUNDED", field="llm.url")
    return ExplainQuestion(
        require_org(request.org_id),
        _analysis_id(request.analysis_id, "analysis_id"),
        _question(request.question),
        _audience(request.audience),
        writer,
        request.llm.url,
        request.llm.model,
    )


@dataclass(frozen=True, slots=True)
class ClaimsQuestion:
    org_id: str
    text: str
    analysis_ids: tuple[str, ...]


def claims_question(request: llm_pb.CheckClaimsRequest) -> ClaimsQuestion:
    org = require_org(request.org_id)
    if not request.text.strip():
        raise InvalidRequest("text is required: the text whose claims to check", field="text")
    if len(request.text) > MAX_TEXT_CHARS:
        raise InvalidRequest(f"text is over {MAX_TEXT_CHARS:,} characters", field="text")
    return ClaimsQuestion(org, request.text, _analysis_ids(request.analysis_ids, required=False))
