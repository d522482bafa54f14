"""What DeleteExperiments, DeleteExternalFactors and ForgetBatches erase leaves ingestion's
SQLite files (database and WAL) by the time they reply, whatever the host's SQLite build
defaults to (s19 V1 F3: on a build without SQLITE_SECURE_DELETE 1,039 copies of a deleted
design stayed in the registry's database, and on every build the WAL kept them). A replica
reading a file at that moment delays its WAL's clean-up, not the reply. Real memory and
ingestion servers; the files read as bytes while they run."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.external_factors import FactorRegistry, FactorSeries
from mesh.runtime.inprocess import RunningService
from tests.causal.contract.test_record_experiment_result import _experiment
from tests.ingestion.conftest import PULLED
from tests.ingestion.test_forget_superseded import _export, _send
from tests.support import open_without_secure_delete

ORG, OTHER = "acme", "rival"
DESIGN = "Zebra-Client-Secret-Holdout-Design"  # the erased org's experiment names
SERIES = "zebra_client_promo_calendar"  # ... its factor series
SOURCE = "Zebra-Client-Secret-Source"  # ... and the series' source
KEPT = "other_org_kept_calendar"  # the other org's names, which stay
OTHER_ACCOUNT = "2000000000000001"  # the other org's ad account (its raw rows differ)
FIRST = dt.date(2024, 9, 1)
DAYS = 365
PATIENCE_S = 60.0  # how long a test waits for the background clean-up before failing


@pytest.fixture(autouse=True)
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    open_without_secure_delete(monkeypatch)


def _held(path: Path, *needles: str) -> dict[str, int]:
    """Occurrences of the needles in the database at ``path`` and in its WAL, by file."""
    return {
        f.name: sum(f.read_bytes().count(n.encode()) for n in needles)
        for f in (path, Path(f"{path}-wal"))
        if f.exists()
    }


def _stub(services: dict[str, RunningService]) -> ingestion_grpc.IngestionServiceStub:
    return ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))


def _register(stub: ingestion_grpc.IngestionServiceStub, world: sim.SimResult, org: str) -> None:
    """Ten experiments named after the org's design, and three geos of a year of a series."""
    kept = org != ORG
    for k in range(10):
        experiment = _experiment(world.experiments[0], f"e{k}", org=org)
        experiment.name = f"{KEPT if kept else DESIGN} {k}"
        stub.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(allow_overlap=True, experiment=experiment),
            timeout=30,
        )
    days = [FIRST + dt.timedelta(days=k) for k in range(DAYS)]
    values = [
        ingestion_pb.DatedValue(
            date=common_pb.Date(year=d.year, month=d.month, day=d.day), value=float(k % 7)
        )
        for k, d in enumerate(days)
    ]
    for geo in ("", "US-CA", "US-TX"):
        series = ingestion_pb.ExternalFactorSeries(
            name=KEPT if kept else SERIES, type=md_pb.EXTERNAL_FACTOR_TYPE_PROMOTION,
            source=KEPT if kept else SOURCE, geo=geo, values=values,
        )  # fmt: skip
        stub.RegisterExternalFactor(
            ingestion_pb.RegisterExternalFactorRequest(org_id=org, series=series), timeout=30
        )


def _wait_until_gone(path: Path, *needles: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while any(_held(path, *needles).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_held(path, *needles).values()), _held(path, *needles)


def test_deleted_experiments_and_factors_leave_the_files(
    services: dict[str, RunningService], world: sim.SimResult, tmp_path: Path
) -> None:
    data = tmp_path / "ingestion"
    registry, factors = data / "registry.sqlite", data / "external_factors.sqlite"
    stub = _stub(services)
    for org in (ORG, OTHER):
        _register(stub, world, org)
    assert sum(_held(registry, DESIGN).values()) >= 10
    assert sum(_held(factors, SERIES, SOURCE).values()) >= 3 * DAYS

    gone = stub.DeleteExperiments(
        ingestion_pb.DeleteExperimentsRequest(org_id=ORG, all=True), timeout=30
    )
    assert len(gone.deleted_ids) == 10
    deleted = stub.DeleteExternalFactors(
        ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, all=True), timeout=30
    )
    assert deleted.series_count == 3
    # read as the reply came, the services still running: before, 1,039 and 2,421 copies
    assert not any(_held(registry, DESIGN).values()), _held(registry, DESIGN)
    assert not any(_held(factors, SERIES, SOURCE).values()), _held(factors, SERIES, SOURCE)
    # the other org's are all there
    listed = stub.ListExperiments(ingestion_pb.ListExperimentsRequest(org_id=OTHER))
    assert sorted(e.name for e in listed.experiments) == [f"{KEPT} {k}" for k in range(10)]
    series = stub.ListExternalFactors(
        ingestion_pb.ListExternalFactorsRequest(org_id=OTHER, include_values=True)
    ).series
    assert [(s.name, len(s.values)) for s in series] == [(KEPT, DAYS)] * 3


