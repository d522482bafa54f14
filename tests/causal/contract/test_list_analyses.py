"""ListAnalyses on a real causal server: newest first, paged, scoped to the org and kind; the SDK
follows the pages."""

from __future__ import annotations

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.app import build as causal_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table
from mesh.sdk.client import LiftOS
from tests.support import error_details


@pytest.fixture(scope="module")
def causal(tmp_path_factory: pytest.TempPathFactory):
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("causal")) as services:
        yield services["causal"]


@pytest.fixture(scope="module")
def stub(causal):
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(causal.address))


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, 300)
    t = rng.binomial(1, 1 / (1 + np.exp(-x)))
    return pd.DataFrame({"sales": 3 * t + 2 * x + rng.normal(0, 1, 300), "promo": t, "x": x})


def _estimate(stub, org: str, seed: int, method: int = pb.ESTIMATION_METHOD_IPW) -> str:
    request = pb.EstimateEffectRequest(
        org_id=org, method=method, table=frame_to_table(_frame(seed)),
        roles=pb.EffectRoles(outcome="sales", treatment="promo", covariates=["x"]),
        options=pb.EstimationOptions(refutation_simulations=2, seed=1),
    )  # fmt: skip
    return stub.EstimateEffect(request).analysis_id


def test_list_analyses_pages_newest_first_within_the_org(stub) -> None:
    ids = [_estimate(stub, "pages", seed) for seed in range(3)]
    _estimate(stub, "someone-else", 9)
    first = stub.ListAnalyses(pb.ListAnalysesRequest(org_id="pages", page_size=2))
    assert [a.analysis_id for a in first.analyses] == ids[::-1][:2] and first.next_page_token
    top = first.analyses[0]
    assert top.kind == pb.ANALYSIS_KIND_EFFECT_ESTIMATE and top.method == pb.ESTIMATION_METHOD_IPW
    assert (top.outcome, top.treatment) == ("sales", "promo") and top.create_time.seconds > 0
    # an inline table has no data window and no record count (R5-F5: they are unset, not 0)
    assert not top.HasField("date_range") and not top.HasField("record_count")
    second = stub.ListAnalyses(
        pb.ListAnalysesRequest(org_id="pages", page_size=2, page_token=first.next_page_token)
    )
    assert [a.analysis_id for a in second.analyses] == ids[:1] and not second.next_page_token
    only = stub.ListAnalyses(
        pb.ListAnalysesRequest(org_id="pages", kind=pb.ANALYSIS_KIND_ATTRIBUTION)
    )
    assert not only.analyses


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"kind": 99}, "kind"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"org_id": ""}, "org_id"),
    ],
)
def test_list_analyses_refuses_bad_requests(stub, change: dict, field: str) -> None:
    request = pb.ListAnalysesRequest(**({"org_id": "pages"} | change))
    with pytest.raises(grpc.RpcError) as info:
        stub.ListAnalyses(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(info.value)[1]


def test_a_token_does_not_open_for_another_org_or_kind(stub) -> None:
    for seed in range(3):
        _estimate(stub, "tokens", seed)
    token = stub.ListAnalyses(pb.ListAnalysesRequest(org_id="tokens", page_size=1)).next_page_token
    for request in (
        pb.ListAnalysesRequest(org_id="pages", page_token=token),
        pb.ListAnalysesRequest(
            org_id="tokens", page_token=token, kind=pb.ANALYSIS_KIND_EFFECT_ESTIMATE
        ),
    ):
        with pytest.raises(grpc.RpcError) as info:
            stub.ListAnalyses(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_sdk_follows_the_pages(causal, stub) -> None:
    ids = [_estimate(stub, "sdk", seed) for seed in range(3)]
    with LiftOS(PeerConfig.from_env().with_overrides(causal=causal.address), org_id="sdk") as c:
        listed = [a.analysis_id for a in c.list_analyses(page_size=1)]
    assert listed == ids[::-1]
