"""DeleteAnalyses on real servers (audit R40-F1: an erased account's campaigns stayed in every
stored analysis, with no way to delete one): a deleted analysis is gone from GetAnalysis,
ListAnalyses and Counterfactual on every replica sharing the data dir, with its fitted model;
other orgs keep theirs; a dry run deletes nothing; a retry lists what is gone as not found; a key
without records.delete is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from causal_svc.app import build as causal_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from tests.causal.attribution.records import world_mesh
from tests.causal.contract.test_list_analyses import _estimate
from tests.support import error_details

ORG, OTHER = "erasing", "keeping"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mesh")


@pytest.fixture(scope="module")
def mesh(data_dir: Path) -> Iterator[dict[str, RunningService]]:
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=6, days=150)
    with world_mesh(data_dir, {ORG: world}) as services:
        yield services


@pytest.fixture(scope="module")
def replicas(
    mesh: dict[str, RunningService], data_dir: Path
) -> Iterator[tuple[causal_grpc.CausalServiceStub, causal_grpc.CausalServiceStub]]:
    """The mesh's causal server and a second one on the same data dir (a replica)."""
    peers = PeerConfig.from_env().with_overrides(
        memory=mesh["memory"].address, ingestion=mesh["ingestion"].address
    )
    with running_services({"causal": causal_build}, data_dir, peers=peers) as second:
        yield (
            causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address)),
            causal_grpc.CausalServiceStub(grpc.insecure_channel(second["causal"].address)),
        )


def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def _listed(stub: causal_grpc.CausalServiceStub, org: str) -> list[str]:
    reply = stub.ListAnalyses(pb.ListAnalysesRequest(org_id=org, page_size=100))
    return [a.analysis_id for a in reply.analyses]


def _delete(stub: causal_grpc.CausalServiceStub, **fields: object) -> pb.DeleteAnalysesResponse:
    return stub.DeleteAnalyses(pb.DeleteAnalysesRequest(**fields), timeout=60)  # type: ignore[arg-type]


def test_a_deleted_analysis_is_gone_from_every_replica_with_its_model(
    replicas: tuple[causal_grpc.CausalServiceStub, causal_grpc.CausalServiceStub], data_dir: Path
) -> None:
    one, two = replicas
    events = list(one.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=ORG), timeout=300))
    attribution = events[-1].result.analysis_id
    estimate = _estimate(one, ORG, 1)
    theirs = _estimate(one, OTHER, 2)
    channel = events[-1].result.channels[0].channel
    what_if = pb.CounterfactualRequest(
        org_id=ORG, analysis_id=attribution,
        changes=[pb.SpendChange(channel=channel, multiplier=0.5)],
    )  # fmt: skip
    assert two.Counterfactual(what_if, timeout=120).HasField("delta")  # the replica serves it

    counted = _delete(one, org_id=ORG, analysis_ids=[attribution, estimate], dry_run=True)
    assert list(counted.deleted_ids) == [attribution, estimate] and not counted.not_found
    assert set(_listed(two, ORG)) == {attribution, estimate}  # a dry run deletes nothing

    done = _delete(one, org_id=ORG, analysis_ids=[attribution, "an-never-stored"])
    assert list(done.deleted_ids) == [attribution]
    assert list(done.not_found) == ["an-never-stored"]
    get = pb.GetAnalysisRequest(org_id=ORG, analysis_id=attribution)
    for stub in (one, two):
        assert _code(lambda s=stub: s.GetAnalysis(get)) == grpc.StatusCode.NOT_FOUND
        assert _code(lambda s=stub: s.Counterfactual(what_if)) == grpc.StatusCode.NOT_FOUND
        assert _listed(stub, ORG) == [estimate]
    # the fitted model went with it (it holds the campaign ids, compressed)
    db = sqlite3.connect(f"file:{data_dir / 'causal' / 'analyses.sqlite'}?mode=ro", uri=True)
    try:
        models = db.execute(
            "SELECT COUNT(*) FROM analysis_models WHERE org_id = ?", (ORG,)
        ).fetchone()
    finally:
        db.close()
    assert models == (0,)

    retry = _delete(two, org_id=ORG, analysis_ids=[attribution])
    assert not retry.deleted_ids and list(retry.not_found) == [attribution]

    everything = _delete(two, org_id=ORG, all=True)
    assert list(everything.deleted_ids) == [estimate] and _listed(one, ORG) == []
    # the other org's analysis is untouched
    assert _listed(one, OTHER) == [theirs]
    kept = one.GetAnalysis(pb.GetAnalysisRequest(org_id=OTHER, analysis_id=theirs))
    assert kept.analysis.analysis_id == theirs


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "analysis_ids"),
        ({"analysis_ids": ["an-1"], "all": True}, "all"),
        ({"analysis_ids": ["an-1", ""]}, "analysis_ids[1]"),
        ({"analysis_ids": [f"an-{i}" for i in range(1001)]}, "analysis_ids"),
        ({"analysis_ids": ["x" * 129]}, "analysis_ids[0]"),
        ({"org_id": "", "all": True}, "org_id"),
    ],
)
def test_a_bad_delete_is_refused_naming_the_field(
    replicas: tuple[causal_grpc.CausalServiceStub, causal_grpc.CausalServiceStub],
    fields: dict[str, object],
    field: str,
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _delete(replicas[0], **({"org_id": ORG} | fields))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(info.value)[1]


def test_deleting_takes_a_key_with_the_delete_scope(tmp_path: Path) -> None:
    keys = AuthConfig.parse(
        f"k-user:{ORG},k-admin:{ORG}:public+records.delete,k-other:{OTHER}:public+records.delete"
    )

    def key(k: str) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {k}"),)

    with (
        running_services({"causal": causal_build}, tmp_path, auth=keys) as services,
        grpc.insecure_channel(services["causal"].address) as channel,
    ):
        stub = causal_grpc.CausalServiceStub(channel)
        mine = stub.ListAnalyses  # the user's public key reads its org's analyses
        assert not mine(pb.ListAnalysesRequest(org_id=ORG), metadata=key("k-user")).analyses
        request = pb.DeleteAnalysesRequest(org_id=ORG, all=True)
        for k in ("k-user", "k-other"):
            with pytest.raises(grpc.RpcError) as err:
                stub.DeleteAnalyses(request, timeout=60, metadata=key(k))
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, k
        done = stub.DeleteAnalyses(request, timeout=60, metadata=key("k-admin"))
        assert not done.deleted_ids and not done.not_found
