"""Write idempotency and restatements, enrichment, Scan order/filters/batching (real server)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from google.protobuf import timestamp_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.synthetic_records import synthetic_records

from .conftest import ORG, ORG_RECORDS, scan_all, write


def _ts(day: dt.date) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    return ts


def test_write_is_idempotent_and_restatements_replace(stub) -> None:
    org = "idem"
    records = synthetic_records(org, 60, seed=1)
    first = write(stub, org, records, batch=25)
    assert (first.inserted_count, first.org_record_count) == (60, 60)
    again = write(stub, org, records, batch=60)
    assert (again.inserted_count, again.unchanged_count, again.org_record_count) == (0, 60, 60)

    restated = [md_pb.CausalMarketingData() for _ in range(5)]
    for new, old in zip(restated, records[:5], strict=True):
        new.CopyFrom(old)
        new.version = old.version + 10
        new.spend = old.spend * 2 + 1
    stale = md_pb.CausalMarketingData()
    stale.CopyFrom(records[7])
    stale.version = 0
    response = write(stub, org, [*restated, stale])
    assert (response.replaced_count, response.stale_count, response.inserted_count) == (5, 1, 0)
    assert response.org_record_count == 60

    stored = {r.id: r for r in scan_all(stub, org_id=org)}
    assert len(stored) == 60
    for new, old in zip(restated, records[:5], strict=True):
        got = stored[old.id]
        assert got.version == old.version + 10 and got.spend == new.spend
        assert got.causal_metadata.is_restatement
        assert got.causal_metadata.replaced_version == old.version
    assert stored[records[7].id].version == records[7].version


def test_restated_natural_key_with_new_id_replaces_old_record(stub) -> None:
    org = "nkey"
    (record,) = synthetic_records(org, 1)
    write(stub, org, [record])
    moved = md_pb.CausalMarketingData()
    moved.CopyFrom(record)
    moved.id = "a-different-id"
    moved.version = record.version + 1
    response = write(stub, org, [moved])
    assert (response.replaced_count, response.org_record_count) == (1, 1)
    assert [r.id for r in scan_all(stub, org_id=org)] == ["a-different-id"]


def test_in_batch_duplicates_apply_in_version_order(stub) -> None:
    org = "dups"
    (r1,) = synthetic_records(org, 1)
    r2, r3 = md_pb.CausalMarketingData(), md_pb.CausalMarketingData()
    r2.CopyFrom(r1)
    r2.version = 5
    r3.CopyFrom(r2)  # same version as the winner: unchanged; r1 is older: stale
    response = write(stub, org, [r2, r1, r3])
    assert (response.inserted_count, response.stale_count, response.unchanged_count) == (1, 1, 1)
    (stored,) = scan_all(stub, org_id=org)
    assert stored.version == 5


def test_scan_returns_enriched_records_in_time_order(stub, org_records) -> None:
    batches = list(stub.Scan(memory_pb.ScanRequest(org_id=ORG, batch_size=250)))
    assert [len(b.records) for b in batches] == [250] * 6 + [100]
    records = [r for b in batches for r in b.records]
    assert len({r.id for r in records}) == ORG_RECORDS
    keys = [(r.timestamp.ToMicroseconds(), r.id) for r in records]
    assert keys == sorted(keys)
    r = records[0]
    assert not r.embedding_vector  # off unless asked
    assert r.conceptual_space.startswith("efficiency/")
    assert {a.space for a in r.conceptual_assignments} == {
        "efficiency",
        "scale",
        "timing",
        "treatment",
    }
    assert f"org:{ORG}" in r.knowledge_graph_nodes
    assert f"campaign:{r.campaign_id}" in r.knowledge_graph_nodes


def test_scan_filters_match_exactly(stub, org_records) -> None:
    start, end = dt.date(2024, 11, 1), dt.date(2024, 11, 15)
    got = scan_all(
        stub,
        org_id=ORG,
        time_range=common_pb.TimeRange(start_time=_ts(start), end_time=_ts(end)),
        sources=[common_pb.DATA_SOURCE_META],
        treatment_groups=[md_pb.TREATMENT_GROUP_TREATMENT, md_pb.TREATMENT_GROUP_CONTROL],
    )
    lo, hi = _ts(start).ToMicroseconds(), _ts(end).ToMicroseconds()
    expected = {
        r.id
        for r in org_records
        if lo <= r.timestamp.ToMicroseconds() < hi
        and r.data_source == common_pb.DATA_SOURCE_META
        and r.treatment_group in (md_pb.TREATMENT_GROUP_TREATMENT, md_pb.TREATMENT_GROUP_CONTROL)
    }
    assert expected and {r.id for r in got} == expected
    geo = scan_all(stub, org_id=ORG, geos=["US-NY"], campaign_ids=["c2", "c3"], batch_size=7)
    assert {r.id for r in geo} == {
        r.id for r in org_records if r.geo == "US-NY" and r.campaign_id in ("c2", "c3")
    }
    exp = scan_all(stub, org_id=ORG, experiment_id="exp-bf", channels=["meta_retargeting"])
    assert exp and all(r.experiment_id == "exp-bf" and r.campaign_id == "c0" for r in exp)


def test_scanned_embeddings_restore_identically(stub, org_records) -> None:
    """Scan(include_embeddings) → Write to another org keeps the vectors as they were."""
    original = scan_all(stub, org_id=ORG, include_embeddings=True, campaign_ids=["c5"])
    assert original and all(len(r.embedding_vector) == 256 for r in original)
    v = np.asarray(original[0].embedding_vector)
    assert abs(np.linalg.norm(v) - 1.0) < 1e-5
    copies = []
    for r in original:
        c = md_pb.CausalMarketingData()
        c.CopyFrom(r)
        c.org_id = "restored"
        copies.append(c)
    write(stub, "restored", copies)
    back = {r.id: r for r in scan_all(stub, org_id="restored", include_embeddings=True)}
    for r in original:
        np.testing.assert_allclose(back[r.id].embedding_vector, r.embedding_vector, atol=1e-6)


def test_replaced_versions_are_kept_in_history(tmp_path) -> None:
    """Restatements are recorded, not lost: the store keeps every replaced version's payload."""
    from memory_svc import convert
    from memory_svc.app import open_engine
    from mesh.runtime.config import PeerConfig, ServerConfig

    engine = open_engine(ServerConfig("memory", "127.0.0.1", 0, tmp_path, PeerConfig.from_env()))
    try:
        (r,) = synthetic_records("hist", 1)
        versions = []
        for v, spend in ((1, 10.0), (2, 20.0), (3, 30.0)):
            c = md_pb.CausalMarketingData()
            c.CopyFrom(r)
            c.version, c.spend = v, spend
            batch = convert.write_batch(memory_pb.WriteRequest(org_id="hist", records=[c]), None)
            engine.write(
                "hist", batch.frame, batch.given_vectors, convert.serialiser(batch.records)
            )
            versions.append(v)
        history = engine.store.history("hist", r.natural_key)  # type: ignore[attr-defined]
        assert [(rid, v) for rid, v, _ in history] == [(r.id, 1), (r.id, 2)]
        state = engine.store.org_state("hist")
        assert state is not None and state.record_count == 1
        assert engine.indexes.get("hist").size == 1  # type: ignore[union-attr]
    finally:
        engine.close()
