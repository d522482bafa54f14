"""A generic file's date-times with their zone (audit s18 R34 F5): "2024-10-25T22:00:00Z" and
"2024-10-27T02:00:00+01:00" were refused as "not a real yyyy-mm-dd date", the whole file, though
the account's zone dates each (Shopify's order times are so dated). Now they are read in the
account's zone, DST included; a date that is none is refused quoting it. Connector cases run
the connector; the CLI case real memory and ingestion servers (--sum-rows of hourly rows
around the 27 Oct 2024 DST end in Berlin: a 25-hour day)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc import connectors
from ingestion_svc.app import build as ingestion_build
from ingestion_svc.raw_batch import Account, ColumnMap
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import raw_batch

BERLIN = Account("shop", "Europe/Berlin", "EUR", "DE")
MAPPING = ColumnMap(date="Time", geo="Region", revenue="Revenue")


def _normalise(times: list[str]) -> Any:
    regions = ["DE-BY", "DE-BE", "DE-HE", "DE-NW", "DE-SN"]  # one row per day x geo
    rows = [{"Time": t, "Region": g, "Revenue": "1"} for t, g in zip(times, regions, strict=False)]
    return connectors.normalise(
        raw_batch("generic", [json.dumps(r) for r in rows], BERLIN, mapping=MAPPING)
    )


def test_zoned_times_are_dated_in_the_account_zone() -> None:
    out = _normalise([
        "2024-10-25T22:00:00Z",  # Berlin 26 Oct 00:00 (CEST)
        "2024-10-27T02:30:00+02:00",  # 02:30 CEST, before the clocks go back
        "2024-10-27T02:30:00+01:00",  # 02:30 CET, the same wall time an hour later
        "2024-10-27T23:30:00Z",  # Berlin 28 Oct 00:30 (CET)
        "2024-10-27 12:00:00.123456789+0100",
    ])  # fmt: skip
    assert out.rejections == []
    days = [str(d)[:10] for d in out.frame.local_date]
    assert days == ["2024-10-26", "2024-10-27", "2024-10-27", "2024-10-28", "2024-10-27"]


def test_a_date_that_is_none_is_refused_quoting_it() -> None:
    out = _normalise(["2024-02-30T10:00:00Z", "25.10.2024"])
    assert [(r.row_index, r.reason) for r in out.rejections] == [
        (0, "invalid_date"),
        (1, "invalid_date"),
    ]
    assert out.rejections[0].message.startswith("Time '2024-02-30T10:00:00Z' is not a real")
    assert out.rejections[1].message.startswith("Time '25.10.2024' is not a real")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield {s: r.address for s, r in services.items()}


def _days(address: str, org: str) -> dict[str, float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    records = [r for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records]
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    return {
        dt.datetime.fromtimestamp(r.timestamp.seconds, zone).date().isoformat(): r.revenue
        for r in records
    }


@pytest.mark.parametrize("written", ["utc", "offset"])
def test_hourly_zoned_rows_sum_to_their_local_days(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    t = dt.datetime(2024, 10, 25, 22, tzinfo=dt.UTC)
    lines = ["Time,Region,Revenue"]
    while t < dt.datetime(2024, 10, 28, 23, tzinfo=dt.UTC):
        stamp = (
            t.strftime("%Y-%m-%dT%H:%M:%SZ") if written == "utc" else t.astimezone(zone).isoformat()
        )
        lines.append(f"{stamp},DE-BY,10")
        t += dt.timedelta(hours=1)
    path = tmp_path / "hourly.csv"
    path.write_text("\n".join(lines) + "\n")
    argv = ["ingest", "--org", f"h{written}", "--source", "generic", "--account-id", "shop",
            "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE", "--quiet",
            "--sum-rows", "--mapping", "date=Time,geo=Region,revenue=Revenue", str(path)]  # fmt: skip
    assert cli.main(argv) == 0
    assert _days(mesh["memory"], f"h{written}") == {
        "2024-10-26": 240.0,
        "2024-10-27": 250.0,  # the 25-hour day
        "2024-10-28": 240.0,
    }


# --- dates written as midnight UTC (V1 F2) ---

NEW_YORK = Account("shop", "America/New_York", "USD", "US")
JS_DATES = ["2024-01-05T00:00:00.000Z", "2024-01-06T00:00:00.000Z", "2024-01-07T00:00:00Z"]


def test_a_column_of_utc_midnights_is_dated_as_written() -> None:
    """JavaScript's toISOString() / pandas' to_json write the date 5 Jan as
    2024-01-05T00:00:00.000Z; New York's 19:00 on the 4th was the row's day."""
    rows = [{"Time": t, "Region": "CA", "Revenue": "1"} for t in [*JS_DATES, "2024-01-08"]]
    out = connectors.normalise(
        raw_batch("generic", [json.dumps(r) for r in rows], NEW_YORK, mapping=MAPPING)
    )
    assert out.rejections == []
    days = [str(d)[:10] for d in out.frame.local_date]
    assert days == ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]


def test_a_utc_midnight_among_other_times_is_an_instant() -> None:
    rows = [
        {"Time": t, "Region": g, "Revenue": "1"}
        for t, g in (("2024-01-05T00:00:00Z", "CA"), ("2024-01-05T15:00:00Z", "NY"))
    ]
    out = connectors.normalise(
        raw_batch("generic", [json.dumps(r) for r in rows], NEW_YORK, mapping=MAPPING)
    )
    assert [str(d)[:10] for d in out.frame.local_date] == ["2024-01-04", "2024-01-05"]


def _new_york_days(address: str, org: str) -> dict[str, float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    records = [r for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records]
    zone = zoneinfo.ZoneInfo("America/New_York")
    return {
        dt.datetime.fromtimestamp(r.timestamp.seconds, zone).date().isoformat(): r.revenue
        for r in records
    }


@pytest.mark.parametrize("how", ["csv", "csv --sum-rows", "jsonl", "jsonl --sum-rows"])
def test_the_cli_dates_utc_midnights_as_written(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    rows = [(t, "CA", "10") for t in JS_DATES] + [(JS_DATES[0], "CA", "5")]
    kept = rows if "sum" in how else rows[:3]
    if how.startswith("jsonl"):
        path = tmp_path / "orders.jsonl"
        path.write_text("".join(
            json.dumps({"Time": t, "Region": g, "Revenue": v}) + "\n" for t, g, v in kept
        ))  # fmt: skip
    else:
        path = tmp_path / "orders.csv"
        path.write_text("Time,Region,Revenue\n" + "".join(f"{t},{g},{v}\n" for t, g, v in kept))
    org = "js" + how.replace(" ", "").replace("-", "")
    argv = ["ingest", "--org", org, "--source", "generic", "--account-id", "shop",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US", "--quiet",
            *(["--sum-rows"] if "sum" in how else []),
            "--mapping", "date=Time,geo=Region,revenue=Revenue", str(path)]  # fmt: skip
    assert cli.main(argv) == 0
    first = 15.0 if "sum" in how else 10.0
    assert _new_york_days(mesh["memory"], org) == {
        "2024-01-05": first,
        "2024-01-06": 10.0,
        "2024-01-07": 10.0,
    }


def test_the_sdk_keys_utc_midnights_by_the_date_written(mesh: dict[str, str]) -> None:
    """LiftOS.ingest's key check keyed a column of UTC midnights by New York's day (the 4th
    for 2024-01-05T00:00:00.000Z): the sums were right, but a conflict named the wrong day.
    A midnight among other times is still an instant, keyed by its New York day."""
    peers = PeerConfig.from_env().with_overrides(**mesh)
    account = {"account_id": "shop", "timezone": "America/New_York", "currency": "USD"}
    mapping = {"date": "Time", "geo": "Region", "revenue": "Revenue"}
    rows = [{"Time": t, "Region": "CA", "Revenue": v} for t, v in
            ((JS_DATES[0], 10), (JS_DATES[1], 10), (JS_DATES[0], 5))]  # fmt: skip
    instants = [{"Time": t, "Region": "CA", "Revenue": v} for t, v in
                (("2024-01-05T00:00:00Z", 10), ("2024-01-04T15:00:00Z", 5))]  # fmt: skip
    with LiftOS(peers, org_id="sdk-midnights") as client:
        with pytest.raises(ValueError, match=r"first lines 0 and 2: 2024-01-05 CA\)"):
            client.ingest("generic", rows, account=account, mapping=mapping)
        with pytest.raises(ValueError, match=r"first lines 0 and 1: 2024-01-04 CA\)"):
            client.ingest("generic", instants, account=account, mapping=mapping)
        got = client.ingest("generic", rows, account=account, mapping=mapping, sum_rows=True)
    assert (got.rows, got.accepted) == (2, 2)
    assert _new_york_days(mesh["memory"], "sdk-midnights") == {
        "2024-01-05": 15.0,
        "2024-01-06": 10.0,
    }
