"""A bad record costs only itself: Write and WriteStream store a message's good records and
refuse its bad ones, each named (message, index, quoted id, field path, reason) in a list
bounded however many are refused (real servers on SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from memory_svc.refusals import MAX_LISTED_BYTES, Refusal, RefusalList
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import rejection_paths, scan_all


def _mixed(org: str, seed: int) -> tuple[list[md_pb.CausalMarketingData], list[int]]:
    """12 records, four of them bad in different fields: (records, the bad ones' indexes)."""
    records = synthetic_records(org, 12, seed=seed)
    records[2].spend = math.inf
    records[5].external_factors.add(name="fx", value=math.nan)
    records[5].external_factors.add(name="fx2", value=math.nan)  # one entry per record
    records[7].calendar_features.month = 13
    records[11].id = "bad\x1b[2Jid"
    records[11].timestamp.seconds = 2**62
    return records, [2, 5, 7, 11]


EXPECTED = {
    "records[2].spend": "spend must be a finite number",
    "records[5].external_factors[0].value": "external_factors.value must be a finite number",
    "records[7].calendar_features.month": "calendar_features.month must be in 1..12",
    "records[11].timestamp": "timestamp must be within 1900-2200",
}


def _check_mixed(
    stub: memory_grpc.MemoryServiceStub, org: str, records: list[md_pb.CausalMarketingData]
) -> None:
    bad = {2, 5, 7, 11}
    stored = {r.id for r in scan_all(stub, org_id=org)}
    assert stored == {r.id for i, r in enumerate(records) if i not in bad}


def test_write_stream_stores_the_good_records_and_names_the_bad(stub) -> None:  # type: ignore[no-untyped-def]
    org = "refusals-stream"
    records, bad = _mixed(org, 1)
    (answer,) = stub.WriteStream(
        iter([memory_pb.WriteStreamRequest(org_id=org, records=records)]), timeout=60
    )
    assert (answer.inserted_count, answer.refused_count) == (8, 4)
    assert list(answer.refused_record_indexes) == bad
    assert rejection_paths(answer) == EXPECTED
    assert answer.rejections[3].record_id == "'bad\\x1b[2Jid'"  # quoted, escaped
    assert answer.unlisted_rejection_count == 0 and not answer.rejection_summaries
    _check_mixed(stub, org, records)


def test_write_names_the_message_of_each_refused_record(stub) -> None:  # type: ignore[no-untyped-def]
    org = "refusals-write"
    records, _ = _mixed(org, 2)
    first, second = records[:6], records[6:]  # bad: 2, 5 | 1, 5 (7 and 11 overall)
    reply = stub.Write(
        iter(
            [
                memory_pb.WriteRequest(org_id=org, records=first),
                memory_pb.WriteRequest(org_id=org, records=second),
            ]
        ),
        timeout=60,
    )
    assert (reply.inserted_count, reply.refused_count, reply.org_record_count) == (8, 4, 8)
    got = [(r.message_index, r.record_index, r.field) for r in reply.rejections]
    assert got == [
        (0, 2, "spend"),
        (0, 5, "external_factors[0].value"),
        (1, 1, "calendar_features.month"),
        (1, 5, "timestamp"),
    ]
    _check_mixed(stub, org, records)


def test_a_message_of_only_bad_records_is_answered_ok_and_stores_nothing(stub) -> None:  # type: ignore[no-untyped-def]
    """OK, not INVALID_ARGUMENT: a stream's later messages and the answers of the ones before
    go on as for any message; refused_count says that nothing of it was stored."""
    org = "refusals-none"
    records = synthetic_records(org, 3, seed=3)
    for r in records:
        r.clicks = -1
    (answer,) = stub.WriteStream(
        iter([memory_pb.WriteStreamRequest(org_id=org, records=records)]), timeout=60
    )
    assert (answer.inserted_count, answer.refused_count, answer.org_record_count) == (0, 3, 0)
    assert list(answer.refused_record_indexes) == [0, 1, 2]
    reply = stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=60)
    assert (reply.inserted_count, reply.refused_count) == (0, 3)
    with pytest.raises(grpc.RpcError) as err:
        scan_all(stub, org_id=org)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def _hostile(org: str, n: int) -> list[md_pb.CausalMarketingData]:
    """``n`` records without a timestamp (refused), each with a 256-character id full of
    escape codes and a name of 2,000 NULs."""
    out = []
    for i in range(n):
        r = md_pb.CausalMarketingData(id=f"{i:06d}" + "\x1b[31m" * 50, org_id=org)
        r.campaign_name = "\x00" * 2_000
        out.append(r)
    return out


