"""A late row's history scan reads its own geo, in every spelling a record of the place may be
stored under, not every geo of its campaign (s18 R35 F1: since 31d66b9 each late scan read the
campaign's every geo, ~13x the memory time at 51 geos), and still finds rows stored under
another spelling (R31 F4, V1 review F2: "CA", "California", "BR-BAHIA"). Real memory +
ingestion; memory's client is wrapped only to see what each scan asked and got."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from liftos.v1 import memory_pb2 as memory_pb

import sim
from ingestion_svc.connectors import regions
from ingestion_svc.geo_spellings import stored_spellings
from ingestion_svc.peers import MemoryClient
from ingestion_svc.raw_batch import Account
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_geo_spelling import (  # noqa: F401 - the module's mesh fixtures
    MEDIA,
    STATES,
    _ingest,
    memory,
    mesh,
)
from tests.ingestion.test_ingest_service import _request
from tests.ingestion.test_reingest_settings import _stubs

Scans = list[tuple[list[str], list[str]]]


def _watch_scans(monkeypatch: pytest.MonkeyPatch) -> Scans:
    """(geos asked, geos of the records returned) of every history scan ingestion makes."""
    seen: Scans = []
    real = MemoryClient.scan_series

    async def scan_series(self: MemoryClient, *args: Any, **kw: Any) -> Any:
        stored = await real(self, *args, **kw)
        geos: Sequence[str] = args[5] if len(args) > 5 else kw["geos"]
        seen.append((list(geos), [r.geo for r in stored]))
        return stored

    monkeypatch.setattr(MemoryClient, "scan_series", scan_series)
    return seen


def test_a_late_row_scans_its_own_geo_and_restates_it(
    services: Any, world: sim.SimResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingestion, memory_stub = _stubs(services)
    export = world.raw["meta"]
    rows = [export.base_row(k) for k in range(5_000)]
    campaign = rows[0]["campaign_id"]
    days = sorted({r["date_start"] for r in rows})
    early = [r for r in rows if r["campaign_id"] == campaign and r["date_start"] == days[0]]
    recent = [r for r in rows if r["campaign_id"] == campaign and r["date_start"] == days[45]]
    assert len(early) == len(recent) == 20  # one a geo
    (first,) = ingestion.Ingest(
        iter([_request(world, [dumps(r) for r in early + recent], "all", pulled_at=PULLED)])
    )
    assert first.accepted_count == 40

    seen = _watch_scans(monkeypatch)
    fixed = dict(early[0], spend=f"{float(early[0]['spend']) + 1:.2f}")  # California
    later = PULLED + dt.timedelta(hours=1)
    acks = list(
        ingestion.Ingest(
            iter(
                [
                    _request(world, [dumps(r) for r in recent], "recent", pulled_at=later),
                    _request(world, [dumps(fixed)], "late", pulled_at=later),
                ]
            )
        )
    )
    assert [(a.duplicate_count, a.restated_count) for a in acks] == [(20, 0), (0, 1)]
    asked, got = seen[-1]  # the late batch's series scan: days before the stream's first
    assert asked and {"US-CA", "CA", "California"} <= set(asked)
    assert got == ["US-CA"], f"the late scan read {len(got)} records of {len(set(got))} geos"
    stored = [
        r
        for b in memory_stub.Scan(memory_pb.ScanRequest(org_id="acme"), timeout=30)
        for r in b.records
    ]
    assert len(stored) == 40
    (ca,) = [
        r
        for r in stored
        if r.geo == "US-CA" and r.timestamp.ToDatetime().date().isoformat() == days[0]
    ]
    assert ca.spend == pytest.approx(float(fixed["spend"]))


def test_a_late_batch_restates_rows_stored_before_names_were_normalised(
    memory: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Brazilian states stored upper-case ("BR-BAHIA", as ingested before names were
    normalised); the updated export's batch of a day 45 days before its first batch's is
    late, and finds them to restate rather than writing "BR-Bahia" beside them."""
    org = "br_late"
    states = [s.upper() for s in STATES]
    days = ["2024-04-15", "2024-03-01"]  # the second batch is 45 days before the first
    frame = pd.DataFrame(
        [(d, s, 10.0 + i) for i, (d, s) in enumerate((d, s) for d in days for s in states)],
        columns=["date", "state", "spend"],
    )
    path = tmp_path / "media.csv"
    frame.to_csv(path, index=False)
    t0 = time.time() - 3 * 3600
    os.utime(path, (t0, t0))
    with monkeypatch.context() as m:  # as ingestion stored them before: names as written
        m.setattr(regions, "subdivision_names", lambda country: {})
        assert _ingest(org, "generic_media", MEDIA, path) == 0
    frame["spend"] = frame["spend"] + 1
    frame.to_csv(path, index=False)
    os.utime(path, (t0 + 7200, t0 + 7200))
    monkeypatch.setattr("sys.argv", ["liftos"])
    from mesh import cli

    args = ["ingest", "--org", org, "--source", "generic_media", "--account-id",
            f"{org}-generic_media", "--timezone", "UTC", "--currency", "USD", "--country", "BR",
            "--mapping", MEDIA, "--batch-size", str(len(states)), "--quiet", str(path)]  # fmt: skip
    assert cli.main(args) == 0
    records = [
        r for b in memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=30) for r in b.records
    ]
    assert len(records) == len(frame), sorted(r.geo for r in records)
    assert sum(r.spend for r in records) == pytest.approx(float(frame["spend"].sum()))


def test_the_spellings_of_a_geo() -> None:
    us = stored_spellings({"US-CA"}, Account(country="US"), {"US-TX", "calif"})
    assert {"US-CA", "CA", "California", "CALIFORNIA", "ca"} <= set(us or [])
    assert "US-TX" not in (us or [])
    # a row's region is its ISO code now; records stored before carry the name (s18 R34 F4)
    br = stored_spellings({"BR-BA"}, Account(country="BR"), {"BR-BAHIA ", "bR-bAhIa"})
    assert {"BR-BA", "BR-Bahia", "BR-BAHIA", "Bahia", "BAHIA", "bR-bAhIa"} <= set(br or [])
    nfd = stored_spellings({"BR-SP"}, Account(country="BR"))
    assert "BR-Sa\u0303o Paulo" in (nfd or []) and "BR-SÃO PAULO" in (nfd or [])
    de = stored_spellings({"DE-BW"}, Account(country="DE"))
    assert {"Baden-Württemberg", "DE-Baden-Württemberg", "DE-BW", "BW"} <= set(de or [])
    assert "DE-BY" not in (de or [])
    keyed = stored_spellings({"US-CA"}, Account(country="US", geo_keys={"Calif.": "CA"}))
    assert "Calif." in (keyed or [])
