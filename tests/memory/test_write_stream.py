"""WriteStream: one answer per message, in order, each after its batch is durable; a bad record
is refused in its message's answer while the rest are stored; an error (a message refused
whole) ends the stream and the batches answered before it stay stored (real server)."""

from __future__ import annotations

import threading

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.synthetic_records import synthetic_records

from .conftest import reason_and_fields, rejection_paths, scan_all


def _request(org: str, records: list[md_pb.CausalMarketingData]) -> memory_pb.WriteStreamRequest:
    return memory_pb.WriteStreamRequest(org_id=org, records=records)


def test_every_message_is_answered_in_order_with_its_own_counts(stub) -> None:
    org = "stream-counts"
    records = synthetic_records(org, 90, seed=2)
    restated = md_pb.CausalMarketingData()
    restated.CopyFrom(records[3])
    restated.version += 5
    requests = [
        _request(org, records[:40]),
        _request(org, records[40:90]),
        _request(org, []),  # answered too: nothing stored, the org's count
        _request(org, [*records[:10], restated]),  # 9 unchanged (+ the one restated)
    ]
    answers = list(stub.WriteStream(iter(requests), timeout=60))
    got = [
        (a.inserted_count, a.replaced_count, a.unchanged_count, a.org_record_count) for a in answers
    ]
    assert got == [(40, 0, 0, 40), (50, 0, 0, 90), (0, 0, 0, 90), (0, 1, 9, 90)]
    stored = {r.id: r for r in scan_all(stub, org_id=org)}
    assert len(stored) == 90
    assert stored[restated.id].version == restated.version
    assert stored[restated.id].causal_metadata.is_restatement


def test_an_answer_comes_while_the_stream_is_still_open(stub) -> None:
    """A writer waits for each answer before sending the next batch (lock step)."""
    org = "stream-lockstep"
    records = synthetic_records(org, 30, seed=3)
    outbox: list[memory_pb.WriteStreamRequest | None] = []
    ready = threading.Condition()

    def requests():  # type: ignore[no-untyped-def]
        for k in range(3):
            with ready:
                ready.wait_for(lambda k=k: len(outbox) > k)
                item = outbox[k]
            if item is None:
                return
            yield item

    call = stub.WriteStream(requests(), timeout=60)
    counts = []
    for k in range(3):
        with ready:
            outbox.append(_request(org, records[10 * k : 10 * (k + 1)]))
            ready.notify_all()
        answer = next(call)  # would hang if memory answered only at the end
        counts.append(answer.org_record_count)
    assert counts == [10, 20, 30]
    with pytest.raises(StopIteration):
        next(call)


def test_a_bad_record_is_refused_in_its_answer_and_the_stream_goes_on(stub) -> None:
    org = "stream-bad"
    records = synthetic_records(org, 60, seed=4)
    bad = md_pb.CausalMarketingData()
    bad.CopyFrom(records[45])
    bad.spend = -1.0
    requests = [
        _request(org, records[:20]),
        _request(org, records[20:40]),
        _request(org, [records[40], bad]),
        _request(org, records[50:60]),
    ]
    answers = list(stub.WriteStream(iter(requests), timeout=60))
    assert [a.inserted_count for a in answers] == [20, 20, 1, 10]
    assert [a.refused_count for a in answers] == [0, 0, 1, 0]
    third = answers[2]
    assert list(third.refused_record_indexes) == [1]
    assert rejection_paths(third) == {"records[1].spend": "spend must not be negative"}
    assert third.rejections[0].record_id == repr(bad.id)
    assert third.rejections[0].message_index == 2
    stored = {r.id for r in scan_all(stub, org_id=org)}
    assert stored == {r.id for r in [*records[:41], *records[50:60]]}


def test_a_message_for_another_org_ends_the_stream(stub) -> None:
    records = synthetic_records("stream-a", 10, seed=5)
    others = synthetic_records("stream-b", 10, seed=5)
    requests = [_request("stream-a", records), _request("stream-b", others)]
    with pytest.raises(grpc.RpcError) as err:
        list(stub.WriteStream(iter(requests), timeout=60))
    code, _, fields = reason_and_fields(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and fields == ["org_id"]
    assert len(scan_all(stub, org_id="stream-a")) == 10
