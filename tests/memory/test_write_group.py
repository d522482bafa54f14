"""Group commit: WriteStream messages that queued up while the engine was busy are stored in
one transaction, and each is still answered with its own counts, in order, exactly as if
they had been stored one by one (engine and a real server whose engine is held)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import convert
from memory_svc.app import SERVICE_NAME
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.service import MemoryService
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter
from memory_svc.write_group import MAX_GROUP_RECORDS, WriteGroup
from memory_svc.writer import Serialise, WriteOutcome
from mesh.runtime import ServerConfig, ServiceBinding
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import rejection_paths, scan_all


def _engine(root: Path) -> MemoryEngine:
    return MemoryEngine(
        SQLiteRecordStore(root / "memory.sqlite"),
        IndexManager(root / "index", IndexSettings()),
        MemorySettings(),
    )


def _batch(org: str, records: list[md_pb.CausalMarketingData]) -> convert.WriteBatch:
    return convert.write_batch(memory_pb.WriteRequest(org_id=org, records=records), None)


def _restated(record: md_pb.CausalMarketingData, bump: int = 1) -> md_pb.CausalMarketingData:
    r = md_pb.CausalMarketingData()
    r.CopyFrom(record)
    r.version += bump
    r.spend += 1.0
    return r


def _counts(o: WriteOutcome) -> tuple[int, int, int, int, int]:
    return (o.inserted, o.replaced, o.unchanged, o.stale, o.org_record_count)


def test_a_group_has_the_outcomes_and_state_of_its_batches_stored_one_by_one(
    tmp_path: Path,
) -> None:
    records = synthetic_records("g", 120, seed=3)
    seed = records[:40]
    dup = _restated(records[50], 0)  # the same record twice in one batch: one unchanged
    batches = [
        [*records[40:60], dup],
        [_restated(seed[1]), seed[2], seed[3]],  # replaced, unchanged ×2
        [_restated(_restated(seed[4]), 1), _restated(seed[4])],  # v+2 wins, v+1 stale
        records[60:120],
    ]
    sequential, grouped = _engine(tmp_path / "a"), _engine(tmp_path / "b")
    try:
        for eng in (sequential, grouped):
            b = _batch("g", seed)
            eng.write("g", b.frame, b.given_vectors, convert.serialiser(b.records))
        one_by_one = []
        for records_ in batches:
            b = _batch("g", records_)
            one_by_one.append(
                sequential.write("g", b.frame, b.given_vectors, convert.serialiser(b.records))
            )
        group = WriteGroup(_batch("g", batches[0]))
        for records_ in batches[1:]:
            nxt = _batch("g", records_)
            assert group.admits(nxt)
            group.add(nxt)
        together = grouped.write_group(
            "g",
            group.frame(),
            group.given_vectors(),
            convert.serialiser(group.records()),
            group.parts(),
        )
        # the same fates; the org's count is the one after the whole group
        assert [_counts(o)[:4] for o in together] == [_counts(o)[:4] for o in one_by_one]
        assert [_counts(o)[:4] for o in together] == [
            (20, 0, 1, 0),
            (0, 1, 2, 0),
            (0, 1, 0, 1),
            (60, 0, 0, 0),
        ]
        assert all(o.org_record_count == 120 for o in together)
        a, b_ = _stored(sequential), _stored(grouped)
        assert len(a) == 120 and a.keys() == b_.keys()
        for rid, (payload_a, vec_a) in a.items():
            payload_b, vec_b = b_[rid]
            ra, rb = (md_pb.CausalMarketingData.FromString(p) for p in (payload_a, payload_b))
            assert (ra.version, ra.spend, ra.causal_metadata.is_restatement) == (
                rb.version,
                rb.spend,
                rb.causal_metadata.is_restatement,
            )
            np.testing.assert_allclose(vec_a, vec_b, rtol=1e-6)
        assert md_pb.CausalMarketingData.FromString(b_[records[4].id][0]).version == (
            records[4].version + 2
        )
    finally:
        sequential.close()
        grouped.close()


def _stored(eng: MemoryEngine) -> dict[str, tuple[bytes, np.ndarray]]:
    rows = eng.store.scan_page("g", RecordFilter(), None, 1000, with_embeddings=True)
    out = {}
    for row in rows:
        assert row.embedding is not None
        out[row.id] = (row.payload, np.frombuffer(row.embedding, dtype=np.float32))
    return out


def test_parts_must_cover_the_frame(tmp_path: Path) -> None:
    eng = _engine(tmp_path)
    try:
        b = _batch("g", synthetic_records("g", 10, seed=1))
        with pytest.raises(ValueError, match="do not add up"):
            eng.write_group("g", b.frame, b.given_vectors, convert.serialiser(b.records), [4, 5])
    finally:
        eng.close()


def test_a_group_admits_no_shared_identity_no_empty_batch_and_stays_bounded() -> None:
    records = synthetic_records("g", 60, seed=4)
    group = WriteGroup(_batch("g", records[:20]))
    assert not group.admits(_batch("g", [records[5]]))  # same id
    other_id = md_pb.CausalMarketingData()
    other_id.CopyFrom(records[6])
    other_id.id = "another-id"  # same natural key
    assert not group.admits(_batch("g", [other_id]))
    assert not group.admits(_batch("g", []))
    fresh = _batch("g", records[20:40])
    assert group.admits(fresh)
    group.add(fresh)
    assert not group.admits(_batch("g", [records[30]]))  # in the batch added second
    assert group.parts() == [20, 20] and len(group.records()) == 40
    assert len(group.frame()) == 40 and list(group.frame()["id"]) == [r.id for r in records[:40]]
    assert not WriteGroup(_batch("g", [])).admits(_batch("g", records[40:]))
    big = synthetic_records("big", MAX_GROUP_RECORDS + 1, seed=1)
    full = WriteGroup(_batch("big", big[: MAX_GROUP_RECORDS - 5]))
    assert not full.admits(_batch("big", big[MAX_GROUP_RECORDS - 5 :]))  # one too many
    assert full.admits(_batch("big", big[MAX_GROUP_RECORDS - 5 : MAX_GROUP_RECORDS]))


# ----------------------------------------------------------------- over gRPC


class HeldEngine(MemoryEngine):
    """An engine whose first write waits until the test lets it go, so the messages sent
    meanwhile queue up; every write records the message sizes it stored together."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.groups: list[list[int]] = []

    def write_group(
        self,
        org_id: str,
        frame: pd.DataFrame,
        given_vectors: Sequence[np.ndarray | None],
        serialise: Serialise,
        parts: Sequence[int],
    ) -> list[WriteOutcome]:
        assert self.release.wait(30)
        self.groups.append(list(parts))
        return super().write_group(org_id, frame, given_vectors, serialise, parts)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[memory_grpc.MemoryServiceStub, HeldEngine]]:
    engines: list[HeldEngine] = []

    def build(
        config: ServerConfig,
    ) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
        root = config.data_dir / "memory"
        engine = HeldEngine(
            SQLiteRecordStore(root / "memory.sqlite"),
            IndexManager(root / "index", IndexSettings()),
            MemorySettings(),
        )
        engines.append(engine)

        async def on_stop() -> None:
            engine.release.set()
            await asyncio.to_thread(engine.close)

        binding = ServiceBinding(
            SERVICE_NAME, MemoryService(engine), memory_grpc.add_MemoryServiceServicer_to_server
        )
        return [binding], on_stop

    with (
        running_services({"memory": build}, tmp_path) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        yield memory_grpc.MemoryServiceStub(channel), engines[0]


def _sent_then_released(
    engine: HeldEngine, requests: list[memory_pb.WriteStreamRequest]
) -> Iterator[memory_pb.WriteStreamRequest]:
    """Every request, then (once the server has had time to receive and decode them all
    while the first is held) the engine is let go."""
    yield from requests

    def later() -> None:
        time.sleep(0.5)
        engine.release.set()

    threading.Thread(target=later, daemon=True).start()


def test_queued_messages_are_committed_together_and_answered_one_by_one(held) -> None:  # type: ignore[no-untyped-def]
    stub, engine = held
    org = "grouped"
    records = synthetic_records(org, 100, seed=6)
    requests = [
        memory_pb.WriteStreamRequest(org_id=org, records=records[:20]),
        memory_pb.WriteStreamRequest(org_id=org, records=records[20:40]),
        memory_pb.WriteStreamRequest(org_id=org, records=records[40:60]),
        # restates a record of the message before: a new group, so it is replaced in order
        memory_pb.WriteStreamRequest(org_id=org, records=[_restated(records[45])]),
        memory_pb.WriteStreamRequest(org_id=org, records=records[60:100]),
        memory_pb.WriteStreamRequest(org_id=org, records=[]),
    ]
    answers = list(stub.WriteStream(_sent_then_released(engine, requests), timeout=60))
    got = [
        (a.inserted_count, a.replaced_count, a.unchanged_count, a.org_record_count) for a in answers
    ]
    assert got == [
        (20, 0, 0, 20),
        (20, 0, 0, 60),
        (20, 0, 0, 60),
        (0, 1, 0, 100),
        (40, 0, 0, 100),
        (0, 0, 0, 100),
    ]
    assert engine.groups == [[20], [20, 20], [1, 40]]
    stored = {r.id: r for r in scan_all(stub, org_id=org)}
    assert len(stored) == 100
    assert stored[records[45].id].causal_metadata.is_restatement


def test_a_record_the_engine_refuses_in_a_group_costs_only_itself(held) -> None:  # type: ignore[no-untyped-def]
    """A natural_key stored under another id is found by the writer inside a group commit:
    that record is refused (named by its index within its own message), the group's other
    records and messages are stored, and the stream goes on."""
    stub, engine = held
    org = "grouped-bad"
    records = synthetic_records(org, 80, seed=7)
    thief = md_pb.CausalMarketingData()
    thief.CopyFrom(records[6])
    thief.natural_key = records[5].natural_key  # another stored record's: the engine refuses
    requests = [
        memory_pb.WriteStreamRequest(org_id=org, records=records[:20]),
        memory_pb.WriteStreamRequest(org_id=org, records=records[20:40]),
        memory_pb.WriteStreamRequest(org_id=org, records=[records[40], thief]),
        memory_pb.WriteStreamRequest(org_id=org, records=records[50:80]),
    ]
    answers = list(stub.WriteStream(_sent_then_released(engine, requests), timeout=60))
    assert [a.inserted_count for a in answers] == [20, 20, 1, 30]
    assert [a.refused_count for a in answers] == [0, 0, 1, 0]
    assert list(answers[2].refused_record_indexes) == [1]  # the index within its own message
    assert rejection_paths(answers[2]).keys() == {"records[1].natural_key"}
    assert answers[2].rejections[0].message_index == 2
    assert engine.groups[:2] == [[20], [20, 2, 30]]  # committed as one group all the same
    assert {r.id for r in scan_all(stub, org_id=org)} == {
        r.id for r in [*records[:41], *records[50:80]]
    }
