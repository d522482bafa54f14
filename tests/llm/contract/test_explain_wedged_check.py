"""Explain with a surfacing service that accepts the data check and never answers (a stopped or
wedged process, s19 V2-F9): the check is advice, so it gets a short deadline (CHECK_CAP_S, or a
share of the caller's remaining time if less) and the explanation says the data was not checked
and why; before, the first words waited the peer's 10 s on every call. Real causal and llm
servers; the wedged surfacing is a gRPC server whose CheckAnalysisData records the deadline it
was given and waits until the caller gives up."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.peers import CHECK_CAP_S, CHECK_SHARE
from llm_svc.settings import LlmSettings
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import Build, RunningService, running_services
from tests.llm.contract.test_llm_service import ORG, _estimate, _explain

# gRPC sends a deadline as a timeout rounded up to its wire unit, and the server reads it
# against its own clock: the deadline it sees may exceed the one given by a few milliseconds.
SLACK = 1.05


class _Wedged:
    """A surfacing service whose CheckAnalysisData never answers: it records each call's
    remaining time on arrival and waits for the caller to cancel."""

    def __init__(self) -> None:
        self.given: list[float] = []
        self._lock = threading.Lock()

    def check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        remaining = context.time_remaining()
        with self._lock:
            self.given.append(float("inf") if remaining is None else remaining)
        done = threading.Event()
        context.add_callback(done.set)  # the caller's deadline passed or it hung up
        done.wait(60)
        return b""


@pytest.fixture(scope="module")
def wedged() -> Iterator[tuple[_Wedged, str]]:
    service = _Wedged()
    handler = grpc.method_handlers_generic_handler(
        "liftos.v1.SurfacingService",
        {"CheckAnalysisData": grpc.unary_unary_rpc_method_handler(service.check)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield service, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


@pytest.fixture(scope="module")
def mesh(
    tmp_path_factory: pytest.TempPathFactory, wedged: tuple[_Wedged, str]
) -> Iterator[dict[str, RunningService]]:
    peers = PeerConfig.from_env().with_overrides(surfacing=wedged[1])
    settings = LlmSettings(timeout_s=5.0, retries=1)
    builds: dict[str, Build] = {
        "causal": causal_build,
        "llm": functools.partial(llm_build, settings=settings),
    }
    with running_services(builds, tmp_path_factory.mktemp("llm"), peers=peers) as services:
        yield services


def test_a_wedged_data_check_is_given_a_short_deadline_and_said_unchecked(
    mesh: dict[str, RunningService], wedged: tuple[_Wedged, str]
) -> None:
    service, _ = wedged
    lift = _estimate(mesh, ORG, 12.0, 1)
    llm = llm_grpc.LlmServiceStub(grpc.insecure_channel(mesh["llm"].address))
    _, done = _explain(llm, pb.ExplainRequest(org_id=ORG, analysis_id=lift))
    assert service.given, "the check never reached the wedged surfacing service"
    # the deadline the check was given (read by the server on arrival, not a measured time):
    # the cap, not the 10 s the explanation's first words used to wait for
    assert service.given[-1] <= CHECK_CAP_S * SLACK
    assert done.text.endswith(
        "Note: whether the data under this analysis's window changed since it was made was not "
        f"checked (the surfacing service did not answer within {CHECK_CAP_S:.2g} s)."
    ), done.text[-300:]
    # a caller with little time left gives the check a share of it, not the whole cap
    caller = 4.0
    for _reply in llm.Explain(pb.ExplainRequest(org_id=ORG, analysis_id=lift), timeout=caller):
        pass
    assert service.given[-1] <= CHECK_SHARE * caller * SLACK < CHECK_CAP_S
