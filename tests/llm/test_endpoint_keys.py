"""Which endpoints a request may name, and what they are sent (audit R14-F5). Real llm and
causal servers, and local OpenAI-compatible endpoints (real HTTP) that record the headers and
paths they receive: the provider key goes only to the configured endpoint; an endpoint the
request names (allowed, or loopback on an open laptop mesh) gets no key and its error replies
are not echoed; with keys on, only listed endpoints may be named; a query or fragment is
INVALID_ARGUMENT naming ``llm.url``."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.settings import LlmSettings
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.inprocess import Build, running_services
from mesh.runtime.status import decode_status
from tests.llm.fake_openai import FakeOpenAI, Script, fake_openai, words
from tests.llm.support import stored_lift
from tests.support import error_details

ORG = "acme"
PROVIDER_KEY = "sk-provider-secret"
USER = auth_metadata("key-a")
MESH_KEY = "svc-llm-mesh-secret"
KEYS = AuthConfig.parse(f"key-a:{ORG},{MESH_KEY}:service=llm")
ANSWER = words("Meta retargeting raised revenue.")
SECRET_BODY = "sink says hello"


class Mesh:
    """A causal and an llm server (keys on or off), an analysis, and three endpoints: the
    configured one, an allowed one and an unlisted loopback one."""

    def __init__(self, llm: str, causal: str, lift: str, fakes: dict[str, FakeOpenAI]) -> None:
        self.stub = llm_grpc.LlmServiceStub(grpc.insecure_channel(llm))
        self.causal = causal
        self.lift = lift
        self.configured, self.allowed, self.unlisted = (
            fakes["configured"],
            fakes["allowed"],
            fakes["unlisted"],
        )

    def explain(self, url: str = "") -> list[pb.ExplainResponse]:
        request = pb.ExplainRequest(
            org_id=ORG,
            analysis_id=self.lift,
            writer=pb.EXPLANATION_WRITER_LLM,
            llm=pb.LlmEndpoint(url=url),
        )
        return list(self.stub.Explain(request, metadata=USER, timeout=30))

    def reset(self, script: Script | None = None) -> None:
        for fake in (self.configured, self.allowed, self.unlisted):
            fake.requests.clear()
            fake.script = script or Script(pieces=ANSWER)


def _mesh(tmp: Path, *, keys: AuthConfig | None) -> Iterator[Mesh]:
    script = Script(pieces=ANSWER)
    with (
        fake_openai(script) as configured,
        fake_openai(script) as allowed,
        fake_openai(script) as unlisted,
    ):
        settings = LlmSettings(
            url=configured.url,
            api_key=PROVIDER_KEY,
            allowed_urls=(allowed.url,),
            timeout_s=5.0,
            retries=1,
        )
        llm = functools.partial(llm_build, settings=settings)
        builds: dict[str, Build] = {"causal": causal_build, "llm": llm}
        mesh_keys = {"llm": MESH_KEY} if keys else None
        with running_services(builds, tmp, auth=keys, api_keys=mesh_keys) as services:
            lift = stored_lift(services["causal"].address, ORG, USER)
            fakes = {"configured": configured, "allowed": allowed, "unlisted": unlisted}
            yield Mesh(services["llm"].address, services["causal"].address, lift, fakes)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    yield from _mesh(tmp_path_factory.mktemp("keyed"), keys=KEYS)


@pytest.fixture(scope="module")
def open_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    yield from _mesh(tmp_path_factory.mktemp("open"), keys=None)


def _authorization(fake: FakeOpenAI) -> list[str | None]:
    return [
        {k.lower(): v for k, v in s.headers.items()}.get("authorization") for s in fake.requests
    ]


def _done(replies: list[pb.ExplainResponse]) -> pb.ExplanationDone:
    assert replies[-1].WhichOneof("event") == "done"
    return replies[-1].done


def test_the_provider_key_goes_only_to_the_configured_endpoint(keyed: Mesh) -> None:
    keyed.reset()
    assert _done(keyed.explain()).writer == pb.EXPLANATION_WRITER_LLM
    # naming the configured URL is the configured endpoint (the operator's), key and all
    _done(keyed.explain(keyed.configured.url + "/"))
    assert _authorization(keyed.configured) == [f"Bearer {PROVIDER_KEY}"] * 2
    assert [s.path for s in keyed.configured.requests] == ["/v1/chat/completions"] * 2
    # an allowed endpoint the request names is called, without the provider's key
    assert _done(keyed.explain(keyed.allowed.url)).writer == pb.EXPLANATION_WRITER_LLM
    assert _authorization(keyed.allowed) == [None]
    for seen in keyed.allowed.requests:
        assert not any(PROVIDER_KEY in v for v in seen.headers.values())
    for seen in keyed.configured.requests + keyed.allowed.requests:
        assert not any(MESH_KEY in v for v in seen.headers.values())


def test_with_keys_on_an_unlisted_loopback_endpoint_is_refused(keyed: Mesh) -> None:
    keyed.reset()
    with pytest.raises(grpc.RpcError) as caught:
        keyed.explain(keyed.unlisted.url)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value) == ("LLM_URL_NOT_ALLOWED", ["llm.url"])
    assert "loopback" not in (caught.value.details() or "")
    assert keyed.unlisted.requests == []


def test_on_an_open_loopback_mesh_a_loopback_endpoint_is_called_without_the_key(
    open_mesh: Mesh,
) -> None:
    """The laptop mode (no keys, server on loopback) keeps its any-loopback rule; the key
    stays with the configured endpoint."""
    open_mesh.reset()
    assert _done(open_mesh.explain(open_mesh.unlisted.url)).writer == pb.EXPLANATION_WRITER_LLM
    assert _authorization(open_mesh.unlisted) == [None]
    _done(open_mesh.explain())
    assert _authorization(open_mesh.configured) == [f"Bearer {PROVIDER_KEY}"]


@pytest.mark.parametrize("suffix", ["?x=", "/quitquitquit?x=", "#frag", "/admin#", "?"])
def test_a_query_or_fragment_is_invalid_argument(keyed: Mesh, suffix: str) -> None:
    keyed.reset()
    with pytest.raises(grpc.RpcError) as caught:
        keyed.explain(keyed.allowed.url + suffix)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == ["llm.url"]
    assert "query or fragment" in (caught.value.details() or "")
    assert keyed.allowed.requests == [] and keyed.configured.requests == []


def test_a_named_endpoint_s_error_body_is_not_echoed(keyed: Mesh, open_mesh: Mesh) -> None:
    for mesh, url in ((keyed, keyed.allowed.url), (open_mesh, open_mesh.unlisted.url)):
        for status, code in ((401, grpc.StatusCode.FAILED_PRECONDITION),
                             (503, grpc.StatusCode.UNAVAILABLE)):  # fmt: skip
            mesh.reset(Script(status=status, error=SECRET_BODY))
            with pytest.raises(grpc.RpcError) as caught:
                mesh.explain(url)
            assert caught.value.code() == code
            details = caught.value.details() or ""
            assert f"HTTP {status}" in details and SECRET_BODY not in details
            assert SECRET_BODY not in decode_status(caught.value).message
        # an error object inside the stream is not echoed either
        mesh.reset(Script(raw=[f'{{"error": {{"message": "{SECRET_BODY}"}}}}']))
        with pytest.raises(grpc.RpcError) as caught:
            mesh.explain(url)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert SECRET_BODY not in (caught.value.details() or "")


def test_the_configured_endpoint_s_error_is_still_shown_to_help_the_operator(
    keyed: Mesh,
) -> None:
    keyed.reset(Script(status=401, error="invalid api key"))
    with pytest.raises(grpc.RpcError) as caught:
        keyed.explain()
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "HTTP 401: invalid api key" in (caught.value.details() or "")
