"""Request text in error messages is quoted escaped and clipped (audit R7-F4), over a real mesh
(memory, ingestion's registry, causal, surfacing): an unknown channel holding a NUL and a
clear-screen escape, and a budget currency that is not ISO 4217, are refused with the field
named and the text shown as ``repr`` shows it, never raw."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from mesh.runtime.status import decode_status

from .records import world_mesh

ORG = "quoteshop"
RAW = ("\x00", "\x01", "\x1b")  # bytes that must never reach a terminal from a status


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis_id(mesh) -> str:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result.analysis_id


def test_an_unknown_channel_is_quoted_escaped(mesh) -> None:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = pb.AnalyzeAttributionRequest(org_id=ORG, channels=["\x00\x1b[2J"])
    with pytest.raises(grpc.RpcError) as err:
        list(stub.AnalyzeAttribution(request, timeout=300))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    message = err.value.details() or ""
    assert "no media rows" in message and "'\\x00\\x1b[2J'" in message
    assert not any(c in message for c in RAW)
    assert decode_status(err.value).fields == ["channels"]


def _optimize(mesh, analysis_id: str, code: str) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    request = surfacing_pb.OptimizeBudgetRequest(
        org_id=ORG,
        analysis_id=analysis_id,
        total_budget=common_pb.Money(amount=100_000.0, currency_code=code),
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.OptimizeBudget(request, timeout=120)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert decode_status(err.value).fields == ["total_budget.currency_code"]
    return err.value


@pytest.mark.parametrize("code", ["\x00\x01\x1b[31mRED", "ÜSD", "US", "USDX", "x" * 5_000])
def test_a_budget_currency_that_is_not_iso_4217_is_refused_as_such(mesh, analysis_id, code) -> None:
    message = _optimize(mesh, analysis_id, code).details() or ""
    assert "is not an ISO 4217 currency code" in message
    assert "amounts are in" not in message  # not reported as a mismatch
    assert not any(c in message for c in RAW)
    assert len(message) < 400


def test_another_iso_currency_is_still_a_mismatch(mesh, analysis_id) -> None:
    message = _optimize(mesh, analysis_id, "EUR").details() or ""
    assert "total_budget is in EUR" in message and "amounts are in USD" in message


def test_a_counterfactual_on_an_unknown_channel_quotes_it_escaped(mesh, analysis_id) -> None:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = pb.CounterfactualRequest(
        org_id=ORG,
        analysis_id=analysis_id,
        changes=[pb.SpendChange(channel="\x1b[2J" + "x" * 500, multiplier=1.5)],
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.Counterfactual(request, timeout=120)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    message = err.value.details() or ""
    assert "unknown channel '\\x1b[2J" in message and "characters)" in message
    assert not any(c in message for c in RAW)
    assert decode_status(err.value).fields == ["changes[0].channel"]
