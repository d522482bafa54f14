"""Two secrets, two variables (R1-F2): ``LIFTOS_LLM_API_KEY`` is the llm service's mesh key
(it reads analyses from causal with it), ``LIFTOS_LLM_PROVIDER_KEY`` the LLM endpoint's.
Real servers with keys on, and a local OpenAI-compatible endpoint that records the
Authorization header it is sent: the mesh key never reaches it."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.inprocess import Build, running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import stored_lift

ORG = "acme"
MESH_KEY = "svc-llm-mesh-secret"
PROVIDER_KEY = "sk-provider-secret"
KEYS = AuthConfig.parse(f"key-a:{ORG},{MESH_KEY}:service=llm")
USER = auth_metadata("key-a")


def _explain(tmp_path: Path, *, provider_key: str | None) -> list[dict[str, str]]:
    """Explain with the LLM writer through a keyed mesh; the headers the endpoint saw."""
    with fake_openai(Script(pieces=words("Meta retargeting raised revenue."))) as fake:
        mp = pytest.MonkeyPatch()
        mp.setenv("LIFTOS_LLM_API_KEY", MESH_KEY)
        mp.setenv("LIFTOS_LLM_URL", fake.url)
        if provider_key is None:
            mp.delenv("LIFTOS_LLM_PROVIDER_KEY", raising=False)
        else:
            mp.setenv("LIFTOS_LLM_PROVIDER_KEY", provider_key)
        mp.delenv("LIFTOS_API_KEY", raising=False)
        try:
            builds: dict[str, Build] = {"causal": causal_build, "llm": llm_build}
            with running_services(builds, tmp_path, auth=KEYS) as services:
                lift = stored_lift(services["causal"].address, ORG, USER)
                llm = llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))
                request = pb.ExplainRequest(
                    org_id=ORG, analysis_id=lift, writer=pb.EXPLANATION_WRITER_LLM
                )
                events = list(llm.Explain(request, metadata=USER, timeout=60))
        finally:
            mp.undo()
    # the llm service read the analysis from causal with its mesh key: the mesh key works
    assert events[-1].WhichOneof("event") == "done"
    assert events[-1].done.writer == pb.EXPLANATION_WRITER_LLM
    assert fake.requests, "the endpoint was called"
    return [{k.lower(): v for k, v in seen.headers.items()} for seen in fake.requests]


def test_the_provider_key_goes_to_the_endpoint_and_the_mesh_key_never(tmp_path: Path) -> None:
    for headers in _explain(tmp_path, provider_key=PROVIDER_KEY):
        assert headers.get("authorization") == f"Bearer {PROVIDER_KEY}"
        assert not any(MESH_KEY in v for v in headers.values())


def test_the_mesh_key_alone_is_not_sent_and_the_operator_is_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator who set only LIFTOS_LLM_API_KEY (as the old help said): the endpoint gets
    no key, and the server says at start which variable is the endpoint's."""
    with caplog.at_level(logging.WARNING):
        seen = _explain(tmp_path, provider_key=None)
    for headers in seen:
        assert "authorization" not in headers
        assert not any(MESH_KEY in v for v in headers.values())
    assert any("LIFTOS_LLM_PROVIDER_KEY" in r.getMessage() for r in caplog.records)
