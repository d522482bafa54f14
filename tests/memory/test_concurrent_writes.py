"""Concurrent Write streams sharing identities: whatever the interleaving, every identity is
stored once, at its highest version, with the versions it replaced in history, and the FAISS
index, its seq → id map and the store agree (real server, engine inspected after)."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from memory_svc.engine import MemoryEngine
from mesh.runtime.config import ServerConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import scan_all

ORG = "race"
KEYS = 40
VERSIONS = 6
STREAMS = 4
BATCH = 7


def _plan(base: list[md_pb.CausalMarketingData]) -> list[list[md_pb.CausalMarketingData]]:
    """Every (key, version) goes to one random stream, a fifth of them to a second one too
    (equal versions: unchanged), each stream in shuffled order (lower versions after higher:
    stale); ids follow the contract (one per natural key)."""
    rng = random.Random(11)
    streams: list[list[md_pb.CausalMarketingData]] = [[] for _ in range(STREAMS)]
    for record in base:
        for version in range(1, VERSIONS + 1):
            copy = md_pb.CausalMarketingData()
            copy.CopyFrom(record)
            copy.version = version
            copy.spend = float(version)
            targets = rng.sample(range(STREAMS), 2 if rng.random() < 0.2 else 1)
            for s in targets:
                streams[s].append(copy)
    for records in streams:
        rng.shuffle(records)
    return streams


def test_concurrent_streams_sharing_identities_store_each_once(tmp_path: Path) -> None:
    engines: list[MemoryEngine] = []

    def capturing_build(config: ServerConfig) -> Any:
        bindings, on_stop = build(config)
        engines.append(bindings[0].servicer._engine)
        return bindings, on_stop

    base = synthetic_records(ORG, KEYS, seed=3)
    streams = _plan(base)
    replies: list[memory_pb.WriteResponse] = []
    errors: list[BaseException] = []
    start = threading.Barrier(STREAMS)

    with running_services({"memory": capturing_build}, tmp_path) as services:
        with grpc.insecure_channel(services["memory"].address) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)

            def run(records: list[md_pb.CausalMarketingData]) -> None:
                try:
                    start.wait()
                    # one Write per batch (as ingestion sends them), so batches of
                    # different streams interleave at every step
                    for i in range(0, len(records), BATCH):
                        request = memory_pb.WriteRequest(org_id=ORG, records=records[i : i + BATCH])
                        replies.append(stub.Write(iter([request]), timeout=60))
                except BaseException as exc:  # surfaced below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(s,)) for s in streams]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors

            stored = scan_all(stub, org_id=ORG)

        counted = sum(
            r.inserted_count + r.replaced_count + r.unchanged_count + r.stale_count for r in replies
        )
        assert counted == sum(len(s) for s in streams)  # every record answered for once
        assert sum(r.inserted_count for r in replies) == KEYS
        # exactly one current record per identity, at the highest version
        assert sorted(r.id for r in stored) == sorted(r.id for r in base)
        assert {r.natural_key for r in stored} == {r.natural_key for r in base}
        assert all(r.version == VERSIONS and r.spend == VERSIONS for r in stored)

        (engine,) = engines
        store: Any = engine.store
        history_rows = 0
        for record in base:
            history = store.history(ORG, record.natural_key)
            versions = [v for _, v, _ in history]
            # each replaced version once, all below the current one, under the same id
            assert versions == sorted(set(versions)) and all(v < VERSIONS for v in versions)
            assert {rid for rid, _, _ in history} <= {record.id}
            history_rows += len(history)
        assert history_rows == sum(r.replaced_count for r in replies)

        state = engine.store.org_state(ORG)
        index = engine.indexes.get(ORG)
        ids = engine.indexes.record_ids(ORG)
        assert state is not None and index is not None and ids is not None
        assert state.record_count == index.size == len(ids) == KEYS
        assert index.checksum() == state.checksum
