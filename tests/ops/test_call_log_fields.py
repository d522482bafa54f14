"""A server's log line says enough to diagnose a call (audit R8-F4): its status message, the org
it named, the caller's address and a request id that follows the call into its peers and comes
back in trailing metadata; never a key or a row's content.

Real servers (memory, ingestion, causal) on free localhost ports with API keys.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.protoconv import set_date_range
from mesh.runtime.synthetic_records import synthetic_records
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure

USER_KEY = "kUserSecretZ9q"
ING_KEY = "kIngSecretY8w"
KEYS = AuthConfig.parse(
    f"{USER_KEY}:org_a,{ING_KEY}:service=ingestion,kCauSecretX7e:service=causal"
)
ROW_TEXT = "RowContentCampaignQ4zz"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(
        builds,
        tmp_path_factory.mktemp("log"),
        auth=KEYS,
        api_keys={"ingestion": ING_KEY, "causal": "kCauSecretX7e"},
    ) as services:
        yield services


@pytest.fixture(scope="module")
def mesh(running: dict[str, RunningService]) -> Iterator[dict[str, grpc.Channel]]:
    channels = {s: grpc.insecure_channel(r.address) for s, r in running.items()}
    yield channels
    for channel in channels.values():
        channel.close()


def _lines(caplog: pytest.LogCaptureFixture, method: str) -> list[str]:
    """The log lines of ``method``; a server logs a call just after its caller has the status,
    so wait (up to 10 s) for the first."""
    deadline = time.monotonic() + 10
    while True:
        found = [m for r in caplog.records if (m := r.getMessage()).startswith(method + " ")]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _rid(error: grpc.RpcError) -> str:
    ids = [v for k, v in error.trailing_metadata() or () if k == "x-request-id"]  # type: ignore[attr-defined]
    assert len(ids) == 1, error.trailing_metadata()  # type: ignore[attr-defined]
    return str(ids[0])


def test_one_request_id_follows_a_call_into_its_peer(
    mesh: dict[str, grpc.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    """AnalyzeAttribution with the caller's x-request-id: causal's line and memory's line
    for the AggregateRecords causal made carry it, and the caller gets it back."""
    caplog.set_level("INFO", logger="liftos.rpc")
    stub = causal_grpc.CausalServiceStub(mesh["causal"])
    request = causal_pb.AnalyzeAttributionRequest(org_id="org_a")
    set_date_range(request.date_range, dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    metadata = (*auth_metadata(USER_KEY), ("x-request-id", "trace-r8f4-1"))
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.AnalyzeAttribution(request, metadata=metadata, timeout=60))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # no records
    assert _rid(raised.value) == "trace-r8f4-1"
    (causal,) = _lines(caplog, "/liftos.v1.CausalService/AnalyzeAttribution")
    assert " FAILED_PRECONDITION " in causal
    assert "rid=trace-r8f4-1" in causal and "org=org_a" in causal
    assert re.search(r"peer=ipv[46]:", causal), causal
    detail = raised.value.details()  # type: ignore[attr-defined]
    assert f'msg="{detail[:40]}' in causal, (causal, detail)
    memory = _lines(caplog, "/liftos.v1.MemoryService/AggregateRecords")
    assert memory and all("rid=trace-r8f4-1" in line for line in memory), memory
    assert all("org=org_a" in line for line in memory)


def test_a_denied_call_names_its_org_and_why_and_gets_a_new_id(
    mesh: dict[str, grpc.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    """Another org's request, and an x-request-id that is no id (spaces, quotes): the
    line names the org and the refusal; the id is replaced by a fresh one."""
    caplog.set_level("INFO", logger="liftos.rpc")
    stub = causal_grpc.CausalServiceStub(mesh["causal"])
    forged = 'x FAKE /liftos.v1.X/Y OK "q"'
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetAnalysis(
            causal_pb.GetAnalysisRequest(org_id="org_b", analysis_id="an-1"),
            metadata=(*auth_metadata(USER_KEY), ("x-request-id", forged)),
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    rid = _rid(raised.value)
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    (line,) = _lines(caplog, "/liftos.v1.CausalService/GetAnalysis")
    assert f"rid={rid}" in line and "org=org_b" in line and "PERMISSION_DENIED" in line
    assert "msg=" in line and "org_b" in line.partition("msg=")[2]
    assert "FAKE" not in line


def test_no_key_and_no_row_content_in_any_line(
    mesh: dict[str, grpc.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    """Records written (one campaign named ROW_TEXT, one refused as malformed) and searched:
    neither a key from the metadata nor the rows' text reaches the log."""
    caplog.set_level("DEBUG")
    stub = memory_grpc.MemoryServiceStub(mesh["memory"])
    records = synthetic_records("org_a", 40, campaigns=2, geos=2)
    for record in records:
        record.campaign_name = ROW_TEXT
    md = auth_metadata(ING_KEY)
    stub.Write(iter([memory_pb.WriteRequest(org_id="org_a", records=records)]), metadata=md)
    bad = records[0]
    bad.org_id = "org_b"  # a record of another org in org_a's batch: refused, with its reason
    reply = stub.Write(iter([memory_pb.WriteRequest(org_id="org_a", records=[bad])]), metadata=md)
    assert reply.refused_count == 1 and "org_id differs" in reply.rejections[0].reason
    with pytest.raises(grpc.RpcError):
        stub.Search(
            memory_pb.SearchRequest(org_id="org_zz", text=ROW_TEXT, k=3),
            metadata=auth_metadata(USER_KEY),
        )
    assert _lines(caplog, "/liftos.v1.MemoryService/Search")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/liftos.v1.MemoryService/Write OK" in text
    assert "/liftos.v1.MemoryService/Search PERMISSION_DENIED" in text
    for secret in (USER_KEY, ING_KEY, "Bearer", ROW_TEXT):
        assert secret not in text, secret


def test_the_sdk_failure_carries_the_request_id_of_the_log_line(
    running: dict[str, RunningService], caplog: pytest.LogCaptureFixture
) -> None:
    """A user's failed call (LiftOS SDK): RpcFailure.request_id is the rid on the server's line,
    what on-call greps for from a user's report."""
    caplog.set_level("INFO", logger="liftos.rpc")
    peers = PeerConfig.from_env().with_overrides(causal=running["causal"].address)
    client = LiftOS(peers, org_id="org_a", api_key=USER_KEY)
    try:
        with pytest.raises(RpcFailure) as raised:
            client.get_analysis("an-" + "0" * 20)
    finally:
        client.close()
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    rid = raised.value.request_id
    assert re.fullmatch(r"[0-9a-f]{16}", rid), rid
    lines = _lines(caplog, "/liftos.v1.CausalService/GetAnalysis")
    assert [x for x in lines if f"rid={rid} " in x and " NOT_FOUND " in x], lines