def test_ten_thousand_bad_records_get_a_small_exact_answer(stub) -> None:  # type: ignore[no-untyped-def]
    org = "refusals-many"
    bad = _hostile(org, 10_000)
    good = synthetic_records(org, 5, seed=9)
    message = [*bad[:5_000], *good, *bad[5_000:9_995]]  # 10,000 records, the most a message holds
    (answer,) = stub.WriteStream(
        iter([memory_pb.WriteStreamRequest(org_id=org, records=message)]), timeout=120
    )
    assert (answer.inserted_count, answer.refused_count) == (5, 9_995)
    assert answer.ByteSize() < MAX_LISTED_BYTES + 100_000  # ~300 KB, whatever was sent
    listed, unlisted = len(answer.rejections), answer.unlisted_rejection_count
    assert listed > 100 and unlisted > 0 and listed + unlisted == 9_995
    assert sum(s.record_count for s in answer.rejection_summaries) == unlisted
    assert len(answer.rejection_summaries) <= 101
    assert list(answer.refused_record_indexes) == [*range(5_000), *range(5_005, 10_000)]
    assert all(len(r.record_id) <= 100 for r in answer.rejections)
    assert {r.id for r in scan_all(stub, org_id=org)} == {r.id for r in good}

    # a Write stream of three such messages: one answer, the same bound, every one counted
    requests = [memory_pb.WriteRequest(org_id=org, records=bad) for _ in range(3)]
    reply = stub.Write(iter(requests), timeout=180)
    assert reply.refused_count == 30_000
    assert len(reply.rejections) + reply.unlisted_rejection_count == 30_000
    assert reply.ByteSize() < MAX_LISTED_BYTES + 100_000
    last = reply.rejection_summaries[-1]
    assert (last.last_message_index, last.last_record_index) == (2, 9_999)


def test_the_list_bound_counts_what_it_does_not_list() -> None:
    refused = RefusalList()
    refused.add(0, [Refusal(i, "x" * 300, f"notes[{i}]", "r" * 2_000) for i in range(5_000)])
    assert refused.count == 5_000
    assert len(refused.listed) + refused.unlisted == 5_000
    # 80 characters of the id, then how long it was
    assert all(len(x.record_id) <= 100 and len(x.reason) <= 600 for x in refused.listed)
    # item indexes are left out of a summary's field, so 5,000 paths are one group
    assert [(g.key, g.count) for g in refused.groups] == [("notes", refused.unlisted)]


@pytest.fixture
def postgres_stub(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[memory_grpc.MemoryServiceStub]:
    monkeypatch.setenv("LIFTOS_MEMORY_STORE", postgres_url)
    with (
        running_services({"memory": build}, tmp_path) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        yield memory_grpc.MemoryServiceStub(channel)


def test_postgresql_stores_the_good_records_and_names_the_bad(postgres_stub) -> None:  # type: ignore[no-untyped-def]
    org = "refusals-pg"
    records, bad = _mixed(org, 4)
    (answer,) = postgres_stub.WriteStream(
        iter([memory_pb.WriteStreamRequest(org_id=org, records=records)]), timeout=60
    )
    assert (answer.inserted_count, answer.refused_count) == (8, 4)
    assert list(answer.refused_record_indexes) == bad
    assert rejection_paths(answer) == EXPECTED
    _check_mixed(postgres_stub, org, records)
