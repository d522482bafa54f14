"""DeleteRecords leaves an audit line (R40 F6: the only trace was the call's
"DeleteRecords OK ... org=..." with neither filter, count nor key): the org, the filter, the
counts and the key's subject, on a real memory server checking API keys; no record content."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.inprocess import running_services

from .erasure_data import (
    ERASED,
    ERASED_COUNT,
    KEPT,
    ORG,
    SECRET,
    SECRET_ID,
    erase,
    serving,
    write_both,
)


def _audit(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "liftos.audit"]


def test_an_erasure_logs_its_filter_count_and_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = AuthConfig.parse(f"k-load:{ORG}:records.write,k-admin:{ORG}:public+records.delete")
    with (
        running_services({"memory": build}, tmp_path, auth=keys) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        stub = memory_grpc.MemoryServiceStub(channel)
        write_both(stub, (("authorization", "Bearer k-load"),))
        admin = (("authorization", "Bearer k-admin"),)
        with caplog.at_level(logging.INFO, logger="liftos.audit"):
            dry = memory_pb.DeleteRecordsRequest(
                org_id=ORG, account_id=ERASED, source=common_pb.DATA_SOURCE_META, dry_run=True
            )
            stub.DeleteRecords(dry, timeout=60, metadata=admin)
            erase(stub, admin)
    dry_line, line = _audit(caplog)
    assert "dry run, would delete 600 records" in dry_line
    assert "source=meta" in dry_line
    assert f"org='{ORG}'" in line and f"account_id='{ERASED}'" in line
    assert f"deleted {ERASED_COUNT} records (meta/'{ERASED}': {ERASED_COUNT})" in line
    assert f"the org holds {KEPT} records" in line
    assert f"caller={ORG} " in line and "rid=" in line
    # ids and counts, never what the records said
    assert SECRET not in line and SECRET_ID not in line


def test_without_keys_the_line_says_nobody_was_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serving(tmp_path) as stub:
        write_both(stub)
        with caplog.at_level(logging.INFO, logger="liftos.audit"):
            erase(stub)
    (line,) = _audit(caplog)
    assert "caller=anyone (this server checks no API keys)" in line
