"""llm and surfacing read requests of at most 4 and 16 MiB (R14-F1: what an admitted caller can
make a server hold per call), and their largest legitimate requests fit.

Each largest request is built from the caps the services' converters enforce (so growing a
cap past the limit fails here), with every free-text character a 4-byte one; on a real llm
server, its largest request reaches the service and one over the limit is refused by grpc."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import surfacing_pb2 as surfacing_pb

from llm_svc.app import build as llm_build
from llm_svc.convert import questions
from llm_svc.settings import MAX_URL_CHARS
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import (
    DEFAULT_MAX_MESSAGE_BYTES,
    SERVICE_MAX_RECEIVE_BYTES,
    PeerConfig,
    ServerConfig,
)
from mesh.runtime.inprocess import running_services
from mesh.runtime.record_rules import MAX_TEXT_CHARS as MAX_NAME_CHARS
from surfacing_svc.convert.fields import MAX_HORIZON_DAYS, MAX_LIST
from surfacing_svc.convert.forecast import MAX_FAN_LEVELS

WIDE = "\U0001f600"  # 4 bytes in UTF-8: the most a character of free text can cost
ORG = "o" * 128  # the longest org id
ID = "a" * questions.MAX_ID_CHARS
NAME = WIDE * MAX_NAME_CHARS  # a channel or campaign name, as long as a record may carry


def _largest_llm() -> list[Message]:
    ids = [ID] * questions.MAX_ANALYSES
    question = WIDE * questions.MAX_QUESTION_CHARS
    endpoint = llm_pb.LlmEndpoint(url="u" * MAX_URL_CHARS, model=WIDE * questions.MAX_MODEL_CHARS)
    return [
        llm_pb.CheckClaimsRequest(
            org_id=ORG, text=WIDE * questions.MAX_TEXT_CHARS, analysis_ids=ids
        ),
        llm_pb.BuildContextRequest(org_id=ORG, analysis_ids=ids, question=question),
        llm_pb.ExplainRequest(org_id=ORG, analysis_id=ID, question=question, llm=endpoint),
    ]


def _largest_surfacing() -> list[Message]:
    big = 1e12 + 0.5  # every double set: 9 bytes each
    days = [big] * (MAX_HORIZON_DAYS + 1)
    constraint = surfacing_pb.ChannelConstraint(
        channel=NAME, min_spend=big, max_spend=big, min_ratio=big, max_ratio=big,
        cost_per_input=big,
    )  # fmt: skip
    campaign = surfacing_pb.CampaignConstraint(
        campaign_id=NAME, min_spend=big, max_spend=big, min_ratio=big, max_ratio=big
    )
    return [
        surfacing_pb.PredictPerformanceRequest(
            org_id=ORG,
            analysis_id=ID,
            horizon_days=MAX_HORIZON_DAYS,
            plan=[surfacing_pb.SpendPlan(channel=NAME, daily=days)] * MAX_LIST,
            fan_levels=[0.5] * MAX_FAN_LEVELS,
        ),
        surfacing_pb.OptimizeBudgetRequest(
            org_id=ORG,
            analysis_id=ID,
            constraints=[constraint] * MAX_LIST,
            campaign_constraints=[campaign] * MAX_LIST,
        ),
        surfacing_pb.RecommendRequest(org_id=ORG, analysis_ids=[ID] * 20),
    ]


@pytest.mark.parametrize(
    ("service", "requests"), [("llm", _largest_llm()), ("surfacing", _largest_surfacing())]
)
def test_the_largest_legitimate_request_fits(service: str, requests: list[Message]) -> None:
    limit = SERVICE_MAX_RECEIVE_BYTES[service]
    assert limit < DEFAULT_MAX_MESSAGE_BYTES
    sizes = {type(r).__name__: r.ByteSize() for r in requests}
    # at least twice over: room for a field added later
    assert all(size * 2 <= limit for size in sizes.values()), (limit, sizes)


def test_the_service_limits_apply_unless_set() -> None:
    def config(service: str, **limits: Any) -> ServerConfig:
        base = ServerConfig(service, "127.0.0.1", 0, Path("."), PeerConfig.from_env())
        return replace(base, **limits)

    assert config("llm").receive_limit == 4 << 20
    assert config("surfacing").receive_limit == 16 << 20
    assert config("memory").receive_limit == DEFAULT_MAX_MESSAGE_BYTES
    assert config("llm", max_message_bytes=1 << 20).receive_limit == 1 << 20
    assert config("llm", max_receive_bytes=8 << 20).receive_limit == 8 << 20


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    keys = AuthConfig.parse(f"key-o:{ORG}")
    data = tmp_path_factory.mktemp("llm")
    with (
        running_services({"llm": llm_build}, data, auth=keys) as s,
        grpc.insecure_channel(s["llm"].address) as channel,
    ):
        yield llm_grpc.LlmServiceStub(channel)


def test_a_real_llm_server_reads_its_largest_request_and_refuses_more(llm) -> None:  # type: ignore[no-untyped-def]
    largest = llm_pb.CheckClaimsRequest(org_id=ORG, text=WIDE * questions.MAX_TEXT_CHARS)
    reply = llm.CheckClaims(largest, metadata=auth_metadata("key-o"), timeout=60)
    assert isinstance(reply, llm_pb.CheckClaimsResponse)
    over = llm_pb.CheckClaimsRequest(org_id=ORG, text="x" * SERVICE_MAX_RECEIVE_BYTES["llm"])
    with pytest.raises(grpc.RpcError) as info:
        llm.CheckClaims(over, metadata=auth_metadata("key-o"), timeout=60)
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in (info.value.details() or "")
