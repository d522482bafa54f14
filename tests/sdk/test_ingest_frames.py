"""`LiftOS.ingest` with rows from an ordinary pandas frame (audit R18 #8), over real memory and
ingestion servers: NaN cells were refused as "malformed: not valid JSON: NaN is not a JSON
value" without naming the column, and a frame read with parse_dates failed the whole call as
"UNKNOWN: Exception iterating requests!"."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk.client import LiftOS

ACCOUNT = {"account_id": "shop", "timezone": "America/New_York", "currency": "USD",
           "country": "US"}  # fmt: skip
MAPPING = {"date": "Day", "geo": "Region", "revenue": "NetSales"}
CSV = "Day,Region,NetSales\n2024-01-01,CA,100.5\n2024-01-01,TX,NA\n2024-01-02,CA,80\n"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield {s: r.address for s, r in services.items()}


def _client(mesh: dict[str, str], org: str) -> LiftOS:
    return LiftOS(PeerConfig.from_env().with_overrides(**mesh), org_id=org)


def _revenue(mesh: dict[str, str], org: str) -> dict[tuple[str, str], float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"]))
    scan = stub.Scan(memory_pb.ScanRequest(org_id=org))
    return {
        (f"{r.local_date.year}-{r.local_date.month:02}-{r.local_date.day:02}", r.geo): r.revenue
        for b in scan
        for r in b.records
    }


def test_nan_is_a_missing_value_named_by_its_column(mesh: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    frame = pd.read_csv(path)
    assert frame["NetSales"].isna().sum() == 1
    with _client(mesh, "nan") as client:
        got = client.ingest("generic", frame.to_dict("records"), account=ACCOUNT, mapping=MAPPING)
    assert (got.accepted, got.rejected) == (2, 1)
    assert got.rejections == [(1, "NetSales", "missing_field", "NetSales is missing")]
    assert _revenue(mesh, "nan") == {("2024-01-01", "US-CA"): 100.5, ("2024-01-02", "US-CA"): 80}


def test_parsed_dates_and_numpy_numbers_land(mesh: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV.replace("NA", "7.25"))
    frame = pd.read_csv(path, parse_dates=["Day"])
    assert isinstance(frame.to_dict("records")[0]["Day"], pd.Timestamp)
    rows: list[dict[str, Any]] = frame.to_dict("records")
    rows.append({"Day": dt.date(2024, 1, 3), "Region": "CA", "NetSales": decimal.Decimal("9.10")})
    rows.append({"Day": np.datetime64("2024-01-04"), "Region": "TX", "NetSales": np.float32(2)})
    with _client(mesh, "dates") as client:
        got = client.ingest("generic", rows, account=ACCOUNT, mapping=MAPPING)
    assert (got.accepted, got.rejected) == (5, 0), got.rejections
    assert _revenue(mesh, "dates") == {
        ("2024-01-01", "US-CA"): 100.5, ("2024-01-01", "US-TX"): 7.25,
        ("2024-01-02", "US-CA"): 80, ("2024-01-03", "US-CA"): 9.1, ("2024-01-04", "US-TX"): 2,
    }  # fmt: skip


def test_a_value_json_cannot_carry_is_refused_in_its_row_only(mesh: dict[str, str]) -> None:
    rows = [
        {"Day": "2024-01-01", "Region": "CA", "NetSales": {1, 2}},  # mapped: refused by name
        {"Day": "2024-01-02", "Region": "CA", "NetSales": 5, "tags": {"a"}},  # unmapped: read
    ]
    with _client(mesh, "odd") as client:
        got = client.ingest("generic", rows, account=ACCOUNT, mapping=MAPPING)
    assert (got.accepted, got.rejected) == (1, 1)
    ((index, field, reason, message),) = got.rejections
    assert (index, field, reason) == (0, "NetSales", "invalid_number")
    assert "set: {1, 2}" in message


def test_an_error_in_the_callers_rows_is_raised_as_itself(mesh: dict[str, str]) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        yield {"Day": "2024-01-01", "Region": "CA", "NetSales": 1}
        raise KeyError("the caller's own bug")

    with _client(mesh, "raise") as client, pytest.raises(KeyError, match="own bug"):
        client.ingest("generic", rows(), account=ACCOUNT, mapping=MAPPING, batch_size=1)
