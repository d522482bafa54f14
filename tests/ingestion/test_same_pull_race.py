"""Two exports of one pull time with other numbers, written at once (audit R24-F4): memory
keeps the first record of a (natural key, version); the other writer's rows must be its
rejections, never "accepted" while their numbers are dropped (real memory + ingestion).

The race is made deterministic: stream B loads the org's history (its first batch) before
export A is ingested by another call, then sends its own version of A's rows — exactly what
two concurrent ingests see when both read the history before either wrote."""

from __future__ import annotations

import copy
import datetime as dt
import queue
from collections.abc import Iterator

from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import memory_pb2 as memory_pb

import sim
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs
from tests.ingestion.test_memory_refusals import _restated


def test_the_loser_of_a_same_pull_race_is_told_its_rows_were_not_stored(  # type: ignore[no-untyped-def]
    services, world: sim.SimResult
) -> None:
    ingestion, memory = _stubs(services)
    sent: queue.Queue[ingestion_pb.IngestRequest | None] = queue.Queue()

    def stream_b() -> Iterator[ingestion_pb.IngestRequest]:
        while (item := sent.get()) is not None:
            yield item

    b_acks = ingestion.Ingest(stream_b(), timeout=60)
    sent.put(_request(world, _meta_lines(world, 1), "b0"))
    first = next(b_acks)
    assert (first.accepted_count, first.rejected_count) == (1, 0)

    # export A (same pull time) lands through another call while B's history is loaded
    (a_ack,) = ingestion.Ingest(
        iter([_request(world, _meta_lines(world, 4, 1), "a1", row_offset=1)])
    )
    assert (a_ack.accepted_count, a_ack.rejected_count) == (4, 0)
    a_spend = {r.natural_key: r.spend for r in _scan(memory)}

    # B's version of the same rows: other spend, same pull time and row places (same version)
    b_lines = [_restated(world, k, f"{900 + k}.00") for k in range(1, 5)]
    sent.put(_request(world, b_lines, "b1", row_offset=1))
    sent.put(None)
    (b_ack,) = list(b_acks)
    assert (b_ack.accepted_count, b_ack.rejected_count) == (0, 4)
    assert {r.reason for r in b_ack.rejections} == {ingestion_pb.REJECTION_REASON_STALE_VERSION}
    message = b_ack.rejections[0].message
    assert "already stored at version" in message and "spend" in message
    assert "--pulled-at" in message and world.raw["meta"].row_key(1) in message
    # memory kept A's numbers; B was not told otherwise
    assert {r.natural_key: r.spend for r in _scan(memory)} == a_spend


def test_memory_refuses_other_numbers_at_a_stored_version(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    (ack,) = ingestion.Ingest(iter([_request(world, _meta_lines(world, 2), "b1")]))
    assert ack.accepted_count == 2
    stored = _scan(memory)
    same = [copy.deepcopy(r) for r in stored]
    other = copy.deepcopy(stored[0])
    other.spend += 5.0
    reply = memory.Write(iter([memory_pb.WriteRequest(org_id="acme", records=same)]), timeout=30)
    assert (reply.unchanged_count, reply.refused_count) == (2, 0)
    reply = memory.Write(iter([memory_pb.WriteRequest(org_id="acme", records=[other])]), timeout=30)
    assert (reply.unchanged_count, reply.refused_count) == (0, 1)
    (rejection,) = reply.rejections
    assert rejection.field == "version" and "with other numbers" in rejection.reason
    assert {r.id: r.spend for r in _scan(memory)} == {r.id: r.spend for r in stored}


def test_rows_a_later_pull_overtook_while_written_are_rejected_stale(  # type: ignore[no-untyped-def]
    services, world: sim.SimResult
) -> None:
    """R24-F2: the older pull's rows, which memory answered stale because a later pull of
    their keys landed meanwhile, were counted accepted; now each is a stale_version
    rejection, as when the two pulls are sent one after the other."""
    ingestion, memory = _stubs(services)
    sent: queue.Queue[ingestion_pb.IngestRequest | None] = queue.Queue()

    def older_stream() -> Iterator[ingestion_pb.IngestRequest]:
        while (item := sent.get()) is not None:
            yield item

    old_acks = ingestion.Ingest(older_stream(), timeout=60)
    sent.put(_request(world, _meta_lines(world, 1), "old0"))
    assert next(old_acks).accepted_count == 1

    newer = _request(world, [_restated(world, k, f"{500 + k}.00") for k in range(1, 5)], "new1")
    newer.pulled_at.FromDatetime(newer.pulled_at.ToDatetime() + dt.timedelta(days=1))
    (new_ack,) = ingestion.Ingest(iter([newer]))
    assert (new_ack.accepted_count, new_ack.rejected_count) == (4, 0)
    newer_spend = {r.natural_key: r.spend for r in _scan(memory)}

    sent.put(_request(world, _meta_lines(world, 4, 1), "old1", row_offset=1))
    sent.put(None)
    (old_ack,) = list(old_acks)
    assert (old_ack.accepted_count, old_ack.rejected_count) == (0, 4)
    assert [r.row_index for r in old_ack.rejections] == [0, 1, 2, 3]
    assert {r.reason for r in old_ack.rejections} == {ingestion_pb.REJECTION_REASON_STALE_VERSION}
    assert "another ingest stored a later pull of this row" in old_ack.rejections[0].message
    assert {r.natural_key: r.spend for r in _scan(memory)} == newer_spend


def test_a_later_pull_that_replaced_rows_written_meanwhile_counts_them_restated(  # type: ignore[no-untyped-def]
    services, world: sim.SimResult
) -> None:
    """R24-F2, the newer pull's side: its history read saw no rows, an older pull's landed
    before its write, and memory replaced them: restated 4 (as sequentially), not 0."""
    ingestion, memory = _stubs(services)
    sent: queue.Queue[ingestion_pb.IngestRequest | None] = queue.Queue()
    later = dt.timedelta(days=1)

    def newer_stream() -> Iterator[ingestion_pb.IngestRequest]:
        while (item := sent.get()) is not None:
            yield item

    new_acks = ingestion.Ingest(newer_stream(), timeout=60)
    first = _request(world, _meta_lines(world, 1), "new0")
    first.pulled_at.FromDatetime(first.pulled_at.ToDatetime() + later)
    sent.put(first)
    assert next(new_acks).accepted_count == 1

    (old_ack,) = ingestion.Ingest(iter([_request(world, _meta_lines(world, 4, 1), "old1")]))
    assert (old_ack.accepted_count, old_ack.restated_count) == (4, 0)

    newer = _request(world, [_restated(world, k, f"{700 + k}.00") for k in range(1, 5)], "new1")
    newer.pulled_at.FromDatetime(newer.pulled_at.ToDatetime() + later)
    sent.put(newer)
    sent.put(None)
    (new_ack,) = list(new_acks)
    assert (new_ack.accepted_count, new_ack.rejected_count, new_ack.restated_count) == (4, 0, 4)
    stored = {r.natural_key: r.spend for r in _scan(memory)}
    assert [stored[world.raw["meta"].row_key(k)] for k in range(1, 5)] == [701, 702, 703, 704]
