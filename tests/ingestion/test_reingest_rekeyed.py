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
    from ingestion_svc.connectors import regions

    org = "br_upgrade"
    path = _write(tmp_path / "media.csv", [s.upper() for s in STATES], "spend")
    t0 = time.time() - 3 * 3600
    os.utime(path, (t0, t0))
    with monkeypatch.context() as m:  # as ingestion stored them before: names as written
        m.setattr(regions, "subdivision_names", lambda country: {})
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


LANDER = ["Bayern", "Baden-Württemberg", "Nordrhein-Westfalen", "Berlin", "Hessen", "Sachsen"]
CODES = {"DE-BY", "DE-BW", "DE-NW", "DE-BE", "DE-HE", "DE-SN"}


def _records(memory: Any, org: str) -> list[Any]:  # noqa: F811
    return [
        r for b in memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=30) for r in b.records
    ]


def _store_as_before_names_were_codes(
    org: str, frame: pd.DataFrame, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest ``frame`` for a DE account as ingestion did before s18 R34 F4: a Land's name
    kept as written ("DE-Bayern"), a hyphenated one without its country (any '-' was taken
    for an ISO prefix: "Baden-Württemberg")."""
    import numpy as np

    from ingestion_svc.connectors import base, regions

    frame.to_csv(path, index=False)
    t0 = time.time() - 3 * 3600
    os.utime(path, (t0, t0))
    with monkeypatch.context() as m:
        m.setattr(regions, "subdivision_names", lambda country: {})
        m.setattr(regions, "subdivisions", lambda country: None)
        m.setattr(base, "record_geos", lambda code, country: np.array(
            [c if "-" in c or not c else f"{country}-{c}" for c in code.tolist()], dtype=object))  # fmt: skip
        assert _ingest(org, "generic_media", MEDIA, path, "DE") == 0


def test_a_german_export_stored_under_land_names_is_restated_under_codes(
    memory: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """s18 R34 F4: Länder names are ISO codes now ("Bayern" -> DE-BY). The rows stored
    before under names are the same places: an updated export restates them rather than
    writing each day a second time under its code (36 records for 18 rows)."""
    org = "de_upgrade"
    path = _write(tmp_path / "media.csv", LANDER, "spend")
    frame = pd.read_csv(path)
    _store_as_before_names_were_codes(org, frame, path, monkeypatch)
    before = {r.geo for r in _records(memory, org)}
    assert {"DE-Bayern", "Baden-Württemberg", "Nordrhein-Westfalen"} <= before, before
    frame["spend"] = frame["spend"] + 1
    frame.to_csv(path, index=False)
    assert _ingest(org, "generic_media", MEDIA, path, "DE") == 0
    records = _records(memory, org)
    assert len(records) == len(frame), sorted(r.geo for r in records)
    assert {r.geo for r in records} == CODES
    assert sum(r.spend for r in records) == pytest.approx(float(frame["spend"].sum()))


def test_a_late_german_batch_finds_the_land_names_to_restate(
    mesh: Any,  # noqa: F811
    memory: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same through a late batch (45 days before the stream's first): its history scan
    asks for the code's names too, and the place match finds "Baden-Württemberg"."""
    import grpc
    from liftos.v1 import common_pb2 as common_pb
    from liftos.v1 import ingestion_pb2 as ingestion_pb
    from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

    from tests.ingestion.test_late_scan_geos import _watch_scans

    org = "de_late"
    days = ["2024-04-15", "2024-03-01"]
    frame = pd.DataFrame(
        [(d, s, 10.0 + i) for i, (d, s) in enumerate((d, s) for d in days for s in LANDER)],
        columns=["date", "state", "spend"],
    )
    _store_as_before_names_were_codes(org, frame, tmp_path / "media.csv", monkeypatch)
    frame["spend"] = frame["spend"] + 1
    seen = _watch_scans(monkeypatch)
    account = ingestion_pb.AccountInfo(account_id=f"{org}-generic_media", timezone="UTC",
                                       currency_code="USD", country_code="DE")  # fmt: skip
    mapping = ingestion_pb.ColumnMapping(
        date="date", geo="state", campaign_id="state", spend="spend", channel="search"
    )
    requests = []
    for day in days:  # the recent day first: the second batch is late
        part = frame[frame["date"] == day]
        request = ingestion_pb.IngestRequest(
            org_id=org, batch_id=f"late-{day}", source=common_pb.DATA_SOURCE_GENERIC_MEDIA,
            account=account, mapping=mapping,
            json_rows=[json.dumps(r) for r in part.to_dict("records")],
        )  # fmt: skip
        request.pulled_at.FromDatetime(dt.datetime.now(dt.UTC).replace(tzinfo=None))
        requests.append(request)
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    acks = list(stub.Ingest(iter(requests), timeout=60))
    assert [a.restated_count for a in acks] == [len(LANDER)] * 2, acks
    asked, got = seen[-1]  # the late batch's series scan
    assert {"Baden-Württemberg", "DE-Bayern"} <= set(asked) and "Baden-Württemberg" in got
    records = _records(memory, org)
    assert len(records) == len(frame), sorted(r.geo for r in records)
    assert {r.geo for r in records} == CODES
