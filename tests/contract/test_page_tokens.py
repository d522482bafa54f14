"""ListExperiments' page tokens are opaque and tamper-evident: they reveal no id, and a token
edited, forged, from another org or from another deployment is INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.app import build as ingestion_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.page_tokens import SECRET_ENV, SECRET_FILE
from tests.support import error_details

IDS = ("secret-launch-alpha", "secret-launch-beta", "secret-launch-gamma")


def _create(stub: ingestion_grpc.IngestionServiceStub, org: str, eid: str) -> None:
    stub.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            experiment=md_pb.CausalExperiment(
                org_id=org, experiment_id=eid,
                randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                start_date=common_pb.Date(year=2024, month=11, day=1),
                end_date=common_pb.Date(year=2024, month=11, day=30),
            )
        )
    )  # fmt: skip


def _page(stub, org: str, token: str = "") -> ingestion_pb.ListExperimentsResponse:  # type: ignore[no-untyped-def]
    return stub.ListExperiments(
        ingestion_pb.ListExperimentsRequest(org_id=org, page_size=1, page_token=token)
    )


def _refused(stub, org: str, token: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        _page(stub, org, token)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "page_token is not a token this server issued"
    assert error_details(info.value)[1] == ["page_token"]


@pytest.fixture()
def registry(tmp_path: Path):
    with running_services({"ingestion": ingestion_build}, tmp_path / "one") as services:
        stub = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        for eid in IDS:
            _create(stub, "acme", eid)
            _create(stub, "globex", eid)
        yield stub, tmp_path


def _decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_tokens_reveal_no_ids_and_still_page(registry) -> None:
    stub, _ = registry
    seen, token = [], ""
    while True:
        reply = _page(stub, "acme", token)
        seen += [e.experiment_id for e in reply.experiments]
        token = reply.next_page_token
        if not token:
            break
        raw = _decoded(token)
        for eid in IDS:
            assert eid not in token and eid.encode() not in raw
        assert b"secret" not in raw and b"launch" not in raw
    assert sorted(seen) == sorted(IDS)


def test_tampered_and_foreign_tokens_are_refused(registry) -> None:
    stub, _ = registry
    token = _page(stub, "acme", "").next_page_token
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    _refused(stub, "acme", flipped)
    _refused(stub, "acme", token[:-2])
    _refused(stub, "acme", "garbage")
    # the old format, readable base64 JSON, is not a token either
    _refused(stub, "acme", base64.urlsafe_b64encode(b'[9999999999999999, "x"]').decode())
    _refused(stub, "globex", token)  # another org's token, same server
    assert _page(stub, "acme", token).experiments  # the untouched token still works


def test_a_token_from_another_deployment_is_refused(registry) -> None:
    stub, tmp_path = registry
    token = _page(stub, "acme", "").next_page_token
    secret = tmp_path / "one" / "ingestion" / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    with running_services({"ingestion": ingestion_build}, tmp_path / "two") as services:
        other = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        _create(other, "acme", IDS[0])
        _create(other, "acme", IDS[1])
        _refused(other, "acme", token)


def test_replicas_sharing_the_secret_accept_each_others_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "one secret for every replica of this deployment")
    stubs = []
    with (
        running_services({"ingestion": ingestion_build}, tmp_path / "a") as a,
        running_services({"ingestion": ingestion_build}, tmp_path / "b") as b,
    ):
        for services in (a, b):
            stub = ingestion_grpc.IngestionServiceStub(
                grpc.insecure_channel(services["ingestion"].address)
            )
            for eid in IDS:
                _create(stub, "acme", eid)
            stubs.append(stub)
        token = _page(stubs[0], "acme").next_page_token
        _page(stubs[1], "acme", token)  # opens (what it pages over is replica b's rows)
        assert not (tmp_path / "a" / "ingestion" / SECRET_FILE).exists()
