"""ForgetBatches drops the superseded-content log's rows of the records memory deleted (audit
R40 F2: each row is the hash of a whole raw row, and an erased account's stayed), and only
theirs: the log is what keeps an old export sent again from reverting a restatement of a
record memory still holds (audit R19 #1), so the rows of the account kept, and of other
orgs, stay and still do that. Real memory + ingestion over gRPC; the log read from
ingestion's data dir."""

from __future__ import annotations

import copy
import datetime as dt
import sqlite3
from pathlib import Path

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from mesh.runtime.inprocess import RunningService
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_ingest_service import _request

KEPT = "2000000000000001"  # a second ad account of the org, which is not deleted


def _export(world: sim.SimResult, account: str | None) -> list[str]:
    """10 rows of the account; day 3 first preliminary (264.24), then re-sent (272.41)."""
    rows = [world.raw["meta"].base_row(k) for k in range(10)]
    restated = copy.deepcopy(rows[3])
    rows[3]["spend"], restated["spend"] = "264.24", "272.41"
    rows.append(restated)
    for row in rows:
        row["account_id"] = account or row["account_id"]
    return [dumps(r) for r in rows]


def _send(
    ingestion: ingestion_grpc.IngestionServiceStub,
    world: sim.SimResult,
    lines: list[str],
    *,
    org: str,
    account: str | None,
    batch: str,
    pulled_at: dt.datetime,
    split: int = 10,
) -> list[ingestion_pb.IngestResponse]:
    """The export in two batches on one stream: the preliminary line in the first, the
    re-send in the second (the cross-batch case the log is for)."""
    requests = []
    for k, (start, part) in enumerate(((0, lines[:split]), (split, lines[split:]))):
        request = _request(
            world, part, f"{batch}-{k}", org_id=org, pulled_at=pulled_at, row_offset=start
        )
        request.account.account_id = account or request.account.account_id
        requests.append(request)
    return list(ingestion.Ingest(iter(requests), timeout=60))


def _log(data: Path) -> set[tuple[str, str]]:
    """(org, record id) of every version the log holds."""
    path = data / "ingestion" / "superseded.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {(str(o), str(r)) for o, r in db.execute("SELECT org_id, record_id FROM superseded")}


def _spend(memory: memory_grpc.MemoryServiceStub, org: str, day_key: str) -> dict[str, float]:
    """Account → spend of the org's record of the restated day (``day_key``: its natural
    key without the account)."""
    out = {}
    for b in memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=30):
        for r in b.records:
            source, account, rest = r.natural_key.split("|", 2)
            if f"{source}||{rest}" == day_key:
                out[account] = r.spend
    return out


def test_forgetting_drops_the_deleted_records_versions_and_keeps_the_rest(
    services: dict[str, RunningService], world: sim.SimResult, tmp_path: Path
) -> None:
    source, _, rest = world.raw["meta"].row_key(3).split("|", 2)
    day = f"{source}||{rest}"
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    erased = world.raw["meta"].base_row(0)["account_id"]
    for org, account in (("acme", None), ("acme", KEPT), ("rival", None)):
        acks = _send(
            ingestion, world, _export(world, account), org=org, account=account,
            batch=f"{org}-{account}", pulled_at=PULLED,
        )  # fmt: skip
        assert sum(a.restated_count for a in acks) == 1
    logged = _log(tmp_path)
    assert len(logged) == 3 and {o for o, _ in logged} == {"acme", "rival"}

    memory.DeleteRecords(memory_pb.DeleteRecordsRequest(org_id="acme", account_id=erased))
    ingestion.ForgetBatches(ingestion_pb.ForgetBatchesRequest(org_id="acme"))
    held = {r.id for b in memory.Scan(memory_pb.ScanRequest(org_id="acme")) for r in b.records}
    after = _log(tmp_path)
    # before: 3 (the erased account's version stayed)
    assert len(after) == 2
    assert all(rid in held for org, rid in after if org == "acme")
    assert ("rival", next(r for o, r in logged if o == "rival")) in after

    # the kept account's export sent again later: its restatement stands (the log did that)
    later = PULLED + dt.timedelta(hours=1)
    before = _spend(memory, "acme", day)
    assert before == {KEPT: 272.41}
    again = _send(
        ingestion, world, _export(world, KEPT), org="acme", account=KEPT, batch="again",
        pulled_at=later,
    )  # fmt: skip
    assert sum(a.accepted_count - a.duplicate_count - a.superseded_count for a in again) == 0
    assert _spend(memory, "acme", day) == before
    # the erased account's export is stored as if never seen, its restatement included
    _send(
        ingestion, world, _export(world, None), org="acme", account=None, batch="back",
        pulled_at=later,
    )  # fmt: skip
    assert _spend(memory, "acme", day) == {KEPT: 272.41, erased: 272.41}

    # an org-wide delete leaves none of the org's versions; the other org keeps its own
    memory.DeleteRecords(memory_pb.DeleteRecordsRequest(org_id="acme", all_records=True))
    ingestion.ForgetBatches(ingestion_pb.ForgetBatchesRequest(org_id="acme"))
    assert {o for o, _ in _log(tmp_path)} == {"rival"}
    # a retry (nothing left of the org in memory) answers OK
    ingestion.ForgetBatches(ingestion_pb.ForgetBatchesRequest(org_id="acme"))
    assert {o for o, _ in _log(tmp_path)} == {"rival"}