def test_a_replica_reading_delays_the_clean_up_not_the_reply(
    services: dict[str, RunningService], world: sim.SimResult, tmp_path: Path
) -> None:
    """Another replica in the middle of a read keeps the WAL as it was; the delete replies
    all the same, and the rows leave the files once that read ends."""
    registry = tmp_path / "ingestion" / "registry.sqlite"
    stub = _stub(services)
    _register(stub, world, ORG)
    reader = sqlite3.connect(registry, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM experiments").fetchone() == (10,)
        gone = stub.DeleteExperiments(
            ingestion_pb.DeleteExperimentsRequest(org_id=ORG, all=True), timeout=30
        )
        assert len(gone.deleted_ids) == 10
        # the reader's snapshot still sees them, so the files must still hold them
        assert reader.execute("SELECT COUNT(*) FROM experiments").fetchone() == (10,)
        assert sum(_held(registry, DESIGN).values()) > 0
        reader.execute("COMMIT")
    finally:
        reader.close()
    _wait_until_gone(registry, DESIGN)


def test_forgotten_versions_leave_the_superseded_log(
    services: dict[str, RunningService], world: sim.SimResult, tmp_path: Path
) -> None:
    """ForgetBatches after an org's records are deleted: its superseded versions (each the
    hash of a whole raw row, under the record's id) leave superseded.sqlite; the other org's,
    of another account's export, stay."""
    log = tmp_path / "ingestion" / "superseded.sqlite"
    stub = _stub(services)
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    for org, account in ((ORG, None), (OTHER, OTHER_ACCOUNT)):
        lines = _export(world, account)
        _send(stub, world, lines, org=org, account=account, batch=org, pulled_at=PULLED)
    reading = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    try:
        rows = reading.execute("SELECT org_id, record_id, sha FROM superseded").fetchall()
    finally:
        reading.close()
    erased = [str(v) for org, rid, sha in rows if org == ORG for v in (rid, sha)]
    kept = [str(v) for org, rid, sha in rows if org == OTHER for v in (rid, sha)]
    assert erased and kept and not set(erased) & set(kept)
    assert sum(_held(log, *erased).values()) > 0

    memory.DeleteRecords(memory_pb.DeleteRecordsRequest(org_id=ORG, all_records=True), timeout=60)
    stub.ForgetBatches(ingestion_pb.ForgetBatchesRequest(org_id=ORG), timeout=60)
    assert not any(_held(log, *erased).values()), _held(log, *erased)
    assert all(sum(_held(log, v).values()) for v in kept)


def test_no_fragment_of_a_deleted_series_stays_in_page_gaps(tmp_path: Path) -> None:
    """Two orgs' series registered in turn: page splits leave stale copies of moved rows in
    pages that stay in use, which zeroing the deleted cells does not reach (6 copies of the
    deleted names stayed in this 6 MB store before the VACUUM)."""
    path = tmp_path / "external_factors.sqlite"
    registry = FactorRegistry(path)
    values = tuple((dt.date(2020, 1, 1) + dt.timedelta(days=k), float(k % 7)) for k in range(700))
    for k in range(30):
        for org, name in ((ORG, f"zebraclient{k:02d}"), (OTHER, f"rivalseries{k:02d}")):
            for geo in ("", "US-CA"):
                registry.register(org, FactorSeries(name, "promotion", org, "", geo, values))
    try:
        assert registry.delete(ORG, None)[1] == 60
        assert not any(_held(path, "zebraclient").values()), _held(path, "zebraclient")
        assert len(registry.list(OTHER)) == 60
    finally:
        registry.close()
