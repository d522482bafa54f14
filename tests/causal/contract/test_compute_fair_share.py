"""The compute pool's per-org share through a real causal service process (audit R14-F2): the
servicer hands the pool the org its request names, so one org's flood of estimates neither
refuses another org's estimate nor runs ahead of it."""

from __future__ import annotations

import time

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb

from tests.causal.contract.service_process import CausalProcess
from tests.causal.contract.test_compute_limits import _long_request, _quick_request
from tests.support import error_details

SHARE_REASON = "COMPUTE_ORG_SHARE_EXHAUSTED"


def _for(org: str, request: pb.EstimateEffectRequest) -> pb.EstimateEffectRequest:
    request.org_id = org
    return request


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    """One worker, four queue places, two of them one org's share."""
    svc = CausalProcess(
        tmp_path_factory.mktemp("causal-fair"),
        {"LIFTOS_CAUSAL_WORKERS": "1", "LIFTOS_CAUSAL_QUEUE": "4",
         "LIFTOS_CAUSAL_QUEUE_PER_ORG": "2", "LIFTOS_CAUSAL_MAX_SECONDS": "60"},
    )  # fmt: skip
    try:
        svc.stub.EstimateEffect(_quick_request(), timeout=120)  # workers warm
        yield svc
    finally:
        svc.stop()


def _reason(call: grpc.Future) -> str:
    with pytest.raises(grpc.RpcError) as info:
        call.result(timeout=30)
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
    return error_details(info.value)[0]


def test_a_flooding_org_makes_room_for_another_and_waits_its_turn(service: CausalProcess) -> None:
    """acme fills the pool (1 running, 4 waiting long estimates). beta's estimate takes the
    place of acme's newest one (refused with the share reason), acme's next is refused the
    same way, and once the worker is free beta's runs before acme's three still waiting."""
    acme = []
    beta = None
    try:
        for _ in range(5):  # one at a time: the pool sees them in this order
            acme.append(service.stub.EstimateEffect.future(_long_request(), timeout=90))
            time.sleep(0.4)
        beta = service.stub.EstimateEffect.future(_for("beta", _quick_request()), timeout=90)
        assert _reason(acme[-1]) == SHARE_REASON
        with pytest.raises(grpc.RpcError) as refused:
            service.stub.EstimateEffect(_long_request(), timeout=30)
        assert error_details(refused.value)[0] == SHARE_REASON
        assert "org 'acme'" in (refused.value.details() or "")
        acme[0].cancel()  # the worker is free: beta's turn, not acme's next
        assert beta.result(timeout=60).estimate.n > 0
        assert not any(call.done() for call in acme[1:4])
    finally:
        for call in (*acme, beta):
            if call is not None:
                call.cancel()
    assert "EstimateEffect RESOURCE_EXHAUSTED" in service.log()
