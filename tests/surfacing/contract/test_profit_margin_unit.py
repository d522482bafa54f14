"""OptimizeBudget.profit_margin is a fraction of revenue in (0, 1] (s18 R32: the proto read
"(0, 100]", so a client sending 30 for a 30% margin got a plan for profit of 30 × revenue,
the opposite advice, without a word). Above 1 is INVALID_ARGUMENT naming the field and the
fraction meant; every caller in the repo (CLI tests, SDK, fuzz) sends 0.3/0.4. Real memory,
causal and surfacing servers on localhost."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from surfacing_svc.app import build as surfacing_build
from tests.support import error_details

BUILDS = {"memory": memory_build, "causal": causal_build, "surfacing": surfacing_build}


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[surfacing_grpc.SurfacingServiceStub]:
    with running_services(BUILDS, tmp_path_factory.mktemp("mesh")) as mesh:  # type: ignore[arg-type]
        yield surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))


def _optimize(stub: surfacing_grpc.SurfacingServiceStub, margin: float) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        stub.OptimizeBudget(pb.OptimizeBudgetRequest(
            org_id="acme", analysis_id="an-none", profit_margin=margin,
            total_budget=common_pb.Money(currency_code="USD", amount=2_000_000.0)), timeout=30)  # fmt: skip
    return info.value


@pytest.mark.parametrize(("margin", "meant"), [(30.0, "0.3 for a 30% margin"), (1.5, "0.015"),
                                               (250.0, "0.3 for 30%")])  # fmt: skip
def test_a_margin_above_one_is_refused_naming_the_fraction(stub, margin: float, meant: str) -> None:  # type: ignore[no-untyped-def]
    error = _optimize(stub, margin)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(error)[1] == ["profit_margin"]
    said = error.details() or ""
    assert meant in said and "(0, 1]" in said


@pytest.mark.parametrize("margin", [0.3, 1.0])
def test_a_fraction_is_taken(stub, margin: float) -> None:  # type: ignore[no-untyped-def]
    error = _optimize(stub, margin)  # read, then refused only for the analysis it names
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()


@pytest.mark.parametrize("margin", [0.0, -0.3])
def test_a_margin_of_zero_or_less_is_refused(stub, margin: float) -> None:  # type: ignore[no-untyped-def]
    error = _optimize(stub, margin)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    said = error.details() or ""
    assert "profit_margin" in said and "(0, 1]" in said
