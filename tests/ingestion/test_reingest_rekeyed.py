"""A row a corrected re-send restated in place keeps its record when a later pull changes its
numbers (V1 review of R31 F4's fix). The corrected re-send matched the stored row by its raw
content and restated that record, which kept its first key ("California", or "BR-BAHIA" as
ingested before geo names were normalised); a later pull with other numbers has another raw
content, so it was keyed anew and written beside it: the geo's spend counted twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from liftos.v1 import memory_pb2 as memory_pb

import sim
from tests.ingestion.conftest import PULLED
from tests.ingestion.test_geo_spelling import (  # noqa: F401 - the module's mesh fixtures
    MEDIA,
    STATES,
    _ingest,
    _write,
    memory,
    mesh,
)
from tests.ingestion.test_ingest_service import _request
from tests.ingestion.test_reingest_settings import (
    _N,
    _counts,
    _lines,
    _stored,
    _stubs,
    late_batch_re_send,
)


def _send(ingestion: Any, world: sim.SimResult, lines: list[str], batch: str,
          pulled: dt.datetime, country: str) -> Any:  # fmt: skip
    request = _request(world, lines, batch, pulled_at=pulled)
    request.account.country_code = country
    request.account.geo_keys.clear()
    (ack,) = ingestion.Ingest(iter([request]))
    return ack


def test_a_later_pull_restates_the_record_a_country_fix_re_keyed(
    services: Any, world: sim.SimResult
) -> None:
    ingestion, memory_stub = _stubs(services)
    lines = _lines(world)
    _send(ingestion, world, lines, "names", PULLED, "")  # Meta's region names as written
    fixed = _send(ingestion, world, lines, "codes", PULLED, "US")
    assert _counts(fixed)[2] == _N  # restated in place, as R31 F4's fix does
    changed = []
    for line in lines:
        row = json.loads(line)
        row["spend"] = str(round(float(row["spend"]) + 1.0, 2))
        changed.append(json.dumps(row))
    later = _send(ingestion, world, changed, "later", PULLED + dt.timedelta(days=1), "US")
    assert _counts(later)[2] == _N, _counts(later)  # each a restatement of its record
    stored = _stored(memory_stub)
    assert len(stored) == _N, f"{len(stored)} records for {_N} rows"
    assert all(r.geo.startswith("US-") for r in stored)


def test_a_late_batch_finds_rows_stored_under_region_names(
    services: Any, world: sim.SimResult
) -> None:
    ingestion, memory_stub = _stubs(services)
    late_batch_re_send(ingestion, world, clear_geo_keys=True)
    stored = _stored(memory_stub)
    assert len(stored) == 6, sorted(r.geo for r in stored)
    assert all(r.geo.startswith("US-") for r in stored)


def test_an_updated_export_restates_rows_stored_before_names_were_normalised(
    memory: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingestion_svc.connectors import base

    org = "br_upgrade"
    path = _write(tmp_path / "media.csv", [s.upper() for s in STATES], "spend")
    t0 = time.time() - 3 * 3600
    os.utime(path, (t0, t0))
    with monkeypatch.context() as m:  # as ingestion stored them before: names as written
        m.setattr(base, "subdivision_names", lambda country: {})
        assert _ingest(org, "generic_media", MEDIA, path) == 0
    frame = pd.read_csv(path)
    frame["spend"] = frame["spend"] + 1
    frame.to_csv(path, index=False)
    os.utime(path, (t0 + 7200, t0 + 7200))
    assert _ingest(org, "generic_media", MEDIA, path) == 0
    records = [
        r for b in memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=30) for r in b.records
    ]
    assert len(records) == len(frame), sorted({r.geo for r in records})
