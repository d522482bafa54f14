"""A service's own disk full or read-only (audit R19-F-DISKFULL, R19-F-RO): the errors of
every store read as one RESOURCE_EXHAUSTED naming the path (``mesh.runtime.storage``), and a
data dir that cannot be written is found at start."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import grpc
import pandas as pd
import psycopg.errors
import pytest
from causaldata import thornton_hiv
from google.rpc import code_pb2
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.app import build as causal_build
from memory_svc.postgres.store import _unavailable
from mesh.runtime.exceptions import DependencyUnavailable
from mesh.runtime.inprocess import running_services
from mesh.runtime.sqlite_db import LockedSQLite, connect_durable
from mesh.runtime.status import decode_status, to_rpc_status
from mesh.runtime.storage import (
    StorageFailure,
    StorageUnwritable,
    check_writable,
    storage_failure,
)
from mesh.runtime.tables import frame_to_table


def _sqlite_full(path: Path) -> sqlite3.OperationalError:
    """The error SQLite gives when it cannot grow the file: SQLITE_FULL (here past
    max_page_count; a full file system gives the same code and words)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError) as err:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    db.close()
    return err.value


def _enospc() -> OSError:
    """A real ENOSPC: /dev/full refuses every write with it."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as err:
            os.write(fd, b"x")
    finally:
        os.close(fd)
    return err.value


def test_full_and_read_only_disks_are_resource_exhausted(tmp_path: Path) -> None:
    full = storage_failure(_sqlite_full(tmp_path / "a.sqlite"), tmp_path, owner="causal",
                           lost="the analysis was not stored — run it again")  # fmt: skip
    assert isinstance(full, StorageFailure) and full.reason == "STORAGE_FULL"
    assert full.message == (
        f"causal's disk is full at {tmp_path} (database or disk is full); the analysis was "
        "not stored — run it again after freeing space"
    )
    status = to_rpc_status(full)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED and status.message == full.message
    assert not any("RetryInfo" in d.type_url for d in status.details)  # not on its own
    if Path("/dev/full").exists():
        assert storage_failure(_enospc(), tmp_path, owner="m", lost="x").reason == "STORAGE_FULL"  # type: ignore[union-attr]
    quota = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert storage_failure(quota, tmp_path, owner="m", lost="x") is not None
    readonly = storage_failure(OSError(errno.EROFS, os.strerror(errno.EROFS)), tmp_path,
                               owner="memory", lost="the batch was not stored — retry it")  # fmt: skip
    assert readonly is not None and readonly.reason == "STORAGE_READ_ONLY"
    assert f"memory cannot write {tmp_path} (Read-only file system" in readonly.message
    # anything else is not a disk's: left alone (INTERNAL, its traceback logged)
    assert storage_failure(sqlite3.OperationalError("no such table: t"), tmp_path,
                           owner="m", lost="x") is None  # fmt: skip
    assert storage_failure(OSError(errno.EIO, "I/O error"), tmp_path, owner="m", lost="x") is None


def test_postgres_disk_full_is_not_unreachable() -> None:
    """SQLSTATE 53100 (psycopg's DiskFull, an OperationalError like a lost connection) was
    answered "the PostgreSQL record store is unreachable", UNAVAILABLE."""
    full = _unavailable(
        psycopg.errors.DiskFull('could not extend file "base/16384/16397": No space left')
    )
    assert isinstance(full, StorageFailure)
    assert full.message.startswith("the PostgreSQL record store's disk is full at its server")
    assert "the batch was not stored — retry it after freeing space" in full.message
    lost = _unavailable(psycopg.OperationalError("connection refused"))
    assert isinstance(lost, DependencyUnavailable)


def test_a_sqlite_store_on_a_full_disk_raises_storage_failure(tmp_path: Path) -> None:
    (tmp_path / "causal").mkdir()
    db = connect_durable(tmp_path / "causal" / "s.sqlite")
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0] + 1}")
    db.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageFailure) as err:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    assert err.value.message.startswith(f"causal's disk is full at {tmp_path / 'causal'}")
    assert not db.in_transaction  # SQLite rolled back: a ROLLBACK now would raise


def test_estimate_effect_on_a_full_disk(tmp_path: Path) -> None:
    """EstimateEffect fails before anything is recorded; its caller gets RESOURCE_EXHAUSTED
    naming causal's data dir, and the same request succeeds once there is room."""
    held: list[LockedSQLite] = []

    def keep(config):  # type: ignore[no-untyped-def]
        bindings, on_stop = causal_build(config)
        held.append(bindings[0].servicer._analyses)
        return bindings, on_stop

    hiv = thornton_hiv.load_pandas().data[["got", "any", "distvct"]].dropna()
    request = pb.EstimateEffectRequest(
        org_id="acme",
        method=pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS,
        table=frame_to_table(pd.DataFrame(hiv)),
        roles=pb.EffectRoles(outcome="got", treatment="any"),
        options=pb.EstimationOptions(refutation_simulations=2, seed=1),
        randomized=True,
    )
    with running_services({"causal": keep}, tmp_path) as services:
        stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        db = held[0]._db
        db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
        # the file cannot grow: analyses are stored while its pages have room, then refused
        stored = 0
        with pytest.raises(grpc.RpcError) as err:
            for _ in range(40):
                stub.EstimateEffect(request, timeout=120)
                stored += 1
        status = decode_status(err.value)
        assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED, status.message
        assert status.reason == "STORAGE_FULL"
        assert f"causal's disk is full at {tmp_path / 'causal'}" in status.message
        listed = stub.ListAnalyses(pb.ListAnalysesRequest(org_id="acme", page_size=100), timeout=30)
        assert len(listed.analyses) == stored < 40  # the refused one was not recorded
        db.execute("PRAGMA max_page_count=1073741823")
        reply = stub.EstimateEffect(request, timeout=120)
        assert reply.analysis_id


def test_an_unwritable_data_dir_is_found_at_start(tmp_path: Path) -> None:
    """A directory that cannot be made (its parent is a file: ENOTDIR for anyone, root
    included) and a store file not writable to this user."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageUnwritable) as err:
        check_writable(blocker / "causal")
    assert str(err.value) == f"cannot write {blocker / 'causal'}: Not a directory"
    with pytest.raises(StorageUnwritable):
        LockedSQLite(blocker / "causal" / "analyses.sqlite", "CREATE TABLE t (x)")
    check_writable(tmp_path / "fine")
    assert list((tmp_path / "fine").iterdir()) == []  # the probe leaves nothing
